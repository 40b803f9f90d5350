//! Append batches: samples are checked at append time (the same rules as [`crate::storage::mem::MemStorage`]:
//! older than the series' newest sample is out of order, the same timestamp with a different value is a
//! duplicate, the same sample again is accepted and ignored), held until commit, logged to the WAL on commit
//! (series records for series the WAL has not seen, then the samples and histogram records) and only then added
//! to the series.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::series::{Appended, MemSeries, Pending, SampleRef, SeriesState, ValueKey, append_sample};
use super::{HeadInner, U64Map};
use crate::model::histogram::{FloatHistogram, Histogram, Span};
use crate::model::labels::Labels;
use crate::storage::{AppendError, Appender, SeriesRef, StorageError, validate_labels};
use crate::tsdb::wal::histogram_record::{RefFloatHistogram, RefHistogram, encode_float_histograms, encode_histograms};
use crate::tsdb::wal::record::{self, RefSample};

/// A pending sample's value.
#[derive(Debug, Clone)]
enum PendingValue {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

impl PendingValue {
    fn as_ref(&self) -> SampleRef<'_> {
        match self {
            PendingValue::Float(v) => SampleRef::Float(*v),
            PendingValue::Histogram(h) => SampleRef::Histogram(h),
            PendingValue::FloatHistogram(h) => SampleRef::FloatHistogram(h),
        }
    }
}

/// An append batch on the head.
#[derive(Debug)]
pub struct HeadAppender {
    head: Arc<HeadInner>,
    id: std::num::NonZeroU32,
    samples: Vec<(Arc<MemSeries>, i64, PendingValue)>,
    /// Whether every pending sample is a float (no histogram records to encode).
    floats_only: bool,
    /// Series reference -> index of its newest sample in `samples`, built on first need.
    batch_index: Option<U64Map<usize>>,
    done: bool,
}

fn spans_fit(spans: &[Span], buckets: usize) -> bool {
    spans.iter().map(|s| s.length as usize).sum::<usize>() == buckets
}

