//! The head block: the most recent samples, in memory, behind the storage traits.
//!
//! - Series live in striped maps (by reference and by label hash; one `RwLock` per stripe), so appends to
//!   different series never share a lock; each series has its own mutex for its chunks. A series' entry in the
//!   reference map also holds what an append checks a sample against (newest committed timestamp, the appender
//!   with a pending sample, whether the WAL declares it), so appends to a scrape's series read neighbouring entries
//!   and lock a series only to commit (see `append`).
//! - Labels are interned ([`series::Interner`]): a series holds 8-byte references to shared strings.
//! - The inverted index ([`postings::MemPostings`]) maps every label pair to the sorted references of its series;
//!   matchers are answered by intersecting, merging and subtracting those lists.
//! - Samples go into Gorilla XOR chunks of about 120 samples; a full chunk is written to `chunks_head/` and only
//!   its reference and time range stay in memory ([`crate::tsdb::chunks_head`]).
//! - Commits are logged to the WAL (series records for new series, then one samples record) before the samples
//!   become visible; opening replays the chunks on disk first and then the WAL samples after them.
//! - [`Head::truncate`] drops data before a time (after the compactor persisted it), garbage-collects series left
//!   without samples, deletes unused chunk files and checkpoints the WAL.

mod append;
pub mod postings;
mod read;
mod replay;
pub mod series;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

pub use append::HeadAppender;
pub use read::{ChunkData, HeadQuerier, SeriesChunks};
pub use replay::ReplayStats;

use self::postings::MemPostings;
use self::series::{ChunkParams, Interner, MemSeries, Sym, labels_hash};
use crate::model::labels::Labels;
use crate::tsdb::TsdbError;
use crate::tsdb::chunks_head::{ChunkDiskMapper, ref_seq};
use crate::tsdb::metrics::TsdbMetrics;
use crate::tsdb::wal::checkpoint::{create_checkpoint, delete_checkpoints};
use crate::tsdb::wal::record::RefTombstone;
use crate::tsdb::wal::{SyncPolicy, Wal, list_segments};

/// A hasher for keys that are already hashes or sequential numbers (Fx-style multiply).
#[derive(Default, Clone, Copy, Debug)]
pub struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;
/// One stripe of the label-hash map: one series per hash, and the rare collisions aside (as upstream does).
#[derive(Debug, Default)]
struct HashStripe {
    unique: U64Map<Arc<MemSeries>>,
    conflicts: U64Map<Vec<Arc<MemSeries>>>,
}

impl HashStripe {
    fn get<N: AsRef<str>, V: AsRef<str>>(&self, hash: u64, labels: &[(N, V)]) -> Option<&Arc<MemSeries>> {
        match self.unique.get(&hash) {
            Some(s) if s.has_pairs(labels) => Some(s),
            Some(_) => self.conflicts.get(&hash)?.iter().find(|s| s.has_pairs(labels)),
            None => None,
        }
    }

    fn insert(&mut self, hash: u64, series: Arc<MemSeries>) {
        match self.unique.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(series);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.conflicts.entry(hash).or_default().push(series),
        }
    }

    fn remove(&mut self, hash: u64, series_ref: u64) {
        if self.unique.get(&hash).is_some_and(|s| s.series_ref == series_ref) {
            self.unique.remove(&hash);
            // Promote a colliding series, if any.
            if let Some(list) = self.conflicts.get_mut(&hash) {
                if let Some(s) = list.pop() {
                    self.unique.insert(hash, s);
                }
                if list.is_empty() {
                    self.conflicts.remove(&hash);
                }
            }
        } else if let Some(list) = self.conflicts.get_mut(&hash) {
            list.retain(|s| s.series_ref != series_ref);
            if list.is_empty() {
                self.conflicts.remove(&hash);
            }
        }
    }
}

/// References map to stripes in blocks of this many consecutive references: the series of one scrape (whose
/// references were handed out together) share a stripe lock and neighbouring slots, so a lookup touches cache
/// lines the previous lookup brought in.
const REF_BLOCK_BITS: u32 = 6;

/// The stripe of reference `r` among `mask + 1` stripes.
fn ref_stripe_index(r: u64, mask: usize) -> usize {
    (r >> REF_BLOCK_BITS) as usize & mask
}

