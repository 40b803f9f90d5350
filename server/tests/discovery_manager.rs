//! The discovery manager with real providers (static and file_sd on a temporary folder): per-job merging, shared
//! providers, throttled publishing and reloads that keep unchanged providers running.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use server::config::{Config, Mode};
use server::discovery::{DiscoveryConfigs, Manager, ManagerOptions, TargetGroup, TargetSets, scrape_jobs};
use tokio_util::sync::CancellationToken;

fn jobs(yaml: &str) -> BTreeMap<String, DiscoveryConfigs> {
    let config = Config::load_str(yaml, Path::new("test.yml"), Mode::Server).unwrap_or_else(|e| panic!("{e}"));
    scrape_jobs(&config)
}

fn manager(interval: Duration) -> Manager {
    Manager::new(ManagerOptions {
        update_interval: interval,
        ..ManagerOptions::default()
    })
}

/// Addresses per job, sorted.
fn addresses(sets: &TargetSets) -> BTreeMap<String, Vec<String>> {
    sets.iter()
        .map(|(job, groups)| {
            let mut a: Vec<String> = groups
                .iter()
                .flat_map(|g| {
                    g.targets
                        .iter()
                        .map(|t| t.get("__address__").unwrap_or_default().to_owned())
                })
                .collect();
            a.sort();
            (job.clone(), a)
        })
        .collect()
}

/// Waits until the published sets satisfy `pred`, returning them.
async fn wait_for(rx: &mut tokio::sync::watch::Receiver<TargetSets>, pred: impl Fn(&TargetSets) -> bool) -> TargetSets {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        {
            let current = rx.borrow_and_update();
            if pred(&current) {
                return current.clone();
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("timed out; last published: {:?}", addresses(&rx.borrow())),
        }
    }
}

