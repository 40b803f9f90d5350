//! Families gathered from a registry have the expected shape (metadata, labels, values, `_created`, exemplars),
//! and invalid names and label lookups fail with errors naming the cause.

use std::time::{Duration, UNIX_EPOCH};

use exposition::Registry;
use exposition::instrument::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, InstrumentError, ManualClock, Opts,
    Summary, SummaryOpts,
};
use exposition::model::{Bucket, Exemplar, Labels, Metric, MetricFamily, MetricType, Quantile, Value};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

#[test]
fn gathered_families_have_the_expected_shape() {
    let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
    let clock = ManualClock::shared(t0);
    let base = |name: &str, help: &str| {
        Opts::new(name, help)
            .namespace("app")
            .const_label("instance", "a")
            .clock(clock.clone())
    };

    let registry = Registry::new();
    let requests = CounterVec::new(
        base("requests_total", "Requests served.").with_created(),
        &["code", "method"],
    )
    .unwrap();
    let up = Gauge::new(base("up", "Whether the app is up.")).unwrap();
    let latency = HistogramVec::new(
        HistogramOpts::new(
            base("latency_seconds", "Request latency.")
                .unit("seconds")
                .with_created(),
        )
        .buckets([0.1, 1.0]),
        &["route"],
    )
    .unwrap();
    let sizes = Summary::new(SummaryOpts::new(base("size_bytes", "Sizes.")).objective(0.5, 0.05)).unwrap();
    let idle = GaugeVec::new(base("idle", "No children yet."), &["x"]).unwrap();
    registry.register(requests.clone());
    registry.register(up.clone());
    registry.register(latency.clone());
    registry.register(sizes.clone());
    registry.register(idle.clone());

    clock.advance(Duration::from_secs(10));
    requests.with_label_values(&["200", "GET"]).unwrap().inc_by(3.0);
    requests
        .with_labels(&[("method", "POST"), ("code", "500")])
        .unwrap()
        .inc_by_with_exemplar(1.0, &[("trace_id", "abc")])
        .unwrap();
    up.set(1.0);
    let home = latency.with_label_values(&["/"]).unwrap();
    home.observe(0.1);
    home.observe(0.5);
    home.observe_with_exemplar(7.0, &[("trace_id", "slow")]).unwrap();
    sizes.observe(10.0);
    sizes.observe(20.0);

    let fams = registry.gather(&[]).unwrap();
    let created = 1_700_000_010.5;
    let ts = 1_700_000_010_500;
    let want = vec![
        MetricFamily {
            name: "app_latency_seconds".into(),
            help: Some("Request latency.".into()),
            unit: Some("seconds".into()),
            metric_type: MetricType::Histogram,
            metrics: vec![Metric::new(
                labels(&[("instance", "a"), ("route", "/")]),
                Value::Histogram {
                    buckets: vec![
                        Bucket {
                            upper_bound: 0.1,
                            cumulative_count: 1.0,
                            exemplar: None,
                        },
                        Bucket {
                            upper_bound: 1.0,
                            cumulative_count: 2.0,
                            exemplar: None,
                        },
                        Bucket {
                            upper_bound: f64::INFINITY,
                            cumulative_count: 3.0,
                            exemplar: Some(Exemplar {
                                labels: labels(&[("trace_id", "slow")]),
                                value: 7.0,
                                timestamp_ms: Some(ts),
                            }),
                        },
                    ],
                    sum: Some(7.6),
                    count: Some(3.0),
                    created: Some(created),
                },
            )],
        },
        MetricFamily {
            name: "app_requests_total".into(),
            help: Some("Requests served.".into()),
            unit: None,
            metric_type: MetricType::Counter,
            metrics: vec![
                Metric::new(
                    labels(&[("code", "200"), ("instance", "a"), ("method", "GET")]),
                    Value::Counter {
                        total: 3.0,
                        created: Some(created),
                        exemplar: None,
                    },
                ),
                Metric::new(
                    labels(&[("code", "500"), ("instance", "a"), ("method", "POST")]),
                    Value::Counter {
                        total: 1.0,
                        created: Some(created),
                        exemplar: Some(Exemplar {
                            labels: labels(&[("trace_id", "abc")]),
                            value: 1.0,
                            timestamp_ms: Some(ts),
                        }),
                    },
                ),
            ],
        },
        MetricFamily {
            name: "app_size_bytes".into(),
            help: Some("Sizes.".into()),
            unit: None,
            metric_type: MetricType::Summary,
            metrics: vec![Metric::new(
                labels(&[("instance", "a")]),
                Value::Summary {
                    quantiles: vec![Quantile {
                        quantile: 0.5,
                        value: 10.0,
                    }],
                    sum: Some(30.0),
                    count: Some(2.0),
                    created: None,
                },
            )],
        },
        MetricFamily {
            name: "app_up".into(),
            help: Some("Whether the app is up.".into()),
            unit: None,
            metric_type: MetricType::Gauge,
            metrics: vec![Metric::new(labels(&[("instance", "a")]), Value::Gauge(1.0))],
        },
    ];
    assert_eq!(fams, want);
    for f in &fams {
        f.validate().unwrap();
    }

    // Removing a child removes it from the exposition; a kept handle still works but is no longer exposed.
    let kept = requests.with_label_values(&["200", "GET"]).unwrap();
    assert_eq!(requests.remove_label_values(&["200", "GET"]), Ok(true));
    assert_eq!(requests.remove_labels(&[("code", "200"), ("method", "GET")]), Ok(false));
    kept.inc();
    let fams = registry.gather(&[]).unwrap();
    let req = fams.iter().find(|f| f.name == "app_requests_total").unwrap();
    assert_eq!(req.metrics.len(), 1);
    requests.clear();
    assert!(requests.is_empty());
    assert!(
        !registry
            .gather(&[])
            .unwrap()
            .iter()
            .any(|f| f.name == "app_requests_total")
    );
}

