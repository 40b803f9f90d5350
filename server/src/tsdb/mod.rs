//! The time series database, in Prometheus' on-disk formats (specifications in
//! `../shared/conformance/reference/prometheus/tsdb_format_*.md`), so a data directory moves between Prometheus
//! and this server:
//!
//! ```text
//! <data>/lock               held (flock) while a Db is open
//! <data>/<ulid>/            a persisted block: meta.json, index, chunks/000001..., tombstones  (block, compact)
//! <data>/wal/00000000 ...   write-ahead log segments            (wal)
//! <data>/wal/checkpoint.N/  condensed WAL up to segment N       (wal::checkpoint)
//! <data>/chunks_head/000001 full head chunks                    (chunks_head)
//! ```
//!
//! [`Db`] is the entry point: it loads the blocks, opens the [`head::Head`] (replaying `chunks_head/` and the WAL
//! after the newest block's end) and implements the [`crate::storage`] traits; queries merge the blocks
//! overlapping the range with the head ([`crate::storage::merge::merge_series_sets`]). [`Db::compact`] cuts the
//! head into blocks, merges blocks and applies retention ([`blocks`], [`compact`]); [`Db::delete`],
//! [`Db::clean_tombstones`] and [`Db::snapshot`] back the admin API.
//!
//! Native histograms (integer and float, exponential and custom buckets) are stored in their own chunk encodings
//! and WAL records. Differences from Prometheus, on purpose: full head chunks are read back with positioned reads
//! instead of `mmap` (no `unsafe` in this workspace; same files, same memory effect); histogram chunks are cut
//! instead of re-encoded when new buckets appear; exemplars and metadata in the WAL are skipped on replay (the
//! head does not store them yet).

pub mod block;
pub mod blocks;
pub mod chunkenc;
pub mod chunks;
pub mod chunks_head;
pub mod cli;
pub mod compact;
pub mod db_metrics;
pub mod head;
pub mod import;
pub mod index;
pub mod metrics;
pub mod tombstones;
pub mod ulid;
pub mod wal;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::storage::{Appendable, Appender, Querier, Queryable, Storage, StorageError};
pub use head::{Head, HeadOptions, TruncateStats};
pub use metrics::TsdbMetrics;
pub use wal::SyncPolicy;

/// Errors opening or maintaining the TSDB.
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    /// An I/O operation on the data directory failed.
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
    /// Another process holds the data directory's lock.
    #[error("data directory {path} is locked by another process: {source}")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Why locking failed.
        #[source]
        source: nix::errno::Errno,
    },
    /// The write-ahead log failed.
    #[error("WAL: {0}")]
    Wal(#[from] wal::WalError),
    /// The head chunk files failed.
    #[error("head chunks: {0}")]
    Chunks(#[from] chunks_head::ChunkDiskError),
    /// Reading, writing or compacting a block failed.
    #[error("block: {0}")]
    Block(Box<block::BlockError>),
    /// Reading the head for a deletion failed.
    #[error("head query: {0}")]
    Query(StorageError),
}

impl From<block::BlockError> for TsdbError {
    fn from(e: block::BlockError) -> TsdbError {
        TsdbError::Block(Box::new(e))
    }
}

impl From<TsdbError> for StorageError {
    fn from(e: TsdbError) -> StorageError {
        match e {
            TsdbError::Io { op, path, source }
            | TsdbError::Wal(wal::WalError::Io { op, path, source })
            | TsdbError::Chunks(chunks_head::ChunkDiskError::Io { op, path, source }) => {
                StorageError::io(format!("{op} {}", path.display()), source)
            }
            TsdbError::Block(b) => (*b).into(),
            TsdbError::Query(e) => e,
            other => StorageError::Corrupt(other.to_string()),
        }
    }
}

/// Options of [`Db::open`], with Prometheus' defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long data is kept (`--storage.tsdb.retention.time`, 15d; zero disables); applied by the compactor.
    pub retention: Duration,
    /// Most bytes of blocks kept, the head's WAL and chunks counted too (`--storage.tsdb.retention.size`; 0
    /// disables).
    pub retention_size: u64,
    /// The head's chunk range and the smallest block (`--storage.tsdb.min-block-duration`, 2h).
    pub min_block_duration: Duration,
    /// The largest block compaction makes (`--storage.tsdb.max-block-duration`; by default 10% of the retention
    /// time, at most 31d: see [`Options::default_max_block_duration`]).
    pub max_block_duration: Duration,
    /// Snappy-compress WAL records (`--storage.tsdb.wal-compression`, on).
    pub wal_compression: bool,
    /// WAL segment size (128 MiB).
    pub wal_segment_size: usize,
    /// When the WAL is fsynced.
    pub wal_sync: SyncPolicy,
    /// Target samples per head chunk (120).
    pub samples_per_chunk: u16,
    /// Lock stripes of the head's series maps.
    pub stripe_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention: Duration::from_secs(15 * 24 * 3600),
            retention_size: 0,
            min_block_duration: Duration::from_secs(2 * 3600),
            max_block_duration: Options::default_max_block_duration(Duration::from_secs(15 * 24 * 3600)),
            wal_compression: true,
            wal_segment_size: wal::DEFAULT_SEGMENT_SIZE,
            wal_sync: SyncPolicy::SegmentEnd,
            samples_per_chunk: 120,
            stripe_size: 4096,
        }
    }
}

