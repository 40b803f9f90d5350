//! Functions over range vectors: `rate`, `increase`, `delta` (3.x extrapolation), `irate`, `idelta`, `resets`,
//! `changes`, `deriv`, `predict_linear`, `double_exponential_smoothing`, the `*_over_time` family and the
//! experimental `ts_of_*_over_time`, evaluated per series and step over the window `(t - range, t]`.

use std::sync::Arc;

use super::super::QueryError;
use super::super::aggregate::quantile;
use super::super::eval::{Evaluator, RangeArg, Val};
use super::super::extended;
use super::super::histogram::{HistogramMean, HistogramOps, HistogramSum};
use super::super::kahan::{KahanMean, KahanSum, sum_inc};
use super::super::stream::Flow;
use super::super::value::{FPoint, FastSet, HPoint, Matrix, Sample, Series, Vector};
use crate::model::histogram::{CounterResetHint, FloatHistogram};
use crate::promql::ast::{Call, Expr};

/// A range function's result for one series at one step.
#[derive(Debug)]
pub enum Out {
    /// A float.
    F(f64),
    /// A histogram.
    H(FloatHistogram),
}

/// What a kernel sees besides the window.
pub struct Ctx<'a, 'e> {
    /// The evaluator (for annotations).
    pub ev: &'a mut Evaluator<'e>,
    /// The call.
    pub call: &'a Call,
    /// Window start (exclusive), ms.
    pub start: i64,
    /// Window end (inclusive), ms.
    pub end: i64,
    /// The step's evaluation time (ms).
    pub ts: i64,
    /// Extra scalar arguments at this step.
    pub params: [f64; 2],
    /// The series' metric name.
    pub name: &'a str,
    /// The range argument's position.
    pub arg_pos: crate::promql::ast::PosRange,
    /// Annotation call sites already reported for this series.
    emitted: &'a mut FastSet<(u32, u32)>,
    /// For a window of floats only, when the caller counted them from per-series prefix counts: the events
    /// between consecutive points of the window (value changes for `changes`, drops for `resets`, `rate` and
    /// `increase`).
    events: Option<u32>,
}

impl std::fmt::Debug for Ctx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_, '_> {
    /// Raises a warning once per series and call site; the message is only built the first time.
    #[track_caller]
    fn warn(&mut self, msg: impl FnOnce(&str) -> String) {
        let site = std::panic::Location::caller();
        if self.emitted.insert((site.line(), site.column())) {
            let m = msg(self.name);
            let pos = self.arg_pos;
            self.ev.warn(m, pos);
        }
    }

    /// Raises an info once per series and call site; the message is only built the first time.
    #[track_caller]
    fn info(&mut self, msg: impl FnOnce(&str) -> String) {
        let site = std::panic::Location::caller();
        if self.emitted.insert((site.line(), site.column())) {
            let m = msg(self.name);
            let pos = self.arg_pos;
            self.ev.info(m, pos);
        }
    }

    #[track_caller]
    fn mixed(&mut self) {
        self.warn(|name| format!("encountered a mix of histograms and floats for metric name {name:?}"));
    }
}

type Kernel = fn(&mut Ctx<'_, '_>, &[FPoint], &[HPoint]) -> Option<Out>;

/// The range functions: name, kernel, whether the name is kept.
pub static RANGE_FUNCTIONS: &[(&str, Kernel, bool)] = &[
    ("avg_over_time", avg_over_time, false),
    ("changes", changes, false),
    ("count_over_time", count_over_time, false),
    ("delta", delta, false),
    ("deriv", deriv, false),
    ("double_exponential_smoothing", double_exponential_smoothing, false),
    ("first_over_time", first_over_time, true),
    ("idelta", idelta, false),
    ("increase", increase, false),
    ("irate", irate, false),
    ("last_over_time", last_over_time, true),
    ("mad_over_time", mad_over_time, false),
    ("max_over_time", max_over_time, false),
    ("min_over_time", min_over_time, false),
    ("predict_linear", predict_linear, false),
    ("present_over_time", present_over_time, false),
    ("quantile_over_time", quantile_over_time, false),
    ("rate", rate, false),
    ("resets", resets, false),
    ("stddev_over_time", stddev_over_time, false),
    ("stdvar_over_time", stdvar_over_time, false),
    ("sum_over_time", sum_over_time, false),
    ("ts_of_first_over_time", ts_of_first_over_time, false),
    ("ts_of_last_over_time", ts_of_last_over_time, false),
    ("ts_of_max_over_time", ts_of_max_over_time, false),
    ("ts_of_min_over_time", ts_of_min_over_time, false),
];

