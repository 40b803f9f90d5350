//! `collect.perf_schema.eventsstatements`: `performance_schema.events_statements_summary_by_digest` as
//! `mysql_perf_schema_events_statements_*_total{schema,digest,digest_text}` counters and the
//! `mysql_perf_schema_events_statements_latency` summary, for the digests seen within
//! `--collect.perf_schema.eventsstatements.timelimit` seconds, the `...limit` slowest by total time, with the
//! digest text cut to `...digest_text_limit` characters. Timers are picoseconds, written as seconds. MySQL
//! 8.0.28+ also reports lock time, CPU time and the 95th/99th/99.9th percentiles; elsewhere those are 0. As
//! upstream, the summary's quantile labels are `95`, `99` and `999`.

use clap::{Arg, ArgMatches};
use exposition::model::Quantile;
use exposition::{Labels, Metric, MetricFamily, MetricType, Value};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

const LIMIT: &str = "collect.perf_schema.eventsstatements.limit";
const TIME_LIMIT: &str = "collect.perf_schema.eventsstatements.timelimit";
const TEXT_LIMIT: &str = "collect.perf_schema.eventsstatements.digest_text_limit";

/// The flags.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new(LIMIT)
            .long(LIMIT)
            .default_value("250")
            .value_parser(clap::value_parser!(u64))
            .help("Limit the number of events statements digests by response time"),
        Arg::new(TIME_LIMIT)
            .long(TIME_LIMIT)
            .default_value("86400")
            .value_parser(clap::value_parser!(u64))
            .help("Limit how old the 'last_seen' events statements can be, in seconds"),
        Arg::new(TEXT_LIMIT)
            .long(TEXT_LIMIT)
            .default_value("120")
            .value_parser(clap::value_parser!(u64))
            .help("Maximum length of the normalized statement text"),
    ]
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    let get = |id: &str, default: u64| m.try_get_one::<u64>(id).ok().flatten().copied().unwrap_or(default);
    Box::new(EventsStatements {
        limit: get(LIMIT, 250),
        time_limit: get(TIME_LIMIT, 86400),
        text_limit: get(TEXT_LIMIT, 120),
    })
}

/// The `perf_schema.eventsstatements` scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsStatements {
    /// Digests written at most.
    pub limit: u64,
    /// Oldest `LAST_SEEN`, in seconds before now.
    pub time_limit: u64,
    /// Longest digest text.
    pub text_limit: u64,
}

/// Whether the server has the MySQL 8.0.28+ columns.
fn has_quantiles(server: &ServerInfo) -> bool {
    !server.mariadb && (server.version, server.patch) >= ((8, 0), 28)
}

impl EventsStatements {
    /// The statement for `server`.
    pub fn query(&self, server: &ServerInfo) -> String {
        let extra = if has_quantiles(server) {
            [
                "SUM_LOCK_TIME, SUM_CPU_TIME, ",
                ", QUANTILE_95, QUANTILE_99, QUANTILE_999",
            ]
        } else {
            ["", ""]
        };
        format!(
            "SELECT ifnull(SCHEMA_NAME, 'NONE') AS SCHEMA_NAME, DIGEST, LEFT(DIGEST_TEXT, {}) AS DIGEST_TEXT, \
             COUNT_STAR, SUM_TIMER_WAIT, {}SUM_ERRORS, SUM_WARNINGS, SUM_ROWS_AFFECTED, SUM_ROWS_SENT, \
             SUM_ROWS_EXAMINED, SUM_CREATED_TMP_DISK_TABLES, SUM_CREATED_TMP_TABLES, SUM_SORT_MERGE_PASSES, \
             SUM_SORT_ROWS, SUM_NO_INDEX_USED{} \
             FROM performance_schema.events_statements_summary_by_digest \
             WHERE SCHEMA_NAME NOT IN ('mysql', 'performance_schema', 'information_schema') \
             AND LAST_SEEN > DATE_SUB(NOW(), INTERVAL {} SECOND) \
             ORDER BY SUM_TIMER_WAIT DESC LIMIT {}",
            self.text_limit, extra[0], extra[1], self.time_limit, self.limit
        )
    }
}

