//! `lnstat`: the per-CPU network cache statistics of every file in `/proc/net/stat/` (e.g. `arp_cache`,
//! `nf_conntrack`), as `node_lnstat_<column>_total{subsystem,cpu}`.

use std::collections::BTreeMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("lnstat", false, |s| Ok(Box::new(Lnstat(s.paths.clone()))));

/// The header names and, per CPU row, the hexadecimal values.
fn parse_lnstat(path: &Path, text: &str) -> Result<(Vec<String>, Vec<Vec<u64>>), CollectorError> {
    let mut lines = numbered(text).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(CollectorError::malformed(path, 1, "empty file"));
    };
    let names: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let mut rows = Vec::new();
    for (n, line) in lines {
        let row = line
            .split_whitespace()
            .map(|f| {
                u64::from_str_radix(f, 16)
                    .map_err(|_| CollectorError::malformed(path, n, format!("invalid hexadecimal number {f:?}")))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        if row.len() != names.len() {
            return Err(CollectorError::malformed(
                path,
                n,
                "column count differs from the header",
            ));
        }
        rows.push(row);
    }
    Ok((names, rows))
}

struct Lnstat(Paths);

impl Collector for Lnstat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.0.proc("net/stat");
        let entries = std::fs::read_dir(&dir).map_err(|source| CollectorError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for path in files {
            let subsystem = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (names, rows) = parse_lnstat(&path, &read_file(&path)?)?;
            for (cpu, row) in rows.iter().enumerate() {
                for (name, v) in names.iter().zip(row) {
                    let f = families.entry(name.clone()).or_insert_with(|| {
                        family(
                            &format!("node_lnstat_{name}_total"),
                            "linux network cache stats",
                            MetricType::Counter,
                        )
                    });
                    add(f, &[("subsystem", &subsystem), ("cpu", &cpu.to_string())], *v as f64);
                }
            }
        }
        out.extend(families.into_values());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lnstat_files() {
        let p = Path::new("arp_cache");
        let (names, rows) = parse_lnstat(p, "entries  allocs\n00000014  0000000a\n00000014 1\n").unwrap();
        assert_eq!(names, ["entries", "allocs"]);
        assert_eq!(rows, [vec![20, 10], vec![20, 1]]);
        for bad in ["", "a b\n1\n", "a\nxyz\n"] {
            assert!(parse_lnstat(p, bad).is_err(), "{bad:?}");
        }
    }
}
