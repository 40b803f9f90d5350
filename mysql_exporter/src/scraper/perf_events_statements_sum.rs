//! `collect.perf_schema.eventsstatementssum`: the grand sums over
//! `performance_schema.events_statements_summary_by_digest` as unlabelled
//! `mysql_perf_schema_events_statements_sum_*` counters (the timer wait in seconds; the lock time, as upstream,
//! in picoseconds).

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// (summed column, metric suffix, help, divisor), in statement order.
const COLUMNS: [(&str, &str, &str, f64); 21] = [
    ("COUNT_STAR", "total", "The total count of events statements.", 1.0),
    (
        "SUM_CREATED_TMP_DISK_TABLES",
        "created_tmp_disk_tables",
        "The number of on-disk temporary tables created.",
        1.0,
    ),
    (
        "SUM_CREATED_TMP_TABLES",
        "created_tmp_tables",
        "The number of temporary tables created.",
        1.0,
    ),
    ("SUM_ERRORS", "errors", "Number of errors.", 1.0),
    (
        "SUM_LOCK_TIME",
        "lock_time",
        "Time in picoseconds spent waiting for locks.",
        1.0,
    ),
    (
        "SUM_NO_GOOD_INDEX_USED",
        "no_good_index_used",
        "Number of times no good index was found.",
        1.0,
    ),
    (
        "SUM_NO_INDEX_USED",
        "no_index_used",
        "Number of times no index was found.",
        1.0,
    ),
    (
        "SUM_ROWS_AFFECTED",
        "rows_affected",
        "Number of rows affected by statements.",
        1.0,
    ),
    (
        "SUM_ROWS_EXAMINED",
        "rows_examined",
        "Number of rows read during statements' execution.",
        1.0,
    ),
    ("SUM_ROWS_SENT", "rows_sent", "Number of rows returned.", 1.0),
    (
        "SUM_SELECT_FULL_JOIN",
        "select_full_join",
        "Number of joins performed by statements which did not use an index.",
        1.0,
    ),
    (
        "SUM_SELECT_FULL_RANGE_JOIN",
        "select_full_range_join",
        "Number of joins performed by statements which used a range search of the first table.",
        1.0,
    ),
    (
        "SUM_SELECT_RANGE",
        "select_range",
        "Number of joins performed by statements which used a range of the first table.",
        1.0,
    ),
    (
        "SUM_SELECT_RANGE_CHECK",
        "select_range_check",
        "Number of joins without keys performed by statements that check for key usage after each row.",
        1.0,
    ),
    (
        "SUM_SELECT_SCAN",
        "select_scan",
        "Number of joins performed by statements which used a full scan of the first table.",
        1.0,
    ),
    (
        "SUM_SORT_MERGE_PASSES",
        "sort_merge_passes",
        "Number of merge passes by the sort algorithm performed by statements.",
        1.0,
    ),
    (
        "SUM_SORT_RANGE",
        "sort_range",
        "Number of sorts performed by statements which used a range.",
        1.0,
    ),
    ("SUM_SORT_ROWS", "sort_rows", "Number of rows sorted.", 1.0),
    (
        "SUM_SORT_SCAN",
        "sort_scan",
        "Number of sorts performed by statements which used a full table scan.",
        1.0,
    ),
    (
        "SUM_TIMER_WAIT",
        "timer_wait",
        "Total wait time of the summarized events that are timed.",
        PICOSECONDS,
    ),
    ("SUM_WARNINGS", "warnings", "Number of warnings.", 1.0),
];

/// The statement.
pub fn query() -> String {
    let sums: Vec<String> = COLUMNS.iter().map(|(c, ..)| format!("SUM({c}) AS SUM_{c}")).collect();
    format!(
        "SELECT {} FROM performance_schema.events_statements_summary_by_digest",
        sums.join(", ")
    )
}

/// The `perf_schema.eventsstatementssum` scraper.
#[derive(Debug, Default)]
pub struct EventsStatementsSum;

impl Scraper for EventsStatementsSum {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = query();
            let rows = db.query(&sql).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                for (i, (column, suffix, help, divisor)) in COLUMNS.iter().enumerate() {
                    // An empty table sums to NULL; upstream's scan into an integer then fails the scrape.
                    let value = row.get(i).cloned().flatten();
                    let number = value
                        .as_deref()
                        .and_then(parse_go_float)
                        .ok_or_else(|| ScrapeError::Value {
                            query: sql.clone(),
                            column: format!("SUM_{column}"),
                            value: value.clone().unwrap_or_else(|| "NULL".to_string()),
                        })?;
                    fams.add(
                        &fq_name("perf_schema", &format!("events_statements_sum_{suffix}")),
                        MetricType::Counter,
                        help,
                        Labels::new(),
                        number / divisor,
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

    #[test]
    fn sums() {
        let cols: Vec<String> = COLUMNS.iter().map(|(c, ..)| format!("SUM_{c}")).collect();
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        let values: Vec<String> = (1..=21).map(|i| (i * 1_000_000_000_000u64).to_string()).collect();
        let row: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
        let mut db = FakeDb::default().with(&query(), &cols, &[&row]);
        let mut out = Vec::new();
        EventsStatementsSum
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(out.len(), 21);
        let get = |name: &str| {
            let f = out
                .iter()
                .find(|f| f.name == format!("mysql_perf_schema_events_statements_sum_{name}"))
                .expect(name);
            match f.metrics[0].value {
                exposition::Value::Counter { total, .. } => total,
                _ => panic!("not a counter"),
            }
        };
        assert_eq!(get("total"), 1e12);
        assert_eq!(get("lock_time"), 5e12);
        assert_eq!(get("timer_wait"), 20.0);
        let mut empty = FakeDb::default().with(&query(), &cols, &[&vec![None; 21]]);
        assert!(
            EventsStatementsSum
                .scrape(&mut empty, &ServerInfo::parse("8.0.36").expect("v"), &mut Vec::new())
                .ready()
                .is_err()
        );
    }
}
