//! Metrics about the exporter itself: promhttp's handler metrics and the `<exporter>_build_info` gauge.
//!
//! `promhttp_metric_handler_requests_total{code}`, `promhttp_metric_handler_requests_in_flight` and
//! `promhttp_metric_handler_errors_total{cause}` count the scrapes that reach the metrics handler (after
//! authentication and `collect[]` parsing, as in node_exporter), with the codes `200`, `500`, `503` and the causes
//! `gathering`, `encoding` present from the start like the Go client's.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::model::{Labels, Metric, MetricFamily, MetricType, Value};
use crate::registry::{CollectError, Collector};

/// The promhttp handler counters, shared by all connections.
#[derive(Debug)]
pub(crate) struct HandlerMetrics {
    by_code: Mutex<BTreeMap<u16, u64>>,
    in_flight: AtomicI64,
    errors_gathering: AtomicU64,
    errors_encoding: AtomicU64,
}

impl Default for HandlerMetrics {
    fn default() -> Self {
        HandlerMetrics {
            by_code: Mutex::new(BTreeMap::from([(200, 0), (500, 0), (503, 0)])),
            in_flight: AtomicI64::new(0),
            errors_gathering: AtomicU64::new(0),
            errors_encoding: AtomicU64::new(0),
        }
    }
}

/// Why the handler failed, for `promhttp_metric_handler_errors_total{cause}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerError {
    /// The registry could not be gathered.
    Gathering,
    /// The response could not be encoded or compressed.
    Encoding,
}

impl HandlerMetrics {
    /// Marks a scrape as started; the guard marks it finished when dropped.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Counts a finished scrape by its status code.
    pub(crate) fn finished(&self, code: u16) {
        *self
            .by_code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_insert(0) += 1;
    }

    /// Counts an internal error.
    pub(crate) fn error(&self, cause: HandlerError) {
        match cause {
            HandlerError::Gathering => &self.errors_gathering,
            HandlerError::Encoding => &self.errors_encoding,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the three promhttp families.
    pub(crate) fn collect(&self, out: &mut Vec<MetricFamily>) {
        let counter = |v: u64| Value::Counter {
            total: v as f64,
            created: None,
            exemplar: None,
        };
        let mut total = MetricFamily::new("promhttp_metric_handler_requests_total", MetricType::Counter)
            .with_help("Total number of scrapes by HTTP status code.");
        for (code, n) in self.by_code.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            total.push(Metric::new(
                Labels::from_pairs([("code", code.to_string())]),
                counter(*n),
            ));
        }
        let mut in_flight = MetricFamily::new("promhttp_metric_handler_requests_in_flight", MetricType::Gauge)
            .with_help("Current number of scrapes being served.");
        in_flight.push(Metric::new(
            Labels::new(),
            Value::Gauge(self.in_flight.load(Ordering::Relaxed) as f64),
        ));
        let mut errors = MetricFamily::new("promhttp_metric_handler_errors_total", MetricType::Counter)
            .with_help("Total number of internal errors encountered by the promhttp metric handler.");
        for (cause, n) in [
            ("encoding", &self.errors_encoding),
            ("gathering", &self.errors_gathering),
        ] {
            errors.push(Metric::new(
                Labels::from_pairs([("cause", cause)]),
                counter(n.load(Ordering::Relaxed)),
            ));
        }
        out.extend([errors, in_flight, total]);
    }
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a HandlerMetrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Build information for `<exporter>_build_info`, with the label names of Prometheus' `version` package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The exporter version, e.g. `1.8.2`.
    pub version: String,
    /// The VCS revision, `unknown` when not known.
    pub revision: String,
    /// The VCS branch, empty when not known.
    pub branch: String,
    /// Build tags (Go) or enabled features, `unknown` when not known.
    pub tags: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo {
            version: String::new(),
            revision: "unknown".to_string(),
            branch: String::new(),
            tags: "unknown".to_string(),
        }
    }
}

