//! Reading the head: a querier that answers matchers from the postings index and iterates each series' chunks
//! (full chunks read back from `chunks_head/`, the open chunk copied at select time), and the export of all
//! series with their chunks for a block writer.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::HeadInner;
use super::series::SeriesState;
use crate::model::histogram::{FloatHistogram, Histogram};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::storage::{Querier, SampleIterator, SelectHints, Series, SeriesData, StorageError, Value, ValueType};
use crate::tsdb::TsdbError;
use crate::tsdb::chunkenc::{
    ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM, FloatHistogramIter, HistogramIter, XorChunk,
};
use crate::tsdb::chunks_head::ENCODING_XOR;

/// Where a selected chunk's bytes are.
#[derive(Debug, Clone)]
enum ChunkSrc {
    /// In `chunks_head/`.
    Disk { chunk_ref: u64, mint: i64, maxt: i64 },
    /// Copied from memory.
    Mem {
        encoding: u8,
        bytes: Arc<[u8]>,
        mint: i64,
        maxt: i64,
    },
}

impl ChunkSrc {
    fn bounds(&self) -> (i64, i64) {
        match self {
            ChunkSrc::Disk { mint, maxt, .. } | ChunkSrc::Mem { mint, maxt, .. } => (*mint, *maxt),
        }
    }
}

/// The chunks of `st` overlapping `[mint, maxt]`, oldest first.
fn snapshot(st: &SeriesState, mint: i64, maxt: i64) -> Vec<ChunkSrc> {
    let overlaps = |lo: i64, hi: i64| hi >= mint && lo <= maxt;
    let mut out: Vec<ChunkSrc> = st
        .mmapped
        .iter()
        .filter(|c| overlaps(c.mint, c.maxt))
        .map(|c| ChunkSrc::Disk {
            chunk_ref: c.chunk_ref,
            mint: c.mint,
            maxt: c.maxt,
        })
        .collect();
    if let Some(sp) = &st.spilled {
        for c in sp.iter().filter(|c| overlaps(c.mint, c.maxt)) {
            out.push(ChunkSrc::Mem {
                encoding: c.encoding,
                bytes: c.bytes.clone().into(),
                mint: c.mint,
                maxt: c.maxt,
            });
        }
        out.sort_by_key(|c| c.bounds().0);
    }
    if let Some(h) = &st.head
        && let Some(last) = h.maxt()
        && overlaps(h.mint, last)
    {
        out.push(ChunkSrc::Mem {
            encoding: h.encoding(),
            bytes: h.to_bytes().into(),
            mint: h.mint,
            maxt: last,
        });
    }
    out
}

/// Whether any of `chunks` (overlapping `[mint, maxt]`) has a sample inside the range: a chunk lying inside
/// settles it, otherwise the partly overlapping ones are decoded.
fn chunks_have_samples(head: &HeadInner, chunks: &[ChunkSrc], mint: i64, maxt: i64) -> bool {
    if chunks.iter().any(|c| {
        let (lo, hi) = c.bounds();
        lo >= mint && hi <= maxt
    }) {
        return true;
    }
    chunks.iter().any(|c| match load(head, c) {
        Ok((encoding, bytes)) => match decode(encoding, &bytes, mint, maxt) {
            Ok(samples) => !samples.is_empty(),
            // Unreadable: let the iterator report it.
            Err(_) => true,
        },
        Err(_) => true,
    })
}

/// The encoding and bytes of a selected chunk.
fn load(head: &HeadInner, src: &ChunkSrc) -> Result<(u8, Vec<u8>), StorageError> {
    match src {
        ChunkSrc::Disk { chunk_ref, .. } => head
            .mapper
            .read_chunk(*chunk_ref)
            .map_err(|e| StorageError::Corrupt(e.to_string())),
        ChunkSrc::Mem { encoding, bytes, .. } => Ok((*encoding, bytes.to_vec())),
    }
}

