//! The running server: loads the configuration (a file, or the embedded default that scrapes the server itself and
//! a local node_exporter), opens the storage, starts scraping, serves the web API, reloads on SIGHUP and
//! `POST /-/reload`, and shuts down on SIGTERM, SIGINT or `POST /-/quit`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use exposition::Registry;
use exposition::http::{BuildInfo, Exporter, WebArgs};
use exposition::instrument::{Gauge, Opts};

use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Mode};
use crate::discovery::{
    DiscovererOptions, Manager as DiscoveryManager, ManagerOptions, SdMetrics, TargetSets, scrape_jobs,
};
use crate::model::labels::Labels;
use crate::promql::engine::{Engine, EngineOptions};
use crate::promql::{Expr, ParseError, ParseOptions};
use crate::scrape::manager::ScrapeManager;
use crate::storage::Storage;
use crate::tsdb::Db;

/// What the command line sets.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--config.file`; `None` runs the embedded default configuration.
    pub config_file: Option<PathBuf>,
    /// `--web.listen-address`.
    pub listen_address: String,
    /// `--web.config.file`.
    pub web_config_file: Option<PathBuf>,
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// `--web.enable-admin-api`.
    pub enable_admin_api: bool,
    /// `--storage.tsdb.path`.
    pub storage_path: PathBuf,
    /// TSDB settings from the `--storage.tsdb.*` flags.
    pub tsdb: crate::tsdb::Options,
    /// Engine settings from the `--query.*` flags.
    pub engine: EngineOptions,
    /// PromQL syntax enabled by `--enable-feature`.
    pub parse: ParseOptions,
    /// Every flag with its value, for `/api/v1/status/flags`.
    pub flags: BTreeMap<String, String>,
}

