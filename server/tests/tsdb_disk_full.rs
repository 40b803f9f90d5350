//! Disk-full test: appends continue until the WAL can no longer be written, then:
//!
//! - the failing commit returns an error naming the WAL segment and the OS error, and
//!   `prometheus_tsdb_wal_writes_failed_total` counts it;
//! - failed commits leave nothing behind: neither queries nor a later replay see their samples;
//! - once space is back, the same open database accepts commits again (including the timestamps that failed);
//! - after a reopen, every committed sample is there, exactly once, with its value.
//!
//! A full disk is simulated without privileges: the soft `RLIMIT_FSIZE` of this process is lowered, so writes past
//! that file size fail with `EFBIG` (`SIGXFSZ` is blocked in this thread so the write returns an error rather than
//! killing the process) exactly where a full file system fails with `ENOSPC`: part way through a write. The limit
//! is process-wide, so this file holds a single test and runs its scenarios one after the other.

use std::path::Path;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SigSet, Signal};
use server::model::labels::Labels;
use server::storage::{Appendable, Queryable, Value, collect_samples};
use server::tsdb::{Db, Options};

const SERIES: usize = 50;

/// Value of series `i` at step `step` (timestamp `step * 1000`).
fn value(i: usize, step: u64) -> f64 {
    step as f64 * 10.0 + i as f64
}

/// The value retries of a failed commit write (when records are not compressed): never a committed value.
const FAILED_VALUE: f64 = -1.0;

fn labels(i: usize) -> Labels {
    [("__name__", "disk_full_test"), ("series", &format!("{i:03}"))]
        .into_iter()
        .collect()
}

/// Commits one step of every series with `v(i)`.
fn commit_step(db: &Db, refs: &mut [u64], step: u64, v: impl Fn(usize) -> f64) -> Result<(), String> {
    let mut app = db.appender();
    for (i, r) in refs.iter_mut().enumerate() {
        *r = app
            .append(*r, &labels(i), step as i64 * 1000, v(i))
            .map_err(|e| format!("append step {step} series {i}: {e}"))?;
    }
    app.commit().map_err(|e| e.to_string())
}

/// Asserts that the database holds exactly steps `0..steps` of every series, with their values.
fn assert_exactly(db: &Db, steps: u64, context: &str) {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let series = q.select(true, None, &[]).unwrap();
    assert_eq!(series.len(), SERIES, "{context}: series count");
    for (i, s) in series.iter().enumerate() {
        assert_eq!(s.labels, labels(i), "{context}");
        let mut it = s.iter();
        let samples = collect_samples(&mut *it);
        assert!(it.err().is_none(), "{context}: {:?}", it.err());
        let want: Vec<(i64, f64)> = (0..steps).map(|step| (step as i64 * 1000, value(i, step))).collect();
        let got: Vec<(i64, f64)> = samples
            .into_iter()
            .map(|(t, v)| match v {
                Value::Float(f) => (t, f),
                other => panic!("{context}: unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{context}: series {i} sample count");
        assert_eq!(got, want, "{context}: series {i}");
    }
}

struct Scenario {
    name: &'static str,
    /// The simulated free space: the size no file may grow past.
    limit: u64,
    /// WAL segment size.
    segment_size: usize,
    /// WAL record compression.
    compress: bool,
}

fn run(scenario: &Scenario, dir: &Path) {
    let name = scenario.name;
    let opts = Options {
        wal_segment_size: scenario.segment_size,
        wal_compression: scenario.compress,
        ..Options::default()
    };
    let db = Db::open(dir, opts.clone()).unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_FSIZE).unwrap();
    setrlimit(Resource::RLIMIT_FSIZE, scenario.limit.min(hard), hard).unwrap();

    // Fill: commit until the WAL cannot take a commit any more.
    let mut refs = vec![0u64; SERIES];
    let mut committed = 0u64;
    let error = loop {
        assert!(committed < 1_000_000, "{name}: the WAL never filled up");
        match commit_step(&db, &mut refs, committed, |i| value(i, committed)) {
            Ok(()) => committed += 1,
            Err(e) => break e,
        }
    };
    println!("{name}: {committed} commits fit, then: {error}");
    assert!(committed > 10, "{name}: only {committed} commits before the error");
    assert!(
        error.contains("wal") && error.contains("File too large"),
        "{name}: the error names the WAL file and the cause: {error}"
    );
    let failed_writes = db.metrics().wal.writes_failed.get();
    assert!(failed_writes >= 1.0, "{name}: writes_failed = {failed_writes}");
    assert_exactly(&db, committed, &format!("{name}, after the first failure"));

    // Still full: the same commit fails again (the failed one left no bytes behind, so exactly the same space is
    // left), and none of the attempts becomes visible. Uncompressed records have the same size whatever the values,
    // so those attempts write values never committed: a trace of them in the WAL would show after the replay.
    let retry_value = |i: usize| {
        if scenario.compress {
            value(i, committed)
        } else {
            FAILED_VALUE
        }
    };
    for attempt in 0..3 {
        let err =
            commit_step(&db, &mut refs, committed, retry_value).expect_err("a commit succeeded while the disk is full");
        assert!(err.contains("File too large"), "{name}: attempt {attempt}: {err}");
    }
    assert!(
        db.metrics().wal.writes_failed.get() >= failed_writes + 3.0,
        "{name}: every failure counted"
    );
    assert_exactly(&db, committed, &format!("{name}, after failed retries"));

    // Space is back: the same open database continues, starting at the timestamp that failed.
    setrlimit(Resource::RLIMIT_FSIZE, soft, hard).unwrap();
    let total = committed + 20;
    for step in committed..total {
        commit_step(&db, &mut refs, step, |i| value(i, step))
            .unwrap_or_else(|e| panic!("{name}: commit of step {step} after space came back: {e}"));
    }
    assert_exactly(&db, total, &format!("{name}, after recovery"));
    db.close().unwrap();

    // Replay: everything committed, nothing of the failed commits.
    let db = Db::open(dir, opts).unwrap();
    assert_exactly(&db, total, &format!("{name}, after reopening"));
    db.close().unwrap();
}

#[test]
fn full_disk_fails_commits_cleanly_and_recovers() {
    // Writes past the limit raise SIGXFSZ; blocked, the write fails with EFBIG instead.
    let mut set = SigSet::empty();
    set.add(Signal::SIGXFSZ);
    set.thread_block().unwrap();
    let scenarios = [
        Scenario {
            name: "snappy records, one large segment",
            limit: 192 * 1024,
            segment_size: 128 << 20,
            compress: true,
        },
        Scenario {
            name: "uncompressed records, limit inside a page",
            limit: 5 * 32 * 1024 + 1000,
            segment_size: 128 << 20,
            compress: false,
        },
        Scenario {
            name: "limit inside the second of two-page segments",
            limit: 32 * 1024 + 777,
            segment_size: 64 * 1024,
            compress: false,
        },
    ];
    for s in &scenarios {
        let dir = tempfile::tempdir().unwrap();
        run(s, dir.path());
    }
}
