//! `kernel_hung`: the number of hung tasks the kernel has detected, from
//! `/proc/sys/kernel/hung_task_detect_count`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::{Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("kernel_hung", true, |s| Ok(Box::new(KernelHung(s.paths.clone()))));

struct KernelHung(Paths);

impl Collector for KernelHung {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("sys/kernel/hung_task_detect_count");
        let v: f64 = parse_num(&path, 1, read_file(&path)?.trim())?;
        out.push(single(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
            MetricType::Counter,
            v,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_or_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sys/kernel");
        std::fs::create_dir_all(&file).unwrap();
        let c = KernelHung(Paths {
            procfs: dir.path().to_path_buf(),
            ..Paths::default()
        });
        for (text, ok) in [("42\n", true), ("x\n", false)] {
            std::fs::write(file.join("hung_task_detect_count"), text).unwrap();
            assert_eq!(c.collect(&mut Vec::new()).is_ok(), ok, "{text:?}");
        }
    }
}
