//! Arithmetic on float native histograms as PromQL needs it: scaling, adding and subtracting across schemas
//! (lowering to the coarser schema), zero-bucket widening, custom-bucket reconciliation, counter-reset detection,
//! and the bucket walks behind `histogram_quantile`, `histogram_fraction` and `histogram_stddev`.

use std::collections::BTreeMap;

use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};

/// Why two histograms cannot be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// One has exponential buckets, the other custom buckets.
    #[error("vector contains a mix of histograms with exponential and custom buckets schemas{0}")]
    MixedSchemas(String),
}

/// Expands spans and counts into `(index, count)` pairs.
pub fn expand(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut k = 0;
    for s in spans {
        idx += s.offset;
        for _ in 0..s.length {
            if let Some(c) = counts.get(k) {
                out.push((idx, *c));
            }
            k += 1;
            idx += 1;
        }
    }
    out
}

/// Builds spans and counts from `(index, count)` pairs sorted by index; zero counts are kept.
pub fn compress(pairs: impl IntoIterator<Item = (i32, f64)>) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next = 0i32;
    for (idx, c) in pairs {
        if !spans.is_empty() && idx == next {
            if let Some(last) = spans.last_mut() {
                last.length += 1;
            }
        } else {
            let offset = if spans.is_empty() { idx } else { idx - next };
            spans.push(Span { offset, length: 1 });
        }
        counts.push(c);
        next = idx + 1;
    }
    (spans, counts)
}

/// The index a bucket of `from` schema falls into at the coarser `to` schema.
fn target_idx(idx: i32, from: i32, to: i32) -> i32 {
    ((idx - 1) >> (from - to).clamp(0, 31)) + 1
}

/// Upper bound of bucket `idx` in an exponential schema.
pub fn upper_bound(idx: i32, schema: i32) -> f64 {
    if !(-4..=8).contains(&schema) {
        // Outside the schemas Prometheus defines: the plain formula, without exact powers of two.
        return (idx as f64 * (-(schema as f64)).exp2()).exp2();
    }
    if schema < 0 {
        let exp = (idx as i64) << (-schema);
        if exp > 1024 {
            return f64::INFINITY;
        }
        return 2f64.powi(exp as i32);
    }
    let frac_idx = idx & ((1 << schema) - 1);
    let frac = 2f64.powf(frac_idx as f64 / (1i64 << schema) as f64) / 2.0;
    let exp = (idx >> schema) + 1;
    if frac_idx == 0 && exp > 1024 {
        return f64::INFINITY;
    }
    frac * 2f64.powi(exp)
}

/// One bucket of a histogram, as iterated for quantiles and fractions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Observations in it.
    pub count: f64,
    /// Whether the lower bound is inclusive (negative buckets and the zero bucket's lower end).
    pub lower_inclusive: bool,
    /// Whether the upper bound is inclusive (positive buckets).
    pub upper_inclusive: bool,
    /// Bucket index (for exponential schemas).
    pub index: i32,
}

/// Operations on [`FloatHistogram`] the engine needs.
pub trait HistogramOps {
    /// Multiplies count, sum and every bucket by `f`.
    fn scale(&mut self, f: f64);
    /// A scaled copy.
    fn scaled(&self, f: f64) -> FloatHistogram;
    /// Adds `other`; returns whether custom bucket bounds had to be reconciled.
    fn add_hist(&mut self, other: &FloatHistogram) -> Result<bool, HistogramError>;
    /// Subtracts `other`; returns whether custom bucket bounds had to be reconciled.
    fn sub_hist(&mut self, other: &FloatHistogram) -> Result<bool, HistogramError>;
    /// Same values (buckets compared by index, empty buckets ignored).
    fn equals(&self, other: &FloatHistogram) -> bool;
    /// Whether `self` (the later sample) shows a counter reset relative to `prev`.
    fn detect_reset(&self, prev: &FloatHistogram) -> bool;
    /// Lowers the resolution to `schema` (a coarser exponential schema).
    fn reduce_resolution(&mut self, schema: i32);
    /// Removes empty buckets and merges spans.
    fn compact(&mut self);
    /// All buckets in ascending order of their bounds (negative, zero, positive).
    fn buckets(&self) -> Vec<Bucket>;
    /// Whether it uses custom bucket bounds.
    fn uses_custom_buckets(&self) -> bool;
}

