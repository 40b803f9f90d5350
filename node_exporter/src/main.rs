//! `node_exporter`: serves the host's hardware and OS metrics on `/metrics` (default port 9100).

use std::sync::Arc;

use clap::{Args, FromArgMatches};
use exposition::http::{Exporter, LogArgs, WebArgs, with_listen_default};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
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
