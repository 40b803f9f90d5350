//! Native histogram WAL records (Prometheus' record types 7 and 8, and 9 and 10 for custom-bucket histograms):
//! a big-endian base reference and base timestamp, then per sample a signed-varint reference delta and time delta
//! and the histogram: counter reset hint byte, schema (varint), zero threshold (8 bytes), zero count and count
//! (uvarints, or 8-byte floats for float histograms), sum (8 bytes), positive and negative spans (count, then
//! offset varint and length uvarint each), positive and negative buckets (count, then varints or 8-byte floats),
//! and for custom-bucket records the custom bounds (count, then 8-byte floats).

use super::record::{Decbuf, put_uvarint, put_varint, types};
use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span};

/// An integer histogram sample.
#[derive(Debug, Clone, PartialEq)]
pub struct RefHistogram {
    /// The series' head reference.
    pub series_ref: u64,
    /// Timestamp (ms).
    pub t: i64,
    /// The histogram.
    pub h: Histogram,
}

/// A float histogram sample.
#[derive(Debug, Clone, PartialEq)]
pub struct RefFloatHistogram {
    /// The series' head reference.
    pub series_ref: u64,
    /// Timestamp (ms).
    pub t: i64,
    /// The histogram.
    pub h: FloatHistogram,
}

fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_from(b: u8) -> CounterResetHint {
    match b {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_varint(out, i64::from(s.offset));
        put_uvarint(out, u64::from(s.length));
    }
}

fn get_f64(d: &mut Decbuf<'_>) -> Result<f64, String> {
    d.be64().map(f64::from_bits)
}

fn get_len(d: &mut Decbuf<'_>, min_item_bytes: usize) -> Result<usize, String> {
    let n = d.uvarint()?;
    // Every item takes at least `min_item_bytes`: a longer count is corrupt, not a reason to allocate.
    if n as usize > d.len() / min_item_bytes.max(1) {
        return Err(format!("histogram list of {n} items exceeds the record"));
    }
    Ok(n as usize)
}

fn get_spans(d: &mut Decbuf<'_>) -> Result<Vec<Span>, String> {
    let n = get_len(d, 2)?;
    (0..n)
        .map(|_| {
            let offset = i32::try_from(d.varint()?).map_err(|_| "span offset overflows".to_string())?;
            let length = u32::try_from(d.uvarint()?).map_err(|_| "span length overflows".to_string())?;
            Ok(Span { offset, length })
        })
        .collect()
}

fn is_custom(schema: i32) -> bool {
    schema == CUSTOM_BUCKETS_SCHEMA
}

/// Encodes integer histograms: exponential ones into one record (type 7), custom-bucket ones into another
/// (type 9); returns the records (none for an empty input).
pub fn encode_histograms(samples: &[RefHistogram]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for custom in [false, true] {
        let part: Vec<&RefHistogram> = samples.iter().filter(|s| is_custom(s.h.schema) == custom).collect();
        let Some(&first) = part.first() else { continue };
        let mut buf = vec![if custom {
            types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES
        } else {
            types::HISTOGRAM_SAMPLES
        }];
        buf.extend_from_slice(&first.series_ref.to_be_bytes());
        buf.extend_from_slice(&first.t.to_be_bytes());
        for s in &part {
            put_varint(&mut buf, (s.series_ref as i64).wrapping_sub(first.series_ref as i64));
            put_varint(&mut buf, s.t.wrapping_sub(first.t));
            let h = &s.h;
            buf.push(hint_byte(h.counter_reset_hint));
            put_varint(&mut buf, i64::from(h.schema));
            put_f64(&mut buf, h.zero_threshold);
            put_uvarint(&mut buf, h.zero_count);
            put_uvarint(&mut buf, h.count);
            put_f64(&mut buf, h.sum);
            put_spans(&mut buf, &h.positive_spans);
            put_spans(&mut buf, &h.negative_spans);
            for buckets in [&h.positive_buckets, &h.negative_buckets] {
                put_uvarint(&mut buf, buckets.len() as u64);
                for &b in buckets {
                    put_varint(&mut buf, b);
                }
            }
            if custom {
                put_uvarint(&mut buf, h.custom_values.len() as u64);
                for &v in &h.custom_values {
                    put_f64(&mut buf, v);
                }
            }
        }
        out.push(buf);
    }
    out
}

