//! Full head chunks on disk, in Prometheus' `chunks_head/` format (`tsdb_format_head_chunks.md`): numbered files
//! (`000001`, ...; at most 128 MiB each) starting with magic `0x0130BC91`, version 1 and 3 padding bytes, then
//! chunks of `series ref <8> | mint <8> | maxt <8> | encoding <1> | len <uvarint> | data | CRC32C <4>` (all
//! big-endian; the CRC covers everything from the series ref to the end of the data). A chunk is addressed by
//! `(file sequence << 32) | offset`.
//!
//! Prometheus memory-maps these files. `unsafe` code is denied in this workspace, so this mapper reads chunks
//! back with positioned reads (`pread`, [`FileExt::read_exact_at`]) instead: the files and the effect are the same
//! (full chunks live in the page cache, not on the heap); only the read path differs. Writes go through a buffer
//! of [`WRITE_BUFFER_SIZE`]; reads of chunks still in the buffer are served from it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Magic number at the start of every head chunk file.
pub const MAGIC: u32 = 0x0130_BC91;
/// Size of a file's header.
pub const HEADER_SIZE: u64 = 8;
/// Maximum size of one file (Prometheus' `MaxHeadChunkFileSize`).
pub const MAX_FILE_SIZE: u64 = 128 * 1024 * 1024;
/// Bytes buffered before they are written to the file.
pub const WRITE_BUFFER_SIZE: usize = 1 << 20;
/// Fixed part of a chunk's header: series ref, mint, maxt, encoding.
const CHUNK_META_SIZE: usize = 8 + 8 + 8 + 1;
/// Encoding byte of XOR chunks.
pub const ENCODING_XOR: u8 = 1;
/// Bit set in the encoding byte of out-of-order chunks.
pub const OOO_MASK: u8 = 0x80;

