//! `bcachefs`: bcachefs filesystem statistics from `/sys/fs/bcachefs/<uuid>`: btree cache and write statistics,
//! compression, error counts, the event counters (`counters/*`, since filesystem creation) and per device
//! (`dev-<n>`) bucket, durability, I/O and I/O error figures.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, gauge, list_dir, read_trimmed};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("bcachefs", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Bcachefs { paths: s.paths.clone() }))
}

struct Bcachefs {
    paths: Paths,
}

/// Parses bcachefs' human-readable sizes (`2.05G`, `28.2k`, `720`): binary units, truncated to whole bytes.
pub fn parse_size(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, power) = match text.chars().last()? {
        c @ ('k' | 'K' | 'M' | 'G' | 'T' | 'P' | 'E') => (
            &text[..text.len() - 1],
            "KMGTPE".find(c.to_ascii_uppercase())? as i32 + 1,
        ),
        _ => (text, 0),
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * 1024f64.powi(power)).trunc())
}

fn size(path: &Path, line: usize, text: &str) -> Result<f64, CollectorError> {
    parse_size(text).ok_or_else(|| CollectorError::malformed(path, line, format!("invalid size {text:?}")))
}

/// `btree_write_stats`: a header, then `type: count size` lines.
fn btree_write_stats(uuid: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let Some((kind, rest)) = line.split_once(':') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (Some(nr), Some(avg)) = (fields.next(), fields.next()) else {
            return Err(CollectorError::malformed(path, n + 1, "expected a count and a size"));
        };
        let labels = [("type", kind.trim()), ("uuid", uuid)];
        let nr: u64 = super::parse_num(path, n + 1, nr)?;
        out.push(counter(
            "node_bcachefs_btree_writes_total",
            "Number of btree writes by type.",
            &labels,
            nr as f64,
        ));
        out.push(gauge(
            "node_bcachefs_btree_write_average_size_bytes",
            "Average btree write size by type.",
            &labels,
            size(path, n + 1, avg)?,
        ));
    }
    Ok(())
}

/// `compression_stats`: a header, then `algorithm compressed uncompressed average` lines.
fn compression_stats(uuid: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [algorithm, compressed, uncompressed, ..] = fields[..] else {
            continue;
        };
        let labels = [("algorithm", algorithm), ("uuid", uuid)];
        out.push(gauge(
            "node_bcachefs_compression_compressed_bytes",
            "Compressed size by algorithm.",
            &labels,
            size(path, n + 1, compressed)?,
        ));
        out.push(gauge(
            "node_bcachefs_compression_uncompressed_bytes",
            "Uncompressed size by algorithm.",
            &labels,
            size(path, n + 1, uncompressed)?,
        ));
    }
    Ok(())
}

/// `errors`: `error_type count [timestamp]` lines.
fn errors(uuid: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(kind), Some(count)) = (fields.next(), fields.next()) else {
            continue;
        };
        let count: u64 = super::parse_num(path, n + 1, count)?;
        out.push(counter(
            "node_bcachefs_errors_total",
            "Error count by error type.",
            &[("error_type", kind), ("uuid", uuid)],
            count as f64,
        ));
    }
    Ok(())
}

/// A counter file: the value after `since filesystem creation:`.
fn counter_file(uuid: &str, name: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    for (n, line) in text.lines().enumerate() {
        if let Some(v) = line.trim().strip_prefix("since filesystem creation:") {
            // Sector counters are printed as sizes (`2.05G`), event counters as plain numbers.
            let v = size(path, n + 1, v.trim())?;
            let metric = name.replace(|c: char| !(c.is_ascii_alphanumeric() || c == '_'), "_");
            out.push(counter(
                &format!("node_bcachefs_{metric}_total"),
                &format!("Bcachefs counter {name} since filesystem creation."),
                &[("uuid", uuid)],
                v,
            ));
            return Ok(());
        }
    }
    Err(CollectorError::malformed(
        path,
        0,
        "no 'since filesystem creation' value",
    ))
}

/// `dev-<n>`: bucket size and count, durability, label and state, `io_done` and `io_errors`.
fn device(uuid: &str, dev: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("device", dev), ("uuid", uuid)];
    let bucket = dir.join("bucket_size");
    out.push(gauge(
        "node_bcachefs_device_bucket_size_bytes",
        "Bucket size in bytes.",
        &labels,
        size(&bucket, 1, &read_trimmed(&bucket)?)?,
    ));
    let nbuckets = dir.join("nbuckets");
    let nbuckets_v: u64 = super::parse_num(&nbuckets, 1, &read_trimmed(&nbuckets)?)?;
    out.push(gauge(
        "node_bcachefs_device_buckets",
        "Total number of buckets.",
        &labels,
        nbuckets_v as f64,
    ));
    let durability = dir.join("durability");
    let durability_v: u64 = super::parse_num(&durability, 1, &read_trimmed(&durability)?)?;
    out.push(gauge(
        "node_bcachefs_device_durability",
        "Device durability setting.",
        &labels,
        durability_v as f64,
    ));
    let label = read_trimmed(&dir.join("label")).unwrap_or_default();
    let state = read_trimmed(&dir.join("state")).unwrap_or_default();
    out.push(gauge(
        "node_bcachefs_device_info",
        "Device information.",
        &[("device", dev), ("label", &label), ("state", &state), ("uuid", uuid)],
        1.0,
    ));
    let io_done = dir.join("io_done");
    let text = read_file(&io_done)?;
    let mut operation = None;
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() {
            operation = Some(key.to_string());
            continue;
        }
        let Some(op) = operation.as_deref() else {
            return Err(CollectorError::malformed(
                &io_done,
                n + 1,
                "value before an operation header",
            ));
        };
        let v: u64 = super::parse_num(&io_done, n + 1, value)?;
        out.push(counter(
            "node_bcachefs_device_io_done_bytes_total",
            "IO bytes by operation type and data type.",
            &[("data_type", key), ("device", dev), ("operation", op), ("uuid", uuid)],
            v as f64,
        ));
    }
    let io_errors = dir.join("io_errors");
    let text = read_file(&io_errors)?;
    // The first block counts since filesystem creation; later blocks repeat shorter windows.
    let mut in_first = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("IO errors since") {
            if in_first {
                break;
            }
            in_first = line.contains("filesystem creation");
            continue;
        }
        if !in_first {
            continue;
        }
        let Some((kind, value)) = line.split_once(':') else {
            continue;
        };
        let v: u64 = super::parse_num(&io_errors, n + 1, value.trim())?;
        out.push(counter(
            "node_bcachefs_device_io_errors_total",
            "IO errors by error type.",
            &[("device", dev), ("type", kind.trim()), ("uuid", uuid)],
            v as f64,
        ));
    }
    Ok(())
}

