//! PromQL engine speed on data shaped like upstream's engine benchmarks (`promql/bench_test.go`): metrics with
//! 1, 10 and 100 series, a sample every 10 s for 10,000 intervals, and range queries over the last 1,000 steps
//! (at the same 10 s resolution) of functions, aggregations and binary operators.
//!
//! `cargo bench -p server --bench promql`; throughput is in output steps.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use server::model::labels::Labels;
use server::promql::engine::{Engine, EngineOptions};
use server::storage::Appendable;
use server::storage::mem::MemStorage;

const INTERVALS: i64 = 10_000;
const STEP: i64 = 10_000;

fn storage() -> MemStorage {
    let s = MemStorage::new();
    let mut app = s.appender();
    for (name, n) in [("one", 1), ("ten", 10), ("hundred", 100)] {
        for i in 0..n {
            let a: Labels = [("__name__", format!("a_{name}")), ("l", i.to_string())]
                .into_iter()
                .collect();
            let b: Labels = [("__name__", format!("b_{name}")), ("l", i.to_string())]
                .into_iter()
                .collect();
            let (mut ra, mut rb) = (0, 0);
            for k in 0..INTERVALS {
                ra = app.append(ra, &a, k * STEP, (k + i) as f64).expect("append");
                rb = app.append(rb, &b, k * STEP, (2 * k + i) as f64).expect("append");
            }
        }
    }
    app.commit().expect("commit");
    s
}

fn bench(c: &mut Criterion) {
    let s = storage();
    let engine = Engine::new(EngineOptions {
        max_samples: usize::MAX,
        ..EngineOptions::default()
    });
    let end = (INTERVALS - 1) * STEP;
    let start = end - 999 * STEP;
    let queries = [
        "a_X",
        "rate(a_X[1m])",
        "sum(a_X)",
        "sum by (l) (a_X)",
        "a_X + b_X",
        "topk(5, a_X)",
        "max_over_time(a_X[10m])",
        "a_X > bool 100",
        "avg_over_time(a_X[10m:1m])",
    ];
    for size in ["one", "ten", "hundred"] {
        let mut g = c.benchmark_group(format!("range/{size}"));
        g.throughput(Throughput::Elements(1000));
        for q in queries {
            let query = q.replace('X', size);
            g.bench_function(q, |b| {
                b.iter(|| black_box(engine.query_range(&s, &query, start, end, STEP).expect("query")))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
