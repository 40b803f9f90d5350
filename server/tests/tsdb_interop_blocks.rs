//! Blocks move between Prometheus and this TSDB, checked with Debian's Prometheus 2.42 (`PROMETHEUS`/`PROMTOOL`
//! override the paths):
//!
//! - blocks we cut from the head are read by `promtool tsdb list`, `analyze` and `dump`, which gives exactly our
//!   samples (with and without the head);
//! - blocks `promtool tsdb create-blocks-from openmetrics` writes are read here to the samples of the input file;
//! - a Prometheus server started on a data directory we wrote answers `/api/v1/query` and `/api/v1/query_range`
//!   with our samples, native histograms included (read from our blocks' histogram chunks).

use std::collections::BTreeMap;
use std::io::{Read, Write};
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

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new(tool("PROMTOOL", "/usr/bin/promtool"))
        .arg("tsdb")
        .args(args)
        .arg(dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool tsdb {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Parses `promtool tsdb dump` output: `{labels} value timestamp` per line.
fn promtool_dump(dir: &Path, mint: i64, maxt: i64) -> Samples {
    let text = promtool(
        &["dump", &format!("--min-time={mint}"), &format!("--max-time={maxt}")],
        dir,
    );
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
        let v = parse_value(v);
        samples
            .entry(labels.to_string())
            .or_default()
            .push((t.parse().expect("timestamp"), canon(v)));
    }
    samples
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().unwrap_or_else(|e| panic!("value {v:?}: {e}")),
    }
}

fn our_dump(db: &Db, mint: i64, maxt: i64) -> Samples {
    let q = db.querier(mint, maxt).unwrap();
    let mut samples = Samples::new();
    for s in q.select(true, None, &[]).unwrap() {
        let mut it = s.iter();
        let list = collect_samples(&mut *it)
            .into_iter()
            .filter_map(|(t, v)| match v {
                Value::Float(f) => Some((t, canon(f))),
                _ => None,
            })
            .collect::<Vec<_>>();
        assert!(it.err().is_none(), "{:?}", it.err());
        drop(it);
        if !list.is_empty() {
            samples.insert(render(&s.labels), list);
        }
    }
    samples
}

/// Appends 20 float series every 15s over `[from, to)` (ms), with special values sprinkled in.
fn ingest(db: &Db, from: i64, to: i64) {
    let specials = [
        f64::from_bits(0x7ff0_0000_0000_0002),
        f64::INFINITY,
        -0.0,
        1e300,
        -3.25e-200,
    ];
    let mut refs = [0u64; 20];
    let mut t = from;
    let mut step = 0i64;
    while t < to {
        let mut app = db.appender();
        for (i, r) in refs.iter_mut().enumerate() {
            let l: Labels = [
                (
                    "__name__",
                    if i % 2 == 0 {
                        "interop_requests_total"
                    } else {
                        "interop_temperature"
                    },
                ),
                ("instance", &format!("host-{i}")),
                ("path", "/a \"quoted\" path"),
            ]
            .into_iter()
            .collect();
            let v = if step % 89 == i as i64 {
                specials[i % specials.len()]
            } else if i % 2 == 0 {
                (step * (i as i64 + 1)) as f64
            } else {
                20.0 + ((step * 7 + i as i64) % 13) as f64 / 8.0
            };
            *r = app.append(*r, &l, t, v).unwrap();
        }
        app.commit().unwrap();
        t += 15_000;
        step += 1;
    }
}

const BASE: i64 = 1_700_000_000_000 / 7_200_000 * 7_200_000;