/// A series in the reference map, with what an append checks a sample against: kept here, in the stripe's dense
/// vector, rather than in the series, so appending to the series of a scrape (neighbouring references) reads
/// neighbouring memory instead of one scattered allocation per sample.
#[derive(Debug)]
pub(crate) struct RefSlot {
    pub(crate) series: Arc<MemSeries>,
    /// The series' newest committed timestamp, or [`RefSlot::UNKNOWN`] (no samples, or not recorded since the
    /// replay): written under the series lock by whoever changes its chunks (commits, garbage collection).
    pub(crate) max_t: AtomicI64,
    /// The id of the appender that last added a sample for the series (0: none). It is not cleared when that
    /// appender finishes: it counts only while the appender is alive ([`HeadInner::appender_alive`]).
    pub(crate) pending: AtomicU32,
    /// Set once a commit found the series declared in the WAL (then it stays declared): appends to a series
    /// without it check the series itself.
    pub(crate) logged: AtomicBool,
}

impl RefSlot {
    /// [`RefSlot::max_t`] when the newest timestamp is not recorded: an append looks at the chunks.
    pub(crate) const UNKNOWN: i64 = i64::MIN;

    fn new(series: Arc<MemSeries>) -> RefSlot {
        RefSlot {
            series,
            max_t: AtomicI64::new(RefSlot::UNKNOWN),
            pending: AtomicU32::new(0),
            logged: AtomicBool::new(false),
        }
    }

    /// Records the newest timestamp of `st`, the series' locked state.
    pub(crate) fn sync_max_time(&self, st: &series::SeriesState) {
        self.max_t
            .store(st.max_time().unwrap_or(RefSlot::UNKNOWN), Ordering::Release);
    }
}

/// One stripe of the reference map. References are handed out sequentially, so the series of a stripe sit in a
/// dense vector (block `r >> REF_BLOCK_BITS >> shift`, then `r`'s place in its block): a lookup is an index, not a
/// hash probe. References far beyond the dense part (a WAL written by another server may use any numbers) go to a
/// map.
#[derive(Debug)]
struct RefStripe {
    /// log2 of the number of stripes.
    shift: u32,
    dense: Vec<Option<RefSlot>>,
    sparse: U64Map<RefSlot>,
}

impl RefStripe {
    /// How far past the dense part's end a reference may land and still extend it (empty slots cost 24 bytes).
    const MAX_GAP: usize = 64;

    fn new(shift: u32) -> RefStripe {
        RefStripe {
            shift,
            dense: Vec::new(),
            sparse: U64Map::default(),
        }
    }

    fn slot(&self, r: u64) -> usize {
        let block = (r >> REF_BLOCK_BITS).checked_shr(self.shift).unwrap_or(0);
        let within = r & ((1 << REF_BLOCK_BITS) - 1);
        block
            .checked_mul(1 << REF_BLOCK_BITS)
            .and_then(|b| usize::try_from(b | within).ok())
            .unwrap_or(usize::MAX)
    }

    /// The entry of reference `r`.
    fn entry(&self, r: &u64) -> Option<&RefSlot> {
        match self.dense.get(self.slot(*r)) {
            Some(Some(s)) => Some(s),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get(r),
        }
    }

    fn get(&self, r: &u64) -> Option<&Arc<MemSeries>> {
        self.entry(r).map(|e| &e.series)
    }

    fn contains_key(&self, r: &u64) -> bool {
        self.entry(r).is_some()
    }

    fn insert(&mut self, r: u64, series: Arc<MemSeries>) {
        let slot = self.slot(r);
        if slot < self.dense.len() && self.dense[slot].is_none() {
            self.dense[slot] = Some(RefSlot::new(series));
        } else if slot >= self.dense.len() && slot - self.dense.len() <= Self::MAX_GAP {
            self.dense.resize_with(slot, || None);
            self.dense.push(Some(RefSlot::new(series)));
        } else {
            self.sparse.insert(r, RefSlot::new(series));
        }
    }

