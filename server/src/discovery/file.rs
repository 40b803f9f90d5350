//! `file_sd_configs`: target groups from JSON (`*.json`) or YAML (`*.yml`, `*.yaml`) files matched by glob
//! patterns.
//!
//! Files are re-read every `refresh_interval` and whenever a polled check (every second by default) sees a file
//! appear, disappear or change size or modification time. Group `i` of file `f` has the source `f:i` and the label
//! `__meta_filepath=f`, as upstream. A file that cannot be read or parsed keeps its last good groups; the error is
//! logged naming the file and counted in `prometheus_sd_file_read_errors_total`. A removed file's groups are
//! withdrawn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::FileSdConfig;

use super::targetgroup::{Format, GroupsError, parse_groups};
use super::{BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, SdMetrics, TargetGroup};

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// How often files are checked for changes between full refreshes.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Why one file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// The file could not be read.
    #[error("error reading file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not a list of target groups.
    #[error("error parsing file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: GroupsError,
    },
    /// The file's extension is neither JSON nor YAML.
    #[error("file {path}: unknown extension (expected .json, .yml or .yaml)")]
    Extension {
        /// The file.
        path: PathBuf,
    },
}

/// Watches the files of one `file_sd_configs` entry.
#[derive(Debug)]
pub struct FileDiscoverer {
    patterns: Vec<String>,
    refresh_interval: Duration,
    watch_interval: Duration,
    metrics: Option<Arc<SdMetrics>>,
    /// Per file: the groups last sent.
    last: BTreeMap<PathBuf, Vec<TargetGroup>>,
    /// Per file: size and modification time when last read.
    stamps: BTreeMap<PathBuf, Stamp>,
}

type Stamp = Option<(u64, SystemTime)>;

/// The [`super::MECHANISMS`] constructor.
pub fn build(config: &SdConfig, options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
    match config {
        SdConfig::File(c) => Ok(Box::new(FileDiscoverer::new(c, options.metrics.clone()))),
        other => Err(DiscoveryError::Mechanism {
            expected: "file",
            got: other.mechanism(),
        }),
    }
}

impl FileDiscoverer {
    /// A discoverer for `config`.
    pub fn new(config: &FileSdConfig, metrics: Option<Arc<SdMetrics>>) -> FileDiscoverer {
        FileDiscoverer {
            patterns: config.files.clone(),
            refresh_interval: Duration::from_millis(config.refresh_interval.as_millis().max(1)),
            watch_interval: DEFAULT_WATCH_INTERVAL,
            metrics,
            last: BTreeMap::new(),
            stamps: BTreeMap::new(),
        }
    }

    /// Changes how often files are checked for changes (tests use short intervals).
    pub fn with_watch_interval(mut self, interval: Duration) -> FileDiscoverer {
        self.watch_interval = interval;
        self
    }

    /// The files the patterns match now, sorted. A pattern that is not a valid glob matches nothing (the
    /// configuration check rejects such patterns).
    fn list_files(&self) -> BTreeSet<PathBuf> {
        let mut files = BTreeSet::new();
        for pattern in &self.patterns {
            match glob::glob(pattern) {
                Ok(paths) => files.extend(paths.flatten().filter(|p| p.is_file())),
                Err(e) => tracing::error!(pattern, "invalid file_sd pattern: {e}"),
            }
        }
        files
    }

    fn stamp(path: &Path) -> Stamp {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.len(), meta.modified().ok()?))
    }

    /// Whether the set of files or any file's stamp changed since the last refresh.
    fn changed(&self) -> bool {
        let files = self.list_files();
        files.len() != self.stamps.len()
            || files
                .iter()
                .any(|f| self.stamps.get(f).is_none_or(|s| *s != Self::stamp(f)))
    }

    /// Reads every file; returns the groups that changed (including empty groups for withdrawn sources).
    pub fn refresh(&mut self) -> Vec<TargetGroup> {
        let files = self.list_files();
        let mut out = Vec::new();
        let mut stamps = BTreeMap::new();
        for path in &files {
            stamps.insert(path.clone(), Self::stamp(path));
            match read_file(path) {
                Ok(groups) => {
                    let previous = self.last.get(path).map(Vec::as_slice).unwrap_or_default();
                    if previous != groups.as_slice() {
                        for old in previous.iter().skip(groups.len()) {
                            out.push(TargetGroup::empty(old.source.clone()));
                        }
                        out.extend(groups.iter().cloned());
                        self.last.insert(path.clone(), groups);
                    }
                }
                Err(e) => {
                    if let Some(m) = &self.metrics {
                        m.file_read_error();
                    }
                    tracing::error!("file_sd: {e}");
                }
            }
        }
        let gone: Vec<PathBuf> = self.last.keys().filter(|p| !files.contains(*p)).cloned().collect();
        for path in gone {
            if let Some(groups) = self.last.remove(&path) {
                out.extend(groups.into_iter().map(|g| TargetGroup::empty(g.source)));
            }
        }
        self.stamps = stamps;
        out
    }
}

