//! WAL checkpoints (Prometheus' `wlog.Checkpoint`): when the head is truncated, the oldest segments are condensed
//! into `checkpoint.N/` (N = the last segment it covers), keeping only the series still alive and the samples and
//! tombstones at or after the head's new minimum time; then those segments are deleted. Replay reads the newest
//! checkpoint and then the segments after N.
//!
//! The checkpoint is written to `checkpoint.N.tmp` and renamed when complete, so a crash never leaves a partial
//! checkpoint in place (leftover `.tmp` directories are removed on open). Record kinds the head does not
//! interpret (exemplars, metadata) are not carried into checkpoints.

use std::fs;
use std::path::{Path, PathBuf};

use super::histogram_record::{
    RefFloatHistogram, RefHistogram, decode_float_histograms, decode_histograms, encode_float_histograms,
    encode_histograms,
};
use super::record::{self, RefSample, RefSeries, RefTombstone, types};
use super::{SyncPolicy, Wal, WalError, list_segments, read_segment_records, sync_dir};
use crate::tsdb::metrics::WalMetrics;

/// What a checkpoint kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Series records kept.
    pub series: usize,
    /// Samples kept.
    pub samples: usize,
    /// Tombstones kept.
    pub tombstones: usize,
    /// Samples dropped (too old or of dropped series).
    pub dropped_samples: usize,
}

/// The directory name of checkpoint `index`.
pub fn checkpoint_name(index: u32) -> String {
    format!("checkpoint.{index:08}")
}

