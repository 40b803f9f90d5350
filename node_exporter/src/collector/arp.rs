//! `arp`: ARP (neighbour) entries per device, from `/proc/net/arp`, filtered by `--collector.arp.device-include`
//! / `--collector.arp.device-exclude`.
//!
//! Upstream's default netlink mode (`--collector.arp.netlink`) asks the kernel directly, ignoring
//! `--path.procfs`; here that mode reads the host's `/proc/net/arp`, the kernel's same table. With
//! `--no-collector.arp.netlink` the file below `--path.procfs` is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{DeviceFilter, add, family, numbered};
use super::{BuildError, CollectorError, Settings, Spec, read_file};

/// Table entry.
pub const SPEC: Spec = Spec::new("arp", true, build).with_args(args);

const INCLUDE_FLAG: &str = "collector.arp.device-include";
const EXCLUDE_FLAG: &str = "collector.arp.device-exclude";
const NETLINK_FLAG: &str = "collector.arp.netlink";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .help("Regexp of arp devices to include (mutually exclusive to device-exclude)."),
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .help("Regexp of arp devices to exclude (mutually exclusive to device-include)."),
        Arg::new(NETLINK_FLAG)
            .long(NETLINK_FLAG)
            .num_args(0..=1)
            .default_value("true")
            .default_missing_value("true")
            .value_parser(clap::value_parser!(bool))
            .help("Use netlink to gather stats instead of /proc/net/arp."),
        Arg::new(format!("no-{NETLINK_FLAG}"))
            .long(format!("no-{NETLINK_FLAG}"))
            .action(ArgAction::SetTrue)
            .hide(true),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let m = s.matches;
    let netlink =
        m.get_one::<bool>(NETLINK_FLAG).copied().unwrap_or(true) && !m.get_flag(&format!("no-{NETLINK_FLAG}"));
    Ok(Box::new(Arp {
        path: if netlink {
            PathBuf::from("/proc/net/arp")
        } else {
            s.paths.proc("net/arp")
        },
        filter: DeviceFilter::from_flags("arp", m, EXCLUDE_FLAG, INCLUDE_FLAG)?,
    }))
}

/// Entries per device of `/proc/net/arp` (after its header line).
fn parse_arp(path: &Path, text: &str) -> Result<BTreeMap<String, u64>, CollectorError> {
    let mut out = BTreeMap::new();
    for (n, line) in numbered(text).skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 6 {
            return Err(CollectorError::malformed(path, n, "expected 6 columns"));
        }
        *out.entry(fields[5].to_string()).or_default() += 1;
    }
    Ok(out)
}

struct Arp {
    path: PathBuf,
    filter: DeviceFilter,
}

impl Collector for Arp {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let entries = parse_arp(&self.path, &read_file(&self.path)?)?;
        let mut f = family("node_arp_entries", "ARP entries by device", MetricType::Gauge);
        for (dev, count) in entries.iter().filter(|(d, _)| !self.filter.ignored(d)) {
            add(&mut f, &[("device", dev)], *count as f64);
        }
        out.push(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_lines() {
        let p = Path::new("arp");
        let head = "IP address HW type Flags HW address Mask Device\n";
        let text =
            format!("{head}1.1.1.1 0x1 0x2 aa:bb * eth0\n1.1.1.2 0x1 0x2 aa:bc * eth0\n1.1.1.3 0x1 0x2 a * eth1\n");
        let got = parse_arp(p, &text).unwrap();
        assert_eq!((got["eth0"], got["eth1"]), (2, 1));
        assert!(parse_arp(p, &format!("{head}1.1.1.1 0x1 0x2\n")).is_err());
    }
}