/// Looks up a range function.
pub fn lookup(name: &str) -> Option<(Kernel, bool)> {
    RANGE_FUNCTIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, k, keep)| (*k, *keep))
}

/// Evaluates a call of a range function for all steps.
pub fn eval(ev: &mut Evaluator<'_>, call: &Call, kernel: Kernel, keep_name: bool) -> Result<Flow, QueryError> {
    let name = call.func.name;
    // The range argument's index and any scalar arguments.
    let (range_idx, scalar_idx): (usize, Vec<usize>) = match name {
        "quantile_over_time" => (1, vec![0]),
        "predict_linear" => (0, vec![1]),
        "double_exponential_smoothing" => (0, vec![1, 2]),
        _ => (0, vec![]),
    };
    let mut params: Vec<Vec<f64>> = Vec::new();
    for &i in &scalar_idx {
        params.push(ev.eval_scalars(&call.args[i])?);
    }
    let arg_expr: &Expr = &call.args[range_idx];
    let arg = ev.range_arg(arg_expr)?;
    if name == "quantile_over_time" {
        for (i, &q) in params[0].iter().enumerate() {
            let any = (0..arg.series.len()).any(|s| {
                let (f, _) = arg.window(s, i);
                !f.is_empty()
            });
            if any && !(0.0..=1.0).contains(&q) {
                ev.warn(
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        super::super::aggregate::fmt_g(q)
                    ),
                    call.args[0].pos(),
                );
            }
        }
    }
    if name == "double_exponential_smoothing" {
        for (&sf, &tf) in params[0].iter().zip(&params[1]) {
            if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
                return Err(QueryError::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                )));
            }
        }
    }
    let out = run_kernel(ev, call, &arg, kernel, keep_name, &params)?;
    Ok(Flow::Series(out))
}

