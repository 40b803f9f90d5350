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