fn expect(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(j, a)| (j.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[tokio::test]
async fn static_and_file_targets_per_job_with_reload() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.json");
    std::fs::write(&targets, r#"[{"targets":["f1:9100"],"labels":{"team":"a"}}]"#).unwrap();
    let file_job = format!(
        "  - job_name: files\n    file_sd_configs:\n      - files: ['{}/*.json']\n",
        dir.path().display()
    );
    let config = format!(
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [a:1, b:2]\n        labels: {{env: prod}}\n      - targets: [c:3]\n{file_job}  - job_name: empty\n"
    );
    let m = manager(Duration::from_millis(50));
    let mut rx = m.subscribe();
    assert!(m.apply_config(&jobs(&config)).is_empty());
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let m = m.clone();
        let cancel = cancel.clone();
        async move { m.run(cancel).await }
    });

    let want = expect(&[
        ("empty", &[]),
        ("files", &["f1:9100"]),
        ("node", &["a:1", "b:2", "c:3"]),
    ]);
    let sets = wait_for(&mut rx, |s| addresses(s) == want).await;
    let node: Vec<&TargetGroup> = sets["node"].iter().collect();
    assert_eq!(node[0].source, "0");
    assert_eq!(node[0].labels.get("env"), Some("prod"));
    assert_eq!(node[1].source, "1");
    let file_group = &sets["files"][0];
    assert_eq!(file_group.labels.get("team"), Some("a"));
    assert_eq!(
        file_group.labels.get("__meta_filepath"),
        Some(targets.display().to_string().as_str())
    );

    // The file changes: picked up by the watcher.
    std::fs::write(&targets, r#"[{"targets":["f1:9100","f2:9100"]}]"#).unwrap();
    let want = expect(&[
        ("empty", &[]),
        ("files", &["f1:9100", "f2:9100"]),
        ("node", &["a:1", "b:2", "c:3"]),
    ]);
    wait_for(&mut rx, |s| addresses(s) == want).await;

    // A broken file keeps the last good groups; a new good file adds its own.
    std::fs::write(&targets, "[{").unwrap();
    std::fs::write(dir.path().join("more.json"), r#"[{"targets":["f3:9100"]}]"#).unwrap();
    let want = expect(&[
        ("empty", &[]),
        ("files", &["f1:9100", "f2:9100", "f3:9100"]),
        ("node", &["a:1", "b:2", "c:3"]),
    ]);
    wait_for(&mut rx, |s| addresses(s) == want).await;

    // Reload: `files` unchanged (its provider keeps running), `node` changed, `empty` removed, `other` shares the
    // file provider.
    let before = m.providers();
    let file_provider = before.iter().find(|(_, jobs)| jobs == &["files"]).unwrap().0.clone();
    let other_job = file_job.replace("job_name: files", "job_name: other");
    let config = format!(
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [d:4]\n{file_job}{other_job}"
    );
    assert!(m.apply_config(&jobs(&config)).is_empty());
    let providers = m.providers();
    assert!(
        providers.contains(&(file_provider.clone(), vec!["files".into(), "other".into()])),
        "{providers:?}"
    );
    assert_eq!(providers.len(), 2, "{providers:?}");
    let want = expect(&[
        ("files", &["f1:9100", "f2:9100", "f3:9100"]),
        ("node", &["d:4"]),
        ("other", &["f1:9100", "f2:9100", "f3:9100"]),
    ]);
    wait_for(&mut rx, |s| addresses(s) == want).await;

    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn updates_are_published_at_most_once_per_interval() {
    let interval = Duration::from_secs(5);
    let m = manager(interval);
    let mut rx = m.subscribe();
    let start = tokio::time::Instant::now();
    m.apply_config(&jobs(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x:1]\n",
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let m = m.clone();
        let cancel = cancel.clone();
        async move { m.run(cancel).await }
    });
    rx.changed().await.unwrap();
    assert!(start.elapsed() >= interval, "published after {:?}", start.elapsed());
    assert_eq!(addresses(&rx.borrow_and_update()), expect(&[("a", &["x:1"])]));

    // Two reloads within one interval are coalesced into one publication.
    m.apply_config(&jobs(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [y:1]\n",
    ));
    tokio::time::sleep(Duration::from_millis(10)).await;
    m.apply_config(&jobs(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [z:1]\n",
    ));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let published = tokio::time::Instant::now();
    rx.changed().await.unwrap();
    assert!(published.elapsed() >= interval - Duration::from_millis(30));
    assert_eq!(addresses(&rx.borrow_and_update()), expect(&[("a", &["z:1"])]));

    // Nothing changed: nothing published.
    assert!(tokio::time::timeout(interval * 3, rx.changed()).await.is_err());
    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn a_provider_that_cannot_start_is_reported() {
    let m = manager(Duration::from_millis(10));
    let failures = m.apply_config(&jobs(
        "scrape_configs:\n  - job_name: h\n    http_sd_configs:\n      - url: http://127.0.0.1:1/\n        tls_config: {ca_file: /nonexistent/ca.pem}\n    static_configs:\n      - targets: [s:1]\n",
    ));
    assert_eq!(failures.len(), 1);
    let msg = failures[0].to_string();
    assert!(
        msg.contains("http") && msg.contains("\"h\"") && msg.contains("unable to read CA file /nonexistent/ca.pem"),
        "{msg}"
    );
    // The rest of the job still runs.
    assert_eq!(m.providers().len(), 1);
}

#[test]
fn alertmanager_sets_are_named_by_position() {
    let config = Config::load_str(
        "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['am1:9093']}]\n    - file_sd_configs: [{files: [am.json]}]\n",
        Path::new("am.yml"),
        Mode::Server,
    )
    .unwrap();
    let sets = server::discovery::alertmanager_sets(&config);
    let names: Vec<&String> = sets.keys().collect();
    assert_eq!(names, ["config-0", "config-1"]);
    assert_eq!(sets["config-0"].static_configs[0].targets, vec!["am1:9093".to_string()]);
    assert_eq!(sets["config-1"].file_sd_configs.len(), 1);
}
