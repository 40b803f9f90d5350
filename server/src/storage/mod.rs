//! The storage traits every part of the server writes and reads through: scraping and rule evaluation append
//! samples with an [`Appender`]; PromQL, the HTTP API and federation read with a [`Querier`]. The TSDB implements
//! them; [`fanout::Fanout`] joins several storages (the local TSDB plus remote write later) behind the same traits;
//! [`mem::MemStorage`] is a small in-memory implementation for tests and tools.
//!
//! Timestamps are milliseconds since the epoch. Series references are opaque numbers a storage hands out on the first
//! append of a label set; passing one back skips the label lookup (0 means "none yet").

pub mod fanout;
pub mod mem;
pub mod merge;

use std::sync::Arc;

use crate::model::histogram::{FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;

/// A storage's handle for a series; 0 is "not known yet".
pub type SeriesRef = u64;

/// Why one sample was not appended. The batch stays usable: the caller may continue and commit the rest.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than the series' newest sample.
    #[error("out of order sample")]
    OutOfOrder,
    /// The sample is older than what the storage still accepts (before the head's range).
    #[error("out of bounds")]
    OutOfBounds,
    /// The sample is older than the out-of-order window allows.
    #[error("too old sample")]
    TooOld,
    /// A different value for a timestamp the series already has.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// A series reference this storage never handed out.
    #[error("unknown series reference {0}")]
    UnknownRef(SeriesRef),
    /// The label set cannot name a series.
    #[error("invalid labels {labels}: {reason}")]
    InvalidLabels {
        /// The offending label set.
        labels: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The storage itself failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A storage-level failure (I/O, corruption, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Data on disk is not what its format says.
    #[error("corrupted data: {0}")]
    Corrupt(String),
    /// The storage is shutting down or closed.
    #[error("storage is closed")]
    Closed,
    /// A query touched more than the allowed number of series or samples, or was cancelled.
    #[error("{0}")]
    Limit(String),
    /// Several storages failed (fanout).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple(Vec<StorageError>),
}

impl StorageError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> StorageError {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Starts append batches.
pub trait Appendable: Send + Sync {
    /// A new batch. Nothing it appends is visible to queries until [`Appender::commit`].
    fn appender(&self) -> Box<dyn Appender>;
}

/// A batch of appends, committed or rolled back as a whole.
pub trait Appender: Send {
    /// Appends a float sample to the series `series_ref` (when non-zero and known) or else to the series named by
    /// `labels`, creating it if needed. Returns the series' reference for later calls. With a reference this
    /// storage handed out, `labels` may be empty (the scrape cache appends known series by reference alone); an
    /// unknown reference is [`AppendError::UnknownRef`], and the caller retries with the labels.
    fn append(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError>;

    /// Appends an integer native histogram sample; as [`Appender::append`] otherwise.
    fn append_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, AppendError>;

    /// Appends a float native histogram sample; as [`Appender::append`] otherwise.
    fn append_float_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError>;

    /// Makes the batch durable (as the storage's write-ahead policy defines) and visible.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;

    /// Discards the batch.
    fn rollback(self: Box<Self>) -> Result<(), StorageError>;
}

/// Opens queriers over a time range.
pub trait Queryable: Send + Sync {
    /// A querier for samples with `mint <= t <= maxt`.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError>;
}

/// A storage that both takes and serves samples.
pub trait Storage: Appendable + Queryable {
    /// The oldest timestamp the storage holds (`i64::MAX` when empty).
    fn start_time(&self) -> i64;
}

/// What a select is for; storages may use it to prune, never to change results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectHints {
    /// Start of the queried range (ms).
    pub start: i64,
    /// End of the queried range (ms).
    pub end: i64,
    /// Query resolution step (ms), 0 for instant queries.
    pub step: i64,
    /// Range of the range selector (ms), 0 for instant selectors.
    pub range: i64,
    /// The function applied to the selector, if any.
    pub func: Option<String>,
    /// Grouping labels of a surrounding aggregation.
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (else `without`).
    pub by: bool,
}

/// Reads series over the range it was opened for.
pub trait Querier: Send + Sync {
    /// Series matching every matcher, with their samples in range. `sorted` asks for label order (always honoured
    /// by the storages here: they return sorted series either way).
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError>;

    /// Sorted distinct values of label `name` among series matching `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Sorted distinct label names among series matching `matchers` (all series when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
}

/// One selected series: its labels and a way to iterate its samples (as often as needed).
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// The samples.
    pub data: Box<dyn SeriesData>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Series {
    /// A fresh iterator over the series' samples, oldest first.
    pub fn iter(&self) -> Box<dyn SampleIterator + '_> {
        self.data.iter()
    }
}

/// The sample source behind a [`Series`].
pub trait SeriesData: Send + Sync {
    /// A fresh iterator, positioned before the first sample.
    fn iter(&self) -> Box<dyn SampleIterator + '_>;
}

/// The kind of the iterator's current sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// No current sample: the iterator is exhausted (or failed; see [`SampleIterator::err`]).
    None,
    /// A float sample: read it with [`SampleIterator::at`].
    Float,
    /// An integer histogram: [`SampleIterator::at_histogram`] or [`SampleIterator::at_float_histogram`].
    Histogram,
    /// A float histogram: [`SampleIterator::at_float_histogram`].
    FloatHistogram,
}

/// Iterates samples in timestamp order, like Prometheus' `chunkenc.Iterator`.
pub trait SampleIterator: Send {
    /// Moves to the next sample and returns its kind.
    fn next(&mut self) -> ValueType;
    /// Moves to the first sample with timestamp >= `t` (staying on the current one if it already qualifies) and
    /// returns its kind.
    fn seek(&mut self, t: i64) -> ValueType;
    /// The current float sample.
    fn at(&self) -> (i64, f64);
    /// The current integer histogram sample.
    fn at_histogram(&self) -> (i64, Histogram);
    /// The current histogram sample as a float histogram (integer histograms are converted).
    fn at_float_histogram(&self) -> (i64, FloatHistogram);
    /// The current sample's timestamp.
    fn at_t(&self) -> i64;
    /// The error that ended iteration early, if any.
    fn err(&self) -> Option<&StorageError>;
}

/// A sample value of any kind, for storages and tools that hold samples in memory.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A float.
    Float(f64),
    /// An integer native histogram.
    Histogram(Arc<Histogram>),
    /// A float native histogram.
    FloatHistogram(Arc<FloatHistogram>),
}

