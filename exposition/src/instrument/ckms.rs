//! A targeted-quantile streaming estimator after Cormode, Korn, Muthukrishnan and Srivastava ("Effective
//! Computation of Biased Quantiles over Data Streams", ICDE 2005), with two corrections.
//!
//! The stream keeps a sorted list of samples `(value, g, delta)`: the sum of `g` up to and including a sample is
//! the lowest rank its value can have (`rmin`), `rmin + delta` the highest. For targets `(q, e)` the allowed
//! spread `g + delta` at rank `r` of `n` is the minimum over targets of `2·e'·r/q` when `r ≥ q·n` and
//! `2·e'·(n−r)/(1−q)` otherwise. Merging neighbours while that holds keeps few samples near the targets and very
//! few elsewhere.
//!
//! Corrections to the paper:
//! - A new value's `delta` is `g + delta − 1` of the sample it is inserted before: the exact uncertainty of the gap
//!   it falls into. The paper's `f(r, n) − 1` lets a run of values inserted in front of old samples (descending
//!   input) carry huge spreads that are never compressed away, inflating both memory and the error.
//! - The paper's query bound only holds where the allowed spread is no wider than at the target rank itself, but
//!   just below (or above) a target it is wider. The invariant therefore uses a slightly smaller error
//!   `e' = e / (1 + e / min(q, 1 − q))`, for which the spread within `e·n` of the target rank is at most `2·e·n`;
//!   a query for `q` then returns a value whose rank is within `e·n` of `⌈q·n⌉`.
//!
//! Values are inserted in sorted batches ([`Ckms::insert_sorted`]): one merge pass, then one compress pass.

use std::sync::Arc;

/// A target with the error the invariant uses.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Target {
    q: f64,
    e: f64,
}

/// One kept sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    value: f64,
    g: f64,
    delta: f64,
}

/// A quantile stream for a fixed set of targets.
#[derive(Debug, Clone)]
pub(crate) struct Ckms {
    targets: Arc<[Target]>,
    samples: Vec<Sample>,
    n: f64,
}

impl Ckms {
    /// An empty stream for targets `(quantile, allowed rank error)`.
    pub(crate) fn new(targets: &[(f64, f64)]) -> Ckms {
        let targets = targets
            .iter()
            .map(|&(q, e)| {
                let below = if q < 1.0 { e / (1.0 - q) } else { 0.0 };
                let above = if q > 0.0 { e / q } else { 0.0 };
                Target {
                    q,
                    e: e / (1.0 + below.max(above)),
                }
            })
            .collect();
        Ckms {
            targets,
            samples: Vec::new(),
            n: 0.0,
        }
    }

    /// The number of values inserted since the last reset.
    #[cfg(test)]
    pub(crate) fn count(&self) -> f64 {
        self.n
    }

