//! [`Histogram`]: observations counted into cumulative buckets, with sum and count; bucket helpers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clock::unix_seconds;
use super::desc::{Desc, Opts};
use super::error::InstrumentError;
use super::family::{FamilyMember, Sealed, collect_one, standalone};
use super::hotcold::HotCold;
use crate::model::{Bucket, Exemplar, Labels, Metric, MetricFamily, MetricType, Value};
use crate::registry::{CollectError, Collector};

/// The default bucket bounds, as the Go client's `DefBuckets`: suited to request latencies in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `count` bounds starting at `start`, each `width` above the previous.
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Result<Vec<f64>, InstrumentError> {
    if count < 1 {
        return Err(InstrumentError::BucketCount);
    }
    if width.is_nan() || width <= 0.0 {
        return Err(InstrumentError::BucketWidth { width });
    }
    Ok((0..count).map(|i| start + width * i as f64).collect())
}

/// `count` bounds starting at `start`, each `factor` times the previous.
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Result<Vec<f64>, InstrumentError> {
    if count < 1 {
        return Err(InstrumentError::BucketCount);
    }
    if start.is_nan() || start <= 0.0 {
        return Err(InstrumentError::BucketStart { start });
    }
    if factor.is_nan() || factor <= 1.0 {
        return Err(InstrumentError::BucketFactor { factor });
    }
    let mut out = Vec::with_capacity(count);
    let mut b = start;
    for _ in 0..count {
        out.push(b);
        b *= factor;
    }
    Ok(out)
}

/// Options for a histogram: the common [`Opts`] and the bucket upper bounds.
#[derive(Debug, Clone)]
pub struct HistogramOpts {
    /// Name, HELP, labels and the rest.
    pub opts: Opts,
    /// Strictly increasing upper bounds. A trailing `+Inf` is implied (and dropped if given). Empty means
    /// [`DEFAULT_BUCKETS`].
    pub buckets: Vec<f64>,
}

impl HistogramOpts {
    /// Options with [`DEFAULT_BUCKETS`].
    pub fn new(opts: Opts) -> HistogramOpts {
        HistogramOpts {
            opts,
            buckets: DEFAULT_BUCKETS.to_vec(),
        }
    }

    /// Sets the bucket upper bounds.
    pub fn buckets(mut self, buckets: impl Into<Vec<f64>>) -> HistogramOpts {
        self.buckets = buckets.into();
        self
    }
}

impl From<Opts> for HistogramOpts {
    fn from(opts: Opts) -> HistogramOpts {
        HistogramOpts::new(opts)
    }
}

/// Checks bucket bounds and drops a trailing `+Inf`.
fn validate_buckets(metric: &str, mut buckets: Vec<f64>) -> Result<Arc<[f64]>, InstrumentError> {
    if buckets.is_empty() {
        buckets = DEFAULT_BUCKETS.to_vec();
    }
    if buckets.last() == Some(&f64::INFINITY) {
        buckets.pop();
    }
    for (i, b) in buckets.iter().enumerate() {
        if b.is_nan() {
            return Err(InstrumentError::BucketNaN {
                metric: metric.to_owned(),
                index: i,
            });
        }
        if i > 0 && buckets[i - 1] >= *b {
            return Err(InstrumentError::BucketsNotIncreasing {
                metric: metric.to_owned(),
                previous: buckets[i - 1],
                bound: *b,
            });
        }
    }
    Ok(buckets.into())
}

/// A histogram: counts observations into buckets (`le`, inclusive upper bounds) and keeps their sum and count.
///
/// Observing is lock-free: a binary search for the bucket, then atomic adds on the bucket count, sum and count.
/// A scrape sees the three consistent with each other (see the `hotcold` scheme in the source, after the Go
/// client). Only [`Histogram::observe_with_exemplar`] takes a lock, on the one bucket's exemplar slot.
///
/// Cloning is cheap and shares the value.
#[derive(Debug, Clone)]
pub struct Histogram {
    core: Arc<Core>,
}

#[derive(Debug)]
struct Core {
    desc: Arc<Desc>,
    labels: Labels,
    bounds: Arc<[f64]>,
    counts: HotCold,
    created: f64,
    exemplars: Box<[Mutex<Option<Exemplar>>]>,
}

impl Histogram {
    /// A histogram without variable labels.
    pub fn new(opts: impl Into<HistogramOpts>) -> Result<Histogram, InstrumentError> {
        standalone(opts.into())
    }

