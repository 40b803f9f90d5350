//! PromQL parsing and printing speed on queries shaped like dashboards and recording rules.
//!
//! `cargo bench -p server --bench promql_parse`; throughput is in query bytes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use server::promql::{ParseOptions, parse_with};

const QUERIES: &[&str] = &[
    "up",
    r#"sum by (job, instance) (rate(http_requests_total{job="api", code=~"5.."}[5m]))"#,
    r#"histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))"#,
    r#"(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes * 100 < 10) and on (instance, device) node_filesystem_readonly == 0"#,
    r#"max_over_time(deriv(rate(x[5m])[30m:1m])[1h:]) offset 1d > bool 0"#,
    r#"label_replace(sum without (pod) (kube_pod_container_resource_requests{resource="cpu"}), "team", "$1", "namespace", "(.*)-.*") * on (namespace) group_left (owner) kube_namespace_labels"#,
];

fn bench(c: &mut Criterion) {
    let opts = ParseOptions::all();
    let bytes: usize = QUERIES.iter().map(|q| q.len()).sum();
    let mut g = c.benchmark_group("promql");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(parse_with(black_box(q), &opts).expect("valid query"));
            }
        })
    });
    let parsed: Vec<_> = QUERIES
        .iter()
        .map(|q| parse_with(q, &opts).expect("valid query"))
        .collect();
    g.bench_function("print", |b| {
        b.iter(|| {
            for e in &parsed {
                black_box(e.to_string());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
