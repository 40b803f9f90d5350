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

    #[test]
    fn zones_and_cooling_devices() {
        let cases: [(&[(&str, &str)], Option<Vec<(&str, f64)>>); 3] = [
            (
                &[
                    ("thermal_zone0/type", "cpu-thermal\n"),
                    ("thermal_zone0/temp", "12376\n"),
                    ("cooling_device0/type", "Processor\n"),
                    ("cooling_device0/max_state", "3\n"),
                    ("cooling_device0/cur_state", "0\n"),
                ],
                Some(vec![
                    ("node_cooling_device_cur_state", 0.0),
                    ("node_cooling_device_max_state", 3.0),
                    ("node_thermal_zone_temp", 12.376),
                ]),
            ),
            (&[("thermal_zone0/type", "x\n"), ("thermal_zone0/temp", "hot\n")], None),
            (&[("thermal_zone0/type", "x\n")], None),
        ];
        for (files, want) in cases {
            let got = run(files).ok().map(|fams| {
                let mut v: Vec<(&str, f64)> = fams
                    .iter()
                    .map(|f| {
                        let Value::Gauge(g) = f.metrics[0].value else { panic!() };
                        (
                            match f.name.as_str() {
                                "node_cooling_device_cur_state" => "node_cooling_device_cur_state",
                                "node_cooling_device_max_state" => "node_cooling_device_max_state",
                                _ => "node_thermal_zone_temp",
                            },
                            g,
                        )
                    })
                    .collect();
                v.sort_by(|a, b| a.0.cmp(b.0));
                v
            });
            assert_eq!(got, want, "{files:?}");
        }
    }
}
