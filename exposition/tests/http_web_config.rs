//! `--web.config.file` over real connections: basic auth, TLS, client certificates, headers, rate limit and
//! startup errors for invalid files.

mod http_support;

use std::path::{Path, PathBuf};

use base64::Engine;
use exposition::http::{Exporter, HttpError, WebArgs};
use http_support::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn args_with(config: PathBuf) -> WebArgs {
    WebArgs {
        config_file: Some(config),
        ..local_args()
    }
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn exporter() -> Exporter {
    Exporter::new("node_exporter", sample_registry())
}

#[tokio::test]
async fn basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let cfg = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );
    let srv = start(exporter(), &args_with(cfg)).await;
    let good = basic("prometheus", "correct horse");
    let cases: &[(&str, Option<&str>, u16)] = &[
        ("/metrics", None, 401),
        ("/", None, 401),
        ("/metrics", Some(&good), 200),
        ("/", Some(&good), 200),
        ("/metrics", Some("Basic cHJvbWV0aGV1czp3cm9uZw=="), 401),
        ("/metrics", Some("Bearer token"), 401),
    ];
    for (path, auth, want) in cases {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let r = get(srv.addr, path, &headers).await;
        assert_eq!(r.status, *want, "{path} {auth:?}");
        if *want == 401 {
            assert_eq!(r.header("www-authenticate"), Some("Basic"));
            assert_eq!(r.text(), "Unauthorized\n");
        }
    }
    let other = basic("someone", "correct horse");
    assert_eq!(
        get(srv.addr, "/metrics", &[("authorization", &other)]).await.status,
        401
    );
    // A cached success is still a success.
    for _ in 0..3 {
        assert_eq!(get(srv.addr, "/metrics", &[("authorization", &good)]).await.status, 200);
    }
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn web_config_changes_apply_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old = bcrypt::hash("old", 4).unwrap();
    let new = bcrypt::hash("new", 4).unwrap();
    let cfg = write(dir.path(), "web.yml", &format!("basic_auth_users:\n  alice: {old}\n"));
    let srv = start(exporter(), &args_with(cfg.clone())).await;
    let status = |pass: &'static str| {
        let addr = srv.addr;
        async move {
            get(addr, "/metrics", &[("authorization", &basic("alice", pass))])
                .await
                .status
        }
    };
    assert_eq!(status("old").await, 200);
    assert_eq!(status("new").await, 401);
    let touch = |text: String, secs: u64| {
        std::fs::write(&cfg, text).unwrap();
        let when = std::time::SystemTime::now() + std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(&cfg)
            .unwrap()
            .set_modified(when)
            .unwrap();
    };
    touch(format!("basic_auth_users:\n  alice: {new}\n"), 5);
    assert_eq!(status("new").await, 200);
    assert_eq!(status("old").await, 401);
    // A broken file keeps the last good settings.
    touch("basic_auth_users: [\n".to_string(), 10);
    assert_eq!(status("new").await, 200);
    // Removing every user turns authentication off, as in exporter-toolkit.
    touch(String::new(), 15);
    assert_eq!(get(srv.addr, "/metrics", &[]).await.status, 200);
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn headers_and_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "web.yml",
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: default-src 'self'\n\
         rate_limit:\n  burst: 2\n  interval: 1h\n",
    );
    let srv = start(exporter(), &args_with(cfg)).await;
    let r = get(srv.addr, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), Some("deny"));
    assert_eq!(r.header("content-security-policy"), Some("default-src 'self'"));
    assert_eq!(get(srv.addr, "/metrics", &[]).await.status, 200);
    let limited = get(srv.addr, "/metrics", &[]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.text(), "Too Many Requests\n");
    assert_eq!(limited.header("x-frame-options"), Some("deny"));
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tls_server() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &pki.server_cert_pem);
    write(dir.path(), "server.key", &pki.server_key_pem);
    // Relative paths resolve against the config file's directory.
    let cfg = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let server = exporter().bind(&args_with(cfg)).await.unwrap();
    assert!(server.is_tls());
    let addr = server.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(async {
        let _ = rx.await;
    }));
    let r = get_tls(addr, "/metrics", &[], pki.client(None)).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("node_cpu_test 1.5"));
    // Plain HTTP to a TLS port does not get metrics.
    assert!(
        try_get(addr, "/metrics", &[])
            .await
            .map(|r| r.status != 200)
            .unwrap_or(true)
    );
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn tls_client_certificate_required() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &pki.server_cert_pem);
    write(dir.path(), "server.key", &pki.server_key_pem);
    write(dir.path(), "ca.crt", &pki.ca_pem);
    let cfg = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n",
    );
    let srv = start(exporter(), &args_with(cfg)).await;
    let ok = get_tls(
        srv.addr,
        "/metrics",
        &[],
        pki.client(Some((&pki.client_cert_pem, &pki.client_key_pem))),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    assert!(
        get_tls(srv.addr, "/metrics", &[], pki.client(None)).await.is_err(),
        "no client certificate must fail"
    );
    assert!(
        get_tls(
            srv.addr,
            "/metrics",
            &[],
            pki.client(Some((&pki.rogue_cert_pem, &pki.rogue_key_pem)))
        )
        .await
        .is_err(),
        "a certificate from another CA must fail"
    );
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tls_allowed_sans_and_any_client_cert() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &pki.server_cert_pem);
    write(dir.path(), "server.key", &pki.server_key_pem);
    write(dir.path(), "ca.crt", &pki.ca_pem);
    let client = || pki.client(Some((&pki.client_cert_pem, &pki.client_key_pem)));
    let cases = [("[client.example]", true), ("[other.example, 10.0.0.1]", false)];
    for (sans, want_ok) in cases {
        let cfg = write(
            dir.path(),
            "web.yml",
            &format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                 client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
                 client_allowed_sans: {sans}\n"
            ),
        );
        let srv = start(exporter(), &args_with(cfg)).await;
        let r = get_tls(srv.addr, "/metrics", &[], client()).await;
        assert_eq!(
            r.as_ref().map(|r| r.status).ok(),
            want_ok.then_some(200),
            "{sans}: {r:?}"
        );
        srv.stop().await.unwrap();
    }
    // RequireAnyClientCert accepts a certificate from any issuer but not none.
    let cfg = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAnyClientCert\n",
    );
    let srv = start(exporter(), &args_with(cfg)).await;
    let rogue = pki.client(Some((&pki.rogue_cert_pem, &pki.rogue_key_pem)));
    assert_eq!(get_tls(srv.addr, "/", &[], rogue).await.unwrap().status, 200);
    assert!(get_tls(srv.addr, "/", &[], pki.client(None)).await.is_err());
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tls_certificate_is_reloaded_when_files_change() {
    let first = Pki::new();
    let second = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let crt = write(dir.path(), "server.crt", &first.server_cert_pem);
    let key = write(dir.path(), "server.key", &first.server_key_pem);
    let cfg = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let srv = start(exporter(), &args_with(cfg)).await;
    assert!(get_tls(srv.addr, "/", &[], first.client(None)).await.is_ok());
    assert!(get_tls(srv.addr, "/", &[], second.client(None)).await.is_err());
    std::fs::write(&crt, &second.server_cert_pem).unwrap();
    std::fs::write(&key, &second.server_key_pem).unwrap();
    // Make sure the modification time differs even on coarse-grained file systems.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for p in [&crt, &key] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    let r = get_tls(srv.addr, "/", &[], second.client(None)).await;
    assert_eq!(r.map(|r| r.status).ok(), Some(200));
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_web_config_is_a_startup_error() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &pki.server_cert_pem);
    write(dir.path(), "server.key", &pki.server_key_pem);
    write(dir.path(), "other.key", &pki.client_key_pem);
    let cases: &[(&str, &str)] = &[
        (
            "tls_server_config:\n  cert_file: server.crt\n",
            "missing one of key or key_file",
        ),
        ("unknown: true\n", "unknown"),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
            "cannot read",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
            "private key does not match certificate",
        ),
        (
            "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n",
            "no certificate found",
        ),
        ("basic_auth_users:\n  alice: plaintext\n", "is not a bcrypt hash"),
        (
            "http_server_config:\n  headers:\n    Server: evil\n",
            "can not be configured",
        ),
    ];
    for (yaml, want) in cases {
        let cfg = write(dir.path(), "web.yml", yaml);
        let err = exporter().bind(&args_with(cfg.clone())).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, HttpError::WebConfig(_)), "{yaml}: {msg}");
        assert!(msg.contains(&cfg.display().to_string()), "{yaml}: {msg}");
        assert!(msg.contains(want), "{yaml}: {msg}");
    }
    let missing = dir.path().join("nope.yml");
    let err = exporter().bind(&args_with(missing.clone())).await.unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
    assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
}
