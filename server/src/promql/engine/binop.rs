//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`, and the set operators, between
//! scalars and instant vectors, with vector matching (`on`/`ignoring`, `group_left`/`group_right`, `fill`).

use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::QueryError;
use super::eval::{Evaluator, Val};
use super::histogram::HistogramOps;
use super::stream::{Flow, step_index};
use super::value::{FPoint, FastMap, FastSet, HPoint, Matrix, Sample, Series, Vector};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::promql::ast::{BinaryExpr, BinaryOp, Cardinality, VectorMatching};

/// Applies an arithmetic or comparison operator to two floats. For comparisons the result is 1/0 and the second
/// value says whether the comparison held.
pub fn scalar_op(op: BinaryOp, a: f64, b: f64) -> (f64, bool) {
    match op {
        BinaryOp::Add => (a + b, true),
        BinaryOp::Sub => (a - b, true),
        BinaryOp::Mul => (a * b, true),
        BinaryOp::Div => (a / b, true),
        BinaryOp::Mod => (a % b, true),
        BinaryOp::Pow => (a.powf(b), true),
        BinaryOp::Atan2 => (a.atan2(b), true),
        BinaryOp::Eql => cmp(a == b),
        BinaryOp::Neq => cmp(a != b),
        BinaryOp::Gtr => cmp(a > b),
        BinaryOp::Lss => cmp(a < b),
        BinaryOp::Gte => cmp(a >= b),
        BinaryOp::Lte => cmp(a <= b),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless | BinaryOp::TrimUpper | BinaryOp::TrimLower => {
            (f64::NAN, false)
        }
    }
}

fn cmp(b: bool) -> (f64, bool) {
    (if b { 1.0 } else { 0.0 }, b)
}

/// Whether the operator removes the metric name from its result.
fn drops_name(op: BinaryOp, return_bool: bool) -> bool {
    (!op.is_comparison() && !matches!(op, BinaryOp::TrimUpper | BinaryOp::TrimLower)) || return_bool
}

/// Evaluates a binary expression for all steps.
pub fn eval_binary(ev: &mut Evaluator<'_>, b: &BinaryExpr) -> Result<Flow, QueryError> {
    let lhs = ev.eval_flow(&b.lhs)?;
    let rhs = ev.eval_flow(&b.rhs)?;
    match (lhs, rhs) {
        (Flow::Series(l), Flow::Val(Val::Scalars(r))) => Ok(Flow::Series(series_scalar(ev, b, l, &r, false))),
        (Flow::Val(Val::Scalars(l)), Flow::Series(r)) => Ok(Flow::Series(series_scalar(ev, b, r, &l, true))),
        (Flow::Series(l), Flow::Series(r)) if b.op.is_set_operator() => {
            match series_set(b, l, r, ev.start, ev.interval, ev.steps()) {
                Ok(m) => Ok(Flow::Series(m)),
                Err((l, r)) => {
                    let (lhs, rhs) = (ev.into_val(Flow::Series(l)), ev.into_val(Flow::Series(r)));
                    eval_binary_steps(ev, b, lhs, rhs).map(Flow::Val)
                }
            }
        }
        (Flow::Series(l), Flow::Series(r)) => match series_vector(b, l, r) {
            Ok(m) => Ok(Flow::Series(m)),
            Err((l, r)) => {
                let (lhs, rhs) = (ev.into_val(Flow::Series(l)), ev.into_val(Flow::Series(r)));
                eval_binary_steps(ev, b, lhs, rhs).map(Flow::Val)
            }
        },
        (lhs, rhs) => {
            let (lhs, rhs) = (ev.into_val(lhs), ev.into_val(rhs));
            eval_binary_steps(ev, b, lhs, rhs).map(Flow::Val)
        }
    }
}

