//! `diskstats`: block device I/O statistics from `/proc/diskstats`, with device details from udev's database
//! (`--path.udev.data`, files `b<major>:<minor>`) and `/sys/block/<device>/queue/rotational`.
//!
//! Devices are filtered by `--collector.diskstats.device-exclude` (default: partitions and ram/loop/fd devices)
//! or `--collector.diskstats.device-include`. Only as many statistics are exported as the kernel reports (11, 15
//! or 17 columns).

use std::collections::HashMap;
use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{DeviceFilter, add, family, numbered};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("diskstats", true, build).with_args(args);

const EXCLUDE_FLAG: &str = "collector.diskstats.device-exclude";
const INCLUDE_FLAG: &str = "collector.diskstats.device-include";
const DEFAULT_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Milliseconds to seconds.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
/// `/proc/diskstats` counts 512-byte sectors whatever the device's block size.
const SECTOR_SIZE: f64 = 512.0;

fn args() -> Vec<Arg> {
    vec![
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .alias("collector.diskstats.ignored-devices")
            .default_value(DEFAULT_EXCLUDE)
            .help("Regexp of diskstats devices to exclude (mutually exclusive to device-include)."),
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .help("Regexp of diskstats devices to include (mutually exclusive to device-exclude)."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(DiskStats {
        paths: s.paths.clone(),
        filter: DeviceFilter::from_flags("diskstats", s.matches, EXCLUDE_FLAG, INCLUDE_FLAG)?,
    }))
}

/// The per-device statistics, in `/proc/diskstats` column order: name, HELP, type, scale.
const STATS: [(&str, &str, MetricType, f64); 17] = [
    (
        "reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        SECTOR_SIZE,
    ),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        SECTOR_SIZE,
    ),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
        1.0,
    ),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
];

/// The udev properties exported as ATA gauges.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

/// One line of `/proc/diskstats`.
#[derive(Debug, Clone, PartialEq)]
struct Disk {
    major: u32,
    minor: u32,
    name: String,
    stats: Vec<u64>,
}

fn parse_diskstats(path: &Path, text: &str) -> Result<Vec<Disk>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 14 {
            return Err(CollectorError::malformed(
                path,
                n,
                format!("expected at least 14 fields, found {}", fields.len()),
            ));
        }
        let stats = fields[3..]
            .iter()
            .take(STATS.len())
            .map(|f| parse_num(path, n, f))
            .collect::<Result<_, _>>()?;
        out.push(Disk {
            major: parse_num(path, n, fields[0])?,
            minor: parse_num(path, n, fields[1])?,
            name: fields[2].to_string(),
            stats,
        });
    }
    Ok(out)
}