/// Errors of the head chunk files.
#[derive(Debug, thiserror::Error)]
pub enum ChunkDiskError {
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
    /// A chunk reference points at no file.
    #[error("head chunk file {seq:06} (of chunk ref {chunk_ref:#x}) does not exist")]
    NoFile {
        /// The file sequence.
        seq: u32,
        /// The reference.
        chunk_ref: u64,
    },
    /// A chunk's bytes are not what the format says.
    #[error("corrupt head chunk in {}: offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Offset of the chunk.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ChunkDiskError + 'a {
    move |source| ChunkDiskError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A chunk as read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskChunk {
    /// The series it belongs to.
    pub series_ref: u64,
    /// Its reference.
    pub chunk_ref: u64,
    /// First timestamp.
    pub mint: i64,
    /// Last timestamp.
    pub maxt: i64,
    /// Encoding byte (without the out-of-order bit).
    pub encoding: u8,
    /// Whether the out-of-order bit was set.
    pub ooo: bool,
    /// Number of samples (the chunk's first two bytes; every chunk encoding starts with them).
    pub num_samples: u16,
}

#[derive(Debug)]
struct Active {
    seq: u32,
    file: Arc<File>,
    path: PathBuf,
    /// Bytes written to the file.
    flushed: u64,
    buf: Vec<u8>,
    /// A failed write may have left part of `buf` in the file and cutting it off failed too: cut before writing.
    torn: bool,
}

impl Active {
    fn size(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn flush(&mut self) -> Result<(), ChunkDiskError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.torn {
            self.file
                .set_len(self.flushed)
                .map_err(io_err("truncate the partly written tail of", &self.path))?;
            self.torn = false;
        }
        if let Err(e) = (&*self.file).write_all(&self.buf) {
            // A write that fails part way (a full disk) leaves part of the buffer in the file: cut it off, so the
            // next flush writes the buffer at the offset its chunk references point to.
            self.torn = self.file.set_len(self.flushed).is_err();
            return Err(io_err("write", &self.path)(e));
        }
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// Writes full chunks to `chunks_head/` and reads them back.
#[derive(Debug)]
pub struct ChunkDiskMapper {
    dir: PathBuf,
    active: Mutex<Option<Active>>,
    files: RwLock<BTreeMap<u32, Arc<File>>>,
}

/// The file name of sequence `seq`.
pub fn file_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// The chunk reference of `offset` in file `seq`.
pub fn chunk_ref(seq: u32, offset: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(offset)
}

/// The file sequence of a chunk reference.
pub fn ref_seq(r: u64) -> u32 {
    (r >> 32) as u32
}

fn list_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, ChunkDiskError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        if let Some(name) = name.to_str()
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(seq) = name.parse::<u32>()
        {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What [`ChunkDiskMapper::open`] found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every intact chunk, in file order.
    pub chunks: Vec<DiskChunk>,
    /// A corruption found before the last file's tail: the caller should drop all chunks and rebuild from the
    /// WAL (Prometheus' behaviour). The bad file and the ones after it have been deleted.
    pub corruption: Option<ChunkDiskError>,
    /// Bytes cut off the last file's torn tail.
    pub truncated_tail: u64,
}

impl ChunkDiskMapper {
    /// Opens `dir` (created if missing), reading back every chunk. A torn or corrupt tail of the last file is
    /// truncated; a corruption earlier deletes that file and all later ones and is reported in
    /// [`Recovered::corruption`].
    pub fn open(dir: &Path, load: bool) -> Result<(ChunkDiskMapper, Recovered), ChunkDiskError> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let mut files = BTreeMap::new();
        let mut recovered = Recovered::default();
        let list = list_files(dir)?;
        let last_seq = list.last().map(|(s, _)| *s);
        let mut broken_from: Option<u32> = None;
        for (seq, path) in &list {
            if broken_from.is_some() {
                fs::remove_file(path).map_err(io_err("remove corrupt head chunk file", path))?;
                continue;
            }
            let bytes = fs::read(path).map_err(io_err("read", path))?;
            let is_last = Some(*seq) == last_seq;
            match scan_file(path, *seq, &bytes, load.then_some(&mut recovered.chunks)) {
                Ok(_) => {}
                Err((good_end, err)) if is_last => {
                    // A torn write at the end of the newest file: keep the intact prefix.
                    let keep = good_end.max(HEADER_SIZE).min(bytes.len() as u64);
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err("open", path))?;
                    if bytes.len() < HEADER_SIZE as usize {
                        drop(f);
                        fs::remove_file(path).map_err(io_err("remove", path))?;
                        recovered.truncated_tail += bytes.len() as u64;
                        let _ = err;
                        continue;
                    }
                    f.set_len(keep).map_err(io_err("truncate", path))?;
                    f.sync_all().map_err(io_err("fsync", path))?;
                    recovered.truncated_tail += bytes.len() as u64 - keep;
                }
                Err((_, err)) => {
                    fs::remove_file(path).map_err(io_err("remove corrupt head chunk file", path))?;
                    recovered.corruption = Some(err);
                    broken_from = Some(*seq);
                    continue;
                }
            }
            let f = File::open(path).map_err(io_err("open", path))?;
            files.insert(*seq, Arc::new(f));
        }
        if recovered.corruption.is_some() {
            recovered.chunks.clear();
        }
        Ok((
            ChunkDiskMapper {
                dir: dir.to_path_buf(),
                active: Mutex::new(None),
                files: RwLock::new(files),
            },
            recovered,
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cut(&self, active: &mut Option<Active>) -> Result<(), ChunkDiskError> {
        if let Some(mut old) = active.take() {
            old.flush()?;
            old.file.sync_data().map_err(io_err("fsync", &old.path))?;
        }
        let seq = self
            .files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .next_back()
            .map_or(1, |s| s + 1);
        let path = self.dir.join(file_name(seq));
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_err("create head chunk file", &path))?;
        let file = Arc::new(file);
        let mut buf = Vec::with_capacity(WRITE_BUFFER_SIZE);
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.extend_from_slice(&[1, 0, 0, 0]);
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq, file.clone());
        *active = Some(Active {
            seq,
            file,
            path,
            flushed: 0,
            buf,
            torn: false,
        });
        Ok(())
    }

    /// Appends a chunk; returns its reference.
    pub fn write_chunk(
        &self,
        series_ref: u64,
        mint: i64,
        maxt: i64,
        encoding: u8,
        data: &[u8],
    ) -> Result<u64, ChunkDiskError> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let need = (CHUNK_META_SIZE + 10 + data.len() + 4) as u64;
        if guard.as_ref().is_none_or(|a| a.size() + need > MAX_FILE_SIZE) {
            self.cut(&mut guard)?;
        }
        let Some(a) = guard.as_mut() else {
            return Err(ChunkDiskError::NoFile { seq: 0, chunk_ref: 0 });
        };
        let offset = a.size();
        let start = a.buf.len();
        a.buf.extend_from_slice(&series_ref.to_be_bytes());
        a.buf.extend_from_slice(&(mint as u64).to_be_bytes());
        a.buf.extend_from_slice(&(maxt as u64).to_be_bytes());
        a.buf.push(encoding);
        crate::tsdb::wal::record::put_uvarint(&mut a.buf, data.len() as u64);
        a.buf.extend_from_slice(data);
        let crc = crc32c::crc32c(&a.buf[start..]);
        a.buf.extend_from_slice(&crc.to_be_bytes());
        let r = chunk_ref(a.seq, offset as u32);
        if a.buf.len() >= WRITE_BUFFER_SIZE {
            a.flush()?;
        }
        Ok(r)
    }

