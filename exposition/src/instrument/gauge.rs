//! [`Gauge`]: an `f64` that can go up and down.

use std::sync::Arc;

use super::atomic::AtomicF64;
use super::clock::unix_seconds;
use super::desc::{Desc, Opts};
use super::error::InstrumentError;
use super::family::{FamilyMember, Sealed, collect_one, standalone};
use crate::model::{Labels, Metric, MetricFamily, MetricType, Value};
use crate::registry::{CollectError, Collector};

/// A gauge: a value that can be set, increased and decreased. All operations are lock-free (an `f64` stored as
/// bits in an atomic, updated by compare-and-swap).
///
/// Cloning is cheap and shares the value.
#[derive(Debug, Clone)]
pub struct Gauge {
    core: Arc<Core>,
}

#[derive(Debug)]
struct Core {
    desc: Arc<Desc>,
    labels: Labels,
    value: AtomicF64,
}

impl Gauge {
    /// A gauge without variable labels.
    pub fn new(opts: Opts) -> Result<Gauge, InstrumentError> {
        standalone(opts)
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.core.value.set(v);
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.core.value.add(1.0);
    }

    /// Subtracts 1.
    #[inline]
    pub fn dec(&self) {
        self.core.value.add(-1.0);
    }

    /// Adds `v` (which may be negative).
    #[inline]
    pub fn add(&self, v: f64) {
        self.core.value.add(v);
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.core.value.add(-v);
    }

    /// Sets the value to the current time in seconds since the Unix epoch (from the metric's clock).
    pub fn set_to_current_time(&self) {
        self.set(unix_seconds(self.core.desc.clock.now()));
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.core.value.get()
    }

    /// This gauge's full label set (constant and variable labels, sorted by name).
    pub fn labels(&self) -> &Labels {
        &self.core.labels
    }
}

impl Sealed for Gauge {}

impl FamilyMember for Gauge {
    type Opts = Opts;
    type Config = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn describe(opts: Opts, label_names: &[&str]) -> Result<(Desc, ()), InstrumentError> {
        Ok((Desc::new(opts, Self::TYPE, label_names)?, ()))
    }

    fn new_member(desc: &Arc<Desc>, _: &(), labels: Labels) -> Gauge {
        Gauge {
            core: Arc::new(Core {
                desc: Arc::clone(desc),
                labels,
                value: AtomicF64::new(0.0),
            }),
        }
    }

    fn to_metric(&self) -> Metric {
        Metric::new(self.core.labels.clone(), Value::Gauge(self.get()))
    }
}

impl Collector for Gauge {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        collect_one(&self.core.desc, self.to_metric(), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::ManualClock;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn operations() {
        let clock = ManualClock::shared(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
        let g = Gauge::new(Opts::new("g", "h").clock(clock)).unwrap();
        type Op = fn(&Gauge);
        let ops: [(Op, f64); 7] = [
            (|g| g.set(3.0), 3.0),
            (|g| g.inc(), 4.0),
            (|g| g.dec(), 3.0),
            (|g| g.add(-2.5), 0.5),
            (|g| g.sub(1.0), -0.5),
            (|g| g.set_to_current_time(), 1_700_000_000.25),
            (|g| g.set(f64::INFINITY), f64::INFINITY),
        ];
        for (i, (op, want)) in ops.into_iter().enumerate() {
            op(&g);
            assert_eq!(g.get(), want, "step {i}");
        }
    }
}
