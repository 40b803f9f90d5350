//! `kubernetes_sd_configs`: targets from the Kubernetes API for the roles `pod`, `service`, `endpoints`,
//! `endpointslice`, `node` and `ingress`, with upstream's `__meta_kubernetes_*` labels and group sources
//! (`pod/<ns>/<name>`, `svc/<ns>/<name>`, `endpoints/<ns>/<name>`, `endpointslice/<ns>/<name>`, `node/<name>`,
//! `ingress/<ns>/<name>`).
//!
//! Each role watches its own kind and the kinds its labels draw on (endpoints: services and pods; with
//! `attach_metadata.node`: nodes; with `attach_metadata.namespace`: namespaces), one list + watch per kind and
//! namespace ([`client`]). Nothing is sent until every watcher has listed once; then every group is sent, and
//! afterwards only the groups that changed.
//!
//! Credentials: `kubeconfig_file`, else `api_server` with the section's HTTP client settings, else the in-cluster
//! service account (token re-read for every request, cluster CA).

pub mod client;
mod endpoints;
mod ingress;
mod node;
pub mod objects;
mod pod;
mod service;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::{KubernetesRole, KubernetesSdConfig};
use crate::httpclient::HttpClientError;
use crate::model::labels::Labels;

use super::{BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, SdMetrics, TargetGroup};
pub use client::{ApiClient, Change, InCluster, Kind, Selector, load_kubeconfig};
use objects::{EndpointSlice, Endpoints, Ingress, Namespace, Node, ObjectMeta, Pod, Service};

/// The prefix of every Kubernetes meta label.
pub const META_PREFIX: &str = "__meta_kubernetes_";
/// The namespace of the object.
pub const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";

/// Why Kubernetes discovery could not start or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum KubernetesError {
    /// No API server configured and not running in a cluster.
    #[error(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"
    )]
    NotInCluster,
    /// A credentials file could not be read.
    #[error("unable to read {what} file {path}: {source}")]
    ReadFile {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The namespace file is empty.
    #[error("could not read own namespace name (empty file {path})")]
    EmptyNamespaceFile {
        /// The file.
        path: PathBuf,
    },
    /// The kubeconfig file is invalid.
    #[error("invalid kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The kubeconfig uses something this server does not implement.
    #[error("kubeconfig {path}: {what} are not supported")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The feature.
        what: &'static str,
    },
    /// The client could not be built or the request failed.
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// A request URL could not be formed.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The API server answered with an error status.
    #[error("{url}: HTTP status {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The response body could not be read.
    #[error("{url}: reading the response: {source}")]
    Body {
        /// The URL.
        url: String,
        /// The error.
        source: reqwest::Error,
    },
    /// The response is not the expected JSON.
    #[error("{url}: invalid response: {source}")]
    Decode {
        /// The URL.
        url: String,
        /// The error.
        source: serde_json::Error,
    },
    /// The watch stream reported an error.
    #[error("{url}: watch error: {message}")]
    WatchError {
        /// The URL.
        url: String,
        /// The status object.
        message: String,
    },
}

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// Objects with metadata.
trait HasMeta: DeserializeOwned {
    fn meta(&self) -> &ObjectMeta;
}

macro_rules! has_meta {
    ($($t:ty),*) => {$(
        impl HasMeta for $t {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
        }
    )*};
}
has_meta!(Pod, Service, Endpoints, EndpointSlice, Node, Ingress, Namespace);

fn key_of(meta: &ObjectMeta) -> Key {
    (meta.namespace.clone(), meta.name.clone())
}

/// The objects every watcher has seen, by kind.
#[derive(Debug, Default)]
pub struct Stores {
    /// Pods.
    pub pods: BTreeMap<Key, Pod>,
    /// Services.
    pub services: BTreeMap<Key, Service>,
    /// Endpoints.
    pub endpoints: BTreeMap<Key, Endpoints>,
    /// EndpointSlices.
    pub slices: BTreeMap<Key, EndpointSlice>,
    /// Nodes (namespace empty).
    pub nodes: BTreeMap<Key, Node>,
    /// Ingresses.
    pub ingresses: BTreeMap<Key, Ingress>,
    /// Namespaces (namespace empty).
    pub namespaces: BTreeMap<Key, Namespace>,
}

