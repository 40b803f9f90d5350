//! `watchdog`: hardware and software watchdogs from `/sys/class/watchdog/<name>`: timeouts, boot status and an
//! info family with the text attributes.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_optional};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("watchdog", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Watchdog { paths: s.paths.clone() }))
}

struct Watchdog {
    paths: Paths,
}

/// (attribute file, metric suffix) of the numeric attributes.
const NUMERIC: [(&str, &str); 7] = [
    ("bootstatus", "bootstatus"),
    ("fw_version", "fw_version"),
    ("nowayout", "nowayout"),
    ("timeleft", "timeleft_seconds"),
    ("timeout", "timeout_seconds"),
    ("pretimeout", "pretimeout_seconds"),
    ("access_cs0", "access_cs0"),
];

/// Text attributes that label `node_watchdog_info` (empty when absent).
const INFO: [&str; 5] = ["options", "identity", "state", "status", "pretimeout_governor"];

fn device(name: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("name", name)];
    for (file, suffix) in NUMERIC {
        let path = dir.join(file);
        let Some(text) = read_optional(&path) else { continue };
        let v: f64 = super::parse_num(&path, 1, &text)?;
        out.push(gauge(
            &format!("node_watchdog_{suffix}"),
            &format!("Value of /sys/class/watchdog/<watchdog>/{file}"),
            &labels,
            v,
        ));
    }
    let values: Vec<String> = INFO
        .iter()
        .map(|f| read_optional(&dir.join(f)).unwrap_or_default())
        .collect();
    let mut info: Vec<(&str, &str)> = vec![("name", name)];
    info.extend(INFO.iter().zip(&values).map(|(k, v)| (*k, v.as_str())));
    out.push(gauge(
        "node_watchdog_info",
        "Info of /sys/class/watchdog/<watchdog>",
        &info,
        1.0,
    ));
    Ok(())
}

impl Collector for Watchdog {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let class = self.paths.sys("class/watchdog");
        for name in list_dir(&class)? {
            device(&name, &class.join(&name), out)?;
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
        std::fs::create_dir_all(root.path().join("class/watchdog/watchdog1")).unwrap();
        for (p, c) in files {
            let p = root.path().join("class/watchdog").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Watchdog {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    #[test]
    fn attributes_and_info() {
        let fams = run(&[
            ("watchdog0/timeout", "60\n"),
            ("watchdog0/bootstatus", "1\n"),
            ("watchdog0/identity", "Software Watchdog\n"),
        ])
        .unwrap();
        let get = |name: &str| fams.iter().find(|f| f.name == name).map(|f| f.metrics[0].value.clone());
        assert_eq!(get("node_watchdog_timeout_seconds"), Some(Value::Gauge(60.0)));
        assert_eq!(get("node_watchdog_bootstatus"), Some(Value::Gauge(1.0)));
        assert_eq!(get("node_watchdog_nowayout"), None);
        let infos: Vec<_> = fams.iter().filter(|f| f.name == "node_watchdog_info").collect();
        assert_eq!(infos.len(), 2, "one per device, also without attributes");
        assert!(run(&[("watchdog0/timeout", "soon\n")]).is_err());
    }
}