/// Decodes a chunk's samples within `[mint, maxt]`.
fn decode(encoding: u8, bytes: &[u8], mint: i64, maxt: i64) -> Result<Vec<(i64, Value)>, StorageError> {
    let in_range = |t: i64| t >= mint && t <= maxt;
    let corrupt = |e: crate::tsdb::chunkenc::ChunkError| StorageError::Corrupt(format!("head chunk: {e}"));
    let mut out = Vec::new();
    match encoding {
        ENCODING_XOR => {
            let chunk = XorChunk::from_bytes(bytes.to_vec()).map_err(corrupt)?;
            for s in chunk.iter() {
                let (t, v) = s.map_err(corrupt)?;
                if in_range(t) {
                    out.push((t, Value::Float(v)));
                }
            }
        }
        ENCODING_HISTOGRAM => {
            for s in HistogramIter::new(bytes).map_err(corrupt)? {
                let (t, h) = s.map_err(corrupt)?;
                if in_range(t) {
                    out.push((t, Value::Histogram(Arc::new(h))));
                }
            }
        }
        ENCODING_FLOAT_HISTOGRAM => {
            for s in FloatHistogramIter::new(bytes).map_err(corrupt)? {
                let (t, h) = s.map_err(corrupt)?;
                if in_range(t) {
                    out.push((t, Value::FloatHistogram(Arc::new(h))));
                }
            }
        }
        other => {
            return Err(StorageError::Corrupt(format!(
                "head chunk has unsupported encoding {other}"
            )));
        }
    }
    Ok(out)
}

/// A querier over the head.
#[derive(Debug)]
pub struct HeadQuerier {
    head: Arc<HeadInner>,
    mint: i64,
    maxt: i64,
}

impl HeadQuerier {
    pub(crate) fn new(head: Arc<HeadInner>, mint: i64, maxt: i64) -> HeadQuerier {
        HeadQuerier { head, mint, maxt }
    }

    fn matching_refs(&self, matchers: &[Matcher]) -> Vec<u64> {
        self.head
            .postings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .for_matchers(matchers)
    }

    fn overlaps_head(&self) -> bool {
        let min = self.head.min_time.load(std::sync::atomic::Ordering::Acquire);
        let max = self.head.max_time.load(std::sync::atomic::Ordering::Acquire);
        min <= max && max >= self.mint && min <= self.maxt
    }

    fn with_data(&self, r: u64) -> bool {
        self.head.series_by_ref(r).is_some_and(|s| {
            let chunks = snapshot(&s.lock(), self.mint, self.maxt);
            chunks_have_samples(&self.head, &chunks, self.mint, self.maxt)
        })
    }
}

struct HeadSeriesData {
    head: Arc<HeadInner>,
    chunks: Vec<ChunkSrc>,
    mint: i64,
    maxt: i64,
}

impl SeriesData for HeadSeriesData {
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(HeadIter {
            data: self,
            next_chunk: 0,
            buf: Vec::new(),
            i: 0,
            cur: None,
            err: None,
        })
    }
}

/// Iterates a series' selected chunks, decoding one chunk at a time.
struct HeadIter<'a> {
    data: &'a HeadSeriesData,
    next_chunk: usize,
    buf: Vec<(i64, Value)>,
    /// Index of the next sample in `buf`.
    i: usize,
    /// Index of the current sample in `buf`, if any.
    cur: Option<usize>,
    err: Option<StorageError>,
}

impl HeadIter<'_> {
    /// Decodes the next chunk with samples in range into `buf`; false when none is left (or on error).
    fn load_next(&mut self) -> bool {
        while self.err.is_none() && self.next_chunk < self.data.chunks.len() {
            let src = &self.data.chunks[self.next_chunk];
            self.next_chunk += 1;
            let decoded = load(&self.data.head, src)
                .and_then(|(encoding, bytes)| decode(encoding, &bytes, self.data.mint, self.data.maxt));
            match decoded {
                Ok(samples) => {
                    self.buf = samples;
                    self.i = 0;
                    if !self.buf.is_empty() {
                        return true;
                    }
                }
                Err(e) => {
                    self.err = Some(e);
                    return false;
                }
            }
        }
        false
    }

    fn exhausted(&mut self) -> ValueType {
        self.cur = None;
        self.buf.clear();
        self.i = 0;
        ValueType::None
    }

    fn current(&self) -> Option<&(i64, Value)> {
        self.cur.and_then(|i| self.buf.get(i))
    }

    fn kind(&self) -> ValueType {
        self.current().map_or(ValueType::None, |(_, v)| v.value_type())
    }
}

