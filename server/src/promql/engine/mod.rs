//! The PromQL evaluation engine: instant and range queries over any [`Queryable`], with Prometheus 3.x semantics
//! (5m lookback by default, left-open range windows `(t - range, t]`, delayed `__name__` removal, staleness
//! markers), annotations (warnings and infos with upstream's messages) and the query limits of
//! `--query.max-samples`, `--query.timeout` and `--query.max-concurrency`.
//!
//! Every expression is evaluated for all steps of the query at once. Instant-vector expressions yield one vector
//! per step ([`eval`]) or, where the expression allows, one series per input series ([`stream`]: selectors,
//! range functions, element-wise operations and the simple aggregations work series by series); binary
//! operators ([`binop`]), aggregations ([`aggregate`]) and functions ([`functions`]) that need a step's whole
//! vector work step by step, and range-vector arguments are windows over series loaded once for the whole
//! query.

pub mod aggregate;
pub mod binop;
pub mod eval;
pub mod extended;
pub mod functions;
pub mod histogram;
pub mod kahan;
pub mod stream;
pub mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::promql::ast::{Expr, PosRange};
use crate::storage::{Queryable, StorageError};

pub use value::{FPoint, HPoint, Matrix, Sample, Series, Value, Vector};

/// Engine settings (the `--query.*` flags and feature flags).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample (`--query.lookback-delta`, default 5m).
    pub lookback_delta: Duration,
    /// Most samples a query may hold in memory at once (`--query.max-samples`, default 50,000,000).
    pub max_samples: usize,
    /// Longest a query may run (`--query.timeout`, default 2m).
    pub timeout: Duration,
    /// Most queries evaluated at the same time (`--query.max-concurrency`, default 20); others wait.
    pub max_concurrency: usize,
    /// Allow experimental functions and aggregations (`--enable-feature=promql-experimental-functions`).
    pub enable_experimental_functions: bool,
    /// Allow duration expressions (`--enable-feature=promql-duration-expr`).
    pub enable_duration_expressions: bool,
    /// Allow the `anchored` and `smoothed` modifiers (`--enable-feature=promql-extended-range-selectors`).
    pub enable_extended_range_selectors: bool,
    /// Allow `fill()` on binary operators (`--enable-feature=promql-binop-fill-modifiers`).
    pub enable_binop_fill_modifiers: bool,
    /// Resolution of subqueries without a step (the global evaluation interval, default 1m).
    pub default_subquery_step: Duration,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_concurrency: 20,
            enable_experimental_functions: false,
            enable_duration_expressions: false,
            enable_extended_range_selectors: false,
            enable_binop_fill_modifiers: false,
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// Why a query failed; the variants map onto the HTTP API's `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text does not parse or type-check (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (`execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran longer than `--query.timeout` (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled (`canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The query would hold more than `--query.max-samples` samples (`execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Reading from storage failed (`internal`).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl QueryError {
    /// The HTTP API's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// A warning or an info about a query's result, as upstream words them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Annotation {
    /// `PromQL warning: ...`: the result may be wrong or incomplete.
    Warning(String),
    /// `PromQL info: ...`: the result may not be what was meant.
    Info(String),
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Annotation::Warning(m) | Annotation::Info(m) => f.write_str(m),
        }
    }
}

/// The annotations of one query, without duplicates, in the order first raised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    items: Vec<Annotation>,
}

impl Annotations {
    /// Adds one unless already present.
    pub fn add(&mut self, a: Annotation) {
        if !self.items.contains(&a) {
            self.items.push(a);
        }
    }

    /// All of them.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.items.iter()
    }

    /// The warnings' messages.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|a| match a {
            Annotation::Warning(m) => Some(m.as_str()),
            Annotation::Info(_) => None,
        })
    }

    /// The infos' messages.
    pub fn infos(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|a| match a {
            Annotation::Info(m) => Some(m.as_str()),
            Annotation::Warning(_) => None,
        })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Counters about one query's evaluation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples read from storage.
    pub total_queryable_samples: u64,
    /// The most samples held at once.
    pub peak_samples: usize,
}

/// A query's result with its annotations.
#[derive(Clone, Debug)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos.
    pub annotations: Annotations,
    /// Evaluation statistics.
    pub stats: QueryStats,
}

/// The `(line:column)` suffix upstream appends to annotations, for the byte offset `pos.start` in `query`.
pub fn position_suffix(query: &str, pos: PosRange) -> String {
    let before = query.get(..pos.start.min(query.len())).unwrap_or(query);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("({line}:{col})")
}

