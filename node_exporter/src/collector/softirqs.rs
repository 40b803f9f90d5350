//! `softirqs`: softirq counts per CPU and type from `/proc/softirqs`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("softirqs", false, |s| Ok(Box::new(Softirqs(s.paths.clone()))));

/// `(type, per-CPU counts)` rows.
fn parse_softirqs(path: &Path, text: &str) -> Result<Vec<(String, Vec<f64>)>, CollectorError> {
    let mut lines = numbered(text);
    let cpus = lines.next().map_or(0, |(_, h)| h.split_whitespace().count());
    if cpus == 0 {
        return Err(CollectorError::malformed(path, 1, "missing CPU header"));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            return Err(CollectorError::malformed(path, n, "missing ':' after the softirq type"));
        };
        let values: Vec<f64> = rest
            .split_whitespace()
            .map(|v| parse_num(path, n, v))
            .collect::<Result<_, _>>()?;
        if values.len() != cpus {
            return Err(CollectorError::malformed(
                path,
                n,
                "value count differs from the CPU count",
            ));
        }
        out.push((name.trim().to_string(), values));
    }
    Ok(out)
}

struct Softirqs(Paths);

impl Collector for Softirqs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("softirqs");
        let mut f = family(
            "node_softirqs_functions_total",
            "Softirq counts per CPU.",
            MetricType::Counter,
        );
        for (name, values) in parse_softirqs(&path, &read_file(&path)?)? {
            for (cpu, v) in values.iter().enumerate() {
                add(&mut f, &[("cpu", &cpu.to_string()), ("type", &name)], *v);
            }
        }
        out.push(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softirq_lines() {
        let p = Path::new("softirqs");
        let got = parse_softirqs(p, "    CPU0  CPU1\n  HI:  7  1\nTIMER: 4 5\n").unwrap();
        assert_eq!(got[1], ("TIMER".to_string(), vec![4.0, 5.0]));
        for bad in ["", "CPU0 CPU1\nHI: 1\n", "CPU0\nHI 1\n", "CPU0\nHI: x\n"] {
            assert!(parse_softirqs(p, bad).is_err(), "{bad:?}");
        }
    }
}
