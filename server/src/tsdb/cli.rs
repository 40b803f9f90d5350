//! `server tsdb ...`: tools around the TSDB.
//!
//! - `ingest-test --path DIR`: appends deterministic float series and one native histogram series forever (or for
//!   `--steps`), one commit per step,
//!   fsyncing the WAL every `--sync-every` steps and then recording the last durable step in `--durable-file`.
//!   The crash test kills it with SIGKILL at random points and checks the data directory afterwards.
//! - `bench-write`: like `promtool tsdb bench write`: ingests `--scrapes` scrapes of `--metrics` series
//!   (node_exporter-shaped label sets read from a metrics file, or generated) and prints ns/sample and memory per
//!   series.
//! - `import-openmetrics FILE --storage.tsdb.path DIR`: writes an OpenMetrics file with explicit timestamps as 2h
//!   blocks into the data directory DIR (the data a later `server --storage.tsdb.path DIR` serves), like promtool's
//!   `tsdb create-blocks-from openmetrics`.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use super::{Db, Options};
use crate::model::histogram::{Histogram, Span};
use crate::model::labels::Labels;
use crate::storage::{Appendable, Queryable};

#[derive(Debug, Parser)]
#[command(name = "server tsdb", about = "TSDB tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest deterministic series continuously, recording how far the data is durable.
    IngestTest {
        /// Data directory.
        #[arg(long)]
        path: PathBuf,
        /// Number of series.
        #[arg(long, default_value_t = 50)]
        series: usize,
        /// Steps to ingest (0: until killed).
        #[arg(long, default_value_t = 0)]
        steps: u64,
        /// Fsync the WAL every this many steps.
        #[arg(long, default_value_t = 10)]
        sync_every: u64,
        /// File receiving the last step known durable (after an fsync).
        #[arg(long)]
        durable_file: PathBuf,
        /// WAL segment size in bytes (small values exercise segment cuts).
        #[arg(long, default_value_t = super::wal::DEFAULT_SEGMENT_SIZE)]
        segment_size: usize,
    },
    /// Benchmark writes, like `promtool tsdb bench write`.
    BenchWrite {
        /// Data directory (a temporary one when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
        /// File with one series per line (`name{label="value",...}`); node_exporter-shaped series are generated
        /// when omitted.
        #[arg(long)]
        metrics_file: Option<PathBuf>,
        /// Number of series.
        #[arg(long, default_value_t = 20_000)]
        metrics: usize,
        /// Number of scrapes.
        #[arg(long, default_value_t = 1000)]
        scrapes: usize,
    },
    /// Load an OpenMetrics file with explicit timestamps into a data directory.
    ImportOpenmetrics {
        /// The OpenMetrics file.
        file: PathBuf,
        /// Data directory.
        #[arg(long = "storage.tsdb.path", default_value = "data/")]
        path: PathBuf,
    },
}