    /// The index of the bucket `v` falls in; `bounds.len()` is `+Inf` (also for NaN, as in the Go client).
    #[inline]
    fn bucket(&self, v: f64) -> usize {
        if v.is_nan() {
            return self.core.bounds.len();
        }
        self.core.bounds.partition_point(|b| *b < v)
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.core.counts.observe(self.bucket(v), v);
    }

    /// Records one observation and stores an exemplar for its bucket, replacing the bucket's previous one.
    /// The labels are checked first; on error nothing is recorded.
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<(), InstrumentError> {
        let exemplar = self.core.desc.exemplar(v, labels)?;
        let i = self.bucket(v);
        self.core.counts.observe(i, v);
        if let Some(slot) = self.core.exemplars.get(i) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(exemplar);
        }
        Ok(())
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// A timer that records the seconds elapsed (monotonic clock) when it is dropped or stopped.
    pub fn start_timer(&self) -> HistogramTimer {
        HistogramTimer {
            histogram: self.clone(),
            start: Instant::now(),
            done: false,
        }
    }

    /// The upper bounds of the finite buckets.
    pub fn bounds(&self) -> &[f64] {
        &self.core.bounds
    }

    /// This histogram's full label set (constant and variable labels, sorted by name).
    pub fn labels(&self) -> &Labels {
        &self.core.labels
    }
}

/// Records elapsed time into a histogram when dropped; see [`Histogram::start_timer`].
#[derive(Debug)]
pub struct HistogramTimer {
    histogram: Histogram,
    start: Instant,
    done: bool,
}

impl HistogramTimer {
    /// Records now and returns the seconds observed.
    pub fn observe_duration(mut self) -> f64 {
        self.record()
    }

    /// Drops the timer without recording.
    pub fn stop_and_discard(mut self) {
        self.done = true;
    }

    fn record(&mut self) -> f64 {
        let secs = self.start.elapsed().as_secs_f64();
        if !self.done {
            self.done = true;
            self.histogram.observe(secs);
        }
        secs
    }
}

impl Drop for HistogramTimer {
    fn drop(&mut self) {
        if !self.done {
            self.record();
        }
    }
}

impl Sealed for Histogram {}

impl FamilyMember for Histogram {
    type Opts = HistogramOpts;
    type Config = Arc<[f64]>;
    const TYPE: MetricType = MetricType::Histogram;

    fn describe(opts: HistogramOpts, label_names: &[&str]) -> Result<(Desc, Arc<[f64]>), InstrumentError> {
        let bounds = validate_buckets(&opts.opts.full_name(), opts.buckets)?;
        Ok((Desc::new(opts.opts, Self::TYPE, label_names)?, bounds))
    }

    fn new_member(desc: &Arc<Desc>, bounds: &Arc<[f64]>, labels: Labels) -> Histogram {
        Histogram {
            core: Arc::new(Core {
                desc: Arc::clone(desc),
                labels,
                bounds: Arc::clone(bounds),
                counts: HotCold::new(bounds.len() + 1),
                created: unix_seconds(desc.clock.now()),
                exemplars: (0..=bounds.len()).map(|_| Mutex::new(None)).collect(),
            }),
        }
    }

    fn to_metric(&self) -> Metric {
        let snap = self.core.counts.snapshot();
        let mut cumulative = 0u64;
        let buckets = self
            .core
            .bounds
            .iter()
            .chain(std::iter::once(&f64::INFINITY))
            .zip(&snap.buckets)
            .zip(self.core.exemplars.iter())
            .map(|((bound, n), ex)| {
                cumulative += n;
                Bucket {
                    upper_bound: *bound,
                    cumulative_count: cumulative as f64,
                    exemplar: ex.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                }
            })
            .collect();
        Metric::new(
            self.core.labels.clone(),
            Value::Histogram {
                buckets,
                sum: Some(snap.sum),
                count: Some(snap.count as f64),
                created: self.core.desc.created.then_some(self.core.created),
            },
        )
    }
}

