use std::path::Path;

use super::reader::{intersect, subtract};
use super::*;
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::storage::matches_all;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

/// 60 series over job x instance x an optional label, sorted, with two chunks each.
fn sample_series() -> Vec<IndexSeries> {
    let mut out = Vec::new();
    for job in ["api", "db", "web"] {
        for i in 0..20 {
            let inst = format!("host-{i:02}");
            let mut pairs = vec![("__name__", "up"), ("job", job), ("instance", inst.as_str())];
            if i % 3 == 0 {
                pairs.push(("zone", if i % 2 == 0 { "a" } else { "b" }));
            }
            out.push(IndexSeries {
                labels: labels(&pairs),
                chunks: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    for (i, s) in out.iter_mut().enumerate() {
        let base = 8 + i as u64 * 100;
        s.chunks = vec![
            ChunkMeta {
                chunk_ref: base,
                mint: -1000 + i as i64,
                maxt: 5000,
            },
            ChunkMeta {
                chunk_ref: base + 50,
                mint: 5001,
                maxt: 7_200_000,
            },
        ];
    }
    out
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

#[test]
fn series_round_trip_and_label_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series = sample_series();
    let size = write_index(&path, &series).unwrap();
    let r = IndexReader::open(&path).unwrap();
    assert_eq!(r.size(), size);
    let all = r.all_postings().unwrap();
    assert_eq!(all.len(), series.len());
    // IDs are increasing offsets / 16, so sorted IDs give series in label order.
    for (id, want) in all.iter().zip(&series) {
        let (l, chunks) = r.series(*id).unwrap();
        assert_eq!(&l, &want.labels);
        assert_eq!(chunks, want.chunks);
        // Ranges before, inside, across and after the chunks keep exactly the chunks overlapping them.
        let bounds: Vec<i64> = chunks
            .iter()
            .flat_map(|c| [c.mint - 1, c.mint, c.maxt, c.maxt + 1])
            .collect();
        for &from in &bounds {
            for &to in bounds.iter().filter(|&&to| to >= from) {
                let (l, kept) = r.series_in_range(*id, from, to).unwrap();
                assert_eq!(&l, &want.labels);
                let want: Vec<_> = chunks
                    .iter()
                    .copied()
                    .filter(|c| c.maxt >= from && c.mint <= to)
                    .collect();
                assert_eq!(kept, want, "[{from}, {to}]");
            }
        }
    }
    assert_eq!(r.label_names(), vec!["__name__", "instance", "job", "zone"]);
    assert_eq!(r.label_values("job"), vec!["api", "db", "web"]);
    assert_eq!(r.label_values("zone"), vec!["a", "b"]);
    assert!(r.label_values("missing").is_empty());
    let syms: Vec<&str> = r.symbols().collect();
    let mut sorted = syms.clone();
    sorted.sort();
    assert_eq!(syms, sorted);
    assert!(syms.contains(&"host-07"));
}

#[test]
fn postings_for_matchers_agree_with_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series = sample_series();
    write_index(&path, &series).unwrap();
    let r = IndexReader::open(&path).unwrap();
    let cases: Vec<Vec<Matcher>> = vec![
        vec![],
        vec![matcher(MatchOp::Equal, "job", "db")],
        vec![
            matcher(MatchOp::Equal, "job", "db"),
            matcher(MatchOp::Equal, "zone", "a"),
        ],
        vec![matcher(MatchOp::NotEqual, "job", "db")],
        vec![matcher(MatchOp::Equal, "zone", "")],
        vec![matcher(MatchOp::NotEqual, "zone", "")],
        vec![
            matcher(MatchOp::Regex, "instance", "host-0[1-4]"),
            matcher(MatchOp::NotRegex, "job", "a.*"),
        ],
        vec![matcher(MatchOp::Regex, "zone", ".*")],
        vec![matcher(MatchOp::Regex, "zone", "a|")],
        vec![matcher(MatchOp::Equal, "job", "nope")],
        vec![
            matcher(MatchOp::Equal, "__name__", "up"),
            matcher(MatchOp::NotRegex, "instance", ".*1.*"),
        ],
    ];
    let all = r.all_postings().unwrap();
    for ms in cases {
        let got: Vec<Labels> = r
            .postings_for_matchers(&ms)
            .unwrap()
            .into_iter()
            .map(|id| r.series(id).unwrap().0)
            .collect();
        let want: Vec<Labels> = series
            .iter()
            .filter(|s| matches_all(&s.labels, &ms))
            .map(|s| s.labels.clone())
            .collect();
        assert_eq!(got, want, "matchers {ms:?}");
        assert!(got.len() <= all.len());
    }
}

#[test]
#[allow(clippy::type_complexity)]
fn postings_set_operations() {
    type Case<'a> = (&'a [u32], &'a [u32], &'a [u32], &'a [u32]);
    let cases: &[Case<'_>] = &[
        (&[1, 3, 5, 7], &[3, 4, 7, 9], &[3, 7], &[1, 5]),
        (&[], &[1, 2], &[], &[]),
        (&[1, 2, 3], &[], &[], &[1, 2, 3]),
        (&[2, 4, 6, 8, 10, 12, 14, 16], &[16], &[16], &[2, 4, 6, 8, 10, 12, 14]),
    ];
    for (a, b, inter, sub) in cases {
        assert_eq!(intersect(a, b), *inter, "{a:?} & {b:?}");
        assert_eq!(intersect(b, a), *inter, "{b:?} & {a:?}");
        assert_eq!(subtract(a, b), *sub, "{a:?} - {b:?}");
    }
}

#[test]
fn corruption_and_bad_input_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series = sample_series();
    write_index(&path, &series).unwrap();
    let good = std::fs::read(&path).unwrap();

    let mut bad_magic = good.clone();
    bad_magic[0] = 0;
    assert!(matches!(
        IndexReader::from_bytes(Path::new("i"), bad_magic),
        Err(IndexError::BadMagic { .. })
    ));
    let mut bad_version = good.clone();
    bad_version[4] = 1;
    assert!(matches!(
        IndexReader::from_bytes(Path::new("i"), bad_version),
        Err(IndexError::UnsupportedVersion { version: 1, .. })
    ));
    let mut bad_toc = good.clone();
    let n = bad_toc.len();
    bad_toc[n - 10] ^= 0xff;
    assert!(matches!(
        IndexReader::from_bytes(Path::new("i"), bad_toc),
        Err(IndexError::Checksum { .. })
    ));
    // A flipped byte inside a series entry fails that series' checksum.
    let r = IndexReader::from_bytes(Path::new("i"), good.clone()).unwrap();
    let id = r.all_postings().unwrap()[3];
    let mut bad_series = good.clone();
    bad_series[id as usize * 16 + 3] ^= 0x40;
    let r = IndexReader::from_bytes(Path::new("i"), bad_series).unwrap();
    assert!(r.series(id).is_err());
    assert!(IndexReader::from_bytes(Path::new("i"), good[..20].to_vec()).is_err());

    let mut unsorted = series.clone();
    unsorted.swap(0, 1);
    assert!(matches!(
        write_index(&dir.path().join("x"), &unsorted),
        Err(IndexError::InvalidInput { .. })
    ));
}

#[test]
fn empty_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &[]).unwrap();
    let r = IndexReader::open(&path).unwrap();
    assert!(r.all_postings().unwrap().is_empty());
    assert!(r.label_names().is_empty());
    assert!(
        r.postings_for_matchers(&[matcher(MatchOp::Equal, "a", "b")])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series: Vec<IndexSeries> = sample_series().into_iter().take(6).collect();
    write_index(&path, &series).unwrap();
    let good = std::fs::read(&path).unwrap();
    let matchers = [Matcher::new(MatchOp::Regex, "job", "a.*|db").unwrap()];
    // Every byte flipped in turn, and the file cut at every length: reading fails or succeeds, never panics.
    let mut variants: Vec<Vec<u8>> = (0..good.len())
        .map(|i| {
            let mut b = good.clone();
            b[i] ^= 0xa5;
            b
        })
        .collect();
    variants.extend((0..good.len()).step_by(7).map(|n| good[..n].to_vec()));
    let mut opened = 0;
    for b in variants {
        if let Ok(r) = IndexReader::from_bytes(Path::new("i"), b) {
            opened += 1;
            for id in r.all_postings().unwrap_or_default() {
                let _ = r.series(id);
            }
            let _ = r.postings_for_matchers(&matchers);
            let _ = r.label_values("job");
        }
    }
    // Damage inside series entries is only found when they are read: some variants open.
    assert!(opened > 0);
}
