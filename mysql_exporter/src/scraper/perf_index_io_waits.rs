//! `collect.perf_schema.indexiowaits`: `performance_schema.table_io_waits_summary_by_index_usage` as
//! `mysql_perf_schema_index_io_waits_total` and `mysql_perf_schema_index_io_waits_seconds_total` by `schema`,
//! `name`, `index` and `operation`. As upstream, `insert` is written only for the `NONE` index (rows not read
//! through an index), where inserts are counted.

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::{OPERATIONS, PICOSECONDS};
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT OBJECT_SCHEMA, OBJECT_NAME, ifnull(INDEX_NAME, 'NONE') AS INDEX_NAME, \
                         COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, COUNT_DELETE, \
                         SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE, SUM_TIMER_DELETE \
                         FROM performance_schema.table_io_waits_summary_by_index_usage \
                         WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";

/// The `perf_schema.indexiowaits` scraper.
#[derive(Debug, Default)]
pub struct IndexIoWaits;

impl Scraper for IndexIoWaits {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                let index = get(2);
                for (k, op) in OPERATIONS.iter().enumerate() {
                    if *op == "insert" && index != "NONE" {
                        continue;
                    }
                    let labels = Labels::from_pairs([
                        ("schema", get(0)),
                        ("name", get(1)),
                        ("index", index),
                        ("operation", op),
                    ]);
                    fams.add(
                        &fq_name("perf_schema", "index_io_waits_total"),
                        MetricType::Counter,
                        "The total number of index I/O wait events for each index and operation.",
                        labels.clone(),
                        num(3 + k),
                    );
                    fams.add(
                        &fq_name("perf_schema", "index_io_waits_seconds_total"),
                        MetricType::Counter,
                        "The total time of index I/O wait events for each index and operation.",
                        labels,
                        num(7 + k) / PICOSECONDS,
                    );
                }
            }
            fams.finish(out);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::samples;

    #[test]
    fn insert_only_for_the_none_index() {
        let cols = ["s", "n", "i", "cf", "ci", "cu", "cd", "tf", "ti", "tu", "td"];
        let primary: &[Option<&str>] = &[
            Some("shop"),
            Some("orders"),
            Some("PRIMARY"),
            Some("1"),
            Some("2"),
            Some("3"),
            Some("4"),
            Some("1000000000000"),
            Some("0"),
            Some("0"),
            Some("0"),
        ];
        let none: &[Option<&str>] = &[
            Some("shop"),
            Some("orders"),
            Some("NONE"),
            Some("0"),
            Some("9"),
            Some("0"),
            Some("0"),
            Some("0"),
            Some("2000000000000"),
            Some("0"),
            Some("0"),
        ];
        let mut db = FakeDb::default().with(QUERY, &cols, &[primary, none]);
        let mut out = Vec::new();
        IndexIoWaits
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let got = samples(&out);
        // 3 operations for PRIMARY, 4 for NONE, each as a count and a time.
        assert_eq!(got.len(), 14);
        let value = |name: &str, index: &str, op: &str| {
            got.iter()
                .find(|s| {
                    s.0 == name
                        && s.1.contains(&format!("index=\"{index}\""))
                        && s.1.contains(&format!("operation=\"{op}\""))
                })
                .map(|s| s.3)
        };
        let count = "mysql_perf_schema_index_io_waits_total";
        let seconds = "mysql_perf_schema_index_io_waits_seconds_total";
        assert_eq!(value(count, "PRIMARY", "insert"), None);
        assert_eq!(value(count, "PRIMARY", "delete"), Some(4.0));
        assert_eq!(value(seconds, "PRIMARY", "fetch"), Some(1.0));
        assert_eq!(value(count, "NONE", "insert"), Some(9.0));
        assert_eq!(value(seconds, "NONE", "insert"), Some(2.0));
    }
}
