//! The instrumentation API: counters, gauges, histograms and summaries for applications and for this workspace's
//! own binaries, alone or in labelled families, each a [`Collector`](crate::Collector) to register with a
//! [`Registry`](crate::Registry). There is no global default registry.
//!
//! - [`Counter`], [`Gauge`] and [`Histogram`] record without locks (atomics; `f64` values stored as bits and updated
//!   by compare-and-swap; histogram buckets as `AtomicU64`, read consistently by a hot/cold scheme).
//! - [`Summary`] keeps sum and count lock-free; with quantile objectives it buffers observations under a short
//!   mutex and estimates quantiles over a sliding window of age buckets.
//! - [`Family<M>`] (aliases [`CounterVec`], [`GaugeVec`], [`HistogramVec`], [`SummaryVec`]) holds one child per set
//!   of label values; child handles are cheap `Arc` clones worth keeping on hot paths.
//! - Names, units and label names are validated when a metric is built; failures are [`InstrumentError`]s.
//! - OpenMetrics extras: `_created` ([`Opts::with_created`]), exemplars on counters and histogram buckets, UNIT.
//! - Time comes from a [`Clock`] ([`SystemClock`] by default, [`ManualClock`] for deterministic tests).
//!
//! ```
//! use exposition::Registry;
//! use exposition::instrument::{CounterVec, Histogram, HistogramOpts, Opts};
//! use exposition::model::Value;
//!
//! let registry = Registry::new();
//! let requests = CounterVec::new(Opts::new("http_requests_total", "Requests served."), &["code"])?;
//! let latency = Histogram::new(
//!     HistogramOpts::new(Opts::new("http_request_duration_seconds", "Request latency.")).buckets([0.1, 1.0]),
//! )?;
//! registry.register(requests.clone());
//! registry.register(latency.clone());
//!
//! let ok = requests.with_label_values(&["200"])?; // keep this handle to skip the lookup next time
//! ok.inc();
//! requests.with_labels(&[("code", "500")])?.inc_by(2.0);
//! latency.observe(0.25);
//!
//! let families = registry.gather(&[])?;
//! assert_eq!(families.len(), 2);
//! let counter = &families[1];
//! assert_eq!(counter.name, "http_requests_total");
//! assert_eq!(counter.metrics.len(), 2);
//! assert!(matches!(counter.metrics[1].value, Value::Counter { total: 2.0, .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod atomic;
mod ckms;
mod clock;
mod counter;
mod desc;
mod error;
mod family;
mod gauge;
mod histogram;
mod hotcold;
mod summary;

pub use clock::{Clock, ManualClock, SystemClock};
pub use counter::Counter;
pub use desc::{Desc, Opts};
pub use error::InstrumentError;
pub use family::{CounterVec, Family, FamilyMember, GaugeVec, HistogramVec, SummaryVec};
pub use gauge::Gauge;
pub use histogram::{DEFAULT_BUCKETS, Histogram, HistogramOpts, HistogramTimer, exponential_buckets, linear_buckets};
pub use summary::{DEFAULT_AGE_BUCKETS, DEFAULT_BUF_CAP, DEFAULT_MAX_AGE, Summary, SummaryConfig, SummaryOpts};
