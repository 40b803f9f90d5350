//! The outgoing HTTP client against real local HTTP and HTTPS servers: authentication headers (inline and from
//! rotated files), extra headers, TLS verification with a test CA, client certificates, redirects, HTTP/2,
//! timeouts and gzip.

mod discovery_support;

use std::io::Write;
use std::time::Duration;

use discovery_support::{Pki, Recorded, TestServer, respond, serve, sync_handler};
use server::config::http::HttpClientConfig;
use server::httpclient::{HttpClient, HttpClientError};

fn config(yaml: &str) -> HttpClientConfig {
    if yaml.trim().is_empty() {
        return HttpClientConfig::default();
    }
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

async fn echo_server() -> TestServer {
    serve(sync_handler(|_| respond(200, "text/plain", "ok")), None).await
}

async fn last_request(yaml: &str, extra: &[(&str, &str)]) -> Recorded {
    let srv = echo_server().await;
    let client = HttpClient::new(&config(yaml), "test").unwrap();
    let resp = client
        .get(&srv.url("http", "/metrics"), extra, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    srv.requests().pop().unwrap()
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (c as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Config, extra request headers, header to check, expected value.
type HeaderCase = (String, Vec<(&'static str, &'static str)>, &'static str, Option<String>);

#[tokio::test]
async fn authentication_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "from-file\n").unwrap();
    let secret = secret.display().to_string();
    let cases: Vec<HeaderCase> = vec![
        ("".into(), vec![], "authorization", None),
        (
            "basic_auth: {username: alice, password: s3cret}".into(),
            vec![],
            "authorization",
            Some(format!("Basic {}", b64("alice:s3cret"))),
        ),
        (
            format!("basic_auth: {{username: bob, password_file: {secret}}}"),
            vec![],
            "authorization",
            Some(format!("Basic {}", b64("bob:from-file"))),
        ),
        (
            format!("basic_auth: {{username_file: {secret}}}"),
            vec![],
            "authorization",
            Some(format!("Basic {}", b64("from-file:"))),
        ),
        (
            "authorization: {credentials: tok}".into(),
            vec![],
            "authorization",
            Some("Bearer tok".into()),
        ),
        (
            format!("authorization: {{type: Token, credentials_file: {secret}}}"),
            vec![],
            "authorization",
            Some("Token from-file".into()),
        ),
        (
            "bearer_token: old".into(),
            vec![],
            "authorization",
            Some("Bearer old".into()),
        ),
        (
            format!("bearer_token_file: {secret}"),
            vec![],
            "authorization",
            Some("Bearer from-file".into()),
        ),
        (
            "http_headers: {X-Team: {values: [a]}}".into(),
            vec![],
            "x-team",
            Some("a".into()),
        ),
        (
            format!("http_headers: {{X-Key: {{files: [{secret}]}}}}"),
            vec![],
            "x-key",
            Some("from-file".into()),
        ),
        (
            "http_headers: {X-Team: {secrets: [hidden]}}".into(),
            vec![("X-Team", "override")],
            "x-team",
            Some("override".into()),
        ),
        (
            "".into(),
            vec![],
            "user-agent",
            Some(server::httpclient::USER_AGENT.into()),
        ),
        (
            "".into(),
            vec![("Accept", "text/plain;version=0.0.4")],
            "accept",
            Some("text/plain;version=0.0.4".into()),
        ),
    ];
    for (yaml, extra, header, want) in cases {
        let req = last_request(&yaml, &extra).await;
        assert_eq!(req.header(header), want, "config {yaml:?}, header {header}");
    }
}

#[tokio::test]
async fn rotated_password_file_is_read_per_request() {
    let srv = echo_server().await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "first").unwrap();
    let yaml = format!("basic_auth: {{username: u, password_file: {}}}", file.path().display());
    let client = HttpClient::new(&config(&yaml), "rotate").unwrap();
    let url = srv.url("http", "/");
    client.get(&url, &[], Duration::from_secs(5)).await.unwrap();
    std::fs::write(file.path(), "second").unwrap();
    client.get(&url, &[], Duration::from_secs(5)).await.unwrap();
    let got: Vec<_> = srv
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            format!("Basic {}", b64("u:first")),
            format!("Basic {}", b64("u:second"))
        ]
    );

    std::fs::remove_file(file.path()).unwrap();
    let err = client.get(&url, &[], Duration::from_secs(5)).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("unable to read password file {}", file.path().display())),
        "{err}"
    );
}

