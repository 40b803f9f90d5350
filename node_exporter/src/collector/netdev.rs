//! `netdev`: network device statistics, as `node_network_<stat>_total{device}`.
//!
//! With `--collector.netdev.netlink` (the default) one rtnetlink link dump (`RTM_GETLINK`) yields every device's
//! `IFLA_IFNAME` and `IFLA_STATS64` (`rtnl_link_stats64`; the 32-bit `IFLA_STATS` on kernels without it), which
//! ignores `--path.procfs` as upstream does. Should the dump fail (e.g. netlink not permitted), the same counters
//! are read from the kernel's `/sys/class/net/<device>/statistics/` (the host's, not `--path.sysfs`, for the same
//! reason). With `--no-collector.netdev.netlink`, `<procfs>/net/dev` is parsed instead. Unless
//! `--collector.netdev.enable-detailed-metrics` is set, the counters are folded into the legacy `/proc/net/dev`
//! names as the kernel does (e.g. `receive_drop` = dropped + missed errors).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::netlink::{F_DUMP, F_REQUEST, NetlinkError, RTM_GETLINK, RTM_NEWLINK, Socket, attributes, ifinfomsg};
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
        socket: Mutex::new(None),
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

const IFLA_IFNAME: u16 = 3;
const IFLA_STATS: u16 = 7;
const IFLA_STATS64: u16 = 23;
const IFINFOMSG_LEN: usize = super::netlink::IFINFOMSG_LEN;

/// The `rtnl_link_stats64` (and `rtnl_link_stats`) fields in kernel order, named like the sysfs statistics files
/// with `rx_`/`tx_` spelled `receive_`/`transmit_`. Later fields (e.g. `rx_otherhost_dropped`) have no sysfs file
/// and no upstream metric, and are left out.
const LINK_STATS: [&str; 24] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// Decodes one `RTM_NEWLINK` payload (`ifinfomsg` plus attributes) into the device name and its counters:
/// `IFLA_STATS64`, else the 32-bit `IFLA_STATS`; fields a shorter (older) structure lacks are left out. `None`
/// for a link without a name or without statistics.
fn decode_link(payload: &[u8]) -> Result<Option<(String, Stats)>, NetlinkError> {
    let attrs = payload
        .get(IFINFOMSG_LEN..)
        .ok_or(NetlinkError::Malformed("short ifinfomsg"))?;
    let (mut name, mut stats64, mut stats32) = (None, None, None);
    for (kind, data) in attributes(attrs) {
        match kind {
            IFLA_IFNAME => {
                let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                name = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
            IFLA_STATS64 => stats64 = Some(data),
            IFLA_STATS => stats32 = Some(data),
            _ => {}
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let stats: Stats = if let Some(d) = stats64 {
        let fields = d
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        LINK_STATS.iter().zip(fields).map(|(k, v)| (k.to_string(), v)).collect()
    } else if let Some(d) = stats32 {
        let fields = d
            .chunks_exact(4)
            .map(|c| u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])));
        LINK_STATS.iter().zip(fields).map(|(k, v)| (k.to_string(), v)).collect()
    } else {
        return Ok(None);
    };
    Ok(Some((name, stats)))
}

