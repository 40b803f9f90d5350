//! Append batches: samples are checked at append time (the same rules as [`crate::storage::mem::MemStorage`]:
//! older than the series' newest sample is out of order, the same timestamp with a different value is a
//! duplicate, the same sample again is accepted and ignored), held until commit, logged to the WAL on commit
//! (series records for series the WAL has not seen, then the samples and histogram records) and only then added
//! to the series.
//!
//! Ownership: the batch refers to its series by reference only (no reference count per sample). A sample is
//! checked under the read lock of its series' reference stripe against the series' atomic newest committed
//! timestamp and its pending mark (the id of the appender whose batch last took a sample for it); the series lock
//! is taken at append time only for a new series or a sample not newer than the committed ones. The commit walks
//! the batch taking each stripe's read lock once for a run of samples in that stripe and each series' lock once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::series::{Appended, MemSeries, SampleRef, SeriesState, ValueKey, append_sample};
use super::{HeadInner, RefSlot, U64Map, ref_stripe_index};
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

/// A sample of the batch: the series by reference (the batch holds no reference count on it; the series' pending
/// mark keeps garbage collection away until the appender finishes), its time and value.
#[derive(Debug)]
struct BatchSample {
    series_ref: SeriesRef,
    t: i64,
    v: PendingValue,
    /// Whether the series' entry did not yet know the series declared in the WAL (the commit records that it is).
    undeclared: bool,
}

