//! The evaluator: walks the tree for all steps of a query at once. Instant-vector expressions evaluate to one
//! vector per step, scalars to one value per step; range-vector expressions (selectors and subqueries) are loaded
//! once for the whole query and cut into a window per step by the functions that take them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::extended::{XProblem, XValue, interpolate};
use super::histogram::HistogramOps;
use super::stream::Flow;
use super::value::{FPoint, FastMap, HPoint, Matrix, Sample, Series, Value, Vector};
use super::{Annotation, Annotations, EngineOptions, QueryError, QueryResult, QueryStats, position_suffix};
use crate::model::histogram::{CounterResetHint, FloatHistogram};
use crate::model::labels::Labels;
use crate::model::value::is_stale_nan;
use crate::promql::ast::{
    AtModifier, Duration, DurationContext, Expr, PosRange, SubqueryExpr, UnaryOp, VectorSelector,
};
use crate::storage::{Queryable, SelectHints, ValueType as StorageValueType};

/// A value for all steps of the current evaluation range.
#[derive(Debug)]
pub enum Val {
    /// One vector per step.
    Vectors(Vec<Vector>),
    /// One scalar per step.
    Scalars(Vec<f64>),
    /// A string (instant queries only).
    Str(String),
    /// A range vector (the result of an instant query of a range-vector expression).
    Matrix(Matrix),
}

impl Val {
    /// Samples held.
    pub fn size(&self) -> usize {
        match self {
            Val::Vectors(v) => v.iter().map(Vec::len).sum(),
            Val::Scalars(s) => s.len(),
            Val::Str(_) => 1,
            Val::Matrix(m) => m.iter().map(|s| s.floats.len() + s.histograms.len()).sum(),
        }
    }
}

/// A point of a loaded series: a float (possibly the staleness marker) or a histogram.
#[derive(Clone, Debug)]
pub enum Point {
    /// A float.
    F(f64),
    /// A histogram.
    H(Arc<FloatHistogram>),
}

/// One series of a range-vector argument, with all points any step's window needs.
#[derive(Debug, Default)]
pub struct RangeSeries {
    /// The labels.
    pub metric: Arc<Labels>,
    /// Float points (no staleness markers).
    pub floats: Vec<FPoint>,
    /// Histogram points.
    pub histograms: Vec<HPoint>,
    /// `__name__` is to be removed at the end.
    pub drop_name: bool,
}

/// A range-vector argument: series plus the window each step looks at.
#[derive(Debug)]
pub struct RangeArg {
    /// The series.
    pub series: Vec<RangeSeries>,
    /// The window length (ms).
    pub range: i64,
    /// Per step: the window's (inclusive) end; the window is `(end - range, end]`.
    pub ends: Vec<i64>,
    /// The name of the metric as written in the selector, if any (for annotations).
    pub pos: PosRange,
    /// Whether the argument was a subquery (affects some annotations).
    pub is_subquery: bool,
    /// `anchored`: windows start with the last sample at or before their start.
    pub anchored: bool,
    /// `smoothed`: window edges are interpolated from the samples around them.
    pub smoothed: bool,
    /// How far `anchored`/`smoothed` look beyond the window (the lookback delta).
    pub lookback: i64,
}

impl RangeArg {
    /// The window of series `s` at step `i`: its float and histogram points.
    pub fn window(&self, s: usize, i: usize) -> (&[FPoint], &[HPoint]) {
        let rs = &self.series[s];
        let (f, h) = self.window_bounds(s, i);
        (&rs.floats[f], &rs.histograms[h])
    }

    /// The window of series `s` at step `i` as index ranges into its float and histogram points.
    pub fn window_bounds(&self, s: usize, i: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let rs = &self.series[s];
        let end = self.ends[i];
        let start = end - self.range;
        let f0 = rs.floats.partition_point(|p| p.t <= start);
        let f1 = f0 + rs.floats[f0..].partition_point(|p| p.t <= end);
        let h0 = rs.histograms.partition_point(|p| p.t <= start);
        let h1 = h0 + rs.histograms[h0..].partition_point(|p| p.t <= end);
        (f0..f1, h0..h1)
    }

