//! `collect.engine_innodb_status`: three gauges from the text of `SHOW ENGINE INNODB STATUS`:
//! `mysql_engine_innodb_queries_inside_innodb` and `..._queries_in_queue` (from
//! `N queries inside InnoDB, M queries in queue`) and `..._read_views_open_inside_innodb` (from
//! `N read views open inside InnoDB`).

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name};

/// The statement.
pub const QUERY: &str = "SHOW ENGINE INNODB STATUS";

/// The `engine_innodb_status` scraper.
#[derive(Debug, Default)]
pub struct EngineInnodbStatus;

impl Scraper for EngineInnodbStatus {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(QUERY).await?;
            let status = rows
                .column("Status")
                .and_then(|i| rows.rows.first()?.get(i)?.clone())
                .unwrap_or_default();
            map_status(&status, out);
            Ok(())
        })
    }
}

/// The digits that end `s` (at least one), as a number.
fn trailing_number(s: &str) -> Option<f64> {
    let start = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    (start < s.len()).then(|| s[start..].parse().ok()).flatten()
}

/// The digits that start `s` (at least one) and the rest.
fn leading_number(s: &str) -> Option<(f64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (end > 0).then(|| Some((s[..end].parse().ok()?, &s[end..]))).flatten()
}

/// Maps the status text to families.
pub fn map_status(status: &str, out: &mut Vec<MetricFamily>) {
    const INSIDE: &str = " queries inside InnoDB, ";
    const VIEWS: &str = " read views open inside InnoDB";
    let mut fams = Families::new();
    let g = MetricType::Gauge;
    for line in status.lines() {
        if let Some(at) = line.find(INSIDE)
            && let Some(inside) = trailing_number(&line[..at])
            && let Some((queue, rest)) = leading_number(&line[at + INSIDE.len()..])
            && rest.starts_with(" queries in queue")
        {
            fams.add(
                &fq_name("engine_innodb", "queries_inside_innodb"),
                g,
                "Queries inside InnoDB.",
                Labels::new(),
                inside,
            );
            fams.add(
                &fq_name("engine_innodb", "queries_in_queue"),
                g,
                "Queries in queue.",
                Labels::new(),
                queue,
            );
        } else if let Some(at) = line.find(VIEWS)
            && let Some(views) = trailing_number(&line[..at])
        {
            fams.add(
                &fq_name("engine_innodb", "read_views_open_inside_innodb"),
                g,
                "Read views open inside InnoDB.",
                Labels::new(),
                views,
            );
        }
    }
    fams.finish(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::samples;

    const SAMPLE: &str = "\n----------\nSEMAPHORES\n----------\nOS WAIT ARRAY INFO: reservation count 15\n\
        --------------\nROW OPERATIONS\n--------------\n661 queries inside InnoDB, 10 queries in queue\n\
        15 read views open inside InnoDB\n0 RW transactions active inside InnoDB\n";

    #[test]
    fn status_text_to_gauges() {
        let mut db = FakeDb::default().with(
            QUERY,
            &["Type", "Name", "Status"],
            &[&[Some("InnoDB"), Some(""), Some(SAMPLE)]],
        );
        let mut out = Vec::new();
        EngineInnodbStatus
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let g = MetricType::Gauge;
        assert_eq!(
            samples(&out),
            vec![
                ("mysql_engine_innodb_queries_in_queue".into(), String::new(), g, 10.0),
                (
                    "mysql_engine_innodb_queries_inside_innodb".into(),
                    String::new(),
                    g,
                    661.0
                ),
                (
                    "mysql_engine_innodb_read_views_open_inside_innodb".into(),
                    String::new(),
                    g,
                    15.0
                ),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let mut out = Vec::new();
        map_status(
            "x queries inside InnoDB, 1 queries in queue\n5 queries inside InnoDB, y queries in queue\n read views open inside InnoDB\n",
            &mut out,
        );
        assert!(out.is_empty());
    }
}
