//! The series Prometheus adds for every scrape: `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`, and with `extra_scrape_metrics`
//! `scrape_timeout_seconds`, `scrape_sample_limit` and `scrape_body_size_bytes`.

use crate::model::labels::Labels;
use crate::model::value::stale_nan;
use crate::storage::{AppendError, Appender, SeriesRef, StorageError};

const NAMES: [&str; 8] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "scrape_timeout_seconds",
    "scrape_sample_limit",
    "scrape_body_size_bytes",
];

/// The values of one scrape's report.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Report {
    /// 1 when the scrape succeeded.
    pub up: bool,
    /// How long the scrape took.
    pub duration_seconds: f64,
    /// Samples in the body.
    pub samples_scraped: usize,
    /// Samples after metric relabeling.
    pub samples_post_relabel: usize,
    /// New series.
    pub series_added: usize,
    /// The timeout in seconds.
    pub timeout_seconds: f64,
    /// The sample limit (0: none).
    pub sample_limit: u64,
    /// The body's size in bytes (-1 when the body limit was hit, as upstream).
    pub body_size_bytes: f64,
}

/// The report series of one target, with their cached references.
#[derive(Debug)]
pub struct ReportSeries {
    labels: Vec<Labels>,
    refs: [SeriesRef; 8],
    extra: bool,
}

impl ReportSeries {
    /// Report series for a target with `target_labels`; `extra` adds the `extra_scrape_metrics` ones.
    pub fn new(target_labels: &Labels, extra: bool) -> ReportSeries {
        let labels = NAMES
            .iter()
            .map(|n| {
                let mut l = target_labels.clone();
                l.set("__name__", *n);
                l
            })
            .collect();
        ReportSeries {
            labels,
            refs: [0; 8],
            extra,
        }
    }

    fn count(&self) -> usize {
        if self.extra { 8 } else { 5 }
    }

    /// Appends the report at `ts`.
    pub fn append(&mut self, app: &mut dyn Appender, ts: i64, r: &Report) -> Result<(), StorageError> {
        let values = [
            if r.up { 1.0 } else { 0.0 },
            r.duration_seconds,
            r.samples_scraped as f64,
            r.samples_post_relabel as f64,
            r.series_added as f64,
            r.timeout_seconds,
            r.sample_limit as f64,
            r.body_size_bytes,
        ];
        self.append_values(app, ts, &values)
    }

    /// Staleness markers for every report series (the target went away).
    pub fn append_stale(&mut self, app: &mut dyn Appender, ts: i64) -> Result<(), StorageError> {
        self.append_values(app, ts, &[stale_nan(); 8])
    }

    fn append_values(&mut self, app: &mut dyn Appender, ts: i64, values: &[f64; 8]) -> Result<(), StorageError> {
        let n = self.count();
        for ((series_ref, labels), &v) in self.refs.iter_mut().zip(&self.labels).zip(values).take(n) {
            match app.append(*series_ref, labels, ts, v) {
                Ok(r) => *series_ref = r,
                Err(AppendError::Storage(e)) => return Err(e),
                Err(AppendError::UnknownRef(_)) => {
                    *series_ref = app.append(0, labels, ts, v).unwrap_or(0);
                }
                // Out of order (clock went back) or duplicate: skipped, as upstream does.
                Err(_) => {}
            }
        }
        Ok(())
    }
}
