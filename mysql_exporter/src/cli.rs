//! The command line of mysqld_exporter 0.15+: `--config.my-cnf`, `--mysqld.address`, `--mysqld.username`,
//! `--tls.insecure-skip-verify`, `--exporter.lock_wait_timeout`, `--exporter.log_slow_filter`,
//! `--timeout-offset`, one `--collect.<name>` / `--no-collect.<name>` switch per row of the scraper table, and the
//! shared `--web.*` / `--log.*` flags (default listen address `:9104`).

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, Command};
use exposition::http::{LogArgs, WebArgs, with_listen_default};

use crate::config::{self, ClientConfig, ConfigError, Overrides};
use crate::exporter::SessionSettings;
use crate::scraper::{SCRAPERS, Scraper, Spec};

/// The environment variable holding the password when the file has none.
pub const PASSWORD_ENV: &str = "MYSQLD_EXPORTER_PASSWORD";

/// The full command.
pub fn command(version: &'static str) -> Command {
    let mut cmd = Command::new("mysql_exporter")
        .arg(
            Arg::new("config.my-cnf")
                .long("config.my-cnf")
                .value_name("PATH")
                .help("Path to .my.cnf file to read MySQL credentials from. [default: ~/.my.cnf]"),
        )
        .arg(
            Arg::new("mysqld.address")
                .long("mysqld.address")
                .default_value("localhost:3306")
                .help("Address to use for connecting to MySQL"),
        )
        .arg(
            Arg::new("mysqld.username")
                .long("mysqld.username")
                .help("Username to use for connecting to MySQL"),
        )
        .arg(bool_arg(
            "tls.insecure-skip-verify",
            "Ignore certificate and server verification when using a tls connection.",
        ))
        .arg(
            Arg::new("exporter.lock_wait_timeout")
                .long("exporter.lock_wait_timeout")
                .default_value("2")
                .value_parser(clap::value_parser!(u64))
                .help("Set a lock_wait_timeout (in seconds) on the connection to avoid long metadata locking."),
        )
        .arg(bool_arg(
            "exporter.log_slow_filter",
            "Add a log_slow_filter to avoid slow query logging of scrapes. NOTE: Not supported by Oracle MySQL.",
        ))
        .arg(
            Arg::new("timeout-offset")
                .long("timeout-offset")
                .default_value("0.25")
                .value_parser(clap::value_parser!(f64))
                .help("Offset to subtract from timeout in seconds."),
        );
    for spec in SCRAPERS {
        let state = if spec.default_enabled { "enabled" } else { "disabled" };
        cmd = cmd
            .args(switch(
                &format!("collect.{}", spec.name),
                format!("{} (default: {state}).", spec.help),
            ))
            .args((spec.args)());
    }
    for arg in no_variants(&["tls.insecure-skip-verify", "exporter.log_slow_filter"]) {
        cmd = cmd.arg(arg);
    }
    let cmd = LogArgs::augment_args(WebArgs::augment_args(cmd));
    with_listen_default(cmd, ":9104")
        .version(version)
        .about("Prometheus exporter for MySQL and MariaDB server metrics (mysqld_exporter compatible).")
}

fn bool_arg(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .overrides_with(format!("no-{name}"))
        .help(help)
}

fn no_variants(names: &[&str]) -> Vec<Arg> {
    names
        .iter()
        .map(|n| {
            Arg::new(format!("no-{n}"))
                .long(format!("no-{n}"))
                .action(ArgAction::SetTrue)
                .overrides_with(n.to_string())
                .hide(true)
        })
        .collect()
}

/// `--X` and its hidden `--no-X`.
fn switch(name: &str, help: String) -> [Arg; 2] {
    let off = format!("no-{name}");
    [
        Arg::new(name.to_string())
            .long(name.to_string())
            .action(ArgAction::SetTrue)
            .overrides_with(off.clone())
            .help(help),
        Arg::new(off.clone())
            .long(off)
            .action(ArgAction::SetTrue)
            .overrides_with(name.to_string())
            .hide(true),
    ]
}

