//! The reduced collector set for hosts other than Linux, read through the `sysinfo` crate (and `uname(2)`).
//!
//! On Linux the full table reads `/proc` and `/sys` directly; elsewhere ([`COLLECTORS`] becomes the crate's table)
//! these six give the families dashboards lean on most, under upstream's names and labels: `cpu`
//! (`node_cpu_seconds_total{cpu,mode}`), `meminfo` (upstream's Darwin names, `node_memory_total_bytes`, ...),
//! `filesystem` (`node_filesystem_{size,avail}_bytes`, `node_filesystem_readonly`), `netdev`
//! (`node_network_{receive,transmit}_{bytes,packets,errs}_total`), `loadavg` and `uname`. The Linux build
//! compiles and tests them too when the `portable` feature is on.
//!
//! One deliberate difference: `sysinfo` reports CPU use as a share of the time between two refreshes, not as the
//! kernel's cumulative per-mode tick counters, so `cpu` integrates that share over the time between scrapes into
//! two counters per CPU, `mode="idle"` and `mode="busy"` (seconds since the exporter started). Queries built on
//! `mode="idle"` (the usual `1 - rate(node_cpu_seconds_total{mode="idle"}[5m])`) work unchanged.

use std::sync::Mutex;
use std::time::Instant;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};

use super::procutil::{DeviceFilter, add, family, regex_flag};
use super::{BuildError, Settings, Spec, single};

/// Every collector of the reduced set, in name order.
pub static COLLECTORS: &[Spec] = &[
    Spec::new("cpu", true, build_cpu),
    Spec::new("filesystem", true, build_filesystem).with_args(filesystem_args),
    Spec::new("loadavg", true, |_| Ok(Box::new(LoadAvg))),
    Spec::new("meminfo", true, |_| Ok(Box::new(MemInfo(Mutex::new(System::new()))))),
    Spec::new("netdev", true, build_netdev).with_args(netdev_args),
    Spec::new("uname", true, |_| Ok(Box::new(Uname))),
];

/// Recovers the guarded value even if a previous scrape panicked while holding the lock.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---- cpu ----

struct CpuState {
    system: System,
    last: Instant,
    /// Per CPU: (busy seconds, idle seconds) accumulated since the exporter started.
    totals: Vec<(f64, f64)>,
}

struct Cpu(Mutex<CpuState>);

fn build_cpu(_: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let system =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_cpu_usage()));
    Ok(Box::new(Cpu(Mutex::new(CpuState {
        system,
        last: Instant::now(),
        totals: Vec::new(),
    }))))
}

impl CpuState {
    /// Refreshes the usage figures and adds the time since the last refresh to the per-CPU totals.
    fn advance(&mut self) {
        self.system.refresh_cpu_usage();
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let cpus = self.system.cpus();
        self.totals.resize(cpus.len(), (0.0, 0.0));
        for (total, cpu) in self.totals.iter_mut().zip(cpus) {
            let busy = f64::from(cpu.cpu_usage()).clamp(0.0, 100.0) / 100.0;
            total.0 += busy * elapsed;
            total.1 += (1.0 - busy) * elapsed;
        }
    }
}

impl Collector for Cpu {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut state = lock(&self.0);
        state.advance();
        let mut f = family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricType::Counter,
        );
        for (i, (busy, idle)) in state.totals.iter().enumerate() {
            let cpu = i.to_string();
            add(&mut f, &[("cpu", &cpu), ("mode", "busy")], *busy);
            add(&mut f, &[("cpu", &cpu), ("mode", "idle")], *idle);
        }
        out.push(f);
        Ok(())
    }
}

// ---- meminfo ----

struct MemInfo(Mutex<System>);

impl Collector for MemInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut system = lock(&self.0);
        system.refresh_memory_specifics(MemoryRefreshKind::everything());
        // The byte counts are far below 2^53, so the conversions are exact.
        #[allow(clippy::cast_precision_loss)]
        let values = [
            ("total_bytes", system.total_memory() as f64),
            ("free_bytes", system.free_memory() as f64),
            ("available_bytes", system.available_memory() as f64),
            ("swap_total_bytes", system.total_swap() as f64),
            ("swap_used_bytes", system.used_swap() as f64),
        ];
        for (name, v) in values {
            out.push(single(
                &format!("node_memory_{name}"),
                &format!("Memory information field {name}."),
                MetricType::Gauge,
                v,
            ));
        }
        Ok(())
    }
}

