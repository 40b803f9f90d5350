//! `zoneinfo`: memory zone statistics per NUMA node and zone from `/proc/zoneinfo`.
//!
//! Only the fields the kernel prints for a zone are exported: the per-node statistics appear under the node's
//! first zone, `nr_free_pages` and the NUMA counters only under populated zones.

use std::collections::HashMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("zoneinfo", false, |s| Ok(Box::new(ZoneInfo(s.paths.clone()))));

const G: MetricType = MetricType::Gauge;
const C: MetricType = MetricType::Counter;

/// `/proc/zoneinfo` key, metric suffix, HELP text and type.
const FIELDS: [(&str, &str, &str, MetricType); 33] = [
    (
        "nr_free_pages",
        "nr_free_pages",
        "Total number of free pages in the zone",
        G,
    ),
    ("min", "min_pages", "Zone watermark pages_min", G),
    ("low", "low_pages", "Zone watermark pages_low", G),
    ("high", "high_pages", "Zone watermark pages_high", G),
    (
        "spanned",
        "spanned_pages",
        "Total pages spanned by the zone, including holes",
        G,
    ),
    ("present", "present_pages", "Physical pages existing within the zone", G),
    (
        "managed",
        "managed_pages",
        "Present pages managed by the buddy system",
        G,
    ),
    (
        "nr_active_anon",
        "nr_active_anon_pages",
        "Number of anonymous pages recently more used",
        G,
    ),
    (
        "nr_inactive_anon",
        "nr_inactive_anon_pages",
        "Number of anonymous pages recently less used",
        G,
    ),
    (
        "nr_isolated_anon",
        "nr_isolated_anon_pages",
        "Temporary isolated pages from anon lru",
        G,
    ),
    (
        "nr_anon_pages",
        "nr_anon_pages",
        "Number of anonymous pages currently used by the system",
        G,
    ),
    (
        "nr_anon_transparent_hugepages",
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        G,
    ),
    (
        "nr_active_file",
        "nr_active_file_pages",
        "Number of active pages with file-backing",
        G,
    ),
    (
        "nr_inactive_file",
        "nr_inactive_file_pages",
        "Number of inactive pages with file-backing",
        G,
    ),
    (
        "nr_isolated_file",
        "nr_isolated_file_pages",
        "Temporary isolated pages from file lru",
        G,
    ),
    ("nr_file_pages", "nr_file_pages", "Number of file pages", G),
    (
        "nr_slab_reclaimable",
        "nr_slab_reclaimable_pages",
        "Number of reclaimable slab pages",
        G,
    ),
    (
        "nr_slab_unreclaimable",
        "nr_slab_unreclaimable_pages",
        "Number of unreclaimable slab pages",
        G,
    ),
    (
        "nr_mlock_stack",
        "nr_mlock_stack_pages",
        "mlock()ed pages found and moved off LRU",
        G,
    ),
    ("nr_kernel_stack", "nr_kernel_stacks", "Number of kernel stacks", G),
    ("nr_mapped", "nr_mapped_pages", "Number of mapped pages", G),
    ("nr_dirty", "nr_dirty_pages", "Number of dirty pages", G),
    ("nr_writeback", "nr_writeback_pages", "Number of writeback pages", G),
    (
        "nr_unevictable",
        "nr_unevictable_pages",
        "Number of unevictable pages",
        G,
    ),
    (
        "nr_shmem",
        "nr_shmem_pages",
        "Number of shmem pages (included tmpfs/GEM pages)",
        G,
    ),
    ("nr_dirtied", "nr_dirtied_total", "Page dirtyings since bootup", C),
    ("nr_written", "nr_written_total", "Page writings since bootup", C),
    ("numa_hit", "numa_hit_total", "Allocated in intended node", C),
    ("numa_miss", "numa_miss_total", "Allocated in non intended node", C),
    (
        "numa_foreign",
        "numa_foreign_total",
        "Was intended here, hit elsewhere",
        C,
    ),
    (
        "numa_interleave",
        "numa_interleave_total",
        "Interleaver preferred this zone",
        C,
    ),
    ("numa_local", "numa_local_total", "Allocation from local node", C),
    ("numa_other", "numa_other_total", "Allocation from other node", C),
];

/// One zone: node, zone name, its `key value` fields and its protection array.
#[derive(Debug, Default, PartialEq)]
struct Zone {
    node: String,
    zone: String,
    values: HashMap<String, f64>,
    protection: Vec<f64>,
}

fn parse_zoneinfo(path: &Path, text: &str) -> Result<Vec<Zone>, CollectorError> {
    let mut out: Vec<Zone> = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"Node") {
            if fields.len() != 4 || fields[2] != "zone" {
                return Err(CollectorError::malformed(path, n, "expected 'Node <n>, zone <name>'"));
            }
            out.push(Zone {
                node: fields[1].trim_end_matches(',').to_string(),
                zone: fields[3].to_string(),
                ..Zone::default()
            });
            continue;
        }
        let Some(zone) = out.last_mut() else { continue };
        if fields.first() == Some(&"protection:") {
            let list = line
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(l, _)| l)
                .ok_or_else(|| CollectorError::malformed(path, n, "protection without '(...)'"))?;
            zone.protection = list
                .split(',')
                .map(|v| parse_num(path, n, v.trim()))
                .collect::<Result<_, _>>()?;
            continue;
        }
        if let [key, v] = fields[..]
            && FIELDS.iter().any(|f| f.0 == key)
        {
            zone.values.insert(key.to_string(), parse_num(path, n, v)?);
        }
    }
    Ok(out)
}

struct ZoneInfo(Paths);

impl Collector for ZoneInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("zoneinfo");
        let zones = parse_zoneinfo(&path, &read_file(&path)?)?;
        for (key, suffix, help, t) in FIELDS.iter() {
            let mut f = family(&format!("node_zoneinfo_{suffix}"), help, *t);
            for z in &zones {
                if let Some(v) = z.values.get(*key) {
                    add(&mut f, &[("node", &z.node), ("zone", &z.zone)], *v);
                }
            }
            if !f.metrics.is_empty() {
                out.push(f);
            }
        }
        let width = zones.iter().map(|z| z.protection.len()).max().unwrap_or(0);
        for i in 0..width {
            let mut f = family(
                &format!("node_zoneinfo_protection_{i}"),
                &format!("Protection array {i}. field"),
                MetricType::Gauge,
            );
            for z in &zones {
                if let Some(v) = z.protection.get(i) {
                    add(&mut f, &[("node", &z.node), ("zone", &z.zone)], *v);
                }
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
    fn zones() {
        let p = Path::new("zoneinfo");
        let text = "Node 0, zone      DMA\n  per-node stats\n      nr_dirtied   7\n  pages free     2949\n        \
                    min      8\n        protection: (0, 2039, 3)\n    cpu: 0\n              high:  0\n\
                    Node 0, zone   Normal\n        min      9\n";
        let got = parse_zoneinfo(p, text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].values["nr_dirtied"], 7.0);
        assert_eq!(got[0].values["min"], 8.0);
        assert!(!got[0].values.contains_key("high"));
        assert_eq!(got[0].protection, [0.0, 2039.0, 3.0]);
        assert_eq!((got[1].node.as_str(), got[1].zone.as_str()), ("0", "Normal"));
        for bad in [
            "Node 0 DMA\n",
            "Node 0, zone DMA\n min x\n",
            "Node 0, zone DMA\n protection: (0, x)\n",
        ] {
            assert!(parse_zoneinfo(p, bad).is_err(), "{bad:?}");
        }
    }
}
