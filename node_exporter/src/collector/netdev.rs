//! `netdev`: network device statistics, as `node_network_<stat>_total{device}`.
//!
//! With `--collector.netdev.netlink` (the default) upstream asks the kernel over rtnetlink, which ignores
//! `--path.procfs`; the same `rtnl_link_stats64` counters are read here from the kernel's
//! `/sys/class/net/<device>/statistics/` (the host's, not `--path.sysfs`, for the same reason). With
//! `--no-collector.netdev.netlink`, `<procfs>/net/dev` is parsed instead. Unless
//! `--collector.netdev.enable-detailed-metrics` is set, the counters are folded into the legacy `/proc/net/dev`
//! names as the kernel does (e.g. `receive_drop` = dropped + missed errors).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{DeviceFilter, add, family, numbered};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("netdev", true, build).with_args(args);

const INCLUDE_FLAG: &str = "collector.netdev.device-include";
const EXCLUDE_FLAG: &str = "collector.netdev.device-exclude";
const ADDRESS_FLAG: &str = "collector.netdev.address-info";
const DETAILED_FLAG: &str = "collector.netdev.enable-detailed-metrics";
const NETLINK_FLAG: &str = "collector.netdev.netlink";

/// Where the kernel's own per-device counters live when netlink mode is on.
const KERNEL_NET_CLASS: &str = "/sys/class/net";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .alias("collector.netdev.device-whitelist")
            .help("Regexp of net devices to include (mutually exclusive to device-exclude)."),
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .alias("collector.netdev.device-blacklist")
            .help("Regexp of net devices to exclude (mutually exclusive to device-include)."),
        Arg::new(ADDRESS_FLAG)
            .long(ADDRESS_FLAG)
            .action(ArgAction::SetTrue)
            .help("Collect address-info for every device"),
        Arg::new(DETAILED_FLAG)
            .long(DETAILED_FLAG)
            .action(ArgAction::SetTrue)
            .help("Use (incompatible) metric names that provide more detailed stats on Linux"),
        Arg::new(NETLINK_FLAG)
            .long(NETLINK_FLAG)
            .num_args(0..=1)
            .default_value("true")
            .default_missing_value("true")
            .value_parser(clap::value_parser!(bool))
            .help("Use netlink to gather stats instead of /proc/net/dev."),
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
    Ok(Box::new(NetDev {
        paths: s.paths.clone(),
        filter: DeviceFilter::from_flags("netdev", m, EXCLUDE_FLAG, INCLUDE_FLAG)?,
        detailed: m.get_flag(DETAILED_FLAG),
        netlink,
        address_info: m.get_flag(ADDRESS_FLAG),
    }))
}

type Stats = BTreeMap<String, u64>;