fn run_kernel(
    ev: &mut Evaluator<'_>,
    call: &Call,
    arg: &RangeArg,
    kernel: Kernel,
    keep_name: bool,
    params: &[Vec<f64>],
) -> Result<Matrix, QueryError> {
    let steps = ev.steps();
    let mut out = Matrix::with_capacity(arg.series.len());
    let arg_pos = call
        .args
        .iter()
        .find(|a| a.value_type() == crate::promql::ast::ValueType::Matrix)
        .map_or(call.pos, |a| a.pos());
    let extended = arg.anchored || arg.smoothed;
    let name_fn = call.func.name;
    let mut emitted: FastSet<(u32, u32)> = FastSet::default();
    let event_kind = match name_fn {
        "changes" => Some(Event::Change),
        "resets" | "rate" | "increase" => Some(Event::Drop),
        _ => None,
    };
    // Only windows that overlap from step to step share work; otherwise the prefix pass costs as much as the
    // windows it would save.
    let overlapping = steps > 1 && arg.ends.windows(2).any(|w| w[1] - w[0] < arg.range);
    // Windows that only move forward are found by moving the previous window's edges.
    let ascending = arg.ends.windows(2).all(|w| w[0] <= w[1]);
    // Annotation messages depend on the call site and the metric name only: series of the same name (in a row, as
    // selected) share the record of what was reported, so each message is built once, not once per series.
    let mut emitted_for: Option<&str> = None;
    for (si, rs) in arg.series.iter().enumerate() {
        ev.check_deadline("expression evaluation")?;
        let name = rs.metric.metric_name().unwrap_or("");
        if emitted_for != Some(name) {
            emitted.clear();
            emitted_for = Some(name);
        }
        // Counting kernels over long windows would walk every point of every window; with a prefix count of
        // the events between consecutive points, each window's count is one subtraction.
        let prefix = match event_kind {
            Some(kind) if overlapping && !extended && rs.histograms.is_empty() => Some(prefix_events(&rs.floats, kind)),
            _ => None,
        };
        let mut series = Series {
            metric: rs.metric.clone(),
            floats: Vec::new(),
            histograms: Vec::new(),
            drop_name: !keep_name || rs.drop_name,
        };
        let mut bounds = (0..0, 0..0);
        for i in 0..steps {
            if extended {
                let counter = name_fn != "delta";
                let ts = ev.ts(i);
                let mut ctx = Ctx {
                    ev,
                    call,
                    start: 0,
                    end: 0,
                    ts,
                    params: [0.0; 2],
                    name,
                    arg_pos,
                    emitted: &mut emitted,
                    events: None,
                };
                let res = match extended::window(arg, si, i, counter) {
                    Ok(Some(w)) => extended_value(&mut ctx, name_fn, &w, arg.range),
                    Ok(None) => None,
                    Err(p) => {
                        extended_problem(&mut ctx, p);
                        None
                    }
                };
                if let Some(res) = res {
                    push_out(&mut series, ts, res, steps - i);
                }
                continue;
            }
            bounds = if ascending {
                arg.window_bounds_after(si, i, bounds)
            } else {
                arg.window_bounds(si, i)
            };
            let (fr, hr) = bounds.clone();
            if fr.is_empty() && hr.is_empty() {
                continue;
            }
            let events = match &prefix {
                Some(pfx) if hr.is_empty() && !fr.is_empty() => Some(pfx[fr.end - 1] - pfx[fr.start]),
                _ => None,
            };
            let (f, h) = (&rs.floats[fr], &rs.histograms[hr]);
            let end = arg.ends[i];
            let mut p = [0.0; 2];
            for (k, v) in params.iter().enumerate().take(2) {
                p[k] = v[i];
            }
            let ts = ev.ts(i);
            let mut ctx = Ctx {
                ev,
                call,
                start: end - arg.range,
                end,
                ts,
                params: p,
                name,
                arg_pos,
                emitted: &mut emitted,
                events,
            };
            let Some(res) = kernel(&mut ctx, f, h) else {
                continue;
            };
            push_out(&mut series, ts, res, steps - i);
        }
        out.push(series);
    }
    Ok(out)
}

/// Adds a kernel's result at `t` to its output series; `left` is the most points it can still get.
#[inline]
fn push_out(series: &mut Series, t: i64, res: Out, left: usize) {
    match res {
        Out::F(f) => {
            if series.floats.capacity() == 0 {
                series.floats.reserve_exact(left);
            }
            series.floats.push(FPoint { t, f });
        }
        Out::H(h) => series.histograms.push(HPoint { t, h: Arc::new(h) }),
    }
}

/// What a counting kernel counts between consecutive float points.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// The value changed (NaN to NaN is no change).
    Change,
    /// The value dropped (a counter reset).
    Drop,
}

/// `out[k]`: the events between consecutive points among `f[..=k]`.
fn prefix_events(f: &[FPoint], kind: Event) -> Vec<u32> {
    let mut out = Vec::with_capacity(f.len());
    let mut n = 0u32;
    let mut prev: Option<f64> = None;
    for p in f {
        if let Some(a) = prev {
            let b = p.f;
            let event = match kind {
                Event::Change => a != b && !(a.is_nan() && b.is_nan()),
                Event::Drop => b < a,
            };
            n += u32::from(event);
        }
        prev = Some(p.f);
        out.push(n);
    }
    out
}

