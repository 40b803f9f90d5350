use super::*;

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

/// Counter histograms with two spans of positive buckets and one of negative ones, growing over time.
fn counter_series(n: usize) -> Vec<(i64, Histogram)> {
    (0..n)
        .map(|i| {
            let i64_i = i as i64;
            let pos = vec![1 + i64_i, 2, -1, 4 + i64_i / 2];
            let neg = vec![i64_i / 2];
            let abs_pos: i64 = {
                let mut run = 0;
                pos.iter()
                    .map(|d| {
                        run += d;
                        run
                    })
                    .sum()
            };
            let abs_neg = neg[0];
            let zero = 3 + i as u64;
            (
                1_700_000_000_000 + i64_i * 15_000 + (i64_i % 4),
                Histogram {
                    counter_reset_hint: CounterResetHint::Unknown,
                    schema: 3,
                    zero_threshold: 2f64.powi(-128),
                    zero_count: zero,
                    count: zero + abs_pos as u64 + abs_neg as u64,
                    sum: 10.5 * i as f64 + 0.25,
                    positive_spans: vec![span(-2, 2), span(3, 2)],
                    negative_spans: vec![span(1, 1)],
                    positive_buckets: pos,
                    negative_buckets: neg,
                    custom_values: vec![],
                },
            )
        })
        .collect()
}

fn expected_int(chunk_header: CounterResetHeader, k: usize, h: &Histogram) -> Histogram {
    let hint = match (chunk_header, k) {
        (CounterResetHeader::Gauge, _) => CounterResetHint::Gauge,
        (_, k) if k > 0 => CounterResetHint::NotCounterReset,
        (CounterResetHeader::CounterReset, _) => CounterResetHint::CounterReset,
        _ => CounterResetHint::Unknown,
    };
    Histogram {
        counter_reset_hint: hint,
        ..h.clone()
    }
}

#[test]
fn integer_histograms_round_trip() {
    let samples = counter_series(100);
    let mut b = HistogramBuilder::new(CounterResetHeader::Unknown);
    for (t, h) in &samples {
        assert_eq!(b.appendability(h), Appendability::Append);
        b.append(*t, h).unwrap();
    }
    assert_eq!(b.num_samples(), 100);
    let got: Vec<(i64, Histogram)> = HistogramIter::new(b.bytes()).unwrap().map(Result::unwrap).collect();
    assert_eq!(got.len(), 100);
    for (k, ((t, h), (gt, gh))) in samples.iter().zip(&got).enumerate() {
        assert_eq!(t, gt);
        assert_eq!(&expected_int(CounterResetHeader::Unknown, k, h), gh, "sample {k}");
    }
    // Steady deltas cost little: well under the 64-bit raw size per sample.
    assert!(b.bytes().len() < 100 * 16, "{} bytes", b.bytes().len());
}

#[test]
fn layout_bits_follow_the_format() {
    // One sample: schema 0, zero threshold 0, one positive bucket.
    let h = Histogram {
        schema: 0,
        count: 1,
        sum: 1.0,
        positive_spans: vec![span(0, 1)],
        positive_buckets: vec![1],
        ..Histogram::default()
    };
    let mut b = HistogramBuilder::new(CounterResetHeader::NotCounterReset);
    b.append(0, &h).unwrap();
    // threshold byte 0; schema '0'; 1 span '10 001', length '10 001', offset '0'; no negative spans '0';
    // t '0'; count '10 001'; zero count '0'; sum 64 bits; bucket '10 001'; padding.
    let mut bits = String::from("00000000");
    bits += "0";
    bits += "10001";
    bits += "10001";
    bits += "0";
    bits += "0";
    bits += "0";
    bits += "10001";
    bits += "0";
    bits += &format!("{:064b}", 1.0f64.to_bits());
    bits += "10001";
    while bits.len() % 8 != 0 {
        bits.push('0');
    }
    let want: Vec<u8> = bits
        .as_bytes()
        .chunks(8)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap())
        .collect();
    assert_eq!(&b.bytes()[..3], &[0, 1, 0b0100_0000]);
    assert_eq!(&b.bytes()[3..], want.as_slice());
    // The default zero threshold 2^-128 is the single byte 116, as upstream documents.
    let mut w = BitWriter::default();
    put_zero_threshold(&mut w, 2f64.powi(-128));
    assert_eq!(w.bytes(), &[116]);
    for t in [0.0, 2f64.powi(-243), 1024.0, 0.001, 2048.0, -1.0] {
        let mut w = BitWriter::default();
        put_zero_threshold(&mut w, t);
        assert_eq!(read_zero_threshold(&mut BitReader::new(w.bytes())), Some(t), "{t}");
        let want_len = if t == 0.0 || t == 2f64.powi(-243) || t == 1024.0 {
            1
        } else {
            9
        };
        assert_eq!(w.bytes().len(), want_len, "{t}");
    }
}

