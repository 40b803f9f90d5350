//! Conformance: upstream's PromQL test scripts (`promql/*.test`) evaluated by our engine through the promqltest
//! runner, with all experimental syntax and functions enabled (as upstream runs them). Prints passes and failures
//! per file and per category (float, native histogram, experimental), then `CONFORMANCE promql ...` over all
//! evals. With `CONFORMANCE_VERBOSE=1` every failing eval is printed with the difference.

use std::collections::BTreeMap;
use std::time::Duration;

use exposition::conformance::{Tally, corpus_dir};
use server::promql::engine::{Engine, EngineOptions};
use server::promql::promqltest::{Category, run_script};

/// Evals knowingly out of scope: (file, line, reason); line 0 covers the whole file. They count as failures
/// and are listed with the reason.
const OUT_OF_SCOPE: &[(&str, usize, &str)] = &[
    (
        "aggregators.test",
        481,
        "count_values(\"a\\xc5z\", ...) expects the engine to reject an invalid UTF-8 label name, but query \
         strings are UTF-8 here: the parser already rejects the literal (a parse error, not the engine's message)",
    ),
    (
        "start_timestamps.test",
        0,
        "sample start timestamps (`metric@st` series, start_timestamp()) need a start timestamp per sample in the \
     storage Appender/iterators, which the storage traits do not carry yet",
    ),
];

#[test]
fn promql_scripts() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let dir = dir.join("promql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let engine = Engine::new(EngineOptions {
        enable_experimental_functions: true,
        enable_duration_expressions: true,
        enable_extended_range_selectors: true,
        enable_binop_fill_modifiers: true,
        lookback_delta: Duration::from_secs(300),
        timeout: Duration::from_secs(100),
        ..EngineOptions::default()
    });
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let mut tally = Tally::new("promql");
    let mut per_category: BTreeMap<Category, (u64, u64)> = BTreeMap::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcomes = match run_script(&text, &engine) {
            Ok(o) => o,
            Err(e) => {
                tally.fail(name.clone(), format!("script does not parse: {e}"));
                continue;
            }
        };
        let (mut p, mut f) = (0, 0);
        for o in outcomes {
            let entry = per_category.entry(o.category).or_default();
            match &o.result {
                Ok(()) => {
                    p += 1;
                    entry.0 += 1;
                    tally.pass();
                }
                Err(why) => {
                    f += 1;
                    entry.1 += 1;
                    let scope = if OUT_OF_SCOPE
                        .iter()
                        .any(|(fname, line, _)| *fname == name && (*line == o.line || *line == 0))
                    {
                        " [out of scope]"
                    } else {
                        ""
                    };
                    let case = format!("{name}:{}{scope}", o.line);
                    if verbose {
                        tally.fail(case, format!("{}: {why}", o.query));
                    } else {
                        tally.fail(case, o.query.clone());
                    }
                }
            }
        }
        println!("promql {name}: passed={p} failed={f}");
    }
    for (cat, (p, f)) in &per_category {
        println!("promql category {}: passed={p} failed={f}", cat.as_str());
    }
    for (file, line, reason) in OUT_OF_SCOPE {
        println!("promql out of scope: {file}:{line}: {reason}");
    }
    tally.finish();
}
