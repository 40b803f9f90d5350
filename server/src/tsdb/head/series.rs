//! One in-memory series: interned labels, the references of its full chunks on disk (`chunks_head/`) and its open
//! XOR chunk, plus the chunk-cutting rules of Prometheus' head.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::labels::Labels;
use crate::tsdb::chunkenc::XorBuilder;
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
    set: Mutex<HashSet<Sym>>,
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

/// Hash of a label set (stable across runs).
pub fn labels_hash<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
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
    /// Encoded XOR chunk.
    pub bytes: Box<[u8]>,
}

/// The chunk being appended to.
#[derive(Debug)]
pub struct HeadChunk {
    /// The chunk and its encoder.
    pub builder: XorBuilder,
    /// First timestamp.
    pub mint: i64,
}

/// An uncommitted sample of one appender, for in-batch order checks.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// The appender's id.
    pub appender: u64,
    /// Its last sample for this series.
    pub t: i64,
    /// Value bits.
    pub v: u64,
}

/// The mutable part of a series.
#[derive(Debug, Default)]
pub struct SeriesState {
    /// Full chunks on disk, oldest first.
    pub mmapped: Vec<MmappedChunk>,
    /// Full chunks that could not be written to disk.
    pub spilled: Option<Box<Vec<SpilledChunk>>>,
    /// The open chunk.
    pub head: Option<HeadChunk>,
    /// When the open chunk is due to be cut.
    pub next_at: i64,
    /// The newest committed sample (timestamp and value bits).
    pub last: Option<(i64, u64)>,
    /// The newest uncommitted sample of the appender that last touched the series.
    pub pending: Option<Pending>,
    /// Set when garbage collection removed the series from the index.
    pub deleted: bool,
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
            && let Some((t, _)) = h.builder.last()
        {
            min = min.min(h.mint);
            max = max.max(t);
        }
        (min <= max).then_some((min, max))
    }

    /// Number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.mmapped.len() + self.spilled.as_ref().map_or(0, |s| s.len()) + usize::from(self.head.is_some())
    }
}

/// A series in the head.
#[derive(Debug)]
pub struct MemSeries {
    /// The series reference (as in the WAL).
    pub series_ref: u64,
    /// Label names and values, alternating, sorted by name.
    pub labels: Box<[Sym]>,
    /// Whether a series record for it is in the WAL.
    pub logged: AtomicBool,
    state: Mutex<SeriesState>,
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
        self.labels.len() == labels.len() * 2 && self.label_pairs().zip(labels.iter()).all(|(a, b)| a == b)
    }

    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.label_pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Whether marked logged in the WAL; marks it.
    pub fn take_unlogged(&self) -> bool {
        !self.logged.swap(true, Ordering::AcqRel)
    }
}

/// Appends a committed sample to `st` (the state of `series_ref`), cutting chunks as Prometheus does: a chunk ends
/// at the end of its aligned range, when it exceeds 1 KiB, or at a predicted time that spreads the range's
/// samples evenly (recomputed once the chunk holds a quarter of the target count, so chunks get about 120
/// samples), or at twice the target when samples come faster than predicted. A cut chunk is written to
/// `chunks_head/`.
pub fn append_sample(
    st: &mut SeriesState,
    series_ref: u64,
    t: i64,
    v: f64,
    params: ChunkParams,
    mapper: &ChunkDiskMapper,
) -> Appended {
    if let Some((lt, _)) = st.last
        && t <= lt
    {
        return Appended::OutOfOrder;
    }
    if st.head.is_none()
        && let Some(c) = st.mmapped.last()
        && c.maxt >= t
    {
        return Appended::OutOfOrder;
    }
    let mut created = false;
    if st.head.is_none() {
        cut(st, series_ref, t, params, mapper);
        created = true;
    }
    let spc = params.samples_per_chunk;
    if let Some(h) = &st.head
        && !created
    {
        let num = h.builder.num_samples();
        if h.builder.bytes().len() > MAX_BYTES_PER_XOR_CHUNK {
            cut(st, series_ref, t, params, mapper);
            created = true;
        } else {
            if num == spc / 4
                && let Some((maxt, _)) = h.builder.last()
            {
                st.next_at = compute_chunk_end_time(h.mint, maxt, st.next_at, 4.0);
            }
            if t >= st.next_at || num >= spc.saturating_mul(2) {
                cut(st, series_ref, t, params, mapper);
                created = true;
            }
        }
    }
    if let Some(h) = st.head.as_mut() {
        // An open chunk below the sample cap always accepts a sample.
        let _ = h.builder.append(t, v);
    }
    st.last = Some((t, v.to_bits()));
    if created { Appended::NewChunk } else { Appended::Ok }
}

/// Closes the open chunk (writing it to disk) and opens a new one starting at `t`.
fn cut(st: &mut SeriesState, series_ref: u64, t: i64, params: ChunkParams, mapper: &ChunkDiskMapper) {
    if let Some(old) = st.head.take() {
        map_chunk(st, series_ref, old, mapper);
    }
    st.head = Some(HeadChunk {
        builder: XorBuilder::with_capacity(160),
        mint: t,
    });
    st.next_at = range_for_timestamp(t, params.chunk_range);
}

/// Writes a finished chunk to disk (or keeps it in memory if that fails).
pub fn map_chunk(st: &mut SeriesState, series_ref: u64, chunk: HeadChunk, mapper: &ChunkDiskMapper) {
    let Some((maxt, _)) = chunk.builder.last() else { return };
    let bytes = chunk.builder.bytes();
    match mapper.write_chunk(series_ref, chunk.mint, maxt, ENCODING_XOR, bytes) {
        Ok(chunk_ref) => st.mmapped.push(MmappedChunk {
            chunk_ref,
            mint: chunk.mint,
            maxt,
        }),
        Err(e) => {
            tracing::error!(series_ref, error = %e, "writing head chunk to disk failed; keeping it in memory");
            st.spilled.get_or_insert_with(Default::default).push(SpilledChunk {
                mint: chunk.mint,
                maxt,
                bytes: bytes.into(),
            });
        }
    }
}
