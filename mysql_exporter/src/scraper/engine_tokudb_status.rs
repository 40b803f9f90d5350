//! `collect.engine_tokudb_status`: `SHOW ENGINE TOKUDB STATUS` (Percona Server with TokuDB) as untyped
//! `mysql_engine_tokudb_<name>` families, the status names lower-cased with `>`, `,`, `:`, `(`, `)` removed,
//! spaces and `-` turned into `_` and `+`, `/` into `and`; values that are not numbers are left out.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_status};

/// The statement.
pub const QUERY: &str = "SHOW ENGINE TOKUDB STATUS";

/// A TokuDB status name as a metric name part.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        match c {
            '>' | ',' | ':' | '(' | ')' => {}
            ' ' | '-' => out.push('_'),
            '+' | '/' => out.push_str("and"),
            c => out.push(c),
        }
    }
    out
}

/// The `engine_tokudb_status` scraper.
#[derive(Debug, Default)]
pub struct EngineTokudbStatus;

impl Scraper for EngineTokudbStatus {
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
                if let Some(value) = parse_status(get(2)) {
                    fams.add(
                        &fq_name("engine_tokudb", &sanitize(get(1))),
                        MetricType::Unknown,
                        "Generic metric from SHOW ENGINE TOKUDB STATUS.",
                        Labels::new(),
                        value,
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
    fn names_and_values() {
        for (input, want) in [
            (
                "indexer: number of calls to indexer->build() succeeded",
                "indexer_number_of_calls_to_indexer_build_succeeded",
            ),
            (
                "loader: max number of loaders that ever existed simultaneously",
                "loader_max_number_of_loaders_that_ever_existed_simultaneously",
            ),
            ("cachetable: size leaf+nonleaf", "cachetable_size_leafandnonleaf"),
            ("disk reads/writes", "disk_readsandwrites"),
        ] {
            assert_eq!(sanitize(input), want);
        }
        let mut db = FakeDb::default().with(
            QUERY,
            &["Type", "Name", "Status"],
            &[
                &[Some("TokuDB"), Some("cachetable: miss"), Some("42")],
                &[
                    Some("TokuDB"),
                    Some("time of environment creation"),
                    Some("Tue Nov 21 10:00:00 2023"),
                ],
            ],
        );
        let mut out = Vec::new();
        EngineTokudbStatus
            .scrape(&mut db, &ServerInfo::parse("5.7.40").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(
            samples(&out),
            vec![(
                "mysql_engine_tokudb_cachetable_miss".into(),
                String::new(),
                MetricType::Unknown,
                42.0
            )]
        );
    }
}
