//! Roles `endpoints` and `endpointslice`: one group per Endpoints object (`endpoints/<ns>/<name>`) or
//! EndpointSlice (`endpointslice/<ns>/<name>`), one target per address and port. Group labels carry the owning
//! service's labels; targets backed by a pod carry the pod's labels and, when a container declares the port, the
//! container's. Container ports of those pods that no endpoint port covers become extra targets, as upstream.

use std::collections::BTreeMap;

use crate::discovery::{ADDRESS_LABEL, TargetGroup};
use crate::model::labels::Labels;

use super::objects::{EndpointSlice, Endpoints, ObjectReference, Pod};
use super::pod::{
    CONTAINER_IMAGE, CONTAINER_NAME, CONTAINER_PORT_NAME, CONTAINER_PORT_NUMBER, CONTAINER_PORT_PROTOCOL, pod_labels,
};
use super::service::service_labels;
use super::{Context, META_PREFIX, NAMESPACE_LABEL, host_port, merge, object_meta_labels, sanitize};

/// The pods seen while building a group, with the ports the endpoints already cover.
#[derive(Default)]
struct SeenPods<'a> {
    pods: BTreeMap<(String, String), (&'a Pod, Vec<i64>)>,
}

impl<'a> SeenPods<'a> {
    /// Resolves a `Pod` target reference; records the pod and the covered port.
    fn resolve(
        &mut self,
        cx: &Context<'a>,
        r: Option<&ObjectReference>,
        ns: &str,
        port: Option<i64>,
    ) -> Option<&'a Pod> {
        let r = r.filter(|r| r.kind == "Pod")?;
        let ns = if r.namespace.is_empty() {
            ns
        } else {
            r.namespace.as_str()
        };
        let key = (ns.to_owned(), r.name.clone());
        let pod = cx.stores.pods.get(&key)?;
        let entry = self.pods.entry(key).or_insert((pod, Vec::new()));
        entry.1.extend(port);
        Some(pod)
    }

    /// Targets for the container ports no endpoint covered.
    fn extra_targets(&self, out: &mut Vec<Labels>) {
        for (pod, covered) in self.pods.values() {
            if pod.status.pod_ip.is_empty() {
                continue;
            }
            for c in &pod.spec.containers {
                for cport in &c.ports {
                    if covered.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = Labels::new();
                    t.set(ADDRESS_LABEL, host_port(&pod.status.pod_ip, cport.container_port));
                    t.set(CONTAINER_NAME, c.name.as_str());
                    t.set(CONTAINER_IMAGE, c.image.as_str());
                    t.set(CONTAINER_PORT_NAME, cport.name.as_str());
                    t.set(CONTAINER_PORT_NUMBER, cport.container_port.to_string());
                    t.set(CONTAINER_PORT_PROTOCOL, cport.protocol.as_str());
                    merge(&mut t, &pod_labels(pod));
                    out.push(t);
                }
            }
        }
    }
}

/// Adds the pod's labels and, when a container declares `port`, that container's labels.
fn add_pod(t: &mut Labels, pod: &Pod, port: Option<i64>, protocol: &str) {
    merge(t, &pod_labels(pod));
    let Some(port) = port else { return };
    for c in &pod.spec.containers {
        if let Some(cport) = c.ports.iter().find(|p| p.container_port == port) {
            t.set(CONTAINER_NAME, c.name.as_str());
            t.set(CONTAINER_IMAGE, c.image.as_str());
            t.set(CONTAINER_PORT_NAME, cport.name.as_str());
            t.set(CONTAINER_PORT_NUMBER, port.to_string());
            t.set(
                CONTAINER_PORT_PROTOCOL,
                if protocol.is_empty() {
                    cport.protocol.as_str()
                } else {
                    protocol
                },
            );
        }
    }
}

