//! Runs one side of the parse benchmark a given number of times, for an instruction counter:
//!
//! ```text
//! cargo build --profile bench -p exposition --example count_parse
//! valgrind --tool=callgrind target/release/examples/count_parse ours alltypes 10
//! ```
//!
//! Arguments: `ours` or `theirs` (the `prometheus-parse` crate), `alltypes` (the conformance corpus body) or `10k`
//! (the generated body), and the number of parses. Subtracting the count for `N` parses from the count for `N+k`
//! leaves `k` parses without the setup.

use std::hint::black_box;

#[path = "../benches/inputs/parse.rs"]
mod inputs;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [side, input, n] = args.as_slice() else {
        return Err("usage: count_parse ours|theirs alltypes|10k <iterations>".into());
    };
    let body = match input.as_str() {
        "alltypes" => inputs::corpus_body().ok_or("conformance corpus not found (set CONFORMANCE_DIR)")?,
        "10k" => inputs::generated_body(),
        other => return Err(format!("unknown input {other:?}")),
    };
    let n: usize = n.parse().map_err(|e| format!("iterations {n:?}: {e}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut total = 0;
    for _ in 0..n {
        total += match side.as_str() {
            "ours" => inputs::ours(black_box(&body)),
            "theirs" => inputs::theirs(black_box(&text)),
            other => return Err(format!("unknown side {other:?}")),
        };
    }
    println!("{side} {input} x{n}: {total}");
    Ok(())
}
