//! `/api/v1/status/*`: the configuration in force (secrets as `<secret>`), flags, runtime and build information.

use serde_json::{Value, json};

use super::api::{ApiError, ErrorType, rfc3339};
use crate::app::App;

pub(super) fn config(app: &App) -> Result<Value, ApiError> {
    let config = app.current_config();
    let yaml = serde_saphyr::to_string(&*config)
        .map_err(|e| ApiError::new(ErrorType::Internal, format!("error serializing configuration: {e}")))?;
    Ok(json!({ "yaml": yaml }))
}

pub(super) fn flags(app: &App) -> Result<Value, ApiError> {
    Ok(json!(app.options.flags))
}

pub(super) fn runtime_info(app: &App) -> Result<Value, ApiError> {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(json!({
        "startTime": rfc3339(Some(app.start_time)),
        "CWD": cwd,
        "hostname": std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
        "serverTime": rfc3339(Some(std::time::SystemTime::now())),
        "reloadConfigSuccess": app.reload_successful(),
        "lastConfigTime": rfc3339(Some(app.last_config_time())),
        "corruptionCount": 0,
        // The closest analogue of goroutines: the process' threads.
        "goroutineCount": thread_count(),
        "GOMAXPROCS": threads,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": app.options.flags.get("storage.tsdb.retention.time").cloned().unwrap_or_else(|| "15d".to_string()),
    }))
}

pub(super) fn build_info() -> Result<Value, ApiError> {
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "unknown",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": exposition::http::rustc_version(),
    }))
}

fn thread_count() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// `GET /api/v1/status/tsdb`: head statistics and the top cardinality contributors (`limit`, default 10).
pub(super) fn tsdb(app: &App, params: &super::api::Params) -> Result<Value, ApiError> {
    use std::collections::HashMap;

    let limit = match params.get("limit") {
        None | Some("") => 10,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let head = app.db.head();
    let metrics = app.db.metrics();
    let (mint, maxt) = (head.min_time(), head.max_time());
    let q = app
        .storage
        .querier(i64::MIN, i64::MAX)
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let all = crate::model::matcher::Matcher::new(crate::model::matcher::MatchOp::Regex, "__name__", ".+")
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let series = q
        .select(false, None, &[all])
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let mut by_name: HashMap<&str, u64> = HashMap::new();
    let mut by_pair: HashMap<(&str, &str), u64> = HashMap::new();
    let mut values_by_label: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
    for s in &series {
        for (n, v) in s.labels.iter() {
            if n == "__name__" {
                *by_name.entry(v).or_default() += 1;
            }
            *by_pair.entry((n, v)).or_default() += 1;
            values_by_label.entry(n).or_default().insert(v);
        }
    }
    let top = |mut items: Vec<(String, u64)>| -> Vec<Value> {
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items.truncate(limit);
        items
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    };
    let names = top(by_name.iter().map(|(k, v)| (k.to_string(), *v)).collect());
    let value_counts = top(values_by_label
        .iter()
        .map(|(k, v)| (k.to_string(), v.len() as u64))
        .collect());
    let memory = top(values_by_label
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.len() as u64).sum()))
        .collect());
    let pairs = top(by_pair.iter().map(|((n, v), c)| (format!("{n}={v}"), *c)).collect());
    let empty = head.num_series() == 0;
    Ok(json!({
        "headStats": {
            "numSeries": head.num_series(),
            "numLabelPairs": by_pair.len(),
            "chunkCount": metrics.head.chunks.get() as u64,
            "minTime": if empty { i64::MAX } else { mint },
            "maxTime": if empty { i64::MIN } else { maxt },
        },
        "seriesCountByMetricName": names,
        "labelValueCountByLabelName": value_counts,
        "memoryInBytesByLabelName": memory,
        "seriesCountByLabelValuePair": pairs,
    }))
}
