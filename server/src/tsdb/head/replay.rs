//! Rebuilding the head on open, in Prometheus' order: the chunks in `chunks_head/` first (each series gets its
//! full chunks back), then the newest WAL checkpoint and the segments after it, whose series records recreate the
//! series with their original references and whose samples are appended only when newer than the series' last
//! chunk on disk. A corrupt or torn WAL record ends the replay there: the segment is truncated at the last good
//! record, later segments are deleted, and the corruption is reported (log and
//! `prometheus_tsdb_wal_corruptions_total`), never refused.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::sync::Arc;

use super::series::{Appended, MemSeries, MmappedChunk, SampleRef, append_sample};
use super::{HeadInner, U64Map};
use crate::model::labels::Labels;
use crate::tsdb::TsdbError;
use crate::tsdb::chunkenc::{ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM};
use crate::tsdb::chunks_head::{DiskChunk, ENCODING_XOR};
use crate::tsdb::wal::checkpoint::{last_checkpoint, remove_temporary};
use crate::tsdb::wal::histogram_record::{RefFloatHistogram, RefHistogram, decode_float_histograms, decode_histograms};
use crate::tsdb::wal::record::{self, RefSample, RefTombstone, types};
use crate::tsdb::wal::{Corruption, WalError, list_segments, read_segment_records};

/// What a replay restored.
#[derive(Debug, Default, Clone)]
pub struct ReplayStats {
    /// Series created.
    pub series: usize,
    /// Samples appended from the WAL.
    pub samples: usize,
    /// Chunks restored from `chunks_head/`.
    pub mmapped_chunks: usize,
    /// Samples referring to series the WAL never declared.
    pub unknown_refs: usize,
    /// Records of kinds the head does not interpret (exemplars, metadata).
    pub skipped_records: usize,
    /// Deletions logged for head series (references resolved to the surviving series), for the [`crate::tsdb::Db`]
    /// to apply.
    pub tombstones: Vec<RefTombstone>,
    /// The corruption that ended the replay early, if any.
    pub corruption: Option<Corruption>,
}

/// A replayed series as the replay looks it up by its WAL reference: the series, and the end of its newest chunk on
/// disk (samples up to then are already in that chunk and skipped without touching the series).
#[derive(Debug, Clone)]
struct Known {
    /// The reference the WAL uses for it (that of the series, or of a duplicate series record).
    wal_ref: u64,
    series: Arc<MemSeries>,
    on_disk_until: i64,
}

/// WAL reference -> series of one replay shard (references `r` with `r % shards == shard`), owned by its worker (no
/// locks, no reference counting per sample): a vector indexed by `r / shards` while references are dense, as they
/// are when this head or Prometheus wrote them, else a map.
#[derive(Debug)]
struct KnownSeries {
    shards: u64,
    shard: u64,
    dense: Vec<Option<Known>>,
    sparse: U64Map<Known>,
}

impl KnownSeries {
    /// How far past the dense part's end a reference may land and still extend it.
    const MAX_GAP: usize = 1024;

    fn new(shards: u64, shard: u64) -> KnownSeries {
        KnownSeries {
            shards,
            shard,
            dense: Vec::new(),
            sparse: U64Map::default(),
        }
    }

    fn slot(&self, r: u64) -> Option<usize> {
        usize::try_from(r / self.shards).ok()
    }

    fn get(&self, r: u64) -> Option<&Known> {
        match self.slot(r).and_then(|i| self.dense.get(i)) {
            Some(Some(k)) if k.wal_ref == r => Some(k),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get(&r),
        }
    }

    /// Adds `r` unless it is known already.
    fn insert(&mut self, r: u64, known: Known) {
        if self.get(r).is_some() {
            return;
        }
        match self.slot(r) {
            // A slot holds only the reference `slot * shards + shard`; others (duplicates routed here) go to the map.
            Some(i) if i < self.dense.len() && self.dense[i].is_none() && r % self.shards == self.shard => {
                self.dense[i] = Some(known);
            }
            Some(i) if i < self.dense.len() => {
                self.sparse.insert(r, known);
            }
            Some(_) if r % self.shards != self.shard => {
                self.sparse.insert(r, known);
            }
            Some(i) if i - self.dense.len() <= Self::MAX_GAP => {
                self.dense.resize(i, None);
                self.dense.push(Some(known));
            }
            _ => {
                self.sparse.insert(r, known);
            }
        }
    }
}

