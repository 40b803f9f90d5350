//! `bcache`: statistics of bcache cache sets from `/sys/fs/bcache/<uuid>`: the set itself, its backing devices
//! (`bdevN`) and cache devices (`cacheN`); with `--collector.bcache.priorityStats` also the cache devices'
//! `priority_stats` (expensive for the kernel to produce).

use std::path::Path;

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::sysfs::{list_dir, read_trimmed, sample};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("bcache", true, build).with_args(args);

const PRIORITY_STATS: &str = "collector.bcache.priorityStats";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(PRIORITY_STATS)
            .long(PRIORITY_STATS)
            .action(ArgAction::SetTrue)
            .help("Expose expensive priority stats."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Bcache {
        paths: s.paths.clone(),
        priority_stats: s.matches.get_flag(PRIORITY_STATS),
    }))
}

struct Bcache {
    paths: Paths,
    priority_stats: bool,
}

/// How a file's content becomes the metric value.
#[derive(Clone, Copy)]
enum Parse {
    /// A plain number.
    Plain,
    /// A size in bcache's human-readable form (`20.4G`).
    Human,
    /// A plain number scaled by the factor.
    Scaled(f64),
}

const G: MetricType = MetricType::Gauge;
const C: MetricType = MetricType::Counter;

/// (file below the cache set, metric suffix, help, type, parsing).
const SET_FILES: [(&str, &str, &str, MetricType, Parse); 10] = [
    (
        "average_key_size",
        "average_key_size_sectors",
        "Average data per key in the btree (sectors).",
        G,
        Parse::Plain,
    ),
    (
        "btree_cache_size",
        "btree_cache_size_bytes",
        "Amount of memory currently used by the btree cache.",
        G,
        Parse::Human,
    ),
    (
        "cache_available_percent",
        "cache_available_percent",
        "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
        G,
        Parse::Plain,
    ),
    ("congested", "congested", "Congestion.", G, Parse::Plain),
    (
        "root_usage_percent",
        "root_usage_percent",
        "Percentage of the root btree node in use (tree depth increases if too high).",
        G,
        Parse::Plain,
    ),
    ("tree_depth", "tree_depth", "Depth of the btree.", G, Parse::Plain),
    (
        "internal/active_journal_entries",
        "active_journal_entries",
        "Number of journal entries that are newer than the index.",
        G,
        Parse::Plain,
    ),
    (
        "internal/btree_nodes",
        "btree_nodes",
        "Total nodes in the btree.",
        G,
        Parse::Plain,
    ),
    (
        "internal/btree_read_average_duration_us",
        "btree_read_average_duration_seconds",
        "Average btree read duration.",
        G,
        Parse::Scaled(1e-9),
    ),
    (
        "internal/cache_read_races",
        "cache_read_races_total",
        "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - \
         i.e. where the pointer was stale after the read completed.",
        C,
        Parse::Plain,
    ),
];

/// (file below a backing device, metric suffix, help, type, parsing).
const BDEV_FILES: [(&str, &str, &str, MetricType, Parse); 8] = [
    (
        "dirty_data",
        "dirty_data_bytes",
        "Amount of dirty data for this backing device in the cache.",
        G,
        Parse::Human,
    ),
    (
        "stats_total/bypassed",
        "bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
        C,
        Parse::Human,
    ),
    (
        "stats_total/cache_bypass_hits",
        "cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
        C,
        Parse::Plain,
    ),
    (
        "stats_total/cache_bypass_misses",
        "cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
        C,
        Parse::Plain,
    ),
    (
        "stats_total/cache_hits",
        "cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
        C,
        Parse::Plain,
    ),
    (
        "stats_total/cache_miss_collisions",
        "cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
        C,
        Parse::Plain,
    ),
    (
        "stats_total/cache_misses",
        "cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
        C,
        Parse::Plain,
    ),
    (
        "stats_total/cache_readaheads",
        "cache_readaheads_total",
        "Count of times readahead occurred.",
        C,
        Parse::Plain,
    ),
];

