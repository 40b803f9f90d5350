//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`, `topk`, `bottomk`,
//! `quantile`, `count_values`, `limitk`, `limit_ratio`), step by step, with `by`/`without` grouping.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::QueryError;
use super::eval::{Evaluator, NAME_LABELS, Val};
use super::histogram::{HistogramMean, HistogramOps, HistogramSum};
use super::kahan::{KahanMean, KahanSum};
use super::stream::Flow;
use super::value::{FPoint, FastMap, Matrix, Sample, Series, Vector, format_float};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::promql::ast::{AggregateExpr, AggregateOp};

/// The grouping key of a sample's labels.
fn group_hash(metric: &Labels, a: &AggregateExpr) -> u64 {
    let mut h = DefaultHasher::new();
    if a.without {
        for (n, v) in metric.iter() {
            if NAME_LABELS.contains(&n) || a.grouping.iter().any(|g| g == n) {
                continue;
            }
            n.hash(&mut h);
            v.hash(&mut h);
        }
    } else {
        for g in &a.grouping {
            if let Some(v) = metric.get(g) {
                g.hash(&mut h);
                v.hash(&mut h);
            }
        }
    }
    h.finish()
}

/// The labels of a sample's group.
fn group_labels(metric: &Labels, a: &AggregateExpr) -> Labels {
    if a.without {
        metric
            .iter()
            .filter(|(n, _)| !NAME_LABELS.contains(n) && !a.grouping.iter().any(|g| g == n))
            .collect()
    } else {
        metric
            .iter()
            .filter(|(n, _)| a.grouping.iter().any(|g| g == n))
            .collect()
    }
}

/// Orders floats for `topk` (NaN lowest) descending.
fn cmp_desc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Orders floats for `bottomk` (NaN highest) ascending.
fn cmp_asc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The `q`-quantile of `values` (sorted in place), as upstream computes it.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Evaluates an aggregation for all steps.
///
/// `at_root`: the aggregation is a range query's top-level expression, whose per-step sample order does not
/// matter (it is regrouped into series); `topk`/`bottomk` then run series-major too.
pub fn eval_aggregate(ev: &mut Evaluator<'_>, a: &AggregateExpr, at_root: bool) -> Result<Flow, QueryError> {
    // The parameter first (as upstream), then the vector.
    let mut params: Option<Vec<f64>> = None;
    let mut label_param: Option<String> = None;
    if let Some(p) = &a.param {
        match ev.eval(p)? {
            Val::Scalars(s) => params = Some(s),
            Val::Str(s) => label_param = Some(s),
            _ => return Err(QueryError::Execution("invalid aggregation parameter".into())),
        }
    }
    let flow = ev.eval_flow(&a.expr)?;
    let flow = match flow {
        Flow::Series(m) if series_aggregation(a, &m) => return Ok(Flow::Series(aggregate_series(ev, a, &m))),
        Flow::Series(m)
            if at_root
                && matches!(a.op, AggregateOp::Topk | AggregateOp::Bottomk)
                && m.iter().all(|s| s.histograms.is_empty()) =>
        {
            let params = params.unwrap_or_default();
            if params.len() != ev.steps() || params.iter().any(|p| p.is_nan()) {
                return Err(QueryError::Execution("Parameter value is NaN".into()));
            }
            return Ok(Flow::Series(top_k_series(ev, a, &params, m)));
        }
        other => other,
    };
    let vectors = match ev.into_val(flow) {
        Val::Vectors(v) => v,
        _ => {
            return Err(QueryError::Execution(format!(
                "expected an instant vector, got {}",
                a.expr.value_type().documented()
            )));
        }
    };
    if a.op == AggregateOp::CountValues {
        let label = label_param.unwrap_or_default();
        if !valid_label_name(&label) {
            return Err(QueryError::Execution(format!("invalid label name {label:?}")));
        }
        let out = vectors.into_iter().map(|v| count_values(a, &label, v)).collect();
        return Ok(Flow::Val(Val::Vectors(out)));
    }
    let mut out = Vec::with_capacity(vectors.len());
    let mut cache = GroupCache::default();
    for (i, v) in vectors.into_iter().enumerate() {
        let param = params.as_ref().map(|p| p[i]);
        out.push(aggregate_step(ev, a, param, v, &mut cache, i)?);
    }
    Ok(Flow::Val(Val::Vectors(out)))
}