/// Calls `f` with each sample of `samples` and its series' entry (`None` if the series is gone), taking each
/// reference stripe's read lock once for a run of samples in that stripe (the samples of a scrape have
/// neighbouring references).
fn for_each_entry(head: &HeadInner, samples: &[BatchSample], mut f: impl FnMut(&BatchSample, Option<&RefSlot>)) {
    let mut stripe: Option<(usize, std::sync::RwLockReadGuard<'_, super::RefStripe>)> = None;
    for s in samples {
        let k = ref_stripe_index(s.series_ref, head.mask);
        if stripe.as_ref().is_none_or(|(i, _)| *i != k) {
            drop(stripe.take());
            stripe = Some((k, head.refs[k].read().unwrap_or_else(|e| e.into_inner())));
        }
        f(s, stripe.as_ref().and_then(|(_, g)| g.entry(&s.series_ref)));
    }
}

/// An append batch on the head.
#[derive(Debug)]
pub struct HeadAppender {
    head: Arc<HeadInner>,
    batch: Batch,
    done: bool,
}

/// The batch proper, apart from the head so a reference stripe's guard (which borrows the head) can be held while
/// the batch changes.
#[derive(Debug)]
struct Batch {
    id: std::num::NonZeroU32,
    samples: Vec<BatchSample>,
    /// Whether every pending sample is a float (no histogram records to encode).
    floats_only: bool,
    /// Series reference -> index of its newest sample in `samples`, built on first need.
    index: Option<U64Map<usize>>,
    /// Series that had no series record in the WAL when the batch took a sample for them (the commit declares
    /// those the WAL still lacks).
    unlogged: Vec<Arc<MemSeries>>,
    /// The head's count of failed WAL writes when the appender started (see `HeadInner::wal_failures`).
    wal_failures: u64,
}

fn spans_fit(spans: &[Span], buckets: usize) -> bool {
    spans.iter().map(|s| s.length as usize).sum::<usize>() == buckets
}

fn invalid_histogram(labels: &Labels, what: &str) -> AppendError {
    AppendError::Storage(StorageError::Corrupt(format!("invalid histogram for {labels}: {what}")))
}

impl Batch {
    /// The index in `samples` of this batch's newest sample for series `r`. The index by series is built the first
    /// time it is needed (a second sample for a series in one batch is rare) and kept up to date after.
    fn newest(&mut self, r: SeriesRef) -> Option<usize> {
        let samples = &self.samples;
        let index = self.index.get_or_insert_with(|| {
            let mut m = U64Map::default();
            for (i, s) in samples.iter().enumerate() {
                m.insert(s.series_ref, i);
            }
            m
        });
        index.get(&r).copied()
    }

    /// Checks a sample for the series of `entry` (in its reference stripe, whose read lock the caller holds)
    /// against the series' newest sample (this batch's, else the committed one) and queues it.
    fn add(
        &mut self,
        head: &HeadInner,
        r: SeriesRef,
        entry: &RefSlot,
        t: i64,
        v: PendingValue,
    ) -> Result<SeriesRef, AppendError> {
        // As upstream's appendableMinValidTime: nothing goes into the range the compactor may be persisting (older
        // than half a chunk range before the newest sample), nor before the newest block's end.
        let max = head.max_time.load(Ordering::Acquire);
        let window = if max == i64::MIN {
            i64::MIN
        } else {
            max.saturating_sub(head.params.chunk_range / 2)
        };
        if t < head.min_valid_time.load(Ordering::Acquire).max(window) {
            head.metrics.head.out_of_bound.inc();
            return Err(AppendError::OutOfBounds);
        }
        let in_batch = if entry.pending.load(Ordering::Acquire) == self.id.get() {
            self.newest(r)
        } else {
            None
        };
        if let Some(i) = in_batch {
            let lt = self.samples[i].t;
            if t < lt {
                head.metrics.head.out_of_order.inc();
                return Err(AppendError::OutOfOrder);
            }
            if t == lt {
                if self.samples[i].v.as_ref().key() != v.as_ref().key() {
                    return Err(AppendError::DuplicateTimestamp);
                }
                return Ok(r);
            }
        } else {
            let committed = entry.max_t.load(Ordering::Acquire);
            // Only a sample newer than the committed ones is decided without the lock; a new series, an older
            // sample or one at the same time (a duplicate unless the value is the same) looks at the chunks.
            if committed == RefSlot::UNKNOWN || t <= committed {
                let st = entry.series.lock();
                if let Some(lt) = st.max_time() {
                    if t < lt {
                        head.metrics.head.out_of_order.inc();
                        return Err(AppendError::OutOfOrder);
                    }
                    if t == lt {
                        if committed_value_key(head, &st) != Some(v.as_ref().key()) {
                            return Err(AppendError::DuplicateTimestamp);
                        }
                        return Ok(r);
                    }
                }
            }
        }
        entry.pending.store(self.id.get(), Ordering::Release);
        let undeclared = !entry.logged.load(Ordering::Acquire);
        if undeclared && !entry.series.logged.load(Ordering::Acquire) {
            self.unlogged.push(entry.series.clone());
        }
        if self.samples.capacity() == 0 {
            // Size the batch like the last commit (scrapes of a target repeat), not by doubling.
            self.samples
                .reserve(head.batch_hint.load(Ordering::Relaxed).min(1 << 16));
        }
        self.floats_only &= matches!(v, PendingValue::Float(_));
        if let Some(index) = self.index.as_mut() {
            index.insert(r, self.samples.len());
        }
        self.samples.push(BatchSample {
            series_ref: r,
            t,
            v,
            undeclared,
        });
        Ok(r)
    }

    /// The WAL records of the batch's samples (floats, then histograms), encoded outside the WAL lock. The float
    /// record goes into `floats` (a buffer reused across commits); histogram records (rare) are returned.
    fn encode_samples(&self, floats: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let float_samples = self.samples.iter().filter_map(|s| match s.v {
            PendingValue::Float(v) => Some(RefSample {
                series_ref: s.series_ref,
                t: s.t,
                v,
            }),
            _ => None,
        });
        record::encode_sample_iter(float_samples, floats);
        if self.floats_only {
            return Vec::new();
        }
        let mut hists = Vec::new();
        let mut float_hists = Vec::new();
        for s in &self.samples {
            let (series_ref, t) = (s.series_ref, s.t);
            match &s.v {
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
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<HeadInner>) -> HeadAppender {
        // Ids wrap after 2^32 appenders; only appenders alive at the same time need distinct ids.
        let id = loop {
            if let Some(id) = std::num::NonZeroU32::new(head.next_appender.fetch_add(1, Ordering::Relaxed)) {
                break id;
            }
        };
        head.appender_started(id.get());
        head.metrics.head.active_appenders.inc();
        let wal_failures = head.wal_failures.load(Ordering::Acquire);
        HeadAppender {
            head,
            batch: Batch {
                id,
                samples: Vec::new(),
                floats_only: true,
                index: None,
                unlogged: Vec::new(),
                wal_failures,
            },
            done: false,
        }
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
        let head = &*self.head;
        let mut r = series_ref;
        // The series is checked and marked under its reference stripe's read lock (garbage collection removes
        // series under the write lock); a series removed between creation and lookup is created again.
        for _ in 0..3 {
            if r != 0 {
                let stripe = head.refs[ref_stripe_index(r, head.mask)]
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = stripe.entry(&r) {
                    return self.batch.add(head, r, entry, t, v);
                }
            }
            validate_labels(labels)?;
            r = head.get_or_create(labels, 0).0.series_ref;
        }
        Err(AppendError::UnknownRef(series_ref))
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.batch.index = None;
            self.batch.unlogged.clear();
            self.head.appender_finished(self.batch.id.get());
            self.head.metrics.head.active_appenders.dec();
        }
    }

    /// The series records of the batch's series the WAL has not seen yet (encoded straight from the interned
    /// labels, marking them logged), and those series. Called under the WAL lock.
    fn series_record(&self) -> (Vec<u8>, Vec<Arc<MemSeries>>) {
        let head = &self.head;
        let mut rec = Vec::new();
        let mut declared = Vec::new();
        let mut declare = |s: &Arc<MemSeries>| {
            if s.take_unlogged() {
                if rec.is_empty() {
                    rec.push(record::types::SERIES);
                }
                rec.extend_from_slice(&s.series_ref.to_be_bytes());
                record::encode_labels(s.label_pairs(), s.labels.len() / 2, &mut rec);
                declared.push(s.clone());
            }
        };
        if head.wal_failures.load(Ordering::Acquire) == self.batch.wal_failures {
            self.batch.unlogged.iter().for_each(&mut declare);
        } else {
            // A failed write un-marked series this batch may have seen marked: check them all.
            for s in &self.batch.samples {
                if let Some(series) = head.series_by_ref(s.series_ref) {
                    declare(&series);
                }
            }
        }
        (rec, declared)
    }

    /// Logs and applies the batch.
    pub fn commit_batch(&mut self) -> Result<(), StorageError> {
        if self.batch.samples.is_empty() {
            self.finish();
            return Ok(());
        }
        let head = self.head.clone();
        // Sample records are encoded before taking the WAL lock; series records are decided under it, so a series
        // record always precedes the first samples record that refers to the series.
        let mut float_rec = head.buffers.take();
        let hist_recs = if head.opts.wal {
            self.batch.encode_samples(&mut float_rec)
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
                let (series_rec, declared) = self.series_record();
                let mut recs: Vec<&[u8]> = Vec::with_capacity(hist_recs.len() + 2);
                if !series_rec.is_empty() {
                    recs.push(&series_rec);
                }
                if !float_rec.is_empty() {
                    recs.push(&float_rec);
                }
                recs.extend(hist_recs.iter().map(Vec::as_slice));
                if let Err(e) = w.log(&recs) {
                    for s in &declared {
                        s.logged.store(false, Ordering::Release);
                    }
                    head.wal_failures.fetch_add(1, Ordering::AcqRel);
                    drop(wal);
                    head.buffers.put(float_rec);
                    self.finish();
                    return Err(crate::tsdb::TsdbError::from(e).into());
                }
            }
        }
        head.buffers.put(float_rec);
        head.batch_hint.store(self.batch.samples.len(), Ordering::Relaxed);
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        let (mut floats, mut hists, mut ooo, mut chunks) = (0u64, 0u64, 0u64, 0u64);
        for_each_entry(&head, &self.batch.samples, |s, entry| {
            let Some(entry) = entry else {
                // Only when another appender took over the pending mark and then rolled back could garbage
                // collection have removed the series: the sample is dropped as a series gone would drop it.
                return;
            };
            let mut st = entry.series.lock();
            let appended = append_sample(&mut st, s.series_ref, s.t, s.v.as_ref(), head.params, &head.mapper);
            if matches!(appended, Appended::Ok | Appended::NewChunk) {
                // Appending only accepts samples newer than the newest one.
                entry.max_t.store(s.t, Ordering::Release);
            }
            drop(st);
            if s.undeclared {
                // The WAL holds the series' record now: this commit or an earlier one wrote it.
                entry.logged.store(true, Ordering::Release);
            }
            if matches!(appended, Appended::Ok | Appended::NewChunk) {
                match s.v {
                    PendingValue::Float(_) => floats += 1,
                    _ => hists += 1,
                }
                min = min.min(s.t);
                max = max.max(s.t);
            }
            match appended {
                Appended::NewChunk => chunks += 1,
                Appended::OutOfOrder => ooo += 1,
                Appended::Ok | Appended::Invalid => {}
            }
        });
        let m = &head.metrics.head;
        m.samples_appended.inc_by_int(floats);
        m.histograms_appended.inc_by_int(hists);
        m.out_of_order.inc_by_int(ooo);
        m.chunks_created.inc_by_int(chunks);
        m.chunks.add(chunks as f64);
        if min <= max {
            head.update_bounds(min, max);
        }
        self.batch.samples.clear();
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
        self.batch.samples.clear();
        Ok(())
    }
}
