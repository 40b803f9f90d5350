//! End-to-end: a real nginx (Debian package `nginx-light`) with `stub_status` on loopback or a unix socket, our
//! exporter binary scraping it, and HTTP requests in between whose effect must show in the counters.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Requests made between two scrapes.
const REQUESTS: usize = 25;

/// The nginx binary: `$NGINX`, else the Debian path, else `nginx` on `PATH`.
fn nginx_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NGINX") {
        return PathBuf::from(p);
    }
    let debian = Path::new("/usr/sbin/nginx");
    if debian.exists() {
        return debian.to_path_buf();
    }
    PathBuf::from("nginx")
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where nginx listens.
enum Listen {
    Tcp(u16),
    Unix(PathBuf),
    /// TLS on a TCP port; `verify_client` requires a certificate from the test CA.
    Tls {
        port: u16,
        verify_client: bool,
    },
}

/// An nginx running in the foreground in its own temp dir, single process so killing it stops everything.
struct Nginx {
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(listen: Listen, pki: Option<&Pki>) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display();
        let (listen_directive, ssl) = match &listen {
            Listen::Tcp(port) => (format!("127.0.0.1:{port}"), String::new()),
            Listen::Unix(path) => (format!("unix:{}", path.display()), String::new()),
            Listen::Tls { port, verify_client } => {
                let pki = pki.expect("TLS needs a PKI");
                std::fs::write(dir.path().join("server.crt"), &pki.server_cert_pem).expect("write");
                std::fs::write(dir.path().join("server.key"), &pki.server_key_pem).expect("write");
                std::fs::write(dir.path().join("ca.crt"), &pki.ca_pem).expect("write");
                let mut ssl = format!("ssl_certificate {d}/server.crt;\n        ssl_certificate_key {d}/server.key;\n");
                if *verify_client {
                    ssl.push_str(&format!(
                        "        ssl_client_certificate {d}/ca.crt;\n        ssl_verify_client on;\n"
                    ));
                }
                (format!("127.0.0.1:{port} ssl"), ssl)
            }
        };
        // `user` only matters when started as root (CI); nginx ignores it with a warning otherwise.
        let conf = format!(
            r#"daemon off;
master_process off;
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 75s;
    server {{
        listen {listen_directive};
        {ssl}
        location = /stub_status {{ stub_status; }}
        location = /garbage {{ return 200 "<html>not a status page</html>\n"; }}
        location / {{ return 200 "ok\n"; }}
    }}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nginx ({}): {e}; install Debian's nginx-light",
                    nginx_binary().display()
                )
            });
        let mut proc = Proc { child, name: "nginx" };
        let log = dir.path().join("error.log");
        wait_until("nginx to listen", || {
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!(
                    "nginx exited: {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            match &listen {
                Listen::Tcp(port) | Listen::Tls { port, .. } => TcpStream::connect(("127.0.0.1", *port)).is_ok(),
                Listen::Unix(path) => UnixStream::connect(path).is_ok(),
            }
        });
        Nginx { _proc: proc, _dir: dir }
    }
}