/// Encodes float histograms (types 8 and 10), as [`encode_histograms`].
pub fn encode_float_histograms(samples: &[RefFloatHistogram]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for custom in [false, true] {
        let part: Vec<&RefFloatHistogram> = samples.iter().filter(|s| is_custom(s.h.schema) == custom).collect();
        let Some(&first) = part.first() else { continue };
        let mut buf = vec![if custom {
            types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES
        } else {
            types::FLOAT_HISTOGRAM_SAMPLES
        }];
        buf.extend_from_slice(&first.series_ref.to_be_bytes());
        buf.extend_from_slice(&first.t.to_be_bytes());
        for s in &part {
            put_varint(&mut buf, (s.series_ref as i64).wrapping_sub(first.series_ref as i64));
            put_varint(&mut buf, s.t.wrapping_sub(first.t));
            let h = &s.h;
            buf.push(hint_byte(h.counter_reset_hint));
            put_varint(&mut buf, i64::from(h.schema));
            put_f64(&mut buf, h.zero_threshold);
            put_f64(&mut buf, h.zero_count);
            put_f64(&mut buf, h.count);
            put_f64(&mut buf, h.sum);
            put_spans(&mut buf, &h.positive_spans);
            put_spans(&mut buf, &h.negative_spans);
            for buckets in [&h.positive_buckets, &h.negative_buckets] {
                put_uvarint(&mut buf, buckets.len() as u64);
                for &b in buckets {
                    put_f64(&mut buf, b);
                }
            }
            if custom {
                put_uvarint(&mut buf, h.custom_values.len() as u64);
                for &v in &h.custom_values {
                    put_f64(&mut buf, v);
                }
            }
        }
        out.push(buf);
    }
    out
}

/// Decodes an integer histogram record (type 7 or 9).
pub fn decode_histograms(rec: &[u8], out: &mut Vec<RefHistogram>) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    let typ = d.byte()?;
    if typ != types::HISTOGRAM_SAMPLES && typ != types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES {
        return Err(format!("record type {typ} is not an integer histogram record"));
    }
    if d.is_empty() {
        return Ok(());
    }
    let base_ref = d.be64()?;
    let base_t = d.be64()? as i64;
    while !d.is_empty() {
        let series_ref = (base_ref as i64).wrapping_add(d.varint()?) as u64;
        let t = base_t.wrapping_add(d.varint()?);
        let counter_reset_hint = hint_from(d.byte()?);
        let schema = i32::try_from(d.varint()?).map_err(|_| "schema overflows".to_string())?;
        let zero_threshold = get_f64(&mut d)?;
        let zero_count = d.uvarint()?;
        let count = d.uvarint()?;
        let sum = get_f64(&mut d)?;
        let positive_spans = get_spans(&mut d)?;
        let negative_spans = get_spans(&mut d)?;
        let n = get_len(&mut d, 1)?;
        let positive_buckets = (0..n).map(|_| d.varint()).collect::<Result<_, _>>()?;
        let n = get_len(&mut d, 1)?;
        let negative_buckets = (0..n).map(|_| d.varint()).collect::<Result<_, _>>()?;
        let mut custom_values = Vec::new();
        if is_custom(schema) {
            let n = get_len(&mut d, 8)?;
            custom_values = (0..n).map(|_| get_f64(&mut d)).collect::<Result<_, _>>()?;
        }
        out.push(RefHistogram {
            series_ref,
            t,
            h: Histogram {
                counter_reset_hint,
                schema,
                zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans,
                negative_spans,
                positive_buckets,
                negative_buckets,
                custom_values,
            },
        });
    }
    Ok(())
}

