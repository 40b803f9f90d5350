//! The Kubernetes API client: where the API server is and how to authenticate (in-cluster service account,
//! kubeconfig file, or `api_server` with the section's HTTP client settings), and list + watch of one resource kind.
//!
//! A watcher lists the objects, then watches from the list's `resourceVersion`, re-watching from the last version
//! seen when the server ends the stream and listing again when the version is too old (HTTP 410 Gone); failures
//! back off from 1s to 30s and count in `prometheus_sd_kubernetes_failures_total`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use crate::config::types::Secret;
use crate::httpclient::{HttpClient, HttpClientError};

use super::KubernetesError;
use super::objects::ObjectMeta;
use crate::discovery::SdMetrics;

/// Where the in-cluster credentials live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InCluster {
    /// The API server URL (`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`).
    pub api_server: String,
    /// The service account token, read for every request (tokens rotate).
    pub token_file: PathBuf,
    /// The cluster CA.
    pub ca_file: PathBuf,
    /// The pod's own namespace.
    pub namespace_file: PathBuf,
}

const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

impl InCluster {
    /// The standard locations, with the API server from the environment.
    pub fn from_env() -> Result<InCluster, KubernetesError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
        if host.is_empty() || port.is_empty() {
            return Err(KubernetesError::NotInCluster);
        }
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let dir = Path::new(SERVICE_ACCOUNT_DIR);
        Ok(InCluster {
            api_server: format!("https://{host}:{port}"),
            token_file: dir.join("token"),
            ca_file: dir.join("ca.crt"),
            namespace_file: dir.join("namespace"),
        })
    }

    /// The HTTP client settings: the CA and the token as a bearer credential.
    pub fn http_client(&self) -> HttpClientConfig {
        HttpClientConfig {
            tls_config: Some(TlsConfig {
                ca_file: self.ca_file.to_string_lossy().into_owned(),
                ..TlsConfig::default()
            }),
            authorization: Some(Authorization {
                kind: "Bearer".into(),
                credentials_file: self.token_file.to_string_lossy().into_owned(),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        }
    }

    /// The pod's own namespace.
    pub fn own_namespace(&self) -> Result<String, KubernetesError> {
        let text = std::fs::read_to_string(&self.namespace_file).map_err(|source| KubernetesError::ReadFile {
            what: "namespace",
            path: self.namespace_file.clone(),
            source,
        })?;
        let ns = text.trim().to_owned();
        if ns.is_empty() {
            return Err(KubernetesError::EmptyNamespaceFile {
                path: self.namespace_file.clone(),
            });
        }
        Ok(ns)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Kubeconfig {
    current_context: String,
    contexts: Vec<NamedContext>,
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedContext {
    name: String,
    context: KubeContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KubeContext {
    cluster: String,
    user: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedCluster {
    name: String,
    cluster: KubeCluster,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct KubeCluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
    proxy_url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedUser {
    name: String,
    user: KubeUser,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct KubeUser {
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    username: String,
    password: String,
    exec: Option<serde_json::Value>,
    auth_provider: Option<serde_json::Value>,
}

/// Reads a kubeconfig file: the API server of the current context and the HTTP client settings for its cluster
/// and user. Relative paths are relative to the file's folder.
pub fn load_kubeconfig(path: &Path) -> Result<(String, HttpClientConfig), KubernetesError> {
    let bad = |reason: String| KubernetesError::Kubeconfig {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| KubernetesError::ReadFile {
        what: "kubeconfig",
        path: path.to_owned(),
        source,
    })?;
    let config: Kubeconfig = serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == config.current_context)
        .ok_or_else(|| bad(format!("current context {:?} not found", config.current_context)))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.context.cluster)
        .ok_or_else(|| bad(format!("cluster {:?} not found", context.context.cluster)))?;
    let user = config
        .users
        .iter()
        .find(|u| u.name == context.context.user)
        .map(|u| &u.user);
    let dir = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &str| -> String {
        let mut s = p.to_owned();
        crate::config::http::join_dir(dir, &mut s);
        s
    };
    let decode = |field: &str, data: &str| -> Result<String, KubernetesError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| bad(format!("{field}: {e}")))?;
        String::from_utf8(bytes).map_err(|e| bad(format!("{field}: {e}")))
    };
    let c = &cluster.cluster;
    if c.server.is_empty() {
        return Err(bad(format!("cluster {:?} has no server", cluster.name)));
    }
    let mut tls = TlsConfig {
        insecure_skip_verify: c.insecure_skip_tls_verify,
        server_name: c.tls_server_name.clone(),
        ..TlsConfig::default()
    };
    if !c.certificate_authority_data.is_empty() {
        tls.ca = decode("certificate-authority-data", &c.certificate_authority_data)?;
    } else if !c.certificate_authority.is_empty() {
        tls.ca_file = rel(&c.certificate_authority);
    }
    let mut http = HttpClientConfig {
        proxy_url: c.proxy_url.clone(),
        ..HttpClientConfig::default()
    };
    if let Some(u) = user {
        if u.exec.is_some() {
            return Err(KubernetesError::Unsupported {
                path: path.to_owned(),
                what: "exec credential plugins",
            });
        }
        if u.auth_provider.is_some() {
            return Err(KubernetesError::Unsupported {
                path: path.to_owned(),
                what: "auth-provider credentials",
            });
        }
        if !u.client_certificate_data.is_empty() {
            tls.cert = decode("client-certificate-data", &u.client_certificate_data)?;
        } else if !u.client_certificate.is_empty() {
            tls.cert_file = rel(&u.client_certificate);
        }
        if !u.client_key_data.is_empty() {
            tls.key = Secret::new(decode("client-key-data", &u.client_key_data)?);
        } else if !u.client_key.is_empty() {
            tls.key_file = rel(&u.client_key);
        }
        if !u.token.is_empty() || !u.token_file.is_empty() {
            http.authorization = Some(Authorization {
                kind: "Bearer".into(),
                credentials: Secret::new(u.token.clone()),
                credentials_file: if u.token.is_empty() {
                    rel(&u.token_file)
                } else {
                    String::new()
                },
                ..Authorization::default()
            });
        } else if !u.username.is_empty() {
            http.basic_auth = Some(BasicAuth {
                username: u.username.clone(),
                password: Secret::new(u.password.clone()),
                ..BasicAuth::default()
            });
        }
    }
    http.tls_config = Some(tls);
    Ok((c.server.clone(), http))
}

/// A resource kind discovery lists and watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `v1/pods`.
    Pod,
    /// `v1/services`.
    Service,
    /// `v1/endpoints`.
    Endpoints,
    /// `discovery.k8s.io/v1/endpointslices`.
    EndpointSlice,
    /// `v1/nodes` (cluster-scoped).
    Node,
    /// `networking.k8s.io/v1/ingresses`.
    Ingress,
    /// `v1/namespaces` (cluster-scoped).
    Namespace,
}

impl Kind {
    /// The role name used in self-metrics and selectors.
    pub fn role(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Service => "service",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslice",
            Kind::Node => "node",
            Kind::Ingress => "ingress",
            Kind::Namespace => "namespace",
        }
    }

    /// Whether objects of this kind live in namespaces.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Node | Kind::Namespace)
    }

    /// The API path of the collection in `namespace` (all namespaces when empty).
    pub fn path(self, namespace: &str) -> String {
        let (group, resource) = match self {
            Kind::Pod => ("api/v1", "pods"),
            Kind::Service => ("api/v1", "services"),
            Kind::Endpoints => ("api/v1", "endpoints"),
            Kind::EndpointSlice => ("apis/discovery.k8s.io/v1", "endpointslices"),
            Kind::Node => ("api/v1", "nodes"),
            Kind::Ingress => ("apis/networking.k8s.io/v1", "ingresses"),
            Kind::Namespace => ("api/v1", "namespaces"),
        };
        if namespace.is_empty() || !self.namespaced() {
            format!("/{group}/{resource}")
        } else {
            format!("/{group}/namespaces/{namespace}/{resource}")
        }
    }
}

/// A change to the objects of one watcher.
#[derive(Debug)]
pub enum Change {
    /// A full list: the objects of `kind` in `namespace` (all when empty) are exactly these.
    Replace {
        /// The kind.
        kind: Kind,
        /// The namespace listed (empty: all).
        namespace: String,
        /// The objects.
        items: Vec<serde_json::Value>,
    },
    /// An object was added or modified.
    Upsert {
        /// The kind.
        kind: Kind,
        /// The object.
        object: serde_json::Value,
    },
    /// An object was deleted.
    Delete {
        /// The kind.
        kind: Kind,
        /// The object (its last state).
        object: serde_json::Value,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
    #[serde(rename = "continue")]
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct List {
    metadata: ListMeta,
    items: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: serde_json::Value,
}

/// What ended a watch.
enum WatchEnd {
    /// The stream ended normally: watch again from the last version.
    Rewatch,
    /// The version is too old: list again.
    Relist,
}

/// Talks to one API server.
#[derive(Clone, Debug)]
pub struct ApiClient {
    base: String,
    http: HttpClient,
    /// Server-side watch timeout.
    watch_timeout: Duration,
}

/// How long a list may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

impl ApiClient {
    /// A client for `base` (the API server URL) with `http` settings.
    pub fn new(base: &str, http: &HttpClientConfig, name: &str) -> Result<ApiClient, HttpClientError> {
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            http: HttpClient::new(http, name)?,
            watch_timeout: Duration::from_secs(300),
        })
    }

    /// Changes the server-side watch timeout (tests use short ones).
    pub fn with_watch_timeout(mut self, timeout: Duration) -> ApiClient {
        self.watch_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<String, KubernetesError> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| KubernetesError::Url {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })?;
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                if !v.is_empty() {
                    pairs.append_pair(k, v);
                }
            }
        }
        let mut text = url.to_string();
        if text.ends_with('?') {
            text.pop();
        }
        Ok(text)
    }

    /// Lists `kind` in `namespace`: the objects and the list's resource version.
    pub async fn list(
        &self,
        kind: Kind,
        namespace: &str,
        selector: &Selector,
    ) -> Result<(Vec<serde_json::Value>, String), KubernetesError> {
        let mut items = Vec::new();
        let mut next = String::new();
        loop {
            let url = self.url(
                &kind.path(namespace),
                &[
                    ("labelSelector", &selector.label),
                    ("fieldSelector", &selector.field),
                    ("limit", "500"),
                    ("continue", &next),
                ],
            )?;
            let resp = self
                .http
                .get(&url, &[("Accept", "application/json")], LIST_TIMEOUT)
                .await?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|source| KubernetesError::Body {
                url: url.clone(),
                source,
            })?;
            if !status.is_success() {
                return Err(KubernetesError::Status {
                    url,
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body).chars().take(512).collect(),
                });
            }
            let list: List = serde_json::from_slice(&body).map_err(|source| KubernetesError::Decode { url, source })?;
            items.extend(list.items);
            if list.metadata.next.is_empty() {
                return Ok((items, list.metadata.resource_version));
            }
            next = list.metadata.next;
        }
    }

    /// Watches from `version`, sending changes until the stream ends; `version` follows the events.
    async fn watch(
        &self,
        kind: Kind,
        namespace: &str,
        selector: &Selector,
        version: &mut String,
        changes: &mpsc::Sender<Change>,
        metrics: Option<&SdMetrics>,
    ) -> Result<WatchEnd, KubernetesError> {
        let seconds = self.watch_timeout.as_secs().to_string();
        let url = self.url(
            &kind.path(namespace),
            &[
                ("watch", "1"),
                ("allowWatchBookmarks", "true"),
                ("resourceVersion", version),
                ("timeoutSeconds", &seconds),
                ("labelSelector", &selector.label),
                ("fieldSelector", &selector.field),
            ],
        )?;
        let timeout = self.watch_timeout + Duration::from_secs(30);
        let mut resp = self.http.get(&url, &[("Accept", "application/json")], timeout).await?;
        let status = resp.status();
        if status == reqwest::StatusCode::GONE {
            return Ok(WatchEnd::Relist);
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(KubernetesError::Status {
                url,
                status: status.as_u16(),
                body: body.chars().take(512).collect(),
            });
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let chunk = resp.chunk().await.map_err(|source| KubernetesError::Body {
                url: url.clone(),
                source,
            })?;
            let Some(chunk) = chunk else {
                return Ok(WatchEnd::Rewatch);
            };
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                let event: WatchEvent = serde_json::from_slice(line).map_err(|source| KubernetesError::Decode {
                    url: url.clone(),
                    source,
                })?;
                if let Some(v) = object_version(&event.object) {
                    *version = v;
                }
                let change = match event.kind.as_str() {
                    "ADDED" | "MODIFIED" => Change::Upsert {
                        kind,
                        object: event.object,
                    },
                    "DELETED" => Change::Delete {
                        kind,
                        object: event.object,
                    },
                    "BOOKMARK" => continue,
                    "ERROR" => {
                        let code = event.object.get("code").and_then(|c| c.as_u64()).unwrap_or(0);
                        if code == 410 {
                            return Ok(WatchEnd::Relist);
                        }
                        return Err(KubernetesError::WatchError {
                            url: url.clone(),
                            message: event.object.to_string(),
                        });
                    }
                    _ => continue,
                };
                if let Some(m) = metrics {
                    let e = match &change {
                        Change::Delete { .. } => "delete",
                        _ if event.kind == "ADDED" => "add",
                        _ => "update",
                    };
                    m.kubernetes_event(kind.role(), e);
                }
                if changes.send(change).await.is_err() {
                    return Ok(WatchEnd::Rewatch);
                }
            }
        }
    }

    /// Lists and watches `kind` in `namespace` until cancelled, sending every change.
    pub async fn run_watcher(
        self,
        kind: Kind,
        namespace: String,
        selector: Selector,
        changes: mpsc::Sender<Change>,
        cancel: CancellationToken,
        metrics: Option<Arc<SdMetrics>>,
    ) {
        let mut backoff = Duration::from_secs(1);
        let failed = |e: &KubernetesError, backoff: &mut Duration| {
            if let Some(m) = &metrics {
                m.kubernetes_failure();
            }
            tracing::error!(role = kind.role(), namespace, "kubernetes_sd: {e}");
            let wait = *backoff;
            *backoff = (*backoff * 2).min(Duration::from_secs(30));
            wait
        };
        'relist: loop {
            let listed = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.list(kind, &namespace, &selector) => r,
            };
            let mut version = match listed {
                Ok((items, version)) => {
                    let replace = Change::Replace {
                        kind,
                        namespace: namespace.clone(),
                        items,
                    };
                    if changes.send(replace).await.is_err() {
                        return;
                    }
                    version
                }
                Err(e) => {
                    let wait = failed(&e, &mut backoff);
                    if !crate::discovery::sleep(&cancel, wait).await {
                        return;
                    }
                    continue 'relist;
                }
            };
            loop {
                let watched = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = self.watch(kind, &namespace, &selector, &mut version, &changes, metrics.as_deref()) => r,
                };
                match watched {
                    Ok(WatchEnd::Rewatch) => {
                        backoff = Duration::from_secs(1);
                        if changes.is_closed() {
                            return;
                        }
                    }
                    Ok(WatchEnd::Relist) => continue 'relist,
                    Err(e) => {
                        let wait = failed(&e, &mut backoff);
                        if !crate::discovery::sleep(&cancel, wait).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

fn object_version(object: &serde_json::Value) -> Option<String> {
    let meta: ObjectMeta = serde_json::from_value(object.get("metadata")?.clone()).ok()?;
    (!meta.resource_version.is_empty()).then_some(meta.resource_version)
}

/// Server-side label and field selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Label selector.
    pub label: String,
    /// Field selector.
    pub field: String,
}
