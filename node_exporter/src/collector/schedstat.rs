//! `schedstat`: per-CPU scheduler statistics from `/proc/schedstat` (running and waiting time, timeslices).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("schedstat", true, |s| Ok(Box::new(SchedStat(s.paths.clone()))));

const NANOSECONDS_PER_SECOND: f64 = 1_000_000_000.0;

/// `(cpu, running ns, waiting ns, timeslices)` from the `cpuN` lines.
fn parse_schedstat(path: &Path, text: &str) -> Result<Vec<(String, u64, u64, u64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(cpu) = fields.first().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if fields.len() < 10 {
            return Err(CollectorError::malformed(path, n, "cpu line has fewer than 10 fields"));
        }
        let _: u32 = parse_num(path, n, cpu)?;
        out.push((
            cpu.to_string(),
            parse_num(path, n, fields[7])?,
            parse_num(path, n, fields[8])?,
            parse_num(path, n, fields[9])?,
        ));
    }
    Ok(out)
}

struct SchedStat(Paths);

impl Collector for SchedStat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("schedstat");
        let rows = parse_schedstat(&path, &read_file(&path)?)?;
        let mut running = family(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
            MetricType::Counter,
        );
        let mut waiting = family(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
            MetricType::Counter,
        );
        let mut slices = family(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
            MetricType::Counter,
        );
        for (cpu, run, wait, n) in rows {
            add(&mut running, &[("cpu", &cpu)], run as f64 / NANOSECONDS_PER_SECOND);
            add(&mut waiting, &[("cpu", &cpu)], wait as f64 / NANOSECONDS_PER_SECOND);
            add(&mut slices, &[("cpu", &cpu)], n as f64);
        }
        out.extend([running, waiting, slices]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_lines() {
        let p = Path::new("schedstat");
        let text = "version 15\ncpu0 1 0 3 4 5 6 2000000000 7 8\ndomain0 3 1 2\n";
        assert_eq!(
            parse_schedstat(p, text).unwrap(),
            [("0".to_string(), 2_000_000_000, 7, 8)]
        );
        for bad in ["cpu0 1 2 3\n", "cpu0 1 0 3 4 5 6 x 7 8\n", "cpux 1 0 3 4 5 6 7 7 8\n"] {
            assert!(parse_schedstat(p, bad).is_err(), "{bad:?}");
        }
    }
}
