//! Persisted blocks: a directory named by a ULID holding `meta.json`, `index`, `chunks/` and `tombstones`
//! (layout in `storage.md`). [`Block`] opens one and serves it through the storage [`Querier`] trait; deletions add
//! tombstones, which hide samples until the block is rewritten.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::storage::{Querier, SampleIterator, SelectHints, Series, SeriesData, StorageError, Value};
use crate::tsdb::chunks::{ChunkFileError, ChunkReader, CodecError, decode_chunk};
use crate::tsdb::index::{ChunkMeta, IndexError, IndexReader};
use crate::tsdb::tombstones::{Interval, Tombstones, TombstonesError, is_deleted};
use crate::tsdb::ulid::Ulid;

mod iter;

use iter::{ChunksIter, SeriesSource};

/// The meta file's name.
pub const META_FILE: &str = "meta.json";
/// The index file's name.
pub const INDEX_FILE: &str = "index";
/// The chunks directory's name.
pub const CHUNKS_DIR: &str = "chunks";
/// `meta.json` format version.
pub const META_VERSION: u32 = 1;

/// Errors opening or changing a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// An I/O operation failed.
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
    /// `meta.json` is not valid.
    #[error("{path}: {source}")]
    Meta {
        /// The file.
        path: PathBuf,
        /// The JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// `meta.json` has an unsupported version.
    #[error("{path}: unsupported meta.json version {version}")]
    MetaVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The index is unreadable.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The chunk files are unreadable.
    #[error(transparent)]
    Chunks(#[from] ChunkFileError),
    /// The tombstones are unreadable.
    #[error(transparent)]
    Tombstones(#[from] TombstonesError),
    /// A chunk does not decode (or samples do not encode).
    #[error("{path}: {source}")]
    Codec {
        /// The block.
        path: PathBuf,
        /// The cause.
        #[source]
        source: CodecError,
    },
}

impl From<BlockError> for StorageError {
    fn from(e: BlockError) -> StorageError {
        match e {
            BlockError::Io { op, path, source } => StorageError::io(format!("{op} {}", path.display()), source),
            other => StorageError::Corrupt(other.to_string()),
        }
    }
}

/// Counts in `meta.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Samples.
    #[serde(default)]
    pub num_samples: u64,
    /// Float samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_float_samples: u64,
    /// Histogram samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_histogram_samples: u64,
    /// Series.
    #[serde(default)]
    pub num_series: u64,
    /// Chunks.
    #[serde(default)]
    pub num_chunks: u64,
    /// Tombstone intervals.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A block named by a compaction's parents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDesc {
    /// The block's ULID.
    pub ulid: Ulid,
    /// Its start (inclusive).
    pub min_time: i64,
    /// Its end (exclusive).
    pub max_time: i64,
}

/// The compaction history in `meta.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockCompaction {
    /// 1 for blocks cut from the head; one more than the highest parent for compacted blocks.
    #[serde(default)]
    pub level: u32,
    /// ULIDs of the level-1 blocks this one was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// The blocks this one replaced (empty for head blocks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// Set when the block is empty and may be deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletable: bool,
    /// Set when compacting this block failed (it is then not compacted again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

/// `meta.json`. Unknown fields (e.g. Thanos') are ignored, as upstream does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// The block's ULID (its directory name).
    pub ulid: Ulid,
    /// First timestamp (inclusive).
    pub min_time: i64,
    /// End of the range (exclusive).
    pub max_time: i64,
    /// Counts.
    #[serde(default)]
    pub stats: BlockStats,
    /// Compaction history.
    #[serde(default)]
    pub compaction: BlockCompaction,
    /// Format version (1).
    pub version: u32,
}

