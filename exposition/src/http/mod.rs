//! The exporter HTTP runtime shared by node, nginx, mysqld and jmx exporters (feature `http`).
//!
//! It serves a [`Registry`] the way prometheus/exporter-toolkit, promhttp and node_exporter serve theirs:
//!
//! - flags: [`WebArgs`] (`--web.listen-address` (repeatable), `--web.telemetry-path`, `--web.config.file`,
//!   `--web.max-requests`, `--web.disable-exporter-metrics`) and [`LogArgs`] (`--log.level`, `--log.format`);
//! - `GET <telemetry path>`: the registry gathered on a blocking thread (or, for an exporter whose work waits on
//!   the network, an [`AsyncCollector`] awaited on the runtime thread), in the format negotiated from `Accept`
//!   (text 0.0.4 or OpenMetrics 1.0), gzipped when `Accept-Encoding` allows; `collect[]`/`exclude[]` select
//!   named collectors (unknown name: 400); beyond `--web.max-requests` concurrent scrapes: 503;
//! - `GET /`: an HTML landing page with the exporter's name, version and a link to the metrics; 404 elsewhere;
//! - `--web.config.file` (exporter-toolkit format, see [`config`]): TLS with client certificate policies, HTTP/2
//!   switch, security headers, bcrypt basic auth with a verification cache, request rate limit; users,
//!   headers and certificate files are picked up without a restart when their files change;
//! - self metrics: `process_*` (Linux), `promhttp_metric_handler_*` unless `--web.disable-exporter-metrics`, and
//!   always `<exporter>_build_info`;
//! - graceful shutdown on SIGTERM/SIGINT: listeners close, in-flight requests finish.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use clap::{CommandFactory, FromArgMatches, Parser};
//! use exposition::http::{with_listen_default, Exporter, LogArgs, WebArgs};
//! use exposition::Registry;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     web: WebArgs,
//!     #[command(flatten)]
//!     log: LogArgs,
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> anyhow::Result<()> {
//!     // `with_listen_default` makes `--help` show the default; `default_listen` below is what the runtime uses
//!     // when the flag is absent, so either one alone is enough for serving.
//!     let matches = with_listen_default(Cli::command(), ":9100").get_matches();
//!     let cli = Cli::from_arg_matches(&matches)?;
//!     cli.log.init()?;
//!     let registry = Arc::new(Registry::with_scrape_metrics("node"));
//!     // registry.register_named("cpu", CpuCollector::new(..))?;
//!     Exporter::new("node_exporter", registry)
//!         .version(env!("CARGO_PKG_VERSION"))
//!         .description("Prometheus Node Exporter")
//!         .default_listen(":9100")
//!         .run(&cli.web)
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! Tests bind to port 0 and learn the address:
//!
//! ```no_run
//! # async fn t(registry: std::sync::Arc<exposition::Registry>) -> Result<(), exposition::http::HttpError> {
//! use exposition::http::{Exporter, WebArgs};
//! let args = WebArgs { listen_address: vec!["127.0.0.1:0".into()], ..WebArgs::default() };
//! let server = Exporter::new("test_exporter", registry).bind(&args).await?;
//! let addr = server.local_addrs()[0];
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(server.serve_until(async { let _ = stopped.await; }));
//! // ... requests to http://{addr}/metrics ...
//! let _ = stop.send(());
//! task.await.expect("server task")?;
//! # Ok(()) }
//! ```

mod args;
mod auth;
pub mod config;
mod handler;
mod landing;
mod log;
mod process;
mod self_metrics;
mod server;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;

pub use args::{
    AddressError, LISTEN_ADDRESS_ID, LogArgs, LogFormat, LogLevel, WebArgs, resolve_listen_address, with_listen_default,
};
pub use config::{WebConfig, WebConfigError};
pub use landing::LandingPage;
pub use log::{LogError, PromslogFormat};
pub use process::ProcessCollector;
pub use self_metrics::{BuildInfo, goarch, goos, rustc_version};
pub use server::{Server, shutdown_signal};

use crate::registry::Registry;

/// Errors from starting or running the HTTP runtime.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A `--web.listen-address` value is malformed or cannot be resolved.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// A listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address as given.
        address: String,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// No listen address was given and the exporter has no default.
    #[error("no web listen address specified")]
    NoListenAddress,
    /// `--web.telemetry-path` does not start with `/`.
    #[error("--web.telemetry-path {path:?} must start with \"/\"")]
    TelemetryPath {
        /// The path as given.
        path: String,
    },
    /// The web config file is invalid.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The TLS settings could not be turned into a TLS server.
    #[error("web config {path}: TLS: {message}")]
    Tls {
        /// The web config file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Waiting for termination signals failed.
    #[error("cannot wait for termination signals: {0}")]
    Signal(#[source] std::io::Error),
}

/// An exporter's HTTP runtime, configured with builder methods and started with [`Exporter::run`],
/// [`Exporter::bind`] or [`Exporter::with_listeners`].
#[derive(Debug, Clone)]
pub struct Exporter {
    name: String,
    registry: Arc<Registry>,
    build: BuildInfo,
    title: Option<String>,
    description: Option<String>,
    default_listen: Vec<String>,
    procfs: PathBuf,
    routes: Option<RoutesField>,
    collector: Option<AsyncField>,
    inline: bool,
}

/// A collector whose scrape mostly waits on the network (e.g. fetching a status page over a kept connection):
/// set with [`Exporter::async_collector`], it runs as a future on the runtime thread instead of occupying a
/// blocking thread, which saves the two thread hand-offs (and their wake-ups) of every scrape. The registry of
/// such an exporter is then gathered on the runtime thread too, so it must hold only collectors that do not
/// block (instruments, small procfs reads); its families and the async collector's are merged by name. The
/// async collector is not named: `collect[]`/`exclude[]` select among the registry's collectors only.
pub trait AsyncCollector: Send + Sync + 'static {
    /// Collects the exporter's families. Failures are reported in the families (e.g. an `up` gauge at 0) and
    /// logged by the collector, as a scrape must still answer.
    fn collect(&self) -> CollectFuture<'_>;
}

/// The future an [`AsyncCollector`] returns.
pub type CollectFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<crate::model::MetricFamily>> + Send + 'a>>;

/// [`AsyncCollector`] inside the `Debug` exporter.
#[derive(Clone)]
struct AsyncField(Arc<dyn AsyncCollector>);

impl std::fmt::Debug for AsyncField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncCollector")
    }
}