#[test]
fn custom_buckets_and_stale_markers() {
    let stale = f64::from_bits(STALE_NAN);
    let nhcb = |count: u64| Histogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count,
        sum: count as f64 * 0.3,
        positive_spans: vec![span(0, 3)],
        positive_buckets: vec![count as i64, 0, 0],
        custom_values: vec![0.005, 0.25, 1e9, -3.5],
        ..Histogram::default()
    };
    let mut b = HistogramBuilder::new(CounterResetHeader::Unknown);
    b.append(1000, &nhcb(1)).unwrap();
    b.append(2000, &nhcb(2)).unwrap();
    let stale_h = Histogram {
        sum: stale,
        ..Histogram::default()
    };
    assert_eq!(b.appendability(&stale_h), Appendability::Append);
    b.append(3000, &stale_h).unwrap();
    b.append(4000, &stale_h).unwrap();
    // After a stale marker only stale markers fit.
    assert_eq!(
        b.appendability(&nhcb(3)),
        Appendability::NewChunk(CounterResetHeader::Unknown)
    );
    let got: Vec<(i64, Histogram)> = HistogramIter::new(b.bytes()).unwrap().map(Result::unwrap).collect();
    assert_eq!(got[0].1.custom_values, vec![0.005, 0.25, 1e9, -3.5]);
    assert_eq!(got[1].1.count, 2);
    assert_eq!((got[2].0, got[3].0), (3000, 4000));
    assert!(
        got[2..]
            .iter()
            .all(|(_, h)| h.sum.to_bits() == STALE_NAN && h.positive_buckets.is_empty())
    );

    let mut f = FloatHistogramBuilder::new(CounterResetHeader::Unknown);
    f.append(1000, &nhcb(1).to_float()).unwrap();
    f.append(
        2000,
        &FloatHistogram {
            sum: stale,
            ..FloatHistogram::default()
        },
    )
    .unwrap();
    let got: Vec<(i64, FloatHistogram)> = FloatHistogramIter::new(f.bytes())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got[0].1.custom_values, vec![0.005, 0.25, 1e9, -3.5]);
    assert_eq!(got[1].1.sum.to_bits(), STALE_NAN);
}

