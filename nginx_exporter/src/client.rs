//! Fetching and parsing nginx's stub_status page.
//!
//! A [`Client`] holds one scrape [`Target`] (`http://`, `https://` or `unix:/socket[:/path]`), the timeout and the
//! shared TLS configuration. [`Client::fetch`] sends one `GET` with upstream's
//! `User-Agent: NGINX-Prometheus-Exporter/v<version>`, requires status 200 and parses the body with
//! [`stub_status::parse`]. Like Go's HTTP client it keeps connections open for the next scrapes when nginx
//! allows it, up to [`MAX_IDLE`] of them (so the exporter does not add one accepted connection per scrape, nor
//! when up to that many scrapes overlap), and retries once on a fresh connection when a kept one turns out to be
//! closed. It is asynchronous: a scrape runs on the exporter's runtime thread, which waits for nginx
//! in its event loop instead of handing each scrape to a blocking thread and back.

pub mod http1;
pub mod stub_status;
pub mod target;
pub mod tls;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Instant;

pub use http1::HttpError;
pub use stub_status::{ParseError, StubStatus};
pub use target::{Endpoint, Target, TargetError};
pub use tls::{TlsError, TlsOptions};

/// Why a scrape failed. The message names the target.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The host name did not resolve.
    #[error("failed to get {uri}: cannot resolve {host}: {source}")]
    Resolve {
        /// The scrape URI.
        uri: String,
        /// The host name.
        host: String,
        /// The resolver error.
        #[source]
        source: io::Error,
    },
    /// No connection could be opened.
    #[error("failed to get {uri}: cannot connect to {address}: {source}")]
    Connect {
        /// The scrape URI.
        uri: String,
        /// The address (or socket path) tried last.
        address: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The host is not a valid TLS server name.
    #[error("failed to get {uri}: invalid TLS server name {host:?}")]
    ServerName {
        /// The scrape URI.
        uri: String,
        /// The host.
        host: String,
    },
    /// The TLS session could not be set up.
    #[error("failed to get {uri}: TLS: {source}")]
    Tls {
        /// The scrape URI.
        uri: String,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// The HTTP exchange failed (I/O error, timeout, malformed response).
    #[error("failed to get {uri}: {source}")]
    Http {
        /// The scrape URI.
        uri: String,
        /// The cause.
        #[source]
        source: HttpError,
    },
    /// The status code is not 200.
    #[error("failed to get {uri}: expected 200 response, got {status}")]
    Status {
        /// The scrape URI.
        uri: String,
        /// The status code.
        status: u16,
    },
    /// The body is not a stub_status page.
    #[error("failed to parse response body {body:?} from {uri}: {source}")]
    Parse {
        /// The scrape URI.
        uri: String,
        /// The body (truncated to 200 characters).
        body: String,
        /// Where the page does not fit.
        #[source]
        source: ParseError,
    },
}

/// How many idle connections a [`Client`] keeps. Go's default transport keeps 2 per host, so a third overlapping
/// scrape (a Prometheus HA pair and a debugging `curl`, or several scrapers) opened and closed a connection to
/// nginx every time; 4 covers the common overlaps and still bounds what the exporter holds open.
pub const MAX_IDLE: usize = 4;

/// Fetches one target's stub_status page.
pub struct Client {
    target: Target,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    user_agent: String,
    /// The request, the same for every fetch.
    request: Vec<u8>,
    /// Connections kept from earlier fetches (at most [`MAX_IDLE`]), the most recently used last.
    idle: Mutex<Vec<Stream>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls.is_some())
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `target`; `tls` is required for `https://` targets and ignored otherwise.
    pub fn new(
        target: Target,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
        user_agent: impl Into<String>,
    ) -> Client {
        let authorization = target.userinfo.as_ref().map(|u| {
            let decoded = percent_decode(u);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(decoded))
        });
        let user_agent = user_agent.into();
        let request = http1::request(&target.path, &target.host_header, &user_agent, authorization.as_deref());
        Client {
            target,
            timeout,
            tls,
            user_agent,
            request,
            idle: Mutex::new(Vec::with_capacity(MAX_IDLE)),
        }
    }

    /// The target this client scrapes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Fetches and parses the page within the timeout.
    pub async fn fetch(&self) -> Result<StubStatus, FetchError> {
        let uri = || self.target.uri.clone();
        let deadline = Instant::now() + self.timeout;
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut response = None;
        if let Some(conn) = kept {
            // A kept connection nginx has closed meanwhile fails at once; a GET is safe to repeat.
            response = self.exchange(conn, deadline).await.ok();
        }
        let response = match response {
            Some(r) => r,
            None => {
                let conn = self.connect(deadline).await?;
                self.exchange(conn, deadline)
                    .await
                    .map_err(|source| FetchError::Http { uri: uri(), source })?
            }
        };
        if response.status != 200 {
            return Err(FetchError::Status {
                uri: uri(),
                status: response.status,
            });
        }
        let body = String::from_utf8_lossy(&response.body);
        stub_status::parse(&body).map_err(|source| FetchError::Parse {
            uri: uri(),
            body: body.chars().take(200).collect(),
            source,
        })
    }

    /// One request on `conn` before `deadline`; the connection is kept for a later fetch when the response allows
    /// it and fewer than [`MAX_IDLE`] are kept.
    async fn exchange(&self, mut conn: Stream, deadline: Instant) -> Result<http1::Response, HttpError> {
        let response = match tokio::time::timeout_at(deadline, http1::get(&mut conn, &self.request)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(HttpError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timeout exceeded while awaiting response",
                )));
            }
        };
        if response.keep_alive {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        Ok(response)
    }

    async fn connect(&self, deadline: Instant) -> Result<Stream, FetchError> {
        let uri = || self.target.uri.clone();
        let address = || match &self.target.endpoint {
            Endpoint::Unix { socket } => socket.display().to_string(),
            Endpoint::Http { host, port } | Endpoint::Https { host, port } => format!("{host}:{port}"),
        };
        let timed_out = || FetchError::Connect {
            uri: uri(),
            address: address(),
            source: io::Error::new(io::ErrorKind::TimedOut, "timeout exceeded while connecting"),
        };
        tokio::time::timeout_at(deadline, self.open())
            .await
            .unwrap_or_else(|_| Err(timed_out()))
    }

    async fn open(&self) -> Result<Stream, FetchError> {
        let uri = || self.target.uri.clone();
        match &self.target.endpoint {
            Endpoint::Unix { socket } => {
                let s = UnixStream::connect(socket)
                    .await
                    .map_err(|source| FetchError::Connect {
                        uri: uri(),
                        address: socket.display().to_string(),
                        source,
                    })?;
                Ok(Stream::Unix(s))
            }
            Endpoint::Http { host, port } => Ok(Stream::Tcp(self.tcp(host, *port).await?)),
            Endpoint::Https { host, port } => {
                let tcp = self.tcp(host, *port).await?;
                let name = ServerName::try_from(host.clone()).map_err(|_| FetchError::ServerName {
                    uri: uri(),
                    host: host.clone(),
                })?;
                let config = match &self.tls {
                    Some(c) => c.clone(),
                    None => tls::client_config(&TlsOptions::default()).map_err(|e| FetchError::Connect {
                        uri: uri(),
                        address: host.clone(),
                        source: io::Error::other(e.to_string()),
                    })?,
                };
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|source| match source.downcast::<rustls::Error>() {
                        Ok(source) => FetchError::Tls { uri: uri(), source },
                        Err(source) => FetchError::Connect {
                            uri: uri(),
                            address: format!("{host}:{port}"),
                            source,
                        },
                    })?;
                Ok(Stream::Tls(Box::new(tls)))
            }
        }
    }

    async fn tcp(&self, host: &str, port: u16) -> Result<TcpStream, FetchError> {
        let uri = || self.target.uri.clone();
        // An address literal resolves at once; a name goes to the system resolver (a connection is kept, so
        // this happens once, not per scrape).
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| FetchError::Resolve {
                uri: uri(),
                host: host.to_string(),
                source,
            })?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        let mut last_addr = format!("{host}:{port}");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => {
                    last = e;
                    last_addr = addr.to_string();
                }
            }
        }
        Err(FetchError::Connect {
            uri: uri(),
            address: last_addr,
            source: last,
        })
    }
}