/// A one-to-one arithmetic operator or comparison between float-only series-major vectors whose series each have
/// a distinct matching signature on their side: every series meets at most one series of the other side at any
/// step, so the series are paired once and their points joined on time. Anything else (duplicate signatures,
/// whose errors depend on the step, `group_left`/`group_right`, `fill`, histograms, set operators) gives the
/// operands back for step-by-step evaluation.
#[allow(clippy::type_complexity)]
fn series_vector(b: &BinaryExpr, l: Matrix, r: Matrix) -> Result<Matrix, (Matrix, Matrix)> {
    let default = VectorMatching {
        card: Cardinality::OneToOne,
        matching_labels: Vec::new(),
        on: false,
        include: Vec::new(),
        fill_left: None,
        fill_right: None,
    };
    let m = b.matching.as_ref().unwrap_or(&default);
    let simple = !b.op.is_set_operator()
        && !matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower)
        && m.card == Cardinality::OneToOne
        && m.fill_left.is_none()
        && m.fill_right.is_none()
        && l.iter().chain(&r).all(|s| s.histograms.is_empty());
    if !simple {
        return Err((l, r));
    }
    let mut index: FastMap<u64, usize> = FastMap::with_capacity_and_hasher(r.len(), Default::default());
    for (i, s) in r.iter().enumerate() {
        if index.insert(signature(&s.metric, m), i).is_some() {
            return Err((l, r));
        }
    }
    let mut pairs = Vec::with_capacity(l.len());
    let mut seen: FastSet<u64> = FastSet::default();
    for s in &l {
        let sig = signature(&s.metric, m);
        if !seen.insert(sig) {
            return Err((l, r));
        }
        pairs.push(index.get(&sig).copied());
    }
    let drop = drops_name(b.op, b.return_bool);
    let filter = b.op.is_comparison() && !b.return_bool;
    let mut out = Matrix::with_capacity(l.len());
    for (ls, ri) in l.iter().zip(pairs) {
        let Some(ri) = ri else {
            continue;
        };
        let rs = &r[ri];
        let (lm, rm) = (
            Sample::float(ls.metric.clone(), 0, 0.0),
            Sample::float(rs.metric.clone(), 0, 0.0),
        );
        let mut floats = Vec::with_capacity(ls.floats.len().min(rs.floats.len()));
        let (mut i, mut j) = (0, 0);
        while i < ls.floats.len() && j < rs.floats.len() {
            let (lp, rp) = (ls.floats[i], rs.floats[j]);
            if lp.t < rp.t {
                i += 1;
                continue;
            }
            if rp.t < lp.t {
                j += 1;
                continue;
            }
            i += 1;
            j += 1;
            let (v, keep) = scalar_op(b.op, lp.f, rp.f);
            if filter {
                if keep {
                    floats.push(lp);
                }
            } else {
                floats.push(FPoint { t: lp.t, f: v });
            }
        }
        out.push(Series {
            metric: result_metric(&lm, &rm, m),
            floats,
            histograms: Vec::new(),
            drop_name: drop || ls.drop_name,
        });
    }
    Ok(out)
}

/// Most signature-by-step cells the series-major set operators track; beyond that they run step by step.
const MAX_PRESENCE_CELLS: usize = 1 << 24;

