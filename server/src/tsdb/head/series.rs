//! One in-memory series: interned labels, the references of its full chunks on disk (`chunks_head/`) and its open
//! XOR chunk, plus the chunk-cutting rules of Prometheus' head.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::histogram::{CounterResetHint, FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::tsdb::chunkenc::{
    Appendability, CounterResetHeader, ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM, FloatHistogramBuilder,
    HistogramBuilder, XorBuilder,
};
use crate::tsdb::chunks_head::{ChunkDiskMapper, ENCODING_XOR};

/// An interned string: one allocation shared by every series using it, 8 bytes per reference.
#[derive(Clone, Debug)]
#[allow(clippy::redundant_allocation)] // Arc<Box<str>> is a thin pointer; Arc<str> would double the per-label cost.
pub struct Sym(Arc<Box<str>>);

impl Sym {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Sym {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Sym {}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Sym {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// The symbol table: every label name and value in the head, once.
#[derive(Debug, Default)]
pub struct Interner {
    set: Mutex<HashSet<Sym, foldhash::fast::RandomState>>,
}

impl Interner {
    /// The shared copy of `s`.
    pub fn intern(&self, s: &str) -> Sym {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sym) = set.get(s) {
            return sym.clone();
        }
        let sym = Sym(Arc::new(s.into()));
        set.insert(sym.clone());
        sym
    }

    /// Drops strings no series uses any more.
    pub fn gc(&self) -> usize {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner());
        let before = set.len();
        set.retain(|s| Arc::strong_count(&s.0) > 1);
        before - set.len()
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The seed of [`labels_hash`], random per process.
static LABELS_HASH_STATE: std::sync::LazyLock<foldhash::fast::RandomState> =
    std::sync::LazyLock::new(foldhash::fast::RandomState::default);

/// Hash of a label set (stable within the process; it is never stored).
pub fn labels_hash<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    use std::hash::BuildHasher;
    let mut h = LABELS_HASH_STATE.build_hasher();
    for (n, v) in labels {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// A full chunk's location and time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmappedChunk {
    /// Reference into `chunks_head/`.
    pub chunk_ref: u64,
    /// First timestamp.
    pub mint: i64,
    /// Last timestamp.
    pub maxt: i64,
}

/// A full chunk kept in memory because writing it to disk failed.
#[derive(Debug, Clone)]
pub struct SpilledChunk {
    /// First timestamp.
    pub mint: i64,
    /// Last timestamp.
    pub maxt: i64,
    /// Encoding byte.
    pub encoding: u8,
    /// The chunk bytes.
    pub bytes: Box<[u8]>,
}

/// The encoder of the open chunk, by sample kind.
#[derive(Debug)]
pub enum OpenChunk {
    /// Float samples (XOR).
    Xor(XorBuilder),
    /// Integer native histograms.
    Histogram(Box<HistogramBuilder>),
    /// Float native histograms.
    FloatHistogram(Box<FloatHistogramBuilder>),
}

/// The chunk being appended to.
#[derive(Debug)]
pub struct HeadChunk {
    /// The chunk and its encoder.
    pub chunk: OpenChunk,
    /// First timestamp.
    pub mint: i64,
}

impl HeadChunk {
    /// The encoded bytes.
    pub fn bytes(&mut self) -> &[u8] {
        match &mut self.chunk {
            OpenChunk::Xor(b) => b.bytes(),
            OpenChunk::Histogram(b) => b.bytes(),
            OpenChunk::FloatHistogram(b) => b.bytes(),
        }
    }

    /// A copy of the encoded bytes.
    pub fn to_bytes(&self) -> Box<[u8]> {
        match &self.chunk {
            OpenChunk::Xor(b) => b.to_bytes().into(),
            OpenChunk::Histogram(b) => b.bytes().into(),
            OpenChunk::FloatHistogram(b) => b.bytes().into(),
        }
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        match &self.chunk {
            OpenChunk::Xor(b) => b.num_samples(),
            OpenChunk::Histogram(b) => b.num_samples(),
            OpenChunk::FloatHistogram(b) => b.num_samples(),
        }
    }