fn extended_problem(c: &mut Ctx<'_, '_>, p: extended::XProblem) {
    match p {
        extended::XProblem::MixedTypes => c.mixed(),
        extended::XProblem::MixedSchemas => {
            c.warn(|name| format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                name
            ));
        }
    }
}

/// `rate`, `increase`, `delta`, `changes`, `resets` over an anchored or smoothed window.
fn extended_value(c: &mut Ctx<'_, '_>, func: &str, w: &[extended::XPoint], range: i64) -> Option<Out> {
    match func {
        "changes" => Some(Out::F(extended::changes(w))),
        "resets" => Some(Out::F(extended::resets(w))),
        "rate" | "increase" | "delta" => {
            let counter = func != "delta";
            if counter && extended::any_hint(w, true) {
                c.warn(|name| format!("this native histogram metric is not a counter: {:?}", name));
            }
            if !counter && extended::any_hint(w, false) {
                c.warn(|name| format!("this native histogram metric is not a gauge: {:?}", name));
            }
            let secs = range as f64 / 1000.0;
            match extended::change(w, counter) {
                Ok(extended::Change::F(d)) => Some(Out::F(if func == "rate" { d / secs } else { d })),
                Ok(extended::Change::H(mut h)) => {
                    if func == "rate" {
                        h.scale(1.0 / secs);
                    }
                    Some(Out::H(h))
                }
                Err(p) => {
                    extended_problem(c, p);
                    None
                }
            }
        }
        _ => None,
    }
}

