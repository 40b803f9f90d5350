//! Conformance: upstream's `config/testdata` corpus (prometheus/prometheus). `*.good.yml` must load and
//! `*.bad.yml` must be rejected; the other files carry the expectation upstream's `config_test.go` has for them,
//! encoded in [`special_case`] with the reason.

use std::path::{Path, PathBuf};

use exposition::conformance::{Tally, corpus_dir};
use server::config::{Config, EscapingScheme, Mode, ValidationScheme};

// Discovery mechanisms this server parses but does not run (azure, consul, ec2, ...) keep their raw YAML and get
// the syntax rules upstream applies to them from `config::discovery::check_unsupported`, so their `*.bad.yml` files
// are judged on their own merit. Files that load while using such a mechanism are listed after the run
// ("parsed, not run") so nobody mistakes a pass for support.

/// The expectation for a file that is neither `*.good.yml` nor `*.bad.yml`.
fn special_case(name: &str, path: &Path) -> Option<(bool, &'static str)> {
    let server = Config::load_file(path, Mode::Server);
    let agent = || Config::load_file(path, Mode::Agent);
    let schemes = |v: ValidationScheme, e: EscapingScheme| {
        server
            .as_ref()
            .ok()
            .and_then(|c| c.scrape_configs().next())
            .is_some_and(|s| s.metric_name_validation_scheme == v && s.metric_name_escaping_scheme == e)
    };
    Some(match name {
        "agent_mode.with_alert_manager.yml"
        | "agent_mode.with_alert_relabels.yml"
        | "agent_mode.with_remote_reads.yml"
        | "agent_mode.with_rule_files.yml" => (
            server.is_ok() && agent().is_err(),
            "TestAgentMode: valid for the server, rejected in agent mode",
        ),
        "agent_mode.without_remote_writes.yml" => (
            server.is_ok() && agent().is_ok_and(|c| c.remote_write.is_empty()),
            "TestAgentMode: agent mode needs no remote_write",
        ),
        "config_with_deprecated_am_api_config.yml" => {
            (server.is_err(), "Alertmanager api_version v1 is gone in Prometheus 3")
        }
        "first.rules" => (
            server.is_err(),
            "a rule file other configs reference; not a prometheus.yml (field groups)",
        ),
        "otlp_allow_utf8.incompatible.yml" | "otlp_no_translation.incompatible.yml" => (
            server.is_err(),
            "TestOTLPAllowUTF8: UTF-8 translation strategies are refused with legacy name validation",
        ),
        "otlp_empty.yml" => (server.is_ok(), "TestOTLPAllowUTF8: an empty file loads with defaults"),
        "scrape_config_default_validation_mode.yml" => (
            schemes(ValidationScheme::Utf8, EscapingScheme::AllowUtf8),
            "TestScrapeConfigNameValidationSettings: utf8 / allow-utf-8 by default",
        ),
        "scrape_config_global_validation_mode.yml" => (
            schemes(ValidationScheme::Legacy, EscapingScheme::Dots),
            "TestScrapeConfigNameValidationSettings: global settings inherited",
        ),
        "scrape_config_local_validation_mode.yml" => (
            schemes(ValidationScheme::Legacy, EscapingScheme::Values),
            "TestScrapeConfigNameValidationSettings: local settings",
        ),
        "scrape_config_local_global_validation_mode.yml" => (
            schemes(ValidationScheme::Utf8, EscapingScheme::Dots),
            "TestScrapeConfigNameValidationSettings: local settings override global ones",
        ),
        "scrape_config_local_infer_escaping.yml" => (
            schemes(ValidationScheme::Legacy, EscapingScheme::Underscores),
            "TestScrapeConfigNameValidationSettings: legacy validation implies underscores",
        ),
        _ => return None,
    })
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn prometheus_config_corpus() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("prometheus_config");
    let mut tally = Tally::new("prometheus-config");
    let mut unknown = Vec::new();
    let mut parsed_not_run: std::collections::BTreeMap<&'static str, Vec<String>> = Default::default();
    for path in files(&dir) {
        let name = path.strip_prefix(&dir).unwrap_or(&path).to_string_lossy().into_owned();
        let result = Config::load_file(&path, Mode::Server);
        if let Ok(config) = &result {
            for scrape in config.scrape_configs() {
                for (mechanism, _) in scrape.unsupported_discovery() {
                    let files = parsed_not_run.entry(mechanism).or_default();
                    if !files.contains(&name) {
                        files.push(name.clone());
                    }
                }
            }
        }
        if name.ends_with(".good.yml") {
            match result {
                Ok(_) => tally.record(&name, true),
                Err(e) => tally.fail(&name, format!("must load: {e}")),
            }
        } else if name.ends_with(".bad.yml") {
            match result {
                Ok(_) => tally.fail(&name, "must be rejected but loaded"),
                Err(e) => {
                    println!("ok {name}: {e}");
                    tally.record(&name, true);
                }
            }
        } else if let Some((ok, reason)) = special_case(&name, &path) {
            if ok {
                tally.record(&name, true);
            } else {
                tally.fail(&name, format!("expected: {reason}"));
            }
        } else {
            unknown.push(name);
        }
    }
    for (mechanism, files) in &parsed_not_run {
        println!(
            "NOTE unsupported mechanism {mechanism} (parsed and syntax-checked, not run): {}",
            files.join(", ")
        );
    }
    assert!(
        unknown.is_empty(),
        "corpus files with no known expectation: {unknown:?}"
    );
    tally.finish();
}
