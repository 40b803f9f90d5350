//! Function calls: one table of implementations keyed by the names of the parser's function table
//! ([`crate::promql::functions::FUNCTIONS`]); a test checks both list the same functions. Range-vector functions
//! live in [`range`], the histogram functions in [`histogram`], label manipulation and sorting in [`labels`], and
//! the element-wise math and date functions here.

pub mod histogram;
pub mod labels;
pub mod range;

use std::sync::Arc;

use super::QueryError;
use super::eval::{Evaluator, Val};
use super::stream::{self, Flow};
use super::value::{Sample, Vector};
use crate::model::labels::Labels;
use crate::model::matcher::MatchOp;
use crate::promql::ast::{Call, Expr};

/// How a function is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Over a range-vector argument, per series and window ([`range`]).
    Range,
    /// Element-wise over an instant vector with a float mapping.
    Math,
    /// Anything else, with its own evaluation.
    Special,
}

/// Every function the engine implements, with how.
pub static IMPLEMENTATIONS: &[(&str, Kind)] = &[
    ("abs", Kind::Math),
    ("absent", Kind::Special),
    ("absent_over_time", Kind::Special),
    ("acos", Kind::Math),
    ("acosh", Kind::Math),
    ("asin", Kind::Math),
    ("asinh", Kind::Math),
    ("atan", Kind::Math),
    ("atanh", Kind::Math),
    ("avg_over_time", Kind::Range),
    ("ceil", Kind::Math),
    ("changes", Kind::Range),
    ("clamp", Kind::Special),
    ("clamp_max", Kind::Special),
    ("clamp_min", Kind::Special),
    ("cos", Kind::Math),
    ("cosh", Kind::Math),
    ("count_over_time", Kind::Range),
    ("day_of_month", Kind::Special),
    ("day_of_week", Kind::Special),
    ("day_of_year", Kind::Special),
    ("days_in_month", Kind::Special),
    ("deg", Kind::Math),
    ("delta", Kind::Range),
    ("deriv", Kind::Range),
    ("double_exponential_smoothing", Kind::Range),
    ("exp", Kind::Math),
    ("first_over_time", Kind::Range),
    ("floor", Kind::Math),
    ("histogram_avg", Kind::Special),
    ("histogram_count", Kind::Special),
    ("histogram_fraction", Kind::Special),
    ("histogram_quantile", Kind::Special),
    ("histogram_quantiles", Kind::Special),
    ("histogram_stddev", Kind::Special),
    ("histogram_stdvar", Kind::Special),
    ("histogram_sum", Kind::Special),
    ("hour", Kind::Special),
    ("idelta", Kind::Range),
    ("increase", Kind::Range),
    ("info", Kind::Special),
    ("irate", Kind::Range),
    ("label_join", Kind::Special),
    ("label_replace", Kind::Special),
    ("last_over_time", Kind::Range),
    ("ln", Kind::Math),
    ("log10", Kind::Math),
    ("log2", Kind::Math),
    ("mad_over_time", Kind::Range),
    ("max_over_time", Kind::Range),
    ("min_over_time", Kind::Range),
    ("minute", Kind::Special),
    ("month", Kind::Special),
    ("pi", Kind::Special),
    ("predict_linear", Kind::Range),
    ("present_over_time", Kind::Range),
    ("quantile_over_time", Kind::Range),
    ("rad", Kind::Math),
    ("rate", Kind::Range),
    ("resets", Kind::Range),
    ("round", Kind::Special),
    ("scalar", Kind::Special),
    ("sgn", Kind::Math),
    ("sin", Kind::Math),
    ("sinh", Kind::Math),
    ("sort", Kind::Special),
    ("sort_by_label", Kind::Special),
    ("sort_by_label_desc", Kind::Special),
    ("sort_desc", Kind::Special),
    ("sqrt", Kind::Math),
    ("start_timestamp", Kind::Special),
    ("stddev_over_time", Kind::Range),
    ("stdvar_over_time", Kind::Range),
    ("sum_over_time", Kind::Range),
    ("tan", Kind::Math),
    ("tanh", Kind::Math),
    ("time", Kind::Special),
    ("timestamp", Kind::Special),
    ("ts_of_first_over_time", Kind::Range),
    ("ts_of_last_over_time", Kind::Range),
    ("ts_of_max_over_time", Kind::Range),
    ("ts_of_min_over_time", Kind::Range),
    ("vector", Kind::Special),
    ("year", Kind::Special),
];

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v: f64| v * 180.0 / std::f64::consts::PI,
        "rad" => |v: f64| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Evaluates a function call for all steps.
