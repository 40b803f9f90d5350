//! `collect.global_variables`: `SHOW GLOBAL VARIABLES` as `mysql_global_variables_*` gauges, plus
//! `mysql_version_info`, `mysql_transaction_isolation` and the Galera `mysql_galera_variables_info` /
//! `mysql_galera_gcache_size_bytes`, as upstream writes them.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, metric_name_part, parse_status};

/// The statement.
pub const QUERY: &str = "SHOW GLOBAL VARIABLES";

/// The `global_variables` scraper.
#[derive(Debug, Default)]
pub struct GlobalVariables;

impl Scraper for GlobalVariables {
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
            map_variables(pairs, out);
            Ok(())
        })
    }
}

/// Maps `(Variable_name, Value)` pairs to families.
pub fn map_variables<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut Vec<MetricFamily>) {
    let mut fams = Families::new();
    let (mut innodb_version, mut version, mut version_comment) = ("", "", "");
    let (mut cluster_name, mut provider_options) = ("", "");
    let (mut isolation, mut tx_isolation) = ("", "");
    for (raw_key, raw) in pairs {
        let key = metric_name_part(raw_key);
        if let Some(value) = parse_status(raw) {
            fams.add(
                &fq_name("global_variables", &key),
                MetricType::Gauge,
                "Generic gauge metric from SHOW GLOBAL VARIABLES.",
                Labels::new(),
                value,
            );
            continue;
        }
        match key.as_str() {
            "innodb_version" => innodb_version = raw,
            "version" => version = raw,
            "version_comment" => version_comment = raw,
            "wsrep_cluster_name" => cluster_name = raw,
            "wsrep_provider_options" => provider_options = raw,
            "transaction_isolation" => isolation = raw,
            "tx_isolation" => tx_isolation = raw,
            _ => {}
        }
    }
    fams.add(
        &fq_name("version", "info"),
        MetricType::Gauge,
        "MySQL version and distribution.",
        Labels::from_pairs([
            ("innodb_version", innodb_version),
            ("version", version),
            ("version_comment", version_comment),
        ]),
        1.0,
    );
    let level = if isolation.is_empty() { tx_isolation } else { isolation };
    if !level.is_empty() {
        fams.add(
            &fq_name("transaction", "isolation"),
            MetricType::Gauge,
            "MySQL transaction isolation.",
            Labels::from_pairs([("level", level)]),
            1.0,
        );
    }
    if !cluster_name.is_empty() {
        fams.add(
            &fq_name("galera", "variables_info"),
            MetricType::Gauge,
            "PXC/Galera variables information.",
            Labels::from_pairs([("wsrep_cluster_name", cluster_name)]),
            1.0,
        );
    }
    if !provider_options.is_empty() {
        fams.add(
            &fq_name("galera", "gcache_size_bytes"),
            MetricType::Gauge,
            "PXC/Galera gcache size.",
            Labels::new(),
            gcache_size(provider_options),
        );
    }
    fams.finish(out);
}

/// `gcache.size = <n>[M|G];` from `wsrep_provider_options`, in bytes (0 when absent).
pub fn gcache_size(options: &str) -> f64 {
    for item in options.split(';') {
        let Some((k, v)) = item.split_once('=') else { continue };
        if k.trim() != "gcache.size" {
            continue;
        }
        let v = v.trim();
        let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        let Ok(n) = v[..digits].parse::<f64>() else { return 0.0 };
        return match &v[digits..] {
            "M" => n * 1024.0 * 1024.0,
            "G" => n * 1024.0 * 1024.0 * 1024.0,
            "" => n,
            _ => 0.0,
        };
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::global_status::tests::samples;

    #[test]
    fn variables_to_families() {
        let mut out = Vec::new();
        map_variables(
            [
                ("wait_timeout", "28800"),
                ("userstat", "OFF"),
                ("read_only", "0"),
                ("innodb_version", "5.6.15-rel63.0"),
                ("version", "5.6.15-rel63.0-log"),
                ("version_comment", "Percona Server (GPL), Release 63.0"),
                ("transaction_isolation", "REPEATABLE-READ"),
                ("tx_isolation", "READ-COMMITTED"),
                ("wsrep_cluster_name", "supercluster"),
                (
                    "wsrep_provider_options",
                    "base_dir = /var/lib/mysql/; gcache.size = 2G; gcache.page_size = 128M;",
                ),
                ("sql_mode", "STRICT_TRANS_TABLES"),
            ],
            &mut out,
        );
        let g = MetricType::Gauge;
        let want = vec![
            ("mysql_galera_gcache_size_bytes".into(), String::new(), g, 2147483648.0),
            ("mysql_galera_variables_info".into(), "wsrep_cluster_name=\"supercluster\"".into(), g, 1.0),
            ("mysql_global_variables_read_only".into(), String::new(), g, 0.0),
            ("mysql_global_variables_userstat".into(), String::new(), g, 0.0),
            ("mysql_global_variables_wait_timeout".into(), String::new(), g, 28800.0),
            ("mysql_transaction_isolation".into(), "level=\"REPEATABLE-READ\"".into(), g, 1.0),
            (
                "mysql_version_info".into(),
                "innodb_version=\"5.6.15-rel63.0\",version=\"5.6.15-rel63.0-log\",version_comment=\"Percona Server (GPL), Release 63.0\"".into(),
                g,
                1.0,
            ),
        ];
        assert_eq!(samples(&out), want);
        let info = out.iter().find(|f| f.name == "mysql_version_info").expect("info");
        assert_eq!(info.help.as_deref(), Some("MySQL version and distribution."));
    }

    #[test]
    fn old_servers_report_tx_isolation() {
        let mut out = Vec::new();
        map_variables([("tx_isolation", "READ-COMMITTED")], &mut out);
        let fam = out
            .iter()
            .find(|f| f.name == "mysql_transaction_isolation")
            .expect("family");
        assert_eq!(fam.metrics[0].labels.get("level"), Some("READ-COMMITTED"));
    }

    #[test]
    fn gcache_sizes() {
        for (s, want) in [
            ("gcache.size = 128M; x = 1", 134217728.0),
            ("gcache.size = 1000;", 1000.0),
            ("a = b", 0.0),
            ("gcache.size = 12K;", 0.0),
        ] {
            assert_eq!(gcache_size(s), want, "{s}");
        }
    }
}