    /// Writes buffered chunks to the file (no fsync).
    pub fn flush(&self) -> Result<(), ChunkDiskError> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(a) => a.flush(),
            None => Ok(()),
        }
    }

    /// Writes buffered chunks and fsyncs the current file.
    pub fn sync(&self) -> Result<(), ChunkDiskError> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = guard.as_mut() {
            a.flush()?;
            a.file.sync_data().map_err(io_err("fsync", &a.path))?;
        }
        Ok(())
    }

    /// Reads the data of chunk `r` (returns the encoding byte and the bytes).
    pub fn read_chunk(&self, r: u64) -> Result<(u8, Vec<u8>), ChunkDiskError> {
        let seq = ref_seq(r);
        let offset = r & 0xffff_ffff;
        {
            let guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = guard.as_ref()
                && a.seq == seq
                && offset >= a.flushed
            {
                let start = (offset - a.flushed) as usize;
                return parse_chunk_at(&a.buf[start.min(a.buf.len())..], &a.path, offset)
                    .map(|(enc, data, _)| (enc, data.to_vec()));
            }
        }
        let file = self
            .files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seq)
            .cloned()
            .ok_or(ChunkDiskError::NoFile { seq, chunk_ref: r })?;
        let path = self.dir.join(file_name(seq));
        let mut head = [0u8; CHUNK_META_SIZE + 10];
        let n = read_up_to(&file, &mut head, offset).map_err(io_err("read", &path))?;
        let head = &head[..n];
        if head.len() < CHUNK_META_SIZE + 1 {
            return Err(corrupt(&path, offset, "chunk header past end of file"));
        }
        let encoding = head[CHUNK_META_SIZE - 1];
        let (len, lsize) = uvarint(&head[CHUNK_META_SIZE..]).ok_or_else(|| corrupt(&path, offset, "bad length"))?;
        let mut data = vec![0u8; len as usize];
        file.read_exact_at(&mut data, offset + (CHUNK_META_SIZE + lsize) as u64)
            .map_err(io_err("read", &path))?;
        Ok((encoding & !OOO_MASK, data))
    }

    /// Deletes files whose sequence is below `seq` (never the one being written); returns how many.
    pub fn truncate_before(&self, seq: u32) -> Result<usize, ChunkDiskError> {
        let active = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|a| a.seq);
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let victims: Vec<u32> = files
            .range(..seq)
            .map(|(s, _)| *s)
            .filter(|s| Some(*s) != active)
            .collect();
        for s in &victims {
            files.remove(s);
            let path = self.dir.join(file_name(*s));
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
        Ok(victims.len())
    }

    /// Starts a new file for the next write (so the current one can be deleted by a later truncation).
    pub fn cut_file(&self) -> Result<(), ChunkDiskError> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|a| a.size() > HEADER_SIZE) {
            self.cut(&mut guard)?;
        }
        Ok(())
    }

    /// The sequence numbers of the files present.
    pub fn file_sequences(&self) -> Vec<u32> {
        self.files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Flushes, fsyncs and closes the current file.
    pub fn close(&self) -> Result<(), ChunkDiskError> {
        self.sync()?;
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> ChunkDiskError {
    ChunkDiskError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    let mut shift = 0;
    for (i, &c) in b.iter().enumerate().take(10) {
        if c < 0x80 {
            return Some((x | u64::from(c) << shift, i + 1));
        }
        x |= u64::from(c & 0x7f) << shift;
        shift += 7;
    }
    None
}

/// Parses the chunk at the start of `b` (found at `offset` in `path`): encoding byte, data and total size.
fn parse_chunk_at<'a>(b: &'a [u8], path: &Path, offset: u64) -> Result<(u8, &'a [u8], usize), ChunkDiskError> {
    if b.len() < CHUNK_META_SIZE + 1 {
        return Err(corrupt(path, offset, "chunk header past end of file"));
    }
    let encoding = b[CHUNK_META_SIZE - 1];
    let (len, lsize) = uvarint(&b[CHUNK_META_SIZE..]).ok_or_else(|| corrupt(path, offset, "bad chunk length"))?;
    let data_start = CHUNK_META_SIZE + lsize;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| data_start.checked_add(l))
        .filter(|&e| e + 4 <= b.len())
        .ok_or_else(|| corrupt(path, offset, "chunk extends past end of file"))?;
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    let got = crc32c::crc32c(&b[..end]);
    if want != got {
        return Err(corrupt(
            path,
            offset,
            format!("checksum {got:08x}, expected {want:08x}"),
        ));
    }
    Ok((encoding, &b[data_start..end], end + 4))
}

