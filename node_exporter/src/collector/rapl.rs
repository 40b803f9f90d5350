//! `rapl`: Intel RAPL energy counters from `/sys/class/powercap/<zone>` (`energy_uj`), one
//! `node_rapl_<zone>_joules_total` family per zone name, or with `--collector.rapl.enable-zone-label` one
//! `node_rapl_joules_total` family labelled by zone.

use std::collections::BTreeMap;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{bool_args, counter, flag_on, list_dir, read_number};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("rapl", true, build).with_args(args);

const ZONE_LABEL: &str = "collector.rapl.enable-zone-label";
const NO_ZONE_LABEL: &str = "no-collector.rapl.enable-zone-label";

fn args() -> Vec<Arg> {
    bool_args(ZONE_LABEL, NO_ZONE_LABEL, false, "Enables RAPL zone labels").into()
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Rapl {
        paths: s.paths.clone(),
        zone_label: flag_on(s.matches, ZONE_LABEL, false),
    }))
}

struct Rapl {
    paths: Paths,
    zone_label: bool,
}

/// Splits a zone name such as `package-0` (exactly one `-`, a numeric suffix) into (`package`, Some(0)); other
/// names have no index of their own.
fn split_name(name: &str) -> (&str, Option<u64>) {
    let parts: Vec<&str> = name.split('-').collect();
    if let [base, idx] = parts[..]
        && let Ok(i) = idx.parse()
    {
        return (base, Some(i));
    }
    (name, None)
}

/// Replaces characters that cannot appear in a metric name with `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

impl Collector for Rapl {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/powercap");
        let mut usages: BTreeMap<String, u64> = BTreeMap::new();
        for entry in list_dir(&class)? {
            let dir = class.join(&entry);
            // Zones are the entries with a `name` (the `intel-rapl` control type has none).
            let Some(raw_name) = super::sysfs::read_optional(&dir.join("name")) else {
                continue;
            };
            let (name, own_index) = split_name(&raw_name);
            let index = own_index.unwrap_or_else(|| usages.get(name).copied().unwrap_or(0));
            // Unnamed duplicates are numbered after the last index seen for the name.
            usages.insert(name.to_string(), index + 1);
            read_number(&dir.join("max_energy_range_uj"))?;
            let energy = match read_number(&dir.join("energy_uj")) {
                Ok(v) => v,
                Err(CollectorError::Read { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::debug!(zone = entry.as_str(), "cannot read energy_uj, skipping zone");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let index = index.to_string();
            let path = dir.display().to_string();
            let joules = energy / 1_000_000.0;
            out.push(if self.zone_label {
                counter(
                    "node_rapl_joules_total",
                    "Current RAPL value in joules",
                    &[("index", &index), ("path", &path), ("rapl_zone", name)],
                    joules,
                )
            } else {
                counter(
                    &format!("node_rapl_{}_joules_total", sanitize(name)),
                    &format!("Current RAPL {name} value in joules"),
                    &[("index", &index), ("path", &path)],
                    joules,
                )
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn zone_names() {
        let cases = [
            ("package-0", ("package", Some(0))),
            ("core", ("core", None)),
            ("dram-x", ("dram-x", None)),
        ];
        for (raw, want) in cases {
            assert_eq!(split_name(raw), want);
        }
        assert_eq!(sanitize("psys-a.b"), "psys_a_b");
    }

    #[test]
    fn zones_from_powercap() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("intel-rapl/enabled", "1\n"),
            ("intel-rapl:0/name", "package-0\n"),
            ("intel-rapl:0/energy_uj", "240422366267\n"),
            ("intel-rapl:0/max_energy_range_uj", "262143328850\n"),
            ("intel-rapl:0:0/max_energy_range_uj", "262143328850\n"),
            ("intel-rapl:0:0/name", "core\n"),
            ("intel-rapl:0:0/energy_uj", "118821284256\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("class/powercap").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Rapl {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            zone_label: false,
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["node_rapl_package_joules_total", "node_rapl_core_joules_total"]);
        assert!(matches!(out[1].metrics[0].value, Value::Counter { total, .. } if total == 118821.284256));
        std::fs::write(root.path().join("class/powercap/intel-rapl:0/energy_uj"), "lots\n").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
