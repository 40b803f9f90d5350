//! Benchmark inputs for the encode comparison, shared by `benches/encode.rs` and `examples/count_encode.rs`
//! (which runs both sides under an instruction counter): ten labelled counter/gauge families of 100 series each
//! and a histogram family of 20 series with 11 buckets, with values shaped like node_exporter's (see [`value`]).

use exposition::model::{Bucket, Labels, Metric, MetricFamily, MetricType, Value};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry as PcRegistry;

const BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
pub type PcLabels = Vec<(String, String)>;

pub fn labels(i: usize) -> [(String, String); 2] {
    [
        ("instance".to_string(), format!("host-{:03}.example.org:9100", i / 8)),
        (
            "mode".to_string(),
            ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"][i % 8].into(),
        ),
    ]
}

/// Values shaped like an exporter's: counters are seconds from clock ticks (`123456.78`), gauges byte counts
/// (integers, large ones in exponent form).
pub fn value(f: usize, i: usize) -> f64 {
    if f % 2 == 0 {
        ((f * 1_000_003 + i * 7919) % 100_000_000) as f64 / 100.0
    } else {
        ((f * 104_729 + i * 15_485_863) as f64) * 4096.0
    }
}

pub fn ours() -> Vec<MetricFamily> {
    let mut fams = Vec::new();
    for f in 0..10 {
        let counter = f % 2 == 0;
        let (name, t) = if counter {
            (format!("app_family_{f}_seconds_total"), MetricType::Counter)
        } else {
            (format!("app_family_{f}_bytes"), MetricType::Gauge)
        };
        let mut fam = MetricFamily::new(name, t).with_help("A benchmark family.");
        for i in 0..100 {
            let v = value(f, i);
            let val = if counter {
                Value::Counter {
                    total: v,
                    created: None,
                    exemplar: None,
                }
            } else {
                Value::Gauge(v)
            };
            fam.push(Metric::new(Labels::from_pairs(labels(i)), val));
        }
        fams.push(fam);
    }
    let mut h = MetricFamily::new("app_request_duration_seconds", MetricType::Histogram).with_help("Latency.");
    for i in 0..20 {
        let mut buckets: Vec<Bucket> = BOUNDS
            .iter()
            .enumerate()
            .map(|(b, &le)| Bucket {
                upper_bound: le,
                cumulative_count: (i * 10 + b) as f64,
                exemplar: None,
            })
            .collect();
        buckets.push(Bucket {
            upper_bound: f64::INFINITY,
            cumulative_count: (i * 10 + 10) as f64,
            exemplar: None,
        });
        h.push(Metric::new(
            Labels::from_pairs(labels(i)),
            Value::Histogram {
                buckets,
                sum: Some(i as f64 * 0.75),
                count: Some((i * 10 + 10) as f64),
                created: None,
            },
        ));
    }
    fams.push(h);
    fams
}

pub fn theirs() -> PcRegistry {
    let mut reg = PcRegistry::default();
    for f in 0..10 {
        if f % 2 == 0 {
            let fam = Family::<PcLabels, Counter<f64>>::default();
            for i in 0..100 {
                fam.get_or_create(&labels(i).to_vec()).inc_by(value(f, i));
            }
            reg.register(format!("app_family_{f}_seconds"), "A benchmark family.", fam);
        } else {
            let fam = Family::<PcLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
            for i in 0..100 {
                fam.get_or_create(&labels(i).to_vec()).set(value(f, i));
            }
            reg.register(format!("app_family_{f}_bytes"), "A benchmark family.", fam);
        }
    }
    let fam = Family::<PcLabels, Histogram>::new_with_constructor(|| Histogram::new(BOUNDS));
    for i in 0..20 {
        let h = fam.get_or_create(&labels(i).to_vec());
        h.observe(0.001);
    }
    reg.register("app_request_duration_seconds", "Latency.", fam);
    reg
}