/// The checkpoints in `wal_dir`, oldest first (temporary ones excluded).
pub fn list_checkpoints(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, WalError> {
    let entries = fs::read_dir(wal_dir).map_err(|e| WalError::io("list", wal_dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io("list", wal_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(num) = name.strip_prefix("checkpoint.") else {
            continue;
        };
        if let Ok(index) = num.parse::<u32>()
            && entry.path().is_dir()
        {
            out.push((index, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest checkpoint, if any.
pub fn last_checkpoint(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>, WalError> {
    Ok(list_checkpoints(wal_dir)?.pop())
}

/// Removes leftover `checkpoint.*.tmp` directories.
pub fn remove_temporary(wal_dir: &Path) -> Result<(), WalError> {
    let entries = fs::read_dir(wal_dir).map_err(|e| WalError::io("list", wal_dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(name) = name.to_str()
            && name.starts_with("checkpoint.")
            && name.ends_with(".tmp")
        {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(|e| WalError::io("remove temporary checkpoint", &path, e))?;
        }
    }
    Ok(())
}

/// Deletes checkpoints older than `index`.
pub fn delete_checkpoints(wal_dir: &Path, index: u32) -> Result<usize, WalError> {
    let mut n = 0;
    for (i, path) in list_checkpoints(wal_dir)? {
        if i < index {
            fs::remove_dir_all(&path).map_err(|e| WalError::io("remove checkpoint", &path, e))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Batches encoded records so each WAL record stays around 1 MiB.
struct Batcher {
    wal: Wal,
    series: Vec<(u64, crate::model::labels::Labels)>,
    samples: Vec<RefSample>,
    stones: Vec<RefTombstone>,
    hists: Vec<RefHistogram>,
    float_hists: Vec<RefFloatHistogram>,
    buf: Vec<u8>,
}

impl Batcher {
    const MAX: usize = 1 << 20;

    fn flush_series(&mut self) -> Result<(), WalError> {
        if self.series.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        record::encode_series(self.series.iter().map(|(r, l)| (*r, l)), &mut self.buf);
        self.wal.log(&[&self.buf])?;
        self.series.clear();
        Ok(())
    }

    fn flush_samples(&mut self) -> Result<(), WalError> {
        if self.samples.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        record::encode_samples(&self.samples, &mut self.buf);
        self.wal.log(&[&self.buf])?;
        self.samples.clear();
        Ok(())
    }

    fn flush_stones(&mut self) -> Result<(), WalError> {
        if self.stones.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        record::encode_tombstones(&self.stones, &mut self.buf);
        self.wal.log(&[&self.buf])?;
        self.stones.clear();
        Ok(())
    }

    fn flush_histograms(&mut self) -> Result<(), WalError> {
        let mut recs = encode_histograms(&self.hists);
        recs.extend(encode_float_histograms(&self.float_hists));
        for rec in &recs {
            self.wal.log(&[rec])?;
        }
        self.hists.clear();
        self.float_hists.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WalError> {
        // Series first: a samples record must never precede the series it refers to.
        self.flush_series()?;
        self.flush_samples()?;
        self.flush_histograms()?;
        self.flush_stones()
    }

    fn size(&self) -> usize {
        let hist_size = |n: usize, spans: usize| n * 8 + spans * 4 + 64;
        self.series.len() * 64
            + self.samples.len() * 16
            + self.stones.len() * 24
            + self
                .hists
                .iter()
                .map(|h| {
                    hist_size(
                        h.h.positive_buckets.len() + h.h.negative_buckets.len(),
                        h.h.positive_spans.len(),
                    )
                })
                .sum::<usize>()
            + self
                .float_hists
                .iter()
                .map(|h| {
                    hist_size(
                        h.h.positive_buckets.len() + h.h.negative_buckets.len(),
                        h.h.positive_spans.len(),
                    )
                })
                .sum::<usize>()
    }
}

/// Writes `checkpoint.<to>` from the newest existing checkpoint and segments `from..=to`, keeping series for
/// which `keep` holds and samples/tombstones at or after `mint`.
pub fn create_checkpoint(
    wal_dir: &Path,
    from: u32,
    to: u32,
    keep: &dyn Fn(u64) -> bool,
    mint: i64,
    compress: bool,
) -> Result<(PathBuf, CheckpointStats), WalError> {
    let mut sources: Vec<(PathBuf, Option<u32>)> = Vec::new();
    let mut from = from;
    if let Some((idx, dir)) = last_checkpoint(wal_dir)?
        && idx < to
    {
        for (_, seg) in list_segments(&dir)? {
            sources.push((seg, None));
        }
        from = from.max(idx + 1);
    }
    for (i, seg) in list_segments(wal_dir)? {
        if i >= from && i <= to {
            sources.push((seg, Some(i)));
        }
    }
    let final_dir = wal_dir.join(checkpoint_name(to));
    let tmp = wal_dir.join(format!("{}.tmp", checkpoint_name(to)));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| WalError::io("remove temporary checkpoint", &tmp, e))?;
    }
    let wal = Wal::open(
        &tmp,
        super::DEFAULT_SEGMENT_SIZE,
        compress,
        SyncPolicy::SegmentEnd,
        WalMetrics::unregistered(),
    )?;
    let mut b = Batcher {
        wal,
        series: Vec::new(),
        samples: Vec::new(),
        stones: Vec::new(),
        hists: Vec::new(),
        float_hists: Vec::new(),
        buf: Vec::new(),
    };
    let mut stats = CheckpointStats::default();
    let mut series: Vec<RefSeries> = Vec::new();
    let mut samples: Vec<RefSample> = Vec::new();
    let mut stones: Vec<RefTombstone> = Vec::new();
    let mut batched_kind = 0u8;
    for (path, segment) in &sources {
        let mut failure: Option<WalError> = None;
        let res = read_segment_records(path, *segment, |rec| {
            let Some(&typ) = rec.first() else { return Ok(()) };
            // Keep the order of samples of different kinds: flush the batch when the kind changes.
            let kind = match typ {
                types::SAMPLES => 1,
                types::HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES => 2,
                types::FLOAT_HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES => 3,
                _ => 0,
            };
            if kind != 0 && batched_kind != 0 && kind != batched_kind {
                if let Err(e) = b.flush() {
                    failure = Some(e);
                    return Err("checkpoint write failed".to_string());
                }
            }
            if kind != 0 {
                batched_kind = kind;
            }
            match typ {
                types::SERIES => {
                    series.clear();
                    record::decode_series(rec, &mut series)?;
                    for s in series.drain(..) {
                        if keep(s.series_ref) {
                            stats.series += 1;
                            b.series.push((s.series_ref, s.labels));
                        }
                    }
                }
                types::SAMPLES => {
                    samples.clear();
                    record::decode_samples(rec, &mut samples)?;
                    for s in &samples {
                        if s.t >= mint && keep(s.series_ref) {
                            stats.samples += 1;
                            b.samples.push(*s);
                        } else {
                            stats.dropped_samples += 1;
                        }
                    }
                }
                types::HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES => {
                    let mut hs = Vec::new();
                    decode_histograms(rec, &mut hs)?;
                    for h in hs {
                        if h.t >= mint && keep(h.series_ref) {
                            stats.samples += 1;
                            b.hists.push(h);
                        } else {
                            stats.dropped_samples += 1;
                        }
                    }
                }
                types::FLOAT_HISTOGRAM_SAMPLES | types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES => {
                    let mut hs = Vec::new();
                    decode_float_histograms(rec, &mut hs)?;
                    for h in hs {
                        if h.t >= mint && keep(h.series_ref) {
                            stats.samples += 1;
                            b.float_hists.push(h);
                        } else {
                            stats.dropped_samples += 1;
                        }
                    }
                }
                types::TOMBSTONES => {
                    stones.clear();
                    record::decode_tombstones(rec, &mut stones)?;
                    for s in &stones {
                        if s.maxt >= mint && keep(s.series_ref) {
                            stats.tombstones += 1;
                            b.stones.push(*s);
                        }
                    }
                }
                _ => {}
            }
            if b.size() > Batcher::MAX
                && let Err(e) = b.flush()
            {
                failure = Some(e);
                return Err("checkpoint write failed".to_string());
            }
            Ok(())
        });
        if let Some(e) = failure {
            return Err(e);
        }
        res?;
    }
    b.flush()?;
    b.wal.close()?;
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|e| WalError::io("remove old checkpoint", &final_dir, e))?;
    }
    fs::rename(&tmp, &final_dir).map_err(|e| WalError::io("rename checkpoint", &tmp, e))?;
    sync_dir(wal_dir)?;
    Ok((final_dir, stats))
}
