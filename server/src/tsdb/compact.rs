//! Writing blocks and compacting them, as upstream's leveled compactor does:
//!
//! - [`BlockWriter`] writes a block into `<ulid>.tmp-for-creation/` (chunks streamed to `chunks/`, then `index`,
//!   `tombstones`, `meta.json`), fsyncs it and renames it to `<ulid>/`, so a crash never leaves a half block.
//! - [`write_head_block`] persists the head's samples in `[mint, maxt)`.
//! - [`compact_blocks`] merges several blocks into one (overlapping ones included; on equal timestamps the first
//!   block's sample wins), dropping deleted samples.
//! - [`plan`] picks what to compact: overlapping blocks first; else blocks filling one of the ranges (2h, 6h, 18h,
//!   ... capped by the maximum block duration, see [`block_ranges`]), leaving out the newest block; else a large
//!   block with more than 5% tombstones, to rewrite it alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::labels::Labels;
use crate::storage::Value;
use crate::tsdb::TsdbError;
use crate::tsdb::block::{
    Block, BlockCompaction, BlockError, BlockMeta, BlockStats, CHUNKS_DIR, INDEX_FILE, META_VERSION,
};
use crate::tsdb::chunks::{ChunkWriter, EncodedChunk, decode_chunk, encode_samples};
use crate::tsdb::chunks_head::ENCODING_XOR;
use crate::tsdb::head::Head;
use crate::tsdb::index::{ChunkMeta, IndexSeries, write_index};
use crate::tsdb::tombstones::{Interval, Tombstones, is_deleted};
use crate::tsdb::ulid::Ulid;

/// Suffix of a block directory being written.
pub const TMP_CREATION_SUFFIX: &str = ".tmp-for-creation";
/// Suffix of a block directory being deleted.
pub const TMP_DELETION_SUFFIX: &str = ".tmp-for-deletion";

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BlockError + 'a {
    move |source| BlockError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Fsyncs a directory (so renames and new files in it are durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BlockError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// Writes one block, series by series in label order.
#[derive(Debug)]
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: Ulid,
    mint: i64,
    maxt: i64,
    chunks: ChunkWriter,
    series: Vec<IndexSeries>,
    stats: BlockStats,
}

impl BlockWriter {
    /// Starts a block for `[mint, maxt)` under `parent`.
    pub fn new(parent: &Path, mint: i64, maxt: i64) -> Result<BlockWriter, BlockError> {
        let ulid = Ulid::new();
        let tmp = parent.join(format!("{ulid}{TMP_CREATION_SUFFIX}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io("remove stale directory", &tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io("create block directory", &tmp))?;
        let chunks = ChunkWriter::new(&tmp.join(CHUNKS_DIR))?;
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            tmp,
            ulid,
            mint,
            maxt,
            chunks,
            series: Vec::new(),
            stats: BlockStats::default(),
        })
    }

    /// The new block's ULID.
    pub fn ulid(&self) -> Ulid {
        self.ulid
    }

    /// Adds a series (after every series with smaller labels) with its time-ordered chunks inside the block's
    /// range; a series without chunks is skipped.
    pub fn add_series(&mut self, labels: Labels, chunks: &[EncodedChunk]) -> Result<(), BlockError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let mut metas = Vec::with_capacity(chunks.len());
        for c in chunks {
            let chunk_ref = self.chunks.write(c.encoding, &c.data)?;
            metas.push(ChunkMeta {
                chunk_ref,
                mint: c.mint,
                maxt: c.maxt,
            });
            let n = c
                .data
                .get(..2)
                .map_or(0, |b| u64::from(u16::from_be_bytes([b[0], b[1]])));
            self.stats.num_samples += n;
            if c.encoding == ENCODING_XOR {
                self.stats.num_float_samples += n;
            } else {
                self.stats.num_histogram_samples += n;
            }
        }
        self.stats.num_chunks += metas.len() as u64;
        self.stats.num_series += 1;
        self.series.push(IndexSeries { labels, chunks: metas });
        Ok(())
    }

    /// Finishes the block: writes the index, empty tombstones and `meta.json`, fsyncs and renames it into place.
    /// A block without samples is not kept: returns `None`.
    pub fn finish(self, mut compaction: BlockCompaction) -> Result<Option<BlockMeta>, BlockError> {
        let BlockWriter {
            parent,
            tmp,
            ulid,
            mint,
            maxt,
            chunks,
            series,
            stats,
        } = self;
        chunks.close()?;
        if stats.num_samples == 0 {
            std::fs::remove_dir_all(&tmp).map_err(io("remove empty block", &tmp))?;
            return Ok(None);
        }
        write_index(&tmp.join(INDEX_FILE), &series)?;
        Tombstones::new().write_dir(&tmp)?;
        if compaction.sources.is_empty() {
            compaction.sources = vec![ulid];
        }
        let meta = BlockMeta {
            ulid,
            min_time: mint,
            max_time: maxt,
            stats,
            compaction,
            version: META_VERSION,
        };
        meta.write(&tmp)?;
        sync_dir(&tmp)?;
        let dst = parent.join(ulid.to_string());
        std::fs::rename(&tmp, &dst).map_err(io("rename block directory", &dst))?;
        sync_dir(&parent)?;
        Ok(Some(meta))
    }
}