fn is_custom(schema: i32) -> bool {
    schema == CUSTOM_BUCKETS_SCHEMA
}

impl HistogramOps for FloatHistogram {
    fn scale(&mut self, f: f64) {
        self.count *= f;
        self.sum *= f;
        self.zero_count *= f;
        self.positive_buckets.iter_mut().for_each(|b| *b *= f);
        self.negative_buckets.iter_mut().for_each(|b| *b *= f);
    }

    fn scaled(&self, f: f64) -> FloatHistogram {
        let mut h = self.clone();
        h.scale(f);
        h
    }

    fn add_hist(&mut self, other: &FloatHistogram) -> Result<bool, HistogramError> {
        combine(self, other, 1.0)
    }

    fn sub_hist(&mut self, other: &FloatHistogram) -> Result<bool, HistogramError> {
        let r = combine(self, other, -1.0)?;
        // A difference is a gauge, whatever its inputs were.
        self.counter_reset_hint = CounterResetHint::Gauge;
        Ok(r)
    }

    fn equals(&self, other: &FloatHistogram) -> bool {
        let same_f = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        if self.schema != other.schema
            || !same_f(self.zero_threshold, other.zero_threshold)
            || !same_f(self.zero_count, other.zero_count)
            || !same_f(self.count, other.count)
            || !same_f(self.sum, other.sum)
            || self.custom_values != other.custom_values
        {
            return false;
        }
        let nz = |v: Vec<(i32, f64)>| v.into_iter().filter(|(_, c)| *c != 0.0).collect::<Vec<_>>();
        nz(expand(&self.positive_spans, &self.positive_buckets))
            == nz(expand(&other.positive_spans, &other.positive_buckets))
            && nz(expand(&self.negative_spans, &self.negative_buckets))
                == nz(expand(&other.negative_spans, &other.negative_buckets))
    }

