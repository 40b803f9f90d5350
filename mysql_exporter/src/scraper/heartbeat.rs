//! `collect.heartbeat`: a pt-heartbeat style table (`ts`, `server_id`) as
//! `mysql_heartbeat_stored_timestamp_seconds{server_id}` and `mysql_heartbeat_now_timestamp_seconds{server_id}`
//! (the server's clock read in the same statement). Flags: `--collect.heartbeat.database`,
//! `--collect.heartbeat.table` (both `heartbeat`) and `--[no-]collect.heartbeat.utc` (read the server clock as
//! UTC, for `pt-heartbeat --utc`).

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{
    Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, bool_flag, bool_flag_value, fq_name,
    parse_go_float,
};

const DATABASE: &str = "collect.heartbeat.database";
const TABLE: &str = "collect.heartbeat.table";
const UTC: &str = "collect.heartbeat.utc";

/// The scraper's flags.
pub fn args() -> Vec<Arg> {
    let mut out = vec![
        Arg::new(DATABASE)
            .long(DATABASE)
            .default_value("heartbeat")
            .help("Database from where to collect heartbeat data"),
        Arg::new(TABLE)
            .long(TABLE)
            .default_value("heartbeat")
            .help("Table from where to collect heartbeat data"),
    ];
    out.extend(bool_flag(
        UTC,
        "Use UTC for timestamps of the current server (`pt-heartbeat` is called with `--utc`)".into(),
    ));
    out
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    let get = |id: &str| {
        m.try_get_one::<String>(id)
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_else(|| "heartbeat".into())
    };
    Box::new(Heartbeat {
        database: get(DATABASE),
        table: get(TABLE),
        utc: bool_flag_value(m, UTC, false),
    })
}

/// The `heartbeat` scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// Schema of the table.
    pub database: String,
    /// The table.
    pub table: String,
    /// Read the server clock as UTC.
    pub utc: bool,
}

fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Heartbeat {
    /// The statement.
    pub fn query(&self) -> String {
        let now = if self.utc { "UTC_TIMESTAMP(6)" } else { "NOW(6)" };
        format!(
            "SELECT UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP({now}), server_id FROM {}.{}",
            quote_ident(&self.database),
            quote_ident(&self.table)
        )
    }
}

impl Scraper for Heartbeat {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = self.query();
            let rows = db.query(&sql).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let bad = |what: &str, v: &str| ScrapeError::Query {
                    query: sql.clone(),
                    message: format!("{what} {v:?} is not a number"),
                };
                let stored = parse_go_float(get(0)).ok_or_else(|| bad("stored timestamp", get(0)))?;
                let now = parse_go_float(get(1)).ok_or_else(|| bad("current timestamp", get(1)))?;
                let labels = Labels::from_pairs([("server_id", get(2))]);
                fams.add(
                    &fq_name("heartbeat", "now_timestamp_seconds"),
                    MetricType::Gauge,
                    "Timestamp of the current server.",
                    labels.clone(),
                    now,
                );
                fams.add(
                    &fq_name("heartbeat", "stored_timestamp_seconds"),
                    MetricType::Gauge,
                    "Timestamp stored in the heartbeat table.",
                    labels,
                    stored,
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
    use crate::scraper::global_status::tests::samples;

    #[test]
    fn flags_and_statement() {
        let cmd = clap::Command::new("t").args(args());
        let m = cmd
            .clone()
            .try_get_matches_from(["t", "--collect.heartbeat.database=ops", "--collect.heartbeat.utc"])
            .expect("args");
        let h = build(&m);
        assert!(format!("{h:?}").contains("database: \"ops\""));
        let h = Heartbeat {
            database: "ops".into(),
            table: "hb`x".into(),
            utc: true,
        };
        assert_eq!(
            h.query(),
            "SELECT UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP(UTC_TIMESTAMP(6)), server_id FROM `ops`.`hb``x`"
        );
    }

    #[test]
    fn rows_to_gauges() {
        let h = Heartbeat {
            database: "heartbeat".into(),
            table: "heartbeat".into(),
            utc: false,
        };
        let mut db = FakeDb::default().with(
            &h.query(),
            &["a", "b", "server_id"],
            &[&[Some("1487597613.001320"), Some("1487598113.448042"), Some("1")]],
        );
        let mut out = Vec::new();
        h.scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let g = MetricType::Gauge;
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_heartbeat_now_timestamp_seconds".into(),
                    "server_id=\"1\"".into(),
                    g,
                    1487598113.448042
                ),
                (
                    "mysql_heartbeat_stored_timestamp_seconds".into(),
                    "server_id=\"1\"".into(),
                    g,
                    1487597613.00132
                ),
            ]
        );
        let mut db = FakeDb::default().with(&h.query(), &["a", "b", "c"], &[&[None, Some("1"), Some("1")]]);
        assert!(
            h.scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
                .ready()
                .is_err()
        );
    }
}
