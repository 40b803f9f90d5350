//! The scrapers: one file per upstream `collect.<name>` collection method, each behind [`Scraper`], all listed in
//! the one static table [`SCRAPERS`].
//!
//! A scraper is a future that talks to the server through the [`Query`] trait, which returns whole result sets as
//! text (the MySQL text protocol's representation). Scrapes run as tasks on the HTTP runtime's one thread: while a
//! query waits for the server, other scrapes go on, without a thread (and a malloc arena) per scrape. The exporter implements [`Query`] on a live connection; the
//! unit tests implement it on recorded rows, so the mapping from rows to metric families is tested without a
//! server.

pub mod auto_increment;
pub mod binlog_size;
pub mod engine_innodb_status;
pub mod engine_tokudb_status;
pub mod global_status;
pub mod global_variables;
pub mod heartbeat;
pub mod innodb_cmp;
pub mod innodb_cmpmem;
pub mod innodb_metrics;
pub mod innodb_tablespaces;
pub mod mysql_user;
pub mod perf_events_statements;
pub mod perf_events_statements_sum;
pub mod perf_events_waits;
pub mod perf_file_events;
pub mod perf_file_instances;
pub mod perf_index_io_waits;
pub mod perf_memory_events;
pub mod perf_replication_applier;
pub mod perf_replication_group;
pub mod perf_table_io_waits;
pub mod perf_table_lock_waits;
pub mod processlist;
pub mod query_response_time;
pub mod replica_host;
pub mod schemastats;
pub mod slave_hosts;
pub mod slave_status;
pub mod sys_user_summary;
pub mod tables;
pub mod tablestats;
pub mod userstats;

use std::future::Future;
use std::pin::Pin;

use clap::{Arg, ArgAction, ArgMatches};
use exposition::{Labels, Metric, MetricFamily, MetricType, Value};

/// The metric namespace of every family the scrapers write.
pub const NAMESPACE: &str = "mysql";

/// Why a query or a scraper failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The server rejected or failed a query.
    #[error("query {query:?}: {message}")]
    Query {
        /// The SQL text.
        query: String,
        /// The server's or driver's message.
        message: String,
    },
    /// The scrape's deadline passed before the query finished.
    #[error("query {query:?}: scrape deadline exceeded")]
    Deadline {
        /// The SQL text.
        query: String,
    },
    /// A value the scraper needs as a number is not one.
    #[error("query {query:?}: column {column:?}: {value:?} is not a number")]
    Value {
        /// The SQL text.
        query: String,
        /// The column name.
        column: String,
        /// The value (`NULL` for SQL NULL).
        value: String,
    },
    /// A result set lacks a column the scraper needs.
    #[error("query {query:?}: result has no column {column:?}")]
    MissingColumn {
        /// The SQL text.
        query: String,
        /// The column name.
        column: String,
    },
}

/// One result set: column names and rows of nullable text values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names as the server reports them.
    pub columns: Vec<String>,
    /// Rows, one value per column; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// The index of the column named `name` (exact match first, then ASCII case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .or_else(|| self.columns.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }

    /// Like [`Rows::column`], an error naming `query` when the column is missing.
    pub fn require(&self, query: &str, name: &str) -> Result<usize, ScrapeError> {
        self.column(name).ok_or_else(|| ScrapeError::MissingColumn {
            query: query.to_string(),
            column: name.to_string(),
        })
    }
}

/// What [`Query::query`] returns: the statement's (first) result set, once the server has sent it.
pub type QueryFuture<'a> = Pin<Box<dyn Future<Output = Result<Rows, ScrapeError>> + Send + 'a>>;

/// What [`Scraper::scrape`] returns: done once the scraper's families are in its output.
pub type ScrapeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ScrapeError>> + Send + 'a>>;