fn apply_to<T: HasMeta>(map: &mut BTreeMap<Key, T>, change: Change) -> Result<Vec<Key>, serde_json::Error> {
    match change {
        Change::Replace { namespace, items, .. } => {
            let mut fresh = BTreeMap::new();
            for item in items {
                let obj: T = serde_json::from_value(item)?;
                fresh.insert(key_of(obj.meta()), obj);
            }
            let mut changed: Vec<Key> = map
                .keys()
                .filter(|k| namespace.is_empty() || k.0 == namespace)
                .filter(|k| !fresh.contains_key(*k))
                .cloned()
                .collect();
            for k in &changed {
                map.remove(k);
            }
            for (k, v) in fresh {
                changed.push(k.clone());
                map.insert(k, v);
            }
            Ok(changed)
        }
        Change::Upsert { object, .. } => {
            let obj: T = serde_json::from_value(object)?;
            let k = key_of(obj.meta());
            map.insert(k.clone(), obj);
            Ok(vec![k])
        }
        Change::Delete { object, .. } => {
            let meta: ObjectMeta = serde_json::from_value(object.get("metadata").cloned().unwrap_or_default())?;
            let k = key_of(&meta);
            map.remove(&k);
            Ok(vec![k])
        }
    }
}

impl Stores {
    /// Applies a change; returns the keys it touched.
    pub fn apply(&mut self, change: Change) -> Result<Vec<Key>, serde_json::Error> {
        let kind = match &change {
            Change::Replace { kind, .. } | Change::Upsert { kind, .. } | Change::Delete { kind, .. } => *kind,
        };
        match kind {
            Kind::Pod => apply_to(&mut self.pods, change),
            Kind::Service => apply_to(&mut self.services, change),
            Kind::Endpoints => apply_to(&mut self.endpoints, change),
            Kind::EndpointSlice => apply_to(&mut self.slices, change),
            Kind::Node => apply_to(&mut self.nodes, change),
            Kind::Ingress => apply_to(&mut self.ingresses, change),
            Kind::Namespace => apply_to(&mut self.namespaces, change),
        }
    }
}

/// What the label builders read besides the object itself.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Every watched object.
    pub stores: &'a Stores,
    /// `attach_metadata.node`.
    pub attach_node: bool,
    /// `attach_metadata.namespace`.
    pub attach_namespace: bool,
}

impl Context<'_> {
    /// Adds the node's meta labels (`__meta_kubernetes_node_*`) when node metadata is attached and known.
    pub fn add_node_labels(&self, labels: &mut Labels, node: Option<&str>) {
        if !self.attach_node {
            return;
        }
        if let Some(n) = node.and_then(|n| self.stores.nodes.get(&(String::new(), n.to_owned()))) {
            object_meta_labels(labels, &n.metadata, "node");
        }
    }

    /// Adds the namespace's labels and annotations when namespace metadata is attached and known.
    pub fn add_namespace_labels(&self, labels: &mut Labels, namespace: &str) {
        if !self.attach_namespace {
            return;
        }
        if let Some(ns) = self.stores.namespaces.get(&(String::new(), namespace.to_owned())) {
            meta_map_labels(labels, "namespace", &ns.metadata);
        }
    }
}

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, as upstream's label-name sanitizer.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

/// `__meta_kubernetes_<role>_label_*`, `_labelpresent_*`, `_annotation_*`, `_annotationpresent_*`.
fn meta_map_labels(labels: &mut Labels, role: &str, meta: &ObjectMeta) {
    for (k, v) in &meta.labels {
        let ln = sanitize(k);
        labels.set(format!("{META_PREFIX}{role}_label_{ln}"), v.as_str());
        labels.set(format!("{META_PREFIX}{role}_labelpresent_{ln}"), "true");
    }
    for (k, v) in &meta.annotations {
        let ln = sanitize(k);
        labels.set(format!("{META_PREFIX}{role}_annotation_{ln}"), v.as_str());
        labels.set(format!("{META_PREFIX}{role}_annotationpresent_{ln}"), "true");
    }
}

/// `__meta_kubernetes_<role>_name` plus the label and annotation labels of `meta`.
pub fn object_meta_labels(labels: &mut Labels, meta: &ObjectMeta, role: &str) {
    labels.set(format!("{META_PREFIX}{role}_name"), meta.name.as_str());
    meta_map_labels(labels, role, meta);
}

/// `host:port`, with brackets around IPv6 addresses.
pub fn host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Adds `extra`'s labels to `labels` (values from `extra` win).
pub fn merge(labels: &mut Labels, extra: &Labels) {
    for (n, v) in extra.iter() {
        labels.set(n, v);
    }
}

/// The kind a role's groups come from.
fn primary(role: KubernetesRole) -> Kind {
    match role {
        KubernetesRole::Pod => Kind::Pod,
        KubernetesRole::Service => Kind::Service,
        KubernetesRole::Endpoints => Kind::Endpoints,
        KubernetesRole::EndpointSlice => Kind::EndpointSlice,
        KubernetesRole::Node => Kind::Node,
        KubernetesRole::Ingress => Kind::Ingress,
    }
}