/// Whether an aggregation of series-major `m` can run series-major: a float-only input and an operator that
/// folds each group's values into one (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`), not
/// grouping by the metric name (whose removal depends on the members).
fn series_aggregation(a: &AggregateExpr, m: &Matrix) -> bool {
    matches!(
        a.op,
        AggregateOp::Sum
            | AggregateOp::Avg
            | AggregateOp::Count
            | AggregateOp::Min
            | AggregateOp::Max
            | AggregateOp::Group
            | AggregateOp::Stddev
            | AggregateOp::Stdvar
    ) && (a.without || !a.grouping.iter().any(|n| n == "__name__"))
        && m.iter().all(|s| s.histograms.is_empty())
}

/// `topk`/`bottomk` of float-only series-major input with `k` per step: each series' group is found once; per
/// step, each group's members (in series order) are ranked as the step-by-step evaluation ranks them, and the
/// selected series keep their point at that step.
fn top_k_series(ev: &mut Evaluator<'_>, a: &AggregateExpr, params: &[f64], m: Matrix) -> Matrix {
    let mut cache = GroupCache::default();
    let gids: Vec<usize> = m.iter().map(|s| cache.get_once(&s.metric, a) as usize).collect();
    let groups = cache.labels.len();
    let steps = ev.steps();
    let cmp = if a.op == AggregateOp::Topk { cmp_desc } else { cmp_asc };
    let mut kept: Vec<Vec<FPoint>> = vec![Vec::new(); m.len()];
    let mut members: Vec<Vec<(usize, f64)>> = vec![Vec::new(); groups];
    let mut touched: Vec<usize> = Vec::with_capacity(groups);
    let mut cursors = vec![0usize; m.len()];
    for (i, &k) in params.iter().enumerate().take(steps) {
        let t = ev.ts(i);
        touched.clear();
        let mut present = 0usize;
        for (si, _, p) in super::stream::points_at(&m, &mut cursors, t) {
            present += 1;
            let g = &mut members[gids[si]];
            if g.is_empty() {
                touched.push(gids[si]);
            }
            g.push((si, p.f));
        }
        if k >= 1.0 {
            let k = if k >= present as f64 { present } else { k as usize };
            for &g in &touched {
                let g = &mut members[g];
                if k == 1 {
                    if let Some(&(si, f)) = g
                        .iter()
                        .reduce(|b, x| if cmp(x.1, b.1) == Ordering::Less { x } else { b })
                    {
                        kept[si].push(FPoint { t, f });
                    }
                } else {
                    g.sort_by(|x, y| cmp(x.1, y.1));
                    for &(si, f) in g.iter().take(k) {
                        kept[si].push(FPoint { t, f });
                    }
                }
            }
        }
        for &g in &touched {
            members[g].clear();
        }
    }
    m.into_iter()
        .zip(kept)
        .map(|(s, floats)| Series {
            metric: s.metric,
            floats,
            histograms: Vec::new(),
            drop_name: s.drop_name,
        })
        .collect()
}

/// One group's fold at one step (floats only).
#[derive(Clone, Copy, Default)]
struct FloatFold {
    /// The step it was last reset for, plus one (0: never used).
    stamp: usize,
    n: usize,
    sum: KahanSum,
    mean: KahanMean,
    value: f64,
    w_mean: f64,
    w_mean_c: f64,
    w_aux: f64,
    w_aux_c: f64,
}

