//! Unit tests of the role label builders on recorded API objects, the stores and kubeconfig loading.

use serde_json::{Value, json};

use super::*;

fn pod_json() -> Value {
    json!({
        "metadata": {
            "name": "web-1", "namespace": "default", "uid": "uid-1",
            "labels": {"app.kubernetes.io/name": "web"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [
                {"kind": "Other", "name": "x"},
                {"kind": "ReplicaSet", "name": "web-rs", "controller": true}
            ]
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [
                {"name": "app", "image": "web:1", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}
                ]},
                {"name": "sidecar", "image": "side:2"}
            ],
            "initContainers": [{"name": "init", "image": "init:3"}]
        },
        "status": {
            "phase": "Running", "podIP": "10.1.0.5", "hostIP": "192.168.0.10",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "containerID": "containerd://abc"}]
        }
    })
}

fn node_json() -> Value {
    json!({
        "metadata": {"name": "node-a", "labels": {"topology.kubernetes.io/zone": "z1"}},
        "spec": {"providerID": "aws:///i-1"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "node-a.local"},
                {"type": "InternalIP", "address": "192.168.0.10"},
                {"type": "InternalIP", "address": "192.168.0.11"}
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    })
}

fn stores(objects: &[(Kind, Value)]) -> Stores {
    let mut s = Stores::default();
    for (kind, object) in objects {
        s.apply(Change::Upsert {
            kind: *kind,
            object: object.clone(),
        })
        .unwrap();
    }
    s
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(n, v)| (*n, *v)).collect()
}

fn key(ns: &str, name: &str) -> Key {
    (ns.to_owned(), name.to_owned())
}

const POD_GROUP: [(&str, &str); 16] = [
    ("__meta_kubernetes_namespace", "default"),
    ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
    ("__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape", "true"),
    ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
    ("__meta_kubernetes_pod_controller_name", "web-rs"),
    ("__meta_kubernetes_pod_host_ip", "192.168.0.10"),
    ("__meta_kubernetes_pod_ip", "10.1.0.5"),
    ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
    ("__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name", "true"),
    ("__meta_kubernetes_pod_name", "web-1"),
    ("__meta_kubernetes_pod_node_name", "node-a"),
    ("__meta_kubernetes_pod_phase", "Running"),
    ("__meta_kubernetes_pod_ready", "true"),
    ("__meta_kubernetes_pod_uid", "uid-1"),
    ("__meta_kubernetes_node_name", "node-a"),
    ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", "z1"),
];

