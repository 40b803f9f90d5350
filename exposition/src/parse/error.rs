//! Parse errors: one [`ErrorKind`] variant per cause, wrapped in a [`ParseError`] that carries the 1-based line
//! and column where the problem was found.
//!
//! The wording follows the Go parsers of `prometheus/prometheus` (`model/textparse`) where practical, so a
//! message reads like `line 3, column 7: expected label value, got "}"`.

use std::fmt;

/// An error from [`Parser`](super::Parser) or [`families`](super::families), with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// The syntactic element the parser was looking for when it found something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The start of a line: a metric name, `{` or `#`.
    StartToken,
    /// A metric name after `# HELP`, `# TYPE` or `# UNIT`.
    MetadataName(&'static str),
    /// The text after the metric name of a metadata line.
    MetadataText(&'static str),
    /// A label name (or, at the start of a label set, a quoted metric name).
    LabelName,
    /// `=` after a label name.
    Equal,
    /// A double-quoted label value.
    LabelValue,
    /// `,` or `}` after a label value.
    CommaOrBraceClose,
    /// The sample value after the metric name and labels.
    ValueAfterMetric,
    /// A timestamp, an exemplar or the end of the line after the sample value.
    TimestampOrNewRecord,
    /// The end of the line (or an exemplar) after the timestamp.
    NextEntryAfterTimestamp,
    /// `{` opening the exemplar label set after ` # `.
    ExemplarLabels,
    /// The exemplar value after the exemplar labels.
    ValueAfterExemplarLabels,
    /// The exemplar timestamp or the end of the line after the exemplar value.
    ExemplarTimestampOrNewline,
    /// The end of the line after the exemplar timestamp.
    NextEntryAfterExemplarTimestamp,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::StartToken => f.write_str("a valid start token"),
            Expected::MetadataName(kw) => write!(f, "metric name after {kw}"),
            Expected::MetadataText(kw) => write!(f, "text in {kw}"),
            Expected::LabelName => f.write_str("label name"),
            Expected::Equal => f.write_str("equal"),
            Expected::LabelValue => f.write_str("label value"),
            Expected::CommaOrBraceClose => f.write_str("comma or brace close"),
            Expected::ValueAfterMetric => f.write_str("value after metric"),
            Expected::TimestampOrNewRecord => f.write_str("timestamp or new record"),
            Expected::NextEntryAfterTimestamp => f.write_str("next entry after timestamp"),
            Expected::ExemplarLabels => f.write_str("exemplar label set"),
            Expected::ValueAfterExemplarLabels => f.write_str("value after exemplar labels"),
            Expected::ExemplarTimestampOrNewline => f.write_str("exemplar timestamp or end of line"),
            Expected::NextEntryAfterExemplarTimestamp => f.write_str("next entry after exemplar timestamp"),
        }
    }
}