impl SampleIterator for HeadIter<'_> {
    fn next(&mut self) -> ValueType {
        if self.i >= self.buf.len() && !self.load_next() {
            return self.exhausted();
        }
        self.cur = Some(self.i);
        self.i += 1;
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if let Some((ct, _)) = self.current()
            && *ct >= t
        {
            return self.kind();
        }
        loop {
            if self.i < self.buf.len() {
                self.i += self.buf[self.i..].partition_point(|(st, _)| *st < t);
                if self.i < self.buf.len() {
                    self.cur = Some(self.i);
                    self.i += 1;
                    return self.kind();
                }
            }
            while self.next_chunk < self.data.chunks.len() && self.data.chunks[self.next_chunk].bounds().1 < t {
                self.next_chunk += 1;
            }
            if !self.load_next() {
                return self.exhausted();
            }
        }
    }

    fn at(&self) -> (i64, f64) {
        match self.current() {
            Some((t, Value::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        match self.current() {
            Some((t, Value::Histogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, Histogram::default()),
            None => (i64::MIN, Histogram::default()),
        }
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        match self.current() {
            Some((t, Value::Histogram(h))) => (*t, h.to_float()),
            Some((t, Value::FloatHistogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, FloatHistogram::default()),
            None => (i64::MIN, FloatHistogram::default()),
        }
    }

    fn at_t(&self) -> i64 {
        self.current().map_or(i64::MIN, |(t, _)| *t)
    }

    fn err(&self) -> Option<&StorageError> {
        self.err.as_ref()
    }
}

impl Querier for HeadQuerier {
    fn select(
        &self,
        _sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        if !self.overlaps_head() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for r in self.matching_refs(matchers) {
            let Some(s) = self.head.series_by_ref(r) else { continue };
            let chunks = snapshot(&s.lock(), self.mint, self.maxt);
            if !chunks_have_samples(&self.head, &chunks, self.mint, self.maxt) {
                continue;
            }
            out.push(Series {
                labels: s.to_labels(),
                data: Box::new(HeadSeriesData {
                    head: self.head.clone(),
                    chunks,
                    mint: self.mint,
                    maxt: self.maxt,
                }),
            });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if !self.overlaps_head() {
            return Ok(Vec::new());
        }
        if matchers.is_empty() {
            // Copy the candidates out first: checking series may read chunks from disk, which must not happen
            // under the index lock that series creation needs.
            let candidates: Vec<(String, Vec<u64>)> = {
                let postings = self.head.postings.read().unwrap_or_else(|e| e.into_inner());
                postings
                    .values(name)
                    .map(|(v, refs)| (v.to_string(), refs.to_vec()))
                    .collect()
            };
            return Ok(candidates
                .into_iter()
                .filter(|(_, refs)| refs.iter().any(|&r| self.with_data(r)))
                .map(|(v, _)| v)
                .collect());
        }
        let mut values = BTreeSet::new();
        for r in self.matching_refs(matchers) {
            let Some(s) = self.head.series_by_ref(r) else { continue };
            if let Some(v) = s.label(name)
                && self.with_data(r)
            {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if !self.overlaps_head() {
            return Ok(Vec::new());
        }
        let mut names = BTreeSet::new();
        for r in self.matching_refs(matchers) {
            let Some(s) = self.head.series_by_ref(r) else { continue };
            if self.with_data(r) {
                for (n, _) in s.label_pairs() {
                    if !names.contains(n) {
                        names.insert(n.to_string());
                    }
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// One chunk for a block writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkData {
    /// First timestamp.
    pub mint: i64,
    /// Last timestamp.
    pub maxt: i64,
    /// Encoding byte (1 XOR, 2 histogram, 3 float histogram).
    pub encoding: u8,
    /// The chunk bytes.
    pub data: Vec<u8>,
}

/// A series and its chunks, for a block writer.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChunks {
    /// The head reference.
    pub series_ref: u64,
    /// The labels.
    pub labels: Labels,
    /// Chunks overlapping the requested range, oldest first (they may extend beyond it).
    pub chunks: Vec<ChunkData>,
}

pub(crate) fn series_chunks(head: &Arc<HeadInner>, mint: i64, maxt: i64) -> Result<Vec<SeriesChunks>, TsdbError> {
    let refs = head.postings.read().unwrap_or_else(|e| e.into_inner()).all().to_vec();
    let mut out = Vec::new();
    for r in refs {
        let Some(s) = head.series_by_ref(r) else { continue };
        let srcs = snapshot(&s.lock(), mint, maxt);
        if srcs.is_empty() {
            continue;
        }
        let mut chunks = Vec::with_capacity(srcs.len());
        for src in srcs {
            let (lo, hi) = src.bounds();
            let (encoding, data) = match src {
                ChunkSrc::Disk { chunk_ref, .. } => head.mapper.read_chunk(chunk_ref)?,
                ChunkSrc::Mem { encoding, bytes, .. } => (encoding, bytes.to_vec()),
            };
            chunks.push(ChunkData {
                mint: lo,
                maxt: hi,
                encoding,
                data,
            });
        }
        out.push(SeriesChunks {
            series_ref: r,
            labels: s.to_labels(),
            chunks,
        });
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}
