//! The [`Db`]'s persisted blocks: loading them at open, cutting the head into blocks, leveled compaction,
//! retention by time and size, deletions (tombstones), tombstone cleanup and snapshots, and the querier that merges
//! blocks with the head.
//!
//! Head deletions are logged to the WAL as tombstone records (replayed at open, kept by checkpoints) and held in
//! memory by series labels: applied to queries and left out when the head is cut into a block.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::storage::merge::merge_series_sets;
use crate::storage::{Querier, SelectHints, Series, SeriesData, SliceIterator, StorageError, Value, collect_samples};
use crate::tsdb::block::{Block, BlockError, BlockMeta, CHUNKS_DIR, INDEX_FILE, META_FILE};
use crate::tsdb::compact::{
    TMP_CREATION_SUFFIX, TMP_DELETION_SUFFIX, block_ranges, compact_blocks, plan, sync_dir, write_head_block,
};
use crate::tsdb::db_metrics::BlockMetrics;
use crate::tsdb::tombstones::{Interval, add_interval, is_deleted};
use crate::tsdb::ulid::Ulid;
use crate::tsdb::wal::record::RefTombstone;
use crate::tsdb::{Db, TsdbError};

/// The blocks of a data directory and the state the compactor shares.
#[derive(Debug)]
pub(crate) struct BlockSet {
    dir: PathBuf,
    /// Open blocks, sorted by start time.
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Serialises compaction, deletion, cleanup and reloads.
    compact_lock: Mutex<()>,
    /// Deleted intervals of head series, by labels.
    head_deleted: RwLock<HashMap<Labels, Vec<Interval>>>,
    pub(crate) metrics: BlockMetrics,
}

fn block_err(e: BlockError) -> TsdbError {
    TsdbError::from(e)
}

/// Removes a block directory: renamed first, so a crash midway leaves nothing that looks like a block.
fn remove_block_dir(dir: &Path) -> Result<(), TsdbError> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let tmp = dir.with_file_name(format!("{name}{TMP_DELETION_SUFFIX}"));
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| TsdbError::Io { op, path, source }
    };
    std::fs::rename(dir, &tmp).map_err(io("rename block for deletion", dir))?;
    std::fs::remove_dir_all(&tmp).map_err(io("delete block", &tmp))
}

/// Total size of the files under `dir` (0 when missing).
fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

