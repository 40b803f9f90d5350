//! `selinux`: whether SELinux is enabled, its configured mode (`/etc/selinux/config` under `--path.rootfs`) and
//! its current mode (`enforce` in the selinuxfs mount, `/sys/fs/selinux`).

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, read_optional};
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("selinux", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Selinux { paths: s.paths.clone() }))
}

struct Selinux {
    paths: Paths,
}

/// The enforcement mode as upstream encodes it: enforcing 1, permissive 0, disabled -1.
fn mode_value(mode: &str) -> f64 {
    match mode.trim().to_ascii_lowercase().as_str() {
        "enforcing" | "1" => 1.0,
        "permissive" | "0" => 0.0,
        _ => -1.0,
    }
}

/// `SELINUX=` from the configuration file's text.
fn configured_mode(config: &str) -> Option<&str> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("SELINUX="))
        .map(|v| v.trim_matches('"'))
}

impl Collector for Selinux {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let enforce = read_optional(&self.paths.sys("fs/selinux/enforce"));
        let enabled = enforce.is_some();
        out.push(gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
            &[],
            if enabled { 1.0 } else { 0.0 },
        ));
        let Some(current) = enforce else { return Ok(()) };
        let config = read_optional(&self.paths.rootfs.join("etc/selinux/config")).unwrap_or_default();
        out.push(gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            &[],
            configured_mode(&config).map_or(-1.0, mode_value),
        ));
        out.push(gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            &[],
            mode_value(&current),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn modes() {
        let cases = [
            ("enforcing", 1.0),
            ("permissive", 0.0),
            ("disabled", -1.0),
            ("1", 1.0),
            ("0", 0.0),
        ];
        for (text, want) in cases {
            assert_eq!(mode_value(text), want, "{text}");
        }
        let config = "# SELINUX=disabled\nSELINUX=permissive\nSELINUXTYPE=targeted\n";
        assert_eq!(configured_mode(config), Some("permissive"));
        assert_eq!(configured_mode("SELINUXTYPE=targeted\n"), None);
    }

    #[test]
    fn enabled_and_disabled() {
        let root = tempfile::tempdir().unwrap();
        let c = Selinux {
            paths: Paths {
                sysfs: root.path().join("sys"),
                rootfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].metrics[0].value, Value::Gauge(0.0));
        std::fs::create_dir_all(root.path().join("sys/fs/selinux")).unwrap();
        std::fs::write(root.path().join("sys/fs/selinux/enforce"), "1").unwrap();
        std::fs::create_dir_all(root.path().join("etc/selinux")).unwrap();
        std::fs::write(root.path().join("etc/selinux/config"), "SELINUX=permissive\n").unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let values: Vec<_> = out
            .iter()
            .map(|f| (f.name.as_str(), f.metrics[0].value.clone()))
            .collect();
        assert_eq!(
            values,
            [
                ("node_selinux_enabled", Value::Gauge(1.0)),
                ("node_selinux_config_mode", Value::Gauge(0.0)),
                ("node_selinux_current_mode", Value::Gauge(1.0)),
            ]
        );
    }
}
