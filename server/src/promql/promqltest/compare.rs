//! Comparing a query's value with an eval's expectation, as upstream's runner does: floats with a relative
//! tolerance of 1e-6 (NaN equals NaN), histograms field by field after removing empty buckets, series matched by
//! label set (in order only with `expect ordered`).

use super::script::{Eval, EvalTime, Expected, Point, SeriesDesc};
use crate::model::histogram::{CounterResetHint, FloatHistogram};
use crate::model::labels::Labels;
use crate::promql::engine::functions::histogram::almost_equal;
use crate::promql::engine::histogram::{HistogramOps, expand};
use crate::promql::engine::value::{Series, Value, format_float};

const EPSILON: f64 = 1e-6;

fn float_eq(a: f64, b: f64) -> bool {
    almost_equal(a, b, EPSILON)
}

/// Whether two histograms are equal for test purposes.
pub fn histogram_eq(exp: &FloatHistogram, got: &FloatHistogram) -> bool {
    if exp.counter_reset_hint != CounterResetHint::Unknown && exp.counter_reset_hint != got.counter_reset_hint {
        // A gauge expectation must see a gauge; explicit reset hints must agree.
        if exp.counter_reset_hint == CounterResetHint::Gauge || got.counter_reset_hint == CounterResetHint::Gauge {
            return false;
        }
    }
    if exp.schema != got.schema
        || !float_eq(exp.zero_threshold, got.zero_threshold)
        || !float_eq(exp.zero_count, got.zero_count)
        || !float_eq(exp.count, got.count)
        || !float_eq(exp.sum, got.sum)
        || exp.custom_values != got.custom_values
    {
        return false;
    }
    let nz = |v: Vec<(i32, f64)>| v.into_iter().filter(|(_, c)| *c != 0.0).collect::<Vec<_>>();
    let eq = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
        let (a, b) = (nz(a), nz(b));
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && float_eq(x.1, y.1))
    };
    eq(
        expand(&exp.positive_spans, &exp.positive_buckets),
        expand(&got.positive_spans, &got.positive_buckets),
    ) && eq(
        expand(&exp.negative_spans, &exp.negative_buckets),
        expand(&got.negative_spans, &got.negative_buckets),
    )
}

fn fmt_point(p: &Option<Point>) -> String {
    match p {
        None => "_".into(),
        Some(Point::Float(f)) => format_float(*f),
        Some(Point::Histogram(h)) => fmt_hist(h),
    }
}

/// A compact rendering of a histogram for failure messages.
pub fn fmt_hist(h: &FloatHistogram) -> String {
    let mut c = h.clone();
    c.compact();
    format!(
        "{{{{schema:{} count:{} sum:{} z_bucket:{} z_bucket_w:{} buckets:{:?} n_buckets:{:?} custom:{:?} hint:{:?}}}}}",
        c.schema,
        format_float(c.count),
        format_float(c.sum),
        c.zero_count,
        c.zero_threshold,
        expand(&c.positive_spans, &c.positive_buckets),
        expand(&c.negative_spans, &c.negative_buckets),
        c.custom_values,
        c.counter_reset_hint
    )
}

fn point_eq(exp: &Option<Point>, got: &Option<Point>) -> bool {
    match (exp, got) {
        (None, None) => true,
        (Some(Point::Float(a)), Some(Point::Float(b))) => float_eq(*a, *b),
        (Some(Point::Histogram(a)), Some(Point::Histogram(b))) => histogram_eq(a, b),
        _ => false,
    }
}

/// A result series as expected-style points at the given timestamps.
fn series_points(s: &Series, times: &[i64]) -> Vec<Option<Point>> {
    times
        .iter()
        .map(|t| {
            if let Ok(i) = s.floats.binary_search_by_key(t, |p| p.t) {
                Some(Point::Float(s.floats[i].f))
            } else if let Ok(i) = s.histograms.binary_search_by_key(t, |p| p.t) {
                Some(Point::Histogram(Box::new((*s.histograms[i].h).clone())))
            } else {
                None
            }
        })
        .collect()
}