/// Runs `server tsdb <args>`.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("server tsdb")).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::IngestTest {
            path,
            series,
            steps,
            sync_every,
            durable_file,
            segment_size,
        } => ingest_test(&path, series, steps, sync_every.max(1), &durable_file, segment_size),
        Command::BenchWrite {
            out,
            metrics_file,
            metrics,
            scrapes,
        } => bench_write(out, metrics_file.as_deref(), metrics, scrapes),
        Command::ImportOpenmetrics { file, path } => import_openmetrics(&file, &path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server tsdb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import_openmetrics(file: &Path, path: &Path) -> Result<(), String> {
    let input = fs::read(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let started = Instant::now();
    // As promtool's create-blocks-from: the samples become 2h blocks in the data directory (the head's
    // out-of-bounds rules would refuse a file's older families after its newer ones).
    let mem = crate::storage::mem::MemStorage::new();
    let stats =
        super::import::import_openmetrics(&input, &file.display().to_string(), &mem).map_err(|e| e.to_string())?;
    fs::create_dir_all(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    let querier = mem.querier(stats.min_t, stats.max_t).map_err(|e| e.to_string())?;
    let block = Options::default().min_block_duration.as_millis() as i64;
    let blocks = super::compact::write_blocks_from(&*querier, path, stats.min_t, stats.max_t, block)
        .map_err(|e| e.to_string())?;
    // Opening checks the blocks load and lays out the rest of a data directory (WAL) for Prometheus' tools.
    Db::open(path, Options::default())
        .and_then(Db::close)
        .map_err(|e| e.to_string())?;
    println!(
        "imported {} samples of {} series ({}..{} ms) into {} blocks in {} in {:.1}s",
        stats.samples,
        stats.series,
        stats.min_t,
        stats.max_t,
        blocks.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The labels of ingest-test series `i`.
pub fn ingest_test_labels(i: usize) -> Labels {
    [("__name__", "ingest_test"), ("series", &format!("{i:05}"))]
        .into_iter()
        .collect()
}

/// The value ingest-test writes for series `i` at step `step` (timestamp `step * 1000`).
pub fn ingest_test_value(i: usize, step: u64) -> f64 {
    step as f64 * 0.5 + i as f64
}

/// The labels of ingest-test's native histogram series.
pub fn ingest_test_histogram_labels() -> Labels {
    [("__name__", "ingest_test_histogram")].into_iter().collect()
}

/// The native histogram ingest-test writes at `step`: a counter histogram whose buckets grow with the step.
pub fn ingest_test_histogram(step: u64) -> Histogram {
    let n = step as i64;
    Histogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count: step,
        count: step + 3 * step,
        sum: step as f64 * 2.5,
        positive_spans: vec![Span { offset: 0, length: 2 }],
        positive_buckets: vec![n, n],
        ..Histogram::default()
    }
}

fn ingest_test(
    path: &Path,
    series: usize,
    steps: u64,
    sync_every: u64,
    durable_file: &Path,
    segment_size: usize,
) -> Result<(), String> {
    let opts = Options {
        wal_segment_size: segment_size,
        ..Options::default()
    };
    let db = Db::open(path, opts).map_err(|e| e.to_string())?;
    // Resume after the newest step present.
    let start = match db.head().max_time() {
        i64::MIN => 0,
        t => (t / 1000) as u64 + 1,
    };
    let labels: Vec<Labels> = (0..series).map(ingest_test_labels).collect();
    let histogram_labels = ingest_test_histogram_labels();
    let mut histogram_ref = 0;
    let mut refs = vec![0u64; series];
    let mut step = start;
    while steps == 0 || step < start + steps {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app
                .append(refs[i], l, step as i64 * 1000, ingest_test_value(i, step))
                .map_err(|e| format!("append step {step} series {i}: {e}"))?;
        }
        histogram_ref = app
            .append_histogram(
                histogram_ref,
                &histogram_labels,
                step as i64 * 1000,
                &ingest_test_histogram(step),
            )
            .map_err(|e| format!("append step {step} histogram: {e}"))?;
        app.commit().map_err(|e| format!("commit step {step}: {e}"))?;
        if (step + 1) % sync_every == 0 {
            db.sync_wal().map_err(|e| e.to_string())?;
            let tmp = durable_file.with_extension("tmp");
            fs::write(&tmp, format!("{step}\n")).map_err(|e| format!("write {}: {e}", tmp.display()))?;
            fs::rename(&tmp, durable_file).map_err(|e| format!("rename to {}: {e}", durable_file.display()))?;
        }
        step += 1;
    }
    db.close().map_err(|e| e.to_string())
}

/// Parses `name{a="b",c="d"}` (or a bare name), or a JSON object of label pairs (the format of the series files
/// `promtool tsdb bench write` reads, e.g. `{"__name__":"up","job":"a"}`), into labels.
fn parse_series_line(line: &str) -> Option<Labels> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if line.starts_with("{\"") {
        let pairs: std::collections::BTreeMap<String, String> = serde_json::from_str(line).ok()?;
        return Some(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect());
    }
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, "}"),
    };
    let mut labels = Labels::new();
    if !name.is_empty() {
        labels.set("__name__", name);
    }
    let mut rest = rest.trim_end().strip_suffix('}')?;
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().trim_start_matches(',').trim();
        let after = rest[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        labels.set(key, value);
        rest = after[end? + 1..].trim_start().trim_start_matches(',').trim_start();
    }
    Some(labels)
}

