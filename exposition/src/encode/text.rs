//! Text format 0.0.4 encoder.
use crate::model::MetricFamily;

/// Writes `families` in text format 0.0.4.
pub fn encode_text(families: &[MetricFamily], out: &mut Vec<u8>) {
    let _ = (families, out);
}