#[test]
fn appendability_rules() {
    let base = counter_series(2);
    let mut b = HistogramBuilder::new(CounterResetHeader::Unknown);
    b.append(base[0].0, &base[0].1).unwrap();
    let h = base[1].1.clone();
    assert_eq!(b.appendability(&h), Appendability::Append);
    let reset = Histogram { count: 0, ..h.clone() };
    assert_eq!(
        b.appendability(&reset),
        Appendability::NewChunk(CounterResetHeader::CounterReset)
    );
    let mut bucket_down = h.clone();
    bucket_down.positive_buckets[0] = 0;
    assert_eq!(
        b.appendability(&bucket_down),
        Appendability::NewChunk(CounterResetHeader::CounterReset)
    );
    let other_schema = Histogram { schema: 2, ..h.clone() };
    assert_eq!(
        b.appendability(&other_schema),
        Appendability::NewChunk(CounterResetHeader::Unknown)
    );
    let mut new_bucket = h.clone();
    new_bucket.positive_spans[1].length = 3;
    new_bucket.positive_buckets.push(1);
    assert_eq!(
        b.appendability(&new_bucket),
        Appendability::NewChunk(CounterResetHeader::Unknown)
    );
    let hinted = Histogram {
        counter_reset_hint: CounterResetHint::CounterReset,
        ..h.clone()
    };
    assert_eq!(
        b.appendability(&hinted),
        Appendability::NewChunk(CounterResetHeader::CounterReset)
    );
    let gauge = Histogram {
        counter_reset_hint: CounterResetHint::Gauge,
        count: 0,
        ..h.clone()
    };
    assert_eq!(
        b.appendability(&gauge),
        Appendability::NewChunk(CounterResetHeader::Gauge)
    );
    // A gauge chunk takes decreasing values.
    let mut g = HistogramBuilder::new(CounterResetHeader::Unknown);
    g.append(
        1,
        &Histogram {
            counter_reset_hint: CounterResetHint::Gauge,
            ..h.clone()
        },
    )
    .unwrap();
    assert_eq!(g.header(), CounterResetHeader::Gauge);
    assert_eq!(g.appendability(&gauge), Appendability::Append);
    g.append(2, &gauge).unwrap();
    let got: Vec<_> = HistogramIter::new(g.bytes()).unwrap().map(Result::unwrap).collect();
    assert!(got.iter().all(|(_, h)| h.counter_reset_hint == CounterResetHint::Gauge));
    assert_eq!(got[1].1.count, 0);
    // Buckets that do not match the spans are refused.
    let mut bad = h.clone();
    bad.positive_buckets.pop();
    assert_eq!(
        HistogramBuilder::new(CounterResetHeader::Unknown).append(0, &bad),
        Err(ChunkError::Layout)
    );
}

#[test]
fn float_histograms_round_trip() {
    let samples: Vec<(i64, FloatHistogram)> = counter_series(80)
        .into_iter()
        .map(|(t, h)| {
            let mut f = h.to_float();
            f.sum /= 3.0;
            (t, f)
        })
        .collect();
    let mut b = FloatHistogramBuilder::new(CounterResetHeader::CounterReset);
    for (t, h) in &samples {
        assert_eq!(b.appendability(h), Appendability::Append);
        b.append(*t, h).unwrap();
    }
    let got: Vec<(i64, FloatHistogram)> = FloatHistogramIter::new(b.bytes())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), samples.len());
    assert_eq!(got[0].1.counter_reset_hint, CounterResetHint::CounterReset);
    for (k, ((t, h), (gt, gh))) in samples.iter().zip(&got).enumerate() {
        assert_eq!(t, gt);
        let want = FloatHistogram {
            counter_reset_hint: gh.counter_reset_hint,
            ..h.clone()
        };
        assert_eq!(&want, gh, "sample {k}");
    }
    let mut down = samples[79].1.clone();
    down.positive_buckets[1] -= 1.0;
    assert_eq!(
        b.appendability(&down),
        Appendability::NewChunk(CounterResetHeader::CounterReset)
    );
}

#[test]
fn corrupt_histogram_chunks_give_errors() {
    let samples = counter_series(20);
    let mut b = HistogramBuilder::new(CounterResetHeader::Unknown);
    for (t, h) in &samples {
        b.append(*t, h).unwrap();
    }
    let bytes = b.bytes().to_vec();
    for cut in 0..bytes.len() {
        let it = HistogramIter::new(&bytes[..cut]);
        if cut < 3 {
            assert!(it.is_err());
            continue;
        }
        let results: Vec<_> = it.unwrap().collect();
        assert!(results.iter().any(Result::is_err) || results.len() < 20, "cut {cut}");
    }
    assert!(FloatHistogramIter::new(&[0, 5, 0, 0xff]).unwrap().any(|r| r.is_err()));
}
