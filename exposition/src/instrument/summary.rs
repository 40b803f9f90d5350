//! [`Summary`]: sum and count of observations, with optional streaming quantiles over a sliding time window.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::ckms::Ckms;
use super::clock::unix_seconds;
use super::desc::{Desc, Opts};
use super::error::InstrumentError;
use super::family::{FamilyMember, Sealed, collect_one, standalone};
use super::hotcold::HotCold;
use crate::model::{Labels, Metric, MetricFamily, MetricType, Quantile, Value};
use crate::registry::{CollectError, Collector};

/// The default window length, as the Go client's `DefMaxAge`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// The default number of age buckets, as the Go client's `DefAgeBuckets`.
pub const DEFAULT_AGE_BUCKETS: u32 = 5;
/// The default observation buffer size, as the Go client's `DefBufCap`.
pub const DEFAULT_BUF_CAP: usize = 500;

/// Options for a summary, after the Go client's `SummaryOpts`.
#[derive(Debug, Clone)]
pub struct SummaryOpts {
    /// Name, HELP, labels and the rest.
    pub opts: Opts,
    /// Quantile objectives `(quantile, allowed absolute rank error)`, e.g. `(0.99, 0.001)`. Empty (the default)
    /// means sum and count only.
    pub objectives: Vec<(f64, f64)>,
    /// How long an observation counts towards the quantiles.
    pub max_age: Duration,
    /// Into how many buckets the window is divided; the window slides by `max_age / age_buckets`.
    pub age_buckets: u32,
    /// How many observations are buffered before they are merged into the quantile streams.
    pub buf_cap: usize,
}

impl SummaryOpts {
    /// Options without objectives and with the default window.
    pub fn new(opts: Opts) -> SummaryOpts {
        SummaryOpts {
            opts,
            objectives: Vec::new(),
            max_age: DEFAULT_MAX_AGE,
            age_buckets: DEFAULT_AGE_BUCKETS,
            buf_cap: DEFAULT_BUF_CAP,
        }
    }

    /// Adds a quantile objective with its allowed rank error.
    pub fn objective(mut self, quantile: f64, error: f64) -> SummaryOpts {
        self.objectives.push((quantile, error));
        self
    }

    /// Sets the window length.
    pub fn max_age(mut self, max_age: Duration) -> SummaryOpts {
        self.max_age = max_age;
        self
    }

    /// Sets the number of age buckets.
    pub fn age_buckets(mut self, age_buckets: u32) -> SummaryOpts {
        self.age_buckets = age_buckets;
        self
    }

    /// Sets the buffer size.
    pub fn buf_cap(mut self, buf_cap: usize) -> SummaryOpts {
        self.buf_cap = buf_cap;
        self
    }
}

impl From<Opts> for SummaryOpts {
    fn from(opts: Opts) -> SummaryOpts {
        SummaryOpts::new(opts)
    }
}

/// The validated quantile settings shared by the children of a summary family.
#[derive(Debug, Clone)]
pub struct SummaryConfig {
    targets: Arc<[(f64, f64)]>,
    stream_duration: Duration,
    age_buckets: usize,
    buf_cap: usize,
}

fn validate(opts: &SummaryOpts) -> Result<SummaryConfig, InstrumentError> {
    let metric = opts.opts.full_name();
    let mut targets = opts.objectives.clone();
    for &(quantile, error) in &targets {
        if !(0.0..=1.0).contains(&quantile) || !(0.0..=1.0).contains(&error) {
            return Err(InstrumentError::Objective {
                metric,
                quantile,
                error,
            });
        }
    }
    targets.sort_by(|a, b| a.0.total_cmp(&b.0));
    targets.dedup_by(|a, b| a.0 == b.0);
    if !targets.is_empty() && (opts.max_age.is_zero() || opts.age_buckets == 0) {
        return Err(InstrumentError::SummaryWindow { metric });
    }
    let age_buckets = opts.age_buckets.max(1);
    Ok(SummaryConfig {
        targets: targets.into(),
        stream_duration: opts.max_age / age_buckets,
        age_buckets: age_buckets as usize,
        buf_cap: opts.buf_cap.max(1),
    })
}

