//! `filefd`: allocated and maximum file handles from `/proc/sys/fs/file-nr`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("filefd", true, |s| Ok(Box::new(FileFd(s.paths.clone()))));

struct FileFd(Paths);

impl Collector for FileFd {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("sys/fs/file-nr");
        let text = read_file(&path)?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 3 {
            return Err(CollectorError::malformed(&path, 1, format!("expected 3 fields, got {}", fields.len())).into());
        }
        let allocated: f64 = parse_num(&path, 1, fields[0])?;
        let maximum: f64 = parse_num(&path, 1, fields[2])?;
        out.push(single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            MetricType::Gauge,
            allocated,
        ));
        out.push(single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            MetricType::Gauge,
            maximum,
        ));
        Ok(())
    }
}
