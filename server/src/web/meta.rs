//! Metadata endpoints that read the storage without evaluating PromQL: `series`, `labels`,
//! `label/<name>/values`, and `format_query`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::api::{ApiError, ErrorType, MAX_TIME_MS, MIN_TIME_MS, Params, labels_json, time_param};
use crate::app::App;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::promql::parse_metric_selector;

fn matcher_sets(params: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    params
        .all("match[]")
        .iter()
        .map(|m| parse_metric_selector(m).map_err(|e| ApiError::bad_data(e.to_string())))
        .collect()
}

fn range(params: &Params) -> Result<(i64, i64), ApiError> {
    let start = time_param(params, "start", MIN_TIME_MS)?;
    let end = time_param(params, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start time"));
    }
    Ok((start, end))
}

fn limit(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(0),
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_data("limit must be a positive number")),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorType::Internal, e.to_string())
}

/// Applies `limit` (0: none) and reports truncation as upstream's warning.
fn truncate<T>(mut items: Vec<T>, limit: usize, warnings: &mut Vec<String>) -> Vec<T> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
    items
}

pub(super) fn series(app: &App, params: &Params, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
    let sets = matcher_sets(params)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = range(params)?;
    let limit = limit(params)?;
    let q = app.storage.querier(start, end).map_err(internal)?;
    let mut all: BTreeSet<Labels> = BTreeSet::new();
    for m in &sets {
        for s in q.select(true, None, m).map_err(internal)? {
            all.insert(s.labels);
        }
    }
    let list: Vec<Value> = all.iter().map(labels_json).collect();
    Ok(Value::Array(truncate(list, limit, warnings)))
}

pub(super) fn label_names(app: &App, params: &Params, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
    let sets = matcher_sets(params)?;
    let (start, end) = range(params)?;
    let limit = limit(params)?;
    let q = app.storage.querier(start, end).map_err(internal)?;
    let mut names: BTreeSet<String> = BTreeSet::new();
    if sets.is_empty() {
        names.extend(q.label_names(&[]).map_err(internal)?);
    }
    for m in &sets {
        names.extend(q.label_names(m).map_err(internal)?);
    }
    Ok(json!(truncate(names.into_iter().collect::<Vec<_>>(), limit, warnings)))
}

pub(super) fn label_values(
    app: &App,
    name: &str,
    params: &Params,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    // Prometheus 3 accepts UTF-8 names escaped as `U__...`; plain names are taken as they are.
    let name = unescape_label_name(name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = matcher_sets(params)?;
    let (start, end) = range(params)?;
    let limit = limit(params)?;
    let q = app.storage.querier(start, end).map_err(internal)?;
    let mut values: BTreeSet<String> = BTreeSet::new();
    if sets.is_empty() {
        values.extend(q.label_values(&name, &[]).map_err(internal)?);
    }
    for m in &sets {
        values.extend(q.label_values(&name, m).map_err(internal)?);
    }
    Ok(json!(truncate(values.into_iter().collect::<Vec<_>>(), limit, warnings)))
}

pub(super) fn format_query(params: &Params) -> Result<Value, ApiError> {
    let query = params.get("query").unwrap_or("");
    let expr = crate::promql::parse(query).map_err(|e| ApiError::bad_data(e.to_string()))?;
    Ok(Value::String(expr.to_string()))
}

/// Decodes the `U__` escaping of label names in URL paths (`U__a_2e_b` is `a.b`, `_` is `__`).
fn unescape_label_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(decoded) => out.push(decoded),
            None => return name.to_string(),
        }
    }
    out
}

/// `query_exemplars`: the query is validated; exemplar storage is off (as in Prometheus without
/// `--enable-feature=exemplar-storage`), so the result is empty.
pub(super) fn query_exemplars(app: &App, params: &Params) -> Result<Value, ApiError> {
    let query = params.get("query").unwrap_or("");
    app.parse_query(query).map_err(|e| ApiError::bad_data(e.to_string()))?;
    range(params)?;
    Ok(Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_label_names() {
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__a_2e_b"), "a.b");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
        assert_eq!(unescape_label_name("U__bad_zz_"), "U__bad_zz_");
    }
}
