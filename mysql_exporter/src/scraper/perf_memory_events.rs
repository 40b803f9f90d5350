//! `collect.perf_schema.memory_events`: `performance_schema.memory_summary_global_by_event_name` (instruments
//! that allocated at least once) as `mysql_perf_schema_memory_events_{alloc,free}_bytes_total` and
//! `..._used_bytes` by `event_name`, with `--collect.perf_schema.memory_events.remove_prefix` cut from the names.

use clap::{Arg, ArgMatches};
use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

const REMOVE_PREFIX: &str = "collect.perf_schema.memory_events.remove_prefix";

/// The statement.
pub const QUERY: &str = "SELECT EVENT_NAME, SUM_NUMBER_OF_BYTES_ALLOC, SUM_NUMBER_OF_BYTES_FREE, \
                         CURRENT_NUMBER_OF_BYTES_USED FROM performance_schema.memory_summary_global_by_event_name \
                         WHERE COUNT_ALLOC > 0";

/// The flags.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new(REMOVE_PREFIX)
            .long(REMOVE_PREFIX)
            .default_value("memory/")
            .help("Remove instrument prefix in performance_schema.memory_summary_global_by_event_name"),
    ]
}

/// Builds the scraper from the flags.
pub fn build(m: &ArgMatches) -> Box<dyn Scraper> {
    Box::new(MemoryEvents {
        remove_prefix: m
            .try_get_one::<String>(REMOVE_PREFIX)
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_else(|| "memory/".to_string()),
    })
}

/// The `perf_schema.memory_events` scraper.
#[derive(Debug)]
pub struct MemoryEvents {
    remove_prefix: String,
}

impl Scraper for MemoryEvents {
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
                let name = get(0).strip_prefix(self.remove_prefix.as_str()).unwrap_or(get(0));
                let labels = Labels::from_pairs([("event_name", name)]);
                for (i, metric, kind, help) in [
                    (
                        1,
                        "memory_events_alloc_bytes_total",
                        MetricType::Counter,
                        "The total number of bytes allocated by events.",
                    ),
                    (
                        2,
                        "memory_events_free_bytes_total",
                        MetricType::Counter,
                        "The total number of bytes freed by events.",
                    ),
                    (
                        3,
                        "memory_events_used_bytes",
                        MetricType::Gauge,
                        "The number of bytes currently allocated by events.",
                    ),
                ] {
                    fams.add(&fq_name("perf_schema", metric), kind, help, labels.clone(), num(i));
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
    fn bytes_by_event() {
        let mut db = FakeDb::default().with(
            QUERY,
            &["e", "a", "f", "u"],
            &[&[
                Some("memory/sql/THD::main_mem_root"),
                Some("1000"),
                Some("400"),
                Some("-20"),
            ]],
        );
        let mut out = Vec::new();
        MemoryEvents {
            remove_prefix: "memory/".into(),
        }
        .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
        .ready()
        .expect("scrape");
        let l = "event_name=\"sql/THD::main_mem_root\"".to_string();
        let p = "mysql_perf_schema_memory_events_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}alloc_bytes_total"), l.clone(), MetricType::Counter, 1000.0),
                (format!("{p}free_bytes_total"), l.clone(), MetricType::Counter, 400.0),
                (format!("{p}used_bytes"), l, MetricType::Gauge, -20.0),
            ]
        );
    }
}