fn has_counter_suffix(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// 3.x `rate`/`increase`/`delta`: the change over the window extrapolated towards its edges.
fn extrapolated(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint], is_counter: bool, is_rate: bool) -> Option<Out> {
    if !f.is_empty() && !h.is_empty() {
        c.mixed();
        return None;
    }
    let range_s = (c.end - c.start) as f64 / 1000.0;
    let (first_t, last_t, n) = if !h.is_empty() {
        (h[0].t, h[h.len() - 1].t, h.len())
    } else {
        (f[0].t, f[f.len() - 1].t, f.len())
    };
    if n < 2 {
        return None;
    }
    let mut hist_result = None;
    let mut float_result = 0.0;
    if !h.is_empty() {
        hist_result = Some(histogram_change(c, h, is_counter)?);
    } else {
        if is_counter && !has_counter_suffix(c.name) {
            c.info(|name| {
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {:?}",
                    name
                )
            });
        }
        float_result = f[f.len() - 1].f - f[0].f;
        if is_counter && c.events != Some(0) {
            let mut prev = f[0].f;
            for p in &f[1..] {
                if p.f < prev {
                    float_result += prev;
                }
                prev = p.f;
            }
        }
    }
    let mut to_start = (first_t - c.start) as f64 / 1000.0;
    let mut to_end = (c.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (n - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter && float_result > 0.0 && !f.is_empty() && f[0].f >= 0.0 {
        let to_zero = sampled * (f[0].f / float_result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if is_counter
        && let Some(hr) = &hist_result
        && hr.count > 0.0
        && h[0].h.count >= 0.0
    {
        let to_zero = sampled * (h[0].h.count / hr.count);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range_s;
    }
    match hist_result {
        Some(mut hr) => {
            hr.scale(factor);
            hr.counter_reset_hint = CounterResetHint::Gauge;
            Some(Out::H(hr))
        }
        None => Some(Out::F(float_result * factor)),
    }
}

/// `last - first` of histograms, adding back values lost to counter resets for counters (upstream's
/// `histogramRate`): a first sample followed by a reset is replaced by an empty histogram of the second's layout.
fn histogram_change(c: &mut Ctx<'_, '_>, h: &[HPoint], is_counter: bool) -> Option<FloatHistogram> {
    let last = &h[h.len() - 1].h;
    let mut prev: FloatHistogram = (*h[0].h).clone();
    if is_counter
        && (prev.counter_reset_hint == CounterResetHint::Gauge || last.counter_reset_hint == CounterResetHint::Gauge)
    {
        c.warn(|name| format!("this native histogram metric is not a counter: {:?}", name));
    }
    if is_counter && h.len() > 1 && h[1].h.detect_reset(&prev) {
        prev = FloatHistogram {
            schema: h[1].h.schema,
            custom_values: h[1].h.custom_values.clone(),
            ..FloatHistogram::default()
        };
    }
    let custom = prev.uses_custom_buckets();
    let mixed =
        |c: &mut Ctx<'_, '_>| {
            c.warn(|name| format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            name
        ));
        };
    if last.uses_custom_buckets() != custom {
        mixed(c);
        return None;
    }
    let mut min_schema = prev.schema.min(last.schema);
    for p in &h[1..h.len() - 1] {
        if !is_counter {
            continue;
        }
        if p.h.counter_reset_hint == CounterResetHint::Gauge {
            c.warn(|name| format!("this native histogram metric is not a counter: {:?}", name));
        }
        min_schema = min_schema.min(p.h.schema);
        if p.h.uses_custom_buckets() != custom {
            mixed(c);
            return None;
        }
    }
    let mut res = (**last).clone();
    if !custom {
        res.reduce_resolution(min_schema);
    }
    let mut reconciled = match res.sub_hist(&prev) {
        Ok(r) => r,
        Err(_) => return None,
    };
    if is_counter {
        let mut p = &prev;
        for cur in &h[1..] {
            if cur.h.detect_reset(p) {
                match res.add_hist(p) {
                    Ok(r) => reconciled |= r,
                    Err(_) => return None,
                }
            }
            p = &cur.h;
        }
    } else if h[0].h.counter_reset_hint != CounterResetHint::Gauge || last.counter_reset_hint != CounterResetHint::Gauge
    {
        c.warn(|name| format!("this native histogram metric is not a gauge: {:?}", name));
    }
    if reconciled {
        c.info(|_| "mismatched custom buckets were reconciled during subtraction".into());
    }
    res.counter_reset_hint = CounterResetHint::Gauge;
    res.compact();
    Some(res)
}

fn rate(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    extrapolated(c, f, h, true, true)
}

fn increase(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    extrapolated(c, f, h, true, false)
}

fn delta(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    extrapolated(c, f, h, false, false)
}

/// The last two points of the window, float or histogram, in time order.
enum LastTwo<'a> {
    F(FPoint, FPoint),
    H(&'a HPoint, &'a HPoint),
    Mixed,
    None,
}

fn last_two<'a>(f: &[FPoint], h: &'a [HPoint]) -> LastTwo<'a> {
    // Merge the tails of both lists.
    let mut pts: Vec<(i64, Option<usize>, Option<usize>)> = Vec::new();
    for (i, p) in f.iter().enumerate().rev().take(2) {
        pts.push((p.t, Some(i), None));
    }
    for (i, p) in h.iter().enumerate().rev().take(2) {
        pts.push((p.t, None, Some(i)));
    }
    pts.sort_by_key(|p| std::cmp::Reverse(p.0));
    if pts.len() < 2 {
        return LastTwo::None;
    }
    match (pts[1], pts[0]) {
        ((_, Some(a), _), (_, Some(b), _)) => LastTwo::F(f[a], f[b]),
        ((_, _, Some(a)), (_, _, Some(b))) => LastTwo::H(&h[a], &h[b]),
        _ => LastTwo::Mixed,
    }
}