fn compare_matrix(expected: &[SeriesDesc], got: &[Series], times: &[i64]) -> Result<(), String> {
    let got: Vec<(&Labels, Vec<Option<Point>>)> = got
        .iter()
        .map(|s| (&*s.metric, series_points(s, times)))
        .filter(|(_, p)| p.iter().any(Option::is_some))
        .collect();
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} series, got {}: {:?}",
            expected.len(),
            got.len(),
            got.iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>()
        ));
    }
    for e in expected {
        let Some((_, pts)) = got.iter().find(|(l, _)| **l == e.labels) else {
            return Err(format!("expected series {} not in the result", e.labels));
        };
        let mut exp_pts: Vec<Option<Point>> = e.values.clone();
        exp_pts.resize(times.len(), None);
        for (i, (a, b)) in exp_pts.iter().zip(pts).enumerate() {
            if !point_eq(a, b) {
                return Err(format!(
                    "series {} at {}ms: expected {}, got {}",
                    e.labels,
                    times[i],
                    fmt_point(a),
                    fmt_point(b)
                ));
            }
        }
    }
    Ok(())
}

/// Compares `value` with what `eval` expects.
pub fn compare(eval: &Eval, value: &Value) -> Result<(), String> {
    match (&eval.expected, value) {
        (Expected::Scalar(e), Value::Scalar { v, .. }) => {
            if float_eq(*e, *v) {
                Ok(())
            } else {
                Err(format!(
                    "expected scalar {}, got {}",
                    format_float(*e),
                    format_float(*v)
                ))
            }
        }
        (Expected::String(e), Value::String { s, .. }) => {
            if e == s {
                Ok(())
            } else {
                Err(format!("expected string {e:?}, got {s:?}"))
            }
        }
        (
            Expected::RangeVector {
                start,
                end,
                step,
                series,
            },
            Value::Matrix(m),
        ) => {
            let times: Vec<i64> = (0..).map(|i| start + i * step).take_while(|t| *t <= *end).collect();
            compare_matrix(series, m, &times)
        }
        (Expected::Series(exp), Value::Matrix(m)) => match eval.time {
            EvalTime::Range { start, end, step } => {
                let times: Vec<i64> = (0..).map(|i| start + i * step).take_while(|t| *t <= end).collect();
                compare_matrix(exp, m, &times)
            }
            EvalTime::Instant(_) => Err("an instant query returned a range vector; expected an instant vector".into()),
        },
        (Expected::Series(exp), Value::Vector(v)) => {
            if exp.len() != v.len() {
                return Err(format!(
                    "expected {} samples, got {}: [{}]",
                    exp.len(),
                    v.len(),
                    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ));
            }
            for (i, e) in exp.iter().enumerate() {
                let found = if eval.ordered {
                    (*v[i].metric == e.labels).then_some(&v[i])
                } else {
                    v.iter().find(|s| *s.metric == e.labels)
                };
                let Some(s) = found else {
                    return Err(if eval.ordered {
                        format!("expected {} at position {i}, got {}", e.labels, v[i].metric)
                    } else {
                        format!(
                            "expected series {} not in the result [{}]",
                            e.labels,
                            v.iter().map(|s| s.metric.to_string()).collect::<Vec<_>>().join(", ")
                        )
                    });
                };
                let got = Some(match &s.h {
                    Some(h) => Point::Histogram(Box::new((**h).clone())),
                    None => Point::Float(s.f),
                });
                let want = e.values.first().cloned().flatten();
                if !point_eq(&want, &got) {
                    return Err(format!(
                        "series {}: expected {}, got {}",
                        e.labels,
                        fmt_point(&want),
                        fmt_point(&got)
                    ));
                }
            }
            Ok(())
        }
        (Expected::Series(exp), Value::Scalar { v, .. }) if exp.is_empty() => {
            Err(format!("expected an empty vector, got scalar {}", format_float(*v)))
        }
        (e, v) => Err(format!("expected {}, got a {}", expected_kind(e), v.type_name())),
    }
}

fn expected_kind(e: &Expected) -> &'static str {
    match e {
        Expected::Series(_) => "series",
        Expected::Scalar(_) => "a scalar",
        Expected::String(_) => "a string",
        Expected::RangeVector { .. } => "a range vector",
    }
}
