//! Label manipulation and ordering: `label_replace`, `label_join`, `sort`, `sort_desc`, `sort_by_label`,
//! `sort_by_label_desc`, and the experimental `info` (joining data labels from info metrics such as
//! `target_info`).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::super::QueryError;
use super::super::eval::{Evaluator, Val};
use super::super::stream::Flow;
use super::super::value::{FastMap, Sample, Vector};
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::promql::ast::{Call, Expr, VectorSelector};

fn string_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<String, QueryError> {
    match ev.eval(e)? {
        Val::Str(s) => Ok(s),
        _ => Err(QueryError::Execution("expected a string argument".into())),
    }
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// Expands `$1`, `${1}`, `$name`, `${name}` and `$$` in `template` from the captures (Go's `Regexp.Expand`).
fn expand(template: &str, caps: &regex::Captures<'_>, re: &Regex) -> String {
    let mut out = String::new();
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let next = template[i..].find('$').map_or(template.len(), |j| i + j);
            out.push_str(&template[i..next]);
            i = next;
            continue;
        }
        if i + 1 < b.len() && b[i + 1] == b'$' {
            out.push('$');
            i += 2;
            continue;
        }
        let (name, end) = if i + 1 < b.len() && b[i + 1] == b'{' {
            match template[i + 2..].find('}') {
                Some(j) => (&template[i + 2..i + 2 + j], i + 3 + j),
                None => {
                    out.push('$');
                    i += 1;
                    continue;
                }
            }
        } else {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            (&template[i + 1..j], j)
        };
        if name.is_empty() {
            out.push('$');
            i += 1;
            continue;
        }
        let val = match name.parse::<usize>() {
            Ok(n) => caps.get(n).map_or("", |m| m.as_str()),
            Err(_) => {
                if re.capture_names().any(|c| c == Some(name)) {
                    caps.name(name).map_or("", |m| m.as_str())
                } else {
                    ""
                }
            }
        };
        out.push_str(val);
        i = end;
    }
    out
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub fn label_replace(ev: &mut Evaluator<'_>, call: &Call) -> Result<Flow, QueryError> {
    let vs = vector_flow(ev, &call.args[0])?;
    let dst = string_arg(ev, &call.args[1])?;
    let repl = string_arg(ev, &call.args[2])?;
    let src = string_arg(ev, &call.args[3])?;
    let pattern = string_arg(ev, &call.args[4])?;
    let re = crate::promql::compiled::anchored(&pattern)
        .map_err(|_| QueryError::Execution(format!("invalid regular expression in label_replace(): {pattern}")))?;
    if !valid_label_name(&dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let out = relabel(vs, dst == "__name__", |metric| {
        let value = metric.get_or_empty(&src);
        match re.captures(value) {
            Some(caps) => {
                let res = expand(&repl, &caps, &re);
                let mut l = (**metric).clone();
                l.set(dst.clone(), res);
                Arc::new(l)
            }
            None => metric.clone(),
        }
    });
    Ok(out)
}

/// Replaces every sample's labels by `f` of them, calling `f` once per series: a series keeps its `Arc` across
/// steps, so results are cached by the `Arc`'s address (the cache holds the `Arc`, so the address stays unique).
/// With `sets_name`, the new labels carry the name, so it is no longer marked for removal.
fn relabel(vs: Flow, sets_name: bool, mut f: impl FnMut(&Arc<Labels>) -> Arc<Labels>) -> Flow {
    let vs = match vs {
        Flow::Series(mut m) => {
            for s in &mut m {
                s.metric = f(&s.metric);
                if sets_name {
                    s.drop_name = false;
                }
            }
            return Flow::Series(m);
        }
        Flow::Val(Val::Vectors(vs)) => vs,
        other => return other,
    };
    let mut cache: FastMap<usize, (Arc<Labels>, Arc<Labels>)> = FastMap::default();
    let out = vs
        .into_iter()
        .map(|v| {
            v.into_iter()
                .map(|mut s| {
                    let key = Arc::as_ptr(&s.metric) as usize;
                    let (_, new) = cache.entry(key).or_insert_with(|| (s.metric.clone(), f(&s.metric)));
                    s.metric = new.clone();
                    if sets_name {
                        s.drop_name = false;
                    }
                    s
                })
                .collect()
        })
        .collect();
    Flow::Val(Val::Vectors(out))
}

/// Evaluates an instant-vector argument, series-major where it allows.
fn vector_flow(ev: &mut Evaluator<'_>, e: &Expr) -> Result<Flow, QueryError> {
    match ev.eval_flow(e)? {
        Flow::Val(Val::Scalars(_) | Val::Str(_) | Val::Matrix(_)) => Err(QueryError::Execution(format!(
            "expected an instant vector, got {}",
            e.value_type().documented()
        ))),
        flow => Ok(flow),
    }
}

/// `label_join(v, dst, separator, src...)`.
pub fn label_join(ev: &mut Evaluator<'_>, call: &Call) -> Result<Flow, QueryError> {
    let vs = vector_flow(ev, &call.args[0])?;
    let dst = string_arg(ev, &call.args[1])?;
    let sep = string_arg(ev, &call.args[2])?;
    let mut srcs = Vec::new();
    for a in &call.args[3..] {
        srcs.push(string_arg(ev, a)?);
    }
    if !valid_label_name(&dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let out = relabel(vs, dst == "__name__", |metric| {
        let joined = srcs
            .iter()
            .map(|n| metric.get_or_empty(n))
            .collect::<Vec<_>>()
            .join(&sep);
        let mut l = (**metric).clone();
        l.set(dst.clone(), joined);
        Arc::new(l)
    });
    Ok(out)
}

/// Compares strings in natural order: digit runs by numeric value.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = ab[i].cmp(&bb[j]);
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// `sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`.
pub fn sort(ev: &mut Evaluator<'_>, call: &Call) -> Result<Val, QueryError> {
    let name = call.func.name;
    let vs = ev.eval_vectors(&call.args[0])?;
    let mut by = Vec::new();
    for a in &call.args[1..] {
        by.push(string_arg(ev, a)?);
    }
    if ev.is_range_query() {
        ev.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            call.pos,
        );
    }
    let desc = name.ends_with("_desc");
    let out = vs
        .into_iter()
        .map(|mut v| {
            if name.starts_with("sort_by_label") {
                v.sort_by(|a, b| {
                    let mut o = Ordering::Equal;
                    for l in &by {
                        o = natural_cmp(a.metric.get_or_empty(l), b.metric.get_or_empty(l));
                        if o != Ordering::Equal {
                            break;
                        }
                    }
                    if o == Ordering::Equal {
                        o = a.metric.cmp(&b.metric);
                    }
                    if desc { o.reverse() } else { o }
                });
            } else {
                v.retain(|s| s.h.is_none());
                v.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => {
                        let o = a.f.partial_cmp(&b.f).unwrap_or(Ordering::Equal);
                        if desc { o.reverse() } else { o }
                    }
                });
            }
            v
        })
        .collect();
    Ok(Val::Vectors(out))
}

