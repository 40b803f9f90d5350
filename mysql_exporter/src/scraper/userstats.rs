//! `collect.info_schema.userstats` and `collect.info_schema.clientstats`: `information_schema.user_statistics`
//! and `client_statistics` (Percona Server and MariaDB with `userstat=1`) as
//! `mysql_info_schema_{user,client}_statistics_*` by `user` or `client`. The first column is the label; every
//! other column is a number: known columns get their upstream name and type, unknown ones an untyped
//! `..._<column>` family. Nothing when `userstat` is missing or off.

use exposition::{Labels, MetricFamily, MetricType};

use super::tablestats::userstat_on;
use super::{Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The user statement.
pub const USER_QUERY: &str = "SELECT * FROM information_schema.user_statistics";
/// The client statement.
pub const CLIENT_QUERY: &str = "SELECT * FROM information_schema.client_statistics";

const C: MetricType = MetricType::Counter;
const G: MetricType = MetricType::Gauge;

/// (column, metric suffix, type, help) for `user_statistics`.
const USER_COLUMNS: &[(&str, &str, MetricType, &str)] = &[
    (
        "TOTAL_CONNECTIONS",
        "total_connections",
        C,
        "The number of connections created for this user.",
    ),
    (
        "CONCURRENT_CONNECTIONS",
        "concurrent_connections",
        G,
        "The number of concurrent connections for this user.",
    ),
    (
        "CONNECTED_TIME",
        "connected_time_seconds_total",
        C,
        "The cumulative number of seconds elapsed while there were connections from this user.",
    ),
    (
        "BUSY_TIME",
        "busy_seconds_total",
        C,
        "The cumulative number of seconds there was activity on connections from this user.",
    ),
    (
        "CPU_TIME",
        "cpu_time_seconds_total",
        C,
        "The cumulative CPU time elapsed, in seconds, while servicing this user's connections.",
    ),
    (
        "BYTES_RECEIVED",
        "bytes_received_total",
        C,
        "The number of bytes received from this user’s connections.",
    ),
    (
        "BYTES_SENT",
        "bytes_sent_total",
        C,
        "The number of bytes sent to this user’s connections.",
    ),
    (
        "BINLOG_BYTES_WRITTEN",
        "binlog_bytes_written_total",
        C,
        "The number of bytes written to the binary log from this user’s connections.",
    ),
    (
        "ROWS_READ",
        "rows_read_total",
        C,
        "The number of rows read by this user's connections.",
    ),
    (
        "ROWS_SENT",
        "rows_sent_total",
        C,
        "The number of rows sent by this user's connections.",
    ),
    (
        "ROWS_DELETED",
        "rows_deleted_total",
        C,
        "The number of rows deleted by this user's connections.",
    ),
    (
        "ROWS_INSERTED",
        "rows_inserted_total",
        C,
        "The number of rows inserted by this user's connections.",
    ),
    (
        "ROWS_FETCHED",
        "rows_fetched_total",
        C,
        "The number of rows fetched by this user’s connections.",
    ),
    (
        "ROWS_UPDATED",
        "rows_updated_total",
        C,
        "The number of rows updated by this user’s connections.",
    ),
    (
        "TABLE_ROWS_READ",
        "table_rows_read_total",
        C,
        "The number of rows read from tables by this user’s connections. (It may be different from ROWS_FETCHED.)",
    ),
    (
        "SELECT_COMMANDS",
        "select_commands_total",
        C,
        "The number of SELECT commands executed from this user’s connections.",
    ),
    (
        "UPDATE_COMMANDS",
        "update_commands_total",
        C,
        "The number of UPDATE commands executed from this user’s connections.",
    ),
    (
        "OTHER_COMMANDS",
        "other_commands_total",
        C,
        "The number of other commands executed from this user’s connections.",
    ),
    (
        "COMMIT_TRANSACTIONS",
        "commit_transactions_total",
        C,
        "The number of COMMIT commands issued by this user’s connections.",
    ),
    (
        "ROLLBACK_TRANSACTIONS",
        "rollback_transactions_total",
        C,
        "The number of ROLLBACK commands issued by this user’s connections.",
    ),
    (
        "DENIED_CONNECTIONS",
        "denied_connections_total",
        C,
        "The number of connections denied to this user.",
    ),
    (
        "LOST_CONNECTIONS",
        "lost_connections_total",
        C,
        "The number of this user’s connections that were terminated uncleanly.",
    ),
    (
        "ACCESS_DENIED",
        "access_denied_total",
        C,
        "The number of times this user’s connections issued commands that were denied.",
    ),
    (
        "EMPTY_QUERIES",
        "empty_queries_total",
        C,
        "The number of times this user’s connections sent empty queries to the server.",
    ),
    (
        "TOTAL_SSL_CONNECTIONS",
        "total_ssl_connections_total",
        C,
        "The number of times this user’s connections connected using SSL to the server.",
    ),
];

/// (column, metric suffix, type, help) for `client_statistics`.
const CLIENT_COLUMNS: &[(&str, &str, MetricType, &str)] = &[
    (
        "TOTAL_CONNECTIONS",
        "total_connections",
        C,
        "The number of connections created for this client.",
    ),
    (
        "CONCURRENT_CONNECTIONS",
        "concurrent_connections",
        G,
        "The number of concurrent connections for this client.",
    ),
    (
        "CONNECTED_TIME",
        "connected_time_seconds_total",
        C,
        "The cumulative number of seconds elapsed while there were connections from this client.",
    ),
    (
        "BUSY_TIME",
        "busy_seconds_total",
        C,
        "The cumulative number of seconds there was activity on connections from this client.",
    ),
    (
        "CPU_TIME",
        "cpu_time_seconds_total",
        C,
        "The cumulative CPU time elapsed, in seconds, while servicing this client's connections.",
    ),
    (
        "BYTES_RECEIVED",
        "bytes_received_total",
        C,
        "The number of bytes received from this client’s connections.",
    ),
    (
        "BYTES_SENT",
        "bytes_sent_total",
        C,
        "The number of bytes sent to this client’s connections.",
    ),
    (
        "BINLOG_BYTES_WRITTEN",
        "binlog_bytes_written_total",
        C,
        "The number of bytes written to the binary log from this client’s connections.",
    ),
    (
        "ROWS_READ",
        "rows_read_total",
        C,
        "The number of rows read by this client’s connections.",
    ),
    (
        "ROWS_SENT",
        "rows_sent_total",
        C,
        "The number of rows sent by this client’s connections.",
    ),
    (
        "ROWS_DELETED",
        "rows_deleted_total",
        C,
        "The number of rows deleted by this client’s connections.",
    ),
    (
        "ROWS_INSERTED",
        "rows_inserted_total",
        C,
        "The number of rows inserted by this client’s connections.",
    ),
    (
        "ROWS_FETCHED",
        "rows_fetched_total",
        C,
        "The number of rows fetched by this client’s connections.",
    ),
    (
        "ROWS_UPDATED",
        "rows_updated_total",
        C,
        "The number of rows updated by this client’s connections.",
    ),
    (
        "TABLE_ROWS_READ",
        "table_rows_read_total",
        C,
        "The number of rows read from tables by this client’s connections. (It may be different from ROWS_FETCHED.)",
    ),
    (
        "SELECT_COMMANDS",
        "select_commands_total",
        C,
        "The number of SELECT commands executed from this client’s connections.",
    ),
    (
        "UPDATE_COMMANDS",
        "update_commands_total",
        C,
        "The number of UPDATE commands executed from this client’s connections.",
    ),
    (
        "OTHER_COMMANDS",
        "other_commands_total",
        C,
        "The number of other commands executed from this client’s connections.",
    ),
    (
        "COMMIT_TRANSACTIONS",
        "commit_transactions_total",
        C,
        "The number of COMMIT commands issued by this client’s connections.",
    ),
    (
        "ROLLBACK_TRANSACTIONS",
        "rollback_transactions_total",
        C,
        "The number of ROLLBACK commands issued by this client’s connections.",
    ),
    (
        "DENIED_CONNECTIONS",
        "denied_connections_total",
        C,
        "The number of connections denied to this client.",
    ),
    (
        "LOST_CONNECTIONS",
        "lost_connections_total",
        C,
        "The number of this client’s connections that were terminated uncleanly.",
    ),
    (
        "ACCESS_DENIED",
        "access_denied_total",
        C,
        "The number of times this client’s connections issued commands that were denied.",
    ),
    (
        "EMPTY_QUERIES",
        "empty_queries_total",
        C,
        "The number of times this client’s connections sent empty queries to the server.",
    ),
    (
        "TOTAL_SSL_CONNECTIONS",
        "total_ssl_connections_total",
        C,
        "The number of times this client’s connections connected using SSL to the server.",
    ),
    (
        "MAX_STATEMENT_TIME_EXCEEDED",
        "max_statement_time_exceeded_total",
        C,
        "The number of times a statement was aborted, because it was executed longer than its MAX_STATEMENT_TIME threshold.",
    ),
];

/// One of the two statistics tables.
#[derive(Debug)]
struct StatTable {
    query: &'static str,
    /// `user_statistics` or `client_statistics`.
    prefix: &'static str,
    /// `user` or `client`.
    label: &'static str,
    columns: &'static [(&'static str, &'static str, MetricType, &'static str)],
}