/// Keeps the samples in `[mint, maxt]` not deleted, re-encoding only chunks that lose samples.
fn trim_chunks(
    chunks: Vec<EncodedChunk>,
    mint: i64,
    maxt: i64,
    deleted: &[Interval],
) -> Result<Vec<EncodedChunk>, BlockError> {
    let codec = |source| BlockError::Codec {
        path: PathBuf::new(),
        source,
    };
    let mut out = Vec::with_capacity(chunks.len());
    for c in chunks {
        let touched = deleted.iter().any(|iv| iv.mint <= c.maxt && c.mint <= iv.maxt);
        if c.mint >= mint && c.maxt <= maxt && !touched {
            out.push(c);
            continue;
        }
        let mut samples = decode_chunk(c.encoding, &c.data).map_err(codec)?;
        samples.retain(|(t, _)| *t >= mint && *t <= maxt && !is_deleted(deleted, *t));
        out.extend(encode_samples(&samples).map_err(codec)?);
    }
    Ok(out)
}

/// Persists the head's samples in `[mint, maxt)` as a level-1 block under `dir`, leaving out the intervals
/// `deleted` returns for a series. Returns the new block's metadata (`None` when the range holds no samples).
pub fn write_head_block(
    head: &Head,
    dir: &Path,
    mint: i64,
    maxt: i64,
    deleted: &dyn Fn(&Labels) -> Vec<Interval>,
) -> Result<Option<BlockMeta>, TsdbError> {
    let series = head.series_chunks(mint, maxt - 1)?;
    let mut w = BlockWriter::new(dir, mint, maxt)?;
    for s in series {
        let del = deleted(&s.labels);
        let chunks = trim_chunks(s.chunks, mint, maxt - 1, &del)?;
        w.add_series(s.labels, &chunks)?;
    }
    Ok(w.finish(BlockCompaction {
        level: 1,
        ..BlockCompaction::default()
    })?)
}

/// Merges `blocks` into one new block under `dir` spanning all of them. Returns its metadata (`None` when every
/// sample was deleted).
pub fn compact_blocks(dir: &Path, blocks: &[Arc<Block>]) -> Result<Option<BlockMeta>, BlockError> {
    let mut blocks: Vec<&Arc<Block>> = blocks.iter().collect();
    blocks.sort_by_key(|b| b.meta().min_time);
    let metas: Vec<BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
    let mint = metas.iter().map(|m| m.min_time).min().unwrap_or(0);
    let maxt = metas.iter().map(|m| m.max_time).max().unwrap_or(0);
    let mut sources: Vec<Ulid> = metas
        .iter()
        .flat_map(|m| m.compaction.sources.iter().copied())
        .collect();
    sources.sort();
    sources.dedup();
    let compaction = BlockCompaction {
        level: metas.iter().map(|m| m.compaction.level).max().unwrap_or(0) + 1,
        sources,
        parents: metas.iter().map(BlockMeta::desc).collect(),
        ..BlockCompaction::default()
    };
    let lists = blocks.iter().map(|b| b.all_series()).collect::<Result<Vec<_>, _>>()?;
    let mut iters: Vec<_> = lists.into_iter().map(|l| l.into_iter().peekable()).collect();
    let mut w = BlockWriter::new(dir, mint, maxt)?;
    while let Some(labels) = iters
        .iter_mut()
        .filter_map(|it| it.peek().map(|s| &s.labels))
        .min()
        .cloned()
    {
        let mut parts = Vec::new();
        for (i, it) in iters.iter_mut().enumerate() {
            if it.peek().is_some_and(|s| s.labels == labels)
                && let Some(s) = it.next()
            {
                parts.push((i, s));
            }
        }
        // Chunks from blocks in time order that do not overlap and lose no samples are copied as they are.
        let deletions = parts.iter().any(|(_, s)| !s.deleted.is_empty());
        let mut in_order = true;
        let mut last = i64::MIN;
        for (i, s) in &parts {
            let m = &metas[*i];
            for c in &s.chunks {
                if (last != i64::MIN && c.mint <= last) || c.mint < m.min_time || c.maxt >= m.max_time {
                    in_order = false;
                }
                last = c.maxt;
            }
        }
        let chunks = if in_order && !deletions {
            let mut out = Vec::new();
            for (i, s) in &parts {
                for c in &s.chunks {
                    let (encoding, data) = blocks[*i].chunk_reader().chunk(c.chunk_ref)?;
                    out.push(EncodedChunk {
                        mint: c.mint,
                        maxt: c.maxt,
                        encoding,
                        data,
                    });
                }
            }
            out
        } else {
            let mut samples: Vec<(i64, Value)> = Vec::new();
            for (i, s) in &parts {
                let m = &metas[*i];
                for c in &s.chunks {
                    for (t, v) in blocks[*i].read_chunk(c.chunk_ref)? {
                        if t >= m.min_time && t < m.max_time && !is_deleted(&s.deleted, t) {
                            samples.push((t, v));
                        }
                    }
                }
            }
            // Stable: on equal timestamps the earlier block's sample comes first and is kept.
            samples.sort_by_key(|(t, _)| *t);
            samples.dedup_by_key(|(t, _)| *t);
            encode_samples(&samples).map_err(|source| BlockError::Codec {
                path: dir.to_path_buf(),
                source,
            })?
        };
        w.add_series(labels, &chunks)?;
    }
    w.finish(compaction)
}