    fn detect_reset(&self, prev: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            CounterResetHint::Gauge => return false,
            CounterResetHint::Unknown => {}
        }
        if self.count < prev.count {
            return true;
        }
        if is_custom(self.schema) != is_custom(prev.schema) {
            return true;
        }
        if is_custom(self.schema) {
            if self.custom_values != prev.custom_values {
                // Compare on the bounds both share.
                let common: Vec<f64> = self
                    .custom_values
                    .iter()
                    .copied()
                    .filter(|v| prev.custom_values.contains(v))
                    .collect();
                let (cs, cb) = rebucket_custom(self, &common);
                let (ps, pb) = rebucket_custom(prev, &common);
                let cur: BTreeMap<i32, f64> = expand(&cs, &cb).into_iter().collect();
                return expand(&ps, &pb)
                    .into_iter()
                    .any(|(i, v)| v > 0.0 && cur.get(&i).copied().unwrap_or(0.0) < v);
            }
        } else if self.schema > prev.schema {
            return true;
        }
        if self.zero_count < prev.zero_count || self.zero_threshold != prev.zero_threshold {
            return self.zero_count < prev.zero_count || self.zero_threshold < prev.zero_threshold;
        }
        let mut cur = self.clone();
        if !is_custom(self.schema) && cur.schema > prev.schema {
            cur.reduce_resolution(prev.schema);
        }
        let mut p = prev.clone();
        if !is_custom(self.schema) && p.schema > cur.schema {
            p.reduce_resolution(cur.schema);
        }
        let bucket_drop = |cs: &[Span], cb: &[f64], ps: &[Span], pb: &[f64]| {
            let c: BTreeMap<i32, f64> = expand(cs, cb).into_iter().collect();
            expand(ps, pb)
                .into_iter()
                .any(|(i, v)| v > 0.0 && c.get(&i).copied().unwrap_or(0.0) < v)
        };
        bucket_drop(
            &cur.positive_spans,
            &cur.positive_buckets,
            &p.positive_spans,
            &p.positive_buckets,
        ) || bucket_drop(
            &cur.negative_spans,
            &cur.negative_buckets,
            &p.negative_spans,
            &p.negative_buckets,
        )
    }

    fn reduce_resolution(&mut self, schema: i32) {
        if is_custom(self.schema) || schema >= self.schema {
            return;
        }
        let from = self.schema;
        let reduce = |spans: &[Span], counts: &[f64]| {
            let mut m: BTreeMap<i32, f64> = BTreeMap::new();
            for (i, c) in expand(spans, counts) {
                *m.entry(target_idx(i, from, schema)).or_default() += c;
            }
            compress(m)
        };
        (self.positive_spans, self.positive_buckets) = reduce(&self.positive_spans, &self.positive_buckets);
        (self.negative_spans, self.negative_buckets) = reduce(&self.negative_spans, &self.negative_buckets);
        self.schema = schema;
    }

    fn compact(&mut self) {
        let nz =
            |spans: &[Span], counts: &[f64]| compress(expand(spans, counts).into_iter().filter(|(_, c)| *c != 0.0));
        (self.positive_spans, self.positive_buckets) = nz(&self.positive_spans, &self.positive_buckets);
        (self.negative_spans, self.negative_buckets) = nz(&self.negative_spans, &self.negative_buckets);
    }

    fn buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        if is_custom(self.schema) {
            for (i, c) in expand(&self.positive_spans, &self.positive_buckets) {
                let iu = i as usize;
                let upper = self.custom_values.get(iu).copied().unwrap_or(f64::INFINITY);
                let lower = if iu == 0 {
                    f64::NEG_INFINITY
                } else {
                    self.custom_values.get(iu - 1).copied().unwrap_or(f64::INFINITY)
                };
                out.push(Bucket {
                    lower,
                    upper,
                    count: c,
                    lower_inclusive: false,
                    upper_inclusive: true,
                    index: i,
                });
            }
            return out;
        }
        for (i, c) in expand(&self.negative_spans, &self.negative_buckets).into_iter().rev() {
            out.push(Bucket {
                lower: -upper_bound(i, self.schema),
                upper: -upper_bound(i - 1, self.schema),
                count: c,
                lower_inclusive: true,
                upper_inclusive: false,
                index: i,
            });
        }
        if self.zero_count > 0.0 || self.zero_threshold > 0.0 {
            out.push(Bucket {
                lower: -self.zero_threshold,
                upper: self.zero_threshold,
                count: self.zero_count,
                lower_inclusive: true,
                upper_inclusive: true,
                index: 0,
            });
        }
        for (i, c) in expand(&self.positive_spans, &self.positive_buckets) {
            out.push(Bucket {
                lower: upper_bound(i - 1, self.schema),
                upper: upper_bound(i, self.schema),
                count: c,
                lower_inclusive: false,
                upper_inclusive: true,
                index: i,
            });
        }
        out
    }

    fn uses_custom_buckets(&self) -> bool {
        is_custom(self.schema)
    }
}

/// Widens `h`'s zero bucket to `threshold`, folding the buckets it now covers into the zero count. Returns the
/// threshold actually used (widened further if a bucket straddles it).
fn widen_zero(h: &mut FloatHistogram, threshold: f64) -> f64 {
    if threshold <= h.zero_threshold {
        return h.zero_threshold;
    }
    let mut th = threshold;
    let schema = h.schema;
    let fold = |spans: &[Span], counts: &[f64], zc: &mut f64, th: &mut f64| {
        let mut keep = Vec::new();
        for (i, c) in expand(spans, counts) {
            let lower = upper_bound(i - 1, schema);
            if lower < *th {
                *zc += c;
                let ub = upper_bound(i, schema);
                if ub > *th {
                    *th = ub;
                }
            } else {
                keep.push((i, c));
            }
        }
        compress(keep)
    };
    let mut zc = h.zero_count;
    let (ps, pb) = fold(&h.positive_spans, &h.positive_buckets, &mut zc, &mut th);
    let (ns, nb) = fold(&h.negative_spans, &h.negative_buckets, &mut zc, &mut th);
    h.positive_spans = ps;
    h.positive_buckets = pb;
    h.negative_spans = ns;
    h.negative_buckets = nb;
    h.zero_count = zc;
    h.zero_threshold = th;
    th
}

/// Rebuckets a custom-bucket histogram onto `bounds` (a subset of its own bounds).
fn rebucket_custom(h: &FloatHistogram, bounds: &[f64]) -> (Vec<Span>, Vec<f64>) {
    let mut m: BTreeMap<i32, f64> = BTreeMap::new();
    for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
        let ub = h.custom_values.get(i as usize).copied().unwrap_or(f64::INFINITY);
        let ni = bounds.partition_point(|b| *b < ub) as i32;
        *m.entry(ni).or_default() += c;
    }
    compress(m)
}