#[test]
fn pod_role() {
    let s = stores(&[(Kind::Pod, pod_json()), (Kind::Node, node_json())]);
    for attach_node in [false, true] {
        let cx = Context {
            stores: &s,
            attach_node,
            attach_namespace: false,
        };
        let g = build_group(KubernetesRole::Pod, &key("default", "web-1"), &cx);
        assert_eq!(g.source, "pod/default/web-1");
        let n = if attach_node { 16 } else { 14 };
        let mut want = labels(&POD_GROUP[..n]);
        if attach_node {
            want.set(
                "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
                "true",
            );
        }
        assert_eq!(g.labels, want, "attach_node {attach_node}");
        let port = |addr: &str, name: &str, number: &str| {
            labels(&[
                ("__address__", addr),
                ("__meta_kubernetes_pod_container_id", "containerd://abc"),
                ("__meta_kubernetes_pod_container_image", "web:1"),
                ("__meta_kubernetes_pod_container_init", "false"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_port_name", name),
                ("__meta_kubernetes_pod_container_port_number", number),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ])
        };
        assert_eq!(
            g.targets,
            vec![
                port("10.1.0.5:8080", "http", "8080"),
                port("10.1.0.5:9100", "metrics", "9100"),
                labels(&[
                    ("__address__", "10.1.0.5"),
                    ("__meta_kubernetes_pod_container_image", "side:2"),
                    ("__meta_kubernetes_pod_container_init", "false"),
                    ("__meta_kubernetes_pod_container_name", "sidecar"),
                ]),
                labels(&[
                    ("__address__", "10.1.0.5"),
                    ("__meta_kubernetes_pod_container_image", "init:3"),
                    ("__meta_kubernetes_pod_container_init", "true"),
                    ("__meta_kubernetes_pod_container_name", "init"),
                ]),
            ]
        );
    }

    // No IP yet: an empty group; no pod at all: an empty group with the source.
    let mut pending = pod_json();
    pending["status"]["podIP"] = json!("");
    let s = stores(&[(Kind::Pod, pending)]);
    let cx = Context {
        stores: &s,
        attach_node: false,
        attach_namespace: false,
    };
    let g = build_group(KubernetesRole::Pod, &key("default", "web-1"), &cx);
    assert!(g.targets.is_empty() && g.labels.is_empty());
    let g = build_group(KubernetesRole::Pod, &key("default", "gone"), &cx);
    assert_eq!(g, TargetGroup::empty("pod/default/gone"));
}

#[test]
fn service_role() {
    let cases = [
        (
            json!({"type": "ClusterIP", "clusterIP": "10.0.0.1", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
            vec![
                ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
                ("__meta_kubernetes_service_type", "ClusterIP"),
            ],
        ),
        (
            json!({"type": "ExternalName", "externalName": "db.example.com", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
            vec![
                ("__meta_kubernetes_service_external_name", "db.example.com"),
                ("__meta_kubernetes_service_type", "ExternalName"),
            ],
        ),
        (
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.2", "loadBalancerIP": "1.2.3.4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
            vec![
                ("__meta_kubernetes_service_cluster_ip", "10.0.0.2"),
                ("__meta_kubernetes_service_loadbalancer_ip", "1.2.3.4"),
                ("__meta_kubernetes_service_type", "LoadBalancer"),
            ],
        ),
    ];
    for (spec, extra) in cases {
        let svc = json!({"metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}, "spec": spec});
        let ns = json!({"metadata": {"name": "prod", "labels": {"team": "a"}, "annotations": {"owner": "x"}}});
        let s = stores(&[(Kind::Service, svc), (Kind::Namespace, ns)]);
        let cx = Context {
            stores: &s,
            attach_node: false,
            attach_namespace: true,
        };
        let g = build_group(KubernetesRole::Service, &key("prod", "web"), &cx);
        assert_eq!(g.source, "svc/prod/web");
        assert_eq!(
            g.labels,
            labels(&[
                ("__meta_kubernetes_namespace", "prod"),
                ("__meta_kubernetes_namespace_annotation_owner", "x"),
                ("__meta_kubernetes_namespace_annotationpresent_owner", "true"),
                ("__meta_kubernetes_namespace_label_team", "a"),
                ("__meta_kubernetes_namespace_labelpresent_team", "true"),
                ("__meta_kubernetes_service_label_app", "web"),
                ("__meta_kubernetes_service_labelpresent_app", "true"),
                ("__meta_kubernetes_service_name", "web"),
            ])
        );
        let mut want = labels(&[
            ("__address__", "web.prod.svc:80"),
            ("__meta_kubernetes_service_port_name", "http"),
            ("__meta_kubernetes_service_port_number", "80"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
        ]);
        for (n, v) in &extra {
            want.set(*n, *v);
        }
        assert_eq!(g.targets, vec![want], "{extra:?}");
    }
}

fn service_json() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1", "ports": [{"name": "http", "port": 8080}]}})
}

/// The pod-level labels of `pod_json()` (no namespace).
fn pod_level() -> Vec<(&'static str, &'static str)> {
    POD_GROUP[1..14].to_vec()
}

#[test]
fn endpoints_role() {
    let eps = json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"team": "a"}},
        "subsets": [{
            "addresses": [{"ip": "10.1.0.5", "nodeName": "node-a",
                           "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
            "notReadyAddresses": [{"ip": "10.1.0.9", "hostname": "h9"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    });
    let s = stores(&[
        (Kind::Endpoints, eps),
        (Kind::Service, service_json()),
        (Kind::Pod, pod_json()),
        (Kind::Node, node_json()),
    ]);
    let cx = Context {
        stores: &s,
        attach_node: true,
        attach_namespace: false,
    };
    let g = build_group(KubernetesRole::Endpoints, &key("default", "web"), &cx);
    assert_eq!(g.source, "endpoints/default/web");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_endpoints_label_team", "a"),
            ("__meta_kubernetes_endpoints_labelpresent_team", "true"),
            ("__meta_kubernetes_endpoints_name", "web"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_service_label_app", "web"),
            ("__meta_kubernetes_service_labelpresent_app", "true"),
            ("__meta_kubernetes_service_name", "web"),
        ])
    );
    let mut ready = labels(&[
        ("__address__", "10.1.0.5:8080"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
        ("__meta_kubernetes_endpoint_node_name", "node-a"),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
        ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", "z1"),
        (
            "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
            "true",
        ),
        ("__meta_kubernetes_node_name", "node-a"),
        ("__meta_kubernetes_pod_container_image", "web:1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]);
    for (n, v) in pod_level() {
        ready.set(n, v);
    }
    let not_ready = labels(&[
        ("__address__", "10.1.0.9:8080"),
        ("__meta_kubernetes_endpoint_hostname", "h9"),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "false"),
    ]);
    // The pod's metrics port is not an endpoint port: an extra target.
    let mut extra = labels(&[
        ("__address__", "10.1.0.5:9100"),
        ("__meta_kubernetes_pod_container_image", "web:1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ("__meta_kubernetes_pod_container_port_number", "9100"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]);
    for (n, v) in pod_level() {
        extra.set(n, v);
    }
    assert_eq!(g.targets, vec![ready, not_ready, extra]);
}

#[test]
fn endpointslice_role() {
    let slice = json!({
        "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.1.0.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}, "nodeName": "node-a", "zone": "z1"},
            {"addresses": ["10.1.0.9"], "conditions": {"ready": false}, "hostname": "h9"}
        ],
        "ports": [{"name": "metrics", "port": 9100, "protocol": "TCP", "appProtocol": "http"}]
    });
    let s = stores(&[
        (Kind::EndpointSlice, slice),
        (Kind::Service, service_json()),
        (Kind::Pod, pod_json()),
    ]);
    let cx = Context {
        stores: &s,
        attach_node: false,
        attach_namespace: false,
    };
    let g = build_group(KubernetesRole::EndpointSlice, &key("default", "web-abc"), &cx);
    assert_eq!(g.source, "endpointslice/default/web-abc");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            (
                "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                "web"
            ),
            (
                "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                "true"
            ),
            ("__meta_kubernetes_endpointslice_name", "web-abc"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_service_label_app", "web"),
            ("__meta_kubernetes_service_labelpresent_app", "true"),
            ("__meta_kubernetes_service_name", "web"),
        ])
    );
    let port = [
        ("__meta_kubernetes_endpointslice_port", "9100"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        ("__meta_kubernetes_endpointslice_port_name", "metrics"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
    ];
    let mut first = labels(&[
        ("__address__", "10.1.0.5:9100"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpointslice_address_target_name", "web-1"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_node_name", "node-a"),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "z1"),
        ("__meta_kubernetes_pod_container_image", "web:1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ("__meta_kubernetes_pod_container_port_number", "9100"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]);
    for (n, v) in port.iter().copied().chain(pod_level()) {
        first.set(n, v);
    }
    let mut second = labels(&[
        ("__address__", "10.1.0.9:9100"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "false"),
        ("__meta_kubernetes_endpointslice_endpoint_hostname", "h9"),
    ]);
    for (n, v) in port {
        second.set(n, v);
    }
    assert_eq!(g.targets.len(), 3, "{:#?}", g.targets);
    assert_eq!(g.targets[0], first);
    assert_eq!(g.targets[1], second);
    assert_eq!(g.targets[2].get("__address__"), Some("10.1.0.5:8080"));
}

#[test]
fn node_role() {
    let s = stores(&[(Kind::Node, node_json())]);
    let cx = Context {
        stores: &s,
        attach_node: false,
        attach_namespace: false,
    };
    let g = build_group(KubernetesRole::Node, &key("", "node-a"), &cx);
    assert_eq!(g.source, "node/node-a");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", "z1"),
            (
                "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
                "true"
            ),
            ("__meta_kubernetes_node_name", "node-a"),
            ("__meta_kubernetes_node_provider_id", "aws:///i-1"),
        ])
    );
    assert_eq!(
        g.targets,
        vec![labels(&[
            ("__address__", "192.168.0.10:10250"),
            ("__meta_kubernetes_node_address_Hostname", "node-a.local"),
            ("__meta_kubernetes_node_address_InternalIP", "192.168.0.10"),
            ("instance", "node-a"),
        ])]
    );
    let no_address = json!({"metadata": {"name": "bare"}});
    let s = stores(&[(Kind::Node, no_address)]);
    let cx = Context { stores: &s, ..cx };
    assert!(
        build_group(KubernetesRole::Node, &key("", "bare"), &cx)
            .targets
            .is_empty()
    );
}

#[test]
fn ingress_role() {
    let ing = json!({
        "metadata": {"name": "web", "namespace": "default", "annotations": {"a": "b"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["*.example.com"]}],
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/api"}, {"path": ""}]}},
                {"host": "plain.test"}
            ]
        }
    });
    let s = stores(&[(Kind::Ingress, ing)]);
    let cx = Context {
        stores: &s,
        attach_node: false,
        attach_namespace: false,
    };
    let g = build_group(KubernetesRole::Ingress, &key("default", "web"), &cx);
    assert_eq!(g.source, "ingress/default/web");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_ingress_annotation_a", "b"),
            ("__meta_kubernetes_ingress_annotationpresent_a", "true"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
            ("__meta_kubernetes_ingress_name", "web"),
            ("__meta_kubernetes_namespace", "default"),
        ])
    );
    let t = |host: &str, scheme: &str, path: &str| {
        labels(&[
            ("__address__", host),
            ("__meta_kubernetes_ingress_host", host),
            ("__meta_kubernetes_ingress_path", path),
            ("__meta_kubernetes_ingress_scheme", scheme),
        ])
    };
    assert_eq!(
        g.targets,
        vec![
            t("a.example.com", "https", "/api"),
            t("a.example.com", "https", "/"),
            t("plain.test", "http", "/"),
        ]
    );
}

#[test]
fn replace_drops_objects_missing_from_a_list() {
    let pod = |ns: &str, name: &str| json!({"metadata": {"name": name, "namespace": ns}});
    let mut s = stores(&[
        (Kind::Pod, pod("a", "p1")),
        (Kind::Pod, pod("a", "p2")),
        (Kind::Pod, pod("b", "p3")),
    ]);
    let changed = s
        .apply(Change::Replace {
            kind: Kind::Pod,
            namespace: "a".into(),
            items: vec![pod("a", "p2"), pod("a", "p4")],
        })
        .unwrap();
    assert_eq!(changed, vec![key("a", "p1"), key("a", "p2"), key("a", "p4")]);
    let keys: Vec<&Key> = s.pods.keys().collect();
    assert_eq!(keys, vec![&key("a", "p2"), &key("a", "p4"), &key("b", "p3")]);
    let changed = s
        .apply(Change::Delete {
            kind: Kind::Pod,
            object: pod("b", "p3"),
        })
        .unwrap();
    assert_eq!(changed, vec![key("b", "p3")]);
    assert_eq!(s.pods.len(), 2);
}

#[test]
fn watched_kinds_per_role() {
    use KubernetesRole as R;
    let cases = [
        (R::Pod, false, false, vec![Kind::Pod]),
        (R::Pod, true, true, vec![Kind::Pod, Kind::Node, Kind::Namespace]),
        (
            R::Endpoints,
            false,
            false,
            vec![Kind::Endpoints, Kind::Service, Kind::Pod],
        ),
        (
            R::EndpointSlice,
            true,
            false,
            vec![Kind::EndpointSlice, Kind::Service, Kind::Pod, Kind::Node],
        ),
        (R::Node, true, true, vec![Kind::Node]),
        (R::Ingress, false, true, vec![Kind::Ingress, Kind::Namespace]),
    ];
    for (role, node, ns, want) in cases {
        assert_eq!(watched_kinds(role, node, ns), want, "{role:?}");
    }
}

#[test]
fn kubeconfig_loading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let ca =
        base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    use base64::Engine;
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\ncontexts:\n- name: dev\n  context: {{cluster: c1, user: u1, namespace: x}}\n- name: other\n  context: {{cluster: c2, user: u2}}\nclusters:\n- name: c1\n  cluster: {{server: 'https://k8s.example:6443', certificate-authority-data: {ca}, tls-server-name: api.internal}}\nusers:\n- name: u1\n  user: {{tokenFile: token.txt, client-certificate: certs/c.pem, client-key: certs/c.key}}\n"
        ),
    )
    .unwrap();
    let (server, http) = load_kubeconfig(&path).unwrap();
    assert_eq!(server, "https://k8s.example:6443");
    let tls = http.tls_config.unwrap();
    assert!(tls.ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(tls.server_name, "api.internal");
    assert_eq!(tls.cert_file, dir.path().join("certs/c.pem").display().to_string());
    assert_eq!(tls.key_file, dir.path().join("certs/c.key").display().to_string());
    let auth = http.authorization.unwrap();
    assert_eq!(
        auth.credentials_file,
        dir.path().join("token.txt").display().to_string()
    );

    for (text, want) in [
        ("current-context: nope\n", "current context \"nope\" not found"),
        (
            "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
            "exec credential plugins are not supported",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = load_kubeconfig(&path).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn secondary_changes_reach_the_groups_that_use_them() {
    let eps = |ns: &str, name: &str, pod: &str, node: &str| {
        json!({"metadata": {"name": name, "namespace": ns},
               "subsets": [{"addresses": [{"ip": "10.0.0.1", "nodeName": node,
                                           "targetRef": {"kind": "Pod", "name": pod}}],
                            "ports": [{"port": 80}]}]})
    };
    let slice = |ns: &str, name: &str, svc: &str, pod: &str| {
        json!({"metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
               "endpoints": [{"addresses": ["10.0.0.1"], "targetRef": {"kind": "Pod", "name": pod}}],
               "ports": [{"port": 80}]})
    };
    let s = stores(&[
        (Kind::Endpoints, eps("a", "web", "p1", "n1")),
        (Kind::Endpoints, eps("a", "db", "p2", "n2")),
        (Kind::Endpoints, eps("b", "web", "p1", "n1")),
        (Kind::EndpointSlice, slice("a", "web-1", "web", "p1")),
        (Kind::EndpointSlice, slice("a", "web-2", "web", "p3")),
        (Kind::EndpointSlice, slice("a", "db-1", "db", "p2")),
        (Kind::Pod, pod_json()),
    ]);
    use KubernetesRole as R;
    let cases = [
        (R::Endpoints, Kind::Service, key("a", "web"), vec![key("a", "web")]),
        (R::Endpoints, Kind::Pod, key("a", "p1"), vec![key("a", "web")]),
        (
            R::Endpoints,
            Kind::Node,
            key("", "n1"),
            vec![key("a", "web"), key("b", "web")],
        ),
        (R::Endpoints, Kind::Namespace, key("", "b"), vec![key("b", "web")]),
        (
            R::EndpointSlice,
            Kind::Service,
            key("a", "web"),
            vec![key("a", "web-1"), key("a", "web-2")],
        ),
        (R::EndpointSlice, Kind::Pod, key("a", "p2"), vec![key("a", "db-1")]),
        (R::Pod, Kind::Node, key("", "node-a"), vec![key("default", "web-1")]),
        (R::Pod, Kind::Node, key("", "other"), vec![]),
    ];
    for (role, kind, k, want) in cases {
        assert_eq!(affected(role, kind, &k, &s), want, "{role:?} {kind:?} {k:?}");
    }
}