/// (`writeback_rate_debug` key, metric suffix, help).
const WRITEBACK: [(&str, &str, &str); 5] = [
    (
        "rate",
        "writeback_rate",
        "Current writeback rate for this backing device in bytes.",
    ),
    (
        "target",
        "dirty_target_bytes",
        "Current dirty data target threshold for this backing device in bytes.",
    ),
    (
        "proportional",
        "writeback_rate_proportional_term",
        "Current result of proportional controller, part of writeback rate",
    ),
    (
        "integral",
        "writeback_rate_integral_term",
        "Current result of integral controller, part of writeback rate",
    ),
    (
        "change",
        "writeback_change",
        "Last writeback rate change step for this backing device.",
    ),
];

/// (file below a cache device, metric suffix, help, type, parsing).
const CACHE_FILES: [(&str, &str, &str, MetricType, Parse); 3] = [
    (
        "io_errors",
        "io_errors",
        "Number of errors that have occurred, decayed by io_error_halflife.",
        G,
        Parse::Plain,
    ),
    (
        "metadata_written",
        "metadata_written_bytes_total",
        "Sum of all non data writes (btree writes and all other metadata).",
        C,
        Parse::Human,
    ),
    (
        "written",
        "written_bytes_total",
        "Sum of all data that has been written to the cache.",
        C,
        Parse::Human,
    ),
];

/// Parses bcache's human-readable sizes: `<int>[.<tenths>][k|M|G|T|P|E|Z|Y]` with binary units. The tenths are
/// converted as the kernel's formatting implies (one tenth of a unit is 100 of the next smaller unit).
pub fn dehumanize(text: &str) -> Option<f64> {
    let text = text.trim();
    let (digits, mult) = match text.chars().last()? {
        c @ ('k' | 'M' | 'G' | 'T' | 'P' | 'E' | 'Z' | 'Y') => {
            let power = "kMGTPEZY".find(c)? as i32 + 1;
            (&text[..text.len() - 1], 1024f64.powi(power))
        }
        _ => (text, 1.0),
    };
    match digits.split_once('.') {
        Some((whole, frac)) if mult > 1.0 => {
            let whole: f64 = whole.parse().ok()?;
            let frac: u64 = frac.parse().ok()?;
            Some(whole * mult + frac as f64 * (mult / 1024.0) * 100.0)
        }
        _ => digits.parse().ok(),
    }
}

fn read_value(path: &Path, parse: Parse) -> Result<f64, CollectorError> {
    let text = read_trimmed(path)?;
    let value = match parse {
        Parse::Plain => text.parse().ok(),
        Parse::Human => dehumanize(&text),
        Parse::Scaled(f) => text.parse::<f64>().ok().map(|v| v * f),
    };
    value.ok_or_else(|| CollectorError::malformed(path, 1, format!("invalid value {text:?}")))
}

fn emit_files(
    dir: &Path,
    files: &[(&str, &str, &str, MetricType, Parse)],
    labels: &[(&str, &str)],
    out: &mut Vec<MetricFamily>,
) -> Result<(), CollectorError> {
    for (file, suffix, help, t, parse) in files {
        let v = read_value(&dir.join(file), *parse)?;
        out.push(sample(&format!("node_bcache_{suffix}"), help, *t, labels, v));
    }
    Ok(())
}

/// `writeback_rate_debug`: `key: value` lines with human-readable sizes (`rate: 1.1M/sec`).
fn writeback(path: &Path, labels: &[(&str, &str)], out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = super::read_file(path)?;
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some((_, suffix, help)) = WRITEBACK.iter().find(|(k, _, _)| *k == key.trim()) else {
            continue;
        };
        let value = value.trim().trim_end_matches("/sec");
        let v = dehumanize(value)
            .ok_or_else(|| CollectorError::malformed(path, n + 1, format!("invalid value {value:?}")))?;
        out.push(sample(&format!("node_bcache_{suffix}"), help, G, labels, v));
    }
    Ok(())
}