pub fn eval_call(ev: &mut Evaluator<'_>, call: &Call) -> Result<Flow, QueryError> {
    let name = call.func.name;
    if let Some((kernel, keep)) = range::lookup(name) {
        return range::eval(ev, call, kernel, keep);
    }
    if let Some(f) = math_fn(name) {
        return Ok(match ev.eval_flow(&call.args[0])? {
            Flow::Series(mut m) => {
                stream::map_floats(&mut m, f);
                Flow::Series(m)
            }
            flow => {
                let Val::Vectors(vs) = ev.into_val(flow) else {
                    return Err(QueryError::Execution(format!(
                        "expected an instant vector, got {}",
                        call.args[0].value_type().documented()
                    )));
                };
                Flow::Val(Val::Vectors(map_floats(ev, call, vs, f)))
            }
        });
    }
    // The statistics-only reading applies below histogram_count/sum/avg, not below functions needing buckets.
    let saved_stats = ev.stats_mode;
    ev.stats_mode = matches!(name, "histogram_count" | "histogram_sum" | "histogram_avg")
        || (saved_stats && !name.starts_with("histogram_"));
    let res = match name {
        "label_replace" => labels::label_replace(ev, call),
        "label_join" => labels::label_join(ev, call),
        n if n.starts_with("histogram_") => histogram::eval(ev, call),
        _ => eval_call_inner(ev, call).map(Flow::Val),
    };
    ev.stats_mode = saved_stats;
    res
}

fn eval_call_inner(ev: &mut Evaluator<'_>, call: &Call) -> Result<Val, QueryError> {
    let name = call.func.name;
    let steps = ev.steps();
    match name {
        "time" => Ok(Val::Scalars((0..steps).map(|i| ev.ts(i) as f64 / 1000.0).collect())),
        "pi" => Ok(Val::Scalars(vec![std::f64::consts::PI; steps])),
        "vector" => {
            let s = ev.eval_scalars(&call.args[0])?;
            let empty = Arc::new(Labels::new());
            Ok(Val::Vectors(
                s.into_iter()
                    .enumerate()
                    .map(|(i, v)| vec![Sample::float(empty.clone(), ev.ts(i), v)])
                    .collect(),
            ))
        }
        "scalar" => {
            let vs = ev.eval_vectors(&call.args[0])?;
            Ok(Val::Scalars(
                vs.iter()
                    .map(|v| {
                        let mut floats = v.iter().filter(|s| s.h.is_none());
                        match (floats.next(), floats.next()) {
                            (Some(s), None) => s.f,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "timestamp" => {
            let vs = match call.args[0].unparen() {
                Expr::VectorSelector(sel) => ev.eval_vector_selector(sel, true)?,
                other => {
                    let mut vs = ev.eval_vectors(other)?;
                    for (i, v) in vs.iter_mut().enumerate() {
                        let t = ev.ts(i);
                        v.iter_mut().for_each(|s| s.t = t);
                    }
                    vs
                }
            };
            let out = vs
                .into_iter()
                .map(|v| {
                    v.into_iter()
                        .map(|mut s| {
                            s.f = s.t as f64 / 1000.0;
                            s.h = None;
                            s.drop_name = true;
                            s
                        })
                        .collect()
                })
                .collect();
            Ok(Val::Vectors(out))
        }
        "absent" => {
            let vs = ev.eval_vectors(&call.args[0])?;
            let labels = Arc::new(absent_labels(&call.args[0]));
            Ok(Val::Vectors(
                vs.into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if v.is_empty() {
                            vec![Sample::float(labels.clone(), ev.ts(i), 1.0)]
                        } else {
                            Vec::new()
                        }
                    })
                    .collect(),
            ))
        }
        "absent_over_time" => range::absent_over_time(ev, call),
        "clamp" | "clamp_min" | "clamp_max" => {
            let vs = ev.eval_vectors(&call.args[0])?;
            let a = ev.eval_scalars(&call.args[1])?;
            let b = if name == "clamp" {
                Some(ev.eval_scalars(&call.args[2])?)
            } else {
                None
            };
            let mut out = Vec::with_capacity(steps);
            for (i, v) in vs.into_iter().enumerate() {
                let (lo, hi) = match name {
                    "clamp" => (a[i], b.as_ref().map_or(f64::NAN, |b| b[i])),
                    "clamp_min" => (a[i], f64::INFINITY),
                    _ => (f64::NEG_INFINITY, a[i]),
                };
                if name == "clamp" && hi < lo {
                    out.push(Vec::new());
                    continue;
                }
                out.push(map_one(ev, call, v, |x| {
                    if lo.is_nan() || hi.is_nan() {
                        f64::NAN
                    } else {
                        x.max(lo).min(hi)
                    }
                }));
            }
            Ok(Val::Vectors(out))
        }
        "round" => {
            let vs = ev.eval_vectors(&call.args[0])?;
            let to = if call.args.len() > 1 {
                ev.eval_scalars(&call.args[1])?
            } else {
                vec![1.0; steps]
            };
            let out = vs
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let inv = 1.0 / to[i];
                    map_one(ev, call, v, |x| (x * inv + 0.5).floor() / inv)
                })
                .collect();
            Ok(Val::Vectors(out))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let vs = if call.args.is_empty() {
                let empty = Arc::new(Labels::new());
                (0..steps)
                    .map(|i| vec![Sample::float(empty.clone(), ev.ts(i), ev.ts(i) as f64 / 1000.0)])
                    .collect()
            } else {
                ev.eval_vectors(&call.args[0])?
            };
            let f = date_fn(name);
            let out = vs.into_iter().map(|v| map_one(ev, call, v, f)).collect();
            Ok(Val::Vectors(out))
        }
        "start_timestamp" => Err(QueryError::Execution(
            "start_timestamp(): sample start timestamps are not recorded by the storage".into(),
        )),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => labels::sort(ev, call),
        "info" => labels::info(ev, call),
        _ => Err(QueryError::Execution(format!("function {name:?} is not implemented"))),
    }
}

/// The labels `absent()` gives its result: the equality matchers of a plain selector (other than the name).
pub fn absent_labels(arg: &Expr) -> Labels {
    let matchers = match arg.unparen() {
        Expr::VectorSelector(vs) => &vs.matchers,
        Expr::MatrixSelector(ms) => &ms.vs.matchers,
        Expr::Subquery(_) => return Labels::new(),
        _ => return Labels::new(),
    };
    let mut labels = Labels::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.op == MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            labels.set(m.name.clone(), m.value.clone());
            seen.push(&m.name);
        } else if seen.contains(&m.name.as_str()) {
            // A second matcher for the same label makes the value ambiguous.
            labels.remove(&m.name);
        }
    }
    labels
}