/// The cause of a [`ParseError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The input did not match the format's grammar at this point.
    #[error("expected {expected}, got {got:?}")]
    Syntax {
        /// What the grammar allows here.
        expected: Expected,
        /// The text found instead (up to the end of the offending token, shortened).
        got: String,
    },
    /// A label set without a metric name before it or a quoted name inside it.
    #[error("metric name not set")]
    MetricNameNotSet,
    /// Two quoted metric names in one label set.
    #[error("metric name already set")]
    MetricNameAlreadySet,
    /// A quoted metric or label name that is empty.
    #[error("empty quoted name")]
    EmptyName,
    /// A float in a syntax the Go parsers reject (hexadecimal or with `_`).
    #[error("unsupported character in float {text:?}")]
    UnsupportedFloat {
        /// The value as written.
        text: String,
    },
    /// A value that is not a float.
    #[error("invalid float {text:?}")]
    InvalidFloat {
        /// The value as written.
        text: String,
    },
    /// A float too large for a 64-bit float.
    #[error("float {text:?} out of range")]
    FloatOutOfRange {
        /// The value as written.
        text: String,
    },
    /// A timestamp that is not an integer (text format) or a float (OpenMetrics).
    #[error("invalid timestamp {text:?}")]
    InvalidTimestamp {
        /// The timestamp as written.
        text: String,
    },
    /// An OpenMetrics timestamp that is NaN or infinite.
    #[error("invalid timestamp {text}")]
    NonFiniteTimestamp {
        /// The timestamp as written.
        text: String,
    },
    /// An exemplar timestamp that is NaN or infinite.
    #[error("invalid exemplar timestamp {text}")]
    NonFiniteExemplarTimestamp {
        /// The timestamp as written.
        text: String,
    },
    /// Bytes that are not UTF-8 where text is required.
    #[error("invalid UTF-8 {what}")]
    InvalidUtf8 {
        /// Which element (`label value`, `help text`, ...).
        what: &'static str,
    },
    /// An unknown keyword in a `# TYPE` line.
    #[error("invalid metric type {text:?}")]
    InvalidMetricType {
        /// The keyword as written.
        text: String,
    },
    /// A `# UNIT` that is not a suffix (`_<unit>`) of the metric name.
    #[error("unit {unit:?} not a suffix of metric {name:?}")]
    UnitNotSuffix {
        /// The unit.
        unit: String,
        /// The metric name.
        name: String,
    },
    /// OpenMetrics input that does not end with `# EOF`.
    #[error("data does not end with # EOF")]
    MissingEof,
    /// Anything after the `# EOF` line.
    #[error("unexpected data after # EOF")]
    DataAfterEof,
    /// A label name used twice in one label set.
    #[error("duplicate label name {name:?}")]
    DuplicateLabel {
        /// The repeated label name.
        name: String,
    },
    /// A metadata line for a family that already has samples.
    #[error("{kind} for metric family {family:?} after its samples")]
    MetadataAfterSamples {
        /// `HELP`, `TYPE` or `UNIT`.
        kind: &'static str,
        /// The family name.
        family: String,
    },
    /// A second metadata line of the same kind for one family.
    #[error("second {kind} line for metric family {family:?}")]
    RepeatedMetadata {
        /// `HELP`, `TYPE` or `UNIT`.
        kind: &'static str,
        /// The family name.
        family: String,
    },
    /// A family that appears again after another family started.
    #[error("metric family {family:?} is not contiguous: it appeared before another family")]
    FamilyNotContiguous {
        /// The family name.
        family: String,
    },
    /// A family name that collides with a sample name another family produces.
    #[error("metric family {family:?} clashes with the samples of family {other:?}")]
    NameClash {
        /// The new family name.
        family: String,
        /// The family it clashes with.
        other: String,
    },
    /// A sample whose name does not fit its family's type (e.g. a counter sample without `_total`).
    #[error("sample {sample:?} is not valid for {metric_type} family {family:?}")]
    InvalidSampleName {
        /// The sample name.
        sample: String,
        /// The family name.
        family: String,
        /// The family type.
        metric_type: crate::model::MetricType,
    },
    /// A value not allowed for this kind of sample (negative or NaN counter, info value other than 1, ...).
    #[error("invalid value {value} for sample {sample:?}: {rule}")]
    InvalidValue {
        /// The sample name.
        sample: String,
        /// The value.
        value: f64,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A required label (`le`, `quantile`, the stateset label) is missing.
    #[error("sample {sample:?} is missing label {label:?}")]
    MissingLabel {
        /// The sample name.
        sample: String,
        /// The missing label.
        label: String,
    },
    /// An `le` or `quantile` label value that is not a valid number for its role.
    #[error("invalid {label} label value {value:?}")]
    InvalidLabelNumber {
        /// `le` or `quantile`.
        label: &'static str,
        /// The value as written.
        value: String,
    },
    /// Histogram buckets not in increasing order of `le`.
    #[error("histogram buckets of {family:?} are not in increasing order of le")]
    BucketsOutOfOrder {
        /// The family name.
        family: String,
    },
    /// A cumulative bucket count smaller than the one before.
    #[error("histogram bucket counts of {family:?} decrease")]
    BucketCountsDecrease {
        /// The family name.
        family: String,
    },
    /// A histogram without a `+Inf` bucket.
    #[error("histogram {family:?} has no +Inf bucket")]
    MissingInfBucket {
        /// The family name.
        family: String,
    },
    /// A histogram `_count` that differs from its `+Inf` bucket.
    #[error("histogram {family:?}: count {count} does not match +Inf bucket {inf}")]
    CountMismatch {
        /// The family name.
        family: String,
        /// The `_count` value.
        count: f64,
        /// The `+Inf` bucket value.
        inf: f64,
    },
    /// A histogram with only one of sum and count.
    #[error("histogram {family:?} must have both sum and count or neither")]
    SumWithoutCount {
        /// The family name.
        family: String,
    },
    /// A histogram sum that is not allowed given its buckets.
    #[error("histogram {family:?}: {rule}")]
    InvalidSum {
        /// The family name.
        family: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The samples of one metric are split by another metric of the family.
    #[error("metric of family {family:?} is not contiguous")]
    MetricNotContiguous {
        /// The family name.
        family: String,
    },
    /// A sample timestamp older than the previous one of the same series.
    #[error("timestamp of series {series:?} goes backwards")]
    TimestampOutOfOrder {
        /// The series (name and labels).
        series: String,
    },
    /// The same series twice where one of them has no timestamp.
    #[error("series {series:?} appears twice without timestamps")]
    DuplicateSeries {
        /// The series (name and labels).
        series: String,
    },
    /// An exemplar on a sample that may not carry one.
    #[error("exemplar not allowed on sample {sample:?}")]
    ExemplarNotAllowed {
        /// The sample name.
        sample: String,
    },
    /// Exemplar labels longer than OpenMetrics' 128-character limit.
    #[error("exemplar labels have {chars} characters, more than 128")]
    ExemplarTooLong {
        /// Combined length of the names and values.
        chars: usize,
    },
    /// A `# UNIT` for a type that cannot have one (info, stateset).
    #[error("metric family {family:?} of type {metric_type} cannot have a unit")]
    UnitNotAllowed {
        /// The family name.
        family: String,
        /// The family type.
        metric_type: crate::model::MetricType,
    },
}

impl ErrorKind {
    /// A syntax error with the offending text.
    pub(crate) fn syntax(expected: Expected, got: &[u8]) -> ErrorKind {
        let end = got.len().min(32);
        ErrorKind::Syntax {
            expected,
            got: String::from_utf8_lossy(&got[..end]).into_owned(),
        }
    }
}

/// Converts a byte offset in `input` to a 1-based line and character column.
pub(crate) fn line_column(input: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(input.len());
    let before = &input[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}
