//! `stat`: kernel and system statistics from `/proc/stat` (interrupts, context switches, forks, boot time,
//! process states and, with `--collector.stat.softirq`, softirq counts per vector).

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, Labels, Metric, MetricFamily, MetricType};

use super::{BuildError, CollectorError, Settings, Spec, parse_num, single, value};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("stat", true, build).with_args(args);

const SOFTIRQ_FLAG: &str = "collector.stat.softirq";

/// The softirq vectors in the order `/proc/stat` lists them.
const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

fn args() -> Vec<Arg> {
    vec![
        Arg::new(SOFTIRQ_FLAG)
            .long(SOFTIRQ_FLAG)
            .action(ArgAction::SetTrue)
            .help("Export softirq calls per vector"),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Stat {
        paths: s.paths.clone(),
        softirq: s.matches.get_flag(SOFTIRQ_FLAG),
    }))
}

struct Stat {
    paths: Paths,
    softirq: bool,
}

impl Collector for Stat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("stat");
        let text = super::scrape::read_file(&path)?;
        let mut found = 0;
        for (n, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let Some(key) = fields.next() else { continue };
            let first = || {
                line.split_whitespace()
                    .nth(1)
                    .ok_or_else(|| CollectorError::malformed(&path, n + 1, format!("{key} has no value")))
            };
            let (name, help, t) = match key {
                "intr" => (
                    "node_intr_total",
                    "Total number of interrupts serviced.",
                    MetricType::Counter,
                ),
                "ctxt" => (
                    "node_context_switches_total",
                    "Total number of context switches.",
                    MetricType::Counter,
                ),
                "btime" => (
                    "node_boot_time_seconds",
                    "Node boot time, in unixtime.",
                    MetricType::Gauge,
                ),
                "processes" => ("node_forks_total", "Total number of forks.", MetricType::Counter),
                "procs_running" => (
                    "node_procs_running",
                    "Number of processes in runnable state.",
                    MetricType::Gauge,
                ),
                "procs_blocked" => (
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete.",
                    MetricType::Gauge,
                ),
                "softirq" if self.softirq => {
                    let mut fam = MetricFamily::new("node_softirqs_total", MetricType::Counter)
                        .with_help("Number of softirq calls.");
                    for (vector, field) in SOFTIRQ_VECTORS.iter().zip(fields.skip(1)) {
                        let v: f64 = parse_num(&path, n + 1, field)?;
                        fam.push(Metric::new(
                            Labels::from_pairs([("vector", *vector)]),
                            value(MetricType::Counter, v),
                        ));
                    }
                    out.push(fam);
                    continue;
                }
                _ => continue,
            };
            let v: f64 = parse_num(&path, n + 1, first()?)?;
            out.push(single(name, help, t, v));
            found += 1;
        }
        if found == 0 {
            return Err(CollectorError::malformed(&path, 1, "no known statistics found").into());
        }
        Ok(())
    }
}
