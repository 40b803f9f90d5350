//! Service discovery sections of scrape and Alertmanager configs.
//!
//! `static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs` and `kubernetes_sd_configs` are typed
//! and validated like upstream. The other mechanisms upstream knows ([`UNSUPPORTED`]) are kept as raw YAML values
//! so a configuration using them still loads; [`check_unsupported`] applies the syntax rules upstream enforces for
//! them (required fields, enumerations, exclusive secrets). Discovering targets with them is not implemented.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::Duration;
use super::{Path, Problem, validate_url};

/// The discovery mechanisms upstream has that this server parses but does not run, in the order of
/// the `sd_fields!` macro's fields.
pub const UNSUPPORTED: [&str; 27] = [
    "azure",
    "consul",
    "digitalocean",
    "docker",
    "dockerswarm",
    "ec2",
    "eureka",
    "gce",
    "hetzner",
    "ionos",
    "kuma",
    "lightsail",
    "linode",
    "marathon",
    "nerve",
    "nomad",
    "oci",
    "openstack",
    "outscale",
    "ovhcloud",
    "puppetdb",
    "scaleway",
    "serverset",
    "stackit",
    "triton",
    "uyuni",
    "vultr",
];

/// Appends the service discovery fields to a config struct (see the `config_struct!` macro).
macro_rules! sd_fields {
    ($cb:ident ! ($($args:tt)*) { $($body:tt)* }) => {
        $cb!($($args)* {
            $($body)*
            /// Targets listed in the configuration.
            #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
            pub static_configs: Vec<Option<$crate::config::discovery::StaticConfig>>,
            /// Targets from files.
            #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
            pub file_sd_configs: Vec<$crate::config::discovery::FileSdConfig>,
            /// Targets from an HTTP endpoint.
            #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
            pub http_sd_configs: Vec<$crate::config::discovery::HttpSdConfig>,
            /// Targets from DNS records.
            #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
            pub dns_sd_configs: Vec<$crate::config::discovery::DnsSdConfig>,
            /// Targets from the Kubernetes API.
            #[serde(default, deserialize_with = "crate::config::null_default", skip_serializing_if = "Vec::is_empty")]
            pub kubernetes_sd_configs: Vec<$crate::config::discovery::KubernetesSdConfig>,
            /// Azure VMs (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub azure_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Consul (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub consul_sd_configs: Vec<$crate::config::types::RawSection>,
            /// DigitalOcean (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub digitalocean_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Docker (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub docker_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Docker Swarm (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub dockerswarm_sd_configs: Vec<$crate::config::types::RawSection>,
            /// AWS EC2 (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub ec2_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Eureka (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub eureka_sd_configs: Vec<$crate::config::types::RawSection>,
            /// GCE (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub gce_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Hetzner (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub hetzner_sd_configs: Vec<$crate::config::types::RawSection>,
            /// IONOS (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub ionos_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Kuma (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub kuma_sd_configs: Vec<$crate::config::types::RawSection>,
            /// AWS Lightsail (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub lightsail_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Linode (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub linode_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Marathon (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub marathon_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Nerve (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub nerve_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Nomad (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub nomad_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Oracle Cloud (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub oci_sd_configs: Vec<$crate::config::types::RawSection>,
            /// OpenStack (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub openstack_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Outscale (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub outscale_sd_configs: Vec<$crate::config::types::RawSection>,
            /// OVHcloud (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub ovhcloud_sd_configs: Vec<$crate::config::types::RawSection>,
            /// PuppetDB (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub puppetdb_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Scaleway (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub scaleway_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Zookeeper serverset (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub serverset_sd_configs: Vec<$crate::config::types::RawSection>,
            /// STACKIT (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub stackit_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Triton (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub triton_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Uyuni (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub uyuni_sd_configs: Vec<$crate::config::types::RawSection>,
            /// Vultr (parsed, not run).
            #[serde(default, skip_serializing_if = "Vec::is_empty")] pub vultr_sd_configs: Vec<$crate::config::types::RawSection>,
        });
    };
}
pub(crate) use sd_fields;

