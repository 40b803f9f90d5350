//! Runs the built binary: `server check config FILE...` prints promtool-style lines and exits 1 on any failure;
//! `--help` lists the Prometheus flags parsed so far.

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

#[test]
fn check_config_reports_each_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.yml",
        "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n",
    );
    let bad = write(
        dir.path(),
        "bad.yml",
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    scrape_timeout: 2s\n",
    );

    let out = server().args(["check", "config"]).arg(&good).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("Checking {}", good.display())), "{stdout}");
    assert!(
        stdout.contains(&format!(
            " SUCCESS: {} is valid prometheus config file syntax",
            good.display()
        )),
        "{stdout}"
    );

    let out = server()
        .args(["check", "config"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("SUCCESS"), "{stdout}");
    assert!(stderr.contains("  FAILED: "), "{stderr}");
    assert!(
        stderr.contains("bad.yml:4: scrape_configs[0].scrape_timeout"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.yml");
    let out = server().args(["check", "config"]).arg(&missing).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED"));
}

#[test]
fn check_config_agent_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "rules.yml", "rule_files: [a.rules]\n");
    let out = server().args(["check", "config"]).arg(&file).output().expect("runs");
    assert!(out.status.success());
    let out = server()
        .args(["check", "config", "--agent"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule_files is not allowed in agent mode"));
}

#[test]
fn help_lists_prometheus_flags() {
    let out = server().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config.file",
        "prometheus.yml",
        "--web.listen-address",
        "0.0.0.0:9090",
        "--storage.tsdb.path",
        "data/",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
        "--web.config.file",
        "check",
    ] {
        assert!(help.contains(flag), "help lacks {flag}:\n{help}");
    }
    // Without a subcommand the binary serves; a configuration file that does not exist stops it with an error
    // naming the file.
    let out = server()
        .args(["--config.file", "x.yml", "--web.listen-address", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("x.yml"), "{err}");
}

#[test]
fn referenced_files_must_exist_unless_syntax_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "tls.yml",
        "scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c.pem, key_file: k.pem}\n",
    );
    let out = server().args(["check", "config"]).arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tls_config.cert_file") && stderr.contains("does not exist"),
        "{stderr}"
    );
    let out = server()
        .args(["check", "config", "--syntax-only"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    write(dir.path(), "c.pem", "cert");
    write(dir.path(), "k.pem", "key");
    let out = server().args(["check", "config"]).arg(&file).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
