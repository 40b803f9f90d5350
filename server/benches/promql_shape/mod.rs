//! The data shape of upstream's PromQL range-query benchmark (`promql/bench_test.go`), shared by the criterion
//! bench (`benches/promql_engine.rs`) and the OpenMetrics generator (`examples/promql_bench_data.rs`) that
//! `bench/promql.sh` loads into both servers.
//!
//! Metrics `a_X`, `b_X` (gauges) and `h_X` (ten `le` buckets `0`..`9` plus `+Inf`, without a `_bucket`
//! suffix) for X in one (no `l` label), ten and hundred (`l="0"`..): 1,443 series. Sample `s` of series `i`
//! sits at `s * 10s` with value `s + i / 1443`; upstream writes a day plus 10,000 steps (18,640 samples per
//! series, about 51.8 hours).

/// Scrape interval (ms).
pub const INTERVAL_MS: i64 = 10_000;
/// Samples per series upstream writes: a day of 10s steps plus 10,000.
pub const INTERVALS: usize = 8640 + 10_000;

/// The series in upstream's order (the value depends on the position): each as (name, labels).
pub fn series() -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let hist = |out: &mut Vec<(String, Vec<(String, String)>)>, name: &str, l: Option<usize>| {
        for j in (0..10)
            .map(|j| j.to_string())
            .chain(std::iter::once("+Inf".to_string()))
        {
            let mut labels: Vec<(String, String)> = l.map(|l| ("l".to_string(), l.to_string())).into_iter().collect();
            labels.push(("le".to_string(), j));
            out.push((name.to_string(), labels));
        }
    };
    out.push(("a_one".to_string(), Vec::new()));
    out.push(("b_one".to_string(), Vec::new()));
    hist(&mut out, "h_one", None);
    for (size, n) in [("ten", 10), ("hundred", 100)] {
        for i in 0..n {
            let l = vec![("l".to_string(), i.to_string())];
            out.push((format!("a_{size}"), l.clone()));
            out.push((format!("b_{size}"), l));
            hist(&mut out, &format!("h_{size}"), Some(i));
        }
    }
    out
}

/// Sample `s` of series `i` out of `n`.
pub fn value(s: usize, i: usize, n: usize) -> f64 {
    s as f64 + i as f64 / n as f64
}

/// One benchmark case: the expression and the number of 10s steps of its range query (ending at the last
/// sample).
#[derive(Debug, Clone)]
pub struct Case {
    pub expr: String,
    pub steps: usize,
}

/// Upstream's expressions; `X` stands for one, ten and hundred, and a case without steps runs with 1, 10, 100
/// and 1000 steps.
const EXPRS: &[(&str, usize)] = &[
    ("a_X", 0),
    ("rate(a_X[1m])", 0),
    ("rate(a_X[1m])", 10_000),
    ("changes(a_X[1d])", 0),
    ("rate(a_X[1d])", 0),
    ("absent_over_time(a_X[1d])", 0),
    ("-a_X", 0),
    ("a_X - b_X", 0),
    ("a_X - b_X", 10_000),
    ("a_X and b_X{l=~'.*[0-4]$'}", 0),
    ("a_X or b_X{l=~'.*[0-4]$'}", 0),
    ("a_X unless b_X{l=~'.*[0-4]$'}", 0),
    ("a_X and b_X{l='notfound'}", 0),
    ("abs(a_X)", 0),
    ("label_replace(a_X, 'l2', '$1', 'l', '(.*)')", 0),
    ("label_join(a_X, 'l2', '-', 'l', 'l')", 0),
    ("sum(a_X)", 0),
    ("sum without (l)(h_X)", 0),
    ("sum without (le)(h_X)", 0),
    ("sum by (l)(h_X)", 0),
    ("sum by (le)(h_X)", 0),
    ("count_values('value', h_X)", 0),
    ("topk(1, a_X)", 0),
    ("topk(5, a_X)", 0),
    ("rate(a_X[1m]) + rate(b_X[1m])", 0),
    ("sum without (l)(rate(a_X[1m]))", 0),
    ("sum without (l)(rate(a_X[1m])) / sum without (l)(rate(b_X[1m]))", 0),
    ("histogram_quantile(0.9, rate(h_X[5m]))", 0),
    ("a_X + on(l) group_right a_one", 0),
    ("count({__name__!=\"\"})", 1),
    ("count({__name__!=\"\",l=\"\"})", 1),
    ("timestamp(a_X)", 0),
];

/// Every case, expanded as upstream expands them; `step_counts` limits the default step counts (upstream: 1, 10,
/// 100, 1000).
pub fn cases(step_counts: &[usize]) -> Vec<Case> {
    let mut out = Vec::new();
    for (expr, steps) in EXPRS {
        let exprs: Vec<String> = if expr.contains('X') {
            ["one", "ten", "hundred"].iter().map(|s| expr.replace('X', s)).collect()
        } else {
            vec![expr.to_string()]
        };
        for e in exprs {
            if *steps != 0 {
                out.push(Case { expr: e, steps: *steps });
            } else {
                out.extend(step_counts.iter().map(|&steps| Case { expr: e.clone(), steps }));
            }
        }
    }
    out
}
