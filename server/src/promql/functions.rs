//! The PromQL function table: every function's name, argument types, return type, how many optional
//! arguments it takes, and whether it sits behind `--enable-feature=promql-experimental-functions`.
//!
//! The one place functions are listed for parsing; the engine keeps its own table of implementations keyed by
//! the same names, and a test checks the two agree.

use super::ast::ValueType;

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

/// One function's signature.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionDef {
    /// The name as written.
    pub name: &'static str,
    /// The argument types; with `variadic != 0` the last one is optional (and repeats when `variadic < 0`).
    pub arg_types: &'static [ValueType],
    /// 0: exactly `arg_types.len()` arguments. `n > 0`: the last `arg_types` entry may be omitted and up to `n`
    /// of it given. `-1`: the last entry may be omitted or repeated without limit.
    pub variadic: i32,
    /// What the call evaluates to.
    pub return_type: ValueType,
    /// Only with `--enable-feature=promql-experimental-functions`.
    pub experimental: bool,
}

impl FunctionDef {
    /// The fewest arguments accepted.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 {
            self.arg_types.len()
        } else {
            self.arg_types.len().saturating_sub(1)
        }
    }

    /// The most arguments accepted (`None`: unbounded).
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.arg_types.len()),
            n if n > 0 => Some(self.arg_types.len() - 1 + n as usize),
            _ => None,
        }
    }

    /// The expected type of argument `i` (0-based), given the count is within bounds.
    pub fn arg_type(&self, i: usize) -> ValueType {
        self.arg_types[i.min(self.arg_types.len() - 1)]
    }
}

const fn f(name: &'static str, arg_types: &'static [ValueType], return_type: ValueType) -> FunctionDef {
    FunctionDef {
        name,
        arg_types,
        variadic: 0,
        return_type,
        experimental: false,
    }
}

const fn var(name: &'static str, arg_types: &'static [ValueType], variadic: i32, ret: ValueType) -> FunctionDef {
    FunctionDef {
        name,
        arg_types,
        variadic,
        return_type: ret,
        experimental: false,
    }
}

const fn exp(def: FunctionDef) -> FunctionDef {
    FunctionDef {
        experimental: true,
        ..def
    }
}

/// All functions, sorted by name.
pub static FUNCTIONS: &[FunctionDef] = &[
    f("abs", &[V], V),
    f("absent", &[V], V),
    f("absent_over_time", &[M], V),
    f("acos", &[V], V),
    f("acosh", &[V], V),
    f("asin", &[V], V),
    f("asinh", &[V], V),
    f("atan", &[V], V),
    f("atanh", &[V], V),
    f("avg_over_time", &[M], V),
    f("ceil", &[V], V),
    f("changes", &[M], V),
    f("clamp", &[V, S, S], V),
    f("clamp_max", &[V, S], V),
    f("clamp_min", &[V, S], V),
    f("cos", &[V], V),
    f("cosh", &[V], V),
    f("count_over_time", &[M], V),
    var("day_of_month", &[V], 1, V),
    var("day_of_week", &[V], 1, V),
    var("day_of_year", &[V], 1, V),
    var("days_in_month", &[V], 1, V),
    f("deg", &[V], V),
    f("delta", &[M], V),
    f("deriv", &[M], V),
    exp(f("double_exponential_smoothing", &[M, S, S], V)),
    f("exp", &[V], V),
    exp(f("first_over_time", &[M], V)),
    f("floor", &[V], V),
    f("histogram_avg", &[V], V),
    f("histogram_count", &[V], V),
    f("histogram_fraction", &[S, S, V], V),
    f("histogram_quantile", &[S, V], V),
    exp(var("histogram_quantiles", &[V, Str, S, S], -1, V)),
    f("histogram_stddev", &[V], V),
    f("histogram_stdvar", &[V], V),
    f("histogram_sum", &[V], V),
    var("hour", &[V], 1, V),
    f("idelta", &[M], V),
    f("increase", &[M], V),
    exp(var("info", &[V, V], 1, V)),
    f("irate", &[M], V),
    var("label_join", &[V, Str, Str, Str], -1, V),
    f("label_replace", &[V, Str, Str, Str, Str], V),
    f("last_over_time", &[M], V),
    f("ln", &[V], V),
    f("log10", &[V], V),
    f("log2", &[V], V),
    exp(f("mad_over_time", &[M], V)),
    f("max_over_time", &[M], V),
    f("min_over_time", &[M], V),
    var("minute", &[V], 1, V),
    var("month", &[V], 1, V),
    f("pi", &[], S),
    f("predict_linear", &[M, S], V),
    f("present_over_time", &[M], V),
    f("quantile_over_time", &[S, M], V),
    f("rad", &[V], V),
    f("rate", &[M], V),
    f("resets", &[M], V),
    var("round", &[V, S], 1, V),
    f("scalar", &[V], S),
    f("sgn", &[V], V),
    f("sin", &[V], V),
    f("sinh", &[V], V),
    f("sort", &[V], V),
    exp(var("sort_by_label", &[V, Str], -1, V)),
    exp(var("sort_by_label_desc", &[V, Str], -1, V)),
    f("sort_desc", &[V], V),
    f("sqrt", &[V], V),
    exp(f("start_timestamp", &[V], V)),
    f("stddev_over_time", &[M], V),
    f("stdvar_over_time", &[M], V),
    f("sum_over_time", &[M], V),
    f("tan", &[V], V),
    f("tanh", &[V], V),
    f("time", &[], S),
    f("timestamp", &[V], V),
    exp(f("ts_of_first_over_time", &[M], V)),
    exp(f("ts_of_last_over_time", &[M], V)),
    exp(f("ts_of_max_over_time", &[M], V)),
    exp(f("ts_of_min_over_time", &[M], V)),
    f("vector", &[S], V),
    var("year", &[V], 1, V),
];

/// The function called `name` (case-sensitive, as upstream).
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

/// Functions whose range-vector argument may carry the `anchored` modifier.
pub const ANCHORED_FUNCTIONS: &[&str] = &["changes", "delta", "increase", "rate", "resets"];

/// Functions whose range-vector argument may carry the `smoothed` modifier.
pub const SMOOTHED_FUNCTIONS: &[&str] = &["delta", "increase", "rate"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn lookup_and_arity() {
        let cases: &[(&str, usize, Option<usize>)] = &[
            ("rate", 1, Some(1)),
            ("round", 1, Some(2)),
            ("time", 0, Some(0)),
            ("hour", 0, Some(1)),
            ("label_join", 3, None),
            ("sort_by_label", 1, None),
            ("info", 1, Some(2)),
            ("clamp", 3, Some(3)),
        ];
        for &(name, min, max) in cases {
            let def = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((def.min_args(), def.max_args()), (min, max), "{name}");
        }
        assert!(lookup("nope").is_none());
        assert!(lookup("RATE").is_none());
        assert_eq!(lookup("label_join").map(|d| d.arg_type(7)), Some(ValueType::String));
    }
}