/// The kinds a role watches.
pub fn watched_kinds(role: KubernetesRole, attach_node: bool, attach_namespace: bool) -> Vec<Kind> {
    let mut kinds = vec![primary(role)];
    if matches!(role, KubernetesRole::Endpoints | KubernetesRole::EndpointSlice) {
        kinds.extend([Kind::Service, Kind::Pod]);
    }
    if attach_node
        && matches!(
            role,
            KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice
        )
    {
        kinds.push(Kind::Node);
    }
    if attach_namespace && role != KubernetesRole::Node {
        kinds.push(Kind::Namespace);
    }
    kinds
}

/// The group source of a role's object.
pub fn source(role: KubernetesRole, key: &Key) -> String {
    let (ns, name) = key;
    match role {
        KubernetesRole::Pod => format!("pod/{ns}/{name}"),
        KubernetesRole::Service => format!("svc/{ns}/{name}"),
        KubernetesRole::Endpoints => format!("endpoints/{ns}/{name}"),
        KubernetesRole::EndpointSlice => format!("endpointslice/{ns}/{name}"),
        KubernetesRole::Node => format!("node/{name}"),
        KubernetesRole::Ingress => format!("ingress/{ns}/{name}"),
    }
}

/// The group of the role's object `key`, empty when the object is gone.
pub fn build_group(role: KubernetesRole, key: &Key, cx: &Context<'_>) -> TargetGroup {
    let s = cx.stores;
    let group = match role {
        KubernetesRole::Pod => s.pods.get(key).map(|o| pod::build(o, cx)),
        KubernetesRole::Service => s.services.get(key).map(|o| service::build(o, cx)),
        KubernetesRole::Endpoints => s.endpoints.get(key).map(|o| endpoints::build_endpoints(o, cx)),
        KubernetesRole::EndpointSlice => s.slices.get(key).map(|o| endpoints::build_slice(o, cx)),
        KubernetesRole::Node => s.nodes.get(key).map(node::build),
        KubernetesRole::Ingress => s.ingresses.get(key).map(|o| ingress::build(o, cx)),
    };
    let mut group = group.unwrap_or_default();
    group.source = source(role, key);
    group
}

/// Every group of the role, by source.
pub fn build_all(role: KubernetesRole, cx: &Context<'_>) -> BTreeMap<String, TargetGroup> {
    let s = cx.stores;
    let keys: Vec<&Key> = match role {
        KubernetesRole::Pod => s.pods.keys().collect(),
        KubernetesRole::Service => s.services.keys().collect(),
        KubernetesRole::Endpoints => s.endpoints.keys().collect(),
        KubernetesRole::EndpointSlice => s.slices.keys().collect(),
        KubernetesRole::Node => s.nodes.keys().collect(),
        KubernetesRole::Ingress => s.ingresses.keys().collect(),
    };
    keys.into_iter()
        .map(|k| {
            let g = build_group(role, k, cx);
            (g.source.clone(), g)
        })
        .collect()
}

/// Discovers one role's targets.
#[derive(Debug)]
pub struct KubernetesDiscoverer {
    client: ApiClient,
    role: KubernetesRole,
    /// Namespaces to watch; `[""]` means all.
    namespaces: Vec<String>,
    selectors: HashMap<Kind, Selector>,
    attach_node: bool,
    attach_namespace: bool,
    metrics: Option<Arc<SdMetrics>>,
    job: String,
}

/// The [`crate::discovery::MECHANISMS`] constructor.
pub fn build(config: &SdConfig, options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
    match config {
        SdConfig::Kubernetes(c) => Ok(Box::new(KubernetesDiscoverer::new(c, options)?)),
        other => Err(DiscoveryError::Mechanism {
            expected: "kubernetes",
            got: other.mechanism(),
        }),
    }
}