#[test]
fn promtool_reads_our_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    ingest(&db, BASE, BASE + 7 * 3_600_000);
    let stats = db.compact().unwrap();
    assert_eq!(stats.head_blocks.len(), 2, "{stats:?}");
    let blocks: Vec<_> = db.blocks().iter().map(|b| b.meta()).collect();

    // `list` shows our blocks with their statistics.
    let list = promtool(&["list"], dir.path());
    for m in &blocks {
        let line = list
            .lines()
            .find(|l| l.starts_with(&m.ulid.to_string()))
            .unwrap_or_else(|| panic!("block {} missing from promtool list:\n{list}", m.ulid));
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.contains(&m.stats.num_samples.to_string().as_str()), "{line}");
        assert!(fields.contains(&"20"), "{line}");
    }
    // `analyze` reads the newest block's index and chunks.
    let newest = blocks.last().unwrap();
    let analysis = promtool(&["analyze"], dir.path());
    assert!(analysis.contains(&format!("Block ID: {}", newest.ulid)), "{analysis}");
    assert!(analysis.contains("Series: 20"), "{analysis}");
    assert!(analysis.contains("interop_temperature"), "{analysis}");

    // `dump` of blocks and head together, and of the blocks alone (a snapshot without the head).
    let ours = our_dump(&db, i64::MIN, i64::MAX);
    assert_eq!(ours.len(), 20);
    assert_eq!(ours.values().map(Vec::len).sum::<usize>(), 20 * 7 * 240);
    let snap = tempfile::tempdir().unwrap();
    db.snapshot(&snap.path().join("s"), false).unwrap();
    // promtool opens a full data directory: give the snapshot an empty WAL.
    std::fs::create_dir(snap.path().join("s/wal")).unwrap();
    let block_end = blocks.last().unwrap().max_time;
    let ours_blocks = our_dump(&db, i64::MIN, block_end - 1);
    db.close().unwrap();
    assert_eq!(promtool_dump(dir.path(), i64::MIN, i64::MAX), ours);
    assert_eq!(promtool_dump(&snap.path().join("s"), i64::MIN, i64::MAX), ours_blocks);
    // A time range inside the first block.
    let (lo, hi) = (BASE + 600_000, BASE + 3_000_000);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(promtool_dump(dir.path(), lo, hi), our_dump(&db, lo, hi));
}

#[test]
fn we_read_blocks_promtool_creates_from_openmetrics() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.om");
    let mut text = String::new();
    let mut want = Samples::new();
    let t0 = BASE / 1000;
    text.push_str("# HELP om_room_temperature Temperature.\n# TYPE om_room_temperature gauge\n");
    for room in ["kitchen", "attic", "cellar"] {
        for k in 0..600i64 {
            let t = t0 + k * 30;
            let v = (k as f64 * 0.37).sin() * 10.0 + room.len() as f64;
            text.push_str(&format!("om_room_temperature{{room=\"{room}\"}} {v:?} {t}\n"));
            want.entry(format!("{{__name__=\"om_room_temperature\", room={room:?}}}"))
                .or_default()
                .push((t * 1000, canon(v)));
        }
    }
    text.push_str("# HELP om_jobs_total Jobs.\n# TYPE om_jobs counter\n");
    for k in 0..400i64 {
        let t = t0 + 3 + k * 60;
        text.push_str(&format!("om_jobs_total{{queue=\"q1\"}} {} {t}\n", k * 3));
        want.entry("{__name__=\"om_jobs_total\", queue=\"q1\"}".to_string())
            .or_default()
            .push((t * 1000, canon((k * 3) as f64)));
    }
    text.push_str("# EOF\n");
    std::fs::write(&input, text).unwrap();
    let out_dir = dir.path().join("blocks");
    let status = Command::new(tool("PROMTOOL", "/usr/bin/promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
        .arg(&input)
        .arg(&out_dir)
        .status()
        .expect("run promtool");
    assert!(status.success());
    let db = Db::open(&out_dir, Options::default()).unwrap();
    // Five hours of data in 2h blocks.
    assert!(db.blocks().len() >= 3, "{} blocks", db.blocks().len());
    for v in want.values_mut() {
        v.sort();
    }
    assert_eq!(our_dump(&db, i64::MIN, i64::MAX), want);
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(q.label_values("room", &[]).unwrap(), vec!["attic", "cellar", "kitchen"]);
}

/// A GET on the loopback server, returning the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split(' ').nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses `[[seconds, "value"], ...]`.
fn points(values: &serde_json::Value) -> Vec<(i64, u64)> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            (t, canon(parse_value(p[1].as_str().unwrap())))
        })
        .collect()
}

