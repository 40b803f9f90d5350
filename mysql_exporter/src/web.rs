//! The HTTP endpoints of mysqld_exporter 0.15+, served through the shared runtime's [`Routes`] (which keeps
//! listeners, TLS, basic auth and headers from `--web.config.file`):
//!
//! - `GET <--web.telemetry-path>` (default `/metrics`): the `[client]` server (or `?target=host:port` with the
//!   `[client]` credentials), the scrapers `collect[]` selects, the exporter's own `mysqld_exporter_build_info`,
//!   and unless `--web.disable-exporter-metrics` the `process_*` and `promhttp_metric_handler_*` families;
//! - `GET /probe?target=host:port[&auth_module=client.<name>]`: the multi-target pattern. The credentials come
//!   from the `.my.cnf` section named by `auth_module` (default `client`); only the scrape's own families are
//!   written. No target or an unknown section is a 400 with upstream's message;
//! - `/-/reload`: re-reads `--config.my-cnf`; on error the previous sections stay in force and the error (file
//!   and line) is logged and returned as a 500 (upstream logs it and answers 200 with an empty body);
//! - `GET /`: the landing page (unless the telemetry path is `/`).
//!
//! Both scrape endpoints honour `X-Prometheus-Scrape-Timeout-Seconds` less `--timeout-offset` as the scrape's
//! deadline (see [`scrape_timeout`]) and share `--web.max-requests` (503 beyond it, as the runtime does).
//!
//! Scrapes of one MySQL server take turns ([`ServerQueues`]): each scrape in flight holds its result rows, its
//! families and its encoded body (about 0.75 MB for the default scrapers), and overlapping scrapes of the same
//! server would gain little, since one runtime thread does the work of all of them; the server is also spared
//! concurrent copies of the same queries. Scrapes of different servers (`/probe`) still run side by side. A
//! waiting scrape's deadline counts from its request's arrival.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use exposition::encode::{self, Format};
use exposition::http::{
    LandingPage, ProcessCollector, RouteRequest, RouteResponse, Routes, goarch, goos, rustc_version,
};
use exposition::{Collector, Labels, Metric, MetricFamily, MetricType, Value};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::Full;

use crate::config::{ClientConfig, ConfigError, MyCnf, Overrides};
use crate::exporter::Exporter;

/// The header Prometheus sends with the scrape timeout in seconds.
pub const TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// Why a scrape timeout header was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeoutError {
    /// The header is not a number.
    #[error("failed to parse timeout from Prometheus header {value:?}")]
    Parse {
        /// The header value.
        value: String,
    },
    /// The header is negative.
    #[error("timeout value from Prometheus header is invalid: {value}")]
    Negative {
        /// The parsed value.
        value: f64,
    },
    /// `--timeout-offset` leaves no time to scrape.
    #[error("timeout offset ({offset}) should be lower than prometheus scrape timeout ({timeout})")]
    Offset {
        /// `--timeout-offset`.
        offset: f64,
        /// The header value.
        timeout: f64,
    },
}

/// The scrape's time budget from the header value and `--timeout-offset`, as upstream's
/// `getScrapeTimeoutSeconds`: no header or `0` means no limit; otherwise the header less the offset. An
/// unparsable or negative header, or an offset not below the header, is an error (logged by the caller; the
/// scrape then runs without a limit, as upstream's does).
pub fn scrape_timeout(header: Option<&str>, offset: f64) -> Result<Option<Duration>, TimeoutError> {
    let Some(value) = header.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let timeout: f64 = value.trim().parse().map_err(|_| TimeoutError::Parse {
        value: value.to_string(),
    })?;
    if timeout == 0.0 {
        return Ok(None);
    }
    if timeout.is_nan() || timeout < 0.0 {
        return Err(TimeoutError::Negative { value: timeout });
    }
    if offset >= timeout {
        return Err(TimeoutError::Offset { offset, timeout });
    }
    Ok(Duration::try_from_secs_f64(timeout - offset).ok())
}