    /// The chunk encoding byte.
    pub fn encoding(&self) -> u8 {
        match &self.chunk {
            OpenChunk::Xor(_) => ENCODING_XOR,
            OpenChunk::Histogram(_) => ENCODING_HISTOGRAM,
            OpenChunk::FloatHistogram(_) => ENCODING_FLOAT_HISTOGRAM,
        }
    }

    /// The last sample's timestamp and value key (see [`SampleRef::key`]).
    pub fn last(&self) -> Option<(i64, ValueKey)> {
        match &self.chunk {
            OpenChunk::Xor(b) => b.last().map(|(t, v)| (t, SampleRef::Float(v).key())),
            OpenChunk::Histogram(b) => b.last().map(|(t, h)| (t, SampleRef::Histogram(h).key())),
            OpenChunk::FloatHistogram(b) => b.last().map(|(t, h)| (t, SampleRef::FloatHistogram(h).key())),
        }
    }

    /// The last sample's timestamp.
    pub fn maxt(&self) -> Option<i64> {
        self.last().map(|(t, _)| t)
    }
}

/// A sample value to append.
#[derive(Debug, Clone, Copy)]
pub enum SampleRef<'a> {
    /// A float.
    Float(f64),
    /// An integer histogram.
    Histogram(&'a Histogram),
    /// A float histogram.
    FloatHistogram(&'a FloatHistogram),
}

/// Identifies a sample value for duplicate checks: the kind and the float's bits or the histogram's hash.
pub type ValueKey = (u8, u64);

impl SampleRef<'_> {
    /// The value's kind and identity.
    pub fn key(self) -> ValueKey {
        match self {
            SampleRef::Float(v) => (0, v.to_bits()),
            SampleRef::Histogram(h) => (1, hash_histogram(h)),
            SampleRef::FloatHistogram(h) => (2, hash_float_histogram(h)),
        }
    }
}

fn hash_spans(hs: &mut impl Hasher, spans: &[crate::model::histogram::Span]) {
    hs.write_usize(spans.len());
    for s in spans {
        hs.write_i32(s.offset);
        hs.write_u32(s.length);
    }
}

fn hash_histogram(h: &Histogram) -> u64 {
    let mut hs = std::hash::DefaultHasher::new();
    hs.write_u8(h.counter_reset_hint as u8);
    hs.write_i32(h.schema);
    hs.write_u64(h.zero_threshold.to_bits());
    hs.write_u64(h.zero_count);
    hs.write_u64(h.count);
    hs.write_u64(h.sum.to_bits());
    hash_spans(&mut hs, &h.positive_spans);
    hash_spans(&mut hs, &h.negative_spans);
    for b in h.positive_buckets.iter().chain([&i64::MIN]).chain(&h.negative_buckets) {
        hs.write_i64(*b);
    }
    for v in &h.custom_values {
        hs.write_u64(v.to_bits());
    }
    hs.finish()
}

fn hash_float_histogram(h: &FloatHistogram) -> u64 {
    let mut hs = std::hash::DefaultHasher::new();
    hs.write_u8(h.counter_reset_hint as u8);
    hs.write_i32(h.schema);
    for v in [h.zero_threshold, h.zero_count, h.count, h.sum] {
        hs.write_u64(v.to_bits());
    }
    hash_spans(&mut hs, &h.positive_spans);
    hash_spans(&mut hs, &h.negative_spans);
    for b in h
        .positive_buckets
        .iter()
        .chain([&f64::NAN])
        .chain(&h.negative_buckets)
        .chain(&h.custom_values)
    {
        hs.write_u64(b.to_bits());
    }
    hs.finish()
}

/// The mutable part of a series. Kept small (96 bytes): a head holds one per active series. Laid out in
/// declaration order, the fields an append touches first, so they share as few cache lines as possible.
#[derive(Debug, Default)]
#[repr(C)]
pub struct SeriesState {
    /// When the open chunk is due to be cut.
    pub next_at: i64,
    /// The open chunk.
    pub head: Option<HeadChunk>,
    /// Full chunks on disk, oldest first (a boxed slice: exact size, 16 bytes when empty).
    pub mmapped: Box<[MmappedChunk]>,
    /// Full chunks that could not be written to disk.
    pub spilled: Option<Box<Vec<SpilledChunk>>>,
}

impl SeriesState {
    /// Whether the series holds no samples at all.
    pub fn is_empty(&self) -> bool {
        self.mmapped.is_empty() && self.head.is_none() && self.spilled.as_ref().is_none_or(|s| s.is_empty())
    }

