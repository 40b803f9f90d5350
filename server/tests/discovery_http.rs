//! http_sd against a real local HTTP server: request headers, parsing, `__meta_url`, withdrawn groups, and failed
//! refreshes (bad status, bad content type, bad JSON) that keep the previous groups.

mod discovery_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery_support::{respond, serve, sync_handler};
use server::config::discovery::HttpSdConfig;
use server::discovery::http::HttpDiscoverer;
use server::discovery::{Discoverer, DiscovererOptions, SdMetrics, TargetGroup};
use tokio_util::sync::CancellationToken;

fn config(yaml: &str) -> HttpSdConfig {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn summary(groups: &[TargetGroup]) -> Vec<(String, Vec<String>)> {
    groups
        .iter()
        .map(|g| {
            (
                g.source.clone(),
                g.targets
                    .iter()
                    .map(|t| t.get("__address__").unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn refreshes_follow_the_endpoint() {
    // What the endpoint answers next: status, content type, body.
    let answer: Arc<Mutex<(u16, &'static str, &'static str)>> = Arc::new(Mutex::new((
        200,
        "application/json",
        r#"[{"targets":["a:1","b:1"],"labels":{"env":"prod"}},{"targets":["c:1"]}]"#,
    )));
    let a = answer.clone();
    let srv = serve(
        sync_handler(move |_| {
            let (status, ct, body) = *a.lock().unwrap();
            respond(status, ct, body)
        }),
        None,
    )
    .await;
    let url = srv.url("http", "/sd");
    let metrics = Arc::new(SdMetrics::new().unwrap());
    let options = DiscovererOptions {
        job: "web".into(),
        metrics: Some(metrics),
        ..DiscovererOptions::default()
    };
    let mut d = HttpDiscoverer::new(
        &config(&format!(
            "url: {url}\nrefresh_interval: 90s\nbasic_auth: {{username: sd, password: pw}}"
        )),
        &options,
    )
    .unwrap();

    let first = d.refresh().await.unwrap();
    assert_eq!(
        summary(&first),
        vec![
            (format!("{url}:0"), vec!["a:1".to_string(), "b:1".to_string()]),
            (format!("{url}:1"), vec!["c:1".to_string()]),
        ]
    );
    assert_eq!(first[0].labels.get("__meta_url"), Some(url.as_str()));
    assert_eq!(first[0].labels.get("env"), Some("prod"));
    let req = srv.requests().pop().unwrap();
    assert_eq!(
        req.header("x-prometheus-refresh-interval-seconds").as_deref(),
        Some("90")
    );
    assert_eq!(req.header("accept").as_deref(), Some("application/json"));
    assert!(req.header("authorization").unwrap().starts_with("Basic "));

    // Unchanged: nothing to send.
    assert!(d.refresh().await.is_none());

    // Failures keep the previous groups (nothing sent).
    let failures: [(u16, &'static str, &'static str); 4] = [
        (500, "application/json", "[]"),
        (200, "text/plain", "[]"),
        (200, "application/json", "{\"targets\": []}"),
        (200, "application/json", "[null]"),
    ];
    for f in failures {
        *answer.lock().unwrap() = f;
        assert!(d.refresh().await.is_none(), "{f:?}");
    }

    // One group fewer: its source is withdrawn.
    *answer.lock().unwrap() = (200, "application/json; charset=utf-8", r#"[{"targets":["a:1"]}]"#);
    let update = d.refresh().await.unwrap();
    assert_eq!(
        summary(&update),
        vec![
            (format!("{url}:1"), vec![]),
            (format!("{url}:0"), vec!["a:1".to_string()])
        ]
    );
}

#[tokio::test]
async fn errors_name_the_url_and_status() {
    let srv = serve(sync_handler(|_| respond(404, "text/plain", "no")), None).await;
    let url = srv.url("http", "/missing");
    let d = HttpDiscoverer::new(&config(&format!("url: {url}")), &DiscovererOptions::default()).unwrap();
    let err = d.fetch().await.unwrap_err().to_string();
    assert_eq!(err, format!("server returned HTTP status 404 Not Found for {url}"));
}

#[tokio::test]
async fn run_sends_updates_until_cancelled() {
    let srv = serve(
        sync_handler(|_| respond(200, "application/json", r#"[{"targets":["x:1"]}]"#)),
        None,
    )
    .await;
    let d = HttpDiscoverer::new(
        &config(&format!("url: {}\nrefresh_interval: 1s", srv.url("http", "/"))),
        &DiscovererOptions::default(),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(Box::new(d).run(cancel.clone(), tx));
    let groups = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary(&groups)[0].1, vec!["x:1".to_string()]);
    cancel.cancel();
    task.await.unwrap();
}