// ---- filesystem ----

const MOUNT_EXCLUDE: &str = "collector.filesystem.mount-points-exclude";
const FS_EXCLUDE: &str = "collector.filesystem.fs-types-exclude";
/// Upstream's defaults for the BSDs and Darwin.
const DEFAULT_MOUNT_EXCLUDE: &str = "^/(dev)($|/)";
const DEFAULT_FS_EXCLUDE: &str = "^(autofs|devfs)$";

fn filesystem_args() -> Vec<Arg> {
    vec![
        Arg::new(MOUNT_EXCLUDE)
            .long(MOUNT_EXCLUDE)
            .default_value(DEFAULT_MOUNT_EXCLUDE)
            .help("Regexp of mount points to exclude for filesystem collector."),
        Arg::new(FS_EXCLUDE)
            .long(FS_EXCLUDE)
            .default_value(DEFAULT_FS_EXCLUDE)
            .help("Regexp of filesystem types to exclude for filesystem collector."),
    ]
}

struct Filesystem {
    disks: Mutex<Disks>,
    mount_exclude: Option<Regex>,
    fs_exclude: Option<Regex>,
}

fn build_filesystem(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Filesystem {
        disks: Mutex::new(Disks::new()),
        mount_exclude: regex_flag("filesystem", s.matches, MOUNT_EXCLUDE)?,
        fs_exclude: regex_flag("filesystem", s.matches, FS_EXCLUDE)?,
    }))
}

impl Collector for Filesystem {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut disks = lock(&self.disks);
        disks.refresh(true);
        let mut size = family(
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            MetricType::Gauge,
        );
        let mut avail = family(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            MetricType::Gauge,
        );
        let mut readonly = family(
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            MetricType::Gauge,
        );
        let mut seen = std::collections::HashSet::new();
        for disk in disks.list() {
            let device = disk.name().to_string_lossy();
            let mountpoint = disk.mount_point().to_string_lossy();
            let fstype = disk.file_system().to_string_lossy();
            if self.mount_exclude.as_ref().is_some_and(|r| r.is_match(&mountpoint))
                || self.fs_exclude.as_ref().is_some_and(|r| r.is_match(&fstype))
            {
                continue;
            }
            if !seen.insert((device.to_string(), mountpoint.to_string(), fstype.to_string())) {
                continue;
            }
            let labels = [
                ("device", &*device),
                ("mountpoint", &*mountpoint),
                ("fstype", &*fstype),
                ("device_error", ""),
            ];
            #[allow(clippy::cast_precision_loss)]
            {
                add(&mut size, &labels, disk.total_space() as f64);
                add(&mut avail, &labels, disk.available_space() as f64);
            }
            add(&mut readonly, &labels, if disk.is_read_only() { 1.0 } else { 0.0 });
        }
        out.extend([size, avail, readonly]);
        Ok(())
    }
}

// ---- netdev ----

const INCLUDE_FLAG: &str = "collector.netdev.device-include";
const EXCLUDE_FLAG: &str = "collector.netdev.device-exclude";

fn netdev_args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .help("Regexp of net devices to include (mutually exclusive to device-exclude)."),
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .help("Regexp of net devices to exclude (mutually exclusive to device-include)."),
    ]
}

struct NetDev {
    networks: Mutex<Networks>,
    filter: DeviceFilter,
}

fn build_netdev(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(NetDev {
        networks: Mutex::new(Networks::new()),
        filter: DeviceFilter::from_flags("netdev", s.matches, EXCLUDE_FLAG, INCLUDE_FLAG)?,
    }))
}