impl KubernetesDiscoverer {
    /// A discoverer for `config`; `options.kubernetes_in_cluster` replaces the standard in-cluster locations.
    pub fn new(
        config: &KubernetesSdConfig,
        options: &DiscovererOptions,
    ) -> Result<KubernetesDiscoverer, KubernetesError> {
        let name = format!("kubernetes_sd/{}", options.job);
        let own_namespace = config.namespaces.as_ref().is_some_and(|n| n.own_namespace);
        let mut own = None;
        let client = if !config.kubeconfig_file.is_empty() {
            let (server, http) = load_kubeconfig(Path::new(&config.kubeconfig_file))?;
            ApiClient::new(&server, &http, &name)?
        } else if !config.api_server.is_empty() {
            ApiClient::new(&config.api_server, &config.http_client(), &name)?
        } else {
            let in_cluster = match &options.kubernetes_in_cluster {
                Some(c) => c.clone(),
                None => InCluster::from_env()?,
            };
            if own_namespace {
                own = Some(in_cluster.own_namespace()?);
            }
            ApiClient::new(&in_cluster.api_server, &in_cluster.http_client(), &name)?
        };
        let mut namespaces: Vec<String> = config.namespaces.as_ref().map(|n| n.names.clone()).unwrap_or_default();
        namespaces.extend(own);
        let namespaces: Vec<String> = if namespaces.is_empty() && !own_namespace {
            vec![String::new()]
        } else {
            namespaces.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
        };
        let mut selectors = HashMap::new();
        for s in &config.selectors {
            selectors.insert(
                primary(s.role),
                Selector {
                    label: s.label.clone(),
                    field: s.field.clone(),
                },
            );
        }
        let attach = config.attach_metadata.clone().unwrap_or_default();
        Ok(KubernetesDiscoverer {
            client,
            role: config.role.unwrap_or(KubernetesRole::Pod),
            namespaces,
            selectors,
            attach_node: attach.node,
            attach_namespace: attach.namespace,
            metrics: options.metrics.clone(),
            job: options.job.clone(),
        })
    }

    /// Changes the server-side watch timeout (tests use short ones).
    pub fn with_watch_timeout(mut self, timeout: std::time::Duration) -> KubernetesDiscoverer {
        self.client = self.client.with_watch_timeout(timeout);
        self
    }

    /// The namespaces watched (`""` for all).
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }
}

impl Discoverer for KubernetesDiscoverer {
    fn run(self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            let (tx, mut rx) = mpsc::channel(256);
            let mut pending = BTreeSet::new();
            let all = [String::new()];
            for kind in watched_kinds(self.role, self.attach_node, self.attach_namespace) {
                let namespaces: &[String] = if kind.namespaced() { &self.namespaces } else { &all };
                for ns in namespaces {
                    pending.insert((kind, ns.clone()));
                    let selector = self.selectors.get(&kind).cloned().unwrap_or_default();
                    tokio::spawn(self.client.clone().run_watcher(
                        kind,
                        ns.clone(),
                        selector,
                        tx.clone(),
                        cancel.child_token(),
                        self.metrics.clone(),
                    ));
                }
            }
            drop(tx);
            let primary_kind = primary(self.role);
            let mut stores = Stores::default();
            let mut last: BTreeMap<String, TargetGroup> = BTreeMap::new();
            let mut synced = false;
            loop {
                let first = tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = rx.recv() => match c {
                        Some(c) => c,
                        None => return,
                    },
                };
                let mut batch = vec![first];
                while let Ok(c) = rx.try_recv() {
                    batch.push(c);
                }
                let mut touched = BTreeSet::new();
                let mut secondary: Vec<(Kind, Key)> = Vec::new();
                for change in batch {
                    let kind = match &change {
                        Change::Replace { kind, namespace, .. } => {
                            pending.remove(&(*kind, namespace.clone()));
                            *kind
                        }
                        Change::Upsert { kind, .. } | Change::Delete { kind, .. } => *kind,
                    };
                    match stores.apply(change) {
                        Ok(keys) if kind == primary_kind => touched.extend(keys),
                        Ok(keys) => secondary.extend(keys.into_iter().map(|k| (kind, k))),
                        Err(e) => {
                            tracing::error!(job = %self.job, role = kind.role(), "kubernetes_sd: undecodable object: {e}")
                        }
                    }
                }
                if !pending.is_empty() {
                    continue;
                }
                let cx = Context {
                    stores: &stores,
                    attach_node: self.attach_node,
                    attach_namespace: self.attach_namespace,
                };
                let mut out = Vec::new();
                if synced {
                    for (kind, key) in &secondary {
                        touched.extend(affected(self.role, *kind, key, &stores));
                    }
                }
                if !synced {
                    synced = true;
                    let fresh = build_all(self.role, &cx);
                    for (src, g) in &fresh {
                        if last.get(src) != Some(g) {
                            out.push(g.clone());
                        }
                    }
                    for src in last.keys().filter(|s| !fresh.contains_key(*s)) {
                        out.push(TargetGroup::empty(src.clone()));
                    }
                    last = fresh;
                } else {
                    for key in touched {
                        let g = build_group(self.role, &key, &cx);
                        if last.get(&g.source) == Some(&g) {
                            continue;
                        }
                        if stores_contains(&stores, self.role, &key) {
                            last.insert(g.source.clone(), g.clone());
                        } else {
                            last.remove(&g.source);
                        }
                        out.push(g);
                    }
                }
                if !out.is_empty() && !super::send(&cancel, &updates, out).await {
                    return;
                }
            }
        })
    }
}

