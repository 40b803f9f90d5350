//! `collect.perf_schema.file_instances`: `performance_schema.file_summary_by_instance` as
//! `mysql_perf_schema_file_instances_total{file_name,event_name,mode}` (operations) and `..._bytes` (bytes),
//! modes `read` and `write`. `--collect.perf_schema.file_instances.filter` (a regular expression the server
//! applies to `FILE_NAME`) selects files; `--collect.perf_schema.file_instances.remove_prefix` is cut from the
//! start of the names.

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float, sql_string};

const FILTER: &str = "collect.perf_schema.file_instances.filter";
const REMOVE_PREFIX: &str = "collect.perf_schema.file_instances.remove_prefix";

/// The flags.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new(FILTER)
            .long(FILTER)
            .default_value(".*")
            .help("RegEx file_name filter for performance_schema.file_summary_by_instance"),
        Arg::new(REMOVE_PREFIX)
            .long(REMOVE_PREFIX)
            .default_value("/var/lib/mysql/")
            .help("Remove path prefix in performance_schema.file_summary_by_instance"),
    ]
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    let get = |id: &str, default: &str| {
        m.try_get_one::<String>(id)
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    Box::new(FileInstances {
        filter: get(FILTER, ".*"),
        remove_prefix: get(REMOVE_PREFIX, "/var/lib/mysql/"),
    })
}

/// The statement for a filter.
pub fn query(filter: &str) -> String {
    format!(
        "SELECT FILE_NAME, EVENT_NAME, COUNT_READ, COUNT_WRITE, SUM_NUMBER_OF_BYTES_READ, SUM_NUMBER_OF_BYTES_WRITE \
         FROM performance_schema.file_summary_by_instance WHERE FILE_NAME REGEXP {}",
        sql_string(filter)
    )
}

/// The `perf_schema.file_instances` scraper.
#[derive(Debug)]
pub struct FileInstances {
    filter: String,
    remove_prefix: String,
}

impl Scraper for FileInstances {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(&query(&self.filter)).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                let file = get(0).strip_prefix(self.remove_prefix.as_str()).unwrap_or(get(0));
                for (mode, count, bytes) in [("read", 2, 4), ("write", 3, 5)] {
                    let labels = Labels::from_pairs([("file_name", file), ("event_name", get(1)), ("mode", mode)]);
                    fams.add(
                        &fq_name("perf_schema", "file_instances_total"),
                        MetricType::Counter,
                        "The total number of file read/write operations.",
                        labels.clone(),
                        num(count),
                    );
                    fams.add(
                        &fq_name("perf_schema", "file_instances_bytes"),
                        MetricType::Counter,
                        "The number of bytes processed by file read/write operations.",
                        labels,
                        num(bytes),
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
    fn prefix_removed_and_filter_quoted() {
        let scraper = FileInstances {
            filter: "ib'data".into(),
            remove_prefix: "/var/lib/mysql/".into(),
        };
        let sql = query("ib'data");
        assert!(sql.ends_with("REGEXP 'ib\\'data'"), "{sql}");
        let cols = ["f", "e", "cr", "cw", "br", "bw"];
        let mut db = FakeDb::default().with(
            &sql,
            &cols,
            &[&[
                Some("/var/lib/mysql/ibdata1"),
                Some("wait/io/file/innodb/innodb_data_file"),
                Some("1"),
                Some("2"),
                Some("30"),
                Some("40"),
            ]],
        );
        let mut out = Vec::new();
        scraper
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let l =
            |m: &str| format!("event_name=\"wait/io/file/innodb/innodb_data_file\",file_name=\"ibdata1\",mode=\"{m}\"");
        let c = MetricType::Counter;
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_perf_schema_file_instances_bytes".into(), l("read"), c, 30.0),
                ("mysql_perf_schema_file_instances_bytes".into(), l("write"), c, 40.0),
                ("mysql_perf_schema_file_instances_total".into(), l("read"), c, 1.0),
                ("mysql_perf_schema_file_instances_total".into(), l("write"), c, 2.0),
            ]
        );
    }
}
