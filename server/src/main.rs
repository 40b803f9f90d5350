//! `server`: The monitoring server: service discovery, scraping, TSDB, PromQL, rules and alerting (port 9090).
//!
//! The binary parses its command line and prints `--help` and `--version`; its behaviour is built by the
//! issues that fill this crate.

use clap::Parser;

/// The monitoring server: service discovery, scraping, TSDB, PromQL, rules and alerting (port 9090).
#[derive(Debug, Parser)]
#[command(name = "server", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let cli = Cli::parse();
    let _ = cli;
}
