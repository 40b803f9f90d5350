//! `collect.perf_schema.tablelocks`: `performance_schema.table_lock_waits_summary_by_table` as
//! `mysql_perf_schema_sql_lock_waits_total` / `..._seconds_total` (eight SQL lock operations) and
//! `mysql_perf_schema_external_lock_waits_total` / `..._seconds_total` (`read`, `write`), by `schema`, `name` and
//! `operation`. Timers are picoseconds, written as seconds.

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// Lock kinds in column order: (column suffix, family kind, operation label).
const LOCKS: [(&str, Kind, &str); 10] = [
    ("READ_NORMAL", Kind::Sql, "read_normal"),
    ("READ_WITH_SHARED_LOCKS", Kind::Sql, "read_with_shared_locks"),
    ("READ_HIGH_PRIORITY", Kind::Sql, "read_high_priority"),
    ("READ_NO_INSERT", Kind::Sql, "read_no_insert"),
    ("READ_EXTERNAL", Kind::External, "read"),
    ("WRITE_ALLOW_WRITE", Kind::Sql, "write_allow_write"),
    ("WRITE_CONCURRENT_INSERT", Kind::Sql, "write_concurrent_insert"),
    ("WRITE_LOW_PRIORITY", Kind::Sql, "write_low_priority"),
    ("WRITE_NORMAL", Kind::Sql, "write_normal"),
    ("WRITE_EXTERNAL", Kind::External, "write"),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Sql,
    External,
}

/// The statement: schema, name, the ten counts, the ten timers.
pub fn query() -> String {
    let counts: Vec<String> = LOCKS.iter().map(|(c, ..)| format!("COUNT_{c}")).collect();
    let timers: Vec<String> = LOCKS.iter().map(|(c, ..)| format!("SUM_TIMER_{c}")).collect();
    format!(
        "SELECT OBJECT_SCHEMA, OBJECT_NAME, {}, {} FROM performance_schema.table_lock_waits_summary_by_table \
         WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema', 'information_schema')",
        counts.join(", "),
        timers.join(", ")
    )
}

/// The `perf_schema.tablelocks` scraper.
#[derive(Debug, Default)]
pub struct TableLockWaits;

impl Scraper for TableLockWaits {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(&query()).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                for (k, (_, kind, op)) in LOCKS.iter().enumerate() {
                    let (count_name, count_help, time_name, time_help) = match kind {
                        Kind::Sql => (
                            "sql_lock_waits_total",
                            "The total number of SQL lock wait events for each table and operation.",
                            "sql_lock_waits_seconds_total",
                            "The total time of SQL lock wait events for each table and operation.",
                        ),
                        Kind::External => (
                            "external_lock_waits_total",
                            "The total number of external lock wait events for each table and operation.",
                            "external_lock_waits_seconds_total",
                            "The total time of external lock wait events for each table and operation.",
                        ),
                    };
                    let labels = Labels::from_pairs([("schema", get(0)), ("name", get(1)), ("operation", op)]);
                    let c = MetricType::Counter;
                    fams.add(
                        &fq_name("perf_schema", count_name),
                        c,
                        count_help,
                        labels.clone(),
                        num(2 + k),
                    );
                    fams.add(
                        &fq_name("perf_schema", time_name),
                        c,
                        time_help,
                        labels,
                        num(12 + k) / PICOSECONDS,
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
    fn columns_to_operations() {
        let cols: Vec<String> = (0..22).map(|i| format!("c{i}")).collect();
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        let values: Vec<String> = (0..20)
            .map(|i| ((i + 1) as u64 * 1_000_000_000_000).to_string())
            .collect();
        let mut row: Vec<Option<&str>> = vec![Some("shop"), Some("orders")];
        row.extend(values.iter().map(|v| Some(v.as_str())));
        let mut db = FakeDb::default().with(&query(), &cols, &[&row]);
        let mut out = Vec::new();
        TableLockWaits
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let got = samples(&out);
        assert_eq!(got.len(), 20);
        let value = |name: &str, op: &str| {
            got.iter()
                .find(|s| s.0 == name && s.1.contains(&format!("operation=\"{op}\"")))
                .map(|s| s.3)
        };
        let p = "mysql_perf_schema_";
        // Counts are the 3rd..12th columns (values 1e12..10e12), timers the rest (11e12..20e12 ps).
        assert_eq!(value(&format!("{p}sql_lock_waits_total"), "read_normal"), Some(1e12));
        assert_eq!(value(&format!("{p}external_lock_waits_total"), "read"), Some(5e12));
        assert_eq!(value(&format!("{p}sql_lock_waits_total"), "write_normal"), Some(9e12));
        assert_eq!(value(&format!("{p}external_lock_waits_total"), "write"), Some(10e12));
        assert_eq!(
            value(&format!("{p}sql_lock_waits_seconds_total"), "read_normal"),
            Some(11.0)
        );
        assert_eq!(
            value(&format!("{p}external_lock_waits_seconds_total"), "write"),
            Some(20.0)
        );
        assert!(query().contains("COUNT_WRITE_EXTERNAL, SUM_TIMER_READ_NORMAL"));
    }
}
