//! Support for the conformance harnesses of every crate (enabled with the `conformance` feature, which the
//! crates turn on for their tests only).
//!
//! A harness finds the upstream corpora through [`corpus_dir`] (`$CONFORMANCE_DIR`, else `../shared/conformance`
//! beside the repository root), counts passes and failures per suite, and calls [`Tally::finish`], which prints
//! exactly `CONFORMANCE <suite> passed=<n> failed=<n> total=<n>` and fails when passes drop below the suite's
//! baseline in `testdata/conformance-baseline.toml` (the ratchet: numbers there only go up).

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The conformance corpora folder, or `None` (after printing one loud line) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("../shared/conformance"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "CONFORMANCE CORPUS MISSING: {} does not exist; set CONFORMANCE_DIR. Conformance suites are skipped.",
            dir.display()
        );
        None
    }
}

/// The baseline pass count for `suite` from `testdata/conformance-baseline.toml` (0 when not listed).
pub fn baseline(suite: &str) -> u64 {
    let path = repo_root().join("testdata/conformance-baseline.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    table
        .get(suite)
        .and_then(|s| s.get("passed"))
        .and_then(|p| p.as_integer())
        .map(|p| p as u64)
        .unwrap_or(0)
}

/// Pass/fail counts of one suite, with the names of failing cases.
#[derive(Debug, Default)]
pub struct Tally {
    suite: String,
    passed: u64,
    failures: Vec<String>,
}

impl Tally {
    /// A new tally for `suite`.
    pub fn new(suite: &str) -> Tally {
        Tally {
            suite: suite.to_owned(),
            ..Tally::default()
        }
    }

    /// Records one case.
    pub fn record(&mut self, case: impl Into<String>, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(case.into());
        }
    }

    /// Records a failing case with the reason.
    pub fn fail(&mut self, case: impl Into<String>, reason: impl std::fmt::Display) {
        self.failures.push(format!("{}: {reason}", case.into()));
    }

    /// Records a passing case.
    pub fn pass(&mut self) {
        self.passed += 1;
    }

    /// Passes so far.
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// Failing cases so far.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// Prints the failures (the first 20, or all with `CONFORMANCE_VERBOSE` set) and the summary line, then
    /// panics if passes are below the checked-in baseline.
    pub fn finish(self) {
        let all = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
        let shown = if all {
            self.failures.len()
        } else {
            self.failures.len().min(20)
        };
        for f in &self.failures[..shown] {
            println!("FAIL {}: {f}", self.suite);
        }
        if shown < self.failures.len() {
            println!(
                "FAIL {}: ... and {} more (set CONFORMANCE_VERBOSE=1 to list all)",
                self.suite,
                self.failures.len() - shown
            );
        }
        let failed = self.failures.len() as u64;
        println!(
            "CONFORMANCE {} passed={} failed={} total={}",
            self.suite,
            self.passed,
            failed,
            self.passed + failed
        );
        let base = baseline(&self.suite);
        assert!(
            self.passed >= base,
            "conformance suite {} regressed: {} passed, baseline is {} (testdata/conformance-baseline.toml)",
            self.suite,
            self.passed,
            base
        );
    }
}
