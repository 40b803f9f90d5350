//! `textfile`: metrics from `*.prom` files in the directories of `--collector.textfile.directory` (repeatable,
//! glob patterns allowed), parsed as text format 0.0.4, plus `node_textfile_mtime_seconds{file}` for every file
//! read and `node_textfile_scrape_error`.
//!
//! Upstream's rules: a file that cannot be read or parsed, or that carries client-side timestamps, is skipped
//! whole and sets `node_textfile_scrape_error 1`. A family whose HELP differs from the HELP the same family had
//! in an earlier file is dropped (also an error). Families without HELP get `Metric read from <files>`. Within a
//! family, labels missing from some metrics are added with empty values. A family whose type differs from the
//! same family in an earlier file, and a series already read from an earlier file, are dropped with an error
//! logged (the Go registry rejects them when gathering).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use clap::{Arg, ArgAction};
use exposition::encode::Format;
use exposition::parse::{Mode, families};
use exposition::{CollectError, Collector, Labels, MetricFamily, MetricType};

use super::sysfs::gauge;
use super::{BuildError, Settings, Spec};

/// Table entry.
pub const SPEC: Spec = Spec::new("textfile", true, build).with_args(args);

const DIRECTORY: &str = "collector.textfile.directory";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(DIRECTORY)
            .long(DIRECTORY)
            .action(ArgAction::Append)
            .help("Directory to read text files with metrics from, supports glob matching. (repeatable)"),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let directories = s
        .matches
        .get_many::<String>(DIRECTORY)
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    Ok(Box::new(Textfile {
        directories,
        fixed_mtime: None,
    }))
}

struct Textfile {
    directories: Vec<String>,
    /// Replaces every file's mtime (tests compare against upstream's golden files, which use 1).
    fixed_mtime: Option<f64>,
}

