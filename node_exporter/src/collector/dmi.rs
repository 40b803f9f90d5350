//! `dmi`: `node_dmi_info`, the firmware's system identification (BIOS, board, chassis, product) from
//! `/sys/class/dmi/id`. Attributes that are absent or unreadable (some need root) are left out of the labels.

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::gauge;
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("dmi", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Dmi { paths: s.paths.clone() }))
}

struct Dmi {
    paths: Paths,
}

/// (file in `/sys/class/dmi/id`, label name).
const FIELDS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

impl Collector for Dmi {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.paths.sys("class/dmi/id");
        if !super::sysfs::is_dir(&dir) {
            // No DMI on this system: reported as a missing directory (no data).
            return Err(super::CollectorError::Read {
                path: dir,
                source: std::io::ErrorKind::NotFound.into(),
            }
            .into());
        }
        let values: Vec<(&str, String)> = FIELDS
            .iter()
            .filter_map(|(file, label)| {
                let raw = std::fs::read(dir.join(file)).ok()?;
                Some((*label, String::from_utf8_lossy(&raw).trim().to_string()))
            })
            .collect();
        let labels: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let names: Vec<&str> = FIELDS.iter().map(|(_, l)| *l).collect();
        out.push(gauge(
            "node_dmi_info",
            &format!(
                "A metric with a constant '1' value labeled by {} if provided by DMI.",
                names.join(", ")
            ),
            &labels,
            1.0,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_attributes_become_labels() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("class/dmi/id");
        let c = Dmi {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        assert!(c.collect(&mut Vec::new()).is_err());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sys_vendor"), "Dell Inc.\n").unwrap();
        std::fs::write(dir.join("chassis_version"), "\n").unwrap();
        std::fs::write(dir.join("product_version"), b"\xff[\n").unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let labels = &out[0].metrics[0].labels;
        let cases = [
            ("system_vendor", Some("Dell Inc.")),
            ("chassis_version", Some("")),
            ("product_version", Some("\u{fffd}[")),
            ("bios_date", None),
        ];
        for (k, want) in cases {
            assert_eq!(labels.get(k), want, "{k}");
        }
    }
}
