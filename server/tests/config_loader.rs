//! The loader's contract beyond the upstream corpus: defaults, inheritance from `global`, error messages that
//! name file, line and field, and secrets that never print.

use std::path::Path;

use server::config::{Config, ConfigError, Duration, Mode};

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::load_str(text, Path::new("test.yml"), Mode::Server)
}

#[test]
fn empty_file_gets_upstream_defaults() {
    let c = load("").expect("empty config loads");
    assert_eq!(c.global.scrape_interval, Duration::from_secs(60));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(60));
    assert!(c.scrape_configs().next().is_none());
}

#[test]
fn scrape_configs_inherit_global_settings() {
    let c = load(
        "global: {scrape_interval: 15s, sample_limit: 100}\n\
         scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 5s\n    sample_limit: 7\n",
    )
    .expect("loads");
    let jobs: Vec<_> = c.scrape_configs().collect();
    assert_eq!(jobs[0].scrape_interval, Duration::from_secs(15));
    assert_eq!(jobs[0].scrape_timeout, Duration::from_secs(10));
    assert_eq!(jobs[0].sample_limit, 100);
    assert_eq!(jobs[0].metrics_path, "/metrics");
    assert_eq!(jobs[0].scheme, "http");
    assert!(jobs[0].honor_timestamps && jobs[0].follow_redirects && jobs[0].enable_http2);
    // A timeout above the job's interval is capped to it when inherited.
    assert_eq!(jobs[1].scrape_interval, Duration::from_secs(5));
    assert_eq!(jobs[1].scrape_timeout, Duration::from_secs(5));
    assert_eq!(jobs[1].sample_limit, 7);
}

#[test]
fn errors_name_file_line_and_field() {
    // (config, expected fragments of the message)
    let cases: &[(&str, &[&str])] = &[
        (
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
            &["test.yml:3:", "global.scrape_timeout"],
        ),
        (
            "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
            &["test.yml:3:", "scrape_configs[1]", "job name \"a\""],
        ),
        (
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n",
            &["test.yml:4:", "scrape_configs[0].relabel_configs[0]", "modulus"],
        ),
        (
            "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: p\n      password_file: f\n",
            &["test.yml:3:", "scrape_configs[0].basic_auth", "password, password_file"],
        ),
        (
            "global:\n  scrape_intervl: 5s\n",
            &["test.yml", "line 2", "scrape_intervl"],
        ),
        (
            "global:\n  scrape_interval: 5x\n",
            &["test.yml", "line 2", "not a valid duration"],
        ),
        (
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: '('\n        target_label: x\n",
            &["test.yml", "line 4", "invalid regex"],
        ),
        (
            "global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n    ok: x\n    a.b: x\n",
            &["test.yml:5:", "external_labels", "\"a.b\" is not a valid label name"],
        ),
    ];
    for (text, fragments) in cases {
        let err = load(text).expect_err(text).to_string();
        for f in *fragments {
            assert!(err.contains(f), "{text:?}: {err:?} lacks {f:?}");
        }
    }
}

#[test]
fn secrets_are_not_printed() {
    let c = load(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: hunter2}\n    \
         authorization: null\n    oauth2: null\n",
    )
    .expect("loads");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("<secret>"));
    let yaml = serde_saphyr::to_string(&c).expect("serializes");
    assert!(!yaml.contains("hunter2"), "{yaml}");
    let job = c.scrape_configs().next().expect("one job");
    let password = job.basic_auth.as_ref().map(|b| b.password.expose());
    assert_eq!(password, Some("hunter2"));
}

#[test]
fn external_labels_expand_environment_like_upstream() {
    // Setting variables needs `unsafe` in edition 2024 (denied here), so read one that every environment has.
    let home = std::env::var("PATH").unwrap_or_default();
    let c = load("global:\n  external_labels:\n    a: ${PATH}\n    b: x$${PATH}\n    c: y$$z\n").expect("loads");
    assert_eq!(
        c.global.external_labels.get("a").map(String::as_str),
        Some(home.as_str())
    );
    assert_eq!(c.global.external_labels.get("b").map(String::as_str), Some("x${PATH}"));
    assert_eq!(c.global.external_labels.get("c").map(String::as_str), Some("y$z"));
}

#[test]
fn agent_mode_refuses_server_only_sections() {
    for text in [
        "rule_files: [a.rules]\n",
        "alerting: {}\n",
        "remote_read: [{url: 'http://x'}]\n",
    ] {
        assert!(load(text).is_ok(), "{text}");
        assert!(
            Config::load_str(text, Path::new("t.yml"), Mode::Agent).is_err(),
            "{text}"
        );
    }
}

