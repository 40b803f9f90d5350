//! `collect.info_schema.tablestats`: `information_schema.table_statistics` (Percona Server and MariaDB with
//! `userstat=1`) as `mysql_info_schema_table_statistics_{rows_read,rows_changed,rows_changed_x_indexes}_total`
//! counters by `schema` and `table`. Nothing when the variable is missing or off.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// Whether user statistics are on (upstream reads the first row).
pub const CHECK_QUERY: &str =
    "SHOW GLOBAL VARIABLES WHERE Variable_Name='userstat' OR Variable_Name='userstat_running'";
/// The statement.
pub const QUERY: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, ROWS_READ, ROWS_CHANGED, ROWS_CHANGED_X_INDEXES \
                         FROM information_schema.table_statistics";

const COUNTERS: [(usize, &str, &str); 3] = [
    (
        2,
        "table_statistics_rows_read_total",
        "The number of rows read from the table.",
    ),
    (
        3,
        "table_statistics_rows_changed_total",
        "The number of rows changed in the table.",
    ),
    (
        4,
        "table_statistics_rows_changed_x_indexes_total",
        "The number of rows changed in the table, multiplied by the number of indexes changed.",
    ),
];

/// Whether `userstat` is on (the first row of [`CHECK_QUERY`] is not `OFF`); false when the query fails.
pub async fn userstat_on(db: &mut dyn Query) -> bool {
    match db.query(CHECK_QUERY).await {
        Ok(rows) => rows
            .rows
            .first()
            .and_then(|r| r.get(1).cloned().flatten())
            .is_some_and(|v| v != "OFF"),
        Err(err) => {
            tracing::debug!(err = %err, "user statistics are not available");
            false
        }
    }
}

/// The `info_schema.tablestats` scraper.
#[derive(Debug, Default)]
pub struct TableStats;

impl Scraper for TableStats {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            if !userstat_on(db).await {
                return Ok(());
            }
            let rows = db.query(QUERY).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                for (i, name, help) in COUNTERS {
                    fams.add(
                        &fq_name("info_schema", name),
                        MetricType::Counter,
                        help,
                        Labels::from_pairs([("schema", get(0)), ("table", get(1))]),
                        parse_go_float(get(i)).unwrap_or(0.0),
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
    fn counters_by_table() {
        let mut db = FakeDb::default()
            .with(
                CHECK_QUERY,
                &["Variable_name", "Value"],
                &[&[Some("userstat"), Some("ON")]],
            )
            .with(
                QUERY,
                &[
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "ROWS_READ",
                    "ROWS_CHANGED",
                    "ROWS_CHANGED_X_INDEXES",
                ],
                &[&[Some("shop"), Some("orders"), Some("7"), Some("3"), Some("6")]],
            );
        let mut out = Vec::new();
        TableStats
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = "schema=\"shop\",table=\"orders\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_info_schema_table_statistics_rows_changed_total".into(),
                    l.clone(),
                    c,
                    3.0
                ),
                (
                    "mysql_info_schema_table_statistics_rows_changed_x_indexes_total".into(),
                    l.clone(),
                    c,
                    6.0
                ),
                ("mysql_info_schema_table_statistics_rows_read_total".into(), l, c, 7.0),
            ]
        );
    }

    #[test]
    fn off_or_missing_writes_nothing() {
        let info = ServerInfo::parse("8.0.36").expect("v");
        let mut out = Vec::new();
        TableStats
            .scrape(&mut FakeDb::default(), &info, &mut out)
            .ready()
            .expect("missing");
        let mut db = FakeDb::default().with(
            CHECK_QUERY,
            &["Variable_name", "Value"],
            &[&[Some("userstat"), Some("OFF")]],
        );
        TableStats.scrape(&mut db, &info, &mut out).ready().expect("off");
        assert!(out.is_empty());
        assert_eq!(db.asked, [CHECK_QUERY]);
    }
}