/// Our exporter binary on a free port, its log in a file.
struct Exporter {
    proc: Proc,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Exporter {
    fn start(args: &[String]) -> Exporter {
        Exporter::start_with_env(args, &[])
    }

    fn start_with_env(args: &[String], env: &[(&str, String)]) -> Exporter {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("exporter.log");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_nginx_exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start nginx_exporter");
        let mut proc = Proc {
            child,
            name: "nginx_exporter",
        };
        wait_until("the exporter to listen", || {
            proc.assert_running();
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Exporter {
            proc,
            port,
            log,
            _dir: dir,
        }
    }

    /// `GET /metrics`, parsed to `series -> value` plus the raw text.
    fn scrape(&mut self) -> (BTreeMap<String, f64>, String) {
        self.proc.assert_running();
        let body = http_get(
            TcpStream::connect(("127.0.0.1", self.port)).expect("connect"),
            "/metrics",
        );
        let mut series = BTreeMap::new();
        for line in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
            series.insert(
                name.to_string(),
                value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {line:?}")),
            );
        }
        (series, body)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One HTTP/1.0 GET; returns the body after checking for status 200.
fn http_get(mut s: impl Read + Write, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("write request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {raw:?}"));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    body.to_string()
}

fn get(series: &BTreeMap<String, f64>, name: &str) -> f64 {
    *series
        .get(name)
        .unwrap_or_else(|| panic!("no series {name} in {:?}", series.keys().collect::<Vec<_>>()))
}

/// Scrapes, makes `REQUESTS` requests with `request`, scrapes again and checks the counters moved by exactly the
/// requests made plus the exporter's own second stub_status fetch, which reuses the first fetch's connection (as
/// Go's HTTP client does), so it adds a request but no accepted connection.
fn check_counters_move(exporter: &mut Exporter, mut request: impl FnMut()) {
    let (before, text) = exporter.scrape();
    assert_eq!(get(&before, "nginx_up"), 1.0, "{text}\n{}", exporter.log());
    for t in ["gauge", "counter"] {
        assert!(text.contains(&format!(
            "# TYPE nginx_connections_{} {t}",
            if t == "gauge" { "active" } else { "accepted" }
        )));
    }
    assert!(
        text.contains(
            "# HELP nginx_http_requests_total Total http requests\n# TYPE nginx_http_requests_total counter\n"
        )
    );
    assert!(text.contains("nginx_exporter_build_info{"), "{text}");
    // The status request itself is being written while nginx renders the page.
    assert!(get(&before, "nginx_connections_active") >= 1.0);
    assert!(get(&before, "nginx_connections_writing") >= 1.0);
    for _ in 0..REQUESTS {
        request();
    }
    let (after, _) = exporter.scrape();
    let delta = |name: &str| get(&after, name) - get(&before, name);
    assert_eq!(delta("nginx_connections_accepted"), REQUESTS as f64);
    assert_eq!(delta("nginx_connections_handled"), REQUESTS as f64);
    assert_eq!(delta("nginx_http_requests_total"), (REQUESTS + 1) as f64);
}

#[test]
fn counters_follow_requests_over_tcp() {
    let port = free_port();
    let _nginx = Nginx::start(Listen::Tcp(port), None);
    let mut exporter = Exporter::start(&[format!("--nginx.scrape-uri=http://127.0.0.1:{port}/stub_status")]);
    check_counters_move(&mut exporter, || {
        assert_eq!(
            http_get(TcpStream::connect(("127.0.0.1", port)).expect("connect"), "/"),
            "ok\n"
        );
    });
}

#[test]
fn counters_follow_requests_over_unix_socket() {
    let sock_dir = tempfile::tempdir().expect("temp dir");
    let sock = sock_dir.path().join("nginx.sock");
    let _nginx = Nginx::start(Listen::Unix(sock.clone()), None);
    // Upstream's form: unix:<socket path>:<request path>.
    let mut exporter = Exporter::start(&[format!("--nginx.scrape-uri=unix:{}:/stub_status", sock.display())]);
    check_counters_move(&mut exporter, || {
        assert_eq!(http_get(UnixStream::connect(&sock).expect("connect"), "/"), "ok\n");
    });
}

#[test]
fn nginx_down_or_garbage_reports_up_zero() {
    let port = free_port();
    let nginx = Nginx::start(Listen::Tcp(port), None);
    let closed = free_port();
    let cases = [
        (format!("http://127.0.0.1:{closed}/stub_status"), "connect"),
        (format!("http://127.0.0.1:{port}/garbage"), "not a status page"),
        (format!("http://127.0.0.1:{port}/missing/stub_status"), "ok"),
    ];
    for (uri, logged) in cases {
        let mut exporter = Exporter::start(&[format!("--nginx.scrape-uri={uri}"), "--nginx.timeout=2s".into()]);
        for _ in 0..2 {
            let (series, text) = exporter.scrape();
            assert_eq!(get(&series, "nginx_up"), 0.0, "{uri}: {text}");
            assert!(!text.contains("nginx_connections_"), "{uri}: {text}");
            assert!(!text.contains("nginx_http_requests_total"), "{uri}: {text}");
        }
        let log = exporter.log();
        assert!(
            log.contains("error getting stats") && log.contains(logged),
            "{uri}: log {log:?}"
        );
    }
    // nginx going away while the exporter runs.
    let mut exporter = Exporter::start(&[format!("--nginx.scrape-uri=http://127.0.0.1:{port}/stub_status")]);
    assert_eq!(get(&exporter.scrape().0, "nginx_up"), 1.0);
    drop(nginx);
    wait_until("nginx to stop", || TcpStream::connect(("127.0.0.1", port)).is_err());
    let (series, text) = exporter.scrape();
    assert_eq!(get(&series, "nginx_up"), 0.0, "{text}");
    assert!(!text.contains("nginx_connections_active"), "{text}");
}

#[test]
fn several_uris_get_addr_labels_and_const_labels() {
    let port = free_port();
    let _nginx = Nginx::start(Listen::Tcp(port), None);
    let up = format!("http://127.0.0.1:{port}/stub_status");
    let down = format!("http://127.0.0.1:{}/stub_status", free_port());
    let mut exporter = Exporter::start(&[
        format!("--nginx.scrape-uri={up}"),
        format!("--nginx.scrape-uri={down}"),
        "--prometheus.const-label=env=test".into(),
    ]);
    let (series, text) = exporter.scrape();
    assert_eq!(
        get(&series, &format!("nginx_up{{addr=\"{up}\",env=\"test\"}}")),
        1.0,
        "{text}"
    );
    assert_eq!(
        get(&series, &format!("nginx_up{{addr=\"{down}\",env=\"test\"}}")),
        0.0,
        "{text}"
    );
    assert!(
        series.contains_key(&format!("nginx_connections_active{{addr=\"{up}\",env=\"test\"}}")),
        "{text}"
    );
    assert!(
        !text.contains(&format!("nginx_connections_active{{addr=\"{down}\"")),
        "{text}"
    );
}

/// A test CA with a server certificate for 127.0.0.1 and a client certificate.
struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "nginx_exporter test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
        let server_key = KeyPair::generate().expect("key");
        let mut sp = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = sp.signed_by(&server_key, &ca).expect("server cert");
        let client_key = KeyPair::generate().expect("key");
        let mut cp = CertificateParams::new(vec!["scraper.example".to_string()]).expect("params");
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = cp.signed_by(&client_key, &ca).expect("client cert");
        Pki {
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }
}

#[test]
fn https_with_verification_and_client_certificates() {
    let pki = Pki::new();
    let files = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, pem: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, pem).expect("write");
        p.display().to_string()
    };
    let ca = write("ca.crt", &pki.ca_pem);
    let cert = write("client.crt", &pki.client_cert_pem);
    let key = write("client.key", &pki.client_key_pem);