/// (column, metric, help, divisor) of the counters.
const COUNTERS: [(&str, &str, &str, f64); 14] = [
    (
        "COUNT_STAR",
        "events_statements_total",
        "The total count of events statements by digest.",
        1.0,
    ),
    (
        "SUM_TIMER_WAIT",
        "events_statements_seconds_total",
        "The total time of events statements by digest.",
        PICOSECONDS,
    ),
    (
        "SUM_LOCK_TIME",
        "events_statements_lock_time_seconds_total",
        "The total lock time of events statements by digest.",
        PICOSECONDS,
    ),
    (
        "SUM_CPU_TIME",
        "events_statements_cpu_time_seconds_total",
        "The total cpu time of events statements by digest.",
        PICOSECONDS,
    ),
    (
        "SUM_ERRORS",
        "events_statements_errors_total",
        "The errors of events statements by digest.",
        1.0,
    ),
    (
        "SUM_WARNINGS",
        "events_statements_warnings_total",
        "The warnings of events statements by digest.",
        1.0,
    ),
    (
        "SUM_ROWS_AFFECTED",
        "events_statements_rows_affected_total",
        "The total rows affected of events statements by digest.",
        1.0,
    ),
    (
        "SUM_ROWS_SENT",
        "events_statements_rows_sent_total",
        "The total rows sent of events statements by digest.",
        1.0,
    ),
    (
        "SUM_ROWS_EXAMINED",
        "events_statements_rows_examined_total",
        "The total rows examined of events statements by digest.",
        1.0,
    ),
    (
        "SUM_CREATED_TMP_TABLES",
        "events_statements_tmp_tables_total",
        "The total tmp tables of events statements by digest.",
        1.0,
    ),
    (
        "SUM_CREATED_TMP_DISK_TABLES",
        "events_statements_tmp_disk_tables_total",
        "The total tmp disk tables of events statements by digest.",
        1.0,
    ),
    (
        "SUM_SORT_MERGE_PASSES",
        "events_statements_sort_merge_passes_total",
        "The total number of merge passes by the sort algorithm performed by digest.",
        1.0,
    ),
    (
        "SUM_SORT_ROWS",
        "events_statements_sort_rows_total",
        "The total number of sorted rows by digest.",
        1.0,
    ),
    (
        "SUM_NO_INDEX_USED",
        "events_statements_no_index_used_total",
        "The total number of statements that used full table scans by digest.",
        1.0,
    ),
];

impl Scraper for EventsStatements {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        server: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = self.query(server);
            let rows = db.query(&sql).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let text = |name: &str| {
                    rows.column(name)
                        .and_then(|i| row.get(i).cloned().flatten())
                        .unwrap_or_default()
                };
                // Columns the server does not have (before MySQL 8.0.28) read as 0.
                let num = |name: &str| {
                    rows.column(name)
                        .and_then(|i| row.get(i)?.as_deref().and_then(parse_go_float))
                        .unwrap_or(0.0)
                };
                let labels = Labels::from_pairs([
                    ("schema", text("SCHEMA_NAME")),
                    ("digest", text("DIGEST")),
                    ("digest_text", text("DIGEST_TEXT")),
                ]);
                for (column, name, help, divisor) in COUNTERS {
                    fams.add(
                        &fq_name("perf_schema", name),
                        MetricType::Counter,
                        help,
                        labels.clone(),
                        num(column) / divisor,
                    );
                }
                let quantiles = [(95.0, "QUANTILE_95"), (99.0, "QUANTILE_99"), (999.0, "QUANTILE_999")]
                    .into_iter()
                    .map(|(quantile, column)| Quantile {
                        quantile,
                        value: num(column) / PICOSECONDS,
                    })
                    .collect();
                fams.push(
                    &fq_name("perf_schema", "events_statements_latency"),
                    MetricType::Summary,
                    "A summary of statement latency by digest",
                    Metric::new(
                        labels,
                        Value::Summary {
                            quantiles,
                            sum: Some(num("SUM_TIMER_WAIT") / PICOSECONDS),
                            count: Some(num("COUNT_STAR")),
                            created: None,
                        },
                    ),
                );
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