    fn remove(&mut self, r: &u64) {
        let slot = self.slot(*r);
        if let Some(entry) = self.dense.get_mut(slot)
            && entry.as_ref().is_some_and(|s| s.series.series_ref == *r)
        {
            *entry = None;
            while self.dense.last().is_some_and(Option::is_none) {
                self.dense.pop();
            }
        } else {
            self.sparse.remove(r);
        }
    }

    fn entries(&self) -> impl Iterator<Item = &RefSlot> {
        self.dense.iter().flatten().chain(self.sparse.values())
    }
}

/// How the head behaves.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Width of the aligned ranges chunks never cross, in ms (the minimum block duration, 2h).
    pub chunk_range: i64,
    /// Target samples per chunk.
    pub samples_per_chunk: u16,
    /// Number of lock stripes (a power of two).
    pub stripe_size: usize,
    /// Whether to keep a WAL.
    pub wal: bool,
    /// WAL segment size.
    pub wal_segment_size: usize,
    /// Snappy-compress WAL records.
    pub wal_compression: bool,
    /// When the WAL is fsynced.
    pub wal_sync: SyncPolicy,
    /// Samples before this time are rejected and not replayed (the end of the newest persisted block).
    pub min_valid_time: i64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range: 2 * 3600 * 1000,
            samples_per_chunk: 120,
            stripe_size: 4096,
            wal: true,
            wal_segment_size: crate::tsdb::wal::DEFAULT_SEGMENT_SIZE,
            wal_compression: true,
            wal_sync: SyncPolicy::SegmentEnd,
            min_valid_time: i64::MIN,
        }
    }
}

pub(crate) struct HeadInner {
    opts: HeadOptions,
    dir: PathBuf,
    params: ChunkParams,
    mask: usize,
    refs: Box<[RwLock<RefStripe>]>,
    hashes: Box<[RwLock<HashStripe>]>,
    postings: RwLock<MemPostings>,
    symbols: Interner,
    next_ref: AtomicU64,
    next_appender: std::sync::atomic::AtomicU32,
    min_time: AtomicI64,
    max_time: AtomicI64,
    min_valid_time: AtomicI64,
    wal: Mutex<Option<Wal>>,
    mapper: ChunkDiskMapper,
    /// Series removed by garbage collection, with the WAL segment current at removal: their series records are
    /// kept in checkpoints until that segment is checkpointed.
    deleted: Mutex<U64Map<u32>>,
    truncation: Mutex<()>,
    metrics: TsdbMetrics,
    /// Tombstones found by the replay, until [`Head::take_replayed_tombstones`].
    replayed_tombstones: Mutex<Vec<RefTombstone>>,
    /// WAL record buffers reused across commits.
    buffers: BufferPool,
    /// The number of samples of the last commit: new batches reserve that much.
    batch_hint: std::sync::atomic::AtomicUsize,
    /// The ids of the appenders alive: a series' `pending` id counts only while its appender is.
    live_appenders: Mutex<Vec<u32>>,
    /// Failed WAL writes so far. A failed write un-marks the series it declared as logged; an appender that saw
    /// one of them marked then (while this count was lower) checks every series of its batch when it commits.
    wal_failures: AtomicU64,
}

/// A few byte buffers reused across commits, so encoding a WAL record allocates nothing in the steady state.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// Buffers kept at most (about one per concurrent committer).
    const KEEP: usize = 16;
    /// Buffers that grew past this are dropped rather than kept.
    const MAX_CAPACITY: usize = 4 << 20;

    /// An empty buffer, reused when one is free.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Returns a buffer for reuse.
    pub(crate) fn put(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > Self::MAX_CAPACITY {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < Self::KEEP {
            free.push(buf);
        }
    }
}

impl std::fmt::Debug for HeadInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("dir", &self.dir)
            .field("next_ref", &self.next_ref)
            .finish_non_exhaustive()
    }
}

impl Drop for HeadInner {
    /// Dropped without [`Head::close`]: still write out buffered chunks and the WAL's last page (no fsync).
    fn drop(&mut self) {
        if let Err(e) = self.mapper.flush() {
            tracing::warn!(error = %e, "flushing head chunks on drop failed");
        }
        if let Some(w) = self.wal.get_mut().unwrap_or_else(|e| e.into_inner()).as_mut()
            && let Err(e) = w.flush()
        {
            tracing::warn!(error = %e, "flushing the WAL on drop failed");
        }
    }
}