/// A float-only aggregation of series-major input, series-major: each series' group is found once, and each
/// step folds the series with a point there into their groups' accumulators (in series order, as the
/// step-major evaluation does).
fn aggregate_series(ev: &mut Evaluator<'_>, a: &AggregateExpr, m: &Matrix) -> Matrix {
    let mut cache = GroupCache::default();
    let gids: Vec<usize> = m.iter().map(|s| cache.get_once(&s.metric, a) as usize).collect();
    let groups = cache.labels.len();
    let steps = ev.steps();
    let mut out: Matrix = cache
        .labels
        .iter()
        .map(|l| Series {
            metric: l.clone(),
            floats: Vec::new(),
            histograms: Vec::new(),
            drop_name: false,
        })
        .collect();
    let mut folds = vec![FloatFold::default(); groups];
    let mut cursors = vec![0usize; m.len()];
    let mut touched: Vec<usize> = Vec::with_capacity(groups);
    for i in 0..steps {
        let t = ev.ts(i);
        touched.clear();
        for (si, _, p) in super::stream::points_at(m, &mut cursors, t) {
            let g = &mut folds[gids[si]];
            if g.stamp != i + 1 {
                *g = FloatFold {
                    stamp: i + 1,
                    value: f64::NAN,
                    ..FloatFold::default()
                };
                touched.push(gids[si]);
            }
            let f = p.f;
            g.n += 1;
            match a.op {
                AggregateOp::Sum => g.sum.add(f),
                AggregateOp::Avg => g.mean.add(f),
                AggregateOp::Min if g.value.is_nan() || f < g.value => g.value = f,
                AggregateOp::Max if g.value.is_nan() || f > g.value => g.value = f,
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    let n = g.n as f64;
                    let delta = f - (g.w_mean + g.w_mean_c);
                    (g.w_mean, g.w_mean_c) = super::kahan::sum_inc(delta / n, g.w_mean, g.w_mean_c);
                    let d2 = f - (g.w_mean + g.w_mean_c);
                    (g.w_aux, g.w_aux_c) = super::kahan::sum_inc(delta * d2, g.w_aux, g.w_aux_c);
                }
                _ => {}
            }
        }
        for &gid in &touched {
            let g = &folds[gid];
            let f = match a.op {
                AggregateOp::Count => g.n as f64,
                AggregateOp::Group => 1.0,
                AggregateOp::Sum => g.sum.value(),
                AggregateOp::Avg => g.mean.value(),
                AggregateOp::Min | AggregateOp::Max => g.value,
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    let var = (g.w_aux + g.w_aux_c) / g.n as f64;
                    if a.op == AggregateOp::Stddev { var.sqrt() } else { var }
                }
                _ => f64::NAN,
            };
            let series = &mut out[gid];
            if series.floats.capacity() == 0 {
                series.floats.reserve_exact(steps - i);
            }
            series.floats.push(FPoint { t, f });
        }
    }
    out
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && std::str::from_utf8(s.as_bytes()).is_ok() && !s.contains('\u{FFFD}')
}

fn count_values(a: &AggregateExpr, label: &str, v: Vector) -> Vector {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vector = Vec::new();
    for s in &v {
        let value = match &s.h {
            Some(h) => histogram_string(h),
            None => format_float(s.f),
        };
        let mut labels = group_labels(&s.metric, a);
        labels.set(label, value);
        match index.get(&labels) {
            Some(&i) => out[i].f += 1.0,
            None => {
                index.insert(labels.clone(), out.len());
                out.push(Sample::float(Arc::new(labels), s.t, 1.0));
            }
        }
    }
    out
}

/// A histogram as upstream prints it: `{count:N, sum:S, [lower,upper):count, ...}` over its non-empty buckets.
pub fn histogram_string(h: &FloatHistogram) -> String {
    let mut out = format!("{{count:{}, sum:{}", fmt_g(h.count), fmt_g(h.sum));
    for b in h.buckets() {
        if b.count == 0.0 {
            continue;
        }
        let open = if b.lower_inclusive { '[' } else { '(' };
        let close = if b.upper_inclusive { ']' } else { ')' };
        out.push_str(&format!(
            ", {open}{},{}{close}:{}",
            fmt_g(b.lower),
            fmt_g(b.upper),
            fmt_g(b.count)
        ));
    }
    out.push('}');
    out
}

