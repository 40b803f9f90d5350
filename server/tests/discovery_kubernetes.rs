//! kubernetes_sd against a local HTTP(S) server that plays the API server: it serves list responses and watch
//! streams of recorded objects, lets the test add, change and delete objects (sent as watch events), and can
//! expire resource versions (410 Gone). Covers the roles end to end, credentials (api_server with a bearer
//! token, in-cluster service account with own_namespace, kubeconfig), selectors, re-listing, the manager, and
//! the annotation-driven relabeling of upstream's example configuration.

mod discovery_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery_support::{Handler, Pki, Recorded, respond, serve};
use serde_json::{Value, json};
use server::config::discovery::KubernetesSdConfig;
use server::config::{Config, Mode};
use server::discovery::kubernetes::{InCluster, KubernetesDiscoverer};
use server::discovery::{Discoverer, DiscovererOptions, Manager, ManagerOptions, TargetGroup, scrape_jobs};
use server::model::labels::Labels;
use server::model::relabel::{RelabelConfig, process};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// The fake API server's objects and event log.
#[derive(Default)]
struct ApiState {
    version: u64,
    /// resource ("pods") -> (namespace, name) -> object
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    /// (version, resource, type, object)
    events: Vec<(u64, String, &'static str, Value)>,
    /// Watches from versions below this get 410 Gone.
    expired_below: u64,
}

#[derive(Clone, Default)]
struct FakeApi {
    state: Arc<Mutex<ApiState>>,
    changed: Arc<Notify>,
}

/// `(resource, namespace)` of an API path (`/api/v1/namespaces/x/pods`, `/apis/g/v/pods`, `/api/v1/nodes`).
fn resource_of(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = if parts[0] == "api" { &parts[2..] } else { &parts[3..] };
    match rest {
        ["namespaces", ns, resource] => (resource.to_string(), ns.to_string()),
        [resource] => (resource.to_string(), String::new()),
        _ => panic!("unexpected path {path}"),
    }
}

impl FakeApi {
    fn put(&self, resource: &str, mut object: Value) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        object["metadata"]["resourceVersion"] = json!(v.to_string());
        let ns = object["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let map = s.objects.entry(resource.into()).or_default();
        let kind = if map.insert((ns, name), object.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        s.events.push((v, resource.into(), kind, object));
        drop(s);
        self.changed.notify_waiters();
    }

    fn delete(&self, resource: &str, ns: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let mut object = s
            .objects
            .get_mut(resource)
            .and_then(|m| m.remove(&(ns.to_owned(), name.to_owned())))
            .unwrap();
        object["metadata"]["resourceVersion"] = json!(v.to_string());
        s.events.push((v, resource.into(), "DELETED", object));
        drop(s);
        self.changed.notify_waiters();
    }

    /// Deletes without a watch event and expires every older version: watchers must list again.
    fn delete_silently_and_expire(&self, resource: &str, ns: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.objects
            .get_mut(resource)
            .and_then(|m| m.remove(&(ns.to_owned(), name.to_owned())));
        s.expired_below = s.version;
        drop(s);
        self.changed.notify_waiters();
    }

    fn handler(&self) -> Handler {
        let api = self.clone();
        Arc::new(move |req: Recorded| {
            let api = api.clone();
            Box::pin(async move { api.respond(req).await })
        })
    }

    async fn respond(&self, req: Recorded) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
        let (resource, ns) = resource_of(req.path());
        if req.query("watch").is_none() {
            let s = self.state.lock().unwrap();
            let items: Vec<Value> = s
                .objects
                .get(&resource)
                .map(|m| {
                    m.iter()
                        .filter(|((n, _), _)| ns.is_empty() || *n == ns)
                        .map(|(_, v)| v.clone())
                        .collect()
                })
                .unwrap_or_default();
            let body = json!({"kind": "List", "metadata": {"resourceVersion": s.version.to_string()}, "items": items});
            return respond(200, "application/json", body.to_string());
        }
        let from: u64 = req.query("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        for _ in 0..2 {
            let notified = self.changed.notified();
            {
                let s = self.state.lock().unwrap();
                if from < s.expired_below {
                    let gone = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}});
                    return respond(200, "application/json", format!("{gone}\n"));
                }
                let lines: Vec<String> = s
                    .events
                    .iter()
                    .filter(|(v, r, _, o)| {
                        *v > from && *r == resource && (ns.is_empty() || o["metadata"]["namespace"] == json!(ns))
                    })
                    .map(|(_, _, t, o)| json!({"type": t, "object": o}).to_string() + "\n")
                    .collect();
                if !lines.is_empty() {
                    return respond(200, "application/json", lines.concat());
                }
            }
            // Nothing new: hold the watch open a while, as the API server does.
            let _ = tokio::time::timeout(Duration::from_millis(300), notified).await;
        }
        respond(200, "application/json", "")
    }
}

