//! `hwmon`: hardware sensors from `/sys/class/hwmon` (temperatures, voltages, fans, power, ...), like
//! `lm-sensors`. Each `hwmonN` directory is a chip, named after its device path (`platform_coretemp_0`), else its
//! `name` file, else the directory name; files named `<type><n>_<property>` are the sensors.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};
use regex::Regex;

use super::sysfs::{DeviceFilter, counter, gauge, list_dir, string_arg};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("hwmon", true, build).with_args(args);

const CHIP_INCLUDE: &str = "collector.hwmon.chip-include";
const CHIP_EXCLUDE: &str = "collector.hwmon.chip-exclude";
const SENSOR_INCLUDE: &str = "collector.hwmon.sensor-include";
const SENSOR_EXCLUDE: &str = "collector.hwmon.sensor-exclude";

/// The sensor types whose files are read; everything else in a chip directory is ignored.
const SENSOR_TYPES: [&str; 14] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

fn args() -> Vec<Arg> {
    vec![
        string_arg(
            CHIP_INCLUDE,
            None,
            "Regexp of hwmon chip to include (mutually exclusive to device-exclude).",
        ),
        string_arg(
            CHIP_EXCLUDE,
            None,
            "Regexp of hwmon chip to exclude (mutually exclusive to device-include).",
        ),
        string_arg(
            SENSOR_INCLUDE,
            None,
            "Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).",
        ),
        string_arg(
            SENSOR_EXCLUDE,
            None,
            "Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).",
        ),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Hwmon {
        paths: s.paths.clone(),
        chips: DeviceFilter::from_flags("hwmon", s.matches, CHIP_INCLUDE, CHIP_EXCLUDE)?,
        sensors: DeviceFilter::from_flags("hwmon", s.matches, SENSOR_INCLUDE, SENSOR_EXCLUDE)?,
        file_name: file_name_regex(),
    }))
}

fn file_name_regex() -> Regex {
    // A fixed, valid pattern: `<type><id>_<property>`.
    Regex::new(r"^([^0-9]+)([0-9]*)(?:_(.+))?$").unwrap_or_else(|_| unreachable!("constant regex"))
}

struct Hwmon {
    paths: Paths,
    chips: DeviceFilter,
    sensors: DeviceFilter,
    file_name: Regex,
}

/// sensor (`temp1`) -> property (`input`, `max`, `` for the bare file) -> raw value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

/// Lowercases and turns everything outside `[a-z0-9:_]` into `_`, trimming `_` at both ends.
fn clean_name(name: &str) -> String {
    let replaced: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_matches('_').to_string()
}

/// Reads at most 128 bytes with one read, as upstream does (some drivers misbehave on longer reads).
fn read_value(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim_matches('\n').to_string())
}

impl Hwmon {
    /// Splits `temp1_crit_alarm` into (`temp`, 1, `crit_alarm`).
    fn explode<'a>(&self, file: &'a str) -> Option<(&'a str, u64, &'a str)> {
        let caps = self.file_name.captures(file)?;
        let kind = caps.get(1)?.as_str();
        let id = caps.get(2).map_or("", |m| m.as_str());
        let id = if id.is_empty() { 0 } else { id.parse().ok()? };
        Some((kind, id, caps.get(3).map_or("", |m| m.as_str())))
    }

    fn collect_sensor_data(&self, dir: &Path, data: &mut SensorData) -> Result<(), CollectorError> {
        for file in list_dir(dir)? {
            let Some((kind, id, prop)) = self.explode(&file) else {
                continue;
            };
            if !SENSOR_TYPES.contains(&kind) {
                continue;
            }
            if let Some(v) = read_value(&dir.join(&file)) {
                data.entry(format!("{kind}{id}"))
                    .or_default()
                    .insert(prop.to_string(), v);
            }
        }
        Ok(())
    }

    /// The stable chip name: from the device link, else the `name` file, else the directory name.
    fn chip_name(dir: &Path) -> Option<String> {
        if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
            let dev_name = device.file_name().map(|n| clean_name(&n.to_string_lossy()));
            let dev_type = device
                .parent()
                .and_then(Path::file_name)
                .map(|n| clean_name(&n.to_string_lossy()));
            match (dev_type, dev_name) {
                (Some(t), Some(n)) if !t.is_empty() && !n.is_empty() => return Some(format!("{t}_{n}")),
                (_, Some(n)) if !n.is_empty() => return Some(n),
                _ => {}
            }
        }
        if let Some(name) = Self::human_name(dir) {
            return Some(name);
        }
        let real = std::fs::canonicalize(dir).ok()?;
        let name = clean_name(&real.file_name()?.to_string_lossy());
        (!name.is_empty()).then_some(name)
    }

    /// The chip type from the `name` file, for `node_hwmon_chip_names`.
    fn human_name(dir: &Path) -> Option<String> {
        let raw = std::fs::read(dir.join("name")).ok()?;
        let name = clean_name(&String::from_utf8_lossy(&raw));
        (!name.is_empty()).then_some(name)
    }

    fn update_chip(&self, dir: &Path, chip: &str, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if self.chips.ignored(chip) {
            tracing::debug!(chip, "ignoring hwmon chip");
            return Ok(());
        }
        let mut data = SensorData::new();
        self.collect_sensor_data(dir, &mut data)?;
        let device = dir.join("device");
        if device.exists() {
            self.collect_sensor_data(&device, &mut data)?;
        }
        if let Some(name) = Self::human_name(dir) {
            out.push(gauge(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                &[("chip", chip), ("chip_name", &name)],
                1.0,
            ));
        }
        for (sensor, props) in &data {
            if self.sensors.ignored(&format!("{chip};{sensor}")) {
                continue;
            }
            let kind = self.explode(sensor).map_or("", |(k, _, _)| k);
            emit_sensor(chip, sensor, kind, props, out);
        }
        Ok(())
    }
}