impl BlockMeta {
    /// Reads `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta, BlockError> {
        let path = dir.join(META_FILE);
        let b = std::fs::read(&path).map_err(|source| BlockError::Io {
            op: "read",
            path: path.clone(),
            source,
        })?;
        let meta: BlockMeta = serde_json::from_slice(&b).map_err(|source| BlockError::Meta {
            path: path.clone(),
            source,
        })?;
        if meta.version != META_VERSION {
            return Err(BlockError::MetaVersion {
                path,
                version: meta.version,
            });
        }
        Ok(meta)
    }

    /// Writes `dir/meta.json` atomically, tab-indented as upstream writes it. Returns the size.
    pub fn write(&self, dir: &Path) -> Result<u64, BlockError> {
        let path = dir.join(META_FILE);
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        self.serialize(&mut ser).map_err(|source| BlockError::Meta {
            path: path.clone(),
            source,
        })?;
        let io = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| BlockError::Io { op, path: p, source }
        };
        let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(&buf).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
        Ok(buf.len() as u64)
    }

    /// This block as a parent description.
    pub fn desc(&self) -> BlockDesc {
        BlockDesc {
            ulid: self.ulid,
            min_time: self.min_time,
            max_time: self.max_time,
        }
    }

    /// Whether the block's range `[min_time, max_time)` overlaps the closed range `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint < self.max_time
    }
}

/// A block opened for reading.
#[derive(Debug)]
pub struct Block {
    dir: PathBuf,
    meta: RwLock<BlockMeta>,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: RwLock<Tombstones>,
}

/// One series of a block with its chunks and deleted intervals, for compaction.
#[derive(Debug, Clone)]
pub struct BlockSeries {
    /// The labels.
    pub labels: Labels,
    /// Its chunks.
    pub chunks: Vec<ChunkMeta>,
    /// Deleted intervals.
    pub deleted: Vec<Interval>,
}

impl Block {
    /// Opens the block in `dir`.
    pub fn open(dir: &Path) -> Result<Block, BlockError> {
        let meta = BlockMeta::read(dir)?;
        let index = IndexReader::open(&dir.join(INDEX_FILE))?;
        let chunks = ChunkReader::open(&dir.join(CHUNKS_DIR))?;
        let tombstones = Tombstones::read_dir(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta: RwLock::new(meta),
            index,
            chunks,
            tombstones: RwLock::new(tombstones),
        })
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of its metadata.
    pub fn meta(&self) -> BlockMeta {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Its index.
    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    /// Its chunk files.
    pub fn chunk_reader(&self) -> &ChunkReader {
        &self.chunks
    }

    /// A copy of its tombstones.
    pub fn tombstones(&self) -> Tombstones {
        self.tombstones.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Bytes on disk (index, chunks, tombstones, meta.json), as `prometheus_tsdb_storage_blocks_bytes` counts them.
    pub fn size(&self) -> u64 {
        let file = |n: &str| std::fs::metadata(self.dir.join(n)).map_or(0, |m| m.len());
        self.index.size() + self.chunks.size() + file(crate::tsdb::tombstones::FILE_NAME) + file(META_FILE)
    }

    /// A querier over `[mint, maxt]`.
    pub fn querier(self: &Arc<Self>, mint: i64, maxt: i64) -> BlockQuerier {
        BlockQuerier {
            block: self.clone(),
            mint,
            maxt,
        }
    }

    /// Every series in label order with its chunks and deleted intervals.
    pub fn all_series(&self) -> Result<Vec<BlockSeries>, BlockError> {
        let stones = self.tombstones.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for id in self.index.all_postings()? {
            let (labels, chunks) = self.index.series(id)?;
            out.push(BlockSeries {
                labels,
                chunks,
                deleted: stones.get(u64::from(id)).to_vec(),
            });
        }
        Ok(out)
    }

    /// The samples of a chunk.
    pub fn read_chunk(&self, chunk_ref: u64) -> Result<Vec<(i64, Value)>, BlockError> {
        let (encoding, bytes) = self.chunks.chunk(chunk_ref)?;
        decode_chunk(encoding, &bytes).map_err(|source| BlockError::Codec {
            path: self.dir.clone(),
            source,
        })
    }

    /// Marks samples in `[mint, maxt]` of the series matching `matchers` deleted: adds tombstones and rewrites the
    /// `tombstones` file and `meta.json`. Returns how many series were affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize, BlockError> {
        let ids = self.index.postings_for_matchers(matchers)?;
        let mut stones = self.tombstones.write().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for id in ids {
            let (_, chunks) = self.index.series(id)?;
            if chunks.iter().any(|c| c.mint <= maxt && mint <= c.maxt) {
                stones.add(u64::from(id), Interval { mint, maxt });
                n += 1;
            }
        }
        if n > 0 {
            stones.write_dir(&self.dir)?;
            let mut meta = self.meta.write().unwrap_or_else(|e| e.into_inner());
            meta.stats.num_tombstones = stones.num_intervals();
            meta.write(&self.dir)?;
        }
        Ok(n)
    }
}

/// Reads a block's series over a time range.
#[derive(Debug)]
pub struct BlockQuerier {
    block: Arc<Block>,
    mint: i64,
    maxt: i64,
}

/// A matching series: labels, chunks overlapping the range, deleted intervals.
type Matched = (Labels, Vec<ChunkMeta>, Vec<Interval>);

impl BlockQuerier {
    /// The matching series with samples in range: (labels, chunks overlapping the range, deleted intervals).
    ///
    /// A chunk's first and last timestamps (its `mint` and `maxt` in the index) are samples, so a series is
    /// settled from the index alone when either lies in range and is not deleted. Only otherwise (a chunk spanning
    /// the whole range, or endpoints deleted) are its chunks read, lazily and stopping at the first kept sample.
    fn matching(&self, matchers: &[Matcher]) -> Result<Vec<Matched>, StorageError> {
        let b = &self.block;
        let ids = b.index.postings_for_matchers(matchers).map_err(BlockError::from)?;
        let stones = b.tombstones.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (labels, chunks) = b
                .index
                .series_in_range(id, self.mint, self.maxt)
                .map_err(BlockError::from)?;
            if chunks.is_empty() {
                continue;
            }
            let deleted = stones.get(u64::from(id));
            let kept = |t: i64| t >= self.mint && t <= self.maxt && !is_deleted(deleted, t);
            let settled = chunks.iter().any(|c| kept(c.mint) || kept(c.maxt));
            if !settled && !self.has_samples(&chunks, deleted) {
                continue;
            }
            out.push((labels, chunks, deleted.to_vec()));
        }
        Ok(out)
    }

