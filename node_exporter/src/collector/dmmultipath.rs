//! `dmmultipath`: device-mapper multipath devices from `/sys/block/dm-*` (those whose `dm/uuid` starts with
//! `mpath-`): name, UUID, suspension, size, and their paths (`slaves/*`) with each path's SCSI/NVMe state from
//! `/sys/block/<path>/device/state`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_number, read_optional, read_trimmed};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("dmmultipath", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(DmMultipath { paths: s.paths.clone() }))
}

struct DmMultipath {
    paths: Paths,
}

/// Whether a path's device state counts as active: SCSI `running` or NVMe `live`.
fn is_active(state: &str) -> bool {
    state == "running" || state == "live"
}

fn device(block: &Path, sysfs_name: &str, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let dir = block.join(sysfs_name);
    let uuid = read_trimmed(&dir.join("dm/uuid"))?;
    if !uuid.starts_with("mpath-") {
        return Ok(());
    }
    let name = read_trimmed(&dir.join("dm/name"))?;
    let suspended = read_trimmed(&dir.join("dm/suspended"))? == "1";
    let size = read_number(&dir.join("size"))? * 512.0;
    let labels = [("device", name.as_str()), ("sysfs_name", sysfs_name)];
    out.push(gauge(
        "node_dmmultipath_device_info",
        "Non-numeric information about a DM-multipath device.",
        &[("device", &name), ("sysfs_name", sysfs_name), ("uuid", &uuid)],
        1.0,
    ));
    out.push(gauge(
        "node_dmmultipath_device_active",
        "Whether the multipath device-mapper device is active (1) or suspended (0).",
        &labels,
        if suspended { 0.0 } else { 1.0 },
    ));
    out.push(gauge(
        "node_dmmultipath_device_size_bytes",
        "Size of the multipath device in bytes, read from /sys/block/<dm>/size.",
        &labels,
        size,
    ));
    let slaves = dir.join("slaves");
    let paths = if super::sysfs::is_dir(&slaves) {
        list_dir(&slaves)?
    } else {
        Vec::new()
    };
    let (mut active, mut failed) = (0.0, 0.0);
    for path in &paths {
        let state = read_optional(&block.join(path).join("device/state")).unwrap_or_else(|| "unknown".into());
        if is_active(&state) {
            active += 1.0;
        } else {
            failed += 1.0;
        }
        out.push(gauge(
            "node_dmmultipath_path_state",
            "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
            &[
                ("device", name.as_str()),
                ("path", path.as_str()),
                ("state", state.as_str()),
            ],
            1.0,
        ));
    }
    let counts = [
        (
            "node_dmmultipath_device_paths",
            "Number of paths for a multipath device.",
            paths.len() as f64,
        ),
        (
            "node_dmmultipath_device_paths_active",
            "Number of paths in active state (SCSI running or NVMe live) for a multipath device.",
            active,
        ),
        (
            "node_dmmultipath_device_paths_failed",
            "Number of paths not in active state for a multipath device.",
            failed,
        ),
    ];
    for (metric, help, v) in counts {
        out.push(gauge(metric, help, &labels, v));
    }
    Ok(())
}

impl Collector for DmMultipath {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let block = self.paths.sys("block");
        for entry in list_dir(&block)? {
            if entry.starts_with("dm-") {
                device(&block, &entry, out)?;
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
    fn multipath_devices_and_paths() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("dm-5/dm/uuid", "mpath-3600508b1\n"),
            ("dm-5/dm/name", "mpathA\n"),
            ("dm-5/dm/suspended", "0\n"),
            ("dm-5/size", "104857600\n"),
            ("dm-5/slaves/sdi", ""),
            ("dm-5/slaves/sdl", ""),
            ("sdi/device/state", "running\n"),
            ("sdl/device/state", "offline\n"),
            ("dm-7/dm/uuid", "LVM-abc\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("block").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = DmMultipath {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        let cases = [
            ("node_dmmultipath_device_size_bytes", 53_687_091_200.0),
            ("node_dmmultipath_device_active", 1.0),
            ("node_dmmultipath_device_paths", 2.0),
            ("node_dmmultipath_device_paths_active", 1.0),
            ("node_dmmultipath_device_paths_failed", 1.0),
        ];
        for (name, want) in cases {
            assert_eq!(get(name), Some(Value::Gauge(want)), "{name}");
        }
        assert_eq!(
            out.iter().filter(|f| f.name == "node_dmmultipath_device_info").count(),
            1
        );
        std::fs::write(root.path().join("block/dm-5/size"), "big\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
