//! Query values: scalars, strings, instant vectors (one [`Sample`] per series) and matrices (a window or a range
//! of points per [`Series`]). Label sets are shared (`Arc`) so that carrying a series through many steps does not
//! copy its labels.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;

/// A float point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub f: f64,
}

/// A histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub h: Arc<FloatHistogram>,
}

/// One element of an instant vector.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The series' labels.
    pub metric: Arc<Labels>,
    /// Timestamp (ms): the evaluation time.
    pub t: i64,
    /// The float value (unused when `h` is set).
    pub f: f64,
    /// The histogram value, for histogram samples.
    pub h: Option<Arc<FloatHistogram>>,
    /// `__name__` is to be removed once evaluation is done (3.x delayed name removal).
    pub drop_name: bool,
}

impl Sample {
    /// A float sample.
    pub fn float(metric: Arc<Labels>, t: i64, f: f64) -> Sample {
        Sample {
            metric,
            t,
            f,
            h: None,
            drop_name: false,
        }
    }
}

/// An instant vector.
pub type Vector = Vec<Sample>;

/// A series with points: a range vector's window, or one series of a range query's result.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// The labels.
    pub metric: Arc<Labels>,
    /// Float points in time order.
    pub floats: Vec<FPoint>,
    /// Histogram points in time order.
    pub histograms: Vec<HPoint>,
    /// `__name__` is to be removed once evaluation is done.
    pub drop_name: bool,
}

/// A set of series.
pub type Matrix = Vec<Series>;

/// A query's value.
#[derive(Clone, Debug)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        s: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A matrix.
    Matrix(Matrix),
}

impl Value {
    /// The API's name of the type (`scalar`, `string`, `vector`, `matrix`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float as Prometheus prints sample values (`+Inf`, `-Inf`, `NaN`, shortest round-trip otherwise).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        let s = format!("{v}");
        if s.contains('e') || s.len() < 22 {
            s
        } else {
            format!("{v:e}")
        }
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.h {
            Some(h) => write!(f, "{} {:?} @{}", self.metric, h, self.t),
            None => write!(f, "{} {} @{}", self.metric, format_float(self.f), self.t),
        }
    }
}

/// A fast hasher for keys that are already well distributed or are addresses: `u64` signatures, `usize`
/// pointers and small tuples of them (not for attacker-chosen strings).
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low ones the table indexes with.
        self.0 ^ (self.0 >> 29)
    }
}

/// A map keyed by signatures or addresses.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A set of signatures or addresses.
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;
