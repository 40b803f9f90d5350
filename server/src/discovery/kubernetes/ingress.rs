//! Role `ingress`: one group per ingress (`ingress/<ns>/<name>`), one target per rule and path, addressed by the
//! rule's host, with the scheme `https` when a TLS entry covers the host (wildcards included).

use crate::discovery::{ADDRESS_LABEL, TargetGroup};
use crate::model::labels::Labels;

use super::objects::Ingress;
use super::{Context, META_PREFIX, NAMESPACE_LABEL, object_meta_labels};

/// Whether TLS host `pattern` (possibly `*.example.com`) covers `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        host.split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix)
    } else {
        pattern == host
    }
}

/// The ingress' group.
pub fn build(ingress: &Ingress, cx: &Context<'_>) -> TargetGroup {
    let mut group = TargetGroup::default();
    object_meta_labels(&mut group.labels, &ingress.metadata, "ingress");
    group.labels.set(NAMESPACE_LABEL, ingress.metadata.namespace.as_str());
    if let Some(class) = &ingress.spec.ingress_class_name {
        group
            .labels
            .set(format!("{META_PREFIX}ingress_class_name"), class.as_str());
    }
    cx.add_namespace_labels(&mut group.labels, &ingress.metadata.namespace);
    let p = |s: &str| format!("{META_PREFIX}ingress_{s}");
    for rule in &ingress.spec.rules {
        let tls = ingress
            .spec
            .tls
            .iter()
            .flat_map(|t| t.hosts.iter())
            .any(|h| host_matches(h, &rule.host));
        let paths: Vec<&str> = match &rule.http {
            None => vec!["/"],
            Some(http) => http
                .paths
                .iter()
                .map(|p| if p.path.is_empty() { "/" } else { p.path.as_str() })
                .collect(),
        };
        for path in paths {
            let mut t = Labels::new();
            t.set(ADDRESS_LABEL, rule.host.as_str());
            t.set(p("scheme"), if tls { "https" } else { "http" });
            t.set(p("host"), rule.host.as_str());
            t.set(p("path"), path);
            group.targets.push(t);
        }
    }
    group
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_host_patterns() {
        for (pattern, host, ok) in [
            ("a.example.com", "a.example.com", true),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", "example.com", false),
            ("b.example.com", "a.example.com", false),
        ] {
            assert_eq!(super::host_matches(pattern, host), ok, "{pattern} {host}");
        }
    }
}