/// node_exporter-shaped series: per instance about 100 series of typical names and label sets.
fn generated_series(n: usize) -> Vec<Labels> {
    let mut out = Vec::with_capacity(n);
    let mut instance = 0;
    while out.len() < n {
        let inst = format!("host-{instance:04}.example.org:9100");
        let base = |name: &str| -> Labels {
            [("__name__", name), ("instance", inst.as_str()), ("job", "node")]
                .into_iter()
                .collect()
        };
        for cpu in 0..4 {
            for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
                let mut l = base("node_cpu_seconds_total");
                l.set("cpu", cpu.to_string());
                l.set("mode", mode);
                out.push(l);
            }
        }
        for dev in ["eth0", "eth1", "lo"] {
            for m in [
                "node_network_receive_bytes_total",
                "node_network_transmit_bytes_total",
                "node_network_receive_packets_total",
                "node_network_transmit_packets_total",
                "node_network_receive_errs_total",
                "node_network_transmit_errs_total",
            ] {
                let mut l = base(m);
                l.set("device", dev);
                out.push(l);
            }
        }
        for (dev, mp) in [("/dev/sda1", "/"), ("/dev/sda2", "/home"), ("tmpfs", "/run")] {
            for m in [
                "node_filesystem_avail_bytes",
                "node_filesystem_size_bytes",
                "node_filesystem_files_free",
            ] {
                let mut l = base(m);
                l.set("device", dev);
                l.set("fstype", if dev == "tmpfs" { "tmpfs" } else { "ext4" });
                l.set("mountpoint", mp);
                out.push(l);
            }
        }
        for m in [
            "node_memory_MemAvailable_bytes",
            "node_memory_MemFree_bytes",
            "node_memory_Cached_bytes",
            "node_memory_Buffers_bytes",
            "node_load1",
            "node_load5",
            "node_load15",
            "node_boot_time_seconds",
            "node_context_switches_total",
            "node_forks_total",
            "node_intr_total",
            "node_procs_running",
        ] {
            out.push(base(m));
        }
        instance += 1;
    }
    out.truncate(n);
    out
}

/// Resident memory of this process in bytes (from `/proc/self/status`).
pub fn rss_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user and system, all threads) this process used so far, in nanoseconds.
fn cpu_time_ns() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0;
    };
    let ns = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000_000 + t.tv_usec() as u64 * 1000;
    ns(usage.user_time()) + ns(usage.system_time())
}