/// The head; clones share it.
#[derive(Debug, Clone)]
pub struct Head {
    inner: Arc<HeadInner>,
}

/// What [`Head::truncate`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TruncateStats {
    /// Series removed.
    pub series_removed: usize,
    /// Chunks dropped.
    pub chunks_removed: usize,
    /// Head chunk files deleted.
    pub chunk_files_removed: usize,
    /// The WAL checkpoint written, if any.
    pub checkpoint: Option<PathBuf>,
}

impl Head {
    /// Opens the head stored in `dir` (`dir/wal`, `dir/chunks_head`), replaying what is there.
    pub fn open(dir: &Path, opts: HeadOptions, metrics: TsdbMetrics) -> Result<Head, TsdbError> {
        let started = Instant::now();
        let (mapper, recovered) = ChunkDiskMapper::open(&dir.join("chunks_head"), true)?;
        if let Some(err) = &recovered.corruption {
            metrics.head.mmap_chunk_corruptions.inc();
            tracing::warn!(error = %err, "head chunks corrupted; rebuilding the head from the WAL");
        }
        if recovered.truncated_tail > 0 {
            tracing::warn!(
                bytes = recovered.truncated_tail,
                "truncated a torn tail of the newest head chunk file"
            );
        }
        let stripes = opts.stripe_size.max(1).next_power_of_two();
        let params = ChunkParams {
            chunk_range: opts.chunk_range.max(1),
            samples_per_chunk: opts.samples_per_chunk.max(4),
        };
        let inner = HeadInner {
            dir: dir.to_path_buf(),
            params,
            mask: stripes - 1,
            refs: (0..stripes)
                .map(|_| RwLock::new(RefStripe::new(stripes.trailing_zeros())))
                .collect(),
            hashes: (0..stripes).map(|_| RwLock::default()).collect(),
            postings: RwLock::default(),
            symbols: Interner::default(),
            next_ref: AtomicU64::new(1),
            next_appender: std::sync::atomic::AtomicU32::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(opts.min_valid_time),
            wal: Mutex::new(None),
            mapper,
            deleted: Mutex::default(),
            truncation: Mutex::new(()),
            metrics,
            replayed_tombstones: Mutex::default(),
            buffers: BufferPool::default(),
            batch_hint: std::sync::atomic::AtomicUsize::new(0),
            live_appenders: Mutex::default(),
            wal_failures: AtomicU64::new(0),
            opts,
        };
        let head = Head { inner: Arc::new(inner) };
        let mut stats = replay::replay(&head.inner, recovered.chunks)?;
        *head.inner.replayed_tombstones.lock().unwrap_or_else(|e| e.into_inner()) =
            std::mem::take(&mut stats.tombstones);
        if stats.corruption.is_some() {
            head.inner.metrics.wal.corruptions.inc();
        }
        if head.inner.opts.wal {
            let wal = Wal::open(
                &dir.join("wal"),
                head.inner.opts.wal_segment_size,
                head.inner.opts.wal_compression,
                head.inner.opts.wal_sync,
                head.inner.metrics.wal.clone(),
            )?;
            *head.inner.wal.lock().unwrap_or_else(|e| e.into_inner()) = Some(wal);
        }
        let m = &head.inner.metrics.head;
        m.replay_duration.set(started.elapsed().as_secs_f64());
        m.set_bounds(head.min_time(), head.max_time());
        tracing::info!(
            series = stats.series,
            samples = stats.samples,
            mmapped_chunks = stats.mmapped_chunks,
            duration_ms = started.elapsed().as_millis() as u64,
            "head replayed"
        );
        Ok(head)
    }

    /// What the last open replayed is not kept; this reports the current size.
    pub fn num_series(&self) -> usize {
        self.inner
            .postings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .all()
            .len()
    }