/// Work for a replay shard, in WAL order.
enum ShardMsg {
    /// Series (by their WAL references) samples will refer to: those of one series record, so a replay of a
    /// million series sends a few thousand messages, not a million.
    Series(Vec<(u64, Known)>),
    /// Float samples.
    Floats(Vec<RefSample>),
    /// Integer native histogram samples.
    Histograms(Vec<RefHistogram>),
    /// Float native histogram samples.
    FloatHistograms(Vec<RefFloatHistogram>),
}

/// What a shard appended.
#[derive(Debug, Default)]
struct ShardStats {
    samples: usize,
    unknown_refs: usize,
    mint: i64,
    maxt: i64,
}

/// A replay shard: appends the samples of the series whose WAL reference falls in it, on its own thread, so the
/// replay uses the cores as upstream's does; samples of one series stay in WAL order.
struct Shard<'a> {
    head: &'a HeadInner,
    /// Samples before this are not replayed (the newest block's end).
    min_valid: i64,
    known: KnownSeries,
    stats: ShardStats,
}

impl Shard<'_> {
    fn run(mut self, rx: std::sync::mpsc::Receiver<ShardMsg>) -> ShardStats {
        for msg in rx {
            match msg {
                ShardMsg::Series(list) => {
                    for (r, known) in list {
                        self.known.insert(r, known);
                    }
                }
                ShardMsg::Floats(samples) => {
                    for s in &samples {
                        self.sample(s.series_ref, s.t, SampleRef::Float(s.v));
                    }
                }
                ShardMsg::Histograms(samples) => {
                    for s in &samples {
                        self.sample(s.series_ref, s.t, SampleRef::Histogram(&s.h));
                    }
                }
                ShardMsg::FloatHistograms(samples) => {
                    for s in &samples {
                        self.sample(s.series_ref, s.t, SampleRef::FloatHistogram(&s.h));
                    }
                }
            }
        }
        self.stats
    }

    fn sample(&mut self, series_ref: u64, t: i64, v: SampleRef<'_>) {
        if t < self.min_valid {
            return;
        }
        let Some(known) = self.known.get(series_ref) else {
            self.stats.unknown_refs += 1;
            return;
        };
        if t <= known.on_disk_until {
            // In a chunk on disk already, as most samples are when the head chunks survived.
            return;
        }
        let series = &known.series;
        let mut st = series.lock();
        let appended = append_sample(&mut st, series.series_ref, t, v, self.head.params, &self.head.mapper);
        drop(st);
        match appended {
            Appended::Ok => {}
            Appended::NewChunk => {
                self.head.metrics.head.chunks.inc();
                self.head.metrics.head.chunks_created.inc();
            }
            // Already in a chunk on disk (or a duplicate), or unusable: skipped, as upstream does.
            Appended::OutOfOrder | Appended::Invalid => return,
        }
        self.stats.samples += 1;
        self.stats.mint = self.stats.mint.min(t);
        self.stats.maxt = self.stats.maxt.max(t);
    }
}

/// The end of each replayed series' newest chunk on disk by WAL reference, for the decoding thread to drop the
/// samples those chunks hold before queueing them for a shard (most samples, when the head chunks survived): a
/// vector indexed by reference while references are dense, else a map. References not in it have none.
#[derive(Debug, Default)]
struct DiskUntil {
    dense: Vec<i64>,
    sparse: U64Map<i64>,
}

impl DiskUntil {
    /// How far past the dense part's end a reference may land and still extend it.
    const MAX_GAP: usize = 4096;

    fn get(&self, r: u64) -> i64 {
        match usize::try_from(r).ok().and_then(|i| self.dense.get(i)) {
            Some(&t) => t,
            None if self.sparse.is_empty() => i64::MIN,
            None => self.sparse.get(&r).copied().unwrap_or(i64::MIN),
        }
    }

    fn set(&mut self, r: u64, t: i64) {
        match usize::try_from(r) {
            Ok(i) if i < self.dense.len() => self.dense[i] = t,
            Ok(i) if i - self.dense.len() <= Self::MAX_GAP => {
                self.dense.resize(i, i64::MIN);
                self.dense.push(t);
            }
            _ => {
                self.sparse.insert(r, t);
            }
        }
    }
}

/// Float samples per message to a replay shard.
const FLOATS_PER_MESSAGE: usize = 16 * 1024;

