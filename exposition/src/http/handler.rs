//! Request handling: rate limit, basic auth, routing to the metrics handler, the landing page or 404.
//!
//! The metrics handler behaves like node_exporter's handler around promhttp: `collect[]` (or `exclude[]`) query
//! parameters select named collectors, an unknown name is a 400 with node_exporter's message, at most
//! `--web.max-requests` scrapes run at once (503 beyond), the registry is gathered on a blocking thread (on the
//! runtime thread, after awaiting it, when the exporter has an [`AsyncCollector`](super::AsyncCollector)), the
//! format is negotiated from `Accept` and the body is gzipped when `Accept-Encoding` allows it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::sync::Semaphore;

use super::auth::BasicAuth;
use super::config::{ValidConfig, WebConfig};
use super::self_metrics::{HandlerError, HandlerMetrics};
use crate::encode::{self, Format};
use crate::model::MetricFamily;
use crate::registry::{Collector, Registry};

/// The response body type.
pub(crate) type Body = Full<Bytes>;

/// Everything a request needs, shared by all connections.
pub(crate) struct App {
    pub(crate) registry: Arc<Registry>,
    /// Collectors always appended (build info), and when exporter metrics are on, the process collector.
    pub(crate) extra: Vec<Box<dyn Collector>>,
    /// promhttp handler metrics (always counted; exposed unless `--web.disable-exporter-metrics`).
    pub(crate) counters: Arc<HandlerMetrics>,
    pub(crate) expose_handler_metrics: bool,
    pub(crate) telemetry_path: String,
    pub(crate) limit: Option<(Arc<Semaphore>, usize)>,
    pub(crate) landing: Option<Bytes>,
    pub(crate) access: AccessSource,
    pub(crate) routes: Option<super::Routes>,
    pub(crate) collector: Option<Arc<dyn super::AsyncCollector>>,
    /// Gather on the runtime thread ([`Exporter::collect_on_runtime_thread`](super::Exporter)).
    pub(crate) inline: bool,
}

/// The parts of the web config applied per request: users, extra headers, rate limit.
#[derive(Debug)]
pub(crate) struct Access {
    pub(crate) auth: Arc<BasicAuth>,
    pub(crate) headers: Vec<(header::HeaderName, HeaderValue)>,
    pub(crate) rate_limit: Option<Mutex<TokenBucket>>,
}

impl Access {
    pub(crate) fn new(config: &ValidConfig) -> Access {
        Access {
            auth: Arc::new(BasicAuth::new(config.users.clone())),
            headers: config
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                        HeaderValue::from_str(v).ok()?,
                    ))
                })
                .collect(),
            rate_limit: config
                .rate_limit
                .map(|(burst, interval)| Mutex::new(TokenBucket::new(burst, interval))),
        }
    }
}

/// The current [`Access`], re-read when the web config file's modification time changes (exporter-toolkit
/// re-reads the file on every request). A file that no longer validates is logged and the previous settings
/// stay in force; TLS settings other than the certificate files need a restart.
#[derive(Debug)]
pub(crate) struct AccessSource {
    path: Option<PathBuf>,
    tls: bool,
    state: Mutex<(Option<SystemTime>, Arc<Access>)>,
}

impl AccessSource {
    pub(crate) fn new(path: Option<PathBuf>, config: &ValidConfig) -> AccessSource {
        let stamp = path.as_deref().and_then(modified);
        AccessSource {
            path,
            tls: config.tls.is_some(),
            state: Mutex::new((stamp, Arc::new(Access::new(config)))),
        }
    }

    pub(crate) fn current(&self) -> Arc<Access> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &self.path {
            let stamp = modified(path);
            if stamp != state.0 {
                state.0 = stamp;
                match WebConfig::load(path) {
                    Ok(config) => {
                        if config.tls.is_some() != self.tls {
                            tracing::warn!("switching TLS on or off in the web config needs a restart");
                        }
                        state.1 = Arc::new(Access::new(&config));
                        tracing::info!(file = %path.display(), "reloaded web config");
                    }
                    Err(err) => {
                        tracing::error!(err = %err, "cannot reload web config; keeping the previous settings");
                    }
                }
            }
        }
        state.1.clone()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("registry", &self.registry)
            .field("telemetry_path", &self.telemetry_path)
            .finish_non_exhaustive()
    }
}

