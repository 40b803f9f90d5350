//! OpenMetrics parser conformance: every case of the upstream OpenMetrics test suite
//! (`openmetrics/<case>/metrics` + `test.json`), parsed in strict OpenMetrics mode. A case passes when "parsed
//! without error" equals its `shouldParse`.

use exposition::conformance::{Tally, corpus_dir};
use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser};

fn parse_all(input: &[u8]) -> Result<(), String> {
    for entry in Parser::new(input, Format::OpenMetrics, Mode::Strict) {
        let entry = entry.map_err(|e| e.to_string())?;
        // Touch the lazily decoded parts so they are exercised too.
        if let Entry::Sample(s) = entry {
            for l in s.labels.iter().chain(s.exemplar.iter().flat_map(|e| e.labels.iter())) {
                assert!(!l.name.is_empty());
            }
        }
    }
    Ok(())
}

#[test]
fn openmetrics_suite() {
    let Some(dir) = corpus_dir() else { return };
    let dir = dir.join("openmetrics");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut tally = Tally::new("openmetrics");
    for line in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let case = line.split('\t').next().unwrap_or_default();
        let json = std::fs::read_to_string(dir.join(case).join("test.json")).expect("test.json");
        let spec: serde_json::Value = serde_json::from_str(&json).expect("test.json is JSON");
        let should_parse = spec["shouldParse"].as_bool().expect("shouldParse");
        let file = spec["file"].as_str().unwrap_or("metrics");
        let input = std::fs::read(dir.join(case).join(file)).expect("metrics file");
        match (parse_all(&input), should_parse) {
            (Ok(()), true) | (Err(_), false) => tally.pass(),
            (Ok(()), false) => tally.fail(case, "parsed, but the case must be rejected"),
            (Err(e), true) => tally.fail(case, format!("rejected, but the case must parse: {e}")),
        }
    }
    assert_eq!(
        tally.passed() as usize + tally.failures().len(),
        211,
        "the suite has 211 cases"
    );
    tally.finish();
}
