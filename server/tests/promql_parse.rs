//! Conformance: every query of upstream's PromQL test scripts (`promql/*.test`) parses with all experimental
//! syntax enabled (as upstream's test runner enables it), prints back, and re-parses to the same tree; queries
//! whose test expects a parse failure are rejected with the expected message.
//!
//! Scripts are read per upstream `promql/promqltest/README.md`: `eval instant at <time> <expr>`,
//! `eval range from <t> to <t> step <d> <expr>` (and the deprecated `eval_fail`/`eval_warn`/`eval_info`/
//! `eval_ordered` forms), followed by `expect fail [msg: ...|regex: ...]` lines in the same block.

use std::path::Path;

use exposition::conformance::{Tally, corpus_dir};
use server::promql::{Expr, ParseOptions, parse_with};

/// Queries whose test expects an error that upstream raises while parsing (all others must parse: their
/// expected failures happen during evaluation).
const PARSE_FAILURES: &[&str] = &[
    "deriv(foo[3m] smoothed)",
    "resets(foo[3m] smoothed)",
    "changes(foo[3m] smoothed)",
    "max_over_time(foo[3m] smoothed)",
    "predict_linear(foo[3m] smoothed, 4)",
    "deriv(foo[3m] anchored)",
    "max_over_time(foo[3m] anchored)",
    "predict_linear(foo[3m] anchored, 4)",
];

/// One `eval` of a script.
#[derive(Debug)]
struct Eval {
    file: String,
    line: usize,
    query: String,
    expect_fail: bool,
    fail_msg: Option<String>,
    fail_regex: Option<String>,
}

/// The query of an `eval` line, or `None` when the line is not one.
fn eval_query(line: &str) -> Option<(bool, String)> {
    let mut words = line.split_whitespace();
    let cmd = words.next()?;
    let fail = match cmd {
        "eval" | "eval_warn" | "eval_info" | "eval_ordered" => false,
        "eval_fail" => true,
        _ => return None,
    };
    // Skip `instant at <t>` or `range from <t> to <t> step <d>`; the rest of the line is the query.
    let skip = match words.next()? {
        "instant" => 2,
        "range" => 6,
        _ => return None,
    };
    let mut rest = line.trim_start();
    for _ in 0..(skip + 2) {
        let i = rest.find(char::is_whitespace)?;
        rest = rest[i..].trim_start();
    }
    Some((fail, rest.trim().to_string()))
}

fn read_evals(path: &Path) -> Vec<Eval> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out: Vec<Eval> = Vec::new();
    let mut in_eval = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            in_eval = false;
            continue;
        }
        if let Some((fail, query)) = eval_query(line) {
            out.push(Eval {
                file: file.clone(),
                line: i + 1,
                query,
                expect_fail: fail,
                fail_msg: None,
                fail_regex: None,
            });
            in_eval = true;
            continue;
        }
        if !in_eval {
            continue;
        }
        let Some(e) = out.last_mut() else { continue };
        if let Some(rest) = line.strip_prefix("expect fail") {
            e.expect_fail = true;
            let rest = rest.trim();
            if let Some(m) = rest.strip_prefix("msg:") {
                e.fail_msg = Some(m.trim().to_string());
            } else if let Some(r) = rest.strip_prefix("regex:") {
                e.fail_regex = Some(r.trim().to_string());
            }
        } else if let Some(m) = line.strip_prefix("expected_fail_message") {
            e.expect_fail = true;
            e.fail_msg = Some(m.trim().to_string());
        } else if let Some(r) = line.strip_prefix("expected_fail_regexp") {
            e.expect_fail = true;
            e.fail_regex = Some(r.trim().to_string());
        }
    }
    out
}

/// Parses, prints, re-parses; the two trees (positions aside) and the two printings must agree.
fn round_trip(q: &str, expr: &Expr, opts: &ParseOptions) -> Result<(), String> {
    let printed = expr.to_string();
    let mut again = parse_with(&printed, opts).map_err(|e| format!("printed {printed:?} does not parse: {e}"))?;
    let mut first = expr.clone();
    first.canonicalize();
    again.canonicalize();
    if first != again {
        return Err(format!("{q:?} printed as {printed:?} re-parses to a different tree"));
    }
    let printed_again = again.to_string();
    if printed_again != printed {
        return Err(format!("printing is not stable: {printed:?} then {printed_again:?}"));
    }
    Ok(())
}

fn check(e: &Eval, opts: &ParseOptions) -> Result<(), String> {
    let parse_failure_expected = e.expect_fail && PARSE_FAILURES.contains(&e.query.as_str());
    match parse_with(&e.query, opts) {
        Ok(expr) if parse_failure_expected => Err(format!("parsed to {expr}, expected a parse error")),
        Ok(expr) => round_trip(&e.query, &expr, opts),
        Err(err) if parse_failure_expected => {
            let text = err.to_string();
            if let Some(msg) = &e.fail_msg
                && !text.contains(msg.as_str())
            {
                return Err(format!("error {text:?} lacks the expected message {msg:?}"));
            }
            if let Some(re) = &e.fail_regex {
                let re = regex::Regex::new(re).map_err(|x| format!("bad regex in test: {x}"))?;
                if !re.is_match(&text) {
                    return Err(format!("error {text:?} does not match {re}"));
                }
            }
            Ok(())
        }
        Err(err) => Err(format!("does not parse: {err}")),
    }
}