/// Reads one file's target groups.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, FileSdError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match ext.as_str() {
        "json" => Format::Json,
        "yml" | "yaml" => Format::Yaml,
        _ => return Err(FileSdError::Extension { path: path.to_owned() }),
    };
    let text = std::fs::read_to_string(path).map_err(|source| FileSdError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path.to_string_lossy();
    parse_groups(&text, format, |i| format!("{name}:{i}"), (FILEPATH_LABEL, &name)).map_err(|source| {
        FileSdError::Parse {
            path: path.to_owned(),
            source,
        }
    })
}

impl Discoverer for FileDiscoverer {
    fn run(mut self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            let first = self.refresh();
            if !super::send(&cancel, &updates, first).await {
                return;
            }
            let mut last_full = Instant::now();
            loop {
                if !super::sleep(&cancel, self.watch_interval.min(self.refresh_interval)).await {
                    return;
                }
                if last_full.elapsed() < self.refresh_interval && !self.changed() {
                    continue;
                }
                last_full = Instant::now();
                let groups = self.refresh();
                if !groups.is_empty() && !super::send(&cancel, &updates, groups).await {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::address_target;

    fn discoverer(patterns: &[String]) -> FileDiscoverer {
        let config = FileSdConfig {
            files: patterns.to_vec(),
            refresh_interval: crate::config::types::Duration::from_secs(300),
        };
        FileDiscoverer::new(&config, None)
    }

    #[test]
    fn refresh_tracks_changes_errors_and_removals() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        let yaml = dir.path().join("b.yml");
        let js = json.display().to_string();
        let ys = yaml.display().to_string();
        let mut d = discoverer(&[format!("{}/*.json", dir.path().display()), ys.clone()]);

        // step: (write a.json, write b.yml, remove a.json) -> expected (source, target count) of the update
        std::fs::write(
            &json,
            r#"[{"targets":["a:1"]},{"targets":["b:1","b:2"],"labels":{"x":"y"}}]"#,
        )
        .unwrap();
        std::fs::write(&yaml, "- targets: ['c:1']\n").unwrap();
        let first = d.refresh();
        let summary = |groups: &[TargetGroup]| -> Vec<(String, usize)> {
            groups.iter().map(|g| (g.source.clone(), g.targets.len())).collect()
        };
        assert_eq!(
            summary(&first),
            vec![(format!("{js}:0"), 1), (format!("{js}:1"), 2), (format!("{ys}:0"), 1)]
        );
        assert_eq!(first[0].targets[0], address_target("a:1"));
        assert_eq!(first[1].labels.get(FILEPATH_LABEL), Some(js.as_str()));
        assert_eq!(first[1].labels.get("x"), Some("y"));

        // Nothing changed: nothing sent.
        assert!(d.refresh().is_empty());
        assert!(!d.changed());

        // One group fewer: the missing source is withdrawn and the rest resent.
        std::fs::write(&json, r#"[{"targets":["a:9"]}]"#).unwrap();
        assert_eq!(
            summary(&d.refresh()),
            vec![(format!("{js}:1"), 0), (format!("{js}:0"), 1)]
        );

        // A broken file keeps its groups.
        std::fs::write(&yaml, "- targets: [unclosed\n").unwrap();
        assert!(d.refresh().is_empty());
        std::fs::write(&yaml, "- targets: ['c:2']\n").unwrap();
        assert_eq!(summary(&d.refresh()), vec![(format!("{ys}:0"), 1)]);

        // A removed file's groups are withdrawn.
        std::fs::remove_file(&json).unwrap();
        assert!(d.changed());
        assert_eq!(summary(&d.refresh()), vec![(format!("{js}:0"), 0)]);
    }

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("bad.json", "{not json", "error parsing file "),
            ("null.yaml", "- null\n", "error parsing file "),
            ("x.txt", "[]", "file "),
        ];
        for (name, text, prefix) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = read_file(&path).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{prefix}{}", path.display())), "{name}: {err}");
        }
        let missing = dir.path().join("missing.json");
        let err = read_file(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("error reading file {}", missing.display())),
            "{err}"
        );
    }
}