/// One turn at a time per MySQL server: a lock per server address, kept while any scrape holds or waits for it.
#[derive(Debug, Default)]
pub struct ServerQueues {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// Unused entries are dropped once the map holds this many (targets of `/probe` come from requests).
const QUEUES_SWEEP_AT: usize = 64;

impl ServerQueues {
    /// The lock of the server at `address` (see [`ClientConfig::target`]).
    pub fn lock_for(&self, address: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = locks.get(address).and_then(Weak::upgrade) {
            return lock;
        }
        if locks.len() >= QUEUES_SWEEP_AT {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(address.to_string(), Arc::downgrade(&lock));
        lock
    }

    /// How many servers have an entry (for tests).
    pub fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no server has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where `/-/reload` reads the credentials from.
#[derive(Debug, Clone)]
pub struct CnfSource {
    /// `--config.my-cnf`.
    pub path: std::path::PathBuf,
    /// The flags and environment that fill gaps.
    pub overrides: Overrides,
}

impl CnfSource {
    /// Reads and resolves the file.
    pub fn load(&self) -> Result<MyCnf, ConfigError> {
        crate::config::load_all(&self.path, &self.overrides)
    }
}

/// Everything the endpoints share.
#[derive(Debug)]
pub struct Web {
    exporter: Arc<Exporter>,
    source: CnfSource,
    cnf: RwLock<Arc<MyCnf>>,
    telemetry_path: String,
    timeout_offset: f64,
    version: String,
    exporter_metrics: Option<ProcessCollector>,
    handler: HandlerCounters,
    landing: Option<Bytes>,
    /// `--web.max-requests` (0: no limit) as permits shared by `/metrics` and `/probe`.
    limit: Option<(Arc<tokio::sync::Semaphore>, usize)>,
    /// The size of the last encoded response: the next body is allocated at about that size at once rather than
    /// grown by doubling (which copies it and briefly holds both halves).
    body_hint: AtomicUsize,
    /// Scrapes of one server take turns.
    queues: ServerQueues,
}

/// Settings of [`Web::new`].
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--timeout-offset` in seconds.
    pub timeout_offset: f64,
    /// The exporter version for `mysqld_exporter_build_info` and the landing page.
    pub version: String,
    /// `--web.disable-exporter-metrics`.
    pub disable_exporter_metrics: bool,
    /// `--web.max-requests`: scrapes served at once (`/metrics` and `/probe` together); 0 means no limit.
    pub max_requests: usize,
}

impl Web {
    /// The endpoints for `exporter` with the credentials `cnf` read from `source`.
    pub fn new(exporter: Arc<Exporter>, source: CnfSource, cnf: MyCnf, settings: WebSettings) -> Web {
        let landing = (settings.telemetry_path != "/").then(|| {
            let page = LandingPage {
                title: "MySQLd Exporter".to_string(),
                description: "Prometheus Exporter for MySQL servers".to_string(),
                version: format!("(version={}, branch=, revision=unknown)", settings.version),
                links: vec![(settings.telemetry_path.clone(), "Metrics".to_string())],
            };
            Bytes::from(page.render())
        });
        Web {
            exporter,
            source,
            cnf: RwLock::new(Arc::new(cnf)),
            telemetry_path: settings.telemetry_path,
            timeout_offset: settings.timeout_offset,
            version: settings.version,
            exporter_metrics: (!settings.disable_exporter_metrics).then(ProcessCollector::default),
            handler: HandlerCounters::default(),
            landing,
            limit: (settings.max_requests > 0).then(|| {
                (
                    Arc::new(tokio::sync::Semaphore::new(settings.max_requests)),
                    settings.max_requests,
                )
            }),
            body_hint: AtomicUsize::new(8 * 1024),
            queues: ServerQueues::default(),
        }
    }

    /// The runtime routes serving every endpoint.
    pub fn routes(self: Arc<Self>) -> Routes {
        Arc::new(move |req| {
            let web = self.clone();
            Box::pin(async move { web.handle(req).await })
        })
    }

    /// The credentials in force.
    pub fn cnf(&self) -> Arc<MyCnf> {
        self.cnf.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn handle(self: Arc<Self>, req: RouteRequest) -> RouteResponse {
        let path = req.uri().path().to_string();
        let scrape = path == self.telemetry_path || path == "/probe";
        let _permit = match &self.limit {
            Some((permits, max)) if scrape => match permits.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    if path == self.telemetry_path {
                        self.handler.finished(503);
                    }
                    return text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("Limit of concurrent requests reached ({max}), try again later.\n"),
                    );
                }
            },
            _ => None,
        };
        if path == self.telemetry_path {
            self.handler.in_flight.fetch_add(1, Ordering::Relaxed);
            let resp = self.clone().metrics(&req).await;
            self.handler.in_flight.fetch_sub(1, Ordering::Relaxed);
            self.handler.finished(resp.status().as_u16());
            return resp;
        }
        match path.as_str() {
            "/probe" => self.probe(&req).await,
            "/-/reload" => self.reload(req.method()).await,
            "/" if self.landing.is_some() => {
                let page = self.landing.clone().unwrap_or_default();
                let mut resp = RouteResponse::new(Full::new(page));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=UTF-8"),
                );
                resp
            }
            _ => text(StatusCode::NOT_FOUND, "404 page not found\n".to_string()),
        }
    }

    /// The deadline the request's timeout header sets (logged and ignored when unusable).
    fn deadline(&self, req: &RouteRequest) -> Option<Instant> {
        let header = req.headers().get(TIMEOUT_HEADER).and_then(|v| v.to_str().ok());
        match scrape_timeout(header, self.timeout_offset) {
            Ok(limit) => limit.map(|l| Instant::now() + l),
            Err(err) => {
                tracing::error!(err = %err, "Error getting timeout from Prometheus header");
                None
            }
        }
    }

    async fn metrics(self: Arc<Self>, req: &RouteRequest) -> RouteResponse {
        let query = req.uri().query().unwrap_or("");
        let collect = query_values(query, "collect[]");
        let cnf = self.cnf();
        // A target that is not host:port leaves no server to connect to: upstream's empty DSN fails, mysql_up 0.
        let target = query_values(query, "target")
            .into_iter()
            .next()
            .filter(|t| !t.is_empty());
        let client = match target {
            None => Some(cnf.client().clone()),
            Some(target) => cnf
                .client()
                .with_target(&target)
                .map_err(|err| tracing::error!(err = %err, "Failed to form dsn from section [client]"))
                .ok(),
        };
        let deadline = self.deadline(req);
        let queue = client.as_ref().map(|c| self.queues.lock_for(&c.target()));
        let _turn = match &queue {
            Some(queue) => Some(queue.lock().await),
            None => None,
        };
        let web = self.clone();
        // A task of its own (on the same runtime thread), so a panicking scraper is a 500 and not a dropped
        // connection.
        let gathered = tokio::spawn(async move {
            let mut families = match client {
                Some(client) => web.exporter.scrape(&client, &collect, deadline).await,
                None => crate::exporter::down(),
            };
            web.own_metrics(&mut families);
            families
        })
        .await;
        self.respond(req, gathered)
    }

    /// `mysqld_exporter_build_info` always; `process_*` and `promhttp_*` unless disabled.
    fn own_metrics(&self, families: &mut Vec<MetricFamily>) {
        let mut info = MetricFamily::new("mysqld_exporter_build_info", MetricType::Gauge).with_help(
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which \
             mysqld_exporter was built, and the goos and goarch for the build.",
        );
        info.push(Metric::new(
            Labels::from_pairs([
                ("branch", ""),
                ("goarch", goarch()),
                ("goos", goos()),
                ("goversion", rustc_version()),
                ("revision", "unknown"),
                ("tags", "unknown"),
                ("version", self.version.as_str()),
            ]),
            Value::Gauge(1.0),
        ));
        families.push(info);
        if let Some(process) = &self.exporter_metrics {
            if let Err(err) = process.collect(families) {
                tracing::error!(err = %err, "process metrics failed");
            }
            self.handler.collect(families);
        }
        // The scrape's families are already sorted; the exporter's own have no shared names with them.
        *families = crate::exporter::merge_by_name(std::mem::take(families));
    }

    async fn probe(self: Arc<Self>, req: &RouteRequest) -> RouteResponse {
        let query = req.uri().query().unwrap_or("");
        let Some(target) = query_values(query, "target")
            .into_iter()
            .next()
            .filter(|t| !t.is_empty())
        else {
            return text(StatusCode::BAD_REQUEST, "target is required\n".to_string());
        };
        let module = query_values(query, "auth_module")
            .into_iter()
            .next()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "client".to_string());
        let cnf = self.cnf();
        let Some(section) = cnf.sections.get(&module) else {
            tracing::error!("Could not find section [{module}] from config file");
            return text(
                StatusCode::BAD_REQUEST,
                format!("Could not find config section [{module}]\n"),
            );
        };
        let client: ClientConfig = match section.with_target(&target) {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(err = %err, "Failed to form dsn from section [{module}]");
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("Error forming dsn from config section [{module}]\n"),
                );
            }
        };
        let collect = query_values(query, "collect[]");
        let deadline = self.deadline(req);
        let queue = self.queues.lock_for(&client.target());
        let _turn = queue.lock().await;
        let web = self.clone();
        let gathered = tokio::spawn(async move { web.exporter.scrape(&client, &collect, deadline).await }).await;
        self.respond(req, gathered)
    }

    async fn reload(self: Arc<Self>, method: &Method) -> RouteResponse {
        if method != Method::POST && method != Method::GET && method != Method::PUT {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n".to_string());
        }
        // A small file, read right here: a blocking thread would keep a malloc arena for the process's life.
        match self.source.load() {
            Ok(cnf) => {
                *self.cnf.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(cnf);
                tracing::info!(file = %self.source.path.display(), "Reloaded host config");
                text(StatusCode::OK, "ok".to_string())
            }
            Err(err) => {
                tracing::warn!(file = %self.source.path.display(), err = %err, "Error reloading host config");
                text(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n"))
            }
        }
    }

    /// Encodes families in the negotiated format, gzipped when accepted.
    fn respond(
        &self,
        req: &RouteRequest,
        gathered: Result<Vec<MetricFamily>, tokio::task::JoinError>,
    ) -> RouteResponse {
        let families = match gathered {
            Ok(f) => f,
            Err(join) => {
                self.handler.gathering_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(err = %join, "metrics gathering task failed");
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An error has occurred while serving metrics: gathering failed\n".to_string(),
                );
            }
        };
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let format: Format = encode::negotiate(accept);
        let hint = self.body_hint.load(Ordering::Relaxed);
        let mut body = Vec::with_capacity(hint + hint / 16);
        encode::encode(&families, format, &mut body);
        drop(families);
        self.body_hint.store(body.len(), Ordering::Relaxed);
        let gzip = gzip_accepted(req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
        if gzip {
            use std::io::Write as _;
            let mut enc =
                flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
            match enc.write_all(&body).and_then(|()| enc.finish()) {
                Ok(zipped) => body = zipped,
                Err(err) => {
                    self.handler.encoding_errors.fetch_add(1, Ordering::Relaxed);
                    return text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("error compressing response: {err}\n"),
                    );
                }
            }
        }
        let mut resp = RouteResponse::new(Full::new(Bytes::from(body)));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        resp
    }
}

/// promhttp's handler metrics for the telemetry path.
#[derive(Debug)]
struct HandlerCounters {
    by_code: Mutex<Vec<(u16, u64)>>,
    in_flight: AtomicI64,
    gathering_errors: AtomicU64,
    encoding_errors: AtomicU64,
}

impl Default for HandlerCounters {
    fn default() -> Self {
        HandlerCounters {
            by_code: Mutex::new(vec![(200, 0), (500, 0), (503, 0)]),
            in_flight: AtomicI64::new(0),
            gathering_errors: AtomicU64::new(0),
            encoding_errors: AtomicU64::new(0),
        }
    }
}

impl HandlerCounters {
    fn finished(&self, code: u16) {
        let mut by_code = self.by_code.lock().unwrap_or_else(|p| p.into_inner());
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => {
                by_code.push((code, 1));
                by_code.sort_unstable();
            }
        }
    }

    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let counter = |v: u64| Value::Counter {
            total: v as f64,
            created: None,
            exemplar: None,
        };
        let mut total = MetricFamily::new("promhttp_metric_handler_requests_total", MetricType::Counter)
            .with_help("Total number of scrapes by HTTP status code.");
        for (code, n) in self.by_code.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            total.push(Metric::new(
                Labels::from_pairs([("code", code.to_string())]),
                counter(*n),
            ));
        }
        let mut in_flight = MetricFamily::new("promhttp_metric_handler_requests_in_flight", MetricType::Gauge)
            .with_help("Current number of scrapes being served.");
        in_flight.push(Metric::new(
            Labels::new(),
            Value::Gauge(self.in_flight.load(Ordering::Relaxed) as f64),
        ));
        let mut errors = MetricFamily::new("promhttp_metric_handler_errors_total", MetricType::Counter)
            .with_help("Total number of internal errors encountered by the promhttp metric handler.");
        for (cause, n) in [
            ("encoding", &self.encoding_errors),
            ("gathering", &self.gathering_errors),
        ] {
            errors.push(Metric::new(
                Labels::from_pairs([("cause", cause)]),
                counter(n.load(Ordering::Relaxed)),
            ));
        }
        out.extend([errors, in_flight, total]);
    }
}

fn text(status: StatusCode, body: String) -> RouteResponse {
    let mut resp = RouteResponse::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Whether `Accept-Encoding` accepts gzip (`gzip` or `*` with a non-zero q value).
fn gzip_accepted(header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let mut gzip_q = None;
    let mut star_q = None;
    for part in header.split(',') {
        let mut params = part.split(';');
        let coding = params.next().unwrap_or("").trim();
        let q = params
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map(|(_, v)| v.trim().parse::<f32>().unwrap_or(0.0))
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") {
            gzip_q = Some(q);
        } else if coding == "*" {
            star_q = Some(q);
        }
    }
    gzip_q.or(star_q).is_some_and(|q| q > 0.0)
}

/// The decoded values of `key` in a URL query string (`+` is a space, `%XX` escapes are decoded).
pub fn query_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k) == key).then(|| decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scrapes_of_one_server_take_turns_and_others_do_not_wait() {
        let queues = ServerQueues::default();
        let a = queues.lock_for("db1:3306");
        let first = a.clone().lock_owned().await;
        // A second scrape of db1 waits for the first; one of db2 does not.
        let again = queues.lock_for("db1:3306");
        assert!(Arc::ptr_eq(&a, &again));
        assert!(again.try_lock().is_err());
        let other = queues.lock_for("db2:3306");
        assert!(other.try_lock().is_ok());
        drop(first);
        assert!(again.try_lock().is_ok());
        // Entries nobody holds are swept once the map is large.
        drop((a, again, other));
        let held: Vec<_> = (0..QUEUES_SWEEP_AT)
            .map(|i| queues.lock_for(&format!("h{i}:1")))
            .collect();
        assert!(queues.len() <= QUEUES_SWEEP_AT);
        assert!(!queues.is_empty());
        drop(held);
        let _one = queues.lock_for("last:1");
        assert_eq!(queues.len(), 1, "unused entries are swept");
    }

    #[test]
    fn timeout_header_as_upstream() {
        let s = Duration::from_secs_f64;
        // Header, offset, budget (Err: the header is not used).
        type Case = (Option<&'static str>, f64, Result<Option<Duration>, ()>);
        let cases: &[Case] = &[
            (None, 0.25, Ok(None)),
            (Some(""), 0.25, Ok(None)),
            (Some("0"), 0.25, Ok(None)),
            (Some("10"), 0.25, Ok(Some(s(9.75)))),
            (Some("2.5"), 0.0, Ok(Some(s(2.5)))),
            (Some("0.25"), 0.25, Err(())),
            (Some("0.1"), 0.25, Err(())),
            (Some("-3"), 0.25, Err(())),
            (Some("ten"), 0.25, Err(())),
        ];
        for (header, offset, want) in cases {
            let got = scrape_timeout(*header, *offset).map_err(|_| ());
            assert_eq!(got, *want, "{header:?} {offset}");
        }
        assert_eq!(
            scrape_timeout(Some("0.2"), 0.25).expect_err("offset").to_string(),
            "timeout offset (0.25) should be lower than prometheus scrape timeout (0.2)"
        );
    }

    #[test]
    fn query_decoding() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "collect%5B%5D=global_status&collect[]=slave_status",
                "collect[]",
                &["global_status", "slave_status"],
            ),
            ("target=db%3A3306&auth_module=client.a", "target", &["db:3306"]),
            ("target=a+b&x=%zz", "x", &["%zz"]),
            ("target", "target", &[""]),
            ("x=%4", "x", &["%4"]),
        ];
        for (q, key, want) in cases {
            assert_eq!(query_values(q, key), *want, "{q}");
        }
    }

    #[test]
    fn gzip_negotiation() {
        for (h, want) in [
            (None, false),
            (Some("gzip"), true),
            (Some("deflate, gzip;q=0"), false),
            (Some("*"), true),
            (Some("br"), false),
        ] {
            assert_eq!(gzip_accepted(h), want, "{h:?}");
        }
    }
}
