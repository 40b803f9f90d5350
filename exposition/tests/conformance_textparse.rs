//! Rejection table of Prometheus' `model/textparse` parsers (`textparse/parse_error_cases.json`): suites named
//! `Prom*` go through the text-format parser, `OM*`/`OpenMetrics*` through the OpenMetrics parser, both in
//! lenient mode. A case passes when we reject exactly the inputs the Go parsers reject.
//!
//! The file also checks sample counts on real bodies: Prometheus' `alltypes.237mfs.prom.txt` benchmark input and
//! node_exporter's end-to-end golden output.

use base64::Engine;
use exposition::conformance::{Tally, corpus_dir};
use exposition::encode::Format;
use exposition::parse::{Mode, count_samples};

#[test]
fn textparse_error_table() {
    let Some(dir) = corpus_dir() else { return };
    let json = std::fs::read_to_string(dir.join("textparse/parse_error_cases.json")).expect("parse_error_cases.json");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let suites = doc["suites"].as_object().expect("suites");
    let mut tally = Tally::new("textparse-errors");
    let mut total = 0;
    for (suite, cases) in suites {
        let format = if suite.starts_with("TestProm") {
            Format::Text
        } else {
            Format::OpenMetrics
        };
        for (i, case) in cases.as_array().expect("case list").iter().enumerate() {
            total += 1;
            let input = base64::engine::general_purpose::STANDARD
                .decode(case["input_b64"].as_str().expect("input_b64"))
                .expect("base64");
            let expect_error = case["expect_error"].as_bool().expect("expect_error");
            let got = count_samples(&input, format, Mode::Lenient);
            let name = format!("{suite}[{i}] {:?}", String::from_utf8_lossy(&input));
            match (got, expect_error) {
                (Ok(_), false) | (Err(_), true) => tally.pass(),
                (Ok(_), true) => tally.fail(name, format!("accepted; Go rejects it with {}", case["go_error"])),
                (Err(e), false) => tally.fail(name, format!("rejected ({e}); Go accepts it")),
            }
        }
    }
    assert_eq!(total, 109, "the table has 109 inputs");
    tally.finish();
}

/// Counts sample lines independently of the parser: non-empty lines that do not start with `#`.
fn sample_lines(body: &str) -> usize {
    body.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count()
}

#[test]
fn sample_counts_of_real_bodies() {
    let Some(dir) = corpus_dir() else { return };
    let alltypes = std::fs::read(dir.join("textparse/alltypes.237mfs.prom.txt")).expect("alltypes");
    assert_eq!(sample_lines(&String::from_utf8_lossy(&alltypes)), 1857);
    for mode in [Mode::Lenient, Mode::Strict] {
        assert_eq!(
            count_samples(&alltypes, Format::Text, mode).expect("alltypes parses"),
            1857,
            "{mode:?}"
        );
    }

    let e2e = std::fs::read(dir.join("node_exporter/e2e-output.txt")).expect("e2e-output.txt");
    let expected = sample_lines(&String::from_utf8_lossy(&e2e));
    assert!(expected > 1000, "node_exporter golden file has {expected} sample lines");
    assert_eq!(
        count_samples(&e2e, Format::Text, Mode::Lenient).expect("e2e parses"),
        expected
    );
}
