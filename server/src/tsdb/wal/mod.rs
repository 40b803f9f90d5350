//! The write-ahead log in Prometheus' format (`tsdb_format_wal.md`), so a data directory moves between Prometheus
//! and this server in both directions.
//!
//! A WAL is a directory of numbered segment files (`00000000`, `00000001`, ...; 128 MiB by default). A segment is a
//! sequence of 32 KiB pages; records are split into fragments that never cross a page, each with a 7-byte header:
//! a type byte (low 3 bits: 1 full, 2 first, 3 middle, 4 last; bit 3: snappy; bit 4: zstd), a big-endian `u16`
//! length and a big-endian CRC32-Castagnoli of the fragment's bytes. A record never crosses a segment; compression
//! applies to the whole record before it is split. The rest of a page too small for a header is zero padding, and
//! only the last page of a segment may be short (readers treat the missing part as zeros).
//!
//! Like Prometheus, a writer never appends to a segment that existed when it opened: it starts a new one. Each
//! batch of records is written to the file (`write`) before [`Wal::log`] returns; `fsync` happens when a segment
//! is completed, on [`Wal::sync`] and on close, so what is durable against a crash of the process is everything
//! logged, and against a crash of the machine everything up to the last sync (see [`SyncPolicy`]).

pub mod checkpoint;
pub mod histogram_record;
mod reader;
pub mod record;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use reader::{Corruption, SegmentReader, read_segment_records};

use crate::tsdb::metrics::WalMetrics;

/// Size of a page.
pub const PAGE_SIZE: usize = 32 * 1024;
/// Default maximum size of a segment (Prometheus' `DefaultSegmentSize`).
pub const DEFAULT_SEGMENT_SIZE: usize = 128 * 1024 * 1024;
/// Size of a fragment header: type, length, CRC.
pub const RECORD_HEADER_SIZE: usize = 7;

/// Fragment type bits.
pub(crate) const REC_PAGE_TERM: u8 = 0;
pub(crate) const REC_FULL: u8 = 1;
pub(crate) const REC_FIRST: u8 = 2;
pub(crate) const REC_MIDDLE: u8 = 3;
pub(crate) const REC_LAST: u8 = 4;
pub(crate) const SNAPPY_MASK: u8 = 1 << 3;
pub(crate) const ZSTD_MASK: u8 = 1 << 4;

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O operation on a WAL file or directory failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A segment's content does not follow the format.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// A segment file name is not a number.
    #[error("unexpected file {path} in WAL directory")]
    BadSegmentName {
        /// The file.
        path: PathBuf,
    },
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> WalError {
        WalError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// When the WAL is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Like Prometheus: when a segment is completed and on close (records are still written to the file on every
    /// commit, so a crash of the process loses nothing; a crash of the machine may lose the current segment's tail).
    #[default]
    SegmentEnd,
    /// After every commit (slow, but durable against power loss).
    EveryCommit,
    /// At most this long after a commit (checked on the next commit).
    Interval(Duration),
}

