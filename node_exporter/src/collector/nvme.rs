//! `nvme`: NVMe controllers from `/sys/class/nvme/<device>` (an info family with model, serial, firmware,
//! controller id and state) and their namespaces (`<device>n<nsid>`: size, used space, block size, ANA state).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_number, read_optional, read_trimmed};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("nvme", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Nvme { paths: s.paths.clone() }))
}

struct Nvme {
    paths: Paths,
}

/// The namespace id of a namespace directory of controller `device` (`nvme0n1` -> `1`).
fn namespace_id<'a>(device: &str, entry: &'a str) -> Option<&'a str> {
    entry
        .strip_prefix(device)?
        .strip_prefix('n')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn namespace(device: &str, nsid: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("device", device), ("nsid", nsid)];
    let block = read_number(&dir.join("queue/logical_block_size"))?;
    let size = read_number(&dir.join("size"))? * block;
    let used = read_number(&dir.join("nuse"))? * block;
    let ana = read_optional(&dir.join("ana_state")).unwrap_or_default();
    out.push(gauge(
        "node_nvme_namespace_info",
        "Information about NVMe namespaces. Value is always 1",
        &[("device", device), ("nsid", nsid), ("ana_state", &ana)],
        1.0,
    ));
    out.push(gauge(
        "node_nvme_namespace_capacity_bytes",
        "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
        &labels,
        size,
    ));
    out.push(gauge(
        "node_nvme_namespace_size_bytes",
        "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
        &labels,
        size,
    ));
    out.push(gauge(
        "node_nvme_namespace_used_bytes",
        "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
        &labels,
        used,
    ));
    out.push(gauge(
        "node_nvme_namespace_logical_block_size_bytes",
        "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in \
         /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
        &labels,
        block,
    ));
    Ok(())
}

fn controller(device: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let serial = read_trimmed(&dir.join("serial"))?;
    let model = read_trimmed(&dir.join("model"))?;
    let state = read_trimmed(&dir.join("state"))?;
    let firmware = read_trimmed(&dir.join("firmware_rev"))?;
    let cntlid = read_optional(&dir.join("cntlid")).unwrap_or_default();
    out.push(gauge(
        "node_nvme_info",
        "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
        &[
            ("device", device),
            ("firmware_revision", &firmware),
            ("model", &model),
            ("serial", &serial),
            ("state", &state),
            ("cntlid", &cntlid),
        ],
        1.0,
    ));
    for entry in list_dir(dir)? {
        if let Some(nsid) = namespace_id(device, &entry) {
            namespace(device, nsid, &dir.join(&entry), out)?;
        }
    }
    Ok(())
}

impl Collector for Nvme {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/nvme");
        for device in list_dir(&class)? {
            controller(&device, &class.join(&device), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn namespace_ids() {
        let cases = [
            ("nvme0n1", Some("1")),
            ("nvme0n12", Some("12")),
            ("ng0n1", None),
            ("nvme0", None),
            ("nvme0nx", None),
        ];
        for (entry, want) in cases {
            assert_eq!(namespace_id("nvme0", entry), want, "{entry}");
        }
    }

    #[test]
    fn controller_and_namespace() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("nvme0/model", "Samsung SSD 970 PRO 512GB\n"),
            ("nvme0/serial", "S680\n"),
            ("nvme0/state", "live\n"),
            ("nvme0/firmware_rev", "1B2Q\n"),
            ("nvme0/nvme0n1/size", "3906250000\n"),
            ("nvme0/nvme0n1/nuse", "488281250\n"),
            ("nvme0/nvme0n1/queue/logical_block_size", "4096\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("class/nvme").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Nvme {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(get("node_nvme_namespace_capacity_bytes"), Some(Value::Gauge(1.6e13)));
        assert_eq!(get("node_nvme_namespace_used_bytes"), Some(Value::Gauge(2e12)));
        std::fs::remove_file(root.path().join("class/nvme/nvme0/serial")).unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
