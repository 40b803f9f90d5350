//! `softnet`: per-CPU packet processing statistics from `/proc/net/softnet_stat` (hexadecimal columns).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("softnet", true, |s| Ok(Box::new(Softnet(s.paths.clone()))));

/// Exported columns: index in the line, name, HELP, type.
const COLUMNS: [(usize, &str, &str, MetricType); 7] = [
    (0, "processed_total", "Number of processed packets", MetricType::Counter),
    (1, "dropped_total", "Number of dropped packets", MetricType::Counter),
    (
        2,
        "times_squeezed_total",
        "Number of times processing packets ran out of quota",
        MetricType::Counter,
    ),
    (
        8,
        "cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        MetricType::Counter,
    ),
    (
        9,
        "received_rps_total",
        "Number of times cpu woken up received_rps",
        MetricType::Counter,
    ),
    (
        10,
        "flow_limit_count_total",
        "Number of times flow limit has been reached",
        MetricType::Counter,
    ),
    (11, "backlog_len", "Softnet backlog status", MetricType::Gauge),
];

/// Column of the CPU index, on kernels that print it.
const INDEX_COLUMN: usize = 12;
/// Older kernels print fewer columns; fewer than this is malformed.
const MIN_COLUMNS: usize = 9;

/// One row per CPU: `(cpu, columns)`; missing columns read as 0.
fn parse_softnet(path: &Path, text: &str) -> Result<Vec<(u64, Vec<u64>)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let cols = line
            .split_whitespace()
            .map(|f| {
                u64::from_str_radix(f, 16)
                    .map_err(|_| CollectorError::malformed(path, n, format!("invalid hexadecimal number {f:?}")))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        if cols.is_empty() {
            continue;
        }
        if cols.len() < MIN_COLUMNS {
            return Err(CollectorError::malformed(
                path,
                n,
                format!("expected at least {MIN_COLUMNS} columns, found {}", cols.len()),
            ));
        }
        let cpu = cols.get(INDEX_COLUMN).copied().unwrap_or(out.len() as u64);
        out.push((cpu, cols));
    }
    Ok(out)
}

struct Softnet(Paths);

impl Collector for Softnet {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("net/softnet_stat");
        let rows = parse_softnet(&path, &read_file(&path)?)?;
        for (col, name, help, t) in COLUMNS {
            let mut f = family(&format!("node_softnet_{name}"), help, t);
            for (cpu, cols) in &rows {
                add(
                    &mut f,
                    &[("cpu", &cpu.to_string())],
                    cols.get(col).copied().unwrap_or(0) as f64,
                );
            }
            out.push(f);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softnet_rows() {
        let p = Path::new("softnet_stat");
        let eleven = "0000000a 00000001 00000002 0 0 0 0 0 00000003 00000004 00000005\n";
        let got = parse_softnet(p, &eleven.repeat(2)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 1);
        assert_eq!(got[0].1[0], 10);
        let thirteen = "1 2 3 0 0 0 0 0 4 5 6 7 0000000f\n";
        assert_eq!(parse_softnet(p, thirteen).unwrap()[0].0, 15);
        for bad in ["1 2 3\n", "1 2 3 4 5 6 7 8 zz\n"] {
            assert!(parse_softnet(p, bad).is_err(), "{bad:?}");
        }
    }
}
