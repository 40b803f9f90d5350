//! The exporter runtime's endpoints over real HTTP: landing page, 404, format negotiation, gzip, `collect[]`,
//! failing collectors, self metrics, `--web.max-requests` and graceful shutdown.

mod http_support;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use exposition::Registry;
use exposition::http::{Exporter, HttpError, WebArgs};
use http_support::*;

const OM_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
                         text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

fn node(registry: Arc<Registry>) -> Exporter {
    Exporter::new("node_exporter", registry).version("1.2.3")
}

#[tokio::test]
async fn landing_page_and_not_found() {
    let srv = start(node(sample_registry()), &local_args()).await;
    let page = get(srv.addr, "/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=UTF-8"));
    let html = page.text();
    assert!(html.contains("<title>Node Exporter</title>"), "{html}");
    assert!(html.contains("<h3>Prometheus Node Exporter</h3>"), "{html}");
    assert!(html.contains("version=1.2.3"), "{html}");
    assert!(html.contains("<a href=\"/metrics\">Metrics</a>"), "{html}");

    for path in ["/favicon.ico", "/metrics/extra", "/debug"] {
        let r = get(srv.addr, path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), "404 page not found\n");
    }
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn custom_telemetry_path_and_default_listen() {
    let args = WebArgs {
        listen_address: Vec::new(),
        telemetry_path: "/probe".into(),
        ..WebArgs::default()
    };
    let exporter = node(sample_registry()).default_listen("127.0.0.1:0");
    let srv = start(exporter, &args).await;
    assert_eq!(get(srv.addr, "/probe", &[]).await.status, 200);
    assert_eq!(get(srv.addr, "/metrics", &[]).await.status, 404);
    assert!(get(srv.addr, "/", &[]).await.text().contains("href=\"/probe\""));
    srv.stop().await.unwrap();

    let err = Exporter::new("x", sample_registry())
        .bind(&WebArgs::default())
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::NoListenAddress), "{err}");
    let bad_path = WebArgs {
        telemetry_path: "metrics".into(),
        ..local_args()
    };
    let err = Exporter::new("x", sample_registry()).bind(&bad_path).await.unwrap_err();
    assert!(err.to_string().contains("must start with"), "{err}");
}