    /// As [`RangeArg::window_bounds`], for a step whose window ends no earlier than the window `prev` of the
    /// same series: moves `prev`'s edges forward instead of searching the whole series.
    pub fn window_bounds_after(
        &self,
        s: usize,
        i: usize,
        prev: (std::ops::Range<usize>, std::ops::Range<usize>),
    ) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let rs = &self.series[s];
        let end = self.ends[i];
        let start = end - self.range;
        let f0 = advance(&rs.floats, prev.0.start, start, |p| p.t);
        let f1 = advance(&rs.floats, prev.0.end.max(f0), end, |p| p.t);
        let h0 = advance(&rs.histograms, prev.1.start, start, |p| p.t);
        let h1 = advance(&rs.histograms, prev.1.end.max(h0), end, |p| p.t);
        (f0..f1, h0..h1)
    }
}

/// The index of the first point at or after `from` whose time is after `bound`: a few steps forward, then a
/// binary search over the rest (windows usually move by a few points).
#[inline]
fn advance<T>(points: &[T], from: usize, bound: i64, t: impl Fn(&T) -> i64) -> usize {
    let lim = (from + 8).min(points.len());
    let mut i = from;
    while i < lim {
        if t(&points[i]) > bound {
            return i;
        }
        i += 1;
    }
    i + points[i..].partition_point(|p| t(p) <= bound)
}