fn instant_value(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint], is_rate: bool) -> Option<Out> {
    match last_two(f, h) {
        LastTwo::None => None,
        LastTwo::Mixed => {
            c.mixed();
            None
        }
        LastTwo::F(a, b) => {
            let dt = (b.t - a.t) as f64 / 1000.0;
            let v = if is_rate && b.f < a.f { b.f } else { b.f - a.f };
            if is_rate {
                if dt == 0.0 {
                    return None;
                }
                Some(Out::F(v / dt))
            } else {
                Some(Out::F(v))
            }
        }
        LastTwo::H(a, b) => {
            let dt = (b.t - a.t) as f64 / 1000.0;
            let gauge = |p: &HPoint| p.h.counter_reset_hint == CounterResetHint::Gauge;
            if is_rate && (gauge(a) || gauge(b)) {
                c.warn(|name| format!("this native histogram metric is not a counter: {:?}", name));
            }
            if !is_rate && (!gauge(a) || !gauge(b)) {
                c.warn(|name| format!("this native histogram metric is not a gauge: {:?}", name));
            }
            let mut res = (*b.h).clone();
            if !(is_rate && b.h.detect_reset(&a.h)) {
                if a.h.uses_custom_buckets() != b.h.uses_custom_buckets() {
                    c.warn(|name| format!(
                        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                        name
                    ));
                    return None;
                }
                if res.sub_hist(&a.h).ok()? {
                    c.info(|_| "mismatched custom buckets were reconciled during subtraction".into());
                }
            }
            if is_rate {
                if dt == 0.0 {
                    return None;
                }
                res.scale(1.0 / dt);
            }
            res.counter_reset_hint = CounterResetHint::Gauge;
            res.compact();
            Some(Out::H(res))
        }
    }
}

fn irate(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    instant_value(c, f, h, true)
}

fn idelta(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    instant_value(c, f, h, false)
}

/// Merges floats and histograms into time order.
enum Pt<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

