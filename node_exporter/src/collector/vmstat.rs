//! `vmstat`: the fields of `/proc/vmstat` matching `--collector.vmstat.fields`, as `node_vmstat_<field>`.

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{FieldFilter, numbered, regex_flag};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("vmstat", true, build).with_args(args);

const FIELDS_FLAG: &str = "collector.vmstat.fields";
const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(FIELDS_FLAG)
            .long(FIELDS_FLAG)
            .default_value(DEFAULT_FIELDS)
            .help("Regexp of fields to return for vmstat collector."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let fields = regex_flag("vmstat", s.matches, FIELDS_FLAG)?;
    Ok(Box::new(VmStat {
        paths: s.paths.clone(),
        fields: FieldFilter::new(
            fields.unwrap_or_else(|| Regex::new(DEFAULT_FIELDS).expect("the default pattern is valid")),
        ),
    }))
}

struct VmStat {
    paths: Paths,
    fields: FieldFilter,
}

impl Collector for VmStat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("vmstat");
        let text = read_file(&path)?;
        let mut pass = self.fields.pass();
        for (n, line) in numbered(&text) {
            let mut fields = line.split_whitespace();
            let (name, v) = match (fields.next(), fields.next(), fields.next()) {
                (None, _, _) => continue,
                (Some(name), Some(v), None) => (name, v),
                _ => return Err(CollectorError::malformed(&path, n, "expected a name and a value").into()),
            };
            if !pass.keeps(n, name) {
                continue;
            }
            let v: f64 = parse_num(&path, n, v)?;
            out.push(single(
                &format!("node_vmstat_{name}"),
                &format!("/proc/vmstat information field {name}."),
                MetricType::Unknown,
                v,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli;

    fn collect(dir: &std::path::Path, text: &str) -> Result<Vec<MetricFamily>, CollectError> {
        std::fs::write(dir.join("vmstat"), text).unwrap();
        let m = cli::command().try_get_matches_from(["node_exporter"]).unwrap();
        let paths = Paths {
            procfs: dir.to_path_buf(),
            ..Paths::default()
        };
        let c = build(&Settings {
            paths: &paths,
            matches: &m,
        })
        .unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    #[test]
    fn fields_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, Option<Vec<&str>>); 3] = [
            (
                "nr_free_pages 1\npgfault 5\noom_kill 0\n",
                Some(vec!["node_vmstat_pgfault", "node_vmstat_oom_kill"]),
            ),
            ("pgfault\n", None),
            ("pgfault x\n", None),
        ];
        for (text, want) in cases {
            let got = collect(dir.path(), text)
                .ok()
                .map(|f| f.into_iter().map(|f| f.name).collect::<Vec<_>>());
            assert_eq!(got, want.map(|w| w.into_iter().map(String::from).collect()), "{text:?}");
        }
    }
}
