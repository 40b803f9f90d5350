//! `collect.perf_schema.eventswaits`: `performance_schema.events_waits_summary_global_by_event_name` as
//! `mysql_perf_schema_events_waits_total{event_name}` and `mysql_perf_schema_events_waits_seconds_total`.

use exposition::{Labels, MetricFamily, MetricType};

use super::perf_table_io_waits::PICOSECONDS;
use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The statement.
pub const QUERY: &str =
    "SELECT EVENT_NAME, COUNT_STAR, SUM_TIMER_WAIT FROM performance_schema.events_waits_summary_global_by_event_name";

/// The `perf_schema.eventswaits` scraper.
#[derive(Debug, Default)]
pub struct EventsWaits;

impl Scraper for EventsWaits {
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
                let num = |i: usize| parse_go_float(get(i)).unwrap_or(0.0);
                let labels = Labels::from_pairs([("event_name", get(0))]);
                fams.add(
                    &fq_name("perf_schema", "events_waits_total"),
                    MetricType::Counter,
                    "The total events waits by event name.",
                    labels.clone(),
                    num(1),
                );
                fams.add(
                    &fq_name("perf_schema", "events_waits_seconds_total"),
                    MetricType::Counter,
                    "The total seconds of events waits by event name.",
                    labels,
                    num(2) / PICOSECONDS,
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
    fn counts_and_seconds_by_event() {
        let mut db = FakeDb::default().with(
            QUERY,
            &["EVENT_NAME", "COUNT_STAR", "SUM_TIMER_WAIT"],
            &[&[
                Some("wait/io/file/innodb/innodb_data_file"),
                Some("12"),
                Some("3500000000000"),
            ]],
        );
        let mut out = Vec::new();
        EventsWaits
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let c = MetricType::Counter;
        let l = "event_name=\"wait/io/file/innodb/innodb_data_file\"".to_string();
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_perf_schema_events_waits_seconds_total".into(), l.clone(), c, 3.5),
                ("mysql_perf_schema_events_waits_total".into(), l, c, 12.0),
            ]
        );
    }
}
