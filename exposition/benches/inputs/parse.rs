//! Benchmark inputs and the two sides of the parse comparison, shared by `benches/parse.rs` and
//! `examples/count_parse.rs` (which runs them under an instruction counter).

use std::hint::black_box;

use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser};

/// A text body with 10,000 series across 100 gauge and counter families, labelled like real exporters.
pub fn generated_body() -> Vec<u8> {
    let mut out = String::new();
    for f in 0..100 {
        let counter = f % 2 == 0;
        let name = if counter {
            format!("app_requests_{f}_total")
        } else {
            format!("app_queue_depth_{f}")
        };
        out.push_str(&format!("# HELP {name} Generated family number {f}.\n"));
        out.push_str(&format!(
            "# TYPE {name} {}\n",
            if counter { "counter" } else { "gauge" }
        ));
        for s in 0..100 {
            out.push_str(&format!(
                "{name}{{instance=\"host-{s}.example.org:9100\",job=\"node\",method=\"GET\",code=\"{}\"}} {}\n",
                200 + s % 5,
                (f * 1000 + s) as f64 * 1.25
            ));
        }
    }
    out.into_bytes()
}

pub fn corpus_body() -> Option<Vec<u8>> {
    let dir = std::env::var_os("CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"));
    std::fs::read(dir.join("textparse/alltypes.237mfs.prom.txt")).ok()
}

/// Our parser in lenient text mode, every sample with its raw series bytes (what a scrape loop needs).
pub fn ours(body: &[u8]) -> usize {
    let mut n = 0;
    for entry in Parser::new(body, Format::Text, Mode::Lenient) {
        if let Ok(Entry::Sample(s)) = entry {
            n += s.series.len();
            black_box(s.value);
        }
    }
    n
}

/// The `prometheus-parse` crate, which takes one `String` per line.
pub fn theirs(body: &str) -> usize {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines)
        .map(|s| s.samples.len())
        .unwrap_or(0)
}
