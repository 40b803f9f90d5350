//! `pcidevice`: PCI devices from `/sys/bus/pci/devices/<location>`: an info family (ids, class, revision and the
//! parent device), PCIe link speed and width, power state, D3cold support, NUMA node and SR-IOV figures. With
//! `--collector.pcidevice.names` the info family also carries vendor, device, subsystem and class names from a
//! `pci.ids` database (`--collector.pcidevice.idsfile`, else the usual system locations).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_optional, string_arg};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("pcidevice", false, build).with_args(args);

const IDS_FILE: &str = "collector.pcidevice.idsfile";
const NAMES: &str = "collector.pcidevice.names";

/// Where `pci.ids` is looked for when `--collector.pcidevice.idsfile` is not given.
const IDS_PATHS: [&str; 3] = [
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/var/lib/pciutils/pci.ids",
];

fn args() -> Vec<Arg> {
    vec![
        string_arg(
            IDS_FILE,
            None,
            "Path to pci.ids file to use for PCI device identification.",
        ),
        Arg::new(NAMES)
            .long(NAMES)
            .action(ArgAction::SetTrue)
            .help("Enable PCI device name resolution (requires pci.ids file)."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let ids = if s.matches.get_flag(NAMES) {
        let candidates: Vec<PathBuf> = match s.matches.get_one::<String>(IDS_FILE) {
            Some(f) if !f.is_empty() => vec![PathBuf::from(f)],
            _ => IDS_PATHS.iter().map(PathBuf::from).collect(),
        };
        let loaded = candidates
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok().map(|t| (p, PciIds::parse(&t))));
        match loaded {
            Some((path, ids)) => {
                tracing::info!(file = %path.display(), "Loaded PCI IDs file");
                Some(ids)
            }
            None => {
                tracing::warn!("no pci.ids file could be read; PCI names fall back to ids");
                Some(PciIds::default())
            }
        }
    } else {
        None
    };
    Ok(Box::new(PciDevice {
        paths: s.paths.clone(),
        ids,
    }))
}

struct PciDevice {
    paths: Paths,
    /// The name database, when name resolution is on.
    ids: Option<PciIds>,
}

/// The `pci.ids` database: vendors with their devices and subsystems, classes with subclasses and
/// programming interfaces. Ids are lowercase hex without `0x`.
#[derive(Debug, Default)]
struct PciIds {
    vendors: HashMap<String, String>,
    devices: HashMap<(String, String), String>,
    subsystems: HashMap<(String, String, String, String), String>,
    classes: HashMap<String, String>,
    subclasses: HashMap<(String, String), String>,
    prog_ifs: HashMap<(String, String, String), String>,
}

impl PciIds {
    fn parse(text: &str) -> PciIds {
        let mut ids = PciIds::default();
        let (mut vendor, mut device) = (String::new(), String::new());
        let (mut class, mut subclass) = (String::new(), String::new());
        let mut in_classes = false;
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let tabs = line.bytes().take_while(|&b| b == b'\t').count();
            let body = &line[tabs..];
            let Some((id, name)) = body.split_once("  ") else {
                continue;
            };
            let (id, name) = (id.trim().to_ascii_lowercase(), name.trim().to_string());
            match (tabs, line.starts_with("C ")) {
                (0, true) => {
                    in_classes = true;
                    class = id.trim_start_matches("c ").to_string();
                    ids.classes.insert(class.clone(), name);
                }
                (0, false) => {
                    in_classes = false;
                    vendor = id;
                    ids.vendors.insert(vendor.clone(), name);
                }
                (1, _) if in_classes => {
                    subclass = id;
                    ids.subclasses.insert((class.clone(), subclass.clone()), name);
                }
                (1, _) => {
                    device = id;
                    ids.devices.insert((vendor.clone(), device.clone()), name);
                }
                (2, _) if in_classes => {
                    ids.prog_ifs.insert((class.clone(), subclass.clone(), id), name);
                }
                (2, _) => {
                    if let Some((sv, sd)) = id.split_once(' ') {
                        let key = (vendor.clone(), device.clone(), sv.to_string(), sd.trim().to_string());
                        ids.subsystems.insert(key, name);
                    }
                }
                _ => {}
            }
        }
        ids
    }

    /// (vendor, device, subsystem vendor, subsystem device, class) names; unknown ids stand for themselves.
    fn names(&self, vendor: &str, device: &str, sub_vendor: &str, sub_device: &str, class: &str) -> [String; 5] {
        let norm = |s: &str| s.trim_start_matches("0x").to_ascii_lowercase();
        let (v, d, sv, sd, c) = (
            norm(vendor),
            norm(device),
            norm(sub_vendor),
            norm(sub_device),
            norm(class),
        );
        let vendor_name = self.vendors.get(&v).cloned().unwrap_or_else(|| v.clone());
        let device_name = self
            .devices
            .get(&(v.clone(), d.clone()))
            .cloned()
            .unwrap_or_else(|| d.clone());
        let sub_vendor_name = self.vendors.get(&sv).cloned().unwrap_or_else(|| sv.clone());
        let sub_device_name = self.subsystems.get(&(v, d, sv, sd.clone())).cloned().unwrap_or(sd);
        let (cc, sc, pi) = (
            c.get(0..2).unwrap_or(""),
            c.get(2..4).unwrap_or(""),
            c.get(4..6).unwrap_or(""),
        );
        let class_name = self
            .prog_ifs
            .get(&(cc.to_string(), sc.to_string(), pi.to_string()))
            .or_else(|| self.subclasses.get(&(cc.to_string(), sc.to_string())))
            .or_else(|| self.classes.get(cc))
            .cloned()
            .unwrap_or(c);
        [vendor_name, device_name, sub_vendor_name, sub_device_name, class_name]
    }
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

fn device(name: &str, dir: &Path, ids: Option<&PciIds>, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
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
    let names = ids.map(|ids| ids.names(&vendor, &device_id, &sub_vendor, &sub_device, &class));
    let mut info: Vec<(&str, &str)> = vec![
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
    ];
    if let Some([vendor_name, device_name, sub_vendor_name, sub_device_name, class_name]) = &names {
        info.extend([
            ("vendor_name", vendor_name.as_str()),
            ("device_name", device_name.as_str()),
            ("subsystem_vendor_name", sub_vendor_name.as_str()),
            ("subsystem_device_name", sub_device_name.as_str()),
            ("class_name", class_name.as_str()),
        ]);
    }
    out.push(gauge(
        "node_pcidevice_info",
        "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.",
        &info,
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
            device(&name, &base.join(&name), self.ids.as_ref(), out)?;
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
            ids: None,
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

    #[test]
    fn pci_ids_names() {
        let text = "# comment\nC 01  Mass storage controller\n\t08  Non-Volatile memory controller\n\t\t02  NVM Express\n\
C 06  Bridge device\n\t04  PCI bridge\n\n1022  AMD\n\t1634  Renoir Bridge\n\t\t17aa 5095  T540\n17aa  Lenovo\n";
        let ids = PciIds::parse(text);
        let cases = [
            (
                ("0x1022", "0x1634", "0x17aa", "0x5095", "0x060400"),
                ["AMD", "Renoir Bridge", "Lenovo", "T540", "PCI bridge"],
            ),
            (
                ("0x1022", "0x9999", "0x8086", "0x0001", "0x010802"),
                ["AMD", "9999", "8086", "0001", "NVM Express"],
            ),
            (
                ("0xabcd", "0x0001", "0xabcd", "0x0002", "0x0c0300"),
                ["abcd", "0001", "abcd", "0002", "0c0300"],
            ),
        ];
        for ((v, d, sv, sd, c), want) in cases {
            assert_eq!(ids.names(v, d, sv, sd, c), want.map(String::from), "{v} {d}");
        }
    }

    /// Upstream's output with name resolution on, for the fixture tree and its `pci.ids`.
    #[test]
    fn upstream_names_output() {
        use exposition::Registry;
        use exposition::encode::{Format, encode};
        use exposition::parse::{Mode, families};
        let Some(corpus) = exposition::conformance::corpus_dir() else {
            return;
        };
        let fixtures = corpus.join("node_exporter");
        let scratch = tempfile::tempdir().unwrap();
        // The stored corpus keeps the bus links as files holding their targets; make them links again.
        let bus = scratch.path().join("bus/pci/devices");
        std::fs::create_dir_all(&bus).unwrap();
        std::os::unix::fs::symlink(fixtures.join("sys/devices"), scratch.path().join("devices")).unwrap();
        for name in list_dir(&fixtures.join("sys/bus/pci/devices")).unwrap() {
            let target = std::fs::read_to_string(fixtures.join("sys/bus/pci/devices").join(&name)).unwrap();
            std::os::unix::fs::symlink(target.trim(), bus.join(&name)).unwrap();
        }
        let ids = PciIds::parse(&std::fs::read_to_string(fixtures.join("pci.ids")).unwrap());
        let registry = Registry::new();
        registry.register(PciDevice {
            paths: Paths {
                sysfs: scratch.path().to_path_buf(),
                ..Paths::default()
            },
            ids: Some(ids),
        });
        let mut got = Vec::new();
        encode(&registry.gather(&[]).unwrap(), Format::Text, &mut got);
        let want_text = std::fs::read_to_string(fixtures.join("pcidevice-names-output.txt")).unwrap();
        let mut want = families(want_text.as_bytes(), Format::Text, Mode::Lenient).unwrap();
        want.sort_by(|a, b| a.name.cmp(&b.name));
        let mut want_encoded = Vec::new();
        encode(&want, Format::Text, &mut want_encoded);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want_encoded).unwrap()
        );
    }
}
