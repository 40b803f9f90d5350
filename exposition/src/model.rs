//! The metric data model shared by the encoders, the parser's family builder, the instrumentation API and every
//! exporter.
//!
//! A [`MetricFamily`] has a name, optional HELP and UNIT, a [`MetricType`] and a list of [`Metric`]s; each metric
//! has its own [`Labels`], a [`Value`] whose shape matches the family type, and an optional timestamp.
//!
//! Naming follows the Go client: `MetricFamily::name` is the name the text format 0.0.4 writes (so a counter is
//! usually named `..._total`). The OpenMetrics encoder derives the OpenMetrics family name from it (a counter
//! loses its `_total` suffix in the metadata lines, the samples keep it; an info family's samples get `_info`).
//!
//! Timestamps are integer milliseconds since the Unix epoch, as Prometheus stores them. `_created` values are
//! seconds since the epoch, as OpenMetrics writes them.

use std::fmt;

/// The type of a metric family, covering both exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonically increasing total.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// Cumulative buckets with an optional sum and count.
    Histogram,
    /// A histogram of a current state (OpenMetrics `gaugehistogram`).
    GaugeHistogram,
    /// Quantiles with an optional sum and count.
    Summary,
    /// Textual information carried in labels (OpenMetrics `info`).
    Info,
    /// A set of boolean states (OpenMetrics `stateset`).
    StateSet,
    /// No type information (`untyped` in text 0.0.4, `unknown` in OpenMetrics).
    Unknown,
}

impl MetricType {
    /// All types, for tables and generators.
    pub const ALL: [MetricType; 8] = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::GaugeHistogram,
        MetricType::Summary,
        MetricType::Info,
        MetricType::StateSet,
        MetricType::Unknown,
    ];

    /// The keyword OpenMetrics uses in `# TYPE` lines.
    pub fn as_openmetrics_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The keyword text format 0.0.4 uses in `# TYPE` lines. That format knows five types: a gauge histogram is
    /// written as a histogram, info and stateset as gauges, unknown as `untyped`.
    pub fn as_text_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Info | MetricType::StateSet => "gauge",
            MetricType::Histogram | MetricType::GaugeHistogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Unknown => "untyped",
        }
    }

    /// Parses an OpenMetrics `# TYPE` keyword.
    pub fn from_openmetrics(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// Parses a text 0.0.4 `# TYPE` keyword (`counter`, `gauge`, `histogram`, `summary`, `untyped`).
    pub fn from_text(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_openmetrics_str())
    }
}

/// A label name/value pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: String,
    /// The label value (any UTF-8).
    pub value: String,
}

/// An ordered list of labels. Encoders write them in this order; [`Labels::sort`] orders them by name as the Go
/// client does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(pub Vec<Label>);

impl Labels {
    /// No labels.
    pub fn new() -> Labels {
        Labels(Vec::new())
    }

    /// Builds labels from name/value pairs, without validation.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels {
        Labels(
            pairs
                .into_iter()
                .map(|(n, v)| Label {
                    name: n.into(),
                    value: v.into(),
                })
                .collect(),
        )
    }

    /// Appends a label.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Label {
            name: name.into(),
            value: value.into(),
        });
    }

    /// The value of the label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|l| l.name == name).map(|l| l.value.as_str())
    }

    /// Iterates over the labels in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts the labels by name.
    pub fn sort(&mut self) {
        self.0.sort();
    }

    /// Checks every name with [`validate_label_name`] and rejects duplicates.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (i, l) in self.0.iter().enumerate() {
            validate_label_name(&l.name)?;
            if self.0[..i].iter().any(|p| p.name == l.name) {
                return Err(ModelError::DuplicateLabel { name: l.name.clone() });
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// An OpenMetrics exemplar: a reference to a trace or other sample that led to a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (e.g. `trace_id`). OpenMetrics limits their combined length to 128 UTF-8 characters.
    pub labels: Labels,
    /// The exemplar value.
    pub value: f64,
    /// Optional timestamp in milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// One cumulative histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The inclusive upper bound (`le`); the last bucket is `+Inf`.
    pub upper_bound: f64,
    /// Observations less than or equal to the bound.
    pub cumulative_count: f64,
    /// Optional exemplar.
    pub exemplar: Option<Exemplar>,
}

/// One summary quantile.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantile {
    /// The quantile rank, 0 to 1.
    pub quantile: f64,
    /// The value at that rank.
    pub value: f64,
}

/// One state of a stateset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The state's name, written as the value of the label named after the family.
    pub name: String,
    /// Whether the state is set.
    pub enabled: bool,
}

