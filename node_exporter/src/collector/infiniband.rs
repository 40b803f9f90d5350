//! `infiniband`: InfiniBand adapters from `/sys/class/infiniband/<device>`: an info family, and per port the
//! rate, state, physical state and the counters of `counters/` and `counters_ext/` (data counters count 4-octet
//! words and are exported in bytes; `N/A` values are left out).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, gauge, list_dir, read_optional};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("infiniband", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Infiniband { paths: s.paths.clone() }))
}

struct Infiniband {
    paths: Paths,
}

/// (directory below the port, counter file, metric suffix, multiplier, help).
#[rustfmt::skip]
const COUNTERS: [(&str, &str, &str, f64, &str); 24] = [
    ("counters", "link_downed", "link_downed_total", 1.0, "Number of times the link failed to recover from an error state and went down"),
    ("counters", "link_error_recovery", "link_error_recovery_total", 1.0, "Number of times the link successfully recovered from an error state"),
    ("counters", "multicast_rcv_packets", "multicast_packets_received_total", 1.0, "Number of multicast packets received (including errors)"),
    ("counters", "multicast_xmit_packets", "multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted (including errors)"),
    ("counters", "port_rcv_constraint_errors", "port_constraint_errors_received_total", 1.0, "Number of packets received on the switch physical port that are discarded"),
    ("counters", "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 1.0, "Number of packets not transmitted from the switch physical port"),
    ("counters", "port_rcv_data", "port_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters", "port_xmit_data", "port_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters", "port_rcv_discards", "port_discards_received_total", 1.0, "Number of inbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_xmit_discards", "port_discards_transmitted_total", 1.0, "Number of outbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_rcv_errors", "port_errors_received_total", 1.0, "Number of packets containing an error that were received on this port"),
    ("counters", "port_rcv_packets", "port_packets_received_total", 1.0, "Number of packets received on all VLs by this port (including errors)"),
    ("counters", "port_xmit_packets", "port_packets_transmitted_total", 1.0, "Number of packets transmitted on all VLs from this port (including errors)"),
    ("counters", "port_xmit_wait", "port_transmit_wait_total", 1.0, "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    ("counters", "unicast_rcv_packets", "unicast_packets_received_total", 1.0, "Number of unicast packets received (including errors)"),
    ("counters", "unicast_xmit_packets", "unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted (including errors)"),
    ("counters_ext", "port_rcv_data_64", "legacy_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters_ext", "port_xmit_data_64", "legacy_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters_ext", "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", 1.0, "Number of multicast packets received"),
    ("counters_ext", "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted"),
    ("counters_ext", "port_rcv_packets_64", "legacy_packets_received_total", 1.0, "Number of data packets received on all links"),
    ("counters_ext", "port_xmit_packets_64", "legacy_packets_transmitted_total", 1.0, "Number of data packets received on all links"),
    ("counters_ext", "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", 1.0, "Number of unicast packets received"),
    ("counters_ext", "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted"),
];

/// The leading number of a `"4: ACTIVE"` style attribute.
fn leading_number(path: &Path, text: &str) -> Result<f64, CollectorError> {
    let n = text.split(':').next().unwrap_or_default().trim();
    super::parse_num(path, 1, n)
}

/// `"40 Gb/sec (4X QDR)"` -> bytes per second.
fn parse_rate(path: &Path, text: &str) -> Result<f64, CollectorError> {
    let mut fields = text.split_whitespace();
    let (Some(value), Some(unit)) = (fields.next(), fields.next()) else {
        return Err(CollectorError::malformed(path, 1, format!("invalid rate {text:?}")));
    };
    let gbits: f64 = super::parse_num(path, 1, value)?;
    if unit != "Gb/sec" {
        return Err(CollectorError::malformed(
            path,
            1,
            format!("unknown rate unit {unit:?}"),
        ));
    }
    Ok(gbits * 1e9 / 8.0)
}

fn port(device: &str, port: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("device", device), ("port", port)];
    if let Some(text) = read_optional(&dir.join("state")) {
        out.push(gauge(
            "node_infiniband_state_id",
            "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
            &labels,
            leading_number(&dir.join("state"), &text)?,
        ));
    }
    if let Some(text) = read_optional(&dir.join("phys_state")) {
        out.push(gauge(
            "node_infiniband_physical_state_id",
            "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: \
             link up, 6: link error recover, 7: phytest)",
            &labels,
            leading_number(&dir.join("phys_state"), &text)?,
        ));
    }
    if let Some(text) = read_optional(&dir.join("rate")) {
        out.push(gauge(
            "node_infiniband_rate_bytes_per_second",
            "Maximum signal transfer rate",
            &labels,
            parse_rate(&dir.join("rate"), &text)?,
        ));
    }
    for (sub, file, suffix, factor, help) in COUNTERS {
        let path = dir.join(sub).join(file);
        let Some(text) = read_optional(&path) else { continue };
        if text.starts_with("N/A") {
            continue;
        }
        let v: u64 = super::parse_num(&path, 1, &text)?;
        out.push(counter(
            &format!("node_infiniband_{suffix}"),
            help,
            &labels,
            v as f64 * factor,
        ));
    }
    Ok(())
}

fn device(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let attr = |f: &str| read_optional(&dir.join(f)).unwrap_or_default();
    let (board, fw, hca) = (attr("board_id"), attr("fw_ver"), attr("hca_type"));
    out.push(gauge(
        "node_infiniband_info",
        "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
        &[
            ("board_id", &board),
            ("device", name),
            ("firmware_version", &fw),
            ("hca_type", &hca),
        ],
        1.0,
    ));
    let ports = dir.join("ports");
    for p in list_dir(&ports)? {
        port(name, &p, &ports.join(&p), out)?;
    }
    Ok(())
}

impl Collector for Infiniband {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/infiniband");
        for name in list_dir(&class)? {
            device(&name, &class.join(&name), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn rates_and_states() {
        let p = Path::new("x");
        let rates = [
            ("40 Gb/sec (4X QDR)", Some(5e9)),
            ("10 Gb/sec (4X)", Some(1.25e9)),
            ("fast", None),
            ("1 Mb/sec", None),
        ];
        for (text, want) in rates {
            assert_eq!(parse_rate(p, text).ok(), want, "{text}");
        }
        assert_eq!(leading_number(p, "4: ACTIVE").ok(), Some(4.0));
        assert!(leading_number(p, "ACTIVE").is_err());
    }

    #[test]
    fn device_ports_and_counters() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("mlx4_0/hca_type", "MT4099\n"),
            ("mlx4_0/ports/1/state", "4: ACTIVE\n"),
            ("mlx4_0/ports/1/counters/port_rcv_data", "4631917\n"),
            ("mlx4_0/ports/1/counters/port_xmit_wait", "N/A (no PMA)\n"),
            ("mlx4_0/ports/1/counters_ext/port_unicast_rcv_packets", "61148\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("class/infiniband").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Infiniband {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(get("node_infiniband_state_id"), Some(Value::Gauge(4.0)));
        assert!(matches!(get("node_infiniband_port_data_received_bytes_total"),
            Some(Value::Counter { total, .. }) if total == 18_527_668.0));
        assert!(get("node_infiniband_legacy_unicast_packets_received_total").is_some());
        assert_eq!(get("node_infiniband_port_transmit_wait_total"), None);
        std::fs::write(
            root.path()
                .join("class/infiniband/mlx4_0/ports/1/counters/port_rcv_data"),
            "x\n",
        )
        .unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