macro_rules! sd_accessor {
    ($name:ident) => {
        impl $name {
            /// The raw sections of mechanisms that are parsed but not run, by mechanism name.
            pub fn unsupported_discovery(&self) -> Vec<(&'static str, &[$crate::config::types::RawSection])> {
                let all: [(&'static str, &[$crate::config::types::RawSection]); 27] = [
                    ("azure", &self.azure_sd_configs),
                    ("consul", &self.consul_sd_configs),
                    ("digitalocean", &self.digitalocean_sd_configs),
                    ("docker", &self.docker_sd_configs),
                    ("dockerswarm", &self.dockerswarm_sd_configs),
                    ("ec2", &self.ec2_sd_configs),
                    ("eureka", &self.eureka_sd_configs),
                    ("gce", &self.gce_sd_configs),
                    ("hetzner", &self.hetzner_sd_configs),
                    ("ionos", &self.ionos_sd_configs),
                    ("kuma", &self.kuma_sd_configs),
                    ("lightsail", &self.lightsail_sd_configs),
                    ("linode", &self.linode_sd_configs),
                    ("marathon", &self.marathon_sd_configs),
                    ("nerve", &self.nerve_sd_configs),
                    ("nomad", &self.nomad_sd_configs),
                    ("oci", &self.oci_sd_configs),
                    ("openstack", &self.openstack_sd_configs),
                    ("outscale", &self.outscale_sd_configs),
                    ("ovhcloud", &self.ovhcloud_sd_configs),
                    ("puppetdb", &self.puppetdb_sd_configs),
                    ("scaleway", &self.scaleway_sd_configs),
                    ("serverset", &self.serverset_sd_configs),
                    ("stackit", &self.stackit_sd_configs),
                    ("triton", &self.triton_sd_configs),
                    ("uyuni", &self.uyuni_sd_configs),
                    ("vultr", &self.vultr_sd_configs),
                ];
                all.into_iter().filter(|(_, v)| !v.is_empty()).collect()
            }

            /// Makes the relative paths of the typed discovery sections relative to `dir`.
            pub fn set_discovery_directory(&mut self, dir: &std::path::Path) {
                use $crate::config::http::join_dir;
                for c in &mut self.file_sd_configs {
                    for f in &mut c.files {
                        join_dir(dir, f);
                    }
                }
                for c in &mut self.http_sd_configs {
                    c.set_http_directory(dir);
                }
                for c in &mut self.kubernetes_sd_configs {
                    join_dir(dir, &mut c.kubeconfig_file);
                    c.set_http_directory(dir);
                }
            }

            /// Checks every service discovery section.
            pub fn validate_discovery(&self, path: &$crate::config::Path) -> Result<(), $crate::config::Problem> {
                use $crate::config::Problem;
                for (i, entry) in self.static_configs.iter().enumerate() {
                    let at = path.key("static_configs").index(i);
                    match entry {
                        Some(group) => group.validate(&at)?,
                        None => return Err(Problem::Null { path: at }),
                    }
                }
                for (i, c) in self.file_sd_configs.iter().enumerate() {
                    c.validate(&path.key("file_sd_configs").index(i))?;
                }
                for (i, c) in self.http_sd_configs.iter().enumerate() {
                    c.validate(&path.key("http_sd_configs").index(i))?;
                }
                for (i, c) in self.dns_sd_configs.iter().enumerate() {
                    c.validate(&path.key("dns_sd_configs").index(i))?;
                }
                for (i, c) in self.kubernetes_sd_configs.iter().enumerate() {
                    c.validate(&path.key("kubernetes_sd_configs").index(i))?;
                }
                for (mechanism, values) in self.unsupported_discovery() {
                    let key = format!("{mechanism}_sd_configs");
                    for (i, value) in values.iter().enumerate() {
                        $crate::config::discovery::check_unsupported(
                            mechanism,
                            value.value(),
                            &path.key(&key).index(i),
                        )?;
                    }
                }
                Ok(())
            }
        }
    };
}
pub(crate) use sd_accessor;

/// A `static_configs` entry: targets and the labels they share.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default, deserialize_with = "crate::config::null_default")]
    pub targets: Vec<String>,
    /// Labels for every target of the group.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

impl StaticConfig {
    /// Targets are host:port, never URLs; label names are non-empty.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        for (i, target) in self.targets.iter().enumerate() {
            if target.contains('/') {
                return Err(Problem::Invalid {
                    path: path.key("targets").index(i),
                    value: target.clone(),
                    reason: "is not a valid hostname (a target is host:port, not a URL)".into(),
                });
            }
        }
        for name in self.labels.keys() {
            if name.is_empty() {
                return Err(Problem::LabelName {
                    path: path.key("labels"),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}

fn thirty_seconds() -> Duration {
    Duration::from_secs(30)
}

/// `file_sd_configs`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File patterns (`*.json`, `*.yml`, `*.yaml`).
    #[serde(default)]
    pub files: Vec<String>,
    /// Re-read interval besides file watching (default 5m).
    #[serde(default = "five_minutes")]
    pub refresh_interval: Duration,
}

impl FileSdConfig {
    /// At least one file; a `*` only in the last element; a JSON or YAML extension.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        if self.files.is_empty() {
            return Err(Problem::Missing {
                path: path.key("files"),
            });
        }
        for (i, file) in self.files.iter().enumerate() {
            let at = path.key("files").index(i);
            let name = file.rsplit('/').next().unwrap_or(file);
            if file.find('*').is_some_and(|star| file[star..].contains('/')) {
                return Err(Problem::FilePattern {
                    path: at,
                    pattern: file.clone(),
                    reason: "a glob is only allowed in the last path element",
                });
            }
            let ext_ok = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
                .iter()
                .any(|e| name.ends_with(e));
            if !ext_ok {
                return Err(Problem::FilePattern {
                    path: at,
                    pattern: file.clone(),
                    reason: "must end in .json, .yml or .yaml",
                });
            }
        }
        Ok(())
    }
}

config_struct! {
    http
    /// `http_sd_configs`.
    pub struct HttpSdConfig {
        /// The endpoint returning target groups as JSON.
        #[serde(default)]
        pub url: String,
        /// Poll interval (default 1m).
        #[serde(default = "one_minute")]
        pub refresh_interval: Duration,
    }
}

impl HttpSdConfig {
    /// An http(s) URL with a host, and valid client settings.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        if self.url.is_empty() {
            return Err(Problem::Missing { path: path.key("url") });
        }
        validate_url(&path.key("url"), &self.url, &["http", "https"])?;
        self.http_client().validate(path)
    }
}