#[tokio::test]
async fn formats_by_accept_header() {
    let srv = start(node(sample_registry()), &local_args()).await;
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Headers<'_>, &str, bool)] = &[
        (
            &[],
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
            false,
        ),
        (
            &[("accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")],
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
            false,
        ),
        (
            &[("accept", OM_ACCEPT)],
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
            true,
        ),
    ];
    for (headers, content_type, om) in cases {
        let r = get(srv.addr, "/metrics", headers).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(*content_type));
        assert_eq!(r.header("content-encoding"), None);
        let body = r.text();
        assert!(
            body.contains("# TYPE node_cpu_test gauge\nnode_cpu_test 1.5\n"),
            "{body}"
        );
        assert_eq!(body.ends_with("# EOF\n"), *om, "{body}");
    }
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn gzip_when_accepted() {
    let srv = start(node(sample_registry()), &local_args()).await;
    let plain = get(srv.addr, "/metrics", &[]).await;
    let r = get(srv.addr, "/metrics", &[("accept-encoding", "gzip, deflate")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert!(decoded.contains("node_memory_test_bytes 1024\n"), "{decoded}");
    // The same families as the uncompressed scrape (process values move between scrapes, so compare names).
    let names = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("# TYPE"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(names(&decoded), names(&plain.text()));
    let refused = get(srv.addr, "/metrics", &[("accept-encoding", "gzip;q=0, identity")]).await;
    assert_eq!(refused.header("content-encoding"), None);
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn collect_filter_and_unknown_collector() {
    let srv = start(node(sample_registry()), &local_args()).await;
    let r = get(srv.addr, "/metrics?collect[]=cpu", &[]).await;
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(body.contains("node_cpu_test 1.5"), "{body}");
    assert!(!body.contains("node_memory_test_bytes"), "{body}");
    assert!(
        body.contains("node_scrape_collector_success{collector=\"cpu\"} 1"),
        "{body}"
    );
    assert!(!body.contains("collector=\"meminfo\""), "{body}");
    // Self metrics are kept with a filter, as node_exporter does.
    assert!(body.contains("node_exporter_build_info{"), "{body}");

    let r = get(srv.addr, "/metrics?collect%5B%5D=cpu&collect%5B%5D=meminfo", &[]).await;
    let body = r.text();
    assert!(
        body.contains("node_cpu_test") && body.contains("node_memory_test_bytes"),
        "{body}"
    );
    assert!(!body.contains("collector=\"broken\""), "{body}");

    let r = get(srv.addr, "/metrics?exclude[]=broken", &[]).await;
    let body = r.text();
    assert!(
        body.contains("node_cpu_test") && !body.contains("collector=\"broken\""),
        "{body}"
    );

    let r = get(srv.addr, "/metrics?collect[]=cpu&collect[]=nope", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope\n"
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    let r = get(srv.addr, "/metrics?collect[]=cpu&exclude[]=meminfo", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Combined collect and exclude queries are not allowed.\n");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn failing_collector_still_200_with_success_zero() {
    let srv = start(node(sample_registry()), &local_args()).await;
    let r = get(srv.addr, "/metrics", &[]).await;
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(
        body.contains("node_scrape_collector_success{collector=\"broken\"} 0\n"),
        "{body}"
    );
    assert!(
        body.contains("node_scrape_collector_success{collector=\"cpu\"} 1\n"),
        "{body}"
    );
    assert!(body.contains("node_cpu_test 1.5\n"), "{body}");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn self_metrics_and_disable_flag() {
    let srv = start(node(sample_registry()), &local_args()).await;
    let _ = get(srv.addr, "/metrics", &[]).await;
    let body = get(srv.addr, "/metrics", &[]).await.text();
    for want in [
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
         # TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_max_bytes gauge\n",
        "# HELP promhttp_metric_handler_requests_in_flight Current number of scrapes being served.\n\
         # TYPE promhttp_metric_handler_requests_in_flight gauge\npromhttp_metric_handler_requests_in_flight 1\n",
        "promhttp_metric_handler_requests_total{code=\"200\"} 1\n",
        "promhttp_metric_handler_requests_total{code=\"500\"} 0\n",
        "promhttp_metric_handler_requests_total{code=\"503\"} 0\n",
        "promhttp_metric_handler_errors_total{cause=\"encoding\"} 0\n",
        "promhttp_metric_handler_errors_total{cause=\"gathering\"} 0\n",
        "# HELP node_exporter_build_info A metric with a constant '1' value labeled by version, revision, \
         branch, goversion from which node_exporter was built, and the goos and goarch for the build.\n",
    ] {
        assert!(body.contains(want), "missing {want:?} in\n{body}");
    }
    let build = body
        .lines()
        .find(|l| l.starts_with("node_exporter_build_info{"))
        .unwrap();
    assert!(
        build.starts_with("node_exporter_build_info{branch=\"\",goarch=\""),
        "{build}"
    );
    assert!(
        build.contains(",revision=\"unknown\",tags=\"unknown\",version=\"1.2.3\"} 1"),
        "{build}"
    );
    // Families are sorted by name across the registry and the runtime's own.
    let types: Vec<&str> = body.lines().filter(|l| l.starts_with("# TYPE")).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(types, sorted);
    srv.stop().await.unwrap();

    let args = WebArgs {
        disable_exporter_metrics: true,
        ..local_args()
    };
    let srv = start(node(sample_registry()), &args).await;
    let body = get(srv.addr, "/metrics", &[]).await.text();
    assert!(!body.contains("process_"), "{body}");
    assert!(!body.contains("promhttp_"), "{body}");
    assert!(body.contains("node_exporter_build_info{"), "{body}");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn max_requests_answers_503() {
    let (blocking, started, gate) = Blocking::new();
    let registry = Registry::new();
    registry.register_named("slow", blocking).unwrap();
    let args = WebArgs {
        max_requests: 2,
        ..local_args()
    };
    let srv = start(node(Arc::new(registry)), &args).await;
    let addr = srv.addr;
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(addr, "/metrics", &[]).await }))
        .collect();
    wait_for(&started, 2).await;
    let over = get(addr, "/metrics", &[]).await;
    assert_eq!(over.status, 503);
    assert_eq!(
        over.text(),
        "Limit of concurrent requests reached (2), try again later.\n"
    );
    // Other endpoints are not limited.
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    release(&gate);
    for h in held {
        let r = h.await.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.text().contains("slow_metric 1\n"));
    }
    let body = get(addr, "/metrics", &[]).await.text();
    assert!(
        body.contains("promhttp_metric_handler_requests_total{code=\"503\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains("promhttp_metric_handler_requests_total{code=\"200\"} 2\n"),
        "{body}"
    );
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn unlimited_with_zero_max_requests() {
    let (blocking, started, gate) = Blocking::new();
    let registry = Registry::new();
    registry.register_named("slow", blocking).unwrap();
    let args = WebArgs {
        max_requests: 0,
        ..local_args()
    };
    let srv = start(node(Arc::new(registry)), &args).await;
    let addr = srv.addr;
    let held: Vec<_> = (0..3)
        .map(|_| tokio::spawn(async move { get(addr, "/metrics", &[]).await }))
        .collect();
    wait_for(&started, 3).await;
    release(&gate);
    for h in held {
        assert_eq!(h.await.unwrap().status, 200);
    }
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let (blocking, started, gate) = Blocking::new();
    let registry = Registry::new();
    registry.register_named("slow", blocking).unwrap();
    let mut srv = start(node(Arc::new(registry)), &local_args()).await;
    let addr = srv.addr;
    let in_flight = tokio::spawn(async move { get(addr, "/metrics", &[]).await });
    wait_for(&started, 1).await;
    srv.trigger_stop();
    // The listener closes: new connections are refused (allow the accept loop a moment to stop).
    let mut refused = false;
    for _ in 0..100 {
        if try_get(addr, "/", &[]).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "listener still accepting after shutdown");
    assert!(
        !srv.task.is_finished(),
        "server returned before the in-flight request finished"
    );
    release(&gate);
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("slow_metric 1\n"));
    tokio::time::timeout(Duration::from_secs(10), srv.stop())
        .await
        .expect("server did not stop")
        .unwrap();
}

#[tokio::test]
async fn binds_several_addresses_and_reports_bind_errors() {
    let args = WebArgs {
        listen_address: vec!["127.0.0.1:0".into(), "127.0.0.1:0".into()],
        ..WebArgs::default()
    };
    let server = node(sample_registry()).bind(&args).await.unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert!(!server.is_tls());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(async {
        let _ = rx.await;
    }));
    for a in &addrs {
        assert_eq!(get(*a, "/metrics", &[]).await.status, 200);
    }
    // Binding an address in use fails with the address in the message.
    let taken = WebArgs {
        listen_address: vec![addrs[0].to_string()],
        ..WebArgs::default()
    };
    let err = node(sample_registry()).bind(&taken).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("cannot listen on {}", addrs[0])),
        "{err}"
    );
    let _ = tx.send(());
    task.await.unwrap().unwrap();

    // A Go-style ":port" address listens on every interface, so loopback reaches it.
    let any = WebArgs {
        listen_address: vec![":0".into()],
        ..WebArgs::default()
    };
    let srv = start(node(sample_registry()), &any).await;
    assert!(srv.addr.ip().is_unspecified(), "{}", srv.addr);
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], srv.addr.port()));
    assert_eq!(get(loopback, "/metrics", &[]).await.status, 200);
    srv.stop().await.unwrap();
}