/// The counter-reset hint of a sum or difference (upstream's rules); `true` when a counter reset and a "not a
/// counter reset" collided.
pub fn merge_hint(a: CounterResetHint, b: CounterResetHint) -> (CounterResetHint, bool) {
    use CounterResetHint::*;
    match (a, b) {
        _ if a == b => (a, false),
        (Gauge, _) | (_, Gauge) => (Gauge, false),
        (Unknown, _) | (_, Unknown) => (Unknown, false),
        _ => (Unknown, true),
    }
}

fn combine(a: &mut FloatHistogram, b: &FloatHistogram, sign: f64) -> Result<bool, HistogramError> {
    let mut reconciled = false;
    a.counter_reset_hint = merge_hint(a.counter_reset_hint, b.counter_reset_hint).0;
    match (is_custom(a.schema), is_custom(b.schema)) {
        (true, true) => {
            let mut b_spans = b.positive_spans.clone();
            let mut b_buckets = b.positive_buckets.clone();
            if a.custom_values != b.custom_values {
                reconciled = true;
                let common: Vec<f64> = a
                    .custom_values
                    .iter()
                    .copied()
                    .filter(|v| b.custom_values.contains(v))
                    .collect();
                (a.positive_spans, a.positive_buckets) = rebucket_custom(a, &common);
                (b_spans, b_buckets) = rebucket_custom(b, &common);
                a.custom_values = common;
            }
            let mut m: BTreeMap<i32, f64> = expand(&a.positive_spans, &a.positive_buckets).into_iter().collect();
            for (i, c) in expand(&b_spans, &b_buckets) {
                *m.entry(i).or_default() += sign * c;
            }
            (a.positive_spans, a.positive_buckets) = compress(m);
        }
        (false, false) => {
            let mut b = b.clone();
            let schema = a.schema.min(b.schema);
            a.reduce_resolution(schema);
            b.reduce_resolution(schema);
            if a.zero_threshold != b.zero_threshold {
                let th = a.zero_threshold.max(b.zero_threshold);
                let th = widen_zero(a, th);
                let th = widen_zero(&mut b, th);
                widen_zero(a, th);
            }
            a.zero_count += sign * b.zero_count;
            let merge = |sa: &[Span], ba: &[f64], sb: &[Span], bb: &[f64]| {
                let mut m: BTreeMap<i32, f64> = expand(sa, ba).into_iter().collect();
                for (i, c) in expand(sb, bb) {
                    *m.entry(i).or_default() += sign * c;
                }
                compress(m)
            };
            (a.positive_spans, a.positive_buckets) = merge(
                &a.positive_spans,
                &a.positive_buckets,
                &b.positive_spans,
                &b.positive_buckets,
            );
            (a.negative_spans, a.negative_buckets) = merge(
                &a.negative_spans,
                &a.negative_buckets,
                &b.negative_spans,
                &b.negative_buckets,
            );
        }
        _ => return Err(HistogramError::MixedSchemas(String::new())),
    }
    a.count += sign * b.count;
    a.sum += sign * b.sum;
    Ok(reconciled)
}

/// A compensated value: the running sum and its Kahan compensation.
type Comp = (f64, f64);

fn kadd(v: &mut Comp, inc: f64) {
    let (s, c) = super::kahan::sum_inc(inc, v.0, v.1);
    *v = (s, c);
}

/// A running, compensated sum of histograms (upstream's `KahanAdd`): every field and bucket keeps its own Kahan
/// compensation. Tracks custom-bucket reconciliation and counter-reset hint collisions for annotations.
#[derive(Clone, Debug, Default)]
pub struct HistogramSum {
    schema: i32,
    zero_threshold: f64,
    custom_values: Vec<f64>,
    hint: CounterResetHint,
    count: Comp,
    sum: Comp,
    zero: Comp,
    pos: BTreeMap<i32, Comp>,
    neg: BTreeMap<i32, Comp>,
    /// Custom bucket bounds had to be reconciled.
    pub reconciled: bool,
    /// A counter reset and a "not a counter reset" hint met.
    pub collision: bool,
    seen_reset: bool,
    seen_not_reset: bool,
}

