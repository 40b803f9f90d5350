//! End to end: our node_exporter and the server binary, the server scraping the exporter. Targets come up, the
//! exporter stopping takes its target down, and configuration reloads (good and bad) behave as upstream's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP client (the server's client builder installs the TLS provider reqwest needs).
fn test_client() -> reqwest::Client {
    server::httpclient::HttpClient::new(&Default::default(), "test")
        .unwrap()
        .inner()
        .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The node_exporter binary beside the server's (built on demand when only this package's tests run).
fn node_exporter_bin() -> PathBuf {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_server"));
    let bin = server.with_file_name("node_exporter");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "node_exporter"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building node_exporter failed");
    }
    bin
}

fn write_config(path: &Path, jobs: &[(&str, u16)]) {
    let mut yaml = String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\nscrape_configs:\n");
    for (job, port) in jobs {
        yaml.push_str(&format!(
            "- job_name: {job}\n  static_configs:\n  - targets: ['127.0.0.1:{port}']\n"
        ));
    }
    std::fs::write(path, yaml).unwrap();
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    serde_json::from_str(&client.get(url).send().await.unwrap().text().await.unwrap()).unwrap()
}

/// Polls `targets` until `pred` holds for the active targets list.
async fn wait_targets(client: &reqwest::Client, base: &str, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..150 {
        if let Ok(resp) = client.get(format!("{base}/api/v1/targets")).send().await
            && let Ok(text) = resp.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Some(active) = v["data"]["activeTargets"].as_array()
            && pred(active)
        {
            return active.to_vec();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn health_of<'a>(targets: &'a [Value], job: &str) -> Option<&'a str> {
    targets
        .iter()
        .find(|t| t["labels"]["job"] == job)
        .and_then(|t| t["health"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_scrapes_node_exporter_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let node_port = free_port();
    let node = Proc(
        Command::new(node_exporter_bin())
            .arg(format!("--web.listen-address=127.0.0.1:{node_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let config = dir.path().join("prometheus.yml");
    write_config(&config, &[("node", node_port)]);
    let port = free_port();
    let _server = Proc(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = test_client();

    let targets = wait_targets(&client, &base, "node target up", |t| health_of(t, "node") == Some("up")).await;
    assert_eq!(targets[0]["scrapeUrl"], format!("http://127.0.0.1:{node_port}/metrics"));
    assert_eq!(targets[0]["labels"]["instance"], format!("127.0.0.1:{node_port}"));
    let ready = client.get(format!("{base}/-/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    // PromQL over what was scraped: `up`, and a rate once a few scrapes are in.
    let up = get_json(&client, &format!("{base}/api/v1/query?query=up")).await;
    assert_eq!(up["data"]["resultType"], "vector", "{up}");
    assert_eq!(up["data"]["result"][0]["metric"]["job"], "node", "{up}");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let rate_query = format!("{base}/api/v1/query?query=sum(rate(node_cpu_seconds_total%5B1m%5D))");
    let mut rate = Value::Null;
    for _ in 0..50 {
        rate = get_json(&client, &rate_query).await;
        if rate["data"]["result"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // With a few seconds of a 1m window covered, rate extrapolates little: positive, below one CPU-second per second.
    let value: f64 = rate["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    let cpus = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(value > 0.0 && value < cpus, "rate {value} for {cpus} CPUs: {rate}");
    // irate uses the last two samples only: all CPUs' seconds per second, about the number of CPUs.
    let irate = get_json(
        &client,
        &format!("{base}/api/v1/query?query=sum(irate(node_cpu_seconds_total%5B1m%5D))"),
    )
    .await;
    let busy: f64 = irate["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        busy > 0.5 * cpus && busy < 1.5 * cpus,
        "irate {busy} for {cpus} CPUs: {irate}"
    );
    let mut range = Value::Null;
    for _ in 0..50 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let url = format!(
            "{base}/api/v1/query_range?query=up&start={}&end={now}&step=0.5",
            now - 30.0
        );
        range = get_json(&client, &url).await;
        if range["data"]["result"][0]["values"]
            .as_array()
            .is_some_and(|v| v.len() >= 3)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(range["data"]["resultType"], "matrix", "{range}");
    assert!(
        range["data"]["result"][0]["values"].as_array().unwrap().len() >= 3,
        "{range}"
    );
    let bad = client
        .get(format!("{base}/api/v1/query?query=rate(up)"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = serde_json::from_str(&bad.text().await.unwrap()).unwrap();
    assert_eq!(body["errorType"], "bad_data");
    assert!(
        body["error"].as_str().unwrap().contains("expected type range vector"),
        "{body}"
    );

    // Metadata endpoints read what was scraped.
    let series = get_json(&client, &format!("{base}/api/v1/series?match[]=up")).await;
    assert_eq!(series["status"], "success", "{series}");
    assert_eq!(series["data"][0]["job"], "node", "{series}");
    let values = get_json(&client, &format!("{base}/api/v1/label/job/values")).await;
    assert_eq!(values["data"], serde_json::json!(["node"]));
    let names = get_json(&client, &format!("{base}/api/v1/labels?match[]=node_cpu_seconds_total")).await;
    let names: Vec<&str> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(names, ["__name__", "cpu", "instance", "job", "mode"]);
    let bad = client.get(format!("{base}/api/v1/series")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let formatted = get_json(
        &client,
        &format!("{base}/api/v1/format_query?query=sum(rate(x[5m]))by(job)"),
    )
    .await;
    assert_eq!(formatted["data"], "sum by (job) (rate(x[5m]))");

    // parse_query: the tree the web UI draws, by GET or by a POSTed form; parse errors are bad_data.
    let tree = get_json(
        &client,
        &format!("{base}/api/v1/parse_query?query=sum(rate(x[5m]))by(job)"),
    )
    .await;
    assert_eq!(tree["status"], "success", "{tree}");
    assert_eq!(tree["data"]["type"], "aggregation", "{tree}");
    assert_eq!(tree["data"]["grouping"], serde_json::json!(["job"]), "{tree}");
    assert_eq!(tree["data"]["expr"]["func"]["name"], "rate", "{tree}");
    assert_eq!(tree["data"]["expr"]["args"][0]["range"], 300_000, "{tree}");
    let posted = client
        .post(format!("{base}/api/v1/parse_query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("query=a+%2B+on(l)+b")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let posted: Value = serde_json::from_str(&posted).unwrap();
    assert_eq!(posted["data"]["op"], "+", "{posted}");
    assert_eq!(
        posted["data"]["matching"]["labels"],
        serde_json::json!(["l"]),
        "{posted}"
    );
    let bad = client
        .get(format!("{base}/api/v1/parse_query?query=sum(x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = serde_json::from_str(&bad.text().await.unwrap()).unwrap();
    assert_eq!(bad["errorType"], "bad_data", "{bad}");
    assert!(bad["error"].as_str().unwrap().starts_with("1:"), "{bad}");

    let ex = get_json(
        &client,
        &format!("{base}/api/v1/query_exemplars?query=up&start=0&end=1"),
    )
    .await;
    assert_eq!(ex["data"], serde_json::json!([]), "{ex}");
    let ex = client
        .get(format!("{base}/api/v1/query_exemplars?query=up("))
        .send()
        .await
        .unwrap();
    assert_eq!(ex.status(), 400);

    // Metadata as the exporter exposes it.
    let md = get_json(&client, &format!("{base}/api/v1/metadata")).await;
    // Scraped as OpenMetrics, a counter's family name has no `_total` (as upstream keys it).
    assert_eq!(md["data"]["node_cpu_seconds"][0]["type"], "counter", "{md}");
    assert_eq!(md["data"]["node_load1"][0]["type"], "gauge", "{md}");
    let one = get_json(&client, &format!("{base}/api/v1/metadata?metric=node_load1")).await;
    assert_eq!(one["data"].as_object().unwrap().len(), 1, "{one}");
    let tmd = get_json(
        &client,
        &format!("{base}/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D&metric=node_load1"),
    )
    .await;
    assert_eq!(tmd["data"][0]["type"], "gauge", "{tmd}");
    assert_eq!(tmd["data"][0]["target"]["job"], "node", "{tmd}");
    assert!(tmd["data"][0].get("metric").is_none(), "{tmd}");

    let tsdb = get_json(&client, &format!("{base}/api/v1/status/tsdb")).await;
    assert!(tsdb["data"]["headStats"]["numSeries"].as_u64().unwrap() > 100, "{tsdb}");
    let top = tsdb["data"]["seriesCountByMetricName"].as_array().unwrap();
    assert_eq!(top.len(), 10, "{tsdb}");
    assert!(top.iter().any(|e| e["name"] == "node_cpu_seconds_total"), "{tsdb}");

    // Lifecycle endpoints need POST.
    let resp = client.get(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(resp.status(), 405);

    // A changed configuration adds a job scraping the server itself.
    write_config(&config, &[("node", node_port), ("prometheus", port)]);
    let resp = client.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let targets = wait_targets(&client, &base, "self target up", |t| {
        health_of(t, "prometheus") == Some("up")
    })
    .await;
    assert_eq!(targets.len(), 2);

    // A bad configuration is refused, reported, and the running one stays.
    std::fs::write(&config, "scrape_configs:\n- job_name: x\n  scrape_interval: nonsense\n").unwrap();
    let resp = client.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("failed to reload config") && text.contains("prometheus.yml"),
        "{text}"
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nprometheus_config_last_reload_successful 0\n"),
        "{metrics}"
    );
    let runtime = get_json(&client, &format!("{base}/api/v1/status/runtimeinfo")).await;
    assert_eq!(runtime["data"]["reloadConfigSuccess"], false);
    let config_api = get_json(&client, &format!("{base}/api/v1/status/config")).await;
    assert!(
        config_api["data"]["yaml"]
            .as_str()
            .unwrap()
            .contains("job_name: prometheus")
    );

    // The exporter stops: its target goes down with the connection error. A scrape in flight when the process
    // dies fails with a closed connection; every scrape after it is refused.
    drop(node);
    let targets = wait_targets(&client, &base, "node target down, connection refused", |t| {
        health_of(t, "node") == Some("down")
            && t.iter()
                .find(|t| t["labels"]["job"] == "node")
                .and_then(|t| t["lastError"].as_str())
                .is_some_and(|e| e.contains("refused"))
    })
    .await;
    let node_target = targets.iter().find(|t| t["labels"]["job"] == "node").unwrap();
    assert!(
        node_target["lastError"].as_str().unwrap().contains("refused"),
        "{node_target}"
    );

    // Quit through the lifecycle API.
    let resp = client.post(format!("{base}/-/quit")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn admin_and_lifecycle_are_off_by_default() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    write_config(&config, &[]);
    let port = free_port();
    let _server = Proc(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    rt.block_on(async {
        let base = format!("http://127.0.0.1:{port}");
        let client = test_client();
        wait_targets(&client, &base, "server up", |_| true).await;
        let resp = client.post(format!("{base}/-/reload")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let resp = client
            .post(format!("{base}/api/v1/admin/tsdb/snapshot"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(body["errorType"], "unavailable");
        assert_eq!(body["error"], "admin APIs disabled");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_deletes_series_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    write_config(&config, &[("prometheus", port)]);
    let data = dir.path().join("data");
    let _server = Proc(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--web.enable-admin-api")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = test_client();
    wait_targets(&client, &base, "self target up", |t| {
        health_of(t, "prometheus") == Some("up")
    })
    .await;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let count_up = |from: f64, to: f64| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let url = format!("{base}/api/v1/query_range?query=up&start={from}&end={to}&step=0.2");
            let v = get_json(&client, &url).await;
            v["data"]["result"].as_array().map_or(0, |r| {
                r.iter().map(|s| s["values"].as_array().unwrap().len()).sum::<usize>()
            })
        }
    };
    let start = now() - 60.0;
    assert!(count_up(start, now()).await > 0);

    let cut = now();
    let resp = client
        .post(format!("{base}/api/v1/admin/tsdb/delete_series"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("match%5B%5D=up&end={cut}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    // Nothing is left before the cut (later scrapes add new samples after it).
    assert_eq!(count_up(start, cut - 0.5).await, 0);

    let resp = client
        .post(format!("{base}/api/v1/admin/tsdb/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let name = body["data"]["name"].as_str().unwrap();
    assert!(data.join("snapshots").join(name).is_dir(), "{body}");
    let resp = client
        .post(format!("{base}/api/v1/admin/tsdb/clean_tombstones"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}