    fn scraper() -> EventsStatements {
        EventsStatements {
            limit: 250,
            time_limit: 86400,
            text_limit: 120,
        }
    }

    #[test]
    fn query_by_server() {
        let maria = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let old = ServerInfo::parse("8.0.27").expect("v");
        let new = ServerInfo::parse("8.0.28").expect("v");
        assert!(!scraper().query(&maria).contains("QUANTILE_95"));
        assert!(!scraper().query(&old).contains("SUM_CPU_TIME"));
        let q = scraper().query(&new);
        assert!(
            q.contains("SUM_LOCK_TIME, SUM_CPU_TIME") && q.contains("QUANTILE_999"),
            "{q}"
        );
        assert!(
            q.contains("LEFT(DIGEST_TEXT, 120)") && q.contains("INTERVAL 86400 SECOND") && q.ends_with("LIMIT 250")
        );
    }

    #[test]
    fn counters_and_summary() {
        let server = ServerInfo::parse("8.0.36").expect("v");
        let s = scraper();
        let cols = [
            "SCHEMA_NAME",
            "DIGEST",
            "DIGEST_TEXT",
            "COUNT_STAR",
            "SUM_TIMER_WAIT",
            "SUM_LOCK_TIME",
            "SUM_CPU_TIME",
            "SUM_ERRORS",
            "SUM_WARNINGS",
            "SUM_ROWS_AFFECTED",
            "SUM_ROWS_SENT",
            "SUM_ROWS_EXAMINED",
            "SUM_CREATED_TMP_DISK_TABLES",
            "SUM_CREATED_TMP_TABLES",
            "SUM_SORT_MERGE_PASSES",
            "SUM_SORT_ROWS",
            "SUM_NO_INDEX_USED",
            "QUANTILE_95",
            "QUANTILE_99",
            "QUANTILE_999",
        ];
        let row: Vec<Option<&str>> = [
            "shop",
            "abc",
            "SELECT ?",
            "4",
            "2000000000000",
            "1000000000000",
            "500000000000",
            "1",
            "2",
            "3",
            "5",
            "8",
            "13",
            "21",
            "0",
            "7",
            "1",
            "100000000000",
            "200000000000",
            "300000000000",
        ]
        .into_iter()
        .map(Some)
        .collect();
        let mut db = FakeDb::default().with(&s.query(&server), &cols, &[&row]);
        let mut out = Vec::new();
        s.scrape(&mut db, &server, &mut out).ready().expect("scrape");
        let value = |name: &str| {
            let f = out.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name}"));
            f.metrics[0].value.clone()
        };
        let counter = |v: f64| Value::Counter {
            total: v,
            created: None,
            exemplar: None,
        };
        let p = "mysql_perf_schema_events_statements_";
        for (name, want) in [
            ("total", 4.0),
            ("seconds_total", 2.0),
            ("lock_time_seconds_total", 1.0),
            ("cpu_time_seconds_total", 0.5),
            ("tmp_disk_tables_total", 13.0),
            ("tmp_tables_total", 21.0),
            ("no_index_used_total", 1.0),
        ] {
            assert_eq!(value(&format!("{p}{name}")), counter(want), "{name}");
        }
        assert_eq!(
            value(&format!("{p}latency")),
            Value::Summary {
                quantiles: vec![
                    Quantile {
                        quantile: 95.0,
                        value: 0.1
                    },
                    Quantile {
                        quantile: 99.0,
                        value: 0.2
                    },
                    Quantile {
                        quantile: 999.0,
                        value: 0.3
                    },
                ],
                sum: Some(2.0),
                count: Some(4.0),
                created: None,
            }
        );
        assert_eq!(out.len(), 15);
        let labels = &out[0].metrics[0].labels;
        assert_eq!(labels.get("digest_text"), Some("SELECT ?"));
    }
}
