//! `slabinfo`: kernel slab allocator statistics from `/proc/slabinfo` (readable by root only), for the slabs
//! matching `--collector.slabinfo.slabs-include` and not `--collector.slabinfo.slabs-exclude`.

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{add, family, numbered, regex_flag};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("slabinfo", false, build).with_args(args);

const INCLUDE_FLAG: &str = "collector.slabinfo.slabs-include";
const EXCLUDE_FLAG: &str = "collector.slabinfo.slabs-exclude";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .default_value(".*")
            .help("Regexp of slabs to include in slabinfo collector."),
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .default_value("")
            .help("Regexp of slabs to exclude in slabinfo collector."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(SlabInfo {
        paths: s.paths.clone(),
        include: regex_flag("slabinfo", s.matches, INCLUDE_FLAG)?,
        // An empty exclude pattern excludes nothing.
        exclude: regex_flag("slabinfo", s.matches, EXCLUDE_FLAG)?.filter(|r| !r.as_str().is_empty()),
    }))
}

/// Metric suffix, HELP text, column.
const COLUMNS: [(&str, &str, usize); 5] = [
    (
        "active_objects",
        "The number of objects that are currently active (i.e., in use).",
        1,
    ),
    (
        "objects",
        "The total number of allocated objects (i.e., objects that are both in use and not in use).",
        2,
    ),
    ("object_size_bytes", "The size of objects in this slab, in bytes.", 3),
    ("objects_per_slab", "The number of objects stored in each slab.", 4),
    ("pages_per_slab", "The number of pages allocated for each slab.", 5),
];

/// `(name, columns 1..=5)` of each slab line (after the version and header lines).
fn parse_slabinfo(path: &Path, text: &str) -> Result<Vec<(String, [f64; 6])>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        if n == 1 || line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 {
            return Err(CollectorError::malformed(path, n, "expected at least 6 columns"));
        }
        let mut cols = [0.0; 6];
        for (i, f) in fields.iter().enumerate().take(6).skip(1) {
            cols[i] = parse_num(path, n, f)?;
        }
        out.push((fields[0].to_string(), cols));
    }
    Ok(out)
}

struct SlabInfo {
    paths: Paths,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Collector for SlabInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("slabinfo");
        let slabs = parse_slabinfo(&path, &read_file(&path)?)?;
        for (suffix, help, col) in COLUMNS {
            let mut f = family(&format!("node_slabinfo_{suffix}"), help, MetricType::Gauge);
            for (name, cols) in &slabs {
                if self.include.as_ref().is_some_and(|r| !r.is_match(name))
                    || self.exclude.as_ref().is_some_and(|r| r.is_match(name))
                {
                    continue;
                }
                add(&mut f, &[("slab", name)], cols[col]);
            }
            out.push(f);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_lines() {
        let p = Path::new("slabinfo");
        let head = "slabinfo - version: 2.1\n# name <active_objs>\n";
        let got = parse_slabinfo(p, &format!("{head}kmem_cache 320 330 256 32 2 : tunables 0 0 0\n")).unwrap();
        assert_eq!(got[0].0, "kmem_cache");
        assert_eq!(got[0].1[2], 330.0);
        for bad in ["kmem_cache 1 2\n", "kmem_cache 1 2 x 4 5\n"] {
            assert!(parse_slabinfo(p, &format!("{head}{bad}")).is_err(), "{bad:?}");
        }
    }
}