impl HistogramSum {
    /// Starts with `h`.
    pub fn new(h: &FloatHistogram) -> HistogramSum {
        HistogramSum {
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            custom_values: h.custom_values.clone(),
            hint: h.counter_reset_hint,
            count: (h.count, 0.0),
            sum: (h.sum, 0.0),
            zero: (h.zero_count, 0.0),
            pos: expand(&h.positive_spans, &h.positive_buckets)
                .into_iter()
                .map(|(i, c)| (i, (c, 0.0)))
                .collect(),
            neg: expand(&h.negative_spans, &h.negative_buckets)
                .into_iter()
                .map(|(i, c)| (i, (c, 0.0)))
                .collect(),
            reconciled: false,
            collision: false,
            seen_reset: h.counter_reset_hint == CounterResetHint::CounterReset,
            seen_not_reset: h.counter_reset_hint == CounterResetHint::NotCounterReset,
        }
    }

    /// The current value.
    pub fn value(&self) -> FloatHistogram {
        let (ps, pb) = compress(self.pos.iter().map(|(i, c)| (*i, c.0 + c.1)));
        let (ns, nb) = compress(self.neg.iter().map(|(i, c)| (*i, c.0 + c.1)));
        FloatHistogram {
            counter_reset_hint: self.hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero.0 + self.zero.1,
            count: self.count.0 + self.count.1,
            sum: self.sum.0 + self.sum.1,
            positive_spans: ps,
            positive_buckets: pb,
            negative_spans: ns,
            negative_buckets: nb,
            custom_values: self.custom_values.clone(),
        }
    }

    /// Adds `h` scaled by `factor`.
    pub fn add(&mut self, h: &FloatHistogram, factor: f64) -> Result<(), HistogramError> {
        if is_custom(self.schema) != is_custom(h.schema) {
            return Err(HistogramError::MixedSchemas(String::new()));
        }
        let (hint, _) = merge_hint(self.hint, h.counter_reset_hint);
        self.hint = hint;
        self.seen_reset |= h.counter_reset_hint == CounterResetHint::CounterReset;
        self.seen_not_reset |= h.counter_reset_hint == CounterResetHint::NotCounterReset;
        self.collision |= self.seen_reset && self.seen_not_reset;
        let mut h = std::borrow::Cow::Borrowed(h);
        if is_custom(self.schema) {
            if self.custom_values != h.custom_values {
                self.reconciled = true;
                let common: Vec<f64> = self
                    .custom_values
                    .iter()
                    .copied()
                    .filter(|v| h.custom_values.contains(v))
                    .collect();
                let mut cur = self.value();
                (cur.positive_spans, cur.positive_buckets) = rebucket_custom(&cur, &common);
                cur.custom_values = common.clone();
                let mut other = h.into_owned();
                (other.positive_spans, other.positive_buckets) = rebucket_custom(&other, &common);
                other.custom_values = common;
                self.reset_to(&cur);
                h = std::borrow::Cow::Owned(other);
            }
        } else {
            if h.schema < self.schema {
                let mut cur = self.value();
                cur.reduce_resolution(h.schema);
                self.reset_to(&cur);
            } else if h.schema > self.schema {
                let mut other = h.into_owned();
                other.reduce_resolution(self.schema);
                h = std::borrow::Cow::Owned(other);
            }
            if h.zero_threshold != self.zero_threshold {
                let mut cur = self.value();
                let mut other = h.into_owned();
                let th = cur.zero_threshold.max(other.zero_threshold);
                let th = widen_zero(&mut cur, th);
                let th = widen_zero(&mut other, th);
                widen_zero(&mut cur, th);
                self.reset_to(&cur);
                h = std::borrow::Cow::Owned(other);
            }
        }
        kadd(&mut self.count, h.count * factor);
        kadd(&mut self.sum, h.sum * factor);
        kadd(&mut self.zero, h.zero_count * factor);
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            kadd(self.pos.entry(i).or_default(), c * factor);
        }
        for (i, c) in expand(&h.negative_spans, &h.negative_buckets) {
            kadd(self.neg.entry(i).or_default(), c * factor);
        }
        Ok(())
    }

    /// Multiplies every field and its compensation by `f`.
    pub fn scale_all(&mut self, f: f64) {
        for v in [&mut self.count, &mut self.sum, &mut self.zero] {
            *v = (v.0 * f, v.1 * f);
        }
        for v in self.pos.values_mut().chain(self.neg.values_mut()) {
            *v = (v.0 * f, v.1 * f);
        }
    }

    fn reset_to(&mut self, h: &FloatHistogram) {
        let keep = (
            self.reconciled,
            self.collision,
            self.hint,
            self.seen_reset,
            self.seen_not_reset,
        );
        *self = HistogramSum::new(h);
        (
            self.reconciled,
            self.collision,
            self.hint,
            self.seen_reset,
            self.seen_not_reset,
        ) = keep;
    }
}

