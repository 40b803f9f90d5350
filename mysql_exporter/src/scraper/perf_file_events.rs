//! `collect.perf_schema.file_events`: `performance_schema.file_summary_by_event_name` as
//! `mysql_perf_schema_file_events_total{event_name,mode}`, `..._seconds_total` and `..._bytes_total` (modes
//! `read`, `write`, `misc`; `misc` has no bytes).

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str = "SELECT EVENT_NAME, COUNT_READ, SUM_TIMER_READ, SUM_NUMBER_OF_BYTES_READ, COUNT_WRITE, \
                         SUM_TIMER_WRITE, SUM_NUMBER_OF_BYTES_WRITE, COUNT_MISC, SUM_TIMER_MISC \
                         FROM performance_schema.file_summary_by_event_name";

/// (mode, count column, timer column, bytes column).
const MODES: [(&str, usize, usize, Option<usize>); 3] =
    [("read", 1, 2, Some(3)), ("write", 4, 5, Some(6)), ("misc", 7, 8, None)];

/// The `perf_schema.file_events` scraper.
#[derive(Debug, Default)]
pub struct FileEvents;

impl Scraper for FileEvents {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let mut fams = Families::new();
            let c = MetricType::Counter;
            for row in &rows.rows {
                let get = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                for (mode, count, timer, bytes) in MODES {
                    let labels = Labels::from_pairs([("event_name", get(0)), ("mode", mode)]);
                    fams.add(
                        &fq_name("perf_schema", "file_events_total"),
                        c,
                        "The total file events by event name/mode.",
                        labels.clone(),
                        num(count),
                    );
                    fams.add(
                        &fq_name("perf_schema", "file_events_seconds_total"),
                        c,
                        "The total seconds of file events by event name/mode.",
                        labels.clone(),
                        num(timer) / PICOSECONDS,
                    );
                    if let Some(bytes) = bytes {
                        fams.add(
                            &fq_name("perf_schema", "file_events_bytes_total"),
                            c,
                            "The total bytes of file events by event name/mode.",
                            labels,
                            num(bytes),
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

    #[test]
    fn modes() {
        let cols = ["e", "cr", "tr", "br", "cw", "tw", "bw", "cm", "tm"];
        let row: &[Option<&str>] = &[
            Some("wait/io/file/sql/binlog"),
            Some("1"),
            Some("2000000000000"),
            Some("3"),
            Some("4"),
            Some("5000000000000"),
            Some("6"),
            Some("7"),
            Some("8000000000000"),
        ];
        let mut db = FakeDb::default().with(QUERY, &cols, &[row]);
        let mut out = Vec::new();
        FileEvents
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = |m: &str| format!("event_name=\"wait/io/file/sql/binlog\",mode=\"{m}\"");
        let p = "mysql_perf_schema_file_events_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}bytes_total"), l("read"), c, 3.0),
                (format!("{p}bytes_total"), l("write"), c, 6.0),
                (format!("{p}seconds_total"), l("misc"), c, 8.0),
                (format!("{p}seconds_total"), l("read"), c, 2.0),
                (format!("{p}seconds_total"), l("write"), c, 5.0),
                (format!("{p}total"), l("misc"), c, 7.0),
                (format!("{p}total"), l("read"), c, 1.0),
                (format!("{p}total"), l("write"), c, 4.0),
            ]
        );
    }
}