fn pod(name: &str, ns: &str, ip: &str, annotations: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                     "labels": {"app": "web"}, "annotations": annotations},
        "spec": {"nodeName": "node-a", "containers": [
            {"name": "app", "image": "web:1", "ports": [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}
            ]}
        ]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn config(yaml: &str) -> KubernetesSdConfig {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

/// Runs `d` and returns a receiver of its updates plus the cancel token.
fn start(d: KubernetesDiscoverer) -> (mpsc::Receiver<Vec<TargetGroup>>, CancellationToken) {
    let (tx, rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    tokio::spawn(Box::new(d.with_watch_timeout(Duration::from_secs(1))).run(cancel.clone(), tx));
    (rx, cancel)
}

async fn next(rx: &mut mpsc::Receiver<Vec<TargetGroup>>) -> Vec<TargetGroup> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no update within 10s")
        .expect("discoverer stopped")
}

fn sources(groups: &[TargetGroup]) -> Vec<(String, usize)> {
    groups.iter().map(|g| (g.source.clone(), g.targets.len())).collect()
}

#[tokio::test]
async fn pod_role_follows_list_and_watch() {
    let api = FakeApi::default();
    api.put("pods", pod("a", "default", "10.0.0.1", json!({})));
    api.put("pods", pod("b", "default", "10.0.0.2", json!({})));
    let srv = serve(api.handler(), None).await;
    let d = KubernetesDiscoverer::new(
        &config(&format!(
            "role: pod\napi_server: {}\nauthorization: {{credentials: s3cret}}\nselectors: [{{role: pod, label: 'app=web', field: 'status.phase=Running'}}]",
            srv.url("http", "")
        )),
        &DiscovererOptions::default(),
    )
    .unwrap();
    let (mut rx, cancel) = start(d);

    let first = next(&mut rx).await;
    assert_eq!(
        sources(&first),
        vec![("pod/default/a".into(), 2), ("pod/default/b".into(), 2)]
    );
    assert_eq!(first[0].targets[0].get("__address__"), Some("10.0.0.1:8080"));
    assert_eq!(first[0].labels.get("__meta_kubernetes_pod_label_app"), Some("web"));

    // A change to one pod: only its group is sent.
    api.put(
        "pods",
        pod("a", "default", "10.0.0.9", json!({"prometheus.io/scrape": "true"})),
    );
    let update = next(&mut rx).await;
    assert_eq!(sources(&update), vec![("pod/default/a".into(), 2)]);
    assert_eq!(update[0].targets[1].get("__address__"), Some("10.0.0.9:9102"));
    assert_eq!(
        update[0]
            .labels
            .get("__meta_kubernetes_pod_annotation_prometheus_io_scrape"),
        Some("true")
    );

    // Deletion empties the group; a new pod appears.
    api.delete("pods", "default", "b");
    assert_eq!(sources(&next(&mut rx).await), vec![("pod/default/b".into(), 0)]);
    api.put("pods", pod("c", "default", "10.0.0.3", json!({})));
    assert_eq!(sources(&next(&mut rx).await), vec![("pod/default/c".into(), 2)]);

    // Requests: all namespaces, selectors, bearer token, watch from the list's version.
    let reqs = srv.requests();
    let list = &reqs[0];
    assert_eq!(list.path(), "/api/v1/pods");
    assert_eq!(list.query("labelSelector").as_deref(), Some("app=web"));
    assert_eq!(list.query("fieldSelector").as_deref(), Some("status.phase=Running"));
    assert_eq!(list.header("authorization").as_deref(), Some("Bearer s3cret"));
    let watch = &reqs[1];
    assert_eq!(watch.query("watch").as_deref(), Some("1"));
    assert_eq!(watch.query("resourceVersion").as_deref(), Some("2"));
    assert_eq!(watch.query("labelSelector").as_deref(), Some("app=web"));
    cancel.cancel();
}

#[tokio::test]
async fn expired_versions_are_listed_again() {
    let api = FakeApi::default();
    api.put("pods", pod("a", "default", "10.0.0.1", json!({})));
    api.put("pods", pod("b", "default", "10.0.0.2", json!({})));
    let srv = serve(api.handler(), None).await;
    let d = KubernetesDiscoverer::new(
        &config(&format!("role: pod\napi_server: {}", srv.url("http", ""))),
        &DiscovererOptions::default(),
    )
    .unwrap();
    let (mut rx, cancel) = start(d);
    assert_eq!(next(&mut rx).await.len(), 2);
    // "b" vanishes while the watcher's version expires: the re-list notices.
    api.delete_silently_and_expire("pods", "default", "b");
    assert_eq!(sources(&next(&mut rx).await), vec![("pod/default/b".into(), 0)]);
    let lists = srv.requests().iter().filter(|r| r.query("watch").is_none()).count();
    assert_eq!(lists, 2);
    cancel.cancel();
}

#[tokio::test]
async fn endpoints_role_joins_services_and_pods() {
    let api = FakeApi::default();
    api.put("pods", pod("web-1", "shop", "10.0.0.1", json!({})));
    api.put(
        "services",
        json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "front"}},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "http", "port": 80}]}}),
    );
    api.put(
        "endpoints",
        json!({"metadata": {"name": "web", "namespace": "shop"},
               "subsets": [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}}],
                            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}),
    );
    api.put(
        "endpointslices",
        json!({"metadata": {"name": "web-x", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                              "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}}],
               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
    );
    let srv = serve(api.handler(), None).await;
    for (role, source, paths) in [
        (
            "endpoints",
            "endpoints/shop/web",
            [
                "/api/v1/namespaces/shop/endpoints",
                "/api/v1/namespaces/shop/services",
                "/api/v1/namespaces/shop/pods",
            ],
        ),
        (
            "endpointslice",
            "endpointslice/shop/web-x",
            [
                "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices",
                "/api/v1/namespaces/shop/services",
                "/api/v1/namespaces/shop/pods",
            ],
        ),
    ] {
        let d = KubernetesDiscoverer::new(
            &config(&format!(
                "role: {role}\napi_server: {}\nnamespaces: {{names: [shop]}}",
                srv.url("http", "")
            )),
            &DiscovererOptions::default(),
        )
        .unwrap();
        let (mut rx, cancel) = start(d);
        let first = next(&mut rx).await;
        assert_eq!(first.len(), 1, "{role}");
        let g = &first[0];
        assert_eq!(g.source, source);
        assert_eq!(
            g.labels.get("__meta_kubernetes_service_label_tier"),
            Some("front"),
            "{role}"
        );
        // The endpoint port and the pod's uncovered metrics port.
        let addrs: Vec<&str> = g.targets.iter().map(|t| t.get("__address__").unwrap()).collect();
        assert_eq!(addrs, vec!["10.0.0.1:8080", "10.0.0.1:9102"], "{role}");
        assert_eq!(g.targets[0].get("__meta_kubernetes_pod_name"), Some("web-1"));
        assert_eq!(
            g.targets[0].get("__meta_kubernetes_pod_container_port_name"),
            Some("http")
        );

        // A service change reaches the group.
        api.put(
            "services",
            json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "back"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "http", "port": 80}]}}),
        );
        let update = next(&mut rx).await;
        assert_eq!(update[0].source, source);
        assert_eq!(
            update[0].labels.get("__meta_kubernetes_service_label_tier"),
            Some("back")
        );
        cancel.cancel();
        let listed: Vec<String> = srv
            .requests()
            .iter()
            .filter(|r| r.query("watch").is_none())
            .map(|r| r.path().to_owned())
            .collect();
        for p in paths {
            assert!(listed.iter().any(|l| l == p), "{role}: {p} not listed in {listed:?}");
        }
        // Restore the label for the next role.
        api.put(
            "services",
            json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "front"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "http", "port": 80}]}}),
        );
    }
}

