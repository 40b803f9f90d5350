//! Metric options ([`Opts`]) and the validated description shared by a metric and all children of a family.

use std::fmt;
use std::sync::Arc;

use super::clock::{Clock, SystemClock, unix_millis};
use super::error::InstrumentError;
use crate::model::{Exemplar, Labels, MetricFamily, MetricType, is_valid_label_name, is_valid_metric_name};

/// The options every metric takes: name parts, HELP, UNIT, constant labels, `_created` and the clock.
///
/// The full name is `namespace_subsystem_name`, leaving out empty parts, as in the Go client.
///
/// ```
/// use exposition::instrument::Opts;
///
/// let opts = Opts::new("requests_total", "Requests served.").namespace("http").const_label("server", "a");
/// assert_eq!(opts.full_name(), "http_requests_total");
/// ```
#[derive(Clone)]
pub struct Opts {
    /// Optional first name part.
    pub namespace: String,
    /// Optional middle name part.
    pub subsystem: String,
    /// The last name part.
    pub name: String,
    /// The HELP text.
    pub help: String,
    /// The UNIT (OpenMetrics); the name must end in `_<unit>` (before `_total` for a counter).
    pub unit: Option<String>,
    /// Labels with fixed values added to every metric.
    pub const_labels: Labels,
    /// Whether to expose `_created` (counters, histograms, summaries).
    pub created: bool,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for Opts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opts")
            .field("name", &self.full_name())
            .field("help", &self.help)
            .field("unit", &self.unit)
            .field("const_labels", &self.const_labels)
            .field("created", &self.created)
            .field("clock", &self.clock)
            .finish()
    }
}

