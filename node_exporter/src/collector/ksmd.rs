//! `ksmd`: kernel same-page merging statistics from `/sys/kernel/mm/ksm/`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::read_optional;
use super::{Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("ksmd", false, |s| Ok(Box::new(Ksmd(s.paths.clone()))));

/// File, metric suffix, HELP text, type, scale.
const FILES: [(&str, &str, &str, MetricType, f64); 10] = [
    (
        "full_scans",
        "full_scans_total",
        "How many times all mergeable areas have been scanned.",
        MetricType::Counter,
        1.0,
    ),
    (
        "merge_across_nodes",
        "merge_across_nodes",
        "Specifies if pages from different NUMA nodes can be merged.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pages_shared",
        "pages_shared",
        "How many shared pages are being used.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pages_sharing",
        "pages_sharing",
        "How many more sites are sharing them i.e. how much saved.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pages_to_scan",
        "pages_to_scan",
        "How many pages to scan before ksmd goes to sleep.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pages_unshared",
        "pages_unshared",
        "How many pages unique but repeatedly checked for merging.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "pages_volatile",
        "pages_volatile",
        "How many pages changing too fast to be placed in a tree.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "run",
        "run",
        "The status of ksmd. stopped = 0, running = 1",
        MetricType::Gauge,
        1.0,
    ),
    (
        "sleep_millisecs",
        "sleep_seconds",
        "How many seconds ksmd should sleep before next scan.",
        MetricType::Gauge,
        0.001,
    ),
    (
        "general_profit",
        "general_profit_bytes",
        "How effective is KSM. ksm_saved_pages * sizeof(page) - (all_rmap_items) * sizeof(rmap_item)",
        MetricType::Gauge,
        1.0,
    ),
];

struct Ksmd(Paths);

impl Collector for Ksmd {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        for (file, suffix, help, t, scale) in FILES {
            let path = self.0.sys(format!("kernel/mm/ksm/{file}"));
            // general_profit only exists on Linux >= 6.1.
            let text = if file == "general_profit" {
                match read_optional(&path)? {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                read_file(&path)?
            };
            let v: f64 = parse_num(&path, 1, text.trim())?;
            out.push(single(&format!("node_ksmd_{suffix}"), help, t, v * scale));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ksm = dir.path().join("kernel/mm/ksm");
        std::fs::create_dir_all(&ksm).unwrap();
        let c = Ksmd(Paths {
            sysfs: dir.path().to_path_buf(),
            ..Paths::default()
        });
        for (file, _, _, _, _) in FILES.iter().filter(|f| f.0 != "general_profit") {
            std::fs::write(ksm.join(file), "20\n").unwrap();
        }
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.len(), 9);
        let sleep = out.iter().find(|f| f.name == "node_ksmd_sleep_seconds").unwrap();
        assert_eq!(sleep.metrics[0].value, exposition::Value::Gauge(0.02));
        std::fs::write(ksm.join("run"), "x\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