fn merged<'a>(f: &'a [FPoint], h: &'a [HPoint]) -> Vec<(i64, Pt<'a>)> {
    let mut out: Vec<(i64, Pt<'a>)> = Vec::with_capacity(f.len() + h.len());
    let (mut i, mut j) = (0, 0);
    while i < f.len() || j < h.len() {
        if j >= h.len() || (i < f.len() && f[i].t <= h[j].t) {
            out.push((f[i].t, Pt::F(f[i].f)));
            i += 1;
        } else {
            out.push((h[j].t, Pt::H(&h[j].h)));
            j += 1;
        }
    }
    out
}

fn resets(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if let Some(n) = c.events {
        return Some(Out::F(f64::from(n)));
    }
    let pts = merged(f, h);
    let mut n = 0.0;
    for w in pts.windows(2) {
        match (&w[0].1, &w[1].1) {
            (Pt::F(a), Pt::F(b)) if b < a => n += 1.0,
            (Pt::H(a), Pt::H(b)) if b.detect_reset(a) => n += 1.0,
            (Pt::F(_), Pt::H(_)) | (Pt::H(_), Pt::F(_)) => n += 1.0,
            _ => {}
        }
    }
    Some(Out::F(n))
}

fn changes(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if let Some(n) = c.events {
        return Some(Out::F(f64::from(n)));
    }
    let pts = merged(f, h);
    let mut n = 0.0;
    for w in pts.windows(2) {
        match (&w[0].1, &w[1].1) {
            (Pt::F(a), Pt::F(b)) => {
                if a != b && !(a.is_nan() && b.is_nan()) {
                    n += 1.0;
                }
            }
            (Pt::H(a), Pt::H(b)) => {
                if !a.equals(b) {
                    n += 1.0;
                }
            }
            _ => n += 1.0,
        }
    }
    Some(Out::F(n))
}

/// Least-squares slope and intercept at `intercept_t`, with compensated sums (as upstream).
pub fn linear_regression(f: &[FPoint], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = f[0].f;
    let mut const_y = true;
    for (i, p) in f.iter().enumerate() {
        if const_y && i > 0 && p.f != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = sum_inc(x, sx, cx);
        (sy, cy) = sum_inc(p.f, sy, cy);
        (sxy, cxy) = sum_inc(x * p.f, sxy, cxy);
        (sx2, cx2) = sum_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

fn floats_only(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> bool {
    if !h.is_empty() {
        if !f.is_empty() {
            c.info(|name| {
                format!(
                    "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                    name
                )
            });
        }
        return !f.is_empty();
    }
    true
}

fn deriv(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if !floats_only(c, f, h) || f.len() < 2 {
        return None;
    }
    let (slope, _) = linear_regression(f, f[0].t);
    Some(Out::F(slope))
}

fn predict_linear(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if !floats_only(c, f, h) || f.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(f, c.ts);
    Some(Out::F(slope * c.params[0] + intercept))
}

fn double_exponential_smoothing(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if !floats_only(c, f, h) || f.len() < 2 {
        return None;
    }
    let (sf, tf) = (c.params[0], c.params[1]);
    let mut s0 = 0.0;
    let mut s1 = f[0].f;
    let mut b = f[1].f - f[0].f;
    for (i, p) in f.iter().enumerate().skip(1) {
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let next = sf * p.f + (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = next;
    }
    Some(Out::F(s1))
}

fn mixed_schemas(c: &mut Ctx<'_, '_>) {
    c.warn(|name| {
        format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            name
        )
    });
}

fn hist_flags(c: &mut Ctx<'_, '_>, reconciled: bool, collision: bool) {
    if collision {
        c.warn(|_| "conflicting counter resets during histogram aggregation".into());
    }
    if reconciled {
        c.info(|_| "mismatched custom buckets were reconciled during aggregation".into());
    }
}

fn avg_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if !f.is_empty() && !h.is_empty() {
        c.mixed();
        return None;
    }
    if !h.is_empty() {
        let mut m = HistogramMean::default();
        for p in h {
            if m.add(&p.h).is_err() {
                mixed_schemas(c);
                return None;
            }
        }
        let (r, col) = m.flags();
        hist_flags(c, r, col);
        let mut v = m.value()?;
        v.compact();
        return Some(Out::H(v));
    }
    let mut m = KahanMean::default();
    for p in f {
        m.add(p.f);
    }
    Some(Out::F(m.value()))
}

fn sum_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if !f.is_empty() && !h.is_empty() {
        c.mixed();
        return None;
    }
    if !h.is_empty() {
        let mut acc = HistogramSum::new(&h[0].h);
        for p in &h[1..] {
            if acc.add(&p.h, 1.0).is_err() {
                mixed_schemas(c);
                return None;
            }
        }
        hist_flags(c, acc.reconciled, acc.collision);
        let mut v = acc.value();
        v.compact();
        return Some(Out::H(v));
    }
    let mut s = KahanSum::default();
    for p in f {
        s.add(p.f);
    }
    Some(Out::F(s.value()))
}

fn count_over_time(_c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    Some(Out::F((f.len() + h.len()) as f64))
}

fn present_over_time(_c: &mut Ctx<'_, '_>, _f: &[FPoint], _h: &[HPoint]) -> Option<Out> {
    Some(Out::F(1.0))
}

fn last_over_time(_c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    match (f.last(), h.last()) {
        (Some(a), Some(b)) if b.t > a.t => Some(Out::H((*b.h).clone())),
        (Some(a), _) => Some(Out::F(a.f)),
        (None, Some(b)) => Some(Out::H((*b.h).clone())),
        (None, None) => None,
    }
}

fn first_over_time(_c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    match (f.first(), h.first()) {
        (Some(a), Some(b)) if b.t < a.t => Some(Out::H((*b.h).clone())),
        (Some(a), _) => Some(Out::F(a.f)),
        (None, Some(b)) => Some(Out::H((*b.h).clone())),
        (None, None) => None,
    }
}

fn ts_of_last_over_time(_c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    let t = f.last().map(|p| p.t).max(h.last().map(|p| p.t))?;
    Some(Out::F(t as f64 / 1000.0))
}

fn ts_of_first_over_time(_c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    let t = match (f.first(), h.first()) {
        (Some(a), Some(b)) => a.t.min(b.t),
        (Some(a), None) => a.t,
        (None, Some(b)) => b.t,
        (None, None) => return None,
    };
    Some(Out::F(t as f64 / 1000.0))
}

fn extreme(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint], max: bool) -> Option<FPoint> {
    if f.is_empty() {
        if !h.is_empty() {
            c.info(|name| {
                format!("ignored histograms in a range containing both floats and histograms for metric name {name:?}")
            });
        }
        return None;
    }
    if !h.is_empty() {
        c.info(|name| {
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                name
            )
        });
    }
    let mut best = f[0];
    for p in &f[1..] {
        let better = if max { p.f >= best.f } else { p.f <= best.f };
        if better || best.f.is_nan() {
            // Later points win ties (for ts_of_*); NaN is replaced by anything.
            if !p.f.is_nan() || best.f.is_nan() {
                best = *p;
            }
        }
    }
    Some(best)
}

