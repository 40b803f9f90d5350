//! `qdisc`: queueing discipline statistics per network device (bytes, packets, drops, requeues, overlimits,
//! queue length and backlog).
//!
//! The data comes from the file of `--collector.qdisc.fixtures` (the JSON form of the rtnetlink qdisc dump that
//! upstream's tests use). Querying rtnetlink directly is not implemented; without fixtures the collector reports
//! no data (an error, so `node_scrape_collector_success` is 0).

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

impl Collector for Qdisc {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        match &self.fixtures {
            Some(dir) => Ok(self.collect_fixtures(dir, out)?),
            None => Err(CollectError::msg(
                "qdisc: querying rtnetlink is not supported by this build",
            )),
        }
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
}