/// [`Routes`] inside the `Debug` exporter.
#[derive(Clone)]
struct RoutesField(Routes);

impl std::fmt::Debug for RoutesField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routes")
    }
}

/// A request with its body read into memory, as [`Routes`] receive it.
pub type RouteRequest = hyper::Request<bytes::Bytes>;

/// A response from [`Routes`].
pub type RouteResponse = hyper::Response<http_body_util::Full<bytes::Bytes>>;

/// Handles every request the runtime does not (everything but the telemetry path): programs with their own HTTP
/// API (the server) plug it in to get the runtime's listeners, TLS, basic auth, headers and rate limits.
pub type Routes = Arc<
    dyn Fn(RouteRequest) -> std::pin::Pin<Box<dyn std::future::Future<Output = RouteResponse> + Send>> + Send + Sync,
>;

/// Largest request body [`Routes`] are given (larger requests get 413).
pub const MAX_ROUTE_BODY: usize = 32 << 20;

impl Exporter {
    /// A runtime for the exporter `name` (e.g. `node_exporter`, which also names `node_exporter_build_info`)
    /// serving `registry`.
    pub fn new(name: impl Into<String>, registry: Arc<Registry>) -> Exporter {
        Exporter {
            name: name.into(),
            registry,
            build: BuildInfo::default(),
            title: None,
            description: None,
            default_listen: Vec::new(),
            procfs: PathBuf::from("/proc"),
            routes: None,
            collector: None,
            inline: false,
        }
    }

    /// Sets the version shown in `<exporter>_build_info{version}` and on the landing page.
    pub fn version(mut self, version: impl Into<String>) -> Exporter {
        self.build.version = version.into();
        self
    }

    /// Sets all build information (version, revision, branch, tags).
    pub fn build_info(mut self, info: BuildInfo) -> Exporter {
        self.build = info;
        self
    }

    /// Sets the landing page title (default: the name in title case, `node_exporter` -> `Node Exporter`).
    pub fn title(mut self, title: impl Into<String>) -> Exporter {
        self.title = Some(title.into());
        self
    }

    /// Sets the landing page description line (default: `Prometheus <title>`).
    pub fn description(mut self, description: impl Into<String>) -> Exporter {
        self.description = Some(description.into());
        self
    }

    /// Sets the address listened on when `--web.listen-address` is not given, e.g. `:9100`.
    pub fn default_listen(mut self, address: impl Into<String>) -> Exporter {
        self.default_listen = vec![address.into()];
        self
    }

    /// Sets the procfs mount the process collector reads (default `/proc`).
    pub fn procfs(mut self, path: impl Into<PathBuf>) -> Exporter {
        self.procfs = path.into();
        self
    }

    /// Serves every path but the telemetry path with `routes` (which then also owns `/`: no landing page).
    pub fn routes(mut self, routes: Routes) -> Exporter {
        self.routes = Some(RoutesField(routes));
        self
    }

    /// Adds `collector`'s families to every scrape of the telemetry path, awaited on the runtime thread; the
    /// registry is then gathered on the runtime thread as well (see [`AsyncCollector`]).
    pub fn async_collector(mut self, collector: Arc<dyn AsyncCollector>) -> Exporter {
        self.collector = Some(AsyncField(collector));
        self
    }

    /// Gathers the registry on the runtime thread instead of a blocking thread, for registries whose collectors
    /// only read local files (procfs, sysfs) quickly. Scrapes then run one at a time with the HTTP work around
    /// them, and the process needs no thread, and no allocator arena, for collection. A panicking collector still
    /// answers a 500.
    pub fn collect_on_runtime_thread(mut self) -> Exporter {
        self.inline = true;
        self
    }

    /// Binds the listen addresses and serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run(self, args: &WebArgs) -> Result<(), HttpError> {
        self.bind(args).await?.run().await
    }

    /// Validates the configuration and binds every listen address (flag values, else the default).
    pub async fn bind(self, args: &WebArgs) -> Result<Server, HttpError> {
        let addresses = if args.listen_address.is_empty() {
            self.default_listen.clone()
        } else {
            args.listen_address.clone()
        };
        if addresses.is_empty() {
            return Err(HttpError::NoListenAddress);
        }
        // Check the configuration before binding so a bad config never opens a port.
        let prepared = server::prepare(&self, args)?;
        let listeners = server::bind_all(&addresses).await?;
        Ok(Server::new(prepared, listeners))
    }

    /// Validates the configuration and serves on listeners the caller bound.
    pub fn with_listeners(self, args: &WebArgs, listeners: Vec<tokio::net::TcpListener>) -> Result<Server, HttpError> {
        let prepared = server::prepare(&self, args)?;
        Ok(Server::new(prepared, listeners))
    }
}
