//! `node_exporter`: Prometheus exporter for hardware and OS metrics exposed by *NIX kernels (port 9100).
//!
//! The binary parses its command line and prints `--help` and `--version`; its behaviour is built by the
//! issues that fill this crate.

use clap::Parser;

/// Prometheus exporter for hardware and OS metrics exposed by *NIX kernels (port 9100).
#[derive(Debug, Parser)]
#[command(name = "node_exporter", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let cli = Cli::parse();
    let _ = cli;
}
