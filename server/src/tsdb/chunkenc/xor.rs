//! The XOR chunk encoding of float samples (Prometheus' `EncXOR`, after Facebook's Gorilla).
//!
//! Layout (`tsdb_format_chunks.md`): a big-endian `u16` sample count, the first timestamp as a varint and the first
//! value as 64 raw bits, the second timestamp as a uvarint delta and every later one as a delta of deltas in a
//! variable bit width (`0`; `10`+14 bits; `110`+17; `1110`+20; `1111`+64), every value after the first as the XOR
//! with the previous one (`0` when equal; `10` + meaningful bits inside the previous leading/trailing-zero
//! window; `11` + 5 bits of leading zeros + 6 bits of meaningful-bit count + the bits), padded to a byte.

use super::bstream::{BitReader, BitWriter, put_uvarint, put_varint};

/// Most samples one chunk can count (the header is a `u16`).
pub const MAX_SAMPLES: u16 = u16::MAX;

/// Errors appending to or reading a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The chunk already holds 65535 samples.
    #[error("chunk is full ({MAX_SAMPLES} samples)")]
    Full,
    /// The chunk bytes end before the sample count in the header says they should.
    #[error("chunk data ends inside sample {sample} of {count}")]
    Truncated {
        /// 0-based index of the sample being read.
        sample: u16,
        /// The count from the header.
        count: u16,
    },
    /// A histogram's buckets do not match its spans or the chunk's layout.
    #[error("histogram buckets do not match the layout")]
    Layout,
    /// The chunk is shorter than its 2-byte header.
    #[error("chunk shorter than its header ({len} bytes)")]
    NoHeader {
        /// The chunk's length.
        len: usize,
    },
}

/// An XOR chunk: its bytes, as stored on disk and in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorChunk {
    stream: BitWriter,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk (a zero sample count).
    pub fn new() -> XorChunk {
        XorChunk {
            stream: BitWriter::from_bytes(vec![0, 0]),
        }
    }

    /// A chunk from stored bytes. Appending to it continues after its last sample (see [`XorChunk::appender`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<XorChunk, ChunkError> {
        if bytes.len() < 2 {
            return Err(ChunkError::NoHeader { len: bytes.len() });
        }
        Ok(XorChunk {
            stream: BitWriter::from_bytes(bytes),
        })
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        self.stream.bytes()
    }

    /// The number of samples.
    pub fn num_samples(&self) -> u16 {
        let b = self.stream.bytes();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(self.stream.bytes())
    }

    /// An appender continuing after the last sample; reads the chunk once to recover the encoder state.
    pub fn appender(&mut self) -> Result<XorAppender<'_>, ChunkError> {
        let mut it = self.iter();
        while it.next_sample().transpose()?.is_some() {}
        let state = EncoderState {
            t: it.t,
            v: it.v,
            t_delta: it.t_delta,
            leading: it.leading,
            trailing: it.trailing,
            num: self.num_samples(),
            free: 0,
        };
        // Continue writing at the exact bit where the last sample ended.
        let used = it.reader.position();
        let mut bytes = std::mem::take(&mut self.stream).into_bytes();
        let keep = used.div_ceil(8);
        bytes.truncate(keep);
        self.stream = BitWriter::resume(bytes, (keep * 8 - used) as u8);
        Ok(XorAppender { chunk: self, state })
    }
}

/// The most bytes one sample can add: a 4-bit prefix and 64-bit delta of deltas, then `11`, 11 bits of window and
/// 64 value bits (145 bits).
const MAX_SAMPLE_BYTES: usize = 19;

/// The least a [`XorBuilder`]'s buffer grows by.
const GROWTH_STEP: usize = 32;

/// "No leading/trailing window yet", as upstream marks it.
pub(super) const NO_WINDOW: u8 = 0xff;

#[derive(Debug, Clone, Copy)]
struct EncoderState {
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    /// The sample count, also in the chunk's header: kept here so checks need not read the chunk's bytes (a
    /// separate allocation, so a cache miss per sample in the head).
    num: u16,
    /// Bits free in the last byte, for a [`XorBuilder`] (which keeps its bytes outside a [`BitWriter`]).
    free: u8,
}

impl EncoderState {
    const EMPTY: EncoderState = EncoderState {
        t: 0,
        v: 0.0,
        t_delta: 0,
        leading: NO_WINDOW,
        trailing: 0,
        num: 0,
        free: 0,
    };
}

/// Appends samples to an [`XorChunk`].
#[derive(Debug)]
pub struct XorAppender<'a> {
    chunk: &'a mut XorChunk,
    state: EncoderState,
}

impl XorAppender<'_> {
    /// Appends a sample. Timestamps are expected to increase (the head checks order); any `f64` bit pattern,
    /// including the staleness NaN, is stored exactly.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        append_sample(&mut self.chunk.stream, &mut self.state, t, v, true)
    }
}

