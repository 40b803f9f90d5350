//! `server check rules` against upstream's rule fixtures: each file must be accepted or rejected as `promtool check
//! rules` does (expectations transcribed from running promtool on the same files), with promtool's output shape.

use std::path::PathBuf;
use std::process::Command;

use exposition::conformance::{Tally, corpus_dir};

/// (file under `rules/`, accepted?)
const EXPECTED: &[(&str, bool)] = &[
    ("rule_fixtures/alert_rule.yaml", true),
    ("rule_fixtures/alert_rule1.yaml", true),
    ("rule_fixtures/invalid_rules.yaml", false),
    ("rule_fixtures/rules.yaml", true),
    ("rule_fixtures/rules1.yaml", true),
    ("rule_fixtures/rules2.yaml", true),
    ("rule_fixtures/rules2_copy.yaml", true),
    ("rule_fixtures/rules_chain.yaml", true),
    ("rule_fixtures/rules_dependencies.yaml", true),
    ("rule_fixtures/rules_indeterminates.yaml", true),
    ("rule_fixtures/rules_multi_doc.yaml", true),
    ("rule_fixtures/rules_multiple.yaml", true),
    ("rule_fixtures/rules_multiple_dependents_on_base.yaml", true),
    ("rule_fixtures/rules_multiple_groups.yaml", true),
    ("rule_fixtures/rules_multiple_independent.yaml", true),
    ("promtool_testdata/rules-bad.yml", false),
    ("promtool_testdata/rules.yml", true),
    ("promtool_testdata/rules_duplicates.yml", true),
    ("promtool_testdata/rules_extrafields.yml", false),
    ("promtool_testdata/rules_large.yml", true),
    ("promtool_testdata/bad-rules-error.yml", true),
    ("promtool_testdata/bad-rules-syntax.yml", false),
    ("promtool_testdata/at-modifier.yml", true),
    ("promtool_testdata/negative-offset.yml", true),
    ("promtool_testdata/prometheus-rules.lint.yml", true),
    // Unit-test files, not rule files: rejected for their unknown fields.
    ("promtool_testdata/rules_run.yml", false),
    ("promtool_testdata/bad-rules-syntax-test.yml", false),
];

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

#[test]
fn rule_files_accepted_and_rejected_as_promtool_does() {
    let Some(corpus) = corpus_dir() else { return };
    let dir: PathBuf = corpus.join("rules");
    let mut tally = Tally::new("rule-files");
    for (file, want_ok) in EXPECTED {
        let path = dir.join(file);
        let out = server().args(["check", "rules"]).arg(&path).output().expect("runs");
        let ok = out.status.success();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let shaped = stdout.starts_with(&format!("Checking {}\n", path.display()))
            && (!ok || stdout.contains("  SUCCESS: ") && stdout.contains(" rules found"));
        let pass = ok == *want_ok && shaped;
        if !pass {
            eprintln!(
                "{file}: accepted={ok}, expected {want_ok}\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tally.record(*file, pass);
    }
    tally.finish();
}

#[test]
fn failures_name_file_position_group_and_rule() {
    let Some(corpus) = corpus_dir() else { return };
    let path = corpus.join("rules/promtool_testdata/bad-rules-syntax.yml");
    let out = server().args(["check", "rules"]).arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: unexpected end of input",
        path.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    let path = corpus.join("rules/promtool_testdata/rules.yml");
    let out = server().args(["check", "rules"]).arg(&path).output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("  SUCCESS: 5 rules found"));
}