/// Runs SQL statements. Implemented by the exporter on a live connection and by tests on recorded rows.
pub trait Query: Send {
    /// Runs `sql` and returns its (first) result set.
    fn query<'a>(&'a mut self, sql: &'a str) -> QueryFuture<'a>;
}

/// What the exporter learned about the server when it connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `SELECT @@version`, e.g. `10.11.6-MariaDB-0+deb12u1` or `8.0.36`.
    pub version_string: String,
    /// Major and minor version.
    pub version: (u32, u32),
    /// Patch version (0 when absent).
    pub patch: u32,
    /// Whether the server is MariaDB (the version string says so).
    pub mariadb: bool,
}

impl ServerInfo {
    /// Parses a `@@version` string; `None` when it does not start with `<major>.<minor>`.
    pub fn parse(version_string: &str) -> Option<ServerInfo> {
        let mut parts = version_string.splitn(4, '.');
        let major = leading_number(parts.next()?)?;
        let minor = leading_number(parts.next()?)?;
        let patch = parts.next().and_then(leading_number).unwrap_or(0);
        Some(ServerInfo {
            version_string: version_string.to_string(),
            version: (major, minor),
            patch,
            mariadb: version_string.to_ascii_lowercase().contains("mariadb"),
        })
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// A collection method (upstream's `Scraper` interface).
pub trait Scraper: Send + Sync + std::fmt::Debug {
    /// Runs the scraper's queries through `db` and appends its families to `out`.
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        server: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a>;
}

/// A row of the scraper table.
#[derive(Debug)]
pub struct Spec {
    /// Upstream's name: the flag is `--collect.<name>` and the `collector` label `collect.<name>`.
    pub name: &'static str,
    /// The flag's help text.
    pub help: &'static str,
    /// Whether upstream enables it by default.
    pub default_enabled: bool,
    /// The oldest server version (major, minor) the scraper runs against; older servers skip it.
    pub min_version: (u32, u32),
    /// The flags this scraper owns (`--collect.<name>.<option>`); most have none.
    pub args: fn() -> Vec<Arg>,
    /// Builds the scraper from the parsed command line.
    pub build: fn(&ArgMatches) -> Box<dyn Scraper>,
}

impl Spec {
    /// Whether the scraper runs against `server` (its version is at least [`Spec::min_version`], as upstream's
    /// `Version()` check).
    pub fn supports(&self, server: &ServerInfo) -> bool {
        server.version >= self.min_version
    }
}

/// [`Spec::args`] for scrapers without flags.
pub fn no_args() -> Vec<Arg> {
    Vec::new()
}

/// [`Spec::build`] for scrapers without settings.
pub fn plain<S: Scraper + Default + 'static>(_: &ArgMatches) -> Box<dyn Scraper> {
    Box::new(S::default())
}

/// A kingpin-style boolean flag: `--<name>` sets it, the hidden `--no-<name>` clears it; the last one wins.
pub fn bool_flag(name: &'static str, help: String) -> [Arg; 2] {
    let off = format!("no-{name}");
    [
        Arg::new(name)
            .long(name)
            .action(ArgAction::SetTrue)
            .overrides_with(off.clone())
            .help(help),
        Arg::new(off.clone())
            .long(off)
            .action(ArgAction::SetTrue)
            .overrides_with(name)
            .hide(true),
    ]
}

/// The value of a [`bool_flag`] (`default` when neither form was given).
pub fn bool_flag_value(m: &ArgMatches, name: &str, default: bool) -> bool {
    let on = m.try_get_one::<bool>(name).ok().flatten().copied().unwrap_or(false);
    let off = m
        .try_get_one::<bool>(&format!("no-{name}"))
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false);
    if on {
        true
    } else if off {
        false
    } else {
        default
    }
}

