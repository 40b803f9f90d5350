//! Series-major values: an instant-vector expression evaluated for all steps can be held as one [`Series`] per
//! input series (its points at the step times where it has a value) instead of one vector per step. Selectors,
//! range functions, element-wise functions, arithmetic with scalars, `label_replace`/`label_join` and the simple
//! aggregations produce and consume this form, so a selector-rooted expression walks each series' samples once,
//! keeps one label set per series, and needs no regrouping into a matrix at the end. Operators that need the
//! whole vector of one step (vector matching, `topk`, ...) get the step-major form through [`series_to_vectors`].

use std::sync::Arc;

use super::QueryError;
use super::eval::{Evaluator, Point, Val, without_name};
use super::histogram::HistogramOps;
use super::value::{FPoint, HPoint, Matrix, Sample, Series, Vector};
use crate::model::value::is_stale_nan;
use crate::promql::ast::VectorSelector;

/// The value of an expression for all steps: step-major ([`Val`]) or, for instant vectors, series-major.
#[derive(Debug)]
pub enum Flow {
    /// Step-major (or a scalar, string or range vector).
    Val(Val),
    /// An instant vector, one entry per series with its points at step times (possibly none); label sets may
    /// repeat (e.g. after `label_replace`), as samples of one step's vector may.
    Series(Matrix),
}

impl Flow {
    /// Samples held.
    pub fn size(&self) -> usize {
        match self {
            Flow::Val(v) => v.size(),
            Flow::Series(m) => m.iter().map(|s| s.floats.len() + s.histograms.len()).sum(),
        }
    }
}

/// Step `i` of the point at `t` in a range starting at `start` with `interval` between steps.
#[inline]
pub fn step_index(t: i64, start: i64, interval: i64) -> usize {
    ((t - start) / interval) as usize
}

/// The step-major form of series-major `m` over `steps` steps: per step, the series with a point there, in
/// series order.
pub fn series_to_vectors(m: Matrix, start: i64, interval: i64, steps: usize) -> Vec<Vector> {
    let mut counts = vec![0usize; steps];
    for s in &m {
        for p in &s.floats {
            counts[step_index(p.t, start, interval)] += 1;
        }
        for p in &s.histograms {
            counts[step_index(p.t, start, interval)] += 1;
        }
    }
    let mut out: Vec<Vector> = counts.into_iter().map(Vector::with_capacity).collect();
    for s in m {
        for p in &s.floats {
            let mut smp = Sample::float(s.metric.clone(), p.t, p.f);
            smp.drop_name = s.drop_name;
            out[step_index(p.t, start, interval)].push(smp);
        }
        for p in s.histograms {
            out[step_index(p.t, start, interval)].push(Sample {
                metric: s.metric.clone(),
                t: p.t,
                f: 0.0,
                h: Some(p.h),
                drop_name: s.drop_name,
            });
        }
    }
    out
}

