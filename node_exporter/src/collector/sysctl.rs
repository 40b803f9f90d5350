//! `sysctl`: selected kernel parameters from `/proc/sys`. `--collector.sysctl.include=<name>[:<field>,...]`
//! exports numeric values (one untyped family per value, per index, or per named field);
//! `--collector.sysctl.include-info=<name>` exports string values as `node_sysctl_info`.

use clap::{Arg, ArgAction};
use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::sysfs::{gauge, sample};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("sysctl", false, build).with_args(args);

const INCLUDE: &str = "collector.sysctl.include";
const INCLUDE_INFO: &str = "collector.sysctl.include-info";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE)
            .long(INCLUDE)
            .action(ArgAction::Append)
            .help("Select sysctl metrics to include"),
        Arg::new(INCLUDE_INFO)
            .long(INCLUDE_INFO)
            .action(ArgAction::Append)
            .help("Select sysctl metrics to include as info metrics"),
    ]
}

/// One selected sysctl.
#[derive(Debug, Clone, PartialEq)]
struct Sysctl {
    name: String,
    /// Field names for a multi-value sysctl (`fs.file-nr:total,current,max`).
    keys: Vec<String>,
    numeric: bool,
}

impl Sysctl {
    fn parse(include: &str, numeric: bool) -> Sysctl {
        let (name, keys) = match include.split_once(':') {
            Some((name, keys)) => (name, keys.split(',').map(str::to_string).collect()),
            None => (include, Vec::new()),
        };
        Sysctl {
            name: name.to_string(),
            keys,
            numeric,
        }
    }

    fn metric_name(&self) -> String {
        let sanitized: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
            .collect();
        format!("node_sysctl_{sanitized}")
    }
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let list = |flag: &str, numeric: bool| -> Vec<Sysctl> {
        s.matches
            .get_many::<String>(flag)
            .map(|v| v.map(|i| Sysctl::parse(i, numeric)).collect())
            .unwrap_or_default()
    };
    let mut sysctls = list(INCLUDE, true);
    sysctls.extend(list(INCLUDE_INFO, false));
    Ok(Box::new(SysctlCollector {
        paths: s.paths.clone(),
        sysctls,
    }))
}

struct SysctlCollector {
    paths: Paths,
    sysctls: Vec<Sysctl>,
}

fn families(s: &Sysctl, text: &str, path: &std::path::Path) -> Result<Vec<MetricFamily>, CollectorError> {
    let values: Vec<&str> = text.split_whitespace().collect();
    let info_help = "sysctl info";
    let help = format!("sysctl {}", s.name);
    if values.is_empty() {
        return Err(CollectorError::malformed(
            path,
            1,
            format!("sysctl {} has no values", s.name),
        ));
    }
    let numbers = || -> Result<Vec<f64>, CollectorError> {
        values
            .iter()
            .map(|v| super::parse_num::<i64>(path, 1, v).map(|n| n as f64))
            .collect()
    };
    let mut out = Vec::new();
    if values.len() == 1 && !s.keys.is_empty() {
        return Err(CollectorError::malformed(
            path,
            1,
            format!("sysctl {} has only one value, but expected {:?}", s.name, s.keys),
        ));
    }
    if values.len() > 1 && !s.keys.is_empty() {
        if values.len() != s.keys.len() {
            return Err(CollectorError::malformed(
                path,
                1,
                format!(
                    "sysctl {} has {} values but {} keys",
                    s.name,
                    values.len(),
                    s.keys.len()
                ),
            ));
        }
        if !s.numeric {
            return Err(CollectorError::malformed(
                path,
                1,
                "mapped sysctl string values not supported",
            ));
        }
        for (i, (key, v)) in s.keys.iter().zip(numbers()?).enumerate() {
            out.push(sample(
                &format!("{}_{key}", s.metric_name()),
                &format!("sysctl {}, field {i}", s.name),
                MetricType::Unknown,
                &[],
                v,
            ));
        }
        return Ok(out);
    }
    if s.numeric {
        let numbers = numbers()?;
        if numbers.len() == 1 {
            out.push(sample(&s.metric_name(), &help, MetricType::Unknown, &[], numbers[0]));
        } else {
            for (i, v) in numbers.iter().enumerate() {
                let index = i.to_string();
                out.push(sample(
                    &s.metric_name(),
                    &help,
                    MetricType::Unknown,
                    &[("index", &index)],
                    *v,
                ));
            }
        }
    } else {
        for (i, v) in values.iter().enumerate() {
            let index = i.to_string();
            out.push(gauge(
                "node_sysctl_info",
                info_help,
                &[("name", s.name.as_str()), ("value", v), ("index", &index)],
                1.0,
            ));
        }
    }
    Ok(out)
}

impl Collector for SysctlCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        for s in &self.sysctls {
            let path = self.paths.proc("sys").join(s.name.replace('.', "/"));
            out.extend(families(s, &read_file(&path)?, &path)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;
    use std::path::Path;

    /// (family name, label pairs, value) of each family.
    type Row = (String, Vec<(String, String)>, Value);

    fn run(include: &str, numeric: bool, text: &str) -> Option<Vec<Row>> {
        let s = Sysctl::parse(include, numeric);
        let fams = families(&s, text, Path::new("x")).ok()?;
        Some(
            fams.into_iter()
                .map(|f| {
                    let m = &f.metrics[0];
                    let labels = m.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                    (f.name, labels, m.value.clone())
                })
                .collect(),
        )
    }

    #[test]
    fn numeric_indexed_mapped_and_info() {
        let single = run("kernel.threads-max", true, "7801\n").unwrap();
        assert_eq!(
            single,
            [("node_sysctl_kernel_threads_max".into(), vec![], Value::Unknown(7801.0))]
        );
        let indexed = run("fs.file-nr", true, "1024\t0\t1631329\n").unwrap();
        assert_eq!(indexed.len(), 3);
        assert_eq!(indexed[2].1, [("index".to_string(), "2".to_string())]);
        let mapped = run("fs.file-nr:total,current,max", true, "1024\t0\t1631329\n").unwrap();
        assert_eq!(mapped[2].0, "node_sysctl_fs_file_nr_max");
        let info = run("kernel.seccomp.actions_avail", false, "kill_process trap\n").unwrap();
        assert_eq!(info[1].1[1], ("value".to_string(), "trap".to_string()));
        for (include, numeric, text) in [
            ("fs.file-nr:a,b", true, "1 2 3\n"),
            ("kernel.threads-max:a", true, "1\n"),
            ("kernel.threads-max", true, "many\n"),
            ("kernel.threads-max", true, "\n"),
        ] {
            assert!(run(include, numeric, text).is_none(), "{include} {text:?}");
        }
    }
}
