//! Encoder throughput against the `prometheus-client` crate on the same exporter-like content: ten labelled
//! counter/gauge families of 100 series each and a histogram family of 20 series with 11 buckets, with values
//! shaped like node_exporter's (see `inputs/encode.rs`).
//!
//! `cargo bench -p exposition --bench encode`; criterion reports time per scrape body and lines per second
//! (throughput is in lines of output).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exposition::encode::{encode_openmetrics, encode_text};

#[path = "inputs/encode.rs"]
mod inputs;
use inputs::{ours, theirs};

fn bench(c: &mut Criterion) {
    let fams = ours();
    let reg = theirs();
    let mut buf = Vec::new();
    encode_openmetrics(&fams, &mut buf);
    let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, &reg).unwrap_or_default();
    let their_lines = s.lines().count() as u64;

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(lines));
    g.bench_function("exposition/openmetrics", |b| {
        b.iter(|| {
            buf.clear();
            encode_openmetrics(black_box(&fams), &mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("exposition/text", |b| {
        b.iter(|| {
            buf.clear();
            encode_text(black_box(&fams), &mut buf);
            black_box(buf.len())
        })
    });
    g.throughput(Throughput::Elements(their_lines));
    g.bench_function("prometheus-client/openmetrics", |b| {
        b.iter(|| {
            s.clear();
            prometheus_client::encoding::text::encode(&mut s, black_box(&reg)).unwrap_or_default();
            black_box(s.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
