//! The command line, built from the collector table: `--path.*`, `--collector.<name>` / `--no-collector.<name>`
//! for every collector, `--collector.disable-defaults`, and each collector's own flags.

use clap::{Arg, ArgAction, ArgMatches, Command};
use exposition::Registry;

use crate::collector::{BuildError, COLLECTORS, Settings, Spec};
use crate::paths::Paths;

/// The node_exporter command (without the web flags, which the binary adds from the HTTP runtime).
pub fn command() -> Command {
    let mut cmd = Command::new("node_exporter")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Prometheus exporter for hardware and OS metrics exposed by *NIX kernels.")
        .arg(path_arg("path.procfs", "/proc", "procfs mountpoint."))
        .arg(path_arg("path.sysfs", "/sys", "sysfs mountpoint."))
        .arg(path_arg("path.rootfs", "/", "rootfs mountpoint."))
        .arg(path_arg("path.udev.data", "/run/udev/data", "udev data path."))
        .arg(
            Arg::new("collector.disable-defaults")
                .long("collector.disable-defaults")
                .action(ArgAction::SetTrue)
                .help("Set all collectors to disabled by default."),
        );
    for spec in COLLECTORS {
        let on = format!("collector.{}", spec.name);
        let off = format!("no-collector.{}", spec.name);
        let state = if spec.default_enabled { "enabled" } else { "disabled" };
        cmd = cmd
            .arg(
                Arg::new(on.clone())
                    .long(on.clone())
                    .action(ArgAction::SetTrue)
                    .overrides_with(off.clone())
                    .help(format!("Enable the {} collector (default: {state}).", spec.name)),
            )
            .arg(
                Arg::new(off.clone())
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .overrides_with(on)
                    .hide(true),
            )
            .args((spec.args)());
    }
    cmd
}

fn path_arg(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).default_value(default).help(help)
}

/// The filesystem roots from the parsed flags.
pub fn paths(m: &ArgMatches) -> Paths {
    let get = |k: &str| m.get_one::<String>(k).cloned().unwrap_or_default().into();
    Paths {
        procfs: get("path.procfs"),
        sysfs: get("path.sysfs"),
        rootfs: get("path.rootfs"),
        udev_data: get("path.udev.data"),
    }
}

/// The collectors the flags enable, in table order.
pub fn enabled(m: &ArgMatches) -> Vec<&'static Spec> {
    let defaults = !m.get_flag("collector.disable-defaults");
    COLLECTORS
        .iter()
        .filter(|spec| {
            if m.get_flag(&format!("collector.{}", spec.name)) {
                true
            } else if m.get_flag(&format!("no-collector.{}", spec.name)) {
                false
            } else {
                defaults && spec.default_enabled
            }
        })
        .collect()
}

/// Builds a registry with every enabled collector, named, timed under the `node` namespace.
pub fn registry(m: &ArgMatches) -> Result<Registry, BuildError> {
    let paths = paths(m);
    let settings = Settings {
        paths: &paths,
        matches: m,
    };
    let registry = Registry::with_scrape_metrics("node");
    // Files several collectors read are read once per scrape, between these two marks (they emit nothing and are
    // not timed).
    #[cfg(target_os = "linux")]
    registry.register(crate::collector::scrape::Begin);
    for spec in enabled(m) {
        let collector = (spec.build)(&settings)?;
        tracing::info!(collector = spec.name, "enabled collector");
        // Names come from a static table of unique names, so registration cannot collide.
        let _ = registry.register_named(spec.name, collector);
    }
    #[cfg(target_os = "linux")]
    registry.register(crate::collector::scrape::End);
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ArgMatches {
        command()
            .try_get_matches_from(std::iter::once("node_exporter").chain(args.iter().copied()))
            .unwrap()
    }

    fn names(m: &ArgMatches) -> Vec<&'static str> {
        enabled(m).iter().map(|s| s.name).collect()
    }

    #[test]
    fn enable_and_disable_switches() {
        let all = names(&parse(&[]));
        assert!(all.contains(&"loadavg") && all.contains(&"meminfo"));
        assert!(!names(&parse(&["--no-collector.loadavg"])).contains(&"loadavg"));
        assert_eq!(
            names(&parse(&["--collector.disable-defaults", "--collector.loadavg"])),
            ["loadavg"]
        );
        // The last of a --collector.X / --no-collector.X pair wins, as with kingpin.
        assert!(names(&parse(&["--no-collector.stat", "--collector.stat"])).contains(&"stat"));
        assert!(!names(&parse(&["--collector.stat", "--no-collector.stat"])).contains(&"stat"));
        assert!(
            command()
                .try_get_matches_from(["node_exporter", "--collector.nope"])
                .is_err()
        );
    }

    #[test]
    fn unreadable_proc_makes_collectors_fail_not_the_scrape() {
        // The default netlink modes of netdev and arp ask the kernel directly, like upstream; use procfs here.
        let m = parse(&[
            "--path.procfs=/nonexistent/proc",
            "--path.sysfs=/nonexistent/sys",
            "--path.rootfs=/nonexistent",
            "--no-collector.netdev.netlink",
            "--no-collector.arp.netlink",
        ]);
        let fams = registry(&m).unwrap().gather(&[]).unwrap();
        let success = fams.iter().find(|f| f.name == "node_scrape_collector_success").unwrap();
        assert_eq!(success.metrics.len(), enabled(&m).len());
        // uname and timex read no files; textfile reads only the directories it is given (none here); selinux
        // reports a missing selinuxfs as "disabled".
        let missing_is_fine = ["selinux", "textfile", "timex", "uname"];
        for metric in &success.metrics {
            let name = metric.labels.get("collector").unwrap_or_default();
            let want = if missing_is_fine.contains(&name) { 1.0 } else { 0.0 };
            assert_eq!(metric.value, exposition::Value::Gauge(want), "{:?}", metric.labels);
        }
    }

    #[test]
    fn paths_from_flags() {
        let p = paths(&parse(&["--path.procfs=/x/proc", "--path.sysfs", "/x/sys"]));
        assert_eq!(p.procfs, std::path::PathBuf::from("/x/proc"));
        assert_eq!(p.sysfs, std::path::PathBuf::from("/x/sys"));
        assert_eq!(p.rootfs, std::path::PathBuf::from("/"));
    }
}