    /// Whether any of `chunks` has a sample in range that is not deleted (true when a chunk is unreadable, so that
    /// the series' iterator reports the error).
    fn has_samples(&self, chunks: &[ChunkMeta], deleted: &[Interval]) -> bool {
        let mut it = ChunksIter::new(SeriesSource {
            block: &self.block,
            chunks,
            deleted,
            mint: self.mint,
            maxt: self.maxt,
        });
        it.load_next() || it.failed()
    }
}

impl Querier for BlockQuerier {
    fn select(
        &self,
        _sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .matching(matchers)?
            .into_iter()
            .map(|(labels, chunks, deleted)| Series {
                labels,
                data: Box::new(BlockSeriesData {
                    block: self.block.clone(),
                    chunks,
                    deleted,
                    mint: self.mint,
                    maxt: self.maxt,
                }),
            })
            .collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let tombstoned = !self
            .block
            .tombstones
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if matchers.is_empty() && !tombstoned {
            return Ok(self
                .block
                .index
                .label_values(name)
                .into_iter()
                .map(String::from)
                .collect());
        }
        let mut values = BTreeSet::new();
        for (labels, ..) in self.matching(matchers)? {
            if let Some(v) = labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let tombstoned = !self
            .block
            .tombstones
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if matchers.is_empty() && !tombstoned {
            return Ok(self.block.index.label_names());
        }
        let mut names = BTreeSet::new();
        for (labels, ..) in self.matching(matchers)? {
            for (n, _) in labels.iter() {
                if !names.contains(n) {
                    names.insert(n.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// A selected series of a block.
struct BlockSeriesData {
    block: Arc<Block>,
    chunks: Vec<ChunkMeta>,
    deleted: Vec<Interval>,
    mint: i64,
    maxt: i64,
}

impl SeriesData for BlockSeriesData {
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(ChunksIter::new(SeriesSource {
            block: &self.block,
            chunks: &self.chunks,
            deleted: &self.deleted,
            mint: self.mint,
            maxt: self.maxt,
        }))
    }
}

#[cfg(test)]
mod tests;