/// Parses `/proc/net/dev` into per-device counters named like the netlink ones.
fn parse_proc_net_dev(path: &Path, text: &str) -> Result<BTreeMap<String, Stats>, CollectorError> {
    const NAMES: [&str; 16] = [
        "receive_bytes",
        "receive_packets",
        "receive_errors",
        "receive_dropped",
        "receive_fifo_errors",
        "receive_frame_errors",
        "receive_compressed",
        "multicast",
        "transmit_bytes",
        "transmit_packets",
        "transmit_errors",
        "transmit_dropped",
        "transmit_fifo_errors",
        "collisions",
        "transmit_carrier_errors",
        "transmit_compressed",
    ];
    let mut out = BTreeMap::new();
    for (n, line) in numbered(text).skip(2) {
        let Some((dev, rest)) = line.split_once(':') else {
            return Err(CollectorError::malformed(path, n, "missing ':' after the device name"));
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() != NAMES.len() {
            return Err(CollectorError::malformed(
                path,
                n,
                format!("expected {} fields, found {}", NAMES.len(), fields.len()),
            ));
        }
        let mut stats = Stats::new();
        for (name, f) in NAMES.iter().zip(fields) {
            stats.insert(name.to_string(), parse_num(path, n, f)?);
        }
        out.insert(dev.trim().to_string(), stats);
    }
    Ok(out)
}

/// Reads `<dir>/<device>/statistics/*` for every device, names mapped to the netlink ones.
fn read_sysfs_stats(dir: &Path) -> Result<BTreeMap<String, Stats>, CollectorError> {
    let read_err = |path: &Path, source| CollectorError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BTreeMap::new();
    for dev in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?.flatten() {
        let name = dev.file_name().to_string_lossy().into_owned();
        let stats_dir = dev.path().join("statistics");
        let Ok(files) = std::fs::read_dir(&stats_dir) else {
            continue;
        };
        let mut stats = Stats::new();
        for file in files.flatten() {
            let key = file.file_name().to_string_lossy().into_owned();
            let key = if let Some(k) = key.strip_prefix("rx_") {
                format!("receive_{k}")
            } else if let Some(k) = key.strip_prefix("tx_") {
                format!("transmit_{k}")
            } else {
                key
            };
            // Some drivers refuse to report single counters; skip those like netlink omits them.
            if let Ok(text) = std::fs::read_to_string(file.path())
                && let Ok(v) = text.trim().parse()
            {
                stats.insert(key, v);
            }
        }
        out.insert(name, stats);
    }
    Ok(out)
}

/// Folds detailed counters into the legacy `/proc/net/dev` names, as the kernel's `net-procfs.c` does.
fn legacy(m: &mut Stats) {
    let mut take = |k: &str| m.remove(k);
    let renames: [(&str, &str, &[&str]); 10] = [
        ("receive_errors", "receive_errs", &[]),
        ("receive_dropped", "receive_drop", &["receive_missed_errors"]),
        ("receive_fifo_errors", "receive_fifo", &[]),
        (
            "receive_frame_errors",
            "receive_frame",
            &["receive_length_errors", "receive_over_errors", "receive_crc_errors"],
        ),
        ("multicast", "receive_multicast", &[]),
        ("transmit_errors", "transmit_errs", &[]),
        ("transmit_dropped", "transmit_drop", &[]),
        ("transmit_fifo_errors", "transmit_fifo", &[]),
        ("collisions", "transmit_colls", &[]),
        (
            "transmit_carrier_errors",
            "transmit_carrier",
            &[
                "transmit_aborted_errors",
                "transmit_heartbeat_errors",
                "transmit_window_errors",
            ],
        ),
    ];
    let mut renamed = Vec::new();
    for (from, to, extra) in renames {
        if let Some(v) = take(from) {
            let sum = extra.iter().map(|k| take(k).unwrap_or(0)).fold(v, u64::wrapping_add);
            renamed.push((to, sum));
        }
    }
    for (k, v) in renamed {
        m.insert(k.to_string(), v);
    }
}

struct NetDev {
    paths: Paths,
    filter: DeviceFilter,
    detailed: bool,
    netlink: bool,
    address_info: bool,
}

/// Upstream's address scope: loopback and link-local addresses are `link-local`, interface-local multicast is
/// `interface-local`, other unicast addresses (private ones included) are `global`.
fn scope(ip: IpAddr) -> &'static str {
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || (v4.octets()[..3] == [224, 0, 0]),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback() || (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xff0f) == 0xff02
        }
    };
    if link_local {
        return "link-local";
    }
    if let IpAddr::V6(v6) = ip
        && (v6.segments()[0] & 0xff0f) == 0xff01
    {
        return "interface-local";
    }
    let global = match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    };
    if global { "global" } else { "" }
}

/// The `node_network_address_info` family from `(device, address, prefix length)` triples.
fn address_family(addrs: impl IntoIterator<Item = (String, IpAddr, u32)>) -> MetricFamily {
    let mut f = family(
        "node_network_address_info",
        "node network address by device",
        MetricType::Gauge,
    );
    for (device, ip, prefix) in addrs {
        add(
            &mut f,
            &[
                ("device", &device),
                ("address", &ip.to_string()),
                ("netmask", &prefix.to_string()),
                ("scope", scope(ip)),
            ],
            1.0,
        );
    }
    f
}