/// A connection to nginx: TCP, TLS over TCP or a unix socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => match Pin::new(s.as_mut()).poll_read(cx, buf) {
                // A peer that closes without close_notify after a complete response is common; treat it as EOF.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
                other => other,
            },
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Decodes `%XX` escapes of URI userinfo; malformed escapes stay as they are.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = b.get(i + 1..i + 3)
            && let Ok(text) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(text, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdTcpStream};

    /// Serves one canned response on a loopback port and returns the request it received.
    fn serve_once(response: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(response).expect("write");
            String::from_utf8_lossy(&req).into_owned()
        });
        (format!("http://u%40x:p@{addr}/status"), handle)
    }

    fn client(uri: &str, timeout: Duration) -> Client {
        Client::new(
            Target::parse(uri).expect("uri"),
            timeout,
            None,
            "NGINX-Prometheus-Exporter/v1.0.0",
        )
    }

    #[tokio::test]
    async fn fetches_and_sends_upstream_headers() {
        let (uri, server) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 97\r\n\r\nActive connections: 1 \nserver accepts handled requests\n 2 3 4 \n\
              Reading: 0 Writing: 1 Waiting: 0 \n",
        );
        let stats = client(&uri, Duration::from_secs(5)).fetch().await.expect("fetch");
        assert_eq!(
            (stats.active, stats.accepted, stats.requests, stats.writing),
            (1, 2, 4, 1)
        );
        let req = server.join().expect("server");
        assert!(req.starts_with("GET /status HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("User-Agent: NGINX-Prometheus-Exporter/v1.0.0\r\n"),
            "{req}"
        );
        // "u@x:p"
        assert!(req.contains("Authorization: Basic dUB4OnA=\r\n"), "{req}");
    }

    const PAGE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 97\r\n\r\nActive connections: 1 \n\
                          server accepts handled requests\n 2 3 4 \nReading: 0 Writing: 1 Waiting: 0 \n";

    /// Reads one request head from `s`.
    fn read_request(s: &mut StdTcpStream) -> bool {
        let mut req = Vec::new();
        let mut buf = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(1) => req.push(buf[0]),
                _ => return false,
            }
        }
        true
    }

    #[tokio::test]
    async fn keeps_the_connection_and_reconnects_when_it_was_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            // First connection: two requests, then closed without notice.
            let (mut s, _) = listener.accept().expect("accept");
            for _ in 0..2 {
                assert!(read_request(&mut s));
                s.write_all(PAGE).expect("write");
            }
            drop(s);
            // Second connection after the client found the first one closed.
            let (mut s, _) = listener.accept().expect("accept");
            assert!(read_request(&mut s));
            s.write_all(PAGE).expect("write");
            // Keep it open until the client is done.
            let _ = read_request(&mut s);
        });
        let c = client(&uri, Duration::from_secs(5));
        for _ in 0..3 {
            assert_eq!(c.fetch().await.expect("fetch").requests, 4);
        }
        drop(c);
        server.join().expect("server");
    }

    /// [`MAX_IDLE`] fetches at once, twice: every connection of the first round is kept and carries the second.
    #[tokio::test]
    async fn keeps_a_connection_per_overlapping_fetch() {
        const _: () = assert!(MAX_IDLE == 4, "the fetches below are written out for 4");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            let mut conns: Vec<_> = (0..MAX_IDLE).map(|_| listener.accept().expect("accept").0).collect();
            for round in 0..2 {
                // Every request is read before any is answered, so the fetches overlap.
                for (i, conn) in conns.iter_mut().enumerate() {
                    assert!(read_request(conn), "round {round}: connection {i} closed");
                }
                for conn in &mut conns {
                    conn.write_all(PAGE).expect("write");
                }
            }
            listener.set_nonblocking(true).expect("nonblocking");
            assert!(listener.accept().is_err(), "another connection was opened");
        });
        let c = client(&uri, Duration::from_secs(5));
        for _ in 0..2 {
            let (a, b, d, e) = tokio::join!(c.fetch(), c.fetch(), c.fetch(), c.fetch());
            for f in [a, b, d, e] {
                assert_eq!(f.expect("fetch").requests, 4);
            }
        }
        server.join().expect("server");
    }

    #[tokio::test]
    async fn status_and_garbage_are_errors() {
        let (uri, server) = serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let err = client(&uri, Duration::from_secs(5)).fetch().await.expect_err("404");
        assert!(matches!(err, FetchError::Status { status: 404, .. }), "{err}");
        server.join().expect("server");

        let (uri, server) = serve_once(b"HTTP/1.1 200 OK\r\n\r\n<html>hello</html>");
        let err = client(&uri, Duration::from_secs(5)).fetch().await.expect_err("garbage");
        assert!(matches!(err, FetchError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("<html>hello</html>"), "{err}");
        server.join().expect("server");
    }

    #[tokio::test]
    async fn times_out() {
        // A listener that accepts but never answers.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/", listener.local_addr().expect("addr"));
        let start = std::time::Instant::now();
        let err = client(&uri, Duration::from_millis(200))
            .fetch()
            .await
            .expect_err("timeout");
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(err.to_string().contains("timeout"), "{err}");
        drop(listener);
    }

    #[tokio::test]
    async fn connection_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/", listener.local_addr().expect("addr"));
        drop(listener);
        let err = client(&uri, Duration::from_secs(1)).fetch().await.expect_err("refused");
        assert!(matches!(err, FetchError::Connect { .. }), "{err}");
    }
}