/// The scrapers the switches enable, in table order.
pub fn enabled(m: &ArgMatches) -> Vec<&'static Spec> {
    SCRAPERS
        .iter()
        .filter(|s| {
            let on = format!("collect.{}", s.name);
            if m.get_flag(&on) {
                true
            } else if m.get_flag(&format!("no-{on}")) {
                false
            } else {
                s.default_enabled
            }
        })
        .collect()
}

/// The enabled scrapers, built from their flags.
pub fn scrapers(m: &ArgMatches) -> Vec<(&'static Spec, Box<dyn Scraper>)> {
    enabled(m).into_iter().map(|s| (s, (s.build)(m))).collect()
}

/// `--config.my-cnf`, defaulting to `$HOME/.my.cnf`.
pub fn my_cnf_path(m: &ArgMatches) -> PathBuf {
    match m.get_one::<String>("config.my-cnf") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".my.cnf"))
            .unwrap_or_else(|| PathBuf::from(".my.cnf")),
    }
}

/// What the connection flags and `env_password` (the value of [`PASSWORD_ENV`]) add to the file.
pub fn overrides(m: &ArgMatches, env_password: Option<String>) -> Overrides {
    Overrides {
        address: m.get_one::<String>("mysqld.address").cloned().unwrap_or_default(),
        username: m.get_one::<String>("mysqld.username").cloned(),
        password_env: env_password,
        tls_insecure_skip_verify: m.get_flag("tls.insecure-skip-verify"),
    }
}

/// Loads the `[client]` credentials from the file, the flags and `env_password`.
pub fn client_config(m: &ArgMatches, env_password: Option<String>) -> Result<ClientConfig, ConfigError> {
    config::load(&my_cnf_path(m), &overrides(m, env_password))
}

/// `--timeout-offset` in seconds.
pub fn timeout_offset(m: &ArgMatches) -> f64 {
    m.get_one::<f64>("timeout-offset").copied().unwrap_or(0.25)
}

/// The session settings from the flags.
pub fn session_settings(m: &ArgMatches) -> SessionSettings {
    SessionSettings {
        lock_wait_timeout: m.get_one::<u64>("exporter.lock_wait_timeout").copied().unwrap_or(2),
        log_slow_filter: m.get_flag("exporter.log_slow_filter"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ArgMatches {
        command("test")
            .try_get_matches_from(std::iter::once("mysql_exporter").chain(args.iter().copied()))
            .expect("args")
    }

    fn names(m: &ArgMatches) -> Vec<&'static str> {
        enabled(m).iter().map(|s| s.name).collect()
    }

    #[test]
    fn switches() {
        let all: Vec<&str> = SCRAPERS.iter().filter(|s| s.default_enabled).map(|s| s.name).collect();
        assert_eq!(names(&parse(&[])), all);
        let m = parse(&["--no-collect.global_variables", "--no-collect.info_schema.innodb_cmp"]);
        assert!(!names(&m).contains(&"global_variables"));
        assert!(!names(&m).contains(&"info_schema.innodb_cmp"));
        let m = parse(&["--no-collect.slave_status", "--collect.slave_status"]);
        assert!(names(&m).contains(&"slave_status"));
    }

    #[test]
    fn connection_flags() {
        let dir = tempfile::tempdir().expect("dir");
        let cnf = dir.path().join("my.cnf");
        std::fs::write(&cnf, "[client]\nuser=monitor\n").expect("write");
        let m = parse(&[
            "--config.my-cnf",
            cnf.to_str().expect("utf8"),
            "--mysqld.address=127.0.0.1:3310",
            "--exporter.lock_wait_timeout=7",
            "--exporter.log_slow_filter",
        ]);
        let c = client_config(&m, Some("secret".into())).expect("config");
        assert_eq!(
            (c.user.as_str(), c.password.as_str(), c.port),
            ("monitor", "secret", 3310)
        );
        assert_eq!(
            session_settings(&m),
            SessionSettings {
                lock_wait_timeout: 7,
                log_slow_filter: true
            }
        );
        let m = parse(&[
            "--config.my-cnf",
            "/nonexistent",
            "--mysqld.username",
            "u",
            "--web.listen-address=:1",
        ]);
        assert_eq!(client_config(&m, None).expect("config").host, "localhost");
    }
}
