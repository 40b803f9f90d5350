//! `qdisc`: queueing discipline statistics per network device (bytes, packets, drops, requeues, overlimits,
//! queue length and backlog).
//!
//! Only root qdiscs are reported (a child's packets are counted by its parents too). The data comes from an
//! rtnetlink qdisc dump (`RTM_GETQDISC`, the `TCA_STATS2` or older `TCA_STATS` attributes), or with
//! `--collector.qdisc.fixtures` from the JSON form of such a dump that upstream's tests use.

use std::path::{Path, PathBuf};

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};
use serde_json::Value as Json;

use super::sysfs::{DeviceFilter, counter, gauge, string_arg};
use super::{BuildError, CollectorError, Settings, Spec, read_file};

/// Table entry.
pub const SPEC: Spec = Spec::new("qdisc", false, build).with_args(args);

const FIXTURES: &str = "collector.qdisc.fixtures";
const DEVICE_INCLUDE: &str = "collector.qdisc.device-include";
const DEVICE_EXCLUDE: &str = "collector.qdisc.device-exclude";

fn args() -> Vec<Arg> {
    vec![
        string_arg(
            FIXTURES,
            Some(""),
            "test fixtures to use for qdisc collector end-to-end testing",
        ),
        string_arg(
            DEVICE_INCLUDE,
            None,
            "Regexp of qdisc devices to include (mutually exclusive to device-exclude).",
        ),
        string_arg(
            DEVICE_EXCLUDE,
            None,
            "Regexp of qdisc devices to exclude (mutually exclusive to device-include).",
        ),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let fixtures = s
        .matches
        .get_one::<String>(FIXTURES)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    Ok(Box::new(Qdisc {
        fixtures,
        devices: DeviceFilter::from_flags("qdisc", s.matches, DEVICE_INCLUDE, DEVICE_EXCLUDE)?,
    }))
}

struct Qdisc {
    fixtures: Option<PathBuf>,
    devices: DeviceFilter,
}

/// A field of a JSON object, matched case-insensitively as Go's `encoding/json` does; absent is 0.
fn number(obj: &Json, name: &str) -> f64 {
    obj.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_f64())
        .unwrap_or(0.0)
}

fn text<'a>(obj: &'a Json, name: &str) -> &'a str {
    obj.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
}

impl Qdisc {
    fn collect_fixtures(&self, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = dir.join("results.json");
        let json: Json = serde_json::from_str(&read_file(&path)?)
            .map_err(|e| CollectorError::malformed(&path, e.line(), e.to_string()))?;
        let Some(list) = json.as_array() else {
            return Err(CollectorError::malformed(&path, 1, "expected a list of qdiscs"));
        };
        for q in list {
            if number(q, "Parent") != 0.0 {
                continue;
            }
            let device = text(q, "IfaceName");
            if self.devices.ignored(device) {
                continue;
            }
            let labels = [("device", device), ("kind", text(q, "Kind"))];
            let counters = [
                ("node_qdisc_bytes_total", "Number of bytes sent.", "Bytes"),
                ("node_qdisc_packets_total", "Number of packets sent.", "Packets"),
                ("node_qdisc_drops_total", "Number of packets dropped.", "Drops"),
                (
                    "node_qdisc_requeues_total",
                    "Number of packets dequeued, not transmitted, and requeued.",
                    "Requeues",
                ),
                (
                    "node_qdisc_overlimits_total",
                    "Number of overlimit packets.",
                    "Overlimits",
                ),
            ];
            for (name, help, key) in counters {
                out.push(counter(name, help, &labels, number(q, key)));
            }
            out.push(gauge(
                "node_qdisc_current_queue_length",
                "Number of packets currently in queue to be sent.",
                &labels,
                number(q, "Qlen"),
            ));
            out.push(gauge(
                "node_qdisc_backlog",
                "Number of bytes currently in queue to be sent.",
                &labels,
                number(q, "Backlog"),
            ));
        }
        Ok(())
    }
}