/// `and`, `or` and `unless` between series-major vectors: per matching signature of the side that filters, the
/// steps where any of its series has a point; the other side's points are kept or dropped by that. Output order
/// per step is what the step-by-step evaluation gives (left series, then for `or` the right ones).
#[allow(clippy::type_complexity)]
fn series_set(
    b: &BinaryExpr,
    mut l: Matrix,
    mut r: Matrix,
    start: i64,
    interval: i64,
    steps: usize,
) -> Result<Matrix, (Matrix, Matrix)> {
    let default = VectorMatching {
        card: Cardinality::ManyToMany,
        matching_labels: Vec::new(),
        on: false,
        include: Vec::new(),
        fill_left: None,
        fill_right: None,
    };
    let m = b.matching.as_ref().unwrap_or(&default);
    let (filter_by, filtered) = if b.op == BinaryOp::Or { (&l, &r) } else { (&r, &l) };
    let by_sigs: Vec<u64> = filter_by.iter().map(|s| signature(&s.metric, m)).collect();
    let distinct: FastSet<u64> = by_sigs.iter().copied().collect();
    if distinct.len().saturating_mul(steps) > MAX_PRESENCE_CELLS {
        return Err((l, r));
    }
    let mut presence: FastMap<u64, Vec<bool>> = FastMap::with_capacity_and_hasher(distinct.len(), Default::default());
    for (s, sig) in filter_by.iter().zip(&by_sigs) {
        let bits = presence.entry(*sig).or_insert_with(|| vec![false; steps]);
        for t in s.floats.iter().map(|p| p.t).chain(s.histograms.iter().map(|p| p.t)) {
            bits[step_index(t, start, interval)] = true;
        }
    }
    let sigs: Vec<u64> = filtered.iter().map(|s| signature(&s.metric, m)).collect();
    let keep_present = b.op == BinaryOp::And;
    let target = if b.op == BinaryOp::Or { &mut r } else { &mut l };
    for (s, sig) in target.iter_mut().zip(sigs) {
        match presence.get(&sig) {
            Some(bits) => {
                s.floats
                    .retain(|p| bits[step_index(p.t, start, interval)] == keep_present);
                s.histograms
                    .retain(|p| bits[step_index(p.t, start, interval)] == keep_present);
            }
            None if keep_present => {
                s.floats.clear();
                s.histograms.clear();
            }
            None => {}
        }
    }
    if b.op == BinaryOp::Or {
        l.extend(r);
    }
    Ok(l)
}

/// A binary operator step by step.
fn eval_binary_steps(ev: &mut Evaluator<'_>, b: &BinaryExpr, lhs: Val, rhs: Val) -> Result<Val, QueryError> {
    match (lhs, rhs) {
        (Val::Scalars(l), Val::Scalars(r)) => Ok(Val::Scalars(
            l.iter()
                .zip(&r)
                .map(|(a, c)| {
                    let (v, _) = scalar_op(b.op, *a, *c);
                    v
                })
                .collect(),
        )),
        (Val::Vectors(l), Val::Scalars(r)) => {
            let out = l
                .into_iter()
                .zip(r)
                .map(|(v, s)| vector_scalar(ev, b, v, s, false))
                .collect();
            Ok(Val::Vectors(out))
        }
        (Val::Scalars(l), Val::Vectors(r)) => {
            let out = r
                .into_iter()
                .zip(l)
                .map(|(v, s)| vector_scalar(ev, b, v, s, true))
                .collect();
            Ok(Val::Vectors(out))
        }
        (Val::Vectors(l), Val::Vectors(r)) => {
            let default = VectorMatching {
                card: if b.op.is_set_operator() {
                    Cardinality::ManyToMany
                } else {
                    Cardinality::OneToOne
                },
                matching_labels: Vec::new(),
                on: false,
                include: Vec::new(),
                fill_left: None,
                fill_right: None,
            };
            let m = b.matching.as_ref().unwrap_or(&default);
            let mut out = Vec::with_capacity(l.len());
            let mut sigs = SigCache::default();
            for (lv, rv) in l.into_iter().zip(r) {
                let v = match b.op {
                    BinaryOp::And => and(lv, &rv, m, &mut sigs),
                    BinaryOp::Or => or(lv, rv, m, &mut sigs),
                    BinaryOp::Unless => unless(lv, &rv, m, &mut sigs),
                    _ => vector_vector(ev, b, m, lv, rv, &mut sigs)?,
                };
                out.push(v);
            }
            Ok(Val::Vectors(out))
        }
        _ => Err(QueryError::Execution(format!(
            "invalid operand types for binary operator {}",
            b.op
        ))),
    }
}

/// A float or histogram operand.
#[derive(Clone, Copy)]
enum Operand<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

/// The outcome of applying an operator to one pair of values: `None` drops the pair.
enum Outcome {
    F(f64),
    H(FloatHistogram),
}

