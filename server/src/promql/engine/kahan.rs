//! Compensated (Kahan-Babuška/Neumaier) summation, as upstream uses for `sum`, `avg`, `*_over_time` and linear
//! regression so that results do not depend on the order of many small and large terms.

/// Adds `inc` to `sum` with compensation `c`; returns the new sum and compensation. Once the sum is infinite the
/// compensation is dropped (it would turn into NaN).
#[inline]
pub fn sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A running compensated sum.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KahanSum {
    sum: f64,
    c: f64,
}

impl KahanSum {
    /// Adds one term.
    #[inline]
    pub fn add(&mut self, v: f64) {
        (self.sum, self.c) = sum_inc(v, self.sum, self.c);
    }

    /// The sum with the compensation applied.
    #[inline]
    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// A running mean that stays finite where a plain sum would overflow: it sums with compensation while the sum is
/// finite and switches to an incremental mean once it is not.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KahanMean {
    sum: f64,
    c: f64,
    count: f64,
    incremental: bool,
    mean: f64,
    mean_c: f64,
}

impl KahanMean {
    /// Adds one value.
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.sum = v;
            self.c = 0.0;
            return;
        }
        if !self.incremental {
            let (s, c) = sum_inc(v, self.sum, self.c);
            if !s.is_infinite() {
                self.sum = s;
                self.c = c;
                return;
            }
            // Overflow: continue as an incremental mean of what was summed so far.
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.mean_c = self.c / (self.count - 1.0);
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let current = self.mean + self.mean_c;
        (self.mean, self.mean_c) = sum_inc(v / self.count - current / self.count, self.mean, self.mean_c);
    }

    /// The mean (NaN with no values).
    pub fn value(&self) -> f64 {
        if self.count == 0.0 {
            return f64::NAN;
        }
        if self.incremental {
            self.mean + self.mean_c
        } else if self.count == 1.0 {
            self.sum
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensates_small_terms() {
        let mut k = KahanSum::default();
        for v in [1e100, 1.0, -1e100] {
            k.add(v);
        }
        assert_eq!(k.value(), 1.0);
        let mut m = KahanMean::default();
        for v in [f64::MAX, f64::MAX, f64::MAX] {
            m.add(v);
        }
        assert_eq!(m.value(), f64::MAX);
        let mut m = KahanMean::default();
        for v in [1.0, 2.0, 3.0, 4.0] {
            m.add(v);
        }
        assert_eq!(m.value(), 2.5);
    }
}
