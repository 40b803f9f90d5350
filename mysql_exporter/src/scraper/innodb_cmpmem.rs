//! `collect.info_schema.innodb_cmpmem`: `information_schema.innodb_cmpmem` as
//! `mysql_info_schema_innodb_cmpmem_*` counters by `page_size` and `buffer_pool`.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT page_size, buffer_pool_instance, pages_used, pages_free, relocation_ops, \
                         relocation_time FROM information_schema.innodb_cmpmem";

/// (column, family suffix, help, divisor).
const COLUMNS: [(&str, &str, &str, f64); 4] = [
    (
        "pages_used",
        "innodb_cmpmem_pages_used_total",
        "Number of blocks of the size PAGE_SIZE that are currently in use.",
        1.0,
    ),
    (
        "pages_free",
        "innodb_cmpmem_pages_free_total",
        "Number of blocks of the size PAGE_SIZE that are currently available for allocation.",
        1.0,
    ),
    (
        "relocation_ops",
        "innodb_cmpmem_relocation_ops_total",
        "Number of times a block of the size PAGE_SIZE has been relocated.",
        1.0,
    ),
    // The column is in microseconds; upstream divides by 1000 and we keep its numbers.
    (
        "relocation_time",
        "innodb_cmpmem_relocation_time_seconds_total",
        "Total time in seconds spent in relocating blocks.",
        1000.0,
    ),
];

/// The `info_schema.innodb_cmpmem` scraper.
#[derive(Debug, Default)]
pub struct InnodbCmpMem;

impl Scraper for InnodbCmpMem {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let page = rows.require(QUERY, "page_size")?;
            let pool = rows.require(QUERY, "buffer_pool_instance")?;
            let idx = COLUMNS
                .iter()
                .map(|(c, ..)| rows.require(QUERY, c))
                .collect::<Result<Vec<_>, _>>()?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let page_size = row.get(page).cloned().flatten().unwrap_or_default();
                let buffer_pool = row.get(pool).cloned().flatten().unwrap_or_default();
                for ((_, name, help, div), i) in COLUMNS.iter().zip(&idx) {
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
                        Labels::from_pairs([("page_size", page_size.as_str()), ("buffer_pool", buffer_pool.as_str())]),
                        v / div,
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
                "buffer_pool_instance",
                "pages_used",
                "pages_free",
                "relocation_ops",
                "relocation_time",
            ],
            &[&[
                Some("1024"),
                Some("0"),
                Some("30"),
                Some("40"),
                Some("50"),
                Some("6000"),
            ]],
        );
        let mut out = Vec::new();
        InnodbCmpMem
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = "buffer_pool=\"0\",page_size=\"1024\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                (
                    "mysql_info_schema_innodb_cmpmem_pages_free_total".into(),
                    l.clone(),
                    c,
                    40.0
                ),
                (
                    "mysql_info_schema_innodb_cmpmem_pages_used_total".into(),
                    l.clone(),
                    c,
                    30.0
                ),
                (
                    "mysql_info_schema_innodb_cmpmem_relocation_ops_total".into(),
                    l.clone(),
                    c,
                    50.0
                ),
                (
                    "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total".into(),
                    l,
                    c,
                    6.0
                ),
            ]
        );
    }
}
