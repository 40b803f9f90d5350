//! Parse throughput: our pull parser against the `prometheus-parse` crate, on Prometheus' `alltypes.237mfs`
//! benchmark body (read from the conformance corpus) and on a generated body of 10,000 series.
//!
//! Run with `cargo bench -p exposition --bench parse`. Throughput is reported in bytes per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser, families};

#[path = "inputs/parse.rs"]
mod inputs;
use inputs::{corpus_body, generated_body, ours, theirs};

fn ours_with_labels(body: &[u8]) -> usize {
    let mut n = 0;
    for entry in Parser::new(body, Format::Text, Mode::Lenient) {
        if let Ok(Entry::Sample(s)) = entry {
            for l in s.labels.iter() {
                n += l.name.len() + l.value.len();
            }
            black_box(s.value);
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut inputs = vec![("10k_series", generated_body())];
    if let Some(body) = corpus_body() {
        inputs.insert(0, ("alltypes_237mfs", body));
    } else {
        eprintln!("conformance corpus missing: benchmarking the generated body only");
    }
    for (name, body) in &inputs {
        let text = String::from_utf8_lossy(body).into_owned();
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("exposition_entries", |b| b.iter(|| ours(black_box(body))));
        g.bench_function("exposition_entries_labels", |b| {
            b.iter(|| ours_with_labels(black_box(body)))
        });
        g.bench_function("exposition_families", |b| {
            b.iter(|| families(black_box(body), Format::Text, Mode::Lenient).map(|f| f.len()))
        });
        g.bench_function("prometheus_parse", |b| b.iter(|| theirs(black_box(&text))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
