//! `jmx_exporter`: Prometheus exporter for JMX MBeans of a JVM (port 5556).
//!
//! The binary parses its command line and prints `--help` and `--version`; its behaviour is built by the
//! issues that fill this crate.

use clap::Parser;

/// Prometheus exporter for JMX MBeans of a JVM (port 5556).
#[derive(Debug, Parser)]
#[command(name = "jmx_exporter", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let cli = Cli::parse();
    let _ = cli;
}