/// Applies `f` to every float sample; histogram samples are dropped (with upstream's info for math functions).
fn map_floats(ev: &mut Evaluator<'_>, call: &Call, vs: Vec<Vector>, f: fn(f64) -> f64) -> Vec<Vector> {
    vs.into_iter().map(|v| map_one(ev, call, v, f)).collect()
}

fn map_one(_ev: &mut Evaluator<'_>, _call: &Call, v: Vector, f: impl Fn(f64) -> f64) -> Vector {
    v.into_iter()
        .filter(|s| s.h.is_none())
        .map(|mut s| {
            s.f = f(s.f);
            s.drop_name = true;
            s
        })
        .collect()
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian): (year, month 1-12, day 1-31).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

fn date_fn(name: &str) -> fn(f64) -> f64 {
    fn parts(v: f64) -> Option<(i64, u32, u32, i64)> {
        if !v.is_finite() {
            return None;
        }
        let secs = v.floor() as i64;
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Some((y, m, d, secs.rem_euclid(86_400)))
    }
    match name {
        "day_of_month" => |v| parts(v).map_or(f64::NAN, |(_, _, d, _)| d as f64),
        "day_of_week" => |v| {
            if !v.is_finite() {
                return f64::NAN;
            }
            let days = (v.floor() as i64).div_euclid(86_400);
            (days + 4).rem_euclid(7) as f64
        },
        "day_of_year" => |v| {
            parts(v).map_or(f64::NAN, |(y, m, d, _)| {
                let before: u32 = (1..m).map(|mm| days_in(y, mm)).sum();
                (before + d) as f64
            })
        },
        "days_in_month" => |v| parts(v).map_or(f64::NAN, |(y, m, _, _)| days_in(y, m) as f64),
        "hour" => |v| parts(v).map_or(f64::NAN, |(_, _, _, s)| (s / 3600) as f64),
        "minute" => |v| parts(v).map_or(f64::NAN, |(_, _, _, s)| ((s % 3600) / 60) as f64),
        "month" => |v| parts(v).map_or(f64::NAN, |(_, m, _, _)| m as f64),
        _ => |v| parts(v).map_or(f64::NAN, |(y, _, _, _)| y as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_implements_every_parser_function() {
        let parser: Vec<&str> = crate::promql::functions::FUNCTIONS.iter().map(|f| f.name).collect();
        let engine: Vec<&str> = IMPLEMENTATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(parser, engine);
        for (name, kind) in IMPLEMENTATIONS {
            assert_eq!(*kind == Kind::Range, range::lookup(name).is_some(), "{name}");
            assert_eq!(*kind == Kind::Math, math_fn(name).is_some(), "{name}");
        }
    }

    #[test]
    fn civil_dates() {
        let cases = [
            (0, (1970, 1, 1)),
            (19_723, (2024, 1, 1)),
            (-1, (1969, 12, 31)),
            (11_016, (2000, 2, 29)),
        ];
        for (days, want) in cases {
            assert_eq!(civil_from_days(days), want, "{days}");
        }
    }
}
