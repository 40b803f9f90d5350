//! `nginx_exporter`: serves NGINX stub_status metrics on `/metrics` (default port 9113).

use std::sync::Arc;

use clap::FromArgMatches;
use exposition::Registry;
use exposition::http::{Exporter, LogArgs, WebArgs};
use nginx_exporter::cli::{NginxArgs, command, normalize_args};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One runtime thread serves HTTP and scrapes nginx (waiting for it in its event loop); the blocking pool only
/// resolves host names and checks passwords of `--web.config.file` users, so it is kept small.
fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let matches = command(VERSION).get_matches_from(normalize_args(std::env::args_os()));
    let mut web = WebArgs::from_arg_matches(&matches)?;
    LogArgs::from_arg_matches(&matches)?.init()?;
    let nginx = NginxArgs::from_arg_matches(&matches)?;
    web.disable_exporter_metrics |= nginx.nginx_metrics_only;
    tracing::info!(version = VERSION, "nginx-prometheus-exporter");
    let collector = Arc::new(nginx.collector(VERSION)?);
    Exporter::new("nginx_exporter", Arc::new(Registry::new()))
        .async_collector(collector)
        .version(VERSION)
        .title("NGINX Prometheus Exporter")
        .description("Prometheus Exporter for NGINX")
        .default_listen(":9113")
        .run(&web)
        .await?;
    Ok(())
}
