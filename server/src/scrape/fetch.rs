//! One HTTP scrape: the request Prometheus sends (Accept by scrape protocol, gzip, the scrape timeout header) and
//! reading the response within the body size limit, choosing the format from `Content-Type`.

use std::time::Duration;

use exposition::encode::Format;

use crate::config::ScrapeProtocol;
use crate::httpclient::HttpClient;

/// The `User-Agent` of scrapes.
pub fn user_agent() -> String {
    format!("Prometheus/{}", env!("CARGO_PKG_VERSION"))
}

/// The `Accept` header for `protocols` in preference order, weighted as upstream (`q=0.<n>` descending, then
/// `*/*`). The protobuf format is not offered: this server reads the text formats.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let offered: Vec<&str> = protocols.iter().filter_map(|p| media_type(*p)).collect();
    let mut weight = offered.len() + 1;
    let mut parts = Vec::with_capacity(offered.len() + 1);
    for media in offered {
        parts.push(format!("{media};q=0.{weight}"));
        weight -= 1;
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

fn media_type(p: ScrapeProtocol) -> Option<&'static str> {
    match p {
        ScrapeProtocol::PrometheusProto => None,
        ScrapeProtocol::OpenMetricsText1_0_0 => Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"),
        ScrapeProtocol::OpenMetricsText0_0_1 => Some("application/openmetrics-text;version=0.0.1"),
        ScrapeProtocol::PrometheusText1_0_0 => Some("text/plain;version=1.0.0;escaping=allow-utf-8"),
        ScrapeProtocol::PrometheusText0_0_4 => Some("text/plain;version=0.0.4"),
    }
}

/// The format of a response with `content_type`, else the fallback protocol's.
pub fn format_for(content_type: Option<&str>, fallback: Option<ScrapeProtocol>) -> Result<Format, String> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/openmetrics-text") => return Ok(Format::OpenMetrics),
        Some("text/plain") => return Ok(Format::Text),
        _ => {}
    }
    match fallback {
        Some(ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0) => Ok(Format::OpenMetrics),
        Some(ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0) => Ok(Format::Text),
        _ => Err(format!(
            "received unsupported Content-Type {:?} and no fallback_scrape_protocol specified for target",
            content_type.unwrap_or("")
        )),
    }
}

/// What one scrape request needs.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    /// The URL.
    pub url: String,
    /// The `Accept` header.
    pub accept: String,
    /// Ask for gzip.
    pub compression: bool,
    /// Timeout for the whole exchange.
    pub timeout: Duration,
    /// Largest body accepted (0: unlimited).
    pub body_size_limit: u64,
    /// Protocol when `Content-Type` is missing or unknown.
    pub fallback: Option<ScrapeProtocol>,
}

/// A fetched body.
#[derive(Debug)]
pub struct Fetched {
    /// The (decompressed) body.
    pub body: Vec<u8>,
    /// Its format.
    pub format: Format,
}

/// Scrapes once. Errors are worded as Prometheus words them on the targets page.
pub async fn fetch(client: &HttpClient, req: &FetchRequest, buf: Vec<u8>) -> Result<Fetched, String> {
    let timeout_header = format_seconds(req.timeout);
    let agent = user_agent();
    let headers = [
        ("Accept", req.accept.as_str()),
        ("Accept-Encoding", if req.compression { "gzip" } else { "identity" }),
        ("User-Agent", agent.as_str()),
        ("X-Prometheus-Scrape-Timeout-Seconds", timeout_header.as_str()),
    ];
    let work = async {
        let mut resp = client
            .get(&req.url, &headers, req.timeout)
            .await
            .map_err(|e| error_chain(&e))?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "server returned HTTP status {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let format = format_for(content_type.as_deref(), req.fallback)?;
        let mut body = buf;
        body.clear();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if req.body_size_limit > 0 && body.len() as u64 > req.body_size_limit {
                return Err(format!("body size limit exceeded ({} bytes)", req.body_size_limit));
            }
        }
        Ok(Fetched { body, format })
    };
    match tokio::time::timeout(req.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("Get {:?}: context deadline exceeded", req.url)),
    }
}

/// An error with its causes, `a: b: c`, skipping causes the message already contains.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Seconds as Go's `strconv.FormatFloat(s, 'f', -1, 64)` writes them (`10`, `0.5`).
pub fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_matches_upstream_default() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
             application/openmetrics-text;version=0.0.1;q=0.4,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,\
             text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        );
    }

    #[test]
    fn content_type_selects_format() {
        let cases = [
            (Some("text/plain; version=0.0.4; charset=utf-8"), None, Ok(Format::Text)),
            (
                Some("application/openmetrics-text; version=1.0.0"),
                None,
                Ok(Format::OpenMetrics),
            ),
            (
                Some("application/json"),
                Some(ScrapeProtocol::PrometheusText0_0_4),
                Ok(Format::Text),
            ),
            (
                None,
                Some(ScrapeProtocol::OpenMetricsText1_0_0),
                Ok(Format::OpenMetrics),
            ),
        ];
        for (ct, fallback, want) in cases {
            assert_eq!(format_for(ct, fallback), want, "{ct:?}");
        }
        let err = format_for(Some("application/json"), None).unwrap_err();
        assert!(
            err.contains("received unsupported Content-Type \"application/json\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn connection_errors_name_the_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = HttpClient::new(&Default::default(), "test").unwrap();
        let req = FetchRequest {
            url: format!("http://127.0.0.1:{port}/metrics"),
            accept: accept_header(&ScrapeProtocol::DEFAULT),
            compression: true,
            timeout: Duration::from_secs(5),
            body_size_limit: 0,
            fallback: None,
        };
        let err = fetch(&client, &req, Vec::new()).await.unwrap_err();
        assert!(
            err.starts_with(&format!("Get \"http://127.0.0.1:{port}/metrics\"")),
            "{err}"
        );
        assert!(err.to_lowercase().contains("connection refused"), "{err}");
    }

    #[test]
    fn seconds_formatting() {
        assert_eq!(format_seconds(Duration::from_secs(10)), "10");
        assert_eq!(format_seconds(Duration::from_millis(500)), "0.5");
    }
}
