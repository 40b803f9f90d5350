//! Crash test: a child process (`server tsdb ingest-test`) ingests continuously and is killed with SIGKILL at
//! random points. After each kill the data directory is opened: every step committed before the last WAL fsync the
//! child recorded must be there, every series must hold exactly the steps `0..=M` (nothing lost in between,
//! nothing duplicated, all-or-nothing per commit), and the child resumes from there on the next round.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server::storage::{Queryable, Value, collect_samples};
use server::tsdb::cli::{ingest_test_histogram, ingest_test_histogram_labels, ingest_test_labels, ingest_test_value};
use server::tsdb::{Db, Options};

const SERIES: usize = 40;
const SEGMENT_SIZE: usize = 64 * 1024;

/// A small deterministic generator (the seed is printed so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn durable_step(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Checks the directory; returns the newest step present.
fn verify(dir: &Path, durable: Option<u64>, round: usize) -> Option<u64> {
    let opts = Options {
        wal_segment_size: SEGMENT_SIZE,
        ..Options::default()
    };
    let db = Db::open(dir, opts).unwrap_or_else(|e| panic!("round {round}: open failed: {e}"));
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let series = q.select(true, None, &[]).unwrap();
    let mut newest: Option<u64> = None;
    let mut histogram_samples = 0;
    if !series.is_empty() {
        assert_eq!(series.len(), SERIES + 1, "round {round}: every series exists");
        // The native histogram series sorts last.
        let h = &series[SERIES];
        assert_eq!(h.labels, ingest_test_histogram_labels(), "round {round}");
        let mut it = h.iter();
        let samples = collect_samples(&mut *it);
        histogram_samples = samples.len() as u64;
        for (step, (t, v)) in samples.into_iter().enumerate() {
            assert_eq!(
                t,
                step as i64 * 1000,
                "round {round}: histogram gap or duplicate at {step}"
            );
            match v {
                Value::Histogram(got) => {
                    let want = ingest_test_histogram(step as u64);
                    assert_eq!(
                        (got.count, &got.positive_buckets),
                        (want.count, &want.positive_buckets),
                        "round {round}"
                    );
                }
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert!(it.err().is_none());
    }
    for (i, s) in series.iter().take(SERIES).enumerate() {
        assert_eq!(s.labels, ingest_test_labels(i), "round {round}");
        let mut it = s.iter();
        let samples = collect_samples(&mut *it);
        assert!(it.err().is_none(), "round {round}: {:?}", it.err());
        for (step, (t, v)) in samples.iter().enumerate() {
            assert_eq!(
                *t,
                step as i64 * 1000,
                "round {round}: series {i} has a gap or duplicate at {step}"
            );
            match v {
                Value::Float(f) => assert_eq!(*f, ingest_test_value(i, step as u64), "round {round}: value"),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        let last = samples.len() as u64 - 1;
        match newest {
            None => newest = Some(last),
            Some(n) => assert_eq!(n, last, "round {round}: series {i} disagrees on the last commit"),
        }
    }
    if let Some(n) = newest {
        assert_eq!(
            histogram_samples,
            n + 1,
            "round {round}: the histogram series is committed with the floats"
        );
    }
    if let Some(d) = durable {
        assert!(
            newest.is_some_and(|n| n >= d),
            "round {round}: durable step {d} lost (newest present {newest:?})"
        );
    }
    drop(series);
    drop(q);
    db.close().unwrap();
    newest
}

#[test]
fn sigkill_at_random_points_loses_nothing_durable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let durable_file = dir.path().join("durable");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let mut rounds = 0;
    let mut last_newest = None;
    while rounds < 40 && started.elapsed() < Duration::from_secs(30) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["tsdb", "ingest-test", "--path"])
            .arg(&data)
            .arg("--durable-file")
            .arg(&durable_file)
            .args(["--series", &SERIES.to_string(), "--sync-every", "7"])
            .args(["--segment-size", &SEGMENT_SIZE.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the ingest child");
        std::thread::sleep(Duration::from_millis(20 + rng.next(400)));
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "child exited early ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let durable = durable_step(&durable_file);
        let newest = verify(&data, durable, rounds);
        if let (Some(prev), Some(now)) = (last_newest, newest) {
            assert!(now >= prev, "round {rounds}: data went backwards ({prev} -> {now})");
        }
        last_newest = newest;
        rounds += 1;
    }
    assert!(rounds >= 5, "only {rounds} rounds ran");
    let newest = last_newest.expect("the child committed something");
    println!("{rounds} rounds, {} steps of {SERIES} series survived", newest + 1);
    // Head chunks were cut and written, and the WAL spans several segments.
    assert!(newest > 240, "too few steps to exercise head chunks: {newest}");
    assert!(std::fs::read_dir(data.join("chunks_head")).unwrap().count() > 0);
    assert!(std::fs::read_dir(data.join("wal")).unwrap().count() > 2);
}
