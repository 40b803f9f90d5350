//! `thermal_zone`: thermal zone temperatures and cooling device states from `/sys/class/thermal`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_number, read_trimmed};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("thermal_zone", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ThermalZone { paths: s.paths.clone() }))
}

struct ThermalZone {
    paths: Paths,
}

/// `thermal_zoneN`: type and temperature (millidegrees Celsius).
fn zone(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let kind = read_trimmed(&dir.join("type"))?;
    let temp = read_number(&dir.join("temp"))?;
    out.push(gauge(
        "node_thermal_zone_temp",
        "Zone temperature in Celsius",
        &[("zone", name), ("type", &kind)],
        temp / 1000.0,
    ));
    Ok(())
}

/// `cooling_deviceN`: type, current and maximum throttle state.
fn cooling_device(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let kind = read_trimmed(&dir.join("type"))?;
    let max = read_number(&dir.join("max_state"))?;
    let labels = [("name", name), ("type", kind.as_str())];
    // The current state is not readable on some devices; upstream then leaves it out.
    if let Ok(cur) = read_number(&dir.join("cur_state")) {
        out.push(gauge(
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
            &labels,
            cur,
        ));
    }
    out.push(gauge(
        "node_cooling_device_max_state",
        "Maximum throttle state of the cooling device",
        &labels,
        max,
    ));
    Ok(())
}

impl Collector for ThermalZone {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/thermal");
        // A missing directory fails the collector (upstream's "no data"), so success reports 0.
        let entries = list_dir(&class)?;
        for entry in entries {
            let dir = class.join(&entry);
            if let Some(n) = entry.strip_prefix("thermal_zone") {
                zone(n, &dir, out)?;
            } else if let Some(n) = entry.strip_prefix("cooling_device") {
                cooling_device(n, &dir, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    fn run(files: &[(&str, &str)]) -> Result<Vec<MetricFamily>, CollectError> {
        let root = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = root.path().join("class/thermal").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = ThermalZone {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    fn value(fams: &[MetricFamily], name: &str) -> Option<f64> {
        fams.iter().find(|f| f.name == name).map(|f| match f.metrics[0].value {
            Value::Gauge(v) => v,
            _ => f64::NAN,
        })
    }

    #[test]
    fn zones_and_cooling_devices() {
        let fams = run(&[
            ("thermal_zone0/type", "cpu-thermal\n"),
            ("thermal_zone0/temp", "12376\n"),
            ("cooling_device0/type", "Processor\n"),
            ("cooling_device0/max_state", "3\n"),
            ("cooling_device0/cur_state", "0\n"),
        ])
        .unwrap();
        let cases = [
            ("node_thermal_zone_temp", 12.376),
            ("node_cooling_device_cur_state", 0.0),
            ("node_cooling_device_max_state", 3.0),
        ];
        for (name, want) in cases {
            assert_eq!(value(&fams, name), Some(want), "{name}");
        }
        let zone = &fams
            .iter()
            .find(|f| f.name == "node_thermal_zone_temp")
            .unwrap()
            .metrics[0]
            .labels;
        assert_eq!((zone.get("zone"), zone.get("type")), (Some("0"), Some("cpu-thermal")));
    }

    #[test]
    fn malformed_or_missing_temperature_fails() {
        let cases: [&[(&str, &str)]; 2] = [
            &[("thermal_zone0/type", "x\n"), ("thermal_zone0/temp", "hot\n")],
            &[("thermal_zone0/type", "x\n")],
        ];
        for files in cases {
            assert!(run(files).is_err(), "{files:?}");
        }
        assert!(run(&[]).is_err());
    }
}