/// Every scraper this build has: upstream's default set first, then the optional ones.
pub static SCRAPERS: &[Spec] = &[
    Spec {
        name: "global_status",
        help: "Collect from SHOW GLOBAL STATUS",
        default_enabled: true,
        min_version: (5, 1),
        args: no_args,
        build: plain::<global_status::GlobalStatus>,
    },
    Spec {
        name: "global_variables",
        help: "Collect from SHOW GLOBAL VARIABLES",
        default_enabled: true,
        min_version: (5, 1),
        args: no_args,
        build: plain::<global_variables::GlobalVariables>,
    },
    Spec {
        name: "slave_status",
        help: "Collect from SHOW SLAVE STATUS",
        default_enabled: true,
        min_version: (5, 1),
        args: no_args,
        build: plain::<slave_status::SlaveStatus>,
    },
    Spec {
        name: "info_schema.innodb_cmp",
        help: "Collect metrics from information_schema.innodb_cmp",
        default_enabled: true,
        min_version: (5, 5),
        args: no_args,
        build: plain::<innodb_cmp::InnodbCmp>,
    },
    Spec {
        name: "info_schema.innodb_cmpmem",
        help: "Collect metrics from information_schema.innodb_cmpmem",
        default_enabled: true,
        min_version: (5, 5),
        args: no_args,
        build: plain::<innodb_cmpmem::InnodbCmpMem>,
    },
    Spec {
        name: "info_schema.query_response_time",
        help: "Collect query response time distribution if query_response_time_stats is ON.",
        default_enabled: true,
        min_version: (5, 5),
        args: no_args,
        build: plain::<query_response_time::QueryResponseTime>,
    },
    Spec {
        name: "info_schema.innodb_metrics",
        help: "Collect metrics from information_schema.innodb_metrics",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<innodb_metrics::InnodbMetrics>,
    },
    Spec {
        name: "info_schema.innodb_tablespaces",
        help: "Collect metrics from information_schema.innodb_sys_tablespaces",
        default_enabled: false,
        min_version: (5, 7),
        args: no_args,
        build: plain::<innodb_tablespaces::InnodbTablespaces>,
    },
    Spec {
        name: "binlog_size",
        help: "Collect the current size of all registered binlog files",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<binlog_size::BinlogSize>,
    },
    Spec {
        name: "info_schema.processlist",
        help: "Collect current thread state counts from the information_schema.processlist",
        default_enabled: false,
        min_version: (5, 1),
        args: processlist::args,
        build: processlist::build,
    },
    Spec {
        name: "info_schema.tables",
        help: "Collect metrics from information_schema.tables",
        default_enabled: false,
        min_version: (5, 1),
        args: tables::args,
        build: tables::build,
    },
    Spec {
        name: "info_schema.tablestats",
        help: "If running with userstat=1, set to true to collect table statistics",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<tablestats::TableStats>,
    },
    Spec {
        name: "info_schema.schemastats",
        help: "If running with userstat=1, set to true to collect schema statistics",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<schemastats::SchemaStats>,
    },
    Spec {
        name: "engine_innodb_status",
        help: "Collect from SHOW ENGINE INNODB STATUS",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<engine_innodb_status::EngineInnodbStatus>,
    },
    Spec {
        name: "perf_schema.tableiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_table",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<perf_table_io_waits::TableIoWaits>,
    },
    Spec {
        name: "perf_schema.indexiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_index_usage",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<perf_index_io_waits::IndexIoWaits>,
    },
    Spec {
        name: "perf_schema.tablelocks",
        help: "Collect metrics from performance_schema.table_lock_waits_summary_by_table",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<perf_table_lock_waits::TableLockWaits>,
    },
    Spec {
        name: "perf_schema.eventswaits",
        help: "Collect metrics from performance_schema.events_waits_summary_global_by_event_name",
        default_enabled: false,
        min_version: (5, 5),
        args: no_args,
        build: plain::<perf_events_waits::EventsWaits>,
    },
    Spec {
        name: "perf_schema.file_events",
        help: "Collect metrics from performance_schema.file_summary_by_event_name",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<perf_file_events::FileEvents>,
    },
    Spec {
        name: "heartbeat",
        help: "Collect from heartbeat",
        default_enabled: false,
        min_version: (5, 1),
        args: heartbeat::args,
        build: heartbeat::build,
    },
    Spec {
        name: "slave_hosts",
        help: "Scrape information from 'SHOW SLAVE HOSTS'",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<slave_hosts::SlaveHosts>,
    },
    Spec {
        name: "mysql.user",
        help: "Collect data from mysql.user",
        default_enabled: false,
        min_version: (5, 1),
        args: mysql_user::args,
        build: mysql_user::build,
    },
    Spec {
        name: "auto_increment.columns",
        help: "Collect auto_increment columns and max values from information_schema",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<auto_increment::AutoIncrement>,
    },
    Spec {
        name: "info_schema.userstats",
        help: "If running with userstat=1, set to true to collect user statistics",
        default_enabled: false,
        min_version: (5, 1),
        args: no_args,
        build: plain::<userstats::UserStats>,
    },
    Spec {
        name: "info_schema.clientstats",
        help: "If running with userstat=1, set to true to collect client statistics",
        default_enabled: false,
        min_version: (5, 5),
        args: no_args,
        build: plain::<userstats::ClientStats>,
    },
    Spec {
        name: "perf_schema.file_instances",
        help: "Collect metrics from performance_schema.file_summary_by_instance",
        default_enabled: false,
        min_version: (5, 5),
        args: perf_file_instances::args,
        build: perf_file_instances::build,
    },
    Spec {
        name: "perf_schema.memory_events",
        help: "Collect metrics from performance_schema.memory_summary_global_by_event_name",
        default_enabled: false,
        min_version: (5, 7),
        args: perf_memory_events::args,
        build: perf_memory_events::build,
    },
    Spec {
        name: "sys.user_summary",
        help: "Collect per user metrics from sys.x$user_summary. See \
               https://dev.mysql.com/doc/refman/5.7/en/sys-user-summary.html for details",
        default_enabled: false,
        min_version: (5, 7),
        args: no_args,
        build: plain::<sys_user_summary::UserSummary>,
    },
    Spec {
        name: "perf_schema.eventsstatements",
        help: "Collect metrics from performance_schema.events_statements_summary_by_digest",
        default_enabled: false,
        min_version: (5, 6),
        args: perf_events_statements::args,
        build: perf_events_statements::build,
    },
    Spec {
        name: "perf_schema.eventsstatementssum",
        help: "Collect metrics of grand sums from performance_schema.events_statements_summary_by_digest",
        default_enabled: false,
        min_version: (5, 7),
        args: no_args,
        build: plain::<perf_events_statements_sum::EventsStatementsSum>,
    },
    Spec {
        name: "perf_schema.replication_group_members",
        help: "Collect metrics from performance_schema.replication_group_members",
        default_enabled: false,
        min_version: (5, 7),
        args: no_args,
        build: plain::<perf_replication_group::GroupMembers>,
    },
    Spec {
        name: "perf_schema.replication_group_member_stats",
        help: "Collect metrics from performance_schema.replication_group_member_stats",
        default_enabled: false,
        min_version: (5, 7),
        args: no_args,
        build: plain::<perf_replication_group::GroupMemberStats>,
    },
    Spec {
        name: "perf_schema.replication_applier_status_by_worker",
        help: "Collect metrics from performance_schema.replication_applier_status_by_worker",
        default_enabled: false,
        min_version: (8, 0),
        args: no_args,
        build: plain::<perf_replication_applier::ApplierStatusByWorker>,
    },
    Spec {
        name: "engine_tokudb_status",
        help: "Collect from SHOW ENGINE TOKUDB STATUS",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<engine_tokudb_status::EngineTokudbStatus>,
    },
    Spec {
        name: "info_schema.replica_host",
        help: "Collect metrics from information_schema.replica_host_status",
        default_enabled: false,
        min_version: (5, 6),
        args: no_args,
        build: plain::<replica_host::ReplicaHost>,
    },
];

