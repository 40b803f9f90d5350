//! Turns stub_status pages into the `nginx_*` families of nginx-prometheus-exporter.
//!
//! Each scrape fetches every target (concurrently when there are several) on the exporter's runtime thread. A target that answers gets
//! `nginx_up 1` and the seven stub_status families; one that fails gets `nginx_up 0` only and its error is
//! logged, as upstream does. Every sample carries the `--prometheus.const-label` labels, plus `addr="<uri>"`
//! when more than one `--nginx.scrape-uri` is given.

use std::sync::Arc;

use exposition::http::{AsyncCollector, CollectFuture};
use exposition::{Labels, Metric, MetricFamily, MetricType, Value};

use crate::client::{Client, FetchError, StubStatus};

/// The metric namespace (`nginx_up`, `nginx_connections_active`, ...).
pub const NAMESPACE: &str = "nginx";

/// Family name suffix, type, help text and the stub_status field, in upstream's order.
type Field = (&'static str, MetricType, &'static str, fn(&StubStatus) -> i64);

/// The stub_status families.
pub const FIELDS: &[Field] = &[
    (
        "connections_active",
        MetricType::Gauge,
        "Active client connections",
        |s| s.active,
    ),
    (
        "connections_accepted",
        MetricType::Counter,
        "Accepted client connections",
        |s| s.accepted,
    ),
    (
        "connections_handled",
        MetricType::Counter,
        "Handled client connections",
        |s| s.handled,
    ),
    (
        "connections_reading",
        MetricType::Gauge,
        "Connections where NGINX is reading the request header",
        |s| s.reading,
    ),
    (
        "connections_writing",
        MetricType::Gauge,
        "Connections where NGINX is writing the response back to the client",
        |s| s.writing,
    ),
    (
        "connections_waiting",
        MetricType::Gauge,
        "Idle client connections",
        |s| s.waiting,
    ),
    ("http_requests_total", MetricType::Counter, "Total http requests", |s| {
        s.requests
    }),
];

/// Help text of `nginx_up`.
pub const UP_HELP: &str = "Status of the last metric scrape";

/// Scrapes one or more stub_status pages on each collect.
#[derive(Debug)]
pub struct NginxCollector {
    targets: Vec<(Arc<Client>, Labels)>,
}

impl NginxCollector {
    /// A collector for `clients`; `const_labels` go on every sample, and `addr` is added when there are several
    /// clients.
    pub fn new(clients: Vec<Client>, const_labels: &Labels) -> NginxCollector {
        let several = clients.len() > 1;
        let targets = clients
            .into_iter()
            .map(|c| {
                let mut labels = const_labels.clone();
                if several {
                    labels.push("addr", c.target().uri.clone());
                }
                labels.sort();
                (Arc::new(c), labels)
            })
            .collect();
        NginxCollector { targets }
    }

