//! `collect.global_status`: `SHOW GLOBAL STATUS` as `mysql_global_status_*`.
//!
//! Grouped variables become labelled families as upstream writes them: `Com_*` ->
//! `commands_total{command}`, `Handler_*` -> `handlers_total{handler}`, `Connection_errors_*` ->
//! `connection_errors_total{error}`, `Innodb_buffer_pool_pages_*` -> `buffer_pool_pages{state}` (data, free, misc,
//! old), `buffer_pool_dirty_pages`, or `buffer_pool_page_changes_total{operation}` (`_total` is dropped),
//! `Innodb_rows_*` -> `innodb_row_ops_total{operation}`, `Performance_schema_*` ->
//! `performance_schema_lost_total{instrumentation}`. Every other numeric variable is an untyped
//! `mysql_global_status_<name>`; values that are not numbers are skipped, except the Galera text items that make
//! `mysql_galera_status_info` and `mysql_galera_evs_repl_latency_*`.

use exposition::{Labels, MetricFamily, MetricType};

use super::{
    Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, metric_name_part, parse_go_float, parse_status,
};

/// The statement.
pub const QUERY: &str = "SHOW GLOBAL STATUS";

const SUBSYSTEM: &str = "global_status";

/// Upstream's grouped prefixes: (prefix, family, label, type, help).
const GROUPS: &[(&str, &str, &str, MetricType, &str)] = &[
    (
        "com_",
        "commands_total",
        "command",
        MetricType::Counter,
        "Total number of executed MySQL commands.",
    ),
    (
        "handler_",
        "handlers_total",
        "handler",
        MetricType::Counter,
        "Total number of executed MySQL handlers.",
    ),
    (
        "connection_errors_",
        "connection_errors_total",
        "error",
        MetricType::Counter,
        "Total number of MySQL connection errors.",
    ),
    (
        "innodb_rows_",
        "innodb_row_ops_total",
        "operation",
        MetricType::Counter,
        "Total number of MySQL InnoDB row operations.",
    ),
    (
        "performance_schema_",
        "performance_schema_lost_total",
        "instrumentation",
        MetricType::Counter,
        "Total number of MySQL instrumentations that could not be loaded or created due to memory constraints.",
    ),
];

const EVS_PARTS: [(&str, &str); 5] = [
    ("min_seconds", "PXC/Galera group communication latency. Min value."),
    ("avg_seconds", "PXC/Galera group communication latency. Avg value."),
    ("max_seconds", "PXC/Galera group communication latency. Max value."),
    ("stdev", "PXC/Galera group communication latency. Standard Deviation."),
    ("sample_size", "PXC/Galera group communication latency. Sample Size."),
];

/// The `global_status` scraper.
#[derive(Debug, Default)]
pub struct GlobalStatus;

impl Scraper for GlobalStatus {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let pairs = rows
                .rows
                .iter()
                .filter_map(|r| Some((r.first()?.as_deref()?, r.get(1)?.as_deref().unwrap_or(""))));
            map_status(pairs, out);
            Ok(())
        })
    }
}