#[test]
fn invalid_construction_and_lookups_are_errors() {
    let cases: Vec<(Result<(), InstrumentError>, InstrumentError)> = vec![
        (
            CounterVec::new(Opts::new("x_total", "h"), &["ok", "bad-name"]).map(drop),
            InstrumentError::LabelName {
                metric: "x_total".into(),
                label: "bad-name".into(),
            },
        ),
        (
            Counter::new(Opts::new("x total", "h")).map(drop),
            InstrumentError::MetricName { name: "x total".into() },
        ),
        (
            HistogramVec::new(Opts::new("h", "h"), &["le"]).map(drop),
            InstrumentError::ReservedLabelName {
                metric: "h".into(),
                label: "le".into(),
            },
        ),
        (
            GaugeVec::new(Opts::new("g", "h").const_label("zone", "a"), &["zone"]).map(drop),
            InstrumentError::DuplicateLabelName {
                metric: "g".into(),
                label: "zone".into(),
            },
        ),
        (
            Histogram::new(HistogramOpts::new(Opts::new("h", "h")).buckets([2.0, 1.0])).map(drop),
            InstrumentError::BucketsNotIncreasing {
                metric: "h".into(),
                previous: 2.0,
                bound: 1.0,
            },
        ),
        (
            Summary::new(SummaryOpts::new(Opts::new("s", "h")).objective(2.0, 0.1)).map(drop),
            InstrumentError::Objective {
                metric: "s".into(),
                quantile: 2.0,
                error: 0.1,
            },
        ),
        (
            Counter::new(Opts::new("bytes_total", "h").unit("seconds")).map(drop),
            InstrumentError::UnitNotSuffix {
                metric: "bytes_total".into(),
                unit: "seconds".into(),
            },
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want.clone()), "{want}");
    }

    let v = CounterVec::new(Opts::new("rpc_total", "h"), &["service", "method"]).unwrap();
    let lookups: Vec<(Result<Counter, InstrumentError>, InstrumentError)> = vec![
        (
            v.with_label_values(&["a"]),
            InstrumentError::LabelValueCount {
                metric: "rpc_total".into(),
                expected: 2,
                got: 1,
            },
        ),
        (
            v.with_labels(&[("service", "a")]),
            InstrumentError::MissingLabel {
                metric: "rpc_total".into(),
                label: "method".into(),
            },
        ),
        (
            v.with_labels(&[("service", "a"), ("method", "b"), ("zone", "c")]),
            InstrumentError::UnknownLabel {
                metric: "rpc_total".into(),
                label: "zone".into(),
            },
        ),
        (
            v.with_labels(&[("service", "a"), ("service", "b")]),
            InstrumentError::DuplicateLabelName {
                metric: "rpc_total".into(),
                label: "service".into(),
            },
        ),
    ];
    for (got, want) in lookups {
        assert_eq!(got.map(|c| c.get()).err(), Some(want.clone()), "{want}");
    }
    assert!(v.is_empty(), "failed lookups must not create children");
    assert_eq!(
        v.with_label_values(&["a", "b"])
            .unwrap()
            .inc_by_with_exemplar(1.0, &[("trace id", "x")]),
        Err(InstrumentError::ExemplarLabelName {
            label: "trace id".into()
        })
    );
    assert_eq!(
        InstrumentError::LabelValueCount {
            metric: "rpc_total".into(),
            expected: 2,
            got: 1
        }
        .to_string(),
        "metric \"rpc_total\": expected 2 label values, got 1"
    );
}