#[test]
fn prometheus_serves_a_data_directory_we_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let end = now / 15_000 * 15_000 - 60_000;
    let start = end - 5 * 3_600_000;
    let db = Db::open(&data, Options::default()).unwrap();
    ingest(&db, start, end);
    // A native histogram series: its chunks go into the blocks too.
    let hl: Labels = [("__name__", "interop_latency_seconds")].into_iter().collect();
    let mut hist_want = Vec::new();
    let mut t = start;
    while t < end {
        let n = ((t - start) / 15_000 % 300) as u64;
        let h = Histogram {
            schema: 1,
            zero_threshold: 2f64.powi(-128),
            zero_count: n,
            count: 3 * n,
            sum: n as f64 * 0.75,
            positive_spans: vec![Span { offset: -1, length: 2 }],
            positive_buckets: vec![n as i64, 0],
            ..Histogram::default()
        };
        let mut app = db.appender();
        app.append_histogram(0, &hl, t, &h).unwrap();
        app.commit().unwrap();
        hist_want.push((t, 3 * n, n as f64 * 0.75));
        t += 15_000;
    }
    let stats = db.compact().unwrap();
    assert!(!stats.head_blocks.is_empty());
    let ours = our_dump(&db, i64::MIN, i64::MAX);
    db.close().unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let mut child = Command::new(tool("PROMETHEUS", "/usr/bin/prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--enable-feature=native-histograms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, "/-/ready").is_none_or(|(s, _)| s != 200) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("prometheus did not become ready");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let query = |path: String| -> serde_json::Value {
        let (status, body) = http_get(port, &path).expect("query");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    // Raw samples through a range selector.
    let at = (end as f64 + 1.0) / 1000.0;
    let v = query(format!(
        "/api/v1/query?query={}&time={at}",
        encode("{__name__=~\"interop_(requests_total|temperature)\"}[6h]")
    ));
    let mut theirs = Samples::new();
    for r in v["data"]["result"].as_array().unwrap() {
        let metric: Labels = r["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        theirs.insert(render(&metric), points(&r["values"]));
    }
    // query_range at the sample times evaluates to the samples themselves (stale markers end a series).
    let q = "interop_requests_total{instance=\"host-4\"}";
    let v = query(format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=15",
        encode(q),
        start / 1000,
        (end - 15_000) / 1000
    ));
    let ranged = points(&v["data"]["result"][0]["values"]);
    let v = query(format!(
        "/api/v1/query?query={}&time={at}",
        encode("interop_latency_seconds[6h]")
    ));
    let hist_theirs: Vec<(i64, u64, f64)> = v["data"]["result"][0]["histograms"]
        .as_array()
        .unwrap_or_else(|| panic!("no histograms in {v}"))
        .iter()
        .map(|p| {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            let count = p[1]["count"].as_str().unwrap().parse::<f64>().unwrap() as u64;
            let sum = p[1]["sum"].as_str().unwrap().parse::<f64>().unwrap();
            (t, count, sum)
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    // PromQL leaves stale markers out of range vectors.
    let stale = canon(f64::from_bits(0x7ff0_0000_0000_0002));
    let ours: Samples = ours
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().filter(|(_, v)| *v != stale).collect()))
        .collect();
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>());
    for (k, v) in &ours {
        let first_diff = v.iter().zip(&theirs[k]).position(|(a, b)| a != b);
        assert!(
            first_diff.is_none() && v.len() == theirs[k].len(),
            "{k}: {} samples here, {} from Prometheus, first difference at {first_diff:?}",
            v.len(),
            theirs[k].len()
        );
    }
    let key = "{__name__=\"interop_requests_total\", instance=\"host-4\", path=\"/a \\\"quoted\\\" path\"}";
    let want: Vec<(i64, u64)> = ours[key].clone();
    assert_eq!(ranged.len(), want.len());
    assert_eq!(ranged.first(), want.first());
    assert_eq!(hist_theirs.len(), hist_want.len());
    assert_eq!(hist_theirs, hist_want);
}
