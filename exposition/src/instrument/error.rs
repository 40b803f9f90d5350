//! The error type of the instrumentation API.

/// Errors from building metrics and families, looking up children and attaching exemplars.
///
/// Every variant names the metric it concerns (its full name), so a failing constructor in a large program points
/// at the right call site.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InstrumentError {
    /// The full metric name (namespace, subsystem and name joined by `_`) is not a valid metric name.
    #[error("invalid metric name {name:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    MetricName {
        /// The offending name.
        name: String,
    },
    /// A variable or constant label name is not a valid label name.
    #[error("metric {metric:?}: invalid label name {label:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    LabelName {
        /// The metric name.
        metric: String,
        /// The offending label name.
        label: String,
    },
    /// A label name that is reserved: it starts with `__`, or is `le` on a histogram or `quantile` on a summary.
    #[error("metric {metric:?}: label name {label:?} is reserved")]
    ReservedLabelName {
        /// The metric name.
        metric: String,
        /// The reserved label name.
        label: String,
    },
    /// A label name given twice (among the variable labels, the constant labels, or across both).
    #[error("metric {metric:?}: duplicate label name {label:?}")]
    DuplicateLabelName {
        /// The metric name.
        metric: String,
        /// The repeated label name.
        label: String,
    },
    /// The unit is empty or the metric name does not end in `_<unit>` (before `_total` for a counter).
    #[error("metric {metric:?}: unit {unit:?} is not a suffix of the name")]
    UnitNotSuffix {
        /// The metric name.
        metric: String,
        /// The unit.
        unit: String,
    },
    /// A histogram bucket bound is NaN.
    #[error("histogram {metric:?}: bucket bound {index} is NaN")]
    BucketNaN {
        /// The metric name.
        metric: String,
        /// The position of the bound in the list given.
        index: usize,
    },
    /// Histogram bucket bounds are not strictly increasing.
    #[error("histogram {metric:?}: bucket bounds must be strictly increasing, but {previous} is followed by {bound}")]
    BucketsNotIncreasing {
        /// The metric name.
        metric: String,
        /// The earlier bound.
        previous: f64,
        /// The bound that is not greater than it.
        bound: f64,
    },
    /// A bucket helper was asked for no buckets.
    #[error("bucket helper: count must be at least 1")]
    BucketCount,
    /// [`linear_buckets`](super::linear_buckets) with a width that is not positive.
    #[error("linear buckets: width {width} must be positive")]
    BucketWidth {
        /// The width given.
        width: f64,
    },
    /// [`exponential_buckets`](super::exponential_buckets) with a start that is not positive.
    #[error("exponential buckets: start {start} must be positive")]
    BucketStart {
        /// The start given.
        start: f64,
    },
    /// [`exponential_buckets`](super::exponential_buckets) with a factor not greater than 1.
    #[error("exponential buckets: factor {factor} must be greater than 1")]
    BucketFactor {
        /// The factor given.
        factor: f64,
    },
    /// A summary objective whose quantile is outside `[0, 1]` or whose allowed error is outside `[0, 1]`.
    #[error("summary {metric:?}: invalid objective quantile {quantile} with error {error}: both must be in [0, 1]")]
    Objective {
        /// The metric name.
        metric: String,
        /// The quantile rank.
        quantile: f64,
        /// The allowed rank error.
        error: f64,
    },
    /// A summary whose max age is zero or whose number of age buckets is zero.
    #[error("summary {metric:?}: max age and age buckets must be non-zero")]
    SummaryWindow {
        /// The metric name.
        metric: String,
    },
    /// A child lookup with the wrong number of label values.
    #[error("metric {metric:?}: expected {expected} label values, got {got}")]
    LabelValueCount {
        /// The metric name.
        metric: String,
        /// The number of variable labels of the family.
        expected: usize,
        /// The number of values given.
        got: usize,
    },
    /// A child lookup by name with a label the family does not have.
    #[error("metric {metric:?}: unknown label {label:?}")]
    UnknownLabel {
        /// The metric name.
        metric: String,
        /// The label name given.
        label: String,
    },
    /// A child lookup by name that leaves out one of the family's labels.
    #[error("metric {metric:?}: missing label {label:?}")]
    MissingLabel {
        /// The metric name.
        metric: String,
        /// The label that has no value.
        label: String,
    },
    /// An exemplar label name that is not a valid label name.
    #[error("exemplar: invalid label name {label:?}")]
    ExemplarLabelName {
        /// The offending name.
        label: String,
    },
    /// Exemplar labels longer than OpenMetrics allows (128 UTF-8 characters over all names and values).
    #[error("exemplar: labels are {runes} characters long, at most 128 are allowed")]
    ExemplarTooLong {
        /// The combined length in characters.
        runes: usize,
    },
}