/// The record type of `dns_sd_configs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum DnsRecordType {
    /// SRV records (the default).
    #[default]
    #[serde(rename = "SRV")]
    Srv,
    /// A records.
    A,
    /// AAAA records.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// MX records.
    #[serde(rename = "MX")]
    Mx,
    /// NS records.
    #[serde(rename = "NS")]
    Ns,
}

/// `dns_sd_configs`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    /// Names to query.
    #[serde(default)]
    pub names: Vec<String>,
    /// Re-query interval (default 30s).
    #[serde(default = "thirty_seconds")]
    pub refresh_interval: Duration,
    /// Record type (default SRV).
    #[serde(default, rename = "type")]
    pub record_type: DnsRecordType,
    /// Port for records that carry none (required unless SRV).
    #[serde(default)]
    pub port: u16,
}

impl DnsSdConfig {
    /// At least one name; a port for record types that have none.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        if self.names.is_empty() {
            return Err(Problem::Missing {
                path: path.key("names"),
            });
        }
        if self.record_type != DnsRecordType::Srv && self.port == 0 {
            return Err(Problem::Missing { path: path.key("port") });
        }
        Ok(())
    }
}

/// A Kubernetes object kind to discover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KubernetesRole {
    /// Endpoints.
    Endpoints,
    /// EndpointSlices.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    /// Services.
    Service,
    /// Pods.
    Pod,
    /// Nodes.
    Node,
    /// Ingresses.
    Ingress,
}