/// Applies `op` to two operands of any kind, raising upstream's annotations for unsupported combinations.
/// `keep` reports whether a comparison held (filtering semantics).
fn apply(ev: &mut Evaluator<'_>, b: &BinaryExpr, l: Operand<'_>, r: Operand<'_>) -> Option<(Outcome, bool)> {
    let op = b.op;
    match (l, r) {
        (Operand::F(a), Operand::F(c)) => {
            let (v, keep) = scalar_op(op, a, c);
            Some((Outcome::F(v), keep))
        }
        (Operand::H(h), Operand::F(c)) => match op {
            BinaryOp::TrimUpper => Some((Outcome::H(super::histogram::trim(h, c, true)), true)),
            BinaryOp::TrimLower => Some((Outcome::H(super::histogram::trim(h, c, false)), true)),
            BinaryOp::Mul => Some((Outcome::H(h.scaled(c)), true)),
            BinaryOp::Div => {
                let mut out = h.scaled(1.0 / c);
                if c == 0.0 {
                    // Division by zero: only the totals are meaningful.
                    out.positive_spans.clear();
                    out.positive_buckets.clear();
                    out.negative_spans.clear();
                    out.negative_buckets.clear();
                }
                Some((Outcome::H(out), true))
            }
            _ => {
                incompatible(ev, b, "histogram", "float");
                None
            }
        },
        (Operand::F(a), Operand::H(h)) => match op {
            BinaryOp::Mul => Some((Outcome::H(h.scaled(a)), true)),
            _ => {
                incompatible(ev, b, "float", "histogram");
                None
            }
        },
        (Operand::H(x), Operand::H(y)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let mut out = x.clone();
                let res = if op == BinaryOp::Add {
                    out.add_hist(y)
                } else {
                    out.sub_hist(y)
                };
                match res {
                    Ok(reconciled) => {
                        if reconciled {
                            let what = if op == BinaryOp::Add { "addition" } else { "subtraction" };
                            ev.info(
                                format!("mismatched custom buckets were reconciled during {what}"),
                                b.pos,
                            );
                        }
                        Some((Outcome::H(out), true))
                    }
                    Err(e) => {
                        ev.warn(e, b.pos);
                        None
                    }
                }
            }
            BinaryOp::Eql => {
                let eq = x.equals(y);
                Some((
                    if b.return_bool {
                        Outcome::F(eq as u8 as f64)
                    } else {
                        Outcome::H(x.clone())
                    },
                    eq,
                ))
            }
            BinaryOp::Neq => {
                let ne = !x.equals(y);
                Some((
                    if b.return_bool {
                        Outcome::F(ne as u8 as f64)
                    } else {
                        Outcome::H(x.clone())
                    },
                    ne,
                ))
            }
            _ => {
                incompatible(ev, b, "histogram", "histogram");
                None
            }
        },
    }
}

fn incompatible(ev: &mut Evaluator<'_>, b: &BinaryExpr, l: &str, r: &str) {
    ev.info(
        format!(
            "incompatible sample types encountered for binary operator \"{}\": {l} {} {r}",
            b.op, b.op
        ),
        b.pos,
    );
}

/// One vector element (float `f`, or histogram `h`) with a scalar `s`: the resulting value, or `None` where the
/// element is dropped.
fn element_scalar(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    f: f64,
    h: Option<Arc<FloatHistogram>>,
    s: f64,
    swap: bool,
) -> Option<(f64, Option<Arc<FloatHistogram>>)> {
    let vo = match &h {
        Some(h) => Operand::H(h),
        None => Operand::F(f),
    };
    let (l, r) = if swap { (Operand::F(s), vo) } else { (vo, Operand::F(s)) };
    // Comparisons of histograms with scalars are not defined.
    if b.op.is_comparison() && h.is_some() {
        incompatible(
            ev,
            b,
            if swap { "float" } else { "histogram" },
            if swap { "histogram" } else { "float" },
        );
        return None;
    }
    let (res, keep) = apply(ev, b, l, r)?;
    if b.op.is_comparison() && !b.return_bool {
        // The filter keeps the vector's own value.
        return keep.then_some((f, h));
    }
    Some(match res {
        Outcome::F(f) => (f, None),
        Outcome::H(nh) => (0.0, Some(Arc::new(nh))),
    })
}

