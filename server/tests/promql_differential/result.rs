//! Query outcomes of either side in one comparable shape, and the comparison: labels exact, values within a
//! relative tolerance (NaN equals NaN), order only where the query sorts.

use server::promql::engine::{QueryError, QueryResult, Value};

/// Relative tolerance of value comparisons (summation order differs between the engines).
const TOLERANCE: f64 = 1e-9;

/// A float point (timestamp in ms).
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub t: i64,
    pub f: f64,
}

/// A series: sorted labels and points.
#[derive(Debug, Clone)]
pub struct Row {
    pub labels: Vec<(String, String)>,
    pub points: Vec<Point>,
}

/// What a query returned.
#[derive(Debug, Clone)]
pub enum Outcome {
    Scalar(Point),
    String(i64, String),
    Vector(Vec<Row>),
    Matrix(Vec<Row>),
    /// The query failed (the message is informative only: both sides failing is agreement).
    Error(String),
}

impl Outcome {
    /// Our engine's result.
    pub fn from_engine(r: Result<QueryResult, QueryError>) -> Outcome {
        let labels = |l: &server::model::labels::Labels| -> Vec<(String, String)> {
            l.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
        };
        match r {
            Err(e) => Outcome::Error(format!("{}: {e}", e.error_type())),
            Ok(r) => match r.value {
                Value::Scalar { t, v } => Outcome::Scalar(Point { t, f: v }),
                Value::String { t, s } => Outcome::String(t, s),
                Value::Vector(v) => Outcome::Vector(
                    v.iter()
                        .map(|s| Row {
                            labels: labels(&s.metric),
                            points: vec![Point { t: s.t, f: s.f }],
                        })
                        .collect(),
                ),
                Value::Matrix(m) => Outcome::Matrix(
                    m.iter()
                        .map(|s| Row {
                            labels: labels(&s.metric),
                            points: s.floats.iter().map(|p| Point { t: p.t, f: p.f }).collect(),
                        })
                        .collect(),
                ),
            },
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Outcome::Scalar(_) => "scalar",
            Outcome::String(..) => "string",
            Outcome::Vector(_) => "vector",
            Outcome::Matrix(_) => "matrix",
            Outcome::Error(_) => "error",
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs())
}

fn show_labels(l: &[(String, String)]) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn compare_points(labels: &[(String, String)], want: &[Point], got: &[Point]) -> Result<(), String> {
    if want.len() != got.len() {
        let first_extra = got.iter().find(|g| !want.iter().any(|w| w.t == g.t));
        let first_missing = want.iter().find(|w| !got.iter().any(|g| g.t == w.t));
        return Err(format!(
            "{}: {} points expected, {} got (first unexpected {:?}, first missing {:?})",
            show_labels(labels),
            want.len(),
            got.len(),
            first_extra,
            first_missing
        ));
    }
    for (w, g) in want.iter().zip(got) {
        if w.t != g.t || !close(w.f, g.f) {
            return Err(format!(
                "{}: expected {} @ {}, got {} @ {}",
                show_labels(labels),
                w.f,
                w.t,
                g.f,
                g.t
            ));
        }
    }
    Ok(())
}

fn compare_rows(mut want: Vec<Row>, mut got: Vec<Row>, ordered: bool) -> Result<(), String> {
    if !ordered {
        want.sort_by(|a, b| a.labels.cmp(&b.labels));
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    for w in &want {
        if !got.iter().any(|g| g.labels == w.labels) {
            return Err(format!(
                "series {} missing ({} expected, {} got)",
                show_labels(&w.labels),
                want.len(),
                got.len()
            ));
        }
    }
    for g in &got {
        if !want.iter().any(|w| w.labels == g.labels) {
            return Err(format!(
                "unexpected series {} ({} expected, {} got)",
                show_labels(&g.labels),
                want.len(),
                got.len()
            ));
        }
    }
    if want.len() != got.len() {
        return Err(format!(
            "{} series expected, {} got (duplicates)",
            want.len(),
            got.len()
        ));
    }
    for (w, g) in want.iter().zip(&got) {
        if w.labels != g.labels {
            return Err(format!(
                "order differs: expected {} where {} is",
                show_labels(&w.labels),
                show_labels(&g.labels)
            ));
        }
        compare_points(&w.labels, &w.points, &g.points)?;
    }
    Ok(())
}

/// How a query's results are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Series in any order.
    Unordered,
    /// Series in the same order (a top-level sort).
    Ordered,
    /// Only the values at each step (`topk`/`bottomk`, which pick among equal values in an unspecified order).
    ValuesOnly,
}

/// Each step's values, sorted.
fn values_by_step(rows: &[Row]) -> std::collections::BTreeMap<i64, Vec<f64>> {
    let mut out: std::collections::BTreeMap<i64, Vec<f64>> = std::collections::BTreeMap::new();
    for r in rows {
        for p in &r.points {
            out.entry(p.t).or_default().push(p.f);
        }
    }
    for v in out.values_mut() {
        v.sort_by(f64::total_cmp);
    }
    out
}

fn compare_values_only(want: &[Row], got: &[Row]) -> Result<(), String> {
    let (w, g) = (values_by_step(want), values_by_step(got));
    for (t, wv) in &w {
        let gv = g.get(t).map(Vec::as_slice).unwrap_or_default();
        if wv.len() != gv.len() || wv.iter().zip(gv).any(|(a, b)| !close(*a, *b)) {
            return Err(format!("values at {t}: expected {wv:?}, got {gv:?}"));
        }
    }
    if let Some(t) = g.keys().find(|t| !w.contains_key(t)) {
        return Err(format!("unexpected values at {t}: {:?}", g[t]));
    }
    Ok(())
}

/// Compares Prometheus' outcome (`want`) with ours.
pub fn compare(want: Outcome, got: Outcome, order: Order) -> Result<(), String> {
    match (want, got) {
        (Outcome::Vector(w), Outcome::Vector(g)) | (Outcome::Matrix(w), Outcome::Matrix(g))
            if order == Order::ValuesOnly =>
        {
            compare_values_only(&w, &g)
        }
        (Outcome::Error(_), Outcome::Error(_)) => Ok(()),
        (Outcome::Scalar(w), Outcome::Scalar(g)) => compare_points(&[], &[w], &[g]),
        (Outcome::String(wt, w), Outcome::String(gt, g)) if wt == gt && w == g => Ok(()),
        (Outcome::Vector(w), Outcome::Vector(g)) | (Outcome::Matrix(w), Outcome::Matrix(g)) => {
            compare_rows(w, g, order == Order::Ordered)
        }
        (w, g) => Err(format!(
            "expected {} {}, got {} {}",
            w.kind(),
            brief(&w),
            g.kind(),
            brief(&g)
        )),
    }
}

fn brief(o: &Outcome) -> String {
    let s = match o {
        Outcome::Error(e) => e.clone(),
        Outcome::Scalar(p) => format!("{} @ {}", p.f, p.t),
        Outcome::String(t, s) => format!("{s:?} @ {t}"),
        Outcome::Vector(rows) | Outcome::Matrix(rows) => format!("of {} series", rows.len()),
    };
    s.chars().take(200).collect()
}