/// An owned chunk together with its encoder state: appends never re-read the chunk. This is what the head keeps
/// for each series' open chunk, so it is kept small (56 bytes: the byte vector and the encoder state, the bit
/// position included).
#[derive(Debug, Clone)]
pub struct XorBuilder {
    /// The chunk's bytes; the header's count is written when the bytes are read (see [`XorBuilder::bytes`]).
    bytes: Vec<u8>,
    state: EncoderState,
}

impl Default for XorBuilder {
    fn default() -> Self {
        XorBuilder::new()
    }
}

impl XorBuilder {
    /// An empty chunk.
    pub fn new() -> XorBuilder {
        XorBuilder::with_capacity(2)
    }

    /// An empty chunk whose byte buffer starts with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> XorBuilder {
        let mut buf = Vec::with_capacity(bytes.max(2));
        buf.extend_from_slice(&[0, 0]);
        XorBuilder {
            bytes: buf,
            state: EncoderState::EMPTY,
        }
    }

    /// Appends a sample (see [`XorAppender::append`]). The buffer grows in small exact steps rather than by
    /// doubling: a head holds one open chunk per series, and a doubled buffer would be a quarter empty on average.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        let len = self.bytes.len();
        debug_assert!(len >= 2, "a builder's chunk always has its header");
        if self.bytes.capacity() - len < MAX_SAMPLE_BYTES {
            // Keep the allocation a whole allocator size class (16-byte steps with an 8-byte header).
            let want = (len + MAX_SAMPLE_BYTES + (len / 4).max(GROWTH_STEP) + 8).next_multiple_of(16) - 8;
            self.bytes.reserve_exact(want - len);
        }
        let mut w = BitWriter::from_parts(std::mem::take(&mut self.bytes), self.state.free);
        let result = append_sample(&mut w, &mut self.state, t, v, false);
        (self.bytes, self.state.free) = w.into_parts();
        result
    }

    /// Bytes allocated for the chunk.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Writes the sample count into the chunk's header.
    fn sync_header(&mut self) {
        let count = self.state.num.to_be_bytes();
        self.bytes[..2].copy_from_slice(&count);
    }

    /// The encoded bytes so far.
    pub fn bytes(&mut self) -> &[u8] {
        self.sync_header();
        &self.bytes
    }

    /// A copy of the encoded bytes so far.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out[..2].copy_from_slice(&self.state.num.to_be_bytes());
        out
    }

    /// The length of the encoded bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the chunk holds no sample (its header only).
    pub fn is_empty(&self) -> bool {
        self.state.num == 0
    }

    /// The number of samples.
    pub fn num_samples(&self) -> u16 {
        self.state.num
    }

    /// The last appended sample, if any.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.state.num > 0).then_some((self.state.t, self.state.v))
    }

    /// The finished chunk.
    pub fn into_chunk(mut self) -> XorChunk {
        self.sync_header();
        XorChunk {
            stream: BitWriter::from_parts(self.bytes, self.state.free),
        }
    }
}

/// Appends a sample; the header's count is updated only when `header` is set (a [`XorBuilder`] writes it when its
/// bytes are asked for, so an append touches only the chunk's tail).
fn append_sample(w: &mut BitWriter, s: &mut EncoderState, t: i64, v: f64, header: bool) -> Result<(), ChunkError> {
    let num = s.num;
    if num == MAX_SAMPLES {
        return Err(ChunkError::Full);
    }
    let mut t_delta = s.t_delta;
    match num {
        0 => {
            put_varint(w, t);
            w.write_bits(v.to_bits(), 64);
        }
        1 => {
            t_delta = t.wrapping_sub(s.t) as u64;
            put_uvarint(w, t_delta);
            write_xor(w, v, s.v, &mut s.leading, &mut s.trailing);
        }
        _ => {
            t_delta = t.wrapping_sub(s.t) as u64;
            let dod = t_delta.wrapping_sub(s.t_delta) as i64;
            // The prefix and the delta of deltas go out in one write (the delta is cut to its width by the write).
            let d = dod as u64;
            if dod == 0 {
                w.write_bits(0, 1);
            } else if fits(dod, 14) {
                w.write_bits((0b10 << 14) | (d & 0x3fff), 16);
            } else if fits(dod, 17) {
                w.write_bits((0b110 << 17) | (d & 0x1_ffff), 20);
            } else if fits(dod, 20) {
                w.write_bits((0b1110 << 20) | (d & 0xf_ffff), 24);
            } else {
                w.write_bits(0b1111, 4);
                w.write_bits(d, 64);
            }
            write_xor(w, v, s.v, &mut s.leading, &mut s.trailing);
        }
    }
    s.t = t;
    s.v = v;
    s.t_delta = t_delta;
    s.num = num + 1;
    if header {
        w.bytes_mut()[..2].copy_from_slice(&s.num.to_be_bytes());
    }
    Ok(())
}

