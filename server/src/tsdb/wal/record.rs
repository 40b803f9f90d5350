//! The record payloads the head writes to the WAL, byte-compatible with Prometheus' `tsdb/record`: the first byte
//! is the record type, then series (`id` big-endian `u64`, label count and length-prefixed strings), samples (a
//! big-endian base id and base timestamp, then per sample a signed-varint id delta, signed-varint time delta and
//! the value's 8 big-endian bytes) or tombstones (`id`, `mint`/`maxt` as signed varints).

use crate::model::labels::Labels;

/// Record type bytes (Prometheus' `record.Type`).
pub mod types {
    /// Series records.
    pub const SERIES: u8 = 1;
    /// Float samples.
    pub const SAMPLES: u8 = 2;
    /// Deletions.
    pub const TOMBSTONES: u8 = 3;
    /// Exemplars.
    pub const EXEMPLARS: u8 = 4;
    /// Out-of-order m-map markers.
    pub const MMAP_MARKERS: u8 = 5;
    /// Metric metadata.
    pub const METADATA: u8 = 6;
    /// Integer native histograms.
    pub const HISTOGRAM_SAMPLES: u8 = 7;
    /// Float native histograms.
    pub const FLOAT_HISTOGRAM_SAMPLES: u8 = 8;
    /// Integer native histograms with custom buckets.
    pub const CUSTOM_BUCKETS_HISTOGRAM_SAMPLES: u8 = 9;
    /// Float native histograms with custom buckets.
    pub const CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES: u8 = 10;
}

/// A series record entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RefSeries {
    /// The series' head reference.
    pub series_ref: u64,
    /// Its labels.
    pub labels: Labels,
}

/// A float sample record entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series' head reference.
    pub series_ref: u64,
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A tombstone record entry: samples of the series in `[mint, maxt]` are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefTombstone {
    /// The series' head reference.
    pub series_ref: u64,
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

/// Appends a Go `PutUvarint`.
pub fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Appends a Go `PutVarint` (zigzag).
pub fn put_varint(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, ((x << 1) ^ (x >> 63)) as u64);
}

/// A cursor over a record's bytes; every read fails cleanly at the end.
#[derive(Debug)]
pub struct Decbuf<'a> {
    b: &'a [u8],
}

impl<'a> Decbuf<'a> {
    /// A cursor over `b`.
    pub fn new(b: &'a [u8]) -> Decbuf<'a> {
        Decbuf { b }
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.b.len()
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8, String> {
        let (&first, rest) = self.b.split_first().ok_or("unexpected end of record")?;
        self.b = rest;
        Ok(first)
    }

    /// `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() < n {
            return Err(format!("record ends {} bytes short", n - self.b.len()));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    /// A big-endian `u64`.
    pub fn be64(&mut self) -> Result<u64, String> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A Go uvarint.
    pub fn uvarint(&mut self) -> Result<u64, String> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.byte()?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                return Ok(x | u64::from(b) << shift);
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        Err("varint overflows 64 bits".to_string())
    }

    /// A Go varint.
    pub fn varint(&mut self) -> Result<i64, String> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    /// A uvarint-length-prefixed UTF-8 string.
    pub fn uvarint_str(&mut self) -> Result<&'a str, String> {
        let n = self.uvarint()?;
        let n = usize::try_from(n).map_err(|_| "string length overflows".to_string())?;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|e| format!("label string is not UTF-8: {e}"))
    }
}

/// Encodes a series record.
pub fn encode_series<'a>(series: impl IntoIterator<Item = (u64, &'a Labels)>, out: &mut Vec<u8>) {
    out.push(types::SERIES);
    for (r, labels) in series {
        out.extend_from_slice(&r.to_be_bytes());
        encode_labels(labels.iter(), labels.len(), out);
    }
}

/// Appends a label count and the name/value strings.
pub fn encode_labels<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>, n: usize, out: &mut Vec<u8>) {
    put_uvarint(out, n as u64);
    for (name, value) in labels {
        put_uvarint(out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put_uvarint(out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
}

/// Decodes a series record.
pub fn decode_series(rec: &[u8], out: &mut Vec<RefSeries>) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    expect_type(&mut d, types::SERIES)?;
    while !d.is_empty() {
        let series_ref = d.be64()?;
        let n = d.uvarint()?;
        let mut pairs = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let name = d.uvarint_str()?;
            let value = d.uvarint_str()?;
            pairs.push((name, value));
        }
        out.push(RefSeries {
            series_ref,
            labels: pairs.into_iter().collect(),
        });
    }
    Ok(())
}

/// Decodes a series record without copying its strings: `f` gets each series' reference and its label pairs as
/// written (in the record's order; `pairs` is a buffer reused across series).
pub fn decode_series_borrowed<'a>(
    rec: &'a [u8],
    pairs: &mut Vec<(&'a str, &'a str)>,
    mut f: impl FnMut(u64, &[(&'a str, &'a str)]),
) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    expect_type(&mut d, types::SERIES)?;
    while !d.is_empty() {
        let series_ref = d.be64()?;
        let n = d.uvarint()?;
        pairs.clear();
        for _ in 0..n {
            let name = d.uvarint_str()?;
            let value = d.uvarint_str()?;
            pairs.push((name, value));
        }
        f(series_ref, pairs);
    }
    Ok(())
}

/// Encodes a float samples record (nothing when `samples` is empty).
pub fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    encode_sample_iter(samples.iter().copied(), out);
}

