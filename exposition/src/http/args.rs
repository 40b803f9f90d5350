//! The command-line flags every exporter shares, as [`WebArgs`] (`--web.*`) and [`LogArgs`] (`--log.*`).
//!
//! The flag names, defaults and meanings follow prometheus/exporter-toolkit, promhttp and node_exporter, so an
//! existing systemd unit or Kubernetes manifest keeps working when the Go binary is swapped for ours.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The `--web.*` flags. Exporters embed them with `#[command(flatten)]`.
///
/// `--web.listen-address` has no clap default because its default differs per exporter (node 9100, nginx 9113,
/// mysqld 9104, jmx 5556): when the flag is not given, the runtime listens on the exporter's
/// [`Exporter::default_listen`](super::Exporter::default_listen) address. To show that default in `--help`, patch
/// the command with [`with_listen_default`]:
///
/// ```
/// use clap::{CommandFactory, FromArgMatches, Parser};
/// use exposition::http::{with_listen_default, LogArgs, WebArgs};
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     web: WebArgs,
///     #[command(flatten)]
///     log: LogArgs,
/// }
///
/// let cmd = with_listen_default(Cli::command(), ":9100");
/// let matches = cmd.try_get_matches_from(["node_exporter", "--web.max-requests=10"]).unwrap();
/// let cli = Cli::from_arg_matches(&matches).unwrap();
/// assert_eq!(cli.web.listen_address, [":9100"]);
/// assert_eq!(cli.web.max_requests, 10);
/// assert_eq!(cli.web.telemetry_path, "/metrics");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct WebArgs {
    /// Addresses on which to expose metrics and web interface. Repeatable to add multiple addresses. `:9100`
    /// means every interface.
    #[arg(id = LISTEN_ADDRESS_ID, long = "web.listen-address", value_name = "ADDRESS")]
    pub listen_address: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_name = "PATH")]
    pub telemetry_path: String,

    /// Path to configuration file that can enable TLS or authentication (exporter-toolkit web config format).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Maximum number of parallel scrape requests. Use 0 to disable.
    #[arg(long = "web.max-requests", default_value_t = 40, value_name = "N")]
    pub max_requests: usize,

    /// Exclude metrics about the exporter itself (process_*, promhttp_*).
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,
}

impl Default for WebArgs {
    fn default() -> Self {
        WebArgs {
            listen_address: Vec::new(),
            telemetry_path: "/metrics".to_string(),
            config_file: None,
            max_requests: 40,
            disable_exporter_metrics: false,
        }
    }
}

/// The clap id of `--web.listen-address`, for [`with_listen_default`] and `Command::mut_arg`.
pub const LISTEN_ADDRESS_ID: &str = "web.listen-address";

/// Sets the default of `--web.listen-address` on a command that flattens [`WebArgs`], so `--help` shows it and
/// parsing fills it in.
pub fn with_listen_default(cmd: clap::Command, address: &'static str) -> clap::Command {
    cmd.mut_arg(LISTEN_ADDRESS_ID, |arg| arg.default_value(address))
}

/// `--log.level`: the minimum level of log lines written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-request details.
    Debug,
    /// Startup, shutdown and notable events.
    #[default]
    Info,
    /// Problems that do not stop the exporter.
    Warn,
    /// Failures only.
    Error,
}

/// `--log.format`: how log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `time=... level=INFO source=file.rs:12 msg="..." key=value`
    #[default]
    Logfmt,
    /// One JSON object per line with the same keys.
    Json,
}

/// The `--log.*` flags of promslog. Initialise logging with [`LogArgs::init`](super::log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::Args)]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info, value_name = "LEVEL")]
    pub level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt, value_name = "FORMAT")]
    pub format: LogFormat,
}

/// Errors from [`resolve_listen_address`].
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// The address has no `:port` part.
    #[error("listen address {address:?}: missing port (expected host:port or :port)")]
    MissingPort {
        /// The address as given.
        address: String,
    },
    /// The port is not a number from 0 to 65535.
    #[error("listen address {address:?}: invalid port {port:?}")]
    InvalidPort {
        /// The address as given.
        address: String,
        /// The port part.
        port: String,
    },
    /// The host name could not be resolved.
    #[error("listen address {address:?}: cannot resolve host: {source}")]
    Resolve {
        /// The address as given.
        address: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The host name resolved to no address.
    #[error("listen address {address:?}: host resolves to no address")]
    NoAddress {
        /// The address as given.
        address: String,
    },
}

