//! Costs of the instrumentation hot paths: counter increments, labelled lookups, histogram observations (one and
//! two threads), summary observations.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use criterion::{Criterion, criterion_group, criterion_main};
use exposition::instrument::{Counter, CounterVec, Histogram, HistogramOpts, Opts, Summary, SummaryOpts};

/// Runs `work` on a second thread for as long as `f` runs, to measure contention.
fn with_background<R>(work: impl Fn() + Send + 'static, f: impl FnOnce() -> R) -> R {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    work();
                }
            }
        })
    };
    let r = f();
    stop.store(true, Ordering::Relaxed);
    handle.join().expect("background thread panicked");
    r
}

fn counters(c: &mut Criterion) {
    let counter = Counter::new(Opts::new("bench_total", "h")).expect("counter");
    c.bench_function("counter/inc", |b| b.iter(|| counter.inc()));
    c.bench_function("counter/inc_by_float", |b| b.iter(|| counter.inc_by(black_box(0.5))));

    let vec = CounterVec::new(Opts::new("bench_labelled_total", "h"), &["code", "method"]).expect("vec");
    for code in ["200", "404", "500"] {
        for method in ["GET", "POST", "PUT"] {
            vec.with_label_values(&[code, method]).expect("child").inc();
        }
    }
    c.bench_function("counter_vec/with_label_values+inc", |b| {
        b.iter(|| vec.with_label_values(black_box(&["404", "POST"])).expect("child").inc())
    });
    c.bench_function("counter_vec/with_labels+inc", |b| {
        b.iter(|| {
            vec.with_labels(black_box(&[("method", "POST"), ("code", "404")]))
                .expect("child")
                .inc()
        })
    });
}

fn histograms(c: &mut Criterion) {
    let h = Histogram::new(HistogramOpts::new(Opts::new("bench_seconds", "h"))).expect("histogram");
    let mut v = 0.0;
    c.bench_function("histogram/observe/1_thread", |b| {
        b.iter(|| {
            v = if v > 12.0 { 0.001 } else { v * 1.7 + 0.001 };
            h.observe(black_box(v))
        })
    });
    let other = h.clone();
    with_background(
        move || other.observe(0.3),
        || {
            c.bench_function("histogram/observe/2_threads", |b| b.iter(|| h.observe(black_box(0.07))));
        },
    );

    let s = Summary::new(
        SummaryOpts::new(Opts::new("bench_summary_seconds", "h"))
            .objective(0.5, 0.05)
            .objective(0.9, 0.01)
            .objective(0.99, 0.001),
    )
    .expect("summary");
    let mut x = 0.0;
    c.bench_function("summary/observe_with_objectives", |b| {
        b.iter(|| {
            x = (x + 0.618_033_988_7) % 1.0;
            s.observe(black_box(x))
        })
    });
}

criterion_group!(benches, counters, histograms);
criterion_main!(benches);
