//! Chunk encodings, bit-compatible with Prometheus' `tsdb/chunkenc`: chunks written here are read by Prometheus
//! and `promtool`, and theirs by us.

mod bstream;
mod xor;

pub use bstream::{BitReader, BitWriter};
pub use xor::{ChunkError, MAX_SAMPLES, XorAppender, XorBuilder, XorChunk, XorIter};

#[cfg(test)]
mod tests;
