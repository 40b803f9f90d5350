//! `ipvs`: IP Virtual Server statistics from `/proc/net/ip_vs_stats` (connection, packet and byte totals) and
//! `/proc/net/ip_vs` (per backend active and inactive connections and weight). The backends are labelled by
//! `--collector.ipvs.backend-labels`; backends that share the chosen label values are summed.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, gauge, string_arg};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("ipvs", true, build).with_args(args);

const BACKEND_LABELS: &str = "collector.ipvs.backend-labels";

/// Every backend label, in upstream's default order.
const ALL_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

fn args() -> Vec<Arg> {
    vec![string_arg(
        BACKEND_LABELS,
        Some("local_address,local_port,remote_address,remote_port,proto,local_mark"),
        "Comma separated list for IPVS backend stats labels.",
    )]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let flag = s.matches.get_one::<String>(BACKEND_LABELS).map_or("", String::as_str);
    Ok(Box::new(Ipvs {
        paths: s.paths.clone(),
        labels: parse_labels(flag)?,
    }))
}

/// The backend labels of the flag value; unknown names are rejected.
fn parse_labels(flag: &str) -> Result<Vec<&'static str>, BuildError> {
    flag.split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            ALL_LABELS
                .iter()
                .copied()
                .find(|k| *k == l)
                .ok_or_else(|| BuildError::InvalidFlag {
                    collector: "ipvs",
                    flag: BACKEND_LABELS.to_string(),
                    reason: format!("unknown IPVS backend label {l:?}"),
                })
        })
        .collect()
}

struct Ipvs {
    paths: Paths,
    labels: Vec<&'static str>,
}

/// One backend of a virtual server.
#[derive(Debug, Clone, PartialEq)]
struct Backend {
    /// Values of [`ALL_LABELS`], in that order.
    labels: [String; 6],
    active: f64,
    inactive: f64,
    weight: f64,
}

/// Parses `HEX:PORT` (IPv4) or `[v6]:PORT` into (address, port).
fn parse_address(path: &Path, line: usize, field: &str) -> Result<(String, String), CollectorError> {
    let bad = || CollectorError::malformed(path, line, format!("invalid address {field:?}"));
    let (addr, port) = field.rsplit_once(':').ok_or_else(bad)?;
    let port = u16::from_str_radix(port, 16).map_err(|_| bad())?;
    let addr = if let Some(v6) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        v6.parse::<Ipv6Addr>().map_err(|_| bad())?.to_string()
    } else {
        Ipv4Addr::from(u32::from_str_radix(addr, 16).map_err(|_| bad())?).to_string()
    };
    Ok((addr, port.to_string()))
}

