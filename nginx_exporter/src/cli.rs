//! The `--nginx.*` and `--prometheus.*` flags of nginx-prometheus-exporter 1.x, with their environment
//! variables, and the collector they configure; [`command`] assembles the whole command line with the shared
//! `--web.*` and `--log.*` flags.
//!
//! For users of the 0.x releases (Debian ships 0.11) single-dash flags are rewritten to double-dash by
//! [`normalize_args`], and the removed `--prometheus.const-labels` (comma-separated list), `--nginx.retries` and
//! `--nginx.retry-interval` are still accepted (hidden; the retry flags have no effect because this exporter, like
//! 1.x, does not probe nginx at start-up).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args, Command};
use exposition::Labels;
use exposition::http::{LogArgs, WebArgs, with_listen_default};

use crate::client::{Client, Target, TargetError, TlsError, TlsOptions, tls};
use crate::collector::NginxCollector;

/// Upstream's default scrape URI.
pub const DEFAULT_SCRAPE_URI: &str = "http://127.0.0.1:8080/stub_status";

/// The nginx flags.
#[derive(Debug, Clone, Args)]
pub struct NginxArgs {
    /// A URI or unix domain socket path (unix:/path/to/socket[:/request/path]) for scraping NGINX metrics. The
    /// stub_status page must be available through the URI. Repeatable for multiple URIs.
    #[arg(long = "nginx.scrape-uri", env = "SCRAPE_URI", default_value = DEFAULT_SCRAPE_URI, action = ArgAction::Append)]
    pub scrape_uri: Vec<String>,

    /// Perform SSL certificate verification.
    #[arg(
        long = "nginx.ssl-verify",
        env = "SSL_VERIFY",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = parse_bool,
        overrides_with = "no_ssl_verify",
    )]
    pub ssl_verify: bool,

    /// Do not perform SSL certificate verification (the default).
    #[arg(long = "no-nginx.ssl-verify", action = ArgAction::SetTrue, hide = true, overrides_with = "ssl_verify")]
    pub no_ssl_verify: bool,

    /// Path to the PEM encoded CA certificate file used to validate the servers SSL certificate.
    #[arg(long = "nginx.ssl-ca-cert", env = "SSL_CA_CERT", value_name = "PATH")]
    pub ssl_ca_cert: Option<PathBuf>,

    /// Path to the PEM encoded client certificate file to use when connecting to the server.
    #[arg(long = "nginx.ssl-client-cert", env = "SSL_CLIENT_CERT", value_name = "PATH")]
    pub ssl_client_cert: Option<PathBuf>,

    /// Path to the PEM encoded client certificate key file to use when connecting to the server.
    #[arg(long = "nginx.ssl-client-key", env = "SSL_CLIENT_KEY", value_name = "PATH")]
    pub ssl_client_key: Option<PathBuf>,

    /// A timeout for scraping metrics from NGINX.
    #[arg(long = "nginx.timeout", env = "TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Start the exporter for NGINX Plus (not supported: this exporter reads stub_status only).
    #[arg(
        long = "nginx.plus",
        env = "NGINX_PLUS",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = parse_bool,
        overrides_with = "no_plus",
    )]
    pub plus: bool,

    /// Start the exporter for NGINX (the default).
    #[arg(long = "no-nginx.plus", action = ArgAction::SetTrue, hide = true, overrides_with = "plus")]
    pub no_plus: bool,

    /// Pass proxy protocol payload to nginx listeners (not supported).
    #[arg(
        long = "nginx.proxy-protocol",
        env = "PROXY_PROTOCOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = parse_bool,
    )]
    pub proxy_protocol: bool,

    /// Label that will be used in every metric. Format is label=value. It can be repeated multiple times.
    #[arg(
        long = "prometheus.const-label",
        env = "CONST_LABELS",
        value_name = "NAME=VALUE",
        value_parser = parse_const_label,
        value_delimiter = '\n',
        action = ArgAction::Append,
    )]
    pub const_label: Vec<(String, String)>,

    /// 0.x spelling: a comma separated list of constant labels (label1=value1,label2=value2).
    #[arg(long = "prometheus.const-labels", value_name = "LIST", value_parser = parse_const_label_list, hide = true)]
    pub const_labels_list: Option<LabelList>,

    /// 0.x start-up retries; accepted for compatibility, no effect.
    #[arg(long = "nginx.retries", value_name = "N", hide = true)]
    pub retries: Option<u64>,

    /// 0.x start-up retry interval; accepted for compatibility, no effect.
    #[arg(long = "nginx.retry-interval", value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub retry_interval: Option<Duration>,

    /// Expose only NGINX metrics (and the build info): no process_* or promhttp_* metrics. Same as
    /// --web.disable-exporter-metrics.
    #[arg(long = "web.nginx-metrics-only", env = "NGINX_METRICS_ONLY", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub nginx_metrics_only: bool,
}

