//! Blocks: the time to cut a 2h head range of 1,000 node_exporter-like series (480 samples each) into a block,
//! and the block's size on disk per sample. The same samples are also written as OpenMetrics and turned into a
//! block by Prometheus' `promtool tsdb create-blocks-from openmetrics` (when installed; `PROMTOOL` overrides the
//! path), and both figures are printed side by side.
//!
//! `cargo bench -p server --bench tsdb_blocks`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use server::model::labels::Labels;
use server::storage::Appendable;
use server::tsdb::{Db, Options};

const SERIES: usize = 1_000;
const STEP: i64 = 15_000;
const START: i64 = 1_700_006_400_000;
/// Three hours of samples (720 steps; a 2h block holds 480) and one more step, so the head spans more than 1.5
/// block ranges.
const STEPS: i64 = 3 * 240 + 2;

fn labels(i: usize) -> Labels {
    [
        ("__name__", format!("node_metric_{}", i % 100)),
        ("instance", format!("host-{:04}:9100", i / 100)),
        ("job", "node".to_string()),
        ("device", format!("dev{}", i % 7)),
    ]
    .into_iter()
    .collect()
}

/// Counters for even series (growing by irregular amounts), gauges with two decimals for odd ones.
fn value(i: usize, step: i64) -> f64 {
    if i % 2 == 0 {
        (step * (step % 7 + 1) * (i as i64 + 3)) as f64
    } else {
        ((step * 37 + i as i64 * 11) % 1000) as f64 / 100.0 + 20.0
    }
}

fn fill(db: &Db) {
    let ls: Vec<Labels> = (0..SERIES).map(labels).collect();
    let mut refs = vec![0u64; SERIES];
    for step in 0..STEPS {
        let mut app = db.appender();
        for (i, l) in ls.iter().enumerate() {
            refs[i] = app
                .append(refs[i], l, START + step * STEP, value(i, step))
                .expect("append");
        }
        app.commit().expect("commit");
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes per sample of the first block (the 2h range `[START, START + 2h)`), ours and promtool's.
fn report_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    fill(&db);
    db.compact().expect("compact");
    let b = &db.blocks()[0];
    let m = b.meta();
    let ours = b.size() as f64 / m.stats.num_samples as f64;
    eprintln!(
        "tsdb_blocks: our block: {} samples, {} series, {} bytes = {ours:.3} bytes/sample",
        m.stats.num_samples,
        m.stats.num_series,
        b.size()
    );
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "/usr/bin/promtool".into());
    if !Path::new(&promtool).exists() {
        eprintln!("tsdb_blocks: promtool not found, no comparison");
        return;
    }
    let mut om = String::new();
    for i in 0..SERIES {
        let l = labels(i);
        let name = l.get("__name__").unwrap_or_default().to_string();
        let _ = writeln!(om, "# TYPE {name} gauge");
        let rest: Vec<String> = l
            .iter()
            .filter(|(n, _)| *n != "__name__")
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        for step in 0..480 {
            let t = START + step * STEP;
            let _ = writeln!(
                om,
                "{name}{{{}}} {:?} {}.{:03}",
                rest.join(","),
                value(i, step),
                t / 1000,
                t % 1000
            );
        }
    }
    // OpenMetrics wants each family in one block: group the lines by metric name.
    let mut families: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    let mut current = String::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            current = rest.split(' ').next().unwrap_or_default().to_string();
            families.entry(current.clone()).or_default();
            continue;
        }
        families.entry(current.clone()).or_default().push(line);
    }
    let mut grouped = String::new();
    for (name, lines) in families {
        let _ = writeln!(grouped, "# TYPE {name} gauge");
        for l in lines {
            grouped.push_str(l);
            grouped.push('\n');
        }
    }
    grouped.push_str("# EOF\n");
    let input = dir.path().join("input.om");
    std::fs::write(&input, grouped).expect("write input");
    let out = dir.path().join("promtool-blocks");
    let status = std::process::Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
        .arg(&input)
        .arg(&out)
        .status()
        .expect("run promtool");
    if !status.success() {
        eprintln!("tsdb_blocks: promtool failed");
        return;
    }
    let theirs = Db::open(&out, Options::default()).expect("open promtool blocks");
    let (mut bytes, mut samples) = (0u64, 0u64);
    for b in theirs.blocks() {
        samples += b.meta().stats.num_samples;
        bytes += dir_size(b.dir());
    }
    eprintln!(
        "tsdb_blocks: promtool's block: {samples} samples, {bytes} bytes = {:.3} bytes/sample",
        bytes as f64 / samples as f64
    );
}

fn bench(c: &mut Criterion) {
    report_sizes();
    let mut g = c.benchmark_group("tsdb_blocks");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("cut_2h_block_1000_series", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let db = Db::open(dir.path(), Options::default()).expect("open");
                fill(&db);
                (dir, db)
            },
            |(dir, db)| {
                db.compact().expect("compact");
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