/// `value` as a single-quoted SQL string literal (backslashes and quotes escaped).
pub fn sql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Parses a status or variable value as upstream does: `Yes`/`ON`/`Primary` are 1, `No`/`OFF`/`Connecting`/
/// `non-Primary`/`Disconnected` are 0, anything else must be a number.
pub fn parse_status(value: &str) -> Option<f64> {
    match value {
        "Yes" | "ON" | "Primary" => return Some(1.0),
        "No" | "OFF" | "Connecting" | "Disconnected" => return Some(0.0),
        _ => {}
    }
    if value.eq_ignore_ascii_case("non-Primary") {
        return Some(0.0);
    }
    parse_go_float(value)
}

/// A number as Go's `strconv.ParseFloat` reads the decimal forms MySQL prints (no surrounding spaces).
pub fn parse_go_float(value: &str) -> Option<f64> {
    if value.is_empty() || value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return None;
    }
    value.parse::<f64>().ok()
}

/// A variable name as a metric name part: characters outside `[a-zA-Z0-9_]` become `_`, then lower case.
pub fn metric_name_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Families in the order they are first used, looked up by name (through an index: a scraper like
/// `global_status` writes hundreds of families).
#[derive(Debug, Default)]
pub struct Families {
    families: Vec<MetricFamily>,
    index: std::collections::HashMap<String, usize>,
}

impl Families {
    /// An empty set.
    pub fn new() -> Families {
        Families::default()
    }

    /// Appends a sample to the family `name`, creating it with `kind` and `help` if new.
    pub fn add(&mut self, name: &str, kind: MetricType, help: &str, labels: Labels, value: f64) {
        let value = match kind {
            MetricType::Counter => Value::Counter {
                total: value,
                created: None,
                exemplar: None,
            },
            MetricType::Gauge => Value::Gauge(value),
            _ => Value::Unknown(value),
        };
        self.push(name, kind, help, Metric::new(labels, value));
    }

    /// Appends a metric to the family `name`, creating it with `kind` and `help` if new.
    pub fn push(&mut self, name: &str, kind: MetricType, help: &str, metric: Metric) {
        match self.index.get(name) {
            Some(&i) => self.families[i].push(metric),
            None => {
                // `MetricFamily::push` makes room for exactly one metric first: most families here have one.
                let mut f = MetricFamily::new(name, kind).with_help(help);
                f.push(metric);
                self.index.insert(name.to_string(), self.families.len());
                self.families.push(f);
            }
        }
    }

    /// Moves the families into `out`.
    pub fn finish(self, out: &mut Vec<MetricFamily>) {
        if out.is_empty() {
            *out = self.families;
            return;
        }
        out.extend(self.families);
    }
}

/// A full metric name `mysql_<subsystem>_<name>`.
pub fn fq_name(subsystem: &str, name: &str) -> String {
    if subsystem.is_empty() {
        format!("{NAMESPACE}_{name}")
    } else {
        format!("{NAMESPACE}_{subsystem}_{name}")
    }
}

/// Test support: a [`Query`] answering from recorded result sets.
#[cfg(test)]
pub(crate) mod fake {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::{Query, QueryFuture, Rows, ScrapeError};

    /// Runs a future that never waits (a scrape against a [`FakeDb`]) to completion.
    pub(crate) trait Ready: Future + Sized {
        /// The output; panics if the future waits.
        fn ready(self) -> Self::Output {
            let mut future = pin!(self);
            match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(out) => out,
                Poll::Pending => panic!("a scrape against recorded rows waited"),
            }
        }
    }

    impl<F: Future> Ready for F {}

    /// Answers each known statement with its rows; unknown statements fail.
    #[derive(Debug, Default)]
    pub(crate) struct FakeDb {
        pub(crate) answers: Vec<(String, Rows)>,
        pub(crate) asked: Vec<String>,
    }

    impl FakeDb {
        pub(crate) fn with(mut self, sql: &str, columns: &[&str], rows: &[&[Option<&str>]]) -> FakeDb {
            self.answers.push((
                sql.to_string(),
                Rows {
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                    rows: rows
                        .iter()
                        .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
                        .collect(),
                },
            ));
            self
        }
    }

    impl Query for FakeDb {
        fn query<'a>(&'a mut self, sql: &'a str) -> QueryFuture<'a> {
            self.asked.push(sql.to_string());
            let answer = self
                .answers
                .iter()
                .find(|(q, _)| q == sql)
                .map(|(_, r)| r.clone())
                .ok_or_else(|| ScrapeError::Query {
                    query: sql.to_string(),
                    message: "not recorded".to_string(),
                });
            Box::pin(std::future::ready(answer))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_status_table() {
        let cases: &[(&str, Option<f64>)] = &[
            ("Yes", Some(1.0)),
            ("ON", Some(1.0)),
            ("Primary", Some(1.0)),
            ("No", Some(0.0)),
            ("OFF", Some(0.0)),
            ("Connecting", Some(0.0)),
            ("non-primary", Some(0.0)),
            ("Disconnected", Some(0.0)),
            ("42", Some(42.0)),
            ("-1.5e3", Some(-1500.0)),
            ("", None),
            (" 1", None),
            ("mysql-bin.000012", None),
            ("5.7.44", None),
            ("TLSv1.3", None),
            ("on", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_status(input), *want, "{input:?}");
        }
    }

    #[test]
    fn server_versions() {
        let cases = [
            ("10.11.6-MariaDB-0+deb12u1", (10, 11), 6, true),
            ("8.0.36-28.1", (8, 0), 36, false),
            ("5.7", (5, 7), 0, false),
        ];
        for (s, v, p, m) in cases {
            let info = ServerInfo::parse(s).expect(s);
            assert_eq!((info.version, info.patch, info.mariadb), (v, p, m), "{s}");
        }
        assert_eq!(ServerInfo::parse("garbage"), None);
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            metric_name_part("validate_password.dictionary_file_words_count"),
            "validate_password_dictionary_file_words_count"
        );
        assert_eq!(metric_name_part("Com_SELECT"), "com_select");
    }

    /// The README's scraper table lists exactly the scrapers of [`SCRAPERS`], with their defaults.
    #[test]
    fn readme_lists_every_scraper() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(&str, &str)> = readme
            .lines()
            .filter_map(|l| {
                let mut cells = l.strip_prefix("| `")?.split(" | ");
                let name = cells.next()?.strip_suffix('`')?;
                let default = cells.next()?;
                matches!(default, "on" | "off").then_some((name, default))
            })
            .collect();
        let want: Vec<(&str, &str)> = SCRAPERS
            .iter()
            .map(|s| (s.name, if s.default_enabled { "on" } else { "off" }))
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn version_gates() {
        let spec = |name: &str| SCRAPERS.iter().find(|s| s.name == name).expect(name);
        let cases = [
            ("perf_schema.replication_applier_status_by_worker", "5.7.44", false),
            ("perf_schema.replication_applier_status_by_worker", "8.0.36", true),
            ("perf_schema.memory_events", "5.6.51", false),
            ("perf_schema.memory_events", "5.7.1", true),
            ("sys.user_summary", "10.11.6-MariaDB", true),
            ("info_schema.clientstats", "5.1.73", false),
            ("info_schema.userstats", "5.1.73", true),
            ("perf_schema.eventsstatements", "5.5.62", false),
        ];
        for (name, version, want) in cases {
            let server = ServerInfo::parse(version).expect(version);
            assert_eq!(spec(name).supports(&server), want, "{name} on {version}");
        }
    }

    #[test]
    fn table_names_unique() {
        let mut names: Vec<&str> = SCRAPERS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