/// The full command line: the nginx flags, `--web.*` (with upstream's environment variables and `:9113`) and
/// `--log.*`.
pub fn command(version: &'static str) -> Command {
    let cmd = Command::new("nginx_exporter");
    let cmd = LogArgs::augment_args(WebArgs::augment_args(NginxArgs::augment_args(cmd)));
    // Upstream gives every `web.X` flag the environment variable X upper-cased with `.` and `-` as `_`.
    let env = [
        (exposition::http::LISTEN_ADDRESS_ID, "LISTEN_ADDRESS"),
        ("telemetry_path", "TELEMETRY_PATH"),
        ("config_file", "CONFIG_FILE"),
        ("max_requests", "MAX_REQUESTS"),
        ("disable_exporter_metrics", "DISABLE_EXPORTER_METRICS"),
    ];
    let mut cmd = with_listen_default(cmd, ":9113");
    for (id, var) in env {
        if cmd.get_arguments().any(|a| a.get_id() == id) {
            cmd = cmd.mut_arg(id, |a| a.env(var));
        }
    }
    // `about` last: the flattened groups' doc comments would replace it.
    cmd.version(version)
        .about("NGINX Prometheus Exporter: exports the stub_status page of NGINX as Prometheus metrics.")
}

/// Why the flags do not make a working exporter.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--nginx.plus` was given.
    #[error("NGINX Plus is not supported: this exporter reads the stub_status page of NGINX only (--nginx.plus)")]
    PlusUnsupported,
    /// `--nginx.proxy-protocol` was given.
    #[error("--nginx.proxy-protocol is not supported")]
    ProxyProtocolUnsupported,
    /// No scrape URI.
    #[error("no scrape addresses provided")]
    NoScrapeUri,
    /// A scrape URI is malformed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A const label name is repeated (including `addr` with several scrape URIs).
    #[error("--prometheus.const-label: duplicate label name {0:?}")]
    DuplicateLabel(String),
}

impl NginxArgs {
    /// The TLS options from the flags.
    pub fn tls_options(&self) -> TlsOptions {
        if self.ssl_client_cert.is_some() != self.ssl_client_key.is_some() {
            tracing::warn!(
                "--nginx.ssl-client-cert and --nginx.ssl-client-key must be given together; no client certificate \
                 is used"
            );
        }
        TlsOptions {
            verify: self.ssl_verify && !self.no_ssl_verify,
            ca_cert: self.ssl_ca_cert.clone(),
            client_cert: self.ssl_client_cert.clone(),
            client_key: self.ssl_client_key.clone(),
        }
    }

    /// The const labels, sorted.
    pub fn const_labels(&self) -> Result<Labels, ConfigError> {
        let mut labels = Labels::new();
        let list = self.const_labels_list.iter().flat_map(|l| &l.0);
        for (name, value) in list.chain(&self.const_label) {
            // Later values win, as with kingpin's map flags.
            labels.0.retain(|l| &l.name != name);
            labels.push(name.clone(), value.clone());
        }
        if self.scrape_uri.len() > 1 && labels.get("addr").is_some() {
            return Err(ConfigError::DuplicateLabel("addr".to_string()));
        }
        labels.sort();
        Ok(labels)
    }