/// A summary: the count and sum of observations, and optionally estimated quantiles of the observations made
/// within the last `max_age`.
///
/// Without objectives observing is lock-free (the same consistent atomic scheme as [`Histogram`](super::Histogram)).
/// With objectives each observation takes a short mutex to append to a buffer of `buf_cap` values; a full buffer
/// (or a scrape) merges it into one quantile stream per age bucket (a targeted-quantile CKMS estimator). The window
/// slides by `max_age / age_buckets`: an observation leaves the quantiles between `max_age - max_age / age_buckets`
/// and `max_age` after it was made. Sum and count are totals since creation, as in the Go client. NaN observations
/// count towards sum and count but not the quantiles. A quantile with no observations in the window is NaN.
///
/// Cloning is cheap and shares the value.
#[derive(Debug, Clone)]
pub struct Summary {
    core: Arc<Core>,
}

#[derive(Debug)]
struct Core {
    desc: Arc<Desc>,
    labels: Labels,
    created: f64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Plain(HotCold),
    Windowed(Mutex<Window>),
}

#[derive(Debug)]
struct Window {
    config: SummaryConfig,
    buffer: Vec<f64>,
    streams: Vec<Ckms>,
    head: usize,
    head_expires: SystemTime,
    sum: f64,
    count: u64,
}

impl Window {
    fn new(config: &SummaryConfig, now: SystemTime) -> Window {
        Window {
            buffer: Vec::with_capacity(config.buf_cap),
            streams: (0..config.age_buckets).map(|_| Ckms::new(&config.targets)).collect(),
            head: 0,
            head_expires: now + config.stream_duration,
            sum: 0.0,
            count: 0,
            config: config.clone(),
        }
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.buffer.sort_by(f64::total_cmp);
        for s in &mut self.streams {
            s.insert_sorted(&self.buffer);
        }
        self.buffer.clear();
    }

    /// Resets the streams whose time is up. Everything buffered was observed before `head_expires`, so it is
    /// merged first.
    fn rotate(&mut self, now: SystemTime) {
        let Ok(late) = now.duration_since(self.head_expires) else {
            return;
        };
        self.flush();
        let d = self.config.stream_duration;
        let steps = (late.as_nanos() / d.as_nanos().max(1)).saturating_add(1);
        let n = self.streams.len();
        if steps >= n as u128 {
            self.streams.iter_mut().for_each(Ckms::reset);
            self.head = (self.head + (steps % n as u128) as usize) % n;
        } else {
            for _ in 0..steps {
                self.streams[self.head].reset();
                self.head = (self.head + 1) % n;
            }
        }
        let advance = d.saturating_mul(u32::try_from(steps).unwrap_or(u32::MAX));
        self.head_expires = self.head_expires.checked_add(advance).unwrap_or(now + d);
        if self.head_expires <= now {
            // Only reachable when the step count saturated; resynchronise.
            self.head_expires = now + d;
        }
    }

    fn observe(&mut self, v: f64, now: SystemTime) {
        self.rotate(now);
        self.sum += v;
        self.count += 1;
        if v.is_nan() {
            return;
        }
        self.buffer.push(v);
        if self.buffer.len() >= self.config.buf_cap {
            self.flush();
        }
    }
}

