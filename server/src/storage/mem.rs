//! An in-memory storage: every series a sorted vector of samples. It applies the same append rules as the TSDB
//! head (no out-of-order samples, no differing duplicates) and serves the PromQL test scripts, unit tests and small
//! tools; it is not built for volume.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use super::{
    AppendError, Appendable, Appender, Querier, Queryable, SampleIterator, SelectHints, Series, SeriesData, SeriesRef,
    SliceIterator, Storage, StorageError, Value, matches_all, validate_labels,
};
use crate::model::histogram::{FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;

#[derive(Debug, Default)]
struct Inner {
    series: BTreeMap<Labels, Vec<(i64, Value)>>,
    refs: HashMap<SeriesRef, Labels>,
    by_labels: HashMap<Labels, SeriesRef>,
    next_ref: SeriesRef,
}

/// The in-memory storage; clones share the same data.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    inner: Arc<RwLock<Inner>>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Drops every series.
    pub fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *inner = Inner::default();
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).series.len()
    }
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MemAppender {
            storage: self.clone(),
            pending: Vec::new(),
        })
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(MemQuerier {
            storage: self.clone(),
            mint,
            maxt,
        }))
    }
}

impl Storage for MemStorage {
    fn start_time(&self) -> i64 {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .series
            .values()
            .filter_map(|s| s.first().map(|(t, _)| *t))
            .min()
            .unwrap_or(i64::MAX)
    }
}

#[derive(Debug)]
struct MemAppender {
    storage: MemStorage,
    pending: Vec<(Labels, i64, Value)>,
}

impl MemAppender {
    fn add(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: Value) -> Result<SeriesRef, AppendError> {
        let mut inner = self.storage.inner.write().unwrap_or_else(|e| e.into_inner());
        let labels = match inner.refs.get(&series_ref) {
            Some(l) if series_ref != 0 => l.clone(),
            _ => {
                validate_labels(labels)?;
                labels.clone()
            }
        };
        // Check against committed data and this batch's earlier samples for the series.
        let last = self
            .pending
            .iter()
            .rev()
            .find(|(l, _, _)| *l == labels)
            .map(|(_, t, v)| (*t, v.clone()))
            .or_else(|| inner.series.get(&labels).and_then(|s| s.last().cloned()));
        if let Some((lt, lv)) = last {
            if t < lt {
                return Err(AppendError::OutOfOrder);
            }
            if t == lt {
                let same = match (&lv, &v) {
                    (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                    (a, b) => a == b,
                };
                if !same {
                    return Err(AppendError::DuplicateTimestamp);
                }
            }
        }
        let series_ref = match inner.by_labels.get(&labels) {
            Some(r) => *r,
            None => {
                inner.next_ref += 1;
                let r = inner.next_ref;
                inner.by_labels.insert(labels.clone(), r);
                inner.refs.insert(r, labels.clone());
                r
            }
        };
        self.pending.push((labels, t, v));
        Ok(series_ref)
    }
}

impl Appender for MemAppender {
    fn append(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.add(series_ref, labels, t, Value::Float(v))
    }

    fn append_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, AppendError> {
        self.add(series_ref, labels, t, Value::Histogram(Arc::new(h.clone())))
    }

    fn append_float_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError> {
        self.add(series_ref, labels, t, Value::FloatHistogram(Arc::new(h.clone())))
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let mut inner = self.storage.inner.write().unwrap_or_else(|e| e.into_inner());
        for (labels, t, v) in self.pending {
            let samples = inner.series.entry(labels).or_default();
            if samples.last().is_none_or(|(lt, _)| *lt < t) {
                samples.push((t, v));
            }
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemQuerier {
    storage: MemStorage,
    mint: i64,
    maxt: i64,
}

struct Snapshot(Vec<(i64, Value)>);

impl SeriesData for Snapshot {
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(SliceIterator::new(&self.0))
    }
}

impl MemQuerier {
    fn matching<'a>(&self, inner: &'a Inner, matchers: &[Matcher]) -> Vec<(&'a Labels, &'a [(i64, Value)])> {
        inner
            .series
            .iter()
            .filter(|(l, _)| matches_all(l, matchers))
            .map(|(l, s)| {
                let from = s.partition_point(|(t, _)| *t < self.mint);
                let to = s.partition_point(|(t, _)| *t <= self.maxt);
                (l, &s[from..to.max(from)])
            })
            .filter(|(_, s)| !s.is_empty())
            .collect()
    }
}

impl Querier for MemQuerier {
    fn select(
        &self,
        _sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let inner = self.storage.inner.read().unwrap_or_else(|e| e.into_inner());
        Ok(self
            .matching(&inner, matchers)
            .into_iter()
            .map(|(l, s)| Series {
                labels: l.clone(),
                data: Box::new(Snapshot(s.to_vec())),
            })
            .collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let inner = self.storage.inner.read().unwrap_or_else(|e| e.into_inner());
        let values: BTreeSet<&str> = self
            .matching(&inner, matchers)
            .into_iter()
            .filter_map(|(l, _)| l.get(name))
            .collect();
        Ok(values.into_iter().map(str::to_string).collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let inner = self.storage.inner.read().unwrap_or_else(|e| e.into_inner());
        let names: BTreeSet<&str> = self
            .matching(&inner, matchers)
            .into_iter()
            .flat_map(|(l, _)| l.iter().map(|(n, _)| n))
            .collect();
        Ok(names.into_iter().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::MatchOp;
    use crate::storage::collect_samples;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().copied().collect()
    }

    #[test]
    fn append_commit_query() {
        let s = MemStorage::new();
        let a = labels(&[("__name__", "up"), ("job", "a")]);
        let b = labels(&[("__name__", "up"), ("job", "b")]);
        let mut app = s.appender();
        let ra = app.append(0, &a, 1000, 1.0).unwrap();
        app.append(ra, &Labels::new(), 2000, 0.0).unwrap();
        app.append(0, &b, 1000, 1.0).unwrap();
        assert!(matches!(app.append(ra, &a, 1500, 1.0), Err(AppendError::OutOfOrder)));
        assert!(matches!(
            app.append(ra, &a, 2000, 5.0),
            Err(AppendError::DuplicateTimestamp)
        ));
        app.append(ra, &a, 2000, 0.0).unwrap();
        // Not visible before commit.
        assert!(
            s.querier(0, 10_000)
                .unwrap()
                .select(true, None, &[])
                .unwrap()
                .is_empty()
        );
        app.commit().unwrap();

        let q = s.querier(1500, 10_000).unwrap();
        let m = Matcher::new(MatchOp::Regex, "job", "a|c").unwrap();
        let got = q.select(true, None, &[m]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(collect_samples(&mut *got[0].iter()), vec![(2000, Value::Float(0.0))]);
        assert_eq!(q.label_values("job", &[]).unwrap(), ["a"]);
        let q = s.querier(0, 10_000).unwrap();
        assert_eq!(q.label_values("job", &[]).unwrap(), ["a", "b"]);
        assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "job"]);
        assert_eq!(s.start_time(), 1000);
    }

    #[test]
    fn rollback_discards() {
        let s = MemStorage::new();
        let mut app = s.appender();
        app.append(0, &labels(&[("__name__", "x")]), 1, 1.0).unwrap();
        app.rollback().unwrap();
        assert_eq!(s.num_series(), 0);
        assert!(s.appender().append(0, &Labels::new(), 1, 1.0).is_err());
    }
}
