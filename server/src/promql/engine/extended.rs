//! The experimental extended range selectors (`promql-extended-range-selectors`): `anchored` windows start with
//! the last sample at or before their start (within the lookback delta) and end with a copy of their last
//! sample; `smoothed` windows and instant selectors interpolate values at their edges from the samples around
//! them (a counter that reset in between is interpolated from zero). `rate`, `increase` and `delta` then take the
//! difference of the window's ends without extrapolation; `changes` and `resets` count along the window.

use std::sync::Arc;

use super::eval::RangeArg;
use super::histogram::HistogramOps;
use super::value::{FPoint, HPoint};
use crate::model::histogram::{CounterResetHint, FloatHistogram};

/// A point of an extended window.
#[derive(Clone, Debug)]
pub enum XValue {
    /// A float.
    F(f64),
    /// A histogram.
    H(Arc<FloatHistogram>),
}

/// A point of an extended window; `copy` marks a point duplicated from its neighbour (never a counter reset).
#[derive(Clone, Debug)]
pub struct XPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: XValue,
    /// Duplicated from the adjacent point.
    pub copy: bool,
}

/// Why a window cannot be evaluated; each becomes an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XProblem {
    /// Floats and histograms would be interpolated together.
    MixedTypes,
    /// Exponential and custom-bucket histograms would be interpolated together.
    MixedSchemas,
}

/// Merges a series' floats and histograms into time order.
fn merged(f: &[FPoint], h: &[HPoint]) -> Vec<(i64, XValue)> {
    let mut out = Vec::with_capacity(f.len() + h.len());
    let (mut i, mut j) = (0, 0);
    while i < f.len() || j < h.len() {
        if j >= h.len() || (i < f.len() && f[i].t <= h[j].t) {
            out.push((f[i].t, XValue::F(f[i].f)));
            i += 1;
        } else {
            out.push((h[j].t, XValue::H(h[j].h.clone())));
            j += 1;
        }
    }
    out
}

/// The value at `t` between `a` (at `ta`) and `b` (at `tb`); for counters a reset in between interpolates from
/// zero.
pub fn interpolate(ta: i64, a: &XValue, tb: i64, b: &XValue, t: i64, counter: bool) -> Result<XValue, XProblem> {
    let frac = if tb == ta {
        1.0
    } else {
        (t - ta) as f64 / (tb - ta) as f64
    };
    match (a, b) {
        (XValue::F(x), XValue::F(y)) => {
            let from = if counter && y < x { 0.0 } else { *x };
            Ok(XValue::F(from + (y - from) * frac))
        }
        (XValue::H(x), XValue::H(y)) => {
            if x.uses_custom_buckets() != y.uses_custom_buckets() {
                return Err(XProblem::MixedSchemas);
            }
            let counter = counter && y.counter_reset_hint != CounterResetHint::Gauge;
            if counter && y.detect_reset(x) {
                let mut v = y.scaled(frac);
                v.counter_reset_hint = CounterResetHint::Unknown;
                return Ok(XValue::H(Arc::new(v)));
            }
            let mut d = (**y).clone();
            d.sub_hist(x).map_err(|_| XProblem::MixedSchemas)?;
            d.scale(frac);
            let mut out = (**x).clone();
            out.add_hist(&d).map_err(|_| XProblem::MixedSchemas)?;
            out.counter_reset_hint = CounterResetHint::Unknown;
            Ok(XValue::H(Arc::new(out)))
        }
        _ => Err(XProblem::MixedTypes),
    }
}

