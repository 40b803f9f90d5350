//! `alerting`, `remote_write` and `remote_read`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::http::check_header_name;
use super::types::Duration;
use super::{Path, Problem};
use crate::model::relabel::{RelabelConfig, validate_list};

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_api_version() -> String {
    "v2".to_owned()
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

fn thirty_seconds() -> Duration {
    Duration::from_secs(30)
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}

/// The `alerting` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert before sending.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub alert_relabel_configs: Vec<Option<RelabelConfig>>,
    /// The Alertmanagers to send to.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub alertmanagers: Vec<Option<AlertmanagerConfig>>,
}

impl AlertingConfig {
    /// Checks relabeling (`legacy`: the global name validation is legacy) and every Alertmanager config.
    pub fn validate(&mut self, path: &Path, legacy: bool) -> Result<(), Problem> {
        validate_list(
            &path.key("alert_relabel_configs"),
            &mut self.alert_relabel_configs,
            legacy,
        )?;
        for (i, entry) in self.alertmanagers.iter_mut().enumerate() {
            let at = path.key("alertmanagers").index(i);
            match entry {
                Some(am) => am.validate(&at, legacy)?,
                None => return Err(Problem::Null { path: at }),
            }
        }
        Ok(())
    }
}

config_struct! {
    http_sd
    /// One `alertmanagers` entry: how to find and reach a set of Alertmanagers.
    pub struct AlertmanagerConfig {
        /// `http` or `https`.
        #[serde(default = "default_scheme")]
        pub scheme: String,
        /// Path prefix of the Alertmanager API.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub path_prefix: String,
        /// Push timeout (default 10s).
        #[serde(default = "ten_seconds")]
        pub timeout: Duration,
        /// API version; only `v2` exists in Prometheus 3.
        #[serde(default = "default_api_version")]
        pub api_version: String,
        /// Relabeling of discovered Alertmanagers.
        #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
        pub relabel_configs: Vec<Option<RelabelConfig>>,
        /// Relabeling of alerts sent to these Alertmanagers.
        #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
        pub alert_relabel_configs: Vec<Option<RelabelConfig>>,
        /// AWS SigV4 signing (parsed, not applied yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sigv4: Option<crate::config::types::RawSection>,
    }
}

impl AlertmanagerConfig {
    /// Checks the API version, client settings, discovery and relabeling.
    pub fn validate(&mut self, path: &Path, legacy: bool) -> Result<(), Problem> {
        if self.api_version != "v2" {
            return Err(Problem::Invalid {
                path: path.key("api_version"),
                value: self.api_version.clone(),
                reason: "only Alertmanager API v2 is supported".into(),
            });
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(Problem::Invalid {
                path: path.key("scheme"),
                value: self.scheme.clone(),
                reason: "must be http or https".into(),
            });
        }
        self.http_client().validate(path)?;
        self.validate_discovery(path)?;
        validate_list(&path.key("relabel_configs"), &mut self.relabel_configs, legacy)?;
        validate_list(
            &path.key("alert_relabel_configs"),
            &mut self.alert_relabel_configs,
            legacy,
        )
    }
}

/// `queue_config` of a remote write endpoint.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard.
    pub capacity: i64,
    /// Most shards.
    pub max_shards: i64,
    /// Fewest shards.
    pub min_shards: i64,
    /// Samples per request.
    pub max_samples_per_send: i64,
    /// Longest wait before sending a partial batch.
    pub batch_send_deadline: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Retry on HTTP 429.
    pub retry_on_http_429: bool,
    /// Drop samples older than this (0: never).
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: Duration::ZERO,
        }
    }
}

impl QueueConfig {
    fn validate(&self, path: &Path) -> Result<(), Problem> {
        for (name, value) in [
            ("capacity", self.capacity),
            ("max_shards", self.max_shards),
            ("min_shards", self.min_shards),
            ("max_samples_per_send", self.max_samples_per_send),
        ] {
            if value <= 0 {
                return Err(Problem::Invalid {
                    path: path.key(name),
                    value: value.to_string(),
                    reason: "must be greater than 0".into(),
                });
            }
        }
        if self.min_shards > self.max_shards {
            return Err(Problem::Invalid {
                path: path.key("min_shards"),
                value: self.min_shards.to_string(),
                reason: "must not exceed max_shards".into(),
            });
        }
        if self.max_backoff < self.min_backoff {
            return Err(Problem::Invalid {
                path: path.key("max_backoff"),
                value: self.max_backoff.to_string(),
                reason: "must not be less than min_backoff".into(),
            });
        }
        Ok(())
    }
}