/// The value of one metric; its variant matches the family's [`MetricType`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter total, with optional `_created` (seconds) and exemplar.
    Counter {
        /// The total.
        total: f64,
        /// When the counter was created, in seconds since the epoch.
        created: Option<f64>,
        /// Optional exemplar on the `_total` sample.
        exemplar: Option<Exemplar>,
    },
    /// A gauge value.
    Gauge(f64),
    /// An untyped value.
    Unknown(f64),
    /// A histogram or gauge histogram. For a gauge histogram `sum` and `count` are written as `_gsum`/`_gcount`
    /// and `created` must be `None`.
    Histogram {
        /// Cumulative buckets in increasing order of bound, normally ending in `+Inf`.
        buckets: Vec<Bucket>,
        /// Sum of observations.
        sum: Option<f64>,
        /// Count of observations (equals the `+Inf` bucket).
        count: Option<f64>,
        /// When the histogram was created, in seconds since the epoch.
        created: Option<f64>,
    },
    /// A summary.
    Summary {
        /// Quantiles.
        quantiles: Vec<Quantile>,
        /// Sum of observations.
        sum: Option<f64>,
        /// Count of observations.
        count: Option<f64>,
        /// When the summary was created, in seconds since the epoch.
        created: Option<f64>,
    },
    /// An info metric: the information is in the metric's labels, the value is always 1.
    Info,
    /// A stateset.
    StateSet(Vec<State>),
}

impl Value {
    /// True when this value shape can belong to a family of type `t`.
    pub fn fits(&self, t: MetricType) -> bool {
        matches!(
            (self, t),
            (Value::Counter { .. }, MetricType::Counter)
                | (Value::Gauge(_), MetricType::Gauge)
                | (Value::Unknown(_), MetricType::Unknown)
                | (Value::Histogram { .. }, MetricType::Histogram)
                | (Value::Histogram { created: None, .. }, MetricType::GaugeHistogram)
                | (Value::Summary { .. }, MetricType::Summary)
                | (Value::Info, MetricType::Info)
                | (Value::StateSet(_), MetricType::StateSet)
        )
    }
}

/// One metric of a family: labels, value and optional timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's labels (without the family name, `le`, `quantile` or stateset label).
    pub labels: Labels,
    /// The value.
    pub value: Value,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Metric {
    /// A metric without timestamp.
    pub fn new(labels: Labels, value: Value) -> Metric {
        Metric {
            labels,
            value,
            timestamp_ms: None,
        }
    }
}

/// A metric family: metadata plus metrics of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The name as text format 0.0.4 writes it (see the module docs).
    pub name: String,
    /// HELP text, unescaped.
    pub help: Option<String>,
    /// UNIT (OpenMetrics only; the name must end in `_<unit>`).
    pub unit: Option<String>,
    /// The type; every metric's value must fit it.
    pub metric_type: MetricType,
    /// The metrics.
    pub metrics: Vec<Metric>,
}

