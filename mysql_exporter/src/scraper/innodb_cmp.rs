//! `collect.info_schema.innodb_cmp`: `information_schema.innodb_cmp` as `mysql_info_schema_innodb_cmp_*`
//! counters by `page_size`.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT page_size, compress_ops, compress_ops_ok, compress_time, uncompress_ops, \
                         uncompress_time FROM information_schema.innodb_cmp";

/// (column, family suffix, help).
const COLUMNS: [(&str, &str, &str); 5] = [
    (
        "compress_ops",
        "innodb_cmp_compress_ops_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been compressed.",
    ),
    (
        "compress_ops_ok",
        "innodb_cmp_compress_ops_ok_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been successfully compressed.",
    ),
    (
        "compress_time",
        "innodb_cmp_compress_time_seconds_total",
        "Total time in seconds spent in attempts to compress B-tree pages.",
    ),
    (
        "uncompress_ops",
        "innodb_cmp_uncompress_ops_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been uncompressed.",
    ),
    (
        "uncompress_time",
        "innodb_cmp_uncompress_time_seconds_total",
        "Total time in seconds spent in uncompressing B-tree pages.",
    ),
];

/// The `info_schema.innodb_cmp` scraper.
#[derive(Debug, Default)]
pub struct InnodbCmp;

impl Scraper for InnodbCmp {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let page = rows.require(QUERY, "page_size")?;
            let idx = COLUMNS
                .iter()
                .map(|(c, _, _)| rows.require(QUERY, c))
                .collect::<Result<Vec<_>, _>>()?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let page_size = row.get(page).cloned().flatten().unwrap_or_default();
                for ((_, name, help), i) in COLUMNS.iter().zip(&idx) {
                    let v = row
                        .get(*i)
                        .cloned()
                        .flatten()
                        .as_deref()
                        .and_then(parse_go_float)
                        .unwrap_or(0.0);
                    fams.add(
                        &fq_name("info_schema", name),
                        MetricType::Counter,
                        help,
                        Labels::from_pairs([("page_size", page_size.as_str())]),
                        v,
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
    fn rows_to_counters() {
        let mut db = FakeDb::default().with(
            QUERY,
            &[
                "page_size",
                "compress_ops",
                "compress_ops_ok",
                "compress_time",
                "uncompress_ops",
                "uncompress_time",
            ],
            &[&[Some("1024"), Some("10"), Some("20"), Some("30"), Some("40"), Some("50")]],
        );
        let mut out = Vec::new();
        InnodbCmp
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = "page_size=\"1024\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_info_schema_innodb_cmp_compress_ops_ok_total".into(),
                    l.clone(),
                    c,
                    20.0
                ),
                (
                    "mysql_info_schema_innodb_cmp_compress_ops_total".into(),
                    l.clone(),
                    c,
                    10.0
                ),
                (
                    "mysql_info_schema_innodb_cmp_compress_time_seconds_total".into(),
                    l.clone(),
                    c,
                    30.0
                ),
                (
                    "mysql_info_schema_innodb_cmp_uncompress_ops_total".into(),
                    l.clone(),
                    c,
                    40.0
                ),
                (
                    "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total".into(),
                    l,
                    c,
                    50.0
                ),
            ]
        );
    }
}