/// `metadata_config` of a remote write endpoint.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Send metric metadata.
    pub send: bool,
    /// How often.
    pub send_interval: Duration,
    /// Entries per request.
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> MetadataConfig {
        MetadataConfig {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 2_000,
        }
    }
}

fn default_protobuf_message() -> String {
    "prometheus.WriteRequest".to_owned()
}

config_struct! {
    http
    /// One `remote_write` endpoint.
    pub struct RemoteWriteConfig {
        /// The endpoint.
        #[serde(default, deserialize_with = "crate::config::null_default")]
        pub url: String,
        /// Name for metrics and logs; unique.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub name: String,
        /// Request timeout (default 30s).
        #[serde(default = "thirty_seconds")]
        pub remote_timeout: Duration,
        /// Extra headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub headers: BTreeMap<String, String>,
        /// Relabeling before sending.
        #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
        pub write_relabel_configs: Vec<Option<RelabelConfig>>,
        /// Send exemplars.
        #[serde(default)]
        pub send_exemplars: bool,
        /// Send native histograms.
        #[serde(default)]
        pub send_native_histograms: bool,
        /// Spread requests over all resolved addresses.
        #[serde(default)]
        pub round_robin_dns: bool,
        /// `prometheus.WriteRequest` (v1) or `io.prometheus.write.v2.Request` (v2).
        #[serde(default = "default_protobuf_message")]
        pub protobuf_message: String,
        /// Queueing.
        #[serde(default)]
        pub queue_config: QueueConfig,
        /// Metadata sending.
        #[serde(default)]
        pub metadata_config: MetadataConfig,
        /// AWS SigV4 signing (parsed, not applied yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sigv4: Option<crate::config::types::RawSection>,
        /// Azure AD authentication (parsed, not applied yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub azuread: Option<crate::config::types::RawSection>,
        /// Google IAM authentication (parsed, not applied yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub google_iam: Option<crate::config::types::RawSection>,
    }
}

impl RemoteWriteConfig {
    /// A URL, allowed headers and message type, a sane queue, valid relabeling (`legacy`: the global name
    /// validation is legacy) and client settings.
    pub fn validate(&mut self, path: &Path, legacy: bool) -> Result<(), Problem> {
        if self.url.is_empty() {
            return Err(Problem::Missing { path: path.key("url") });
        }
        for name in self.headers.keys() {
            check_header_name(&path.key("headers"), name)?;
        }
        if !["prometheus.WriteRequest", "io.prometheus.write.v2.Request"].contains(&self.protobuf_message.as_str()) {
            return Err(Problem::Invalid {
                path: path.key("protobuf_message"),
                value: self.protobuf_message.clone(),
                reason: "must be prometheus.WriteRequest or io.prometheus.write.v2.Request".into(),
            });
        }
        self.queue_config.validate(&path.key("queue_config"))?;
        validate_list(
            &path.key("write_relabel_configs"),
            &mut self.write_relabel_configs,
            legacy,
        )?;
        let auth_kinds = [
            ("sigv4", self.sigv4.is_some()),
            ("azuread", self.azuread.is_some()),
            ("google_iam", self.google_iam.is_some()),
            ("basic_auth", self.basic_auth.is_some()),
            ("authorization", self.authorization.is_some()),
            ("oauth2", self.oauth2.is_some()),
        ];
        if auth_kinds.iter().filter(|(_, on)| *on).count() > 1 {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: auth_kinds.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            });
        }
        self.http_client().validate(path)
    }
}

config_struct! {
    http
    /// One `remote_read` endpoint.
    pub struct RemoteReadConfig {
        /// The endpoint.
        #[serde(default, deserialize_with = "crate::config::null_default")]
        pub url: String,
        /// Name for metrics and logs; unique.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub name: String,
        /// Request timeout (default 1m).
        #[serde(default = "one_minute")]
        pub remote_timeout: Duration,
        /// Extra headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub headers: BTreeMap<String, String>,
        /// Equality matchers every query must carry to be sent here.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub required_matchers: BTreeMap<String, String>,
        /// Also read ranges that local storage holds.
        #[serde(default)]
        pub read_recent: bool,
        /// Add external labels as matchers.
        #[serde(default = "crate::config::http::yes")]
        pub filter_external_labels: bool,
    }
}

impl RemoteReadConfig {
    /// A URL, allowed headers and valid client settings.
    pub fn validate(&mut self, path: &Path) -> Result<(), Problem> {
        if self.url.is_empty() {
            return Err(Problem::Missing { path: path.key("url") });
        }
        for name in self.headers.keys() {
            check_header_name(&path.key("headers"), name)?;
        }
        self.http_client().validate(path)
    }
}
