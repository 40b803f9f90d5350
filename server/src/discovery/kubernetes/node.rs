//! Role `node`: one group per node (`node/<name>`) with one target, the kubelet (`<address>:<kubelet port>`),
//! whose `instance` is the node name. The address is the first of InternalIP, InternalDNS, ExternalIP,
//! ExternalDNS, LegacyHostIP, Hostname.

use std::collections::BTreeMap;

use crate::discovery::{ADDRESS_LABEL, TargetGroup};
use crate::model::labels::Labels;

use super::objects::Node;
use super::{META_PREFIX, host_port, object_meta_labels, sanitize};

const ADDRESS_PREFERENCE: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// The node's group; empty when the node has no usable address.
pub fn build(node: &Node) -> TargetGroup {
    let mut group = TargetGroup::default();
    group
        .labels
        .set(format!("{META_PREFIX}node_provider_id"), node.spec.provider_id.as_str());
    object_meta_labels(&mut group.labels, &node.metadata, "node");

    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for a in &node.status.addresses {
        by_type.entry(a.kind.as_str()).or_insert(a.address.as_str());
    }
    let Some(address) = ADDRESS_PREFERENCE.iter().find_map(|t| by_type.get(t)) else {
        tracing::warn!(node = %node.metadata.name, "kubernetes_sd: no node address found");
        return TargetGroup::default();
    };
    let mut t = Labels::new();
    t.set(
        ADDRESS_LABEL,
        host_port(address, node.status.daemon_endpoints.kubelet_endpoint.port),
    );
    t.set("instance", node.metadata.name.as_str());
    for (kind, a) in &by_type {
        t.set(sanitize(&format!("{META_PREFIX}node_address_{kind}")), *a);
    }
    group.targets.push(t);
    group
}
