//! Head append speed: one scrape (a batch of samples for existing series, appended by reference, then committed
//! with its WAL record) of 1,000 and 10,000 node_exporter-like series; and the first scrape of new series (label
//! lookup, series creation, index update, series record).
//!
//! `cargo bench -p server --bench head_append`; throughput is in samples.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use server::model::labels::Labels;
use server::storage::Appendable;
use server::tsdb::{Db, Options};

fn series(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            [
                ("__name__", format!("node_metric_{}", i % 100)),
                ("instance", format!("host-{:04}:9100", i / 100)),
                ("job", "node".to_string()),
                ("device", format!("dev{}", i % 7)),
            ]
            .into_iter()
            .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), Options::default()).expect("open");
        let labels = series(n);
        let mut refs = vec![0u64; n];
        let mut t = 0i64;
        let scrape = |refs: &mut [u64], t: i64| {
            let mut app = db.appender();
            for (i, l) in labels.iter().enumerate() {
                refs[i] = app
                    .append(refs[i], l, t, (t / 15_000 + i as i64) as f64)
                    .expect("append");
            }
            app.commit().expect("commit");
        };
        scrape(&mut refs, t);
        let mut g = c.benchmark_group(format!("head_append/{n}_series"));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("scrape_by_ref", |b| {
            b.iter(|| {
                t += 15_000;
                scrape(black_box(&mut refs), t);
            })
        });
        g.finish();
        db.close().expect("close");
    }

    let labels = series(1_000);
    let mut g = c.benchmark_group("head_append/new_series");
    g.throughput(Throughput::Elements(labels.len() as u64));
    g.bench_function("first_scrape_1000", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let db = Db::open(dir.path(), Options::default()).expect("open");
                (dir, db)
            },
            |(dir, db)| {
                let mut app = db.appender();
                for l in &labels {
                    app.append(0, l, 1000, 1.0).expect("append");
                }
                app.commit().expect("commit");
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