/// `namespaces` of a Kubernetes SD config.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNamespaces {
    /// Also watch the namespace Prometheus runs in.
    #[serde(default)]
    pub own_namespace: bool,
    /// Namespaces to watch.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `selectors` entry of a Kubernetes SD config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    /// The role the selector applies to.
    pub role: KubernetesRole,
    /// A label selector (`a=b,c in (d,e)`).
    #[serde(default)]
    pub label: String,
    /// A field selector (`metadata.name=x`).
    #[serde(default)]
    pub field: String,
}

/// `attach_metadata` of a Kubernetes SD config.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesAttachMetadata {
    /// Attach node metadata.
    #[serde(default)]
    pub node: bool,
    /// Attach namespace metadata.
    #[serde(default)]
    pub namespace: bool,
}

config_struct! {
    http
    /// `kubernetes_sd_configs`.
    pub struct KubernetesSdConfig {
        /// The kind of object to discover.
        #[serde(default)]
        pub role: Option<KubernetesRole>,
        /// API server URL (default: in-cluster).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub api_server: String,
        /// A kubeconfig file instead of `api_server`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub kubeconfig_file: String,
        /// Namespaces to watch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespaces: Option<KubernetesNamespaces>,
        /// Server-side selectors.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub selectors: Vec<KubernetesSelector>,
        /// Extra metadata to attach.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attach_metadata: Option<KubernetesAttachMetadata>,
    }
}

impl KubernetesSdConfig {
    /// Upstream's rules: a role; `api_server` xor `kubeconfig_file`; custom HTTP settings only with `api_server`;
    /// `own_namespace` only in-cluster; selectors only for roles the role watches, once each, and well-formed.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        let Some(role) = self.role else {
            return Err(Problem::Missing { path: path.key("role") });
        };
        let client = self.http_client();
        client.validate(path)?;
        let custom_http = client != super::http::HttpClientConfig::default();
        if !self.api_server.is_empty() {
            validate_url(&path.key("api_server"), &self.api_server, &["http", "https"])?;
        }
        if !self.api_server.is_empty() && !self.kubeconfig_file.is_empty() {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: "api_server, kubeconfig_file".into(),
            });
        }
        if !self.kubeconfig_file.is_empty() && custom_http {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: "kubeconfig_file, custom HTTP client settings".into(),
            });
        }
        if self.api_server.is_empty() && self.kubeconfig_file.is_empty() && custom_http {
            return Err(Problem::Requires {
                path: path.clone(),
                needs: "api_server for custom HTTP client settings",
            });
        }
        let own = self.namespaces.as_ref().is_some_and(|n| n.own_namespace);
        if own && !self.api_server.is_empty() {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: "api_server, namespaces.own_namespace".into(),
            });
        }
        if own && !self.kubeconfig_file.is_empty() {
            return Err(Problem::Exclusive {
                path: path.clone(),
                fields: "kubeconfig_file, namespaces.own_namespace".into(),
            });
        }
        use KubernetesRole as R;
        let allowed: &[KubernetesRole] = match role {
            R::Endpoints => &[R::Pod, R::Service, R::Endpoints],
            R::EndpointSlice => &[R::Pod, R::Service, R::EndpointSlice],
            R::Pod => &[R::Pod, R::Node],
            R::Node => &[R::Node],
            R::Service => &[R::Service],
            R::Ingress => &[R::Ingress],
        };
        for (i, selector) in self.selectors.iter().enumerate() {
            let at = path.key("selectors").index(i);
            if !allowed.contains(&selector.role) {
                return Err(Problem::Invalid {
                    path: at.key("role"),
                    value: format!("{:?}", selector.role).to_lowercase(),
                    reason: format!("selector role not allowed for role {:?}", role).to_lowercase(),
                });
            }
            if self.selectors[..i].iter().any(|s| s.role == selector.role) {
                return Err(Problem::Invalid {
                    path: at.key("role"),
                    value: format!("{:?}", selector.role).to_lowercase(),
                    reason: "duplicated selector role".into(),
                });
            }
            if !valid_label_selector(&selector.label) {
                return Err(Problem::Invalid {
                    path: at.key("label"),
                    value: selector.label.clone(),
                    reason: "not a valid Kubernetes label selector".into(),
                });
            }
            if !valid_field_selector(&selector.field) {
                return Err(Problem::Invalid {
                    path: at.key("field"),
                    value: selector.field.clone(),
                    reason: "not a valid Kubernetes field selector".into(),
                });
            }
        }
        Ok(())
    }
}