/// `priority_stats`: the `Unused:` and `Metadata:` percentages.
fn priority_stats(path: &Path, labels: &[(&str, &str)], out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = super::read_file(path)?;
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (suffix, help) = match key.trim() {
            "Unused" => (
                "priority_stats_unused_percent",
                "The percentage of the cache that doesn't contain any data.",
            ),
            "Metadata" => ("priority_stats_metadata_percent", "Bcache's metadata overhead."),
            _ => continue,
        };
        let value = value.trim().trim_end_matches('%');
        let v: f64 = super::parse_num(path, n + 1, value)?;
        out.push(sample(&format!("node_bcache_{suffix}"), help, G, labels, v));
    }
    Ok(())
}

impl Bcache {
    fn cache_set(&self, uuid: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        emit_files(dir, &SET_FILES, &[("uuid", uuid)], out)?;
        for entry in list_dir(dir)? {
            let sub = dir.join(&entry);
            if entry
                .strip_prefix("bdev")
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            {
                let labels = [("backing_device", entry.as_str()), ("uuid", uuid)];
                emit_files(&sub, &BDEV_FILES, &labels, out)?;
                let debug = sub.join("writeback_rate_debug");
                if debug.exists() {
                    writeback(&debug, &labels, out)?;
                }
            } else if entry
                .strip_prefix("cache")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                let labels = [("cache_device", entry.as_str()), ("uuid", uuid)];
                emit_files(&sub, &CACHE_FILES, &labels, out)?;
                if self.priority_stats {
                    priority_stats(&sub.join("priority_stats"), &labels, out)?;
                }
            }
        }
        Ok(())
    }
}

impl Collector for Bcache {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("fs/bcache");
        for entry in list_dir(&base)? {
            let dir = base.join(&entry);
            // Cache sets are directories named by UUID; `register` and friends are files.
            if entry.contains('-') && super::sysfs::is_dir(&dir) {
                self.cache_set(&entry, &dir, out)?;
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
    fn human_sizes() {
        let cases = [
            ("1.1M", Some(1_150_976.0)),
            ("427.5k", Some(437_748.0)),
            ("790.0k", Some(808_960.0)),
            ("20.4G", Some(21_894_266_880.0)),
            ("512", Some(512.0)),
            ("0", Some(0.0)),
            ("1.5x", None),
            ("", None),
            ("k", None),
        ];
        for (text, want) in cases {
            assert_eq!(dehumanize(text), want, "{text}");
        }
    }

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (p, c) in files {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
    }

    #[test]
    fn cache_set_backing_and_cache_devices() {
        let root = tempfile::tempdir().unwrap();
        let set = "fs/bcache/0000-11";
        let mut files: Vec<(String, String)> = SET_FILES
            .iter()
            .map(|(f, ..)| (format!("{set}/{f}"), "1\n".to_string()))
            .collect();
        files.extend(
            BDEV_FILES
                .iter()
                .map(|(f, ..)| (format!("{set}/bdev0/{f}"), "2\n".to_string())),
        );
        files.extend(
            CACHE_FILES
                .iter()
                .map(|(f, ..)| (format!("{set}/cache0/{f}"), "3\n".to_string())),
        );
        files.push((
            format!("{set}/bdev0/writeback_rate_debug"),
            "rate: 1.1M/sec\nnext io: 17ms\n".into(),
        ));
        files.push((
            format!("{set}/cache0/priority_stats"),
            "Unused:\t\t99%\nMetadata:\t0%\n".into(),
        ));
        files.push(("fs/bcache/register".into(), "".into()));
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        write(root.path(), &refs);
        let c = Bcache {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            priority_stats: true,
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        let cases = [
            ("node_bcache_tree_depth", Some(Value::Gauge(1.0))),
            (
                "node_bcache_btree_read_average_duration_seconds",
                Some(Value::Gauge(1e-9)),
            ),
            ("node_bcache_dirty_data_bytes", Some(Value::Gauge(2.0))),
            ("node_bcache_writeback_rate", Some(Value::Gauge(1_150_976.0))),
            ("node_bcache_io_errors", Some(Value::Gauge(3.0))),
            ("node_bcache_priority_stats_unused_percent", Some(Value::Gauge(99.0))),
            ("node_bcache_dirty_target_bytes", None),
        ];
        for (name, want) in cases {
            assert_eq!(get(name), want, "{name}");
        }
        write(root.path(), &[(&format!("{set}/tree_depth"), "deep\n")]);
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
