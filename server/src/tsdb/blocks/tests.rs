use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::model::histogram::{CounterResetHint, Histogram, Span};
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::storage::{Appendable, Queryable, Value, collect_samples};
use crate::tsdb::block::BlockCompaction;
use crate::tsdb::chunks::encode_samples;
use crate::tsdb::compact::BlockWriter;
use crate::tsdb::{Db, Options};

const MIN: i64 = 60_000;
const H: i64 = 3_600_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

/// Samples by labels; floats as bits, histograms by count and sum.
type Dump = BTreeMap<String, Vec<(i64, String)>>;

fn render(v: &Value) -> String {
    match v {
        Value::Float(f) => format!("f{:x}", f.to_bits()),
        Value::Histogram(h) => format!("h{}/{}/{:?}", h.count, h.sum, h.positive_buckets),
        Value::FloatHistogram(h) => format!("fh{}/{}", h.count, h.sum),
    }
}

fn dump_range(db: &Db, mint: i64, maxt: i64) -> Dump {
    let q = db.querier(mint, maxt).unwrap();
    let mut out = Dump::new();
    for s in q.select(true, None, &[]).unwrap() {
        let mut it = s.iter();
        let samples = collect_samples(&mut *it);
        assert!(it.err().is_none(), "{:?}", it.err());
        let ts: Vec<i64> = samples.iter().map(|(t, _)| *t).collect();
        assert!(
            ts.windows(2).all(|w| w[0] < w[1]),
            "{}: samples not strictly increasing",
            s.labels
        );
        out.insert(
            s.labels.to_string(),
            samples.iter().map(|(t, v)| (*t, render(v))).collect(),
        );
    }
    out
}

fn dump(db: &Db) -> Dump {
    dump_range(db, i64::MIN, i64::MAX)
}

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

/// Appends `n` float series and one histogram series every 15s in `[from, to)`.
fn ingest(db: &Db, n: usize, from: i64, to: i64) {
    let mut refs = vec![0u64; n + 1];
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        for (i, r) in refs.iter_mut().enumerate().take(n) {
            let l = labels(&[
                ("__name__", "m"),
                ("i", &i.to_string()),
                ("job", if i % 2 == 0 { "a" } else { "b" }),
            ]);
            *r = app.append(*r, &l, t, t as f64 / 1000.0 + i as f64).unwrap();
        }
        let hl = labels(&[("__name__", "h")]);
        refs[n] = app.append_histogram(refs[n], &hl, t, &hist(t / 15_000)).unwrap();
        app.commit().unwrap();
        t += 15_000;
    }
}

fn opts(block: Duration) -> Options {
    Options {
        min_block_duration: block,
        max_block_duration: block * 9,
        ..Options::default()
    }
}

#[test]
fn head_is_cut_into_blocks_and_queries_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    ingest(&db, 12, 0, 40 * MIN);
    let before = dump(&db);
    let stats = db.compact().unwrap();
    // The head spanned 40m with 10m blocks: it is cut until it spans at most 15m.
    assert_eq!(stats.head_blocks.len(), 3, "{stats:?}");
    assert!(db.head().min_time() >= 30 * MIN);
    let blocks = db.blocks();
    assert_eq!(blocks.len(), 3);
    for (i, b) in blocks.iter().enumerate() {
        let m = b.meta();
        assert_eq!(
            (m.min_time, m.max_time),
            (i as i64 * 10 * MIN, (i as i64 + 1) * 10 * MIN)
        );
        assert_eq!(m.compaction.level, 1);
        assert_eq!(m.stats.num_series, 13);
        assert_eq!(m.stats.num_samples, 13 * 40);
        assert_eq!(m.stats.num_histogram_samples, 40);
    }
    assert_eq!(dump(&db), before);
    // Ranges within one block, across a block and the head.
    let part = dump_range(&db, 5 * MIN, 32 * MIN);
    for (k, samples) in &part {
        let all: Vec<_> = before[k]
            .iter()
            .filter(|(t, _)| (5 * MIN..=32 * MIN).contains(t))
            .cloned()
            .collect();
        assert_eq!(samples, &all, "{k}");
    }
    let m = db.querier(0, 9 * MIN).unwrap();
    assert_eq!(m.label_values("job", &[]).unwrap(), vec!["a", "b"]);
    assert_eq!(m.label_names(&[]).unwrap(), vec!["__name__", "i", "job"]);
    let only_b = m
        .select(true, None, &[Matcher::new(MatchOp::Equal, "job", "b").unwrap()])
        .unwrap();
    assert_eq!(only_b.len(), 6);

    // Restart: blocks are loaded, the WAL replays only the head's part, nothing is doubled.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    assert_eq!(db.blocks().len(), 3);
    assert_eq!(dump(&db), before);
    // Samples before the newest block's end are refused.
    let mut app = db.appender();
    assert!(app.append(0, &labels(&[("__name__", "late")]), 5 * MIN, 1.0).is_err());
}

