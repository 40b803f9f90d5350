//! Shared helpers for the HTTP runtime tests: starting a runtime on 127.0.0.1:0, a small hyper client (plain
//! and TLS) and a test PKI made with rcgen.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use exposition::http::{Exporter, HttpError, WebArgs};
use exposition::{CollectError, Collector, Labels, Metric, MetricFamily, MetricType, Registry, Value};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running runtime; dropping it without `stop` leaves the task to the test runtime's shutdown.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), HttpError>>,
}

impl Running {
    /// Triggers graceful shutdown and waits for the server to return.
    pub async fn stop(mut self) -> Result<(), HttpError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.expect("server task panicked")
    }

    /// Triggers graceful shutdown without waiting.
    pub fn trigger_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Web args listening on 127.0.0.1:0.
pub fn local_args() -> WebArgs {
    WebArgs {
        listen_address: vec!["127.0.0.1:0".into()],
        ..WebArgs::default()
    }
}

/// Binds and starts serving in a task.
pub async fn start(exporter: Exporter, args: &WebArgs) -> Running {
    let server = exporter.bind(args).await.expect("bind");
    let addr = server.local_addrs()[0];
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(async {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

/// A collector writing one gauge.
pub struct Fixed(pub &'static str, pub f64);

impl Collector for Fixed {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut f = MetricFamily::new(self.0, MetricType::Gauge).with_help("A test gauge.");
        f.push(Metric::new(Labels::new(), Value::Gauge(self.1)));
        out.push(f);
        Ok(())
    }
}

/// A collector that always fails.
pub struct Failing;

impl Collector for Failing {
    fn collect(&self, _out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        Err(CollectError::msg("cannot read /proc/broken"))
    }
}

/// The gate a [`Blocking`] collector waits on.
pub type Gate = Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;

/// A collector that blocks until released, counting how many collections have started.
pub struct Blocking {
    pub started: Arc<AtomicUsize>,
    pub release: Gate,
}

impl Blocking {
    pub fn new() -> (Blocking, Arc<AtomicUsize>, Gate) {
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        (
            Blocking {
                started: started.clone(),
                release: release.clone(),
            },
            started,
            release,
        )
    }
}

impl Collector for Blocking {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let (lock, cv) = &*self.release;
        let mut released = lock.lock().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !*released && std::time::Instant::now() < deadline {
            released = cv
                .wait_timeout(released, std::time::Duration::from_millis(100))
                .unwrap()
                .0;
        }
        let mut f = MetricFamily::new("slow_metric", MetricType::Gauge);
        f.push(Metric::new(Labels::new(), Value::Gauge(1.0)));
        out.push(f);
        Ok(())
    }
}

/// Releases a [`Blocking`] collector.
pub fn release(r: &Gate) {
    *r.0.lock().unwrap() = true;
    r.1.notify_all();
}

/// Waits until `counter` reaches `n` (or panics after a few seconds).
pub async fn wait_for(counter: &AtomicUsize, n: usize) {
    for _ in 0..500 {
        if counter.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("counter stayed at {} (wanted {n})", counter.load(Ordering::SeqCst));
}

/// A registry with node-style scrape metrics and two named collectors plus a failing one.
pub fn sample_registry() -> Arc<Registry> {
    let r = Registry::with_scrape_metrics("node");
    r.register_named("cpu", Fixed("node_cpu_test", 1.5)).unwrap();
    r.register_named("meminfo", Fixed("node_memory_test_bytes", 1024.0))
        .unwrap();
    r.register_named("broken", Failing).unwrap();
    Arc::new(r)
}

/// A received response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn request(path: &str, headers: &[(&str, &str)]) -> http::Request<Empty<Bytes>> {
    let mut b = http::Request::builder().uri(path).header("host", "localhost");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Empty::new()).unwrap()
}

async fn exchange<S>(io: S, path: &str, headers: &[(&str, &str)]) -> Result<Resp, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(request(path, headers))
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Resp { status, headers, body })
}

/// GET over plain HTTP/1.1.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    try_get(addr, path, headers).await.expect("GET")
}

/// GET over plain HTTP/1.1, returning connection errors.
pub async fn try_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    exchange(stream, path, headers).await
}

/// GET over TLS (HTTP/1.1) with the given client config, server name `localhost`.
pub async fn get_tls(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    config: Arc<rustls::ClientConfig>,
) -> Result<Resp, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    exchange(tls, path, headers).await
}

/// A test PKI: a CA, a server certificate for localhost and a client certificate, all as PEM.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    /// A self-signed client certificate not issued by the CA.
    pub rogue_cert_pem: String,
    pub rogue_key_pem: String,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "exposition test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = sp.signed_by(&server_key, &ca).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(vec!["client.example".to_string()]).unwrap();
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = cp.signed_by(&client_key, &ca).unwrap();

        let rogue = rcgen::generate_simple_self_signed(vec!["client.example".to_string()]).unwrap();
        Pki {
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
            rogue_cert_pem: rogue.cert.pem(),
            rogue_key_pem: rogue.signing_key.serialize_pem(),
        }
    }

    /// A client config trusting the CA, optionally presenting a certificate.
    pub fn client(&self, identity: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert.as_bytes())
                    .map(Result::unwrap)
                    .collect();
                let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key.as_bytes()).unwrap().unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            }
        };
        Arc::new(config)
    }
}
