//! The time series database, in Prometheus' on-disk formats (specifications in
//! `../shared/conformance/reference/prometheus/tsdb_format_*.md`). So far: the chunk encodings.

pub mod chunkenc;
