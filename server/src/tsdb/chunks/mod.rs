//! A block's chunk files (`tsdb_format_chunks.md`): `chunks/000001`, `000002`, ... each starting with the magic
//! number `0x85BD40DD`, version 1 and three bytes of padding, then chunks as `len <uvarint>`, encoding byte, data
//! and a CRC32 (Castagnoli) of encoding and data. A chunk's reference is the file's position in the sorted list
//! (upper 32 bits) and the offset in it (lower 32 bits). Files stay below 512 MiB.
//!
//! Also here: decoding a chunk of any encoding into samples and re-encoding samples into chunks, for compaction
//! (trimming chunks to a block's range, merging overlapping blocks, dropping deleted samples).

mod codec;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub use codec::{CodecError, EncodedChunk, decode_chunk, encode_samples};

use crate::tsdb::index::crc32;
use crate::tsdb::wal::record::put_uvarint;

/// The magic number of a block chunk file.
pub const MAGIC: u32 = 0x85BD_40DD;
/// The format version.
pub const FORMAT_V1: u8 = 1;
/// Header size (magic, version, padding).
pub const HEADER_SIZE: u64 = 8;
/// How many bytes [`ChunkReader::read_chunk_into`] reads at first: enough for a full chunk of 120 float samples
/// in the common case, so that most chunks take one read.
pub const CHUNK_READ_GUESS: usize = 1024;
/// Largest segment file written.
pub const MAX_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;

/// Errors writing or reading chunk files.
#[derive(Debug, thiserror::Error)]
pub enum ChunkFileError {
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
    /// A file does not start with the chunk file header.
    #[error("{path}: not a chunk file (magic {magic:#010x}, version {version})")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// The magic number found.
        magic: u32,
        /// The version byte found.
        version: u8,
    },
    /// A reference points at no file or beyond a file's end.
    #[error("chunk reference {chunk_ref:#x} is out of range ({reason})")]
    BadRef {
        /// The reference.
        chunk_ref: u64,
        /// Why.
        reason: &'static str,
    },
    /// A chunk's checksum does not match.
    #[error("{path}: checksum mismatch for the chunk at offset {offset}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The chunk's offset.
        offset: u64,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ChunkFileError + 'a {
    move |source| ChunkFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The name of segment `seq` (1-based): `000001`.
pub fn segment_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// Writes chunks into a block's `chunks/` directory.
#[derive(Debug)]
pub struct ChunkWriter {
    dir: PathBuf,
    max_size: u64,
    file: Option<(PathBuf, BufWriter<File>)>,
    /// Position of the open file in the directory (0-based), as references use it.
    index: u32,
    offset: u64,
    written: u64,
}

impl ChunkWriter {
    /// A writer creating `dir` and files of at most [`MAX_SEGMENT_SIZE`] bytes.
    pub fn new(dir: &Path) -> Result<ChunkWriter, ChunkFileError> {
        ChunkWriter::with_segment_size(dir, MAX_SEGMENT_SIZE)
    }