/// A token bucket like Go's `rate.Limiter`: `burst` tokens, one more every `interval`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    burst: f64,
    interval: Duration,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(burst: u32, interval: Duration) -> TokenBucket {
        TokenBucket {
            burst: f64::from(burst),
            interval,
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A plain-text response as Go's `http.Error` writes it.
pub(crate) fn text_error(status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

impl App {
    /// Handles one request.
    pub(crate) async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let access = self.access.current();
        let mut resp = self.route(&access, req).await;
        for (name, value) in &access.headers {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
        resp
    }

    async fn route<B>(self: Arc<Self>, access: &Access, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if let Some(bucket) = &access.rate_limit
            && !bucket.lock().unwrap_or_else(|p| p.into_inner()).allow(Instant::now())
        {
            return text_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        if access.auth.enabled() {
            let auth = access.auth.clone();
            let value = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
            let ok = tokio::task::spawn_blocking(move || auth.check(value.as_deref()))
                .await
                .unwrap_or(false);
            if !ok {
                let mut resp = text_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
                return resp;
            }
        }
        let path = req.uri().path();
        if path == self.telemetry_path {
            return self.metrics(req).await;
        }
        if let Some(routes) = &self.routes {
            let (parts, body) = req.into_parts();
            let limited = http_body_util::Limited::new(body, super::MAX_ROUTE_BODY);
            let bytes = match http_body_util::BodyExt::collect(limited).await {
                Ok(collected) => collected.to_bytes(),
                Err(err) => {
                    let too_large = err.downcast_ref::<http_body_util::LengthLimitError>().is_some();
                    return if too_large {
                        text_error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                    } else {
                        text_error(StatusCode::BAD_REQUEST, &format!("error reading request body: {err}"))
                    };
                }
            };
            return routes(Request::from_parts(parts, bytes)).await;
        }
        if path == "/"
            && let Some(page) = &self.landing
        {
            let mut resp = Response::new(Full::new(page.clone()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            );
            return resp;
        }
        text_error(StatusCode::NOT_FOUND, "404 page not found")
    }

    async fn metrics<B>(self: Arc<Self>, req: Request<B>) -> Response<Body> {
        let query = req.uri().query().unwrap_or("");
        let collects = query_values(query, "collect[]");
        let excludes = query_values(query, "exclude[]");
        let filter = match self.filter(collects, excludes) {
            Ok(f) => f,
            Err(message) => {
                tracing::warn!(err = %message, "couldn't create filtered metrics handler");
                return text_error(StatusCode::BAD_REQUEST, &message);
            }
        };
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let format = encode::negotiate(accept);
        let gzip = gzip_accepted(req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));

        let counters = self.counters.clone();
        let _in_flight = counters.start();
        let _permit = match &self.limit {
            None => None,
            Some((sem, max)) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    counters.finished(503);
                    return text_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("Limit of concurrent requests reached ({max}), try again later."),
                    );
                }
            },
        };
        let app = self.clone();
        let result = match self.collector.clone() {
            // A task of its own on the runtime thread, so a panicking collector is a 500, as on a blocking thread.
            Some(collector) => tokio::spawn(async move {
                let families = collector.collect().await;
                app.gather_and_encode(families, &filter, format, gzip)
            })
            .await
            .map_err(|join| join.to_string()),
            None if self.inline => {
                let gathered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    app.gather_and_encode(Vec::new(), &filter, format, gzip)
                }));
                gathered.map_err(|_| "a collector panicked".to_string())
            }
            None => tokio::task::spawn_blocking(move || app.gather_and_encode(Vec::new(), &filter, format, gzip))
                .await
                .map_err(|join| join.to_string()),
        };
        let resp = match result {
            Ok(Ok(body)) => {
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                let h = resp.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
                if gzip {
                    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                }
                resp
            }
            Ok(Err((cause, message))) => {
                counters.error(cause);
                tracing::error!(err = %message, "error serving metrics");
                text_error(StatusCode::INTERNAL_SERVER_ERROR, &message)
            }
            Err(join) => {
                counters.error(HandlerError::Gathering);
                tracing::error!(err = %join, "metrics gathering task failed");
                text_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An error has occurred while serving metrics: gathering failed",
                )
            }
        };
        counters.finished(resp.status().as_u16());
        resp
    }

    /// Turns `collect[]`/`exclude[]` into the registry filter, as node_exporter's handler does.
    fn filter(&self, collects: Vec<String>, excludes: Vec<String>) -> Result<Vec<String>, String> {
        if !collects.is_empty() && !excludes.is_empty() {
            return Err("Combined collect and exclude queries are not allowed.".to_string());
        }
        if collects.is_empty() && excludes.is_empty() {
            // Every collector: no need to list their names on each scrape.
            return Ok(Vec::new());
        }
        let names = self.registry.collector_names();
        if !excludes.is_empty() {
            return Ok(names.into_iter().filter(|n| !excludes.contains(n)).collect());
        }
        let mut filter = collects;
        filter.sort();
        filter.dedup();
        if let Some(unknown) = filter.iter().find(|f| !names.contains(f)) {
            return Err(format!(
                "Couldn't create filtered metrics handler: couldn't create collector: missing collector: {unknown}"
            ));
        }
        Ok(filter)
    }

    /// Gathers, adds `collected` (the async collector's families) and the runtime's own families, encodes and
    /// optionally gzips. Runs on a blocking thread unless the exporter has an async collector.
    fn gather_and_encode(
        &self,
        collected: Vec<MetricFamily>,
        filter: &[String],
        format: Format,
        gzip: bool,
    ) -> Result<Vec<u8>, (HandlerError, String)> {
        let mut families = self.registry.gather(filter).map_err(|e| {
            (
                HandlerError::Gathering,
                format!("An error has occurred while serving metrics:\n\n{e}"),
            )
        })?;
        let before = families.len();
        families.extend(collected);
        for c in &self.extra {
            if let Err(err) = c.collect(&mut families) {
                tracing::error!(err = %err, "exporter metrics collector failed");
            }
        }
        if self.expose_handler_metrics {
            self.counters.collect(&mut families);
        }
        if families.len() != before {
            families = merge_by_name(families);
        }
        let mut body = Vec::with_capacity(16 * 1024);
        encode::encode(&families, format, &mut body);
        if !gzip {
            return Ok(body);
        }
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
        enc.write_all(&body)
            .and_then(|()| enc.finish())
            .map_err(|e| (HandlerError::Encoding, format!("error compressing response: {e}")))
    }
}

