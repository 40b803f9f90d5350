//! Differential test against a real Prometheus: the same generated data (see `promql_differential/data.rs`) is
//! loaded into Debian's `prometheus` (2.42, through blocks built by `promtool tsdb create-blocks-from
//! openmetrics`) and into our in-memory storage (through the same OpenMetrics file and our importer), and every
//! query of a generated set (`promql_differential/queries.rs`) runs on both: as instant queries at two times and
//! as a range query. Results must agree (labels exactly, values within a relative 1e-9, NaN equal to NaN, order
//! only under a top-level sort; both failing counts as agreement) except for the listed known differences
//! between 2.x and 3.x, which are printed with their reason and checked to still differ.
//!
//! Prints `CONFORMANCE promql-differential passed=.. failed=.. total=..`; `CONFORMANCE_VERBOSE=1` lists every
//! failure; `PROMQL_DIFF_DUMP=FILE` also writes the generated OpenMetrics data there for investigation.

mod promql_differential {
    pub mod data;
    pub mod prometheus;
    pub mod queries;
    pub mod result;
}

use std::time::Instant;

use exposition::conformance::Tally;
use promql_differential::data::{self, START};
use promql_differential::prometheus::Prometheus;
use promql_differential::queries;
use promql_differential::result::{Outcome, compare};
use server::promql::engine::{Engine, EngineOptions};
use server::promql::{ParseOptions, parse_with};
use server::storage::mem::MemStorage;

/// How one query is evaluated.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// An instant query at this time (seconds).
    Instant(f64),
    /// A range query: start, end, step (seconds).
    Range(f64, f64, f64),
}

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::Instant(t) => format!("instant@{}", t - START as f64),
            Mode::Range(s, e, step) => format!("range[{}..{} step {step}]", s - START as f64, e - START as f64),
        }
    }
}

/// Evaluation times at half seconds (never on a sample, see `data.rs`), and away from the multiples of the
/// subquery steps, where 3.x's left-open windows would drop a step 2.x keeps.
fn modes() -> [Mode; 3] {
    let s = START as f64;
    [
        Mode::Instant(s + 3.0 * 3600.0 + 0.5),
        Mode::Instant(s + 2.0 * 3600.0 + 15.0 * 60.0 + 7.5),
        Mode::Range(s + 1800.5, s + 1800.5 + 3.0 * 3600.0, 90.0),
    ]
}

fn ours(engine: &Engine, storage: &MemStorage, query: &str, mode: Mode) -> Outcome {
    let expr = match parse_with(query, &ParseOptions::default()) {
        Ok(e) => e,
        Err(e) => return Outcome::Error(format!("bad_data: {e}")),
    };
    let ms = |s: f64| (s * 1000.0).round() as i64;
    Outcome::from_engine(match mode {
        Mode::Instant(t) => engine.instant_query(storage, query, &expr, ms(t)),
        Mode::Range(start, end, step) => engine.range_query(storage, query, &expr, ms(start), ms(end), ms(step)),
    })
}

fn theirs(prom: &Prometheus, query: &str, mode: Mode) -> Outcome {
    match mode {
        Mode::Instant(t) => prom.instant(query, t),
        Mode::Range(start, end, step) => prom.range(query, start, end, step),
    }
}

#[test]
fn promql_matches_prometheus() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let text = data::openmetrics();
    let file = dir.path().join("data.om.txt");
    std::fs::write(&file, &text).expect("write data");
    if let Some(dump) = std::env::var_os("PROMQL_DIFF_DUMP") {
        std::fs::write(&dump, &text).unwrap_or_else(|e| panic!("writing {dump:?}: {e}"));
    }

    let storage = MemStorage::new();
    let stats = server::tsdb::import::import_openmetrics(text.as_bytes(), "data.om.txt", &storage)
        .unwrap_or_else(|e| panic!("importing the generated data: {e}"));
    println!("data: {} series, {} samples", stats.series, stats.samples);

    let prom = Prometheus::start(dir.path(), &file);
    println!("prometheus ready after {:.1}s", started.elapsed().as_secs_f64());

    let engine = Engine::new(EngineOptions::default());
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let mut tally = Tally::new("promql-differential");
    let mut stale = Vec::new();
    for query in queries::all() {
        let known = queries::known_difference(&query);
        let mut differed = false;
        for mode in modes() {
            let case = format!("{query} [{}]", mode.name());
            let want = theirs(&prom, &query, mode);
            let got = ours(&engine, &storage, &query, mode);
            let result = compare(want, got, queries::order(&query));
            match (known, result) {
                (Some(reason), Err(diff)) => {
                    differed = true;
                    println!("KNOWN-DIFFERENCE {case}: {reason} ({diff})");
                }
                (Some(_), Ok(())) => println!("KNOWN-DIFFERENCE {case}: agrees in this mode"),
                (None, Ok(())) => tally.pass(),
                (None, Err(diff)) => {
                    if verbose {
                        println!("DIFF {case}: {diff}");
                    }
                    tally.fail(case, diff);
                }
            }
        }
        if let Some(reason) = known
            && !differed
        {
            stale.push(format!(
                "{query}: listed as differing ({reason}) but agrees in every mode"
            ));
        }
    }
    for s in &stale {
        println!("STALE {s}");
    }
    println!("took {:.1}s", started.elapsed().as_secs_f64());
    drop(prom);
    tally.finish();
    assert!(
        stale.is_empty(),
        "known-difference entries that no longer differ: {stale:#?}"
    );
}
