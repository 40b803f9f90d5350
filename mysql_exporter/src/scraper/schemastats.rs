//! `collect.info_schema.schemastats`: `information_schema.table_statistics` summed per schema (`userstat=1`) as
//! `mysql_info_schema_schema_statistics_{rows_read,rows_changed,rows_changed_x_indexes}_total{schema}`.

use exposition::{Labels, MetricFamily, MetricType};

use super::tablestats::userstat_on;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT TABLE_SCHEMA, SUM(ROWS_READ) AS ROWS_READ, SUM(ROWS_CHANGED) AS ROWS_CHANGED, \
                         SUM(ROWS_CHANGED_X_INDEXES) AS ROWS_CHANGED_X_INDEXES \
                         FROM information_schema.TABLE_STATISTICS GROUP BY TABLE_SCHEMA";

const COUNTERS: [(usize, &str, &str); 3] = [
    (
        1,
        "schema_statistics_rows_read_total",
        "The number of rows read from the schema.",
    ),
    (
        2,
        "schema_statistics_rows_changed_total",
        "The number of rows changed in the schema.",
    ),
    (
        3,
        "schema_statistics_rows_changed_x_indexes_total",
        "The number of rows changed in the schema, multiplied by the number of indexes changed.",
    ),
];

/// The `info_schema.schemastats` scraper.
#[derive(Debug, Default)]
pub struct SchemaStats;

impl Scraper for SchemaStats {
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
                        Labels::from_pairs([("schema", get(0))]),
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
    use crate::scraper::tablestats::CHECK_QUERY;

    #[test]
    fn counters_by_schema() {
        let mut db = FakeDb::default()
            .with(
                CHECK_QUERY,
                &["Variable_name", "Value"],
                &[&[Some("userstat"), Some("ON")]],
            )
            .with(
                QUERY,
                &["TABLE_SCHEMA", "ROWS_READ", "ROWS_CHANGED", "ROWS_CHANGED_X_INDEXES"],
                &[&[Some("shop"), Some("10"), Some("4"), Some("8")]],
            );
        let mut out = Vec::new();
        SchemaStats
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = "schema=\"shop\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_info_schema_schema_statistics_rows_changed_total".into(),
                    l.clone(),
                    c,
                    4.0
                ),
                (
                    "mysql_info_schema_schema_statistics_rows_changed_x_indexes_total".into(),
                    l.clone(),
                    c,
                    8.0
                ),
                ("mysql_info_schema_schema_statistics_rows_read_total".into(), l, c, 10.0),
            ]
        );
    }

    #[test]
    fn off_writes_nothing() {
        let mut db = FakeDb::default().with(
            CHECK_QUERY,
            &["Variable_name", "Value"],
            &[&[Some("userstat"), Some("OFF")]],
        );
        let mut out = Vec::new();
        SchemaStats
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("off");
        assert!(out.is_empty());
    }
}
