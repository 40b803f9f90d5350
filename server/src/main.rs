//! `server`: the monitoring server (a Prometheus 3.x drop-in). Without a subcommand it runs the server with
//! Prometheus' flags; `server check config FILE...` checks configuration files like promtool.

use std::path::PathBuf;
use std::process::ExitCode;

use std::collections::BTreeMap;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use exposition::http::LogArgs;
use server::app::{App, Options};
use server::check::check_config_files;
use server::config::Mode;
use server::promql::ParseOptions;
use server::promql::engine::EngineOptions;

/// The monitoring server: service discovery, scraping, TSDB, PromQL, rules and alerting (port 9090).
#[derive(Debug, Parser)]
#[command(name = "server", version, about, long_about = None)]
struct Cli {
    /// Prometheus configuration file path. Without it, ./prometheus.yml is used when present, else an embedded
    /// default that scrapes this server and a node_exporter on localhost:9100.
    #[arg(long = "config.file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    web_listen_address: String,
    /// Path to configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file")]
    web_config_file: Option<PathBuf>,
    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    web_enable_admin_api: bool,
    /// The URL under which the server is externally reachable.
    #[arg(long = "web.external-url", default_value = "")]
    web_external_url: String,
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    storage_tsdb_path: PathBuf,
    /// How long to retain samples in storage (default 15d when no size limit is set).
    #[arg(long = "storage.tsdb.retention.time", default_value = "")]
    storage_tsdb_retention_time: String,
    /// Maximum number of bytes of storage blocks to retain (0: no limit).
    #[arg(long = "storage.tsdb.retention.size", default_value = "0B")]
    storage_tsdb_retention_size: String,
    /// Minimum duration of a data block before being persisted.
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h", hide = true)]
    storage_tsdb_min_block_duration: String,
    /// Maximum duration compacted blocks may span.
    #[arg(long = "storage.tsdb.max-block-duration", default_value = "", hide = true)]
    storage_tsdb_max_block_duration: String,
    /// The maximum lookback duration for retrieving metrics during expression evaluations and federation.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    query_lookback_delta: String,
    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    query_timeout: String,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    query_max_concurrency: usize,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    query_max_samples: usize,
    /// Comma separated feature names to enable (e.g. promql-experimental-functions).
    #[arg(long = "enable-feature", value_delimiter = ',')]
    enable_feature: Vec<String>,
    /// Run in agent mode (no rules, alerting or local queries).
    #[arg(long = "agent")]
    agent: bool,
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check resources for validity (like promtool check).
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// TSDB tools: ingest-test, bench-write.
    #[command(disable_help_flag = true)]
    Tsdb {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Check if the rule files are valid or not.
    Rules {
        /// Exit with status 3 when lint finds problems (duplicate rules).
        #[arg(long = "lint-fatal")]
        lint_fatal: bool,
        /// The rule files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check if the config files are valid or not.
    Config {
        /// Check the files as agent-mode configurations.
        #[arg(long = "agent")]
        agent: bool,
        /// Only check the syntax, ignoring file paths the configuration references.
        #[arg(long = "syntax-only")]
        syntax_only: bool,
        /// The configuration files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Some(Command::Check {
            what:
                CheckCommand::Config {
                    agent,
                    syntax_only,
                    files,
                },
        }) => {
            let mode = if agent || cli.agent { Mode::Agent } else { Mode::Server };
            let ok = check_config_files(
                &files,
                mode,
                syntax_only,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            );
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Some(Command::Check {
            what: CheckCommand::Rules { lint_fatal, files },
        }) => {
            let ok =
                server::check::check_rules_files(&files, lint_fatal, &mut std::io::stdout(), &mut std::io::stderr());
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Some(Command::Tsdb { args }) => server::tsdb::cli::run(args),
        None => serve(cli, &matches),
    }
}

/// Every flag with its effective value (as `/api/v1/status/flags` shows them).
fn flag_values(matches: &clap::ArgMatches) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in matches.ids() {
        let name = id.as_str();
        if let Ok(Some(values)) = matches.try_get_raw(name) {
            let joined: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
            out.insert(name.to_string(), joined.join(","));
        }
    }
    out
}

fn serve(cli: Cli, matches: &clap::ArgMatches) -> ExitCode {
    if let Err(e) = cli.log.init() {
        eprintln!("{e}");
    }
    let config_file = cli.config_file.clone().or_else(|| {
        let local = PathBuf::from("prometheus.yml");
        local.exists().then_some(local)
    });
    let duration = |flag: &str, text: &str| -> Result<std::time::Duration, String> {
        server::config::Duration::parse(text)
            .map(|d| std::time::Duration::from_millis(d.as_millis()))
            .map_err(|e| format!("invalid value {text:?} for --{flag}: {e}"))
    };
    let parsed = (|| -> Result<(server::tsdb::Options, EngineOptions), String> {
        let mut tsdb = server::tsdb::Options::default();
        if !cli.storage_tsdb_retention_time.is_empty() {
            tsdb.retention = duration("storage.tsdb.retention.time", &cli.storage_tsdb_retention_time)?;
        }
        tsdb.min_block_duration = duration("storage.tsdb.min-block-duration", &cli.storage_tsdb_min_block_duration)?;
        tsdb.max_block_duration = if cli.storage_tsdb_max_block_duration.is_empty() {
            server::tsdb::Options::default_max_block_duration(tsdb.retention)
        } else {
            duration("storage.tsdb.max-block-duration", &cli.storage_tsdb_max_block_duration)?
        };
        tsdb.retention_size = server::config::Size::parse(&cli.storage_tsdb_retention_size)
            .map_err(|e| {
                format!(
                    "invalid value {:?} for --storage.tsdb.retention.size: {e}",
                    cli.storage_tsdb_retention_size
                )
            })?
            .bytes();
        let engine = EngineOptions {
            lookback_delta: duration("query.lookback-delta", &cli.query_lookback_delta)?,
            timeout: duration("query.timeout", &cli.query_timeout)?,
            max_samples: cli.query_max_samples,
            max_concurrency: cli.query_max_concurrency,
            enable_experimental_functions: cli.enable_feature.iter().any(|f| f == "promql-experimental-functions"),
            enable_duration_expressions: cli.enable_feature.iter().any(|f| f == "promql-duration-expr"),
            enable_extended_range_selectors: cli
                .enable_feature
                .iter()
                .any(|f| f == "promql-extended-range-selectors"),
            enable_binop_fill_modifiers: cli.enable_feature.iter().any(|f| f == "promql-binop-fill-modifiers"),
            ..EngineOptions::default()
        };
        Ok((tsdb, engine))
    })();
    let (tsdb, engine) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let feature = |name: &str| cli.enable_feature.iter().any(|f| f == name);
    let parse = ParseOptions {
        experimental_functions: feature("promql-experimental-functions"),
        duration_expressions: feature("promql-duration-expr"),
        extended_range_selectors: feature("promql-extended-range-selectors"),
        binop_fill_modifiers: feature("promql-binop-fill-modifiers"),
    };
    let options = Options {
        tsdb,
        engine,
        parse,
        config_file,
        listen_address: cli.web_listen_address.clone(),
        web_config_file: cli.web_config_file.clone(),
        enable_lifecycle: cli.web_enable_lifecycle,
        enable_admin_api: cli.web_enable_admin_api,
        storage_path: cli.storage_tsdb_path.clone(),
        flags: flag_values(matches),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let app = App::new(options)?;
        app.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = %e, "Fatal error");
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
