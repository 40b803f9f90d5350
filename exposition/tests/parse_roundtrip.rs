//! Round trip: generated families of every type -> `encode` -> `parse::families` -> equal.
//!
//! OpenMetrics carries every type and is parsed back in strict mode, so the encoder's output is also checked
//! against the OpenMetrics 1.0 rules; its counters are named without `_total` (the parser names OpenMetrics
//! families by their metadata name). Text format 0.0.4 is restricted to what it can carry: counters, gauges,
//! histograms and summaries without `_created`, exemplars or units, and untyped metrics.

use exposition::encode::{Format, encode};
use exposition::model::{Bucket, Exemplar, Labels, Metric, MetricFamily, MetricType, Quantile, State, Value};
use exposition::parse::{Mode, families};
use proptest::prelude::*;

fn label_value() -> impl Strategy<Value = String> {
    "[a-z0-9 \"\\\\\n{}#,=é☃]{0,6}"
}

fn help() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9 .\"\\\\\n#é]{0,12}")
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6..1e6f64,
        any::<i32>().prop_map(f64::from),
        Just(0.0),
        -1e300..1e300f64,
        1e-300..1e-10f64
    ]
}

fn non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..1e9f64, (0u32..1000).prop_map(f64::from), 1e-300..1e300f64]
}

fn count() -> impl Strategy<Value = f64> {
    (0u32..100_000).prop_map(f64::from)
}

fn timestamp() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(prop_oneof![0i64..4_102_444_800_000, -1_000_000i64..0])
}

/// Text format timestamps are digits only for Prometheus' parser, so negative ones cannot round-trip.
fn text_timestamp() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(0i64..4_102_444_800_000)
}

fn exemplar() -> impl Strategy<Value = Option<Exemplar>> {
    proptest::option::of(
        ("[0-9a-f]{0,16}", finite(), timestamp()).prop_map(|(trace, value, timestamp_ms)| Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value,
            timestamp_ms,
        }),
    )
}

/// Labels of metric `j`: an `id` that keeps metrics of a family apart, plus an optional free-form label.
fn labels(j: usize) -> impl Strategy<Value = Labels> {
    proptest::option::of(label_value()).prop_map(move |extra| {
        let mut l = Labels::from_pairs([("id", j.to_string())]);
        if let Some(v) = extra {
            l.push("path", v);
        }
        l
    })
}

/// Cumulative buckets with increasing finite bounds and a final `+Inf`, and a matching sum and count (or none).
fn histogram(om: bool, gauge: bool) -> impl Strategy<Value = Value> {
    (
        proptest::collection::btree_set(1u32..10_000, 0..5),
        proptest::collection::vec(0u32..1000, 6),
        any::<bool>(),
        non_negative(),
        proptest::option::of(non_negative()),
        proptest::collection::vec(exemplar(), 6),
    )
        .prop_map(move |(bounds, incs, with_sum, sum, created, exemplars)| {
            let mut total = 0.0;
            let mut buckets = Vec::new();
            let bounds = bounds.into_iter().map(|b| f64::from(b) / 8.0).chain([f64::INFINITY]);
            for (i, upper_bound) in bounds.enumerate() {
                total += f64::from(incs[i]);
                buckets.push(Bucket {
                    upper_bound,
                    cumulative_count: total,
                    exemplar: if om { exemplars[i].clone() } else { None },
                });
            }
            Value::Histogram {
                buckets,
                sum: with_sum.then_some(sum),
                count: with_sum.then_some(total),
                created: if om && !gauge { created } else { None },
            }
        })
}

fn summary(om: bool) -> impl Strategy<Value = Value> {
    (
        proptest::sample::subsequence(vec![0.0, 0.25, 0.5, 0.9, 0.99, 1.0], 0..6),
        proptest::collection::vec(non_negative(), 6),
        proptest::option::of(non_negative()),
        proptest::option::of(count()),
        proptest::option::of(non_negative()),
    )
        .prop_map(move |(qs, values, sum, count, created)| {
            // A summary with nothing to write would vanish from the output: give it a count.
            let count = if qs.is_empty() && sum.is_none() {
                count.or(Some(0.0))
            } else {
                count
            };
            Value::Summary {
                quantiles: qs
                    .into_iter()
                    .zip(values)
                    .map(|(quantile, value)| Quantile { quantile, value })
                    .collect(),
                sum,
                count,
                created: if om { created } else { None },
            }
        })
}

