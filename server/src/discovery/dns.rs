//! `dns_sd_configs`: targets from DNS records (SRV, A, AAAA, MX, NS), re-queried every `refresh_interval`.
//!
//! Each name is one group (source: the name). Targets carry `__meta_dns_name` and, by record type,
//! `__meta_dns_srv_record_target` and `__meta_dns_srv_record_port`, `__meta_dns_mx_record_target` or
//! `__meta_dns_ns_record_target` (record targets keep their final dot; the address drops it), as upstream. A name
//! that does not exist (NXDOMAIN, or no records of the type) empties its group; any other failure keeps the
//! previous targets and is logged and counted in `prometheus_sd_dns_lookup_failures_total`.
//!
//! Names are resolved with the system's resolver configuration (`/etc/resolv.conf`: servers, search domains,
//! ndots) without caching, so every refresh asks the servers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::{DnsRecordType, DnsSdConfig};
use crate::model::labels::Labels;

use super::{
    ADDRESS_LABEL, BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, SdMetrics, TargetGroup,
};

/// The queried name.
pub const NAME_LABEL: &str = "__meta_dns_name";
/// An SRV record's target.
pub const SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
/// An SRV record's port.
pub const SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";
/// An MX record's exchange.
pub const MX_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
/// An NS record's name server.
pub const NS_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// Why DNS discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The system resolver configuration could not be read.
    #[error("could not load the resolver configuration (/etc/resolv.conf): {0}")]
    SystemConfig(String),
    /// A lookup failed with something other than "no such name".
    #[error("could not resolve {name:?} ({record_type}): {reason}")]
    Lookup {
        /// The name.
        name: String,
        /// The record type.
        record_type: RecordType,
        /// The resolver's error.
        reason: String,
    },
}

/// Queries the names of one `dns_sd_configs` entry.
#[derive(Debug)]
pub struct DnsDiscoverer {
    names: Vec<String>,
    record_type: RecordType,
    port: u16,
    refresh_interval: Duration,
    resolver: TokioResolver,
    metrics: Option<Arc<SdMetrics>>,
    job: String,
    last: HashMap<String, TargetGroup>,
}

/// The [`super::MECHANISMS`] constructor.
pub fn build(config: &SdConfig, options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
    match config {
        SdConfig::Dns(c) => Ok(Box::new(DnsDiscoverer::new(c, options)?)),
        other => Err(DiscoveryError::Mechanism {
            expected: "dns",
            got: other.mechanism(),
        }),
    }
}

/// A resolver for the system configuration, or for `servers` (no search domains) when given.
fn resolver(servers: Option<&[SocketAddr]>) -> Result<TokioResolver, DnsError> {
    let mut builder = match servers {
        Some(servers) => {
            let name_servers = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    NameServerConfig::new(s.ip(), true, vec![udp, tcp])
                })
                .collect();
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(name_servers),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(|e| DnsError::SystemConfig(e.to_string()))?,
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.cache_size = 0;
    options.timeout = Duration::from_secs(5);
    builder.build().map_err(|e| DnsError::SystemConfig(e.to_string()))
}

/// `host:port`, with brackets around IPv6 addresses.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The targets the answer records describe (records of other types, like CNAMEs, are skipped).
pub fn targets(name: &str, port: u16, records: &[RData]) -> Vec<Labels> {
    let mut out = Vec::new();
    for rdata in records {
        let mut t = Labels::new();
        t.set(NAME_LABEL, name);
        let address = match rdata {
            RData::SRV(srv) => {
                let target = srv.target.to_string();
                t.set(SRV_TARGET_LABEL, target.as_str());
                t.set(SRV_PORT_LABEL, srv.port.to_string());
                host_port(target.trim_end_matches('.'), srv.port)
            }
            RData::A(a) => host_port(&IpAddr::V4(a.0).to_string(), port),
            RData::AAAA(a) => host_port(&IpAddr::V6(a.0).to_string(), port),
            RData::MX(mx) => {
                let target = mx.exchange.to_string();
                t.set(MX_TARGET_LABEL, target.as_str());
                host_port(target.trim_end_matches('.'), port)
            }
            RData::NS(ns) => {
                let target = ns.0.to_string();
                t.set(NS_TARGET_LABEL, target.as_str());
                host_port(target.trim_end_matches('.'), port)
            }
            _ => continue,
        };
        t.set(ADDRESS_LABEL, address);
        out.push(t);
    }
    out
}

