//! `pcidevice`: PCI devices from `/sys/bus/pci/devices/<location>`: an info family (ids, class, revision and the
//! parent device), PCIe link speed and width, power state, D3cold support, NUMA node and SR-IOV figures.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_optional};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("pcidevice", false, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(PciDevice { paths: s.paths.clone() }))
}

struct PciDevice {
    paths: Paths,
}

/// The power states `node_pcidevice_power_state` enumerates.
const POWER_STATES: [&str; 7] = ["D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"];

/// (attribute, metric suffix, help) of the plain numeric attributes.
const NUMERIC: [(&str, &str, &str); 7] = [
    (
        "current_link_width",
        "current_link_width",
        "Value of current link's width (number of lanes)",
    ),
    (
        "max_link_width",
        "max_link_width",
        "Value of maximum link's width (number of lanes)",
    ),
    (
        "d3cold_allowed",
        "d3cold_allowed",
        "Whether the PCIe device supports D3cold power state (0/1).",
    ),
    (
        "sriov_drivers_autoprobe",
        "sriov_drivers_autoprobe",
        "Whether SR-IOV drivers autoprobe is enabled for the device (0/1).",
    ),
    (
        "sriov_numvfs",
        "sriov_numvfs",
        "Number of Virtual Functions (VFs) currently enabled for SR-IOV.",
    ),
    (
        "sriov_totalvfs",
        "sriov_totalvfs",
        "Total number of Virtual Functions (VFs) supported by the device.",
    ),
    (
        "sriov_vf_total_msix",
        "sriov_vf_total_msix",
        "Total number of MSI-X vectors for Virtual Functions.",
    ),
];

/// Splits a PCI location `SSSS:BB:DD.F` into (segment, bus, device, function).
fn parse_location(name: &str) -> Option<(&str, &str, &str, &str)> {
    let (segment, rest) = name.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(segment) && hex(bus) && hex(device) && hex(function)).then_some((segment, bus, device, function))
}

/// `"8.0 GT/s PCIe"` -> transfers per second.
fn parse_link_speed(path: &Path, text: &str) -> Result<f64, CollectorError> {
    let value = text
        .strip_suffix(" PCIe")
        .unwrap_or(text)
        .strip_suffix(" GT/s")
        .ok_or_else(|| CollectorError::malformed(path, 1, format!("invalid link speed {text:?}")))?;
    let gt: f64 = super::parse_num(path, 1, value.trim())?;
    Ok(gt * 1e9)
}

