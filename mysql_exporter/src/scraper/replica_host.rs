//! `collect.info_schema.replica_host`: Aurora's `information_schema.replica_host_status` as
//! `mysql_info_schema_replica_host_*` gauges by `server_id` and `role` (`writer` for the master session,
//! `reader` otherwise). Servers without the table (error 1109, unknown table) write nothing and succeed.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT SERVER_ID, if(SESSION_ID='MASTER_SESSION_ID','writer','reader') AS ROLE, CPU, \
                         MASTER_SLAVE_LATENCY_IN_MICROSECONDS, REPLICA_LAG_IN_MILLISECONDS, \
                         LOG_STREAM_SPEED_IN_KiB_PER_SECOND, CURRENT_REPLAY_LATENCY_IN_MICROSECONDS \
                         FROM information_schema.replica_host_status";

/// (column index, metric, scale, help).
const GAUGES: [(usize, &str, f64, &str); 5] = [
    (2, "replica_host_cpu_percent", 1.0, "The CPU usage as a percentage."),
    (
        3,
        "replica_host_replica_latency_seconds",
        0.000001,
        "The source-replica latency in seconds.",
    ),
    (4, "replica_host_lag_seconds", 0.001, "The replica lag in seconds."),
    (
        5,
        "replica_host_log_stream_speed",
        1.0,
        "The log stream speed in kilobytes per second.",
    ),
    (
        6,
        "replica_host_replay_latency_seconds",
        0.000001,
        "The current replay latency in seconds.",
    ),
];

/// The `info_schema.replica_host` scraper.
#[derive(Debug, Default)]
pub struct ReplicaHost;

impl Scraper for ReplicaHost {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = match db.query(QUERY).await {
                Ok(rows) => rows,
                Err(ScrapeError::Query { message, .. }) if message.contains("1109") => {
                    tracing::debug!("information_schema.replica_host_status is not available.");
                    return Ok(());
                }
                Err(err) => return Err(err),
            };
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let labels = Labels::from_pairs([("server_id", get(0)), ("role", get(1))]);
                for (i, name, scale, help) in GAUGES {
                    let value = parse_go_float(get(i)).ok_or_else(|| ScrapeError::Value {
                        query: QUERY.to_string(),
                        column: rows.columns.get(i).cloned().unwrap_or_default(),
                        value: get(i).to_string(),
                    })?;
                    fams.add(
                        &fq_name("info_schema", name),
                        MetricType::Gauge,
                        help,
                        labels.clone(),
                        value * scale,
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
    fn gauges_and_missing_table() {
        let cols = ["SERVER_ID", "ROLE", "CPU", "L", "LAG", "SPEED", "REPLAY"];
        let mut db = FakeDb::default().with(
            QUERY,
            &cols,
            &[&[
                Some("db-1"),
                Some("writer"),
                Some("12.5"),
                Some("2000000"),
                Some("250"),
                Some("3.5"),
                Some("500000"),
            ]],
        );
        let mut out = Vec::new();
        ReplicaHost
            .scrape(&mut db, &ServerInfo::parse("5.7.12").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let l = "role=\"writer\",server_id=\"db-1\"".to_string();
        let g = MetricType::Gauge;
        let p = "mysql_info_schema_replica_host_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}cpu_percent"), l.clone(), g, 12.5),
                (format!("{p}lag_seconds"), l.clone(), g, 0.25),
                (format!("{p}log_stream_speed"), l.clone(), g, 3.5),
                (format!("{p}replay_latency_seconds"), l.clone(), g, 0.5),
                (format!("{p}replica_latency_seconds"), l, g, 2.0),
            ]
        );
    }

    /// A Query failing every statement with one server error.
    struct Failing(&'static str);

    impl Query for Failing {
        fn query<'a>(&'a mut self, sql: &'a str) -> crate::scraper::QueryFuture<'a> {
            Box::pin(std::future::ready(Err(ScrapeError::Query {
                query: sql.to_string(),
                message: self.0.to_string(),
            })))
        }
    }

    #[test]
    fn unknown_table_is_not_an_error() {
        let info = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let mut out = Vec::new();
        let unknown = "Server error: `ERROR 42S02 (1109): Unknown table 'replica_host_status' in information_schema'";
        ReplicaHost
            .scrape(&mut Failing(unknown), &info, &mut out)
            .ready()
            .expect("no table");
        assert!(out.is_empty());
        assert!(
            ReplicaHost
                .scrape(&mut Failing("ERROR 1045 access denied"), &info, &mut out)
                .ready()
                .is_err()
        );
    }
}