    let port = free_port();
    let nginx = Nginx::start(
        Listen::Tls {
            port,
            verify_client: false,
        },
        Some(&pki),
    );
    let uri = format!("--nginx.scrape-uri=https://127.0.0.1:{port}/stub_status");
    let cases: &[(&[String], f64)] = &[
        // Upstream 1.x default: no verification.
        (std::slice::from_ref(&uri), 1.0),
        (
            &[
                uri.clone(),
                "--nginx.ssl-verify".into(),
                format!("--nginx.ssl-ca-cert={ca}"),
            ],
            1.0,
        ),
        // Verification against the system roots fails for the test CA.
        (&[uri.clone(), "--nginx.ssl-verify".into()], 0.0),
    ];
    for (args, want) in cases {
        let mut exporter = Exporter::start(args);
        let (series, text) = exporter.scrape();
        assert_eq!(get(&series, "nginx_up"), *want, "{args:?}: {text}\n{}", exporter.log());
    }
    drop(nginx);

    let port = free_port();
    let _nginx = Nginx::start(
        Listen::Tls {
            port,
            verify_client: true,
        },
        Some(&pki),
    );
    let uri = format!("--nginx.scrape-uri=https://127.0.0.1:{port}/stub_status");
    let with_cert = [
        uri.clone(),
        "--nginx.ssl-verify".into(),
        format!("--nginx.ssl-ca-cert={ca}"),
        format!("--nginx.ssl-client-cert={cert}"),
        format!("--nginx.ssl-client-key={key}"),
    ];
    let mut exporter = Exporter::start(&with_cert);
    assert_eq!(get(&exporter.scrape().0, "nginx_up"), 1.0, "{}", exporter.log());
    // nginx answers 400 without a client certificate.
    let mut exporter = Exporter::start(&[uri]);
    assert_eq!(get(&exporter.scrape().0, "nginx_up"), 0.0);
    assert!(exporter.log().contains("400"), "{}", exporter.log());
}

#[test]
fn nginx_plus_is_rejected_clearly() {
    let out = Command::new(env!("CARGO_BIN_EXE_nginx_exporter"))
        .args(["--nginx.plus", "--web.listen-address=127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NGINX Plus is not supported"), "{stderr}");
}

#[test]
fn single_dash_flags_of_0_x_still_work() {
    let port = free_port();
    let _nginx = Nginx::start(Listen::Tcp(port), None);
    let mut exporter = Exporter::start(&[format!("-nginx.scrape-uri=http://127.0.0.1:{port}/stub_status")]);
    assert_eq!(get(&exporter.scrape().0, "nginx_up"), 1.0);
}

#[test]
fn upstream_environment_variables() {
    let port = free_port();
    let _nginx = Nginx::start(Listen::Tcp(port), None);
    let mut exporter = Exporter::start_with_env(
        &[],
        &[
            ("SCRAPE_URI", format!("http://127.0.0.1:{port}/stub_status")),
            ("CONST_LABELS", "env=ci".to_string()),
            ("NGINX_METRICS_ONLY", "true".to_string()),
        ],
    );
    let (series, text) = exporter.scrape();
    assert_eq!(get(&series, "nginx_up{env=\"ci\"}"), 1.0, "{text}");
    assert!(!text.contains("process_") && !text.contains("promhttp_"), "{text}");
}