struct Replayer<'a> {
    head: &'a HeadInner,
    /// The shards' queues.
    shards: Vec<std::sync::mpsc::SyncSender<ShardMsg>>,
    mmapped: HashMap<u64, Vec<MmappedChunk>>,
    /// Samples before this are not replayed (the newest block's end).
    min_valid: i64,
    /// Where each series' chunks on disk end.
    disk_until: DiskUntil,
    /// Duplicate series records: ref -> the ref of the series with the same labels.
    aliases: HashMap<u64, u64>,
    stats: ReplayStats,
    /// Series announcements for each shard, sent once per series record (before any sample of the series, which
    /// comes in a later record; announcing a known reference again changes nothing, so queued samples of earlier
    /// records need not go first).
    announced: Vec<Vec<(u64, Known)>>,
    /// Float samples queued for each shard.
    floats: Vec<Vec<RefSample>>,
    samples_buf: Vec<RefSample>,
    stones_buf: Vec<RefTombstone>,
    hist_buf: Vec<RefHistogram>,
    float_hist_buf: Vec<RefFloatHistogram>,
}

impl Replayer<'_> {
    fn record(&mut self, rec: &[u8]) -> Result<(), String> {
        let Some(&typ) = rec.first() else { return Ok(()) };
        match typ {
            types::SERIES => {
                // Label strings are used straight from the record (the symbol table copies those it lacks); a
                // series whose labels are not in a label set's normal form (sorted names, no empty value) goes
                // through a label set.
                let mut pairs = Vec::new();
                record::decode_series_borrowed(rec, &mut pairs, |series_ref, pairs| {
                    let normal = pairs.windows(2).all(|w| w[0].0 < w[1].0) && pairs.iter().all(|(_, v)| !v.is_empty());
                    if normal {
                        self.series(series_ref, pairs);
                    } else {
                        let labels: Labels = pairs.iter().copied().collect();
                        self.series(series_ref, labels.as_slice());
                    }
                })?;
                self.send_announced();
            }
            types::SAMPLES => {
                self.samples_buf.clear();
                record::decode_samples(rec, &mut self.samples_buf)?;
                let samples = std::mem::take(&mut self.samples_buf);
                self.dispatch_floats(&samples);
                self.samples_buf = samples;
            }
            types::HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES => {
                // A series' samples stay in WAL order across kinds.
                self.send_floats();
                let mut buf = std::mem::take(&mut self.hist_buf);
                buf.clear();
                decode_histograms(rec, &mut buf)?;
                self.dispatch(&buf, |s| s.series_ref, ShardMsg::Histograms);
                self.hist_buf = buf;
            }
            types::FLOAT_HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES => {
                self.send_floats();
                let mut buf = std::mem::take(&mut self.float_hist_buf);
                buf.clear();
                decode_float_histograms(rec, &mut buf)?;
                self.dispatch(&buf, |s| s.series_ref, ShardMsg::FloatHistograms);
                self.float_hist_buf = buf;
            }
            types::TOMBSTONES => {
                // Kept for the Db, which applies deletions at query time.
                self.stones_buf.clear();
                record::decode_tombstones(rec, &mut self.stones_buf)?;
                for s in &self.stones_buf {
                    let series_ref = self.aliases.get(&s.series_ref).copied().unwrap_or(s.series_ref);
                    self.stats.tombstones.push(RefTombstone { series_ref, ..*s });
                }
            }
            _ => self.stats.skipped_records += 1,
        }
        Ok(())
    }

    /// A series record's series: `labels` sorted by name, no name twice, no empty value.
    fn series<N: AsRef<str>, V: AsRef<str>>(&mut self, wal_ref: u64, labels: &[(N, V)]) {
        if labels.is_empty() {
            return;
        }
        let (series, created) = self.head.get_or_create_pairs(labels, wal_ref);
        series.logged.store(true, std::sync::atomic::Ordering::Release);
        if !created {
            if series.series_ref != wal_ref {
                self.aliases.insert(wal_ref, series.series_ref);
            }
            let known = Known {
                wal_ref,
                series,
                on_disk_until: i64::MIN,
            };
            self.announce(wal_ref, known);
            return;
        }
        self.stats.series += 1;
        let mut on_disk_until = i64::MIN;
        if let Some(chunks) = self.mmapped.remove(&wal_ref) {
            let mut st = series.lock();
            let (lo, hi) = (chunks.first().map(|c| c.mint), chunks.last().map(|c| c.maxt));
            self.stats.mmapped_chunks += chunks.len();
            self.head.metrics.head.chunks.add(chunks.len() as f64);
            st.mmapped = chunks.into_boxed_slice();
            drop(st);
            if let (Some(lo), Some(hi)) = (lo, hi) {
                self.head.update_bounds(lo, hi);
                on_disk_until = hi;
                self.disk_until.set(wal_ref, hi);
            }
        }
        let known = Known {
            wal_ref,
            series,
            on_disk_until,
        };
        self.announce(wal_ref, known);
    }

    /// Queues each shard's part of a float samples record, sending a shard's queue once it holds
    /// [`FLOATS_PER_MESSAGE`] samples: the decoding thread is the bottleneck, and a message per record would wake a
    /// waiting shard (a futex call and a context switch) every thousand samples.
    fn dispatch_floats(&mut self, samples: &[RefSample]) {
        let n = self.shards.len() as u64;
        for s in samples {
            // Dropped here as the shard would drop them (too old, or in a chunk on disk already).
            if s.t < self.min_valid || s.t <= self.disk_until.get(s.series_ref) {
                continue;
            }
            let shard = (self.resolve(s.series_ref) % n) as usize;
            self.floats[shard].push(*s);
        }
        for (tx, queue) in self.shards.iter().zip(self.floats.iter_mut()) {
            if queue.len() >= FLOATS_PER_MESSAGE {
                let full = std::mem::replace(queue, Vec::with_capacity(FLOATS_PER_MESSAGE + 1024));
                // A shard only stops when its queue is closed, so sending cannot fail.
                let _ = tx.send(ShardMsg::Floats(full));
            }
        }
    }

    /// Sends the queued float samples.
    fn send_floats(&mut self) {
        for (tx, queue) in self.shards.iter().zip(self.floats.iter_mut()) {
            if !queue.is_empty() {
                let _ = tx.send(ShardMsg::Floats(std::mem::take(queue)));
            }
        }
    }

    /// Sends each shard its part of a record's samples.
    fn dispatch<T: Clone>(&self, samples: &[T], series_ref: impl Fn(&T) -> u64, msg: impl Fn(Vec<T>) -> ShardMsg) {
        let n = self.shards.len() as u64;
        let mut parts: Vec<Vec<T>> = (0..n)
            .map(|_| Vec::with_capacity(samples.len() / n as usize + 1))
            .collect();
        for s in samples {
            parts[(self.resolve(series_ref(s)) % n) as usize].push(s.clone());
        }
        for (tx, part) in self.shards.iter().zip(parts) {
            if !part.is_empty() {
                // A shard only stops when its queue is closed, so sending cannot fail.
                let _ = tx.send(msg(part));
            }
        }
    }

    /// The reference of the series WAL reference `r` names (duplicate series records name an earlier series):
    /// samples go to that series' shard, so one series' samples stay in WAL order.
    fn resolve(&self, r: u64) -> u64 {
        self.aliases.get(&r).copied().unwrap_or(r)
    }

    /// Queues series `r` (a WAL reference) for the shard of the series it names.
    fn announce(&mut self, r: u64, known: Known) {
        let n = self.shards.len() as u64;
        let shard = (self.resolve(r) % n) as usize;
        self.announced[shard].push((r, known));
    }

    /// Sends the queued series to their shards.
    fn send_announced(&mut self) {
        for (tx, list) in self.shards.iter().zip(self.announced.iter_mut()) {
            if !list.is_empty() {
                // A shard only stops when its queue is closed, so sending cannot fail.
                let _ = tx.send(ShardMsg::Series(std::mem::take(list)));
            }
        }
    }
}

