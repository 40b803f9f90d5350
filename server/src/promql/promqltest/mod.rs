//! A runner for upstream's PromQL test scripts (`promql/promqltest/testdata/*.test`): [`script`] parses a script,
//! [`run_script`] loads its data into an in-memory storage through the [`Appender`] trait, evaluates every `eval`
//! with the [`Engine`] and checks results and annotations as upstream's runner does (floats compared with a
//! relative tolerance of 1e-6, NaN equal to NaN, order only with `expect ordered`).

pub mod compare;
pub mod script;

use crate::model::labels::Labels;
use crate::promql::ast::Expr;
use crate::promql::engine::{Engine, QueryError, Sample, Value};
use crate::storage::mem::MemStorage;
use crate::storage::{Appendable, Appender};
use std::collections::HashSet;

pub use script::{Command, Eval, EvalTime, Expected, MessageMatch, Point, ScriptError, SeriesDesc, parse_script};

/// Which part of the corpus an eval exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Float samples only.
    Float,
    /// Touches native histograms.
    NativeHistogram,
    /// Uses experimental functions or syntax.
    Experimental,
}

impl Category {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Float => "float",
            Category::NativeHistogram => "native histogram",
            Category::Experimental => "experimental",
        }
    }
}

/// The result of one `eval`.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// 1-based line of the eval.
    pub line: usize,
    /// The query.
    pub query: String,
    /// Its category.
    pub category: Category,
    /// `Err` says what differed.
    pub result: Result<(), String>,
}

/// Runs every command of a script; returns one outcome per `eval`.
/// Queries are parsed with the syntax the engine's options enable (upstream runs the scripts with every
/// experimental feature on).
pub fn run_script(text: &str, engine: &Engine) -> Result<Vec<Outcome>, ScriptError> {
    let commands = parse_script(text)?;
    let storage = MemStorage::new();
    let mut hist_names: HashSet<String> = HashSet::new();
    let mut outcomes = Vec::new();
    for cmd in commands {
        match cmd {
            Command::Clear => {
                storage.clear();
                hist_names.clear();
            }
            Command::Load {
                line,
                interval,
                series,
                with_nhcb,
            } => {
                // A later description of the same series replaces an earlier one (as upstream's map of them).
                let mut series = dedupe(series);
                if with_nhcb {
                    series.extend(classic_to_nhcb(&series));
                }
                let mut app = storage.appender();
                for s in &series {
                    if let Err(e) = load_series(&mut *app, s, interval, &mut hist_names) {
                        outcomes.push(Outcome {
                            line,
                            query: String::new(),
                            category: Category::Float,
                            result: Err(format!("load failed: {e}")),
                        });
                    }
                }
                if let Err(e) = app.commit() {
                    outcomes.push(Outcome {
                        line,
                        query: String::new(),
                        category: Category::Float,
                        result: Err(format!("commit failed: {e}")),
                    });
                }
            }
            Command::Eval(eval) => {
                let parsed = engine.parse(&eval.query);
                let category = categorize(&eval, parsed.as_ref().ok(), &hist_names);
                let result = run_eval(&eval, parsed, &storage, engine);
                outcomes.push(Outcome {
                    line: eval.line,
                    query: eval.query.clone(),
                    category,
                    result,
                });
            }
        }
    }
    Ok(outcomes)
}

fn dedupe(series: Vec<SeriesDesc>) -> Vec<SeriesDesc> {
    let mut out: Vec<SeriesDesc> = Vec::with_capacity(series.len());
    // Start timestamps cannot be stored through the Appender (it has no start-timestamp field): those lines are
    // dropped and the runner's caller lists the affected evals as out of scope.
    for s in series.into_iter().filter(|s| !s.start_timestamps) {
        match out.iter_mut().find(|o| o.labels == s.labels) {
            Some(o) => *o = s,
            None => out.push(s),
        }
    }
    out
}