/// Encodes a float samples record from an iterator, appending to `out` (nothing when it yields nothing): the head
/// encodes its batch with this straight into a reused buffer.
pub fn encode_sample_iter(samples: impl IntoIterator<Item = RefSample>, out: &mut Vec<u8>) {
    let mut samples = samples.into_iter();
    let Some(first) = samples.next() else { return };
    out.reserve(17 + 12 * (1 + samples.size_hint().0));
    out.push(types::SAMPLES);
    out.extend_from_slice(&first.series_ref.to_be_bytes());
    out.extend_from_slice(&first.t.to_be_bytes());
    for s in std::iter::once(first).chain(samples) {
        put_varint(out, (s.series_ref as i64).wrapping_sub(first.series_ref as i64));
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_be_bytes());
    }
}

/// Decodes a float samples record.
pub fn decode_samples(rec: &[u8], out: &mut Vec<RefSample>) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    expect_type(&mut d, types::SAMPLES)?;
    if d.is_empty() {
        return Ok(());
    }
    let base_ref = d.be64()?;
    let base_t = d.be64()? as i64;
    while !d.is_empty() {
        let dref = d.varint()?;
        let dt = d.varint()?;
        let v = f64::from_bits(d.be64()?);
        out.push(RefSample {
            series_ref: (base_ref as i64).wrapping_add(dref) as u64,
            t: base_t.wrapping_add(dt),
            v,
        });
    }
    Ok(())
}

/// Encodes a tombstones record.
pub fn encode_tombstones(stones: &[RefTombstone], out: &mut Vec<u8>) {
    out.push(types::TOMBSTONES);
    for s in stones {
        out.extend_from_slice(&s.series_ref.to_be_bytes());
        put_varint(out, s.mint);
        put_varint(out, s.maxt);
    }
}

/// Decodes a tombstones record.
pub fn decode_tombstones(rec: &[u8], out: &mut Vec<RefTombstone>) -> Result<(), String> {
    let mut d = Decbuf::new(rec);
    expect_type(&mut d, types::TOMBSTONES)?;
    while !d.is_empty() {
        out.push(RefTombstone {
            series_ref: d.be64()?,
            mint: d.varint()?,
            maxt: d.varint()?,
        });
    }
    Ok(())
}

fn expect_type(d: &mut Decbuf<'_>, want: u8) -> Result<(), String> {
    let got = d.byte()?;
    if got != want {
        return Err(format!("record type {got}, expected {want}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_match_upstream_bytes() {
        let labels: Labels = [("__name__", "up"), ("job", "a")].into_iter().collect();
        let mut buf = Vec::new();
        encode_series([(5u64, &labels)], &mut buf);
        // type 1, id 5 (BE), 2 labels, "__name__" "up" "job" "a".
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 0, 5, 2, 8];
        want.extend_from_slice(b"__name__");
        want.push(2);
        want.extend_from_slice(b"up");
        want.push(3);
        want.extend_from_slice(b"job");
        want.push(1);
        want.extend_from_slice(b"a");
        assert_eq!(buf, want);
        let mut series = Vec::new();
        decode_series(&buf, &mut series).unwrap();
        assert_eq!(series, [RefSeries { series_ref: 5, labels }]);
        let mut borrowed = Vec::new();
        decode_series_borrowed(&buf, &mut Vec::new(), |r, pairs| borrowed.push((r, pairs.to_vec()))).unwrap();
        assert_eq!(borrowed, [(5, vec![("__name__", "up"), ("job", "a")])]);
        // The type byte alone is an empty record; every other cut ends inside a series.
        for cut in 2..buf.len() {
            assert!(
                decode_series_borrowed(&buf[..cut], &mut Vec::new(), |_, _| {}).is_err(),
                "cut at {cut}"
            );
        }

        let samples = [
            RefSample {
                series_ref: 10,
                t: 1000,
                v: 1.5,
            },
            RefSample {
                series_ref: 9,
                t: 999,
                v: f64::from_bits(0x7ff0_0000_0000_0002),
            },
        ];
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        assert_eq!(buf[0], 2);
        assert_eq!(&buf[1..9], &10u64.to_be_bytes());
        assert_eq!(&buf[9..17], &1000i64.to_be_bytes());
        // First sample: deltas 0, 0; second: -1 (zigzag 1), -1.
        assert_eq!(&buf[17..19], &[0, 0]);
        assert_eq!(&buf[27..29], &[1, 1]);
        let mut got = Vec::new();
        decode_samples(&buf, &mut got).unwrap();
        assert_eq!(got[0], samples[0]);
        assert_eq!(got[1].v.to_bits(), samples[1].v.to_bits());

        let stones = [RefTombstone {
            series_ref: 3,
            mint: -5,
            maxt: 7,
        }];
        let mut buf = Vec::new();
        encode_tombstones(&stones, &mut buf);
        let mut got = Vec::new();
        decode_tombstones(&buf, &mut got).unwrap();
        assert_eq!(got, stones);
    }

    #[test]
    fn truncated_records_are_errors() {
        let labels: Labels = [("a", "b")].into_iter().collect();
        let mut buf = Vec::new();
        encode_series([(1u64, &labels)], &mut buf);
        for cut in 2..buf.len() {
            let mut out = Vec::new();
            assert!(decode_series(&buf[..cut], &mut out).is_err(), "cut at {cut}");
        }
        let mut buf = Vec::new();
        encode_samples(
            &[RefSample {
                series_ref: 1,
                t: 2,
                v: 3.0,
            }],
            &mut buf,
        );
        let mut out = Vec::new();
        assert!(decode_samples(&buf[..buf.len() - 1], &mut out).is_err());
        assert!(decode_samples(&[1], &mut out).is_err());
    }
}