/// The extended window of series `s` at step `i`, or `None` when it has no samples to work with.
pub fn window(arg: &RangeArg, s: usize, i: usize, counter: bool) -> Result<Option<Vec<XPoint>>, XProblem> {
    let rs = &arg.series[s];
    let end = arg.ends[i];
    let start = end - arg.range;
    let pts = merged(&rs.floats, &rs.histograms);
    let f0 = pts.partition_point(|p| p.0 <= start);
    let f1 = pts.partition_point(|p| p.0 <= end);
    let inside = &pts[f0..f1.max(f0)];
    let before = f0
        .checked_sub(1)
        .map(|j| &pts[j])
        .filter(|p| p.0 > start - arg.lookback);
    let after = pts.get(f1).filter(|p| p.0 <= end + arg.lookback);
    let point = |t: i64, v: &XValue, copy: bool| XPoint { t, v: v.clone(), copy };
    let mut out = Vec::with_capacity(inside.len() + 2);
    if arg.anchored {
        let Some(first) = inside.first() else {
            return Ok(None);
        };
        match before {
            Some(b) => out.push(point(start, &b.1, false)),
            None => out.push(point(start, &first.1, true)),
        }
        out.extend(inside.iter().map(|p| point(p.0, &p.1, false)));
        let last = &inside[inside.len() - 1];
        if last.0 < end {
            out.push(point(end, &last.1, true));
        }
        return Ok(Some(out));
    }
    if inside.is_empty() && (before.is_none() || after.is_none()) {
        return Ok(None);
    }
    let (Some(first), Some(last)) = (inside.first().or(after), inside.last().or(before)) else {
        return Ok(None);
    };
    let start_v = match before {
        Some(b) => interpolate(b.0, &b.1, first.0, &first.1, start, counter)?,
        None => first.1.clone(),
    };
    let end_v = match after {
        Some(a) => interpolate(last.0, &last.1, a.0, &a.1, end, counter)?,
        None => last.1.clone(),
    };
    // A start interpolated across a counter reset already accounts for it: the step to the first sample is not
    // a second reset.
    let crossed = match (before, &first.1) {
        (Some((_, XValue::H(b))), XValue::H(f)) => counter && f.detect_reset(b),
        _ => false,
    };
    out.push(XPoint {
        t: start,
        v: start_v,
        copy: before.is_none() || crossed,
    });
    out.extend(
        inside
            .iter()
            .filter(|p| p.0 > start && p.0 < end)
            .map(|p| point(p.0, &p.1, false)),
    );
    out.push(XPoint {
        t: end,
        v: end_v,
        copy: after.is_none(),
    });
    Ok(Some(out))
}

/// Whether the step from `a` to `b` is a counter reset (a switch between floats and histograms counts as one).
fn is_reset(a: &XPoint, b: &XPoint) -> bool {
    if a.copy || b.copy {
        if let (XValue::F(x), XValue::F(y)) = (&a.v, &b.v) {
            return y < x;
        }
        return false;
    }
    match (&a.v, &b.v) {
        (XValue::F(x), XValue::F(y)) => y < x,
        (XValue::H(x), XValue::H(y)) => y.detect_reset(x),
        _ => true,
    }
}

/// `changes()` over a window.
pub fn changes(w: &[XPoint]) -> f64 {
    w.windows(2)
        .filter(|p| match (&p[0].v, &p[1].v) {
            (XValue::F(x), XValue::F(y)) => x != y && !(x.is_nan() && y.is_nan()),
            (XValue::H(x), XValue::H(y)) => !x.equals(y),
            _ => true,
        })
        .count() as f64
}

/// `resets()` over a window.
pub fn resets(w: &[XPoint]) -> f64 {
    w.windows(2).filter(|p| is_reset(&p[0], &p[1])).count() as f64
}

/// The result of `rate`/`increase`/`delta` over a window.
#[derive(Debug)]
pub enum Change {
    /// Over floats.
    F(f64),
    /// Over histograms.
    H(FloatHistogram),
}

/// `last - first` over a window, with counter-reset corrections for counters. `Err` names the problem.
pub fn change(w: &[XPoint], counter: bool) -> Result<Change, XProblem> {
    let all_f = w.iter().all(|p| matches!(p.v, XValue::F(_)));
    let all_h = w.iter().all(|p| matches!(p.v, XValue::H(_)));
    if all_f {
        let val = |p: &XPoint| if let XValue::F(f) = p.v { f } else { 0.0 };
        let mut d = val(&w[w.len() - 1]) - val(&w[0]);
        if counter {
            for p in w.windows(2) {
                if val(&p[1]) < val(&p[0]) {
                    d += val(&p[0]);
                }
            }
        }
        return Ok(Change::F(d));
    }
    if !all_h {
        return Err(XProblem::MixedTypes);
    }
    let hist = |p: &XPoint| match &p.v {
        XValue::H(h) => h.clone(),
        XValue::F(_) => Arc::new(FloatHistogram::default()),
    };
    let first = hist(&w[0]);
    if w.iter()
        .any(|p| hist(p).uses_custom_buckets() != first.uses_custom_buckets())
    {
        return Err(XProblem::MixedSchemas);
    }
    let mut res = (*hist(&w[w.len() - 1])).clone();
    res.sub_hist(&first).map_err(|_| XProblem::MixedSchemas)?;
    if counter {
        for p in w.windows(2) {
            if is_reset(&p[0], &p[1]) {
                res.add_hist(&hist(&p[0])).map_err(|_| XProblem::MixedSchemas)?;
            }
        }
    }
    res.counter_reset_hint = CounterResetHint::Gauge;
    res.compact();
    Ok(Change::H(res))
}

/// Whether any histogram of the window carries the gauge hint (`gauge`) or lacks it (`!gauge`).
pub fn any_hint(w: &[XPoint], gauge: bool) -> bool {
    w.iter().filter(|p| !p.copy).any(|p| match &p.v {
        XValue::H(h) => (h.counter_reset_hint == CounterResetHint::Gauge) == gauge,
        XValue::F(_) => false,
    })
}
