//! Writes the data of upstream's PromQL range-query benchmark (see `benches/promql_shape`) as an OpenMetrics
//! file with explicit timestamps, for `bench/promql.sh` to load into Prometheus (`promtool tsdb
//! create-blocks-from openmetrics`) and into our TSDB (`server tsdb import-openmetrics`).
//!
//! Usage: `promql_bench_data FILE [INTERVALS]` (default: upstream's 18,640 samples per series);
//! `promql_bench_data --cases` prints the benchmark's cases, one `STEPS<TAB>EXPR` a line.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

#[path = "../benches/promql_shape/mod.rs"]
#[allow(dead_code)]
mod promql_shape;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: promql_bench_data FILE [INTERVALS] | --cases");
        return ExitCode::from(2);
    };
    if path == "--cases" {
        for c in promql_shape::cases(&[1, 10, 100, 1000]) {
            println!("{}\t{}", c.steps, c.expr);
        }
        return ExitCode::SUCCESS;
    }
    let intervals = match args.get(1).map(|s| s.parse::<usize>()) {
        None => promql_shape::INTERVALS,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("invalid INTERVALS {:?}: {e}", args[1]);
            return ExitCode::from(2);
        }
    };
    match write(path, intervals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writing {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(path: &str, intervals: usize) -> std::io::Result<()> {
    let series = promql_shape::series();
    let n = series.len();
    // OpenMetrics wants each family's samples together; the value keeps upstream's series position.
    let mut families: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
    for (i, (name, labels)) in series.iter().enumerate() {
        let text = if labels.is_empty() {
            name.clone()
        } else {
            let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", parts.join(","))
        };
        families.entry(name.as_str()).or_default().push((i, text));
    }
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for (name, members) in &families {
        writeln!(out, "# TYPE {name} unknown")?;
        for (i, text) in members {
            for s in 0..intervals {
                let t = s as i64 * promql_shape::INTERVAL_MS / 1000;
                writeln!(out, "{text} {} {t}", promql_shape::value(s, *i, n))?;
            }
        }
    }
    writeln!(out, "# EOF")?;
    out.flush()
}
