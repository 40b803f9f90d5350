//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.
//!
//! As upstream: parentheses in field names become underscores (`Active(anon)` -> `Active_anon`), fields in `kB`
//! are converted to bytes and get the `_bytes` suffix, unitless fields (`HugePages_Total`) keep their name.

use exposition::{CollectError, Collector, Labels, Metric, MetricFamily, MetricType, Value};

use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("meminfo", true, |s| Ok(Box::new(MemInfo(s.paths.clone()))));

struct MemInfo(Paths);

impl Collector for MemInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("meminfo");
        let text = read_file(&path)?;
        for (n, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let (Some(key), Some(num)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some(key) = key.strip_suffix(':') else {
                return Err(CollectorError::malformed(&path, n + 1, format!("field {key:?} lacks ':'")).into());
            };
            let mut v: f64 = parse_num(&path, n + 1, num)?;
            // `Active(anon)` is `Active_anon`.
            let mut name = String::with_capacity(key.len() + 6);
            for c in key.chars() {
                match c {
                    '(' => name.push('_'),
                    ')' => {}
                    c => name.push(c),
                }
            }
            match fields.next() {
                Some("kB") => {
                    v *= 1024.0;
                    name.push_str("_bytes");
                }
                Some(unit) => {
                    return Err(CollectorError::malformed(&path, n + 1, format!("unknown unit {unit:?}")).into());
                }
                None => {}
            }
            let help = format!("Memory information field {name}.");
            let mut f = MetricFamily::new(format!("node_memory_{name}"), MetricType::Gauge).with_help(help);
            f.push(Metric::new(Labels::new(), Value::Gauge(v)));
            out.push(f);
        }
        Ok(())
    }
}