/// A running mean of histograms. It keeps a compensated sum and, alongside, an incremental mean; each field of
/// the result comes from the sum divided by the count unless that overflowed, in which case the incremental mean
/// provides it (so fields that never overflow keep the precision of compensated summation).
#[derive(Clone, Debug, Default)]
pub struct HistogramMean {
    sum: Option<HistogramSum>,
    mean: Option<HistogramSum>,
    n: f64,
}

impl HistogramMean {
    /// Adds one histogram.
    pub fn add(&mut self, h: &FloatHistogram) -> Result<(), HistogramError> {
        self.n += 1.0;
        let n = self.n;
        match (&mut self.sum, &mut self.mean) {
            (Some(sum), Some(mean)) => {
                sum.add(h, 1.0)?;
                mean.scale_all((n - 1.0) / n);
                mean.add(h, 1.0 / n)?;
            }
            _ => {
                self.sum = Some(HistogramSum::new(h));
                self.mean = Some(HistogramSum::new(h));
            }
        }
        Ok(())
    }

    /// The mean so far.
    pub fn value(&self) -> Option<FloatHistogram> {
        let (sum, mean) = (self.sum.as_ref()?, self.mean.as_ref()?);
        let mut out = sum.value().scaled(1.0 / self.n);
        let m = mean.value();
        let pick = |a: f64, b: f64| if a.is_finite() || !b.is_finite() { a } else { b };
        out.count = pick(out.count, m.count);
        out.sum = pick(out.sum, m.sum);
        out.zero_count = pick(out.zero_count, m.zero_count);
        let pick_buckets = |spans: &[Span], counts: &[f64], ms: &[Span], mc: &[f64]| {
            let alt: BTreeMap<i32, f64> = expand(ms, mc).into_iter().collect();
            compress(
                expand(spans, counts)
                    .into_iter()
                    .map(|(i, c)| (i, pick(c, alt.get(&i).copied().unwrap_or(c)))),
            )
        };
        (out.positive_spans, out.positive_buckets) = pick_buckets(
            &out.positive_spans,
            &out.positive_buckets,
            &m.positive_spans,
            &m.positive_buckets,
        );
        (out.negative_spans, out.negative_buckets) = pick_buckets(
            &out.negative_spans,
            &out.negative_buckets,
            &m.negative_spans,
            &m.negative_buckets,
        );
        Some(out)
    }

    /// Whether custom buckets were reconciled, and whether counter-reset hints collided.
    pub fn flags(&self) -> (bool, bool) {
        self.sum
            .as_ref()
            .map_or((false, false), |s| (s.reconciled, s.collision))
    }
}

/// How a bucket's values spread over its range when part of it is cut off.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spread {
    /// Exponential bucket: logarithmic interpolation, geometric midpoint.
    Exponential,
    /// Zero bucket or custom bucket: linear interpolation, arithmetic midpoint.
    Linear,
}