    async fn fetch_all(&self) -> Vec<Result<StubStatus, FetchError>> {
        if let [(client, _)] = self.targets.as_slice() {
            return vec![client.fetch().await];
        }
        let tasks: Vec<_> = self
            .targets
            .iter()
            .map(|(client, _)| {
                let client = client.clone();
                tokio::spawn(async move { client.fetch().await })
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for (task, (client, _)) in tasks.into_iter().zip(&self.targets) {
            results.push(task.await.unwrap_or_else(|_| {
                Err(FetchError::Http {
                    uri: client.target().uri.clone(),
                    source: crate::client::HttpError::Io(std::io::Error::other("scrape task panicked")),
                })
            }));
        }
        results
    }

    /// Fetches every target and builds the families (a failed target is logged and reported as down).
    pub async fn scrape(&self) -> Vec<MetricFamily> {
        let results = self.fetch_all().await;
        let mut pages = Vec::with_capacity(results.len());
        for ((_, labels), result) in self.targets.iter().zip(results) {
            match result {
                Ok(stats) => pages.push((labels, Some(stats))),
                Err(err) => {
                    tracing::error!(error = %err, "error getting stats");
                    pages.push((labels, None));
                }
            }
        }
        families(&pages)
    }
}

impl AsyncCollector for NginxCollector {
    fn collect(&self) -> CollectFuture<'_> {
        Box::pin(self.scrape())
    }
}

/// The families for the given pages (`None`: that target is down). Families without samples are left out.
pub fn families(pages: &[(&Labels, Option<StubStatus>)]) -> Vec<MetricFamily> {
    let mut up = MetricFamily::new(format!("{NAMESPACE}_up"), MetricType::Gauge).with_help(UP_HELP);
    let mut fams: Vec<MetricFamily> = FIELDS
        .iter()
        .map(|(name, t, help, _)| MetricFamily::new(format!("{NAMESPACE}_{name}"), *t).with_help(*help))
        .collect();
    for (labels, page) in pages {
        let labels = (*labels).clone();
        up.push(Metric::new(
            labels.clone(),
            Value::Gauge(if page.is_some() { 1.0 } else { 0.0 }),
        ));
        let Some(stats) = page else { continue };
        for (fam, (_, t, _, get)) in fams.iter_mut().zip(FIELDS) {
            let v = get(stats) as f64;
            let value = match t {
                MetricType::Counter => Value::Counter {
                    total: v,
                    created: None,
                    exemplar: None,
                },
                _ => Value::Gauge(v),
            };
            fam.push(Metric::new(labels.clone(), value));
        }
    }
    let mut out: Vec<MetricFamily> = fams.into_iter().filter(|f| !f.metrics.is_empty()).collect();
    out.push(up);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::stub_status;
    use exposition::encode::{Format, encode};

    /// The reference page and the real Go exporter's output for it (Debian's 0.11.0 build), from the corpus.
    /// `None` when the corpus is absent (`corpus_dir` then prints one loud line).
    fn corpus(name: &str) -> Option<String> {
        let path = exposition::conformance::corpus_dir()?.join("nginx").join(name);
        Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    /// The reference output without the build info family, whose name and labels differ on purpose: upstream
    /// 1.x (which we follow) names it `nginx_exporter_build_info` with Prometheus' version labels, Debian's 0.11
    /// build names it `nginxexporter_build_info{arch,commit,date,dirty,go,version}`.
    fn without_build_info(text: &str) -> String {
        text.lines()
            .filter(|l| !l.contains("nginxexporter_build_info"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn text(fams: &[MetricFamily]) -> String {
        let mut sorted = fams.to_vec();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::new();
        encode(&sorted, Format::Text, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn matches_go_exporter_when_up() {
        let (Some(page), Some(want)) = (corpus("stub_status.txt"), corpus("debian-0.11.0-metrics.txt")) else {
            return;
        };
        let page = stub_status::parse(&page).expect("reference page parses");
        let labels = Labels::new();
        let got = text(&families(&[(&labels, Some(page))]));
        assert_eq!(got, without_build_info(&want));
    }

    #[test]
    fn matches_go_exporter_when_down() {
        let Some(want) = corpus("debian-0.11.0-metrics-nginx-down.txt") else {
            return;
        };
        let labels = Labels::new();
        let got = text(&families(&[(&labels, None)]));
        assert_eq!(got, without_build_info(&want));
    }

    #[test]
    fn labels_per_target() {
        let a = Labels::from_pairs([("addr", "http://a/"), ("dc", "x")]);
        let b = Labels::from_pairs([("addr", "http://b/"), ("dc", "x")]);
        let page = StubStatus {
            requests: 7,
            ..StubStatus::default()
        };
        let fams = families(&[(&a, Some(page)), (&b, None)]);
        let up = fams.iter().find(|f| f.name == "nginx_up").expect("up");
        assert_eq!(
            up.metrics
                .iter()
                .map(|m| (m.labels.get("addr"), m.value.clone()))
                .collect::<Vec<_>>(),
            [
                (Some("http://a/"), Value::Gauge(1.0)),
                (Some("http://b/"), Value::Gauge(0.0))
            ]
        );
        let req = fams
            .iter()
            .find(|f| f.name == "nginx_http_requests_total")
            .expect("requests");
        assert_eq!(req.metrics.len(), 1);
        assert_eq!(req.metrics[0].labels, a);
        assert_eq!(fams.len(), 8);
    }
}