impl StatTable {
    async fn scrape(&self, db: &mut dyn Query, out: &mut Vec<MetricFamily>) -> Result<(), ScrapeError> {
        if !userstat_on(db).await {
            return Ok(());
        }
        let rows = db.query(self.query).await?;
        let mut fams = Families::new();
        for row in &rows.rows {
            let key = row.first().cloned().flatten().unwrap_or_default();
            for (i, column) in rows.columns.iter().enumerate().skip(1) {
                let raw = row.get(i).cloned().flatten();
                // Upstream scans every column but the first into a float: a NULL or a non-number fails the scrape.
                let value = raw
                    .as_deref()
                    .and_then(parse_go_float)
                    .ok_or_else(|| ScrapeError::Value {
                        query: self.query.to_string(),
                        column: column.clone(),
                        value: raw.clone().unwrap_or_else(|| "NULL".to_string()),
                    })?;
                let labels = Labels::from_pairs([(self.label, key.as_str())]);
                match self.columns.iter().find(|(c, ..)| c == column) {
                    Some((_, suffix, kind, help)) => fams.add(
                        &fq_name("info_schema", &format!("{}_{suffix}", self.prefix)),
                        *kind,
                        help,
                        labels,
                        value,
                    ),
                    None => fams.add(
                        &fq_name("info_schema", &format!("{}_{}", self.prefix, column.to_lowercase())),
                        MetricType::Unknown,
                        &format!("Unsupported metric from column {column}"),
                        labels,
                        value,
                    ),
                }
            }
        }
        fams.finish(out);
        Ok(())
    }
}