/// Every link's counters from one rtnetlink link dump.
///
/// The socket is kept in `kept` for the next scrape; after a failed exchange it is dropped and the next scrape opens
/// a new one.
fn read_netlink_stats(kept: &Mutex<Option<Socket>>) -> Result<BTreeMap<String, Stats>, NetlinkError> {
    let mut kept = kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut sock = match kept.take() {
        Some(sock) => sock,
        None => Socket::open(nix::sys::socket::SockProtocol::NetlinkRoute)?,
    };
    let replies = sock.request(RTM_GETLINK, F_REQUEST | F_DUMP, &ifinfomsg(0, 0))?;
    *kept = Some(sock);
    drop(kept);
    let mut out = BTreeMap::new();
    for (kind, payload) in replies {
        if kind != RTM_NEWLINK {
            continue;
        }
        if let Some((name, stats)) = decode_link(&payload)? {
            out.insert(name, stats);
        }
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
    /// The rtnetlink socket of the link dumps, kept between scrapes.
    socket: Mutex<Option<Socket>>,
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
            match read_netlink_stats(&self.socket) {
                Ok(devices) => devices,
                Err(e) => {
                    tracing::debug!(error = %e, "netlink link dump failed, reading sysfs statistics instead");
                    read_sysfs_stats(Path::new(KERNEL_NET_CLASS))?
                }
            }
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

    /// A `RTM_NEWLINK` payload: ifinfomsg for index 3, then the given attributes.
    fn newlink(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = ifinfomsg(0, 3).to_vec();
        for (kind, data) in attrs {
            out.extend(super::super::netlink::attribute(*kind, data));
        }
        out
    }

    /// `rtnl_link_stats64` bytes whose field `i` is `base + i`, `fields` long.
    fn stats64(base: u64, fields: usize) -> Vec<u8> {
        (0..fields as u64).flat_map(|i| (base + i).to_ne_bytes()).collect()
    }

    #[test]
    fn decodes_recorded_newlink() {
        let name = (IFLA_IFNAME, b"eth0\0".to_vec());
        let mtu = (4, 1500u32.to_ne_bytes().to_vec());
        let stats32: Vec<u8> = (0..24u32).flat_map(|i| (500 + i).to_ne_bytes()).collect();
        // (attributes, expected (device, field count, value of field 0 and of the last field)).
        type Attrs = Vec<(u16, Vec<u8>)>;
        type Want = Option<(&'static str, usize, u64, u64)>;
        let cases: [(Attrs, Want); 6] = [
            (
                vec![
                    name.clone(),
                    mtu.clone(),
                    (IFLA_STATS, stats32.clone()),
                    (IFLA_STATS64, stats64(1 << 40, 25)),
                ],
                Some(("eth0", 24, 1 << 40, (1 << 40) + 23)),
            ),
            (
                vec![(IFLA_STATS64, stats64(7, 23)), name.clone()],
                Some(("eth0", 23, 7, 29)),
            ),
            (vec![name.clone(), (IFLA_STATS, stats32)], Some(("eth0", 24, 500, 523))),
            (vec![name.clone(), mtu.clone()], None),
            (vec![(IFLA_STATS64, stats64(0, 24))], None),
            (
                vec![(IFLA_IFNAME, b"\0".to_vec()), (IFLA_STATS64, stats64(0, 24))],
                None,
            ),
        ];
        for (i, (attrs, want)) in cases.into_iter().enumerate() {
            let got = decode_link(&newlink(&attrs)).unwrap();
            let got = got.map(|(dev, stats)| {
                let last = LINK_STATS[stats.len() - 1];
                (dev, stats.len(), stats["receive_packets"], stats[last])
            });
            assert_eq!(got, want.map(|(d, n, a, b)| (d.to_string(), n, a, b)), "case {i}");
        }
        assert!(decode_link(&[0u8; 8]).is_err());

        // Field order: stats64 with field i = 100 + i, folded into the legacy names.
        let (_, mut stats) = decode_link(&newlink(&[name, (IFLA_STATS64, stats64(100, 24))]))
            .unwrap()
            .unwrap();
        for (k, want) in [
            ("receive_bytes", 102),
            ("transmit_bytes", 103),
            ("multicast", 108),
            ("receive_missed_errors", 115),
            ("transmit_window_errors", 120),
            ("receive_nohandler", 123),
        ] {
            assert_eq!(stats[k], want, "{k}");
        }
        legacy(&mut stats);
        assert_eq!(stats["receive_drop"], 106 + 115);
        assert_eq!(stats["receive_frame"], 113 + 110 + 111 + 112);
        assert_eq!(stats["transmit_carrier"], 117 + 116 + 119 + 120);
        assert_eq!(stats["receive_multicast"], 108);
    }

    #[test]
    fn netlink_matches_sysfs_on_this_host() {
        use std::net::UdpSocket;
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..20 {
            tx.send_to(&[0u8; 512], rx.local_addr().unwrap()).unwrap();
        }
        let dir = Path::new(KERNEL_NET_CLASS);
        let before = read_sysfs_stats(dir).unwrap();
        let netlink = read_netlink_stats(&Mutex::new(None)).unwrap();
        let after = read_sysfs_stats(dir).unwrap();
        let devices = |m: &BTreeMap<String, Stats>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(devices(&netlink), devices(&before));
        assert_eq!(devices(&netlink), devices(&after));
        for (dev, stats) in &netlink {
            let keys = |m: &Stats| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(stats), keys(&before[dev]), "{dev}");
        }
        let lo = &netlink["lo"];
        assert!(
            lo["receive_packets"] >= 20 && lo["transmit_bytes"] >= 20 * 512,
            "{lo:?}"
        );
        for (k, v) in lo {
            assert!(
                before["lo"][k] <= *v && *v <= after["lo"][k],
                "lo {k}: {} <= {v} <= {}",
                before["lo"][k],
                after["lo"][k]
            );
        }
    }
}
