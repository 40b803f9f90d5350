//! `buddyinfo`: free memory blocks per NUMA node, zone and order from `/proc/buddyinfo`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("buddyinfo", false, |s| Ok(Box::new(BuddyInfo(s.paths.clone()))));

/// `(node, zone, counts by order)` rows.
fn parse_buddyinfo(path: &Path, text: &str) -> Result<Vec<(String, String, Vec<f64>)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 4 || fields[0] != "Node" || fields[2] != "zone" {
            return Err(CollectorError::malformed(
                path,
                n,
                "expected 'Node <n>, zone <zone> <counts>'",
            ));
        }
        let counts = fields[4..]
            .iter()
            .map(|v| parse_num(path, n, v))
            .collect::<Result<_, _>>()?;
        out.push((
            fields[1].trim_end_matches(',').to_string(),
            fields[3].to_string(),
            counts,
        ));
    }
    Ok(out)
}

struct BuddyInfo(Paths);

impl Collector for BuddyInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("buddyinfo");
        let mut f = family(
            "node_buddyinfo_blocks",
            "Count of free blocks according to size.",
            MetricType::Gauge,
        );
        for (node, zone, counts) in parse_buddyinfo(&path, &read_file(&path)?)? {
            for (size, v) in counts.iter().enumerate() {
                add(
                    &mut f,
                    &[("node", &node), ("zone", &zone), ("size", &size.to_string())],
                    *v,
                );
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
    fn buddyinfo_lines() {
        let p = Path::new("buddyinfo");
        let got = parse_buddyinfo(p, "Node 0, zone      DMA      1      0      3\n").unwrap();
        assert_eq!(got, [("0".to_string(), "DMA".to_string(), vec![1.0, 0.0, 3.0])]);
        for bad in ["Node 0\n", "Zone 0, node DMA 1\n", "Node 0, zone DMA x\n"] {
            assert!(parse_buddyinfo(p, bad).is_err(), "{bad:?}");
        }
    }
}
