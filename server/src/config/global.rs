//! The `global` section: defaults every scrape config and rule group inherits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::{Duration, Size, expand_env};
use super::{Path, Problem};

/// A scrape protocol name as negotiated in the `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ScrapeProtocol {
    /// Protobuf exposition.
    PrometheusProto,
    /// OpenMetrics 0.0.1.
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    /// OpenMetrics 1.0.0.
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
    /// Text format 0.0.4.
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    /// Text format 1.0.0.
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
}

impl ScrapeProtocol {
    /// Upstream's default order.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];
    /// The order used when native histograms are scraped (protobuf first).
    pub const PROTO_FIRST: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];
}

/// Checks that a protocol list has no duplicates.
pub(crate) fn check_protocols(path: &Path, protocols: &[ScrapeProtocol]) -> Result<(), Problem> {
    for (i, p) in protocols.iter().enumerate() {
        if protocols[..i].contains(p) {
            return Err(Problem::Invalid {
                path: path.clone(),
                value: format!("{p:?}"),
                reason: "duplicated protocol in scrape_protocols".into(),
            });
        }
    }
    Ok(())
}

/// `metric_name_validation_scheme`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ValidationScheme {
    /// Not set: inherit (UTF-8 at the top).
    #[default]
    #[serde(rename = "")]
    Unset,
    /// Any UTF-8 name.
    #[serde(rename = "utf8")]
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` names only.
    #[serde(rename = "legacy")]
    Legacy,
}

/// `metric_name_escaping_scheme`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum EscapingScheme {
    /// Not set: inherit.
    #[default]
    #[serde(rename = "")]
    Unset,
    /// No escaping.
    #[serde(rename = "allow-utf-8")]
    AllowUtf8,
    /// Invalid characters become underscores.
    #[serde(rename = "underscores")]
    Underscores,
    /// Dots become `_dot_`, others underscores.
    #[serde(rename = "dots")]
    Dots,
    /// Invalid characters become `_<hex>_`, with a `U__` prefix.
    #[serde(rename = "values")]
    Values,
}

/// Checks a validation/escaping pair: legacy names cannot be scraped with `allow-utf-8` escaping.
pub(crate) fn check_naming(path: &Path, validation: ValidationScheme, escaping: EscapingScheme) -> Result<(), Problem> {
    if validation == ValidationScheme::Legacy && escaping == EscapingScheme::AllowUtf8 {
        return Err(Problem::Invalid {
            path: path.key("metric_name_escaping_scheme"),
            value: "allow-utf-8".into(),
            reason: "cannot be used with metric_name_validation_scheme legacy".into(),
        });
    }
    Ok(())
}

/// The `global` section.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// How often to scrape (default 1m).
    pub scrape_interval: Duration,
    /// Scrape timeout (default 10s, at most `scrape_interval`).
    pub scrape_timeout: Duration,
    /// Protocols to offer, in order of preference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// How often to evaluate rules (default 1m).
    pub evaluation_interval: Duration,
    /// Offset of rule evaluation timestamps.
    pub rule_query_offset: Duration,
    /// Labels added to series and alerts leaving this server (values expand `${VAR}`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    /// File to log PromQL queries to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    /// File to log scrape failures to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// Largest accepted scrape body (0: unlimited).
    pub body_size_limit: Size,
    /// Per-scrape sample limit (0: unlimited).
    pub sample_limit: u64,
    /// Per-job target limit.
    pub target_limit: u64,
    /// Per-sample label count limit.
    pub label_limit: u64,
    /// Label name length limit.
    pub label_name_length_limit: u64,
    /// Label value length limit.
    pub label_value_length_limit: u64,
    /// How many dropped targets to keep for the UI.
    pub keep_dropped_targets: u64,
    /// Metric and label name validation.
    pub metric_name_validation_scheme: ValidationScheme,
    /// Metric name escaping when scraping.
    pub metric_name_escaping_scheme: EscapingScheme,
    /// Scrape native histograms.
    pub scrape_native_histograms: Option<bool>,
    /// Also keep the classic form of histograms that have a native form.
    pub always_scrape_classic_histograms: Option<bool>,
    /// Convert classic histograms to native histograms with custom buckets.
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Emit the extra `scrape_*` series.
    pub extra_scrape_metrics: Option<bool>,
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        GlobalConfig {
            scrape_interval: Duration::ZERO,
            scrape_timeout: Duration::ZERO,
            scrape_protocols: None,
            evaluation_interval: Duration::ZERO,
            rule_query_offset: Duration::ZERO,
            external_labels: BTreeMap::new(),
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            body_size_limit: Size::from_bytes(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: ValidationScheme::Unset,
            metric_name_escaping_scheme: EscapingScheme::Unset,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            extra_scrape_metrics: None,
        }
    }
}

/// Upstream's default scrape interval.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Upstream's default scrape timeout.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upstream's default rule evaluation interval.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

impl GlobalConfig {
    /// Fills upstream's defaults (an unset timeout becomes the smaller of 10s and the interval), expands external
    /// label values and checks the section.
    pub fn finalize(&mut self, path: &Path) -> Result<(), Problem> {
        if self.scrape_interval.is_zero() {
            self.scrape_interval = DEFAULT_SCRAPE_INTERVAL;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(Problem::TimeoutExceedsInterval {
                path: path.key("scrape_timeout"),
                job: String::new(),
                timeout: self.scrape_timeout,
                interval: self.scrape_interval,
            });
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval);
        }
        if self.evaluation_interval.is_zero() {
            self.evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
        }
        if let Some(protocols) = &self.scrape_protocols {
            check_protocols(&path.key("scrape_protocols"), protocols)?;
        }
        check_naming(
            path,
            self.metric_name_validation_scheme,
            self.metric_name_escaping_scheme,
        )?;
        let labels_path = path.key("external_labels");
        let legacy = self.metric_name_validation_scheme == ValidationScheme::Legacy;
        let mut expanded = BTreeMap::new();
        for (name, value) in &self.external_labels {
            let valid = if legacy {
                super::types::is_legacy_label_name(name)
            } else {
                !name.is_empty()
            };
            if !valid {
                return Err(Problem::LabelName {
                    path: labels_path.key(name),
                    name: name.clone(),
                });
            }
            expanded.insert(name.clone(), expand_env(value, |var| std::env::var(var).ok()));
        }
        self.external_labels = expanded;
        Ok(())
    }

    /// The scrape protocols in effect when a scrape config does not set its own.
    pub fn effective_scrape_protocols(&self, native_histograms: bool) -> Vec<ScrapeProtocol> {
        match &self.scrape_protocols {
            Some(p) => p.clone(),
            None if native_histograms => ScrapeProtocol::PROTO_FIRST.to_vec(),
            None => ScrapeProtocol::DEFAULT.to_vec(),
        }
    }
}