#[test]
fn relative_paths_follow_the_file_that_holds_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("jobs");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(
        sub.join("one.yml"),
        "scrape_configs:\n  - job_name: included\n    tls_config: {cert_file: c.pem, key_file: /abs/k.pem}\n",
    )
    .expect("write");
    let main = dir.path().join("prometheus.yml");
    std::fs::write(
        &main,
        "rule_files: [r/*.rules]\nscrape_config_files: ['jobs/*.yml']\nscrape_configs:\n  - job_name: main\n    \
         authorization: {credentials_file: token}\n    file_sd_configs: [{files: [sd/*.json]}]\n",
    )
    .expect("write");
    let c = Config::load_file(&main, Mode::Server).expect("loads");
    let d = dir.path().to_string_lossy().into_owned();
    assert_eq!(c.rule_files, vec![format!("{d}/r/*.rules")]);
    let jobs: Vec<_> = c.scrape_configs().collect();
    assert_eq!(jobs.len(), 2);
    let auth = jobs[0].authorization.as_ref().map(|a| a.credentials_file.clone());
    assert_eq!(auth, Some(format!("{d}/token")));
    assert_eq!(jobs[0].file_sd_configs[0].files, vec![format!("{d}/sd/*.json")]);
    assert_eq!(jobs[1].job_name, "included");
    let tls = jobs[1].tls_config.as_ref().expect("tls");
    assert_eq!(tls.cert_file, format!("{d}/jobs/c.pem"));
    assert_eq!(tls.key_file, "/abs/k.pem");
}

#[test]
fn loaded_configs_serialize_and_load_again() {
    let Some(corpus) = exposition::conformance::corpus_dir() else {
        return;
    };
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(corpus.join("prometheus_config"))
        .expect("corpus folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".good.yml"))
        .collect();
    entries.sort();
    for path in entries {
        let config = Config::load_file(&path, Mode::Server).unwrap_or_else(|e| panic!("{e}"));
        let yaml = serde_saphyr::to_string(&config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = Config::load_str(&yaml, &path, Mode::Server).unwrap_or_else(|e| panic!("{yaml}\n{e}"));
        assert_eq!(
            again.scrape_configs().count(),
            config.scrape_configs().count(),
            "{}",
            path.display()
        );
        assert!(
            !yaml.contains("mysecret"),
            "{}: a secret leaked into\n{yaml}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 50, "only {checked} good files");
}

/// Spot checks of the values upstream's `TestLoadConfig` expects from the corpus' `conf.good.yml` (inheritance
/// from `global`, explicit job settings, defaults).
#[test]
fn conf_good_values_match_upstream() {
    let Some(corpus) = exposition::conformance::corpus_dir() else {
        return;
    };
    let dir = corpus.join("prometheus_config");
    let c = Config::load_file(&dir.join("conf.good.yml"), Mode::Server).expect("conf.good.yml loads");
    assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(30));
    assert_eq!(c.global.body_size_limit.bytes(), 15 << 20);
    assert_eq!(
        c.global.external_labels.get("monitor").map(String::as_str),
        Some("codelab")
    );
    assert_eq!(
        c.rule_files,
        vec![
            dir.join("first.rules").display().to_string(),
            dir.join("my/*.rules").display().to_string()
        ]
    );
    assert_eq!(c.remote_write.len(), 2);
    assert_eq!(c.remote_read.len(), 2);

    let job = |name: &str| {
        c.scrape_configs()
            .find(|s| s.job_name == name)
            .unwrap_or_else(|| panic!("job {name}"))
    };
    let prom = job("prometheus");
    assert!(prom.honor_labels);
    assert_eq!(prom.scrape_interval, Duration::from_secs(15));
    assert_eq!(prom.scrape_timeout, Duration::from_secs(10));
    assert_eq!(prom.body_size_limit.bytes(), 15 << 20);
    assert_eq!(prom.sample_limit, 1500);
    assert_eq!(prom.target_limit, 30);
    assert_eq!(prom.metrics_path, "/metrics");
    assert_eq!(prom.scheme, "http");
    assert_eq!(prom.relabel_configs.len(), 6);
    assert_eq!(prom.file_sd_configs[0].refresh_interval, Duration::from_secs(600));
    assert_eq!(prom.file_sd_configs[1].refresh_interval, Duration::from_secs(300));

    let x = job("service-x");
    assert_eq!(x.scrape_interval, Duration::from_secs(50));
    assert_eq!(x.scrape_timeout, Duration::from_secs(5));
    assert_eq!(x.body_size_limit.bytes(), 10 << 20);
    assert_eq!(x.sample_limit, 1000);
    assert_eq!(x.label_value_length_limit, 210);
    assert_eq!(x.metrics_path, "/my_path");
    assert_eq!(x.scheme, "https");
    assert_eq!(x.dns_sd_configs[1].refresh_interval, Duration::from_secs(30));
    let password = x.basic_auth.as_ref().map(|b| b.password.expose());
    assert_eq!(password, Some("multiline\nmysecret\ntest"));

    assert!(!job("badfederation").honor_timestamps);
    assert!(c.scrape_configs().any(|s| s.job_name == "測試"));
    let k8s = job("service-kubernetes");
    assert_eq!(k8s.kubernetes_sd_configs[0].api_server, "https://localhost:1234");
}

#[test]
fn deprecated_bearer_token_becomes_authorization() {
    let c = load(
        "scrape_configs:\n  - job_name: a\n    bearer_token_file: tok\n  - job_name: b\n    \
         authorization: {credentials: x}\n  - job_name: c\n",
    )
    .expect("loads");
    let auth: Vec<_> = c
        .scrape_configs()
        .map(|s| s.http_client().effective_authorization())
        .collect();
    let a = auth[0].as_ref().expect("a has authorization");
    assert_eq!((a.scheme(), a.credentials_file.as_str()), ("Bearer", "tok"));
    let b = auth[1].as_ref().expect("b has authorization");
    assert_eq!((b.scheme(), b.credentials.expose()), ("Bearer", "x"));
    assert!(auth[2].is_none());
}