/// The role's objects whose groups draw on the secondary object `key` of `kind` (present or just deleted).
pub fn affected(role: KubernetesRole, kind: Kind, key: &Key, stores: &Stores) -> Vec<Key> {
    fn in_namespace<'a, T>(map: &'a BTreeMap<Key, T>, ns: &'a str) -> impl Iterator<Item = (&'a Key, &'a T)> + 'a {
        map.range((ns.to_owned(), String::new())..)
            .take_while(move |(k, _)| k.0 == ns)
    }
    let (ns, name) = (key.0.as_str(), key.1.as_str());
    let pod_ref = |r: &Option<objects::ObjectReference>, node: &Option<String>| match kind {
        Kind::Pod => r.as_ref().is_some_and(|r| r.kind == "Pod" && r.name == name),
        Kind::Node => node.as_deref() == Some(name) || r.as_ref().is_some_and(|r| r.kind == "Node" && r.name == name),
        _ => false,
    };
    match (role, kind) {
        (_, Kind::Namespace) => {
            let ns = name;
            match role {
                KubernetesRole::Pod => in_namespace(&stores.pods, ns).map(|(k, _)| k.clone()).collect(),
                KubernetesRole::Service => in_namespace(&stores.services, ns).map(|(k, _)| k.clone()).collect(),
                KubernetesRole::Endpoints => in_namespace(&stores.endpoints, ns).map(|(k, _)| k.clone()).collect(),
                KubernetesRole::EndpointSlice => in_namespace(&stores.slices, ns).map(|(k, _)| k.clone()).collect(),
                KubernetesRole::Ingress => in_namespace(&stores.ingresses, ns).map(|(k, _)| k.clone()).collect(),
                KubernetesRole::Node => Vec::new(),
            }
        }
        (KubernetesRole::Pod, Kind::Node) => stores
            .pods
            .iter()
            .filter(|(_, p)| p.spec.node_name == name)
            .map(|(k, _)| k.clone())
            .collect(),
        (KubernetesRole::Endpoints, Kind::Service) => vec![key.clone()],
        (KubernetesRole::EndpointSlice, Kind::Service) => in_namespace(&stores.slices, ns)
            .filter(|(_, s)| s.metadata.labels.get("kubernetes.io/service-name").map(String::as_str) == Some(name))
            .map(|(k, _)| k.clone())
            .collect(),
        (KubernetesRole::Endpoints, Kind::Pod | Kind::Node) => {
            let scope: Box<dyn Iterator<Item = (&Key, &Endpoints)>> = if kind == Kind::Pod {
                Box::new(in_namespace(&stores.endpoints, ns))
            } else {
                Box::new(stores.endpoints.iter())
            };
            scope
                .filter(|(_, e)| {
                    e.subsets.iter().any(|s| {
                        s.addresses
                            .iter()
                            .chain(&s.not_ready_addresses)
                            .any(|a| pod_ref(&a.target_ref, &a.node_name))
                    })
                })
                .map(|(k, _)| k.clone())
                .collect()
        }
        (KubernetesRole::EndpointSlice, Kind::Pod | Kind::Node) => {
            let scope: Box<dyn Iterator<Item = (&Key, &EndpointSlice)>> = if kind == Kind::Pod {
                Box::new(in_namespace(&stores.slices, ns))
            } else {
                Box::new(stores.slices.iter())
            };
            scope
                .filter(|(_, s)| s.endpoints.iter().any(|e| pod_ref(&e.target_ref, &e.node_name)))
                .map(|(k, _)| k.clone())
                .collect()
        }
        _ => Vec::new(),
    }
}

fn stores_contains(stores: &Stores, role: KubernetesRole, key: &Key) -> bool {
    match role {
        KubernetesRole::Pod => stores.pods.contains_key(key),
        KubernetesRole::Service => stores.services.contains_key(key),
        KubernetesRole::Endpoints => stores.endpoints.contains_key(key),
        KubernetesRole::EndpointSlice => stores.slices.contains_key(key),
        KubernetesRole::Node => stores.nodes.contains_key(key),
        KubernetesRole::Ingress => stores.ingresses.contains_key(key),
    }
}

#[cfg(test)]
mod tests;