/// Replays `chunks` (from `chunks_head/`) and the WAL into `head`.
pub(crate) fn replay(head: &Arc<HeadInner>, chunks: Vec<DiskChunk>) -> Result<ReplayStats, TsdbError> {
    let min_valid = head.min_valid_time.load(std::sync::atomic::Ordering::Acquire);
    let mut mmapped: HashMap<u64, Vec<MmappedChunk>> = HashMap::new();
    for c in chunks {
        let known = [ENCODING_XOR, ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM].contains(&c.encoding);
        if c.ooo || !known || c.maxt < min_valid || c.num_samples == 0 {
            continue;
        }
        mmapped.entry(c.series_ref).or_default().push(MmappedChunk {
            chunk_ref: c.chunk_ref,
            mint: c.mint,
            maxt: c.maxt,
        });
    }
    for list in mmapped.values_mut() {
        list.sort_by_key(|c| c.mint);
        // Overlapping chunks (from a crash between writing a chunk and the one before it) keep the earlier.
        let mut kept: Vec<MmappedChunk> = Vec::with_capacity(list.len());
        for c in list.drain(..) {
            if kept.last().is_none_or(|k| c.mint > k.maxt) {
                kept.push(c);
            }
        }
        *list = kept;
    }
    let wal_dir = head.dir.join("wal");
    if !head.opts.wal || !wal_dir.is_dir() {
        return Ok(ReplayStats::default());
    }
    let shards = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(shards);
        let mut workers = Vec::with_capacity(shards);
        for k in 0..shards {
            // A few messages in flight per shard: a message holds up to FLOATS_PER_MESSAGE samples (384 KiB).
            let (tx, rx) = std::sync::mpsc::sync_channel(4);
            let shard = Shard {
                head,
                min_valid,
                known: KnownSeries::new(shards as u64, k as u64),
                stats: ShardStats {
                    mint: i64::MAX,
                    maxt: i64::MIN,
                    ..ShardStats::default()
                },
            };
            senders.push(tx);
            workers.push(scope.spawn(move || shard.run(rx)));
        }
        let mut r = Replayer {
            head,
            shards: senders,
            mmapped,
            min_valid,
            disk_until: DiskUntil::default(),
            aliases: HashMap::new(),
            stats: ReplayStats::default(),
            announced: (0..shards).map(|_| Vec::new()).collect(),
            floats: (0..shards).map(|_| Vec::new()).collect(),
            samples_buf: Vec::new(),
            stones_buf: Vec::new(),
            hist_buf: Vec::new(),
            float_hist_buf: Vec::new(),
        };
        let result = replay_wal(&mut r, &wal_dir);
        r.send_floats();
        // Closing the queues lets the shards finish.
        r.shards.clear();
        for w in workers {
            let shard = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            r.stats.samples += shard.samples;
            r.stats.unknown_refs += shard.unknown_refs;
            if shard.mint <= shard.maxt {
                head.update_bounds(shard.mint, shard.maxt);
            }
        }
        result?;
        // Chunks of series the WAL does not declare any more are dropped, as upstream does.
        r.stats.unknown_refs += r.mmapped.len();
        Ok(r.stats)
    })
}

