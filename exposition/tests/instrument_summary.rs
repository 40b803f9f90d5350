//! Summary quantiles: within the allowed rank error on known distributions, and ageing out of the sliding window
//! (driven by a manual clock, no sleeping).

use std::time::{Duration, UNIX_EPOCH};

use exposition::instrument::{ManualClock, Opts, Summary, SummaryOpts, SummaryVec};
use exposition::model::{Quantile, Value};
use exposition::registry::Collector;

const OBJECTIVES: [(f64, f64); 4] = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001), (0.1, 0.01)];

/// A small deterministic generator (64-bit LCG, top 53 bits) for uniform values in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn quantiles(s: &impl Collector) -> (Vec<Quantile>, f64, f64) {
    let mut out = Vec::new();
    s.collect(&mut out).unwrap();
    match out.remove(0).metrics.remove(0).value {
        Value::Summary {
            quantiles, sum, count, ..
        } => (quantiles, sum.unwrap(), count.unwrap()),
        other => panic!("not a summary: {other:?}"),
    }
}

fn summary(clock: Option<std::sync::Arc<ManualClock>>) -> Summary {
    let mut opts = Opts::new("s", "h");
    if let Some(c) = clock {
        opts = opts.clock(c);
    }
    let mut so = SummaryOpts::new(opts);
    for (q, e) in OBJECTIVES {
        so = so.objective(q, e);
    }
    Summary::new(so).unwrap()
}

#[test]
fn quantiles_are_within_the_allowed_error() {
    let n = 50_000;
    let mut rng = Rng(42);
    type Draw = fn(&mut Rng) -> f64;
    let distributions: [(&str, Draw); 3] = [
        ("uniform", |r| r.next() * 100.0),
        ("exponential", |r| -(1.0 - r.next()).ln()),
        ("normal", |r| {
            // Box-Muller.
            let (u, v) = (1.0 - r.next(), r.next());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * 10.0 + 50.0
        }),
    ];
    for (name, draw) in distributions {
        let s = summary(None);
        let mut values: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
        for v in &values {
            s.observe(*v);
        }
        let (qs, sum, count) = quantiles(&s);
        assert_eq!(count, n as f64);
        let want_sum: f64 = values.iter().sum();
        assert!(
            (sum - want_sum).abs() < 1e-6 * want_sum.abs(),
            "{name}: sum {sum} vs {want_sum}"
        );
        values.sort_by(f64::total_cmp);
        // Quantiles come out sorted by rank.
        let ranks: Vec<f64> = qs.iter().map(|q| q.quantile).collect();
        assert_eq!(ranks, [0.1, 0.5, 0.9, 0.99]);
        for q in qs {
            let e = OBJECTIVES.iter().find(|o| o.0 == q.quantile).unwrap().1;
            // The rank of the estimate among the observations (1-based, first occurrence).
            let rank = values.partition_point(|v| *v < q.value) + 1;
            let want = q.quantile * n as f64;
            let err = (rank as f64 - want).abs();
            assert!(
                err <= e * n as f64 + 1.0,
                "{name}: q={} value {} has rank {rank}, want {want}±{}",
                q.quantile,
                q.value,
                e * n as f64
            );
        }
    }
}

#[test]
fn observations_age_out_after_max_age() {
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let clock = ManualClock::shared(start);
    let s = Summary::new(
        SummaryOpts::new(Opts::new("s", "h").clock(clock.clone()))
            .objective(0.5, 0.05)
            .max_age(Duration::from_secs(50))
            .age_buckets(5)
            .buf_cap(10),
    )
    .unwrap();
    let median = |s: &Summary| quantiles(s).0[0].value;

    assert!(median(&s).is_nan(), "no observations yet");
    for _ in 0..100 {
        s.observe(100.0);
    }
    clock.advance(Duration::from_secs(39));
    assert_eq!(median(&s), 100.0);
    clock.advance(Duration::from_secs(2)); // 41 s
    for _ in 0..10 {
        s.observe(1.0);
    }
    assert_eq!(median(&s), 100.0, "the old values still dominate");
    clock.advance(Duration::from_secs(8)); // 49 s
    assert_eq!(median(&s), 100.0);
    clock.advance(Duration::from_secs(1)); // 50 s: the first observations are max_age old
    assert_eq!(median(&s), 1.0);
    // The values observed at 41 s leave the window between 81 s (max_age minus one age bucket) and 91 s.
    clock.advance(Duration::from_secs(30)); // 80 s
    assert_eq!(median(&s), 1.0);
    clock.advance(Duration::from_secs(10)); // 90 s
    assert!(median(&s).is_nan());
    // Sum and count are totals since creation.
    let (_, sum, count) = quantiles(&s);
    assert_eq!((sum, count), (10_010.0, 110.0));
    // A jump far ahead resets every stream at once; new values are seen again.
    clock.advance(Duration::from_secs(86_400 * 365));
    s.observe(7.0);
    assert_eq!(median(&s), 7.0);
}

#[test]
fn family_children_have_their_own_windows() {
    let clock = ManualClock::shared(UNIX_EPOCH);
    let v = SummaryVec::new(
        SummaryOpts::new(Opts::new("rpc_seconds", "h").clock(clock.clone()))
            .objective(0.99, 0.001)
            .max_age(Duration::from_secs(10))
            .age_buckets(2),
        &["method"],
    )
    .unwrap();
    v.with_label_values(&["get"]).unwrap().observe(1.0);
    clock.advance(Duration::from_secs(6));
    v.with_label_values(&["put"]).unwrap().observe(2.0);
    clock.advance(Duration::from_secs(5));
    let get = quantiles(&v.with_label_values(&["get"]).unwrap()).0[0].value;
    let put = quantiles(&v.with_label_values(&["put"]).unwrap()).0[0].value;
    assert!(get.is_nan());
    assert_eq!(put, 2.0);
}
