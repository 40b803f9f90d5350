//! `collect.info_schema.innodb_tablespaces`: InnoDB tablespaces as
//! `mysql_info_schema_innodb_tablespace_space_info{tablespace_name,file_format,row_format,space_type}` (value: the
//! space id), `..._file_size_bytes{tablespace_name}` and `..._allocated_size_bytes{tablespace_name}`.
//!
//! MySQL 8 names the table `INNODB_TABLESPACES`, older MySQL and MariaDB `INNODB_SYS_TABLESPACES`; columns a
//! server lacks (`FILE_FORMAT` after MySQL 5.7 and MariaDB 10.2, `SPACE_TYPE` on MariaDB) are `NONE`, as upstream
//! writes absent values.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The tables, preferred first.
pub const QUERIES: [&str; 2] = [
    "SELECT * FROM information_schema.INNODB_TABLESPACES",
    "SELECT * FROM information_schema.INNODB_SYS_TABLESPACES",
];

/// The `info_schema.innodb_tablespaces` scraper.
#[derive(Debug, Default)]
pub struct InnodbTablespaces;

impl Scraper for InnodbTablespaces {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = match db.query(QUERIES[0]).await {
                Ok(rows) => rows,
                Err(_) => db.query(QUERIES[1]).await?,
            };
            let space = rows.require(QUERIES[1], "SPACE")?;
            let name = rows.require(QUERIES[1], "NAME")?;
            let (file_format, row_format, space_type) = (
                rows.column("FILE_FORMAT"),
                rows.column("ROW_FORMAT"),
                rows.column("SPACE_TYPE"),
            );
            let (file_size, allocated) = (rows.column("FILE_SIZE"), rows.column("ALLOCATED_SIZE"));
            let mut fams = Families::new();
            let g = MetricType::Gauge;
            for row in &rows.rows {
                let get = |i: Option<usize>| i.and_then(|i| row.get(i)).and_then(|v| v.as_deref());
                let text = |i: Option<usize>| get(i).unwrap_or("NONE");
                let num = |i: Option<usize>| get(i).and_then(parse_go_float).unwrap_or(0.0);
                let tablespace = get(Some(name)).unwrap_or("");
                fams.add(
                    &fq_name("info_schema", "innodb_tablespace_space_info"),
                    g,
                    "The Tablespace information and Space ID.",
                    Labels::from_pairs([
                        ("tablespace_name", tablespace),
                        ("file_format", text(file_format)),
                        ("row_format", text(row_format)),
                        ("space_type", text(space_type)),
                    ]),
                    num(Some(space)),
                );
                fams.add(
                    &fq_name("info_schema", "innodb_tablespace_file_size_bytes"),
                    g,
                    "The apparent size of the file, which represents the maximum size of the file, uncompressed.",
                    Labels::from_pairs([("tablespace_name", tablespace)]),
                    num(file_size),
                );
                fams.add(
                    &fq_name("info_schema", "innodb_tablespace_allocated_size_bytes"),
                    g,
                    "The actual size of the file, which is the amount of space allocated on disk.",
                    Labels::from_pairs([("tablespace_name", tablespace)]),
                    num(allocated),
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
    fn mariadb_layout_falls_back_and_fills_none() {
        let mut db = FakeDb::default().with(
            QUERIES[1],
            &[
                "SPACE",
                "NAME",
                "FLAG",
                "ROW_FORMAT",
                "PAGE_SIZE",
                "FILENAME",
                "FS_BLOCK_SIZE",
                "FILE_SIZE",
                "ALLOCATED_SIZE",
            ],
            &[&[
                Some("5"),
                Some("shop/orders"),
                Some("21"),
                Some("Dynamic"),
                Some("16384"),
                Some("./shop/orders.ibd"),
                Some("4096"),
                Some("98304"),
                Some("65536"),
            ]],
        );
        let mut out = Vec::new();
        InnodbTablespaces
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(db.asked, QUERIES);
        let g = MetricType::Gauge;
        let t = "tablespace_name=\"shop/orders\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_info_schema_innodb_tablespace_allocated_size_bytes".into(),
                    t.clone(),
                    g,
                    65536.0
                ),
                (
                    "mysql_info_schema_innodb_tablespace_file_size_bytes".into(),
                    t.clone(),
                    g,
                    98304.0
                ),
                (
                    "mysql_info_schema_innodb_tablespace_space_info".into(),
                    format!("file_format=\"NONE\",row_format=\"Dynamic\",space_type=\"NONE\",{t}"),
                    g,
                    5.0
                ),
            ]
        );
    }

    #[test]
    fn mysql8_table_first() {
        let mut db = FakeDb::default().with(
            QUERIES[0],
            &[
                "SPACE",
                "NAME",
                "ROW_FORMAT",
                "SPACE_TYPE",
                "FILE_SIZE",
                "ALLOCATED_SIZE",
            ],
            &[&[
                Some("2"),
                Some("app/t"),
                Some("Dynamic"),
                Some("Single"),
                Some("1"),
                Some("2"),
            ]],
        );
        let mut out = Vec::new();
        InnodbTablespaces
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(db.asked, [QUERIES[0]]);
        assert!(samples(&out).iter().any(|s| s.1.contains("space_type=\"Single\"")));
    }
}
