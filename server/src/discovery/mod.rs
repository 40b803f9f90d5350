//! Service discovery: where scrape targets (and Alertmanagers) come from.
//!
//! Each mechanism (`static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs`,
//! `kubernetes_sd_configs`) is a [`Discoverer`] that runs until cancelled and sends lists of [`TargetGroup`]s on a
//! channel. A group is identified by its `source`; a group with no targets for a known source means its targets are
//! gone. The mechanisms are listed in one table, [`MECHANISMS`]. The [`Manager`] runs the discoverers of every job,
//! merges their groups per job and publishes the full set, throttled, on a `watch` channel.
//!
//! Targets carry `__address__` and the mechanism's `__meta_*` labels; turning them into scrape targets (relabeling,
//! `instance`, `job`, ...) is the scrape manager's work.

pub mod dns;
pub mod file;
pub mod http;
pub mod kubernetes;
mod manager;
mod metrics;
pub mod static_targets;
pub mod targetgroup;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::{DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, StaticConfig};
use crate::model::labels::Labels;

pub use manager::{Manager, ManagerOptions, TargetSets};
pub use metrics::SdMetrics;
pub use targetgroup::{TargetGroup, target_pairs};

/// A boxed future, as [`Discoverer::run`] returns.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The label holding a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";

/// A running source of target groups.
pub trait Discoverer: Send {
    /// Sends target group updates on `updates` until `cancel` fires or the receiver is dropped. The first update
    /// carries every group known at start; later ones carry changed groups only (an empty group removes a source).
    fn run(self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture;
}

/// What a discoverer may need beside its own configuration.
#[derive(Clone, Debug, Default)]
pub struct DiscovererOptions {
    /// The job (or Alertmanager set) the provider serves, for client names and logs.
    pub job: String,
    /// DNS servers to query instead of the system's (`/etc/resolv.conf`); used by tests.
    pub dns_servers: Option<Vec<SocketAddr>>,
    /// Where the in-cluster Kubernetes credentials live instead of the standard paths; used by tests.
    pub kubernetes_in_cluster: Option<kubernetes::InCluster>,
    /// Self-metrics.
    pub metrics: Option<Arc<SdMetrics>>,
}

/// Why a discoverer could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The HTTP client settings are unusable.
    #[error(transparent)]
    HttpClient(#[from] crate::httpclient::HttpClientError),
    /// The Kubernetes settings are unusable.
    #[error(transparent)]
    Kubernetes(#[from] kubernetes::KubernetesError),
    /// The DNS resolver could not be set up.
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
    /// A mechanism's constructor was handed another mechanism's configuration.
    #[error("discovery mechanism {expected} cannot run a {got} configuration")]
    Mechanism {
        /// The mechanism whose constructor was called.
        expected: &'static str,
        /// The configuration's mechanism.
        got: &'static str,
    },
}

/// One provider's configuration: one entry of a mechanism's list (all `static_configs` of a job form one).
#[derive(Clone, Debug, PartialEq)]
pub enum SdConfig {
    /// The `static_configs` of a job.
    Static(Vec<StaticConfig>),
    /// One `file_sd_configs` entry.
    File(FileSdConfig),
    /// One `http_sd_configs` entry.
    Http(HttpSdConfig),
    /// One `dns_sd_configs` entry.
    Dns(DnsSdConfig),
    /// One `kubernetes_sd_configs` entry.
    Kubernetes(KubernetesSdConfig),
}

impl SdConfig {
    /// The mechanism's name as upstream spells it in provider names (`static`, `file`, `http`, `dns`,
    /// `kubernetes`).
    pub fn mechanism(&self) -> &'static str {
        match self {
            SdConfig::Static(_) => "static",
            SdConfig::File(_) => "file",
            SdConfig::Http(_) => "http",
            SdConfig::Dns(_) => "dns",
            SdConfig::Kubernetes(_) => "kubernetes",
        }
    }

    /// Builds the discoverer.
    pub fn discoverer(&self, options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        match MECHANISMS.iter().find(|m| m.name == self.mechanism()) {
            Some(mechanism) => (mechanism.build)(self, options),
            None => Err(DiscoveryError::Mechanism {
                expected: "a mechanism listed in MECHANISMS",
                got: self.mechanism(),
            }),
        }
    }
}

/// The service discovery sections of one job (or Alertmanager set), typed mechanisms only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscoveryConfigs {
    /// `static_configs` (null entries dropped).
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `http_sd_configs`.
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// `dns_sd_configs`.
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
}

macro_rules! discovery_configs_from {
    ($($t:ty),*) => {$(
        impl From<&$t> for DiscoveryConfigs {
            fn from(c: &$t) -> DiscoveryConfigs {
                DiscoveryConfigs {
                    static_configs: c.static_configs.iter().flatten().cloned().collect(),
                    file_sd_configs: c.file_sd_configs.clone(),
                    http_sd_configs: c.http_sd_configs.clone(),
                    dns_sd_configs: c.dns_sd_configs.clone(),
                    kubernetes_sd_configs: c.kubernetes_sd_configs.clone(),
                }
            }
        }
    )*};
}
discovery_configs_from!(crate::config::ScrapeConfig, crate::config::AlertmanagerConfig);

