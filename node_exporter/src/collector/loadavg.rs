//! `loadavg`: the 1, 5 and 15 minute load averages from `/proc/loadavg`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::{Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("loadavg", true, |s| Ok(Box::new(LoadAvg(s.paths.clone()))));

struct LoadAvg(Paths);

impl Collector for LoadAvg {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("loadavg");
        let text = read_file(&path)?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(super::CollectorError::malformed(&path, 1, "expected at least 3 fields").into());
        }
        for (i, (name, help)) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ]
        .into_iter()
        .enumerate()
        {
            let v: f64 = parse_num(&path, 1, fields[i])?;
            out.push(single(name, help, MetricType::Gauge, v));
        }
        Ok(())
    }
}
