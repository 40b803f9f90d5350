//! `powersupplyclass`: batteries and power supplies from `/sys/class/power_supply` (capacity, energy, voltage,
//! current, temperature and an info family with the text attributes).

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};
use regex::Regex;

use super::sysfs::{gauge, list_dir, read_optional, string_arg};
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("powersupplyclass", true, build).with_args(args);

const IGNORED: &str = "collector.powersupply.ignored-supplies";

fn args() -> Vec<Arg> {
    vec![string_arg(
        IGNORED,
        Some("^$"),
        "Regexp of power supplies to ignore for powersupplyclass collector.",
    )]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let pattern = s.matches.get_one::<String>(IGNORED).map_or("^$", String::as_str);
    let ignored = Regex::new(pattern).map_err(|e| BuildError::InvalidFlag {
        collector: "powersupplyclass",
        flag: IGNORED.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Box::new(PowerSupplyClass {
        paths: s.paths.clone(),
        ignored,
    }))
}

struct PowerSupplyClass {
    paths: Paths,
    ignored: Regex,
}

/// (sysfs attribute, metric suffix, divisor): raw integers scaled to base units (µ-units and tenths of °C).
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    ("constant_charge_current_max", "constant_charge_current_max", 1e6),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    ("constant_charge_voltage_max", "constant_charge_voltage_max", 1e6),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attributes that become labels of `node_power_supply_info` when present and non-empty.
const INFO: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
    "scope",
];

fn supply_families(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) {
    let labels = [("power_supply", name)];
    for (file, suffix, divisor) in NUMERIC {
        // Integers only, as the kernel writes them; other content is skipped like an absent attribute.
        let Some(v) = read_optional(&dir.join(file)).and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        out.push(gauge(
            &format!("node_power_supply_{suffix}"),
            &format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
            &labels,
            v as f64 / divisor,
        ));
    }
    let mut info: Vec<(&str, String)> = vec![("power_supply", name.to_string())];
    for attr in INFO {
        if let Some(v) = read_optional(&dir.join(attr)).filter(|v| !v.is_empty()) {
            info.push((attr, v));
        }
    }
    let pairs: Vec<(&str, &str)> = info.iter().map(|(k, v)| (*k, v.as_str())).collect();
    out.push(gauge(
        "node_power_supply_info",
        "info of /sys/class/power_supply/<power_supply>.",
        &pairs,
        1.0,
    ));
}

impl Collector for PowerSupplyClass {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/power_supply");
        // A missing directory fails the collector (upstream's "no data"), so success reports 0.
        let entries = list_dir(&class)?;
        for name in entries {
            if self.ignored.is_match(&name) {
                continue;
            }
            supply_families(&name, &class.join(&name), out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn battery_values_and_info() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("BAT0/capacity", "81\n"),
            ("BAT0/energy_now", "36580000\n"),
            ("BAT0/voltage_now", "11660000\n"),
            ("BAT0/temp", "215\n"),
            ("BAT0/cycle_count", "many\n"),
            ("BAT0/status", "Discharging\n"),
            ("BAT0/model_name", "\n"),
            ("AC/online", "1\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("class/power_supply").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = PowerSupplyClass {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            ignored: Regex::new("^AC$").unwrap(),
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str| out.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        let cases = [
            ("node_power_supply_capacity", Some(81.0)),
            ("node_power_supply_energy_watthour", Some(36.58)),
            ("node_power_supply_voltage_volt", Some(11.66)),
            ("node_power_supply_temp_celsius", Some(21.5)),
            ("node_power_supply_cyclecount", None),
            ("node_power_supply_online", None),
        ];
        for (name, want) in cases {
            assert_eq!(get(name), want.map(Value::Gauge), "{name}");
        }
        let info = out.iter().find(|f| f.name == "node_power_supply_info").unwrap();
        assert_eq!(info.metrics.len(), 1);
        let labels = &info.metrics[0].labels;
        assert_eq!(labels.get("status"), Some("Discharging"));
        assert_eq!(labels.get("model_name"), None);
    }
}
