//! `cpu`: CPU time per mode from `/proc/stat`, guest time, isolated CPUs
//! (`/sys/devices/system/cpu/isolated`), thermal throttle counts (`/sys/devices/system/cpu/cpu*/thermal_throttle`)
//! and, with `--collector.cpu.info`, `/proc/cpuinfo` details, frequency, and the first core's flags and bugs
//! filtered by `--collector.cpu.info.flags-include` / `--collector.cpu.info.bugs-include`.
//!
//! As upstream, counters that go backwards are held at their previous value, and a CPU whose idle time drops by
//! three seconds or more (a hotplug) starts over.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use clap::{Arg, ArgAction, ArgMatches};
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{add, family, numbered, read_optional, regex_flag};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("cpu", true, build).with_args(args);

const GUEST_FLAG: &str = "collector.cpu.guest";
const INFO_FLAG: &str = "collector.cpu.info";
const FLAGS_FLAG: &str = "collector.cpu.info.flags-include";
const BUGS_FLAG: &str = "collector.cpu.info.bugs-include";

/// `USER_HZ`: the unit of the `/proc/stat` CPU columns.
const USER_HZ: f64 = 100.0;
/// Idle time dropping by this many seconds means the CPU was replugged.
const JUMP_BACK_SECONDS: f64 = 3.0;

fn args() -> Vec<Arg> {
    vec![
        Arg::new(GUEST_FLAG)
            .long(GUEST_FLAG)
            .num_args(0..=1)
            .default_value("true")
            .default_missing_value("true")
            .value_parser(clap::value_parser!(bool))
            .help("Enables metric node_cpu_guest_seconds_total"),
        Arg::new(format!("no-{GUEST_FLAG}"))
            .long(format!("no-{GUEST_FLAG}"))
            .action(ArgAction::SetTrue)
            .hide(true),
        Arg::new(INFO_FLAG)
            .long(INFO_FLAG)
            .action(ArgAction::SetTrue)
            .help("Enables metric cpu_info"),
        Arg::new(FLAGS_FLAG)
            .long(FLAGS_FLAG)
            .help("Filter the `flags` field in cpuInfo with a value that must be a regular expression"),
        Arg::new(BUGS_FLAG)
            .long(BUGS_FLAG)
            .help("Filter the `bugs` field in cpuInfo with a value that must be a regular expression"),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let m: &ArgMatches = s.matches;
    let flags = regex_flag("cpu", m, FLAGS_FLAG)?;
    let bugs = regex_flag("cpu", m, BUGS_FLAG)?;
    // Either filter turns the info metrics on, as upstream does.
    let info = m.get_flag(INFO_FLAG) || flags.is_some() || bugs.is_some();
    let guest = m.get_one::<bool>(GUEST_FLAG).copied().unwrap_or(true) && !m.get_flag(&format!("no-{GUEST_FLAG}"));
    Ok(Box::new(Cpu {
        paths: s.paths.clone(),
        info,
        guest,
        flags,
        bugs,
        last: Mutex::new(HashMap::new()),
    }))
}

/// One CPU's line of `/proc/stat`, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CpuTimes {
    user: f64,
    nice: f64,
    system: f64,
    idle: f64,
    iowait: f64,
    irq: f64,
    softirq: f64,
    steal: f64,
    guest: f64,
    guest_nice: f64,
}

impl CpuTimes {
    fn fields(&self) -> [f64; 10] {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
            self.guest,
            self.guest_nice,
        ]
    }

    fn from_fields(f: [f64; 10]) -> CpuTimes {
        CpuTimes {
            user: f[0],
            nice: f[1],
            system: f[2],
            idle: f[3],
            iowait: f[4],
            irq: f[5],
            softirq: f[6],
            steal: f[7],
            guest: f[8],
            guest_nice: f[9],
        }
    }

    /// The new reading, with counters that went backwards held at the old value.
    fn advance(self, new: CpuTimes) -> CpuTimes {
        let old = if self.idle - new.idle >= JUMP_BACK_SECONDS {
            CpuTimes::default()
        } else {
            self
        };
        let (o, n) = (old.fields(), new.fields());
        let mut out = [0.0; 10];
        for i in 0..10 {
            out[i] = if n[i] >= o[i] { n[i] } else { o[i] };
        }
        CpuTimes::from_fields(out)
    }
}

/// Parses the `cpuN` lines of `/proc/stat` (the aggregate `cpu` line is skipped).
fn parse_stat(path: &Path, text: &str) -> Result<BTreeMap<u32, CpuTimes>, CollectorError> {
    let mut out = BTreeMap::new();
    for (n, line) in numbered(text) {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next().and_then(|k| k.strip_prefix("cpu")) else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        let id: u32 = parse_num(path, n, id)?;
        let mut v = [0.0; 10];
        let mut count = 0;
        for (slot, field) in v.iter_mut().zip(fields) {
            let ticks: u64 = parse_num(path, n, field)?;
            *slot = ticks as f64 / USER_HZ;
            count += 1;
        }
        if count < 4 {
            return Err(CollectorError::malformed(path, n, "cpu line has fewer than 4 columns"));
        }
        out.insert(id, CpuTimes::from_fields(v));
    }
    Ok(out)
}

