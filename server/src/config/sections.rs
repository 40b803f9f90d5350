//! The smaller top-level sections: `storage`, `tracing`, `otlp` and `runtime`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::global::ValidationScheme;
use super::http::{TlsConfig, check_header_name};
use super::types::{Duration, Size};
use super::{Path, Problem};

/// The `storage` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// TSDB settings.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub tsdb: Option<TsdbConfig>,
    /// Exemplar storage settings.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.exemplars`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Size of the exemplar ring buffer.
    #[serde(default)]
    pub max_exemplars: i64,
}

/// `storage.tsdb`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    /// How far back out-of-order samples are accepted.
    #[serde(default)]
    pub out_of_order_time_window: Duration,
    /// Fraction of stale series that triggers an early head compaction.
    #[serde(default)]
    pub stale_series_compaction_threshold: f64,
    /// Retention limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
    /// Chunk encodings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_encoding: Option<ChunkEncodingConfig>,
}

/// `storage.tsdb.retention`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep data this long.
    #[serde(default)]
    pub time: Duration,
    /// Keep at most this many bytes.
    #[serde(default)]
    pub size: Size,
    /// Keep at most this share of the disk (0-100).
    #[serde(default)]
    pub percentage: f64,
}

/// `storage.tsdb.chunk_encoding`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEncodingConfig {
    /// Float chunk encoding: `xor` or `xor2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub floats: String,
}

impl StorageConfig {
    /// Retention percentage within 0-100; known chunk encodings.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        let Some(tsdb) = &self.tsdb else { return Ok(()) };
        let path = path.key("tsdb");
        if let Some(retention) = &tsdb.retention
            && !(0.0..=100.0).contains(&retention.percentage)
        {
            return Err(Problem::Invalid {
                path: path.key("retention").key("percentage"),
                value: retention.percentage.to_string(),
                reason: "must be between 0 and 100".into(),
            });
        }
        if let Some(enc) = &tsdb.chunk_encoding
            && !["", "xor", "xor2"].contains(&enc.floats.as_str())
        {
            return Err(Problem::Invalid {
                path: path.key("chunk_encoding").key("floats"),
                value: enc.floats.clone(),
                reason: "must be xor or xor2".into(),
            });
        }
        Ok(())
    }
}

/// The `tracing` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// `grpc` (default) or `http`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_type: String,
    /// Collector endpoint (required).
    #[serde(default)]
    pub endpoint: String,
    /// Share of traces sampled.
    #[serde(default)]
    pub sampling_fraction: f64,
    /// Plain-text connection.
    #[serde(default)]
    pub insecure: bool,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `gzip` or none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Export timeout.
    #[serde(default)]
    pub timeout: Duration,
}

impl TracingConfig {
    /// An endpoint, a known client type and compression, allowed headers.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        if self.endpoint.is_empty() {
            return Err(Problem::Missing {
                path: path.key("endpoint"),
            });
        }
        if !["", "grpc", "http"].contains(&self.client_type.as_str()) {
            return Err(Problem::Invalid {
                path: path.key("client_type"),
                value: self.client_type.clone(),
                reason: "must be grpc or http".into(),
            });
        }
        if !["", "gzip"].contains(&self.compression.as_str()) {
            return Err(Problem::Invalid {
                path: path.key("compression"),
                value: self.compression.clone(),
                reason: "must be gzip or empty".into(),
            });
        }
        for name in self.headers.keys() {
            check_header_name(&path.key("headers"), name)?;
        }
        if let Some(tls) = &self.tls_config {
            tls.validate(&path.key("tls_config"))?;
        }
        Ok(())
    }
}

/// How OTLP metric names are translated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum TranslationStrategy {
    /// Escape to legacy names and add unit/type suffixes (the default).
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Escape to legacy names without suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// Keep UTF-8 names, add suffixes.
    #[serde(rename = "NoUTF8EscapingWithSuffixes")]
    NoUtf8EscapingWithSuffixes,
    /// Keep names as they are.
    NoTranslation,
}

/// The `otlp` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Resource attributes promoted to labels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promote_resource_attributes: Vec<String>,
    /// Promote every resource attribute.
    pub promote_all_resource_attributes: bool,
    /// Attributes not promoted when all are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_resource_attributes: Vec<String>,
    /// Name translation.
    pub translation_strategy: TranslationStrategy,
    /// Keep `service.*` attributes in `target_info`.
    pub keep_identifying_resource_attributes: bool,
    /// Convert explicit-bucket histograms to NHCB.
    pub convert_histograms_to_nhcb: bool,
    /// Promote scope metadata to labels.
    pub promote_scope_metadata: bool,
    /// Collapse label names' leading underscores.
    pub label_name_underscore_sanitization: bool,
    /// Keep runs of underscores in label names.
    pub label_name_preserve_multiple_underscores: bool,
}

impl OtlpConfig {
    /// Attribute lists are trimmed and must be free of empties and duplicates; `ignore_resource_attributes` needs
    /// `promote_all_resource_attributes`, which excludes `promote_resource_attributes`; UTF-8 strategies need
    /// UTF-8 name validation.
    pub fn validate(&mut self, path: &Path, validation: ValidationScheme) -> Result<(), Problem> {
        if self.promote_all_resource_attributes && !self.promote_resource_attributes.is_empty() {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: "promote_all_resource_attributes, promote_resource_attributes".into(),
            });
        }
        if !self.ignore_resource_attributes.is_empty() && !self.promote_all_resource_attributes {
            return Err(Problem::Requires {
                path: path.key("ignore_resource_attributes"),
                needs: "promote_all_resource_attributes: true",
            });
        }
        for (name, list) in [
            ("promote_resource_attributes", &mut self.promote_resource_attributes),
            ("ignore_resource_attributes", &mut self.ignore_resource_attributes),
        ] {
            let mut seen: Vec<String> = Vec::new();
            for (i, attr) in list.iter().enumerate() {
                let trimmed = attr.trim();
                if trimmed.is_empty() || seen.iter().any(|s| s == trimmed) {
                    return Err(Problem::Invalid {
                        path: path.key(name).index(i),
                        value: attr.clone(),
                        reason: "empty or duplicated attribute".into(),
                    });
                }
                seen.push(trimmed.to_owned());
            }
            *list = seen;
        }
        if validation == ValidationScheme::Legacy
            && matches!(
                self.translation_strategy,
                TranslationStrategy::NoUtf8EscapingWithSuffixes | TranslationStrategy::NoTranslation
            )
        {
            return Err(Problem::Invalid {
                path: path.key("translation_strategy"),
                value: format!("{:?}", self.translation_strategy),
                reason: "not allowed when metric_name_validation_scheme is legacy".into(),
            });
        }
        Ok(())
    }
}

/// The `runtime` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Go's GC target percentage; kept for compatibility (this server has no garbage collector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gogc: Option<i64>,
}