    /// The oldest timestamp in the head (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.inner.min_time.load(Ordering::Acquire)
    }

    /// The newest timestamp in the head (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.inner.max_time.load(Ordering::Acquire)
    }

    /// Samples older than this are rejected.
    pub fn min_valid_time(&self) -> i64 {
        self.inner.min_valid_time.load(Ordering::Acquire)
    }

    /// The metrics.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.inner.metrics
    }

    /// A new append batch.
    pub fn appender(&self) -> HeadAppender {
        HeadAppender::new(self.inner.clone())
    }

    /// A querier over `[mint, maxt]`.
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier {
        HeadQuerier::new(self.inner.clone(), mint, maxt)
    }

    /// Writes the WAL's current page out and fsyncs it; everything committed before is durable afterwards.
    pub fn sync_wal(&self) -> Result<(), TsdbError> {
        let mut wal = self.inner.wal.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = wal.as_mut() {
            w.sync()?;
        }
        Ok(())
    }

    /// Flushes buffered head chunks and the WAL, then closes the WAL.
    pub fn close(&self) -> Result<(), TsdbError> {
        self.inner.mapper.close()?;
        let wal = self.inner.wal.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = wal {
            w.close()?;
        }
        Ok(())
    }

    /// Drops every chunk that ends before `mint`, garbage-collects series left empty, deletes chunk files no
    /// series uses, and checkpoints the oldest two thirds of the WAL (keeping live series and samples at or after
    /// `mint`). Samples before `mint` are rejected from now on. The compactor calls this after persisting a block.
    pub fn truncate(&self, mint: i64) -> Result<TruncateStats, TsdbError> {
        let _guard = self.inner.truncation.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &self.inner;
        inner.metrics.head.truncations.inc();
        inner.min_valid_time.fetch_max(mint, Ordering::AcqRel);
        inner.mapper.cut_file()?;
        let mut stats = self.gc(mint)?;
        if inner.opts.wal {
            match self.truncate_wal(mint) {
                Ok(cp) => stats.checkpoint = cp,
                Err(e) => {
                    inner.metrics.wal.truncations_failed.inc();
                    return Err(e);
                }
            }
        }
        Ok(stats)
    }

    /// Garbage collection: drops chunks ending before `mint` and series left without any sample.
    pub fn gc(&self, mint: i64) -> Result<TruncateStats, TsdbError> {
        let inner = &self.inner;
        let started = Instant::now();
        let mut stats = TruncateStats::default();
        let mut candidates: Vec<Arc<MemSeries>> = Vec::new();
        let mut min_seq = u32::MAX;
        let mut new_min = i64::MAX;
        for stripe in inner.refs.iter() {
            let stripe = stripe.read().unwrap_or_else(|e| e.into_inner());
            for entry in stripe.entries() {
                let s = &entry.series;
                let mut st = s.lock();
                let before = st.num_chunks();
                if st.mmapped.iter().any(|c| c.maxt < mint) {
                    let kept: Vec<_> = st.mmapped.iter().copied().filter(|c| c.maxt >= mint).collect();
                    st.mmapped = kept.into_boxed_slice();
                }
                if let Some(sp) = st.spilled.as_mut() {
                    sp.retain(|c| c.maxt >= mint);
                }
                if let Some(h) = &st.head
                    && h.maxt().is_none_or(|t| t < mint)
                {
                    st.head = None;
                }
                let removed = before - st.num_chunks();
                if removed > 0 {
                    entry.sync_max_time(&st);
                }
                stats.chunks_removed += removed;
                if let Some(c) = st.mmapped.first() {
                    min_seq = min_seq.min(ref_seq(c.chunk_ref));
                }
                if let Some((lo, _)) = st.time_range() {
                    new_min = new_min.min(lo);
                }
                if st.is_empty() {
                    drop(st);
                    candidates.push(s.clone());
                }
            }
        }
        // Remove the series still empty and without a pending sample from the maps and the index. That is decided
        // under the write locks of both maps' stripes: an appender marks a series pending while it holds the read
        // lock of its reference stripe, so it either marked it before (and the series stays) or finds it gone
        // (and creates it anew).
        let segment = inner
            .wal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, Wal::current_segment);
        let mut removed: Vec<(u64, Box<[Sym]>)> = Vec::with_capacity(candidates.len());
        {
            let mut deleted = inner.deleted.lock().unwrap_or_else(|e| e.into_inner());
            for s in &candidates {
                let hash = labels_hash(s.label_pairs());
                let mut hs = inner.hashes[hash as usize & inner.mask]
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                let mut rs = inner.refs[ref_stripe_index(s.series_ref, inner.mask)]
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                let Some(entry) = rs.entry(&s.series_ref).filter(|e| Arc::ptr_eq(&e.series, s)) else {
                    continue;
                };
                if !s.lock().is_empty() || inner.appender_alive(entry.pending.load(Ordering::Acquire)) {
                    continue;
                }
                hs.remove(hash, s.series_ref);
                rs.remove(&s.series_ref);
                drop((hs, rs));
                deleted.insert(s.series_ref, segment);
                removed.push((s.series_ref, s.labels.clone()));
            }
        }
        inner
            .postings
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .delete(&removed);
        stats.series_removed = removed.len();
        drop(removed);
        drop(candidates);
        inner.symbols.gc();
        if min_seq != u32::MAX || stats.chunks_removed > 0 {
            stats.chunk_files_removed = inner.mapper.truncate_before(min_seq)?;
        }
        let m = &inner.metrics.head;
        m.series_removed.inc_by_int(stats.series_removed as u64);
        m.series.sub(stats.series_removed as f64);
        m.chunks_removed.inc_by_int(stats.chunks_removed as u64);
        m.chunks.sub(stats.chunks_removed as f64);
        if new_min == i64::MAX {
            inner.min_time.store(i64::MAX, Ordering::Release);
            inner.max_time.store(i64::MIN, Ordering::Release);
        } else {
            inner.min_time.store(new_min.max(mint), Ordering::Release);
        }
        m.set_bounds(self.min_time(), self.max_time());
        m.gc_duration.observe(started.elapsed().as_secs_f64());
        Ok(stats)
    }

    fn truncate_wal(&self, mint: i64) -> Result<Option<PathBuf>, TsdbError> {
        let inner = &self.inner;
        let wal_dir = inner.dir.join("wal");
        let segments = list_segments(&wal_dir)?;
        let (Some(first), Some(last)) = (segments.first().map(|s| s.0), segments.last().map(|s| s.0)) else {
            return Ok(None);
        };
        let last = first + (last - first) * 2 / 3;
        if last <= first {
            return Ok(None);
        }
        inner.metrics.wal.truncations.inc();
        let keep = |r: u64| -> bool {
            if inner.refs[ref_stripe_index(r, inner.mask)]
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&r)
            {
                return true;
            }
            inner
                .deleted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&r)
                .is_some_and(|&seg| seg > last)
        };
        inner.metrics.wal.checkpoint_creations.inc();
        let (path, cp) = match create_checkpoint(&wal_dir, first, last, &keep, mint, inner.opts.wal_compression) {
            Ok(r) => r,
            Err(e) => {
                inner.metrics.wal.checkpoint_creations_failed.inc();
                return Err(e.into());
            }
        };
        tracing::info!(
            checkpoint = %path.display(),
            series = cp.series,
            samples = cp.samples,
            "WAL checkpoint created"
        );
        {
            let mut wal = inner.wal.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(w) = wal.as_mut() {
                w.truncate(last + 1)?;
            }
        }
        let n = delete_checkpoints(&wal_dir, last)?;
        inner.metrics.wal.checkpoint_deletions.inc_by_int(n as u64);
        inner
            .deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, seg| *seg > last);
        Ok(Some(path))
    }

    /// The reference of the series named `labels`, if the head has it.
    pub fn series_ref(&self, labels: &Labels) -> Option<u64> {
        self.inner
            .series_by_labels(labels, labels_hash(labels.iter()))
            .map(|s| s.series_ref)
    }

    /// The labels of series `r`, if the head has it.
    pub fn series_labels(&self, r: u64) -> Option<Labels> {
        self.inner.series_by_ref(r).map(|s| s.to_labels())
    }

    /// Writes a tombstones record (deletions of head samples) to the WAL; replay hands them back through
    /// [`Head::take_replayed_tombstones`], and checkpoints keep those at or after the truncation time.
    pub fn log_tombstones(&self, stones: &[RefTombstone]) -> Result<(), TsdbError> {
        if stones.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        crate::tsdb::wal::record::encode_tombstones(stones, &mut buf);
        let mut wal = self.inner.wal.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = wal.as_mut() {
            w.log(&[&buf])?;
        }
        Ok(())
    }

    /// The tombstones the WAL replay found (once; later calls return nothing).
    pub fn take_replayed_tombstones(&self) -> Vec<RefTombstone> {
        std::mem::take(&mut *self.inner.replayed_tombstones.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every series with its chunks overlapping `[mint, maxt]`, sorted by labels: what a block writer persists.
    pub fn series_chunks(&self, mint: i64, maxt: i64) -> Result<Vec<SeriesChunks>, TsdbError> {
        read::series_chunks(&self.inner, mint, maxt)
    }
}

impl HeadInner {
    /// Registers a new appender's id.
    pub(crate) fn appender_started(&self, id: u32) {
        self.live_appenders.lock().unwrap_or_else(|e| e.into_inner()).push(id);
    }

    /// Unregisters a finished appender's id.
    pub(crate) fn appender_finished(&self, id: u32) {
        let mut live = self.live_appenders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = live.iter().position(|&a| a == id) {
            live.swap_remove(i);
        }
    }

    /// Whether the appender with id `id` (0: none) is alive.
    pub(crate) fn appender_alive(&self, id: u32) -> bool {
        id != 0
            && self
                .live_appenders
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id)
    }

    pub(crate) fn series_by_ref(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.refs[ref_stripe_index(r, self.mask)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r)
            .cloned()
    }

    pub(crate) fn series_by_labels(&self, labels: &Labels, hash: u64) -> Option<Arc<MemSeries>> {
        self.series_by_pairs(labels.as_slice(), hash)
    }

    fn series_by_pairs<N: AsRef<str>, V: AsRef<str>>(&self, labels: &[(N, V)], hash: u64) -> Option<Arc<MemSeries>> {
        let hs = self.hashes[hash as usize & self.mask]
            .read()
            .unwrap_or_else(|e| e.into_inner());
        hs.get(hash, labels).cloned()
    }

    /// The series named `labels`, created (with reference `want_ref` when non-zero, else the next free one) if
    /// missing. Returns whether it was created.
    pub(crate) fn get_or_create(&self, labels: &Labels, want_ref: u64) -> (Arc<MemSeries>, bool) {
        self.get_or_create_pairs(labels.as_slice(), want_ref)
    }

    /// [`HeadInner::get_or_create`] for label pairs already sorted by name with no name twice (as a [`Labels`]
    /// holds them), borrowed from wherever they were decoded.
    pub(crate) fn get_or_create_pairs<N: AsRef<str>, V: AsRef<str>>(
        &self,
        labels: &[(N, V)],
        want_ref: u64,
    ) -> (Arc<MemSeries>, bool) {
        debug_assert!(labels.windows(2).all(|w| w[0].0.as_ref() < w[1].0.as_ref()));
        let hash = labels_hash(labels.iter().map(|(n, v)| (n.as_ref(), v.as_ref())));
        if let Some(s) = self.series_by_pairs(labels, hash) {
            return (s, false);
        }
        let mut hs = self.hashes[hash as usize & self.mask]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = hs.get(hash, labels) {
            return (s.clone(), false);
        }
        let r = if want_ref != 0 {
            self.next_ref.fetch_max(want_ref + 1, Ordering::AcqRel);
            want_ref
        } else {
            self.next_ref.fetch_add(1, Ordering::AcqRel)
        };
        let syms: Box<[Sym]> = labels
            .iter()
            .flat_map(|(n, v)| [self.symbols.intern(n.as_ref()), self.symbols.intern(v.as_ref())])
            .collect();
        let series = Arc::new(MemSeries::new(r, syms));
        hs.insert(hash, series.clone());
        self.refs[ref_stripe_index(r, self.mask)]
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r, series.clone());
        drop(hs);
        self.postings
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add(r, &series.labels);
        self.metrics.head.series.inc();
        self.metrics.head.series_created.inc();
        (series, true)
    }

    pub(crate) fn update_bounds(&self, min: i64, max: i64) {
        let old_min = self.min_time.fetch_min(min, Ordering::AcqRel);
        let old_max = self.max_time.fetch_max(max, Ordering::AcqRel);
        if min < old_min || max > old_max {
            self.metrics.head.set_bounds(old_min.min(min), old_max.max(max));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