impl Collector for NetDev {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut networks = lock(&self.networks);
        networks.refresh(true);
        let mut devices: Vec<_> = networks.iter().filter(|(name, _)| !self.filter.ignored(name)).collect();
        devices.sort_by(|a, b| a.0.cmp(b.0));
        type Stat = fn(&sysinfo::NetworkData) -> u64;
        let stats: [(&str, Stat); 6] = [
            ("receive_bytes", sysinfo::NetworkData::total_received),
            ("receive_errs", sysinfo::NetworkData::total_errors_on_received),
            ("receive_packets", sysinfo::NetworkData::total_packets_received),
            ("transmit_bytes", sysinfo::NetworkData::total_transmitted),
            ("transmit_errs", sysinfo::NetworkData::total_errors_on_transmitted),
            ("transmit_packets", sysinfo::NetworkData::total_packets_transmitted),
        ];
        for (stat, get) in stats {
            let mut f = family(
                &format!("node_network_{stat}_total"),
                &format!("Network device statistic {stat}."),
                MetricType::Counter,
            );
            for (name, data) in &devices {
                #[allow(clippy::cast_precision_loss)]
                add(&mut f, &[("device", name.as_str())], get(data) as f64);
            }
            out.push(f);
        }
        Ok(())
    }
}

// ---- loadavg ----

struct LoadAvg;

impl Collector for LoadAvg {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let load = System::load_average();
        for (name, help, v) in [
            ("node_load1", "1m load average.", load.one),
            ("node_load5", "5m load average.", load.five),
            ("node_load15", "15m load average.", load.fifteen),
        ] {
            out.push(single(name, help, MetricType::Gauge, v));
        }
        Ok(())
    }
}

// ---- uname ----

struct Uname;

