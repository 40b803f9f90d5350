//! Concurrent recording: increments and observations from many threads are never lost, and labelled lookups
//! from many threads agree on one child per label set.

use std::sync::Arc;
use std::thread;

use exposition::instrument::{Counter, CounterVec, Gauge, Histogram, HistogramOpts, Opts, Summary};
use exposition::model::Value;
use exposition::registry::Collector;

const THREADS: usize = 8;
const PER_THREAD: usize = 20_000;

fn run(f: impl Fn(usize) + Send + Sync + 'static) {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let f = Arc::clone(&f);
            thread::spawn(move || f(t))
        })
        .collect();
    for h in handles {
        h.join().expect("worker panicked");
    }
}

fn single_value(c: &impl Collector) -> Value {
    let mut out = Vec::new();
    c.collect(&mut out).expect("collect");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].metrics.len(), 1);
    out[0].metrics[0].value.clone()
}

#[test]
fn counter_increments_sum_exactly() {
    let c = Counter::new(Opts::new("c_total", "h")).unwrap();
    let c2 = c.clone();
    run(move |_| {
        for i in 0..PER_THREAD {
            match i % 3 {
                0 => c2.inc(),
                1 => c2.inc_by_int(2),
                // Halves and quarters are exact in binary, so the float part sums exactly too.
                _ => c2.inc_by(0.25),
            }
        }
    });
    let per_cycle = 1.0 + 2.0 + 0.25;
    let cycles = (PER_THREAD / 3) as f64;
    let rest = match PER_THREAD % 3 {
        0 => 0.0,
        1 => 1.0,
        _ => 3.0,
    };
    let want = THREADS as f64 * (cycles * per_cycle + rest);
    assert_eq!(c.get(), want);
    assert!(matches!(single_value(&c), Value::Counter { total, .. } if total == want));
}

#[test]
fn gauge_adds_and_subtracts_exactly() {
    let g = Gauge::new(Opts::new("g", "h")).unwrap();
    let g2 = g.clone();
    run(move |t| {
        for _ in 0..PER_THREAD {
            if t % 2 == 0 {
                g2.add(1.5);
            } else {
                g2.inc();
                g2.sub(0.5);
                g2.dec();
            }
        }
    });
    let evens = THREADS.div_ceil(2) as f64;
    let odds = (THREADS / 2) as f64;
    assert_eq!(g.get(), PER_THREAD as f64 * (evens * 1.5 - odds * 0.5));
}

#[test]
fn histogram_counts_sum_exactly_while_scraped() {
    let h = Histogram::new(HistogramOpts::new(Opts::new("h", "h")).buckets([1.0, 2.0, 3.0])).unwrap();
    let h2 = h.clone();
    let scraper = {
        let h = h.clone();
        thread::spawn(move || {
            for _ in 0..200 {
                let Value::Histogram {
                    buckets, sum, count, ..
                } = single_value(&h)
                else {
                    panic!("not a histogram")
                };
                // Every observation is between 1 and 4, so a consistent snapshot has count <= sum <= 4 * count;
                // the +Inf bucket always equals the count.
                assert_eq!(buckets.last().map(|b| b.cumulative_count), count);
                let count = count.unwrap_or(f64::NAN);
                let sum = sum.unwrap_or(f64::NAN);
                assert!(sum >= count && sum <= 4.0 * count, "sum {sum} count {count}");
            }
        })
    };
    run(move |_| {
        for i in 0..PER_THREAD {
            h2.observe((i % 4 + 1) as f64);
        }
    });
    scraper.join().expect("scraper panicked");
    let Value::Histogram {
        buckets, sum, count, ..
    } = single_value(&h)
    else {
        panic!("not a histogram")
    };
    let n = (THREADS * PER_THREAD) as f64;
    let cumulative: Vec<f64> = buckets.iter().map(|b| b.cumulative_count).collect();
    assert_eq!(cumulative, [n / 4.0, n / 2.0, 3.0 * n / 4.0, n]);
    assert_eq!(count, Some(n));
    assert_eq!(sum, Some(n / 4.0 * 10.0));
}

#[test]
fn summary_without_objectives_counts_exactly() {
    let s = Summary::new(Opts::new("s", "h")).unwrap();
    let s2 = s.clone();
    run(move |_| {
        for _ in 0..PER_THREAD {
            s2.observe(0.5);
        }
    });
    let n = (THREADS * PER_THREAD) as f64;
    assert!(matches!(
        single_value(&s),
        Value::Summary { sum: Some(sum), count: Some(count), .. } if sum == n / 2.0 && count == n
    ));
}

#[test]
fn labelled_lookups_share_children() {
    let v = CounterVec::new(Opts::new("requests_total", "h"), &["code", "method"]).unwrap();
    let v2 = v.clone();
    run(move |t| {
        let cached = v2.with_label_values(&["200", "GET"]).unwrap();
        for i in 0..PER_THREAD {
            cached.inc();
            let code = if i % 2 == 0 { "500" } else { "404" };
            v2.with_label_values(&[code, "POST"]).unwrap().inc();
            if t == 0 && i % 1000 == 0 {
                v2.with_labels(&[("method", "PUT"), ("code", "201")]).unwrap().inc();
            }
        }
    });
    assert_eq!(v.len(), 4);
    let get = |values: &[&str]| v.with_label_values(values).unwrap().get();
    let n = (THREADS * PER_THREAD) as f64;
    assert_eq!(get(&["200", "GET"]), n);
    assert_eq!(get(&["500", "POST"]), n / 2.0);
    assert_eq!(get(&["404", "POST"]), n / 2.0);
    assert_eq!(get(&["201", "PUT"]), PER_THREAD.div_ceil(1000) as f64);
}