/// The discovery sections of every scrape job of `config`, by job name (what [`Manager::apply_config`] takes).
pub fn scrape_jobs(config: &crate::config::Config) -> std::collections::BTreeMap<String, DiscoveryConfigs> {
    config
        .scrape_configs()
        .map(|c| (c.job_name.clone(), DiscoveryConfigs::from(c)))
        .collect()
}

/// The discovery sections of every `alerting.alertmanagers` entry, keyed `config-0`, `config-1`, ... as upstream's
/// notifier names them (what the notifier's [`Manager`] takes).
pub fn alertmanager_sets(config: &crate::config::Config) -> std::collections::BTreeMap<String, DiscoveryConfigs> {
    config
        .alerting
        .iter()
        .flat_map(|a| a.alertmanagers.iter().flatten())
        .enumerate()
        .map(|(i, am)| (format!("config-{i}"), DiscoveryConfigs::from(am)))
        .collect()
}

impl DiscoveryConfigs {
    /// The providers these sections define, mechanism by mechanism in [`MECHANISMS`] order.
    pub fn providers(&self) -> Vec<SdConfig> {
        MECHANISMS.iter().flat_map(|m| (m.configs)(self)).collect()
    }
}

/// Builds a discoverer from one provider configuration.
pub type Constructor = fn(&SdConfig, &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError>;

/// A discovery mechanism: its name, how to find its providers in a job's sections, and how to build one.
#[derive(Debug)]
pub struct Mechanism {
    /// The name (`static`, `file`, ...), the prefix of provider names (`file/0`).
    pub name: &'static str,
    /// The providers of this mechanism in a job's sections.
    pub configs: fn(&DiscoveryConfigs) -> Vec<SdConfig>,
    /// Builds a discoverer from one of those providers (an [`SdConfig`] of this mechanism).
    pub build: Constructor,
}

/// Every discovery mechanism that runs. The mechanisms upstream has beyond these are parsed and rejected at
/// start-up ([`crate::config::discovery::UNSUPPORTED`]).
pub static MECHANISMS: [Mechanism; 5] = [
    Mechanism {
        name: "static",
        configs: |c| {
            if c.static_configs.is_empty() {
                Vec::new()
            } else {
                vec![SdConfig::Static(c.static_configs.clone())]
            }
        },
        build: static_targets::build,
    },
    Mechanism {
        name: "file",
        configs: |c| c.file_sd_configs.iter().cloned().map(SdConfig::File).collect(),
        build: file::build,
    },
    Mechanism {
        name: "http",
        configs: |c| c.http_sd_configs.iter().cloned().map(SdConfig::Http).collect(),
        build: http::build,
    },
    Mechanism {
        name: "dns",
        configs: |c| c.dns_sd_configs.iter().cloned().map(SdConfig::Dns).collect(),
        build: dns::build,
    },
    Mechanism {
        name: "kubernetes",
        configs: |c| {
            c.kubernetes_sd_configs
                .iter()
                .cloned()
                .map(SdConfig::Kubernetes)
                .collect()
        },
        build: kubernetes::build,
    },
];

/// A target with only an address.
pub fn address_target(address: impl Into<String>) -> Labels {
    let mut l = Labels::new();
    l.set(ADDRESS_LABEL, address);
    l
}

/// Sends `groups` unless cancelled first; false when the discoverer should stop.
pub(crate) async fn send(
    cancel: &CancellationToken,
    updates: &mpsc::Sender<Vec<TargetGroup>>,
    groups: Vec<TargetGroup>,
) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        r = updates.send(groups) => r.is_ok(),
    }
}

/// Sleeps `d` unless cancelled first; false when cancelled.
pub(crate) async fn sleep(cancel: &CancellationToken, d: std::time::Duration) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_config_enum_agree() {
        let configs = DiscoveryConfigs {
            static_configs: vec![StaticConfig::default()],
            file_sd_configs: vec![serde_saphyr::from_str("files: [a.json]").unwrap()],
            http_sd_configs: vec![serde_saphyr::from_str("url: http://x/").unwrap()],
            dns_sd_configs: vec![serde_saphyr::from_str("names: [x]").unwrap()],
            kubernetes_sd_configs: vec![serde_saphyr::from_str("role: pod").unwrap()],
        };
        let providers = configs.providers();
        let names: Vec<&str> = providers.iter().map(SdConfig::mechanism).collect();
        let table: Vec<&str> = MECHANISMS.iter().map(|m| m.name).collect();
        assert_eq!(names, table);
        for m in &MECHANISMS {
            for p in (m.configs)(&configs) {
                assert_eq!(p.mechanism(), m.name);
            }
        }
    }
}
