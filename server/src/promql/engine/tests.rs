//! Engine tests on small in-memory data: selection and staleness, functions, operators, limits and the API.

use std::time::Duration;

use super::*;
use crate::model::labels::Labels;
use crate::model::value::stale_nan;
use crate::storage::Appendable;
use crate::storage::mem::MemStorage;

/// Storage with `up{job="a"}` = 0,1,..,10 every 60s, `c_total{job="a"}` counting by 10 every 15s, and a series
/// that goes stale at 120s.
fn storage() -> MemStorage {
    let s = MemStorage::new();
    let mut app = s.appender();
    let up: Labels = [("__name__", "up"), ("job", "a")].into_iter().collect();
    let up_b: Labels = [("__name__", "up"), ("job", "b")].into_iter().collect();
    let c: Labels = [("__name__", "c_total"), ("job", "a")].into_iter().collect();
    let gone: Labels = [("__name__", "gone")].into_iter().collect();
    for i in 0..=10 {
        app.append(0, &up, i * 60_000, i as f64).unwrap();
        app.append(0, &up_b, i * 60_000, 2.0 * i as f64).unwrap();
    }
    for i in 0..=40 {
        app.append(0, &c, i * 15_000, 10.0 * i as f64).unwrap();
    }
    app.append(0, &gone, 0, 1.0).unwrap();
    app.append(0, &gone, 120_000, stale_nan()).unwrap();
    app.commit().unwrap();
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

/// The result as `labels value` lines, sorted (vectors) or a single line (scalars).
fn render(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Scalar { v, .. } => vec![value::format_float(*v)],
        Value::String { s, .. } => vec![s.clone()],
        Value::Vector(vec) => vec
            .iter()
            .map(|s| format!("{} {}", s.metric, value::format_float(s.f)))
            .collect(),
        Value::Matrix(m) => m
            .iter()
            .map(|s| {
                let pts: Vec<String> = s
                    .floats
                    .iter()
                    .map(|p| format!("{}@{}", value::format_float(p.f), p.t))
                    .collect();
                format!("{} {}", s.metric, pts.join(" "))
            })
            .collect(),
    };
    out.sort();
    out
}

#[test]
fn instant_queries() {
    let s = storage();
    let cases: &[(&str, i64, &[&str])] = &[
        (
            "up",
            120_000,
            &["{__name__=\"up\", job=\"a\"} 2", "{__name__=\"up\", job=\"b\"} 4"],
        ),
        // Lookback: the sample at 0s is visible until just before 300s.
        ("up{job=\"a\"} offset 9m", 599_000, &["{__name__=\"up\", job=\"a\"} 0"]),
        // Staleness marker ends the series at once.
        ("gone", 60_000, &["{__name__=\"gone\"} 1"]),
        ("gone", 120_000, &[]),
        ("rate(c_total[1m])", 300_000, &["{job=\"a\"} 0.6666666666666666"]),
        ("increase(c_total[1m])", 300_000, &["{job=\"a\"} 40"]),
        ("sum by (job) (up)", 60_000, &["{job=\"a\"} 1", "{job=\"b\"} 2"]),
        (
            "up{job=\"a\"} + on(job) group_left up{job=\"a\"}",
            60_000,
            &["{job=\"a\"} 2"],
        ),
        ("up > bool 3", 240_000, &["{job=\"a\"} 1", "{job=\"b\"} 1"]),
        ("up unless up{job=\"b\"}", 60_000, &["{__name__=\"up\", job=\"a\"} 1"]),
        ("1 + 2 * 3", 0, &["7"]),
        ("scalar(up{job=\"b\"})", 60_000, &["2"]),
        ("topk(1, up)", 60_000, &["{__name__=\"up\", job=\"b\"} 2"]),
        ("count_values(\"v\", up)", 0, &["{v=\"0\"} 2"]),
        ("absent(nope{job=\"x\"})", 0, &["{job=\"x\"} 1"]),
        (
            "label_replace(up{job=\"a\"}, \"x\", \"$1-y\", \"job\", \"(.*)\")",
            0,
            &["{__name__=\"up\", job=\"a\", x=\"a-y\"} 0"],
        ),
        ("max_over_time(up{job=\"a\"}[5m:1m])", 300_000, &["{job=\"a\"} 5"]),
        ("time()", 61_000, &["61"]),
    ];
    for (q, t, want) in cases {
        let res = engine().query_instant(&s, q, *t).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(render(&res.value), *want, "{q} at {t}");
    }
}

