//! `node_exporter`: serves the host's hardware and OS metrics on `/metrics` (default port 9100).

use std::sync::Arc;

use clap::{Args, FromArgMatches};
use exposition::http::{Exporter, LogArgs, WebArgs, with_listen_default};

/// One thread serves HTTP and collects: a scrape is mostly the kernel producing procfs and sysfs files, which more
/// threads would not make faster on small hosts, while each collecting thread kept an allocator arena of about a
/// mebibyte. Scrapes arriving together are collected one after the other. Mount points are still asked for
/// statistics on the filesystem collector's own worker thread (so a hung mount times out), and the blocking pool
/// only checks `--web.config.file` passwords.
fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
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
        .collect_on_runtime_thread()
        .run(&web)
        .await?;
    Ok(())
}