/// One processor of `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq)]
struct CpuInfo {
    processor: String,
    vendor: String,
    family: String,
    model: String,
    model_name: String,
    stepping: String,
    microcode: String,
    mhz: Option<f64>,
    cache_size: String,
    physical_id: String,
    core_id: String,
    flags: Vec<String>,
    bugs: Vec<String>,
}

/// Parses `/proc/cpuinfo` in its x86 layout: a `processor` line opens each block of `key : value` lines.
fn parse_cpuinfo(path: &Path, text: &str) -> Result<Vec<CpuInfo>, CollectorError> {
    let mut out: Vec<CpuInfo> = Vec::new();
    for (n, line) in numbered(text) {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let val = val.strip_prefix(' ').unwrap_or(val);
        if key == "processor" {
            let _: u32 = parse_num(path, n, val.trim())?;
            out.push(CpuInfo {
                processor: val.trim().to_string(),
                ..CpuInfo::default()
            });
            continue;
        }
        let Some(cpu) = out.last_mut() else {
            return Err(CollectorError::malformed(path, n, "expected a processor line first"));
        };
        match key {
            "vendor" | "vendor_id" => cpu.vendor = val.to_string(),
            "cpu family" => cpu.family = val.to_string(),
            "model" => cpu.model = val.to_string(),
            "model name" => cpu.model_name = val.to_string(),
            "stepping" => cpu.stepping = val.to_string(),
            "microcode" => cpu.microcode = val.to_string(),
            "cpu MHz" => cpu.mhz = Some(parse_num(path, n, val.trim())?),
            "cache size" => cpu.cache_size = val.to_string(),
            "physical id" => cpu.physical_id = val.to_string(),
            "core id" => cpu.core_id = val.to_string(),
            "flags" => cpu.flags = val.split_whitespace().map(str::to_string).collect(),
            "bugs" => cpu.bugs = val.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(CollectorError::malformed(path, 1, "no processor found"));
    }
    Ok(out)
}

/// Parses a CPU list such as `1,3-5,9`.
fn parse_cpu_list(path: &Path, text: &str) -> Result<Vec<u32>, CollectorError> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (parse_num(path, 1, a)?, parse_num(path, 1, b)?);
                if b < a {
                    return Err(CollectorError::malformed(path, 1, format!("invalid range {part:?}")));
                }
                out.extend(a..=b);
            }
            None => out.push(parse_num(path, 1, part)?),
        }
    }
    Ok(out)
}

struct Cpu {
    paths: Paths,
    info: bool,
    guest: bool,
    flags: Option<Regex>,
    bugs: Option<Regex>,
    last: Mutex<HashMap<u32, CpuTimes>>,
}

impl Cpu {
    fn collect_info(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = self.paths.proc("cpuinfo");
        let cpus = parse_cpuinfo(&path, &read_file(&path)?)?;
        let mut info = family(
            "node_cpu_info",
            "CPU information from /proc/cpuinfo.",
            MetricType::Gauge,
        );
        let mut freq = family(
            "node_cpu_frequency_hertz",
            "CPU frequency in hertz from /proc/cpuinfo.",
            MetricType::Gauge,
        );
        for c in &cpus {
            add(
                &mut info,
                &[
                    ("package", &c.physical_id),
                    ("core", &c.core_id),
                    ("cpu", &c.processor),
                    ("vendor", &c.vendor),
                    ("family", &c.family),
                    ("model", &c.model),
                    ("model_name", &c.model_name),
                    ("microcode", &c.microcode),
                    ("stepping", &c.stepping),
                    ("cachesize", &c.cache_size),
                ],
                1.0,
            );
            if let Some(mhz) = c.mhz {
                add(
                    &mut freq,
                    &[("package", &c.physical_id), ("core", &c.core_id), ("cpu", &c.processor)],
                    mhz * 1e6,
                );
            }
        }
        out.push(info);
        if !freq.metrics.is_empty() {
            out.push(freq);
        }
        let first = &cpus[0];
        for (re, values, name, label, help) in [
            (
                &self.flags,
                &first.flags,
                "node_cpu_flag_info",
                "flag",
                "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
            ),
            (
                &self.bugs,
                &first.bugs,
                "node_cpu_bug_info",
                "bug",
                "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
            ),
        ] {
            let Some(re) = re else { continue };
            let mut f = family(name, help, MetricType::Gauge);
            for v in values.iter().filter(|v| re.is_match(v)) {
                add(&mut f, &[(label, v)], 1.0);
            }
            out.push(f);
        }
        Ok(())
    }