impl Value {
    /// The iterator kind of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Float(_) => ValueType::Float,
            Value::Histogram(_) => ValueType::Histogram,
            Value::FloatHistogram(_) => ValueType::FloatHistogram,
        }
    }
}

/// Whether `labels` satisfies every matcher (a missing label reads as `""`).
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches(labels.get_or_empty(&m.name)))
}

/// Checks a label set can name a series: non-empty, names non-empty, no duplicates (sorted sets guarantee the
/// latter).
pub fn validate_labels(labels: &Labels) -> Result<(), AppendError> {
    if labels.is_empty() {
        return Err(AppendError::InvalidLabels {
            labels: labels.to_string(),
            reason: "empty label set",
        });
    }
    if labels.iter().any(|(n, _)| n.is_empty()) {
        return Err(AppendError::InvalidLabels {
            labels: labels.to_string(),
            reason: "empty label name",
        });
    }
    Ok(())
}

/// Iterates an in-memory slice of `(t, value)` pairs.
#[derive(Debug)]
pub struct SliceIterator<'a> {
    samples: &'a [(i64, Value)],
    /// Index of the current sample plus one (0: before the first).
    pos: usize,
}

impl<'a> SliceIterator<'a> {
    /// An iterator over `samples` (sorted by timestamp).
    pub fn new(samples: &'a [(i64, Value)]) -> SliceIterator<'a> {
        SliceIterator { samples, pos: 0 }
    }

    fn current(&self) -> Option<&(i64, Value)> {
        self.pos.checked_sub(1).and_then(|i| self.samples.get(i))
    }

    fn kind(&self) -> ValueType {
        self.current().map_or(ValueType::None, |(_, v)| v.value_type())
    }
}

impl SampleIterator for SliceIterator<'_> {
    fn next(&mut self) -> ValueType {
        if self.pos <= self.samples.len() {
            self.pos += 1;
        }
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if let Some((ct, _)) = self.current()
            && *ct >= t
        {
            return self.kind();
        }
        let from = self.pos.min(self.samples.len());
        let skip = self.samples[from..].partition_point(|(st, _)| *st < t);
        self.pos = from + skip + 1;
        self.kind()
    }

    fn at(&self) -> (i64, f64) {
        match self.current() {
            Some((t, Value::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        match self.current() {
            Some((t, Value::Histogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, Histogram::default()),
            None => (i64::MIN, Histogram::default()),
        }
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        match self.current() {
            Some((t, Value::Histogram(h))) => (*t, h.to_float()),
            Some((t, Value::FloatHistogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, FloatHistogram::default()),
            None => (i64::MIN, FloatHistogram::default()),
        }
    }

    fn at_t(&self) -> i64 {
        self.current().map_or(i64::MIN, |(t, _)| *t)
    }

    fn err(&self) -> Option<&StorageError> {
        None
    }
}

/// Collects an iterator's samples (for tests and small tools).
pub fn collect_samples(it: &mut dyn SampleIterator) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    loop {
        match it.next() {
            ValueType::None => return out,
            ValueType::Float => {
                let (t, v) = it.at();
                out.push((t, Value::Float(v)));
            }
            ValueType::Histogram => {
                let (t, h) = it.at_histogram();
                out.push((t, Value::Histogram(Arc::new(h))));
            }
            ValueType::FloatHistogram => {
                let (t, h) = it.at_float_histogram();
                out.push((t, Value::FloatHistogram(Arc::new(h))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(ts: &[i64]) -> Vec<(i64, Value)> {
        ts.iter().map(|&t| (t, Value::Float(t as f64))).collect()
    }

    #[test]
    fn slice_iterator_next_and_seek() {
        let data = floats(&[10, 20, 30, 40]);
        let mut it = SliceIterator::new(&data);
        assert_eq!(it.seek(15), ValueType::Float);
        assert_eq!(it.at(), (20, 20.0));
        // Seeking backwards stays put.
        assert_eq!(it.seek(5), ValueType::Float);
        assert_eq!(it.at_t(), 20);
        assert_eq!(it.seek(30), ValueType::Float);
        assert_eq!(it.at_t(), 30);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at_t(), 40);
        assert_eq!(it.seek(41), ValueType::None);
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(it.next(), ValueType::None);
    }

    #[test]
    fn seek_from_start_and_empty() {
        let data = floats(&[10, 20]);
        assert_eq!(SliceIterator::new(&data).seek(i64::MIN), ValueType::Float);
        let mut it = SliceIterator::new(&[]);
        assert_eq!(it.seek(0), ValueType::None);
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(collect_samples(&mut SliceIterator::new(&data)), data);
    }

    #[test]
    fn label_validation() {
        assert!(validate_labels(&Labels::new()).is_err());
        let ok: Labels = [("__name__", "up")].into_iter().collect();
        assert!(validate_labels(&ok).is_ok());
        let bad: Labels = [("", "x")].into_iter().collect();
        assert!(matches!(validate_labels(&bad), Err(AppendError::InvalidLabels { .. })));
    }
}