impl BlockSet {
    /// Loads every block in `dir`, removing leftovers of interrupted writes and deletions and blocks that a
    /// finished compaction replaced.
    pub(crate) fn open(dir: &Path, metrics: BlockMetrics) -> Result<BlockSet, TsdbError> {
        let set = BlockSet {
            dir: dir.to_path_buf(),
            blocks: RwLock::default(),
            compact_lock: Mutex::new(()),
            head_deleted: RwLock::default(),
            metrics,
        };
        let rd = std::fs::read_dir(dir).map_err(|source| TsdbError::Io {
            op: "list data directory",
            path: dir.to_path_buf(),
            source,
        })?;
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(TMP_CREATION_SUFFIX) || name.ends_with(TMP_DELETION_SUFFIX) {
                tracing::info!(dir = %e.path().display(), "removing leftover temporary block directory");
                std::fs::remove_dir_all(e.path()).map_err(|source| TsdbError::Io {
                    op: "remove temporary block directory",
                    path: e.path(),
                    source,
                })?;
            }
        }
        set.reload(None)?;
        Ok(set)
    }

    /// The open blocks, sorted by start time.
    pub(crate) fn list(&self) -> Vec<Arc<Block>> {
        self.blocks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// End of the newest block (`i64::MIN` without blocks).
    pub(crate) fn max_time(&self) -> i64 {
        self.list().iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN)
    }

    /// Opens blocks new on disk, drops those replaced by compaction or beyond retention (when `retention` is
    /// given: time limit in ms, size limit in bytes, and the head's size counted against it).
    fn reload(&self, retention: Option<(i64, u64, u64)>) -> Result<(), TsdbError> {
        self.metrics.reloads.inc();
        let res = self.reload_inner(retention);
        if res.is_err() {
            self.metrics.reloads_failed.inc();
        }
        res
    }

    fn reload_inner(&self, retention: Option<(i64, u64, u64)>) -> Result<(), TsdbError> {
        let old: HashMap<Ulid, Arc<Block>> = self.list().into_iter().map(|b| (b.meta().ulid, b)).collect();
        let mut blocks: Vec<Arc<Block>> = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|source| TsdbError::Io {
            op: "list data directory",
            path: self.dir.clone(),
            source,
        })?;
        for e in rd.filter_map(Result::ok) {
            let Some(ulid) = e.file_name().to_str().and_then(|n| n.parse::<Ulid>().ok()) else {
                continue;
            };
            if !e.path().join(META_FILE).exists() {
                continue;
            }
            match old.get(&ulid) {
                Some(b) => blocks.push(b.clone()),
                None => blocks.push(Arc::new(Block::open(&e.path()).map_err(block_err)?)),
            }
        }
        blocks.sort_by_key(|b| {
            let m = b.meta();
            (m.min_time, m.ulid)
        });
        // Blocks that a compaction replaced (its parents), marked deletable, or beyond retention.
        let parents: HashSet<Ulid> = blocks
            .iter()
            .flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid).collect::<Vec<_>>())
            .collect();
        let mut deletable: HashSet<Ulid> = blocks
            .iter()
            .map(|b| b.meta())
            .filter(|m| parents.contains(&m.ulid) || m.compaction.deletable)
            .map(|m| m.ulid)
            .collect();
        if let Some((time_limit, size_limit, head_size)) = retention {
            let mut newest: Vec<&Arc<Block>> = blocks.iter().filter(|b| !deletable.contains(&b.meta().ulid)).collect();
            newest.sort_by_key(|b| std::cmp::Reverse(b.meta().max_time));
            if time_limit > 0
                && let Some(first) = newest.first().map(|b| b.meta().max_time)
                && let Some(i) = newest
                    .iter()
                    .skip(1)
                    .position(|b| first - b.meta().max_time > time_limit)
            {
                self.metrics.time_retentions.inc();
                deletable.extend(newest[i + 1..].iter().map(|b| b.meta().ulid));
            }
            if size_limit > 0 {
                let mut total = head_size;
                let kept: Vec<&Arc<Block>> = newest
                    .iter()
                    .copied()
                    .filter(|b| !deletable.contains(&b.meta().ulid))
                    .collect();
                for (i, b) in kept.iter().enumerate() {
                    total += b.size();
                    if total > size_limit {
                        self.metrics.size_retentions.inc();
                        deletable.extend(kept[i..].iter().map(|b| b.meta().ulid));
                        break;
                    }
                }
            }
        }
        let (keep, drop): (Vec<Arc<Block>>, Vec<Arc<Block>>) =
            blocks.into_iter().partition(|b| !deletable.contains(&b.meta().ulid));
        *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = keep.clone();
        for b in drop {
            tracing::info!(block = %b.meta().ulid, "deleting block");
            remove_block_dir(b.dir())?;
        }
        self.metrics.blocks_loaded.set(keep.len() as f64);
        self.metrics
            .blocks_bytes
            .set(keep.iter().map(|b| b.size()).sum::<u64>() as f64);
        Ok(())
    }

    fn head_deleted(&self, labels: &Labels) -> Vec<Interval> {
        self.head_deleted
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(labels)
            .cloned()
            .unwrap_or_default()
    }
}

