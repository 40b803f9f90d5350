#![no_main]
//! PromQL: the parser must never panic, and whatever it accepts must print to a query that parses back to the
//! same tree.

use server::promql::{ParseOptions, parse_with};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    for opts in [ParseOptions::default(), ParseOptions::all()] {
        let Ok(expr) = parse_with(query, &opts) else { continue };
        let printed = expr.to_string();
        let mut again = parse_with(&printed, &opts)
            .unwrap_or_else(|e| panic!("{query:?} printed as {printed:?}, which does not parse: {e}"));
        let mut first = expr.clone();
        first.canonicalize();
        again.canonicalize();
        assert_eq!(first, again, "{query:?} printed as {printed:?} re-parses differently");
        assert_eq!(again.to_string(), printed, "printing {query:?} is not stable");
    }
});