/// Whether `x` fits the `n`-bit bucket as upstream defines it: `-(2^(n-1) - 1) ..= 2^(n-1)`.
fn fits(x: i64, n: u32) -> bool {
    let half = 1i64 << (n - 1);
    -(half - 1) <= x && x <= half
}

pub(super) fn write_xor(w: &mut BitWriter, new: f64, prev: f64, leading: &mut u8, trailing: &mut u8) {
    let delta = new.to_bits() ^ prev.to_bits();
    if delta == 0 {
        w.write_bits(0, 1);
        return;
    }
    // Leading zeros are written in 5 bits, so at most 31.
    let new_leading = (delta.leading_zeros() as u8).min(31);
    let new_trailing = delta.trailing_zeros() as u8;
    if *leading != NO_WINDOW && new_leading >= *leading && new_trailing >= *trailing {
        // `10` and the meaningful bits inside the previous window.
        let sig = 64 - *leading - *trailing;
        w.write_bits_wide((0b10 << sig) | u128::from(delta >> *trailing), sig + 2);
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    // `11`, 5 bits of leading zeros, 6 bits of meaningful-bit count (64 does not fit and is written as 0; 0
    // meaningful bits cannot occur here), then the bits.
    let sig = 64 - new_leading - new_trailing;
    let header = (0b11 << 11) | (u64::from(new_leading) << 6) | u64::from(sig & 0x3f);
    w.write_bits_wide(
        (u128::from(header) << sig) | u128::from(delta >> new_trailing),
        sig + 13,
    );
}

/// Iterates over the samples of an XOR chunk; a corrupt chunk yields one error, never a panic.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    reader: BitReader<'a>,
    count: Option<u16>,
    read: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    failed: bool,
}

impl<'a> XorIter<'a> {
    /// An iterator over the encoded bytes of a chunk (sample count first), borrowed; a chunk shorter than its
    /// header fails on the first sample.
    pub fn new(bytes: &'a [u8]) -> XorIter<'a> {
        let count = (bytes.len() >= 2).then(|| u16::from_be_bytes([bytes[0], bytes[1]]));
        let mut reader = BitReader::new(bytes);
        if count.is_some() {
            reader.read_bits(16);
        }
        XorIter {
            reader,
            count,
            read: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: NO_WINDOW,
            trailing: 0,
            failed: false,
        }
    }

    /// The next sample, `Ok(None)` at the end, or the error that ends iteration.
    pub fn next_sample(&mut self) -> Option<Result<(i64, f64), ChunkError>> {
        if self.failed {
            return None;
        }
        let Some(count) = self.count else {
            self.failed = true;
            return Some(Err(ChunkError::NoHeader {
                len: self.reader.remaining() / 8,
            }));
        };
        if self.read >= count {
            return None;
        }
        match self.decode() {
            Some(()) => {
                self.read += 1;
                Some(Ok((self.t, self.v)))
            }
            None => {
                self.failed = true;
                Some(Err(ChunkError::Truncated {
                    sample: self.read,
                    count,
                }))
            }
        }
    }

    fn decode(&mut self) -> Option<()> {
        let r = &mut self.reader;
        match self.read {
            0 => {
                self.t = r.read_varint()?;
                self.v = f64::from_bits(r.read_bits(64)?);
            }
            1 => {
                self.t_delta = r.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    prefix <<= 1;
                    if !r.read_bit()? {
                        break;
                    }
                    prefix |= 1;
                }
                let dod = match prefix {
                    0b0 => 0,
                    0b10 => signed(r.read_bits(14)?, 14),
                    0b110 => signed(r.read_bits(17)?, 17),
                    0b1110 => signed(r.read_bits(20)?, 20),
                    _ => r.read_bits(64)? as i64,
                };
                self.t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        Some(())
    }

    fn read_value(&mut self) -> Option<()> {
        let r = &mut self.reader;
        if !r.read_bit()? {
            return Some(());
        }
        if r.read_bit()? {
            self.leading = r.read_bits(5)? as u8;
            let mut sig = r.read_bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            self.trailing = 64u8.checked_sub(self.leading)?.checked_sub(sig)?;
        } else if self.leading == NO_WINDOW {
            // A window reuse before any window was set: corrupt.
            return None;
        }
        let sig = 64u8.checked_sub(self.leading)?.checked_sub(self.trailing)?;
        let bits = r.read_bits(sig)?;
        let shifted = bits.checked_shl(u32::from(self.trailing)).unwrap_or(0);
        self.v = f64::from_bits(self.v.to_bits() ^ shifted);
        Some(())
    }
}

/// Sign-extends an `n`-bit delta of deltas as upstream reads it (values above `2^(n-1)` are negative).
fn signed(bits: u64, n: u32) -> i64 {
    if bits > 1 << (n - 1) {
        bits as i64 - (1i64 << n)
    } else {
        bits as i64
    }
}

impl Iterator for XorIter<'_> {
    type Item = Result<(i64, f64), ChunkError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_sample()
    }
}