fn filesystem(uuid: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    out.push(gauge(
        "node_bcachefs_info",
        "Filesystem information.",
        &[("uuid", uuid)],
        1.0,
    ));
    let cache = dir.join("btree_cache_size");
    out.push(gauge(
        "node_bcachefs_btree_cache_size_bytes",
        "Btree cache memory usage in bytes.",
        &[("uuid", uuid)],
        size(&cache, 1, &read_trimmed(&cache)?)?,
    ));
    btree_write_stats(uuid, &dir.join("btree_write_stats"), out)?;
    compression_stats(uuid, &dir.join("compression_stats"), out)?;
    errors(uuid, &dir.join("errors"), out)?;
    let counters = dir.join("counters");
    for name in list_dir(&counters)? {
        counter_file(uuid, &name, &counters.join(&name), out)?;
    }
    for entry in list_dir(dir)? {
        if let Some(dev) = entry.strip_prefix("dev-") {
            device(uuid, dev, &dir.join(&entry), out)?;
        }
    }
    Ok(())
}

impl Collector for Bcachefs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("fs/bcachefs");
        for uuid in list_dir(&base)? {
            let dir = base.join(&uuid);
            if super::sysfs::is_dir(&dir) {
                filesystem(&uuid, &dir, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn sizes() {
        let cases = [
            ("2.05G", Some(2_201_170_739.0)),
            ("28.2k", Some(28_876.0)),
            ("720", Some(720.0)),
            ("2.00M", Some(2_097_152.0)),
            ("10.8T", Some(11_874_725_579_980.0)),
            ("-1k", None),
            ("lots", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), want, "{text}");
        }
    }

    #[test]
    fn filesystem_and_devices() {
        let root = tempfile::tempdir().unwrap();
        let fs = root.path().join("fs/bcachefs/ab-cd");
        let files = [
            ("btree_cache_size", "2.05G\n"),
            ("btree_write_stats", "  nr size\ninitial:  3298401   100k\n"),
            (
                "compression_stats",
                "type compressed uncompressed avg\nlz4 48.9G 71.2G 62.5k\n",
            ),
            (
                "errors",
                "bset_bad_csum 2 1767112063\nextent_io_opts_not_set 11299659571772285102\n",
            ),
            (
                "counters/write_super",
                "since mount: 21\nsince filesystem creation: 30277\n",
            ),
            (
                "counters/data_read",
                "since mount: 1k\nsince filesystem creation: 1.69T\n",
            ),
            ("dev-6/bucket_size", "2.00M\n"),
            ("dev-6/nbuckets", "953864\n"),
            ("dev-6/durability", "1\n"),
            ("dev-6/label", "disk-6\n"),
            ("dev-6/state", "rw\n"),
            ("dev-6/io_done", "read:\nsb  :  86016\nwrite:\nsb  :  677376\n"),
            (
                "dev-6/io_errors",
                "IO errors since filesystem creation\n  read: 18828\nIO errors since 8 y ago\n  read: 1\n",
            ),
        ];
        for (p, c) in files {
            let p = fs.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Bcachefs {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let find = |name: &str, key: &str, val: &str| -> Vec<f64> {
            out.iter()
                .filter(|f| f.name == name)
                .flat_map(|f| &f.metrics)
                .filter(|m| m.labels.get(key) == Some(val))
                .map(|m| match m.value {
                    Value::Counter { total, .. } => total,
                    Value::Gauge(v) => v,
                    _ => f64::NAN,
                })
                .collect()
        };
        assert_eq!(
            find("node_bcachefs_btree_writes_total", "type", "initial"),
            [3_298_401.0]
        );
        assert_eq!(
            find("node_bcachefs_btree_write_average_size_bytes", "type", "initial"),
            [102_400.0]
        );
        assert_eq!(find("node_bcachefs_write_super_total", "uuid", "ab-cd"), [30277.0]);
        assert_eq!(
            find("node_bcachefs_data_read_total", "uuid", "ab-cd"),
            [1_858_174_650_941.0]
        );
        assert_eq!(
            find("node_bcachefs_errors_total", "error_type", "extent_io_opts_not_set"),
            [11_299_659_571_772_285_102.0]
        );
        assert_eq!(
            find("node_bcachefs_device_io_done_bytes_total", "operation", "write"),
            [677_376.0]
        );
        assert_eq!(find("node_bcachefs_device_io_errors_total", "type", "read"), [18828.0]);
        assert_eq!(
            find("node_bcachefs_compression_uncompressed_bytes", "algorithm", "lz4"),
            [76_450_417_868.0]
        );
        std::fs::write(fs.join("dev-6/nbuckets"), "many\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
