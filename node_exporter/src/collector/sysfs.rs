//! Helpers shared by the sysfs-based collectors: reading one-value attribute files, listing class directories,
//! building single-sample families (the registry merges families of the same name) and upstream's include /
//! exclude device filters.

use std::path::Path;

use clap::{Arg, ArgMatches};
use exposition::{Labels, Metric, MetricFamily, MetricType};
use regex::Regex;

use super::{BuildError, CollectorError, read_file, value};

/// Reads an attribute file and trims surrounding whitespace.
pub fn read_trimmed(path: &Path) -> Result<String, CollectorError> {
    read_file(path).map(|s| s.trim().to_string())
}

/// Reads an attribute file that may be absent or unreadable (many attributes are optional or need privileges).
pub fn read_optional(path: &Path) -> Option<String> {
    super::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Reads an attribute file holding one number.
pub fn read_number(path: &Path) -> Result<f64, CollectorError> {
    let text = read_trimmed(path)?;
    super::parse_num(path, 1, &text)
}

/// Reads an optional attribute holding one number; absent, unreadable or non-numeric gives `None`.
pub fn read_optional_number(path: &Path) -> Option<f64> {
    read_optional(path)?.parse().ok()
}

/// The entry names of a directory, sorted. A missing directory is an error naming it (a missing procfs or sysfs
/// directory is remembered for a few seconds, see [`super::absence`]).
pub fn list_dir(path: &Path) -> Result<Vec<String>, CollectorError> {
    let mut names = super::fdcache::list_dir(path).map_err(|source| CollectorError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    names.sort();
    Ok(names)
}

/// Whether `path` is a directory; a missing procfs or sysfs path is remembered for a few seconds.
pub fn is_dir(path: &Path) -> bool {
    super::absence::is_dir(path)
}

/// Whether the error is "file or directory not found" (collectors upstream skips silently in that case).
pub fn is_not_found(err: &CollectorError) -> bool {
    matches!(err, CollectorError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// A family with one sample of type `t`, labelled by `labels` (name, value pairs).
pub fn sample(name: &str, help: &str, t: MetricType, labels: &[(&str, &str)], v: f64) -> MetricFamily {
    let mut f = MetricFamily::new(name, t).with_help(help);
    f.push(Metric::new(Labels::from_pairs(labels.iter().copied()), value(t, v)));
    f
}

/// A gauge family with one sample.
pub fn gauge(name: &str, help: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
    sample(name, help, MetricType::Gauge, labels, v)
}

/// A counter family with one sample.
pub fn counter(name: &str, help: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
    sample(name, help, MetricType::Counter, labels, v)
}

/// Upstream's device filter: an optional include pattern and an optional exclude pattern (unanchored, as Go's
/// `regexp.MatchString`). With neither set nothing is ignored.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl DeviceFilter {
    /// A filter from pattern strings; an empty string means "not set".
    pub fn new(
        collector: &'static str,
        include: (&str, Option<&str>),
        exclude: (&str, Option<&str>),
    ) -> Result<DeviceFilter, BuildError> {
        let compile = |(flag, pattern): (&str, Option<&str>)| -> Result<Option<Regex>, BuildError> {
            match pattern.filter(|p| !p.is_empty()) {
                None => Ok(None),
                Some(p) => Regex::new(p).map(Some).map_err(|e| BuildError::InvalidFlag {
                    collector,
                    flag: flag.to_string(),
                    reason: e.to_string(),
                }),
            }
        };
        Ok(DeviceFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// A filter from two string flags of the parsed command line.
    pub fn from_flags(
        collector: &'static str,
        m: &ArgMatches,
        include_flag: &str,
        exclude_flag: &str,
    ) -> Result<DeviceFilter, BuildError> {
        let get = |f: &str| m.get_one::<String>(f).map(String::as_str);
        DeviceFilter::new(
            collector,
            (include_flag, get(include_flag)),
            (exclude_flag, get(exclude_flag)),
        )
    }

    /// Whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        if let Some(exclude) = &self.exclude
            && exclude.is_match(name)
        {
            return true;
        }
        if let Some(include) = &self.include
            && !include.is_match(name)
        {
            return true;
        }
        false
    }
}

/// A string flag named `name` (`--name=VALUE`) with an optional default.
pub fn string_arg(name: &'static str, default: Option<&'static str>, help: &'static str) -> Arg {
    let arg = Arg::new(name).long(name).help(help);
    match default {
        Some(d) => arg.default_value(d),
        None => arg,
    }
}

/// A boolean flag `--name` / `--no-name` (`no` is `"no-" + name`) as kingpin has it, with upstream's default;
/// read it with [`flag_on`].
pub fn bool_args(name: &'static str, no: &'static str, default: bool, help: &'static str) -> [Arg; 2] {
    let state = if default { "enabled" } else { "disabled" };
    [
        Arg::new(name)
            .long(name)
            .action(clap::ArgAction::SetTrue)
            .overrides_with(no)
            .help(format!("{help} (default: {state})")),
        Arg::new(no)
            .long(no)
            .action(clap::ArgAction::SetTrue)
            .overrides_with(name)
            .hide(true),
    ]
}

/// The value of a flag pair made by [`bool_args`].
pub fn flag_on(m: &ArgMatches, name: &str, default: bool) -> bool {
    if m.get_flag(name) {
        true
    } else if m.try_get_one::<bool>(&format!("no-{name}")).ok().flatten() == Some(&true) {
        false
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_filter_table() {
        let cases = [
            (None, None, "eth0", false),
            (Some("^eth"), None, "eth0", false),
            (Some("^eth"), None, "lo", true),
            (None, Some("^lo$"), "lo", true),
            (None, Some("^lo$"), "lo0", false),
            (Some("e"), Some("eth1"), "eth1", true),
        ];
        for (inc, exc, name, want) in cases {
            let f = DeviceFilter::new("t", ("inc", inc), ("exc", exc)).unwrap();
            assert_eq!(f.ignored(name), want, "{inc:?} {exc:?} {name}");
        }
        assert!(DeviceFilter::new("t", ("inc", Some("(")), ("exc", None)).is_err());
    }

    #[test]
    fn optional_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("n"), "42\n").unwrap();
        std::fs::write(dir.path().join("bad"), "x\n").unwrap();
        assert_eq!(read_optional_number(&dir.path().join("n")), Some(42.0));
        assert_eq!(read_optional_number(&dir.path().join("bad")), None);
        assert_eq!(read_optional_number(&dir.path().join("missing")), None);
        assert!(read_number(&dir.path().join("bad")).is_err());
        let err = read_number(&dir.path().join("missing")).unwrap_err();
        assert!(is_not_found(&err));
        assert_eq!(list_dir(dir.path()).unwrap(), ["bad", "n"]);
    }
}