fn max_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if f.is_empty() {
        return None;
    }
    if !h.is_empty() {
        c.info(|name| {
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                name
            )
        });
    }
    let mut v = f[0].f;
    for p in &f[1..] {
        if p.f > v || v.is_nan() {
            v = p.f;
        }
    }
    Some(Out::F(v))
}

fn min_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    if f.is_empty() {
        return None;
    }
    if !h.is_empty() {
        c.info(|name| {
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                name
            )
        });
    }
    let mut v = f[0].f;
    for p in &f[1..] {
        if p.f < v || v.is_nan() {
            v = p.f;
        }
    }
    Some(Out::F(v))
}

fn ts_of_max_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    extreme(c, f, h, true).map(|p| Out::F(p.t as f64 / 1000.0))
}

fn ts_of_min_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    extreme(c, f, h, false).map(|p| Out::F(p.t as f64 / 1000.0))
}

fn variance(f: &[FPoint]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in f {
        count += 1.0;
        let delta = p.f - (mean + cmean);
        (mean, cmean) = sum_inc(delta / count, mean, cmean);
        (aux, caux) = sum_inc(delta * (p.f - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

fn float_window<'f>(c: &mut Ctx<'_, '_>, f: &'f [FPoint], h: &[HPoint]) -> Option<&'f [FPoint]> {
    if f.is_empty() {
        return None;
    }
    if !h.is_empty() {
        c.info(|name| {
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                name
            )
        });
    }
    Some(f)
}

fn stddev_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    float_window(c, f, h).map(|f| Out::F(variance(f).sqrt()))
}

fn stdvar_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    float_window(c, f, h).map(|f| Out::F(variance(f)))
}

fn quantile_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    let f = float_window(c, f, h)?;
    let mut vals: Vec<f64> = f.iter().map(|p| p.f).collect();
    Some(Out::F(quantile(c.params[0], &mut vals)))
}

fn mad_over_time(c: &mut Ctx<'_, '_>, f: &[FPoint], h: &[HPoint]) -> Option<Out> {
    let f = float_window(c, f, h)?;
    if f.iter().any(|p| p.f.is_nan()) {
        return Some(Out::F(f64::NAN));
    }
    let mut vals: Vec<f64> = f.iter().map(|p| p.f).collect();
    let median = quantile(0.5, &mut vals);
    let mut dev: Vec<f64> = vals.iter().map(|v| (v - median).abs()).collect();
    Some(Out::F(quantile(0.5, &mut dev)))
}

/// `absent_over_time(m[r])`: 1 with the selector's equality labels at steps where no series has a point.
pub fn absent_over_time(ev: &mut Evaluator<'_>, call: &Call) -> Result<Val, QueryError> {
    let arg = ev.range_arg(&call.args[0])?;
    let labels = Arc::new(super::absent_labels(&call.args[0]));
    let steps = ev.steps();
    let mut out: Vec<Vector> = (0..steps).map(|_| Vector::new()).collect();
    for (i, o) in out.iter_mut().enumerate() {
        let any = (0..arg.series.len()).any(|s| {
            let (f, h) = arg.window(s, i);
            !f.is_empty() || !h.is_empty()
        });
        if !any {
            o.push(Sample::float(labels.clone(), ev.ts(i), 1.0));
        }
    }
    Ok(Val::Vectors(out))
}