/// The compaction ranges for a minimum block duration (ms): three times larger at each level, ten levels, leaving
/// out ranges above `max` (as Prometheus derives them from `--storage.tsdb.min/max-block-duration`).
pub fn block_ranges(min: i64, max: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut r = min.max(1);
    for _ in 0..10 {
        if r > max && !out.is_empty() {
            break;
        }
        out.push(r);
        r = r.saturating_mul(3);
    }
    out
}

/// Which blocks to compact next (ULIDs; empty for none). `metas` are all blocks; `ranges` from [`block_ranges`].
pub fn plan(metas: &[BlockMeta], ranges: &[i64]) -> Vec<Ulid> {
    let mut ms: Vec<&BlockMeta> = metas.iter().collect();
    ms.sort_by_key(|m| (m.min_time, m.ulid));
    let overlapping = select_overlapping(&ms);
    if !overlapping.is_empty() {
        return overlapping;
    }
    // Leave out the newest block: it was just cut from the head, and a backup may still be copying it.
    if ms.is_empty() {
        return Vec::new();
    }
    ms.pop();
    let selected = select_dirs(&ms, ranges);
    if !selected.is_empty() {
        return selected.iter().map(|m| m.ulid).collect();
    }
    // A large block with many tombstones is rewritten alone.
    let mid = ranges.get(ranges.len() / 2).copied().unwrap_or(i64::MAX);
    for m in ms.iter().rev() {
        if m.max_time - m.min_time < mid {
            break;
        }
        if m.stats.num_tombstones as f64 / (m.stats.num_series + 1) as f64 > 0.05 {
            return vec![m.ulid];
        }
    }
    Vec::new()
}

/// The first run of blocks overlapping in time.
fn select_overlapping(ms: &[&BlockMeta]) -> Vec<Ulid> {
    let mut out = Vec::new();
    let Some(first) = ms.first() else { return out };
    let mut global_max = first.max_time;
    for i in 1..ms.len() {
        let m = ms[i];
        if m.min_time < global_max {
            if out.is_empty() {
                out.push(ms[i - 1].ulid);
            }
            out.push(m.ulid);
        } else if !out.is_empty() {
            break;
        }
        global_max = global_max.max(m.max_time);
    }
    out
}

fn select_dirs<'a>(ms: &[&'a BlockMeta], ranges: &[i64]) -> Vec<&'a BlockMeta> {
    let Some(last) = ms.last() else { return Vec::new() };
    let high = last.min_time;
    for &r in ranges.iter().skip(1) {
        for part in split_by_range(ms, r) {
            if part.iter().any(|m| m.compaction.failed) {
                continue;
            }
            let mint = part[0].min_time;
            let maxt = part[part.len() - 1].max_time;
            if part.len() > 1 && (maxt - mint == r || maxt <= high) {
                return part;
            }
        }
    }
    Vec::new()
}

/// Groups blocks (sorted by start) by the aligned range of width `r` they fall into; blocks larger than their
/// range are left out.
fn split_by_range<'a>(ms: &[&'a BlockMeta], r: i64) -> Vec<Vec<&'a BlockMeta>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ms.len() {
        let t0 = ms[i].min_time.div_euclid(r) * r;
        if ms[i].max_time > t0 + r {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < ms.len() && ms[i].max_time <= t0 + r {
            group.push(ms[i]);
            i += 1;
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    out
}

#[cfg(test)]
mod tests;