    /// Oldest and newest timestamps held.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        if let Some(c) = self.mmapped.first() {
            min = min.min(c.mint);
        }
        if let Some(c) = self.mmapped.last() {
            max = max.max(c.maxt);
        }
        for c in self.spilled.iter().flat_map(|s| s.iter()) {
            min = min.min(c.mint);
            max = max.max(c.maxt);
        }
        if let Some(h) = &self.head
            && let Some(t) = h.maxt()
        {
            min = min.min(h.mint);
            max = max.max(t);
        }
        (min <= max).then_some((min, max))
    }

    /// The newest committed timestamp.
    pub fn max_time(&self) -> Option<i64> {
        if let Some(t) = self.head.as_ref().and_then(HeadChunk::maxt) {
            return Some(t);
        }
        let disk = self.mmapped.last().map(|c| c.maxt);
        let mem = self.spilled.iter().flat_map(|s| s.iter()).map(|c| c.maxt).max();
        disk.max(mem)
    }

    /// Number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.mmapped.len() + self.spilled.as_ref().map_or(0, |s| s.len()) + usize::from(self.head.is_some())
    }
}

/// A series in the head: a 176-byte allocation with its reference counts. Laid out in declaration order, the
/// fields an append touches first (the labels are read only for new series and queries).
#[derive(Debug)]
#[repr(C)]
pub struct MemSeries {
    /// The series reference (as in the WAL).
    pub series_ref: u64,
    /// Whether a series record for it is in the WAL.
    pub logged: AtomicBool,
    state: Mutex<SeriesState>,
    /// Label names and values, alternating, sorted by name.
    pub labels: Box<[Sym]>,
}

/// What appending a committed sample did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Appended to the open chunk.
    Ok,
    /// Appended after cutting a new chunk.
    NewChunk,
    /// Not newer than the last sample: dropped.
    OutOfOrder,
    /// The histogram does not fit its own spans: dropped.
    Invalid,
}

/// Parameters of chunk cutting.
#[derive(Debug, Clone, Copy)]
pub struct ChunkParams {
    /// Width of the aligned ranges chunks never cross (the block duration).
    pub chunk_range: i64,
    /// Target samples per chunk (120).
    pub samples_per_chunk: u16,
}

/// Prometheus' largest XOR chunk before a cut regardless of sample count.
const MAX_BYTES_PER_XOR_CHUNK: usize = 1024;

/// The end of the aligned range containing `t`.
pub fn range_for_timestamp(t: i64, width: i64) -> i64 {
    (t / width) * width + width
}

/// Predicts where the open chunk should end so the rest of the range splits into evenly filled chunks.
fn compute_chunk_end_time(start: i64, cur: i64, max: i64, ratio_to_full: f64) -> i64 {
    let n = (max - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max;
    }
    (start as f64 + (max - start) as f64 / n.floor()) as i64
}

impl MemSeries {
    /// A series with no samples.
    pub fn new(series_ref: u64, labels: Box<[Sym]>) -> MemSeries {
        MemSeries {
            series_ref,
            labels,
            logged: AtomicBool::new(false),
            state: Mutex::new(SeriesState::default()),
        }
    }