/// The `E:KEY=value` properties of a udev database file.
fn parse_udev(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct DiskStats {
    paths: Paths,
    filter: DeviceFilter,
}

impl Collector for DiskStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("diskstats");
        let disks = parse_diskstats(&path, &read_file(&path)?)?;
        let mut info = family(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            MetricType::Gauge,
        );
        let mut stats: Vec<MetricFamily> = STATS
            .iter()
            .map(|(name, help, t, _)| family(&format!("node_disk_{name}"), help, *t))
            .collect();
        let mut fs_info = family(
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            MetricType::Gauge,
        );
        let mut dm_info = family(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
            MetricType::Gauge,
        );
        let mut backing = family(
            "node_disk_device_mapper_backing_device_info",
            "Info about the underlying block devices of a device mapper device.",
            MetricType::Gauge,
        );
        let mut ata: Vec<MetricFamily> = ATA
            .iter()
            .map(|(_, name, help)| family(name, help, MetricType::Gauge))
            .collect();
        for d in disks.iter().filter(|d| !self.filter.ignored(&d.name)) {
            let dev = d.name.as_str();
            let udev_path = self.paths.udev_data.join(format!("b{}:{}", d.major, d.minor));
            let udev = std::fs::read_to_string(&udev_path)
                .map(|t| parse_udev(&t))
                .unwrap_or_default();
            let prop = |k: &str| udev.get(k).map(String::as_str).unwrap_or("");
            let serial = [prop("SCSI_IDENT_SERIAL"), prop("ID_SERIAL_SHORT"), prop("ID_SERIAL")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("");
            // Not every device has queue attributes; upstream reports 0 then.
            let rotational = super::read_to_string(&self.paths.sys(format!("block/{dev}/queue/rotational")))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|v| format!("{v:b}"))
                .unwrap_or_else(|| "0".to_string());
            add(
                &mut info,
                &[
                    ("device", dev),
                    ("major", &d.major.to_string()),
                    ("minor", &d.minor.to_string()),
                    ("path", prop("ID_PATH")),
                    ("wwn", prop("ID_WWN")),
                    ("model", prop("ID_MODEL")),
                    ("serial", serial),
                    ("revision", prop("ID_REVISION")),
                    ("rotational", &rotational),
                ],
                1.0,
            );
            for ((fam, (_, _, _, scale)), v) in stats.iter_mut().zip(STATS.iter()).zip(&d.stats) {
                add(fam, &[("device", dev)], *v as f64 * scale);
            }
            if !prop("ID_FS_TYPE").is_empty() {
                add(
                    &mut fs_info,
                    &[
                        ("device", dev),
                        ("type", prop("ID_FS_TYPE")),
                        ("usage", prop("ID_FS_USAGE")),
                        ("uuid", prop("ID_FS_UUID")),
                        ("version", prop("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            if !prop("DM_NAME").is_empty() {
                add(
                    &mut dm_info,
                    &[
                        ("device", dev),
                        ("name", prop("DM_NAME")),
                        ("uuid", prop("DM_UUID")),
                        ("vg_name", prop("DM_VG_NAME")),
                        ("lv_name", prop("DM_LV_NAME")),
                        ("lv_layer", prop("DM_LV_LAYER")),
                    ],
                    1.0,
                );
                if let Ok(entries) = std::fs::read_dir(self.paths.sys(format!("block/{dev}/slaves"))) {
                    let mut names: Vec<String> = entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    for b in names {
                        add(&mut backing, &[("device", dev), ("backing_device", &b)], 1.0);
                    }
                }
            }
            if !prop("ID_ATA").is_empty() {
                for (fam, (key, _, _)) in ata.iter_mut().zip(ATA.iter()) {
                    if let Some(v) = udev.get(*key).and_then(|v| v.parse::<f64>().ok()) {
                        add(fam, &[("device", dev)], v);
                    }
                }
            }
        }
        out.push(info);
        out.extend(stats);
        out.extend([fs_info, dm_info, backing]);
        out.extend(ata);
        out.retain(|f| !f.metrics.is_empty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats_lines() {
        let p = Path::new("diskstats");
        let ok = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n 8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
        let got = parse_diskstats(p, ok).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].major, got[0].minor, got[0].name.as_str()), (8, 0, "sda"));
        assert_eq!(got[0].stats.len(), 11);
        assert_eq!(got[1].stats.len(), 17);
        for bad in [
            "8 0 sda 1 2 3\n",
            "8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n",
            "x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
        ] {
            assert!(parse_diskstats(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn udev_properties() {
        let got = parse_udev("S:disk/by-id/x\nE:ID_MODEL=Disk\nE:ID_FS_VERSION=LVM2 001\nE:broken\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got["ID_FS_VERSION"], "LVM2 001");
    }

    #[test]
    fn default_exclude_pattern() {
        let re = regex::Regex::new(DEFAULT_EXCLUDE).unwrap();
        for (name, excluded) in [
            ("sda", false),
            ("sda1", true),
            ("nvme0n1", false),
            ("nvme0n1p2", true),
            ("ram0", true),
            ("mmcblk0p1", false),
        ] {
            assert_eq!(re.is_match(name), excluded, "{name}");
        }
    }
}