    /// The number of samples kept.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.samples.len()
    }

    /// Forgets everything.
    pub(crate) fn reset(&mut self) {
        self.samples.clear();
        self.n = 0.0;
    }

    /// The allowed spread `g + delta` at rank `r` with `n` values seen.
    fn allowed(&self, r: f64, n: f64) -> f64 {
        let mut m = f64::MAX;
        for &Target { q, e } in self.targets.iter() {
            let f = if q * n <= r {
                2.0 * e * r / q
            } else {
                2.0 * e * (n - r) / (1.0 - q)
            };
            // A zero error at quantile 0 or 1 gives 0/0: read it as "exact".
            m = m.min(if f.is_nan() { 0.0 } else { f });
        }
        m
    }

    /// Inserts values that are sorted ascending and contain no NaN.
    pub(crate) fn insert_sorted(&mut self, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        let old = std::mem::take(&mut self.samples);
        let mut merged = Vec::with_capacity(old.len() + values.len());
        let mut old = old.into_iter().peekable();
        for &v in values {
            while let Some(s) = old.next_if(|s| s.value <= v) {
                merged.push(s);
            }
            // A new minimum or maximum has an exact rank; otherwise the value inherits the uncertainty of the
            // gap before the next kept sample.
            let delta = match old.peek() {
                Some(next) if !merged.is_empty() => (next.g + next.delta - 1.0).max(0.0),
                _ => 0.0,
            };
            merged.push(Sample {
                value: v,
                g: 1.0,
                delta,
            });
            self.n += 1.0;
        }
        merged.extend(old);
        self.samples = merged;
        self.compress();
    }

    /// Merges neighbours whose combined spread stays within the bound; keeps the minimum and maximum.
    fn compress(&mut self) {
        if self.samples.len() < 3 {
            return;
        }
        let mut rest = std::mem::take(&mut self.samples);
        let first = rest[0];
        let mut x = rest.pop().unwrap_or(first);
        let mut r = self.n - x.g;
        let mut kept_rev = Vec::with_capacity(rest.len() + 1);
        // The last sample (the maximum) stays a sample of its own: it absorbs nothing.
        kept_rev.push(x);
        let mut absorbing = false;
        while rest.len() > 1 {
            let Some(c) = rest.pop() else { break };
            r -= c.g;
            if absorbing && c.g + x.g + x.delta <= self.allowed(r, self.n) {
                x.g += c.g;
            } else {
                if absorbing {
                    kept_rev.push(x);
                }
                x = c;
                absorbing = true;
            }
        }
        if absorbing {
            kept_rev.push(x);
        }
        kept_rev.push(first);
        kept_rev.reverse();
        self.samples = kept_rev;
    }

    /// The estimated value at quantile `q` of a target with allowed rank error `e`; NaN when the stream is empty.
    pub(crate) fn query(&self, q: f64, e: f64) -> f64 {
        let Some(last) = self.samples.last() else {
            return f64::NAN;
        };
        let t = (q * self.n).ceil() + e * self.n;
        let mut r = 0.0;
        for pair in self.samples.windows(2) {
            r += pair[0].g;
            if r + pair[1].g + pair[1].delta > t {
                return pair[0].value;
            }
        }
        last.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// A deterministic permutation of 1..=n (an LCG-driven Fisher-Yates shuffle).
    fn shuffled(n: usize, seed: u64) -> Vec<f64> {
        let mut v: Vec<f64> = (1..=n).map(|i| i as f64).collect();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = ((s >> 33) % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }

    fn feed(stream: &mut Ckms, values: &[f64], batch: usize) {
        for chunk in values.chunks(batch) {
            let mut c = chunk.to_vec();
            c.sort_by(f64::total_cmp);
            stream.insert_sorted(&c);
        }
    }

    #[test]
    fn ranks_stay_within_the_allowed_error() {
        let targets = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];
        let n = 100_000;
        let orders: [(&str, Vec<f64>); 3] = [
            ("shuffled", shuffled(n, 7)),
            ("ascending", (1..=n).map(|i| i as f64).collect()),
            ("descending", (1..=n).rev().map(|i| i as f64).collect()),
        ];
        for (name, values) in orders {
            for batch in [1, 500] {
                let mut s = Ckms::new(&targets);
                feed(&mut s, &values, batch);
                assert_eq!(s.count(), n as f64);
                assert!(s.kept() < n / 10, "{name}/{batch}: kept {} samples", s.kept());
                for (q, e) in targets {
                    // Values are 1..=n, so a value is its own rank.
                    let got = s.query(q, e);
                    let err = (got - q * n as f64).abs();
                    assert!(
                        err <= e * n as f64 + 1.0,
                        "{name}/{batch}: q={q} got {got}, rank error {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn small_streams_are_exact_and_empty_is_nan() {
        let mut s = Ckms::new(&[(0.5, 0.05), (0.0, 0.0), (1.0, 0.0)]);
        assert!(s.query(0.5, 0.05).is_nan());
        s.insert_sorted(&[3.0, 5.0, 7.0]);
        assert_eq!(
            (s.query(0.0, 0.0), s.query(0.5, 0.05), s.query(1.0, 0.0)),
            (3.0, 5.0, 7.0)
        );
        s.reset();
        assert!(s.query(0.5, 0.05).is_nan());
        assert_eq!(s.count(), 0.0);
    }
}
