#![no_main]
//! What mysql_exporter parses from outside: `.my.cnf` text (sections resolved with the flags, as `load_all` does)
//! and the text of `SHOW ENGINE INNODB STATUS`. Errors are fine; panics are not.

use std::path::Path;

use mysql_exporter::config::{Overrides, expand_env, parse_ini, resolve, split_host_port};
use mysql_exporter::scraper::engine_innodb_status::map_status;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.my.cnf");
    let overrides = Overrides {
        address: "localhost:3306".to_string(),
        ..Overrides::default()
    };
    if let Ok(sections) = parse_ini(text, path) {
        for keys in sections.values() {
            if let Ok(client) = resolve(Some(keys), path, &overrides) {
                let _ = client.with_target(text);
                let _ = client.target();
            }
        }
    }
    let _ = expand_env(text, |name| Some(name.to_string()));
    let _ = split_host_port(text);
    map_status(text, &mut Vec::new());
});