/// The chip labels for (entry, dir, base name) triples: the base name when unique; otherwise the base name
/// suffixed with the `name` file when those differ within the colliding group, else with the entry name.
fn disambiguate(chips: &[(String, std::path::PathBuf, String)]) -> Vec<String> {
    chips
        .iter()
        .map(|(entry, dir, base)| {
            let group: Vec<_> = chips.iter().filter(|(_, _, b)| b == base).collect();
            if group.len() < 2 {
                return base.clone();
            }
            let names: Vec<Option<String>> = group.iter().map(|(_, d, _)| Hwmon::human_name(d)).collect();
            let distinct = names.iter().all(Option::is_some)
                && names
                    .iter()
                    .enumerate()
                    .all(|(i, n)| names.iter().skip(i + 1).all(|m| m != n));
            match Hwmon::human_name(dir) {
                Some(name) if distinct => format!("{base}_{name}"),
                _ => format!("{base}_{}", clean_name(entry)),
            }
        })
        .collect()
}

/// The families of one sensor of one chip.
fn emit_sensor(chip: &str, sensor: &str, kind: &str, props: &BTreeMap<String, String>, out: &mut Vec<MetricFamily>) {
    let labels = [("chip", chip), ("sensor", sensor)];
    let label = props.get("label").map(String::as_str);
    if let Some(text) = label {
        out.push(gauge(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            &[("chip", chip), ("sensor", sensor), ("label", text)],
            1.0,
        ));
    }
    let bare = props.get("").map(String::as_str);
    match kind {
        "beep_enable" => {
            let v = if bare == Some("1") { 1.0 } else { 0.0 };
            out.push(gauge("node_hwmon_beep_enabled", "Hardware beep enabled", &labels, v));
            return;
        }
        "vrm" | "update_interval" => {
            if let Some(v) = bare.and_then(|b| b.parse::<f64>().ok()) {
                out.push(if kind == "vrm" {
                    gauge(
                        "node_hwmon_voltage_regulator_version",
                        "Hardware voltage regulator",
                        &labels,
                        v,
                    )
                } else {
                    gauge(
                        "node_hwmon_update_interval_seconds",
                        "Hardware monitor update interval",
                        &labels,
                        v * 0.001,
                    )
                });
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, raw) in props {
        if element == "label" {
            continue;
        }
        let name = if element == "input" {
            if bare.is_some() {
                format!("{prefix}_input")
            } else {
                prefix.clone()
            }
        } else if !element.is_empty() {
            format!("{prefix}_{}", clean_name(element))
        } else {
            prefix.clone()
        };
        let Ok(v) = raw.parse::<f64>() else { continue };
        let e = element.as_str();
        let fam = match (kind, e) {
            (_, "fault" | "alarm") => gauge(&name, &format!("Hardware sensor {e} status ({kind})"), &labels, v),
            (_, "beep") => gauge(
                &format!("{name}_enabled"),
                "Hardware monitor sensor has beeping enabled",
                &labels,
                v,
            ),
            ("in" | "cpu", _) => gauge(
                &format!("{name}_volts"),
                &format!("Hardware monitor for voltage ({e})"),
                &labels,
                v * 0.001,
            ),
            ("temp", "type") => gauge(&name, &format!("Hardware monitor {kind} element {e}"), &labels, v),
            ("temp", _) => {
                let e = if e.is_empty() { "input" } else { e };
                gauge(
                    &format!("{name}_celsius"),
                    &format!("Hardware monitor for temperature ({e})"),
                    &labels,
                    v * 0.001,
                )
            }
            ("curr", _) => gauge(
                &format!("{name}_amps"),
                &format!("Hardware monitor for current ({e})"),
                &labels,
                v * 0.001,
            ),
            ("energy", _) => counter(
                &format!("{name}_joule_total"),
                &format!("Hardware monitor for joules used so far ({e})"),
                &labels,
                v / 1_000_000.0,
            ),
            ("power", "accuracy") => gauge(
                &name,
                "Hardware monitor power meter accuracy, as a ratio",
                &labels,
                v / 1_000_000.0,
            ),
            ("power", "average_interval" | "average_interval_min" | "average_interval_max") => gauge(
                &format!("{name}_seconds"),
                &format!("Hardware monitor power usage update interval ({e})"),
                &labels,
                v * 0.001,
            ),
            ("power", _) => gauge(
                &format!("{name}_watt"),
                &format!("Hardware monitor for power usage in watts ({e})"),
                &labels,
                v / 1_000_000.0,
            ),
            ("humidity", _) => gauge(
                &name,
                &format!(
                    "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a \
                     percentage) ({e})"
                ),
                &labels,
                v / 1_000_000.0,
            ),
            ("fan", "input" | "min" | "max" | "target") => gauge(
                &format!("{name}_rpm"),
                &format!("Hardware monitor for fan revolutions per minute ({e})"),
                &labels,
                v,
            ),
            ("freq", "input") => {
                // Only labelled frequency sensors are exported, under their label.
                let Some(sensor_label) = label.map(clean_name) else {
                    continue;
                };
                gauge(
                    &format!("{name}_freq_mhz"),
                    "Hardware monitor for GPU frequency in MHz",
                    &[("chip", chip), ("sensor", &sensor_label)],
                    v / 1_000_000.0,
                )
            }
            _ => gauge(&name, &format!("Hardware monitor {kind} element {e}"), &labels, v),
        };
        out.push(fam);
    }
}

impl Collector for Hwmon {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/hwmon");
        let entries = match list_dir(&class) {
            Ok(e) => e,
            Err(e) => {
                if super::sysfs::is_not_found(&e) {
                    tracing::debug!("hwmon collector metrics are not available for this system");
                }
                return Err(e.into());
            }
        };
        let mut last_err = None;
        // Pass 1: the device-derived name of every chip directory (following the hwmonN links).
        let mut chips = Vec::new();
        for entry in entries {
            let dir = class.join(&entry);
            if !super::sysfs::is_dir(&dir) {
                continue;
            }
            match Self::chip_name(&dir) {
                Some(base) => chips.push((entry, dir, base)),
                None => last_err = Some(CollectorError::malformed(&dir, 0, "cannot derive a chip name")),
            }
        }
        // Pass 2: chips sharing a device (several hwmon nodes under one parent) get a distinguishing suffix.
        let labels = disambiguate(&chips);
        for ((_, dir, _), chip) in chips.iter().zip(labels) {
            if let Err(e) = self.update_chip(dir, &chip, out) {
                last_err = Some(e);
            }
        }
        match last_err {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    fn collector() -> Hwmon {
        Hwmon {
            paths: Paths::default(),
            chips: DeviceFilter::default(),
            sensors: DeviceFilter::default(),
            file_name: file_name_regex(),
        }
    }

    #[test]
    fn explode_file_names() {
        let c = collector();
        let cases = [
            ("temp1_crit_alarm", Some(("temp", 1, "crit_alarm"))),
            ("in0_input", Some(("in", 0, "input"))),
            ("pwm1", Some(("pwm", 1, ""))),
            ("beep_enable", Some(("beep_enable", 0, ""))),
            ("pwm1_auto_point2_temp", Some(("pwm", 1, "auto_point2_temp"))),
            ("1abc", None),
            ("fan99999999999999999999999_input", None),
        ];
        for (file, want) in cases {
            assert_eq!(c.explode(file), want, "{file}");
        }
    }

    #[test]
    fn clean_names() {
        for (raw, want) in [
            ("Core 0\n", "core_0"),
            ("platform", "platform"),
            ("__x.y__", "x_y"),
            ("!!", ""),
        ] {
            assert_eq!(clean_name(raw), want);
        }
    }

    fn collect_tree(files: &[(&str, &str)]) -> Result<Vec<MetricFamily>, CollectError> {
        let root = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = root.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let c = Hwmon {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            ..collector()
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    fn find<'a>(fams: &'a [MetricFamily], name: &str, sensor: &str) -> Option<&'a Value> {
        fams.iter()
            .filter(|f| f.name == name)
            .flat_map(|f| &f.metrics)
            .find(|m| m.labels.get("sensor") == Some(sensor))
            .map(|m| &m.value)
    }

    #[test]
    fn sensors_and_units() {
        let fams = collect_tree(&[
            ("class/hwmon/hwmon0/name", "coretemp\n"),
            ("class/hwmon/hwmon0/temp1_input", "55000\n"),
            ("class/hwmon/hwmon0/temp1_crit_alarm", "0\n"),
            ("class/hwmon/hwmon0/temp1_label", "Core 0\n"),
            ("class/hwmon/hwmon0/in0_input", "792\n"),
            ("class/hwmon/hwmon0/fan2_target", "27000\n"),
            ("class/hwmon/hwmon0/fan2_alarm", "1\n"),
            ("class/hwmon/hwmon0/power1_average", "5000000\n"),
            ("class/hwmon/hwmon0/freq1_input", "214000000\n"),
            ("class/hwmon/hwmon0/freq1_label", "sclk\n"),
            ("class/hwmon/hwmon0/temp2_input", "garbage\n"),
            ("class/hwmon/hwmon0/uevent", "X=1\n"),
        ])
        .unwrap();
        let cases = [
            ("node_hwmon_temp_celsius", "temp1", 55.0),
            ("node_hwmon_temp_crit_alarm_celsius", "temp1", 0.0),
            ("node_hwmon_sensor_label", "temp1", 1.0),
            ("node_hwmon_in_volts", "in0", 0.792),
            ("node_hwmon_fan_target_rpm", "fan2", 27000.0),
            ("node_hwmon_fan_alarm", "fan2", 1.0),
            ("node_hwmon_power_average_watt", "power1", 5.0),
            ("node_hwmon_freq_freq_mhz", "sclk", 214.0),
        ];
        for (name, sensor, want) in cases {
            assert_eq!(find(&fams, name, sensor), Some(&Value::Gauge(want)), "{name}");
        }
        // A non-numeric value is skipped, not an error.
        assert_eq!(find(&fams, "node_hwmon_temp_celsius", "temp2"), None);
        let chip = fams.iter().find(|f| f.name == "node_hwmon_chip_names").unwrap();
        assert_eq!(chip.metrics[0].labels.get("chip"), Some("coretemp"));
    }

    #[test]
    fn colliding_chips_get_suffixes() {
        let root = tempfile::tempdir().unwrap();
        let mk = |rel: &str, name: Option<&str>| {
            let d = root.path().join(rel);
            std::fs::create_dir_all(&d).unwrap();
            if let Some(n) = name {
                std::fs::write(d.join("name"), n).unwrap();
            }
            (rel.rsplit('/').next().unwrap().to_string(), d)
        };
        let chips = [
            (mk("a/hwmon6", Some("asus")), "platform_x"),
            (mk("b/hwmon7", Some("asus_wmi_sensors")), "platform_x"),
            (mk("c/hwmon1", Some("same")), "pci_y"),
            (mk("d/hwmon2", Some("same")), "pci_y"),
            (mk("e/hwmon3", None), "platform_coretemp_0"),
        ];
        let input: Vec<_> = chips
            .iter()
            .map(|((e, d), b)| (e.clone(), d.clone(), b.to_string()))
            .collect();
        assert_eq!(
            disambiguate(&input),
            [
                "platform_x_asus",
                "platform_x_asus_wmi_sensors",
                "pci_y_hwmon1",
                "pci_y_hwmon2",
                "platform_coretemp_0"
            ]
        );
    }

    #[test]
    fn missing_class_directory_is_no_data() {
        assert!(collect_tree(&[]).is_err());
    }

    #[test]
    fn unlabelled_frequency_is_not_exported() {
        let fams = collect_tree(&[("class/hwmon/hwmon0/freq1_input", "214000000\n")]).unwrap();
        assert!(fams.iter().all(|f| f.name != "node_hwmon_freq_freq_mhz"));
    }
}