#[test]
fn blocks_are_merged_into_larger_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    ingest(&db, 4, 0, 75 * MIN);
    let before = dump(&db);
    let stats = db.compact().unwrap();
    // Six 10m blocks are cut; the first three fill a 30m range and are merged, the next three wait until a
    // newer block exists.
    assert_eq!(stats.head_blocks.len(), 6, "{stats:?}");
    assert_eq!(stats.merged_blocks.len(), 1, "{stats:?}");
    let metas: Vec<_> = db.blocks().iter().map(|b| b.meta()).collect();
    assert_eq!(metas.len(), 4);
    assert_eq!((metas[0].min_time, metas[0].max_time), (0, 30 * MIN));
    assert_eq!(metas[0].compaction.level, 2);
    assert_eq!(metas[0].compaction.parents.len(), 3);
    assert_eq!(metas[0].compaction.sources.len(), 3);
    assert_eq!(dump(&db), before);
    let on_disk = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().len() == 26)
        .count();
    assert_eq!(on_disk, 4, "parents are deleted");
    assert!(db.metrics().blocks.compactions.get() >= 7.0);
}

/// Writes a block with the given float samples per series name.
fn write_block(dir: &Path, mint: i64, maxt: i64, series: &[(&str, Vec<(i64, f64)>)]) {
    let mut series: Vec<_> = series.iter().map(|(n, s)| (labels(&[("__name__", n)]), s)).collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let mut w = BlockWriter::new(dir, mint, maxt).unwrap();
    for (l, samples) in series {
        let s: Vec<(i64, Value)> = samples.iter().map(|(t, v)| (*t, Value::Float(*v))).collect();
        w.add_series(l, &encode_samples(&s).unwrap()).unwrap();
    }
    w.finish(BlockCompaction {
        level: 1,
        ..BlockCompaction::default()
    })
    .unwrap()
    .unwrap();
}

#[test]
fn overlapping_blocks_are_merged_at_query_time_and_by_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let a: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
    let b: Vec<(i64, f64)> = (50..150).map(|i| (i * 1000 + 500, -(i as f64))).collect();
    write_block(dir.path(), 0, 100_000, &[("x", a.clone()), ("only_a", a.clone())]);
    write_block(dir.path(), 50_000, 150_000, &[("x", b.clone()), ("only_b", b.clone())]);
    let mut want_x: Vec<(i64, f64)> = a.iter().chain(&b).copied().collect();
    want_x.sort_by_key(|s| s.0);
    let db = Db::open(dir.path(), opts(Duration::from_secs(7200))).unwrap();
    assert_eq!(db.blocks().len(), 2);
    let check = |db: &Db| {
        let d = dump(db);
        let x: Vec<(i64, String)> = want_x.iter().map(|(t, v)| (*t, render(&Value::Float(*v)))).collect();
        assert_eq!(d["{__name__=\"x\"}"], x);
        assert_eq!(d["{__name__=\"only_a\"}"].len(), 100);
        assert_eq!(d["{__name__=\"only_b\"}"].len(), 100);
    };
    check(&db);
    let stats = db.compact().unwrap();
    assert_eq!(stats.merged_blocks.len(), 1);
    let metas: Vec<_> = db.blocks().iter().map(|b| b.meta()).collect();
    assert_eq!(metas.len(), 1);
    assert_eq!((metas[0].min_time, metas[0].max_time), (0, 150_000));
    assert_eq!(db.metrics().blocks.vertical_compactions.get(), 1.0);
    check(&db);
}

