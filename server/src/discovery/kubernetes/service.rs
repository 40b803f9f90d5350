//! Role `service`: one group per service (`svc/<ns>/<name>`), one target per service port, addressed by the
//! service's DNS name (`<name>.<ns>.svc:<port>`).

use crate::discovery::{ADDRESS_LABEL, TargetGroup};
use crate::model::labels::Labels;

use super::objects::Service;
use super::{Context, META_PREFIX, NAMESPACE_LABEL, object_meta_labels};

/// The service-level labels (namespace, name, labels, annotations), also attached by the endpoint roles.
pub fn service_labels(svc: &Service) -> Labels {
    let mut l = Labels::new();
    l.set(NAMESPACE_LABEL, svc.metadata.namespace.as_str());
    object_meta_labels(&mut l, &svc.metadata, "service");
    l
}

/// The service's group.
pub fn build(svc: &Service, cx: &Context<'_>) -> TargetGroup {
    let mut group = TargetGroup {
        labels: service_labels(svc),
        ..TargetGroup::default()
    };
    cx.add_namespace_labels(&mut group.labels, &svc.metadata.namespace);
    let p = |s: &str| format!("{META_PREFIX}service_{s}");
    for port in &svc.spec.ports {
        let mut t = Labels::new();
        t.set(
            ADDRESS_LABEL,
            format!("{}.{}.svc:{}", svc.metadata.name, svc.metadata.namespace, port.port),
        );
        t.set(p("port_name"), port.name.as_str());
        t.set(p("port_number"), port.port.to_string());
        t.set(p("port_protocol"), port.protocol.as_str());
        t.set(p("type"), svc.spec.kind.as_str());
        if svc.spec.kind == "ExternalName" {
            t.set(p("external_name"), svc.spec.external_name.as_str());
        } else {
            t.set(p("cluster_ip"), svc.spec.cluster_ip.as_str());
        }
        if svc.spec.kind == "LoadBalancer" {
            t.set(p("loadbalancer_ip"), svc.spec.load_balancer_ip.as_str());
        }
        group.targets.push(t);
    }
    group
}
