//! Reading records back from WAL segments, page by page, checking every fragment's CRC and sequence. The first
//! problem ends the segment with a [`Corruption`] naming the segment and the byte offset where the last good
//! record ends: truncating the segment there keeps exactly the records read before.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{
    PAGE_SIZE, REC_FIRST, REC_FULL, REC_LAST, REC_MIDDLE, REC_PAGE_TERM, RECORD_HEADER_SIZE, SNAPPY_MASK, WalError,
    ZSTD_MASK,
};

/// Where and why a segment stops being readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corruption in segment {} at offset {offset}: {reason}", path.display())]
pub struct Corruption {
    /// The segment file.
    pub path: PathBuf,
    /// The segment's index (when it is a numbered segment).
    pub segment: Option<u32>,
    /// Byte offset of the start of the first bad record (= end of the last good one).
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// Reads the records of one segment file.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    segment: Option<u32>,
    file: File,
    page: Vec<u8>,
    /// Bytes of `page` that came from the file (the rest is implied zero padding).
    page_valid: usize,
    /// File offset of `page[0]`.
    page_start: u64,
    pos: usize,
    loaded: bool,
    eof: bool,
    fragments: Vec<u8>,
    decompressed: Vec<u8>,
    snappy: snap::raw::Decoder,
}

impl SegmentReader {
    /// Opens `path` (segment number `segment`, if it is one).
    pub fn open(path: &Path, segment: Option<u32>) -> Result<SegmentReader, WalError> {
        let file = File::open(path).map_err(|e| WalError::io("open segment", path, e))?;
        Ok(SegmentReader {
            path: path.to_path_buf(),
            segment,
            file,
            page: vec![0; PAGE_SIZE],
            page_valid: 0,
            page_start: 0,
            pos: 0,
            loaded: false,
            eof: false,
            fragments: Vec::new(),
            decompressed: Vec::new(),
            snappy: snap::raw::Decoder::new(),
        })
    }

    fn corruption(&self, offset: u64, reason: impl Into<String>) -> WalError {
        WalError::Corrupt(Corruption {
            path: self.path.clone(),
            segment: self.segment,
            offset,
            reason: reason.into(),
        })
    }

    /// Loads the next page; false at the end of the file.
    fn load_page(&mut self) -> Result<bool, WalError> {
        if self.eof {
            return Ok(false);
        }
        if self.loaded {
            self.page_start += PAGE_SIZE as u64;
        }
        let mut n = 0;
        while n < PAGE_SIZE {
            match self.file.read(&mut self.page[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WalError::io("read segment", &self.path, e)),
            }
        }
        if n < PAGE_SIZE {
            self.eof = true;
            self.page[n..].fill(0);
        }
        self.loaded = true;
        self.page_valid = n;
        self.pos = 0;
        Ok(n > 0)
    }

    /// The next record (its payload, decompressed), `None` at the end of the segment.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, WalError> {
        self.fragments.clear();
        let mut record_start: Option<u64> = None;
        let mut compressed;
        let mut index = 0;
        loop {
            if (!self.loaded || self.pos >= PAGE_SIZE) && !self.load_page()? {
                return match record_start {
                    Some(start) => Err(self.corruption(start, "segment ends inside a record")),
                    None => Ok(None),
                };
            }
            let at = self.pos;
            let offset = self.page_start + at as u64;
            let start = record_start.unwrap_or(offset);
            let head = self.page[at];
            let typ = head & 0b111;
            if typ == REC_PAGE_TERM {
                if self.page[at..].iter().any(|&b| b != 0) {
                    return Err(self.corruption(start, "non-zero byte in padded page"));
                }
                if at >= self.page_valid && record_start.is_some() {
                    return Err(self.corruption(start, "segment ends inside a record"));
                }
                self.pos = PAGE_SIZE;
                continue;
            }
            if PAGE_SIZE - at < RECORD_HEADER_SIZE {
                return Err(self.corruption(start, "record header crosses a page boundary"));
            }
            if head & ZSTD_MASK != 0 {
                return Err(self.corruption(start, "zstd-compressed record (only snappy is supported)"));
            }
            if head & !(0b111 | SNAPPY_MASK) != 0 {
                return Err(self.corruption(start, format!("invalid fragment type byte {head:#04x}")));
            }
            let len = usize::from(u16::from_be_bytes([self.page[at + 1], self.page[at + 2]]));
            let crc = u32::from_be_bytes([
                self.page[at + 3],
                self.page[at + 4],
                self.page[at + 5],
                self.page[at + 6],
            ]);
            let data_start = at + RECORD_HEADER_SIZE;
            if len > PAGE_SIZE - data_start {
                return Err(self.corruption(start, format!("invalid record size {len}")));
            }
            if data_start + len > self.page_valid {
                return Err(self.corruption(start, "segment ends inside a record (torn write)"));
            }
            let data = &self.page[data_start..data_start + len];
            let got = crc32c::crc32c(data);
            if got != crc {
                return Err(self.corruption(start, format!("unexpected checksum {got:08x}, expected {crc:08x}")));
            }
            let valid = match typ {
                REC_FULL | REC_FIRST => index == 0,
                REC_MIDDLE | REC_LAST => index > 0,
                _ => false,
            };
            if !valid {
                return Err(self.corruption(start, format!("unexpected fragment type {typ} at fragment {index}")));
            }
            record_start = Some(start);
            compressed = head & SNAPPY_MASK != 0;
            self.fragments.extend_from_slice(data);
            self.pos = data_start + len;
            index += 1;
            if typ == REC_FULL || typ == REC_LAST {
                break;
            }
        }
        if compressed && !self.fragments.is_empty() {
            let start = record_start.unwrap_or(0);
            let n = match snap::raw::decompress_len(&self.fragments) {
                Ok(n) => n,
                Err(e) => return Err(self.corruption(start, format!("snappy: {e}"))),
            };
            self.decompressed.resize(n, 0);
            match self.snappy.decompress(&self.fragments, &mut self.decompressed) {
                Ok(n) => self.decompressed.truncate(n),
                Err(e) => return Err(self.corruption(start, format!("snappy: {e}"))),
            }
            return Ok(Some(&self.decompressed));
        }
        Ok(Some(&self.fragments))
    }

    /// Byte offset just past the last record returned (where a repair truncates).
    pub fn offset(&self) -> u64 {
        if self.loaded {
            self.page_start + self.pos.min(PAGE_SIZE) as u64
        } else {
            0
        }
    }
}

/// Calls `f` with every record of `path`; stops at the first corruption and returns it.
pub fn read_segment_records(
    path: &Path,
    segment: Option<u32>,
    mut f: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), WalError> {
    let mut r = SegmentReader::open(path, segment)?;
    loop {
        let start = r.offset();
        let rec = match r.next_record()? {
            Some(rec) => rec,
            None => return Ok(()),
        };
        if let Err(reason) = f(rec) {
            return Err(WalError::Corrupt(Corruption {
                path: path.to_path_buf(),
                segment,
                offset: start,
                reason,
            }));
        }
    }
}