#[test]
fn upstream_promql_test_queries_parse_and_round_trip() {
    let Some(dir) = corpus_dir() else { return };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("promql"))
        .expect("promql corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in the corpus");
    let opts = ParseOptions::all();
    let mut tally = Tally::new("promql-parse");
    let mut seen_parse_failures = 0;
    for f in &files {
        for e in read_evals(f) {
            if e.expect_fail && PARSE_FAILURES.contains(&e.query.as_str()) {
                seen_parse_failures += 1;
            }
            let case = format!("{}:{} {}", e.file, e.line, e.query);
            match check(&e, &opts) {
                Ok(()) => tally.pass(),
                Err(why) => tally.fail(case, why),
            }
        }
    }
    assert_eq!(
        seen_parse_failures,
        PARSE_FAILURES.len(),
        "PARSE_FAILURES lists a query the corpus does not have"
    );
    tally.finish();
}

#[test]
fn eval_lines_are_recognised() {
    let cases: &[(&str, Option<(bool, &str)>)] = &[
        ("eval instant at 1m foo", Some((false, "foo"))),
        ("eval instant at 50m  sum by (a) (x)", Some((false, "sum by (a) (x)"))),
        (
            "eval range from 0 to 10m step 1m rate(x[5m])",
            Some((false, "rate(x[5m])")),
        ),
        ("eval_fail instant at 0 label_join(a)", Some((true, "label_join(a)"))),
        ("load 5m", None),
        ("expect fail", None),
    ];
    for (line, want) in cases {
        let got = eval_query(line);
        assert_eq!(got.as_ref().map(|(f, q)| (*f, q.as_str())), *want, "{line}");
    }
}

mod properties {
    use proptest::prelude::*;
    use server::promql::{ParseOptions, parse_with};

    /// Pieces of PromQL, so random sequences often come close to valid queries.
    const PIECES: &[&str] = &[
        "foo",
        "bar:baz",
        "sum",
        "by",
        "without",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "=",
        "!=",
        "=~",
        "!~",
        "\"a\"",
        "'b'",
        "`c`",
        "\"a.b\"",
        "1",
        "-",
        "+",
        "*",
        "/",
        "%",
        "^",
        "==",
        ">",
        "<=",
        "and",
        "or",
        "unless",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "@",
        "start()",
        "end()",
        "5m",
        "1h30m",
        "0x1f",
        "1e3",
        "Inf",
        "NaN",
        "rate",
        "topk",
        "count_values",
        "label_join",
        "step()",
        "range()",
        "min_of",
        "anchored",
        "smoothed",
        "fill",
        "fill_left",
        "fill_right",
        "</",
        ">/",
        "atan2",
        "#",
        "\n",
        "info",
    ];

    fn query() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any input: no panic; whatever parses prints to a query that parses to the same tree.
        #[test]
        fn parse_never_panics_and_round_trips(q in prop_oneof![query(), "\\PC{0,40}"]) {
            for opts in [ParseOptions::default(), ParseOptions::all()] {
                if let Ok(expr) = parse_with(&q, &opts) {
                    let printed = expr.to_string();
                    let again = parse_with(&printed, &opts);
                    prop_assert!(again.is_ok(), "{:?} printed as {:?}: {:?}", q, printed, again);
                    let (mut a, mut b) = (expr.clone(), again.unwrap());
                    a.canonicalize();
                    b.canonicalize();
                    prop_assert_eq!(a, b, "{:?} printed as {:?}", q, printed);
                }
            }
        }
    }
}

/// The metric of every series line in the scripts' `load` blocks parses, and what follows it is the values.
#[test]
fn load_block_metrics_parse() {
    let Some(dir) = corpus_dir() else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("promql"))
        .expect("promql corpus")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "test") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable script");
        let mut in_load = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                in_load = false;
                continue;
            }
            if line.starts_with("load") {
                in_load = true;
                continue;
            }
            if !in_load {
                continue;
            }
            let (labels, end) = server::promql::parse_series_metric(line)
                .unwrap_or_else(|e| panic!("{}:{}: {line:?}: {e}", path.display(), i + 1));
            assert!(
                !labels.is_empty(),
                "{}:{}: no labels in {line:?}",
                path.display(),
                i + 1
            );
            let rest = &line[end..];
            assert!(
                rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('@'),
                "{}:{}: values do not follow the metric in {line:?}",
                path.display(),
                i + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} series lines found");
}