/// Accumulated state of one group.
struct Group {
    labels: Arc<Labels>,
    first: usize,
    count: f64,
    sum: KahanSum,
    mean: KahanMean,
    value: f64,
    has_float: bool,
    hsum: Option<HistogramSum>,
    hmean: HistogramMean,
    hist_count: usize,
    hist_error: bool,
    // Welford for stddev/stdvar.
    w_mean: f64,
    w_mean_c: f64,
    w_aux: f64,
    w_aux_c: f64,
    /// The samples in the group.
    n: usize,
    /// Their indices (for `quantile` only).
    members: Vec<usize>,
    drop_name: bool,
}

/// Groups of one aggregation, kept across its steps: each distinct group key gets a dense id once per query, and
/// each input label set is mapped to its group once (series keep their `Arc` from step to step, so most lookups
/// are by pointer; holding the `Arc` keeps its address unique). Per step, a slot table indexed by group id finds
/// the step's group without hashing.
#[derive(Default)]
struct GroupCache {
    by_ptr: FastMap<usize, (Arc<Labels>, u32)>,
    by_key: FastMap<u64, u32>,
    labels: Vec<Arc<Labels>>,
    /// Per group id: the step it was last used in and its index among that step's groups.
    slots: Vec<(usize, usize)>,
}

impl GroupCache {
    fn get(&mut self, metric: &Arc<Labels>, a: &AggregateExpr) -> u32 {
        let ptr = Arc::as_ptr(metric) as usize;
        if let Some((_, id)) = self.by_ptr.get(&ptr) {
            return *id;
        }
        let id = self.get_once(metric, a);
        self.by_ptr.insert(ptr, (metric.clone(), id));
        id
    }

    /// The group of a label set that is looked up only once (a series-major input: one lookup per series), so
    /// not remembered by address.
    fn get_once(&mut self, metric: &Labels, a: &AggregateExpr) -> u32 {
        let key = group_hash(metric, a);
        match self.by_key.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.labels.len() as u32;
                self.by_key.insert(key, id);
                self.labels.push(Arc::new(group_labels(metric, a)));
                self.slots.push((usize::MAX, 0));
                id
            }
        }
    }
}

