//! The shared core of the workspace: the metric model, the text 0.0.4 and OpenMetrics 1.0 encoders and parser,
//! the instrumentation API and the exporter HTTP runtime.
//!
//! ```
//! use exposition::model::{Labels, Metric, MetricFamily, MetricType, Value};
//! use exposition::encode::{encode, Format};
//!
//! let mut fam = MetricFamily::new("http_requests_total", MetricType::Counter).with_help("Requests served.");
//! fam.push(Metric::new(Labels::from_pairs([("code", "200")]), Value::Counter { total: 1027.0, created: None, exemplar: None }));
//! let mut out = Vec::new();
//! encode(&[fam], Format::Text, &mut out);
//! assert_eq!(String::from_utf8(out).unwrap(), "\
//! ## HELP http_requests_total Requests served.
//! ## TYPE http_requests_total counter
//! http_requests_total{code=\"200\"} 1027
//! ");
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod encode;
#[cfg(feature = "http")]
pub mod http;
pub mod instrument;
pub mod model;
pub mod parse;
pub mod registry;

pub use model::{Label, Labels, Metric, MetricFamily, MetricType, Value};
pub use registry::{CollectError, Collector, Registry};
