//! Our PromQL engine on upstream's range-query benchmark (`promql/bench_test.go`): the same 1,443 series at 10s
//! (`a_X`, `b_X`, `h_X` for X in one/ten/hundred; see `promql_shape`) appended into our TSDB (a `Db` in a temp
//! dir, as the server runs it) and the same expressions as range queries of 1, 10, 100 and 1000 steps ending at
//! the newest sample. `bench/promql.sh` runs the same cases over HTTP against our server and Prometheus.
//!
//! `PROMQL_BENCH_INTERVALS=N` shrinks the data (default: upstream's 18,640 samples per series); criterion's
//! filter argument selects cases, e.g. `cargo bench -p server --bench promql_engine -- 'rate\(a_hundred'`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use server::model::labels::Labels;
use server::promql::engine::{Engine, EngineOptions};
use server::promql::{ParseOptions, parse_with};
use server::storage::{Appendable, SeriesRef};
use server::tsdb::{Db, Options};

mod promql_shape;

fn load(db: &Db, intervals: usize) {
    let series = promql_shape::series();
    let labels: Vec<Labels> = series
        .iter()
        .map(|(name, labels)| {
            let mut l: Labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            l.set("__name__", name.as_str());
            l
        })
        .collect();
    let mut refs: Vec<SeriesRef> = vec![0; labels.len()];
    for s in 0..intervals {
        let mut app = db.appender();
        let t = s as i64 * promql_shape::INTERVAL_MS;
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app
                .append(refs[i], l, t, promql_shape::value(s, i, labels.len()))
                .expect("append");
        }
        app.commit().expect("commit");
    }
}

fn bench(c: &mut Criterion) {
    let intervals = std::env::var("PROMQL_BENCH_INTERVALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(promql_shape::INTERVALS);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open tsdb");
    load(&db, intervals);
    let engine = Engine::new(EngineOptions {
        timeout: Duration::from_secs(100),
        ..EngineOptions::default()
    });
    let end = intervals as i64 * promql_shape::INTERVAL_MS;
    let mut group = c.benchmark_group("range_query");
    for case in promql_shape::cases(&[1, 10, 100, 1000]) {
        let expr = parse_with(&case.expr, &ParseOptions::default()).expect("parse");
        let start = end - case.steps as i64 * promql_shape::INTERVAL_MS;
        group.bench_function(format!("expr={},steps={}", case.expr, case.steps), |b| {
            b.iter(|| {
                engine
                    .range_query(&db, &case.expr, &expr, start, end, promql_shape::INTERVAL_MS)
                    .expect("query")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