/// For `load_with_nhcb`: native histograms with custom buckets built from classic `_bucket`/`_sum` series.
fn classic_to_nhcb(series: &[SeriesDesc]) -> Vec<SeriesDesc> {
    use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram};
    // (base name, other labels) -> (le, values) and the sum series.
    let mut groups: Vec<(Labels, Vec<(f64, &SeriesDesc)>)> = Vec::new();
    for s in series {
        let Some(name) = s.labels.metric_name() else { continue };
        let Some(base) = name.strip_suffix("_bucket") else {
            continue;
        };
        let Some(le) = s.labels.get("le").and_then(|v| script::parse_float(v.trim())) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        key.set("__name__", base);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, b)) => b.push((le, s)),
            None => groups.push((key, vec![(le, s)])),
        }
    }
    let mut out = Vec::new();
    for (key, mut buckets) in groups {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let base = key.metric_name().unwrap_or("").to_string();
        let mut sum_labels = key.clone();
        sum_labels.set("__name__", format!("{base}_sum"));
        let sum_series = series.iter().find(|s| s.labels == sum_labels);
        let n = buckets.iter().map(|(_, s)| s.values.len()).max().unwrap_or(0);
        let bounds: Vec<f64> = buckets.iter().map(|(le, _)| *le).filter(|le| le.is_finite()).collect();
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let mut counts = Vec::with_capacity(buckets.len());
            let mut ok = true;
            for (_, s) in &buckets {
                match s.values.get(i) {
                    Some(Some(Point::Float(f))) if !crate::model::value::is_stale_nan(*f) => counts.push(*f),
                    _ => ok = false,
                }
            }
            if !ok {
                values.push(None);
                continue;
            }
            let sum = match sum_series.and_then(|s| s.values.get(i)) {
                Some(Some(Point::Float(f))) => *f,
                _ => 0.0,
            };
            let mut prev = 0.0;
            let deltas: Vec<(i32, f64)> = counts
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let d = c - prev;
                    prev = *c;
                    (j as i32, d)
                })
                .collect();
            let (spans, bucket_counts) = crate::promql::engine::histogram::compress(deltas);
            values.push(Some(Point::Histogram(Box::new(FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count: counts.last().copied().unwrap_or(0.0),
                sum,
                positive_spans: spans,
                positive_buckets: bucket_counts,
                custom_values: bounds.clone(),
                ..FloatHistogram::default()
            }))));
        }
        out.push(SeriesDesc {
            labels: key,
            start_timestamps: false,
            values,
        });
    }
    out
}

/// The counter-reset hints the TSDB reports for histogram samples read back: the first sample of a chunk carries
/// the chunk's hint (unknown, a detected counter reset, or gauge), later ones "not a counter reset". Chunks are
/// cut at counter resets and where the series switches between gauges, counters and floats.
fn storage_hints(values: &[Option<Point>]) -> Vec<Option<Point>> {
    use crate::model::histogram::CounterResetHint as H;
    use crate::promql::engine::histogram::HistogramOps;
    let mut out = Vec::with_capacity(values.len());
    let mut prev: Option<crate::model::histogram::FloatHistogram> = None;
    for v in values {
        match v {
            Some(Point::Histogram(h)) => {
                let mut h2 = (**h).clone();
                let gauge = h.counter_reset_hint == H::Gauge;
                h2.counter_reset_hint = match &prev {
                    _ if gauge => H::Gauge,
                    None => H::Unknown,
                    Some(p) if p.counter_reset_hint == H::Gauge => H::Unknown,
                    Some(p) => {
                        // A chunk cut at a counter reset reads back with an unknown hint (upstream issue 15346).
                        if h.counter_reset_hint == H::CounterReset
                            || (h.counter_reset_hint == H::Unknown && h.detect_reset(p))
                        {
                            H::Unknown
                        } else {
                            H::NotCounterReset
                        }
                    }
                };
                prev = Some((**h).clone());
                out.push(Some(Point::Histogram(Box::new(h2))));
            }
            Some(Point::Float(f)) => {
                prev = None;
                out.push(Some(Point::Float(*f)));
            }
            None => out.push(None),
        }
    }
    out
}