fn aggregate_step(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    param: Option<f64>,
    v: Vector,
    cache: &mut GroupCache,
    step: usize,
) -> Result<Vector, QueryError> {
    match a.op {
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
            let p = param.unwrap_or(f64::NAN);
            if p.is_nan() {
                return Err(QueryError::Execution("Parameter value is NaN".into()));
            }
            return Ok(top_k(ev, a, p, v, cache));
        }
        AggregateOp::LimitRatio => {
            let mut r = param.unwrap_or(f64::NAN);
            if r.is_nan() {
                return Err(QueryError::Execution("Ratio value is NaN".into()));
            }
            if !(-1.0..=1.0).contains(&r) {
                let capped = r.clamp(-1.0, 1.0);
                ev.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to {}",
                        fmt_g(r),
                        fmt_g(capped)
                    ),
                    a.param.as_ref().map_or(a.pos, |p| p.pos()),
                );
                r = capped;
            }
            return Ok(limit_ratio(a, r, v));
        }
        AggregateOp::Quantile => {
            let q = param.unwrap_or(f64::NAN);
            if !(0.0..=1.0).contains(&q) {
                ev.warn(
                    format!("quantile value should be between 0 and 1, got {}", fmt_g(q)),
                    a.param.as_ref().map_or(a.pos, |p| p.pos()),
                );
            }
        }
        _ => {}
    }
    let mut groups: Vec<Group> = Vec::new();
    let keep_members = a.op == AggregateOp::Quantile;
    for (si, s) in v.iter().enumerate() {
        let id = cache.get(&s.metric, a) as usize;
        let gi = match cache.slots[id] {
            (st, g) if st == step => g,
            _ => {
                cache.slots[id] = (step, groups.len());
                groups.push(Group {
                    labels: cache.labels[id].clone(),
                    first: si,
                    count: 0.0,
                    sum: KahanSum::default(),
                    mean: KahanMean::default(),
                    value: f64::NAN,
                    has_float: false,
                    hsum: None,
                    hmean: HistogramMean::default(),
                    hist_count: 0,
                    hist_error: false,
                    w_mean: 0.0,
                    w_mean_c: 0.0,
                    w_aux: 0.0,
                    w_aux_c: 0.0,
                    n: 0,
                    members: Vec::new(),
                    drop_name: false,
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        g.count += 1.0;
        g.n += 1;
        if keep_members {
            g.members.push(si);
        }
        g.drop_name |= s.drop_name;
        match &s.h {
            Some(h) => {
                g.hist_count += 1;
                if a.op == AggregateOp::Sum && !g.hist_error {
                    match &mut g.hsum {
                        None => g.hsum = Some(HistogramSum::new(h)),
                        Some(acc) => {
                            if acc.add(h, 1.0).is_err() {
                                g.hist_error = true;
                            }
                        }
                    }
                }
                if a.op == AggregateOp::Avg && !g.hist_error && g.hmean.add(h).is_err() {
                    g.hist_error = true;
                }
            }
            None => {
                g.has_float = true;
                let f = s.f;
                match a.op {
                    AggregateOp::Sum => g.sum.add(f),
                    AggregateOp::Avg => g.mean.add(f),
                    AggregateOp::Min if g.value.is_nan() || f < g.value => g.value = f,
                    AggregateOp::Max if g.value.is_nan() || f > g.value => g.value = f,
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        let n = (g.n - g.hist_count) as f64;
                        let delta = f - (g.w_mean + g.w_mean_c);
                        (g.w_mean, g.w_mean_c) = super::kahan::sum_inc(delta / n, g.w_mean, g.w_mean_c);
                        let d2 = f - (g.w_mean + g.w_mean_c);
                        (g.w_aux, g.w_aux_c) = super::kahan::sum_inc(delta * d2, g.w_aux, g.w_aux_c);
                    }
                    _ => {}
                }
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let t = v[g.first].t;
        let float_count = (g.n - g.hist_count) as f64;
        let mut sample = Sample::float(g.labels.clone(), t, 0.0);
        sample.drop_name = g.drop_name && a.grouping.iter().any(|n| n == "__name__") && !a.without;
        match a.op {
            AggregateOp::Count => sample.f = g.count,
            AggregateOp::Group => sample.f = 1.0,
            AggregateOp::Sum | AggregateOp::Avg => {
                if g.has_float && g.hist_count > 0 {
                    ev.warn("encountered a mix of histograms and floats for aggregation", a.pos);
                    continue;
                }
                if g.hist_count > 0 {
                    if g.hist_error {
                        let name = v[g.first].metric.metric_name().unwrap_or("").to_string();
                        ev.warn(
                            format!(
                                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
                            ),
                            a.expr.pos(),
                        );
                        continue;
                    }
                    let (reconciled, collision, h) = if a.op == AggregateOp::Sum {
                        let acc = g.hsum.unwrap_or_default();
                        (acc.reconciled, acc.collision, acc.value())
                    } else {
                        let (r, c) = g.hmean.flags();
                        (r, c, g.hmean.value().unwrap_or_default())
                    };
                    if collision {
                        ev.warn("conflicting counter resets during histogram aggregation", a.expr.pos());
                    }
                    if reconciled {
                        ev.info(
                            "mismatched custom buckets were reconciled during aggregation",
                            a.expr.pos(),
                        );
                    }
                    let mut h = h;
                    h.compact();
                    sample.h = Some(Arc::new(h));
                } else if a.op == AggregateOp::Sum {
                    sample.f = g.sum.value();
                } else {
                    sample.f = g.mean.value();
                }
            }
            AggregateOp::Min | AggregateOp::Max => {
                if g.hist_count > 0 {
                    ev.info(format!("ignored histogram in {} aggregation", a.op), a.pos);
                }
                if float_count == 0.0 {
                    continue;
                }
                sample.f = g.value;
            }
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                if g.hist_count > 0 {
                    ev.info(format!("ignored histogram in {} aggregation", a.op), a.pos);
                }
                if float_count == 0.0 {
                    continue;
                }
                let var = (g.w_aux + g.w_aux_c) / float_count;
                sample.f = if a.op == AggregateOp::Stddev { var.sqrt() } else { var };
            }
            AggregateOp::Quantile => {
                if g.hist_count > 0 {
                    ev.info(format!("ignored histogram in {} aggregation", a.op), a.pos);
                }
                let mut vals: Vec<f64> = g
                    .members
                    .iter()
                    .filter(|&&i| v[i].h.is_none())
                    .map(|&i| v[i].f)
                    .collect();
                if vals.is_empty() {
                    continue;
                }
                sample.f = quantile(param.unwrap_or(f64::NAN), &mut vals);
            }
            _ => {}
        }
        out.push(sample);
    }
    Ok(out)
}

/// `%g`-like formatting for annotation messages.
pub fn fmt_g(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn top_k(ev: &mut Evaluator<'_>, a: &AggregateExpr, k: f64, v: Vector, cache: &mut GroupCache) -> Vector {
    if k < 1.0 {
        return Vec::new();
    }
    let k = if k >= v.len() as f64 { v.len() } else { k as usize };
    let mut groups: FastMap<u64, Vec<usize>> = FastMap::default();
    let mut order: Vec<u64> = Vec::new();
    let mut ignored = false;
    for (i, s) in v.iter().enumerate() {
        if s.h.is_some() && a.op != AggregateOp::Limitk {
            ignored = true;
            continue;
        }
        let key = u64::from(cache.get(&s.metric, a));
        groups
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(i);
    }
    if ignored {
        ev.info(format!("ignored histogram in {} aggregation", a.op), a.pos);
    }
    let mut out = Vec::new();
    for key in order {
        let mut members = groups.remove(&key).unwrap_or_default();
        if k == 1 && a.op != AggregateOp::Limitk && members.len() > 1 {
            // The first of the best, as a stable sort would put first.
            let cmp = if a.op == AggregateOp::Topk { cmp_desc } else { cmp_asc };
            let best = members
                .iter()
                .copied()
                .reduce(|b, x| if cmp(v[x].f, v[b].f) == Ordering::Less { x } else { b });
            members = best.into_iter().collect();
        }
        match a.op {
            AggregateOp::Topk => members.sort_by(|&x, &y| cmp_desc(v[x].f, v[y].f)),
            AggregateOp::Bottomk => members.sort_by(|&x, &y| cmp_asc(v[x].f, v[y].f)),
            _ => {}
        }
        members.truncate(k);
        out.extend(members.into_iter().map(|i| v[i].clone()));
    }
    out
}

/// Whether a series falls into the first `ratio` (or, negative, the last) fraction of the hash space.
fn ratio_selected(labels: &Labels, ratio: f64) -> bool {
    let mut h = DefaultHasher::new();
    labels.hash(&mut h);
    let x = h.finish() as f64 / u64::MAX as f64;
    if ratio >= 0.0 { x < ratio } else { x >= 1.0 + ratio }
}

fn limit_ratio(_a: &AggregateExpr, r: f64, v: Vector) -> Vector {
    v.into_iter().filter(|s| ratio_selected(&s.metric, r)).collect()
}
