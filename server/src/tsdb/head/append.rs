//! Append batches: samples are checked at append time (the same rules as [`crate::storage::mem::MemStorage`]:
//! older than the series' newest sample is out of order, the same timestamp with different value bits is a
//! duplicate, the same sample again is accepted and ignored), held until commit, logged to the WAL on commit
//! (series records for series the WAL has not seen, then one samples record) and only then added to the series.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::HeadInner;
use super::series::{Appended, MemSeries, Pending, append_sample};
use crate::model::histogram::{FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::storage::{AppendError, Appender, SeriesRef, StorageError, validate_labels};
use crate::tsdb::wal::record::{RefSample, encode_samples, encode_series};

/// An append batch on the head.
#[derive(Debug)]
pub struct HeadAppender {
    head: Arc<HeadInner>,
    id: u64,
    samples: Vec<(Arc<MemSeries>, i64, f64)>,
    done: bool,
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<HeadInner>) -> HeadAppender {
        let id = head.next_appender.fetch_add(1, Ordering::Relaxed);
        head.metrics.head.active_appenders.inc();
        HeadAppender {
            head,
            id,
            samples: Vec::new(),
            done: false,
        }
    }

    fn lookup(&self, series_ref: SeriesRef, labels: &Labels) -> Result<Arc<MemSeries>, AppendError> {
        if series_ref != 0
            && let Some(s) = self.head.series_by_ref(series_ref)
        {
            return Ok(s);
        }
        validate_labels(labels)?;
        Ok(self.head.get_or_create(labels, 0).0)
    }

    /// Appends a float sample (see [`Appender::append`]).
    pub fn add(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        let mut series = self.lookup(series_ref, labels)?;
        if t < self.head.min_valid_time.load(Ordering::Acquire) {
            self.head.metrics.head.out_of_bound.inc();
            return Err(AppendError::OutOfBounds);
        }
        for _ in 0..2 {
            let mut st = series.lock();
            if st.deleted {
                // Garbage collection removed the series between lookup and lock: recreate it.
                drop(st);
                let labels = series.to_labels();
                series = self.head.get_or_create(&labels, 0).0;
                continue;
            }
            let last = match st.pending {
                Some(p) if p.appender == self.id => Some((p.t, p.v)),
                _ => match st.last {
                    Some(l) => Some(l),
                    None => match st.mmapped.last() {
                        Some(c) => {
                            let maxt = c.maxt;
                            let r = c.chunk_ref;
                            // Only after a restart without newer WAL samples: read the last value from disk.
                            Some((maxt, last_value_on_disk(&self.head, r).unwrap_or(f64::NAN).to_bits()))
                        }
                        None => None,
                    },
                },
            };
            if let Some((lt, lv)) = last {
                if t < lt {
                    self.head.metrics.head.out_of_order.inc();
                    return Err(AppendError::OutOfOrder);
                }
                if t == lt {
                    if lv != v.to_bits() {
                        return Err(AppendError::DuplicateTimestamp);
                    }
                    return Ok(series.series_ref);
                }
            }
            st.pending = Some(Pending {
                appender: self.id,
                t,
                v: v.to_bits(),
            });
            drop(st);
            let r = series.series_ref;
            self.samples.push((series, t, v));
            return Ok(r);
        }
        Err(AppendError::UnknownRef(series_ref))
    }

    fn clear_pending(&mut self) {
        for (s, _, _) in &self.samples {
            let mut st = s.lock();
            if st.pending.is_some_and(|p| p.appender == self.id) {
                st.pending = None;
            }
        }
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.clear_pending();
            self.head.metrics.head.active_appenders.dec();
        }
    }

    /// Logs and applies the batch.
    pub fn commit_batch(&mut self) -> Result<(), StorageError> {
        if self.samples.is_empty() {
            self.finish();
            return Ok(());
        }
        let head = self.head.clone();
        {
            let mut wal = head.wal.lock().unwrap_or_else(|e| e.into_inner());
            if wal.is_none() && head.opts.wal {
                self.finish();
                return Err(StorageError::Closed);
            }
            if let Some(w) = wal.as_mut() {
                let mut series_rec = Vec::new();
                let mut new_series: Vec<(u64, Labels)> = Vec::new();
                for (s, _, _) in &self.samples {
                    if s.take_unlogged() {
                        new_series.push((s.series_ref, s.to_labels()));
                    }
                }
                if !new_series.is_empty() {
                    encode_series(new_series.iter().map(|(r, l)| (*r, l)), &mut series_rec);
                }
                let refs: Vec<RefSample> = self
                    .samples
                    .iter()
                    .map(|(s, t, v)| RefSample {
                        series_ref: s.series_ref,
                        t: *t,
                        v: *v,
                    })
                    .collect();
                let mut samples_rec = Vec::with_capacity(refs.len() * 12 + 17);
                encode_samples(&refs, &mut samples_rec);
                let res = if series_rec.is_empty() {
                    w.log(&[&samples_rec])
                } else {
                    w.log(&[&series_rec, &samples_rec])
                };
                if let Err(e) = res {
                    for (s, _, _) in &self.samples {
                        if new_series.iter().any(|(r, _)| *r == s.series_ref) {
                            s.logged.store(false, Ordering::Release);
                        }
                    }
                    self.finish();
                    return Err(crate::tsdb::TsdbError::from(e).into());
                }
            }
        }
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        let mut appended = 0u64;
        let mut ooo = 0u64;
        let mut chunks = 0u64;
        for (s, t, v) in &self.samples {
            let mut st = s.lock();
            match append_sample(&mut st, s.series_ref, *t, *v, head.params, &head.mapper) {
                Appended::Ok => appended += 1,
                Appended::NewChunk => {
                    appended += 1;
                    chunks += 1;
                }
                Appended::OutOfOrder => ooo += 1,
            }
            if st.pending.is_some_and(|p| p.appender == self.id && p.t <= *t) {
                st.pending = None;
            }
            min = min.min(*t);
            max = max.max(*t);
        }
        let m = &head.metrics.head;
        m.samples_appended.inc_by_int(appended);
        m.out_of_order.inc_by_int(ooo);
        m.chunks_created.inc_by_int(chunks);
        m.chunks.add(chunks as f64);
        head.update_bounds(min, max);
        self.samples.clear();
        self.finish();
        Ok(())
    }
}

