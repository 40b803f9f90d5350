use std::sync::Arc;

use super::*;
use crate::model::histogram::{CounterResetHint, Histogram, Span};
use crate::storage::Value;

#[test]
fn chunks_round_trip_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ChunkWriter::with_segment_size(dir.path(), 200).unwrap();
    let mut refs = Vec::new();
    for i in 0..20u8 {
        let data: Vec<u8> = (0..(i as usize * 7 + 1)).map(|j| j as u8 ^ i).collect();
        refs.push((w.write(1 + i % 3, &data).unwrap(), 1 + i % 3, data));
    }
    let written = w.close().unwrap();
    let r = ChunkReader::open(dir.path()).unwrap();
    assert_eq!(r.size(), written);
    assert!(refs.iter().any(|(r, ..)| r >> 32 > 0), "several segment files");
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files[0], "000001");
    for (chunk_ref, enc, data) in &refs {
        assert_eq!(r.chunk(*chunk_ref).unwrap(), (*enc, data.clone()));
    }
    assert!(matches!(r.chunk(99 << 32), Err(ChunkFileError::BadRef { .. })));
    assert!(matches!(r.chunk(3), Err(ChunkFileError::BadRef { .. })));
}

#[test]
fn corrupt_chunk_fails_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ChunkWriter::new(dir.path()).unwrap();
    let r1 = w.write(1, &[1, 2, 3, 4]).unwrap();
    w.close().unwrap();
    let path = dir.path().join("000001");
    let mut b = std::fs::read(&path).unwrap();
    b[HEADER_SIZE as usize + 3] ^= 0xff;
    std::fs::write(&path, &b).unwrap();
    let r = ChunkReader::open(dir.path()).unwrap();
    assert!(matches!(r.chunk(r1), Err(ChunkFileError::Checksum { .. })));
    b[0] = 0;
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        ChunkReader::open(dir.path()),
        Err(ChunkFileError::BadHeader { .. })
    ));
}

fn hist(count: u64, hint: CounterResetHint) -> Histogram {
    Histogram {
        counter_reset_hint: hint,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: 1,
        count,
        sum: count as f64 * 1.5,
        positive_spans: vec![Span { offset: 0, length: 2 }],
        positive_buckets: vec![(count as i64 - 1) / 2, 0],
        ..Histogram::default()
    }
}

#[test]
fn samples_encode_and_decode() {
    let mut samples: Vec<(i64, Value)> = (0..300).map(|i| (i * 1000, Value::Float(i as f64 / 3.0))).collect();
    // A switch to histograms, a counter reset among them, and back to floats.
    for (i, c) in [5u64, 7, 9, 3, 5].iter().enumerate() {
        samples.push((
            400_000 + i as i64 * 1000,
            Value::Histogram(Arc::new(hist(*c, CounterResetHint::Unknown))),
        ));
    }
    samples.push((
        500_000,
        Value::FloatHistogram(Arc::new(hist(3, CounterResetHint::Unknown).to_float())),
    ));
    samples.push((600_000, Value::Float(f64::from_bits(0x7ff0_0000_0000_0002))));
    let chunks = encode_samples(&samples).unwrap();
    let encodings: Vec<u8> = chunks.iter().map(|c| c.encoding).collect();
    assert_eq!(encodings, vec![1, 1, 1, 2, 2, 3, 1]);
    let mut back = Vec::new();
    for c in &chunks {
        let got = decode_chunk(c.encoding, &c.data).unwrap();
        assert_eq!(got.first().map(|s| s.0), Some(c.mint));
        assert_eq!(got.last().map(|s| s.0), Some(c.maxt));
        back.extend(got);
    }
    assert_eq!(back.len(), samples.len());
    for ((t1, v1), (t2, v2)) in back.iter().zip(&samples) {
        assert_eq!(t1, t2);
        match (v1, v2) {
            (Value::Float(a), Value::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            (Value::Histogram(a), Value::Histogram(b)) => {
                assert_eq!(
                    (a.count, a.sum, &a.positive_buckets),
                    (b.count, b.sum, &b.positive_buckets)
                )
            }
            (Value::FloatHistogram(a), Value::FloatHistogram(b)) => assert_eq!(a.count, b.count),
            other => panic!("kind changed: {other:?}"),
        }
    }
    // The chunk after the reset says so in its header.
    let after_reset = decode_chunk(2, &chunks[4].data).unwrap();
    match &after_reset[0].1 {
        Value::Histogram(h) => assert_eq!(h.counter_reset_hint, CounterResetHint::CounterReset),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decode_chunk(9, &[0, 0]),
        Err(CodecError::UnsupportedEncoding(9))
    ));
}
