//! `collect.perf_schema.replication_applier_status_by_worker`: the commit and apply times of the transactions
//! each applier worker last applied and is applying (MySQL 8.0), from
//! `performance_schema.replication_applier_status_by_worker`, as `mysql_perf_schema_*_timestamp_seconds` gauges
//! by `channel_name` and `member_id` (the worker id, as upstream labels it). Timestamps are read as UTC; the
//! zero timestamp and anything unparsable are 0.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name};

/// The statement.
pub const QUERY: &str = "SELECT CHANNEL_NAME, WORKER_ID, LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP, \
                         LAST_APPLIED_TRANSACTION_IMMEDIATE_COMMIT_TIMESTAMP, \
                         LAST_APPLIED_TRANSACTION_START_APPLY_TIMESTAMP, LAST_APPLIED_TRANSACTION_END_APPLY_TIMESTAMP, \
                         APPLYING_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP, APPLYING_TRANSACTION_IMMEDIATE_COMMIT_TIMESTAMP, \
                         APPLYING_TRANSACTION_START_APPLY_TIMESTAMP \
                         FROM performance_schema.replication_applier_status_by_worker";

/// (column index, metric, help).
const TIMESTAMPS: [(usize, &str, &str); 7] = [
    (
        2,
        "last_applied_transaction_original_commit_timestamp_seconds",
        "A timestamp shows when the last transaction applied by this worker was committed on the original master.",
    ),
    (
        3,
        "last_applied_transaction_immediate_commit_timestamp_seconds",
        "A timestamp shows when the last transaction applied by this worker was committed on the immediate master",
    ),
    (
        4,
        "last_applied_transaction_start_apply_timestamp_seconds",
        "A timestamp shows when this worker started applying the last applied transaction",
    ),
    (
        5,
        "last_applied_transaction_end_apply_timestamp_seconds",
        "A shows when this worker finished applying the last applied transaction",
    ),
    (
        6,
        "applying_transaction_original_commit_timestamp_seconds",
        "A timestamp that shows when the transaction this worker is currently applying was committed on the original master",
    ),
    (
        7,
        "applying_transaction_immediate_commit_timestamp_seconds",
        "A timestamp shows when the transaction this worker is currently applying was committed on the immediate master",
    ),
    (
        8,
        "applying_transaction_start_apply_timestamp_seconds",
        "A timestamp shows when this worker started its first attempt to apply the transaction that is currently being applied",
    ),
];

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS.ffffff` read as UTC; `None` when malformed or out of range
/// (month 0, day 0: the server's zero timestamp).
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let (date, time) = text.split_once(' ')?;
    let mut d = date.split('-');
    let (year, month, day): (i64, u32, u32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let (h, m, s): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if d.next().is_some() || t.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if h > 23 || m > 59 || s > 59 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + m * 60 + s) as f64 + fraction)
}

/// The `perf_schema.replication_applier_status_by_worker` scraper.
#[derive(Debug, Default)]
pub struct ApplierStatusByWorker;

impl Scraper for ApplierStatusByWorker {
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
                let labels = Labels::from_pairs([("channel_name", get(0)), ("member_id", get(1))]);
                for (i, name, help) in TIMESTAMPS {
                    let seconds = parse_timestamp(get(i)).unwrap_or(0.0);
                    fams.add(
                        &fq_name("perf_schema", name),
                        MetricType::Gauge,
                        help,
                        labels.clone(),
                        seconds,
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
    fn timestamps() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1970-01-01 00:00:00.000000", Some(0.0)),
            ("2020-01-02 03:04:05.250000", Some(1_577_934_245.25)),
            ("2000-02-29 00:00:00", Some(951_782_400.0)),
            ("0000-00-00 00:00:00.000000", None),
            ("", None),
            ("2020-13-01 00:00:00", None),
            ("2020-01-01 24:00:00", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), *want, "{text:?}");
        }
    }

    #[test]
    fn gauges_by_worker() {
        let row: &[Option<&str>] = &[
            Some(""),
            Some("1"),
            Some("2020-01-02 03:04:05.250000"),
            Some("0000-00-00 00:00:00.000000"),
            None,
            Some("1970-01-01 00:00:10.000000"),
            Some("x"),
            Some("1970-01-01 00:00:01.500000"),
            Some("1970-01-01 00:00:02.000000"),
        ];
        let cols = ["c", "w", "a", "b", "c2", "d", "e", "f", "g"];
        let mut db = FakeDb::default().with(QUERY, &cols, &[row]);
        let mut out = Vec::new();
        ApplierStatusByWorker
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let values: Vec<(String, f64)> = out
            .iter()
            .map(|f| match f.metrics[0].value {
                exposition::Value::Gauge(v) => (f.name.clone(), v),
                _ => panic!("gauge"),
            })
            .collect();
        let p = "mysql_perf_schema_";
        assert_eq!(
            values[0],
            (
                format!("{p}last_applied_transaction_original_commit_timestamp_seconds"),
                1_577_934_245.25
            )
        );
        assert_eq!(
            values.iter().map(|v| v.1).collect::<Vec<_>>(),
            [1_577_934_245.25, 0.0, 0.0, 10.0, 0.0, 1.5, 2.0]
        );
        assert_eq!(out[0].metrics[0].labels.get("member_id"), Some("1"));
    }
}
