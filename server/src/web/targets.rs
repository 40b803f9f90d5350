//! `GET /api/v1/targets`: active and dropped targets, filtered by `state` and `scrapePool`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::{ApiError, Params, labels_json, rfc3339};
use crate::app::App;
use crate::config::types::Duration;

pub(super) fn targets(app: &App, params: &Params) -> Result<Value, ApiError> {
    let state = params.get("state").unwrap_or("").to_ascii_lowercase();
    let pool = params.get("scrapePool").unwrap_or("");
    let show_active = state.is_empty() || state == "any" || state == "active";
    let show_dropped = state.is_empty() || state == "any" || state == "dropped";
    let mut data = serde_json::Map::new();
    if show_active {
        let active: Vec<Value> = app
            .scrape
            .active_targets()
            .into_iter()
            .filter(|t| pool.is_empty() || t.pool == pool)
            .map(|t| {
                json!({
                    "discoveredLabels": labels_json(&t.target.discovered_labels),
                    "labels": labels_json(&t.target.labels),
                    "scrapePool": t.pool,
                    "scrapeUrl": t.url,
                    "globalUrl": t.url,
                    "lastError": t.status.last_error,
                    "lastScrape": rfc3339(t.status.last_scrape),
                    "lastScrapeDuration": t.status.last_duration.as_secs_f64(),
                    "health": t.status.health.as_str(),
                    "scrapeInterval": Duration::from_millis(t.target.interval_ms).to_string(),
                    "scrapeTimeout": Duration::from_millis(t.target.timeout_ms).to_string(),
                })
            })
            .collect();
        data.insert("activeTargets".into(), Value::Array(active));
    }
    if show_dropped {
        let mut counts: BTreeMap<String, u64> = app.scrape.jobs().into_iter().map(|j| (j, 0)).collect();
        let dropped: Vec<Value> = app
            .scrape
            .dropped_targets()
            .into_iter()
            .filter(|t| pool.is_empty() || t.pool == pool)
            .map(|t| {
                *counts.entry(t.pool.clone()).or_default() += 1;
                json!({"discoveredLabels": labels_json(&t.discovered_labels), "scrapePool": t.pool})
            })
            .collect();
        data.insert("droppedTargets".into(), Value::Array(dropped));
        data.insert("droppedTargetCounts".into(), json!(counts));
    }
    Ok(Value::Object(data))
}

fn parse_limit(params: &Params, name: &str) -> Result<Option<usize>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n as usize)),
            Ok(_) => Ok(None),
            Err(_) => Err(ApiError::bad_data(format!("{name} must be a number"))),
        },
    }
}

/// `GET /api/v1/targets/metadata`: metadata per target, filtered by `match_target`, `metric` and `limit`.
pub(super) fn targets_metadata(app: &App, params: &Params) -> Result<Value, ApiError> {
    let matchers = match params.get("match_target") {
        None | Some("") => Vec::new(),
        Some(sel) => crate::promql::parse_metric_selector(sel).map_err(|e| ApiError::bad_data(e.to_string()))?,
    };
    let metric = params.get("metric").unwrap_or("");
    let limit = parse_limit(params, "limit")?;
    let mut out = Vec::new();
    'targets: for t in app.scrape.active_targets() {
        if !crate::storage::matches_all(&t.target.labels, &matchers) {
            continue;
        }
        let mut sorted: Vec<_> = t.metadata.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (name, md) in sorted {
            if !metric.is_empty() && name != metric {
                continue;
            }
            if limit.is_some_and(|l| out.len() >= l) {
                break 'targets;
            }
            let mut entry = json!({
                "target": labels_json(&t.target.labels),
                "type": md.kind,
                "help": md.help,
                "unit": md.unit,
            });
            if metric.is_empty() {
                entry["metric"] = Value::String(name.clone());
            }
            out.push(entry);
        }
    }
    Ok(Value::Array(out))
}

/// `GET /api/v1/metadata`: metadata by metric name over all targets, without duplicates.
pub(super) fn metadata(app: &App, params: &Params) -> Result<Value, ApiError> {
    let metric = params.get("metric").unwrap_or("");
    let limit = parse_limit(params, "limit")?;
    let per_metric = parse_limit(params, "limit_per_metric")?;
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for t in app.scrape.active_targets() {
        for (name, md) in t.metadata.iter() {
            if !metric.is_empty() && name != metric {
                continue;
            }
            let entry = json!({"type": md.kind, "help": md.help, "unit": md.unit});
            let list = by_name.entry(name.clone()).or_default();
            if !list.contains(&entry) && per_metric.is_none_or(|l| list.len() < l) {
                list.push(entry);
            }
        }
    }
    let mut data = serde_json::Map::new();
    for (name, list) in by_name {
        if limit.is_some_and(|l| data.len() >= l) {
            break;
        }
        data.insert(name, Value::Array(list));
    }
    Ok(Value::Object(data))
}
