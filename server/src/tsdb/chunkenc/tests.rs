//! XOR chunk tests: a byte vector derived by hand from the format document, round trips over every bucket
//! boundary and arbitrary values, resuming an appender on stored bytes, and corrupt input.

use proptest::prelude::*;

use super::*;

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    let mut app = c.appender().unwrap();
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    c
}

fn decode(c: &XorChunk) -> Vec<(i64, u64)> {
    c.iter().map(|s| s.map(|(t, v)| (t, v.to_bits())).unwrap()).collect()
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

#[test]
fn bytes_follow_the_documented_layout() {
    // num_samples=2 (00 02); ts_0=1000 as varint (zigzag 2000 -> d0 0f); v_0=1.0 (3ff0000000000000);
    // ts_1 delta 1000 as uvarint (e8 07); v_1 XOR = 0 -> one 0 bit, padded to a byte (00).
    let c = encode(&[(1000, 1.0), (2000, 1.0)]);
    assert_eq!(
        c.bytes(),
        [0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, 0x00]
    );
    // A third sample at the same interval: dod 0 -> bit 0, value unchanged -> bit 0: still one byte of bits.
    let c = encode(&[(1000, 1.0), (2000, 1.0), (3000, 1.0)]);
    assert_eq!(c.bytes().len(), 15);
    assert_eq!(c.num_samples(), 3);
    // A value change 1.0 -> 2.0: the XOR 0x7ff0_0000_0000_0000 has 1 leading and 52 trailing zeros, so after
    // header, varint(0), the 64 value bits and uvarint(10) come '1' '1' 00001 001011 and the 11 meaningful bits:
    // exactly 24 bits.
    let c = encode(&[(0, 1.0), (10, 2.0)]);
    assert_eq!(
        &c.bytes()[2 + 1 + 8 + 1..],
        &[0b1100_0010, 0b0101_1111, 0b1111_1111][..]
    );
}

#[test]
fn every_delta_of_delta_bucket_round_trips() {
    let dods: [i64; 16] = [
        0,
        1,
        -1,
        8191,
        8192,
        -8191,
        -8192,
        65535,
        65536,
        -65535,
        -65536,
        524_287,
        524_288,
        -524_288,
        1 << 40,
        -(1 << 40),
    ];
    let mut samples = vec![(1_000_000_000_000, 0.0), (1_000_000_015_000, 1.0)];
    let mut delta = 15_000i64;
    for (i, dod) in dods.iter().enumerate() {
        delta += dod;
        let (t, _) = *samples.last().unwrap();
        samples.push((t + delta, i as f64));
    }
    assert_eq!(decode(&encode(&samples)), bits(&samples));
}

#[test]
fn special_values_and_wide_xor_windows_round_trip() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let vals = [
        0.0,
        -0.0,
        1.0,
        f64::NAN,
        stale,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-300,
        f64::MIN_POSITIVE,
        5e-324,
        1.0,
        1.0000000000000002,
        1.0,
        -1e300,
        123456.789,
        123456.789,
        3.0,
    ];
    let samples: Vec<(i64, f64)> = vals.iter().enumerate().map(|(i, &v)| (i as i64 * 15_000, v)).collect();
    assert_eq!(decode(&encode(&samples)), bits(&samples));
}

#[test]
fn appending_to_stored_bytes_continues_exactly() {
    let samples: Vec<(i64, f64)> = (0..200)
        .map(|i| (i * 15_000 + (i % 7) * 13, (i as f64 * 0.37).sin()))
        .collect();
    let whole = encode(&samples);
    for split in [1, 2, 3, 57, 199] {
        let first = encode(&samples[..split]);
        let mut resumed = XorChunk::from_bytes(first.bytes().to_vec()).unwrap();
        let mut app = resumed.appender().unwrap();
        for &(t, v) in &samples[split..] {
            app.append(t, v).unwrap();
        }
        assert_eq!(resumed.bytes(), whole.bytes(), "split at {split}");
    }
}

#[test]
fn corrupt_chunks_give_errors_not_panics() {
    let c = encode(&[(0, 1.0), (15, 2.0), (30, 4.0)]);
    for cut in 0..c.bytes().len() {
        let bytes = &c.bytes()[..cut];
        match XorChunk::from_bytes(bytes.to_vec()) {
            Err(ChunkError::NoHeader { .. }) => assert!(cut < 2),
            Err(e) => panic!("{e}"),
            Ok(chunk) => {
                let results: Vec<_> = chunk.iter().collect();
                assert!(results.iter().any(|r| r.is_err()), "cut {cut}: {results:?}");
            }
        }
    }
    // A count larger than the data.
    let mut bytes = c.bytes().to_vec();
    bytes[1] = 200;
    let chunk = XorChunk::from_bytes(bytes).unwrap();
    assert!(matches!(
        chunk.iter().last(),
        Some(Err(ChunkError::Truncated { count: 200, .. }))
    ));
}

#[test]
fn full_chunk_refuses_more() {
    let mut c = XorChunk::from_bytes(vec![0xff, 0xff]).unwrap();
    // The appender reads the (corrupt) body first and reports it.
    assert!(c.appender().is_err());
    let mut c = XorChunk::new();
    let mut app = c.appender().unwrap();
    for i in 0..u16::MAX {
        app.append(i64::from(i), 0.0).unwrap();
    }
    assert_eq!(app.append(70_000, 0.0), Err(ChunkError::Full));
}

proptest! {
    #[test]
    fn arbitrary_samples_round_trip(
        start in any::<i64>(),
        steps in proptest::collection::vec((0i64..10_000_000, any::<u64>()), 1..300),
    ) {
        let mut t = start / 2;
        let samples: Vec<(i64, f64)> = steps
            .iter()
            .map(|&(dt, v)| {
                t = t.wrapping_add(dt);
                (t, f64::from_bits(v))
            })
            .collect();
        prop_assert_eq!(decode(&encode(&samples)), bits(&samples));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(mut chunk) = XorChunk::from_bytes(bytes) {
            for _ in chunk.iter() {}
            let _ = chunk.appender();
        }
    }
}

#[test]
fn builder_matches_appender_bytes() {
    let samples: Vec<(i64, f64)> = (0..300)
        .map(|i| (1000 + i * 15_000 + (i % 7), (i as f64).sin()))
        .collect();
    let mut b = XorBuilder::with_capacity(64);
    assert_eq!(b.last(), None);
    for &(t, v) in &samples {
        b.append(t, v).unwrap();
    }
    assert_eq!(b.last(), Some(*samples.last().unwrap()));
    assert_eq!(b.num_samples(), 300);
    assert_eq!(b.to_bytes(), encode(&samples).bytes());
    let chunk = b.clone().into_chunk();
    assert_eq!(chunk, encode(&samples));
    assert_eq!(decode(&chunk), bits(&samples));
}