    /// Locks the mutable state.
    pub fn lock(&self) -> MutexGuard<'_, SeriesState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The labels as a [`Labels`].
    pub fn to_labels(&self) -> Labels {
        self.labels
            .chunks_exact(2)
            .map(|p| (p[0].as_str(), p[1].as_str()))
            .collect()
    }

    /// Label pairs.
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.chunks_exact(2).map(|p| (p[0].as_str(), p[1].as_str()))
    }

    /// Whether the series has exactly `labels`.
    pub fn has_labels(&self, labels: &Labels) -> bool {
        self.has_pairs(labels.as_slice())
    }

    /// Whether the series has exactly the label pairs `labels` (sorted by name).
    pub fn has_pairs<N: AsRef<str>, V: AsRef<str>>(&self, labels: &[(N, V)]) -> bool {
        self.labels.len() == labels.len() * 2
            && self
                .label_pairs()
                .zip(labels)
                .all(|((n, v), (ln, lv))| n == ln.as_ref() && v == lv.as_ref())
    }

    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.label_pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Whether marked logged in the WAL; marks it.
    pub fn take_unlogged(&self) -> bool {
        // Check before writing: the flag is almost always set, and a load keeps the cache line shared.
        !self.logged.load(Ordering::Acquire) && !self.logged.swap(true, Ordering::AcqRel)
    }
}

/// Appends a committed sample to `st` (the state of `series_ref`), cutting chunks as Prometheus does. Float
/// chunks end at the end of their aligned range, when they exceed 1 KiB, or at a predicted time that spreads the
/// range's samples evenly (recomputed once the chunk holds a quarter of the target count, so chunks get about 120
/// samples), or at twice the target when samples come faster than predicted. Histogram chunks end at the range
/// end, at 1 KiB once they hold 10 samples, at twice the target count, and whenever the histogram does not fit
/// the chunk (counter reset, new layout). A change of sample kind starts a chunk of the new kind. A cut chunk is
/// written to `chunks_head/`.
pub fn append_sample(
    st: &mut SeriesState,
    series_ref: u64,
    t: i64,
    v: SampleRef<'_>,
    params: ChunkParams,
    mapper: &ChunkDiskMapper,
) -> Appended {
    if st.max_time().is_some_and(|lt| t <= lt) {
        return Appended::OutOfOrder;
    }
    let spc = params.samples_per_chunk;
    let gauge_header = match v {
        SampleRef::Histogram(h) if h.counter_reset_hint == CounterResetHint::Gauge => CounterResetHeader::Gauge,
        SampleRef::FloatHistogram(h) if h.counter_reset_hint == CounterResetHint::Gauge => CounterResetHeader::Gauge,
        _ => CounterResetHeader::NotCounterReset,
    };
    // None: append to the open chunk; Some(header): cut first.
    let cut_with: Option<CounterResetHeader> = match (st.head.as_mut(), v) {
        (None, _) => Some(CounterResetHeader::Unknown),
        (Some(h), SampleRef::Float(_)) => match &h.chunk {
            OpenChunk::Xor(b) => {
                let num = b.num_samples();
                if b.len() > MAX_BYTES_PER_XOR_CHUNK {
                    Some(CounterResetHeader::Unknown)
                } else {
                    if num == spc / 4
                        && let Some((maxt, _)) = b.last()
                    {
                        st.next_at = compute_chunk_end_time(h.mint, maxt, st.next_at, 4.0);
                    }
                    (t >= st.next_at || num >= spc.saturating_mul(2)).then_some(CounterResetHeader::Unknown)
                }
            }
            _ => Some(CounterResetHeader::Unknown),
        },
        (Some(h), SampleRef::Histogram(hist)) => match &h.chunk {
            OpenChunk::Histogram(b) => match b.appendability(hist) {
                Appendability::NewChunk(header) => Some(header),
                Appendability::Append => {
                    let full = (b.num_samples() >= 10 && b.bytes().len() >= MAX_BYTES_PER_XOR_CHUNK)
                        || b.num_samples() >= spc.saturating_mul(2);
                    (t >= st.next_at || full).then_some(gauge_header)
                }
            },
            _ => Some(CounterResetHeader::Unknown),
        },
        (Some(h), SampleRef::FloatHistogram(hist)) => match &h.chunk {
            OpenChunk::FloatHistogram(b) => match b.appendability(hist) {
                Appendability::NewChunk(header) => Some(header),
                Appendability::Append => {
                    let full = (b.num_samples() >= 10 && b.bytes().len() >= MAX_BYTES_PER_XOR_CHUNK)
                        || b.num_samples() >= spc.saturating_mul(2);
                    (t >= st.next_at || full).then_some(gauge_header)
                }
            },
            _ => Some(CounterResetHeader::Unknown),
        },
    };
    let created = cut_with.is_some();
    if let Some(header) = cut_with {
        cut(st, series_ref, t, v, header, params, mapper);
    }
    let ok = match (st.head.as_mut().map(|h| &mut h.chunk), v) {
        // An open chunk below the sample cap always accepts a float.
        (Some(OpenChunk::Xor(b)), SampleRef::Float(f)) => b.append(t, f).is_ok(),
        (Some(OpenChunk::Histogram(b)), SampleRef::Histogram(h)) => b.append(t, h).is_ok(),
        (Some(OpenChunk::FloatHistogram(b)), SampleRef::FloatHistogram(h)) => b.append(t, h).is_ok(),
        _ => false,
    };
    if !ok {
        if st.head.as_ref().is_some_and(|h| h.num_samples() == 0) {
            st.head = None;
        }
        return Appended::Invalid;
    }
    if created { Appended::NewChunk } else { Appended::Ok }
}

