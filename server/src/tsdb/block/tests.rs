//! Block querier against a brute-force reading of the same samples: which series are selected and what their
//! iterators return, for ranges inside, across and between chunks, with and without deletions.

use std::sync::Arc;

use super::{Block, BlockCompaction};
use crate::model::histogram::{CounterResetHint, Histogram, Span};
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::storage::{Querier, Value, ValueType, collect_samples};
use crate::tsdb::chunks::encode_samples;
use crate::tsdb::compact::BlockWriter;
use crate::tsdb::tombstones::{Interval, is_deleted};

fn hist(i: i64) -> Histogram {
    let c = (i as u64 % 50) * 2 + 1;
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        zero_count: 1,
        count: c,
        sum: c as f64 * 0.25,
        positive_spans: vec![Span { offset: 1, length: 2 }],
        positive_buckets: vec![(c as i64 - 1) / 2, 0],
        ..Histogram::default()
    }
}

/// Series by name: `dense` every 10 (several chunks), `gap` with a long gap inside one chunk, `hist` histograms.
fn samples() -> Vec<(&'static str, Vec<(i64, Value)>)> {
    let dense = (0..400).map(|i| (i * 10, Value::Float(i as f64))).collect();
    let gap = [0, 10, 20, 3000, 3010]
        .iter()
        .map(|&t| (t, Value::Float(t as f64 / 2.0)))
        .collect();
    let hist = (0..300)
        .map(|i| (i * 10 + 5, Value::Histogram(Arc::new(hist(i)))))
        .collect();
    vec![("dense", dense), ("gap", gap), ("hist", hist)]
}

/// A sample as text: floats by bits, histograms by count and sum (the decoded counter-reset hint may differ).
fn render((t, v): &(i64, Value)) -> (i64, String) {
    match v {
        Value::Float(f) => (*t, format!("f{:x}", f.to_bits())),
        Value::Histogram(h) => (*t, format!("h{}/{}", h.count, h.sum)),
        Value::FloatHistogram(h) => (*t, format!("fh{}/{}", h.count, h.sum)),
    }
}

fn open_block(dir: &std::path::Path) -> Arc<Block> {
    let mut w = BlockWriter::new(dir, 0, 4000).unwrap();
    for (name, s) in samples() {
        w.add_series(
            [("__name__", name)].into_iter().collect::<Labels>(),
            &encode_samples(&s).unwrap(),
        )
        .unwrap();
    }
    let meta = w
        .finish(BlockCompaction {
            level: 1,
            ..BlockCompaction::default()
        })
        .unwrap()
        .unwrap();
    Arc::new(Block::open(&dir.join(meta.ulid.to_string())).unwrap())
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()]
}

/// A deletion applied before the queries and the query ranges.
type Case = (Option<(i64, i64)>, &'static [(i64, i64)]);

#[test]
fn selects_and_iterates_as_brute_force() {
    let cases: &[Case] = &[
        (
            None,
            &[
                (0, 4000),
                (25, 2999),
                (30, 40),
                (21, 29),
                (1199, 1201),
                (3010, 3010),
                (5000, 6000),
            ],
        ),
        (Some((0, 20)), &[(0, 20), (0, 2999), (15, 3005), (3000, 3000)]),
        (Some((3000, 3010)), &[(2990, 3020), (0, 20), (21, 4000)]),
        (Some((100, 2500)), &[(150, 2000), (90, 2600), (0, 4000)]),
    ];
    for (deletion, ranges) in cases {
        let dir = tempfile::tempdir().unwrap();
        let block = open_block(dir.path());
        let deleted: Vec<Interval> = deletion.iter().map(|&(mint, maxt)| Interval { mint, maxt }).collect();
        if let Some((mint, maxt)) = deletion {
            block.delete(*mint, *maxt, &all()).unwrap();
        }
        for &(mint, maxt) in *ranges {
            let want: Vec<(String, Vec<(i64, String)>)> = samples()
                .into_iter()
                .map(|(n, s)| {
                    let kept = s
                        .into_iter()
                        .filter(|(t, _)| *t >= mint && *t <= maxt && !is_deleted(&deleted, *t))
                        .map(|s| render(&s))
                        .collect::<Vec<_>>();
                    (n.to_string(), kept)
                })
                .filter(|(_, s)| !s.is_empty())
                .collect();
            let q = block.querier(mint, maxt);
            let got: Vec<(String, Vec<(i64, String)>)> = q
                .select(true, None, &all())
                .unwrap()
                .iter()
                .map(|s| {
                    let mut it = s.iter();
                    let v = collect_samples(&mut *it).iter().map(render).collect();
                    assert!(it.err().is_none());
                    (s.labels.metric_name().unwrap_or("").to_string(), v)
                })
                .collect();
            assert_eq!(got, want, "deleted {deletion:?}, range [{mint}, {maxt}]");
            let names = q.label_values("__name__", &all()).unwrap();
            let want_names: Vec<String> = want.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(
                names, want_names,
                "label values, deleted {deletion:?}, range [{mint}, {maxt}]"
            );
        }
    }
}

#[test]
fn seek_moves_across_chunks_and_stays_put_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let block = open_block(dir.path());
    block.delete(2000, 2100, &all()).unwrap();
    let series = block.querier(500, 3500).select(true, None, &all()).unwrap();
    let dense = series.iter().find(|s| s.labels.metric_name() == Some("dense")).unwrap();
    let mut it = dense.iter();
    // (seek target or None for next, expected kind, expected timestamp)
    let steps: &[(Option<i64>, ValueType, i64)] = &[
        (Some(0), ValueType::Float, 500),
        (Some(1203), ValueType::Float, 1210),
        (Some(5), ValueType::Float, 1210),
        (None, ValueType::Float, 1220),
        (Some(2000), ValueType::Float, 2110),
        (Some(3990), ValueType::None, i64::MIN),
        (None, ValueType::None, i64::MIN),
    ];
    for (i, &(target, kind, t)) in steps.iter().enumerate() {
        let got = match target {
            Some(x) => it.seek(x),
            None => it.next(),
        };
        assert_eq!((got, it.at_t()), (kind, t), "step {i}");
        if kind == ValueType::Float {
            assert_eq!(it.at(), (t, t as f64 / 10.0), "step {i}");
        }
    }
    let h = series.iter().find(|s| s.labels.metric_name() == Some("hist")).unwrap();
    let mut it = h.iter();
    assert_eq!(it.seek(1000), ValueType::Histogram);
    let (t, got) = it.at_histogram();
    assert_eq!((t, got.count, got.sum), (1005, hist(100).count, hist(100).sum));
    let (t, got) = it.at_float_histogram();
    assert_eq!((t, got.count, got.sum), (1005, hist(100).count as f64, hist(100).sum));
}
