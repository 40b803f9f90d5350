//! Histogram functions: `histogram_quantile` (over native histograms and over classic `le` buckets, with the
//! monotonicity fix), `histogram_quantiles`, `histogram_fraction`, `histogram_count`, `histogram_sum`,
//! `histogram_avg`, `histogram_stddev` and `histogram_stdvar`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::super::QueryError;
use super::super::aggregate::fmt_g;
use super::super::eval::{Evaluator, Val};
use super::super::histogram::HistogramOps;
use super::super::kahan::sum_inc;
use super::super::stream::Flow;
use super::super::value::{FPoint, FastMap, Matrix, Sample, Series, Vector, format_float};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::promql::ast::{Call, PosRange};

/// Evaluates one of the `histogram_*` functions.
pub fn eval(ev: &mut Evaluator<'_>, call: &Call) -> Result<Flow, QueryError> {
    match call.func.name {
        "histogram_quantile" => {
            let q = ev.eval_scalars(&call.args[0])?;
            let vs = match ev.eval_flow(&call.args[1])? {
                Flow::Series(m) if m.iter().all(|s| s.histograms.is_empty()) => {
                    return Ok(Flow::Series(quantile_series(ev, call, &q, &m)));
                }
                flow => match ev.into_val(flow) {
                    Val::Vectors(vs) => vs,
                    _ => {
                        return Err(QueryError::Execution(format!(
                            "expected an instant vector, got {}",
                            call.args[1].value_type().documented()
                        )));
                    }
                },
            };
            let mut out = Vec::with_capacity(vs.len());
            let mut cache = SplitCache::default();
            for (i, v) in vs.into_iter().enumerate() {
                out.push(quantile_step(ev, call, q[i], v, None, &mut cache));
            }
            Ok(Flow::Val(Val::Vectors(out)))
        }
        "histogram_quantiles" => {
            let vs = ev.eval_vectors(&call.args[0])?;
            let label = match ev.eval(&call.args[1])? {
                Val::Str(s) => s,
                _ => return Err(QueryError::Execution("expected a string label name".into())),
            };
            let mut qs = Vec::new();
            for a in &call.args[2..] {
                qs.push(ev.eval_scalars(a)?);
            }
            let mut out = Vec::with_capacity(vs.len());
            let mut cache = SplitCache::default();
            for (i, v) in vs.into_iter().enumerate() {
                let mut step = Vector::new();
                for q in &qs {
                    step.extend(quantile_step(ev, call, q[i], v.clone(), Some(&label), &mut cache));
                }
                out.push(step);
            }
            Ok(Flow::Val(Val::Vectors(out)))
        }
        "histogram_fraction" => {
            let lo = ev.eval_scalars(&call.args[0])?;
            let hi = ev.eval_scalars(&call.args[1])?;
            let vs = ev.eval_vectors(&call.args[2])?;
            let mut out = Vec::with_capacity(vs.len());
            let mut cache = SplitCache::default();
            for (i, v) in vs.into_iter().enumerate() {
                out.push(fraction_step(ev, call, lo[i], hi[i], v, &mut cache));
            }
            Ok(Flow::Val(Val::Vectors(out)))
        }
        name => {
            let vs = ev.eval_vectors(&call.args[0])?;
            let f: fn(&FloatHistogram) -> f64 = match name {
                "histogram_count" => |h| h.count,
                "histogram_sum" => |h| h.sum,
                "histogram_avg" => |h| h.sum / h.count,
                "histogram_stddev" => |h| variance(h).sqrt(),
                "histogram_stdvar" => variance,
                _ => return Err(QueryError::Execution(format!("function {name:?} is not implemented"))),
            };
            let out = vs
                .into_iter()
                .map(|v| {
                    v.into_iter()
                        .filter_map(|mut s| {
                            let h = s.h.take()?;
                            s.f = f(&h);
                            s.drop_name = true;
                            Some(s)
                        })
                        .collect()
                })
                .collect();
            Ok(Flow::Val(Val::Vectors(out)))
        }
    }
}

/// The variance of a native histogram's observations, estimated from bucket midpoints.
pub fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut var, mut c) = (0.0, 0.0);
    let custom = h.uses_custom_buckets();
    for b in h.buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if custom {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let d = val - mean;
        (var, c) = sum_inc(b.count * d * d, var, c);
    }
    (var + c) / h.count
}

