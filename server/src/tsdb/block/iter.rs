//! Reading a block series' samples lazily: one chunk at a time, only the chunks overlapping the query range, and
//! within a chunk only the samples in range and not deleted. Float (XOR) chunks decode into a reused buffer of
//! plain `(timestamp, value)` pairs; histogram chunks into a reused buffer of [`Value`]s.

use std::cell::RefCell;
use std::sync::Arc;

use crate::model::histogram::{FloatHistogram, Histogram};
use crate::storage::{SampleIterator, StorageError, Value, ValueType};
use crate::tsdb::chunkenc::{ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM, FloatHistogramIter, HistogramIter, XorIter};
use crate::tsdb::chunks::CodecError;
use crate::tsdb::chunks_head::ENCODING_XOR;
use crate::tsdb::index::ChunkMeta;
use crate::tsdb::tombstones::{Interval, is_deleted};

use super::{Block, BlockError};

/// What a series iterator reads: the block, the series' chunks overlapping the range (in time order), the deleted
/// intervals and the closed range.
pub(super) struct SeriesSource<'a> {
    pub block: &'a Block,
    pub chunks: &'a [ChunkMeta],
    pub deleted: &'a [Interval],
    pub mint: i64,
    pub maxt: i64,
}

/// The samples of the chunk being read, in range and not deleted.
#[derive(Default)]
struct Decoded {
    /// Whether the chunk holds floats (`floats` is used) or histograms (`values` is used).
    float: bool,
    floats: Vec<(i64, f64)>,
    values: Vec<(i64, Value)>,
}

impl Decoded {
    fn len(&self) -> usize {
        if self.float {
            self.floats.len()
        } else {
            self.values.len()
        }
    }

    fn t(&self, i: usize) -> i64 {
        if self.float { self.floats[i].0 } else { self.values[i].0 }
    }

    fn clear(&mut self) {
        self.floats.clear();
        self.values.clear();
    }

    /// The first index at or after `from` whose timestamp is at least `t`.
    fn seek_index(&self, from: usize, t: i64) -> usize {
        if self.float {
            from + self.floats[from..].partition_point(|(st, _)| *st < t)
        } else {
            from + self.values[from..].partition_point(|(st, _)| *st < t)
        }
    }

    /// Replaces the contents with the samples of one chunk that lie in `[mint, maxt]` and are not deleted. Decoding
    /// stops at the first sample past `maxt`.
    fn fill(&mut self, encoding: u8, bytes: &[u8], src: &SeriesSource<'_>) -> Result<(), CodecError> {
        self.clear();
        let keep = |t: i64| t >= src.mint && (src.deleted.is_empty() || !is_deleted(src.deleted, t));
        match encoding {
            ENCODING_XOR => {
                self.float = true;
                let mut it = XorIter::new(bytes);
                while let Some(s) = it.next_sample() {
                    let (t, v) = s?;
                    if t > src.maxt {
                        break;
                    }
                    if keep(t) {
                        self.floats.push((t, v));
                    }
                }
            }
            ENCODING_HISTOGRAM => {
                self.float = false;
                for s in HistogramIter::new(bytes)? {
                    let (t, h) = s?;
                    if t > src.maxt {
                        break;
                    }
                    if keep(t) {
                        self.values.push((t, Value::Histogram(Arc::new(h))));
                    }
                }
            }
            ENCODING_FLOAT_HISTOGRAM => {
                self.float = false;
                for s in FloatHistogramIter::new(bytes)? {
                    let (t, h) = s?;
                    if t > src.maxt {
                        break;
                    }
                    if keep(t) {
                        self.values.push((t, Value::FloatHistogram(Arc::new(h))));
                    }
                }
            }
            other => return Err(CodecError::UnsupportedEncoding(other)),
        }
        Ok(())
    }
}

/// Buffers of finished iterators, kept per thread for the next ones: a query reads many series one after another,
/// and taking their buffers from here spares each series the allocations (of a kilobyte or two each, which in the
/// system allocator also cost a consolidation of its small free lists).
struct Spare {
    raw: Vec<u8>,
    buf: Decoded,
}

/// How many iterators' buffers a thread keeps.
const SPARE_KEPT: usize = 16;
/// Buffers larger than this (bytes, a chunk with unusually many samples) are not kept.
const SPARE_MAX_BYTES: usize = 64 * 1024;

thread_local! {
    static SPARES: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
}

fn take_spare() -> Spare {
    SPARES.with(|s| s.borrow_mut().pop()).unwrap_or_else(|| Spare {
        raw: Vec::new(),
        buf: Decoded::default(),
    })
}

