//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.
//!
//! As upstream: parentheses in field names become underscores (`Active(anon)` -> `Active_anon`), fields in `kB`
//! are converted to bytes and get the `_bytes` suffix, unitless fields (`HugePages_Total`) keep their name.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::{CollectorError, Spec, parse_num, read_file, single};
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
            let key = key.replace('(', "_").replace(')', "");
            let name = match fields.next() {
                Some("kB") => {
                    v *= 1024.0;
                    format!("{key}_bytes")
                }
                Some(unit) => {
                    return Err(CollectorError::malformed(&path, n + 1, format!("unknown unit {unit:?}")).into());
                }
                None => key,
            };
            out.push(single(
                &format!("node_memory_{name}"),
                &format!("Memory information field {name}."),
                MetricType::Gauge,
                v,
            ));
        }
        Ok(())
    }
}