fn valid_selector_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-/".contains(&c))
}

fn valid_selector_value(value: &str) -> bool {
    value.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

/// A Kubernetes label selector: terms `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (v,..)`, `k notin (v,..)`.
pub fn valid_label_selector(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    split_terms(text).into_iter().all(|term| {
        let term = term.trim();
        if let Some(key) = term.strip_prefix('!') {
            return valid_selector_key(key.trim());
        }
        for op in [" notin ", " in "] {
            if let Some((key, set)) = term.split_once(op) {
                let set = set.trim();
                return valid_selector_key(key.trim())
                    && set.starts_with('(')
                    && set.ends_with(')')
                    && set[1..set.len() - 1].split(',').all(|v| valid_selector_value(v.trim()));
            }
        }
        for op in ["!=", "==", "="] {
            if let Some((key, value)) = term.split_once(op) {
                return valid_selector_key(key.trim()) && valid_selector_value(value.trim());
            }
        }
        valid_selector_key(term)
    })
}

/// A Kubernetes field selector: comma-separated `k=v`, `k==v` or `k!=v` terms.
pub fn valid_field_selector(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    text.split(',').all(|term| {
        ["!=", "==", "="]
            .iter()
            .find_map(|op| term.split_once(op))
            .is_some_and(|(key, _)| !key.trim().is_empty())
    })
}

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.get(name).filter(|v| !v.is_null())
}

