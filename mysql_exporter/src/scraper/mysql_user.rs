//! `collect.mysql.user`: per account limits from `mysql.user` as `mysql_mysql_max_questions`, `..._max_updates`,
//! `..._max_connections`, `..._max_user_connections` gauges by `mysql_user` and `hostmask`; with
//! `--collect.mysql.user.privileges` also one gauge per `*_priv` column (`Y` 1, `N` 0), named
//! `mysql_mysql_<column>` with the help `<Column> by user.`.

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, bool_flag, bool_flag_value, parse_go_float};

const PRIVILEGES: &str = "collect.mysql.user.privileges";

/// The privilege columns upstream reads, in its order.
pub const PRIV_COLUMNS: [&str; 29] = [
    "Select_priv",
    "Insert_priv",
    "Update_priv",
    "Delete_priv",
    "Create_priv",
    "Drop_priv",
    "Reload_priv",
    "Shutdown_priv",
    "Process_priv",
    "File_priv",
    "Grant_priv",
    "References_priv",
    "Index_priv",
    "Alter_priv",
    "Show_db_priv",
    "Super_priv",
    "Create_tmp_table_priv",
    "Lock_tables_priv",
    "Execute_priv",
    "Repl_slave_priv",
    "Repl_client_priv",
    "Create_view_priv",
    "Show_view_priv",
    "Create_routine_priv",
    "Alter_routine_priv",
    "Create_user_priv",
    "Event_priv",
    "Trigger_priv",
    "Create_tablespace_priv",
];

/// The limit columns, with their help texts.
const LIMITS: [(&str, &str); 4] = [
    ("max_questions", "The number of max_questions by user."),
    ("max_updates", "The number of max_updates by user."),
    ("max_connections", "The number of max_connections by user."),
    ("max_user_connections", "The number of max_user_connections by user."),
];

/// The scraper's flags.
pub fn args() -> Vec<Arg> {
    bool_flag(
        PRIVILEGES,
        "Enable collecting user privileges from mysql.user (default: false)".into(),
    )
    .into()
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    Box::new(MysqlUser {
        privileges: bool_flag_value(m, PRIVILEGES, false),
    })
}

/// The statement.
pub fn query() -> String {
    let limits: Vec<&str> = LIMITS.iter().map(|(c, _)| *c).collect();
    format!(
        "SELECT user, host, {}, {} FROM mysql.user",
        PRIV_COLUMNS.join(", "),
        limits.join(", ")
    )
}

/// The `mysql.user` scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlUser {
    /// Also write the privilege gauges.
    pub privileges: bool,
}

impl Scraper for MysqlUser {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = query();
            let rows = db.query(&sql).await?;
            let user = rows.require(&sql, "user")?;
            let host = rows.require(&sql, "host")?;
            let mut fams = Families::new();
            let g = MetricType::Gauge;
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let labels = Labels::from_pairs([("mysql_user", get(user)), ("hostmask", get(host))]);
                if self.privileges {
                    for (i, column) in rows.columns.iter().enumerate() {
                        let value = match get(i) {
                            "Y" => 1.0,
                            "N" => 0.0,
                            _ => continue,
                        };
                        fams.add(
                            &format!("mysql_mysql_{}", column.to_lowercase()),
                            g,
                            &format!("{column} by user."),
                            labels.clone(),
                            value,
                        );
                    }
                }
                for (column, help) in LIMITS {
                    let v = rows.column(column).map(get).and_then(parse_go_float).unwrap_or(0.0);
                    fams.add(&format!("mysql_mysql_{column}"), g, help, labels.clone(), v);
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

    fn db() -> FakeDb {
        let mut cols = vec!["user", "host"];
        cols.extend(PRIV_COLUMNS);
        cols.extend([
            "max_questions",
            "max_updates",
            "max_connections",
            "max_user_connections",
        ]);
        let mut row: Vec<Option<&str>> = vec![Some("exporter"), Some("%")];
        row.extend(
            PRIV_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, _)| Some(if i == 0 { "Y" } else { "N" })),
        );
        row.extend([Some("10"), Some("20"), Some("30"), Some("3")]);
        FakeDb::default().with(&query(), &cols, &[&row])
    }

    #[test]
    fn limits_by_account() {
        let mut out = Vec::new();
        MysqlUser { privileges: false }
            .scrape(&mut db(), &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let g = MetricType::Gauge;
        let l = "hostmask=\"%\",mysql_user=\"exporter\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_mysql_max_connections".into(), l.clone(), g, 30.0),
                ("mysql_mysql_max_questions".into(), l.clone(), g, 10.0),
                ("mysql_mysql_max_updates".into(), l.clone(), g, 20.0),
                ("mysql_mysql_max_user_connections".into(), l, g, 3.0),
            ]
        );
    }

    #[test]
    fn privileges_when_asked() {
        let m = clap::Command::new("t")
            .args(args())
            .try_get_matches_from(["t", "--collect.mysql.user.privileges"])
            .expect("args");
        let mut out = Vec::new();
        build(&m)
            .scrape(&mut db(), &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(out.len(), 29 + 4);
        let select = out
            .iter()
            .find(|f| f.name == "mysql_mysql_select_priv")
            .expect("select_priv");
        assert_eq!(select.help.as_deref(), Some("Select_priv by user."));
        assert_eq!(select.metrics[0].value, exposition::Value::Gauge(1.0));
        let insert = out
            .iter()
            .find(|f| f.name == "mysql_mysql_insert_priv")
            .expect("insert_priv");
        assert_eq!(insert.metrics[0].value, exposition::Value::Gauge(0.0));
    }
}