fn load_series(
    app: &mut dyn Appender,
    s: &SeriesDesc,
    interval: i64,
    hist_names: &mut HashSet<String>,
) -> Result<(), String> {
    let mut r = 0;
    let values = storage_hints(&s.values);
    for (i, v) in values.iter().enumerate() {
        let t = i as i64 * interval;
        match v {
            None => {}
            Some(Point::Float(f)) => {
                r = app.append(r, &s.labels, t, *f).map_err(|e| e.to_string())?;
            }
            Some(Point::Histogram(h)) => {
                if let Some(n) = s.labels.metric_name() {
                    hist_names.insert(n.to_string());
                }
                r = app
                    .append_float_histogram(r, &s.labels, t, h)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

fn categorize(eval: &Eval, expr: Option<&Expr>, hist_names: &HashSet<String>) -> Category {
    let Some(expr) = expr else {
        return Category::Float;
    };
    let mut experimental = false;
    let mut histogram = false;
    expr.walk(&mut |e| match e {
        Expr::Call(c) => {
            experimental |= c.func.experimental;
            histogram |= c.func.name.starts_with("histogram_") && c.func.name != "histogram_quantile";
        }
        Expr::Aggregate(a) => experimental |= a.op.is_experimental(),
        Expr::Binary(b) => {
            experimental |= b
                .matching
                .as_ref()
                .is_some_and(|m| m.fill_left.is_some() || m.fill_right.is_some());
        }
        Expr::VectorSelector(vs) => {
            experimental |= vs.anchored || vs.smoothed;
            experimental |= vs.offset.as_ref().is_some_and(|d| d.fixed().is_none());
            histogram |= vs.name.as_ref().is_some_and(|n| hist_names.contains(n));
        }
        Expr::MatrixSelector(ms) => {
            experimental |= ms.vs.anchored || ms.vs.smoothed || ms.range.fixed().is_none();
            experimental |= ms.vs.offset.as_ref().is_some_and(|d| d.fixed().is_none());
            histogram |= ms.vs.name.as_ref().is_some_and(|n| hist_names.contains(n));
        }
        Expr::Subquery(sq) => {
            experimental |= sq.range.fixed().is_none() || sq.step.as_ref().is_some_and(|d| d.fixed().is_none());
        }
        Expr::Duration(_) => experimental = true,
        _ => {}
    });
    let expected_hist = match &eval.expected {
        Expected::Series(s) | Expected::RangeVector { series: s, .. } => s
            .iter()
            .any(|d| d.values.iter().any(|v| matches!(v, Some(Point::Histogram(_))))),
        _ => false,
    };
    if experimental {
        Category::Experimental
    } else if histogram || expected_hist {
        Category::NativeHistogram
    } else {
        Category::Float
    }
}

fn message_matches(m: &MessageMatch, text: &str) -> bool {
    match m {
        MessageMatch::Any => true,
        MessageMatch::Exact(s) => text == s || text.ends_with(&format!(": {s}")),
        MessageMatch::Regex(r) => regex::Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

fn run_eval(
    eval: &Eval,
    parsed: Result<Expr, QueryError>,
    storage: &MemStorage,
    engine: &Engine,
) -> Result<(), String> {
    let result = parsed.and_then(|expr| match eval.time {
        EvalTime::Instant(t) => engine.instant_query(storage, &eval.query, &expr, t),
        EvalTime::Range { start, end, step } => engine.range_query(storage, &eval.query, &expr, start, end, step),
    });
    let res = match (result, &eval.fail) {
        (Err(e), Some(m)) => {
            let msg = e.to_string();
            return if message_matches(m, &msg) {
                Ok(())
            } else {
                Err(format!("error {msg:?} does not match the expected {m:?}"))
            };
        }
        (Err(e), None) => return Err(format!("unexpected error: {e}")),
        (Ok(_), Some(m)) => return Err(format!("expected an error ({m:?}), the query succeeded")),
        (Ok(r), None) => r,
    };
    check_annotations("warn", &eval.warn, eval.no_warn, res.annotations.warnings().collect())?;
    check_annotations("info", &eval.info, eval.no_info, res.annotations.infos().collect())?;
    compare::compare(eval, &res.value)?;
    // As upstream: an instant query must give the same result as the middle step of a range query around it
    // (unless it depends on the query's own start, end, step or range).
    let query_dependent = ["step()", "range()", "start()", "end()"]
        .iter()
        .any(|f| eval.query.contains(f));
    if let (EvalTime::Instant(t), Value::Vector(_) | Value::Scalar { .. }) = (eval.time, &res.value)
        && !eval.ordered
        && !query_dependent
        && let Ok(expr) = engine.parse(&eval.query)
    {
        let range = engine
            .range_query(storage, &eval.query, &expr, t - 60_000, t + 60_000, 60_000)
            .map_err(|e| format!("the same query as a range query failed: {e}"))?;
        let Value::Matrix(m) = range.value else {
            return Err("the same query as a range query gave no matrix".into());
        };
        let mut vec = Vec::new();
        for s in m {
            if let Some(p) = s.floats.iter().find(|p| p.t == t) {
                vec.push(Sample::float(s.metric.clone(), t, p.f));
            } else if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
                let mut smp = Sample::float(s.metric.clone(), t, 0.0);
                smp.h = Some(p.h.clone());
                vec.push(smp);
            }
        }
        let value = match res.value {
            Value::Scalar { .. } => Value::Scalar {
                t,
                v: vec.first().map_or(f64::NAN, |s| s.f),
            },
            _ => Value::Vector(vec),
        };
        compare::compare(eval, &value).map_err(|e| format!("as a range query: {e}"))?;
    }
    Ok(())
}

fn check_annotations(kind: &str, expects: &[MessageMatch], none: bool, got: Vec<&str>) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got {got:?}"));
    }
    for e in expects {
        if !got.iter().any(|g| message_matches(e, g)) {
            return Err(format!("expected a {kind} annotation matching {e:?}, got {got:?}"));
        }
    }
    if expects.iter().any(|e| !matches!(e, MessageMatch::Any)) {
        for g in &got {
            if !expects.iter().any(|e| message_matches(e, g)) {
                return Err(format!("unexpected {kind} annotation {g:?}"));
            }
        }
    }
    Ok(())
}