/// Outcome of a native histogram quantile.
enum NanObs {
    None,
    Skewed,
    NanResult,
}

/// The `q`-quantile of a native histogram (logarithmic interpolation in exponential buckets).
fn native_quantile(q: f64, h: &FloatHistogram) -> (f64, NanObs) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, NanObs::None);
    }
    if q > 1.0 {
        return (f64::INFINITY, NanObs::None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, NanObs::None);
    }
    let buckets = h.buckets();
    let bucket_total: f64 = buckets.iter().map(|b| b.count).sum();
    let has_nan = h.sum.is_nan() && bucket_total < h.count;
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward { q * h.count } else { (1.0 - q) * h.count };
    if has_nan && rank > bucket_total {
        return (f64::NAN, NanObs::NanResult);
    }
    let mut count = 0.0;
    let mut chosen = None;
    let iter: Box<dyn Iterator<Item = &super::super::histogram::Bucket>> = if forward {
        Box::new(buckets.iter())
    } else {
        Box::new(buckets.iter().rev())
    };
    for b in iter {
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        chosen = Some(*b);
        if count >= rank {
            break;
        }
    }
    let Some(mut b) = chosen else {
        return (f64::NAN, NanObs::None);
    };
    let custom = h.uses_custom_buckets();
    if !custom && b.lower < 0.0 && b.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    } else if custom {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return (b.upper, nan_flag(has_nan));
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return (b.lower, nan_flag(has_nan));
        }
    }
    if count > h.count {
        count = h.count;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    let fraction = rank / b.count;
    let v = if custom || (b.lower <= 0.0 && b.upper >= 0.0) {
        b.lower + (b.upper - b.lower) * fraction
    } else {
        let ll = b.lower.abs().log2();
        let lu = b.upper.abs().log2();
        if b.lower > 0.0 {
            (ll + (lu - ll) * fraction).exp2()
        } else {
            -((lu + (ll - lu) * (1.0 - fraction)).exp2())
        }
    };
    (v, nan_flag(has_nan))
}

fn nan_flag(has_nan: bool) -> NanObs {
    if has_nan { NanObs::Skewed } else { NanObs::None }
}

