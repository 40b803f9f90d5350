#![no_main]
//! prometheus.yml and rule files: loading any text must give a config or an error, never a panic.

use std::path::Path;

use server::config::{Config, Mode};
use server::promql::ParseOptions;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for mode in [Mode::Server, Mode::Agent] {
        let _ = Config::load_str(text, Path::new("fuzz.yml"), mode);
    }
    let _ = server::rules::file::load_str(text, Path::new("fuzz.rules.yml"), &ParseOptions::default());
    for format in [
        server::discovery::targetgroup::Format::Json,
        server::discovery::targetgroup::Format::Yaml,
    ] {
        let _ = server::discovery::targetgroup::parse_groups(text, format, |i| format!("fuzz:{i}"), ("__meta_x", "y"));
    }
});