/// The file name of segment `index`.
pub fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// The segments in `dir`, sorted by index. Non-numeric names are skipped except those that look like segments.
pub fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, WalError> {
    let entries = fs::read_dir(dir).map_err(|e| WalError::io("list", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(index) = name.parse::<u32>() else {
            return Err(WalError::BadSegmentName { path: entry.path() });
        };
        out.push((index, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Fsyncs a directory so renames and new files in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| WalError::io("sync directory", dir, e))
}

/// The WAL writer.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment_size: usize,
    compress: bool,
    policy: SyncPolicy,
    segment: File,
    segment_index: u32,
    /// Pages completed in the current segment.
    done_pages: usize,
    page: Vec<u8>,
    /// Bytes of `page` in use.
    alloc: usize,
    /// Bytes of `page` already written to the file.
    flushed: usize,
    snappy: snap::raw::Encoder,
    compressed: Vec<u8>,
    last_sync: Instant,
    metrics: WalMetrics,
    /// After a failed batch whose partial bytes could not be cut off yet: the length to cut the segment to before
    /// writing again.
    truncate_to: Option<u64>,
}

impl Wal {
    /// Opens the WAL in `dir` (created if missing) for writing, starting a new segment after the last one.
    pub fn open(
        dir: &Path,
        segment_size: usize,
        compress: bool,
        policy: SyncPolicy,
        metrics: WalMetrics,
    ) -> Result<Wal, WalError> {
        fs::create_dir_all(dir).map_err(|e| WalError::io("create directory", dir, e))?;
        let next = list_segments(dir)?.last().map_or(0, |(i, _)| i + 1);
        let segment = create_segment(dir, next)?;
        metrics.segment_current.set(f64::from(next));
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(PAGE_SIZE),
            compress,
            policy,
            segment,
            segment_index: next,
            done_pages: 0,
            page: vec![0; PAGE_SIZE],
            alloc: 0,
            flushed: 0,
            snappy: snap::raw::Encoder::new(),
            compressed: Vec::new(),
            last_sync: Instant::now(),
            metrics,
            truncate_to: None,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index of the segment being written.
    pub fn current_segment(&self) -> u32 {
        self.segment_index
    }

    fn pages_per_segment(&self) -> usize {
        self.segment_size / PAGE_SIZE
    }

    fn segment_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.segment_index))
    }

    /// Writes the page's unflushed bytes; with `clear` (or a full page) pads it to the end and starts a new one.
    fn flush_page(&mut self, clear: bool) -> Result<(), WalError> {
        let full = PAGE_SIZE - self.alloc < RECORD_HEADER_SIZE;
        let clear = clear || full;
        if clear {
            self.alloc = PAGE_SIZE;
        }
        if self.flushed < self.alloc {
            let path = self.segment_path();
            self.segment
                .write_all(&self.page[self.flushed..self.alloc])
                .map_err(|e| {
                    self.metrics.writes_failed.inc();
                    WalError::io("write", &path, e)
                })?;
            self.flushed = self.alloc;
            self.metrics.page_flushes.inc();
        }
        if clear {
            self.page.fill(0);
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
            self.metrics.completed_pages.inc();
        }
        Ok(())
    }

    /// Completes the current segment (padding its last page, fsyncing it) and starts the next one.
    pub fn next_segment(&mut self) -> Result<u32, WalError> {
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.fsync()?;
        let next = self.segment_index + 1;
        self.segment = create_segment(&self.dir, next)?;
        self.segment_index = next;
        self.done_pages = 0;
        self.metrics.segment_current.set(f64::from(next));
        Ok(next)
    }

    fn fsync(&mut self) -> Result<(), WalError> {
        let start = Instant::now();
        let path = self.segment_path();
        self.segment.sync_data().map_err(|e| WalError::io("fsync", &path, e))?;
        self.metrics.fsync_duration.observe(start.elapsed().as_secs_f64());
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Appends records as one batch: they are written to the segment file before this returns, and fsynced as the
    /// [`SyncPolicy`] says. A batch that cannot be written (a full disk) is undone: its bytes are cut off the
    /// segment and none of it is ever written later, so a failed commit leaves no trace in the WAL and the next
    /// batch continues where the last successful one ended.
    pub fn log(&mut self, records: &[&[u8]]) -> Result<(), WalError> {
        self.cut_torn_tail()?;
        // Every batch ends with its last page flushed, so the file ends at `flushed` of the current page.
        let start = (self.segment_index, self.written());
        // Records never cross segments. Decide for the whole batch: if it may not fit the rest of this segment, start
        // the next one first, so a crash cannot leave the batch's first records durable and the rest not (the
        // completed segment would be fsynced in between). The bound ignores compression, so it errs towards an
        // early cut.
        let payload: usize = records.iter().map(|r| r.len()).sum();
        let need = payload + RECORD_HEADER_SIZE * (records.len() + 2 * (payload / (PAGE_SIZE / 2) + 2));
        let left = (self.pages_per_segment().saturating_sub(self.done_pages) * PAGE_SIZE).saturating_sub(self.alloc);
        if need > left
            && (self.done_pages > 0 || self.alloc > 0)
            && let Err(e) = self.next_segment()
        {
            self.roll_back(start);
            return Err(e);
        }
        for (i, rec) in records.iter().enumerate() {
            if let Err(e) = self.log_one(rec, i + 1 == records.len()) {
                self.roll_back(start);
                return Err(e);
            }
        }
        match self.policy {
            SyncPolicy::SegmentEnd => Ok(()),
            SyncPolicy::EveryCommit => self.fsync(),
            SyncPolicy::Interval(d) => {
                if self.last_sync.elapsed() >= d {
                    self.fsync()
                } else {
                    Ok(())
                }
            }
        }
    }

    fn log_one(&mut self, rec: &[u8], last_of_batch: bool) -> Result<(), WalError> {
        if PAGE_SIZE - self.alloc < RECORD_HEADER_SIZE {
            self.flush_page(true)?;
        }
        let mut compressed = false;
        let mut compressed_buf = std::mem::take(&mut self.compressed);
        let mut rec = rec;
        if self.compress && !rec.is_empty() {
            compressed_buf.resize(snap::raw::max_compress_len(rec.len()), 0);
            if let Ok(n) = self.snappy.compress(rec, &mut compressed_buf)
                && n < rec.len()
            {
                compressed_buf.truncate(n);
                rec = &compressed_buf;
                compressed = true;
            }
        }
        // Records never cross segments: start a new segment when this one cannot hold the record.
        let left = (PAGE_SIZE - self.alloc - RECORD_HEADER_SIZE)
            + (PAGE_SIZE - RECORD_HEADER_SIZE) * self.pages_per_segment().saturating_sub(self.done_pages + 1);
        if rec.len() > left && (self.done_pages > 0 || self.alloc > 0) {
            self.next_segment()?;
        }
        let result = self.write_fragments(rec, compressed, last_of_batch);
        self.compressed = compressed_buf;
        result
    }

    fn write_fragments(&mut self, mut rec: &[u8], compressed: bool, last_of_batch: bool) -> Result<(), WalError> {
        let mut first = true;
        loop {
            let room = PAGE_SIZE - self.alloc - RECORD_HEADER_SIZE;
            let n = rec.len().min(room);
            let (part, rest) = rec.split_at(n);
            let mut typ = match (first, rest.is_empty()) {
                (true, true) => REC_FULL,
                (true, false) => REC_FIRST,
                (false, true) => REC_LAST,
                (false, false) => REC_MIDDLE,
            };
            if compressed {
                typ |= SNAPPY_MASK;
            }
            let at = self.alloc;
            self.page[at] = typ;
            self.page[at + 1..at + 3].copy_from_slice(&(n as u16).to_be_bytes());
            self.page[at + 3..at + 7].copy_from_slice(&crc32c::crc32c(part).to_be_bytes());
            self.page[at + 7..at + 7 + n].copy_from_slice(part);
            self.alloc += RECORD_HEADER_SIZE + n;
            if PAGE_SIZE - self.alloc < RECORD_HEADER_SIZE {
                self.flush_page(true)?;
            }
            rec = rest;
            first = false;
            if rec.is_empty() {
                break;
            }
        }
        if last_of_batch && self.alloc > 0 {
            self.flush_page(false)?;
        }
        Ok(())
    }

    /// Bytes of the current segment written to its file.
    fn written(&self) -> u64 {
        (self.done_pages * PAGE_SIZE + self.flushed) as u64
    }

    /// Undoes a failed batch that started at `start` (segment, length): forgets its buffered bytes and cuts what
    /// reached the file. A batch that had moved to a new segment also cuts its records off the segment it completed
    /// (which then ends in a short page, as readers accept) and restarts the new, empty segment.
    fn roll_back(&mut self, start: (u32, u64)) {
        if start.0 != self.segment_index {
            let old = self.dir.join(segment_name(start.0));
            if let Err(e) = OpenOptions::new()
                .write(true)
                .open(&old)
                .and_then(|f| f.set_len(start.1))
            {
                tracing::warn!(segment = %old.display(), error = %e, "cutting a failed WAL batch off the segment failed");
            }
        }
        let len = if start.0 == self.segment_index { start.1 } else { 0 };
        let len_usize = usize::try_from(len).unwrap_or(0);
        self.done_pages = len_usize / PAGE_SIZE;
        self.alloc = len_usize % PAGE_SIZE;
        self.flushed = self.alloc;
        self.page[self.alloc..].fill(0);
        self.truncate_to = Some(len);
        if let Err(e) = self.cut_torn_tail() {
            tracing::warn!(error = %e, "cutting a failed WAL write off the segment failed; retrying before the next write");
        }
    }

    /// Cuts the current segment to the length a failed batch started at, if one is pending.
    fn cut_torn_tail(&mut self) -> Result<(), WalError> {
        if let Some(len) = self.truncate_to {
            let path = self.segment_path();
            self.segment
                .set_len(len)
                .map_err(|e| WalError::io("truncate failed write of", &path, e))?;
            self.truncate_to = None;
        }
        Ok(())
    }

    /// Writes out the current page (no fsync). Every [`Wal::log`] already does this.
    pub fn flush(&mut self) -> Result<(), WalError> {
        if self.alloc > self.flushed {
            self.flush_page(false)?;
        }
        Ok(())
    }

    /// Writes out the current page and fsyncs the segment.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.alloc > self.flushed {
            self.flush_page(false)?;
        }
        self.fsync()
    }

    /// Deletes segments with an index below `index`.
    pub fn truncate(&mut self, index: u32) -> Result<(), WalError> {
        for (i, path) in list_segments(&self.dir)? {
            if i >= index || i == self.segment_index {
                continue;
            }
            fs::remove_file(&path).map_err(|e| WalError::io("remove segment", &path, e))?;
        }
        Ok(())
    }

    /// Flushes and fsyncs; the writer is not used afterwards.
    pub fn close(mut self) -> Result<(), WalError> {
        self.sync()
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<File, WalError> {
    let path = dir.join(segment_name(index));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| WalError::io("create segment", &path, e))?;
    sync_dir(dir)?;
    Ok(file)
}

#[cfg(test)]
mod tests;
