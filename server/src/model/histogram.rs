//! Native (sparse, exponential-bucket) histograms as Prometheus models them: an integer form as scraped and stored
//! (`Histogram`, bucket counts delta-encoded) and a float form PromQL computes with (`FloatHistogram`, absolute
//! bucket counts). Bucket boundaries follow the schema: for schema `s` the boundaries are `2^(i * 2^-s)`; schemas
//! -53 (custom buckets) and -4..=8 exist.

/// A run of `length` consecutive buckets starting `offset` buckets after the previous span's end (or, for the first
/// span, at bucket index `offset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Gap to the previous span (or the first index).
    pub offset: i32,
    /// Number of consecutive buckets.
    pub length: u32,
}

/// What the producer says about counter resets since the previous sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterResetHint {
    /// Not known; detect by comparing with the previous sample.
    #[default]
    Unknown,
    /// A counter reset happened.
    CounterReset,
    /// No counter reset happened.
    NotCounterReset,
    /// A gauge histogram: counter resets do not apply.
    Gauge,
}

/// The schema number of histograms with custom bucket boundaries (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// An integer native histogram: bucket counts are deltas to the previous bucket (in span order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Counter reset information.
    pub counter_reset_hint: CounterResetHint,
    /// The bucket schema.
    pub schema: i32,
    /// Width of the zero bucket (observations with `|v| <= zero_threshold`).
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, delta-encoded.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, delta-encoded.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

/// A float native histogram: absolute bucket counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatHistogram {
    /// Counter reset information.
    pub counter_reset_hint: CounterResetHint,
    /// The bucket schema.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

impl Histogram {
    /// The float form: deltas resolved to absolute counts.
    pub fn to_float(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: absolute(&self.positive_buckets),
            negative_buckets: absolute(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

fn absolute(deltas: &[i64]) -> Vec<f64> {
    let mut current = 0i64;
    deltas
        .iter()
        .map(|d| {
            current = current.wrapping_add(*d);
            current as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_become_absolute_counts() {
        let h = Histogram {
            schema: 0,
            count: 9,
            sum: 12.5,
            positive_spans: vec![Span { offset: 0, length: 3 }],
            positive_buckets: vec![2, 1, -2],
            ..Histogram::default()
        };
        let f = h.to_float();
        assert_eq!(f.positive_buckets, vec![2.0, 3.0, 1.0]);
        assert_eq!((f.count, f.sum), (9.0, 12.5));
    }
}
