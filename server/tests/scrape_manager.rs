//! The scrape manager against a real HTTP target (the exposition runtime serving a registry): samples arrive with
//! target labels and report series, a failing target reports `up` 0 and its series go stale, a removed target's
//! series go stale.

use std::sync::Arc;
use std::time::Duration;

use exposition::Registry;
use exposition::http::{Exporter, WebArgs};
use exposition::instrument::{Gauge, Opts};
use server::config::{Config, Mode};
use server::model::labels::Labels;
use server::model::matcher::Matcher;
use server::model::value::is_stale_nan;
use server::scrape::manager::{Health, ScrapeManager};
use server::storage::mem::MemStorage;
use server::storage::{Queryable, Value, collect_samples};

/// Samples of the series named `name`, stale markers as `None`.
fn samples(s: &MemStorage, name: &str) -> Vec<(Labels, Vec<Option<f64>>)> {
    let q = s.querier(i64::MIN, i64::MAX).unwrap();
    q.select(true, None, &[Matcher::equal("__name__", name)])
        .unwrap()
        .iter()
        .map(|series| {
            let values = collect_samples(&mut *series.iter())
                .into_iter()
                .map(|(_, v)| match v {
                    Value::Float(f) if is_stale_nan(f) => None,
                    Value::Float(f) => Some(f),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            (series.labels.clone(), values)
        })
        .collect()
}

async fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_marks_stale_and_reports() {
    // A target exposing one gauge.
    let registry = Arc::new(Registry::new());
    let gauge = Gauge::new(Opts::new("demo_value", "A demo value.")).unwrap();
    gauge.set(42.0);
    registry.register(gauge.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Exporter::new("demo", registry)
        .with_listeners(&WebArgs::default(), vec![listener])
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_until(async move {
        let _ = stop_rx.await;
    }));

    let yaml = "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n- job_name: demo\n";
    let config = Config::load_str(yaml, std::path::Path::new("test.yml"), Mode::Server).unwrap();
    let storage = MemStorage::new();
    let manager = ScrapeManager::new(Arc::new(storage.clone()), &Registry::new(), 1);
    manager.apply_config(&config).unwrap();
    let target: Labels = [("__address__", addr.to_string())].into_iter().collect();
    manager.sync("demo", vec![(target, [("env", "test")].into_iter().collect())]);

    wait_for(
        || samples(&storage, "up").first().is_some_and(|(_, v)| v.len() >= 2),
        "two scrapes",
    )
    .await;
    let up = samples(&storage, "up");
    let (labels, values) = &up[0];
    assert_eq!(labels.get("job"), Some("demo"));
    assert_eq!(labels.get("instance"), Some(addr.to_string().as_str()));
    assert_eq!(labels.get("env"), Some("test"));
    assert!(values.iter().all(|v| *v == Some(1.0)), "{values:?}");
    let demo = samples(&storage, "demo_value");
    assert_eq!(demo[0].1[0], Some(42.0));
    assert_eq!(demo[0].0.get("instance"), Some(addr.to_string().as_str()));
    let scraped = samples(&storage, "scrape_samples_scraped");
    assert!(
        scraped[0].1[0].unwrap() > 5.0,
        "the runtime adds process and build metrics: {scraped:?}"
    );
    assert_eq!(samples(&storage, "scrape_series_added")[0].1[1], Some(0.0));
    let active = manager.active_targets();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].status.health, Health::Up);
    assert_eq!(active[0].url, format!("http://{addr}/metrics"));

    // The target goes down: up drops to 0 and its series go stale.
    let _ = stop_tx.send(());
    served.await.unwrap().unwrap();
    wait_for(|| samples(&storage, "up")[0].1.last() == Some(&Some(0.0)), "up == 0").await;
    assert_eq!(
        samples(&storage, "demo_value")[0].1.last(),
        Some(&None),
        "demo_value must be stale"
    );
    let active = manager.active_targets();
    assert_eq!(active[0].status.health, Health::Down);
    assert!(
        active[0].status.last_error.contains(&addr.to_string()),
        "{}",
        active[0].status.last_error
    );

    // The target disappears from discovery: its report series go stale.
    manager.sync("demo", Vec::new());
    wait_for(|| samples(&storage, "up")[0].1.last() == Some(&None), "stale up").await;
    assert!(manager.active_targets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_scrape_of_the_pool() {
    let registry = Arc::new(Registry::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Exporter::new("demo", registry)
        .with_listeners(&WebArgs::default(), vec![listener])
        .unwrap();
    let served = tokio::spawn(server.serve_until(std::future::pending()));

    let yaml = "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n- job_name: demo\n  \
                target_limit: 1\n  keep_dropped_targets: 1\n  relabel_configs:\n  - source_labels: [drop]\n    \
                regex: 'yes'\n    action: drop\n";
    let config = Config::load_str(yaml, std::path::Path::new("test.yml"), Mode::Server).unwrap();
    let storage = MemStorage::new();
    let manager = ScrapeManager::new(Arc::new(storage.clone()), &Registry::new(), 1);
    manager.apply_config(&config).unwrap();
    let target = |sim: &str, drop: &str| -> (Labels, Labels) {
        let t: Labels = [("__address__", addr.to_string())].into_iter().collect();
        (t, [("sim", sim), ("drop", drop)].into_iter().collect())
    };
    manager.sync(
        "demo",
        vec![
            target("a", "no"),
            target("b", "no"),
            target("c", "yes"),
            target("d", "yes"),
        ],
    );
    wait_for(
        || manager.active_targets().iter().all(|t| t.status.health == Health::Down),
        "both targets down",
    )
    .await;
    let active = manager.active_targets();
    assert_eq!(active.len(), 2);
    assert_eq!(
        active[0].status.last_error,
        "target_limit exceeded (number of targets: 2, limit: 1)"
    );
    assert!(
        samples(&storage, "up")
            .iter()
            .all(|(_, v)| v.iter().all(|x| *x == Some(0.0)))
    );
    // keep_dropped_targets bounds what the API keeps.
    assert_eq!(manager.dropped_targets().len(), 1);
    // Under the limit again: scrapes succeed.
    manager.sync("demo", vec![target("a", "no")]);
    wait_for(
        || {
            manager
                .active_targets()
                .first()
                .is_some_and(|t| t.status.health == Health::Up)
        },
        "target up",
    )
    .await;
    served.abort();
}