/// The fraction of observations between `lower` and `upper`, and whether NaN observations were excluded.
fn fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, bool) {
    let buckets = h.buckets();
    let bucket_total: f64 = buckets.iter().map(|b| b.count).sum();
    let has_nan = h.sum.is_nan() && bucket_total < h.count;
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, has_nan);
    }
    if lower >= upper {
        return (0.0, has_nan);
    }
    let custom = h.uses_custom_buckets();
    if custom {
        let bs: Vec<(f64, f64, f64)> = buckets.iter().map(|b| (b.lower, b.upper, b.count)).collect();
        let total = if has_nan { bucket_total } else { h.count };
        return (linear_fraction(lower, upper, &bs, total) * total / h.count, has_nan);
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for mut b in buckets {
        let mut zero = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let lin = |v: f64, rank: f64| {
            if b.lower == f64::NEG_INFINITY {
                return rank;
            }
            if b.upper == f64::INFINITY {
                return rank;
            }
            rank + b.count * (v - b.lower) / (b.upper - b.lower)
        };
        let expo = |v: f64, rank: f64| {
            let ll = b.lower.abs().log2();
            let lu = b.upper.abs().log2();
            let lv = v.abs().log2();
            let frac = if v > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - ((lv - lu) / (ll - lu))
            };
            rank + b.count * frac
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = if custom || zero {
                lin(lower, rank)
            } else {
                expo(lower, rank)
            };
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = if custom || zero {
                lin(upper, rank)
            } else {
                expo(upper, rank)
            };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    let total = if has_nan { bucket_total } else { h.count };
    if !lower_set || lower_rank > total {
        lower_rank = total;
    }
    if !upper_set || upper_rank > total {
        upper_rank = total;
    }
    ((upper_rank - lower_rank) / h.count, has_nan)
}

/// A classic bucket: upper bound and cumulative count.
#[derive(Clone, Copy, Debug)]
struct ClassicBucket {
    upper: f64,
    count: f64,
}

/// The `q`-quantile over classic buckets; also whether monotonicity had to be forced.
fn classic_quantile(q: f64, buckets: &mut [ClassicBucket]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Coalesce equal bounds.
    let mut merged: Vec<ClassicBucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].count;
    for b in merged.iter_mut().skip(1) {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b.count = prev;
            continue;
        }
        if cur < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = merged[merged.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = merged.len();
    let b = merged[..n - 1].partition_point(|x| x.count < rank);
    if b == n - 1 {
        return (merged[n - 2].upper, forced);
    }
    if b == 0 && merged[0].upper <= 0.0 {
        return (merged[0].upper, forced);
    }
    let mut start = 0.0;
    let end = merged[b].upper;
    let mut count = merged[b].count;
    if b > 0 {
        start = merged[b - 1].upper;
        count -= merged[b - 1].count;
        rank -= merged[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Relative float comparison as upstream's `almost.Equal`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

fn labels_hash(l: &Labels) -> u64 {
    let mut h = DefaultHasher::new();
    l.hash(&mut h);
    h.finish()
}

/// A classic histogram of one step: its labels (without `le`), buckets, and metric name.
struct ClassicGroup {
    labels: Arc<Labels>,
    key: u64,
    buckets: Vec<ClassicBucket>,
    name: Arc<str>,
    t: i64,
}

/// How one input series splits, worked out once per query: its `le` bound (`None` when missing or malformed)
/// and its group. Series keep their `Arc` from step to step, so this is found by the `Arc`'s address (the cache
/// holds the `Arc`, which keeps the address unique).
#[derive(Default)]
struct SplitCache {
    by_ptr: FastMap<usize, (Arc<Labels>, Option<f64>, usize)>,
    by_key: FastMap<u64, usize>,
    /// Per group: its labels without `le`, their hash, and the metric name.
    groups: Vec<(Arc<Labels>, u64, Arc<str>)>,
}

impl SplitCache {
    fn get(&mut self, metric: &Arc<Labels>) -> (Option<f64>, usize) {
        let ptr = Arc::as_ptr(metric) as usize;
        if let Some((_, upper, g)) = self.by_ptr.get(&ptr) {
            return (*upper, *g);
        }
        let upper = metric.get("le").and_then(parse_le);
        let mut key = (**metric).clone();
        key.remove("le");
        let k = labels_hash(&key);
        let g = *self.by_key.entry(k).or_insert_with(|| {
            let name: Arc<str> = Arc::from(metric.metric_name().unwrap_or(""));
            self.groups.push((Arc::new(key), k, name));
            self.groups.len() - 1
        });
        self.by_ptr.insert(ptr, (metric.clone(), upper, g));
        (upper, g)
    }
}

/// Splits a vector into native histogram samples and classic bucket groups (keyed by labels without `le`, the
/// name included), warning about malformed `le` labels and dropping series that are both.
fn split<'v>(
    ev: &mut Evaluator<'_>,
    v: &'v Vector,
    pos: PosRange,
    cache: &mut SplitCache,
) -> (Vec<&'v Sample>, Vec<ClassicGroup>) {
    let mut natives: Vec<(&Sample, u64)> = Vec::new();
    let mut index: FastMap<u64, usize> = FastMap::default();
    let mut groups: Vec<ClassicGroup> = Vec::new();
    for s in v {
        if s.h.is_some() {
            natives.push((s, labels_hash(&s.metric)));
            continue;
        }
        let (upper, g) = cache.get(&s.metric);
        let Some(upper) = upper else {
            let le = s.metric.get("le");
            let name = s.metric.metric_name().unwrap_or("");
            ev.warn(
                format!(
                    "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {name:?}",
                    le.unwrap_or("")
                ),
                pos,
            );
            continue;
        };
        let (labels, k, name) = &cache.groups[g];
        let gi = *index.entry(*k).or_insert_with(|| {
            groups.push(ClassicGroup {
                labels: labels.clone(),
                key: *k,
                buckets: Vec::new(),
                name: name.clone(),
                t: s.t,
            });
            groups.len() - 1
        });
        groups[gi].buckets.push(ClassicBucket { upper, count: s.f });
    }
    let mut mixed: HashMap<u64, ()> = HashMap::new();
    let mut out_natives = Vec::new();
    for (s, k) in natives {
        if index.contains_key(&k) {
            let name = s.metric.metric_name().unwrap_or("");
            ev.warn(
                format!("vector contains a mix of classic and native histograms for metric name {name:?}"),
                pos,
            );
            mixed.insert(k, ());
        } else {
            out_natives.push(s);
        }
    }
    let groups = groups.into_iter().filter(|g| !mixed.contains_key(&g.key)).collect();
    (out_natives, groups)
}

/// A quantile as a label value: shortest form, with `.0` on whole numbers (`0.0`, `0.25`, `1.0`).
fn quantile_label(q: f64) -> String {
    let s = format_float(q);
    if q.is_finite() && q.fract() == 0.0 && !s.contains('e') {
        format!("{s}.0")
    } else {
        s
    }
}

/// `histogram_quantile` over classic buckets held series-major (float-only input, `q` per step): each series'
/// bound and group are found once, and each step computes the quantile of every group with buckets there, in
/// the order the step-by-step evaluation meets them.
fn quantile_series(ev: &mut Evaluator<'_>, call: &Call, q: &[f64], m: &Matrix) -> Matrix {
    let vec_pos = call.args[1].pos();
    let q_pos = call.args[0].pos();
    let mut cache = SplitCache::default();
    let split: Vec<(Option<f64>, usize)> = m.iter().map(|s| cache.get(&s.metric)).collect();
    let groups = cache.groups.len();
    let steps = ev.steps();
    let mut out: Matrix = cache
        .groups
        .iter()
        .map(|(labels, _, _)| Series {
            metric: labels.clone(),
            floats: Vec::new(),
            histograms: Vec::new(),
            drop_name: true,
        })
        .collect();
    let mut buckets: Vec<Vec<ClassicBucket>> = vec![Vec::new(); groups];
    let mut stamp = vec![usize::MAX; groups];
    let mut touched: Vec<usize> = Vec::with_capacity(groups);
    let mut cursors = vec![0usize; m.len()];
    for (i, &qi) in q.iter().enumerate().take(steps) {
        if qi.is_nan() || !(0.0..=1.0).contains(&qi) {
            ev.warn(
                format!("quantile value should be between 0 and 1, got {}", fmt_g(qi)),
                q_pos,
            );
        }
        let t = ev.ts(i);
        touched.clear();
        for (si, s, p) in super::super::stream::points_at(m, &mut cursors, t) {
            let (upper, g) = split[si];
            let Some(upper) = upper else {
                let le = s.metric.get("le");
                let name = s.metric.metric_name().unwrap_or("");
                ev.warn(
                    format!(
                        "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {name:?}",
                        le.unwrap_or("")
                    ),
                    vec_pos,
                );
                continue;
            };
            if stamp[g] != i {
                stamp[g] = i;
                buckets[g].clear();
                touched.push(g);
            }
            buckets[g].push(ClassicBucket { upper, count: p.f });
        }
        for &g in &touched {
            let (val, forced) = classic_quantile(qi, &mut buckets[g]);
            if forced {
                ev.info(
                    format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                        cache.groups[g].2
                    ),
                    vec_pos,
                );
            }
            let series = &mut out[g];
            if series.floats.capacity() == 0 {
                series.floats.reserve_exact(steps - i);
            }
            series.floats.push(FPoint { t, f: val });
        }
    }
    out
}

/// `histogram_quantile` for one step. With `label`, the quantile is added as that label's value.
fn quantile_step(
    ev: &mut Evaluator<'_>,
    call: &Call,
    q: f64,
    v: Vector,
    label: Option<&str>,
    cache: &mut SplitCache,
) -> Vector {
    let vec_pos = call.args[if label.is_some() { 0 } else { 1 }].pos();
    let q_pos = call.args[if label.is_some() { 2 } else { 0 }].pos();
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.warn(
            format!("quantile value should be between 0 and 1, got {}", fmt_g(q)),
            q_pos,
        );
    }
    let with_label = |metric: &Arc<Labels>| -> Arc<Labels> {
        match label {
            Some(l) => {
                let mut m = (**metric).clone();
                m.set(l, quantile_label(q));
                Arc::new(m)
            }
            None => metric.clone(),
        }
    };
    let mut out = Vector::new();
    let (natives, groups) = split(ev, &v, vec_pos, cache);
    for s in natives {
        let Some(h) = &s.h else { continue };
        let name = s.metric.metric_name().unwrap_or("").to_string();
        let (val, nan) = native_quantile(q, h);
        match nan {
            NanObs::None => {}
            NanObs::Skewed => ev.info(
                format!(
                    "input to histogram_quantile has NaN observations, result is skewed higher for metric name {name:?}"
                ),
                vec_pos,
            ),
            NanObs::NanResult => ev.info(
                format!("input to histogram_quantile has NaN observations, result is NaN for metric name {name:?}"),
                vec_pos,
            ),
        }
        out.push(Sample {
            metric: with_label(&s.metric),
            t: s.t,
            f: val,
            h: None,
            drop_name: true,
        });
    }
    for mut g in groups {
        let (val, forced) = classic_quantile(q, &mut g.buckets);
        if forced {
            ev.info(
                format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                    g.name
                ),
                vec_pos,
            );
        }
        out.push(Sample {
            metric: with_label(&g.labels),
            t: g.t,
            f: val,
            h: None,
            drop_name: true,
        });
    }
    out
}

