//! Regression tests for inputs that once broke the parser or the family builder, named after the bug. Inputs
//! found by `cargo fuzz` (exposition/fuzz) are added here verbatim.

use exposition::encode::Format;
use exposition::parse::{Mode, Parser, families};

/// Fuzz crash (parse_families): lenient OpenMetrics with `# TYPE` after the family's first sample retyped the
/// family while its metric kept an untyped value, so the value no longer fit the family type.
#[test]
fn type_after_samples_does_not_retype_built_values() {
    let input: &[u8] = &[
        35, 32, 72, 69, 76, 80, 32, 97, 32, 120, 10, 97, 32, 49, 10, 35, 32, 84, 89, 80, 69, 32, 97, 32, 103, 97, 117,
        103, 101, 10, 35, 32, 69, 79, 70, 10,
    ];
    assert_eq!(input, b"# HELP a x\na 1\n# TYPE a gauge\n# EOF\n");
    let fams = families(input, Format::OpenMetrics, Mode::Lenient).expect("lenient mode accepts late metadata");
    for f in &fams {
        for m in &f.metrics {
            assert!(m.value.fits(f.metric_type), "{f:?}");
        }
    }
    assert!(families(input, Format::OpenMetrics, Mode::Strict).is_err());
}

/// OpenMetrics timestamps were converted as `seconds * 1000` truncated, which turned `1520879607.789` into
/// ...788 ms; plain decimals are now converted exactly.
#[test]
fn openmetrics_decimal_timestamps_are_exact() {
    let input = b"a 1 1520879607.789\n# EOF\n";
    let ts = Parser::new(input, Format::OpenMetrics, Mode::Strict)
        .find_map(|e| match e {
            Ok(exposition::parse::Entry::Sample(s)) => s.timestamp_ms,
            _ => None,
        })
        .expect("a timestamp");
    assert_eq!(ts, 1520879607789);
}

/// Error text cut at 32 bytes in the middle of a multi-byte character must not panic.
#[test]
fn syntax_error_text_cut_inside_a_character() {
    let input = "a{b=ééééééééééééééééééééééééééé} 1\n";
    let err = Parser::new(input.as_bytes(), Format::Text, Mode::Lenient)
        .find_map(Result::err)
        .expect("error");
    assert!(
        err.to_string().starts_with("line 1, column 5: expected label value"),
        "{err}"
    );
}