#[tokio::test]
async fn tls_verification() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let cert = write("client.pem", &pki.client_cert_pem);
    let key = write("client.key", &pki.client_key_pem);
    let plain = serve(
        sync_handler(|_| respond(200, "text/plain", "tls ok")),
        Some(pki.server(false)),
    )
    .await;
    let mtls = serve(
        sync_handler(|_| respond(200, "text/plain", "mtls ok")),
        Some(pki.server(true)),
    )
    .await;
    let indent = |s: &str| s.replace('\n', "\n    ");
    let port = |s: &TestServer| s.addr.port();
    let cases: Vec<(&str, String, String, bool)> = vec![
        (
            "ca_file",
            format!("tls_config: {{ca_file: {ca}}}"),
            format!("https://localhost:{}/", port(&plain)),
            true,
        ),
        (
            "inline ca",
            format!("tls_config:\n  ca: |\n    {}", indent(&pki.ca_pem)),
            format!("https://localhost:{}/", port(&plain)),
            true,
        ),
        (
            "system roots reject a private CA",
            String::new(),
            format!("https://localhost:{}/", port(&plain)),
            false,
        ),
        (
            "insecure_skip_verify",
            "tls_config: {insecure_skip_verify: true}".into(),
            format!("https://localhost:{}/", port(&plain)),
            true,
        ),
        (
            "server_name in the certificate",
            format!("tls_config: {{ca_file: {ca}, server_name: sd.example}}"),
            format!("https://127.0.0.1:{}/", port(&plain)),
            true,
        ),
        (
            "server_name not in the certificate",
            format!("tls_config: {{ca_file: {ca}, server_name: other.example}}"),
            format!("https://localhost:{}/", port(&plain)),
            false,
        ),
        (
            "min_version TLS13",
            format!("tls_config: {{ca_file: {ca}, min_version: TLS13}}"),
            format!("https://localhost:{}/", port(&plain)),
            true,
        ),
        (
            "client certificate",
            format!("tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}"),
            format!("https://localhost:{}/", port(&mtls)),
            true,
        ),
        (
            "no client certificate",
            format!("tls_config: {{ca_file: {ca}}}"),
            format!("https://localhost:{}/", port(&mtls)),
            false,
        ),
    ];
    for (name, yaml, url, ok) in cases {
        let client = HttpClient::new(&config(&yaml), name).unwrap();
        let result = client.get(&url, &[], Duration::from_secs(5)).await;
        match (result, ok) {
            (Ok(resp), true) => assert_eq!(resp.status(), 200, "{name}"),
            (Err(e), false) => assert!(matches!(e, HttpClientError::Request { .. }), "{name}: {e}"),
            (Ok(_), false) => panic!("{name}: expected a TLS failure"),
            (Err(e), true) => panic!("{name}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn http2_is_negotiated_over_tls_unless_disabled() {
    let pki = Pki::new();
    let srv = serve(
        sync_handler(|_| respond(200, "text/plain", "ok")),
        Some(pki.server(false)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    for (http2, want) in [(true, reqwest::Version::HTTP_2), (false, reqwest::Version::HTTP_11)] {
        let yaml = format!("enable_http2: {http2}\ntls_config: {{ca_file: {}}}", ca.display());
        let client = HttpClient::new(&config(&yaml), "h2").unwrap();
        let resp = client
            .get(
                &format!("https://localhost:{}/", srv.addr.port()),
                &[],
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(resp.version(), want, "enable_http2: {http2}");
    }
}

#[test]
fn construction_errors_name_the_cause() {
    let cases = [
        (
            "tls_config: {ca_file: /nonexistent/ca.pem}",
            "unable to read CA file /nonexistent/ca.pem",
        ),
        (
            "tls_config: {ca: not a certificate}",
            "unable to use CA certificate from inline: no PEM certificate found",
        ),
        (
            "oauth2: {client_id: a, client_secret: b, token_url: 'http://x/', grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer'}",
            "client job-a: oauth2 grant_type other than client_credentials is not supported",
        ),
        (
            "oauth2: {client_id: a, token_url: 'http://x/', tls_config: {ca_file: /nonexistent/oauth-ca.pem}}",
            "unable to read CA file /nonexistent/oauth-ca.pem",
        ),
        (
            "tls_config: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}",
            "unable to read client certificate file /nonexistent/c.pem",
        ),
    ];
    for (yaml, want) in cases {
        let err = HttpClient::new(&config(yaml), "job-a").unwrap_err();
        assert!(err.to_string().starts_with(want), "{yaml}: got {err}");
    }
}

#[tokio::test]
async fn redirects_follow_the_setting() {
    let srv = serve(
        sync_handler(|r| {
            if r.path() == "/old" {
                let mut resp = respond(302, "text/plain", "");
                resp.headers_mut().insert("location", "/new".parse().unwrap());
                resp
            } else {
                respond(200, "text/plain", "moved here")
            }
        }),
        None,
    )
    .await;
    for (follow, status) in [(true, 200), (false, 302)] {
        let client = HttpClient::new(&config(&format!("follow_redirects: {follow}")), "r").unwrap();
        let resp = client
            .get(&srv.url("http", "/old"), &[], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "follow_redirects: {follow}");
    }
}

#[tokio::test]
async fn timeout_and_connection_errors() {
    let slow = serve(
        std::sync::Arc::new(|_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                respond(200, "text/plain", "late")
            })
        }),
        None,
    )
    .await;
    let client = HttpClient::new(&HttpClientConfig::default(), "t").unwrap();
    let url = slow.url("http", "/");
    let err = client.get(&url, &[], Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(err, HttpClientError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let err = client.get(&url, &[], Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, HttpClientError::Request { .. }), "{err:?}");
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(b"up 1\n").unwrap();
    let body = enc.finish().unwrap();
    let srv = serve(
        sync_handler(move |_| {
            let mut resp = respond(200, "text/plain", body.clone());
            resp.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
            resp
        }),
        None,
    )
    .await;
    let client = HttpClient::new(&HttpClientConfig::default(), "gz").unwrap();
    let resp = client
        .get(&srv.url("http", "/"), &[], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "up 1\n");
    assert!(srv.requests()[0].header("accept-encoding").unwrap().contains("gzip"));
}

#[tokio::test]
async fn oauth2_client_credentials() {
    // The token endpoint: a short-lived token first, then a long-lived one; it records the token requests.
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let tokens = serve(
        sync_handler(move |r| {
            if r.method != "POST" {
                return respond(405, "text/plain", "");
            }
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let expires = if n == 1 { 5 } else { 3600 };
            respond(
                200,
                "application/json",
                format!(r#"{{"access_token":"tok{n}","token_type":"bearer","expires_in":{expires}}}"#),
            )
        }),
        None,
    )
    .await;
    let resource = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cr3t&x\n").unwrap();
    let yaml = format!(
        "oauth2:\n  client_id: my-client\n  client_secret_file: {}\n  token_url: {}\n  scopes: [read, write]\n  endpoint_params: {{audience: metrics}}\n",
        secret.display(),
        tokens.url("http", "/token")
    );
    let client = HttpClient::new(&config(&yaml), "oauth").unwrap();
    let url = resource.url("http", "/metrics");
    for _ in 0..3 {
        client.get(&url, &[], Duration::from_secs(5)).await.unwrap();
    }
    let auth: Vec<String> = resource
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap())
        .collect();
    // The first token expires within the renewal margin: renewed once, then cached.
    assert_eq!(auth, ["Bearer tok1", "Bearer tok2", "Bearer tok2"]);
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 2);
    let token_req = &tokens.requests()[0];
    assert_eq!(token_req.path(), "/token");
    assert_eq!(
        token_req.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        token_req.header("authorization"),
        Some(format!("Basic {}", b64("my-client:s3cr3t%26x")))
    );
    assert_eq!(
        String::from_utf8(token_req.body.clone()).unwrap(),
        "grant_type=client_credentials&scope=read+write&audience=metrics"
    );

    // A failing token endpoint fails the request with the endpoint's answer.
    let broken = serve(
        sync_handler(|_| respond(401, "application/json", r#"{"error":"invalid_client"}"#)),
        None,
    )
    .await;
    let yaml = format!(
        "oauth2: {{client_id: a, client_secret: b, token_url: '{}'}}",
        broken.url("http", "/t")
    );
    let client = HttpClient::new(&config(&yaml), "oauth").unwrap();
    let err = client
        .get(&url, &[], Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("oauth2 token request to") && err.contains("invalid_client"),
        "{err}"
    );
}

#[tokio::test]
async fn rotated_ca_and_client_certificate_files_apply_to_new_connections() {
    let (first, second) = (Pki::new(), Pki::new());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client.key");
    std::fs::write(&ca, &first.ca_pem).unwrap();
    std::fs::write(&cert, &second.client_cert_pem).unwrap();
    std::fs::write(&key, &second.client_key_pem).unwrap();
    let yaml = format!(
        "enable_http2: false\ntls_config: {{ca_file: {}, cert_file: {}, key_file: {}}}",
        ca.display(),
        cert.display(),
        key.display()
    );
    let client = HttpClient::new(&config(&yaml), "rotate").unwrap();
    let old = serve(
        sync_handler(|_| respond(200, "text/plain", "old")),
        Some(first.server(false)),
    )
    .await;
    let new = serve(
        sync_handler(|_| respond(200, "text/plain", "new")),
        Some(second.server(true)),
    )
    .await;
    let get = |srv: &TestServer| {
        let url = format!("https://localhost:{}/", srv.addr.port());
        let client = client.clone();
        async move { client.get(&url, &[], Duration::from_secs(5)).await.map(|r| r.status()) }
    };
    assert!(get(&old).await.is_ok());
    // The new server's CA is not trusted yet.
    assert!(get(&new).await.is_err());
    std::fs::write(&ca, &second.ca_pem).unwrap();
    assert!(get(&new).await.is_ok(), "the rotated CA file applies");

    // A client certificate the server does not accept, then a good one.
    std::fs::write(&cert, &first.client_cert_pem).unwrap();
    std::fs::write(&key, &first.client_key_pem).unwrap();
    let strict = serve(
        sync_handler(|_| respond(200, "text/plain", "strict")),
        Some(second.server(true)),
    )
    .await;
    assert!(get(&strict).await.is_err(), "a certificate from another CA is refused");
    std::fs::write(&cert, &second.client_cert_pem).unwrap();
    std::fs::write(&key, &second.client_key_pem).unwrap();
    assert!(get(&strict).await.is_ok(), "the rotated client certificate applies");

    // A broken rewrite keeps the last good material.
    std::fs::write(&ca, "garbage").unwrap();
    let again = serve(
        sync_handler(|_| respond(200, "text/plain", "again")),
        Some(second.server(true)),
    )
    .await;
    assert!(get(&again).await.is_ok());
}