/// The last sample value of a chunk on disk.
fn last_value_on_disk(head: &HeadInner, chunk_ref: u64) -> Option<f64> {
    let (_, data) = head.mapper.read_chunk(chunk_ref).ok()?;
    let chunk = crate::tsdb::chunkenc::XorChunk::from_bytes(data).ok()?;
    chunk.iter().filter_map(Result::ok).last().map(|(_, v)| v)
}

impl Drop for HeadAppender {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Appender for HeadAppender {
    fn append(&mut self, series_ref: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.add(series_ref, labels, t, v)
    }

    fn append_histogram(
        &mut self,
        _series_ref: SeriesRef,
        labels: &Labels,
        _t: i64,
        _h: &Histogram,
    ) -> Result<SeriesRef, AppendError> {
        Err(AppendError::InvalidLabels {
            labels: labels.to_string(),
            reason: "native histograms are not stored by the TSDB head yet",
        })
    }

    fn append_float_histogram(
        &mut self,
        _series_ref: SeriesRef,
        labels: &Labels,
        _t: i64,
        _h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError> {
        Err(AppendError::InvalidLabels {
            labels: labels.to_string(),
            reason: "native histograms are not stored by the TSDB head yet",
        })
    }

    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        self.commit_batch()
    }

    fn rollback(mut self: Box<Self>) -> Result<(), StorageError> {
        self.finish();
        self.samples.clear();
        Ok(())
    }
}
