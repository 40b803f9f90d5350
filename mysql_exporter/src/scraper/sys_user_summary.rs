//! `collect.sys.user_summary`: `sys.x$user_summary` (MySQL 5.7+) as `mysql_sys_*` by `user`: statements, table
//! scans, file I/O, connections and memory, latencies converted from picoseconds to seconds.

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT user, statements, statement_latency, table_scans, file_ios, file_io_latency, \
                         current_connections, total_connections, unique_hosts, current_memory, \
                         total_memory_allocated FROM sys.x$user_summary";

const C: MetricType = MetricType::Counter;
const G: MetricType = MetricType::Gauge;

/// (column, metric, type, divisor, help).
const COLUMNS: [(usize, &str, MetricType, f64, &str); 10] = [
    (
        1,
        "statements_total",
        C,
        1.0,
        " The total number of statements for the user",
    ),
    (
        2,
        "statement_latency",
        C,
        PICOSECONDS,
        "The total wait time of timed statements for the user",
    ),
    (
        3,
        "table_scans_total",
        C,
        1.0,
        "The total number of table scans for the user",
    ),
    (
        4,
        "file_ios_total",
        C,
        1.0,
        "The total number of file I/O events for the user",
    ),
    (
        5,
        "file_io_seconds_total",
        C,
        PICOSECONDS,
        "The total wait time of timed file I/O events for the user",
    ),
    (
        6,
        "current_connections",
        G,
        1.0,
        "The current number of connections for the user",
    ),
    (
        7,
        "connections_total",
        C,
        1.0,
        "The total number of connections for the user",
    ),
    (
        8,
        "unique_hosts_total",
        C,
        1.0,
        "The number of distinct hosts from which connections for the user have originated",
    ),
    (
        9,
        "current_memory_bytes",
        G,
        1.0,
        "The current amount of allocated memory for the user",
    ),
    (
        10,
        "memory_allocated_bytes_total",
        C,
        1.0,
        "The total amount of allocated memory for the user",
    ),
];

/// The `sys.user_summary` scraper.
#[derive(Debug, Default)]
pub struct UserSummary;

impl Scraper for UserSummary {
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
                for (i, name, kind, divisor, help) in COLUMNS {
                    let value = parse_go_float(get(i)).unwrap_or(0.0) / divisor;
                    fams.add(
                        &fq_name("sys", name),
                        kind,
                        help,
                        Labels::from_pairs([("user", get(0))]),
                        value,
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
    fn per_user() {
        let cols = ["user", "s", "sl", "ts", "fi", "fil", "cc", "tc", "uh", "cm", "tma"];
        let row: &[Option<&str>] = &[
            Some("app"),
            Some("10"),
            Some("2000000000000"),
            Some("3"),
            Some("4"),
            Some("500000000000"),
            Some("1"),
            Some("7"),
            Some("2"),
            Some("1024"),
            Some("4096"),
        ];
        let mut db = FakeDb::default().with(QUERY, &cols, &[row]);
        let mut out = Vec::new();
        UserSummary
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let got = samples(&out);
        let l = "user=\"app\"".to_string();
        for want in [
            ("mysql_sys_statement_latency".to_string(), l.clone(), C, 2.0),
            ("mysql_sys_file_io_seconds_total".to_string(), l.clone(), C, 0.5),
            ("mysql_sys_current_memory_bytes".to_string(), l.clone(), G, 1024.0),
            ("mysql_sys_statements_total".to_string(), l.clone(), C, 10.0),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
        assert_eq!(got.len(), 10);
    }
}
