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

mod arp;
mod bcache;
mod bcachefs;
mod bonding;
mod btrfs;
mod buddyinfo;
mod cgroups;
mod conntrack;
mod cpu;
mod cpu_vulnerabilities;
mod cpufreq;
mod diskstats;
mod dmi;
mod dmmultipath;
mod drbd;
mod edac;
mod entropy;
mod fibrechannel;
mod filefd;
mod filesystem;
mod hwmon;
mod infiniband;
mod interrupts;
mod ipvs;
mod kernel_hung;
mod ksmd;
mod lnstat;
mod loadavg;
mod mdadm;
mod meminfo;
mod meminfo_numa;
mod mountstats;
mod netclass;
mod netdev;
mod netlink;
mod netstat;
mod nfs;
mod nfsd;
mod nvme;
mod os;
mod pcidevice;
mod powersupplyclass;
mod pressure;
mod processes;
mod procutil;
mod qdisc;
mod rapl;
mod schedstat;
mod selinux;
mod slabinfo;
mod sockstat;
mod softirqs;
mod softnet;
mod stat;
mod sysctl;
mod sysfs;
mod tapestats;
mod textfile;
mod thermal_zone;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;
mod watchdog;
mod wifi;
mod xfrm;
mod xfs;
mod zfs;
mod zoneinfo;

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
    std::fs::read_to_string(path).map_err(|source| CollectorError::Read {
        path: path.to_path_buf(),
        source,
    })
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
