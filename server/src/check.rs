//! `server check config FILE...`: loads each file like the server would and reports `SUCCESS`/`FAILED` per file in
//! the manner of `promtool check config`.

use std::io::Write;
use std::path::Path;

use crate::config::{Config, Mode};

/// Checks every file, writing promtool-style lines to `out` (results) and `err` (failures); returns whether all
/// passed.
pub fn check_config_files(files: &[impl AsRef<Path>], mode: Mode, out: &mut impl Write, err: &mut impl Write) -> bool {
    let mut all_ok = true;
    for file in files {
        let file = file.as_ref();
        let _ = writeln!(out, "Checking {}", file.display());
        match Config::load_file(file, mode) {
            Ok(config) => {
                let rule_files = config.rule_files.len();
                let jobs = config.scrape_configs().count();
                let _ = writeln!(
                    out,
                    " SUCCESS: {} is valid prometheus config file syntax",
                    file.display()
                );
                let _ = writeln!(out, "  {jobs} scrape config(s), {rule_files} rule file pattern(s)");
                for scrape in config.scrape_configs() {
                    for (mechanism, _) in scrape.unsupported_discovery() {
                        let _ = writeln!(
                            out,
                            "  WARNING: job {:?} uses {mechanism}_sd_configs, which this server parses but does not run",
                            scrape.job_name
                        );
                    }
                }
            }
            Err(e) => {
                all_ok = false;
                let _ = writeln!(err, "  FAILED: {e}");
            }
        }
        let _ = writeln!(out);
    }
    all_ok
}