/// When a query must stop: its deadline, and an optional cancellation flag.
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a> {
    /// The query times out after this.
    pub deadline: Instant,
    /// Set by the caller to cancel the query.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Evaluation state for one query (and, with a narrower range and step, for its subqueries).
pub struct Evaluator<'a> {
    /// Engine options.
    pub opts: &'a EngineOptions,
    queryable: &'a dyn Queryable,
    /// The query text, for annotation positions.
    pub query: &'a str,
    /// First step (ms).
    pub start: i64,
    /// Last step (ms).
    pub end: i64,
    /// Step width (ms); 1 for instant evaluation.
    pub interval: i64,
    /// The top-level query's start, end and step (for `@ start()`, `step()`, ...).
    pub ctx: DurationContext,
    lookback: i64,
    limits: Limits<'a>,
    /// Annotations raised so far.
    pub annotations: Annotations,
    current_samples: usize,
    peak_samples: usize,
    total_samples: u64,
    /// Inside `histogram_count`/`histogram_sum`/`histogram_avg`: histogram samples are read as upstream's
    /// statistics-only iterator reads them, detecting counter resets sample by sample.
    pub stats_mode: bool,
    /// Evaluating the inner expression of a subquery.
    in_subquery: bool,
    /// The address of a range query's top-level expression (0 for instant queries): its result is regrouped
    /// into series and sorted, so the order of samples within a step does not matter there.
    root: usize,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Runs a whole query. `step == 0` is an instant query at `start`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    opts: &EngineOptions,
    queryable: &dyn Queryable,
    query: &str,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    limits: Limits<'_>,
) -> Result<QueryResult, QueryError> {
    let mut ev = Evaluator {
        opts,
        queryable,
        query,
        start,
        end,
        interval: if step == 0 { 1 } else { step },
        ctx: DurationContext {
            step_ms: step,
            range_ms: end - start,
            start_ms: start,
            end_ms: end,
        },
        lookback: opts.lookback_delta.as_millis() as i64,
        limits,
        annotations: Annotations::default(),
        current_samples: 0,
        peak_samples: 0,
        total_samples: 0,
        stats_mode: false,
        in_subquery: false,
        root: if step == 0 {
            0
        } else {
            expr.unparen() as *const Expr as usize
        },
    };
    let val = match ev.eval_flow(expr)? {
        Flow::Series(m) if step != 0 => {
            return Ok(QueryResult {
                value: Value::Matrix(super::stream::finish_series(m)?),
                annotations: ev.annotations,
                stats: QueryStats {
                    total_queryable_samples: ev.total_samples,
                    peak_samples: ev.peak_samples,
                },
            });
        }
        flow => ev.into_val(flow),
    };
    let value = if step == 0 {
        match val {
            Val::Scalars(v) => Value::Scalar {
                t: start,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t: start, s },
            Val::Vectors(mut vs) => {
                let mut v = vs.pop().unwrap_or_default();
                finish_vector(&mut v, start)?;
                Value::Vector(v)
            }
            Val::Matrix(mut m) => {
                for s in &mut m {
                    if s.drop_name {
                        s.metric = Arc::new(without_name(&s.metric));
                        s.drop_name = false;
                    }
                }
                Value::Matrix(m)
            }
        }
    } else {
        match val {
            Val::Scalars(v) => Value::Matrix(vec![Series {
                metric: Arc::new(Labels::new()),
                floats: v
                    .iter()
                    .enumerate()
                    .map(|(i, f)| FPoint {
                        t: start + i as i64 * step,
                        f: *f,
                    })
                    .collect(),
                histograms: Vec::new(),
                drop_name: false,
            }]),
            Val::Vectors(vs) => Value::Matrix(vectors_to_matrix(vs, start, step, true)?),
            Val::Str(_) => {
                return Err(QueryError::BadData(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            Val::Matrix(_) => {
                return Err(QueryError::BadData(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
        }
    };
    Ok(QueryResult {
        value,
        annotations: ev.annotations,
        stats: QueryStats {
            total_queryable_samples: ev.total_samples,
            peak_samples: ev.peak_samples,
        },
    })
}

/// A duration expression's value in seconds; `min_of`/`max_of` propagate NaN (as Go's `math.Min`/`math.Max`).
fn duration_value(d: &crate::promql::ast::DurationExpr, ctx: &DurationContext) -> f64 {
    use crate::promql::ast::DurationKind;
    match &d.kind {
        DurationKind::MinOf(a, b) | DurationKind::MaxOf(a, b) => {
            let (x, y) = (duration_value(a, ctx), duration_value(b, ctx));
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else if matches!(d.kind, DurationKind::MinOf(..)) {
                x.min(y)
            } else {
                x.max(y)
            }
        }
        DurationKind::Neg(e) => -duration_value(e, ctx),
        _ => d.eval(ctx),
    }
}

/// Negates a value (unary minus): histograms are scaled by -1 and become gauges; vectors drop their names.
fn negate_val(v: Val) -> Val {
    match v {
        Val::Scalars(mut s) => {
            s.iter_mut().for_each(|x| *x = -*x);
            Val::Scalars(s)
        }
        Val::Vectors(mut vs) => {
            for v in &mut vs {
                for s in v.iter_mut() {
                    s.f = -s.f;
                    if let Some(h) = &mut s.h {
                        let h = Arc::make_mut(h);
                        h.scale(-1.0);
                        h.counter_reset_hint = CounterResetHint::Gauge;
                    }
                    s.drop_name = true;
                }
            }
            Val::Vectors(vs)
        }
        other => other,
    }
}

/// Removes names marked for removal, sets the timestamps, and rejects duplicate label sets.
fn finish_vector(v: &mut Vector, t: i64) -> Result<(), QueryError> {
    let mut any_dropped = false;
    for s in v.iter_mut() {
        s.t = t;
        if s.drop_name {
            s.metric = Arc::new(without_name(&s.metric));
            s.drop_name = false;
            any_dropped = true;
        }
    }
    if any_dropped || v.len() > 1 {
        let mut seen: HashMap<&Labels, ()> = HashMap::with_capacity(v.len());
        for s in v.iter() {
            if seen.insert(&*s.metric, ()).is_some() {
                return Err(QueryError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Labels removed together with the metric name: the name and the type and unit metadata labels.
pub const NAME_LABELS: [&str; 3] = ["__name__", "__type__", "__unit__"];

/// `labels` without `__name__` (and the `__type__`/`__unit__` metadata that goes with it).
pub fn without_name(labels: &Labels) -> Labels {
    if NAME_LABELS.iter().all(|n| labels.get(n).is_none()) {
        return labels.clone();
    }
    let mut l = labels.clone();
    for n in NAME_LABELS {
        l.remove(n);
    }
    l
}

/// Regroups per-step vectors into series (sorted by labels). With `finish`, names marked for removal are
/// removed and series that then share a label set at the same time are an error.
pub fn vectors_to_matrix(vs: Vec<Vector>, start: i64, step: i64, finish: bool) -> Result<Matrix, QueryError> {
    let mut index: HashMap<Arc<Labels>, usize> = HashMap::new();
    // Series keep their `Arc` from step to step: look up by pointer first (the held `Arc` keeps it unique).
    let mut by_ptr: FastMap<(usize, bool), (Arc<Labels>, usize)> = FastMap::default();
    let mut out: Matrix = Vec::new();
    for (i, v) in vs.into_iter().enumerate() {
        let t = start + i as i64 * step;
        for s in v {
            let ptr_key = (Arc::as_ptr(&s.metric) as usize, s.drop_name);
            if let Some((_, idx)) = by_ptr.get(&ptr_key) {
                let series = &mut out[*idx];
                let dup = series.floats.last().is_some_and(|p| p.t == t)
                    || series.histograms.last().is_some_and(|p| p.t == t);
                if dup {
                    return Err(QueryError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                match s.h {
                    Some(h) => series.histograms.push(HPoint { t, h }),
                    None => series.floats.push(FPoint { t, f: s.f }),
                }
                continue;
            }
            let original = s.metric.clone();
            let (metric, drop_name) = if finish && s.drop_name {
                (Arc::new(without_name(&s.metric)), false)
            } else {
                (s.metric, s.drop_name)
            };
            let idx = match index.get(&metric) {
                Some(&idx) => idx,
                None => {
                    out.push(Series {
                        metric: metric.clone(),
                        floats: Vec::new(),
                        histograms: Vec::new(),
                        drop_name,
                    });
                    index.insert(metric, out.len() - 1);
                    out.len() - 1
                }
            };
            by_ptr.insert(ptr_key, (original, idx));
            let series = &mut out[idx];
            let dup =
                series.floats.last().is_some_and(|p| p.t == t) || series.histograms.last().is_some_and(|p| p.t == t);
            if dup {
                return Err(QueryError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            match s.h {
                Some(h) => series.histograms.push(HPoint { t, h }),
                None => series.floats.push(FPoint { t, f: s.f }),
            }
        }
    }
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(out)
}

impl<'a> Evaluator<'a> {
    /// Number of steps in the current range.
    pub fn steps(&self) -> usize {
        ((self.end - self.start) / self.interval + 1) as usize
    }

    /// Timestamp of step `i`.
    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval
    }

    /// Whether this is a range evaluation (more than one step) of the top-level query.
    pub fn is_range_query(&self) -> bool {
        self.ctx.step_ms != 0
    }

    /// Adds a warning with the position of `pos`.
    pub fn warn(&mut self, msg: impl std::fmt::Display, pos: PosRange) {
        let m = format!("PromQL warning: {msg} {}", position_suffix(self.query, pos));
        self.annotations.add(Annotation::Warning(m));
    }

    /// Adds an info with the position of `pos`.
    pub fn info(&mut self, msg: impl std::fmt::Display, pos: PosRange) {
        let m = format!("PromQL info: {msg} {}", position_suffix(self.query, pos));
        self.annotations.add(Annotation::Info(m));
    }

    /// Fails when the query ran past its deadline.
    pub fn check_deadline(&self, what: &'static str) -> Result<(), QueryError> {
        if self
            .limits
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(QueryError::Canceled(what));
        }
        if Instant::now() > self.limits.deadline {
            return Err(QueryError::Timeout(what));
        }
        Ok(())
    }

    fn account(&mut self, n: usize) -> Result<(), QueryError> {
        self.current_samples += n;
        self.peak_samples = self.peak_samples.max(self.current_samples);
        if self.current_samples > self.opts.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// A duration's value in milliseconds.
    pub fn duration(&self, d: &Duration) -> i64 {
        d.millis(&self.ctx)
    }

    fn at_time(&self, at: &AtModifier) -> i64 {
        match at {
            AtModifier::Timestamp(t) => *t,
            AtModifier::Start => self.ctx.start_ms,
            AtModifier::End => self.ctx.end_ms,
        }
    }

    /// Per step: the time a selector or subquery with these modifiers looks at.
    pub(super) fn ref_times(&self, offset: &Option<Duration>, at: &Option<AtModifier>) -> Vec<i64> {
        let off = offset.as_ref().map_or(0, |d| self.duration(d));
        match at {
            Some(a) => vec![self.at_time(a) - off; self.steps()],
            None => (0..self.steps()).map(|i| self.ts(i) - off).collect(),
        }
    }

    /// Evaluates `expr` for every step of the current range, step-major.
    pub fn eval(&mut self, expr: &Expr) -> Result<Val, QueryError> {
        let flow = self.eval_flow(expr)?;
        Ok(self.into_val(flow))
    }

    /// Evaluates `expr` for every step of the current range, series-major where the expression allows it.
    pub fn eval_flow(&mut self, expr: &Expr) -> Result<Flow, QueryError> {
        self.check_deadline("expression evaluation")?;
        let before = self.current_samples;
        let flow = self.eval_inner(expr)?;
        self.current_samples = before;
        self.account(flow.size())?;
        Ok(flow)
    }

    fn eval_inner(&mut self, expr: &Expr) -> Result<Flow, QueryError> {
        Ok(match expr {
            Expr::Paren(p) => return self.eval_flow(&p.expr),
            Expr::VectorSelector(vs) if !vs.anchored && !vs.smoothed => Flow::Series(self.selector_series(vs)?),
            Expr::Unary(u) if u.op == UnaryOp::Neg => match self.eval_flow(&u.expr)? {
                Flow::Series(mut m) => {
                    super::stream::negate(&mut m);
                    Flow::Series(m)
                }
                Flow::Val(v) => Flow::Val(negate_val(v)),
            },
            Expr::Call(c) => super::functions::eval_call(self, c)?,
            Expr::Aggregate(a) => {
                let at_root = self.root == expr as *const Expr as usize;
                super::aggregate::eval_aggregate(self, a, at_root)?
            }
            Expr::Binary(b) => super::binop::eval_binary(self, b)?,
            _ => Flow::Val(self.eval_val(expr)?),
        })
    }

    fn eval_val(&mut self, expr: &Expr) -> Result<Val, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalars(vec![n.val; self.steps()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Duration(d) => {
                let v = duration_value(d, &self.ctx);
                Ok(Val::Scalars(vec![v; self.steps()]))
            }
            Expr::Unary(u) => {
                let v = self.eval(&u.expr)?;
                if u.op == UnaryOp::Pos {
                    return Ok(v);
                }
                Ok(negate_val(v))
            }
            Expr::VectorSelector(vs) => Ok(Val::Vectors(self.eval_vector_selector(vs, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                // Only an instant query's top level asks for a range vector's value.
                let arg = self.range_arg(expr)?;
                let mut m = Matrix::new();
                for (si, rs) in arg.series.iter().enumerate() {
                    let (f, h) = arg.window(si, 0);
                    if f.is_empty() && h.is_empty() {
                        continue;
                    }
                    m.push(Series {
                        metric: rs.metric.clone(),
                        floats: f.to_vec(),
                        histograms: h.to_vec(),
                        drop_name: rs.drop_name,
                    });
                }
                Ok(Val::Matrix(m))
            }
            Expr::Call(_) | Expr::Aggregate(_) | Expr::Binary(_) => {
                let flow = self.eval_inner(expr)?;
                Ok(self.into_val(flow))
            }
        }
    }

    pub(super) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<crate::storage::Series>, QueryError> {
        let q = self.queryable.querier(mint, maxt)?;
        let hints = SelectHints {
            start: mint,
            end: maxt,
            step: self.ctx.step_ms,
            range,
            ..SelectHints::default()
        };
        Ok(q.select(true, Some(&hints), &vs.matchers)?)
    }

    /// Loads a selected series' points in `[mint, maxt]` (staleness markers included).
    pub(super) fn load_points(&mut self, s: &crate::storage::Series) -> Result<Vec<(i64, Point)>, QueryError> {
        let mut out = Vec::new();
        self.load_points_into(s, &mut out)?;
        Ok(out)
    }

    /// [`Self::load_points`] into `out` (cleared first), so that one buffer serves a query's series in turn.
    pub(super) fn load_points_into(
        &mut self,
        s: &crate::storage::Series,
        out: &mut Vec<(i64, Point)>,
    ) -> Result<(), QueryError> {
        out.clear();
        let mut it = s.iter();
        loop {
            match it.next() {
                StorageValueType::None => break,
                StorageValueType::Float => {
                    let (t, f) = it.at();
                    out.push((t, Point::F(f)));
                }
                StorageValueType::Histogram | StorageValueType::FloatHistogram => {
                    let (t, h) = it.at_float_histogram();
                    out.push((t, Point::H(Arc::new(h))));
                }
            }
        }
        if let Some(e) = it.err() {
            return Err(QueryError::Execution(e.to_string()));
        }
        if self.stats_mode {
            let mut prev: Option<Arc<FloatHistogram>> = None;
            for (_, p) in out.iter_mut() {
                match p {
                    Point::H(h) => {
                        if h.counter_reset_hint != CounterResetHint::Gauge
                            && let Some(pr) = &prev
                        {
                            let hint = if h.detect_reset(pr) {
                                CounterResetHint::CounterReset
                            } else {
                                CounterResetHint::NotCounterReset
                            };
                            let cur = h.clone();
                            let mut c = (*cur).clone();
                            c.counter_reset_hint = hint;
                            *h = Arc::new(c);
                            prev = Some(cur);
                        } else {
                            prev = Some(h.clone());
                        }
                    }
                    Point::F(_) => prev = None,
                }
            }
        }
        self.total_samples += out.len() as u64;
        Ok(())
    }

    /// Loads a selected series' points into `rs` as a range vector holds them: floats and histograms apart,
    /// staleness markers left out.
    fn load_range_points(&mut self, s: &crate::storage::Series, rs: &mut RangeSeries) -> Result<(), QueryError> {
        let mut it = s.iter();
        let mut n = 0u64;
        loop {
            match it.next() {
                StorageValueType::None => break,
                StorageValueType::Float => {
                    let (t, f) = it.at();
                    if !is_stale_nan(f) {
                        rs.floats.push(FPoint { t, f });
                    }
                }
                StorageValueType::Histogram | StorageValueType::FloatHistogram => {
                    let (t, h) = it.at_float_histogram();
                    rs.histograms.push(HPoint { t, h: Arc::new(h) });
                }
            }
            n += 1;
        }
        if let Some(e) = it.err() {
            return Err(QueryError::Execution(e.to_string()));
        }
        self.total_samples += n;
        Ok(())
    }

    /// An instant vector selector at every step. With `sample_time`, each sample's `t` is the time of the
    /// sample found rather than the step's (for `timestamp()`).
    pub fn eval_vector_selector(&mut self, vs: &VectorSelector, sample_time: bool) -> Result<Vec<Vector>, QueryError> {
        let refs = self.ref_times(&vs.offset, &vs.at);
        self.eval_vector_selector_at(vs, &refs, sample_time)
    }

    /// Per step, the time the data of `expr` is read at: the step time shifted by the `@` and `offset` modifiers
    /// of the selector (and subqueries) it reads through. `info()` looks up info series at these times.
    pub fn data_times(&self, expr: &Expr) -> Vec<i64> {
        let mut times: Vec<i64> = (0..self.steps()).map(|i| self.ts(i)).collect();
        let mut e = expr;
        loop {
            let (off, at) = match e.unparen() {
                Expr::VectorSelector(vs) => (&vs.offset, &vs.at),
                Expr::MatrixSelector(ms) => (&ms.vs.offset, &ms.vs.at),
                Expr::Subquery(sq) => (&sq.offset, &sq.at),
                other => {
                    match other.children().into_iter().find(|c| {
                        matches!(
                            c.value_type(),
                            crate::promql::ast::ValueType::Vector | crate::promql::ast::ValueType::Matrix
                        )
                    }) {
                        Some(c) => {
                            e = c;
                            continue;
                        }
                        None => return times,
                    }
                }
            };
            let o = off.as_ref().map_or(0, |d| self.duration(d));
            for t in times.iter_mut() {
                *t = at.as_ref().map_or(*t, |a| self.at_time(a)) - o;
            }
            match e.unparen() {
                Expr::Subquery(sq) => e = &sq.expr,
                _ => return times,
            }
        }
    }

    /// An instant vector selector read at the given per-step times.
    pub fn eval_vector_selector_at(
        &mut self,
        vs: &VectorSelector,
        refs: &[i64],
        sample_time: bool,
    ) -> Result<Vec<Vector>, QueryError> {
        let refs = refs.to_vec();
        let n = refs.len();
        let mut out: Vec<Vector> = (0..n).map(|_| Vector::new()).collect();
        let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
            return Ok(out);
        };
        let maxt = if vs.smoothed { hi + self.lookback } else { hi };
        let series = self.select(vs, lo - self.lookback + 1, maxt, 0)?;
        for s in &series {
            self.check_deadline("expression evaluation")?;
            let mut points = self.load_points(s)?;
            if vs.anchored || vs.smoothed {
                points.retain(|(_, p)| !matches!(p, Point::F(f) if is_stale_nan(*f)));
            }
            if vs.smoothed {
                let metric = Arc::new(s.labels.clone());
                let name = s.labels.metric_name().unwrap_or("").to_string();
                for (i, &r) in refs.iter().enumerate() {
                    let idx = points.partition_point(|(t, _)| *t <= r);
                    let before = idx
                        .checked_sub(1)
                        .map(|j| &points[j])
                        .filter(|(t, _)| *t > r - self.lookback);
                    let after = points.get(idx).filter(|(t, _)| *t <= r + self.lookback);
                    let xv = |p: &Point| match p {
                        Point::F(f) => XValue::F(*f),
                        Point::H(h) => XValue::H(h.clone()),
                    };
                    let v = match (before, after) {
                        (Some((bt, bp)), _) if *bt == r => Ok(xv(bp)),
                        (Some((bt, bp)), Some((at, ap))) => {
                            let counter = matches!(ap, Point::H(_));
                            interpolate(*bt, &xv(bp), *at, &xv(ap), r, counter)
                        }
                        (Some((_, bp)), None) => Ok(xv(bp)),
                        _ => continue,
                    };
                    match v {
                        Ok(XValue::F(f)) => out[i].push(Sample::float(metric.clone(), self.ts(i), f)),
                        Ok(XValue::H(h)) => out[i].push(Sample {
                            metric: metric.clone(),
                            t: self.ts(i),
                            f: 0.0,
                            h: Some(h),
                            drop_name: false,
                        }),
                        Err(XProblem::MixedTypes) => self.warn(
                            format!("encountered a mix of histograms and floats for metric name {name:?}"),
                            vs.pos,
                        ),
                        Err(XProblem::MixedSchemas) => self.warn(
                            format!(
                                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
                            ),
                            vs.pos,
                        ),
                    }
                }
                continue;
            }
            if points.is_empty() {
                continue;
            }
            let metric = Arc::new(s.labels.clone());
            let mut last_t = i64::MIN;
            for (i, (t, p)) in super::stream::lookback_points(&refs, &points, self.lookback) {
                let st = if sample_time { *t } else { self.ts(i) };
                match p {
                    Point::F(f) if is_stale_nan(*f) => {}
                    Point::F(f) => out[i].push(Sample::float(metric.clone(), st, *f)),
                    Point::H(h) => {
                        let h = self.step_histogram(h, *t, last_t);
                        out[i].push(Sample {
                            metric: metric.clone(),
                            t: st,
                            f: 0.0,
                            h: Some(h),
                            drop_name: false,
                        })
                    }
                }
                last_t = *t;
            }
        }
        Ok(out)
    }

    /// The lookback delta (ms).
    pub fn lookback(&self) -> i64 {
        self.lookback
    }

    /// A histogram sample (taken at `t`) as an instant selector yields it at a step, `last_t` being the time of
    /// the sample the series yielded at the step before.
    pub(super) fn step_histogram(&self, h: &Arc<FloatHistogram>, t: i64, last_t: i64) -> Arc<FloatHistogram> {
        // A sample seen again at a later step must not report its counter reset again; inside subqueries,
        // samples are not consecutive, so storage hints give way to detection.
        let hint = h.counter_reset_hint;
        let new_hint = if t == last_t && hint == CounterResetHint::CounterReset {
            CounterResetHint::NotCounterReset
        } else if self.in_subquery && t != last_t && hint != CounterResetHint::Gauge {
            CounterResetHint::Unknown
        } else if self.in_subquery && t == last_t && hint != CounterResetHint::Gauge {
            CounterResetHint::NotCounterReset
        } else {
            return h.clone();
        };
        let mut c = (**h).clone();
        c.counter_reset_hint = new_hint;
        Arc::new(c)
    }

    /// Loads a range-vector expression (matrix selector or subquery, possibly in parentheses) for all steps.
    pub fn range_arg(&mut self, expr: &Expr) -> Result<RangeArg, QueryError> {
        match expr.unparen() {
            Expr::MatrixSelector(ms) => {
                let range = self.duration(&ms.range);
                let refs = self.ref_times(&ms.vs.offset, &ms.vs.at);
                let extended = ms.vs.anchored || ms.vs.smoothed;
                let mut arg = RangeArg {
                    series: Vec::new(),
                    range,
                    ends: refs.clone(),
                    pos: ms.vs.pos,
                    is_subquery: false,
                    anchored: ms.vs.anchored,
                    smoothed: ms.vs.smoothed,
                    lookback: self.lookback,
                };
                let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
                    return Ok(arg);
                };
                let (mint, maxt) = if extended {
                    (
                        lo - range - self.lookback + 1,
                        if ms.vs.smoothed { hi + self.lookback } else { hi },
                    )
                } else {
                    (lo - range + 1, hi)
                };
                let series = self.select(&ms.vs, mint, maxt, range)?;
                let mut total = 0;
                // Series of one selection usually hold about as many samples as each other: size each one's
                // buffer by the one before.
                let mut expect = 0;
                arg.series.reserve_exact(series.len());
                for s in series {
                    self.check_deadline("expression evaluation")?;
                    let mut rs = RangeSeries::default();
                    if self.stats_mode {
                        for (t, p) in self.load_points(&s)? {
                            match p {
                                Point::F(f) if is_stale_nan(f) => {}
                                Point::F(f) => rs.floats.push(FPoint { t, f }),
                                Point::H(h) => rs.histograms.push(HPoint { t, h }),
                            }
                        }
                    } else {
                        rs.floats.reserve(expect);
                        self.load_range_points(&s, &mut rs)?;
                        expect = rs.floats.len() + rs.floats.len() / 16;
                    }
                    rs.metric = Arc::new(s.labels);
                    total += rs.floats.len() + rs.histograms.len();
                    arg.series.push(rs);
                }
                self.account(total)?;
                Ok(arg)
            }
            Expr::Subquery(sq) => self.eval_subquery(sq),
            other => Err(QueryError::Execution(format!(
                "expected a range vector, got {}",
                other.value_type().documented()
            ))),
        }
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeArg, QueryError> {
        let range = self.duration(&sq.range);
        let step = match &sq.step {
            Some(d) => self.duration(d),
            None => self.opts.default_subquery_step.as_millis() as i64,
        }
        .max(1);
        let refs = self.ref_times(&sq.offset, &sq.at);
        let mut arg = RangeArg {
            series: Vec::new(),
            range,
            ends: refs.clone(),
            pos: sq.pos,
            is_subquery: true,
            anchored: false,
            smoothed: false,
            lookback: self.lookback,
        };
        let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
            return Ok(arg);
        };
        // Inner steps: multiples of the step inside (lo - range, hi].
        let from = lo - range;
        let mut inner_start = from.div_euclid(step) * step;
        if inner_start <= from {
            inner_start += step;
        }
        let inner_end = hi.div_euclid(step) * step;
        if inner_end < inner_start {
            return Ok(arg);
        }
        if ((inner_end - inner_start) / step).saturating_add(1) as u64 > self.opts.max_samples as u64 {
            return Err(QueryError::TooManySamples("query execution"));
        }
        let saved = (self.start, self.end, self.interval, self.stats_mode, self.in_subquery);
        self.start = inner_start;
        self.end = inner_end;
        self.interval = step;
        self.stats_mode = false;
        self.in_subquery = true;
        let inner = self.eval(&sq.expr);
        (self.start, self.end, self.interval, self.stats_mode, self.in_subquery) = saved;
        let vs = match inner? {
            Val::Vectors(vs) => vs,
            Val::Scalars(s) => s
                .into_iter()
                .map(|f| vec![Sample::float(Arc::new(Labels::new()), 0, f)])
                .collect(),
            _ => {
                return Err(QueryError::Execution("subquery of a string or range vector".into()));
            }
        };
        let m = vectors_to_matrix(vs, inner_start, step, false)?;
        arg.series = m
            .into_iter()
            .map(|s| RangeSeries {
                metric: s.metric,
                floats: s.floats,
                histograms: s.histograms,
                drop_name: s.drop_name,
            })
            .collect();
        Ok(arg)
    }

    /// Evaluates `expr` expecting one scalar per step.
    pub fn eval_scalars(&mut self, expr: &Expr) -> Result<Vec<f64>, QueryError> {
        match self.eval(expr)? {
            Val::Scalars(s) => Ok(s),
            _ => Err(QueryError::Execution(format!(
                "expected a scalar, got {}",
                expr.value_type().documented()
            ))),
        }
    }

    /// Evaluates `expr` expecting one vector per step.
    pub fn eval_vectors(&mut self, expr: &Expr) -> Result<Vec<Vector>, QueryError> {
        match self.eval(expr)? {
            Val::Vectors(v) => Ok(v),
            _ => Err(QueryError::Execution(format!(
                "expected an instant vector, got {}",
                expr.value_type().documented()
            ))),
        }
    }
}
