//! `server`: the monitoring server (a Prometheus 3.x drop-in). The binary parses Prometheus' flags and runs the
//! `check config` subcommand; serving is not built yet, so without a subcommand it prints its help.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use server::check::check_config_files;
use server::config::Mode;

/// The monitoring server: service discovery, scraping, TSDB, PromQL, rules and alerting (port 9090).
#[derive(Debug, Parser)]
#[command(name = "server", version, about, long_about = None)]
struct Cli {
    /// Prometheus configuration file path.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    config_file: PathBuf,
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
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    storage_tsdb_path: PathBuf,
    /// Run in agent mode (no rules, alerting or local queries).
    #[arg(long = "agent")]
    agent: bool,
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
    let cli = Cli::parse();
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
        Some(Command::Tsdb { args }) => server::tsdb::cli::run(args),
        None => {
            // Serving is not built yet: show what the binary accepts instead of pretending to run, with the exit
            // status clap uses for a missing required argument.
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}