    /// A writer with a custom segment size (tests).
    pub fn with_segment_size(dir: &Path, max_size: u64) -> Result<ChunkWriter, ChunkFileError> {
        std::fs::create_dir_all(dir).map_err(io_err("create chunks directory", dir))?;
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            max_size: max_size.max(HEADER_SIZE + 16),
            file: None,
            index: 0,
            offset: 0,
            written: 0,
        })
    }

    fn finish_file(&mut self) -> Result<(), ChunkFileError> {
        if let Some((path, w)) = self.file.take() {
            let f = w.into_inner().map_err(|e| ChunkFileError::Io {
                op: "flush chunk file",
                path: path.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io_err("sync chunk file", &path))?;
            self.index += 1;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), ChunkFileError> {
        self.finish_file()?;
        let path = self.dir.join(segment_name(self.index + 1));
        let f = File::create(&path).map_err(io_err("create chunk file", &path))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut header = [0u8; HEADER_SIZE as usize];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = FORMAT_V1;
        w.write_all(&header).map_err(io_err("write chunk file", &path))?;
        self.file = Some((path, w));
        self.offset = HEADER_SIZE;
        self.written += HEADER_SIZE;
        Ok(())
    }

    /// Writes one chunk and returns its reference.
    pub fn write(&mut self, encoding: u8, data: &[u8]) -> Result<u64, ChunkFileError> {
        let mut head = Vec::with_capacity(6);
        put_uvarint(&mut head, data.len() as u64);
        head.push(encoding);
        let size = (head.len() + data.len() + 4) as u64;
        if self.file.is_none() || (self.offset + size > self.max_size && self.offset > HEADER_SIZE) {
            self.cut()?;
        }
        let r = (u64::from(self.index) << 32) | self.offset;
        let Some((path, w)) = self.file.as_mut() else {
            return Err(ChunkFileError::BadRef {
                chunk_ref: r,
                reason: "no open chunk file",
            });
        };
        let mut crc = crc32c::crc32c(&[encoding]);
        crc = crc32c::crc32c_append(crc, data);
        let res = w
            .write_all(&head)
            .and_then(|()| w.write_all(data))
            .and_then(|()| w.write_all(&crc.to_be_bytes()));
        res.map_err(io_err("write chunk file", path))?;
        self.offset += size;
        self.written += size;
        Ok(r)
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.written
    }

    /// Flushes and fsyncs the last file and the directory.
    pub fn close(mut self) -> Result<u64, ChunkFileError> {
        self.finish_file()?;
        if let Ok(d) = File::open(&self.dir) {
            d.sync_all().map_err(io_err("sync chunks directory", &self.dir))?;
        }
        Ok(self.written)
    }
}

/// Reads chunks of a block by reference (positioned reads; the page cache does what `mmap` does upstream).
#[derive(Debug)]
pub struct ChunkReader {
    files: Vec<(PathBuf, File, u64)>,
}

impl ChunkReader {
    /// Opens every segment file in `dir`, checking their headers.
    pub fn open(dir: &Path) -> Result<ChunkReader, ChunkFileError> {
        let mut names: Vec<(u32, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io_err("list chunks directory", dir))? {
            let e = e.map_err(io_err("list chunks directory", dir))?;
            let name = e.file_name();
            if let Some(seq) = name.to_str().and_then(|n| n.parse::<u32>().ok()) {
                names.push((seq, e.path()));
            }
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for (_, path) in names {
            let f = File::open(&path).map_err(io_err("open chunk file", &path))?;
            let len = f.metadata().map_err(io_err("stat chunk file", &path))?.len();
            let mut header = [0u8; HEADER_SIZE as usize];
            f.read_exact_at(&mut header, 0)
                .map_err(io_err("read chunk file header", &path))?;
            let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            if magic != MAGIC || header[4] != FORMAT_V1 {
                return Err(ChunkFileError::BadHeader {
                    path,
                    magic,
                    version: header[4],
                });
            }
            files.push((path, f, len));
        }
        Ok(ChunkReader { files })
    }

    /// Total size of the files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|(_, _, n)| n).sum()
    }

    /// The encoding and bytes of the chunk at `chunk_ref`.
    pub fn chunk(&self, chunk_ref: u64) -> Result<(u8, Vec<u8>), ChunkFileError> {
        let mut buf = Vec::new();
        let (encoding, data) = self.read_chunk_into(chunk_ref, &mut buf)?;
        buf.truncate(data.end);
        buf.drain(..data.start);
        Ok((encoding, buf))
    }

    /// Reads the chunk at `chunk_ref` into `buf` (reused between calls; its contents are replaced) and returns the
    /// encoding and where the chunk's data lies in `buf`. One positioned read covers the length, the encoding, the
    /// data and the checksum of chunks up to [`CHUNK_READ_GUESS`] bytes; larger chunks take a second read.
    pub fn read_chunk_into(
        &self,
        chunk_ref: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(u8, std::ops::Range<usize>), ChunkFileError> {
        let bad = |reason| ChunkFileError::BadRef { chunk_ref, reason };
        let (path, f, len) = self
            .files
            .get((chunk_ref >> 32) as usize)
            .ok_or(bad("no such segment file"))?;
        let off = chunk_ref & 0xffff_ffff;
        if off < HEADER_SIZE || off >= *len {
            return Err(bad("offset outside the segment file"));
        }
        let first = ((*len - off) as usize).min(CHUNK_READ_GUESS);
        buf.clear();
        buf.resize(first, 0);
        f.read_exact_at(buf, off).map_err(io_err("read chunk", path))?;
        let mut data_len = 0u64;
        let mut i = 0;
        loop {
            let b = *buf
                .get(i)
                .filter(|_| i < 5)
                .ok_or(bad("chunk length is not a varint"))?;
            data_len |= u64::from(b & 0x7f) << (7 * i);
            i += 1;
            if b < 0x80 {
                break;
            }
        }
        // Varint, encoding byte, data, checksum.
        let total = i as u64 + 1 + data_len + 4;
        if off + total > *len {
            return Err(bad("chunk runs past the end of its file"));
        }
        let total = total as usize;
        if total > first {
            buf.resize(total, 0);
            f.read_exact_at(&mut buf[first..], off + first as u64)
                .map_err(io_err("read chunk", path))?;
        }
        let body = i..total - 4;
        let want = u32::from_be_bytes([buf[total - 4], buf[total - 3], buf[total - 2], buf[total - 1]]);
        if crc32(&buf[body.clone()]) != want {
            return Err(ChunkFileError::Checksum {
                path: path.clone(),
                offset: off,
            });
        }
        Ok((buf[i], i + 1..total - 4))
    }
}

#[cfg(test)]
mod tests;
