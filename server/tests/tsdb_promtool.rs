//! Data directories move between Prometheus and this TSDB in both directions, checked with the real tools
//! (Debian's `prometheus` and `promtool`, 2.42; `PROMETHEUS`/`PROMTOOL` override the paths):
//!
//! - a directory written here (WAL with a checkpoint, `chunks_head/` files) is read by `promtool tsdb dump`, which
//!   replays it with Prometheus' own code, and gives exactly our samples;
//! - a directory written by a Prometheus server scraping itself is replayed here and gives exactly what
//!   `promtool tsdb dump` reads from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server::model::histogram::{Histogram, Span};
use server::model::labels::Labels;
use server::storage::{Appendable, Queryable, Value, collect_samples};
use server::tsdb::{Db, Options};

fn tool(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: install Debian's `prometheus` package (it ships prometheus and promtool) or set {env}",
        path.display()
    );
    path
}

/// Samples by series (labels rendered as `{a="b", ...}`), values as bits (NaNs canonicalised).
type Samples = BTreeMap<String, Vec<(i64, u64)>>;

fn canon(v: f64) -> u64 {
    if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() }
}

fn render(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Parses `promtool tsdb dump` output: `{labels} value timestamp` per line.
fn promtool_dump(dir: &Path) -> Samples {
    let out = Command::new(tool("PROMTOOL", "/usr/bin/promtool"))
        .args(["tsdb", "dump"])
        .arg(dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 dump");
    let mut samples = Samples::new();
    for line in text.lines() {
        let close = line
            .rfind("} ")
            .unwrap_or_else(|| panic!("unexpected dump line {line:?}"));
        let (labels, rest) = (&line[..=close], &line[close + 2..]);
        let mut fields = rest.split(' ');
        let (Some(v), Some(t)) = (fields.next(), fields.next()) else {
            panic!("unexpected dump line {line:?}")
        };
        let v = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|e| panic!("value {v:?}: {e}")),
        };
        samples
            .entry(labels.to_string())
            .or_default()
            .push((t.parse().expect("timestamp"), canon(v)));
    }
    samples
}

fn our_dump(db: &Db) -> Samples {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut samples = Samples::new();
    for s in q.select(true, None, &[]).unwrap() {
        let mut it = s.iter();
        let list = collect_samples(&mut *it)
            .into_iter()
            .map(|(t, v)| match v {
                Value::Float(f) => (t, canon(f)),
                Value::Histogram(h) => (t, h.count),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert!(it.err().is_none(), "{:?}", it.err());
        drop(it);
        samples.insert(render(&s.labels), list);
    }
    samples
}

#[test]
fn promtool_reads_our_wal_checkpoints_and_head_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        wal_segment_size: 64 * 1024,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    let specials = [
        f64::from_bits(0x7ff0_0000_0000_0002),
        f64::INFINITY,
        -0.0,
        1e300,
        -3.25e-200,
    ];
    let mut refs = vec![0u64; 30];
    for step in 0..1500i64 {
        let mut app = db.appender();
        for (i, r) in refs.iter_mut().enumerate() {
            let l: Labels = [
                ("__name__", if i % 3 == 0 { "requests_total" } else { "temperature" }),
                ("instance", &format!("host-{i}")),
                ("path", "/a \"quoted\" \\ path\n"),
            ]
            .into_iter()
            .collect();
            let v = if step % 97 == i as i64 {
                specials[i % specials.len()]
            } else if i % 3 == 0 {
                (step * (i as i64 + 1)) as f64
            } else {
                20.0 + ((step * 7 + i as i64) % 13) as f64 / 8.0
            };
            *r = app
                .append(*r, &l, 1_700_000_000_000 + step * 15_000 + i as i64, v)
                .unwrap();
        }
        app.commit().unwrap();
    }
    // Native histograms in the same WAL and head chunks: Prometheus must replay them without finding corruption
    // (its dump then still lists every float sample after them). They cover the last hour: older samples are out
    // of bounds (more than half a chunk range before the newest).
    let hl: Labels = [("__name__", "latency_seconds")].into_iter().collect();
    for step in 1260..1500i64 {
        let mut app = db.appender();
        let n = step as u64 % 200;
        let h = Histogram {
            schema: 2,
            zero_threshold: 2f64.powi(-128),
            zero_count: n,
            count: 3 * n,
            sum: n as f64 * 0.75,
            positive_spans: vec![Span { offset: -1, length: 2 }],
            positive_buckets: vec![n as i64, 0],
            ..Histogram::default()
        };
        app.append_histogram(0, &hl, 1_700_000_000_000 + step * 15_000, &h)
            .unwrap();
        app.commit().unwrap();
    }
    let stats = db.head().truncate(1_700_000_000_000 + 1000 * 15_000).unwrap();
    assert!(stats.checkpoint.is_some(), "a checkpoint was written");
    for step in 1500..1600i64 {
        let mut app = db.appender();
        for (i, r) in refs.iter_mut().enumerate() {
            app.append(
                *r,
                &Labels::new(),
                1_700_000_000_000 + step * 15_000 + i as i64,
                step as f64,
            )
            .unwrap();
        }
        app.commit().unwrap();
    }
    db.close().unwrap();
    // What we replay and what Prometheus replays from the same directory agree exactly.
    let theirs = promtool_dump(dir.path());
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut ours = our_dump(&db);
    db.close().unwrap();
    // promtool 2.42 dumps float samples only.
    ours.remove("{__name__=\"latency_seconds\"}");
    assert_eq!(ours.len(), 30);
    assert!(
        ours.values().all(|s| s.len() >= 600),
        "samples after the truncation point are all there"
    );
    assert_eq!(theirs, ours);
}

#[test]
fn we_read_a_prometheus_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(tool("PROMETHEUS", "/usr/bin/prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    // Let it scrape itself a few times: wait until its WAL holds the series and several scrapes.
    let segment = data.join("wal/00000000");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::metadata(&segment).map_or(0, |m| m.len()) < 12_000 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("prometheus did not write its WAL in time");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "prometheus did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(data.join("wal/00000000").exists(), "prometheus wrote a WAL");
    let theirs = promtool_dump(&data);
    assert!(theirs.len() > 50, "prometheus scraped itself: {} series", theirs.len());
    let db = Db::open(&data, Options::default()).unwrap();
    assert_eq!(db.metrics().wal.corruptions.get(), 0.0);
    let ours = our_dump(&db);
    db.close().unwrap();
    assert_eq!(ours, theirs);
}