fn bench_write(out: Option<PathBuf>, metrics_file: Option<&Path>, n: usize, scrapes: usize) -> Result<(), String> {
    let tmp_used = out.is_none();
    let dir = match out {
        Some(d) => d,
        None => tempfile_dir()?,
    };
    let mut series = match metrics_file {
        Some(p) => {
            let text = fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()))?;
            text.lines().filter_map(parse_series_line).take(n).collect()
        }
        None => generated_series(n),
    };
    series.sort();
    series.dedup();
    let n = series.len();
    println!(
        ">> starting ingestion of {n} series, {scrapes} scrapes into {}",
        dir.display()
    );
    let rss_before = rss_bytes().unwrap_or(0);
    let db = Db::open(&dir, Options::default()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let cpu_before = cpu_time_ns();
    // As promtool: scrapes of 1000 series each (one commit per scrape), 30 s apart, spread over the available
    // cores; every series a counter starting at 123456789 and growing by 1000 per scrape.
    const BATCH: usize = 1000;
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get()).min(8);
    let batches: Vec<&[Labels]> = series.chunks(BATCH).collect();
    // Like promtool, threads meet every 100 scrapes: none runs more than 100 scrapes (50 min) ahead, so no sample
    // falls behind the head's appendable window (half a chunk range before its newest sample).
    let barrier = std::sync::Barrier::new(threads);
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let db = &db;
                let barrier = &barrier;
                let mine: Vec<(usize, &[Labels])> =
                    batches.iter().copied().enumerate().skip(k).step_by(threads).collect();
                scope.spawn(move || -> Result<u64, String> {
                    let mut refs: Vec<Vec<u64>> = mine.iter().map(|(_, b)| vec![0u64; b.len()]).collect();
                    let mut values: Vec<Vec<i64>> = mine.iter().map(|(_, b)| vec![123_456_789; b.len()]).collect();
                    let mut count = 0;
                    let mut scrape = |s: usize| -> Result<(), String> {
                        let t = (s as i64 + 1) * 30_000;
                        for (m, (_, batch)) in mine.iter().enumerate() {
                            let mut app = db.appender();
                            for (i, l) in batch.iter().enumerate() {
                                values[m][i] += 1000;
                                refs[m][i] = app
                                    .append(refs[m][i], l, t, values[m][i] as f64)
                                    .map_err(|e| e.to_string())?;
                                count += 1;
                            }
                            app.commit().map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    };
                    let mut result = Ok(());
                    for s in 0..scrapes {
                        if s % 100 == 0 {
                            barrier.wait();
                        }
                        // After an error keep meeting the others at the barrier, so they finish too.
                        if result.is_ok() {
                            result = scrape(s);
                        }
                    }
                    result?;
                    Ok(count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("ingest thread panicked".into())))
            .sum::<Result<u64, String>>()
    })?;
    let elapsed = started.elapsed();
    let cpu = cpu_time_ns().saturating_sub(cpu_before);
    let rss_after = rss_bytes().unwrap_or(0);
    let q = db.querier(i64::MIN, i64::MAX).map_err(|e| e.to_string())?;
    let selected = q.select(true, None, &[]).map_err(|e| e.to_string())?.len();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        ">> completed ingestion: {total} samples in {:.3}s, {:.1} ns/sample, {:.0} samples/s",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / total.max(1) as f64,
        total as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    // CPU time rather than wall time: what the ingestion costs whatever else runs on the machine.
    let _ = writeln!(
        stdout,
        ">> ingestion CPU (user+system, all threads): {:.3}s, {:.1} CPU ns/sample",
        cpu as f64 / 1e9,
        cpu as f64 / total.max(1) as f64
    );
    let _ = writeln!(
        stdout,
        ">> series {n} (queried {selected}), head chunks {}, RSS {} MiB -> {} MiB, {:.0} bytes/series",
        db.metrics().head.chunks.get(),
        rss_before >> 20,
        rss_after >> 20,
        rss_after.saturating_sub(rss_before) as f64 / n.max(1) as f64
    );
    db.close().map_err(|e| e.to_string())?;
    if tmp_used {
        fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("server-bench-write-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_lines_parse() {
        type Case<'a> = (&'a str, Option<&'a [(&'a str, &'a str)]>);
        let cases: &[Case<'_>] = &[
            ("up", Some(&[("__name__", "up")])),
            (
                r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#,
                Some(&[("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "idle")]),
            ),
            (
                r#"x{a="q\"uote", b="2"}"#,
                Some(&[("__name__", "x"), ("a", "q\"uote"), ("b", "2")]),
            ),
            (
                r#"{"__name__":"node_load1","instance":"host-1","job":"node"}"#,
                Some(&[("__name__", "node_load1"), ("instance", "host-1"), ("job", "node")]),
            ),
            (r#"{"__name__":"x","broken"}"#, None),
            ("# comment", None),
            ("", None),
            (r#"x{a="unterminated}"#, None),
        ];
        for (line, want) in cases {
            let want: Option<Labels> = want.map(|w| w.iter().copied().collect());
            assert_eq!(parse_series_line(line), want, "{line}");
        }
    }

    #[test]
    fn generated_series_are_distinct() {
        let mut s = generated_series(1000);
        assert_eq!(s.len(), 1000);
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 1000);
    }
}