/// Replays the newest checkpoint and the segments after it.
fn replay_wal(r: &mut Replayer<'_>, wal_dir: &std::path::Path) -> Result<(), TsdbError> {
    let head = r.head;
    remove_temporary(wal_dir)?;
    let mut start = 0;
    if let Some((idx, cp_dir)) = last_checkpoint(wal_dir)? {
        for (_, seg) in list_segments(&cp_dir)? {
            if let Err(e) = read_segment_records(&seg, None, |rec| r.record(rec)) {
                match e {
                    WalError::Corrupt(c) => {
                        // A checkpoint is written whole or not at all; a bad one is reported and read as far as
                        // it goes.
                        tracing::warn!(error = %c, "corrupt WAL checkpoint; continuing with the segments after it");
                        head.metrics.wal.corruptions.inc();
                        break;
                    }
                    other => return Err(other.into()),
                }
            }
        }
        start = idx + 1;
    }
    let segments: Vec<(u32, std::path::PathBuf)> = list_segments(wal_dir)?
        .into_iter()
        .filter(|(i, _)| *i >= start)
        .collect();
    for (pos, (index, path)) in segments.iter().enumerate() {
        match read_segment_records(path, Some(*index), |rec| r.record(rec)) {
            Ok(()) => {}
            Err(WalError::Corrupt(c)) => {
                tracing::warn!(
                    error = %c,
                    "WAL corruption detected; truncating at the last good record and deleting later segments"
                );
                repair(&c, &segments[pos + 1..])?;
                r.stats.corruption = Some(c);
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Truncates the corrupt segment at the corruption's offset and deletes the later segments.
fn repair(c: &Corruption, later: &[(u32, std::path::PathBuf)]) -> Result<(), TsdbError> {
    for (_, path) in later {
        fs::remove_file(path).map_err(|e| WalError::io("remove segment after corruption", path, e))?;
    }
    let f = OpenOptions::new()
        .write(true)
        .open(&c.path)
        .map_err(|e| WalError::io("open corrupt segment", &c.path, e))?;
    f.set_len(c.offset)
        .map_err(|e| WalError::io("truncate corrupt segment", &c.path, e))?;
    f.sync_all()
        .map_err(|e| WalError::io("fsync repaired segment", &c.path, e))?;
    Ok(())
}
