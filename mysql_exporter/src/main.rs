//! `mysql_exporter`: serves MySQL/MariaDB metrics on `/metrics` (default port 9104).

use std::sync::Arc;

use clap::FromArgMatches;
use exposition::Registry;
use exposition::http::{Exporter, LogArgs, WebArgs};
use mysql_exporter::cli;
use mysql_exporter::exporter;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let matches = cli::command(VERSION).get_matches();
    let web = WebArgs::from_arg_matches(&matches)?;
    LogArgs::from_arg_matches(&matches)?.init()?;
    tracing::info!(version = VERSION, "Starting mysqld_exporter");
    let client = match cli::client_config(&matches, std::env::var(cli::PASSWORD_ENV).ok()) {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(err = %err, "Error parsing host config");
            std::process::exit(1);
        }
    };
    let scrapers = cli::scrapers(&matches);
    for (spec, _) in &scrapers {
        tracing::info!(scraper = spec.name, "Scraper enabled");
    }
    let registry = Registry::new();
    exporter::register(
        &registry,
        tokio::runtime::Handle::current(),
        client,
        cli::session_settings(&matches),
        scrapers,
    )?;
    Exporter::new("mysqld_exporter", Arc::new(registry))
        .version(VERSION)
        .title("MySQLd Exporter")
        .description("Prometheus Exporter for MySQL servers")
        .default_listen(":9104")
        .run(&web)
        .await?;
    Ok(())
}