/// The IP addresses of the host's interfaces, with their prefix lengths.
fn interface_addresses() -> Result<Vec<(String, IpAddr, u32)>, CollectorError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| CollectorError::Read {
        path: "getifaddrs".into(),
        source: std::io::Error::from(e),
    })?;
    let mut out = Vec::new();
    for a in addrs {
        let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
            continue;
        };
        let entry = if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            (IpAddr::V4(ip.ip()), m.ip().to_bits().count_ones())
        } else if let (Some(ip), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            (IpAddr::V6(ip.ip()), m.ip().to_bits().count_ones())
        } else {
            continue;
        };
        out.push((a.interface_name, entry.0, entry.1));
    }
    Ok(out)
}

impl Collector for NetDev {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let devices = if self.netlink {
            read_sysfs_stats(Path::new(KERNEL_NET_CLASS))?
        } else {
            let path = self.paths.proc("net/dev");
            parse_proc_net_dev(&path, &read_file(&path)?)?
        };
        let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for (dev, mut stats) in devices {
            if self.filter.ignored(&dev) {
                continue;
            }
            if !self.detailed {
                legacy(&mut stats);
            }
            for (key, v) in stats {
                let f = families.entry(key.clone()).or_insert_with(|| {
                    family(
                        &format!("node_network_{key}_total"),
                        &format!("Network device statistic {key}."),
                        MetricType::Counter,
                    )
                });
                add(f, &[("device", &dev)], v as f64);
            }
        }
        out.extend(families.into_values());
        if self.address_info {
            out.push(address_family(interface_addresses()?));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n";

    #[test]
    fn proc_net_dev() {
        let p = Path::new("net/dev");
        let text = format!("{HEADER}    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
        let mut got = parse_proc_net_dev(p, &text).unwrap();
        let lo = got.get_mut("lo").unwrap();
        assert_eq!(lo["receive_dropped"], 4);
        assert_eq!(lo["transmit_compressed"], 16);
        legacy(lo);
        assert_eq!(lo["receive_drop"], 4);
        assert_eq!(lo["transmit_colls"], 14);
        assert!(!lo.contains_key("collisions"));
        for bad in [
            "eth0 1 2\n",
            "eth0: 1 2 3\n",
            "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n",
        ] {
            assert!(parse_proc_net_dev(p, &format!("{HEADER}{bad}")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn address_scopes() {
        let cases = [
            ("127.0.0.1", "link-local"),
            ("169.254.1.1", "link-local"),
            ("224.0.0.251", "link-local"),
            ("10.0.0.1", "global"),
            ("8.8.8.8", "global"),
            ("::1", "link-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "link-local"),
            ("ff01::1", "interface-local"),
            ("2001:db8::1", "global"),
            ("ff05::1", ""),
            ("0.0.0.0", ""),
        ];
        for (ip, want) in cases {
            assert_eq!(scope(ip.parse().unwrap()), want, "{ip}");
        }
        let f = address_family([("eth0".to_string(), "10.1.2.3".parse().unwrap(), 24)]);
        assert_eq!(f.metrics[0].labels.get("netmask"), Some("24"));
        assert_eq!(f.metrics[0].labels.get("scope"), Some("global"));
    }

    #[test]
    fn host_addresses_are_readable() {
        // Every host has at least its loopback address.
        assert!(interface_addresses().unwrap().iter().any(|(_, ip, _)| ip.is_loopback()));
    }

    #[test]
    fn legacy_sums_detailed_counters() {
        let mut m: Stats = [
            ("receive_frame_errors", 1),
            ("receive_length_errors", 2),
            ("receive_crc_errors", 4),
            ("receive_dropped", 10),
            ("receive_missed_errors", 5),
            ("receive_nohandler", 7),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        legacy(&mut m);
        let want: Stats = [("receive_frame", 7), ("receive_drop", 15), ("receive_nohandler", 7)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(m, want);
    }
}