#[tokio::test]
async fn node_service_and_ingress_roles() {
    let api = FakeApi::default();
    api.put(
        "nodes",
        json!({"metadata": {"name": "node-a"},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.5"}],
                          "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}),
    );
    api.put(
        "services",
        json!({"metadata": {"name": "db", "namespace": "data"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.9", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}}),
    );
    api.put(
        "ingresses",
        json!({"metadata": {"name": "site", "namespace": "web"},
               "spec": {"rules": [{"host": "site.example", "http": {"paths": [{"path": "/"}]}}]}}),
    );
    let srv = serve(api.handler(), None).await;
    for (role, want_source, want_address) in [
        ("node", "node/node-a", "192.168.1.5:10250"),
        ("service", "svc/data/db", "db.data.svc:5432"),
        ("ingress", "ingress/web/site", "site.example"),
    ] {
        let d = KubernetesDiscoverer::new(
            &config(&format!("role: {role}\napi_server: {}", srv.url("http", ""))),
            &DiscovererOptions::default(),
        )
        .unwrap();
        let (mut rx, cancel) = start(d);
        let groups = next(&mut rx).await;
        assert_eq!(groups.len(), 1, "{role}");
        assert_eq!(groups[0].source, want_source);
        assert_eq!(groups[0].targets[0].get("__address__"), Some(want_address), "{role}");
        cancel.cancel();
    }
}

#[tokio::test]
async fn in_cluster_credentials_and_own_namespace() {
    let pki = Pki::new();
    let api = FakeApi::default();
    api.put("pods", pod("mine", "monitoring", "10.0.0.7", json!({})));
    api.put("pods", pod("other", "default", "10.0.0.8", json!({})));
    let srv = serve(api.handler(), Some(pki.server(false))).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let in_cluster = InCluster {
        api_server: format!("https://localhost:{}", srv.addr.port()),
        token_file: write("token", "sa-token-1\n"),
        ca_file: write("ca.crt", &pki.ca_pem),
        namespace_file: write("namespace", "monitoring"),
    };
    let options = DiscovererOptions {
        kubernetes_in_cluster: Some(in_cluster.clone()),
        ..DiscovererOptions::default()
    };
    let d = KubernetesDiscoverer::new(&config("role: pod\nnamespaces: {own_namespace: true}"), &options).unwrap();
    assert_eq!(d.namespaces(), ["monitoring".to_string()]);
    let (mut rx, cancel) = start(d);
    assert_eq!(sources(&next(&mut rx).await), vec![("pod/monitoring/mine".into(), 2)]);
    // The token rotates: the next request carries the new one.
    std::fs::write(&in_cluster.token_file, "sa-token-2").unwrap();
    api.put("pods", pod("mine", "monitoring", "10.0.0.70", json!({})));
    next(&mut rx).await;
    let reqs = srv.requests();
    assert_eq!(reqs[0].path(), "/api/v1/namespaces/monitoring/pods");
    assert_eq!(reqs[0].header("authorization").as_deref(), Some("Bearer sa-token-1"));
    // The watch that follows the event is the first request after the rotation.
    let rotated = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let later = srv
                .requests()
                .into_iter()
                .skip(reqs.len())
                .find_map(|r| r.header("authorization"));
            if let Some(token) = later {
                return token;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(rotated, "Bearer sa-token-2");
    cancel.cancel();

    // Without the environment or options, in-cluster discovery reports why it cannot start.
    if std::env::var("KUBERNETES_SERVICE_HOST").is_err() {
        let err = KubernetesDiscoverer::new(&config("role: pod"), &DiscovererOptions::default()).unwrap_err();
        assert!(err.to_string().contains("KUBERNETES_SERVICE_HOST"), "{err}");
    }
}

#[tokio::test]
async fn kubeconfig_credentials() {
    let pki = Pki::new();
    let api = FakeApi::default();
    api.put(
        "nodes",
        json!({"metadata": {"name": "n1"}, "status": {"addresses": [{"type": "Hostname", "address": "n1"}]}}),
    );
    let srv = serve(api.handler(), Some(pki.server(false))).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nclusters: [{{name: k, cluster: {{server: 'https://localhost:{}', certificate-authority: ca.pem}}}}]\nusers: [{{name: u, user: {{token: kube-token}}}}]\n",
            srv.addr.port()
        ),
    )
    .unwrap();
    let d = KubernetesDiscoverer::new(
        &config(&format!("role: node\nkubeconfig_file: {}", kubeconfig.display())),
        &DiscovererOptions::default(),
    )
    .unwrap();
    let (mut rx, cancel) = start(d);
    assert_eq!(next(&mut rx).await[0].targets[0].get("__address__"), Some("n1:0"));
    assert_eq!(
        srv.requests()[0].header("authorization").as_deref(),
        Some("Bearer kube-token")
    );
    cancel.cancel();
}

/// A target's full label set: group labels under the target's own.
fn merged(group: &TargetGroup, target: &Labels) -> Labels {
    let mut l = group.labels.clone();
    for (n, v) in target.iter() {
        l.set(n, v);
    }
    l
}

fn rules(config: &server::config::ScrapeConfig) -> Vec<RelabelConfig> {
    config.relabel_configs.iter().flatten().cloned().collect()
}

#[tokio::test]
async fn annotation_driven_scraping_through_the_manager() {
    let api = FakeApi::default();
    api.put(
        "pods",
        pod(
            "scraped",
            "default",
            "10.0.0.1",
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/custom"}),
        ),
    );
    api.put("pods", pod("ignored", "default", "10.0.0.2", json!({})));
    let srv = serve(api.handler(), None).await;
    // Upstream's annotation convention, then the example configuration's pod relabeling.
    let yaml = format!(
        r#"scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: {}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: true
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        action: replace
        target_label: __metrics_path__
        regex: (.+)
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        action: replace
        regex: ([^:]+)(?::\d+)?;(\d+)
        replacement: $1:$2
        target_label: __address__
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
"#,
        srv.url("http", "")
    );
    let config = Config::load_str(&yaml, Path::new("k8s.yml"), Mode::Server).unwrap();
    let manager = Manager::new(ManagerOptions {
        update_interval: Duration::from_millis(50),
        ..ManagerOptions::default()
    });
    let mut published = manager.subscribe();
    assert!(manager.apply_config(&scrape_jobs(&config)).is_empty());
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let m = manager.clone();
        let c = cancel.clone();
        async move { m.run(c).await }
    });
    let sets = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            published.changed().await.unwrap();
            let sets = published.borrow_and_update().clone();
            if sets.get("kubernetes-pods").is_some_and(|g| g.len() == 2) {
                return sets;
            }
        }
    })
    .await
    .unwrap();
    let job = config.scrape_configs().next().unwrap();
    let mut kept: Vec<Labels> = sets["kubernetes-pods"]
        .iter()
        .flat_map(|g| g.targets.iter().map(move |t| merged(g, t)))
        .filter_map(|l| process(&l, &rules(job)))
        .collect();
    kept.sort_by(|a, b| {
        a.get("__meta_kubernetes_pod_container_port_name")
            .cmp(&b.get("__meta_kubernetes_pod_container_port_name"))
    });
    // Both container ports of the annotated pod are kept and pointed at the annotated port.
    assert_eq!(kept.len(), 2);
    for l in &kept {
        assert_eq!(l.get("__address__"), Some("10.0.0.1:9102"));
        assert_eq!(l.get("__metrics_path__"), Some("/custom"));
        assert_eq!(l.get("namespace"), Some("default"));
        assert_eq!(l.get("pod"), Some("scraped"));
        assert_eq!(l.get("app"), Some("web"));
    }

    // The same targets through upstream's example configuration (its kubernetes-pods job).
    let example = exposition::conformance::corpus_dir()
        .expect("the conformance corpus (../shared/conformance)")
        .join("reference/prometheus/example_prometheus-kubernetes.yml");
    let upstream = Config::load_file(&example, Mode::Server).unwrap();
    let upstream_job = upstream
        .scrape_configs()
        .find(|j| j.job_name == "kubernetes-pods")
        .unwrap();
    let relabeled: Vec<Labels> = sets["kubernetes-pods"]
        .iter()
        .flat_map(|g| g.targets.iter().map(move |t| merged(g, t)))
        .filter_map(|l| process(&l, &rules(upstream_job)))
        .collect();
    assert_eq!(relabeled.len(), 4);
    assert!(
        relabeled
            .iter()
            .all(|l| l.get("namespace") == Some("default") && l.get("app") == Some("web"))
    );
    cancel.cancel();
    run.await.unwrap();
}

/// The example configuration's Kubernetes jobs all build discoverers (in-cluster, here from test locations).
#[test]
fn example_configuration_builds() {
    let example = exposition::conformance::corpus_dir()
        .expect("the conformance corpus (../shared/conformance)")
        .join("reference/prometheus/example_prometheus-kubernetes.yml");
    let config = Config::load_file(&example, Mode::Server).unwrap();
    let options = DiscovererOptions {
        kubernetes_in_cluster: Some(InCluster {
            api_server: "https://127.0.0.1:1".into(),
            token_file: "/nonexistent/token".into(),
            ca_file: "/dev/null".into(),
            namespace_file: "/nonexistent/ns".into(),
        }),
        ..DiscovererOptions::default()
    };
    let mut roles = Vec::new();
    for job in config.scrape_configs() {
        for k in &job.kubernetes_sd_configs {
            roles.push(format!("{:?}", k.role.unwrap()));
            // The CA file is empty: building fails on the CA, not on anything Kubernetes-specific.
            let err = KubernetesDiscoverer::new(k, &options).unwrap_err().to_string();
            assert!(err.contains("CA certificate from /dev/null"), "{}: {err}", job.job_name);
        }
    }
    assert_eq!(roles.len(), 7, "{roles:?}");
}
