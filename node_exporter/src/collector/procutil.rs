//! Small helpers shared by the `/proc`-based collectors: building labelled families, optional files, and the
//! include/exclude device filters behind flags such as `--collector.netdev.device-include`.

use std::path::Path;

use clap::ArgMatches;
use exposition::{Labels, Metric, MetricFamily, MetricType};
use regex::Regex;

use super::{BuildError, CollectorError, value};

/// A family with its name, HELP text and type, to be filled with [`add`].
pub fn family(name: &str, help: &str, t: MetricType) -> MetricFamily {
    MetricFamily::new(name, t).with_help(help)
}

/// Adds one sample with the given label pairs to `f`, typed as the family is.
pub fn add(f: &mut MetricFamily, labels: &[(&str, &str)], v: f64) {
    let t = f.metric_type;
    f.push(Metric::new(
        Labels::from_pairs(labels.iter().map(|(k, v)| (*k, *v))),
        value(t, v),
    ));
}

/// Reads a file that may legitimately be absent: `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, CollectorError> {
    match super::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CollectorError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Compiles an optional regular expression flag value.
pub fn regex_flag(collector: &'static str, m: &ArgMatches, flag: &str) -> Result<Option<Regex>, BuildError> {
    match m.get_one::<String>(flag) {
        None => Ok(None),
        Some(s) => Regex::new(s).map(Some).map_err(|e| BuildError::InvalidFlag {
            collector,
            flag: flag.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Upstream's device filter: a name is ignored when it matches the exclude pattern or fails the include pattern.
/// Patterns match anywhere in the name unless anchored, as Go's `MatchString` does.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    exclude: Option<Regex>,
    include: Option<Regex>,
}

impl DeviceFilter {
    /// A filter from its two optional patterns.
    pub fn new(exclude: Option<Regex>, include: Option<Regex>) -> DeviceFilter {
        DeviceFilter { exclude, include }
    }

    /// Builds a filter from an exclude and an include flag, which may not both be set.
    pub fn from_flags(
        collector: &'static str,
        m: &ArgMatches,
        exclude_flag: &str,
        include_flag: &str,
    ) -> Result<DeviceFilter, BuildError> {
        let exclude = regex_flag(collector, m, exclude_flag)?;
        let include = regex_flag(collector, m, include_flag)?;
        let exclude_given = m.value_source(exclude_flag) == Some(clap::parser::ValueSource::CommandLine);
        if exclude_given && include.is_some() {
            return Err(BuildError::InvalidFlag {
                collector,
                flag: include_flag.to_string(),
                reason: format!("--{exclude_flag} and --{include_flag} are mutually exclusive"),
            });
        }
        // An include pattern replaces the default exclude pattern.
        let exclude = if include.is_some() { None } else { exclude };
        Ok(DeviceFilter::new(exclude, include))
    }

    /// Whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
            || self.include.as_ref().is_some_and(|r| !r.is_match(name))
    }
}

/// Splits a text into lines numbered from 1, for error messages.
pub fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_filter() {
        let re = |s: &str| Some(Regex::new(s).unwrap());
        let cases = [
            (DeviceFilter::default(), "sda", false),
            (DeviceFilter::new(re("^sd"), None), "sda", true),
            (DeviceFilter::new(re("^sd"), None), "nvme0n1", false),
            (DeviceFilter::new(None, re("^lo$")), "lo", false),
            (DeviceFilter::new(None, re("^lo$")), "eth0", true),
            (DeviceFilter::new(None, re("lo")), "xlox", false),
        ];
        for (f, name, want) in cases {
            assert_eq!(f.ignored(name), want, "{name} with {f:?}");
        }
    }

    #[test]
    fn filter_flags() {
        let cmd = || {
            clap::Command::new("t")
                .arg(clap::Arg::new("x").long("x").default_value("^sd"))
                .arg(clap::Arg::new("i").long("i"))
        };
        let build = |args: &[&str]| {
            let m = cmd()
                .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
                .unwrap();
            DeviceFilter::from_flags("test", &m, "x", "i")
        };
        // The default exclude pattern applies alone, gives way to an include pattern, and clashes with an
        // explicit exclude pattern; invalid patterns are flag errors.
        assert!(build(&[]).unwrap().ignored("sda"));
        let include = build(&["--i=^sd"]).unwrap();
        assert!(!include.ignored("sda") && include.ignored("nvme0n1"));
        assert!(build(&["--x=^sd", "--i=^sd"]).is_err());
        assert!(build(&["--x=("]).is_err());
    }

    #[test]
    fn optional_file() {
        assert!(read_optional(Path::new("/nonexistent/file")).unwrap().is_none());
    }
}
