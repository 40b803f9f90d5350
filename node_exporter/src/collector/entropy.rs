//! `entropy`: available entropy and pool size from `/proc/sys/kernel/random`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::{Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("entropy", true, |s| Ok(Box::new(Entropy(s.paths.clone()))));

struct Entropy(Paths);

impl Collector for Entropy {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        for (file, name, help) in [
            (
                "entropy_avail",
                "node_entropy_available_bits",
                "Bits of available entropy.",
            ),
            ("poolsize", "node_entropy_pool_size_bits", "Bits of entropy pool."),
        ] {
            let path = self.0.proc("sys/kernel/random").join(file);
            let v: f64 = parse_num(&path, 1, read_file(&path)?.trim())?;
            out.push(single(name, help, MetricType::Gauge, v));
        }
        Ok(())
    }
}