/// Decodes a float histogram record (type 8 or 10).
pub fn decode_float_histograms(rec: &[u8], out: &mut Vec<RefFloatHistogram>) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    let typ = d.byte()?;
    if typ != types::FLOAT_HISTOGRAM_SAMPLES && typ != types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES {
        return Err(format!("record type {typ} is not a float histogram record"));
    }
    if d.is_empty() {
        return Ok(());
    }
    let base_ref = d.be64()?;
    let base_t = d.be64()? as i64;
    while !d.is_empty() {
        let series_ref = (base_ref as i64).wrapping_add(d.varint()?) as u64;
        let t = base_t.wrapping_add(d.varint()?);
        let counter_reset_hint = hint_from(d.byte()?);
        let schema = i32::try_from(d.varint()?).map_err(|_| "schema overflows".to_string())?;
        let zero_threshold = get_f64(&mut d)?;
        let zero_count = get_f64(&mut d)?;
        let count = get_f64(&mut d)?;
        let sum = get_f64(&mut d)?;
        let positive_spans = get_spans(&mut d)?;
        let negative_spans = get_spans(&mut d)?;
        let n = get_len(&mut d, 8)?;
        let positive_buckets = (0..n).map(|_| get_f64(&mut d)).collect::<Result<_, _>>()?;
        let n = get_len(&mut d, 8)?;
        let negative_buckets = (0..n).map(|_| get_f64(&mut d)).collect::<Result<_, _>>()?;
        let mut custom_values = Vec::new();
        if is_custom(schema) {
            let n = get_len(&mut d, 8)?;
            custom_values = (0..n).map(|_| get_f64(&mut d)).collect::<Result<_, _>>()?;
        }
        out.push(RefFloatHistogram {
            series_ref,
            t,
            h: FloatHistogram {
                counter_reset_hint,
                schema,
                zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans,
                negative_spans,
                positive_buckets,
                negative_buckets,
                custom_values,
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_histogram(schema: i32) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema,
            zero_threshold: 0.001,
            zero_count: 2,
            count: 12,
            sum: 18.4,
            positive_spans: vec![Span { offset: 0, length: 2 }, Span { offset: 1, length: 2 }],
            negative_spans: vec![Span { offset: -2, length: 1 }],
            positive_buckets: vec![1, 1, -1, 0],
            negative_buckets: vec![2],
            custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                vec![0.1, 1.0, 10.0]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn histogram_records_round_trip_by_kind() {
        let samples = vec![
            RefHistogram {
                series_ref: 7,
                t: 1000,
                h: sample_histogram(3),
            },
            RefHistogram {
                series_ref: 5,
                t: 990,
                h: sample_histogram(CUSTOM_BUCKETS_SCHEMA),
            },
            RefHistogram {
                series_ref: 9,
                t: 1010,
                h: sample_histogram(-1),
            },
        ];
        let recs = encode_histograms(&samples);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0][0], types::HISTOGRAM_SAMPLES);
        assert_eq!(recs[1][0], types::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES);
        // Header: base ref and time big-endian; first entry: deltas 0, hint byte 2 (not a reset), schema 3.
        assert_eq!(&recs[0][1..9], &7u64.to_be_bytes());
        assert_eq!(&recs[0][9..17], &1000i64.to_be_bytes());
        assert_eq!(&recs[0][17..21], &[0, 0, 2, 6]);
        let mut got = Vec::new();
        for r in &recs {
            decode_histograms(r, &mut got).unwrap();
        }
        assert_eq!(got, vec![samples[0].clone(), samples[2].clone(), samples[1].clone()]);

        let floats: Vec<RefFloatHistogram> = samples
            .iter()
            .map(|s| RefFloatHistogram {
                series_ref: s.series_ref,
                t: s.t,
                h: s.h.to_float(),
            })
            .collect();
        let recs = encode_float_histograms(&floats);
        assert_eq!(
            (recs[0][0], recs[1][0]),
            (
                types::FLOAT_HISTOGRAM_SAMPLES,
                types::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES
            )
        );
        let mut got = Vec::new();
        for r in &recs {
            decode_float_histograms(r, &mut got).unwrap();
        }
        assert_eq!(got, vec![floats[0].clone(), floats[2].clone(), floats[1].clone()]);
        for cut in 1..recs[0].len() {
            let mut out = Vec::new();
            let _ = decode_float_histograms(&recs[0][..cut], &mut out);
        }
        let mut out = Vec::new();
        assert!(
            decode_histograms(&recs[0], &mut out).is_err(),
            "a float record is not an integer one"
        );
    }
}