fn invalid_histogram(labels: &Labels, what: &str) -> AppendError {
    AppendError::Storage(StorageError::Corrupt(format!("invalid histogram for {labels}: {what}")))
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<HeadInner>) -> HeadAppender {
        // Ids wrap after 2^32 appenders; only appenders alive at the same time need distinct ids.
        let id = loop {
            if let Some(id) = std::num::NonZeroU32::new(head.next_appender.fetch_add(1, Ordering::Relaxed)) {
                break id;
            }
        };
        head.metrics.head.active_appenders.inc();
        HeadAppender {
            head,
            id,
            samples: Vec::new(),
            floats_only: true,
            batch_index: None,
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
        self.add_value(series_ref, labels, t, PendingValue::Float(v))
    }

    fn add_value(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        v: PendingValue,
    ) -> Result<SeriesRef, AppendError> {
        let mut series = self.lookup(series_ref, labels)?;
        // As upstream's appendableMinValidTime: nothing goes into the range the compactor may be persisting (older
        // than half a chunk range before the newest sample), nor before the newest block's end.
        let max = self.head.max_time.load(Ordering::Acquire);
        let window = if max == i64::MIN {
            i64::MIN
        } else {
            max.saturating_sub(self.head.params.chunk_range / 2)
        };
        if t < self.head.min_valid_time.load(Ordering::Acquire).max(window) {
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
            // The newest sample: this batch's, else the committed one.
            let (last_t, in_batch) = match st.pending() {
                Some(p) if p.appender == self.id => (Some(p.t), true),
                _ => (st.max_time(), false),
            };
            if let Some(lt) = last_t {
                if t < lt {
                    self.head.metrics.head.out_of_order.inc();
                    return Err(AppendError::OutOfOrder);
                }
                if t == lt {
                    let last_key = if in_batch {
                        self.batch_value_key(series.series_ref)
                    } else {
                        committed_value_key(&self.head, &st)
                    };
                    if last_key != Some(v.as_ref().key()) {
                        return Err(AppendError::DuplicateTimestamp);
                    }
                    return Ok(series.series_ref);
                }
            }
            st.set_pending(Some(Pending { appender: self.id, t }));
            drop(st);
            let r = series.series_ref;
            if self.samples.capacity() == 0 {
                // Size the batch like the last commit (scrapes of a target repeat), not by doubling.
                self.samples
                    .reserve(self.head.batch_hint.load(Ordering::Relaxed).min(1 << 16));
            }
            self.floats_only &= matches!(v, PendingValue::Float(_));
            if let Some(index) = self.batch_index.as_mut() {
                index.insert(r, self.samples.len());
            }
            self.samples.push((series, t, v));
            return Ok(r);
        }
        Err(AppendError::UnknownRef(series_ref))
    }

    /// The value key of this batch's newest sample for series `r`. The batch's index by series is built the first
    /// time it is needed (a second sample at the same timestamp in one batch is rare) and kept up to date after.
    fn batch_value_key(&mut self, r: SeriesRef) -> Option<ValueKey> {
        let samples = &self.samples;
        let index = self.batch_index.get_or_insert_with(|| {
            let mut m = U64Map::default();
            for (i, (s, _, _)) in samples.iter().enumerate() {
                m.insert(s.series_ref, i);
            }
            m
        });
        let (_, _, v) = samples.get(*index.get(&r)?)?;
        Some(v.as_ref().key())
    }

    fn clear_pending(&mut self) {
        for (s, _, _) in &self.samples {
            let mut st = s.lock();
            if st.pending().is_some_and(|p| p.appender == self.id) {
                st.set_pending(None);
            }
        }
        self.batch_index = None;
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.clear_pending();
            self.head.metrics.head.active_appenders.dec();
        }
    }

    /// The WAL records of the batch's samples (floats, then histograms), encoded outside the WAL lock. The float
    /// record goes into `floats` (a buffer reused across commits); histogram records (rare) are returned.
    fn encode_samples(&self, floats: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let float_samples = self.samples.iter().filter_map(|(s, t, v)| match v {
            PendingValue::Float(v) => Some(RefSample {
                series_ref: s.series_ref,
                t: *t,
                v: *v,
            }),
            _ => None,
        });
        record::encode_sample_iter(float_samples, floats);
        if self.floats_only {
            return Vec::new();
        }
        let mut hists = Vec::new();
        let mut float_hists = Vec::new();
        for (s, t, v) in &self.samples {
            let (series_ref, t) = (s.series_ref, *t);
            match v {
                PendingValue::Float(_) => {}
                PendingValue::Histogram(h) => hists.push(RefHistogram {
                    series_ref,
                    t,
                    h: (**h).clone(),
                }),
                PendingValue::FloatHistogram(h) => float_hists.push(RefFloatHistogram {
                    series_ref,
                    t,
                    h: (**h).clone(),
                }),
            }
        }
        let mut recs = encode_histograms(&hists);
        recs.extend(encode_float_histograms(&float_hists));
        recs
    }

    /// Logs and applies the batch.
    pub fn commit_batch(&mut self) -> Result<(), StorageError> {
        if self.samples.is_empty() {
            self.finish();
            return Ok(());
        }
        let head = self.head.clone();
        // Sample records are encoded before taking the WAL lock; series records are decided under it, so a series
        // record always precedes the first samples record that refers to the series.
        let mut float_rec = head.buffers.take();
        let hist_recs = if head.opts.wal {
            self.encode_samples(&mut float_rec)
        } else {
            Vec::new()
        };
        {
            let mut wal = head.wal.lock().unwrap_or_else(|e| e.into_inner());
            if wal.is_none() && head.opts.wal {
                self.finish();
                return Err(StorageError::Closed);
            }
            if let Some(w) = wal.as_mut() {
                // Series records for series the WAL has not seen yet, encoded straight from the interned labels.
                let mut series_rec = Vec::new();
                let mut new_series: Vec<&Arc<MemSeries>> = Vec::new();
                for (s, _, _) in &self.samples {
                    if s.take_unlogged() {
                        if series_rec.is_empty() {
                            series_rec.push(record::types::SERIES);
                        }
                        series_rec.extend_from_slice(&s.series_ref.to_be_bytes());
                        record::encode_labels(s.label_pairs(), s.labels.len() / 2, &mut series_rec);
                        new_series.push(s);
                    }
                }
                let mut recs: Vec<&[u8]> = Vec::with_capacity(hist_recs.len() + 2);
                if !series_rec.is_empty() {
                    recs.push(&series_rec);
                }
                if !float_rec.is_empty() {
                    recs.push(&float_rec);
                }
                recs.extend(hist_recs.iter().map(Vec::as_slice));
                if let Err(e) = w.log(&recs) {
                    for s in &new_series {
                        s.logged.store(false, Ordering::Release);
                    }
                    drop(wal);
                    head.buffers.put(float_rec);
                    self.finish();
                    return Err(crate::tsdb::TsdbError::from(e).into());
                }
            }
        }
        head.buffers.put(float_rec);
        head.batch_hint.store(self.samples.len(), Ordering::Relaxed);
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        let (mut floats, mut hists, mut ooo, mut chunks) = (0u64, 0u64, 0u64, 0u64);
        for (s, t, v) in &self.samples {
            let mut st = s.lock();
            let appended = append_sample(&mut st, s.series_ref, *t, v.as_ref(), head.params, &head.mapper);
            if matches!(appended, Appended::Ok | Appended::NewChunk) {
                match v {
                    PendingValue::Float(_) => floats += 1,
                    _ => hists += 1,
                }
                min = min.min(*t);
                max = max.max(*t);
            }
            match appended {
                Appended::NewChunk => chunks += 1,
                Appended::OutOfOrder => ooo += 1,
                Appended::Ok | Appended::Invalid => {}
            }
            if st.pending().is_some_and(|p| p.appender == self.id && p.t <= *t) {
                st.set_pending(None);
            }
        }
        let m = &head.metrics.head;
        m.samples_appended.inc_by_int(floats);
        m.histograms_appended.inc_by_int(hists);
        m.out_of_order.inc_by_int(ooo);
        m.chunks_created.inc_by_int(chunks);
        m.chunks.add(chunks as f64);
        if min <= max {
            head.update_bounds(min, max);
        }
        self.samples.clear();
        self.finish();
        Ok(())
    }
}