impl Summary {
    /// A summary without variable labels.
    pub fn new(opts: impl Into<SummaryOpts>) -> Result<Summary, InstrumentError> {
        standalone(opts.into())
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        match &self.core.kind {
            Kind::Plain(hc) => hc.observe(0, v),
            Kind::Windowed(w) => {
                let now = self.core.desc.clock.now();
                w.lock().unwrap_or_else(|p| p.into_inner()).observe(v, now);
            }
        }
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// This summary's full label set (constant and variable labels, sorted by name).
    pub fn labels(&self) -> &Labels {
        &self.core.labels
    }

    /// The current `(quantiles, sum, count)`.
    fn read(&self) -> (Vec<Quantile>, f64, f64) {
        match &self.core.kind {
            Kind::Plain(hc) => {
                let s = hc.snapshot();
                (Vec::new(), s.sum, s.count as f64)
            }
            Kind::Windowed(w) => {
                let now = self.core.desc.clock.now();
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                w.rotate(now);
                w.flush();
                let head = &w.streams[w.head];
                let quantiles = w
                    .config
                    .targets
                    .iter()
                    .map(|&(q, e)| Quantile {
                        quantile: q,
                        value: head.query(q, e),
                    })
                    .collect();
                (quantiles, w.sum, w.count as f64)
            }
        }
    }
}

impl Sealed for Summary {}

impl FamilyMember for Summary {
    type Opts = SummaryOpts;
    type Config = SummaryConfig;
    const TYPE: MetricType = MetricType::Summary;

    fn describe(opts: SummaryOpts, label_names: &[&str]) -> Result<(Desc, SummaryConfig), InstrumentError> {
        let config = validate(&opts)?;
        Ok((Desc::new(opts.opts, Self::TYPE, label_names)?, config))
    }

    fn new_member(desc: &Arc<Desc>, config: &SummaryConfig, labels: Labels) -> Summary {
        let now = desc.clock.now();
        let kind = if config.targets.is_empty() {
            Kind::Plain(HotCold::new(1))
        } else {
            Kind::Windowed(Mutex::new(Window::new(config, now)))
        };
        Summary {
            core: Arc::new(Core {
                desc: Arc::clone(desc),
                labels,
                created: unix_seconds(now),
                kind,
            }),
        }
    }

    fn to_metric(&self) -> Metric {
        let (quantiles, sum, count) = self.read();
        Metric::new(
            self.core.labels.clone(),
            Value::Summary {
                quantiles,
                sum: Some(sum),
                count: Some(count),
                created: self.core.desc.created.then_some(self.core.created),
            },
        )
    }
}

impl Collector for Summary {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        collect_one(&self.core.desc, self.to_metric(), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_and_window_validation() {
        let base = || SummaryOpts::new(Opts::new("s", "h"));
        let cases: Vec<(SummaryOpts, Option<InstrumentError>)> = vec![
            (base(), None),
            (
                base().objective(0.5, 0.05).objective(0.0, 0.0).objective(1.0, 0.0),
                None,
            ),
            (
                base().objective(1.5, 0.01),
                Some(InstrumentError::Objective {
                    metric: "s".into(),
                    quantile: 1.5,
                    error: 0.01,
                }),
            ),
            (
                base().objective(0.5, -0.1),
                Some(InstrumentError::Objective {
                    metric: "s".into(),
                    quantile: 0.5,
                    error: -0.1,
                }),
            ),
            (
                base().objective(0.5, 0.05).max_age(Duration::ZERO),
                Some(InstrumentError::SummaryWindow { metric: "s".into() }),
            ),
            (
                base().objective(0.5, 0.05).age_buckets(0),
                Some(InstrumentError::SummaryWindow { metric: "s".into() }),
            ),
            (base().age_buckets(0), None),
        ];
        for (opts, want) in cases {
            let desc = format!("{:?}", opts.objectives);
            assert_eq!(Summary::new(opts).err(), want, "objectives {desc}");
        }
    }

    #[test]
    fn plain_summary_counts_and_sums() {
        let s = Summary::new(Opts::new("s", "h")).unwrap();
        for v in [1.0, 2.5, f64::INFINITY] {
            s.observe(v);
        }
        s.observe_duration(Duration::from_millis(500));
        let (q, sum, count) = s.read();
        assert_eq!((q, sum, count), (vec![], f64::INFINITY, 4.0));
    }
}
