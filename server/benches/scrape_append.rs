//! The scrape hot path in steady state: a node_exporter body (the corpus' end-to-end output, ~3.5k samples)
//! parsed, looked up in the target's series cache and appended to the TSDB head, once per scrape. Reports time
//! per scrape; divide by the sample count printed at start for the per-sample cost.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exposition::encode::Format;
use server::model::labels::Labels;
use server::scrape::cache::{ScrapeOptions, TargetCache};
use server::storage::Storage;
use server::tsdb::{Db, Options};

fn body() -> Vec<u8> {
    let path = exposition::conformance::corpus_dir()
        .expect("the conformance corpus (../shared/conformance or CONFORMANCE_DIR)")
        .join("node_exporter/e2e-output.txt");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let body = body();
    let dir = tempfile::tempdir().unwrap();
    let db: Arc<dyn Storage> = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let target: Labels = [("instance", "host:9100"), ("job", "node")].into_iter().collect();
    let mut cache = TargetCache::new(
        target,
        ScrapeOptions {
            honor_timestamps: true,
            ..ScrapeOptions::default()
        },
    );
    let mut ts = 1_700_000_000_000i64;
    let mut app = db.appender();
    let samples = cache.append_body(&mut *app, &body, Format::Text, ts).unwrap().scraped;
    app.commit().unwrap();
    eprintln!("{samples} samples per scrape");
    let mut group = c.benchmark_group("scrape_append");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("node_exporter_body", |b| {
        b.iter(|| {
            ts += 15_000;
            let mut app = db.appender();
            cache.append_body(&mut *app, &body, Format::Text, ts).unwrap();
            app.commit().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
