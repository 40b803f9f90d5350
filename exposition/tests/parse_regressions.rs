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

/// Fuzz crash (parse_families): a signed value followed by a multi-byte character (`-LL\u{311}\\`) was sliced
/// at byte 3 while checking for a signed NaN, inside the character.
#[test]
fn signed_value_with_multibyte_char_does_not_panic() {
    let input: &[u8] = &[0x4c, 0x4c, 0x4c, 0x4c, 0x2d, 0x4c, 0x4c, 0xcc, 0x91, 0x5c, 0x5c];
    for format in [Format::Text, Format::OpenMetrics] {
        for mode in [Mode::Lenient, Mode::Strict] {
            assert!(families(input, format, mode).is_err());
        }
    }
    for value in ["-é", "+ñan", "-na", "+"] {
        let line = format!("a {value}\n");
        assert!(
            Parser::new(line.as_bytes(), Format::Text, Mode::Lenient).any(|e| e.is_err()),
            "{value}"
        );
    }
}
