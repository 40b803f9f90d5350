//! `collect.info_schema.processlist`: threads from `information_schema.processlist` grouped by command and state
//! (`mysql_info_schema_processlist_threads` and `..._seconds{command,state}`), and by user and client host
//! (`..._processes_by_user{mysql_user}`, `..._processes_by_host{client_host}`).
//!
//! Flags: `--collect.info_schema.processlist.min_time` (only threads at least that many seconds in their state),
//! `--[no-]collect.info_schema.processlist.processes_by_user` and `..._by_host` (both on by default). Commands and
//! states are lower-cased, `;,:.()` removed, spaces and `-` turned into `_`, empty ones named `unknown`.

use std::collections::BTreeMap;

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, bool_flag, bool_flag_value, fq_name, parse_go_float};

const MIN_TIME: &str = "collect.info_schema.processlist.min_time";
const BY_USER: &str = "collect.info_schema.processlist.processes_by_user";
const BY_HOST: &str = "collect.info_schema.processlist.processes_by_host";

/// The scraper's flags.
pub fn args() -> Vec<Arg> {
    let mut out = vec![
        Arg::new(MIN_TIME)
            .long(MIN_TIME)
            .default_value("0")
            .value_parser(clap::value_parser!(u64))
            .help("Minimum time a thread must be in each state to be counted"),
    ];
    out.extend(bool_flag(
        BY_USER,
        "Enable collecting the number of processes by user (default: true)".into(),
    ));
    out.extend(bool_flag(
        BY_HOST,
        "Enable collecting the number of processes by host (default: true)".into(),
    ));
    out
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    Box::new(Processlist {
        min_time: m.try_get_one::<u64>(MIN_TIME).ok().flatten().copied().unwrap_or(0),
        by_user: bool_flag_value(m, BY_USER, true),
        by_host: bool_flag_value(m, BY_HOST, true),
    })
}

/// The `info_schema.processlist` scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processlist {
    /// Minimum seconds in the current state.
    pub min_time: u64,
    /// Write `processes_by_user`.
    pub by_user: bool,
    /// Write `processes_by_host`.
    pub by_host: bool,
}

impl Processlist {
    /// The statement.
    pub fn query(&self) -> String {
        format!(
            "SELECT user, SUBSTRING_INDEX(host, ':', 1) AS host, COALESCE(command, '') AS command, \
             COALESCE(state, '') AS state, COUNT(*) AS processes, SUM(time) AS seconds \
             FROM information_schema.processlist WHERE ID != connection_id() AND TIME >= {} \
             GROUP BY user, SUBSTRING_INDEX(host, ':', 1), command, state",
            self.min_time
        )
    }
}

/// A command or state as a label value.
pub fn sanitize_state(state: &str) -> String {
    if state.is_empty() {
        return "unknown".to_string();
    }
    state
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ';' | ',' | ':' | '.' | '(' | ')'))
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

