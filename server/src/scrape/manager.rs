//! The scrape manager: one pool per job, one loop per target. Discovery updates replace a job's target set
//! (new targets start, vanished ones stop and mark their series stale); a configuration reload restarts the pools
//! whose settings changed and drops the ones that are gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exposition::instrument::{Counter, Gauge, GaugeVec, Opts};
use exposition::registry::Registry;
use tokio::sync::watch;

use super::cache::{MetadataMap, ScrapeOptions, TargetCache};
use super::fetch::{FetchRequest, accept_header, fetch};
use super::report::{Report, ReportSeries};
use super::target::{Populated, Target, TargetError, populate};
use crate::config::{Config, GlobalConfig, ScrapeConfig, ScrapeProtocol};
use crate::httpclient::HttpClient;
use crate::model::labels::Labels;
use crate::storage::Appendable;

/// A target's health as the targets API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape of a target did.
#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// Health.
    pub health: Health,
    /// The last error (empty when healthy).
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
}

/// A target and its status, for the API.
#[derive(Clone, Debug)]
pub struct ActiveTarget {
    /// The target.
    pub target: Arc<Target>,
    /// The job.
    pub pool: String,
    /// The URL scraped.
    pub url: String,
    /// The last scrape's outcome.
    pub status: TargetStatus,
    /// The metric metadata the target exposes.
    pub metadata: Arc<MetadataMap>,
}

/// A discovered target relabeling dropped or that could not be built, for the API.
#[derive(Clone, Debug)]
pub struct DroppedTarget {
    /// The job.
    pub pool: String,
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Why it could not be built (`None` when relabeling dropped it).
    pub error: Option<TargetError>,
}

/// The scrape counters Prometheus exposes.
#[derive(Clone, Debug)]
pub struct ScrapeMetrics {
    out_of_order: Counter,
    duplicate: Counter,
    out_of_bounds: Counter,
    sample_limit: Counter,
    pool_targets: GaugeVec,
    pools: Gauge,
    reloads: Counter,
}

impl ScrapeMetrics {
    /// Creates the metrics and registers them.
    pub fn new(registry: &Registry) -> ScrapeMetrics {
        let counter = |name: &str, help: &str| {
            let c = Counter::new(Opts::new(name, help)).expect("valid metric name");
            registry.register(c.clone());
            c
        };
        let m = ScrapeMetrics {
            out_of_order: counter(
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
            ),
            duplicate: counter(
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
            ),
            out_of_bounds: counter(
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling out of the time bounds.",
            ),
            sample_limit: counter(
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
            ),
            pool_targets: GaugeVec::new(
                Opts::new(
                    "prometheus_target_scrape_pool_targets",
                    "Current number of targets in this scrape pool.",
                ),
                &["scrape_job"],
            )
            .expect("valid metric name"),
            pools: Gauge::new(Opts::new(
                "prometheus_target_scrape_pools_total",
                "Current number of scrape pools.",
            ))
            .expect("valid metric name"),
            reloads: counter(
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
            ),
        };
        registry.register(m.pool_targets.clone());
        registry.register(m.pools.clone());
        m
    }
}

/// How a loop ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Running,
    /// The target is gone: mark its series stale.
    Gone,
    /// A reload replaces the loop: no staleness markers.
    Replaced,
}

struct LoopHandle {
    target: Arc<Target>,
    url: String,
    status: Arc<Mutex<TargetStatus>>,
    metadata: Arc<Mutex<Arc<MetadataMap>>>,
    stop: watch::Sender<Stop>,
}

/// Settings a pool's loops share.
struct JobSettings {
    client: HttpClient,
    opts: ScrapeOptions,
    accept: String,
    compression: bool,
    body_size_limit: u64,
    fallback: Option<ScrapeProtocol>,
    extra_metrics: bool,
    params: std::collections::BTreeMap<String, Vec<String>>,
    /// Targets per pool (0: no limit).
    target_limit: u64,
    /// Dropped targets kept for the API (0: all).
    keep_dropped: u64,
    /// Set while the pool is over its target limit: every scrape fails with this error.
    forced_error: Mutex<Option<String>>,
}

struct Pool {
    config: ScrapeConfig,
    settings: Arc<JobSettings>,
    loops: HashMap<u64, LoopHandle>,
    dropped: Vec<DroppedTarget>,
    /// The last target groups, kept to rebuild targets after a reload.
    last_groups: Vec<(Labels, Labels)>,
}

/// The scrape manager.
pub struct ScrapeManager {
    storage: Arc<dyn Appendable>,
    metrics: ScrapeMetrics,
    pools: Mutex<HashMap<String, Pool>>,
    seed: u64,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager").finish_non_exhaustive()
    }
}