/// What [`Db::compact`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CompactStats {
    /// Blocks written from the head.
    pub head_blocks: Vec<Ulid>,
    /// Blocks written by merging blocks.
    pub merged_blocks: Vec<Ulid>,
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Db {
    /// The persisted blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.list()
    }

    /// The head's chunk range (the minimum block duration) in ms.
    fn chunk_range(&self) -> i64 {
        ms(self.opts.min_block_duration).max(1)
    }

    fn retention(&self) -> (i64, u64, u64) {
        let head_size = dir_size(&self.dir.join("wal")) + dir_size(&self.dir.join("chunks_head"));
        (ms(self.opts.retention), self.opts.retention_size, head_size)
    }

    pub(crate) fn update_gauges(&self) {
        let m = &self.blocks.metrics;
        m.retention_limit_bytes.set(self.opts.retention_size as f64);
        m.retention_limit_seconds.set(self.opts.retention.as_secs_f64());
        let lowest = self
            .blocks
            .list()
            .first()
            .map_or(self.head.min_time(), |b| b.meta().min_time);
        if lowest != i64::MAX {
            m.lowest_timestamp.set(lowest as f64);
            m.lowest_timestamp_seconds.set((lowest / 1000) as f64);
        }
    }

    /// Persists what is due and applies retention, as Prometheus' periodic compaction does:
    ///
    /// 1. while the head spans more than 1.5 chunk ranges, its oldest chunk range `[mint, maxt)` is written as a
    ///    block and the head is truncated at `maxt` (which also checkpoints the WAL);
    /// 2. blocks are merged as [`crate::tsdb::compact::plan`] says until nothing is left to do;
    /// 3. blocks beyond the time and size retention are deleted.
    pub fn compact(&self) -> Result<CompactStats, TsdbError> {
        let _guard = self.blocks.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
        let m = self.blocks.metrics.clone();
        m.compactions_triggered.inc();
        let res = self.compact_locked();
        if res.is_err() {
            m.compactions_failed.inc();
        }
        self.update_gauges();
        res
    }

    fn compact_locked(&self) -> Result<CompactStats, TsdbError> {
        let m = &self.blocks.metrics;
        let mut stats = CompactStats::default();
        let range = self.chunk_range();
        loop {
            let (lo, hi) = (self.head.min_time(), self.head.max_time());
            if lo > hi || hi - lo <= range / 2 * 3 {
                break;
            }
            let mint = lo;
            let maxt = (lo.div_euclid(range) + 1) * range;
            let started = Instant::now();
            m.populating_block.set(1.0);
            let written = write_head_block(&self.head, &self.dir, mint, maxt, &|l| self.blocks.head_deleted(l));
            m.populating_block.set(0.0);
            if let Some(meta) = written? {
                tracing::info!(block = %meta.ulid, mint, maxt, "head block written");
                stats.head_blocks.push(meta.ulid);
                m.compactions.inc();
                m.compaction_duration.observe(started.elapsed().as_secs_f64());
            }
            self.blocks.reload(None)?;
            self.head.truncate(maxt)?;
            let mut deleted = self.blocks.head_deleted.write().unwrap_or_else(|e| e.into_inner());
            deleted.retain(|_, ivs| {
                ivs.retain(|iv| iv.maxt >= maxt);
                !ivs.is_empty()
            });
        }
        let ranges = block_ranges(range, ms(self.opts.max_block_duration));
        for _ in 0..64 {
            let blocks = self.blocks.list();
            let metas: Vec<BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
            let chosen = plan(&metas, &ranges);
            if chosen.is_empty() {
                break;
            }
            let selected: Vec<Arc<Block>> = blocks.into_iter().filter(|b| chosen.contains(&b.meta().ulid)).collect();
            let overlapping = {
                let mut ms: Vec<BlockMeta> = selected.iter().map(|b| b.meta()).collect();
                ms.sort_by_key(|m| m.min_time);
                ms.windows(2).any(|w| w[1].min_time < w[0].max_time)
            };
            let started = Instant::now();
            m.populating_block.set(1.0);
            let res = compact_blocks(&self.dir, &selected);
            m.populating_block.set(0.0);
            match res.map_err(block_err)? {
                Some(meta) => {
                    tracing::info!(block = %meta.ulid, sources = chosen.len(), "blocks compacted");
                    stats.merged_blocks.push(meta.ulid);
                }
                None => {
                    // Every sample was deleted: the sources go.
                    for b in &selected {
                        remove_block_dir(b.dir())?;
                    }
                }
            }
            m.compactions.inc();
            if overlapping {
                m.vertical_compactions.inc();
            }
            m.compaction_duration.observe(started.elapsed().as_secs_f64());
            self.blocks.reload(None)?;
        }
        self.blocks.reload(Some(self.retention()))?;
        Ok(stats)
    }

    /// Deletes the samples in `[mint, maxt]` of the series matching `matchers`: tombstones in the blocks, and in
    /// the head's deletion list. Returns how many series were affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize, TsdbError> {
        let _guard = self.blocks.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for b in self.blocks.list() {
            if b.meta().overlaps(mint, maxt) {
                n += b.delete(mint, maxt, matchers).map_err(block_err)?;
            }
        }
        let q = self.head.querier(mint, maxt);
        let series = q.select(false, None, matchers).map_err(TsdbError::Query)?;
        let stones: Vec<RefTombstone> = series
            .iter()
            .filter_map(|s| self.head.series_ref(&s.labels))
            .map(|series_ref| RefTombstone { series_ref, mint, maxt })
            .collect();
        self.head.log_tombstones(&stones)?;
        let mut deleted = self.blocks.head_deleted.write().unwrap_or_else(|e| e.into_inner());
        for s in series {
            add_interval(deleted.entry(s.labels).or_default(), Interval { mint, maxt });
            n += 1;
        }
        Ok(n)
    }

    /// Rewrites every block with tombstones without the deleted samples (the new block replaces the old one).
    pub fn clean_tombstones(&self) -> Result<Vec<Ulid>, TsdbError> {
        let _guard = self.blocks.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let mut out = Vec::new();
        for b in self.blocks.list() {
            if b.tombstones().is_empty() {
                continue;
            }
            match compact_blocks(&self.dir, std::slice::from_ref(&b)).map_err(block_err)? {
                Some(meta) => out.push(meta.ulid),
                None => remove_block_dir(b.dir())?,
            }
            self.blocks.reload(None)?;
        }
        self.blocks
            .metrics
            .tombstone_cleanup
            .observe(started.elapsed().as_secs_f64());
        self.update_gauges();
        Ok(out)
    }

    /// Writes a consistent copy of the database into `dir` (created if needed): every block hard-linked (copied
    /// where linking fails), and with `with_head` the head's samples as one more block. Returns the blocks in the
    /// snapshot.
    pub fn snapshot(&self, dir: &Path, with_head: bool) -> Result<Vec<Ulid>, TsdbError> {
        let _guard = self.blocks.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| TsdbError::Io { op, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("create snapshot directory", dir))?;
        let mut out = Vec::new();
        for b in self.blocks.list() {
            let meta = b.meta();
            let dst = dir.join(meta.ulid.to_string());
            std::fs::create_dir_all(dst.join(CHUNKS_DIR)).map_err(io("create snapshot block", &dst))?;
            let mut files = vec![PathBuf::from(META_FILE), PathBuf::from(INDEX_FILE)];
            if b.dir().join(crate::tsdb::tombstones::FILE_NAME).exists() {
                files.push(PathBuf::from(crate::tsdb::tombstones::FILE_NAME));
            }
            let chunks = b.dir().join(CHUNKS_DIR);
            for e in std::fs::read_dir(&chunks)
                .map_err(io("list chunks", &chunks))?
                .filter_map(Result::ok)
            {
                files.push(Path::new(CHUNKS_DIR).join(e.file_name()));
            }
            for f in files {
                let (src, to) = (b.dir().join(&f), dst.join(&f));
                if std::fs::hard_link(&src, &to).is_err() {
                    std::fs::copy(&src, &to).map_err(io("copy into snapshot", &to))?;
                }
            }
            sync_dir(&dst).map_err(block_err)?;
            out.push(meta.ulid);
        }
        if with_head {
            let (lo, hi) = (self.head.min_time(), self.head.max_time());
            if lo <= hi
                && let Some(meta) = write_head_block(&self.head, dir, lo, hi.saturating_add(1), &|l| {
                    self.blocks.head_deleted(l)
                })?
            {
                out.push(meta.ulid);
            }
        }
        Ok(out)
    }

    /// A querier merging the blocks overlapping `[mint, maxt]` with the head.
    pub(crate) fn merged_querier(&self, mint: i64, maxt: i64) -> DbQuerier {
        let mut queriers: Vec<Box<dyn Querier>> = self
            .blocks
            .list()
            .iter()
            .filter(|b| b.meta().overlaps(mint, maxt))
            .map(|b| Box::new(b.querier(mint, maxt)) as Box<dyn Querier>)
            .collect();
        let blocks = queriers.len();
        queriers.push(Box::new(self.head.querier(mint, maxt)));
        let head_deleted = self
            .blocks
            .head_deleted
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        DbQuerier {
            queriers,
            head: blocks,
            head_deleted,
        }
    }

    /// Applies the deletions the head's WAL replay found (after a restart).
    pub(crate) fn restore_head_deletions(&self) {
        let stones = self.head.take_replayed_tombstones();
        let mut deleted = self.blocks.head_deleted.write().unwrap_or_else(|e| e.into_inner());
        for s in stones {
            if let Some(labels) = self.head.series_labels(s.series_ref) {
                add_interval(
                    deleted.entry(labels).or_default(),
                    Interval {
                        mint: s.mint,
                        maxt: s.maxt,
                    },
                );
            }
        }
    }

    /// The oldest timestamp held: the first block's start, else the head's oldest sample.
    pub(crate) fn lowest_time(&self) -> i64 {
        self.blocks
            .list()
            .first()
            .map_or(self.head.min_time(), |b| b.meta().min_time.min(self.head.min_time()))
    }
}

