//! `cgroups`: per cgroup v1 controller the number of cgroups and whether it is enabled, from `/proc/cgroups`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::gauge;
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("cgroups", false, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Cgroups { paths: s.paths.clone() }))
}

struct Cgroups {
    paths: Paths,
}

/// (subsystem, number of cgroups, enabled) rows of `/proc/cgroups`.
fn parse(path: &Path, text: &str) -> Result<Vec<(String, f64, f64)>, CollectorError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, _hierarchy, count, enabled] = fields[..] else {
            return Err(CollectorError::malformed(path, n + 1, "expected 4 fields"));
        };
        rows.push((
            name.to_string(),
            parse_num::<u64>(path, n + 1, count)? as f64,
            parse_num::<u64>(path, n + 1, enabled)? as f64,
        ));
    }
    Ok(rows)
}

impl Collector for Cgroups {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("cgroups");
        for (name, count, enabled) in parse(&path, &read_file(&path)?)? {
            let labels = [("subsys_name", name.as_str())];
            out.push(gauge(
                "node_cgroups_cgroups",
                "Current cgroup number of the subsystem.",
                &labels,
                count,
            ));
            out.push(gauge(
                "node_cgroups_enabled",
                "Current cgroup number of the subsystem.",
                &labels,
                enabled,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t5\t47\t1\nrdma\t4\t1\t0";
        let rows = parse(Path::new("cgroups"), text).unwrap();
        assert_eq!(
            rows,
            [("cpuset".to_string(), 47.0, 1.0), ("rdma".to_string(), 1.0, 0.0)]
        );
        for bad in ["cpu 1 2\n", "cpu 1 x 1\n"] {
            assert!(parse(Path::new("cgroups"), bad).is_err(), "{bad:?}");
        }
    }
}
