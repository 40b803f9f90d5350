//! `fibrechannel`: Fibre Channel host statistics from `/sys/class/fc_host/<host>/statistics` (hexadecimal
//! counters; the all-ones value means "not available" and is left out) and an info family with the host's text
//! attributes.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, gauge, list_dir, read_optional};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("fibrechannel", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(FibreChannel { paths: s.paths.clone() }))
}

struct FibreChannel {
    paths: Paths,
}

/// (statistics file, metric suffix, help).
const STATISTICS: [(&str, &str, &str); 14] = [
    ("dumped_frames", "dumped_frames_total", "Number of dumped frames"),
    ("error_frames", "error_frames_total", "Number of errors in frames"),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    ("rx_words", "rx_words_total", "Number of words received by host port"),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    ("tx_words", "tx_words_total", "Number of words transmitted by host port"),
];

/// Text attributes labelling `node_fibrechannel_info` (empty when absent); hexadecimal ones lose their `0x`.
const INFO: [&str; 10] = [
    "speed",
    "port_state",
    "port_type",
    "symbolic_name",
    "port_name",
    "port_id",
    "supported_speeds",
    "supported_classes",
    "fabric_name",
    "dev_loss_tmo",
];

/// Parses a counter written as `0x...` (or decimal); `None` for the all-ones "not available" value.
fn parse_counter(path: &Path, text: &str) -> Result<Option<f64>, CollectorError> {
    let v = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    };
    match v {
        Some(u64::MAX) => Ok(None),
        Some(v) => Ok(Some(v as f64)),
        None => Err(CollectorError::malformed(path, 1, format!("invalid counter {text:?}"))),
    }
}

fn host(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let values: Vec<String> = INFO
        .iter()
        .map(|attr| {
            let v = read_optional(&dir.join(attr)).unwrap_or_default();
            match v.strip_prefix("0x") {
                Some(rest) if matches!(*attr, "port_name" | "port_id" | "fabric_name") => rest.to_string(),
                _ => v,
            }
        })
        .collect();
    let mut labels: Vec<(&str, &str)> = vec![("fc_host", name)];
    labels.extend(INFO.iter().zip(&values).map(|(k, v)| (*k, v.as_str())));
    out.push(gauge(
        "node_fibrechannel_info",
        "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
        &labels,
        1.0,
    ));
    let stats = dir.join("statistics");
    for (file, suffix, help) in STATISTICS {
        let path = stats.join(file);
        let Some(text) = read_optional(&path) else { continue };
        if let Some(v) = parse_counter(&path, &text)? {
            out.push(counter(
                &format!("node_fibrechannel_{suffix}"),
                help,
                &[("fc_host", name)],
                v,
            ));
        }
    }
    Ok(())
}

impl Collector for FibreChannel {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/fc_host");
        for name in list_dir(&class)? {
            host(&name, &class.join(&name), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn counters() {
        let p = Path::new("x");
        let cases = [
            ("0x13", Some(Some(19.0))),
            ("0xffffffffffffffff", Some(None)),
            ("7", Some(Some(7.0))),
            ("0xzz", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_counter(p, text).ok(), want, "{text}");
        }
    }

    #[test]
    fn host_statistics_and_info() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("host0/port_name", "0x1000e0071bce95f2\n"),
            ("host0/speed", "16 Gbit\n"),
            ("host0/statistics/tx_frames", "0x5\n"),
            ("host0/statistics/dumped_frames", "0xffffffffffffffff\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("class/fc_host").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = FibreChannel {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["node_fibrechannel_info", "node_fibrechannel_tx_frames_total"]);
        assert_eq!(out[0].metrics[0].labels.get("port_name"), Some("1000e0071bce95f2"));
        assert!(matches!(out[1].metrics[0].value, Value::Counter { total, .. } if total == 5.0));
        std::fs::write(root.path().join("class/fc_host/host0/statistics/tx_frames"), "five\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
