//! The TSDB admin endpoints (on with `--web.enable-admin-api`): `delete_series` (tombstones),
//! `clean_tombstones` (rewrites blocks without deleted data) and `snapshot` (under `<data>/snapshots/`).

use serde_json::{Value, json};

use super::api::{ApiError, ErrorType, MAX_TIME_MS, MIN_TIME_MS, Params, time_param};
use crate::app::App;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorType::Internal, e.to_string())
}

/// Runs one admin action; `Ok(None)` is answered with 204 No Content.
pub(super) fn handle(app: &App, action: &str, params: &Params) -> Result<Option<Value>, ApiError> {
    match action {
        "tsdb/delete_series" => {
            let selectors = params.all("match[]");
            if selectors.is_empty() {
                return Err(ApiError::bad_data("no match[] parameter provided"));
            }
            let start = time_param(params, "start", MIN_TIME_MS)?;
            let end = time_param(params, "end", MAX_TIME_MS)?;
            for sel in selectors {
                let matchers =
                    crate::promql::parse_metric_selector(sel).map_err(|e| ApiError::bad_data(e.to_string()))?;
                app.db.delete(start, end, &matchers).map_err(internal)?;
            }
            Ok(None)
        }
        "tsdb/clean_tombstones" => {
            app.db.clean_tombstones().map_err(internal)?;
            Ok(None)
        }
        "tsdb/snapshot" => {
            let skip_head = params.get("skip_head").is_some_and(|v| v == "true" || v == "1");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let name = format!(
                "{}-{:016x}",
                super::api::rfc3339(Some(std::time::SystemTime::now())).replace([':', '-', '.'], ""),
                now.as_nanos() as u64
            );
            let dir = app.options.storage_path.join("snapshots").join(&name);
            app.db.snapshot(&dir, !skip_head).map_err(internal)?;
            Ok(Some(json!({ "name": name })))
        }
        other => Err(ApiError::new(
            ErrorType::NotFound,
            format!("unknown admin endpoint {other:?}"),
        )),
    }
}
