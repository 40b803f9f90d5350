//! A block's `index` file, format version 2 (`tsdb_format_index.md`): a symbol table, every series with its label
//! references and chunk metadata (aligned to 16 bytes; a series' ID is its offset / 16), the legacy label indices,
//! postings lists per label pair (the first one, keyed `("", "")`, lists every series), the label and postings
//! offset tables, and a table of contents at the end. Every section carries a CRC32 (Castagnoli).
//!
//! [`write_index`] writes it from label-sorted series; [`IndexReader`] reads it (the whole file is loaded into
//! memory: no `mmap` in this workspace) and answers label matchers with postings, as Prometheus'
//! `PostingsForMatchers` does.

mod reader;
mod writer;

use std::path::PathBuf;

pub use reader::IndexReader;
pub use writer::{IndexSeries, write_index};

/// The file's magic number.
pub const MAGIC: u32 = 0xBAAA_D700;
/// The format version written and read.
pub const FORMAT_V2: u8 = 2;
/// Size of the table of contents (six offsets and a CRC32).
pub const TOC_LEN: usize = 6 * 8 + 4;
/// Series entries are aligned to this many bytes; a series' ID is its offset divided by it.
pub const SERIES_ALIGN: u64 = 16;

/// Metadata of one chunk of a series, as the index stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Reference into the block's chunk files (segment index << 32 | offset).
    pub chunk_ref: u64,
    /// First timestamp.
    pub mint: i64,
    /// Last timestamp.
    pub maxt: i64,
}

/// Errors writing or reading an index file.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the index magic number.
    #[error("{path}: not an index file (magic {found:#010x})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes.
        found: u32,
    },
    /// The format version is not 2.
    #[error("{path}: unsupported index format version {version}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version byte.
        version: u8,
    },
    /// A section's checksum does not match its bytes.
    #[error("{path}: checksum mismatch in {section} at offset {offset}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Which section.
        section: &'static str,
        /// Where the section starts.
        offset: u64,
    },
    /// A section is cut short or malformed.
    #[error("{path}: bad {section} at offset {offset}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which section.
        section: &'static str,
        /// Where the section starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Series were not given in label order, or a label string is not in the symbol table.
    #[error("{path}: invalid input for the index writer: {reason}")]
    InvalidInput {
        /// The file being written.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// CRC32 (Castagnoli) of `b`, as every TSDB file uses.
pub fn crc32(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

#[cfg(test)]
mod tests;
