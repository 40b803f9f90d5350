//! The collectors, listed in one static table ([`COLLECTORS`]), and what they share.
//!
//! Each collector is one module that exports a [`Spec`]: its name (used by `--collector.<name>`,
//! `--no-collector.<name>` and `collect[]`), whether upstream enables it by default, the flags it owns, and a
//! constructor. A collector implements [`exposition::Collector`]; a missing or malformed file makes it return a
//! [`CollectorError`] naming the file, so the registry reports `node_scrape_collector_success 0` for it and logs
//! the reason while the rest of the scrape goes on.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};
use exposition::{Collector, Labels, Metric, MetricFamily, MetricType, Value};

use crate::paths::Paths;

#[cfg(target_os = "linux")]
mod absence;
#[cfg(target_os = "linux")]
mod arp;
#[cfg(target_os = "linux")]
mod bcache;
#[cfg(target_os = "linux")]
mod bcachefs;
#[cfg(target_os = "linux")]
mod bonding;
#[cfg(target_os = "linux")]
mod btrfs;
#[cfg(target_os = "linux")]
mod buddyinfo;
#[cfg(target_os = "linux")]
mod cgroups;
#[cfg(target_os = "linux")]
mod conntrack;
#[cfg(target_os = "linux")]
mod cpu;
#[cfg(target_os = "linux")]
mod cpu_vulnerabilities;
#[cfg(target_os = "linux")]
mod cpufreq;
#[cfg(target_os = "linux")]
mod diskstats;
#[cfg(target_os = "linux")]
mod dmi;
#[cfg(target_os = "linux")]
mod dmmultipath;
#[cfg(target_os = "linux")]
mod drbd;
#[cfg(target_os = "linux")]
mod edac;
#[cfg(target_os = "linux")]
mod entropy;
#[cfg(target_os = "linux")]
mod fdcache;
#[cfg(target_os = "linux")]
mod fibrechannel;
#[cfg(target_os = "linux")]
mod filefd;
#[cfg(target_os = "linux")]
mod filesystem;
#[cfg(target_os = "linux")]
mod hwmon;
#[cfg(target_os = "linux")]
mod infiniband;
#[cfg(target_os = "linux")]
mod interrupts;
#[cfg(target_os = "linux")]
mod ipvs;
#[cfg(target_os = "linux")]
mod kernel_hung;
#[cfg(target_os = "linux")]
mod ksmd;
#[cfg(target_os = "linux")]
mod lnstat;
#[cfg(target_os = "linux")]
mod loadavg;
#[cfg(target_os = "linux")]
mod mdadm;
#[cfg(target_os = "linux")]
mod meminfo;
#[cfg(target_os = "linux")]
mod meminfo_numa;
#[cfg(target_os = "linux")]
mod mountstats;
#[cfg(target_os = "linux")]
mod netclass;
#[cfg(target_os = "linux")]
mod netdev;
#[cfg(target_os = "linux")]
mod netlink;
#[cfg(target_os = "linux")]
mod netstat;
#[cfg(target_os = "linux")]
mod nfs;
#[cfg(target_os = "linux")]
mod nfsd;
#[cfg(target_os = "linux")]
mod nvme;
#[cfg(target_os = "linux")]
mod os;
#[cfg(target_os = "linux")]
mod pcidevice;
#[cfg(target_os = "linux")]
mod powersupplyclass;
#[cfg(target_os = "linux")]
mod pressure;
#[cfg(target_os = "linux")]
mod processes;
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod procutil;
#[cfg(target_os = "linux")]
mod qdisc;
#[cfg(target_os = "linux")]
mod rapl;
#[cfg(target_os = "linux")]
mod schedstat;
#[cfg(target_os = "linux")]
pub mod scrape;
#[cfg(target_os = "linux")]
mod selinux;
#[cfg(target_os = "linux")]
mod slabinfo;
#[cfg(target_os = "linux")]
mod sockstat;
#[cfg(target_os = "linux")]
mod softirqs;
#[cfg(target_os = "linux")]
mod softnet;
#[cfg(target_os = "linux")]
mod stat;
#[cfg(target_os = "linux")]
mod sysctl;
#[cfg(target_os = "linux")]
mod sysfs;
#[cfg(target_os = "linux")]
mod tapestats;
#[cfg(target_os = "linux")]
mod textfile;
#[cfg(target_os = "linux")]
mod thermal_zone;
#[cfg(target_os = "linux")]
mod time;
#[cfg(target_os = "linux")]
mod timex;
#[cfg(target_os = "linux")]
mod udp_queues;
#[cfg(target_os = "linux")]
mod uname;
#[cfg(target_os = "linux")]
mod vmstat;
#[cfg(target_os = "linux")]
mod watchdog;
#[cfg(target_os = "linux")]
mod wifi;
#[cfg(target_os = "linux")]
mod xfrm;
#[cfg(target_os = "linux")]
mod xfs;
#[cfg(target_os = "linux")]
mod zfs;
#[cfg(target_os = "linux")]
mod zoneinfo;

#[cfg(any(not(target_os = "linux"), feature = "portable"))]
pub mod portable;

/// Everything a collector constructor may read: the filesystem roots and the parsed command line.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Filesystem roots.
    pub paths: &'a Paths,
    /// The parsed command line, for collector-owned flags.
    pub matches: &'a ArgMatches,
}

