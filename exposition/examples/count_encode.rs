//! Runs one side of the encode benchmark a given number of times, for an instruction counter:
//!
//! ```text
//! cargo build --profile bench -p exposition --example count_encode
//! valgrind --tool=callgrind target/release/examples/count_encode text 10
//! ```
//!
//! Arguments: `text` or `openmetrics` (our encoders) or `theirs` (the `prometheus-client` crate), and the number
//! of encodes. Prints the lines one encode writes; subtracting the count for `N` encodes from the count for `N+k`
//! leaves `k` encodes without the setup.

use std::hint::black_box;

use exposition::encode::{encode_openmetrics, encode_text};

#[path = "../benches/inputs/encode.rs"]
mod inputs;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [side, n] = args.as_slice() else {
        return Err("usage: count_encode text|openmetrics|theirs <iterations>".into());
    };
    let n: usize = n.parse().map_err(|e| format!("iterations {n:?}: {e}"))?;
    let fams = inputs::ours();
    let reg = inputs::theirs();
    let mut buf = Vec::new();
    let mut s = String::new();
    for _ in 0..n {
        buf.clear();
        s.clear();
        match side.as_str() {
            "text" => encode_text(black_box(&fams), &mut buf),
            "openmetrics" => encode_openmetrics(black_box(&fams), &mut buf),
            "theirs" => {
                prometheus_client::encoding::text::encode(&mut s, black_box(&reg)).map_err(|e| e.to_string())?
            }
            other => return Err(format!("unknown side {other:?}")),
        }
        black_box(buf.len() + s.len());
    }
    let lines = buf.iter().chain(s.as_bytes()).filter(|&&b| b == b'\n').count();
    println!("{side} x{n}: {lines} lines per encode");
    Ok(())
}