/// `histogram_fraction` for one step, over native histograms and classic buckets.
fn fraction_step(ev: &mut Evaluator<'_>, call: &Call, lo: f64, hi: f64, v: Vector, cache: &mut SplitCache) -> Vector {
    let pos = call.args[2].pos();
    let (natives, groups) = split(ev, &v, pos, cache);
    let mut out = Vector::new();
    for s in natives {
        let Some(h) = &s.h else { continue };
        let (frac, nan_obs) = fraction(lo, hi, h);
        if nan_obs {
            let name = s.metric.metric_name().unwrap_or("");
            ev.info(
                format!(
                    "input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name {name:?}"
                ),
                pos,
            );
        }
        let mut o = Sample::float(s.metric.clone(), s.t, frac);
        o.drop_name = true;
        out.push(o);
    }
    for mut g in groups {
        g.buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
        let mut merged: Vec<ClassicBucket> = Vec::with_capacity(g.buckets.len());
        for b in &g.buckets {
            match merged.last_mut() {
                Some(last) if last.upper == b.upper => last.count += b.count,
                _ => merged.push(*b),
            }
        }
        let val = if merged.last().is_none_or(|b| b.upper != f64::INFINITY) {
            f64::NAN
        } else {
            let total = merged[merged.len() - 1].count;
            let mut prev_upper = f64::NEG_INFINITY;
            let mut prev_count = 0.0;
            let buckets: Vec<(f64, f64, f64)> = merged
                .iter()
                .map(|b| {
                    let r = (prev_upper, b.upper, b.count - prev_count);
                    prev_upper = b.upper;
                    prev_count = b.count;
                    r
                })
                .collect();
            linear_fraction(lo, hi, &buckets, total)
        };
        let mut o = Sample::float(g.labels, g.t, val);
        o.drop_name = true;
        out.push(o);
    }
    out
}

/// The fraction of observations in `(lower, upper)` over buckets `(lower, upper, count)` with linear
/// interpolation; a first bucket starting at -Inf with a positive bound starts at 0, and infinitely wide buckets
/// contribute nothing when only partly covered.
fn linear_fraction(lower: f64, upper: f64, buckets: &[(f64, f64, f64)], total: f64) -> f64 {
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let rank_at = |v: f64| -> f64 {
        let mut rank = 0.0;
        for (i, &(mut bl, bu, c)) in buckets.iter().enumerate() {
            if i == 0 && bl == f64::NEG_INFINITY && bu > 0.0 {
                bl = 0.0;
            }
            if v <= bl {
                return rank;
            }
            if v < bu {
                if bl == f64::NEG_INFINITY {
                    return rank + c;
                }
                if bu == f64::INFINITY {
                    return rank;
                }
                return rank + c * (v - bl) / (bu - bl);
            }
            rank += c;
        }
        rank
    };
    let lr = rank_at(lower).min(total);
    let ur = rank_at(upper).min(total);
    (ur - lr) / total
}

fn parse_le(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => t.parse::<f64>().ok(),
    }
}