/// The trim operators: `h </ v` (`keep_below`) keeps the observations below `v`, `h >/ v` those above, with
/// interpolation inside the bucket `v` falls in. The sum is re-estimated from bucket midpoints when anything was
/// cut; a histogram nothing was cut from is returned unchanged.
pub fn trim(h: &FloatHistogram, v: f64, keep_below: bool) -> FloatHistogram {
    let custom = h.uses_custom_buckets();
    // (lower, upper, count, spread, which: 0 negative / 1 zero / 2 positive, index)
    let mut parts: Vec<(f64, f64, f64, Spread, u8, i32)> = Vec::new();
    for b in h.buckets() {
        let zero = !custom
            && b.lower <= 0.0
            && b.upper >= 0.0
            && b.lower != b.upper
            && b.index == 0
            && b.lower_inclusive
            && b.upper_inclusive;
        let (mut lo, mut up) = (b.lower, b.upper);
        let which = if zero {
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                lo = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                up = 0.0;
            }
            1
        } else if b.upper <= 0.0 && !custom {
            0
        } else {
            2
        };
        // A first custom bucket with a positive bound spans [0, bound] (as in quantiles), except that trimming
        // it from below at a negative value drops it.
        let first_positive = custom && lo == f64::NEG_INFINITY && up > 0.0 && up != f64::INFINITY;
        if first_positive {
            if !keep_below && v < 0.0 {
                parts.push((lo, lo, b.count, Spread::Linear, 2, b.index));
                continue;
            }
            lo = 0.0;
        }
        let spread = if custom || zero {
            Spread::Linear
        } else {
            Spread::Exponential
        };
        parts.push((lo, up, b.count, spread, which, b.index));
    }
    let mut changed = false;
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(parts.len()); // (count, midpoint)
    for &(lo, up, c, spread, _, _) in &parts {
        let (frac, a, b) = if keep_below {
            if up <= v {
                (1.0, lo, up)
            } else if up == f64::INFINITY || lo >= v {
                (0.0, lo, lo)
            } else if lo == f64::NEG_INFINITY {
                (1.0, lo, v)
            } else {
                (interp(lo, up, v, spread), lo, v)
            }
        } else if lo >= v {
            (1.0, lo, up)
        } else if lo == f64::NEG_INFINITY || up <= v {
            (0.0, up, up)
        } else if up == f64::INFINITY {
            (1.0, v, up)
        } else {
            (1.0 - interp(lo, up, v, spread), v, up)
        };
        if frac != 1.0 && c != 0.0 {
            changed = true;
        }
        let mid = if a == f64::NEG_INFINITY {
            b
        } else if b == f64::INFINITY {
            a
        } else if spread == Spread::Exponential {
            let m = (a.abs() * b.abs()).sqrt();
            if b <= 0.0 { -m } else { m }
        } else {
            (a + b) / 2.0
        };
        kept.push((c * frac, mid));
    }
    if !changed {
        return h.clone();
    }
    let mut out = FloatHistogram {
        counter_reset_hint: h.counter_reset_hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        ..FloatHistogram::default()
    };
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let (mut count, mut sum) = (0.0, 0.0);
    for (&(_, _, _, _, which, idx), &(c, mid)) in parts.iter().zip(&kept) {
        count += c;
        if c != 0.0 {
            sum += c * mid;
        }
        match which {
            0 => neg.push((idx, c)),
            1 => out.zero_count = c,
            _ => pos.push((idx, c)),
        }
    }
    neg.sort_by_key(|(i, _)| *i);
    (out.positive_spans, out.positive_buckets) = compress(pos);
    (out.negative_spans, out.negative_buckets) = compress(neg);
    out.count = count;
    out.sum = sum;
    out
}

/// The fraction of a bucket `(lo, up]` below `v`.
fn interp(lo: f64, up: f64, v: f64, spread: Spread) -> f64 {
    match spread {
        Spread::Linear => (v - lo) / (up - lo),
        Spread::Exponential => {
            let (ll, lu, lv) = (lo.abs().log2(), up.abs().log2(), v.abs().log2());
            if up > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - (lv - lu) / (ll - lu)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            positive_spans: vec![Span {
                offset: 0,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn bounds_and_resolution() {
        assert_eq!(upper_bound(1, 0), 2.0);
        assert_eq!(upper_bound(0, 0), 1.0);
        assert_eq!(upper_bound(2, 1), 2.0);
        assert_eq!(upper_bound(1, -1), 4.0);
        let mut a = h(1, &[1.0, 2.0, 3.0]);
        a.reduce_resolution(0);
        assert_eq!(expand(&a.positive_spans, &a.positive_buckets), vec![(0, 1.0), (1, 5.0)]);
    }

    #[test]
    fn add_and_reset() {
        let mut a = h(0, &[1.0, 2.0]);
        a.add_hist(&h(1, &[1.0, 1.0, 1.0])).unwrap();
        assert_eq!(expand(&a.positive_spans, &a.positive_buckets), vec![(0, 2.0), (1, 4.0)]);
        assert!(h(0, &[1.0]).detect_reset(&h(0, &[2.0])));
        assert!(!h(0, &[2.0]).detect_reset(&h(0, &[1.0])));
        let mut c = h(CUSTOM_BUCKETS_SCHEMA, &[1.0]);
        assert!(c.add_hist(&a).is_err());
    }
}