/// Starts a task compacting `db` every `interval` (Prometheus: every minute) until `cancel` fires.
pub fn spawn_compactor(
    db: Arc<Db>,
    interval: Duration,
    cancel: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let db = db.clone();
            match tokio::task::spawn_blocking(move || db.compact()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "compaction failed"),
                Err(e) => tracing::error!(error = %e, "compaction task failed"),
            }
        }
    })
}

/// Series of one source with the head's deleted samples left out.
struct OwnedSamples(Vec<(i64, Value)>);

impl SeriesData for OwnedSamples {
    fn iter(&self) -> Box<dyn crate::storage::SampleIterator + '_> {
        Box::new(SliceIterator::new(&self.0))
    }
}

/// Blocks and head behind one [`Querier`].
pub(crate) struct DbQuerier {
    queriers: Vec<Box<dyn Querier>>,
    /// Position of the head's querier.
    head: usize,
    head_deleted: HashMap<Labels, Vec<Interval>>,
}

impl Querier for DbQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let mut sets = Vec::with_capacity(self.queriers.len());
        for (i, q) in self.queriers.iter().enumerate() {
            let mut set = q.select(sorted, hints, matchers)?;
            if i == self.head && !self.head_deleted.is_empty() {
                set = set
                    .into_iter()
                    .filter_map(|s| match self.head_deleted.get(&s.labels) {
                        None => Some(s),
                        Some(ivs) => {
                            let mut samples = collect_samples(&mut *s.iter());
                            samples.retain(|(t, _)| !is_deleted(ivs, *t));
                            (!samples.is_empty()).then(|| Series {
                                labels: s.labels.clone(),
                                data: Box::new(OwnedSamples(samples)),
                            })
                        }
                    })
                    .collect();
            }
            sets.push(set);
        }
        Ok(merge_series_sets(sets))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut out = BTreeSet::new();
        for q in &self.queriers {
            out.extend(q.label_values(name, matchers)?);
        }
        Ok(out.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut out = BTreeSet::new();
        for q in &self.queriers {
            out.extend(q.label_names(matchers)?);
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