fn device(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let Some((segment, bus, dev, function)) = parse_location(name) else {
        return Err(CollectorError::malformed(
            dir,
            0,
            format!("invalid PCI location {name:?}"),
        ));
    };
    let labels = [
        ("segment", segment),
        ("bus", bus),
        ("device", dev),
        ("function", function),
    ];
    let real = std::fs::canonicalize(dir).map_err(|source| CollectorError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let parent_name = real
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = parse_location(&parent_name).unwrap_or(("*", "*", "*", "*"));
    let attr = |f: &str| read_optional(&dir.join(f)).unwrap_or_default();
    let (class, device_id, vendor, revision, sub_device, sub_vendor) = (
        attr("class"),
        attr("device"),
        attr("vendor"),
        attr("revision"),
        attr("subsystem_device"),
        attr("subsystem_vendor"),
    );
    out.push(gauge(
        "node_pcidevice_info",
        "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.",
        &[
            ("segment", segment),
            ("bus", bus),
            ("device", dev),
            ("function", function),
            ("parent_segment", parent.0),
            ("parent_bus", parent.1),
            ("parent_device", parent.2),
            ("parent_function", parent.3),
            ("class_id", &class),
            ("vendor_id", &vendor),
            ("device_id", &device_id),
            ("subsystem_vendor_id", &sub_vendor),
            ("subsystem_device_id", &sub_device),
            ("revision", &revision),
        ],
        1.0,
    ));
    for (file, suffix, help) in [
        (
            "current_link_speed",
            "current_link_transfers_per_second",
            "Value of current link's transfers per second (T/s)",
        ),
        (
            "max_link_speed",
            "max_link_transfers_per_second",
            "Value of maximum link's transfers per second (T/s)",
        ),
    ] {
        let path = dir.join(file);
        if let Some(text) = read_optional(&path).filter(|t| !t.is_empty() && !t.starts_with("Unknown")) {
            out.push(gauge(
                &format!("node_pcidevice_{suffix}"),
                help,
                &labels,
                parse_link_speed(&path, &text)?,
            ));
        }
    }
    for (file, suffix, help) in NUMERIC {
        let path = dir.join(file);
        if let Some(text) = read_optional(&path) {
            let v: i64 = super::parse_num(&path, 1, &text)?;
            out.push(gauge(&format!("node_pcidevice_{suffix}"), help, &labels, v as f64));
        }
    }
    let numa = dir.join("numa_node");
    if let Some(text) = read_optional(&numa) {
        let v: i64 = super::parse_num(&numa, 1, &text)?;
        if v >= 0 {
            out.push(gauge(
                "node_pcidevice_numa_node",
                "NUMA node number for the PCI device. -1 indicates unknown or not available.",
                &labels,
                v as f64,
            ));
        }
    }
    if let Some(state) = read_optional(&dir.join("power_state")) {
        for s in POWER_STATES {
            out.push(gauge(
                "node_pcidevice_power_state",
                "PCIe device power state, one of: D0, D1, D2, D3hot, D3cold, unknown or error.",
                &[
                    ("segment", segment),
                    ("bus", bus),
                    ("device", dev),
                    ("function", function),
                    ("state", s),
                ],
                if s == state { 1.0 } else { 0.0 },
            ));
        }
    }
    Ok(())
}

impl Collector for PciDevice {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("bus/pci/devices");
        for name in list_dir(&base)? {
            device(&name, &base.join(&name), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn locations_and_speeds() {
        assert_eq!(parse_location("0000:45:00.0"), Some(("0000", "45", "00", "0")));
        assert_eq!(parse_location("pci0000:00"), None);
        let p = Path::new("x");
        let cases = [
            ("8.0 GT/s PCIe", Some(8e9)),
            ("16.0 GT/s PCIe", Some(1.6e10)),
            ("2.5 GT/s", Some(2.5e9)),
            ("fast", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_link_speed(p, text).ok(), want, "{text}");
        }
    }

    #[test]
    fn device_with_parent() {
        let root = tempfile::tempdir().unwrap();
        let dev = root.path().join("devices/pci0000:40/0000:40:01.3/0000:45:00.0");
        let files = [
            ("class", "0x020000\n"),
            ("current_link_speed", "5.0 GT/s PCIe\n"),
            ("max_link_width", "4\n"),
            ("numa_node", "-1\n"),
            ("power_state", "D0\n"),
        ];
        for (f, c) in files {
            std::fs::create_dir_all(&dev).unwrap();
            std::fs::write(dev.join(f), c).unwrap();
        }
        let bus = root.path().join("bus/pci/devices");
        std::fs::create_dir_all(&bus).unwrap();
        std::os::unix::fs::symlink(
            "../../../devices/pci0000:40/0000:40:01.3/0000:45:00.0",
            bus.join("0000:45:00.0"),
        )
        .unwrap();
        let c = PciDevice {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let info = &out[0].metrics[0].labels;
        assert_eq!(
            (info.get("parent_bus"), info.get("parent_function")),
            (Some("40"), Some("3"))
        );
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(
            get("node_pcidevice_current_link_transfers_per_second"),
            Some(Value::Gauge(5e9))
        );
        assert_eq!(get("node_pcidevice_numa_node"), None);
        assert_eq!(out.iter().filter(|f| f.name == "node_pcidevice_power_state").count(), 7);
        std::fs::write(dev.join("max_link_width"), "wide\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
