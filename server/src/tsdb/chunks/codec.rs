//! Samples out of and into chunks of any encoding.

use std::sync::Arc;

use crate::model::histogram::CounterResetHint;
use crate::storage::Value;
use crate::tsdb::chunkenc::{
    Appendability, ChunkError, CounterResetHeader, ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM, FloatHistogramBuilder,
    FloatHistogramIter, HistogramBuilder, HistogramIter, XorBuilder, XorChunk,
};
use crate::tsdb::chunks_head::ENCODING_XOR;

/// A chunk made by [`encode_samples`] (the same shape the head exports).
pub type EncodedChunk = crate::tsdb::head::ChunkData;

/// Samples per float chunk when re-encoding (as upstream's head).
const SAMPLES_PER_CHUNK: u16 = 120;
/// Histogram chunks are cut past this size once they hold [`MIN_HISTOGRAM_SAMPLES`].
const HISTOGRAM_CHUNK_BYTES: usize = 1024;
const MIN_HISTOGRAM_SAMPLES: u16 = 10;

/// Why a chunk could not be decoded or samples not encoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The chunk bytes are invalid.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// The encoding byte names no encoding this server reads.
    #[error("unsupported chunk encoding {0}")]
    UnsupportedEncoding(u8),
}

/// Every sample of a chunk, oldest first.
pub fn decode_chunk(encoding: u8, bytes: &[u8]) -> Result<Vec<(i64, Value)>, CodecError> {
    let mut out = Vec::new();
    match encoding {
        ENCODING_XOR => {
            let chunk = XorChunk::from_bytes(bytes.to_vec())?;
            out.reserve(usize::from(chunk.num_samples()));
            for s in chunk.iter() {
                let (t, v) = s?;
                out.push((t, Value::Float(v)));
            }
        }
        ENCODING_HISTOGRAM => {
            for s in HistogramIter::new(bytes)? {
                let (t, h) = s?;
                out.push((t, Value::Histogram(Arc::new(h))));
            }
        }
        ENCODING_FLOAT_HISTOGRAM => {
            for s in FloatHistogramIter::new(bytes)? {
                let (t, h) = s?;
                out.push((t, Value::FloatHistogram(Arc::new(h))));
            }
        }
        other => return Err(CodecError::UnsupportedEncoding(other)),
    }
    Ok(out)
}

fn header_for(hint: CounterResetHint) -> CounterResetHeader {
    match hint {
        CounterResetHint::Unknown => CounterResetHeader::Unknown,
        CounterResetHint::CounterReset => CounterResetHeader::CounterReset,
        CounterResetHint::NotCounterReset => CounterResetHeader::NotCounterReset,
        CounterResetHint::Gauge => CounterResetHeader::Gauge,
    }
}

enum Open {
    Xor(XorBuilder),
    Hist(HistogramBuilder),
    FloatHist(FloatHistogramBuilder),
}

impl Open {
    fn finish(self, mint: i64, maxt: i64) -> EncodedChunk {
        let (encoding, data) = match self {
            Open::Xor(b) => (ENCODING_XOR, b.to_bytes()),
            Open::Hist(b) => (ENCODING_HISTOGRAM, b.bytes().to_vec()),
            Open::FloatHist(b) => (ENCODING_FLOAT_HISTOGRAM, b.bytes().to_vec()),
        };
        EncodedChunk {
            mint,
            maxt,
            encoding,
            data,
        }
    }

    fn full(&self) -> bool {
        match self {
            Open::Xor(b) => b.num_samples() >= SAMPLES_PER_CHUNK,
            Open::Hist(b) => {
                b.num_samples() >= 2 * SAMPLES_PER_CHUNK
                    || (b.bytes().len() >= HISTOGRAM_CHUNK_BYTES && b.num_samples() >= MIN_HISTOGRAM_SAMPLES)
            }
            Open::FloatHist(b) => {
                b.num_samples() >= 2 * SAMPLES_PER_CHUNK
                    || (b.bytes().len() >= HISTOGRAM_CHUNK_BYTES && b.num_samples() >= MIN_HISTOGRAM_SAMPLES)
            }
        }
    }
}

/// Encodes time-ordered samples into chunks: floats in XOR chunks of 120 samples, histograms in their encodings,
/// cut where the chunk is full, the kind changes, or the histogram does not fit (counter reset, new layout).
pub fn encode_samples(samples: &[(i64, Value)]) -> Result<Vec<EncodedChunk>, CodecError> {
    let mut out = Vec::new();
    let mut open: Option<(Open, i64, i64)> = None;
    for (t, v) in samples {
        let t = *t;
        // Decide whether the open chunk takes the sample; if not, which chunk to start.
        let fresh = match (&open, v) {
            (Some((o, ..)), _) if o.full() => true,
            (Some((Open::Xor(_), ..)), Value::Float(_)) => false,
            (Some((Open::Hist(b), ..)), Value::Histogram(h)) => b.appendability(h) != Appendability::Append,
            (Some((Open::FloatHist(b), ..)), Value::FloatHistogram(h)) => b.appendability(h) != Appendability::Append,
            _ => true,
        };
        if fresh {
            let header = match (&open, v) {
                (Some((Open::Hist(b), ..)), Value::Histogram(h)) => match b.appendability(h) {
                    Appendability::NewChunk(hd) => hd,
                    Appendability::Append => header_for(h.counter_reset_hint),
                },
                (Some((Open::FloatHist(b), ..)), Value::FloatHistogram(h)) => match b.appendability(h) {
                    Appendability::NewChunk(hd) => hd,
                    Appendability::Append => header_for(h.counter_reset_hint),
                },
                (_, Value::Histogram(h)) => header_for(h.counter_reset_hint),
                (_, Value::FloatHistogram(h)) => header_for(h.counter_reset_hint),
                (_, Value::Float(_)) => CounterResetHeader::Unknown,
            };
            if let Some((o, lo, hi)) = open.take() {
                out.push(o.finish(lo, hi));
            }
            let o = match v {
                Value::Float(_) => Open::Xor(XorBuilder::new()),
                Value::Histogram(_) => Open::Hist(HistogramBuilder::new(header)),
                Value::FloatHistogram(_) => Open::FloatHist(FloatHistogramBuilder::new(header)),
            };
            open = Some((o, t, t));
        }
        let Some((o, _, hi)) = open.as_mut() else { continue };
        match (o, v) {
            (Open::Xor(b), Value::Float(x)) => b.append(t, *x)?,
            (Open::Hist(b), Value::Histogram(h)) => b.append(t, h)?,
            (Open::FloatHist(b), Value::FloatHistogram(h)) => b.append(t, h)?,
            // The chunk was opened for this sample's kind just above.
            _ => {}
        }
        *hi = t;
    }
    if let Some((o, lo, hi)) = open {
        out.push(o.finish(lo, hi));
    }
    Ok(out)
}
