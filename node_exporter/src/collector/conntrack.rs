//! `conntrack`: connection tracking table size and limit (`/proc/sys/net/netfilter/nf_conntrack_{count,max}`)
//! and the per-CPU statistics of `/proc/net/stat/nf_conntrack`, summed over CPUs.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{numbered, read_optional};
use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("conntrack", true, |s| Ok(Box::new(Conntrack(s.paths.clone()))));

/// Column of `/proc/net/stat/nf_conntrack`, metric suffix and HELP text.
const STATS: [(&str, &str, &str); 8] = [
    ("found", "found", "Number of searched entries which were successful."),
    ("invalid", "invalid", "Number of packets seen which can not be tracked."),
    (
        "ignore",
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    ("drop", "drop", "Number of packets dropped due to conntrack failure."),
    (
        "early_drop",
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

/// Sums each named column of the per-CPU statistics (hexadecimal values).
fn parse_stat(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CollectorError> {
    let mut lines = numbered(text).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(CollectorError::malformed(path, 1, "empty file"));
    };
    let mut sums: Vec<(String, u64)> = header.split_whitespace().map(|h| (h.to_string(), 0)).collect();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != sums.len() {
            return Err(CollectorError::malformed(
                path,
                n,
                "column count differs from the header",
            ));
        }
        for ((_, sum), f) in sums.iter_mut().zip(fields) {
            let v = u64::from_str_radix(f, 16)
                .map_err(|_| CollectorError::malformed(path, n, format!("invalid hexadecimal number {f:?}")))?;
            *sum = sum.wrapping_add(v);
        }
    }
    Ok(sums)
}

struct Conntrack(Paths);

impl Collector for Conntrack {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        for (file, name, help) in [
            (
                "sys/net/netfilter/nf_conntrack_count",
                "node_nf_conntrack_entries",
                "Number of currently allocated flow entries for connection tracking.",
            ),
            (
                "sys/net/netfilter/nf_conntrack_max",
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
            ),
        ] {
            let path = self.0.proc(file);
            let v: f64 = parse_num(&path, 1, read_file(&path)?.trim())?;
            out.push(single(name, help, MetricType::Gauge, v));
        }
        let path = self.0.proc("net/stat/nf_conntrack");
        if let Some(text) = read_optional(&path)? {
            let sums = parse_stat(&path, &text)?;
            for (column, suffix, help) in STATS {
                if let Some((_, v)) = sums.iter().find(|(h, _)| h == column) {
                    out.push(single(
                        &format!("node_nf_conntrack_stat_{suffix}"),
                        help,
                        MetricType::Gauge,
                        *v as f64,
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_sums() {
        let p = Path::new("nf_conntrack");
        let got = parse_stat(p, "entries found drop\n00000021 0000000a 1\n00000021 00000001 f\n").unwrap();
        assert_eq!(got[1], ("found".to_string(), 11));
        assert_eq!(got[2], ("drop".to_string(), 16));
        for bad in ["", "a b\n1\n", "a\nzz\n"] {
            assert!(parse_stat(p, bad).is_err(), "{bad:?}");
        }
    }
}