impl MetricFamily {
    /// A family without HELP, UNIT or metrics.
    pub fn new(name: impl Into<String>, metric_type: MetricType) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: None,
            unit: None,
            metric_type,
            metrics: Vec::new(),
        }
    }

    /// Sets the HELP text.
    pub fn with_help(mut self, help: impl Into<String>) -> MetricFamily {
        self.help = Some(help.into());
        self
    }

    /// Sets the UNIT.
    pub fn with_unit(mut self, unit: impl Into<String>) -> MetricFamily {
        self.unit = Some(unit.into());
        self
    }

    /// Adds a metric.
    pub fn push(&mut self, metric: Metric) {
        // Most families of an exporter hold one metric: the first push makes room for exactly one rather than
        // `Vec`'s minimum of four (a `Metric` is over a hundred bytes, so that would waste 300+ per family).
        if self.metrics.capacity() == 0 {
            self.metrics.reserve_exact(1);
        }
        self.metrics.push(metric);
    }

    /// The family name OpenMetrics writes in metadata lines: without `_total` for a counter.
    pub fn openmetrics_name(&self) -> &str {
        match self.metric_type {
            MetricType::Counter => self.name.strip_suffix("_total").unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// Validates the family name, unit, every label set and that each value fits the type.
    pub fn validate(&self) -> Result<(), ModelError> {
        validate_metric_name(&self.name)?;
        if let Some(unit) = &self.unit {
            let base = self.openmetrics_name();
            if unit.is_empty() || !base.strip_suffix(unit.as_str()).is_some_and(|p| p.ends_with('_')) {
                return Err(ModelError::UnitNotSuffix {
                    family: self.name.clone(),
                    unit: unit.clone(),
                });
            }
        }
        let reserved: &[&str] = match self.metric_type {
            MetricType::Histogram | MetricType::GaugeHistogram => &["le"],
            MetricType::Summary => &["quantile"],
            MetricType::StateSet => &[],
            _ => &[],
        };
        for m in &self.metrics {
            if !m.value.fits(self.metric_type) {
                return Err(ModelError::ValueTypeMismatch {
                    family: self.name.clone(),
                    expected: self.metric_type,
                });
            }
            m.labels.validate()?;
            for l in &m.labels {
                if reserved.contains(&l.name.as_str())
                    || (self.metric_type == MetricType::StateSet && l.name == self.name)
                {
                    return Err(ModelError::ReservedLabel {
                        family: self.name.clone(),
                        label: l.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Errors from validating names and families.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName {
        /// The offending name.
        name: String,
    },
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {name:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName {
        /// The offending name.
        name: String,
    },
    /// A label name that appears twice in one label set.
    #[error("duplicate label name {name:?}")]
    DuplicateLabel {
        /// The repeated name.
        name: String,
    },
    /// A label the family type reserves (`le`, `quantile`, the stateset's own name).
    #[error("metric family {family:?}: label {label:?} is reserved for this type")]
    ReservedLabel {
        /// The family name.
        family: String,
        /// The reserved label.
        label: String,
    },
    /// A value whose shape does not match the family type.
    #[error("metric family {family:?}: a value does not fit type {expected}")]
    ValueTypeMismatch {
        /// The family name.
        family: String,
        /// The family's type.
        expected: MetricType,
    },
    /// A UNIT that is not a suffix of the family name.
    #[error("metric family {family:?}: unit {unit:?} is not a suffix of the name")]
    UnitNotSuffix {
        /// The family name.
        family: String,
        /// The unit.
        unit: String,
    },
}

/// True for a name matching `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// True for a name matching `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Checks a metric name, with an error naming it.
pub fn validate_metric_name(name: &str) -> Result<(), ModelError> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(ModelError::InvalidMetricName { name: name.to_owned() })
    }
}

/// Checks a label name, with an error naming it.
pub fn validate_label_name(name: &str) -> Result<(), ModelError> {
    if is_valid_label_name(name) {
        Ok(())
    } else {
        Err(ModelError::InvalidLabelName { name: name.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_push_makes_room_for_one_metric() {
        let mut fam = MetricFamily::new("a", MetricType::Gauge);
        fam.push(Metric::new(Labels::new(), Value::Gauge(1.0)));
        assert_eq!(fam.metrics.capacity(), 1);
        for i in 2..=5 {
            fam.push(Metric::new(
                Labels::from_pairs([("i", i.to_string())]),
                Value::Gauge(1.0),
            ));
        }
        assert_eq!(fam.metrics.len(), 5);
        assert!(fam.metrics.capacity() >= 5);
    }

    #[test]
    fn metric_names() {
        for ok in ["a", "_a", ":a", "a:b_c9", "node_cpu_seconds_total"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a.b", "a b", "é"] {
            assert!(validate_metric_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_a", "__name__", "le9"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a:b", "a-b"] {
            assert!(validate_label_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn family_validation() {
        let mut f = MetricFamily::new("http_requests_total", MetricType::Counter);
        f.push(Metric::new(Labels::from_pairs([("code", "200")]), Value::Gauge(1.0)));
        assert!(matches!(f.validate(), Err(ModelError::ValueTypeMismatch { .. })));

        let mut h = MetricFamily::new("latency_seconds", MetricType::Histogram).with_unit("seconds");
        h.push(Metric::new(
            Labels::from_pairs([("le", "1")]),
            Value::Histogram {
                buckets: vec![],
                sum: None,
                count: None,
                created: None,
            },
        ));
        assert!(matches!(h.validate(), Err(ModelError::ReservedLabel { .. })));

        let u = MetricFamily::new("latency", MetricType::Gauge).with_unit("seconds");
        assert!(matches!(u.validate(), Err(ModelError::UnitNotSuffix { .. })));

        let dup = Labels::from_pairs([("a", "1"), ("a", "2")]);
        assert!(matches!(dup.validate(), Err(ModelError::DuplicateLabel { .. })));
    }

    #[test]
    fn type_keywords_round_trip() {
        for t in MetricType::ALL {
            assert_eq!(MetricType::from_openmetrics(t.as_openmetrics_str()), Some(t));
        }
        assert_eq!(MetricType::from_text("untyped"), Some(MetricType::Unknown));
        assert_eq!(MetricType::from_text("info"), None);
    }
}