/// The families of one root qdisc read over netlink.
fn emit(q: &netlink::QdiscStats, out: &mut Vec<MetricFamily>) {
    let labels = [("device", q.device.as_str()), ("kind", q.kind.as_str())];
    let counters = [
        ("node_qdisc_bytes_total", "Number of bytes sent.", q.bytes),
        ("node_qdisc_packets_total", "Number of packets sent.", q.packets),
        ("node_qdisc_drops_total", "Number of packets dropped.", q.drops),
        (
            "node_qdisc_requeues_total",
            "Number of packets dequeued, not transmitted, and requeued.",
            q.requeues,
        ),
        (
            "node_qdisc_overlimits_total",
            "Number of overlimit packets.",
            q.overlimits,
        ),
    ];
    for (name, help, v) in counters {
        out.push(counter(name, help, &labels, v as f64));
    }
    out.push(gauge(
        "node_qdisc_current_queue_length",
        "Number of packets currently in queue to be sent.",
        &labels,
        q.qlen as f64,
    ));
    out.push(gauge(
        "node_qdisc_backlog",
        "Number of bytes currently in queue to be sent.",
        &labels,
        q.backlog as f64,
    ));
}

impl Collector for Qdisc {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        match &self.fixtures {
            Some(dir) => Ok(self.collect_fixtures(dir, out)?),
            None => {
                for q in netlink::dump()? {
                    if q.parent != netlink::TC_H_ROOT || self.devices.ignored(&q.device) {
                        continue;
                    }
                    emit(&q, out);
                }
                Ok(())
            }
        }
    }
}

/// The rtnetlink qdisc dump and the decoding of its messages.
mod netlink {
    use nix::sys::socket::SockProtocol;

    use super::super::netlink::{F_DUMP, F_REQUEST, NetlinkError, Socket, attributes, u32_at, u64_at};

    /// The parent handle of a root qdisc.
    pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;
    const RTM_NEWQDISC: u16 = 36;
    const RTM_GETQDISC: u16 = 38;
    const TCMSG_LEN: usize = 20;
    const TCA_KIND: u16 = 1;
    const TCA_STATS: u16 = 3;
    const TCA_STATS2: u16 = 7;
    const TCA_STATS_BASIC: u16 = 1;
    const TCA_STATS_QUEUE: u16 = 3;

