//! [`Counter`]: a monotonically increasing `f64` total with a fast integer path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::atomic::AtomicF64;
use super::clock::unix_seconds;
use super::desc::{Desc, Opts};
use super::error::InstrumentError;
use super::family::{FamilyMember, Sealed, collect_one, standalone};
use crate::model::{Exemplar, Labels, Metric, MetricFamily, MetricType, Value};
use crate::registry::{CollectError, Collector};

/// A counter: a total that only goes up.
///
/// The total is kept in two atomics: an integer part (`inc`, `inc_by_int` and whole-number `inc_by` are one
/// `fetch_add`) and a float part (other `inc_by` values, a compare-and-swap loop), summed when read. No increment
/// takes a lock; only the exemplar variants lock a small mutex to replace the stored exemplar.
///
/// Cloning is cheap and shares the value.
#[derive(Debug, Clone)]
pub struct Counter {
    core: Arc<Core>,
}

#[derive(Debug)]
struct Core {
    desc: Arc<Desc>,
    labels: Labels,
    ints: AtomicU64,
    floats: AtomicF64,
    created: f64,
    exemplar: Mutex<Option<Exemplar>>,
}

impl Counter {
    /// A counter without variable labels.
    pub fn new(opts: Opts) -> Result<Counter, InstrumentError> {
        standalone(opts)
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.core.ints.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a whole number.
    #[inline]
    pub fn inc_by_int(&self, v: u64) {
        self.core.ints.fetch_add(v, Ordering::Relaxed);
    }

    /// Adds `v`. A counter cannot go down: negative and NaN values are ignored (the Go client panics instead).
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v.is_nan() || v < 0.0 {
            return;
        }
        let whole = v as u64;
        if whole as f64 == v {
            self.core.ints.fetch_add(whole, Ordering::Relaxed);
        } else {
            self.core.floats.add(v);
        }
    }

    /// Adds `v` and stores an exemplar (OpenMetrics) with these labels, the value `v` and the current time,
    /// replacing the previous one. The labels are checked first; on error nothing is added.
    pub fn inc_by_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<(), InstrumentError> {
        let exemplar = self.core.desc.exemplar(v, labels)?;
        self.inc_by(v);
        if v >= 0.0 {
            *self.core.exemplar.lock().unwrap_or_else(|p| p.into_inner()) = Some(exemplar);
        }
        Ok(())
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        self.core.ints.load(Ordering::Relaxed) as f64 + self.core.floats.get()
    }

    /// The latest exemplar, if any.
    pub fn exemplar(&self) -> Option<Exemplar> {
        self.core.exemplar.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// This counter's full label set (constant and variable labels, sorted by name).
    pub fn labels(&self) -> &Labels {
        &self.core.labels
    }
}

impl Sealed for Counter {}

impl FamilyMember for Counter {
    type Opts = Opts;
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn describe(opts: Opts, label_names: &[&str]) -> Result<(Desc, ()), InstrumentError> {
        Ok((Desc::new(opts, Self::TYPE, label_names)?, ()))
    }

    fn new_member(desc: &Arc<Desc>, _: &(), labels: Labels) -> Counter {
        Counter {
            core: Arc::new(Core {
                desc: Arc::clone(desc),
                labels,
                ints: AtomicU64::new(0),
                floats: AtomicF64::new(0.0),
                created: unix_seconds(desc.clock.now()),
                exemplar: Mutex::new(None),
            }),
        }
    }

    fn to_metric(&self) -> Metric {
        Metric::new(
            self.core.labels.clone(),
            Value::Counter {
                total: self.get(),
                created: self.core.desc.created.then_some(self.core.created),
                exemplar: self.exemplar(),
            },
        )
    }
}

impl Collector for Counter {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        collect_one(&self.core.desc, self.to_metric(), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_float_parts_add_up() {
        let c = Counter::new(Opts::new("c_total", "h")).unwrap();
        let steps: [(f64, f64); 6] = [
            (1.0, 1.0),
            (0.5, 1.5),
            (2.0, 3.5),
            (-1.0, 3.5),
            (f64::NAN, 3.5),
            (0.25, 3.75),
        ];
        for (inc, want) in steps {
            c.inc_by(inc);
            assert_eq!(c.get(), want, "after inc_by({inc})");
        }
        c.inc();
        c.inc_by_int(10);
        assert_eq!(c.get(), 14.75);
    }

    #[test]
    fn exemplar_replaces_previous_and_bad_labels_add_nothing() {
        let c = Counter::new(Opts::new("c_total", "h")).unwrap();
        c.inc_by_with_exemplar(2.0, &[("trace_id", "a")]).unwrap();
        c.inc_by_with_exemplar(3.0, &[("trace_id", "b")]).unwrap();
        assert!(c.inc_by_with_exemplar(5.0, &[("bad-name", "c")]).is_err());
        assert_eq!(c.get(), 5.0);
        let e = c.exemplar().unwrap();
        assert_eq!((e.labels.get("trace_id"), e.value), (Some("b"), 3.0));
    }
}