fn vector_scalar(ev: &mut Evaluator<'_>, b: &BinaryExpr, v: Vector, s: f64, swap: bool) -> Vector {
    let mut out = Vec::with_capacity(v.len());
    let drop = drops_name(b.op, b.return_bool);
    for mut smp in v {
        let h = smp.h.take();
        let Some((f, h)) = element_scalar(ev, b, smp.f, h, s, swap) else {
            continue;
        };
        smp.f = f;
        smp.h = h;
        if drop {
            smp.drop_name = true;
        }
        out.push(smp);
    }
    out
}

/// A series-major vector with per-step scalars `s`, series by series.
fn series_scalar(ev: &mut Evaluator<'_>, b: &BinaryExpr, mut m: Matrix, s: &[f64], swap: bool) -> Matrix {
    let drop = drops_name(b.op, b.return_bool);
    let (start, interval) = (ev.start, ev.interval);
    let filter = b.op.is_comparison() && !b.return_bool;
    for series in &mut m {
        let mut moved_kind = false;
        if filter || !series.histograms.is_empty() {
            // General case: values may be dropped or change kind.
            let mut floats = Vec::with_capacity(series.floats.len());
            let mut hists = Vec::with_capacity(series.histograms.len());
            let points = std::mem::take(&mut series.floats)
                .into_iter()
                .map(|p| (p.t, p.f, None))
                .chain(
                    std::mem::take(&mut series.histograms)
                        .into_iter()
                        .map(|p| (p.t, 0.0, Some(p.h))),
                );
            for (t, f, h) in points {
                let was_h = h.is_some();
                let sv = s[step_index(t, start, interval)];
                match element_scalar(ev, b, f, h, sv, swap) {
                    Some((_, Some(h))) => {
                        moved_kind |= !was_h;
                        hists.push(HPoint { t, h });
                    }
                    Some((f, None)) => {
                        moved_kind |= was_h;
                        floats.push(FPoint { t, f });
                    }
                    None => {}
                }
            }
            if moved_kind {
                floats.sort_by_key(|p| p.t);
                hists.sort_by_key(|p| p.t);
            }
            series.floats = floats;
            series.histograms = hists;
        } else {
            for p in &mut series.floats {
                let sv = s[step_index(p.t, start, interval)];
                let (a, c) = if swap { (sv, p.f) } else { (p.f, sv) };
                p.f = scalar_op(b.op, a, c).0;
            }
        }
        if drop {
            series.drop_name = true;
        }
    }
    m
}

/// The matching signature of a label set: the `on` labels, or all but the `ignoring` labels and the name.
fn signature(labels: &Labels, m: &VectorMatching) -> u64 {
    let mut h = DefaultHasher::new();
    if m.on {
        for name in &m.matching_labels {
            if let Some(v) = labels.get(name) {
                name.hash(&mut h);
                v.hash(&mut h);
            }
        }
    } else {
        for (n, v) in labels.iter() {
            if n == "__name__" || m.matching_labels.iter().any(|x| x == n) {
                continue;
            }
            n.hash(&mut h);
            v.hash(&mut h);
        }
    }
    h.finish()
}

/// The labels a signature is computed over (for error messages).
fn signature_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    labels
        .iter()
        .filter(|(n, _)| {
            if m.on {
                m.matching_labels.iter().any(|x| x == n)
            } else {
                *n != "__name__" && !m.matching_labels.iter().any(|x| x == n)
            }
        })
        .collect()
}

/// A cached result label set with the two input label sets it was made from (held to keep their addresses).
type ResultEntry = (Arc<Labels>, Arc<Labels>, Arc<Labels>);