impl Options {
    /// Prometheus' default maximum block duration for a retention time: 10% of it, at most 31 days (and never
    /// below the minimum block duration of 2h).
    pub fn default_max_block_duration(retention: Duration) -> Duration {
        (retention / 10)
            .min(Duration::from_secs(31 * 24 * 3600))
            .max(Duration::from_secs(2 * 3600))
    }
}

/// The TSDB: persisted blocks and the head, behind the storage traits.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Head,
    blocks: blocks::BlockSet,
    _lock: nix::fcntl::Flock<File>,
}

impl Db {
    /// Opens (creating if needed) the data directory `dir`: takes its lock, replays `chunks_head/` and the WAL
    /// (repairing a corrupt or torn WAL tail rather than failing) and opens the WAL for writing.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db, TsdbError> {
        Db::open_with_metrics(dir, opts, TsdbMetrics::new())
    }

    /// [`Db::open`] recording into given metrics.
    pub fn open_with_metrics(dir: impl AsRef<Path>, opts: Options, metrics: TsdbMetrics) -> Result<Db, TsdbError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| TsdbError::Io {
            op: "create data directory",
            path: dir.clone(),
            source,
        })?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| TsdbError::Io {
                op: "open lock file",
                path: lock_path.clone(),
                source,
            })?;
        let lock =
            nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, source)| {
                TsdbError::Locked {
                    path: lock_path.clone(),
                    source,
                }
            })?;
        let blocks = blocks::BlockSet::open(&dir, metrics.blocks.clone())?;
        let head_opts = HeadOptions {
            chunk_range: opts.min_block_duration.as_millis().clamp(1, i64::MAX as u128) as i64,
            samples_per_chunk: opts.samples_per_chunk,
            stripe_size: opts.stripe_size,
            wal: true,
            wal_segment_size: opts.wal_segment_size,
            wal_compression: opts.wal_compression,
            wal_sync: opts.wal_sync,
            min_valid_time: blocks.max_time(),
        };
        let head = Head::open(&dir, head_opts, metrics)?;
        let db = Db {
            dir,
            opts,
            head,
            blocks,
            _lock: lock,
        };
        db.restore_head_deletions();
        db.update_gauges();
        Ok(db)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The self-metrics (a collector to register with the server's registry).
    pub fn metrics(&self) -> &TsdbMetrics {
        self.head.metrics()
    }

    /// Fsyncs the WAL: every commit before this call survives a machine crash.
    pub fn sync_wal(&self) -> Result<(), TsdbError> {
        self.head.sync_wal()
    }

    /// Flushes and closes; appends after this fail.
    pub fn close(self) -> Result<(), TsdbError> {
        self.head.close()
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(self.head.appender())
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(self.merged_querier(mint, maxt)))
    }
}

impl Storage for Db {
    fn start_time(&self) -> i64 {
        self.lowest_time()
    }
}

#[cfg(test)]
mod tests;