#[test]
fn retention_deletes_old_blocks_by_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let samples: Vec<(i64, f64)> = (0..120).map(|j| (i * 2 * H + j * 60_000, j as f64)).collect();
        write_block(dir.path(), i * 2 * H, (i + 1) * 2 * H, &[("s", samples)]);
    }
    // Time: the newest block ends at 12h; blocks ending more than 5h before that go.
    let o = Options {
        retention: Duration::from_secs(5 * 3600),
        max_block_duration: Duration::from_secs(2 * 3600),
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(db.blocks().len(), 6);
    db.compact().unwrap();
    let kept: Vec<i64> = db.blocks().iter().map(|b| b.meta().min_time).collect();
    assert_eq!(kept, vec![6 * H, 8 * H, 10 * H]);
    assert_eq!(db.metrics().blocks.time_retentions.get(), 1.0);
    let one_block = db.blocks()[0].size();
    db.close().unwrap();

    // Size: room for the head and two blocks.
    let head = super::dir_size(&dir.path().join("wal")) + super::dir_size(&dir.path().join("chunks_head"));
    let o = Options {
        retention: Duration::ZERO,
        retention_size: head + 2 * one_block + one_block / 2,
        max_block_duration: Duration::from_secs(2 * 3600),
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    db.compact().unwrap();
    let kept: Vec<i64> = db.blocks().iter().map(|b| b.meta().min_time).collect();
    assert_eq!(kept, vec![8 * H, 10 * H]);
    assert_eq!(db.metrics().blocks.size_retentions.get(), 1.0);
    assert_eq!(db.metrics().blocks.blocks_loaded.get(), 2.0);
    assert_eq!(db.metrics().blocks.lowest_timestamp.get(), (8 * H) as f64);
}

#[test]
fn deletions_hide_samples_in_blocks_and_head_and_cleanup_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    ingest(&db, 4, 0, 40 * MIN);
    db.compact().unwrap();
    let before = dump(&db);
    let sel = [Matcher::new(MatchOp::Equal, "i", "1").unwrap()];
    // From inside the first block to inside the head.
    let n = db.delete(5 * MIN, 35 * MIN, &sel).unwrap();
    assert!(n >= 2, "{n}");
    let after = dump(&db);
    let key = "{__name__=\"m\", i=\"1\", job=\"b\"}";
    let want: Vec<_> = before[key]
        .iter()
        .filter(|(t, _)| !(5 * MIN..=35 * MIN).contains(t))
        .cloned()
        .collect();
    assert_eq!(after[key], want);
    for (k, v) in &before {
        if k != key {
            assert_eq!(&after[k], v, "{k} untouched");
        }
    }
    // Tombstones are on disk and in the WAL: they survive a restart, in the blocks and in the head.
    let with_stones = db.blocks().iter().filter(|b| !b.tombstones().is_empty()).count();
    assert_eq!(with_stones, 3);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    assert_eq!(dump(&db), after);
    let blocks_only = dump_range(&db, 0, 30 * MIN - 1);
    assert!(blocks_only[key].iter().all(|(t, _)| *t < 5 * MIN));
    // Cleaning rewrites the blocks without the deleted samples.
    let old: Vec<_> = db.blocks().iter().map(|b| b.meta().ulid).collect();
    let new = db.clean_tombstones().unwrap();
    assert_eq!(new.len(), 3);
    let now: Vec<_> = db.blocks().iter().map(|b| b.meta().ulid).collect();
    assert!(now.iter().all(|u| !old.contains(u)));
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    assert_eq!(dump_range(&db, 0, 30 * MIN - 1), blocks_only);
    // Deleting a whole series removes it.
    db.delete(
        i64::MIN,
        i64::MAX,
        &[Matcher::new(MatchOp::Equal, "__name__", "h").unwrap()],
    )
    .unwrap();
    assert!(!dump(&db).contains_key("{__name__=\"h\"}"));
}

#[test]
fn snapshot_holds_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(Duration::from_secs(600))).unwrap();
    ingest(&db, 5, 0, 40 * MIN);
    db.compact().unwrap();
    let before = dump(&db);
    let snap = tempfile::tempdir().unwrap();
    let ids = db.snapshot(&snap.path().join("s1"), true).unwrap();
    assert_eq!(ids.len(), 4);
    let copy = Db::open(snap.path().join("s1"), opts(Duration::from_secs(600))).unwrap();
    assert_eq!(dump(&copy), before);
    let without_head = db.snapshot(&snap.path().join("s2"), false).unwrap();
    assert_eq!(without_head.len(), 3);
    let arc = Arc::new(db);
    assert_eq!(arc.blocks().len(), 3);
}
