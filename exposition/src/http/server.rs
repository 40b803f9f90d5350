//! Listening, TLS handshakes, serving connections with hyper, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

use super::args::{ipv4_fallback, resolve_listen_address};
use super::config::{ValidConfig, WebConfig};
use super::handler::{AccessSource, App};
use super::landing::{LandingPage, title_from_name};
use super::process::ProcessCollector;
use super::self_metrics::{BuildInfoCollector, HandlerMetrics};
use super::{Exporter, HttpError};
use crate::registry::Collector;

/// What [`prepare`] builds from the exporter and flags.
pub(crate) struct Prepared {
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    http2: bool,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("app", &self.app)
            .field("tls", &self.tls.is_some())
            .field("http2", &self.http2)
            .finish()
    }
}

/// Validates flags and the web config file and builds the request handler and TLS acceptor.
pub(crate) fn prepare(exporter: &Exporter, args: &super::WebArgs) -> Result<Prepared, HttpError> {
    if !args.telemetry_path.starts_with('/') {
        return Err(HttpError::TelemetryPath {
            path: args.telemetry_path.clone(),
        });
    }
    let config = match &args.config_file {
        Some(path) if !path.as_os_str().is_empty() => WebConfig::load(path)?,
        _ => ValidConfig {
            tls: None,
            http2: true,
            headers: Vec::new(),
            users: Default::default(),
            rate_limit: None,
        },
    };
    let tls = match &config.tls {
        None => None,
        Some(settings) => {
            let server_config =
                super::tls::server_config(settings, config.http2).map_err(|message| HttpError::Tls {
                    path: args.config_file.clone().unwrap_or_default(),
                    message,
                })?;
            Some(TlsAcceptor::from(server_config))
        }
    };
    let build = BuildInfoCollector {
        exporter: exporter.name.clone(),
        info: exporter.build.clone(),
    };
    let title = exporter
        .title
        .clone()
        .unwrap_or_else(|| title_from_name(&exporter.name));
    let landing = (args.telemetry_path != "/").then(|| {
        let info = &exporter.build;
        let page = LandingPage {
            description: exporter
                .description
                .clone()
                .unwrap_or_else(|| format!("Prometheus {title}")),
            title: title.clone(),
            version: format!(
                "(version={}, branch={}, revision={})",
                info.version, info.branch, info.revision
            ),
            links: vec![(args.telemetry_path.clone(), "Metrics".to_string())],
        };
        Bytes::from(page.render())
    });
    let mut extra: Vec<Box<dyn Collector>> = vec![Box::new(build)];
    if !args.disable_exporter_metrics {
        extra.push(Box::new(ProcessCollector::with_procfs(exporter.procfs.clone())));
    }
    let app = App {
        registry: exporter.registry.clone(),
        extra,
        counters: Arc::new(HandlerMetrics::default()),
        expose_handler_metrics: !args.disable_exporter_metrics,
        telemetry_path: args.telemetry_path.clone(),
        limit: (args.max_requests > 0).then(|| (Arc::new(Semaphore::new(args.max_requests)), args.max_requests)),
        landing,
        access: AccessSource::new(args.config_file.clone().filter(|p| !p.as_os_str().is_empty()), &config),
        routes: exporter.routes.as_ref().map(|r| r.0.clone()),
        collector: exporter.collector.as_ref().map(|c| c.0.clone()),
        inline: exporter.inline,
    };
    Ok(Prepared {
        app: Arc::new(app),
        tls,
        http2: config.http2,
    })
}

/// Binds every address; an all-interfaces address falls back to IPv4 where IPv6 is unavailable.
pub(crate) async fn bind_all(addresses: &[String]) -> Result<Vec<TcpListener>, HttpError> {
    let mut listeners = Vec::new();
    for address in addresses {
        let resolved = resolve_listen_address(address)?;
        let mut last_err = None;
        let mut bound = None;
        for addr in resolved
            .iter()
            .copied()
            .chain(resolved.iter().copied().filter_map(ipv4_fallback))
        {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    bound = Some(l);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        match bound {
            Some(l) => listeners.push(l),
            None => {
                return Err(HttpError::Bind {
                    address: address.clone(),
                    source: last_err.unwrap_or_else(|| std::io::Error::other("no address to bind")),
                });
            }
        }
    }
    Ok(listeners)
}

/// A bound, configured runtime, ready to serve.
#[derive(Debug)]
pub struct Server {
    prepared: Prepared,
    listeners: Vec<TcpListener>,
}

impl Server {
    pub(crate) fn new(prepared: Prepared, listeners: Vec<TcpListener>) -> Server {
        Server { prepared, listeners }
    }

    /// The addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.local_addr().ok()).collect()
    }

    /// Whether connections are served over TLS.
    pub fn is_tls(&self) -> bool {
        self.prepared.tls.is_some()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run(self) -> Result<(), HttpError> {
        let signal = shutdown_signal()?;
        self.serve_until(signal).await
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets in-flight requests finish
    /// (idle keep-alive connections are closed) and returns.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), HttpError> {
        let Server { prepared, listeners } = self;
        let (tx, mut rx) = mpsc::channel::<TcpStream>(64);
        let mut accept_tasks = Vec::new();
        for listener in listeners {
            let addr = listener.local_addr().ok();
            tracing::info!(address = ?addr.map(|a| a.to_string()).unwrap_or_default(), "Listening on");
            match &prepared.tls {
                Some(_) => tracing::info!(http2 = prepared.http2, "TLS is enabled."),
                None => tracing::info!(http2 = false, "TLS is disabled."),
            }
            let tx = tx.clone();
            accept_tasks.push(tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _peer)) => {
                            if tx.send(stream).await.is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            // Out of file descriptors and similar: back off briefly, as Go's server does.
                            tracing::error!(err = %err, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
            }));
        }
        drop(tx);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                stream = rx.recv() => match stream {
                    Some(stream) => {
                        let watcher = graceful.watcher();
                        tokio::spawn(serve_connection(stream, prepared.app.clone(), prepared.tls.clone(), prepared.http2, watcher));
                    }
                    None => break,
                },
            }
        }
        for task in &accept_tasks {
            task.abort();
        }
        drop(rx);
        for task in accept_tasks {
            let _ = task.await;
        }
        tracing::info!("Shutting down; waiting for in-flight requests");
        graceful.shutdown().await;
        Ok(())
    }
}

async fn serve_connection(stream: TcpStream, app: Arc<App>, tls: Option<TlsAcceptor>, http2: bool, watcher: Watcher) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    match tls {
        None => {
            // Like Go's net/http, plain connections speak HTTP/1.1 only (no h2c).
            let builder = builder.http1_only();
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(err) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(err = %err, "connection error");
            }
        }
        Some(acceptor) => {
            let stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(err) => {
                    tracing::debug!(err = %err, "TLS handshake error");
                    return;
                }
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let builder = if h2 && http2 {
                builder.http2_only()
            } else {
                builder.http1_only()
            };
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(err) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(err = %err, "connection error");
            }
        }
    }
}

/// A future that completes on SIGTERM or SIGINT (Ctrl-C); elsewhere than Unix, on Ctrl-C.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send, HttpError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(HttpError::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(HttpError::Signal)?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("Received SIGTERM, exiting gracefully..."),
                _ = int.recv() => tracing::info!("Received SIGINT, exiting gracefully..."),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Received interrupt, exiting gracefully...");
        })
    }
}
