use super::*;

fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    // Sizes from empty to several pages; content compressible or not depending on the seed.
    let mut x = seed;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = match i % 5 {
                0 => 0,
                1 => (x % 100) as usize,
                2 => PAGE_SIZE - RECORD_HEADER_SIZE,
                3 => 3 * PAGE_SIZE + (x % 1000) as usize,
                _ => (x % 5000) as usize,
            };
            (0..len)
                .map(|j| {
                    if seed % 2 == 0 {
                        (j % 7) as u8
                    } else {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (x >> 56) as u8
                    }
                })
                .collect()
        })
        .collect()
}

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, path) in list_segments(dir).unwrap() {
        read_segment_records(&path, Some(i), |r| {
            out.push(r.to_vec());
            Ok(())
        })
        .unwrap();
    }
    out
}

#[test]
fn round_trip_across_pages_segments_and_compression() {
    for (compress, seed, segment_size) in [
        (false, 1, DEFAULT_SEGMENT_SIZE),
        (true, 2, DEFAULT_SEGMENT_SIZE),
        (true, 3, 4 * PAGE_SIZE),
        (true, 6, 4 * PAGE_SIZE),
        (false, 4, 4 * PAGE_SIZE),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let recs = records(40, seed);
        let mut w = Wal::open(
            dir.path(),
            segment_size,
            compress,
            SyncPolicy::SegmentEnd,
            WalMetrics::unregistered(),
        )
        .unwrap();
        for chunk in recs.chunks(3) {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            w.log(&refs).unwrap();
        }
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), recs, "compress={compress} seed={seed}");
        let segs = list_segments(dir.path()).unwrap();
        if segment_size == 4 * PAGE_SIZE && seed % 2 == 1 {
            assert!(segs.len() > 3, "small segments must be cut: {}", segs.len());
            // Only the last page of a segment may be short; completed segments are whole pages.
            for (_, p) in &segs[..segs.len() - 1] {
                assert_eq!(fs::metadata(p).unwrap().len() % PAGE_SIZE as u64, 0);
            }
        }
        // Reopening starts a new segment after the last one.
        let w = Wal::open(
            dir.path(),
            segment_size,
            compress,
            SyncPolicy::SegmentEnd,
            WalMetrics::unregistered(),
        )
        .unwrap();
        assert_eq!(w.current_segment(), segs.last().unwrap().0 + 1);
    }
}

#[test]
fn fragment_headers_follow_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(
        dir.path(),
        DEFAULT_SEGMENT_SIZE,
        false,
        SyncPolicy::EveryCommit,
        WalMetrics::unregistered(),
    )
    .unwrap();
    w.log(&[b"hello"]).unwrap();
    let big = vec![7u8; PAGE_SIZE];
    w.log(&[&big]).unwrap();
    w.close().unwrap();
    let bytes = fs::read(dir.path().join("00000000")).unwrap();
    assert_eq!(bytes[0], REC_FULL);
    assert_eq!(&bytes[1..3], &5u16.to_be_bytes());
    assert_eq!(&bytes[3..7], &crc32c::crc32c(b"hello").to_be_bytes());
    assert_eq!(&bytes[7..12], b"hello");
    // The big record starts right after, as a first fragment filling the page, and ends on the next page.
    assert_eq!(bytes[12], REC_FIRST);
    let first_len = usize::from(u16::from_be_bytes([bytes[13], bytes[14]]));
    assert_eq!(12 + RECORD_HEADER_SIZE + first_len, PAGE_SIZE);
    assert_eq!(bytes[PAGE_SIZE], REC_LAST);
    let metrics_dir = tempfile::tempdir().unwrap();
    let m = WalMetrics::unregistered();
    let mut w = Wal::open(
        metrics_dir.path(),
        DEFAULT_SEGMENT_SIZE,
        true,
        SyncPolicy::EveryCommit,
        m.clone(),
    )
    .unwrap();
    w.log(&[&vec![1u8; 1000]]).unwrap();
    let bytes = fs::read(metrics_dir.path().join("00000000")).unwrap();
    assert_eq!(
        bytes[0],
        REC_FULL | SNAPPY_MASK,
        "compressible record is snappy-compressed"
    );
    let mut fams = Vec::new();
    exposition::registry::Collector::collect(&m.fsync_duration, &mut fams).unwrap();
    assert!(
        matches!(fams[0].metrics[0].value, exposition::Value::Summary { count: Some(c), .. } if c >= 1.0),
        "fsyncs are timed"
    );
}

#[test]
fn corruption_is_located_at_the_last_good_record() {
    struct Case {
        name: &'static str,
        damage: fn(&mut Vec<u8>, &[u64]),
        /// Records readable afterwards.
        good: usize,
    }
    let cases = [
        Case {
            name: "flipped byte in the third record",
            damage: |b, starts| b[starts[2] as usize + 10] ^= 0x40,
            good: 2,
        },
        Case {
            name: "truncated in the middle of the last record",
            damage: |b, starts| b.truncate(starts[4] as usize + 20),
            good: 4,
        },
        Case {
            name: "truncated inside a multi-page record",
            damage: |b, starts| b.truncate(starts[3] as usize + PAGE_SIZE + 100),
            good: 3,
        },
        Case {
            name: "garbage type byte",
            damage: |b, starts| b[starts[1] as usize] = 0xE1,
            good: 1,
        },
        Case {
            name: "clean end",
            damage: |_, _| {},
            good: 5,
        },
    ];
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(
            dir.path(),
            DEFAULT_SEGMENT_SIZE,
            false,
            SyncPolicy::SegmentEnd,
            WalMetrics::unregistered(),
        )
        .unwrap();
        let recs: Vec<Vec<u8>> = vec![
            vec![1; 100],
            vec![2; 200],
            vec![3; 300],
            vec![4; 2 * PAGE_SIZE],
            vec![5; 500],
        ];
        let path = dir.path().join("00000000");
        let mut starts = Vec::new();
        for r in &recs {
            starts.push(fs::metadata(&path).unwrap().len());
            w.log(&[r]).unwrap();
        }
        w.close().unwrap();
        let mut bytes = fs::read(&path).unwrap();
        (case.damage)(&mut bytes, &starts);
        fs::write(&path, &bytes).unwrap();
        let mut got = Vec::new();
        let res = read_segment_records(&path, Some(0), |r| {
            got.push(r.to_vec());
            Ok(())
        });
        assert_eq!(got, recs[..case.good], "{}", case.name);
        match res {
            Ok(()) => assert_eq!(case.good, recs.len(), "{}: corruption not detected", case.name),
            Err(WalError::Corrupt(c)) => {
                assert_eq!(c.offset, starts[case.good], "{}: {}", case.name, c.reason);
                assert_eq!(c.segment, Some(0));
            }
            Err(e) => panic!("{}: {e}", case.name),
        }
    }
}
