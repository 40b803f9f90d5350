//! Role `pod`: one group per pod (`pod/<ns>/<name>`), one target per container port (or per container without
//! ports, address = pod IP), init containers included and marked.

use crate::discovery::{ADDRESS_LABEL, TargetGroup};
use crate::model::labels::Labels;

use super::objects::{Container, ContainerStatus, Pod};
use super::{Context, META_PREFIX, NAMESPACE_LABEL, host_port, object_meta_labels};

/// Pod container name.
pub const CONTAINER_NAME: &str = "__meta_kubernetes_pod_container_name";
/// Pod container runtime ID.
pub const CONTAINER_ID: &str = "__meta_kubernetes_pod_container_id";
/// Pod container image.
pub const CONTAINER_IMAGE: &str = "__meta_kubernetes_pod_container_image";
/// Container port name.
pub const CONTAINER_PORT_NAME: &str = "__meta_kubernetes_pod_container_port_name";
/// Container port number.
pub const CONTAINER_PORT_NUMBER: &str = "__meta_kubernetes_pod_container_port_number";
/// Container port protocol.
pub const CONTAINER_PORT_PROTOCOL: &str = "__meta_kubernetes_pod_container_port_protocol";
/// Whether the container is an init container.
pub const CONTAINER_INIT: &str = "__meta_kubernetes_pod_container_init";

/// The pod-level labels every role that resolves a pod attaches (`__meta_kubernetes_pod_*`, no namespace).
pub fn pod_labels(pod: &Pod) -> Labels {
    let mut l = Labels::new();
    let p = |s: &str| format!("{META_PREFIX}pod_{s}");
    l.set(p("ip"), pod.status.pod_ip.as_str());
    l.set(p("ready"), ready(pod));
    l.set(p("phase"), pod.status.phase.as_str());
    l.set(p("node_name"), pod.spec.node_name.as_str());
    l.set(p("host_ip"), pod.status.host_ip.as_str());
    l.set(p("uid"), pod.metadata.uid.as_str());
    object_meta_labels(&mut l, &pod.metadata, "pod");
    if let Some(owner) = pod
        .metadata
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true))
    {
        l.set(p("controller_kind"), owner.kind.as_str());
        l.set(p("controller_name"), owner.name.as_str());
    }
    l
}

/// The `Ready` condition, lower-cased; `unknown` without one.
fn ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

fn container_id(statuses: &[ContainerStatus], name: &str) -> String {
    statuses
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.container_id.clone())
        .unwrap_or_default()
}

/// The container labels of one target.
pub fn container_labels(c: &Container, id: &str, init: bool) -> Labels {
    let mut t = Labels::new();
    t.set(CONTAINER_NAME, c.name.as_str());
    t.set(CONTAINER_ID, id);
    t.set(CONTAINER_IMAGE, c.image.as_str());
    t.set(CONTAINER_INIT, if init { "true" } else { "false" });
    t
}

/// The pod's group; empty while the pod has no IP (starting or evicted).
pub fn build(pod: &Pod, cx: &Context<'_>) -> TargetGroup {
    let mut group = TargetGroup::default();
    let ip = pod.status.pod_ip.as_str();
    if ip.is_empty() {
        return group;
    }
    group.labels = pod_labels(pod);
    group.labels.set(NAMESPACE_LABEL, pod.metadata.namespace.as_str());
    cx.add_node_labels(&mut group.labels, Some(&pod.spec.node_name));
    cx.add_namespace_labels(&mut group.labels, &pod.metadata.namespace);

    let all = pod
        .spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)));
    for (c, init) in all {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let base = container_labels(c, &container_id(statuses, &c.name), init);
        if c.ports.is_empty() {
            let mut t = base;
            t.set(ADDRESS_LABEL, ip);
            group.targets.push(t);
            continue;
        }
        for port in &c.ports {
            let mut t = base.clone();
            t.set(ADDRESS_LABEL, host_port(ip, port.container_port));
            t.set(CONTAINER_PORT_NUMBER, port.container_port.to_string());
            t.set(CONTAINER_PORT_NAME, port.name.as_str());
            t.set(CONTAINER_PORT_PROTOCOL, port.protocol.as_str());
            group.targets.push(t);
        }
    }
    group
}
