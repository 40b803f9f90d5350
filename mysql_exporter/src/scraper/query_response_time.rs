//! `collect.info_schema.query_response_time`: the Percona/MariaDB `QUERY_RESPONSE_TIME` plugin tables as
//! histograms `mysql_info_schema{,_read,_write}_query_response_time_seconds`, when
//! `@@query_response_time_stats` is on (nothing otherwise, and no error when the plugin is absent).
//!
//! Each row is a bucket bound (`TIME`, seconds), the number of queries in that bucket (`COUNT`) and their total
//! time (`TOTAL`); the `TOO LONG` row counts toward the histogram's count and sum but has no bucket.

use exposition::model::Bucket;
use exposition::{Labels, Metric, MetricFamily, MetricType, Value};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The check that the plugin is on.
pub const CHECK_QUERY: &str = "SELECT @@query_response_time_stats";

/// (statement, family suffix, help); table names upper case as upstream uses them.
pub const TABLES: [(&str, &str, &str); 3] = [
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME",
        "query_response_time_seconds",
        "The number of all queries by duration they took to execute.",
    ),
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME_READ",
        "read_query_response_time_seconds",
        "The number of read queries by duration they took to execute.",
    ),
    (
        "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME_WRITE",
        "write_query_response_time_seconds",
        "The number of write queries by duration they took to execute.",
    ),
];

/// The `info_schema.query_response_time` scraper.
#[derive(Debug, Default)]
pub struct QueryResponseTime;

impl Scraper for QueryResponseTime {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let enabled = match db.query(CHECK_QUERY).await {
                Ok(rows) => rows
                    .rows
                    .first()
                    .and_then(|r| r.first().cloned().flatten())
                    .and_then(|v| super::parse_status(&v))
                    .is_some_and(|v| v != 0.0),
                Err(err) => {
                    tracing::debug!(err = %err, "query response time distribution is not available");
                    false
                }
            };
            if !enabled {
                return Ok(());
            }
            let mut fams = Families::new();
            for (i, (sql, name, help)) in TABLES.iter().enumerate() {
                let rows = match db.query(sql).await {
                    Ok(rows) => rows,
                    // The read/write tables exist only on some Percona Server versions.
                    Err(err) if i > 0 => {
                        tracing::debug!(err = %err, "query response time table not available");
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                let cells: Vec<(&str, &str, &str)> = rows
                    .rows
                    .iter()
                    .map(|r| {
                        let get = |i: usize| r.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                        (get(0), get(1), get(2))
                    })
                    .collect();
                fams.push(
                    &fq_name("info_schema", name),
                    MetricType::Histogram,
                    help,
                    histogram(&cells),
                );
            }
            fams.finish(out);
            Ok(())
        })
    }
}

/// Builds the histogram from `(TIME, COUNT, TOTAL)` rows in bucket order.
pub fn histogram(rows: &[(&str, &str, &str)]) -> Metric {
    let mut count = 0.0;
    let mut sum = 0.0;
    let mut buckets: Vec<Bucket> = Vec::new();
    for (time, n, total) in rows {
        let bound = parse_go_float(time.trim()).unwrap_or(0.0);
        count += parse_go_float(n.trim()).unwrap_or(0.0);
        sum += parse_go_float(total.trim()).unwrap_or(0.0);
        if bound == 0.0 {
            continue;
        }
        match buckets.iter_mut().find(|b| b.upper_bound == bound) {
            Some(b) => b.cumulative_count = count,
            None => buckets.push(Bucket {
                upper_bound: bound,
                cumulative_count: count,
                exemplar: None,
            }),
        }
    }
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    buckets.push(Bucket {
        upper_bound: f64::INFINITY,
        cumulative_count: count,
        exemplar: None,
    });
    Metric::new(
        Labels::new(),
        Value::Histogram {
            buckets,
            sum: Some(sum),
            count: Some(count),
            created: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;

    #[test]
    fn histogram_is_cumulative_and_too_long_only_counts() {
        let m = histogram(&[
            ("  0.000001", "124", "  0.000000"),
            ("  0.000010", "179", "  0.000797"),
            ("  0.000100", "2859", "  0.107321"),
            ("TOO LONG", "3", "TOO LONG"),
        ]);
        let Value::Histogram {
            buckets, sum, count, ..
        } = m.value
        else {
            panic!("not a histogram")
        };
        let got: Vec<(f64, f64)> = buckets.iter().map(|b| (b.upper_bound, b.cumulative_count)).collect();
        assert_eq!(
            got,
            vec![
                (0.000001, 124.0),
                (0.00001, 303.0),
                (0.0001, 3162.0),
                (f64::INFINITY, 3165.0)
            ]
        );
        assert_eq!(count, Some(3165.0));
        assert!((sum.unwrap_or(0.0) - 0.108118).abs() < 1e-9);
    }

    #[test]
    fn off_or_missing_plugin_writes_nothing() {
        let info = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let mut out = Vec::new();
        QueryResponseTime
            .scrape(&mut FakeDb::default(), &info, &mut out)
            .ready()
            .expect("missing plugin");
        let mut db = FakeDb::default().with(CHECK_QUERY, &["@@query_response_time_stats"], &[&[Some("0")]]);
        QueryResponseTime.scrape(&mut db, &info, &mut out).ready().expect("off");
        assert!(out.is_empty());
        assert_eq!(db.asked, [CHECK_QUERY]);
    }

    #[test]
    fn on_reads_tables_and_tolerates_missing_read_write() {
        let info = ServerInfo::parse("5.7.44-Percona").expect("v");
        let mut db = FakeDb::default()
            .with(CHECK_QUERY, &["@@query_response_time_stats"], &[&[Some("1")]])
            .with(
                TABLES[0].0,
                &["TIME", "COUNT", "TOTAL"],
                &[&[Some("0.1"), Some("2"), Some("0.05")]],
            );
        let mut out = Vec::new();
        QueryResponseTime
            .scrape(&mut db, &info, &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "mysql_info_schema_query_response_time_seconds");
        assert_eq!(out[0].metric_type, MetricType::Histogram);
        let mut db = FakeDb::default().with(CHECK_QUERY, &["x"], &[&[Some("ON")]]);
        assert!(QueryResponseTime.scrape(&mut db, &info, &mut out).ready().is_err());
    }
}