/// Parses `/proc/net/ip_vs`.
fn parse_backends(path: &Path, text: &str) -> Result<Vec<Backend>, CollectorError> {
    let mut out = Vec::new();
    // (local address, local port, proto, fwmark) of the current virtual server.
    let mut current: Option<(String, String, String, String)> = None;
    for (n, line) in text.lines().enumerate().skip(3) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.first().copied() {
            None => continue,
            Some("TCP" | "UDP" | "SCTP") if fields.len() >= 2 => {
                let (addr, port) = parse_address(path, n + 1, fields[1])?;
                current = Some((addr, port, fields[0].to_string(), String::new()));
            }
            Some("FWM") if fields.len() >= 2 => {
                current = Some((String::new(), "0".to_string(), "FWM".to_string(), fields[1].to_string()));
            }
            Some("->") if fields.len() >= 6 => {
                let Some((laddr, lport, proto, mark)) = &current else {
                    return Err(CollectorError::malformed(
                        path,
                        n + 1,
                        "backend before any virtual server",
                    ));
                };
                let (raddr, rport) = parse_address(path, n + 1, fields[1])?;
                let num = |f: &str| super::parse_num::<u64>(path, n + 1, f).map(|v| v as f64);
                out.push(Backend {
                    labels: [laddr.clone(), lport.clone(), raddr, rport, proto.clone(), mark.clone()],
                    weight: num(fields[3])?,
                    active: num(fields[4])?,
                    inactive: num(fields[5])?,
                });
            }
            _ => {
                return Err(CollectorError::malformed(
                    path,
                    n + 1,
                    format!("unexpected line {line:?}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Parses `/proc/net/ip_vs_stats`: the third line holds the hexadecimal totals.
fn parse_stats(path: &Path, text: &str) -> Result<[f64; 5], CollectorError> {
    let line = text
        .lines()
        .nth(2)
        .ok_or_else(|| CollectorError::malformed(path, 3, "missing totals line"))?;
    let values: Vec<f64> = line
        .split_whitespace()
        .map(|f| {
            u64::from_str_radix(f, 16)
                .map(|v| v as f64)
                .map_err(|_| CollectorError::malformed(path, 3, format!("invalid hex value {f:?}")))
        })
        .collect::<Result<_, _>>()?;
    values
        .try_into()
        .map_err(|_| CollectorError::malformed(path, 3, "expected 5 values"))
}

impl Collector for Ipvs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let stats_path = self.paths.proc("net/ip_vs_stats");
        let [conns, in_packets, out_packets, in_bytes, out_bytes] = parse_stats(&stats_path, &read_file(&stats_path)?)?;
        let totals = [
            (
                "node_ipvs_connections_total",
                "The total number of connections made.",
                conns,
            ),
            (
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
                in_packets,
            ),
            (
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
                out_packets,
            ),
            (
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
                in_bytes,
            ),
            (
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
                out_bytes,
            ),
        ];
        for (name, help, v) in totals {
            out.push(counter(name, help, &[], v));
        }
        let path = self.paths.proc("net/ip_vs");
        let backends = parse_backends(&path, &read_file(&path)?)?;
        let mut sums: BTreeMap<Vec<String>, [f64; 3]> = BTreeMap::new();
        for b in backends {
            let key: Vec<String> = self
                .labels
                .iter()
                .map(|l| {
                    let i = ALL_LABELS.iter().position(|k| k == l).unwrap_or_default();
                    b.labels[i].clone()
                })
                .collect();
            let sum = sums.entry(key).or_default();
            sum[0] += b.active;
            sum[1] += b.inactive;
            sum[2] += b.weight;
        }
        for (key, [active, inactive, weight]) in sums {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(key.iter().map(String::as_str))
                .collect();
            out.push(gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
                &labels,
                active,
            ));
            out.push(gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
                &labels,
                inactive,
            ));
            out.push(gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
                &labels,
                weight,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Registry;
    use exposition::encode::{Format, encode};

    #[test]
    fn addresses() {
        let p = Path::new("ip_vs");
        let cases = [
            ("C0A80016:0CEA", Some(("192.168.0.22", "3306"))),
            (
                "[2620:0000:0000:0000:0000:0000:0000:0001]:0050",
                Some(("2620::1", "80")),
            ),
            ("ZZ:0050", None),
            ("C0A80016", None),
        ];
        for (field, want) in cases {
            let got = parse_address(p, 1, field).ok();
            assert_eq!(got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), want, "{field}");
        }
        assert!(parse_labels("local_port,bogus").is_err());
        assert_eq!(parse_labels("").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn malformed_files() {
        let p = Path::new("x");
        assert!(parse_stats(p, "a\nb\n 1 2 3\n").is_err());
        assert!(parse_stats(p, "a\nb\n 1 2 3 4 XYZ\n").is_err());
        assert!(parse_backends(p, "h\nh\nh\n  -> C0A85216:0CEA Tunnel 100 248 2\n").is_err());
        assert!(
            parse_backends(
                p,
                "h\nh\nh\nTCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel x 248 2\n"
            )
            .is_err()
        );
    }

    /// Upstream's IPVS outputs for the fixture, one per backend label selection.
    #[test]
    fn upstream_ipvs_outputs() {
        let Some(corpus) = exposition::conformance::corpus_dir() else {
            return;
        };
        let fixtures = corpus.join("node_exporter");
        let cases = [
            (
                "ip_vs_result.txt",
                "local_address,local_port,remote_address,remote_port,proto,local_mark",
            ),
            (
                "ip_vs_result_lbs_local_address_local_port.txt",
                "local_address,local_port",
            ),
            ("ip_vs_result_lbs_local_port.txt", "local_port"),
            ("ip_vs_result_lbs_none.txt", ""),
        ];
        for (file, labels) in cases {
            let want = std::fs::read_to_string(fixtures.join(file)).expect("golden file");
            let registry = Registry::new();
            registry.register(Ipvs {
                paths: Paths {
                    procfs: fixtures.join("proc"),
                    ..Paths::default()
                },
                labels: parse_labels(labels).unwrap(),
            });
            let mut got = Vec::new();
            encode(&registry.gather(&[]).unwrap(), Format::Text, &mut got);
            assert_eq!(String::from_utf8(got).unwrap(), want, "{file}");
        }
    }
}
