//! `collect.info_schema.tables`: `information_schema.tables` per table as `mysql_info_schema_table_rows`,
//! `mysql_info_schema_table_size{component=data_length|index_length|data_free}` and
//! `mysql_info_schema_table_version{type,engine,row_format,create_options}`, for the databases listed in
//! `--collect.info_schema.tables.databases` (comma-separated, default `*`: every schema except `mysql`,
//! `performance_schema` and `information_schema`).

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

const DATABASES: &str = "collect.info_schema.tables.databases";

/// The schema list for `*`.
pub const SCHEMATA_QUERY: &str = "SELECT SCHEMA_NAME FROM information_schema.schemata WHERE SCHEMA_NAME NOT IN \
                                  ('mysql', 'performance_schema', 'information_schema')";

/// The scraper's flags.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new(DATABASES)
            .long(DATABASES)
            .default_value("*")
            .help("The list of databases to collect table stats for, or '*' for all"),
    ]
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    let list = m
        .try_get_one::<String>(DATABASES)
        .ok()
        .flatten()
        .cloned()
        .unwrap_or_else(|| "*".into());
    Box::new(Tables {
        databases: if list == "*" {
            None
        } else {
            Some(list.split(',').map(str::to_string).collect())
        },
    })
}

/// The `info_schema.tables` scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// The databases; `None` for all user schemas.
    pub databases: Option<Vec<String>>,
}

/// The statement for one schema (the name is quoted as a string literal).
pub fn tables_query(schema: &str) -> String {
    let quoted = schema.replace('\\', "\\\\").replace('\'', "''");
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ifnull(ENGINE, 'NONE') AS ENGINE, ifnull(VERSION, '0') AS \
         VERSION, ifnull(ROW_FORMAT, 'NONE') AS ROW_FORMAT, ifnull(TABLE_ROWS, '0') AS TABLE_ROWS, \
         ifnull(DATA_LENGTH, '0') AS DATA_LENGTH, ifnull(INDEX_LENGTH, '0') AS INDEX_LENGTH, ifnull(DATA_FREE, '0') \
         AS DATA_FREE, ifnull(CREATE_OPTIONS, 'NONE') AS CREATE_OPTIONS FROM information_schema.tables WHERE \
         TABLE_SCHEMA = '{quoted}'"
    )
}

impl Scraper for Tables {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let schemas: Vec<String> = match &self.databases {
                Some(list) => list.clone(),
                None => db
                    .query(SCHEMATA_QUERY)
                    .await?
                    .rows
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().flatten())
                    .collect(),
            };
            let mut fams = Families::new();
            let g = MetricType::Gauge;
            for schema in &schemas {
                let rows = db.query(&tables_query(schema)).await?;
                for row in &rows.rows {
                    let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                    let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                    let (schema, table) = (get(0), get(1));
                    fams.add(
                        &fq_name("info_schema", "table_version"),
                        g,
                        "The version number of the table's .frm file",
                        Labels::from_pairs([
                            ("schema", schema),
                            ("table", table),
                            ("type", get(2)),
                            ("engine", get(3)),
                            ("row_format", get(5)),
                            ("create_options", get(10)),
                        ]),
                        num(4),
                    );
                    fams.add(
                        &fq_name("info_schema", "table_rows"),
                        g,
                        "The estimated number of rows in the table from information_schema.tables",
                        Labels::from_pairs([("schema", schema), ("table", table)]),
                        num(6),
                    );
                    for (i, component) in [(7, "data_length"), (8, "index_length"), (9, "data_free")] {
                        fams.add(
                            &fq_name("info_schema", "table_size"),
                            g,
                            "The size of the table components from information_schema.tables",
                            Labels::from_pairs([("schema", schema), ("table", table), ("component", component)]),
                            num(i),
                        );
                    }
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

    const COLS: [&str; 11] = [
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "TABLE_TYPE",
        "ENGINE",
        "VERSION",
        "ROW_FORMAT",
        "TABLE_ROWS",
        "DATA_LENGTH",
        "INDEX_LENGTH",
        "DATA_FREE",
        "CREATE_OPTIONS",
    ];

    #[test]
    fn all_schemas() {
        let row: &[Option<&str>] = &[
            Some("shop"),
            Some("orders"),
            Some("BASE TABLE"),
            Some("InnoDB"),
            Some("10"),
            Some("Dynamic"),
            Some("42"),
            Some("16384"),
            Some("0"),
            Some("0"),
            Some(""),
        ];
        let mut db = FakeDb::default()
            .with(SCHEMATA_QUERY, &["SCHEMA_NAME"], &[&[Some("shop")]])
            .with(&tables_query("shop"), &COLS, &[row]);
        let mut out = Vec::new();
        Tables { databases: None }
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let g = MetricType::Gauge;
        let st = "schema=\"shop\",table=\"orders\"";
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_info_schema_table_rows".into(), st.into(), g, 42.0),
                (
                    "mysql_info_schema_table_size".into(),
                    format!("component=\"data_free\",{st}"),
                    g,
                    0.0
                ),
                (
                    "mysql_info_schema_table_size".into(),
                    format!("component=\"data_length\",{st}"),
                    g,
                    16384.0
                ),
                (
                    "mysql_info_schema_table_size".into(),
                    format!("component=\"index_length\",{st}"),
                    g,
                    0.0
                ),
                (
                    "mysql_info_schema_table_version".into(),
                    format!("create_options=\"\",engine=\"InnoDB\",row_format=\"Dynamic\",{st},type=\"BASE TABLE\""),
                    g,
                    10.0
                ),
            ]
        );
    }

    #[test]
    fn listed_schemas_are_quoted() {
        assert!(tables_query("it's").ends_with("TABLE_SCHEMA = 'it''s'"));
        let cmd = clap::Command::new("t").args(args());
        let m = cmd
            .try_get_matches_from(["t", "--collect.info_schema.tables.databases=a,b"])
            .expect("args");
        let scraper = build(&m);
        let mut db = FakeDb::default()
            .with(&tables_query("a"), &COLS, &[])
            .with(&tables_query("b"), &COLS, &[]);
        let mut out = Vec::new();
        scraper
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(db.asked, [tables_query("a"), tables_query("b")]);
    }
}