/// The compiler that built this crate, in the `goversion` label (e.g. `rustc 1.95.0`).
pub fn rustc_version() -> &'static str {
    option_env!("EXPOSITION_RUSTC_VERSION").unwrap_or("unknown")
}

/// The target operating system in Go's spelling (`linux`, `darwin`, `windows`, `freebsd`, ...).
pub fn goos() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "ios" => "ios",
        other => other,
    }
}

/// The target architecture in Go's spelling (`amd64`, `arm64`, `386`, `ppc64le`, ...).
pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Writes `<exporter>_build_info` (always registered, also with `--web.disable-exporter-metrics`).
#[derive(Debug, Clone)]
pub(crate) struct BuildInfoCollector {
    pub(crate) exporter: String,
    pub(crate) info: BuildInfo,
}

impl BuildInfoCollector {
    /// The metric name: the exporter name with characters outside `[a-zA-Z0-9_:]` replaced by `_`.
    pub(crate) fn metric_name(&self) -> String {
        let base: String = self
            .exporter
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{base}_build_info")
    }
}

impl Collector for BuildInfoCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut fam = MetricFamily::new(self.metric_name(), MetricType::Gauge).with_help(format!(
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which {} was \
             built, and the goos and goarch for the build.",
            self.exporter
        ));
        fam.push(Metric::new(
            Labels::from_pairs([
                ("branch", self.info.branch.as_str()),
                ("goarch", goarch()),
                ("goos", goos()),
                ("goversion", rustc_version()),
                ("revision", self.info.revision.as_str()),
                ("tags", self.info.tags.as_str()),
                ("version", self.info.version.as_str()),
            ]),
            Value::Gauge(1.0),
        ));
        out.push(fam);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_metrics_count() {
        let m = HandlerMetrics::default();
        {
            let _a = m.start();
            let _b = m.start();
            let mut out = Vec::new();
            m.collect(&mut out);
            assert_eq!(out[1].metrics[0].value, Value::Gauge(2.0));
        }
        m.finished(200);
        m.finished(200);
        m.finished(503);
        m.error(HandlerError::Gathering);
        let mut out = Vec::new();
        m.collect(&mut out);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "promhttp_metric_handler_errors_total",
                "promhttp_metric_handler_requests_in_flight",
                "promhttp_metric_handler_requests_total"
            ]
        );
        let totals: Vec<(String, Value)> = out[2]
            .metrics
            .iter()
            .map(|m| (m.labels.get("code").unwrap_or("").to_string(), m.value.clone()))
            .collect();
        let c = |v: f64| Value::Counter {
            total: v,
            created: None,
            exemplar: None,
        };
        assert_eq!(
            totals,
            [("200".into(), c(2.0)), ("500".into(), c(0.0)), ("503".into(), c(1.0))]
        );
        assert_eq!(out[0].metrics[1].labels.get("cause"), Some("gathering"));
        assert_eq!(out[0].metrics[1].value, c(1.0));
        assert_eq!(out[1].metrics[0].value, Value::Gauge(0.0));
    }

    #[test]
    fn build_info() {
        let c = BuildInfoCollector {
            exporter: "mysqld-exporter".into(),
            info: BuildInfo {
                version: "0.15.1".into(),
                ..BuildInfo::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out[0].name, "mysqld_exporter_build_info");
        assert!(
            out[0]
                .help
                .as_deref()
                .unwrap_or("")
                .contains("from which mysqld-exporter was built")
        );
        let labels: Vec<&str> = out[0].metrics[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            labels,
            ["branch", "goarch", "goos", "goversion", "revision", "tags", "version"]
        );
        assert_eq!(out[0].metrics[0].labels.get("version"), Some("0.15.1"));
        assert!(rustc_version().starts_with("rustc ") || rustc_version() == "unknown");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!((goos(), goarch()), ("linux", "amd64"));
        }
    }
}