#[test]
fn range_query_regroups_series() {
    let s = storage();
    let res = engine()
        .query_range(&s, "up{job=\"a\"} * 2", 0, 120_000, 60_000)
        .unwrap();
    assert_eq!(render(&res.value), vec!["{job=\"a\"} 0@0 2@60000 4@120000"]);
    let err = engine().query_range(&s, "\"str\"", 0, 1, 1).unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
}

#[test]
fn errors_and_annotations() {
    let s = storage();
    let e = engine().query_instant(&s, "up + on() up", 0).unwrap_err();
    assert!(e.to_string().contains("many-to-many matching not allowed"), "{e}");
    let e = engine().query_instant(&s, "up +", 0).unwrap_err();
    assert_eq!(e.error_type(), "bad_data");
    let res = engine().query_instant(&s, "rate(up[5m])", 300_000).unwrap();
    let infos: Vec<&str> = res.annotations.infos().collect();
    assert_eq!(
        infos,
        ["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"up\" (1:6)"]
    );
}

#[test]
fn limits() {
    let s = storage();
    let small = Engine::new(EngineOptions {
        max_samples: 5,
        ..EngineOptions::default()
    });
    let e = small.query_range(&s, "up", 0, 600_000, 60_000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    let none = Engine::new(EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    });
    let e = none.query_instant(&s, "up", 0).unwrap_err();
    assert_eq!(e.error_type(), "timeout");
    let cancel = std::sync::atomic::AtomicBool::new(true);
    let expr = engine().parse("up").unwrap();
    let e = engine()
        .instant_query_cancellable(&s, "up", &expr, 0, &cancel)
        .unwrap_err();
    assert_eq!(
        (e.error_type(), e.to_string().as_str()),
        ("canceled", "query was canceled in expression evaluation")
    );
    // One slot: queries run one after the other.
    let one = Engine::new(EngineOptions {
        max_concurrency: 1,
        ..EngineOptions::default()
    });
    for _ in 0..3 {
        assert!(one.query_instant(&s, "up", 0).is_ok());
    }
}

/// Range queries whose windows overlap take counting kernels' counts from per-series prefix counts; every step
/// must equal the instant query at that time (which walks its one window), including windows with drops, repeated
/// values and NaNs.
#[test]
fn counting_kernels_match_instant_evaluation() {
    let s = MemStorage::new();
    let mut app = s.appender();
    let l: Labels = [("__name__", "x_total")].into_iter().collect();
    let values = [
        1.0,
        2.0,
        2.0,
        0.5,
        3.0,
        f64::NAN,
        f64::NAN,
        4.0,
        1.0,
        1.0,
        6.0,
        2.0,
        2.0,
        9.0,
    ];
    for (i, v) in values.iter().enumerate() {
        app.append(0, &l, i as i64 * 10_000, *v).unwrap();
    }
    app.commit().unwrap();
    let e = engine();
    for q in [
        "changes(x_total[35s])",
        "resets(x_total[35s])",
        "rate(x_total[45s])",
        "increase(x_total[1m])",
    ] {
        let range = e.query_range(&s, q, 20_000, 130_000, 5_000).unwrap();
        let Value::Matrix(m) = &range.value else {
            panic!("{q}: not a matrix")
        };
        assert_eq!(m.len(), 1, "{q}");
        assert_eq!(m[0].floats.len(), 23, "{q}");
        for p in &m[0].floats {
            let inst = e.query_instant(&s, q, p.t).unwrap();
            let Value::Vector(v) = &inst.value else {
                panic!("{q}: not a vector")
            };
            assert_eq!(v[0].f.to_bits(), p.f.to_bits(), "{q} at {}", p.t);
        }
    }
}
