//! `collect.info_schema.innodb_metrics`: the enabled rows of `information_schema.innodb_metrics` as
//! `mysql_info_schema_innodb_metrics_<subsystem>_<name>[_total]` (counters for `counter`/`status_counter` rows
//! with a non-negative value, gauges otherwise, the row's comment as help), with upstream's special families for
//! buffer page I/O (`..._buffer_page_{read,written}_total{type}`) and buffer pool pages
//! (`..._buffer_pool_pages{state}`, `..._buffer_pool_dirty_pages`).

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, metric_name_part, parse_go_float};

/// The statement for MySQL and MariaDB before 10.5.
pub const QUERY: &str =
    "SELECT name, subsystem, type, comment, count FROM information_schema.innodb_metrics WHERE status = 'enabled'";

/// The statement for MariaDB 10.5 and later, where the `STATUS` column became `ENABLED` (upstream's statement fails
/// there).
pub const MARIADB_QUERY: &str =
    "SELECT name, subsystem, type, comment, count FROM information_schema.innodb_metrics WHERE enabled = 1";

/// The statement for `server`.
pub fn query(server: &ServerInfo) -> &'static str {
    if server.mariadb && server.version >= (10, 5) {
        MARIADB_QUERY
    } else {
        QUERY
    }
}

const SUB: &str = "info_schema";

/// The `info_schema.innodb_metrics` scraper.
#[derive(Debug, Default)]
pub struct InnodbMetrics;

impl Scraper for InnodbMetrics {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        server: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = query(server);
            let rows = db.query(sql).await?;
            let cols = ["name", "subsystem", "type", "comment", "count"]
                .map(|c| rows.require(sql, c))
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(cols[i]).and_then(|v| v.as_deref()).unwrap_or("");
                let (name, subsystem, kind, comment) = (get(0), get(1), get(2), get(3));
                let Some(value) = parse_go_float(get(4)) else { continue };
                map_row(&mut fams, name, subsystem, kind, comment, value);
            }
            fams.finish(out);
            Ok(())
        })
    }
}

fn map_row(fams: &mut Families, name: &str, subsystem: &str, kind: &str, comment: &str, value: f64) {
    if subsystem == "buffer_page_io" {
        let (family, rest, help) = if let Some(rest) = name.strip_prefix("buffer_page_read_") {
            (
                "innodb_metrics_buffer_page_read_total",
                rest,
                "Total number of buffer pages read total.",
            )
        } else if let Some(rest) = name.strip_prefix("buffer_page_written_") {
            (
                "innodb_metrics_buffer_page_written_total",
                rest,
                "Total number of buffer pages written total.",
            )
        } else {
            tracing::warn!(name, "innodb_metrics subsystem buffer_page_io returned an invalid name");
            return;
        };
        let labels = Labels::from_pairs([("type", rest)]);
        fams.add(&fq_name(SUB, family), MetricType::Counter, help, labels, value);
        return;
    }
    if subsystem == "buffer"
        && let Some(state) = name.strip_prefix("buffer_pool_pages_")
    {
        match state {
            "total" => {}
            "dirty" => fams.add(
                &fq_name(SUB, "innodb_metrics_buffer_pool_dirty_pages"),
                MetricType::Gauge,
                "Total number of dirty pages in the buffer pool.",
                Labels::new(),
                value,
            ),
            _ => fams.add(
                &fq_name(SUB, "innodb_metrics_buffer_pool_pages"),
                MetricType::Gauge,
                "Total number of buffer pool pages by state.",
                Labels::from_pairs([("state", state)]),
                value,
            ),
        }
        return;
    }
    let base = format!(
        "innodb_metrics_{}_{}",
        metric_name_part(subsystem),
        metric_name_part(name)
    );
    if matches!(kind, "counter" | "status_counter") && value >= 0.0 {
        fams.add(
            &fq_name(SUB, &format!("{base}_total")),
            MetricType::Counter,
            comment,
            Labels::new(),
            value,
        );
    } else {
        fams.add(&fq_name(SUB, &base), MetricType::Gauge, comment, Labels::new(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::samples;

    #[test]
    fn rows_to_families() {
        let cols = ["name", "subsystem", "type", "comment", "count"];
        let rows: &[&[Option<&str>]] = &[
            &[
                Some("lock_timeouts"),
                Some("lock"),
                Some("counter"),
                Some("Number of lock timeouts"),
                Some("0"),
            ],
            &[
                Some("buffer_pool_reads"),
                Some("buffer"),
                Some("status_counter"),
                Some("Reads"),
                Some("1"),
            ],
            &[
                Some("buffer_pool_size"),
                Some("server"),
                Some("value"),
                Some("Server buffer pool size"),
                Some("2"),
            ],
            &[
                Some("buffer_page_read_system_page"),
                Some("buffer_page_io"),
                Some("counter"),
                Some("c"),
                Some("3"),
            ],
            &[
                Some("buffer_page_written_undo_log"),
                Some("buffer_page_io"),
                Some("counter"),
                Some("c"),
                Some("4"),
            ],
            &[
                Some("buffer_page_bogus"),
                Some("buffer_page_io"),
                Some("counter"),
                Some("c"),
                Some("5"),
            ],
            &[
                Some("buffer_pool_pages_total"),
                Some("buffer"),
                Some("value"),
                Some("c"),
                Some("6"),
            ],
            &[
                Some("buffer_pool_pages_misc"),
                Some("buffer"),
                Some("value"),
                Some("c"),
                Some("7"),
            ],
            &[
                Some("buffer_pool_pages_dirty"),
                Some("buffer"),
                Some("value"),
                Some("c"),
                Some("8"),
            ],
            &[Some("neg"), Some("x"), Some("counter"), Some("c"), Some("-1")],
        ];
        let mut db = FakeDb::default().with(QUERY, &cols, rows);
        let mut out = Vec::new();
        InnodbMetrics
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let (c, g) = (MetricType::Counter, MetricType::Gauge);
        let p = "mysql_info_schema_innodb_metrics_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}buffer_buffer_pool_reads_total"), String::new(), c, 1.0),
                (
                    format!("{p}buffer_page_read_total"),
                    "type=\"system_page\"".into(),
                    c,
                    3.0
                ),
                (
                    format!("{p}buffer_page_written_total"),
                    "type=\"undo_log\"".into(),
                    c,
                    4.0
                ),
                (format!("{p}buffer_pool_dirty_pages"), String::new(), g, 8.0),
                (format!("{p}buffer_pool_pages"), "state=\"misc\"".into(), g, 7.0),
                (format!("{p}lock_lock_timeouts_total"), String::new(), c, 0.0),
                (format!("{p}server_buffer_pool_size"), String::new(), g, 2.0),
                (format!("{p}x_neg"), String::new(), g, -1.0),
            ]
        );
        let timeouts = out
            .iter()
            .find(|f| f.name.ends_with("lock_timeouts_total"))
            .expect("family");
        assert_eq!(timeouts.help.as_deref(), Some("Number of lock timeouts"));
    }

    #[test]
    fn statement_by_server() {
        for (v, want) in [
            ("10.11.6-MariaDB", MARIADB_QUERY),
            ("10.4.30-MariaDB", QUERY),
            ("8.0.36", QUERY),
            ("5.6.51", QUERY),
        ] {
            assert_eq!(query(&ServerInfo::parse(v).expect(v)), want, "{v}");
        }
    }
}
