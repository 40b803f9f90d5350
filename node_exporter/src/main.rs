//! `node_exporter`: serves the host's hardware and OS metrics on `/metrics` (default port 9100).

use std::sync::Arc;

use clap::{Args, FromArgMatches};
use exposition::http::{Exporter, LogArgs, WebArgs, with_listen_default};

/// One runtime thread serves HTTP; collection runs on at most two blocking threads (the CPU work of a scrape is
/// mostly the kernel producing procfs and sysfs files, so more threads add memory, one allocator arena each, and
/// no throughput on small hosts; further scrapes queue for a thread).
fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cmd = LogArgs::augment_args(WebArgs::augment_args(node_exporter::cli::command()));
    let matches = with_listen_default(cmd, ":9100").get_matches();
    let web = WebArgs::from_arg_matches(&matches)?;
    LogArgs::from_arg_matches(&matches)?.init()?;
    node_exporter::collector::raise_nofile_limit();
    let registry = node_exporter::cli::registry(&matches)?;
    Exporter::new("node_exporter", Arc::new(registry))
        .version(env!("CARGO_PKG_VERSION"))
        .title("Node Exporter")
        .description("Prometheus Node Exporter")
        .default_listen(":9100")
        .run(&web)
        .await?;
    Ok(())
}
