//! `nginx_exporter`: serves NGINX stub_status metrics on `/metrics` (default port 9113).

use std::sync::Arc;

use clap::{Args, FromArgMatches};
use exposition::Registry;
use exposition::http::{Exporter, LogArgs, WebArgs, with_listen_default};
use nginx_exporter::cli::{NginxArgs, normalize_args};

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cmd = clap::Command::new("nginx_exporter");
    // `about` after the flattened argument groups, whose own doc comments would otherwise replace it.
    let cmd = LogArgs::augment_args(WebArgs::augment_args(NginxArgs::augment_args(cmd)))
        .version(VERSION)
        .about("NGINX Prometheus Exporter: exports the stub_status page of NGINX as Prometheus metrics.");
    let matches = with_listen_default(cmd, ":9113").get_matches_from(normalize_args(std::env::args_os()));
    let web = WebArgs::from_arg_matches(&matches)?;
    LogArgs::from_arg_matches(&matches)?.init()?;
    let nginx = NginxArgs::from_arg_matches(&matches)?;
    tracing::info!(version = VERSION, "nginx-prometheus-exporter");
    let registry = Registry::new();
    registry.register(nginx.collector(VERSION)?);
    Exporter::new("nginx_exporter", Arc::new(registry))
        .version(VERSION)
        .title("NGINX Prometheus Exporter")
        .description("Prometheus Exporter for NGINX")
        .default_listen(":9113")
        .run(&web)
        .await?;
    Ok(())
}