/// Checks (and, with `out`, collects) every chunk of one file. On failure returns the offset where intact data
/// ends and the error.
fn scan_file(
    path: &Path,
    seq: u32,
    bytes: &[u8],
    mut out: Option<&mut Vec<DiskChunk>>,
) -> Result<(), (u64, ChunkDiskError)> {
    if bytes.len() < HEADER_SIZE as usize {
        return Err((0, corrupt(path, 0, "file shorter than its header")));
    }
    if u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) != MAGIC {
        return Err((0, corrupt(path, 0, "bad magic number")));
    }
    if bytes[4] != 1 {
        return Err((0, corrupt(path, 4, format!("unsupported version {}", bytes[4]))));
    }
    let mut off = HEADER_SIZE as usize;
    while off < bytes.len() {
        // Zero bytes up to the end (preallocated space) end the file.
        if bytes[off..].iter().all(|&b| b == 0) {
            break;
        }
        let rest = &bytes[off..];
        let (encoding, data, size) = parse_chunk_at(rest, path, off as u64).map_err(|e| (off as u64, e))?;
        if let Some(out) = out.as_deref_mut() {
            let be = |i: usize| {
                let mut a = [0u8; 8];
                a.copy_from_slice(&rest[i..i + 8]);
                u64::from_be_bytes(a)
            };
            out.push(DiskChunk {
                series_ref: be(0),
                chunk_ref: chunk_ref(seq, off as u32),
                mint: be(8) as i64,
                maxt: be(16) as i64,
                encoding: encoding & !OOO_MASK,
                ooo: encoding & OOO_MASK != 0,
                num_samples: if data.len() >= 2 {
                    u16::from_be_bytes([data[0], data[1]])
                } else {
                    0
                },
            });
        }
        off += size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_reopen_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (m, rec) = ChunkDiskMapper::open(dir.path(), true).unwrap();
        assert!(rec.chunks.is_empty());
        let r1 = m.write_chunk(7, 100, 200, ENCODING_XOR, &[0, 1, 2, 3]).unwrap();
        let r2 = m.write_chunk(8, 300, 400, ENCODING_XOR, &[9; 300]).unwrap();
        assert_eq!(ref_seq(r1), 1);
        assert_eq!(r1 & 0xffff_ffff, HEADER_SIZE);
        // Served from the buffer, then from the file.
        assert_eq!(m.read_chunk(r2).unwrap(), (ENCODING_XOR, vec![9; 300]));
        m.flush().unwrap();
        assert_eq!(m.read_chunk(r1).unwrap(), (ENCODING_XOR, vec![0, 1, 2, 3]));
        m.close().unwrap();

        let path = dir.path().join("000001");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], &[0x01, 0x30, 0xBC, 0x91, 1, 0, 0, 0]);
        // Chunk layout: ref, mint, maxt, encoding, len, data, crc.
        assert_eq!(&bytes[8..16], &7u64.to_be_bytes());
        assert_eq!(&bytes[16..24], &100u64.to_be_bytes());
        assert_eq!(&bytes[24..32], &200u64.to_be_bytes());
        assert_eq!(bytes[32], ENCODING_XOR);
        assert_eq!(bytes[33], 4);
        assert_eq!(
            &bytes[38..42],
            &crc32c::crc32c(&bytes[8..38]).to_be_bytes(),
            "CRC covers the chunk header and data"
        );

        // Tear the second chunk: reopening keeps the first and truncates the rest.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(bytes.len() as u64 - 10).unwrap();
        drop(f);
        let (m, rec) = ChunkDiskMapper::open(dir.path(), true).unwrap();
        assert!(rec.corruption.is_none());
        assert_eq!(rec.chunks.len(), 1);
        assert_eq!(rec.chunks[0].series_ref, 7);
        assert_eq!((rec.chunks[0].mint, rec.chunks[0].maxt), (100, 200));
        assert!(rec.truncated_tail > 0);
        // New writes go to a new file.
        let r3 = m.write_chunk(9, 1, 2, ENCODING_XOR, &[5]).unwrap();
        assert_eq!(ref_seq(r3), 2);
        m.close().unwrap();
        assert_eq!(m.truncate_before(2).unwrap(), 1);
        assert_eq!(m.file_sequences(), [2]);
    }

    #[test]
    fn corruption_in_an_older_file_drops_it_and_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (m, _) = ChunkDiskMapper::open(dir.path(), true).unwrap();
        m.write_chunk(1, 0, 10, ENCODING_XOR, &[1, 2, 3]).unwrap();
        m.cut_file().unwrap();
        m.write_chunk(1, 11, 20, ENCODING_XOR, &[4, 5, 6]).unwrap();
        m.close().unwrap();
        let path = dir.path().join("000001");
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_SIZE as usize + 30] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let (_m, rec) = ChunkDiskMapper::open(dir.path(), true).unwrap();
        assert!(rec.corruption.is_some());
        assert!(rec.chunks.is_empty());
        assert!(list_files(dir.path()).unwrap().is_empty());
    }
}
