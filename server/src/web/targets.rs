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