/// Closes the open chunk (writing it to disk) and opens a new one for `v`'s kind starting at `t`.
fn cut(
    st: &mut SeriesState,
    series_ref: u64,
    t: i64,
    v: SampleRef<'_>,
    header: CounterResetHeader,
    params: ChunkParams,
    mapper: &ChunkDiskMapper,
) {
    if let Some(old) = st.head.take() {
        map_chunk(st, series_ref, old, mapper);
    }
    let chunk = match v {
        // The buffer starts small and grows in small steps as samples arrive (see `XorBuilder::append`).
        SampleRef::Float(_) => OpenChunk::Xor(XorBuilder::new()),
        SampleRef::Histogram(_) => OpenChunk::Histogram(Box::new(HistogramBuilder::new(header))),
        SampleRef::FloatHistogram(_) => OpenChunk::FloatHistogram(Box::new(FloatHistogramBuilder::new(header))),
    };
    st.head = Some(HeadChunk { chunk, mint: t });
    st.next_at = range_for_timestamp(t, params.chunk_range);
}

/// Writes a finished chunk to disk (or keeps it in memory if that fails).
pub fn map_chunk(st: &mut SeriesState, series_ref: u64, mut chunk: HeadChunk, mapper: &ChunkDiskMapper) {
    let Some(maxt) = chunk.maxt() else { return };
    let encoding = chunk.encoding();
    let mint = chunk.mint;
    let bytes = chunk.bytes();
    match mapper.write_chunk(series_ref, mint, maxt, encoding, bytes) {
        Ok(chunk_ref) => {
            // Grow by one: a series holds few chunks and they stay for hours, so no spare capacity.
            let mut list = std::mem::take(&mut st.mmapped).into_vec();
            list.reserve_exact(1);
            list.push(MmappedChunk { chunk_ref, mint, maxt });
            st.mmapped = list.into_boxed_slice();
        }
        Err(e) => {
            tracing::error!(series_ref, error = %e, "writing head chunk to disk failed; keeping it in memory");
            st.spilled.get_or_insert_with(Default::default).push(SpilledChunk {
                mint,
                maxt,
                encoding,
                bytes: bytes.into(),
            });
        }
    }
}
