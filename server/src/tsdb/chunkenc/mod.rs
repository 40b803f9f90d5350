//! Chunk encodings, bit-compatible with Prometheus' `tsdb/chunkenc`: chunks written here are read by Prometheus
//! and `promtool`, and theirs by us: XOR for floats, and the integer and float native histogram encodings.

mod bstream;
mod histogram;
mod varbit;
mod xor;

pub use bstream::{BitReader, BitWriter};
pub use histogram::{
    Appendability, CounterResetHeader, ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM, FloatHistogramBuilder,
    FloatHistogramIter, HistogramBuilder, HistogramIter,
};
pub use varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
pub use xor::{ChunkError, MAX_SAMPLES, XorAppender, XorBuilder, XorChunk, XorIter};

#[cfg(test)]
mod tests;