impl Collector for Histogram {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        collect_one(&self.core.desc, self.to_metric(), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cumulative(h: &Histogram) -> Vec<(f64, f64)> {
        match h.to_metric().value {
            Value::Histogram { buckets, .. } => buckets.iter().map(|b| (b.upper_bound, b.cumulative_count)).collect(),
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn boundary_values_land_in_their_le_bucket() {
        let cases: [(f64, [f64; 4]); 8] = [
            (-5.0, [1.0, 1.0, 1.0, 1.0]),
            (1.0, [1.0, 1.0, 1.0, 1.0]),
            (1.0000001, [0.0, 1.0, 1.0, 1.0]),
            (2.0, [0.0, 1.0, 1.0, 1.0]),
            (4.0, [0.0, 0.0, 1.0, 1.0]),
            (4.5, [0.0, 0.0, 0.0, 1.0]),
            (f64::INFINITY, [0.0, 0.0, 0.0, 1.0]),
            (f64::NAN, [0.0, 0.0, 0.0, 1.0]),
        ];
        for (v, want) in cases {
            let h = Histogram::new(HistogramOpts::new(Opts::new("h", "h")).buckets([1.0, 2.0, 4.0])).unwrap();
            h.observe(v);
            let got = cumulative(&h);
            let bounds: Vec<f64> = got.iter().map(|b| b.0).collect();
            assert_eq!(bounds, [1.0, 2.0, 4.0, f64::INFINITY]);
            let counts: Vec<f64> = got.iter().map(|b| b.1).collect();
            assert_eq!(counts, want, "observing {v}");
        }
    }

    #[test]
    fn bucket_validation() {
        type Case = (Vec<f64>, Result<Vec<f64>, InstrumentError>);
        let cases: Vec<Case> = vec![
            (vec![], Ok(DEFAULT_BUCKETS.to_vec())),
            (vec![1.0, f64::INFINITY], Ok(vec![1.0])),
            (vec![f64::INFINITY], Ok(vec![])),
            (vec![-1.0, 0.0, 1.0], Ok(vec![-1.0, 0.0, 1.0])),
            (
                vec![1.0, 1.0],
                Err(InstrumentError::BucketsNotIncreasing {
                    metric: "h".into(),
                    previous: 1.0,
                    bound: 1.0,
                }),
            ),
            (
                vec![2.0, 1.0],
                Err(InstrumentError::BucketsNotIncreasing {
                    metric: "h".into(),
                    previous: 2.0,
                    bound: 1.0,
                }),
            ),
            (
                vec![1.0, f64::NAN],
                Err(InstrumentError::BucketNaN {
                    metric: "h".into(),
                    index: 1,
                }),
            ),
        ];
        for (given, want) in cases {
            let got = validate_buckets("h", given.clone()).map(|b| b.to_vec());
            assert_eq!(got, want, "buckets {given:?}");
        }
    }

    #[test]
    fn bucket_helpers() {
        assert_eq!(linear_buckets(-1.0, 0.5, 4), Ok(vec![-1.0, -0.5, 0.0, 0.5]));
        assert_eq!(exponential_buckets(1.0, 2.0, 4), Ok(vec![1.0, 2.0, 4.0, 8.0]));
        assert_eq!(linear_buckets(0.0, 1.0, 0), Err(InstrumentError::BucketCount));
        assert_eq!(
            linear_buckets(0.0, 0.0, 2),
            Err(InstrumentError::BucketWidth { width: 0.0 })
        );
        assert_eq!(
            exponential_buckets(0.0, 2.0, 2),
            Err(InstrumentError::BucketStart { start: 0.0 })
        );
        assert_eq!(
            exponential_buckets(1.0, 1.0, 2),
            Err(InstrumentError::BucketFactor { factor: 1.0 })
        );
        assert_eq!(exponential_buckets(1.0, 2.0, 0), Err(InstrumentError::BucketCount));
    }

    #[test]
    fn exemplar_goes_to_the_observed_bucket_and_timer_records() {
        let h = Histogram::new(HistogramOpts::new(Opts::new("h", "h")).buckets([1.0, 2.0])).unwrap();
        h.observe_with_exemplar(1.5, &[("trace_id", "t")]).unwrap();
        h.start_timer().stop_and_discard();
        let secs = h.start_timer().observe_duration();
        assert!(secs >= 0.0);
        {
            let _t = h.start_timer();
        }
        let Value::Histogram { buckets, count, .. } = h.to_metric().value else {
            panic!("not a histogram")
        };
        assert_eq!(count, Some(3.0));
        let with: Vec<bool> = buckets.iter().map(|b| b.exemplar.is_some()).collect();
        assert_eq!(with, [false, true, false]);
        assert_eq!(buckets[1].exemplar.as_ref().map(|e| e.value), Some(1.5));
    }
}
