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

/// A field-name pattern (`--collector.netstat.fields`, `--collector.vmstat.fields`) with its answers remembered
/// by position: a kernel file names the same fields in the same order on every scrape, so a name is matched again
/// only when the name at its position changed.
#[derive(Debug)]
pub struct FieldFilter {
    pattern: Regex,
    seen: std::sync::Mutex<Vec<(Box<str>, bool)>>,
}

/// One pass over a file's fields with a [`FieldFilter`] (holds its memory locked).
pub struct FieldPass<'a> {
    pattern: &'a Regex,
    seen: std::sync::MutexGuard<'a, Vec<(Box<str>, bool)>>,
}

impl FieldFilter {
    /// At most this many positions are remembered; later ones are matched each time.
    const MAX: usize = 4096;

    /// A filter keeping the names `pattern` matches (anywhere, as Go's `MatchString`).
    pub fn new(pattern: Regex) -> FieldFilter {
        FieldFilter {
            pattern,
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Starts a pass over one scrape's fields.
    pub fn pass(&self) -> FieldPass<'_> {
        FieldPass {
            pattern: &self.pattern,
            seen: self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }
}

impl FieldPass<'_> {
    /// Whether `name`, the `index`th field of this pass, is kept.
    pub fn keeps(&mut self, index: usize, name: &str) -> bool {
        if let Some((seen, keep)) = self.seen.get(index)
            && **seen == *name
        {
            return *keep;
        }
        let keep = self.pattern.is_match(name);
        if index < self.seen.len() {
            self.seen[index] = (name.into(), keep);
        } else if index == self.seen.len() && index < FieldFilter::MAX {
            self.seen.push((name.into(), keep));
        }
        keep
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
    fn field_filter_answers_like_its_pattern() {
        let f = FieldFilter::new(Regex::new("^(Tcp_.*|.*Errs)$").unwrap());
        let first = [
            ("Tcp_InSegs", true),
            ("Udp_InErrs", true),
            ("Udp_NoPorts", false),
            ("", false),
        ];
        // The same names again, then names moved to other positions and a longer list.
        let second = [
            ("Udp_NoPorts", false),
            ("Tcp_InSegs", true),
            ("Udp_InErrs", true),
            ("", false),
            ("Tcp_X", true),
        ];
        for names in [&first[..], &first[..], &second[..], &first[..]] {
            let mut pass = f.pass();
            for (i, (name, want)) in names.iter().enumerate() {
                assert_eq!(pass.keeps(i, name), *want, "{name} at {i}");
            }
        }
    }

    #[test]
    fn optional_file() {
        assert!(read_optional(Path::new("/nonexistent/file")).unwrap().is_none());
    }
}
