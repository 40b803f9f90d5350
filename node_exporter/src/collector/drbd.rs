//! `drbd`: DRBD (distributed replicated block device) statistics from `/proc/drbd` (DRBD 8.x format).
//!
//! Numeric `key:value` fields become counters or gauges (sizes in KiB are converted to bytes, except `nr`,
//! which upstream exports unscaled); `ro`/`ds` pairs become local/remote booleans and `cs` the connection state.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("drbd", false, |s| Ok(Box::new(Drbd(s.paths.clone()))));

/// Field, metric suffix, HELP text, type, multiplier.
const NUMERIC: [(&str, &str, &str, MetricType, f64); 12] = [
    (
        "ns",
        "network_sent_bytes_total",
        "Total number of bytes sent via the network.",
        MetricType::Counter,
        1024.0,
    ),
    (
        "nr",
        "network_received_bytes_total",
        "Total number of bytes received via the network.",
        MetricType::Counter,
        1.0,
    ),
    (
        "dw",
        "disk_written_bytes_total",
        "Net data written on local hard disk; in bytes.",
        MetricType::Counter,
        1024.0,
    ),
    (
        "dr",
        "disk_read_bytes_total",
        "Net data read from local hard disk; in bytes.",
        MetricType::Counter,
        1024.0,
    ),
    (
        "al",
        "activitylog_writes_total",
        "Number of updates of the activity log area of the meta data.",
        MetricType::Counter,
        1.0,
    ),
    (
        "bm",
        "bitmap_writes_total",
        "Number of updates of the bitmap area of the meta data.",
        MetricType::Counter,
        1.0,
    ),
    (
        "lo",
        "local_pending",
        "Number of open requests to the local I/O sub-system.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pe",
        "remote_pending",
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "ua",
        "remote_unacknowledged",
        "Number of requests received by the peer via the network connection, but that have not yet been answered.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "ap",
        "application_pending",
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "ep",
        "epochs",
        "Number of Epochs currently on the fly.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "oos",
        "out_of_sync_bytes",
        "Amount of data known to be out of sync; in bytes.",
        MetricType::Gauge,
        1024.0,
    ),
];

/// Field, metric suffix, HELP text, the value meaning "yes".
const PAIRS: [(&str, &str, &str, &str); 2] = [
    (
        "ro",
        "node_role_is_primary",
        "Whether the role of the node is in the primary state.",
        "Primary",
    ),
    (
        "ds",
        "disk_state_is_up_to_date",
        "Whether the disk of the node is up to date.",
        "UpToDate",
    ),
];

/// Turns the words of `/proc/drbd` into families.
fn parse_drbd(path: &Path, text: &str) -> Result<Vec<MetricFamily>, CollectorError> {
    let mut numeric: Vec<MetricFamily> = NUMERIC
        .iter()
        .map(|(_, name, help, t, _)| family(&format!("node_drbd_{name}"), help, *t))
        .collect();
    let mut pairs: Vec<MetricFamily> = PAIRS
        .iter()
        .map(|(_, name, help, _)| family(&format!("node_drbd_{name}"), help, MetricType::Gauge))
        .collect();
    let mut connected = family(
        "node_drbd_connected",
        "Whether DRBD is connected to the peer.",
        MetricType::Gauge,
    );
    let mut device = "unknown".to_string();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        for word in line.split_whitespace() {
            let parts: Vec<&str> = word.split(':').collect();
            let [key, val] = parts[..] else { continue };
            if val.is_empty() && !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                let id: u64 = parse_num(path, n, key)?;
                device = format!("drbd{id}");
            } else if let Some(idx) = NUMERIC.iter().position(|m| m.0 == key) {
                let v: f64 = parse_num(path, n, val)?;
                add(&mut numeric[idx], &[("device", &device)], v * NUMERIC[idx].4);
            } else if let Some(idx) = PAIRS.iter().position(|m| m.0 == key) {
                let Some((local, remote)) = val.split_once('/') else {
                    return Err(CollectorError::malformed(
                        path,
                        n,
                        format!("{key} is not a local/remote pair"),
                    ));
                };
                let yes = PAIRS[idx].3;
                for (node, v) in [("local", local), ("remote", remote)] {
                    add(
                        &mut pairs[idx],
                        &[("device", &device), ("node", node)],
                        f64::from(u8::from(v == yes)),
                    );
                }
            } else if key == "cs" {
                add(
                    &mut connected,
                    &[("device", &device)],
                    f64::from(u8::from(val == "Connected")),
                );
            }
        }
    }
    let mut out: Vec<MetricFamily> = numeric.into_iter().chain(pairs).collect();
    out.push(connected);
    out.retain(|f| !f.metrics.is_empty());
    Ok(out)
}

struct Drbd(Paths);

impl Collector for Drbd {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("drbd");
        out.extend(parse_drbd(&path, &read_file(&path)?)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drbd_words() {
        let p = Path::new("drbd");
        let text = "version: 8.4.3 (api:1/proto:86-101)\n 1: cs:Connected ro:Primary/Secondary ds:UpToDate/x\n    \
                    ns:2 nr:3 wo:d\n";
        let got = parse_drbd(p, text).unwrap();
        let find = |name: &str| got.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            find("node_drbd_network_sent_bytes_total").metrics[0].value,
            exposition::Value::Counter {
                total: 2048.0,
                created: None,
                exemplar: None
            }
        );
        let role = find("node_drbd_node_role_is_primary");
        assert_eq!(role.metrics[1].labels.get("node"), Some("remote"));
        assert_eq!(role.metrics[1].value, exposition::Value::Gauge(0.0));
        assert_eq!(
            find("node_drbd_connected").metrics[0].labels.get("device"),
            Some("drbd1")
        );
        for bad in ["1: ns:x\n", "1: ro:Primary\n"] {
            assert!(parse_drbd(p, bad).is_err(), "{bad:?}");
        }
    }
}
