//! `collect.perf_schema.tableiowaits`: `performance_schema.table_io_waits_summary_by_table` as
//! `mysql_perf_schema_table_io_waits_total` and `mysql_perf_schema_table_io_waits_seconds_total` by `schema`,
//! `name` and `operation` (fetch, insert, update, delete). Timers are picoseconds, written as seconds.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT OBJECT_SCHEMA, OBJECT_NAME, COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, COUNT_DELETE, \
                         SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE, SUM_TIMER_DELETE \
                         FROM performance_schema.table_io_waits_summary_by_table \
                         WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";

/// The I/O operations, in the statement's column order.
pub const OPERATIONS: [&str; 4] = ["fetch", "insert", "update", "delete"];

/// Picoseconds per second.
pub const PICOSECONDS: f64 = 1e12;

/// The `perf_schema.tableiowaits` scraper.
#[derive(Debug, Default)]
pub struct TableIoWaits;

impl Scraper for TableIoWaits {
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
                for (k, op) in OPERATIONS.iter().enumerate() {
                    let labels = Labels::from_pairs([("schema", get(0)), ("name", get(1)), ("operation", op)]);
                    fams.add(
                        &fq_name("perf_schema", "table_io_waits_total"),
                        MetricType::Counter,
                        "The total number of table I/O wait events for each table and operation.",
                        labels.clone(),
                        num(2 + k),
                    );
                    fams.add(
                        &fq_name("perf_schema", "table_io_waits_seconds_total"),
                        MetricType::Counter,
                        "The total time of table I/O wait events for each table and operation.",
                        labels,
                        num(6 + k) / PICOSECONDS,
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
    fn counts_and_seconds_by_operation() {
        let cols = ["s", "n", "cf", "ci", "cu", "cd", "tf", "ti", "tu", "td"];
        let row: &[Option<&str>] = &[
            Some("shop"),
            Some("orders"),
            Some("1"),
            Some("2"),
            Some("3"),
            Some("4"),
            Some("5000000000000"),
            Some("6000000000000"),
            Some("7000000000000"),
            Some("8000000000000"),
        ];
        let mut db = FakeDb::default().with(QUERY, &cols, &[row]);
        let mut out = Vec::new();
        TableIoWaits
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let got = samples(&out);
        assert_eq!(got.len(), 8);
        let find = |name: &str, op: &str| {
            got.iter()
                .find(|s| s.0 == name && s.1.contains(&format!("operation=\"{op}\"")))
                .map(|s| s.3)
        };
        assert_eq!(find("mysql_perf_schema_table_io_waits_total", "update"), Some(3.0));
        assert_eq!(
            find("mysql_perf_schema_table_io_waits_seconds_total", "delete"),
            Some(8.0)
        );
        assert!(got[0].1.contains("name=\"orders\",operation=") && got[0].1.contains("schema=\"shop\""));
    }
}