/// Resolves a Go-style listen address to the socket addresses to bind.
///
/// `:9100` and `0.0.0.0:9100`-style addresses work as in Go's `net.Listen("tcp", ..)`: an empty host means every
/// interface (IPv6 and IPv4 where the system has a dual-stack socket, else IPv4), `[::1]:9100` is IPv6, and a
/// host name is resolved. Port 0 asks the system for a free port.
pub fn resolve_listen_address(address: &str) -> Result<Vec<SocketAddr>, AddressError> {
    let Some((host, port_str)) = address.rsplit_once(':') else {
        return Err(AddressError::MissingPort {
            address: address.to_string(),
        });
    };
    let port: u16 = port_str.parse().map_err(|_| AddressError::InvalidPort {
        address: address.to_string(),
        port: port_str.to_string(),
    })?;
    if host.is_empty() {
        return Ok(vec![SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)]);
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|source| AddressError::Resolve {
            address: address.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddressError::NoAddress {
            address: address.to_string(),
        });
    }
    Ok(addrs)
}

/// The IPv4 fallback for an all-interfaces IPv6 address, for systems without dual-stack sockets.
pub(crate) fn ipv4_fallback(addr: SocketAddr) -> Option<SocketAddr> {
    match addr.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        web: WebArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    fn parse(default: &'static str, argv: &[&str]) -> Result<Cli, clap::Error> {
        let mut full = vec!["exporter"];
        full.extend_from_slice(argv);
        let matches = with_listen_default(Cli::command(), default).try_get_matches_from(full)?;
        Cli::from_arg_matches(&matches)
    }

    #[test]
    fn flags_and_defaults() {
        let cases: &[(&[&str], WebArgs, LogArgs)] = &[
            (
                &[],
                WebArgs {
                    listen_address: vec![":9100".into()],
                    ..WebArgs::default()
                },
                LogArgs::default(),
            ),
            (
                &[
                    "--web.listen-address=127.0.0.1:1",
                    "--web.listen-address",
                    "[::1]:2",
                    "--web.telemetry-path=/m",
                    "--web.config.file=/etc/web.yml",
                    "--web.max-requests=0",
                    "--web.disable-exporter-metrics",
                    "--log.level=debug",
                    "--log.format=json",
                ],
                WebArgs {
                    listen_address: vec!["127.0.0.1:1".into(), "[::1]:2".into()],
                    telemetry_path: "/m".into(),
                    config_file: Some("/etc/web.yml".into()),
                    max_requests: 0,
                    disable_exporter_metrics: true,
                },
                LogArgs {
                    level: LogLevel::Debug,
                    format: LogFormat::Json,
                },
            ),
        ];
        for (argv, web, log) in cases {
            let cli = parse(":9100", argv).unwrap();
            assert_eq!(&cli.web, web, "{argv:?}");
            assert_eq!(&cli.log, log, "{argv:?}");
        }
        assert!(parse(":9100", &["--log.level=trace"]).is_err());
        assert!(parse(":9100", &["--log.format=text"]).is_err());
        assert!(parse(":9100", &["--web.max-requests=-1"]).is_err());
        let help = with_listen_default(Cli::command(), ":9113")
            .render_long_help()
            .to_string();
        assert!(help.contains("[default: :9113]"), "{help}");
    }

    #[test]
    fn listen_addresses() {
        let v6_any = |p| SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), p);
        let cases: &[(&str, Option<Vec<SocketAddr>>)] = &[
            (":9100", Some(vec![v6_any(9100)])),
            ("0.0.0.0:9100", Some(vec!["0.0.0.0:9100".parse().unwrap()])),
            ("127.0.0.1:0", Some(vec!["127.0.0.1:0".parse().unwrap()])),
            ("[::1]:9104", Some(vec!["[::1]:9104".parse().unwrap()])),
            ("9100", None),
            (":http", None),
            (":65536", None),
            ("", None),
        ];
        for (addr, want) in cases {
            let got = resolve_listen_address(addr).ok();
            assert_eq!(&got, want, "{addr}");
        }
        assert!(
            resolve_listen_address("localhost:9100")
                .unwrap()
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 9100)
        );
        assert_eq!(ipv4_fallback(v6_any(1)), Some("0.0.0.0:1".parse().unwrap()));
        assert_eq!(ipv4_fallback("[::1]:1".parse().unwrap()), None);
    }
}
