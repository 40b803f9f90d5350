//! `tapestats`: SCSI tape drive statistics from `/sys/class/scsi_tape/st<N>/stats` (I/O counts, bytes and
//! times); the rewind/mode variants (`nst0`, `st0a`, ...) are the same drive and are skipped.

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::sysfs::{list_dir, read_number, sample, string_arg};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("tapestats", true, build).with_args(args);

const IGNORED: &str = "collector.tapestats.ignored-devices";

fn args() -> Vec<Arg> {
    vec![string_arg(
        IGNORED,
        Some("^$"),
        "Regexp of devices to ignore for tapestats.",
    )]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let pattern = s.matches.get_one::<String>(IGNORED).map_or("^$", String::as_str);
    let ignored = Regex::new(pattern).map_err(|e| BuildError::InvalidFlag {
        collector: "tapestats",
        flag: IGNORED.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Box::new(TapeStats {
        paths: s.paths.clone(),
        ignored,
    }))
}

struct TapeStats {
    paths: Paths,
    ignored: Regex,
}

/// (stats file, metric suffix, type, scale, help).
#[rustfmt::skip]
const STATS: [(&str, &str, MetricType, f64, &str); 10] = [
    ("in_flight", "io_now", MetricType::Gauge, 1.0, "The number of I/Os currently outstanding to this device."),
    ("io_ns", "io_time_seconds_total", MetricType::Counter, 1e-9, "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used."),
    ("other_cnt", "io_others_total", MetricType::Counter, 1.0, "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total"),
    ("read_byte_cnt", "read_bytes_total", MetricType::Counter, 1.0, "The number of bytes read from the tape drive."),
    ("read_cnt", "reads_completed_total", MetricType::Counter, 1.0, "The number of read requests issued to the tape drive."),
    ("read_ns", "read_time_seconds_total", MetricType::Counter, 1e-9, "The amount of time spent waiting for read requests to complete."),
    ("resid_cnt", "residual_total", MetricType::Counter, 1.0, "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape."),
    ("write_byte_cnt", "written_bytes_total", MetricType::Counter, 1.0, "The number of bytes written to the tape drive."),
    ("write_cnt", "writes_completed_total", MetricType::Counter, 1.0, "The number of write requests issued to the tape drive."),
    ("write_ns", "write_time_seconds_total", MetricType::Counter, 1e-9, "The amount of time spent waiting for write requests to complete."),
];

/// Whether the class entry is a drive itself (`st<N>`), not one of its mode or no-rewind variants.
fn is_drive(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn drive(name: &str, stats: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    for (file, suffix, t, scale, help) in STATS {
        let v = read_number(&stats.join(file))?;
        out.push(sample(
            &format!("node_tape_{suffix}"),
            help,
            t,
            &[("device", name)],
            v * scale,
        ));
    }
    Ok(())
}

impl Collector for TapeStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/scsi_tape");
        for name in list_dir(&class)? {
            if !is_drive(&name) || self.ignored.is_match(&name) {
                continue;
            }
            drive(&name, &class.join(&name).join("stats"), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn drive_names() {
        for (name, want) in [
            ("st0", true),
            ("st12", true),
            ("nst0", false),
            ("st0a", false),
            ("st", false),
        ] {
            assert_eq!(is_drive(name), want, "{name}");
        }
    }

    #[test]
    fn drive_stats() {
        let root = tempfile::tempdir().unwrap();
        let stats = root.path().join("class/scsi_tape/st0/stats");
        std::fs::create_dir_all(&stats).unwrap();
        std::fs::create_dir_all(root.path().join("class/scsi_tape/nst0/stats")).unwrap();
        for (file, ..) in STATS {
            std::fs::write(stats.join(file), "2000000000\n").unwrap();
        }
        let c = TapeStats {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            ignored: Regex::new("^$").unwrap(),
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.len(), STATS.len());
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(get("node_tape_io_now"), Some(Value::Gauge(2e9)));
        assert!(matches!(get("node_tape_read_time_seconds_total"), Some(Value::Counter { total, .. }) if total == 2.0));
        std::fs::write(stats.join("read_cnt"), "x\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