/// A job's configuration could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("error creating HTTP client for scrape job {job:?}: {source}")]
pub struct PoolError {
    /// The job.
    pub job: String,
    /// The cause.
    #[source]
    pub source: crate::httpclient::HttpClientError,
}

impl ScrapeManager {
    /// A manager appending to `storage`, its metrics in `registry`; loops run on the current tokio runtime.
    /// `seed` spreads targets differently per server (upstream uses the hostname and external labels).
    pub fn new(storage: Arc<dyn Appendable>, registry: &Registry, seed: u64) -> ScrapeManager {
        ScrapeManager {
            storage,
            metrics: ScrapeMetrics::new(registry),
            pools: Mutex::new(HashMap::new()),
            seed,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Applies a (re)loaded configuration: new jobs get pools, removed jobs stop (their series go stale), changed
    /// jobs restart their loops with the new settings.
    pub fn apply_config(&self, config: &Config) -> Result<(), PoolError> {
        let mut pools = self.lock();
        let mut next: HashMap<String, Pool> = HashMap::new();
        for sc in config.scrape_configs() {
            let job = sc.job_name.clone();
            match pools.remove(&job) {
                Some(pool) if pool.config == *sc => {
                    next.insert(job, pool);
                }
                old => {
                    let settings = Arc::new(job_settings(sc, &config.global)?);
                    let mut pool = Pool {
                        config: sc.clone(),
                        settings,
                        loops: HashMap::new(),
                        dropped: Vec::new(),
                        last_groups: Vec::new(),
                    };
                    if let Some(old) = old {
                        self.metrics.reloads.inc();
                        for (_, h) in old.loops {
                            let _ = h.stop.send(Stop::Replaced);
                        }
                        let groups = old.last_groups;
                        self.sync_pool(&job, &mut pool, groups);
                    }
                    next.insert(job, pool);
                }
            }
        }
        for (job, pool) in pools.drain() {
            for (_, h) in pool.loops {
                let _ = h.stop.send(Stop::Gone);
            }
            self.metrics.pool_targets.remove_label_values(&[job.as_str()]).ok();
        }
        *pools = next;
        self.metrics.pools.set(pools.len() as f64);
        Ok(())
    }

    /// Replaces the targets of `job` with those discovered: `(target labels, group labels)` pairs.
    pub fn sync(&self, job: &str, discovered: Vec<(Labels, Labels)>) {
        let mut pools = self.lock();
        if let Some(mut pool) = pools.remove(job) {
            self.sync_pool(job, &mut pool, discovered);
            pools.insert(job.to_string(), pool);
        }
    }

    fn sync_pool(&self, job: &str, pool: &mut Pool, discovered: Vec<(Labels, Labels)>) {
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        pool.dropped.clear();
        for (t, g) in &discovered {
            match populate(t, g, &pool.config) {
                Ok(Populated::Target(target)) => {
                    wanted.insert(target.hash(), target);
                }
                Ok(Populated::Dropped(labels)) => pool.dropped.push(DroppedTarget {
                    pool: job.to_string(),
                    discovered_labels: labels,
                    error: None,
                }),
                Err(e) => {
                    tracing::warn!(scrape_pool = job, err = %e, target = %t, "Creating target failed");
                    pool.dropped.push(DroppedTarget {
                        pool: job.to_string(),
                        discovered_labels: t.clone(),
                        error: Some(e),
                    });
                }
            }
        }
        pool.last_groups = discovered;
        let keep_dropped = pool.settings.keep_dropped as usize;
        if keep_dropped > 0 && pool.dropped.len() > keep_dropped {
            pool.dropped.truncate(keep_dropped);
        }
        let limit = pool.settings.target_limit;
        let forced = (limit > 0 && wanted.len() as u64 > limit).then(|| {
            format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                wanted.len()
            )
        });
        if let Some(e) = &forced {
            tracing::error!(scrape_pool = job, err = %e, "Target limit exceeded");
        }
        *pool.settings.forced_error.lock().unwrap_or_else(|e| e.into_inner()) = forced;
        pool.loops.retain(|hash, h| {
            let keep = wanted.get(hash).is_some_and(|t| *t == *h.target);
            if !keep {
                let _ = h.stop.send(Stop::Gone);
            }
            keep
        });
        for (hash, target) in wanted {
            if pool.loops.contains_key(&hash) {
                continue;
            }
            let handle = self.start_loop(Arc::new(target), pool.settings.clone());
            pool.loops.insert(hash, handle);
        }
        if let Ok(g) = self.metrics.pool_targets.with_label_values(&[job]) {
            g.set(pool.loops.len() as f64);
        }
    }

    fn start_loop(&self, target: Arc<Target>, settings: Arc<JobSettings>) -> LoopHandle {
        let status = Arc::new(Mutex::new(TargetStatus {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
        }));
        let (stop_tx, stop_rx) = watch::channel(Stop::Running);
        let metadata = Arc::new(Mutex::new(Arc::new(MetadataMap::default())));
        let url = target.url(&settings.params);
        let ctx = LoopContext {
            target: target.clone(),
            settings,
            storage: self.storage.clone(),
            status: status.clone(),
            metadata: metadata.clone(),
            metrics: self.metrics.clone(),
            url: url.clone(),
            offset_ms: target.offset_ms(self.seed),
        };
        self.runtime.spawn(run_loop(ctx, stop_rx));
        LoopHandle {
            target,
            url,
            status,
            metadata,
            stop: stop_tx,
        }
    }

    /// Every active target with its status, by job then labels.
    pub fn active_targets(&self) -> Vec<ActiveTarget> {
        let pools = self.lock();
        let mut out: Vec<ActiveTarget> = pools
            .iter()
            .flat_map(|(job, p)| {
                p.loops.values().map(move |h| ActiveTarget {
                    target: h.target.clone(),
                    pool: job.clone(),
                    url: h.url.clone(),
                    status: h.status.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                    metadata: h.metadata.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.pool, &a.target.labels).cmp(&(&b.pool, &b.target.labels)));
        out
    }

    /// Discovered targets that are not scraped.
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let pools = self.lock();
        let mut out: Vec<DroppedTarget> = pools.values().flat_map(|p| p.dropped.iter().cloned()).collect();
        out.sort_by(|a, b| (&a.pool, &a.discovered_labels).cmp(&(&b.pool, &b.discovered_labels)));
        out
    }

    /// The job names with pools.
    pub fn jobs(&self) -> Vec<String> {
        let mut jobs: Vec<String> = self.lock().keys().cloned().collect();
        jobs.sort();
        jobs
    }

    /// Stops every loop; their series go stale.
    pub fn stop(&self) {
        let mut pools = self.lock();
        for (_, pool) in pools.drain() {
            for (_, h) in pool.loops {
                let _ = h.stop.send(Stop::Gone);
            }
        }
    }

    /// Stops every loop without staleness markers (the server is shutting down; a restart continues the series).
    pub fn shutdown(&self) {
        let mut pools = self.lock();
        for (_, pool) in pools.drain() {
            for (_, h) in pool.loops {
                let _ = h.stop.send(Stop::Replaced);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn job_settings(sc: &ScrapeConfig, global: &GlobalConfig) -> Result<JobSettings, PoolError> {
    let client = HttpClient::new(&sc.http_client(), &sc.job_name).map_err(|source| PoolError {
        job: sc.job_name.clone(),
        source,
    })?;
    let or_global = |v: u64, g: u64| if v == 0 { g } else { v };
    let protocols: Vec<ScrapeProtocol> = sc
        .scrape_protocols
        .clone()
        .or_else(|| global.scrape_protocols.clone())
        .unwrap_or_else(|| ScrapeProtocol::DEFAULT.to_vec());
    Ok(JobSettings {
        client,
        opts: ScrapeOptions {
            honor_labels: sc.honor_labels,
            honor_timestamps: sc.honor_timestamps,
            track_timestamps_staleness: sc.track_timestamps_staleness,
            sample_limit: or_global(sc.sample_limit, global.sample_limit),
            label_limit: or_global(sc.label_limit, global.label_limit),
            label_name_length_limit: or_global(sc.label_name_length_limit, global.label_name_length_limit),
            label_value_length_limit: or_global(sc.label_value_length_limit, global.label_value_length_limit),
            metric_relabel: sc.metric_relabel_configs.iter().flatten().cloned().collect(),
        },
        accept: accept_header(&protocols),
        compression: sc.enable_compression,
        body_size_limit: or_global(sc.body_size_limit.bytes(), global.body_size_limit.bytes()),
        fallback: sc.fallback_scrape_protocol,
        extra_metrics: sc.extra_scrape_metrics.unwrap_or(false),
        params: sc.params.clone(),
        target_limit: or_global(sc.target_limit, global.target_limit),
        keep_dropped: or_global(sc.keep_dropped_targets, global.keep_dropped_targets),
        forced_error: Mutex::new(None),
    })
}

struct LoopContext {
    target: Arc<Target>,
    settings: Arc<JobSettings>,
    storage: Arc<dyn Appendable>,
    status: Arc<Mutex<TargetStatus>>,
    metadata: Arc<Mutex<Arc<MetadataMap>>>,
    metrics: ScrapeMetrics,
    url: String,
    offset_ms: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn run_loop(ctx: LoopContext, mut stop: watch::Receiver<Stop>) {
    let interval_ms = ctx.target.interval_ms.max(1);
    // First scrape at this target's offset within the interval, so targets spread evenly.
    let phase = (now_ms().rem_euclid(interval_ms as i64)) as u64;
    let wait = (ctx.offset_ms + interval_ms - phase) % interval_ms;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        _ = stop.changed() => {
            return;
        }
    }
    let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut cache = TargetCache::new(ctx.target.labels.clone(), ctx.settings.opts.clone());
    let mut report = ReportSeries::new(&ctx.target.labels, ctx.settings.extra_metrics);
    let req = FetchRequest {
        url: ctx.url.clone(),
        accept: ctx.settings.accept.clone(),
        compression: ctx.settings.compression,
        timeout: Duration::from_millis(ctx.target.timeout_ms),
        body_size_limit: ctx.settings.body_size_limit,
        fallback: ctx.settings.fallback,
    };
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let started = Instant::now();
        let wall = SystemTime::now();
        let ts = now_ms();
        let forced = ctx
            .settings
            .forced_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let fetched = match forced {
            Some(e) => Err(e),
            None => tokio::select! {
                r = fetch(&ctx.settings.client, &req, std::mem::take(&mut buf)) => r,
                _ = stop.changed() => break,
            },
        };
        let mut app = ctx.storage.appender();
        let mut values = Report {
            timeout_seconds: ctx.target.timeout_ms as f64 / 1000.0,
            sample_limit: ctx.settings.opts.sample_limit,
            ..Report::default()
        };
        let error = match fetched {
            Ok(f) => {
                values.body_size_bytes = f.body.len() as f64;
                let result = cache.append_body(&mut *app, &f.body, f.format, ts);
                buf = f.body;
                match result {
                    Ok(stats) => {
                        values.up = true;
                        values.samples_scraped = stats.scraped;
                        values.samples_post_relabel = stats.post_relabel;
                        values.series_added = stats.series_added;
                        count_rejections(&ctx.metrics, &stats);
                        None
                    }
                    Err(e) => {
                        if matches!(e, super::cache::ScrapeError::SampleLimit) {
                            ctx.metrics.sample_limit.inc();
                        }
                        let _ = app.rollback();
                        app = ctx.storage.appender();
                        Some(e.to_string())
                    }
                }
            }
            Err(e) => Some(e),
        };
        if error.is_some()
            && let Err(e) = cache.append_failure(&mut *app, ts)
        {
            tracing::warn!(target = %ctx.url, err = %e, "Appending staleness markers failed");
        }
        values.duration_seconds = started.elapsed().as_secs_f64();
        if let Err(e) = report.append(&mut *app, ts, &values) {
            tracing::warn!(target = %ctx.url, err = %e, "Appending scrape report failed");
        }
        if let Err(e) = app.commit() {
            tracing::warn!(target = %ctx.url, err = %e, "Committing scrape failed");
        }
        if cache.take_metadata_changed() {
            *ctx.metadata.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(cache.metadata().clone());
        }
        if let Some(e) = &error {
            tracing::debug!(scrape_pool = ctx.target.job(), target = %ctx.url, err = %e, "Scrape failed");
        }
        let mut status = ctx.status.lock().unwrap_or_else(|e| e.into_inner());
        status.health = if error.is_none() { Health::Up } else { Health::Down };
        status.last_error = error.unwrap_or_default();
        status.last_scrape = Some(wall);
        status.last_duration = started.elapsed();
    }
    if *stop.borrow() == Stop::Gone {
        let ts = now_ms();
        let mut app = ctx.storage.appender();
        let _ = cache.append_all_stale(&mut *app, ts);
        let _ = report.append_stale(&mut *app, ts);
        if let Err(e) = app.commit() {
            tracing::warn!(target = %ctx.url, err = %e, "Committing staleness markers failed");
        }
    }
}

fn count_rejections(m: &ScrapeMetrics, stats: &super::cache::AppendStats) {
    if stats.out_of_order > 0 {
        m.out_of_order.inc_by_int(stats.out_of_order as u64);
    }
    if stats.duplicate > 0 {
        m.duplicate.inc_by_int(stats.duplicate as u64);
    }
    if stats.out_of_bounds > 0 {
        m.out_of_bounds.inc_by_int(stats.out_of_bounds as u64);
    }
}