/// A counting semaphore bounding concurrent queries.
#[derive(Debug)]
struct Gate {
    slots: Mutex<usize>,
    freed: Condvar,
}

struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.0.slots.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.0.freed.notify_one();
    }
}

impl Gate {
    fn enter(&self, deadline: Instant) -> Result<GateGuard<'_>, QueryError> {
        let mut n = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        while *n == 0 {
            let now = Instant::now();
            if now >= deadline {
                return Err(QueryError::Timeout("queue"));
            }
            let (g, _) = self
                .freed
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner());
            n = g;
        }
        *n -= 1;
        Ok(GateGuard(self))
    }
}

/// The engine: options plus the concurrency gate; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Engine {
    opts: Arc<EngineOptions>,
    gate: Arc<Gate>,
}

impl Engine {
    /// An engine with these options.
    pub fn new(opts: EngineOptions) -> Engine {
        let slots = opts.max_concurrency.max(1);
        Engine {
            opts: Arc::new(opts),
            gate: Arc::new(Gate {
                slots: Mutex::new(slots),
                freed: Condvar::new(),
            }),
        }
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// The parser options these engine options imply.
    pub fn parse_options(&self) -> crate::promql::ParseOptions {
        crate::promql::ParseOptions {
            experimental_functions: self.opts.enable_experimental_functions,
            duration_expressions: self.opts.enable_duration_expressions,
            extended_range_selectors: self.opts.enable_extended_range_selectors,
            binop_fill_modifiers: self.opts.enable_binop_fill_modifiers,
        }
    }

    /// Parses `query` with the syntax these options enable; errors are `bad_data`.
    pub fn parse(&self, query: &str) -> Result<Expr, QueryError> {
        crate::promql::parse_with(query, &self.parse_options()).map_err(|e| QueryError::BadData(e.to_string()))
    }

    /// Parses and evaluates `query` at time `t` (ms).
    pub fn query_instant(&self, queryable: &dyn Queryable, query: &str, t: i64) -> Result<QueryResult, QueryError> {
        let expr = self.parse(query)?;
        self.instant_query(queryable, query, &expr, t)
    }

    /// Parses and evaluates `query` at every `step` (ms) from `start` to `end`.
    pub fn query_range(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = self.parse(query)?;
        self.range_query(queryable, query, &expr, start, end, step)
    }

    /// Evaluates `expr` (parsed from `query`, used for annotation positions) at time `t` (ms).
    pub fn instant_query(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        t: i64,
    ) -> Result<QueryResult, QueryError> {
        self.run(queryable, query, expr, t, t, 0)
    }

    /// Evaluates `expr` at every `step` (ms) from `start` to `end` inclusive.
    pub fn range_query(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        if step <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        // Every step holds at least one value; refuse ranges that could never fit the sample limit.
        if ((end - start) / step).saturating_add(1) as u64 > self.opts.max_samples as u64 {
            return Err(QueryError::TooManySamples("query execution"));
        }
        self.run(queryable, query, expr, start, end, step)
    }

    /// As [`Engine::instant_query`], stopping with [`QueryError::Canceled`] once `cancel` is set.
    pub fn instant_query_cancellable(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        t: i64,
        cancel: &AtomicBool,
    ) -> Result<QueryResult, QueryError> {
        self.run_with(queryable, query, expr, (t, t, 0), Some(cancel))
    }

    /// As [`Engine::range_query`], stopping with [`QueryError::Canceled`] once `cancel` is set.
    #[allow(clippy::too_many_arguments)]
    pub fn range_query_cancellable(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: &AtomicBool,
    ) -> Result<QueryResult, QueryError> {
        if step <= 0 || end < start {
            return self.range_query(queryable, query, expr, start, end, step);
        }
        self.run_with(queryable, query, expr, (start, end, step), Some(cancel))
    }

    fn run(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        self.run_with(queryable, query, expr, (start, end, step), None)
    }

    fn run_with(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        expr: &Expr,
        (start, end, step): (i64, i64, i64),
        cancel: Option<&AtomicBool>,
    ) -> Result<QueryResult, QueryError> {
        let deadline = Instant::now() + self.opts.timeout;
        let _slot = self.gate.enter(deadline)?;
        let limits = eval::Limits { deadline, cancel };
        eval::evaluate(&self.opts, queryable, query, expr, start, end, step, limits)
    }
}