fn text_of(value: &Value, name: &str) -> String {
    match field(value, name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Applies the syntax rules upstream enforces for a mechanism this server parses but does not run.
///
/// Shared rules: the HTTP client rules (for mechanisms with HTTP client settings) and the secret-source exclusions;
/// per mechanism: required fields and enumerated values.
pub fn check_unsupported(mechanism: &str, value: &Value, path: &Path) -> Result<(), Problem> {
    let Value::Object(_) = value else {
        return Err(Problem::Null { path: path.clone() });
    };
    let has = |name: &str| !text_of(value, name).is_empty();
    let require = |name: &str| -> Result<(), Problem> {
        if has(name) {
            Ok(())
        } else {
            Err(Problem::Missing { path: path.key(name) })
        }
    };
    let one_of = |name: &str, allowed: &[&str], default: &str| -> Result<(), Problem> {
        let v = text_of(value, name);
        let v = if v.is_empty() { default.to_owned() } else { v };
        if allowed.contains(&v.as_str()) {
            Ok(())
        } else {
            Err(Problem::Invalid {
                path: path.key(name),
                value: v,
                reason: format!("must be one of {allowed:?}"),
            })
        }
    };
    let exclusive = |fields: &[&str]| -> Result<(), Problem> {
        if fields.iter().filter(|f| has(f)).count() > 1 {
            Err(Problem::Exclusive {
                path: path.clone(),
                fields: fields.join(", "),
            })
        } else {
            Ok(())
        }
    };
    // The common HTTP client rules, for the keys every mechanism shares.
    exclusive(&["bearer_token", "bearer_token_file"])?;
    if field(value, "basic_auth").is_some() {
        exclusive(&["basic_auth", "bearer_token"])?;
        exclusive(&["basic_auth", "authorization"])?;
    }
    match mechanism {
        "azure" => {
            let method = text_of(value, "authentication_method");
            one_of("authentication_method", &["OAuth", "ManagedIdentity", "SDK"], "OAuth")?;
            require("subscription_id")?;
            if method.is_empty() || method == "OAuth" {
                require("tenant_id")?;
                require("client_id")?;
                require("client_secret")?;
            }
            if field(value, "basic_auth").is_some() && has("bearer_token") {
                return Err(Problem::Exclusive {
                    path: path.clone(),
                    fields: "basic_auth, bearer_token".into(),
                });
            }
        }
        "ec2" => {
            if let Some(Value::Array(filters)) = field(value, "filters") {
                for (i, f) in filters.iter().enumerate() {
                    if !matches!(field(f, "values"), Some(Value::Array(v)) if !v.is_empty()) {
                        return Err(Problem::Missing {
                            path: path.key("filters").index(i).key("values"),
                        });
                    }
                }
            }
        }
        "eureka" => {
            require("server")?;
            validate_url(&path.key("server"), &text_of(value, "server"), &["http", "https"])?;
        }
        "hetzner" => one_of("role", &["robot", "hcloud"], "")?,
        "ionos" => require("datacenter_id")?,
        "marathon" => {
            if !matches!(field(value, "servers"), Some(Value::Array(s)) if !s.is_empty()) {
                return Err(Problem::Missing {
                    path: path.key("servers"),
                });
            }
            for other in ["auth_token_file", "bearer_token", "basic_auth", "authorization"] {
                exclusive(&["auth_token", other])?;
                if other != "auth_token_file" {
                    exclusive(&["auth_token_file", other])?;
                }
            }
        }
        "oci" => one_of("auth", &["user", "instance_principal", "workload_identity"], "user")?,
        "openstack" => {
            one_of("availability", &["public", "admin", "internal"], "public")?;
            one_of("role", &["hypervisor", "instance", "loadbalancer"], "")?;
        }
        "outscale" => {
            require("region")?;
            require("access_key")?;
            if !has("secret_key") && !has("secret_key_file") {
                return Err(Problem::Missing {
                    path: path.key("secret_key"),
                });
            }
            exclusive(&["secret_key", "secret_key_file"])?;
        }
        "ovhcloud" => {
            one_of("service", &["vps", "dedicated_server"], "")?;
            for f in ["endpoint", "application_key", "application_secret", "consumer_key"] {
                require(f)?;
            }
        }
        "puppetdb" => {
            require("url")?;
            validate_url(&path.key("url"), &text_of(value, "url"), &["http", "https"])?;
            require("query")?;
        }
        "scaleway" => {
            one_of("role", &["instance", "baremetal"], "")?;
            require("project_id")?;
            require("access_key")?;
            if !has("secret_key") && !has("secret_key_file") {
                return Err(Problem::Missing {
                    path: path.key("secret_key"),
                });
            }
            exclusive(&["secret_key", "secret_key_file"])?;
        }
        "stackit" => {
            let endpoint = text_of(value, "endpoint");
            if !endpoint.is_empty() {
                validate_url(&path.key("endpoint"), &endpoint, &["http", "https"])?;
            }
        }
        "uyuni" => {
            require("server")?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        for (text, ok) in [
            ("foo=bar", true),
            ("foo in (bar,baz)", true),
            ("foo notin (bar)", true),
            ("!foo,bar!=x", true),
            ("app", true),
            ("", true),
            ("foo in bar", false),
            ("=bar", false),
        ] {
            assert_eq!(valid_label_selector(text), ok, "{text:?}");
        }
    }

    #[test]
    fn field_selectors() {
        for (text, ok) in [
            ("metadata.status=Running", true),
            ("a==b,c!=d", true),
            ("metadata.status-Running", false),
            ("=x", false),
        ] {
            assert_eq!(valid_field_selector(text), ok, "{text:?}");
        }
    }
}
