//! `processes`: process and thread counts from `/proc/<pid>/stat` (states, threads, PIDs) and the limits in
//! `/proc/sys/kernel/{threads-max,pid_max}`.
//!
//! Processes that vanish while being read are skipped, as upstream does.

use std::collections::BTreeMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family};
use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("processes", false, |s| Ok(Box::new(Processes(s.paths.clone()))));

/// State and thread count of a `/proc/<pid>/stat` line; the command may hold spaces and parentheses.
fn parse_pid_stat(path: &Path, text: &str) -> Result<(String, u64), CollectorError> {
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| CollectorError::malformed(path, 1, "missing ')' after the command"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of the line, num_threads field 20.
    if fields.len() < 18 {
        return Err(CollectorError::malformed(path, 1, "too few fields"));
    }
    Ok((fields[0].to_string(), parse_num(path, 1, fields[17])?))
}

struct Processes(Paths);

impl Collector for Processes {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.0.procfs.clone();
        let entries = std::fs::read_dir(&dir).map_err(|source| CollectorError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut pids: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        pids.sort();
        let (mut count, mut threads) = (0u64, 0u64);
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        let mut thread_states: BTreeMap<String, u64> = BTreeMap::new();
        for pid in pids {
            let stat_path = dir.join(&pid).join("stat");
            let Ok(text) = std::fs::read_to_string(&stat_path) else {
                continue;
            };
            let (state, n) = parse_pid_stat(&stat_path, &text)?;
            count += 1;
            threads += n;
            *states.entry(state).or_default() += 1;
            if let Ok(tasks) = std::fs::read_dir(dir.join(&pid).join("task")) {
                for task in tasks.flatten() {
                    let p = task.path().join("stat");
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        let (state, _) = parse_pid_stat(&p, &text)?;
                        *thread_states.entry(state).or_default() += 1;
                    }
                }
            }
        }
        out.push(single(
            "node_processes_threads",
            "Allocated threads in system",
            MetricType::Gauge,
            threads as f64,
        ));
        let read_limit = |file: &str| -> Result<f64, CollectorError> {
            let path = self.0.proc(file);
            parse_num(&path, 1, read_file(&path)?.trim())
        };
        out.push(single(
            "node_processes_max_threads",
            "Limit of threads in the system",
            MetricType::Gauge,
            read_limit("sys/kernel/threads-max")?,
        ));
        let mut f = family(
            "node_processes_state",
            "Number of processes in each state.",
            MetricType::Gauge,
        );
        for (state, n) in &states {
            add(&mut f, &[("state", state)], *n as f64);
        }
        out.push(f);
        let mut f = family(
            "node_processes_threads_state",
            "Number of threads in each state.",
            MetricType::Gauge,
        );
        for (state, n) in &thread_states {
            add(&mut f, &[("thread_state", state)], *n as f64);
        }
        if !f.metrics.is_empty() {
            out.push(f);
        }
        out.push(single(
            "node_processes_pids",
            "Number of PIDs",
            MetricType::Gauge,
            count as f64,
        ));
        out.push(single(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            MetricType::Gauge,
            read_limit("sys/kernel/pid_max")?,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_stat_lines() {
        let p = Path::new("stat");
        let line = "1 (sys temd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 13885 20 0 3 0 29\n";
        assert_eq!(parse_pid_stat(p, line).unwrap(), ("S".to_string(), 3));
        for bad in [
            "1 systemd S 0\n",
            "1 (x) S 0 1\n",
            "1 (x) S 0 1 1 0 -1 1 1 1 1 1 1 1 1 1 1 1 x 0\n",
        ] {
            assert!(parse_pid_stat(p, bad).is_err(), "{bad:?}");
        }
    }
}
