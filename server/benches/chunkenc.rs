//! XOR chunk encoding and decoding speed on scrape-shaped data: 120 samples (one chunk, as the head cuts them) of
//! a counter and of a gauge at a 15 s interval with a little timestamp jitter.
//!
//! `cargo bench -p server --bench chunkenc`; throughput is in samples.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use server::tsdb::chunkenc::XorChunk;

fn series(counter: bool) -> Vec<(i64, f64)> {
    let mut t = 1_700_000_000_000i64;
    let mut v = 0.0f64;
    (0..120)
        .map(|i| {
            t += 15_000 + (i * 7919 % 5) - 2;
            v = if counter {
                v + ((i * 31) % 17) as f64
            } else {
                1e9 + ((i * 7919) % 1000) as f64 * 4096.0
            };
            (t, v)
        })
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    let mut app = c.appender().expect("empty chunk");
    for &(t, v) in samples {
        app.append(t, v).expect("append");
    }
    c
}

fn bench(c: &mut Criterion) {
    for (name, samples) in [("counter", series(true)), ("gauge", series(false))] {
        let chunk = encode(&samples);
        let mut g = c.benchmark_group(format!("xor/{name}"));
        g.throughput(Throughput::Elements(samples.len() as u64));
        g.bench_function("encode", |b| b.iter(|| encode(black_box(&samples)).bytes().len()));
        g.bench_function("decode", |b| {
            b.iter(|| {
                black_box(&chunk)
                    .iter()
                    .map(|s| s.map(|(_, v)| v).unwrap_or(0.0))
                    .sum::<f64>()
            })
        });
        g.finish();
        println!(
            "xor/{name}: {} bytes for {} samples",
            chunk.bytes().len(),
            samples.len()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
