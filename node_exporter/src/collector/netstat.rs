//! `netstat`: network protocol statistics from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as
//! `node_netstat_<Protocol>_<Name>`, for the names matching `--collector.netstat.fields`.

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{FieldFilter, numbered, read_optional, regex_flag};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("netstat", true, build).with_args(args);

const FIELDS_FLAG: &str = "collector.netstat.fields";
const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(FIELDS_FLAG)
            .long(FIELDS_FLAG)
            .default_value(DEFAULT_FIELDS)
            .help("Regexp of fields to return for netstat collector."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let fields = regex_flag("netstat", s.matches, FIELDS_FLAG)?;
    Ok(Box::new(NetStat {
        paths: s.paths.clone(),
        fields: FieldFilter::new(
            fields.unwrap_or_else(|| Regex::new(DEFAULT_FIELDS).expect("the default pattern is valid")),
        ),
    }))
}

/// Parses the paired header/value lines of `/proc/net/netstat` and `/proc/net/snmp` into
/// `(protocol, name, value)`.
fn parse_paired<'a>(path: &Path, text: &'a str) -> Result<Vec<(&'a str, &'a str, f64)>, CollectorError> {
    let mut out = Vec::new();
    let mut lines = numbered(text).filter(|(_, l)| !l.trim().is_empty());
    while let Some((hn, header)) = lines.next() {
        let Some((n, values)) = lines.next() else {
            return Err(CollectorError::malformed(path, hn, "header line without a value line"));
        };
        let mismatch = || CollectorError::malformed(path, n, "value line does not match its header");
        let mut names = header.split_whitespace();
        let mut vals = values.split_whitespace();
        let (Some(proto), Some(proto_again)) = (names.next(), vals.next()) else {
            return Err(mismatch());
        };
        if proto != proto_again {
            return Err(mismatch());
        }
        let proto = proto.trim_end_matches(':');
        loop {
            match (names.next(), vals.next()) {
                (Some(name), Some(v)) => out.push((proto, name, parse_num(path, n, v)?)),
                (None, None) => break,
                _ => return Err(mismatch()),
            }
        }
    }
    Ok(out)
}

/// Parses `/proc/net/snmp6` (`Ip6InReceives 7` lines): the protocol runs up to its first `6`.
fn parse_snmp6<'a>(path: &Path, text: &'a str) -> Result<Vec<(&'a str, &'a str, f64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let mut fields = line.split_whitespace();
        let (stat, v) = match (fields.next(), fields.next(), fields.next()) {
            (None, _, _) => continue,
            (Some(stat), Some(v), None) => (stat, v),
            _ => return Err(CollectorError::malformed(path, n, "expected a name and a value")),
        };
        let Some(six) = stat.find('6') else {
            return Err(CollectorError::malformed(path, n, format!("no protocol in {stat:?}")));
        };
        let (proto, name) = stat.split_at(six + 1);
        out.push((proto, name, parse_num(path, n, v)?));
    }
    Ok(out)
}

struct NetStat {
    paths: Paths,
    fields: FieldFilter,
}

impl Collector for NetStat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let netstat = self.paths.proc("net/netstat");
        let netstat_text = read_file(&netstat)?;
        let snmp = self.paths.proc("net/snmp");
        let snmp_text = read_file(&snmp)?;
        let mut stats = parse_paired(&netstat, &netstat_text)?;
        stats.extend(parse_paired(&snmp, &snmp_text)?);
        let snmp6 = self.paths.proc("net/snmp6");
        let snmp6_text = read_optional(&snmp6)?;
        if let Some(text) = &snmp6_text {
            stats.extend(parse_snmp6(&snmp6, text)?);
        }
        let mut key = String::new();
        let mut pass = self.fields.pass();
        for (i, (proto, name, v)) in stats.into_iter().enumerate() {
            key.clear();
            key.push_str(proto);
            key.push('_');
            key.push_str(name);
            if !pass.keeps(i, &key) {
                continue;
            }
            out.push(single(
                &format!("node_netstat_{key}"),
                &format!("Statistic {proto}{name}."),
                MetricType::Unknown,
                v,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_lines() {
        let p = Path::new("snmp");
        let got = parse_paired(p, "Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1\nUdp: InErrors\nUdp: 5\n").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], ("Tcp", "MaxConn", -1.0));
        for bad in ["Tcp: A B\nTcp: 1\n", "Tcp: A\n", "Tcp: A\nUdp: 1\n", "Tcp: A\nTcp: x\n"] {
            assert!(parse_paired(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn snmp6_lines() {
        let p = Path::new("snmp6");
        let got = parse_snmp6(p, "Ip6InReceives  7\nUdpLite6InErrors 0\n").unwrap();
        assert_eq!(got[0], ("Ip6", "InReceives", 7.0));
        assert_eq!(got[1].0, "UdpLite6");
        for bad in ["Ip6InReceives\n", "IpInReceives 1\n", "Ip6X y\n"] {
            assert!(parse_snmp6(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_fields() {
        let re = Regex::new(DEFAULT_FIELDS).unwrap();
        for (k, want) in [
            ("Tcp_InErrs", true),
            ("Ip_Forwarding", true),
            ("Tcp_MaxConn", false),
            ("TcpExt_ListenDrops", true),
        ] {
            assert_eq!(re.is_match(k), want, "{k}");
        }
    }
}
