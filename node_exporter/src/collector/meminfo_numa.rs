//! `meminfo_numa`: memory statistics per NUMA node from `/sys/devices/system/node/node<N>/meminfo` (gauges, `kB`
//! values in bytes) and `numastat` (counters, suffixed `_total`), as `node_memory_numa_<field>{node}`.

use std::collections::BTreeMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("meminfo_numa", false, |s| Ok(Box::new(MemInfoNuma(s.paths.clone()))));

/// `(field, bytes)` of a node's `meminfo` (`Node 0 Active(anon):  123 kB`).
fn parse_node_meminfo(path: &Path, text: &str) -> Result<Vec<(String, f64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 4 || fields[0] != "Node" {
            return Err(CollectorError::malformed(
                path,
                n,
                "expected 'Node <n> <field>: <value> [kB]'",
            ));
        }
        let key = fields[2].trim_end_matches(':').replace('(', "_").replace(')', "");
        let mut v: f64 = parse_num(path, n, fields[3])?;
        match fields.get(4) {
            Some(&"kB") => v *= 1024.0,
            Some(unit) => return Err(CollectorError::malformed(path, n, format!("unknown unit {unit:?}"))),
            None => {}
        }
        out.push((key, v));
    }
    Ok(out)
}

/// `(field, value)` of a node's `numastat`.
fn parse_numastat(path: &Path, text: &str) -> Result<Vec<(String, f64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [key, v] = fields[..] else {
            return Err(CollectorError::malformed(path, n, "expected a name and a value"));
        };
        out.push((key.to_string(), parse_num(path, n, v)?));
    }
    Ok(out)
}

struct MemInfoNuma(Paths);

impl Collector for MemInfoNuma {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.0.sys("devices/system/node");
        let entries = std::fs::read_dir(&dir).map_err(|source| CollectorError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut nodes: Vec<(u32, std::path::PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let id = e.file_name().to_str()?.strip_prefix("node")?.parse().ok()?;
                Some((id, e.path()))
            })
            .collect();
        nodes.sort();
        let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for (id, node_dir) in nodes {
            let node = id.to_string();
            let meminfo = node_dir.join("meminfo");
            let numastat = node_dir.join("numastat");
            let gauges = parse_node_meminfo(&meminfo, &read_file(&meminfo)?)?;
            let counters = parse_numastat(&numastat, &read_file(&numastat)?)?;
            let all = gauges.into_iter().map(|(k, v)| (k, v, MetricType::Gauge)).chain(
                counters
                    .into_iter()
                    .map(|(k, v)| (format!("{k}_total"), v, MetricType::Counter)),
            );
            for (key, v, t) in all {
                let f = families.entry(key.clone()).or_insert_with(|| {
                    family(
                        &format!("node_memory_numa_{key}"),
                        &format!("Memory information field {key}."),
                        t,
                    )
                });
                add(f, &[("node", &node)], v);
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
    fn node_meminfo() {
        let p = Path::new("meminfo");
        let got = parse_node_meminfo(p, "Node 0 Active(anon):  2 kB\nNode 0 HugePages_Total:     0\n").unwrap();
        assert_eq!(
            got,
            [
                ("Active_anon".to_string(), 2048.0),
                ("HugePages_Total".to_string(), 0.0)
            ]
        );
        for bad in [
            "Node 0 MemFree:\n",
            "Node 0 MemFree: x kB\n",
            "Node 0 MemFree: 1 MB\n",
            "Zone 0 A: 1\n",
        ] {
            assert!(parse_node_meminfo(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numastat() {
        let p = Path::new("numastat");
        assert_eq!(
            parse_numastat(p, "numa_hit 5\n").unwrap(),
            [("numa_hit".to_string(), 5.0)]
        );
        for bad in ["numa_hit\n", "numa_hit x\n"] {
            assert!(parse_numastat(p, bad).is_err(), "{bad:?}");
        }
    }
}
