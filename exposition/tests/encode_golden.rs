//! The float formatting reproduces, byte for byte, every sample value in upstream node_exporter's golden
//! end-to-end output (written by the Go client).

use exposition::conformance::corpus_dir;
use exposition::encode::format_float;

#[test]
fn every_value_in_the_node_exporter_golden_file_formats_as_go_does() {
    let Some(dir) = corpus_dir() else { return };
    let path = dir.join("node_exporter/e2e-output.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut checked = 0;
    let mut exponent_forms = 0;
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let value = line.rsplit(' ').next().unwrap_or_default();
        let parsed: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|e| panic!("line {}: {v:?}: {e}", n + 1)),
        };
        assert_eq!(format_float(parsed), value, "line {}: {line}", n + 1);
        checked += 1;
        if value.contains('e') {
            exponent_forms += 1;
        }
    }
    assert!(checked > 2000, "only {checked} samples in the golden file");
    assert!(exponent_forms > 100, "only {exponent_forms} exponent-form values");
}