fn value(t: MetricType, om: bool) -> BoxedStrategy<Value> {
    match t {
        MetricType::Counter => (non_negative(), proptest::option::of(non_negative()), exemplar())
            .prop_map(move |(total, created, exemplar)| Value::Counter {
                total,
                created: if om { created } else { None },
                exemplar: if om { exemplar } else { None },
            })
            .boxed(),
        MetricType::Gauge => prop_oneof![finite(), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
            .prop_map(Value::Gauge)
            .boxed(),
        MetricType::Unknown => finite().prop_map(Value::Unknown).boxed(),
        MetricType::Histogram => histogram(om, false).boxed(),
        MetricType::GaugeHistogram => histogram(om, true).boxed(),
        MetricType::Summary => summary(om).boxed(),
        MetricType::Info => Just(Value::Info).boxed(),
        MetricType::StateSet => (
            proptest::sample::subsequence(vec!["a", "b", "on", "off"], 1..4),
            any::<[bool; 4]>(),
        )
            .prop_map(|(names, on)| {
                Value::StateSet(
                    names
                        .into_iter()
                        .zip(on)
                        .map(|(n, enabled)| State {
                            name: n.to_owned(),
                            enabled,
                        })
                        .collect(),
                )
            })
            .boxed(),
    }
}

/// Family `i` of type `t`: one to three metrics with distinct label sets.
fn family(i: usize, t: MetricType, om: bool) -> BoxedStrategy<MetricFamily> {
    let unit_ok = om && !matches!(t, MetricType::Info | MetricType::StateSet);
    let metric = move |j: usize| {
        let ts = if om {
            timestamp().boxed()
        } else {
            text_timestamp().boxed()
        };
        (labels(j), value(t, om), ts).prop_map(|(l, v, ts)| Metric {
            labels: l,
            value: v,
            timestamp_ms: ts,
        })
    };
    (
        help(),
        any::<bool>(),
        (1..4usize).prop_flat_map(move |n| (0..n).map(metric).collect::<Vec<_>>()),
    )
        .prop_map(move |(help, with_unit, metrics)| {
            let with_unit = with_unit && unit_ok;
            MetricFamily {
                name: if with_unit {
                    format!("f{i}_m_seconds")
                } else {
                    format!("f{i}_m")
                },
                help,
                unit: with_unit.then(|| "seconds".to_owned()),
                metric_type: t,
                metrics,
            }
        })
        .boxed()
}

fn family_list(om: bool) -> impl Strategy<Value = Vec<MetricFamily>> {
    let types: Vec<MetricType> = if om {
        MetricType::ALL.to_vec()
    } else {
        vec![
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Summary,
            MetricType::Unknown,
        ]
    };
    proptest::collection::vec(proptest::sample::select(types), 1..6).prop_flat_map(move |ts| {
        ts.into_iter()
            .enumerate()
            .map(|(i, t)| family(i, t, om))
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn openmetrics_round_trip(fams in family_list(true)) {
        let mut out = Vec::new();
        encode(&fams, Format::OpenMetrics, &mut out);
        let parsed = families(&out, Format::OpenMetrics, Mode::Strict);
        prop_assert_eq!(parsed, Ok(fams), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn text_round_trip(fams in family_list(false)) {
        let mut out = Vec::new();
        encode(&fams, Format::Text, &mut out);
        for mode in [Mode::Strict, Mode::Lenient] {
            let parsed = families(&out, Format::Text, mode);
            prop_assert_eq!(parsed, Ok(fams.clone()), "{}", String::from_utf8_lossy(&out));
        }
    }
}