/// Whether `name` matches the shell pattern `pattern` (`*`, `?` and `[...]` classes, as Go's `filepath.Match`
/// within one path component).
fn component_matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| component_matches(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && component_matches(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().position(|&c| c == b']') else {
                return false;
            };
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let (negate, class) = match rest[..close].split_first() {
                Some((b'^', class)) => (true, class),
                _ => (false, &rest[..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && component_matches(&rest[close + 1..], name_rest)
        }
        Some((&p, rest)) => name.first() == Some(&p) && component_matches(rest, &name[1..]),
    }
}

/// Expands a glob pattern into the existing paths it matches, sorted; an empty list when nothing matches.
fn glob(pattern: &str) -> Vec<String> {
    let is_meta = |s: &str| s.contains(['*', '?', '[']);
    if !is_meta(pattern) {
        return if Path::new(pattern).exists() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let absolute = pattern.starts_with('/');
    let mut current = vec![if absolute { "/".to_string() } else { String::new() }];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &current {
            let join = |name: &str| {
                if base.is_empty() {
                    name.to_string()
                } else if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if !is_meta(part) {
                next.push(join(part));
                continue;
            }
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| component_matches(part.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        current = next;
    }
    current.retain(|p| Path::new(p).exists());
    current
}

/// One parsed file: its families and mtime, or why it was skipped.
fn read_prom_file(path: &Path) -> Result<(Vec<MetricFamily>, std::time::SystemTime), String> {
    let data = std::fs::read(path).map_err(|e| format!("failed to open textfile data file {path:?}: {e}"))?;
    let fams = families(&data, Format::Text, Mode::Strict)
        .map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    if fams.iter().flat_map(|f| &f.metrics).any(|m| m.timestamp_ms.is_some()) {
        return Err(format!(
            "textfile {path:?} contains unsupported client-side timestamps, skipping entire file"
        ));
    }
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("failed to stat {path:?}: {e}"))?;
    Ok((fams, mtime))
}

/// Adds the labels some metrics of the family lack, with empty values, and gives summaries and histograms
/// without `_sum` / `_count` lines zero values (the Go client's constant summaries and histograms always have
/// both).
fn fill_missing_labels(fam: &mut MetricFamily) {
    let all: BTreeSet<String> = fam
        .metrics
        .iter()
        .flat_map(|m| m.labels.iter().map(|l| l.name.clone()))
        .collect();
    for m in &mut fam.metrics {
        for name in &all {
            if m.labels.get(name).is_none() {
                m.labels.push(name.clone(), "");
            }
        }
        m.labels.sort();
        if let exposition::Value::Summary { sum, count, .. } | exposition::Value::Histogram { sum, count, .. } =
            &mut m.value
        {
            sum.get_or_insert(0.0);
            count.get_or_insert(0.0);
        }
    }
}

/// Metric families accumulated over the files of one scrape.
#[derive(Default)]
struct Accumulator {
    /// Family name -> (first HELP, whether a conflicting HELP was seen).
    helps: HashMap<String, (String, bool)>,
    /// Family name -> the files it was read from.
    files: HashMap<String, Vec<String>>,
    /// Family name -> type, HELP (if any), metrics; in name order.
    families: BTreeMap<String, MetricFamily>,
    /// Series already taken, per family.
    series: HashMap<String, BTreeSet<Vec<(String, String)>>>,
    errored: bool,
}

impl Accumulator {
    fn add(&mut self, file: &str, mut fam: MetricFamily) {
        let help = fam.help.take().filter(|h| !h.is_empty());
        if let Some((first, conflicted)) = self.helps.get_mut(&fam.name)
            && (help.as_ref().is_some_and(|h| h != first) || *conflicted)
        {
            *conflicted = true;
            self.errored = true;
            tracing::error!(
                metric = fam.name.as_str(),
                original_help_text = first.as_str(),
                new_help_text = help.as_deref().unwrap_or_default(),
                file = self
                    .files
                    .get(&fam.name)
                    .and_then(|f| f.first())
                    .map_or("", String::as_str),
                "inconsistent metric help text"
            );
            return;
        }
        if let Some(h) = &help {
            self.helps.insert(fam.name.clone(), (h.clone(), false));
        }
        if let Some(existing) = self.families.get(&fam.name)
            && existing.metric_type != fam.metric_type
        {
            tracing::error!(
                metric = fam.name.as_str(),
                file,
                "metric family has a different type than in an earlier file, dropped"
            );
            return;
        }
        self.files.entry(fam.name.clone()).or_default().push(file.to_string());
        fill_missing_labels(&mut fam);
        let seen = self.series.entry(fam.name.clone()).or_default();
        let name = fam.name.clone();
        let metrics: Vec<_> = std::mem::take(&mut fam.metrics)
            .into_iter()
            .filter(|m| {
                let key: Vec<(String, String)> = m.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                let fresh = seen.insert(key);
                if !fresh {
                    tracing::error!(metric = name.as_str(), file, "series was collected before, dropped");
                }
                fresh
            })
            .collect();
        let entry = self.families.entry(fam.name.clone()).or_insert_with(|| {
            let mut f = MetricFamily::new(fam.name.clone(), fam.metric_type);
            f.help = None;
            f
        });
        entry.metrics.extend(metrics);
    }

    fn finish(mut self, out: &mut Vec<MetricFamily>) {
        for (name, mut fam) in std::mem::take(&mut self.families) {
            fam.help = Some(match self.helps.get(&name) {
                Some((help, _)) => help.clone(),
                None => format!(
                    "Metric read from {}",
                    self.files.get(&name).map(|f| f.join(", ")).unwrap_or_default()
                ),
            });
            out.push(fam);
        }
    }
}

impl Collector for Textfile {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut dirs = Vec::new();
        for pattern in &self.directories {
            let matched = glob(pattern);
            if matched.is_empty() {
                dirs.push(pattern.clone());
            } else {
                dirs.extend(matched);
            }
        }
        let mut acc = Accumulator::default();
        let mut mtimes: BTreeMap<String, f64> = BTreeMap::new();
        for dir in &dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(err) => {
                    if !dir.is_empty() {
                        acc.errored = true;
                        tracing::error!(path = dir.as_str(), err = %err, "failed to read textfile collector directory");
                    }
                    continue;
                }
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".prom"))
                .collect();
            names.sort();
            for name in names {
                let path: PathBuf = Path::new(dir).join(&name);
                let shown = path.to_string_lossy().into_owned();
                match read_prom_file(&path) {
                    Ok((fams, mtime)) => {
                        for fam in fams {
                            acc.add(&shown, fam);
                        }
                        let millis = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                        mtimes.insert(shown, self.fixed_mtime.unwrap_or(millis as f64 / 1000.0));
                    }
                    Err(err) => {
                        acc.errored = true;
                        tracing::error!(
                            file = name.as_str(),
                            err = err.as_str(),
                            "failed to collect textfile data"
                        );
                    }
                }
            }
        }
        let errored = acc.errored;
        acc.finish(out);
        for (file, mtime) in &mtimes {
            out.push(gauge(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                &[("file", file)],
                *mtime,
            ));
        }
        let mut scrape_error = MetricFamily::new("node_textfile_scrape_error", MetricType::Gauge)
            .with_help("1 if there was an error opening or reading a file, 0 otherwise");
        scrape_error.push(exposition::Metric::new(
            Labels::new(),
            exposition::Value::Gauge(if errored { 1.0 } else { 0.0 }),
        ));
        out.push(scrape_error);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Registry;
    use exposition::encode::encode;

    #[test]
    fn glob_components() {
        let cases = [
            ("*.prom", "a.prom", true),
            ("*.prom", "a.txt", false),
            ("?_extra", "a_extra", true),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[ab", "a", false),
            ("abc", "abc", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                component_matches(pattern.as_bytes(), name.as_bytes()),
                want,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn malformed_file_is_skipped_with_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.prom"), "metric{broken 1\n").unwrap();
        std::fs::write(dir.path().join("good.prom"), "# TYPE up gauge\nup 1\n").unwrap();
        let c = Textfile {
            directories: vec![dir.path().display().to_string()],
            fixed_mtime: None,
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["up", "node_textfile_mtime_seconds", "node_textfile_scrape_error"]
        );
        let mtimes = &out[1].metrics;
        assert_eq!(mtimes.len(), 1);
        assert!(mtimes[0].labels.get("file").unwrap().ends_with("good.prom"));
        assert_eq!(out[2].metrics[0].value, exposition::Value::Gauge(1.0));
        assert_eq!(
            out[0].help.as_deref(),
            Some(format!("Metric read from {}", dir.path().join("good.prom").display()).as_str())
        );
    }

    /// Upstream's textfile fixture cases: each `<case>` directory (or the directories a case names) is read with
    /// mtimes fixed to 1 and the text encoding compared with `<case>.out`.
    #[test]
    fn upstream_textfile_cases() {
        let Some(corpus) = exposition::conformance::corpus_dir() else {
            return;
        };
        let base = corpus.join("node_exporter/textfile");
        let base_str = base.display().to_string();
        let cases: Vec<(&str, &[&str])> = vec![
            ("client_side_timestamp", &["client_side_timestamp"]),
            ("different_metric_types", &["different_metric_types"]),
            ("histogram", &["histogram"]),
            ("histogram_extra_dimension", &["histogram_extra_dimension"]),
            ("inconsistent_metrics", &["inconsistent_metrics"]),
            ("metrics_merge_different_help", &["metrics_merge_different_help"]),
            ("metrics_merge_empty_help", &["metrics_merge_empty_help"]),
            ("metrics_merge_no_help", &["metrics_merge_no_help"]),
            ("metrics_merge_same_help", &["metrics_merge_same_help"]),
            ("no_metric_files", &["no_metric_files"]),
            ("nonexistent_path", &["does_not_exist"]),
            ("summary", &["summary"]),
            ("two_metric_files", &["two_metric_files"]),
            ("summary_extra_dimension", &["summary_extra_dimension"]),
            ("glob_extra_dimension", &["*_extra_dimension"]),
        ];
        for (case, dirs) in cases {
            let want = std::fs::read_to_string(base.join(format!("{case}.out"))).expect("golden file");
            let want = want.replace("fixtures/textfile", &base_str);
            let registry = Registry::new();
            registry.register(Textfile {
                directories: dirs.iter().map(|d| format!("{base_str}/{d}")).collect(),
                fixed_mtime: Some(1.0),
            });
            let fams = registry.gather(&[]).unwrap();
            let mut got = Vec::new();
            encode(&fams, Format::Text, &mut got);
            assert_eq!(String::from_utf8(got).unwrap(), want, "case {case}");
        }
    }
}