/// The embedded default configuration: scrape this server and a node_exporter on the same host every 15s.
pub fn default_config_yaml(self_address: &str) -> String {
    format!(
        "# The configuration the server runs with when no --config.file is given.\n\
         global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
         scrape_configs:\n\
         \x20 - job_name: prometheus\n    static_configs:\n      - targets: [\"{self_address}\"]\n\
         \x20 - job_name: node\n    static_configs:\n      - targets: [\"localhost:9100\"]\n"
    )
}

/// Startup failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration does not load.
    #[error("error loading config from {file:?}: {source}")]
    Config {
        /// The file (or `<embedded default>`).
        file: String,
        /// Why.
        #[source]
        source: Box<ConfigError>,
    },
    /// The storage does not open.
    #[error("opening storage failed: {0}")]
    Storage(#[from] crate::tsdb::TsdbError),
    /// The scrape configuration cannot be applied.
    #[error("{0}")]
    Scrape(#[from] crate::scrape::manager::PoolError),
    /// The web server failed.
    #[error("{0}")]
    Web(#[from] exposition::http::HttpError),
}

/// The state every request handler and background task shares.
pub struct App {
    /// Startup options.
    pub options: Options,
    /// The configuration in force.
    pub config: RwLock<Arc<Config>>,
    /// The configuration text in force (for `/api/v1/status/config`, secrets masked on serialization).
    pub storage: Arc<dyn Storage>,
    /// The TSDB behind `storage`.
    pub db: Arc<Db>,
    /// The PromQL engine.
    pub engine: Engine,
    /// Scraping.
    pub scrape: Arc<ScrapeManager>,
    /// Service discovery for the scrape jobs.
    pub discovery: DiscoveryManager,
    cancel: CancellationToken,
    /// The server's own metrics.
    pub registry: Arc<Registry>,
    /// When the server started.
    pub start_time: SystemTime,
    reload_ok: AtomicBool,
    last_config_time: Mutex<SystemTime>,
    reload_gauge: Gauge,
    reload_time_gauge: Gauge,
    ready: AtomicBool,
    quit: tokio::sync::Notify,
    self_address: String,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Upstream's version string for build info.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..BuildInfo::default()
    }
}

impl App {
    /// Loads the configuration and builds the components (scraping starts with [`App::start`]).
    pub fn new(options: Options) -> Result<Arc<App>, AppError> {
        let self_address = self_scrape_address(&options.listen_address);
        let config = load_config(options.config_file.as_ref(), &self_address)?;
        let registry = Arc::new(Registry::new());
        let db = Arc::new(Db::open(&options.storage_path, options.tsdb.clone())?);
        registry.register(db.metrics().clone());
        let storage: Arc<dyn Storage> = db.clone();
        // Subqueries without a step use the global evaluation interval, as upstream.
        let mut engine_options = options.engine.clone();
        engine_options.default_subquery_step = Duration::from_millis(config.global.evaluation_interval.as_millis());
        let engine = Engine::new(engine_options);
        let scrape = Arc::new(ScrapeManager::new(
            storage.clone(),
            &registry,
            seed(&options.listen_address),
        ));
        let sd_metrics = Arc::new(SdMetrics::new().expect("valid metric names"));
        sd_metrics.register(&registry);
        let discovery = DiscoveryManager::new(ManagerOptions {
            discoverer: DiscovererOptions {
                metrics: Some(sd_metrics),
                ..DiscovererOptions::default()
            },
            ..ManagerOptions::default()
        });
        let reload_gauge = Gauge::new(Opts::new(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
        ))
        .expect("valid metric name");
        let reload_time_gauge = Gauge::new(Opts::new(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
        ))
        .expect("valid metric name");
        registry.register(reload_gauge.clone());
        registry.register(reload_time_gauge.clone());
        let ready = Gauge::new(Opts::new(
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
        ))
        .expect("valid metric name");
        ready.set(1.0);
        registry.register(ready);
        Ok(Arc::new(App {
            options,
            config: RwLock::new(Arc::new(config)),
            storage,
            scrape,
            db,
            engine,
            discovery,
            cancel: CancellationToken::new(),
            registry,
            start_time: SystemTime::now(),
            reload_ok: AtomicBool::new(true),
            last_config_time: Mutex::new(SystemTime::now()),
            reload_gauge,
            reload_time_gauge,
            ready: AtomicBool::new(false),
            quit: tokio::sync::Notify::new(),
            self_address,
        }))
    }

    /// Starts discovery and scraping with the loaded configuration (within a Tokio runtime).
    pub fn start(self: &Arc<App>) -> Result<(), AppError> {
        let config = self.current_config();
        self.apply(&config)?;
        crate::tsdb::blocks::spawn_compactor(self.db.clone(), Duration::from_secs(60), self.cancel.clone());
        let discovery = self.discovery.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move { discovery.run(cancel).await });
        let me = self.clone();
        let mut updates = self.discovery.subscribe();
        tokio::spawn(async move {
            while updates.changed().await.is_ok() {
                let sets = updates.borrow_and_update().clone();
                me.sync_targets(&sets);
            }
        });
        self.mark_reloaded(true);
        self.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn apply(&self, config: &Config) -> Result<(), AppError> {
        self.scrape.apply_config(config)?;
        for failure in self.discovery.apply_config(&scrape_jobs(config)) {
            tracing::error!(err = %failure, "Cannot create service discovery");
        }
        // Start with what discovery knows now (static targets at once) rather than after the first update.
        self.sync_targets(&self.discovery.targets());
        Ok(())
    }

    fn sync_targets(&self, sets: &TargetSets) {
        for (job, groups) in sets {
            let pairs: Vec<(Labels, Labels)> = groups
                .iter()
                .flat_map(|g| g.targets.iter().map(move |t| (t.clone(), g.labels.clone())))
                .collect();
            self.scrape.sync(job, pairs);
        }
    }

    /// The configuration in force.
    pub fn current_config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads the configuration file; a bad file keeps the running configuration and is reported.
    pub fn reload(&self) -> Result<(), String> {
        let result = load_config(self.options.config_file.as_ref(), &self.self_address)
            .map_err(|e| e.to_string())
            .and_then(|config| {
                self.apply(&config).map_err(|e| e.to_string())?;
                *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
                Ok(())
            });
        match &result {
            Ok(()) => tracing::info!(filename = ?self.options.config_file, "Completed loading of configuration file"),
            Err(e) => tracing::error!(err = %e, "Error reloading config"),
        }
        self.mark_reloaded(result.is_ok());
        result.map_err(|e| format!("failed to reload config: {e}"))
    }

    fn mark_reloaded(&self, ok: bool) {
        self.reload_ok.store(ok, Ordering::SeqCst);
        self.reload_gauge.set(if ok { 1.0 } else { 0.0 });
        if ok {
            let now = SystemTime::now();
            *self.last_config_time.lock().unwrap_or_else(|e| e.into_inner()) = now;
            self.reload_time_gauge
                .set(now.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs() as f64));
        }
    }

    /// Whether the last reload succeeded.
    pub fn reload_successful(&self) -> bool {
        self.reload_ok.load(Ordering::SeqCst)
    }

    /// When the configuration was last loaded successfully.
    pub fn last_config_time(&self) -> SystemTime {
        *self.last_config_time.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether startup completed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Parses a query with the syntax the enabled features allow.
    pub fn parse_query(&self, query: &str) -> Result<Expr, ParseError> {
        crate::promql::parse_with(query, &self.options.parse)
    }

    /// Asks the server to shut down (`/-/quit`).
    pub fn request_quit(&self) {
        self.quit.notify_one();
    }

    /// Serves until a signal or `/-/quit`, reloading on SIGHUP.
    pub async fn run(self: Arc<App>) -> Result<(), AppError> {
        self.start()?;
        let web = WebArgs {
            listen_address: vec![self.options.listen_address.clone()],
            telemetry_path: "/metrics".to_string(),
            config_file: self.options.web_config_file.clone(),
            max_requests: 0,
            disable_exporter_metrics: false,
        };
        let server = Exporter::new("prometheus", self.registry.clone())
            .build_info(build_info())
            .routes(crate::web::routes(self.clone()))
            .bind(&web)
            .await?;
        tracing::info!(addresses = ?server.local_addrs(), "Server is ready to receive web requests.");
        let signal = exposition::http::shutdown_signal()?;
        let me = self.clone();
        let hup = tokio::spawn(async move { me.reload_on_sighup().await });
        let me = self.clone();
        let stop = async move {
            tokio::select! {
                () = signal => {}
                () = me.quit.notified() => tracing::info!("Received termination request via web service, exiting gracefully..."),
            }
        };
        server.serve_until(stop).await?;
        hup.abort();
        self.cancel.cancel();
        self.scrape.shutdown();
        if let Err(e) = self.db.head().close() {
            tracing::error!(err = %e, "Error closing the storage");
        }
        tracing::info!("See you next time!");
        Ok(())
    }

    async fn reload_on_sighup(&self) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                let _ = self.reload();
            }
        }
    }
}

/// Loads `file`, or the embedded default when `None`.
pub fn load_config(file: Option<&PathBuf>, self_address: &str) -> Result<Config, AppError> {
    match file {
        Some(path) => Config::load_file(path, Mode::Server).map_err(|source| AppError::Config {
            file: path.display().to_string(),
            source: Box::new(source),
        }),
        None => Config::load_str(
            &default_config_yaml(self_address),
            std::path::Path::new("<embedded default>"),
            Mode::Server,
        )
        .map_err(|source| AppError::Config {
            file: "<embedded default>".to_string(),
            source: Box::new(source),
        }),
    }
}

/// `localhost:<port>` of the listen address, for the default configuration's self-scrape.
fn self_scrape_address(listen: &str) -> String {
    let port = listen.rsplit(':').next().filter(|p| !p.is_empty()).unwrap_or("9090");
    format!("localhost:{port}")
}

fn seed(listen: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::scrape::target::Fnv::default();
    listen.hash(&mut h);
    hostname().hash(&mut h);
    h.finish()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// How long the server has been up (for runtime info).
pub fn uptime(app: &App) -> Duration {
    app.start_time.elapsed().unwrap_or_default()
}