fn keep_spare(mut spare: Spare) {
    let bytes = spare.raw.capacity()
        + spare.buf.floats.capacity() * std::mem::size_of::<(i64, f64)>()
        + spare.buf.values.capacity() * std::mem::size_of::<(i64, Value)>();
    if bytes > SPARE_MAX_BYTES {
        return;
    }
    spare.raw.clear();
    spare.buf.clear();
    SPARES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_KEPT {
            s.push(spare);
        }
    });
}

/// Iterates a series' chunks, decoding one at a time and skipping samples out of range or deleted.
pub(super) struct ChunksIter<'a> {
    src: SeriesSource<'a>,
    next_chunk: usize,
    /// The raw bytes of the chunk being read (reused).
    raw: Vec<u8>,
    buf: Decoded,
    /// Index of the next sample in `buf`.
    i: usize,
    /// Index of the current sample in `buf`.
    cur: Option<usize>,
    err: Option<StorageError>,
}

impl<'a> ChunksIter<'a> {
    pub(super) fn new(src: SeriesSource<'a>) -> ChunksIter<'a> {
        let Spare { raw, buf } = take_spare();
        ChunksIter {
            src,
            next_chunk: 0,
            raw,
            buf,
            i: 0,
            cur: None,
            err: None,
        }
    }

    /// Decodes chunks until one has a sample to return; false at the end or on an error (kept for [`Self::err`]).
    pub(super) fn load_next(&mut self) -> bool {
        while self.err.is_none() && self.next_chunk < self.src.chunks.len() {
            let c = self.src.chunks[self.next_chunk];
            self.next_chunk += 1;
            let filled = self
                .src
                .block
                .chunks
                .read_chunk_into(c.chunk_ref, &mut self.raw)
                .map_err(BlockError::from)
                .and_then(|(encoding, data)| {
                    self.buf
                        .fill(encoding, &self.raw[data], &self.src)
                        .map_err(|source| BlockError::Codec {
                            path: self.src.block.dir.clone(),
                            source,
                        })
                });
            match filled {
                Ok(()) if self.buf.len() > 0 => {
                    self.i = 0;
                    return true;
                }
                Ok(()) => {}
                Err(e) => {
                    self.buf.clear();
                    self.err = Some(e.into());
                    return false;
                }
            }
        }
        false
    }

    /// Whether an error ended iteration.
    pub(super) fn failed(&self) -> bool {
        self.err.is_some()
    }

    fn exhausted(&mut self) -> ValueType {
        self.cur = None;
        self.buf.clear();
        self.i = 0;
        ValueType::None
    }

    fn kind(&self) -> ValueType {
        match self.cur {
            None => ValueType::None,
            Some(_) if self.buf.float => ValueType::Float,
            Some(i) => self.buf.values[i].1.value_type(),
        }
    }

    fn current_value(&self) -> Option<&(i64, Value)> {
        self.cur
            .filter(|_| !self.buf.float)
            .and_then(|i| self.buf.values.get(i))
    }
}

impl Drop for ChunksIter<'_> {
    fn drop(&mut self) {
        keep_spare(Spare {
            raw: std::mem::take(&mut self.raw),
            buf: std::mem::take(&mut self.buf),
        });
    }
}

impl SampleIterator for ChunksIter<'_> {
    fn next(&mut self) -> ValueType {
        if self.i >= self.buf.len() && !self.load_next() {
            return self.exhausted();
        }
        self.cur = Some(self.i);
        self.i += 1;
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if let Some(c) = self.cur
            && self.buf.t(c) >= t
        {
            return self.kind();
        }
        loop {
            if self.i < self.buf.len() {
                self.i = self.buf.seek_index(self.i, t);
                if self.i < self.buf.len() {
                    self.cur = Some(self.i);
                    self.i += 1;
                    return self.kind();
                }
            }
            while self.next_chunk < self.src.chunks.len() && self.src.chunks[self.next_chunk].maxt < t {
                self.next_chunk += 1;
            }
            if !self.load_next() {
                return self.exhausted();
            }
        }
    }

    fn at(&self) -> (i64, f64) {
        match self.cur {
            None => (i64::MIN, f64::NAN),
            Some(i) if self.buf.float => self.buf.floats[i],
            Some(i) => match &self.buf.values[i] {
                (t, Value::Float(v)) => (*t, *v),
                (t, _) => (*t, f64::NAN),
            },
        }
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        match self.current_value() {
            Some((t, Value::Histogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, Histogram::default()),
            None => (self.at_t(), Histogram::default()),
        }
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        match self.current_value() {
            Some((t, Value::Histogram(h))) => (*t, h.to_float()),
            Some((t, Value::FloatHistogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, FloatHistogram::default()),
            None => (self.at_t(), FloatHistogram::default()),
        }
    }

    fn at_t(&self) -> i64 {
        self.cur.map_or(i64::MIN, |i| self.buf.t(i))
    }

    fn err(&self) -> Option<&StorageError> {
        self.err.as_ref()
    }
}