/// Matching signatures per label set, kept across the steps of one operation (series keep their `Arc` from
/// step to step). Holding the `Arc` keeps its address unique.
#[derive(Default)]
struct SigCache {
    by_ptr: FastMap<usize, (Arc<Labels>, u64)>,
    /// Result labels per (many-side, one-side) pair of label sets.
    results: FastMap<(usize, usize), ResultEntry>,
}

impl SigCache {
    fn result_metric(&mut self, ms: &Sample, os: &Sample, m: &VectorMatching) -> Arc<Labels> {
        let key = (Arc::as_ptr(&ms.metric) as usize, Arc::as_ptr(&os.metric) as usize);
        self.results
            .entry(key)
            .or_insert_with(|| (ms.metric.clone(), os.metric.clone(), result_metric(ms, os, m)))
            .2
            .clone()
    }

    fn sig(&mut self, l: &Arc<Labels>, m: &VectorMatching) -> u64 {
        self.by_ptr
            .entry(Arc::as_ptr(l) as usize)
            .or_insert_with(|| (l.clone(), signature(l, m)))
            .1
    }
}

fn and(lhs: Vector, rhs: &Vector, m: &VectorMatching, c: &mut SigCache) -> Vector {
    let sigs: FastSet<u64> = rhs.iter().map(|s| c.sig(&s.metric, m)).collect();
    lhs.into_iter()
        .filter(|s| sigs.contains(&c.sig(&s.metric, m)))
        .collect()
}

fn unless(lhs: Vector, rhs: &Vector, m: &VectorMatching, c: &mut SigCache) -> Vector {
    let sigs: FastSet<u64> = rhs.iter().map(|s| c.sig(&s.metric, m)).collect();
    lhs.into_iter()
        .filter(|s| !sigs.contains(&c.sig(&s.metric, m)))
        .collect()
}

fn or(mut lhs: Vector, rhs: Vector, m: &VectorMatching, c: &mut SigCache) -> Vector {
    let sigs: FastSet<u64> = lhs.iter().map(|s| c.sig(&s.metric, m)).collect();
    lhs.extend(rhs.into_iter().filter(|s| !sigs.contains(&c.sig(&s.metric, m))));
    lhs
}

/// The result's labels for a matched pair (upstream's `resultMetric`).
fn result_metric(l: &Sample, r: &Sample, m: &VectorMatching) -> Arc<Labels> {
    if m.card != Cardinality::OneToOne && m.include.is_empty() {
        return l.metric.clone();
    }
    let mut labels = (*l.metric).clone();
    if m.card == Cardinality::OneToOne {
        if m.on {
            labels = labels
                .iter()
                .filter(|(n, _)| m.matching_labels.iter().any(|x| x == n))
                .collect();
        } else {
            for n in &m.matching_labels {
                labels.remove(n);
            }
        }
    }
    for n in &m.include {
        match r.metric.get(n) {
            Some(v) => labels.set(n.clone(), v),
            None => {
                labels.remove(n);
            }
        }
    }
    Arc::new(labels)
}

fn dup_error(side: &str, sig: &Labels, a: &Sample, b: &Sample) -> QueryError {
    let (x, y) = if a.metric <= b.metric { (a, b) } else { (b, a) };
    QueryError::Execution(format!(
        "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];\
many-to-many matching not allowed: matching labels must be unique on one side",
        x.metric, y.metric
    ))
}