/// Maps `(Variable_name, Value)` pairs to families.
pub fn map_status<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut Vec<MetricFamily>) {
    let mut fams = Families::new();
    let mut local_uuid = None;
    let mut cluster_uuid = None;
    let mut provider_version = None;
    let mut evs_latency = None;
    for (key, raw) in pairs {
        let Some(value) = parse_status(raw) else {
            match key {
                "wsrep_local_state_uuid" => local_uuid = Some(raw),
                "wsrep_cluster_state_uuid" => cluster_uuid = Some(raw),
                "wsrep_provider_version" => provider_version = Some(raw),
                "wsrep_evs_repl_latency" => evs_latency = Some(raw),
                _ => {}
            }
            continue;
        };
        let key = metric_name_part(key);
        if let Some(rest) = key.strip_prefix("innodb_buffer_pool_pages_") {
            match rest {
                "data" | "free" | "misc" | "old" => fams.add(
                    &fq_name(SUBSYSTEM, "buffer_pool_pages"),
                    MetricType::Gauge,
                    "Innodb buffer pool pages by state.",
                    Labels::from_pairs([("state", rest)]),
                    value,
                ),
                "dirty" => fams.add(
                    &fq_name(SUBSYSTEM, "buffer_pool_dirty_pages"),
                    MetricType::Gauge,
                    "Innodb buffer pool dirty pages.",
                    Labels::new(),
                    value,
                ),
                "total" => {}
                _ => fams.add(
                    &fq_name(SUBSYSTEM, "buffer_pool_page_changes_total"),
                    MetricType::Counter,
                    "Innodb buffer pool page state changes.",
                    Labels::from_pairs([("operation", rest)]),
                    value,
                ),
            }
            continue;
        }
        if let Some((rest, (_, family, label, kind, help))) = GROUPS
            .iter()
            .find_map(|g| key.strip_prefix(g.0).filter(|r| !r.is_empty()).map(|r| (r, g)))
        {
            fams.add(
                &fq_name(SUBSYSTEM, family),
                *kind,
                help,
                Labels::from_pairs([(*label, rest)]),
                value,
            );
            continue;
        }
        fams.add(
            &fq_name(SUBSYSTEM, &key),
            MetricType::Unknown,
            "Generic metric from SHOW GLOBAL STATUS.",
            Labels::new(),
            value,
        );
    }
    if let Some(local) = local_uuid.filter(|s| !s.is_empty()) {
        fams.add(
            &fq_name("galera", "status_info"),
            MetricType::Gauge,
            "PXC/Galera status information.",
            Labels::from_pairs([
                ("wsrep_local_state_uuid", local),
                ("wsrep_cluster_state_uuid", cluster_uuid.unwrap_or("")),
                ("wsrep_provider_version", provider_version.unwrap_or("")),
            ]),
            1.0,
        );
    }
    if let Some(evs) = evs_latency.filter(|s| !s.is_empty()) {
        let parts: Vec<Option<f64>> = evs.split('/').map(parse_go_float).collect();
        if parts.len() == EVS_PARTS.len() && parts.iter().all(Option::is_some) {
            for ((suffix, help), v) in EVS_PARTS.iter().zip(parts) {
                fams.add(
                    &fq_name("galera_evs_repl_latency", suffix),
                    MetricType::Gauge,
                    help,
                    Labels::new(),
                    v.unwrap_or_default(),
                );
            }
        }
    }
    fams.finish(out);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scraper::fake::Ready as _;
    use exposition::Value;

    /// A flattened sample: name, sorted `k="v"` labels, type, value.
    pub(crate) type Sample = (String, String, MetricType, f64);

    pub(crate) fn samples(fams: &[MetricFamily]) -> Vec<Sample> {
        let mut out = Vec::new();
        for f in fams {
            for m in &f.metrics {
                let mut labels: Vec<String> = m.labels.iter().map(|l| format!("{}=\"{}\"", l.name, l.value)).collect();
                labels.sort();
                let v = match &m.value {
                    Value::Counter { total, .. } => *total,
                    Value::Gauge(v) | Value::Unknown(v) => *v,
                    other => panic!("unexpected value {other:?}"),
                };
                out.push((f.name.clone(), labels.join(","), f.metric_type, v));
            }
        }
        sort_samples(&mut out);
        out
    }

    /// Sorts samples by name, then labels.
    pub(crate) fn sort_samples(samples: &mut [Sample]) {
        samples.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }

    pub(crate) fn kind(s: &str) -> MetricType {
        match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            _ => MetricType::Unknown,
        }
    }

    fn sorted_labels(s: &str) -> String {
        let mut parts: Vec<String> = split_labels(s)
            .into_iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        parts.sort();
        parts.join(",")
    }

    /// Splits `a="x",b="y"` (values without quotes or commas inside).
    pub(crate) fn split_labels(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some((k, after)) = rest.split_once("=\"") {
            let Some((v, tail)) = after.split_once('"') else { break };
            out.push((k.trim_start_matches(',').to_string(), v.to_string()));
            rest = tail;
        }
        out
    }

    /// Every global status row of the upstream vectors, one scrape each, compared exactly.
    #[test]
    fn upstream_vectors() {
        let Some(dir) = exposition::conformance::corpus_dir() else {
            return;
        };
        let text = std::fs::read_to_string(dir.join("mysqld/show_global_status_vectors.tsv")).expect("vectors");
        let mut tally = exposition::conformance::Tally::new("mysqld-global-status");
        for line in text.lines() {
            if line.starts_with("# From collector/slave_status") {
                break;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let (name, value, metric) = (cols[0], cols[1], cols[2]);
            let labels = cols.get(3).copied().unwrap_or("");
            let typ = cols.get(4).copied().unwrap_or("");
            let want_value = cols.get(5).copied().unwrap_or("");
            let mut out = Vec::new();
            let mut want: Vec<Sample> = Vec::new();
            if name.contains('+') {
                // Text items given together: the real values are in the labels column.
                let parsed = split_labels(labels);
                let pairs: Vec<(&str, &str)> = parsed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                map_status(pairs, &mut out);
                want.push((
                    metric.to_string(),
                    sorted_labels(labels),
                    kind(typ),
                    want_value.parse().expect("v"),
                ));
            } else {
                map_status([(name, value)], &mut out);
                if let Some(brace) = metric.find('{') {
                    let base = &metric[..brace];
                    let suffixes = metric[brace + 1..].trim_end_matches('}').split(',');
                    for (suffix, v) in suffixes.zip(want_value.split(',')) {
                        want.push((
                            format!("{base}{suffix}"),
                            String::new(),
                            kind(typ),
                            v.parse().expect("v"),
                        ));
                    }
                } else if !metric.starts_with("(dropped") {
                    want.push((
                        metric.to_string(),
                        sorted_labels(labels),
                        kind(typ),
                        want_value.parse().expect("v"),
                    ));
                }
            }
            sort_samples(&mut want);
            let got = samples(&out);
            if got == want {
                tally.pass();
            } else {
                tally.fail(name, format!("got {got:?}, want {want:?}"));
            }
        }
        tally.finish();
    }

    #[test]
    fn help_and_types_of_grouped_families() {
        let mut out = Vec::new();
        map_status([("Com_select", "3"), ("Com_insert", "4"), ("Uptime", "10")], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].name, "mysql_global_status_commands_total");
        assert_eq!(out[0].help.as_deref(), Some("Total number of executed MySQL commands."));
        assert_eq!(out[0].metrics.len(), 2);
        assert_eq!(out[1].metric_type, MetricType::Unknown);
        assert_eq!(out[1].help.as_deref(), Some("Generic metric from SHOW GLOBAL STATUS."));
    }

    #[test]
    fn scrape_runs_the_statement() {
        let mut db = crate::scraper::fake::FakeDb::default().with(
            QUERY,
            &["Variable_name", "Value"],
            &[&[Some("Threads_running"), Some("2")], &[Some("Ssl_cipher"), Some("")]],
        );
        let info = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let mut out = Vec::new();
        GlobalStatus.scrape(&mut db, &info, &mut out).ready().expect("scrape");
        assert_eq!(
            samples(&out),
            vec![(
                "mysql_global_status_threads_running".into(),
                String::new(),
                MetricType::Unknown,
                2.0
            )]
        );
    }
}
