//! One entry of `scrape_configs`: a job, how to scrape it, where its targets come from and how to relabel them.

use std::collections::BTreeMap;

use super::global::{EscapingScheme, GlobalConfig, ScrapeProtocol, ValidationScheme, check_naming, check_protocols};
use super::types::{Duration, Size};
use super::{Path, Problem};
use crate::model::relabel::{RelabelConfig, validate_list};

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

fn default_scheme() -> String {
    "http".to_owned()
}

config_struct! {
    http_sd
    /// One scrape job.
    pub struct ScrapeConfig {
        /// The job name (the `job` label); unique across the configuration.
        #[serde(default, deserialize_with = "crate::config::null_default")]
        pub job_name: String,
        /// Keep the target's labels when they clash with server-side ones.
        #[serde(default)]
        pub honor_labels: bool,
        /// Keep timestamps the target exposes.
        #[serde(default = "crate::config::http::yes")]
        pub honor_timestamps: bool,
        /// Mark series with explicit timestamps stale when they disappear.
        #[serde(default)]
        pub track_timestamps_staleness: bool,
        /// Scrape interval (default: global).
        #[serde(default)]
        pub scrape_interval: Duration,
        /// Scrape timeout (default: global, at most the interval).
        #[serde(default)]
        pub scrape_timeout: Duration,
        /// Protocols to offer (default: global).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
        /// The protocol to assume when the target sends no usable `Content-Type`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_scrape_protocol: Option<ScrapeProtocol>,
        /// Scrape native histograms (default: global).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_native_histograms: Option<bool>,
        /// Keep classic histograms beside native ones (default: global).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub always_scrape_classic_histograms: Option<bool>,
        /// Convert classic histograms to NHCB (default: global).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        /// Emit the extra `scrape_*` series (default: global).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub extra_scrape_metrics: Option<bool>,
        /// File to log failed scrapes to.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub scrape_failure_log_file: String,
        /// HTTP path of the metrics (default `/metrics`).
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        /// `http` or `https`.
        #[serde(default = "default_scheme")]
        pub scheme: String,
        /// Ask for compressed responses.
        #[serde(default = "crate::config::http::yes")]
        pub enable_compression: bool,
        /// URL query parameters.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub params: BTreeMap<String, Vec<String>>,
        /// Largest accepted body (default: global).
        #[serde(default)]
        pub body_size_limit: Size,
        /// Samples per scrape (default: global).
        #[serde(default)]
        pub sample_limit: u64,
        /// Targets per job (default: global).
        #[serde(default)]
        pub target_limit: u64,
        /// Labels per sample (default: global).
        #[serde(default)]
        pub label_limit: u64,
        /// Label name length (default: global).
        #[serde(default)]
        pub label_name_length_limit: u64,
        /// Label value length (default: global).
        #[serde(default)]
        pub label_value_length_limit: u64,
        /// Buckets per native histogram.
        #[serde(default)]
        pub native_histogram_bucket_limit: u64,
        /// Minimum growth factor between native histogram buckets.
        #[serde(default)]
        pub native_histogram_min_bucket_factor: f64,
        /// Dropped targets kept for the UI (default: global).
        #[serde(default)]
        pub keep_dropped_targets: u64,
        /// Name validation (default: global).
        #[serde(default)]
        pub metric_name_validation_scheme: ValidationScheme,
        /// Name escaping (default: global).
        #[serde(default)]
        pub metric_name_escaping_scheme: EscapingScheme,
        /// Relabeling of targets before scraping.
        #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
        pub relabel_configs: Vec<Option<RelabelConfig>>,
        /// Relabeling of scraped samples.
        #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
        pub metric_relabel_configs: Vec<Option<RelabelConfig>>,
    }
}

impl ScrapeConfig {
    /// Makes the job's relative file paths relative to `dir`.
    pub fn set_directory(&mut self, dir: &std::path::Path) {
        crate::config::http::join_dir(dir, &mut self.scrape_failure_log_file);
        self.set_http_directory(dir);
        self.set_discovery_directory(dir);
    }

    /// Fills defaults from `global` and checks the job.
    pub fn finalize(&mut self, global: &GlobalConfig, path: &Path) -> Result<(), Problem> {
        // Nested sections first, as upstream decodes (and so checks) them before looking at the job name.
        self.http_client().validate(path)?;
        self.validate_discovery(path)?;
        if self.scrape_interval.is_zero() {
            self.scrape_interval = global.scrape_interval;
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = global.scrape_timeout.min(self.scrape_interval);
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(Problem::TimeoutExceedsInterval {
                path: path.key("scrape_timeout"),
                job: self.job_name.clone(),
                timeout: self.scrape_timeout,
                interval: self.scrape_interval,
            });
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(Problem::Invalid {
                path: path.key("scheme"),
                value: self.scheme.clone(),
                reason: "must be http or https".into(),
            });
        }
        macro_rules! inherit {
            ($($field:ident),*) => {$(
                if is_default(&self.$field) {
                    self.$field = global.$field.clone();
                }
            )*};
        }
        inherit!(
            body_size_limit,
            sample_limit,
            target_limit,
            label_limit,
            label_name_length_limit,
            label_value_length_limit,
            keep_dropped_targets,
            scrape_native_histograms,
            always_scrape_classic_histograms,
            convert_classic_histograms_to_nhcb,
            extra_scrape_metrics
        );
        let native = self.scrape_native_histograms.unwrap_or(false);
        match &self.scrape_protocols {
            Some(protocols) => check_protocols(&path.key("scrape_protocols"), protocols)?,
            None => self.scrape_protocols = Some(global.effective_scrape_protocols(native)),
        }
        // The scheme pair is checked as written, then the unset parts are inherited.
        if self.metric_name_validation_scheme == ValidationScheme::Unset {
            self.metric_name_validation_scheme = match global.metric_name_validation_scheme {
                ValidationScheme::Unset => ValidationScheme::Utf8,
                other => other,
            };
            if self.metric_name_escaping_scheme == EscapingScheme::Unset {
                self.metric_name_escaping_scheme = global.metric_name_escaping_scheme;
            }
        }
        if self.metric_name_escaping_scheme == EscapingScheme::Unset {
            self.metric_name_escaping_scheme = match self.metric_name_validation_scheme {
                ValidationScheme::Legacy => EscapingScheme::Underscores,
                _ => EscapingScheme::AllowUtf8,
            };
        }
        check_naming(
            path,
            self.metric_name_validation_scheme,
            self.metric_name_escaping_scheme,
        )?;
        let legacy = self.metric_name_validation_scheme == ValidationScheme::Legacy;
        validate_list(&path.key("relabel_configs"), &mut self.relabel_configs, legacy)?;
        validate_list(
            &path.key("metric_relabel_configs"),
            &mut self.metric_relabel_configs,
            legacy,
        )?;
        if self.job_name.is_empty() {
            return Err(Problem::Missing {
                path: path.key("job_name"),
            });
        }
        Ok(())
    }
}
