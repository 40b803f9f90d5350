use std::sync::atomic::AtomicBool;

use super::*;
use crate::model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use crate::model::matcher::{MatchOp, Matcher};
use crate::storage::mem::MemStorage;
use crate::storage::{AppendError, Appendable, Appender, Querier, Queryable, Storage, Value, collect_samples};

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

fn open(dir: &Path) -> Head {
    Head::open(dir, HeadOptions::default(), TsdbMetrics::new()).unwrap()
}

/// Every series and its samples (value bits), as a storage returns them.
pub(crate) fn dump(q: &dyn crate::storage::Querier, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, u64)>)> {
    q.select(true, None, matchers)
        .unwrap()
        .into_iter()
        .map(|s| {
            let mut it = s.iter();
            let samples = collect_samples(&mut *it)
                .into_iter()
                .map(|(t, v)| match v {
                    Value::Float(f) => (t, f.to_bits()),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert!(it.err().is_none());
            drop(it);
            (s.labels, samples)
        })
        .collect()
}

impl Appendable for Head {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(Head::appender(self))
    }
}

impl Queryable for Head {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn crate::storage::Querier>, crate::storage::StorageError> {
        Ok(Box::new(Head::querier(self, mint, maxt)))
    }
}

impl Storage for Head {
    fn start_time(&self) -> i64 {
        self.min_time()
    }
}

#[test]
fn chunks_are_cut_at_120_samples_within_the_chunk_range() {
    let dir = tempfile::tempdir().unwrap();
    let head = open(dir.path());
    let l = labels(&[("__name__", "x")]);
    let mut r = 0;
    // 15s scrapes over 4h: 480 samples per 2h range.
    for i in 0..960 {
        let mut app = head.appender();
        r = app.add(r, &l, i * 15_000, i as f64).unwrap();
        app.commit_batch().unwrap();
    }
    let s = head.inner.series_by_ref(r).unwrap();
    let st = s.lock();
    let mut counts = Vec::new();
    for c in &st.mmapped {
        let (_, data) = head.inner.mapper.read_chunk(c.chunk_ref).unwrap();
        let chunk = crate::tsdb::chunkenc::XorChunk::from_bytes(data).unwrap();
        counts.push(chunk.num_samples());
        // No chunk crosses a 2h boundary.
        assert_eq!(c.mint / 7_200_000, c.maxt / 7_200_000, "{c:?}");
    }
    counts.push(st.head.as_ref().unwrap().num_samples());
    assert_eq!(counts, [120; 8]);
    drop(st);
    // Irregular rate: never more than twice the target in one chunk. (Starting after x's samples: samples more
    // than half a chunk range older than the head's newest are out of bounds.)
    let l2 = labels(&[("__name__", "y")]);
    let mut r2 = 0;
    let base = 960 * 15_000;
    for i in 0..2000 {
        let mut app = head.appender();
        let t = base
            + if i < 40 {
                i * 60_000
            } else {
                40 * 60_000 + (i - 40) * 100
            };
        r2 = app.add(r2, &l2, t, 1.0).unwrap();
        app.commit_batch().unwrap();
    }
    let s = head.inner.series_by_ref(r2).unwrap();
    let st = s.lock();
    for c in &st.mmapped {
        let (_, data) = head.inner.mapper.read_chunk(c.chunk_ref).unwrap();
        assert!(crate::tsdb::chunkenc::XorChunk::from_bytes(data).unwrap().num_samples() <= 240);
    }
    assert_eq!(head.metrics().head.chunks.get() as usize, 8 + st.num_chunks());
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Append(&'static str, i64, f64),
    Commit,
    Rollback,
}

fn outcome(r: Result<u64, AppendError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(AppendError::OutOfOrder) => "out of order",
        Err(AppendError::DuplicateTimestamp) => "duplicate",
        Err(AppendError::InvalidLabels { .. }) => "invalid labels",
        Err(AppendError::OutOfBounds) => "out of bounds",
        Err(_) => "other",
    }
}

#[test]
fn append_rules_match_mem_storage() {
    use Op::*;
    let scripts: &[(&str, &[Op])] = &[
        ("in order", &[Append("a", 1, 1.0), Append("a", 2, 2.0), Commit]),
        ("older in batch", &[Append("a", 10, 1.0), Append("a", 5, 2.0), Commit]),
        (
            "older than committed",
            &[
                Append("a", 10, 1.0),
                Commit,
                Append("a", 9, 1.0),
                Append("a", 11, 1.0),
                Commit,
            ],
        ),
        (
            "same timestamp, same value",
            &[
                Append("a", 10, 1.0),
                Commit,
                Append("a", 10, 1.0),
                Append("a", 10, 1.0),
                Commit,
            ],
        ),
        (
            "same timestamp, other value",
            &[
                Append("a", 10, 1.0),
                Commit,
                Append("a", 10, 2.0),
                Append("a", 10, f64::NAN),
                Commit,
            ],
        ),
        (
            "duplicate within batch",
            &[Append("a", 10, 1.0), Append("a", 10, 2.0), Append("a", 10, 1.0), Commit],
        ),
        (
            "rollback forgets the batch",
            &[Append("a", 10, 1.0), Rollback, Append("a", 5, 1.0), Commit],
        ),
        ("empty labels", &[Append("", 10, 1.0), Commit]),
        (
            "independent series",
            &[
                Append("a", 10, 1.0),
                Append("b", 5, 1.0),
                Append("a", 11, 1.0),
                Commit,
                Append("b", 4, 0.0),
            ],
        ),
        (
            "stale marker",
            &[
                Append("a", 10, f64::from_bits(0x7ff0_0000_0000_0002)),
                Append("a", 10, f64::NAN),
                Commit,
            ],
        ),
    ];
    for (name, ops) in scripts {
        let dir = tempfile::tempdir().unwrap();
        let head = open(dir.path());
        let mem = MemStorage::new();
        let stores: [&dyn Storage; 2] = [&mem, &head];
        let mut results: Vec<Vec<&str>> = Vec::new();
        for store in stores {
            let mut got = Vec::new();
            let mut app = store.appender();
            for op in *ops {
                match *op {
                    Append(metric, t, v) => {
                        let l = if metric.is_empty() {
                            Labels::new()
                        } else {
                            labels(&[("__name__", metric)])
                        };
                        got.push(outcome(app.append(0, &l, t, v)));
                    }
                    Commit => {
                        app.commit().unwrap();
                        app = store.appender();
                    }
                    Rollback => {
                        app.rollback().unwrap();
                        app = store.appender();
                    }
                }
            }
            app.commit().unwrap();
            results.push(got);
        }
        assert_eq!(results[0], results[1], "{name}: MemStorage vs head");
        let qm = mem.querier(i64::MIN, i64::MAX).unwrap();
        let qh = Head::querier(&head, i64::MIN, i64::MAX);
        assert_eq!(dump(&*qm, &[]), dump(&qh, &[]), "{name}: stored samples");
    }
}

#[test]
fn queries_match_mem_storage() {
    let dir = tempfile::tempdir().unwrap();
    let head = open(dir.path());
    let mem = MemStorage::new();
    let series = [
        labels(&[("__name__", "up"), ("job", "a"), ("instance", "1")]),
        labels(&[("__name__", "up"), ("job", "b"), ("instance", "2")]),
        labels(&[("__name__", "http_requests_total"), ("job", "a"), ("code", "200")]),
        labels(&[("__name__", "http_requests_total"), ("job", "b"), ("code", "500")]),
    ];
    for store in [&mem as &dyn Storage, &head] {
        for step in 0..300i64 {
            let mut app = store.appender();
            for (i, l) in series.iter().enumerate() {
                // Series 3 only has old samples.
                if i == 3 && step > 50 {
                    continue;
                }
                app.append(0, l, step * 30_000 + i as i64, (step * i as i64) as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
    }
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let matcher_sets = vec![
        vec![],
        vec![m(MatchOp::Equal, "__name__", "up")],
        vec![m(MatchOp::Regex, "job", "a|b"), m(MatchOp::NotEqual, "code", "200")],
        vec![m(MatchOp::Equal, "code", "")],
        vec![m(MatchOp::Regex, "__name__", ".+_total")],
    ];
    for (mint, maxt) in [
        (i64::MIN, i64::MAX),
        (0, 1_000_000),
        (2_000_000, 5_000_000),
        (4_000_000, 4_000_001),
    ] {
        let qm = mem.querier(mint, maxt).unwrap();
        let qh = Head::querier(&head, mint, maxt);
        for ms in &matcher_sets {
            assert_eq!(dump(&*qm, ms), dump(&qh, ms), "select {ms:?} in [{mint}, {maxt}]");
            assert_eq!(qm.label_names(ms).unwrap(), qh.label_names(ms).unwrap(), "names {ms:?}");
            for name in ["job", "code", "__name__"] {
                assert_eq!(
                    qm.label_values(name, ms).unwrap(),
                    qh.label_values(name, ms).unwrap(),
                    "values of {name} {ms:?} in [{mint}, {maxt}]"
                );
            }
        }
    }
    // Seek across chunk boundaries.
    let q = Head::querier(&head, i64::MIN, i64::MAX);
    let sel = q.select(true, None, &[m(MatchOp::Equal, "instance", "2")]).unwrap();
    let mut it = sel[0].iter();
    assert_eq!(it.seek(3_600_000), crate::storage::ValueType::Float);
    assert_eq!(it.at(), (3_600_001, 120.0));
    assert_eq!(it.seek(10), crate::storage::ValueType::Float);
    assert_eq!(it.at_t(), 3_600_001);
    assert_eq!(it.next(), crate::storage::ValueType::Float);
    assert_eq!(it.at(), (3_630_001, 121.0));
    assert_eq!(it.seek(8_970_001), crate::storage::ValueType::Float);
    assert_eq!(it.seek(8_970_002), crate::storage::ValueType::None);
    assert_eq!(it.next(), crate::storage::ValueType::None);
    assert_eq!(head.start_time(), 0);
}

#[test]
fn concurrent_appends_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let head = open(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    const WRITERS: usize = 4;
    const STEPS: i64 = 400;
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let head = head.clone();
            scope.spawn(move || {
                let mut refs = vec![0u64; 50];
                for step in 0..STEPS {
                    let mut app = head.appender();
                    for (i, r) in refs.iter_mut().enumerate() {
                        // Half of the series are shared by all writers (their out-of-order appends fail).
                        let l = if i < 25 {
                            labels(&[("__name__", "shared"), ("i", &i.to_string())])
                        } else {
                            labels(&[("__name__", "own"), ("w", &w.to_string()), ("i", &i.to_string())])
                        };
                        if let Ok(nr) = app.add(*r, &l, step * 1000, step as f64) {
                            *r = nr;
                        }
                    }
                    app.commit_batch().unwrap();
                }
            });
        }
        let reader_head = head.clone();
        let stop_reader = stop.clone();
        let reader = scope.spawn(move || {
            let mut last_total = 0usize;
            let mut rounds = 0;
            while !stop_reader.load(Ordering::Acquire) || rounds == 0 {
                let q = Head::querier(&reader_head, i64::MIN, i64::MAX);
                let all = dump(&q, &[Matcher::equal("__name__", "own")]);
                let total: usize = all.iter().map(|(_, s)| s.len()).sum();
                assert!(total >= last_total, "committed samples never disappear");
                for (_, samples) in &all {
                    assert!(samples.windows(2).all(|w| w[0].0 < w[1].0), "samples in order");
                }
                last_total = total;
                rounds += 1;
            }
            rounds
        });
        while head.num_series() < 25 + 25 * WRITERS || head.max_time() < (STEPS - 1) * 1000 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    let q = Head::querier(&head, i64::MIN, i64::MAX);
    let own = dump(&q, &[Matcher::equal("__name__", "own")]);
    assert_eq!(own.len(), 25 * WRITERS);
    assert!(own.iter().all(|(_, s)| s.len() == STEPS as usize));
    let shared = dump(&q, &[Matcher::equal("__name__", "shared")]);
    assert_eq!(shared.len(), 25);
    for (_, s) in &shared {
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(s.last().unwrap().0, (STEPS - 1) * 1000);
    }
}

#[test]
fn truncate_drops_old_chunks_and_collects_series() {
    let dir = tempfile::tempdir().unwrap();
    let head = open(dir.path());
    let old = labels(&[("__name__", "old")]);
    let live = labels(&[("__name__", "live")]);
    for i in 0..2000i64 {
        let mut app = head.appender();
        if i < 500 {
            app.add(0, &old, i * 15_000, 1.0).unwrap();
        }
        app.add(0, &live, i * 15_000, 2.0).unwrap();
        app.commit_batch().unwrap();
    }
    assert_eq!(head.num_series(), 2);
    let cut = 4 * 7_200_000;
    let stats = head.truncate(cut).unwrap();
    assert_eq!(stats.series_removed, 1);
    assert!(stats.chunks_removed > 0);
    assert_eq!(head.num_series(), 1);
    assert!(head.min_time() >= cut);
    let q = Head::querier(&head, i64::MIN, i64::MAX);
    let all = dump(&q, &[]);
    assert_eq!(all.len(), 1);
    assert!(all[0].1.iter().all(|(t, _)| *t >= cut));
    assert_eq!(
        Head::querier(&head, 0, 10).label_values("__name__", &[]).unwrap(),
        Vec::<String>::new()
    );
    // Too old now.
    let mut app = head.appender();
    assert!(matches!(app.add(0, &old, cut - 1, 1.0), Err(AppendError::OutOfBounds)));
    // A collected series comes back as a new series.
    let r = app.add(0, &old, cut + 10_000_000, 1.0).unwrap();
    app.commit_batch().unwrap();
    assert!(r > 2);
    assert_eq!(head.metrics().head.series.get(), 2.0);
    assert_eq!(head.metrics().head.series_removed.get(), 1.0);
}

#[test]
fn hash_collisions_keep_series_apart() {
    let syms = series::Interner::default();
    let mk = |r: u64, name: &str| {
        let l = labels(&[("__name__", name)]);
        let s: Box<[Sym]> = l.iter().flat_map(|(n, v)| [syms.intern(n), syms.intern(v)]).collect();
        (Arc::new(MemSeries::new(r, s)), l)
    };
    let (a, la) = mk(1, "a");
    let (b, lb) = mk(2, "b");
    let (c, lc) = mk(3, "c");
    let mut stripe = HashStripe::default();
    for s in [&a, &b, &c] {
        stripe.insert(42, s.clone());
    }
    assert_eq!(stripe.get(42, lb.as_slice()).map(|s| s.series_ref), Some(2));
    assert_eq!(stripe.get(42, lc.as_slice()).map(|s| s.series_ref), Some(3));
    assert!(stripe.get(7, la.as_slice()).is_none());
    stripe.remove(42, 1);
    assert!(stripe.get(42, la.as_slice()).is_none());
    assert_eq!(stripe.get(42, lb.as_slice()).map(|s| s.series_ref), Some(2));
    assert_eq!(stripe.get(42, lc.as_slice()).map(|s| s.series_ref), Some(3));
    stripe.remove(42, 3);
    stripe.remove(42, 2);
    assert!(stripe.unique.is_empty() && stripe.conflicts.is_empty());
}

/// Every series and its samples with histogram counter reset hints cleared (storage derives them from chunk
/// boundaries), rendered for comparison (NaN-safe).
pub(crate) fn dump_values(q: &dyn crate::storage::Querier) -> Vec<(Labels, Vec<String>)> {
    q.select(true, None, &[])
        .unwrap()
        .into_iter()
        .map(|s| {
            let mut it = s.iter();
            let samples = collect_samples(&mut *it)
                .into_iter()
                .map(|(t, v)| {
                    let v = match v {
                        Value::Histogram(h) if h.counter_reset_hint != CounterResetHint::Gauge => {
                            Value::Histogram(Arc::new(Histogram {
                                counter_reset_hint: CounterResetHint::Unknown,
                                ..(*h).clone()
                            }))
                        }
                        Value::FloatHistogram(h) if h.counter_reset_hint != CounterResetHint::Gauge => {
                            Value::FloatHistogram(Arc::new(FloatHistogram {
                                counter_reset_hint: CounterResetHint::Unknown,
                                ..(*h).clone()
                            }))
                        }
                        other => other,
                    };
                    format!("{t} {v:?}")
                })
                .collect();
            assert!(it.err().is_none(), "{:?}", it.err());
            drop(it);
            (s.labels, samples)
        })
        .collect()
}

pub(crate) fn test_histogram(count: u64, buckets: &[i64]) -> Histogram {
    Histogram {
        schema: 1,
        zero_threshold: 2f64.powi(-128),
        zero_count: 1,
        count,
        sum: count as f64 * 1.5,
        positive_spans: vec![Span {
            offset: 0,
            length: buckets.len() as u32,
        }],
        positive_buckets: buckets.to_vec(),
        ..Histogram::default()
    }
}

#[derive(Debug, Clone)]
enum HOp {
    Float(i64, f64),
    Hist(i64, Histogram),
    FloatHist(i64, FloatHistogram),
    Commit,
}

#[test]
fn histogram_append_rules_match_mem_storage() {
    use HOp::*;
    let h1 = test_histogram(10, &[2, 1]);
    let h2 = test_histogram(12, &[3, 1]);
    let reset = test_histogram(1, &[1, 0]);
    let grown = test_histogram(20, &[3, 1, 2]);
    let stale = Histogram {
        sum: f64::from_bits(0x7ff0_0000_0000_0002),
        ..Histogram::default()
    };
    let scripts: Vec<(&str, Vec<HOp>)> = vec![
        ("in order", vec![Hist(10, h1.clone()), Hist(20, h2.clone()), Commit]),
        (
            "same histogram again is fine, another one is a duplicate",
            vec![
                Hist(10, h1.clone()),
                Commit,
                Hist(10, h1.clone()),
                Hist(10, h2.clone()),
                Float(10, 1.0),
            ],
        ),
        (
            "older is out of order",
            vec![Hist(10, h1.clone()), Commit, Hist(5, h2.clone()), Float(5, 1.0)],
        ),
        (
            "kind changes, counter resets, new buckets and stale markers",
            vec![
                Float(5, 1.0),
                Hist(10, h1.clone()),
                Hist(20, h2.clone()),
                Commit,
                Hist(30, reset.clone()),
                Hist(40, grown.clone()),
                FloatHist(50, grown.to_float()),
                Hist(60, stale.clone()),
                Hist(70, stale.clone()),
                Hist(80, h1.clone()),
                Float(90, 2.0),
            ],
        ),
    ];
    for (name, ops) in scripts {
        let dir = tempfile::tempdir().unwrap();
        let head = open(dir.path());
        let mem = MemStorage::new();
        let mut results = Vec::new();
        for store in [&mem as &dyn Storage, &head] {
            let mut got = Vec::new();
            let mut app = store.appender();
            let l = labels(&[("__name__", "h")]);
            for op in &ops {
                let r = match op {
                    Float(t, v) => app.append(0, &l, *t, *v),
                    Hist(t, h) => app.append_histogram(0, &l, *t, h),
                    FloatHist(t, h) => app.append_float_histogram(0, &l, *t, h),
                    Commit => {
                        app.commit().unwrap();
                        app = store.appender();
                        continue;
                    }
                };
                got.push(outcome(r));
            }
            app.commit().unwrap();
            results.push(got);
        }
        assert_eq!(results[0], results[1], "{name}");
        let qm = mem.querier(i64::MIN, i64::MAX).unwrap();
        let qh = Head::querier(&head, i64::MIN, i64::MAX);
        assert_eq!(dump_values(&*qm), dump_values(&qh), "{name}: stored samples");
    }
}

#[test]
fn histogram_chunks_are_cut_on_resets_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let head = open(dir.path());
    let l = labels(&[("__name__", "h")]);
    let mut r = 0;
    for i in 0..300u64 {
        // A counter reset at 150.
        let n = if i < 150 { i } else { i - 150 };
        let h = test_histogram(10 * n + 3, &[1 + n as i64, 2, (n % 3) as i64]);
        let mut app = head.appender();
        r = app.append_histogram(r, &l, i as i64 * 15_000, &h).unwrap();
        app.commit_batch().unwrap();
    }
    let s = head.inner.series_by_ref(r).unwrap();
    let st = s.lock();
    let mut headers = Vec::new();
    for c in &st.mmapped {
        let (enc, data) = head.inner.mapper.read_chunk(c.chunk_ref).unwrap();
        assert_eq!(enc, crate::tsdb::chunkenc::ENCODING_HISTOGRAM);
        let it = crate::tsdb::chunkenc::HistogramIter::new(&data).unwrap();
        headers.push(it.header());
    }
    drop(st);
    assert!(headers.len() >= 2, "{headers:?}");
    assert!(headers.contains(&crate::tsdb::chunkenc::CounterResetHeader::CounterReset));
    let q = Head::querier(&head, i64::MIN, i64::MAX);
    let all = q.select(true, None, &[]).unwrap();
    let samples = collect_samples(&mut *all[0].iter());
    assert_eq!(samples.len(), 300);
    match &samples[150].1 {
        Value::Histogram(h) => {
            assert_eq!(h.count, 3);
            assert_eq!(h.counter_reset_hint, CounterResetHint::CounterReset);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(head.metrics().head.histograms_appended.get(), 300.0);
}

#[test]
fn per_series_structures_stay_small() {
    // The memory budget per series depends on these: a MemSeries of 136 bytes is a 160-byte allocation with its
    // reference counts and the allocator's header (the next size class is 176); its reference map entry is 24.
    use std::mem::size_of;
    let sizes = [
        ("MemSeries", size_of::<MemSeries>(), 136),
        ("RefSlot", size_of::<Option<super::RefSlot>>(), 24),
        ("SeriesState", size_of::<series::SeriesState>(), 96),
        ("Option<HeadChunk>", size_of::<Option<series::HeadChunk>>(), 64),
        ("XorBuilder", size_of::<crate::tsdb::chunkenc::XorBuilder>(), 56),
        ("MmappedChunk", size_of::<series::MmappedChunk>(), 24),
        ("Sym", size_of::<series::Sym>(), 8),
    ];
    for (what, size, budget) in sizes {
        assert!(size <= budget, "{what} is {size} bytes, budget {budget}");
    }
}

#[test]
fn ref_stripes_find_dense_and_sparse_references() {
    // Stripe 3 of 16 (shift 4) holds references in blocks of 64: 192..256, then 1216..1280, ...; slot k is the
    // k-th of them.
    let series = |r: u64| Arc::new(MemSeries::new(r, Box::new([])));
    const fn at(slot: u64) -> u64 {
        ((slot >> 6) << 10) | (3 << 6) | (slot & 63)
    }
    for slot in [0, 1, 63, 64, 65, 1000] {
        assert_eq!(RefStripe::new(4).slot(at(slot)), slot as usize);
        assert_eq!(super::ref_stripe_index(at(slot), 15), 3);
    }
    type Case = (&'static str, Vec<u64>, Vec<u64>, Vec<u64>);
    let cases: Vec<Case> = vec![
        // name, inserted, removed, expected present
        (
            "sequential",
            vec![at(0), at(1), at(2)],
            vec![],
            vec![at(0), at(1), at(2)],
        ),
        (
            "across blocks",
            vec![at(62), at(63), at(64)],
            vec![],
            vec![at(62), at(63), at(64)],
        ),
        ("gap within the slack", vec![at(0), at(61)], vec![], vec![at(0), at(61)]),
        (
            "far reference goes to the map",
            vec![at(0), at(10_000)],
            vec![],
            vec![at(0), at(10_000)],
        ),
        (
            "far then dense past it",
            vec![at(100), at(0), at(1), at(2)],
            vec![],
            vec![at(100), at(0), at(1), at(2)],
        ),
        (
            "removals",
            vec![at(0), at(1), at(2), at(10_000)],
            vec![at(2), at(0), at(10_000)],
            vec![at(1)],
        ),
        (
            "remove the last slot trims",
            vec![at(0), at(1), at(2)],
            vec![at(2), at(1)],
            vec![at(0)],
        ),
        ("largest reference", vec![u64::MAX], vec![], vec![u64::MAX]),
    ];
    for (name, inserted, removed, present) in cases {
        let mut stripe = RefStripe::new(4);
        for &r in &inserted {
            stripe.insert(r, series(r));
        }
        for r in &removed {
            stripe.remove(r);
        }
        for &r in &present {
            assert_eq!(stripe.get(&r).map(|s| s.series_ref), Some(r), "{name}: {r}");
        }
        for &r in inserted.iter().chain(&removed) {
            assert_eq!(stripe.contains_key(&r), present.contains(&r), "{name}: {r}");
        }
        let mut all: Vec<u64> = stripe.entries().map(|e| e.series.series_ref).collect();
        all.sort_unstable();
        let mut want = present.to_vec();
        want.sort_unstable();
        assert_eq!(all, want, "{name}");
        assert!(stripe.dense.len() <= 200, "{name}: dense part stays small");
    }
}

#[test]
fn pending_samples_keep_series_from_garbage_collection() {
    // A series created by an append batch holds no sample until the commit: collection must leave it alone while
    // the batch is alive, and take it once the batch is gone without adding anything.
    enum End {
        Commit,
        Rollback,
        Drop,
    }
    let cases = [
        ("committed", End::Commit, 1usize),
        ("rolled back", End::Rollback, 0),
        ("dropped", End::Drop, 0),
    ];
    for (name, end, series_after) in cases {
        let dir = tempfile::tempdir().unwrap();
        let head = open(dir.path());
        let l = labels(&[("__name__", "fresh")]);
        let mut app = head.appender();
        let r = app.add(0, &l, 1_000, 1.0).unwrap();
        let stats = head.gc(i64::MIN).unwrap();
        assert_eq!(stats.series_removed, 0, "{name}: pending series collected");
        // The batch still reaches its series by reference, and a second sample is checked against the first.
        assert!(
            matches!(app.add(r, &Labels::new(), 500, 1.0), Err(AppendError::OutOfOrder)),
            "{name}"
        );
        match end {
            End::Commit => app.commit_batch().unwrap(),
            End::Rollback => Box::new(app).rollback().unwrap(),
            End::Drop => drop(app),
        }
        head.gc(i64::MIN).unwrap();
        assert_eq!(head.num_series(), series_after, "{name}");
        assert_eq!(head.series_ref(&l).is_some(), series_after == 1, "{name}");
    }
}

#[test]
fn appends_after_a_restart_are_checked_against_replayed_samples() {
    // After a replay the head knows each series' newest sample only from its chunks: the first append to a series
    // must look there (out of order, duplicate, same sample again), as before the restart.
    let cases: &[(&str, i64, f64, &str)] = &[
        ("older", 239_000, 1.0, "out of order"),
        ("same sample", 240_000, 240.0, "ok"),
        ("same time, other value", 240_000, 1.0, "duplicate"),
        ("newer", 241_000, 1.0, "ok"),
    ];
    for (name, t, v, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let l = labels(&[("__name__", "a")]);
        {
            let head = open(dir.path());
            for i in 1..=240i64 {
                let mut app = head.appender();
                app.add(0, &l, i * 1_000, i as f64).unwrap();
                app.commit_batch().unwrap();
            }
            head.close().unwrap();
        }
        let head = open(dir.path());
        let r = head.series_ref(&l).unwrap();
        let mut app = head.appender();
        assert_eq!(outcome(app.add(r, &Labels::new(), *t, *v)), *want, "{name}");
        app.commit_batch().unwrap();
        let q = Head::querier(&head, i64::MIN, i64::MAX);
        let got = dump(&q, &[]);
        let n = if *want == "ok" && *t > 240_000 { 241 } else { 240 };
        assert_eq!(got[0].1.len(), n, "{name}");
    }
}