const USERS: StatTable = StatTable {
    query: USER_QUERY,
    prefix: "user_statistics",
    label: "user",
    columns: USER_COLUMNS,
};

const CLIENTS: StatTable = StatTable {
    query: CLIENT_QUERY,
    prefix: "client_statistics",
    label: "client",
    columns: CLIENT_COLUMNS,
};

/// The `info_schema.userstats` scraper.
#[derive(Debug, Default)]
pub struct UserStats;

impl Scraper for UserStats {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move { USERS.scrape(db, out).await })
    }
}

/// The `info_schema.clientstats` scraper.
#[derive(Debug, Default)]
pub struct ClientStats;

impl Scraper for ClientStats {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move { CLIENTS.scrape(db, out).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::samples;
    use crate::scraper::tablestats::CHECK_QUERY;

    fn on() -> FakeDb {
        FakeDb::default().with(
            CHECK_QUERY,
            &["Variable_name", "Value"],
            &[&[Some("userstat"), Some("ON")]],
        )
    }

    #[test]
    fn known_and_unknown_columns() {
        let mut db = on().with(
            CLIENT_QUERY,
            &[
                "CLIENT",
                "TOTAL_CONNECTIONS",
                "CONCURRENT_CONNECTIONS",
                "BUSY_TIME",
                "NEW_THING",
            ],
            &[&[Some("localhost"), Some("3"), Some("1"), Some("0.5"), Some("9")]],
        );
        let mut out = Vec::new();
        ClientStats
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let l = "client=\"localhost\"".to_string();
        let p = "mysql_info_schema_client_statistics_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}busy_seconds_total"), l.clone(), C, 0.5),
                (format!("{p}concurrent_connections"), l.clone(), G, 1.0),
                (format!("{p}new_thing"), l.clone(), MetricType::Unknown, 9.0),
                (format!("{p}total_connections"), l, C, 3.0),
            ]
        );
        let unknown = out.iter().find(|f| f.name.ends_with("new_thing")).expect("family");
        assert_eq!(
            unknown.help.as_deref(),
            Some("Unsupported metric from column NEW_THING")
        );
    }

    #[test]
    fn user_label_and_bad_values() {
        let mut db = on().with(
            USER_QUERY,
            &["USER", "ROWS_READ", "MAX_STATEMENT_TIME_EXCEEDED"],
            &[&[Some("app"), Some("12"), Some("0")]],
        );
        let mut out = Vec::new();
        UserStats
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let l = "user=\"app\"".to_string();
        let p = "mysql_info_schema_user_statistics_";
        assert_eq!(
            samples(&out),
            vec![
                (
                    format!("{p}max_statement_time_exceeded"),
                    l.clone(),
                    MetricType::Unknown,
                    0.0
                ),
                (format!("{p}rows_read_total"), l, C, 12.0),
            ]
        );
        let mut db = on().with(USER_QUERY, &["USER", "ROWS_READ"], &[&[Some("app"), None]]);
        let err = UserStats
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut Vec::new())
            .ready();
        assert!(matches!(err, Err(ScrapeError::Value { .. })), "{err:?}");
        // Off: only the check runs.
        let mut db = FakeDb::default().with(
            CHECK_QUERY,
            &["Variable_name", "Value"],
            &[&[Some("userstat"), Some("OFF")]],
        );
        let mut out = Vec::new();
        UserStats
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("off");
        assert!(out.is_empty());
    }
}
