//! `collect.auto_increment.columns`: every `auto_increment` column with its table's next value and the largest
//! value its integer type holds, as `mysql_info_schema_auto_increment_column{schema,table,column}` and
//! `..._column_max`.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement: the maximum is 2^(bits - 1) - 1, one bit more for unsigned types.
pub const QUERY: &str = "SELECT table_schema, table_name, column_name, auto_increment, \
                         pow(2, case data_type when 'tinyint' then 7 when 'smallint' then 15 \
                         when 'mediumint' then 23 when 'int' then 31 when 'bigint' then 63 end \
                         + (column_type like '% unsigned')) - 1 as max_int \
                         FROM information_schema.tables t \
                         JOIN information_schema.columns c USING (table_schema, table_name) \
                         WHERE c.extra = 'auto_increment' AND t.auto_increment IS NOT NULL";

/// The `auto_increment.columns` scraper.
#[derive(Debug, Default)]
pub struct AutoIncrement;

impl Scraper for AutoIncrement {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let num = |i: usize| {
                    parse_go_float(get(i)).ok_or_else(|| ScrapeError::Value {
                        query: QUERY.to_string(),
                        column: rows.columns.get(i).cloned().unwrap_or_default(),
                        value: row.get(i).cloned().flatten().unwrap_or_else(|| "NULL".to_string()),
                    })
                };
                let labels = Labels::from_pairs([("schema", get(0)), ("table", get(1)), ("column", get(2))]);
                fams.add(
                    &fq_name("info_schema", "auto_increment_column"),
                    MetricType::Gauge,
                    "The current value of an auto_increment column from information_schema.",
                    labels.clone(),
                    num(3)?,
                );
                fams.add(
                    &fq_name("info_schema", "auto_increment_column_max"),
                    MetricType::Gauge,
                    "The max value of an auto_increment column from information_schema.",
                    labels,
                    num(4)?,
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
    fn value_and_max() {
        let cols = ["table_schema", "table_name", "column_name", "auto_increment", "max_int"];
        let mut db = FakeDb::default().with(
            QUERY,
            &cols,
            &[&[Some("shop"), Some("orders"), Some("id"), Some("4"), Some("2147483647")]],
        );
        let mut out = Vec::new();
        AutoIncrement
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let l = "column=\"id\",schema=\"shop\",table=\"orders\"".to_string();
        let g = MetricType::Gauge;
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_info_schema_auto_increment_column".into(), l.clone(), g, 4.0),
                ("mysql_info_schema_auto_increment_column_max".into(), l, g, 2147483647.0),
            ]
        );
        // An integer type the query does not know has no maximum (NULL): the scrape fails as upstream's Scan does.
        let mut db = FakeDb::default().with(QUERY, &cols, &[&[Some("s"), Some("t"), Some("c"), Some("1"), None]]);
        assert!(
            AutoIncrement
                .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut Vec::new())
                .ready()
                .is_err()
        );
    }
}