/// The labels that identify which info series belongs to a series.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

fn identity(l: &Labels) -> [String; 2] {
    [
        l.get_or_empty(IDENTIFYING[0]).to_string(),
        l.get_or_empty(IDENTIFYING[1]).to_string(),
    ]
}

/// `info(v [, selector])`: adds the data labels of the info series (default `target_info`) that share a series'
/// identifying labels (`instance`, `job`), looked up at the time the series' sample was read. The selector's
/// `__name__` matchers choose the info metrics, its other matchers the data labels (and the info series that
/// carry them); a series without a matching info series is kept only if those matchers accept an empty value.
pub fn info(ev: &mut Evaluator<'_>, call: &Call) -> Result<Val, QueryError> {
    let vs = ev.eval_vectors(&call.args[0])?;
    let mut name_matchers: Vec<Matcher> = Vec::new();
    let mut data_matchers: Vec<Matcher> = Vec::new();
    if let Some(Expr::VectorSelector(sel)) = call.args.get(1).map(Expr::unparen) {
        for m in &sel.matchers {
            if m.name == "__name__" {
                name_matchers.push(m.clone());
            } else {
                data_matchers.push(m.clone());
            }
        }
    }
    if name_matchers.is_empty() {
        name_matchers.push(Matcher::equal("__name__", "target_info"));
    }
    let has_positive = name_matchers
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::Regex));
    let is_info_name =
        |name: &str| name_matchers.iter().all(|m| m.matches(name)) && (has_positive || name.ends_with("_info"));
    let mut select_matchers = name_matchers.clone();
    select_matchers.extend(data_matchers.iter().cloned());
    let info_sel = VectorSelector {
        name: None,
        matchers: select_matchers,
        offset: None,
        at: None,
        anchored: false,
        smoothed: false,
        pos: call.pos,
    };
    let times = ev.data_times(&call.args[0]);
    let infos = ev.eval_vector_selector_at(&info_sel, &times, true)?;
    let data_ok_empty = data_matchers.iter().all(|m| m.matches(""));
    let mut out: Vec<Vector> = Vec::with_capacity(vs.len());
    for (i, v) in vs.into_iter().enumerate() {
        // The newest info series per (identity, metric name).
        let mut by_id: HashMap<[String; 2], Vec<&Sample>> = HashMap::new();
        for s in &infos[i] {
            let name = s.metric.metric_name().unwrap_or("");
            if !is_info_name(name) {
                continue;
            }
            if s.h.is_some() {
                return Err(QueryError::Execution(format!(
                    "info(): the info series {} is a native histogram; info metrics must be floats",
                    s.metric
                )));
            }
            let entry = by_id.entry(identity(&s.metric)).or_default();
            match entry
                .iter_mut()
                .find(|o| o.metric.metric_name() == s.metric.metric_name())
            {
                Some(o) if o.t < s.t => *o = s,
                Some(_) => {}
                None => entry.push(s),
            }
        }
        let mut step_out = Vector::new();
        for mut s in v {
            let base_name = s.metric.metric_name().unwrap_or("");
            if has_positive && name_matchers.iter().all(|m| m.matches(base_name)) {
                step_out.push(s);
                continue;
            }
            let Some(cands) = by_id.get(&identity(&s.metric)) else {
                if data_ok_empty {
                    step_out.push(s);
                }
                continue;
            };
            let mut labels = (*s.metric).clone();
            let mut added = false;
            for inf in cands {
                for (n, val) in inf.metric.iter() {
                    if n == "__name__" || IDENTIFYING.contains(&n) || s.metric.get(n).is_some() {
                        continue;
                    }
                    if !data_matchers.is_empty() && !data_matchers.iter().any(|m| m.name == n) {
                        continue;
                    }
                    match labels.get(n) {
                        Some(existing) if existing != val => {
                            return Err(QueryError::Execution(format!(
                                "info(): conflicting label {n} values from the info series of {}",
                                s.metric
                            )));
                        }
                        _ => {
                            labels.set(n, val);
                            added = true;
                        }
                    }
                }
            }
            if added {
                s.metric = Arc::new(labels);
            }
            step_out.push(s);
        }
        out.push(step_out);
    }
    Ok(Val::Vectors(out))
}