    /// Validates the flags and builds the collector.
    pub fn collector(&self, version: &str) -> Result<NginxCollector, ConfigError> {
        if self.plus && !self.no_plus {
            return Err(ConfigError::PlusUnsupported);
        }
        if self.proxy_protocol {
            return Err(ConfigError::ProxyProtocolUnsupported);
        }
        if self.retries.is_some() || self.retry_interval.is_some() {
            tracing::warn!(
                "--nginx.retries and --nginx.retry-interval have no effect: nginx is not probed at start-up"
            );
        }
        if self.scrape_uri.is_empty() {
            return Err(ConfigError::NoScrapeUri);
        }
        let targets = self
            .scrape_uri
            .iter()
            .map(|u| Target::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        let labels = self.const_labels()?;
        let tls = if targets
            .iter()
            .any(|t| matches!(t.endpoint, crate::client::Endpoint::Https { .. }))
        {
            Some(tls::client_config(&self.tls_options())?)
        } else {
            None
        };
        let user_agent = format!("NGINX-Prometheus-Exporter/v{version}");
        let clients = targets
            .into_iter()
            .map(|t| Client::new(t, self.timeout, tls.as_ref().map(Arc::clone), user_agent.clone()))
            .collect();
        Ok(NginxCollector::new(clients, &labels))
    }
}

/// Rewrites single-dash long flags (`-nginx.scrape-uri=...`, the 0.x spelling) to double-dash, printing upstream's
/// deprecation notice for each, as nginx-prometheus-exporter 1.x does.
pub fn normalize_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        if i > 0
            && let Some(s) = arg.to_str()
            && s.starts_with('-')
            && !s.starts_with("--")
            && s.len() > 2
        {
            let fixed = format!("-{s}");
            println!(
                "the flag format is deprecated and will be removed in a future release, please use the new format: {fixed}"
            );
            out.push(fixed.into());
        } else {
            out.push(arg);
        }
    }
    out
}

/// Parses a boolean the way Go's `strconv.ParseBool` does.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {s:?}")),
    }
}