/// One entry of the collector table.
#[derive(Debug)]
pub struct Spec {
    /// The collector's name.
    pub name: &'static str,
    /// Whether upstream node_exporter enables it by default on Linux.
    pub default_enabled: bool,
    /// The flags this collector owns (`--collector.<name>.<option>`).
    pub args: fn() -> Vec<Arg>,
    /// Builds the collector from the settings.
    pub build: BuildFn,
}

/// Every collector this build has, in name order.
#[cfg(target_os = "linux")]
pub static COLLECTORS: &[Spec] = &[
    arp::SPEC,
    bcache::SPEC,
    bcachefs::SPEC,
    bonding::SPEC,
    btrfs::SPEC,
    buddyinfo::SPEC,
    cgroups::SPEC,
    conntrack::SPEC,
    cpu::SPEC,
    cpu_vulnerabilities::SPEC,
    cpufreq::SPEC,
    diskstats::SPEC,
    dmi::SPEC,
    dmmultipath::SPEC,
    drbd::SPEC,
    edac::SPEC,
    entropy::SPEC,
    fibrechannel::SPEC,
    filefd::SPEC,
    filesystem::SPEC,
    hwmon::SPEC,
    infiniband::SPEC,
    interrupts::SPEC,
    ipvs::SPEC,
    kernel_hung::SPEC,
    ksmd::SPEC,
    lnstat::SPEC,
    loadavg::SPEC,
    mdadm::SPEC,
    meminfo::SPEC,
    meminfo_numa::SPEC,
    mountstats::SPEC,
    netclass::SPEC,
    netdev::SPEC,
    netstat::SPEC,
    nfs::SPEC,
    nfsd::SPEC,
    nvme::SPEC,
    os::SPEC,
    pcidevice::SPEC,
    powersupplyclass::SPEC,
    pressure::SPEC,
    processes::SPEC,
    qdisc::SPEC,
    rapl::SPEC,
    schedstat::SPEC,
    selinux::SPEC,
    slabinfo::SPEC,
    sockstat::SPEC,
    softirqs::SPEC,
    softnet::SPEC,
    stat::SPEC,
    sysctl::SPEC,
    tapestats::SPEC,
    textfile::SPEC,
    thermal_zone::SPEC,
    time::SPEC,
    timex::SPEC,
    udp_queues::SPEC,
    uname::SPEC,
    vmstat::SPEC,
    watchdog::SPEC,
    wifi::SPEC,
    xfrm::SPEC,
    xfs::SPEC,
    zfs::SPEC,
    zoneinfo::SPEC,
];

/// Every collector this build has, in name order: outside Linux, the reduced `sysinfo`-backed set.
#[cfg(not(target_os = "linux"))]
pub static COLLECTORS: &[Spec] = portable::COLLECTORS;

/// The constructor type of a table entry.
pub type BuildFn = fn(&Settings<'_>) -> Result<Box<dyn Collector>, BuildError>;

impl Spec {
    /// An entry without flags of its own.
    pub const fn new(name: &'static str, default_enabled: bool, build: BuildFn) -> Spec {
        Spec {
            name,
            default_enabled,
            args: Vec::new,
            build,
        }
    }

    /// The same entry with the flags it owns.
    pub const fn with_args(self, args: fn() -> Vec<Arg>) -> Spec {
        Spec { args, ..self }
    }
}

/// A collector that cannot be built from its flags.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A flag value is invalid.
    #[error("collector {collector}: flag --{flag}: {reason}")]
    InvalidFlag {
        /// The collector.
        collector: &'static str,
        /// The flag name.
        flag: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why a collector could not produce its metrics on one scrape.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content is not in the expected format.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl CollectorError {
    /// A malformed-content error.
    pub fn malformed(path: &Path, line: usize, reason: impl Into<String>) -> CollectorError {
        CollectorError::Malformed {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// Reads a whole file as text.
pub fn read_file(path: &Path) -> Result<String, CollectorError> {
    read_to_string(path).map_err(|source| CollectorError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a whole file as text; on Linux procfs and sysfs files through descriptors kept open ([`fdcache`]).
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    #[cfg(target_os = "linux")]
    return fdcache::read_to_string(path);
    #[cfg(not(target_os = "linux"))]
    return std::fs::read_to_string(path);
}

/// Raises the soft open-files limit to the hard one, as Go programs do at start (Linux builds keep procfs and
/// sysfs descriptors open between scrapes).
pub fn raise_nofile_limit() {
    #[cfg(target_os = "linux")]
    fdcache::raise_nofile_limit();
}

/// Parses a number from a file's field, with an error naming the file and line.
pub fn parse_num<T: std::str::FromStr>(path: &Path, line: usize, field: &str) -> Result<T, CollectorError> {
    field
        .parse()
        .map_err(|_| CollectorError::malformed(path, line, format!("invalid number {field:?}")))
}

/// A single-sample family without labels.
pub fn single(name: &str, help: &str, t: MetricType, v: f64) -> MetricFamily {
    let mut f = MetricFamily::new(name, t).with_help(help);
    f.push(Metric::new(Labels::new(), value(t, v)));
    f
}

/// A value of type `t` (counter, gauge or untyped).
pub fn value(t: MetricType, v: f64) -> Value {
    match t {
        MetricType::Counter => Value::Counter {
            total: v,
            created: None,
            exemplar: None,
        },
        MetricType::Gauge => Value::Gauge(v),
        _ => Value::Unknown(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: Vec<&str> = COLLECTORS.iter().map(|s| s.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }
}