/// Sorts families by name (stable) and merges neighbours with the same name.
fn merge_by_name(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<MetricFamily> = Vec::with_capacity(families.len());
    for fam in families {
        match out.last_mut() {
            Some(last) if last.name == fam.name => last.metrics.extend(fam.metrics),
            _ => out.push(fam),
        }
    }
    out
}

/// Whether `Accept-Encoding` accepts gzip (`gzip` or `*` with a non-zero q value).
pub(crate) fn gzip_accepted(header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let mut gzip_q: Option<f32> = None;
    let mut star_q: Option<f32> = None;
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
pub(crate) fn query_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == key).then(|| percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some("gzip"), true),
            (Some("deflate, gzip;q=1.0, *;q=0.5"), true),
            (Some("gzip;q=0"), false),
            (Some("identity"), false),
            (Some("*"), true),
            (Some("*;q=0.1, gzip;q=0"), false),
            (Some("GZIP"), true),
            (Some("br, zstd"), false),
        ];
        for (h, want) in cases {
            assert_eq!(gzip_accepted(*h), *want, "{h:?}");
        }
    }

    #[test]
    fn query_parsing() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("collect[]=cpu", &["cpu"]),
            ("collect%5B%5D=cpu&collect%5b%5d=meminfo", &["cpu", "meminfo"]),
            ("collect[]=a+b&other=1&collect[]=%zz&collect[]=", &["a b", "%zz", ""]),
            ("collect[]=%", &["%"]),
            ("collect", &[]),
        ];
        for (q, want) in cases {
            assert_eq!(query_values(q, "collect[]"), *want, "{q}");
        }
    }

    #[test]
    fn token_bucket() {
        let mut b = TokenBucket::new(2, Duration::from_secs(1));
        let t0 = b.last;
        assert!(b.allow(t0));
        assert!(b.allow(t0));
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + Duration::from_millis(500)));
        assert!(b.allow(t0 + Duration::from_millis(1000)));
        let mut none = TokenBucket::new(0, Duration::from_secs(1));
        assert!(!none.allow(t0 + Duration::from_secs(10)));
    }
}
