//! `mysql_exporter`: serves MySQL/MariaDB metrics on `/metrics` and `/probe` (default port 9104).

use std::sync::Arc;

use clap::FromArgMatches;
use exposition::Registry;
use exposition::http::{Exporter, LogArgs, WebArgs};
use mysql_exporter::web::{CnfSource, Web, WebSettings};
use mysql_exporter::{cli, exporter};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The runtime's own metrics handler is moved to a path no request can have (a space cannot appear in a request
/// target): `/metrics` is served by [`Web`], which needs the request's headers and parameters.
const UNREACHABLE_PATH: &str = "/ runtime metrics";

/// One runtime thread for HTTP and scrapes: scrapes are async tasks that mostly wait for the server (see
/// `exporter`), so more threads would only add memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let matches = cli::command(VERSION).get_matches();
    let web = WebArgs::from_arg_matches(&matches)?;
    LogArgs::from_arg_matches(&matches)?.init()?;
    tracing::info!(version = VERSION, "Starting mysqld_exporter");
    if !web.telemetry_path.starts_with('/') {
        anyhow::bail!("--web.telemetry-path {:?} must start with \"/\"", web.telemetry_path);
    }
    let source = CnfSource {
        path: cli::my_cnf_path(&matches),
        overrides: cli::overrides(&matches, std::env::var(cli::PASSWORD_ENV).ok()),
    };
    let cnf = match source.load() {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(file = %source.path.display(), err = %err, "Error parsing host config");
            std::process::exit(1);
        }
    };
    let scrapers = cli::scrapers(&matches);
    for (spec, _) in &scrapers {
        tracing::info!(scraper = spec.name, "Scraper enabled");
    }
    let exporter = exporter::Exporter::new(cli::session_settings(&matches), scrapers);
    let endpoints = Arc::new(Web::new(
        Arc::new(exporter),
        source,
        cnf,
        WebSettings {
            telemetry_path: web.telemetry_path.clone(),
            timeout_offset: cli::timeout_offset(&matches),
            version: VERSION.to_string(),
            disable_exporter_metrics: web.disable_exporter_metrics,
            max_requests: web.max_requests,
        },
    ));
    let runtime_args = WebArgs {
        telemetry_path: UNREACHABLE_PATH.to_string(),
        ..web
    };
    Exporter::new("mysqld_exporter", Arc::new(Registry::new()))
        .version(VERSION)
        .default_listen(":9104")
        .routes(endpoints.routes())
        .run(&runtime_args)
        .await?;
    Ok(())
}
