//! `collect.binlog_size`: `SHOW BINARY LOGS` as `mysql_binlog_size_bytes`, `mysql_binlog_files` and
//! `mysql_binlog_file_number` (the number in the last file's name). Nothing when `@@log_bin` is off, where the
//! statement would fail.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float, parse_status};

/// Whether binary logging is on.
pub const CHECK_QUERY: &str = "SELECT @@log_bin";
/// The statement.
pub const QUERY: &str = "SHOW BINARY LOGS";

/// The `binlog_size` scraper.
#[derive(Debug, Default)]
pub struct BinlogSize;

impl Scraper for BinlogSize {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let on = db
                .query(CHECK_QUERY)
                .await?
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .and_then(|v| parse_status(&v))
                .is_some_and(|v| v != 0.0);
            if !on {
                return Ok(());
            }
            let rows = db.query(QUERY).await?;
            let name = rows.require(QUERY, "Log_name")?;
            let size = rows.require(QUERY, "File_size")?;
            let mut total = 0.0;
            let mut last = "";
            for row in &rows.rows {
                total += row
                    .get(size)
                    .and_then(|v| v.as_deref())
                    .and_then(parse_go_float)
                    .unwrap_or(0.0);
                last = row.get(name).and_then(|v| v.as_deref()).unwrap_or("");
            }
            let number = last
                .rsplit_once('.')
                .and_then(|(_, n)| parse_go_float(n))
                .unwrap_or(0.0);
            let mut fams = Families::new();
            let g = MetricType::Gauge;
            fams.add(
                &fq_name("binlog", "size_bytes"),
                g,
                "Combined size of all registered binlog files.",
                Labels::new(),
                total,
            );
            fams.add(
                &fq_name("binlog", "files"),
                g,
                "Number of registered binlog files.",
                Labels::new(),
                rows.rows.len() as f64,
            );
            fams.add(
                &fq_name("binlog", "file_number"),
                g,
                "The last binlog file number.",
                Labels::new(),
                number,
            );
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
    fn sums_files() {
        let info = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let mut db = FakeDb::default()
            .with(CHECK_QUERY, &["@@log_bin"], &[&[Some("1")]])
            .with(
                QUERY,
                &["Log_name", "File_size"],
                &[
                    &[Some("mysql-bin.000001"), Some("1000")],
                    &[Some("mysql-bin.000002"), Some("234")],
                ],
            );
        let mut out = Vec::new();
        BinlogSize.scrape(&mut db, &info, &mut out).ready().expect("scrape");
        let g = MetricType::Gauge;
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_binlog_file_number".into(), String::new(), g, 2.0),
                ("mysql_binlog_files".into(), String::new(), g, 2.0),
                ("mysql_binlog_size_bytes".into(), String::new(), g, 1234.0),
            ]
        );
    }

    #[test]
    fn off_skips_the_statement() {
        let info = ServerInfo::parse("8.0.36").expect("v");
        let mut db = FakeDb::default().with(CHECK_QUERY, &["@@log_bin"], &[&[Some("0")]]);
        let mut out = Vec::new();
        BinlogSize.scrape(&mut db, &info, &mut out).ready().expect("scrape");
        assert!(out.is_empty());
        assert_eq!(db.asked, [CHECK_QUERY]);
    }
}
