//! `netclass`: network interface properties from `/sys/class/net/<iface>` (carrier, MTU, speed, flags, ...) and
//! an info family with the text attributes. Reads sysfs; `--collector.netclass.netlink` is accepted for
//! compatibility and, as the sysfs attributes carry the same properties, also served from sysfs.

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{add, family};
use super::sysfs::{bool_args, flag_on, list_dir, read_optional, string_arg};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("netclass", true, build).with_args(args);

const IGNORED: &str = "collector.netclass.ignored-devices";
const INVALID_SPEED: &str = "collector.netclass.ignore-invalid-speed";
const NO_INVALID_SPEED: &str = "no-collector.netclass.ignore-invalid-speed";
const NETLINK: &str = "collector.netclass.netlink";
const NO_NETLINK: &str = "no-collector.netclass.netlink";

fn args() -> Vec<Arg> {
    let mut v = vec![string_arg(
        IGNORED,
        Some("^$"),
        "Regexp of net devices to ignore for netclass collector.",
    )];
    v.extend(bool_args(
        INVALID_SPEED,
        NO_INVALID_SPEED,
        false,
        "Ignore devices where the speed is invalid. This will be the default behavior in 2.x.",
    ));
    v.extend(bool_args(
        NETLINK,
        NO_NETLINK,
        false,
        "Use netlink to gather stats instead of /proc/net/dev.",
    ));
    v
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let pattern = s.matches.get_one::<String>(IGNORED).map_or("^$", String::as_str);
    let ignored = Regex::new(pattern).map_err(|e| BuildError::InvalidFlag {
        collector: "netclass",
        flag: IGNORED.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Box::new(NetClass {
        paths: s.paths.clone(),
        ignored,
        ignore_invalid_speed: flag_on(s.matches, INVALID_SPEED, false),
    }))
}

struct NetClass {
    paths: Paths,
    ignored: Regex,
    ignore_invalid_speed: bool,
}

/// (sysfs attribute, metric property name, type), in upstream's order.
const PROPERTIES: [(&str, &str, MetricType); 16] = [
    ("addr_assign_type", "address_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    ("carrier_changes", "carrier_changes_total", MetricType::Counter),
    ("carrier_up_count", "carrier_up_changes_total", MetricType::Counter),
    ("carrier_down_count", "carrier_down_changes_total", MetricType::Counter),
    ("dev_id", "device_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("ifindex", "iface_id", MetricType::Gauge),
    ("iflink", "iface_link", MetricType::Gauge),
    ("link_mode", "iface_link_mode", MetricType::Gauge),
    ("mtu", "mtu_bytes", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("netdev_group", "net_dev_group", MetricType::Gauge),
    ("tx_queue_len", "transmit_queue_length", MetricType::Gauge),
    ("type", "protocol_type", MetricType::Gauge),
];

/// Parses an integer attribute, decimal or `0x` hexadecimal (`dev_id`, `flags`).
fn parse_int(path: &Path, text: &str) -> Result<i64, CollectorError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| CollectorError::malformed(path, 1, format!("invalid number {text:?}")))
}

/// The families of the collector, filled interface by interface (one family per name instead of one per
/// interface and name, which the registry would merge).
struct Families {
    up: MetricFamily,
    info: MetricFamily,
    /// One per entry of [`PROPERTIES`].
    properties: Vec<MetricFamily>,
    speed: MetricFamily,
}

impl Families {
    fn new() -> Families {
        Families {
            up: family(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
                MetricType::Gauge,
            ),
            info: family(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                MetricType::Gauge,
            ),
            properties: PROPERTIES
                .iter()
                .map(|(_, prop, t)| {
                    family(
                        &format!("node_network_{prop}"),
                        &format!("Network device property: {prop}"),
                        *t,
                    )
                })
                .collect(),
            speed: family(
                "node_network_speed_bytes",
                "Network device property: speed_bytes",
                MetricType::Gauge,
            ),
        }
    }

    /// The families that got a sample.
    fn into_nonempty(self) -> impl Iterator<Item = MetricFamily> {
        [self.up, self.info]
            .into_iter()
            .chain(self.properties)
            .chain([self.speed])
            .filter(|f| !f.metrics.is_empty())
    }
}

impl NetClass {
    /// The samples of one interface. Attributes the kernel refuses to report (unreadable, e.g. the speed of a
    /// link that is down) are left out.
    fn interface(&self, name: &str, dir: &Path, fams: &mut Families) -> Result<(), CollectorError> {
        let labels = [("device", name)];
        let text = |attr: &str| read_optional(&dir.join(attr));
        let operstate = text("operstate").unwrap_or_default();
        add(&mut fams.up, &labels, if operstate == "up" { 1.0 } else { 0.0 });
        let mut ints = [None; PROPERTIES.len()];
        for ((attr, _, _), slot) in PROPERTIES.iter().zip(ints.iter_mut()) {
            if let Some(t) = text(attr).filter(|t| !t.is_empty()) {
                *slot = Some(parse_int(&dir.join(attr), &t)?);
            }
        }
        let speed = match text("speed").filter(|t| !t.is_empty()) {
            Some(t) => Some(parse_int(&dir.join("speed"), &t)?),
            None => None,
        };
        let flags = PROPERTIES
            .iter()
            .position(|(attr, _, _)| *attr == "flags")
            .and_then(|i| ints[i]);
        let adminstate = match flags {
            Some(f) if f & 1 == 1 => "up",
            Some(_) => "down",
            None => "unknown",
        };
        let (address, broadcast, duplex, ifalias) =
            (text("address"), text("broadcast"), text("duplex"), text("ifalias"));
        add(
            &mut fams.info,
            &[
                ("device", name),
                ("address", address.as_deref().unwrap_or_default()),
                ("broadcast", broadcast.as_deref().unwrap_or_default()),
                ("duplex", duplex.as_deref().unwrap_or_default()),
                ("operstate", &operstate),
                ("adminstate", adminstate),
                ("ifalias", ifalias.as_deref().unwrap_or_default()),
            ],
            1.0,
        );
        for (fam, v) in fams.properties.iter_mut().zip(ints) {
            if let Some(v) = v {
                add(fam, &labels, v as f64);
            }
        }
        if let Some(speed) = speed
            && (speed >= 0 || !self.ignore_invalid_speed)
        {
            add(&mut fams.speed, &labels, (speed * 1000 * 1000 / 8) as f64);
        }
        Ok(())
    }
}

impl Collector for NetClass {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/net");
        let mut fams = Families::new();
        for name in list_dir(&class)? {
            let dir = class.join(&name);
            // Interfaces are directories or links to them; `bonding_masters` and the like are plain files.
            if !super::sysfs::is_dir(&dir) || self.ignored.is_match(&name) {
                continue;
            }
            self.interface(&name, &dir, &mut fams)?;
        }
        out.extend(fams.into_nonempty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    fn run(files: &[(&str, &str)], ignore_invalid_speed: bool) -> Result<Vec<MetricFamily>, CollectError> {
        let root = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = root.path().join("class/net").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = NetClass {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            ignored: Regex::new("^int$").unwrap(),
            ignore_invalid_speed,
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    fn get(fams: &[MetricFamily], name: &str) -> Option<Value> {
        fams.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone())
    }

    #[test]
    fn properties() {
        let files = [
            ("eth0/operstate", "up\n"),
            ("eth0/flags", "0x1303\n"),
            ("eth0/dev_id", "0x20\n"),
            ("eth0/mtu", "1500\n"),
            ("eth0/carrier_changes", "2\n"),
            ("eth0/speed", "1000\n"),
            ("eth0/address", "01:01:01:01:01:01\n"),
            ("int/mtu", "9000\n"),
            ("bonding_masters", "bond0\n"),
        ];
        let fams = run(&files, false).unwrap();
        let cases = [
            ("node_network_up", Some(Value::Gauge(1.0))),
            ("node_network_flags", Some(Value::Gauge(4867.0))),
            ("node_network_device_id", Some(Value::Gauge(32.0))),
            ("node_network_mtu_bytes", Some(Value::Gauge(1500.0))),
            ("node_network_speed_bytes", Some(Value::Gauge(1.25e8))),
            ("node_network_carrier", None),
        ];
        for (name, want) in cases {
            assert_eq!(get(&fams, name), want, "{name}");
        }
        assert!(matches!(
            get(&fams, "node_network_carrier_changes_total"),
            Some(Value::Counter { total: 2.0, .. })
        ));
        let info = fams.iter().find(|f| f.name == "node_network_info").unwrap();
        assert_eq!(info.metrics[0].labels.get("adminstate"), Some("up"));
        assert_eq!(fams.iter().filter(|f| f.name == "node_network_up").count(), 1);
    }

    #[test]
    fn invalid_speed_and_malformed_values() {
        let slow = [("eth0/speed", "-1\n")];
        assert_eq!(
            get(&run(&slow, false).unwrap(), "node_network_speed_bytes"),
            Some(Value::Gauge(-125000.0))
        );
        assert_eq!(get(&run(&slow, true).unwrap(), "node_network_speed_bytes"), None);
        assert!(run(&[("eth0/mtu", "big\n")], false).is_err());
    }
}
