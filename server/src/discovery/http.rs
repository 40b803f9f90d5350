//! `http_sd_configs`: target groups fetched as JSON from an HTTP endpoint every `refresh_interval`.
//!
//! As upstream: the request carries `Accept: application/json` and `X-Prometheus-Refresh-Interval-Seconds`; the
//! answer must be `200` with `Content-Type: application/json`; group `i` has the source `<url>:i` and the label
//! `__meta_url`. A failed refresh keeps the previous groups and counts in `prometheus_sd_http_failures_total`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::HttpSdConfig;
use crate::httpclient::{HttpClient, HttpClientError};

use super::targetgroup::{Format, GroupsError, parse_groups};
use super::{BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, SdMetrics, TargetGroup};

/// The label holding the endpoint's URL.
pub const URL_LABEL: &str = "__meta_url";

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpSdError {
    /// The request failed.
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// The endpoint answered with a status other than 200.
    #[error("server returned HTTP status {status} for {url}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
    },
    /// The endpoint's content type is not JSON.
    #[error("unsupported content type {content_type:?} from {url}")]
    ContentType {
        /// The URL.
        url: String,
        /// The `Content-Type` received.
        content_type: String,
    },
    /// The body could not be read.
    #[error("reading the response from {url}: {source}")]
    Body {
        /// The URL.
        url: String,
        /// The error.
        source: reqwest::Error,
    },
    /// The body is not a list of target groups.
    #[error("invalid response from {url}: {source}")]
    Parse {
        /// The URL.
        url: String,
        /// What was wrong.
        source: GroupsError,
    },
}

/// Polls one `http_sd_configs` endpoint.
#[derive(Debug)]
pub struct HttpDiscoverer {
    url: String,
    job: String,
    client: HttpClient,
    refresh_interval: Duration,
    metrics: Option<Arc<SdMetrics>>,
    last: Vec<TargetGroup>,
    /// Whether a refresh succeeded yet (the first one is always sent).
    synced: bool,
}

/// The [`super::MECHANISMS`] constructor.
pub fn build(config: &SdConfig, options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
    match config {
        SdConfig::Http(c) => Ok(Box::new(HttpDiscoverer::new(c, options)?)),
        other => Err(DiscoveryError::Mechanism {
            expected: "http",
            got: other.mechanism(),
        }),
    }
}

/// Upstream's accepted JSON content types: `application/json`, optionally with a UTF-8 charset.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return false;
    }
    match parts.next() {
        None => true,
        Some(p) => {
            let p = p.trim();
            parts.next().is_none()
                && p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("charset") && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
        }
    }
}

impl HttpDiscoverer {
    /// A discoverer for `config`.
    pub fn new(config: &HttpSdConfig, options: &DiscovererOptions) -> Result<HttpDiscoverer, HttpClientError> {
        Ok(HttpDiscoverer {
            url: config.url.clone(),
            job: options.job.clone(),
            client: HttpClient::new(&config.http_client(), &format!("http_sd/{}", options.job))?,
            refresh_interval: Duration::from_millis(config.refresh_interval.as_millis().max(1)),
            metrics: options.metrics.clone(),
            last: Vec::new(),
            synced: false,
        })
    }

    /// Fetches the groups now.
    pub async fn fetch(&self) -> Result<Vec<TargetGroup>, HttpSdError> {
        let seconds = self.refresh_interval.as_secs_f64().to_string();
        let headers = [
            ("Accept", "application/json"),
            ("X-Prometheus-Refresh-Interval-Seconds", seconds.as_str()),
        ];
        let timeout = self.refresh_interval.max(Duration::from_secs(1));
        let resp = self.client.get(&self.url, &headers, timeout).await?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(HttpSdError::Status {
                url: self.url.clone(),
                status: resp.status(),
            });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json(&content_type) {
            return Err(HttpSdError::ContentType {
                url: self.url.clone(),
                content_type,
            });
        }
        let body = resp.text().await.map_err(|source| HttpSdError::Body {
            url: self.url.clone(),
            source,
        })?;
        let url = &self.url;
        parse_groups(&body, Format::Json, |i| format!("{url}:{i}"), (URL_LABEL, url)).map_err(|source| {
            HttpSdError::Parse {
                url: url.clone(),
                source,
            }
        })
    }

    /// One refresh: the changed groups to send (empty groups withdraw sources that disappeared), or `None` when
    /// nothing changed or the refresh failed.
    pub async fn refresh(&mut self) -> Option<Vec<TargetGroup>> {
        match self.fetch().await {
            Ok(groups) => {
                if groups == self.last && self.synced {
                    return None;
                }
                self.synced = true;
                let mut out: Vec<TargetGroup> = self
                    .last
                    .iter()
                    .skip(groups.len())
                    .map(|g| TargetGroup::empty(g.source.clone()))
                    .collect();
                out.extend(groups.iter().cloned());
                self.last = groups;
                Some(out)
            }
            Err(e) => {
                if let Some(m) = &self.metrics {
                    m.http_failure();
                    m.refresh_failure("http", &self.job);
                }
                tracing::error!(job = %self.job, "http_sd refresh failed: {e}");
                None
            }
        }
    }
}

impl Discoverer for HttpDiscoverer {
    fn run(mut self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            loop {
                let refreshed = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = self.refresh() => r,
                };
                if let Some(groups) = refreshed
                    && !super::send(&cancel, &updates, groups).await
                {
                    return;
                }
                if !super::sleep(&cancel, self.refresh_interval).await {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON", true),
            ("application/json; charset=utf-8", true),
            ("application/json;charset=\"utf-8\"", true),
            ("application/json; charset=latin1", false),
            ("text/plain", false),
            ("", false),
        ] {
            assert_eq!(is_json(ct), ok, "{ct}");
        }
    }
}