/// Families of an async collector: a gauge whose value is the number of scrapes so far, awaited after a yield
/// (the future really suspends), or a panic on demand.
struct Ticking {
    scrapes: std::sync::atomic::AtomicUsize,
    panic: bool,
}

impl exposition::http::AsyncCollector for Ticking {
    fn collect(&self) -> exposition::http::CollectFuture<'_> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert!(!self.panic, "collector asked to panic");
            let n = self.scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let mut up = exposition::MetricFamily::new("aaa_async_up", exposition::MetricType::Gauge).with_help("h");
            up.push(exposition::Metric::new(
                exposition::Labels::new(),
                exposition::Value::Gauge(n as f64),
            ));
            vec![up]
        })
    }
}

#[tokio::test]
async fn async_collector_families_are_merged_with_the_registry() {
    let ticking = Arc::new(Ticking {
        scrapes: Default::default(),
        panic: false,
    });
    let srv = start(node(sample_registry()).async_collector(ticking), &local_args()).await;
    for n in 1..=2 {
        let r = get(srv.addr, "/metrics", &[]).await;
        assert_eq!(r.status, 200);
        let body = r.text();
        assert!(body.contains(&format!("aaa_async_up {n}\n")), "{body}");
        // The registry's collectors and the runtime's own families are still there, after ours by name.
        assert!(body.contains("node_cpu_test 1.5\n"), "{body}");
        let ours = body.find("aaa_async_up").expect("async family");
        let registry = body.find("node_cpu_test").expect("registry family");
        assert!(ours < registry, "families sorted by name: {body}");
    }
    // collect[] still selects among the registry's collectors; the async collector always contributes.
    let r = get(srv.addr, "/metrics?collect[]=cpu", &[]).await;
    let body = r.text();
    assert!(
        body.contains("aaa_async_up 3\n") && body.contains("node_cpu_test 1.5\n"),
        "{body}"
    );
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn panicking_async_collector_is_a_500_and_the_server_keeps_serving() {
    let ticking = Arc::new(Ticking {
        scrapes: Default::default(),
        panic: true,
    });
    let srv = start(node(sample_registry()).async_collector(ticking), &local_args()).await;
    for _ in 0..2 {
        let r = get(srv.addr, "/metrics", &[]).await;
        assert_eq!(r.status, 500, "{}", r.text());
    }
    assert_eq!(get(srv.addr, "/", &[]).await.status, 200);
    srv.stop().await.unwrap();
}

/// A registry collector that panics.
struct Panicking;

impl exposition::Collector for Panicking {
    fn collect(&self, _: &mut Vec<exposition::MetricFamily>) -> Result<(), exposition::CollectError> {
        panic!("collector asked to panic");
    }
}

#[tokio::test]
async fn collection_on_the_runtime_thread() {
    let srv = start(node(sample_registry()).collect_on_runtime_thread(), &local_args()).await;
    for _ in 0..2 {
        let r = get(srv.addr, "/metrics", &[]).await;
        assert_eq!(r.status, 200);
        let body = r.text();
        assert!(body.contains("node_cpu_test 1.5\n"), "{body}");
        assert!(
            body.contains("node_scrape_collector_success{collector=\"broken\"} 0\n"),
            "{body}"
        );
    }
    srv.stop().await.unwrap();

    let registry = Arc::new(Registry::new());
    registry.register(Panicking);
    let srv = start(node(registry).collect_on_runtime_thread(), &local_args()).await;
    for _ in 0..2 {
        assert_eq!(get(srv.addr, "/metrics", &[]).await.status, 500);
    }
    assert_eq!(get(srv.addr, "/", &[]).await.status, 200);
    srv.stop().await.unwrap();
}
