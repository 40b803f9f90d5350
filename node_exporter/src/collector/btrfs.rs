//! `btrfs`: btrfs filesystem statistics from `/sys/fs/btrfs/<uuid>`: label, space allocation per block group
//! type and RAID profile, global reserve, device sizes and commit statistics. (Upstream's per-device error
//! counters need an ioctl on the mounted filesystem and are not exported.)

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, gauge, list_dir, read_number, read_optional};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("btrfs", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Btrfs { paths: s.paths.clone() }))
}

struct Btrfs {
    paths: Paths,
}

/// The block group types of `allocation/`.
const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

/// Raw space used per byte of data for a RAID profile on `devices` devices.
fn allocation_ratio(mode: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match mode {
        "raid1" | "raid10" | "dup" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" if devices > 1 => n / (n - 1.0),
        "raid6" if devices > 2 => n / (n - 2.0),
        _ => 1.0,
    }
}

/// `commit_stats`: `key value` lines; absent on older kernels (all zero then).
fn commit_stats(dir: &Path) -> Result<[f64; 4], CollectorError> {
    let path = dir.join("commit_stats");
    let mut stats = [0.0; 4];
    let Some(text) = read_optional(&path) else {
        return Ok(stats);
    };
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let slot = match key {
            "commits" => 0,
            "last_commit_ms" => 1,
            "max_commit_ms" => 2,
            "total_commit_ms" => 3,
            _ => continue,
        };
        stats[slot] = super::parse_num::<u64>(&path, n + 1, value)? as f64;
    }
    Ok(stats)
}

fn filesystem(uuid: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("uuid", uuid)];
    let label = read_optional(&dir.join("label")).unwrap_or_default();
    out.push(gauge(
        "node_btrfs_info",
        "Filesystem information",
        &[("label", &label), ("uuid", uuid)],
        1.0,
    ));
    let devices_dir = dir.join("devices");
    let devices = list_dir(&devices_dir)?;
    for dev in &devices {
        let sectors = read_number(&devices_dir.join(dev).join("size"))?;
        out.push(gauge(
            "node_btrfs_device_size_bytes",
            "Size of a device that is part of the filesystem.",
            &[("device", dev.as_str()), ("uuid", uuid)],
            sectors * 512.0,
        ));
    }
    let allocation = dir.join("allocation");
    out.push(gauge(
        "node_btrfs_global_rsv_size_bytes",
        "Size of global reserve.",
        &labels,
        read_number(&allocation.join("global_rsv_size"))?,
    ));
    for kind in BLOCK_GROUP_TYPES {
        let group = allocation.join(kind);
        if !super::sysfs::is_dir(&group) {
            continue;
        }
        out.push(gauge(
            "node_btrfs_reserved_bytes",
            "Amount of space reserved for a data type",
            &[("block_group_type", kind), ("uuid", uuid)],
            read_number(&group.join("bytes_reserved"))?,
        ));
        for mode in list_dir(&group)? {
            let layout = group.join(&mode);
            if !super::sysfs::is_dir(&layout) {
                continue;
            }
            let labels = [("block_group_type", kind), ("mode", mode.as_str()), ("uuid", uuid)];
            out.push(gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                &labels,
                read_number(&layout.join("total_bytes"))?,
            ));
            out.push(gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                &labels,
                read_number(&layout.join("used_bytes"))?,
            ));
            out.push(gauge(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
                &labels,
                allocation_ratio(&mode, devices.len()),
            ));
        }
    }
    let [commits, last, max, total] = commit_stats(dir)?;
    out.push(counter(
        "node_btrfs_commits_total",
        "The total number of commits that have occurred.",
        &labels,
        commits,
    ));
    out.push(gauge(
        "node_btrfs_last_commit_seconds",
        "Duration of the most recent commit, in seconds.",
        &labels,
        last / 1000.0,
    ));
    out.push(gauge(
        "node_btrfs_max_commit_seconds",
        "Duration of the slowest commit, in seconds.",
        &labels,
        max / 1000.0,
    ));
    out.push(counter(
        "node_btrfs_commit_seconds_total",
        "Sum of the duration of all commits, in seconds.",
        &labels,
        total / 1000.0,
    ));
    Ok(())
}

impl Collector for Btrfs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("fs/btrfs");
        for entry in list_dir(&base)? {
            // Filesystems are named by UUID; `features` describes the kernel module.
            if entry.contains('-') && super::sysfs::is_dir(&base.join(&entry)) {
                filesystem(&entry, &base.join(&entry), out)?;
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
    fn ratios() {
        let cases = [
            ("raid0", 2, 1.0),
            ("single", 1, 1.0),
            ("raid1", 2, 2.0),
            ("raid5", 4, 4.0 / 3.0),
            ("raid6", 4, 2.0),
            ("raid1c3", 3, 3.0),
        ];
        for (mode, n, want) in cases {
            assert_eq!(allocation_ratio(mode, n), want, "{mode}");
        }
    }

    #[test]
    fn filesystem_stats() {
        let root = tempfile::tempdir().unwrap();
        let fs = root.path().join("fs/btrfs/0abb-23a9");
        let files = [
            ("label", "fixture\n"),
            ("devices/loop25/size", "20971520\n"),
            ("allocation/global_rsv_size", "16777216\n"),
            ("allocation/data/bytes_reserved", "0\n"),
            ("allocation/data/raid0/total_bytes", "2147483648\n"),
            ("allocation/data/raid0/used_bytes", "808189952\n"),
            (
                "commit_stats",
                "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090\n",
            ),
        ];
        for (p, c) in files {
            let p = fs.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        std::fs::create_dir_all(root.path().join("fs/btrfs/features")).unwrap();
        let c = Btrfs {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(get("node_btrfs_device_size_bytes"), Some(Value::Gauge(1.073741824e10)));
        assert_eq!(get("node_btrfs_used_bytes"), Some(Value::Gauge(808_189_952.0)));
        assert_eq!(get("node_btrfs_max_commit_seconds"), Some(Value::Gauge(51.462)));
        assert!(
            matches!(get("node_btrfs_commit_seconds_total"), Some(Value::Counter { total, .. }) if total == 47836.09)
        );
        std::fs::write(fs.join("commit_stats"), "commits many\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