impl Collector for Uname {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let u = nix::sys::utsname::uname().map_err(|e| CollectError::msg(format!("uname: {e}")))?;
        let s = |v: &std::ffi::OsStr| v.to_string_lossy().into_owned();
        let mut f = family(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            MetricType::Gauge,
        );
        // Outside Linux uname(2) has no domain name; upstream reports the same placeholder Linux prints.
        add(
            &mut f,
            &[
                ("domainname", "(none)"),
                ("machine", &s(u.machine())),
                ("nodename", &s(u.nodename())),
                ("release", &s(u.release())),
                ("sysname", &s(u.sysname())),
                ("version", &s(u.version())),
            ],
            1.0,
        );
        out.push(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use exposition::Value;

    use super::*;
    use crate::paths::Paths;

    fn matches(args: &[&str]) -> clap::ArgMatches {
        let mut cmd = clap::Command::new("t");
        for spec in COLLECTORS {
            cmd = cmd.args((spec.args)());
        }
        cmd.try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("valid flags")
    }

    fn collect(name: &str, args: &[&str]) -> Vec<MetricFamily> {
        let m = matches(args);
        let paths = Paths::default();
        let settings = Settings {
            paths: &paths,
            matches: &m,
        };
        let spec = COLLECTORS.iter().find(|s| s.name == name).expect("collector in table");
        let c = (spec.build)(&settings).expect("builds");
        let mut out = Vec::new();
        c.collect(&mut out).expect("collects");
        out
    }

    fn number(v: &Value) -> f64 {
        match v {
            Value::Gauge(v) | Value::Unknown(v) => *v,
            Value::Counter { total, .. } => *total,
            other => panic!("unexpected value {other:?}"),
        }
    }

    fn names(out: &[MetricFamily]) -> BTreeSet<String> {
        out.iter().map(|f| f.name.to_string()).collect()
    }

    #[test]
    fn table_is_sorted_and_names_the_six() {
        let names: Vec<&str> = COLLECTORS.iter().map(|s| s.name).collect();
        assert_eq!(names, ["cpu", "filesystem", "loadavg", "meminfo", "netdev", "uname"]);
    }

    #[test]
    fn cpu_counts_busy_and_idle_time_per_cpu_and_never_goes_down() {
        let m = matches(&[]);
        let paths = Paths::default();
        let c = build_cpu(&Settings {
            paths: &paths,
            matches: &m,
        })
        .expect("builds");
        let mut first = Vec::new();
        c.collect(&mut first).expect("collects");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut second = Vec::new();
        c.collect(&mut second).expect("collects");
        let (a, b) = (&first[0], &second[0]);
        assert_eq!(b.name, "node_cpu_seconds_total");
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(b.metrics.len(), 2 * cpus, "busy and idle per CPU");
        let sum_a: f64 = a.metrics.iter().map(|m| number(&m.value)).sum();
        let sum_b: f64 = b.metrics.iter().map(|m| number(&m.value)).sum();
        // Every CPU accounts for the whole wall time between the scrapes, split between the two modes.
        let gained = (sum_b - sum_a) / cpus as f64;
        assert!((0.25..2.0).contains(&gained), "per-CPU seconds gained {gained}");
        for (x, y) in a.metrics.iter().zip(&b.metrics) {
            assert!(number(&y.value) >= number(&x.value));
        }
    }

    #[test]
    fn meminfo_reports_this_hosts_memory() {
        let out = collect("meminfo", &[]);
        let get = |n: &str| number(&out.iter().find(|f| f.name == n).expect(n).metrics[0].value);
        let total = get("node_memory_total_bytes");
        // /proc/meminfo's MemTotal is the kernel's own figure for the same thing.
        let proc_total: f64 = std::fs::read_to_string("/proc/meminfo")
            .expect("meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .expect("MemTotal")
            * 1024.0;
        assert!(
            (total - proc_total).abs() / proc_total < 0.05,
            "{total} vs {proc_total}"
        );
        assert!(get("node_memory_free_bytes") <= total);
        assert!(get("node_memory_available_bytes") <= total);
    }

    #[test]
    fn filesystem_reports_the_root_mount_and_honours_excludes() {
        let out = collect("filesystem", &[]);
        assert_eq!(
            names(&out),
            BTreeSet::from([
                "node_filesystem_avail_bytes".to_string(),
                "node_filesystem_readonly".to_string(),
                "node_filesystem_size_bytes".to_string()
            ])
        );
        let size = &out
            .iter()
            .find(|f| f.name == "node_filesystem_size_bytes")
            .expect("size")
            .metrics;
        let root = size
            .iter()
            .find(|m| m.labels.get("mountpoint") == Some("/"))
            .expect("root mount listed");
        assert!(number(&root.value) > 0.0);
        let out = collect("filesystem", &["--collector.filesystem.mount-points-exclude", "^/$"]);
        let size = &out
            .iter()
            .find(|f| f.name == "node_filesystem_size_bytes")
            .expect("size")
            .metrics;
        assert!(size.iter().all(|m| m.labels.get("mountpoint") != Some("/")));
    }

    #[test]
    fn netdev_lists_loopback_and_filters_devices() {
        let out = collect("netdev", &[]);
        let rx = out
            .iter()
            .find(|f| f.name == "node_network_receive_bytes_total")
            .expect("rx");
        assert!(rx.metrics.iter().any(|m| m.labels.get("device") == Some("lo")));
        assert_eq!(out.len(), 6);
        let out = collect("netdev", &["--collector.netdev.device-exclude", "^lo$"]);
        let rx = out
            .iter()
            .find(|f| f.name == "node_network_receive_bytes_total")
            .expect("rx");
        assert!(rx.metrics.iter().all(|m| m.labels.get("device") != Some("lo")));
    }

    #[test]
    fn loadavg_matches_proc_loadavg() {
        let out = collect("loadavg", &[]);
        assert_eq!(
            names(&out),
            BTreeSet::from(["node_load1", "node_load15", "node_load5"].map(String::from))
        );
        assert!(out.iter().all(|f| number(&f.metrics[0].value) >= 0.0));
    }

    #[test]
    fn uname_reports_the_kernel() {
        let out = collect("uname", &[]);
        let m = &out[0].metrics[0];
        assert_eq!(m.labels.get("sysname"), Some("Linux"));
        assert_eq!(m.labels.get("machine"), Some(std::env::consts::ARCH));
    }

    #[test]
    fn bad_filter_flags_are_build_errors() {
        let m = matches(&["--collector.netdev.device-include", "("]);
        let paths = Paths::default();
        let s = Settings {
            paths: &paths,
            matches: &m,
        };
        assert!(build_netdev(&s).is_err());
    }
}