impl Scraper for Processlist {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = self.query();
            let rows = db.query(&sql).await?;
            let mut by_state: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
            let mut by_host: BTreeMap<String, f64> = BTreeMap::new();
            let mut by_user: BTreeMap<String, f64> = BTreeMap::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let count = parse_go_float(get(4)).unwrap_or(0.0);
                let seconds = parse_go_float(get(5)).unwrap_or(0.0);
                let host = if get(1).is_empty() { "unknown" } else { get(1) };
                let entry = by_state
                    .entry((sanitize_state(get(2)), sanitize_state(get(3))))
                    .or_default();
                entry.0 += count;
                entry.1 += seconds;
                *by_host.entry(host.to_string()).or_default() += count;
                *by_user.entry(get(0).to_string()).or_default() += count;
            }
            let mut fams = Families::new();
            let g = MetricType::Gauge;
            for ((command, state), (count, seconds)) in &by_state {
                let labels = Labels::from_pairs([("command", command.as_str()), ("state", state.as_str())]);
                fams.add(
                    &fq_name("info_schema", "processlist_threads"),
                    g,
                    "The number of threads split by current state.",
                    labels.clone(),
                    *count,
                );
                fams.add(
                    &fq_name("info_schema", "processlist_seconds"),
                    g,
                    "The number of seconds threads have used split by current state.",
                    labels,
                    *seconds,
                );
            }
            if self.by_host {
                for (host, n) in &by_host {
                    fams.add(
                        &fq_name("info_schema", "processlist_processes_by_host"),
                        g,
                        "The number of processes by host.",
                        Labels::from_pairs([("client_host", host.as_str())]),
                        *n,
                    );
                }
            }
            if self.by_user {
                for (user, n) in &by_user {
                    fams.add(
                        &fq_name("info_schema", "processlist_processes_by_user"),
                        g,
                        "The number of processes by user.",
                        Labels::from_pairs([("mysql_user", user.as_str())]),
                        *n,
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
    fn states_are_sanitised() {
        for (input, want) in [
            ("", "unknown"),
            ("Sending data", "sending_data"),
            ("Waiting for table metadata lock", "waiting_for_table_metadata_lock"),
            (
                "Master has sent all binlog to slave; waiting for more updates",
                "master_has_sent_all_binlog_to_slave_waiting_for_more_updates",
            ),
            ("Binlog Dump", "binlog_dump"),
            ("converting HEAP to ondisk (x.y)", "converting_heap_to_ondisk_xy"),
            ("init-done", "init_done"),
        ] {
            assert_eq!(sanitize_state(input), want, "{input:?}");
        }
    }

    #[test]
    fn rows_grouped_by_state_user_and_host() {
        let p = Processlist {
            min_time: 0,
            by_user: true,
            by_host: true,
        };
        let cols = ["user", "host", "command", "state", "processes", "seconds"];
        let rows: &[&[Option<&str>]] = &[
            &[
                Some("app"),
                Some("10.0.0.1"),
                Some("Query"),
                Some("Sending data"),
                Some("2"),
                Some("10"),
            ],
            &[
                Some("app"),
                Some("10.0.0.2"),
                Some("Sleep"),
                Some(""),
                Some("3"),
                Some("30"),
            ],
            &[Some("root"), Some(""), Some("Sleep"), Some(""), Some("1"), Some("5")],
        ];
        let mut db = FakeDb::default().with(&p.query(), &cols, rows);
        let mut out = Vec::new();
        p.scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let g = MetricType::Gauge;
        let pre = "mysql_info_schema_processlist_";
        let st = |c: &str, s: &str| format!("command=\"{c}\",state=\"{s}\"");
        assert_eq!(
            samples(&out),
            vec![
                (
                    format!("{pre}processes_by_host"),
                    "client_host=\"10.0.0.1\"".into(),
                    g,
                    2.0
                ),
                (
                    format!("{pre}processes_by_host"),
                    "client_host=\"10.0.0.2\"".into(),
                    g,
                    3.0
                ),
                (
                    format!("{pre}processes_by_host"),
                    "client_host=\"unknown\"".into(),
                    g,
                    1.0
                ),
                (format!("{pre}processes_by_user"), "mysql_user=\"app\"".into(), g, 5.0),
                (format!("{pre}processes_by_user"), "mysql_user=\"root\"".into(), g, 1.0),
                (format!("{pre}seconds"), st("query", "sending_data"), g, 10.0),
                (format!("{pre}seconds"), st("sleep", "unknown"), g, 35.0),
                (format!("{pre}threads"), st("query", "sending_data"), g, 2.0),
                (format!("{pre}threads"), st("sleep", "unknown"), g, 4.0),
            ]
        );
    }

    #[test]
    fn flags_build_the_scraper() {
        let cmd = clap::Command::new("t").args(args());
        let m = cmd
            .clone()
            .try_get_matches_from([
                "t",
                "--collect.info_schema.processlist.min_time=5",
                "--no-collect.info_schema.processlist.processes_by_host",
            ])
            .expect("args");
        let built = Processlist {
            min_time: m.get_one::<u64>(MIN_TIME).copied().unwrap_or(0),
            by_user: bool_flag_value(&m, BY_USER, true),
            by_host: bool_flag_value(&m, BY_HOST, true),
        };
        assert_eq!(
            built,
            Processlist {
                min_time: 5,
                by_user: true,
                by_host: false
            }
        );
        assert!(built.query().contains("TIME >= 5"));
        let scraper = build(&m);
        assert!(format!("{scraper:?}").contains("min_time: 5"));
    }
}
