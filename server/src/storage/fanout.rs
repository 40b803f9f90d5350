//! A storage made of a primary (the local TSDB) and secondaries (remote write, later): appends go to all of them,
//! queries read all of them and merge. The primary's series references are the ones handed back; secondaries are
//! addressed by labels, so the fanout remembers the labels of every reference the primary handed out (callers may
//! append known series by reference alone).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::merge::merge_series_sets;
use super::{
    AppendError, Appendable, Appender, Querier, Queryable, SelectHints, Series, SeriesRef, Storage, StorageError,
};
use crate::model::histogram::{FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;

/// The fanout storage.
#[derive(Clone)]
pub struct Fanout {
    primary: Arc<dyn Storage>,
    secondaries: Vec<Arc<dyn Storage>>,
    /// Labels of the primary's references, for the secondaries (kept only when there are secondaries).
    labels: Arc<RwLock<HashMap<SeriesRef, Labels>>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("secondaries", &self.secondaries.len())
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// A fanout over `primary` and `secondaries`.
    pub fn new(primary: Arc<dyn Storage>, secondaries: Vec<Arc<dyn Storage>>) -> Fanout {
        Fanout {
            primary,
            secondaries,
            labels: Arc::default(),
        }
    }
}

impl Appendable for Fanout {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(FanoutAppender {
            primary: self.primary.appender(),
            secondaries: self.secondaries.iter().map(|s| s.appender()).collect(),
            labels: self.labels.clone(),
        })
    }
}

impl Queryable for Fanout {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        let mut queriers = vec![self.primary.querier(mint, maxt)?];
        for s in &self.secondaries {
            queriers.push(s.querier(mint, maxt)?);
        }
        Ok(Box::new(MergeQuerier { queriers }))
    }
}

impl Storage for Fanout {
    fn start_time(&self) -> i64 {
        self.secondaries
            .iter()
            .map(|s| s.start_time())
            .fold(self.primary.start_time(), i64::min)
    }
}

struct FanoutAppender {
    primary: Box<dyn Appender>,
    secondaries: Vec<Box<dyn Appender>>,
    labels: Arc<RwLock<HashMap<SeriesRef, Labels>>>,
}

impl FanoutAppender {
    fn each(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        mut f: impl FnMut(&mut dyn Appender, SeriesRef, &Labels) -> Result<SeriesRef, AppendError>,
    ) -> Result<SeriesRef, AppendError> {
        let r = f(&mut *self.primary, series_ref, labels)?;
        if self.secondaries.is_empty() {
            return Ok(r);
        }
        let resolved = if labels.is_empty() {
            self.labels
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&r)
                .cloned()
                .unwrap_or_default()
        } else {
            self.labels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(r)
                .or_insert_with(|| labels.clone())
                .clone()
        };
        for s in &mut self.secondaries {
            f(&mut **s, 0, &resolved)?;
        }
        Ok(r)
    }
}

impl Appender for FanoutAppender {
    fn append(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.each(series_ref, labels, |a, r, l| a.append(r, l, t, v))
    }

    fn append_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, AppendError> {
        self.each(series_ref, labels, |a, r, l| a.append_histogram(r, l, t, h))
    }

    fn append_float_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError> {
        self.each(series_ref, labels, |a, r, l| a.append_float_histogram(r, l, t, h))
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let this = *self;
        let mut errors = Vec::new();
        if let Err(e) = this.primary.commit() {
            errors.push(e);
        }
        for s in this.secondaries {
            if let Err(e) = s.commit() {
                errors.push(e);
            }
        }
        into_result(errors)
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        let this = *self;
        let mut errors = Vec::new();
        if let Err(e) = this.primary.rollback() {
            errors.push(e);
        }
        for s in this.secondaries {
            if let Err(e) = s.rollback() {
                errors.push(e);
            }
        }
        into_result(errors)
    }
}

fn into_result(mut errors: Vec<StorageError>) -> Result<(), StorageError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(StorageError::Multiple(errors)),
    }
}

/// Reads several queriers as one; the first querier's samples win on equal timestamps.
pub struct MergeQuerier {
    queriers: Vec<Box<dyn Querier>>,
}

impl std::fmt::Debug for MergeQuerier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeQuerier")
            .field("queriers", &self.queriers.len())
            .finish()
    }
}

impl MergeQuerier {
    /// Merges `queriers`.
    pub fn new(queriers: Vec<Box<dyn Querier>>) -> MergeQuerier {
        MergeQuerier { queriers }
    }
}

impl Querier for MergeQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let mut sets = Vec::with_capacity(self.queriers.len());
        for q in &self.queriers {
            sets.push(q.select(sorted, hints, matchers)?);
        }
        Ok(merge_series_sets(sets))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_values(name, matchers)?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_names(matchers)?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;
    use crate::storage::{Value, collect_samples};

    #[test]
    fn appends_reach_all_and_queries_merge() {
        let (a, b) = (MemStorage::new(), MemStorage::new());
        let fan = Fanout::new(Arc::new(a.clone()), vec![Arc::new(b.clone())]);
        let l: Labels = [("__name__", "m")].into_iter().collect();
        let mut app = fan.appender();
        let r = app.append(0, &l, 10, 1.0).unwrap();
        // By reference alone: the fanout supplies the labels to the secondary.
        app.append(r, &Labels::new(), 20, 2.0).unwrap();
        app.commit().unwrap();
        assert_eq!((a.num_series(), b.num_series()), (1, 1));

        // A sample only the secondary has shows up merged.
        let mut only_b = b.appender();
        only_b.append(0, &l, 30, 3.0).unwrap();
        only_b.commit().unwrap();
        let got = fan.querier(0, 100).unwrap().select(true, None, &[]).unwrap();
        assert_eq!(got.len(), 1);
        let samples = collect_samples(&mut *got[0].iter());
        assert_eq!(
            samples,
            vec![
                (10, Value::Float(1.0)),
                (20, Value::Float(2.0)),
                (30, Value::Float(3.0))
            ]
        );
        assert_eq!(fan.start_time(), 10);
    }

    #[test]
    fn rejected_append_reports_primary_error() {
        let fan = Fanout::new(Arc::new(MemStorage::new()), vec![Arc::new(MemStorage::new())]);
        let l: Labels = [("__name__", "m")].into_iter().collect();
        let mut app = fan.appender();
        app.append(0, &l, 10, 1.0).unwrap();
        assert!(matches!(app.append(0, &l, 5, 1.0), Err(AppendError::OutOfOrder)));
        app.rollback().unwrap();
    }
}