/// Parses a `name=value` const label (the value may contain `=`).
pub fn parse_const_label(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    if !exposition::model::is_valid_label_name(name) {
        return Err(format!("invalid label name {name:?}"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The labels of 0.x's `--prometheus.const-labels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelList(pub Vec<(String, String)>);

/// Parses 0.x's comma separated `name=value` list (empty: no labels).
pub fn parse_const_label_list(s: &str) -> Result<LabelList, String> {
    if s.is_empty() {
        return Ok(LabelList(Vec::new()));
    }
    s.split(',')
        .map(|item| {
            let (name, value) = parse_const_label(item)?;
            if value.contains('=') {
                return Err(format!("const label {item:?} has wrong format, expected label=value"));
            }
            Ok((name, value))
        })
        .collect::<Result<_, _>>()
        .map(LabelList)
}

/// Parses a non-negative Go duration (`5s`, `1m30s`, `250ms`, `1.5h`, `0`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(format!("negative duration {s} is not valid"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn parse(args: &[&str]) -> Result<NginxArgs, clap::Error> {
        let argv = std::iter::once("nginx_exporter").chain(args.iter().copied());
        let m = command("0").try_get_matches_from(argv)?;
        NginxArgs::from_arg_matches(&m)
    }

    #[test]
    fn whole_command() {
        command("0").debug_assert();
        let m = command("0")
            .try_get_matches_from(["x", "--web.telemetry-path=/m", "--log.level=debug"])
            .expect("parse");
        let web = WebArgs::from_arg_matches(&m).expect("web");
        assert_eq!(web.listen_address, [":9113"]);
        assert_eq!(web.telemetry_path, "/m");
        let env: Vec<_> = command("0")
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        for var in [
            "LISTEN_ADDRESS",
            "TELEMETRY_PATH",
            "CONFIG_FILE",
            "SCRAPE_URI",
            "CONST_LABELS",
            "TIMEOUT",
        ] {
            assert!(env.iter().any(|e| e == var), "{var} missing from {env:?}");
        }
    }

    #[test]
    fn compatibility_flags_of_0_x() {
        let a = parse(&[
            "--prometheus.const-labels=a=1,b=2",
            "--prometheus.const-label=b=3",
            "--nginx.retries=3",
            "--nginx.retry-interval=1s",
        ])
        .expect("parse");
        assert_eq!(
            a.const_labels().expect("labels"),
            Labels::from_pairs([("a", "1"), ("b", "3")])
        );
        assert!(a.collector("1").is_ok());
        assert!(parse(&["--prometheus.const-labels=a=1=2"]).is_err());
        assert!(parse(&["--prometheus.const-labels=a"]).is_err());
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).expect("parse");
        assert_eq!(a.scrape_uri, [DEFAULT_SCRAPE_URI]);
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert!(!a.tls_options().verify);
        assert!(a.collector("1.0.0").is_ok());
    }

    #[test]
    fn flags() {
        let a = parse(&[
            "--nginx.scrape-uri=http://a/s",
            "--nginx.scrape-uri",
            "unix:/run/n.sock:/s",
            "--nginx.ssl-verify",
            "--nginx.timeout=1m30s",
            "--prometheus.const-label=dc=eu=1",
            "--prometheus.const-label",
            "app=web",
        ])
        .expect("parse");
        assert_eq!(a.scrape_uri, ["http://a/s", "unix:/run/n.sock:/s"]);
        assert!(a.tls_options().verify);
        assert_eq!(a.timeout, Duration::from_secs(90));
        assert_eq!(
            a.const_labels().expect("labels"),
            Labels::from_pairs([("app", "web"), ("dc", "eu=1")])
        );

        assert!(
            !parse(&["--nginx.ssl-verify", "--no-nginx.ssl-verify"])
                .expect("parse")
                .tls_options()
                .verify
        );
        assert!(
            !parse(&["--nginx.ssl-verify=false"])
                .expect("parse")
                .tls_options()
                .verify
        );
    }

    #[test]
    fn rejected() {
        let plus = parse(&["--nginx.plus"])
            .expect("parse")
            .collector("1")
            .expect_err("plus");
        assert!(plus.to_string().contains("NGINX Plus is not supported"), "{plus}");
        assert!(
            parse(&["--nginx.plus", "--no-nginx.plus"])
                .expect("parse")
                .collector("1")
                .is_ok()
        );
        assert!(
            parse(&["--nginx.proxy-protocol"])
                .expect("parse")
                .collector("1")
                .is_err()
        );
        assert!(
            parse(&["--nginx.scrape-uri=ftp://x"])
                .expect("parse")
                .collector("1")
                .is_err()
        );
        assert!(parse(&["--prometheus.const-label=1x=y"]).is_err());
        assert!(parse(&["--prometheus.const-label=novalue"]).is_err());
        assert!(parse(&["--nginx.timeout=-1s"]).is_err());
        let dup = parse(&[
            "--nginx.scrape-uri=http://a/",
            "--nginx.scrape-uri=http://b/",
            "--prometheus.const-label=addr=x",
        ])
        .expect("parse")
        .collector("1")
        .expect_err("addr clash");
        assert!(matches!(dup, ConfigError::DuplicateLabel(_)), "{dup}");
    }

    #[test]
    fn durations() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("5s", Some(Duration::from_secs(5))),
            ("0", Some(Duration::ZERO)),
            ("250ms", Some(Duration::from_millis(250))),
            ("1.5h", Some(Duration::from_secs(5400))),
            ("1h2m3s", Some(Duration::from_secs(3723))),
            ("10us", Some(Duration::from_micros(10))),
            ("", None),
            ("5", None),
            ("s", None),
            ("5x", None),
            ("-5s", None),
            ("1..5s", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).ok(), *want, "{text}");
        }
    }

    #[test]
    fn single_dash_flags() {
        let args = ["x", "-nginx.scrape-uri=http://a/", "-h", "--web.listen-address=:1", "-"];
        let got = normalize_args(args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            got,
            [
                "x",
                "--nginx.scrape-uri=http://a/",
                "-h",
                "--web.listen-address=:1",
                "-"
            ]
        );
    }
}