/// The Endpoints object's group.
pub fn build_endpoints(eps: &Endpoints, cx: &Context<'_>) -> TargetGroup {
    let ns = eps.metadata.namespace.as_str();
    let mut group = TargetGroup::default();
    group.labels.set(NAMESPACE_LABEL, ns);
    if let Some(svc) = cx.stores.services.get(&(ns.to_owned(), eps.metadata.name.clone())) {
        merge(&mut group.labels, &service_labels(svc));
    }
    object_meta_labels(&mut group.labels, &eps.metadata, "endpoints");
    cx.add_namespace_labels(&mut group.labels, ns);

    let p = |s: &str| format!("{META_PREFIX}endpoint_{s}");
    let mut seen = SeenPods::default();
    for subset in &eps.subsets {
        for port in &subset.ports {
            let addresses = subset
                .addresses
                .iter()
                .map(|a| (a, "true"))
                .chain(subset.not_ready_addresses.iter().map(|a| (a, "false")));
            for (addr, ready) in addresses {
                let mut t = Labels::new();
                t.set(ADDRESS_LABEL, host_port(&addr.ip, port.port));
                t.set(p("port_name"), port.name.as_str());
                t.set(p("port_protocol"), port.protocol.as_str());
                t.set(p("ready"), ready);
                if let Some(r) = &addr.target_ref {
                    t.set(p("address_target_kind"), r.kind.as_str());
                    t.set(p("address_target_name"), r.name.as_str());
                }
                if let Some(n) = &addr.node_name {
                    t.set(p("node_name"), n.as_str());
                }
                t.set(p("hostname"), addr.hostname.as_str());
                let node = addr.node_name.as_deref().or_else(|| {
                    addr.target_ref
                        .as_ref()
                        .filter(|r| r.kind == "Node")
                        .map(|r| r.name.as_str())
                });
                cx.add_node_labels(&mut t, node);
                if let Some(pod) = seen.resolve(cx, addr.target_ref.as_ref(), ns, Some(port.port)) {
                    add_pod(&mut t, pod, Some(port.port), &port.protocol);
                }
                group.targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut group.targets);
    group
}

/// The label naming a slice's service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The EndpointSlice's group.
pub fn build_slice(slice: &EndpointSlice, cx: &Context<'_>) -> TargetGroup {
    let ns = slice.metadata.namespace.as_str();
    let mut group = TargetGroup::default();
    group.labels.set(NAMESPACE_LABEL, ns);
    let p = |s: &str| format!("{META_PREFIX}endpointslice_{s}");
    group.labels.set(p("address_type"), slice.address_type.as_str());
    object_meta_labels(&mut group.labels, &slice.metadata, "endpointslice");
    if let Some(name) = slice.metadata.labels.get(SERVICE_NAME_LABEL)
        && let Some(svc) = cx.stores.services.get(&(ns.to_owned(), name.clone()))
    {
        merge(&mut group.labels, &service_labels(svc));
    }
    cx.add_namespace_labels(&mut group.labels, ns);

    let mut seen = SeenPods::default();
    for ep in &slice.endpoints {
        for port in &slice.ports {
            for addr in &ep.addresses {
                let mut t = Labels::new();
                t.set(
                    ADDRESS_LABEL,
                    match port.port {
                        Some(n) => host_port(addr, n),
                        None => addr.clone(),
                    },
                );
                let opt = |t: &mut Labels, name: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        t.set(p(name), v.as_str());
                    }
                };
                opt(&mut t, "port_name", &port.name);
                opt(&mut t, "port_protocol", &port.protocol);
                if let Some(n) = port.port {
                    t.set(p("port"), n.to_string());
                }
                opt(&mut t, "port_app_protocol", &port.app_protocol);
                let cond = |t: &mut Labels, name: &str, v: Option<bool>| {
                    if let Some(v) = v {
                        t.set(p(name), v.to_string());
                    }
                };
                cond(&mut t, "endpoint_conditions_ready", ep.conditions.ready);
                cond(&mut t, "endpoint_conditions_serving", ep.conditions.serving);
                cond(&mut t, "endpoint_conditions_terminating", ep.conditions.terminating);
                opt(&mut t, "endpoint_hostname", &ep.hostname);
                if let Some(r) = &ep.target_ref {
                    t.set(p("address_target_kind"), r.kind.as_str());
                    t.set(p("address_target_name"), r.name.as_str());
                }
                opt(&mut t, "endpoint_node_name", &ep.node_name);
                opt(&mut t, "endpoint_zone", &ep.zone);
                for (k, v) in &ep.deprecated_topology {
                    let ln = sanitize(k);
                    t.set(p(&format!("endpoint_topology_{ln}")), v.as_str());
                    t.set(p(&format!("endpoint_topology_present_{ln}")), "true");
                }
                let node = match &ep.target_ref {
                    Some(r) if r.kind == "Node" => Some(r.name.as_str()),
                    _ => ep.node_name.as_deref(),
                };
                cx.add_node_labels(&mut t, node);
                if let Some(pod) = seen.resolve(cx, ep.target_ref.as_ref(), ns, port.port) {
                    add_pod(&mut t, pod, port.port, "");
                }
                group.targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut group.targets);
    group
}