/// The result matrix of a range query from series-major `m`: names marked for removal are removed, series that
/// then share a label set are merged (an error where both have a point at the same time), empty series are left
/// out, and the rest is sorted by labels.
pub fn finish_series(m: Matrix) -> Result<Matrix, QueryError> {
    let mut sorted: Matrix = Vec::with_capacity(m.len());
    for mut s in m {
        if s.floats.is_empty() && s.histograms.is_empty() {
            continue;
        }
        if s.drop_name {
            s.metric = Arc::new(without_name(&s.metric));
            s.drop_name = false;
        }
        sorted.push(s);
    }
    // A stable sort (series usually arrive in label order already, which it checks in one pass) puts series with
    // equal labels next to each other, in their original order.
    sorted.sort_by(|a, b| a.metric.cmp(&b.metric));
    let mut out: Matrix = Vec::with_capacity(sorted.len());
    let mut merged = false;
    for s in sorted {
        match out.last_mut() {
            Some(into) if into.metric == s.metric => {
                into.floats.extend(s.floats);
                into.histograms.extend(s.histograms);
                merged = true;
            }
            _ => out.push(s),
        }
    }
    if merged {
        for s in &mut out {
            s.floats.sort_by_key(|p| p.t);
            s.histograms.sort_by_key(|p| p.t);
            let dup = s.floats.windows(2).any(|w| w[0].t == w[1].t)
                || s.histograms.windows(2).any(|w| w[0].t == w[1].t)
                || s.histograms
                    .iter()
                    .any(|h| s.floats.binary_search_by_key(&h.t, |p| p.t).is_ok());
            if dup {
                return Err(QueryError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Negates every value (unary minus): histograms are scaled by -1 and become gauges; the name is dropped.
pub fn negate(m: &mut Matrix) {
    for s in m.iter_mut() {
        for p in &mut s.floats {
            p.f = -p.f;
        }
        for p in &mut s.histograms {
            let h = Arc::make_mut(&mut p.h);
            h.scale(-1.0);
            h.counter_reset_hint = crate::model::histogram::CounterResetHint::Gauge;
        }
        s.drop_name = true;
    }
}

/// Applies `f` to every float point; histogram points are dropped; the name is dropped.
pub fn map_floats(m: &mut Matrix, f: impl Fn(f64) -> f64) {
    for s in m.iter_mut() {
        for p in &mut s.floats {
            p.f = f(p.f);
        }
        s.histograms.clear();
        s.drop_name = true;
    }
}

impl Evaluator<'_> {
    /// An instant vector selector (without `anchored`/`smoothed`) at every step, series-major.
    pub fn selector_series(&mut self, vs: &VectorSelector) -> Result<Matrix, QueryError> {
        let refs = self.ref_times(&vs.offset, &vs.at);
        let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
            return Ok(Matrix::new());
        };
        let lookback = self.lookback();
        let series = self.select(vs, lo - lookback + 1, hi, 0)?;
        let mut out = Matrix::with_capacity(series.len());
        let mut points = Vec::new();
        for s in series {
            self.check_deadline("expression evaluation")?;
            self.load_points_into(&s, &mut points)?;
            if points.is_empty() {
                continue;
            }
            let mut series = Series {
                metric: Arc::new(s.labels),
                floats: Vec::new(),
                histograms: Vec::new(),
                drop_name: false,
            };
            let mut last_t = i64::MIN;
            for (i, (t, p)) in lookback_points(&refs, &points, lookback) {
                let st = self.ts(i);
                match p {
                    Point::F(f) if is_stale_nan(*f) => {}
                    Point::F(f) => {
                        if series.floats.capacity() == 0 {
                            series.floats.reserve_exact(refs.len() - i);
                        }
                        series.floats.push(FPoint { t: st, f: *f });
                    }
                    Point::H(h) => series.histograms.push(HPoint {
                        t: st,
                        h: self.step_histogram(h, *t, last_t),
                    }),
                }
                last_t = *t;
            }
            out.push(series);
        }
        Ok(out)
    }

    /// The step-major form of `flow`.
    pub fn into_val(&self, flow: Flow) -> Val {
        match flow {
            Flow::Val(v) => v,
            Flow::Series(m) => Val::Vectors(series_to_vectors(m, self.start, self.interval, self.steps())),
        }
    }
}

/// The float points of the series of `m` at step time `t`, as `(series index, series, point)`, for walking a
/// series-major matrix step by step: `cursors` holds each series' next point and is advanced past the ones
/// returned (a series has at most one point per step, in step order).
pub(super) fn points_at<'a>(
    m: &'a Matrix,
    cursors: &'a mut [usize],
    t: i64,
) -> impl Iterator<Item = (usize, &'a Series, &'a FPoint)> + 'a {
    m.iter()
        .zip(cursors.iter_mut())
        .enumerate()
        .filter_map(move |(si, (s, c))| {
            let p = s.floats.get(*c).filter(|p| p.t == t)?;
            *c += 1;
            Some((si, s, p))
        })
}

/// The point a selector sees at each step: for every step `i` with reference time `refs[i]`, the latest of
/// `points` at or before it and after `refs[i] - lookback`, as `(i, point)`; steps without one are left out. Step
/// times only grow (or stay, with `@`), so a cursor walks the points instead of a search per step; it starts over
/// when a reference time goes back.
pub(super) fn lookback_points<'a, P>(
    refs: &'a [i64],
    points: &'a [(i64, P)],
    lookback: i64,
) -> impl Iterator<Item = (usize, &'a (i64, P))> + 'a {
    let mut idx = 0;
    let mut prev_r = i64::MIN;
    refs.iter().enumerate().filter_map(move |(i, &r)| {
        if r < prev_r {
            idx = 0;
        }
        prev_r = r;
        idx += points[idx..].iter().take_while(|(t, _)| *t <= r).count();
        let point = points.get(idx.checked_sub(1)?)?;
        (point.0 > r - lookback).then_some((i, point))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: &[(&str, &str)], drop_name: bool, points: &[(i64, f64)]) -> Series {
        Series {
            metric: Arc::new(labels.iter().copied().collect()),
            floats: points.iter().map(|&(t, f)| FPoint { t, f }).collect(),
            histograms: Vec::new(),
            drop_name,
        }
    }

    #[test]
    fn series_to_vectors_keeps_series_order_per_step() {
        let m = vec![
            series(&[("a", "2")], false, &[(10, 1.0), (30, 3.0)]),
            series(&[("a", "1")], true, &[(20, 2.0), (30, 4.0)]),
        ];
        let vs = series_to_vectors(m, 10, 10, 3);
        let got: Vec<Vec<(String, f64, bool)>> = vs
            .iter()
            .map(|v| v.iter().map(|s| (s.metric.to_string(), s.f, s.drop_name)).collect())
            .collect();
        let want = vec![
            vec![("{a=\"2\"}".to_string(), 1.0, false)],
            vec![("{a=\"1\"}".to_string(), 2.0, true)],
            vec![
                ("{a=\"2\"}".to_string(), 3.0, false),
                ("{a=\"1\"}".to_string(), 4.0, true),
            ],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn finish_series_cases() {
        // (input, expected (labels, points) or None for the duplicate-labelset error)
        type Case = (Vec<Series>, Option<Vec<(String, Vec<(i64, f64)>)>>);
        let cases: Vec<Case> = vec![
            // Empty series are left out; the rest is sorted by labels.
            (
                vec![
                    series(&[("a", "2")], false, &[(1, 1.0)]),
                    series(&[("a", "3")], false, &[]),
                    series(&[("a", "1")], false, &[(1, 2.0)]),
                ],
                Some(vec![
                    ("{a=\"1\"}".into(), vec![(1, 2.0)]),
                    ("{a=\"2\"}".into(), vec![(1, 1.0)]),
                ]),
            ),
            // Dropping the name merges series that then share labels, at different times.
            (
                vec![
                    series(&[("__name__", "x"), ("a", "1")], true, &[(2, 1.0)]),
                    series(&[("__name__", "y"), ("a", "1")], true, &[(1, 2.0)]),
                ],
                Some(vec![("{a=\"1\"}".into(), vec![(1, 2.0), (2, 1.0)])]),
            ),
            // ... and fails where both have a point at the same time.
            (
                vec![
                    series(&[("__name__", "x"), ("a", "1")], true, &[(1, 1.0)]),
                    series(&[("__name__", "y"), ("a", "1")], true, &[(1, 2.0)]),
                ],
                None,
            ),
        ];
        for (i, (input, want)) in cases.into_iter().enumerate() {
            let got = finish_series(input).ok().map(|m| {
                m.iter()
                    .map(|s| (s.metric.to_string(), s.floats.iter().map(|p| (p.t, p.f)).collect()))
                    .collect::<Vec<(String, Vec<(i64, f64)>)>>()
            });
            assert_eq!(got, want, "case {i}");
        }
    }
}
