//! `pressure`: pressure stall information from `/proc/pressure/{cpu,io,memory,irq}` (Linux >= 4.20 with PSI).
//!
//! As upstream: for CPU only the `some` line (waiting), for IRQ only the `full` line (stalled), for IO and memory
//! both. Resources whose file is missing are skipped; no file at all is an error.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{numbered, read_optional};
use super::{CollectorError, Spec, parse_num, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("pressure", true, |s| Ok(Box::new(Pressure(s.paths.clone()))));

/// Resource, line kind (`some`/`full`), metric name and HELP text.
const METRICS: [(&str, &str, &str, &str); 6] = [
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "irq",
        "full",
        "node_pressure_irq_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
];

/// The `total=` value (microseconds) of the `some` and `full` lines.
fn parse_psi(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let mut fields = line.split_whitespace();
        let Some(kind) = fields.next() else { continue };
        if kind != "some" && kind != "full" {
            return Err(CollectorError::malformed(
                path,
                n,
                format!("unknown line kind {kind:?}"),
            ));
        }
        let Some(total) = fields.find_map(|f| f.strip_prefix("total=")) else {
            return Err(CollectorError::malformed(path, n, "missing total="));
        };
        out.push((kind.to_string(), parse_num(path, n, total)?));
    }
    Ok(out)
}

struct Pressure(Paths);

impl Collector for Pressure {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut found = false;
        for resource in ["cpu", "io", "memory", "irq"] {
            let path = self.0.proc(format!("pressure/{resource}"));
            let Some(text) = read_optional(&path)? else { continue };
            found = true;
            let lines = parse_psi(&path, &text)?;
            for (_, kind, name, help) in METRICS.iter().filter(|m| m.0 == resource) {
                if let Some((_, total)) = lines.iter().find(|(k, _)| k == kind) {
                    out.push(single(name, help, MetricType::Counter, *total as f64 / 1000.0 / 1000.0));
                }
            }
        }
        if !found {
            return Err(CollectorError::Read {
                path: self.0.proc("pressure"),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "pressure information is unavailable (needs Linux >= 4.20 with CONFIG_PSI)",
                ),
            }
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_lines() {
        let p = Path::new("pressure/io");
        let got = parse_psi(
            p,
            "some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802\nfull avg10=0 total=5",
        )
        .unwrap();
        assert_eq!(got, [("some".to_string(), 159886802), ("full".to_string(), 5)]);
        for bad in ["half total=1\n", "some avg10=0.1\n", "some total=x\n"] {
            assert!(parse_psi(p, bad).is_err(), "{bad:?}");
        }
    }
}