    fn collect_stat(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = self.paths.proc("stat");
        let stats = parse_stat(&path, &super::scrape::read_file(&path)?)?;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut secs = family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricType::Counter,
        );
        let mut guest = family(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            MetricType::Counter,
        );
        for (id, new) in stats {
            let t = last.get(&id).copied().unwrap_or_default().advance(new);
            last.insert(id, t);
            let cpu = id.to_string();
            for (mode, v) in [
                ("user", t.user),
                ("nice", t.nice),
                ("system", t.system),
                ("idle", t.idle),
                ("iowait", t.iowait),
                ("irq", t.irq),
                ("softirq", t.softirq),
                ("steal", t.steal),
            ] {
                add(&mut secs, &[("cpu", &cpu), ("mode", mode)], v);
            }
            add(&mut guest, &[("cpu", &cpu), ("mode", "user")], t.guest);
            add(&mut guest, &[("cpu", &cpu), ("mode", "nice")], t.guest_nice);
        }
        out.push(secs);
        if self.guest {
            out.push(guest);
        }
        Ok(())
    }

    fn collect_isolated(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = self.paths.sys("devices/system/cpu/isolated");
        let Some(text) = read_optional(&path)? else {
            return Ok(());
        };
        let mut f = family(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            MetricType::Gauge,
        );
        for cpu in parse_cpu_list(&path, &text)? {
            add(&mut f, &[("cpu", &cpu.to_string())], 1.0);
        }
        out.push(f);
        Ok(())
    }

    fn collect_throttles(&self, out: &mut Vec<MetricFamily>) {
        let dir = self.paths.sys("devices/system/cpu");
        let Ok(entries) = super::scrape::list_dir(&dir) else {
            return;
        };
        // Sorted by name, as the paths of one directory sort.
        let cpus: Vec<_> = entries
            .iter()
            .filter(|n| {
                n.strip_prefix("cpu")
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
            .map(|n| dir.join(n))
            .collect();
        let read_u64 = |p: &Path| -> Option<u64> { super::read_to_string(p).ok()?.trim().parse().ok() };
        let mut packages: BTreeMap<u64, u64> = BTreeMap::new();
        let mut cores: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
        for cpu in cpus {
            let (Some(package), Some(core)) = (
                read_u64(&cpu.join("topology/physical_package_id")),
                read_u64(&cpu.join("topology/core_id")),
            ) else {
                continue;
            };
            cores
                .entry((package, core))
                .or_insert_with(|| read_u64(&cpu.join("thermal_throttle/core_throttle_count")));
            if !packages.contains_key(&package)
                && let Some(v) = read_u64(&cpu.join("thermal_throttle/package_throttle_count"))
            {
                packages.insert(package, v);
            }
        }
        let mut pf = family(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            MetricType::Counter,
        );
        for (package, v) in packages {
            add(&mut pf, &[("package", &package.to_string())], v as f64);
        }
        let mut cf = family(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            MetricType::Counter,
        );
        for ((package, core), v) in cores {
            if let Some(v) = v {
                add(
                    &mut cf,
                    &[("package", &package.to_string()), ("core", &core.to_string())],
                    v as f64,
                );
            }
        }
        out.extend([pf, cf].into_iter().filter(|f| !f.metrics.is_empty()));
    }
}

impl Collector for Cpu {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        if self.info {
            self.collect_info(out)?;
        }
        self.collect_stat(out)?;
        self.collect_isolated(out)?;
        self.collect_throttles(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let p = Path::new("stat");
        let got = parse_stat(p, "cpu  1 2 3 4\ncpu0 100 200 300 400 5 6 7 8 9 10\nintr 5\n").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[&0].user, 1.0);
        assert_eq!(got[&0].guest_nice, 0.1);
        for bad in ["cpu0 1 2 x 4\n", "cpu0 1 2\n", "cpux 1 2 3 4\n"] {
            assert!(parse_stat(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counters_do_not_go_backwards() {
        let t = |user, idle| CpuTimes {
            user,
            idle,
            ..CpuTimes::default()
        };
        let cases = [
            (t(10.0, 100.0), t(11.0, 101.0), t(11.0, 101.0)),
            (t(10.0, 100.0), t(9.0, 101.0), t(10.0, 101.0)),
            (t(10.0, 100.0), t(9.0, 99.0), t(10.0, 100.0)),
            // Idle dropped by 3 s or more: a hotplug, start over.
            (t(10.0, 100.0), t(1.0, 2.0), t(1.0, 2.0)),
        ];
        for (old, new, want) in cases {
            assert_eq!(old.advance(new), want);
        }
    }

    #[test]
    fn cpuinfo_blocks() {
        let p = Path::new("cpuinfo");
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 800.5\nflags\t\t: fpu aes\n\
                    power management:\n\nprocessor\t: 1\nmodel name\t: X\n";
        let got = parse_cpuinfo(p, text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].vendor, "GenuineIntel");
        assert_eq!(got[0].mhz, Some(800.5));
        assert_eq!(got[0].flags, ["fpu", "aes"]);
        assert_eq!(got[1].model_name, "X");
        for bad in [
            "",
            "vendor_id : x\n",
            "processor : x\n",
            "processor : 0\ncpu MHz : fast\n",
        ] {
            assert!(parse_cpuinfo(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cpu_lists() {
        let p = Path::new("isolated");
        let cases: [(&str, Option<Vec<u32>>); 4] = [
            ("1,3-5,9\n", Some(vec![1, 3, 4, 5, 9])),
            ("\n", Some(vec![])),
            ("5-3", None),
            ("a", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_cpu_list(p, text).ok(), want, "{text:?}");
        }
    }
}
