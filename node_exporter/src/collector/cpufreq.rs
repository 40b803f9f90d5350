//! `cpufreq`: CPU frequency scaling from `/sys/devices/system/cpu/cpu<N>/cpufreq` (current, minimum and maximum
//! frequencies, in hertz, and the enabled governor).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, read_optional, read_optional_number};
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("cpufreq", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Cpufreq { paths: s.paths.clone() }))
}

struct Cpufreq {
    paths: Paths,
}

/// (file, metric name, help); values are kHz in sysfs, hertz in the metric.
const FREQUENCIES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

/// The families of one CPU's `cpufreq` directory.
fn cpu_families(cpu: &str, dir: &Path, out: &mut Vec<MetricFamily>) {
    let labels = [("cpu", cpu)];
    for (file, name, help) in FREQUENCIES {
        if let Some(khz) = read_optional_number(&dir.join(file)) {
            out.push(gauge(name, help, &labels, khz * 1000.0));
        }
    }
    let current = read_optional(&dir.join("scaling_governor"));
    if let Some(available) = read_optional(&dir.join("scaling_available_governors")) {
        for governor in available.split_whitespace() {
            let on = current.as_deref() == Some(governor);
            out.push(gauge(
                "node_cpu_scaling_governor",
                "Current enabled CPU frequency governor.",
                &[("cpu", cpu), ("governor", governor)],
                if on { 1.0 } else { 0.0 },
            ));
        }
    }
}

impl Collector for Cpufreq {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("devices/system/cpu");
        // A missing directory fails the collector (upstream's "no data"), so success reports 0.
        let entries = super::scrape::list_dir(&base)?;
        for entry in entries {
            let Some(cpu) = entry
                .strip_prefix("cpu")
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if cpu.is_empty() {
                continue;
            }
            let dir = base.join(&entry).join("cpufreq");
            if super::sysfs::is_dir(&dir) {
                cpu_families(cpu, &dir, out);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn frequencies_and_governors() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            ("cpu0/cpufreq/scaling_cur_freq", "1699981\n"),
            ("cpu0/cpufreq/scaling_max_freq", "3700000\n"),
            ("cpu0/cpufreq/scaling_min_freq", "bogus\n"),
            ("cpu0/cpufreq/scaling_governor", "powersave\n"),
            ("cpu0/cpufreq/scaling_available_governors", "performance powersave\n"),
            ("cpufreq/boost", "1\n"),
        ];
        for (p, c) in files {
            let p = root.path().join("devices/system/cpu").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Cpufreq {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let get = |name: &str, gov: Option<&str>| {
            out.iter()
                .filter(|f| f.name == name)
                .flat_map(|f| &f.metrics)
                .find(|m| m.labels.get("governor") == gov)
                .map(|m| m.value.clone())
        };
        let cases = [
            (
                "node_cpu_scaling_frequency_hertz",
                None,
                Some(Value::Gauge(1_699_981_000.0)),
            ),
            ("node_cpu_scaling_frequency_max_hertz", None, Some(Value::Gauge(3.7e9))),
            ("node_cpu_scaling_frequency_min_hertz", None, None),
            ("node_cpu_scaling_governor", Some("powersave"), Some(Value::Gauge(1.0))),
            (
                "node_cpu_scaling_governor",
                Some("performance"),
                Some(Value::Gauge(0.0)),
            ),
        ];
        for (name, gov, want) in cases {
            assert_eq!(get(name, gov), want, "{name} {gov:?}");
        }
    }
}