impl Opts {
    /// Options with a name and HELP text, no unit, no constant labels, no `_created`, the system clock.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Opts {
        Opts {
            namespace: String::new(),
            subsystem: String::new(),
            name: name.into(),
            help: help.into(),
            unit: None,
            const_labels: Labels::new(),
            created: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Opts {
        self.namespace = namespace.into();
        self
    }

    /// Sets the subsystem.
    pub fn subsystem(mut self, subsystem: impl Into<String>) -> Opts {
        self.subsystem = subsystem.into();
        self
    }

    /// Sets the UNIT.
    pub fn unit(mut self, unit: impl Into<String>) -> Opts {
        self.unit = Some(unit.into());
        self
    }

    /// Adds a constant label.
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Opts {
        self.const_labels.push(name, value);
        self
    }

    /// Exposes the creation time as `_created` (OpenMetrics) for counters, histograms and summaries.
    pub fn with_created(mut self) -> Opts {
        self.created = true;
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Opts {
        self.clock = clock;
        self
    }

    /// The full metric name.
    pub fn full_name(&self) -> String {
        [self.namespace.as_str(), self.subsystem.as_str(), self.name.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("_")
    }
}

/// The validated, immutable description of a metric or family: full name, HELP, UNIT, type, constant and
/// variable label names. Shared (behind an `Arc`) by a family and all its children.
#[derive(Debug)]
pub struct Desc {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) metric_type: MetricType,
    pub(crate) const_labels: Labels,
    pub(crate) label_names: Vec<String>,
    pub(crate) created: bool,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Desc {
    /// Validates `opts` and the variable label names for a metric of type `metric_type`.
    pub(crate) fn new(opts: Opts, metric_type: MetricType, label_names: &[&str]) -> Result<Desc, InstrumentError> {
        let name = opts.full_name();
        if !is_valid_metric_name(&name) {
            return Err(InstrumentError::MetricName { name });
        }
        if let Some(unit) = &opts.unit {
            let base = match metric_type {
                MetricType::Counter => name.strip_suffix("_total").unwrap_or(&name),
                _ => &name,
            };
            if unit.is_empty() || !base.strip_suffix(unit.as_str()).is_some_and(|p| p.ends_with('_')) {
                return Err(InstrumentError::UnitNotSuffix {
                    metric: name,
                    unit: unit.clone(),
                });
            }
        }
        let reserved = match metric_type {
            MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        let mut seen: Vec<&str> = Vec::new();
        let all = opts
            .const_labels
            .iter()
            .map(|l| l.name.as_str())
            .chain(label_names.iter().copied());
        for label in all {
            if !is_valid_label_name(label) {
                return Err(InstrumentError::LabelName {
                    metric: name,
                    label: label.to_owned(),
                });
            }
            if label.starts_with("__") || reserved == Some(label) {
                return Err(InstrumentError::ReservedLabelName {
                    metric: name,
                    label: label.to_owned(),
                });
            }
            if seen.contains(&label) {
                return Err(InstrumentError::DuplicateLabelName {
                    metric: name,
                    label: label.to_owned(),
                });
            }
            seen.push(label);
        }
        Ok(Desc {
            name,
            help: opts.help,
            unit: opts.unit,
            metric_type,
            const_labels: opts.const_labels,
            label_names: label_names.iter().map(|s| (*s).to_owned()).collect(),
            created: opts.created,
            clock: opts.clock,
        })
    }

    /// The full metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HELP text.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The metric type.
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// The variable label names, in the order label values are given.
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// The constant labels.
    pub fn const_labels(&self) -> &Labels {
        &self.const_labels
    }

    /// An empty family carrying this description's metadata.
    pub(crate) fn family(&self) -> MetricFamily {
        MetricFamily {
            name: self.name.clone(),
            help: Some(self.help.clone()),
            unit: self.unit.clone(),
            metric_type: self.metric_type,
            metrics: Vec::new(),
        }
    }

    /// The full label set of a child: constant labels plus the variable labels, sorted by name.
    pub(crate) fn child_labels<S: AsRef<str>>(&self, values: &[S]) -> Labels {
        let mut labels = self.const_labels.clone();
        for (n, v) in self.label_names.iter().zip(values) {
            labels.push(n.as_str(), v.as_ref());
        }
        labels.sort();
        labels
    }

    /// Builds an exemplar for an observation of `value` now.
    pub(crate) fn exemplar(&self, value: f64, labels: &[(&str, &str)]) -> Result<Exemplar, InstrumentError> {
        let mut runes = 0;
        for (n, v) in labels {
            if !is_valid_label_name(n) {
                return Err(InstrumentError::ExemplarLabelName { label: (*n).to_owned() });
            }
            runes += n.chars().count() + v.chars().count();
        }
        if runes > 128 {
            return Err(InstrumentError::ExemplarTooLong { runes });
        }
        Ok(Exemplar {
            labels: Labels::from_pairs(labels.iter().copied()),
            value,
            timestamp_ms: Some(unix_millis(self.clock.now())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(opts: Opts, t: MetricType, labels: &[&str]) -> InstrumentError {
        Desc::new(opts, t, labels).expect_err("should be rejected")
    }

    #[test]
    fn validation_errors_name_the_cause() {
        let cases: Vec<(Opts, MetricType, &[&str], InstrumentError)> = vec![
            (
                Opts::new("1bad", "h"),
                MetricType::Counter,
                &[],
                InstrumentError::MetricName { name: "1bad".into() },
            ),
            (
                Opts::new("x", "h").namespace("my-app"),
                MetricType::Gauge,
                &[],
                InstrumentError::MetricName {
                    name: "my-app_x".into(),
                },
            ),
            (
                Opts::new("x", "h"),
                MetricType::Gauge,
                &["a-b"],
                InstrumentError::LabelName {
                    metric: "x".into(),
                    label: "a-b".into(),
                },
            ),
            (
                Opts::new("x", "h").const_label("", "v"),
                MetricType::Gauge,
                &[],
                InstrumentError::LabelName {
                    metric: "x".into(),
                    label: "".into(),
                },
            ),
            (
                Opts::new("x", "h"),
                MetricType::Gauge,
                &["__name__"],
                InstrumentError::ReservedLabelName {
                    metric: "x".into(),
                    label: "__name__".into(),
                },
            ),
            (
                Opts::new("x", "h"),
                MetricType::Histogram,
                &["le"],
                InstrumentError::ReservedLabelName {
                    metric: "x".into(),
                    label: "le".into(),
                },
            ),
            (
                Opts::new("x", "h").const_label("quantile", "1"),
                MetricType::Summary,
                &[],
                InstrumentError::ReservedLabelName {
                    metric: "x".into(),
                    label: "quantile".into(),
                },
            ),
            (
                Opts::new("x", "h"),
                MetricType::Gauge,
                &["a", "b", "a"],
                InstrumentError::DuplicateLabelName {
                    metric: "x".into(),
                    label: "a".into(),
                },
            ),
            (
                Opts::new("x", "h").const_label("a", "1"),
                MetricType::Gauge,
                &["a"],
                InstrumentError::DuplicateLabelName {
                    metric: "x".into(),
                    label: "a".into(),
                },
            ),
            (
                Opts::new("latency", "h").unit("seconds"),
                MetricType::Gauge,
                &[],
                InstrumentError::UnitNotSuffix {
                    metric: "latency".into(),
                    unit: "seconds".into(),
                },
            ),
            (
                Opts::new("read_seconds_total", "h").unit(""),
                MetricType::Counter,
                &[],
                InstrumentError::UnitNotSuffix {
                    metric: "read_seconds_total".into(),
                    unit: "".into(),
                },
            ),
        ];
        for (opts, t, labels, want) in cases {
            assert_eq!(err(opts, t, labels), want);
        }
    }

    #[test]
    fn accepted_names_and_units() {
        let ok: Vec<(Opts, MetricType, &[&str])> = vec![
            (
                Opts::new("read_seconds_total", "h").unit("seconds"),
                MetricType::Counter,
                &[],
            ),
            (Opts::new("size_bytes", "h").unit("bytes"), MetricType::Gauge, &["le"]),
            (
                Opts::new("x", "h").namespace("a").subsystem("b"),
                MetricType::Summary,
                &["le", "_x"],
            ),
        ];
        for (opts, t, labels) in ok {
            Desc::new(opts, t, labels).unwrap();
        }
    }

    #[test]
    fn exemplar_limits() {
        let d = Desc::new(Opts::new("x", "h"), MetricType::Counter, &[]).unwrap();
        let long = "é".repeat(121);
        assert_eq!(
            d.exemplar(1.0, &[("trace_id", long.as_str())]),
            Err(InstrumentError::ExemplarTooLong { runes: 129 })
        );
        assert_eq!(
            d.exemplar(1.0, &[("trace-id", "x")]),
            Err(InstrumentError::ExemplarLabelName {
                label: "trace-id".into()
            })
        );
        let ok = "é".repeat(123);
        let e = d.exemplar(2.5, &[("trace", ok.as_str())]).unwrap();
        assert_eq!(e.labels.get("trace"), Some(ok.as_str()));
        assert_eq!(e.value, 2.5);
    }
}