impl DnsDiscoverer {
    /// A discoverer for `config`; `options.dns_servers` replaces the system's servers.
    pub fn new(config: &DnsSdConfig, options: &DiscovererOptions) -> Result<DnsDiscoverer, DnsError> {
        Ok(DnsDiscoverer {
            names: config.names.clone(),
            record_type: match config.record_type {
                DnsRecordType::Srv => RecordType::SRV,
                DnsRecordType::A => RecordType::A,
                DnsRecordType::Aaaa => RecordType::AAAA,
                DnsRecordType::Mx => RecordType::MX,
                DnsRecordType::Ns => RecordType::NS,
            },
            port: config.port,
            refresh_interval: Duration::from_millis(config.refresh_interval.as_millis().max(1)),
            resolver: resolver(options.dns_servers.as_deref())?,
            metrics: options.metrics.clone(),
            job: options.job.clone(),
            last: HashMap::new(),
        })
    }

    /// Looks `name` up: its group, or an error when the servers could not say.
    pub async fn lookup(&self, name: &str) -> Result<TargetGroup, DnsError> {
        let result = self.resolver.lookup(name, self.record_type).await;
        if let Some(m) = &self.metrics {
            m.dns_lookup(result.as_ref().is_err_and(|e| !e.is_no_records_found()));
        }
        let records: Vec<RData> = match result {
            Ok(lookup) => lookup.answers().iter().map(|r| r.data.clone()).collect(),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => {
                return Err(DnsError::Lookup {
                    name: name.to_owned(),
                    record_type: self.record_type,
                    reason: e.to_string(),
                });
            }
        };
        Ok(TargetGroup {
            source: name.to_owned(),
            targets: targets(name, self.port, &records),
            labels: Labels::new(),
        })
    }

    /// Looks every name up; returns the groups that changed.
    pub async fn refresh(&mut self) -> Vec<TargetGroup> {
        let mut out = Vec::new();
        for name in self.names.clone() {
            match self.lookup(&name).await {
                Ok(group) => {
                    if self.last.get(&name) != Some(&group) {
                        self.last.insert(name, group.clone());
                        out.push(group);
                    }
                }
                Err(e) => {
                    if let Some(m) = &self.metrics {
                        m.refresh_failure("dns", &self.job);
                    }
                    tracing::error!(job = %self.job, "error refreshing DNS targets: {e}");
                }
            }
        }
        out
    }
}

impl Discoverer for DnsDiscoverer {
    fn run(mut self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            loop {
                let groups = tokio::select! {
                    _ = cancel.cancelled() => return,
                    g = self.refresh() => g,
                };
                if !groups.is_empty() && !super::send(&cancel, &updates, groups).await {
                    return;
                }
                if !super::sleep(&cancel, self.refresh_interval).await {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::Name;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, SRV};

    #[test]
    fn record_targets() {
        let name = |s: &str| Name::from_ascii(s).unwrap();
        type Case = (RData, u16, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                RData::SRV(SRV::new(0, 0, 9100, name("node1.example.org."))),
                0,
                vec![
                    ("__address__", "node1.example.org:9100"),
                    (NAME_LABEL, "_node._tcp.example.org"),
                    (SRV_PORT_LABEL, "9100"),
                    (SRV_TARGET_LABEL, "node1.example.org."),
                ],
            ),
            (
                RData::A(A::new(10, 0, 0, 1)),
                80,
                vec![("__address__", "10.0.0.1:80"), (NAME_LABEL, "_node._tcp.example.org")],
            ),
            (
                RData::AAAA(AAAA::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
                80,
                vec![("__address__", "[fe80::1]:80"), (NAME_LABEL, "_node._tcp.example.org")],
            ),
            (
                RData::MX(MX::new(10, name("mail.example.org."))),
                25,
                vec![
                    ("__address__", "mail.example.org:25"),
                    (MX_TARGET_LABEL, "mail.example.org."),
                    (NAME_LABEL, "_node._tcp.example.org"),
                ],
            ),
        ];
        for (rdata, port, want) in cases {
            let got = targets("_node._tcp.example.org", port, std::slice::from_ref(&rdata));
            assert_eq!(got, vec![want.into_iter().collect::<Labels>()], "{rdata:?}");
        }
        let cname = RData::CNAME(CNAME(name("other.example.org.")));
        assert!(targets("x", 80, &[cname]).is_empty());
    }
}
