//! `server check config FILE...`: loads each file like the server would and reports `SUCCESS`/`FAILED` per file in
//! the manner of `promtool check config`. Unless `syntax_only` is set, files the configuration points at
//! (credentials, certificates and keys) must exist, as promtool requires.

use std::io::Write;
use std::path::Path;

use crate::config::http::HttpClientConfig;
use crate::config::{Config, Mode};

/// The files an HTTP client configuration reads, with the field naming each.
fn client_files(client: &HttpClientConfig) -> Vec<(&'static str, &str)> {
    let mut files = Vec::new();
    if let Some(b) = &client.basic_auth {
        files.push(("basic_auth.username_file", b.username_file.as_str()));
        files.push(("basic_auth.password_file", b.password_file.as_str()));
    }
    if let Some(a) = &client.authorization {
        files.push(("authorization.credentials_file", a.credentials_file.as_str()));
    }
    if let Some(o) = &client.oauth2 {
        files.push(("oauth2.client_secret_file", o.client_secret_file.as_str()));
    }
    files.push(("bearer_token_file", client.bearer_token_file.as_str()));
    if let Some(t) = &client.tls_config {
        files.push(("tls_config.ca_file", t.ca_file.as_str()));
        files.push(("tls_config.cert_file", t.cert_file.as_str()));
        files.push(("tls_config.key_file", t.key_file.as_str()));
    }
    files.retain(|(_, f)| !f.is_empty());
    files
}

/// Every HTTP client of the configuration, with a description of its owner.
fn clients(config: &Config) -> Vec<(String, HttpClientConfig)> {
    let mut out = Vec::new();
    for scrape in config.scrape_configs() {
        out.push((format!("scrape config {:?}", scrape.job_name), scrape.http_client()));
        for sd in &scrape.http_sd_configs {
            out.push((format!("http_sd_configs of {:?}", scrape.job_name), sd.http_client()));
        }
        for sd in &scrape.kubernetes_sd_configs {
            out.push((
                format!("kubernetes_sd_configs of {:?}", scrape.job_name),
                sd.http_client(),
            ));
        }
    }
    if let Some(alerting) = &config.alerting {
        for (i, am) in alerting.alertmanagers.iter().flatten().enumerate() {
            out.push((format!("alertmanagers[{i}]"), am.http_client()));
        }
    }
    for (i, rw) in config.remote_write.iter().flatten().enumerate() {
        out.push((format!("remote_write[{i}]"), rw.http_client()));
    }
    for (i, rr) in config.remote_read.iter().flatten().enumerate() {
        out.push((format!("remote_read[{i}]"), rr.http_client()));
    }
    out
}

/// The first referenced file that does not exist, as a message.
fn missing_file(config: &Config) -> Option<String> {
    for (owner, client) in clients(config) {
        for (field, file) in client_files(&client) {
            if !Path::new(file).exists() {
                return Some(format!("{owner}: {field} {file:?} does not exist"));
            }
        }
    }
    None
}

/// Checks every file, writing promtool-style lines to `out` (results) and `err` (failures); returns whether all
/// passed.
pub fn check_config_files(
    files: &[impl AsRef<Path>],
    mode: Mode,
    syntax_only: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> bool {
    let mut all_ok = true;
    for file in files {
        let file = file.as_ref();
        let _ = writeln!(out, "Checking {}", file.display());
        let result = Config::load_file(file, mode)
            .map_err(|e| e.to_string())
            .and_then(|config| match missing_file(&config).filter(|_| !syntax_only) {
                Some(problem) => Err(problem),
                None => Ok(config),
            });
        match result {
            Ok(config) => {
                let _ = writeln!(
                    out,
                    " SUCCESS: {} is valid prometheus config file syntax",
                    file.display()
                );
                let mut rule_files = Vec::new();
                for pattern in &config.rule_files {
                    match glob::glob(pattern) {
                        Ok(paths) => rule_files.extend(paths.flatten()),
                        Err(e) => {
                            all_ok = false;
                            let _ = writeln!(err, "  FAILED: invalid rule file pattern {pattern:?}: {e}");
                        }
                    }
                }
                if rule_files.is_empty() {
                    let _ = writeln!(out, "  0 rule files found");
                } else {
                    let _ = writeln!(out, "  {} rule files found", rule_files.len());
                    let _ = writeln!(out);
                    if !syntax_only && !check_rules_files(&rule_files, false, out, err) {
                        all_ok = false;
                    }
                }
                for scrape in config.scrape_configs() {
                    for (mechanism, _) in scrape.unsupported_discovery() {
                        let _ = writeln!(
                            out,
                            "  WARNING: job {:?} uses {mechanism}_sd_configs, which this server parses but does not run",
                            scrape.job_name
                        );
                    }
                }
            }
            Err(e) => {
                all_ok = false;
                let _ = writeln!(err, "  FAILED: {e}");
            }
        }
        let _ = writeln!(out);
    }
    all_ok
}

/// Checks rule files like `promtool check rules`: one `Checking FILE` block each, `SUCCESS: N rules found` or the
/// problems; duplicate recording rules are reported as a lint finding (fatal with `lint_fatal`). Returns whether all
/// passed.
pub fn check_rules_files(
    files: &[impl AsRef<Path>],
    lint_fatal: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> bool {
    let parse = crate::promql::ParseOptions::default();
    let mut all_ok = true;
    for file in files {
        let file = file.as_ref();
        let _ = writeln!(out, "Checking {}", file.display());
        match crate::rules::file::load_file(file, &parse) {
            Ok(loaded) => {
                let n: usize = loaded.file.groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(out, "  SUCCESS: {n} rules found");
                if !loaded.duplicates.is_empty() {
                    let _ = writeln!(err, "  FAILED:");
                    let _ = writeln!(err, "lint error {} duplicate rule(s) found.", loaded.duplicates.len());
                    for (name, labels) in &loaded.duplicates {
                        let _ = writeln!(err, "Metric: {name}");
                        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                        let _ = writeln!(err, "Label(s):\n\t{}", labels.join(", "));
                    }
                    let _ = writeln!(err, "Might cause inconsistency while recording expressions");
                    if lint_fatal {
                        all_ok = false;
                    }
                }
            }
            Err(e) => {
                all_ok = false;
                let _ = writeln!(err, "  FAILED:");
                let _ = writeln!(err, "{e}");
            }
        }
        let _ = writeln!(out);
    }
    all_ok
}