fn vector_vector(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    m: &VectorMatching,
    lhs: Vector,
    rhs: Vector,
    sigs: &mut SigCache,
) -> Result<Vector, QueryError> {
    // The "one" side is indexed; group_right swaps the roles.
    let swap = m.card == Cardinality::OneToMany;
    let (many, one) = if swap { (rhs, lhs) } else { (lhs, rhs) };
    let mut index: FastMap<u64, usize> = FastMap::with_capacity_and_hasher(one.len(), Default::default());
    for (i, s) in one.iter().enumerate() {
        match index.entry(sigs.sig(&s.metric, m)) {
            Entry::Occupied(e) => {
                let side = if swap { "left" } else { "right" };
                return Err(dup_error(side, &signature_labels(&s.metric, m), &one[*e.get()], s));
            }
            Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    let drop = drops_name(b.op, b.return_bool);
    let mut out = Vec::with_capacity(many.len());
    // For one-to-one: which "one" samples were matched already (and by which left sample).
    let mut matched: FastMap<u64, usize> = FastMap::default();
    let mut out_sigs: FastSet<u64> = FastSet::default();
    let mut used_one = vec![false; one.len()];
    for (mi, ms) in many.iter().enumerate() {
        let sig = sigs.sig(&ms.metric, m);
        let Some(&oi) = index.get(&sig) else {
            continue;
        };
        let os = &one[oi];
        used_one[oi] = true;
        if m.card == Cardinality::OneToOne {
            if matched.contains_key(&sig) {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            matched.insert(sig, mi);
        }
        let (l, r) = if swap { (os, ms) } else { (ms, os) };
        if let Some(s) = combine(ev, b, m, l, r, ms, os, drop, sigs) {
            if m.card != Cardinality::OneToOne {
                let mut h = DefaultHasher::new();
                s.metric.hash(&mut h);
                if !out_sigs.insert(h.finish()) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches".into(),
                    ));
                }
            }
            out.push(s);
        }
    }
    // fill(): pair unmatched series with the fill value.
    // With group_right the sides swap roles, and the fill values go with them (as upstream).
    let (fill_many, fill_one) = (m.fill_left, m.fill_right);
    if let Some(fv) = fill_many {
        for (oi, os) in one.iter().enumerate() {
            if used_one[oi] {
                continue;
            }
            let filler = Sample::float(Arc::new(signature_labels(&os.metric, m)), os.t, fv);
            let (l, r) = if swap { (os, &filler) } else { (&filler, os) };
            if let Some(s) = combine(ev, b, m, l, r, &filler, os, drop, sigs) {
                out.push(s);
            }
        }
    }
    if let Some(fv) = fill_one {
        for ms in &many {
            let sig = sigs.sig(&ms.metric, m);
            if index.contains_key(&sig) {
                continue;
            }
            let filler = Sample::float(Arc::new(signature_labels(&ms.metric, m)), ms.t, fv);
            let (l, r) = if swap { (&filler, ms) } else { (ms, &filler) };
            if let Some(s) = combine(ev, b, m, l, r, ms, &filler, drop, sigs) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Combines a matched pair (`l` op `r`); `ms` is the sample from the "many" side, `os` from the "one" side.
#[allow(clippy::too_many_arguments)]
fn combine(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    m: &VectorMatching,
    l: &Sample,
    r: &Sample,
    ms: &Sample,
    os: &Sample,
    drop: bool,
    cache: &mut SigCache,
) -> Option<Sample> {
    let lo = match &l.h {
        Some(h) => Operand::H(h),
        None => Operand::F(l.f),
    };
    let ro = match &r.h {
        Some(h) => Operand::H(h),
        None => Operand::F(r.f),
    };
    if b.op.is_comparison() && (l.h.is_some() != r.h.is_some()) {
        incompatible(
            ev,
            b,
            if l.h.is_some() { "histogram" } else { "float" },
            if r.h.is_some() { "histogram" } else { "float" },
        );
        return None;
    }
    let (res, keep) = apply(ev, b, lo, ro)?;
    let metric = cache.result_metric(ms, os, m);
    let mut s = Sample {
        metric,
        t: ms.t,
        f: 0.0,
        h: None,
        drop_name: drop || ms.drop_name,
    };
    if b.op.is_comparison() && !b.return_bool {
        if !keep {
            return None;
        }
        // Filtering keeps the left-hand value.
        s.f = l.f;
        s.h = l.h.clone();
    } else {
        match res {
            Outcome::F(f) => s.f = f,
            Outcome::H(h) => s.h = Some(Arc::new(h)),
        }
    }
    Some(s)
}