/// The value key of the newest committed sample of a series (`None` when unknown: a chunk on disk that cannot be
/// read or is not a float chunk).
fn committed_value_key(head: &HeadInner, st: &SeriesState) -> Option<ValueKey> {
    if let Some((_, key)) = st.head.as_ref().and_then(|h| h.last()) {
        return Some(key);
    }
    // Only after a restart or truncation left no open chunk: the last value is on disk.
    let maxt = st.max_time()?;
    let c = st.mmapped.last().filter(|c| c.maxt == maxt)?;
    last_float_on_disk(head, c.chunk_ref).map(|v| SampleRef::Float(v).key())
}

/// The last sample value of a float chunk on disk (`None` for other encodings or on error).
fn last_float_on_disk(head: &HeadInner, chunk_ref: u64) -> Option<f64> {
    let (encoding, data) = head.mapper.read_chunk(chunk_ref).ok()?;
    if encoding != crate::tsdb::chunks_head::ENCODING_XOR {
        return None;
    }
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
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, AppendError> {
        if !spans_fit(&h.positive_spans, h.positive_buckets.len())
            || !spans_fit(&h.negative_spans, h.negative_buckets.len())
        {
            return Err(invalid_histogram(labels, "spans and buckets mismatch"));
        }
        self.add_value(series_ref, labels, t, PendingValue::Histogram(Box::new(h.clone())))
    }

    fn append_float_histogram(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, AppendError> {
        if !spans_fit(&h.positive_spans, h.positive_buckets.len())
            || !spans_fit(&h.negative_spans, h.negative_buckets.len())
        {
            return Err(invalid_histogram(labels, "spans and buckets mismatch"));
        }
        self.add_value(series_ref, labels, t, PendingValue::FloatHistogram(Box::new(h.clone())))
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