    /// One qdisc of the dump.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct QdiscStats {
        pub device: String,
        pub kind: String,
        pub parent: u32,
        pub bytes: u64,
        pub packets: u64,
        pub drops: u64,
        pub requeues: u64,
        pub overlimits: u64,
        pub qlen: u64,
        pub backlog: u64,
    }

    /// Decodes one `RTM_NEWQDISC` payload (tcmsg plus attributes); the device name is resolved by the caller.
    pub fn decode(payload: &[u8]) -> Result<(u32, QdiscStats), NetlinkError> {
        let ifindex = u32_at(payload, 4).ok_or(NetlinkError::Malformed("short tcmsg"))?;
        let parent = u32_at(payload, 12).ok_or(NetlinkError::Malformed("short tcmsg"))?;
        let mut q = QdiscStats {
            parent,
            ..QdiscStats::default()
        };
        let mut have_stats2 = false;
        for (kind, data) in attributes(payload.get(TCMSG_LEN..).unwrap_or_default()) {
            match kind {
                TCA_KIND => {
                    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                    q.kind = String::from_utf8_lossy(&data[..end]).into_owned();
                }
                TCA_STATS2 => {
                    have_stats2 = true;
                    for (sub, d) in attributes(data) {
                        match sub {
                            TCA_STATS_BASIC => {
                                q.bytes = u64_at(d, 0).unwrap_or(0);
                                q.packets = u64::from(u32_at(d, 8).unwrap_or(0));
                            }
                            TCA_STATS_QUEUE => {
                                let f = |i: usize| u64::from(u32_at(d, i * 4).unwrap_or(0));
                                (q.qlen, q.backlog, q.drops, q.requeues, q.overlimits) = (f(0), f(1), f(2), f(3), f(4));
                            }
                            _ => {}
                        }
                    }
                }
                TCA_STATS if !have_stats2 => {
                    q.bytes = u64_at(data, 0).unwrap_or(0);
                    let f = |at: usize| u64::from(u32_at(data, at).unwrap_or(0));
                    (q.packets, q.drops, q.overlimits, q.qlen, q.backlog) = (f(8), f(12), f(16), f(28), f(32));
                }
                _ => {}
            }
        }
        Ok((ifindex, q))
    }

    /// Dumps every qdisc of the host.
    pub fn dump() -> Result<Vec<QdiscStats>, NetlinkError> {
        let mut sock = Socket::open(SockProtocol::NetlinkRoute)?;
        let replies = sock.request(RTM_GETQDISC, F_REQUEST | F_DUMP, &[0u8; TCMSG_LEN])?;
        let mut out = Vec::new();
        for (kind, payload) in replies {
            if kind != RTM_NEWQDISC {
                continue;
            }
            let (ifindex, mut q) = decode(&payload)?;
            q.device = nix::net::if_::if_indextoname(ifindex)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_else(|_| ifindex.to_string());
            out.push(q);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn fixture_results() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("results.json"),
            r#"[{"IfaceName":"wlan0","Bytes":42,"Kind":"fq","Drops":1},{"IfaceName":"lo","Bytes":1,"Kind":"noqueue"}]"#,
        )
        .unwrap();
        let c = Qdisc {
            fixtures: Some(dir.path().to_path_buf()),
            devices: DeviceFilter::new("qdisc", ("i", Some("^wlan")), ("e", None)).unwrap(),
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.len(), 7);
        let bytes = out.iter().find(|f| f.name == "node_qdisc_bytes_total").unwrap();
        assert_eq!(bytes.metrics[0].labels.get("kind"), Some("fq"));
        assert!(matches!(bytes.metrics[0].value, Value::Counter { total, .. } if total == 42.0));
        std::fs::write(dir.path().join("results.json"), "[{").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }

    /// A `RTM_NEWQDISC` payload: tcmsg (ifindex 2, parent root), TCA_KIND "fq", TCA_STATS2 with basic and queue.
    fn payload() -> Vec<u8> {
        let mut p = vec![0u8; 4];
        p.extend(2u32.to_ne_bytes()); // ifindex
        p.extend(0x8001_0000u32.to_ne_bytes()); // handle
        p.extend(netlink::TC_H_ROOT.to_ne_bytes()); // parent
        p.extend(0u32.to_ne_bytes()); // info
        p.extend(7u16.to_ne_bytes());
        p.extend(1u16.to_ne_bytes());
        p.extend(b"fq\0\0");
        let mut basic = 16u16.to_ne_bytes().to_vec();
        basic.extend(1u16.to_ne_bytes());
        basic.extend(42u64.to_ne_bytes());
        basic.extend(7u32.to_ne_bytes());
        let mut queue = 24u16.to_ne_bytes().to_vec();
        queue.extend(3u16.to_ne_bytes());
        for v in [1u32, 2, 3, 4, 5] {
            queue.extend(v.to_ne_bytes());
        }
        let len = 4 + basic.len() + queue.len();
        p.extend((len as u16).to_ne_bytes());
        p.extend(7u16.to_ne_bytes());
        p.extend(basic);
        p.extend(queue);
        p
    }

    #[test]
    fn netlink_payload_decoding() {
        let (ifindex, q) = netlink::decode(&payload()).unwrap();
        assert_eq!(ifindex, 2);
        let want = netlink::QdiscStats {
            device: String::new(),
            kind: "fq".into(),
            parent: netlink::TC_H_ROOT,
            bytes: 42,
            packets: 7,
            qlen: 1,
            backlog: 2,
            drops: 3,
            requeues: 4,
            overlimits: 5,
        };
        assert_eq!(q, want);
        assert!(netlink::decode(&[0u8; 8]).is_err());
        // Truncated attributes are ignored, not read past.
        let mut short = payload();
        short.truncate(30);
        assert!(netlink::decode(&short).is_ok());
    }

    #[test]
    fn live_netlink_dump() {
        let qdiscs = netlink::dump().expect("rtnetlink qdisc dump needs no privileges");
        assert!(qdiscs.iter().all(|q| !q.kind.is_empty()));
    }
}
