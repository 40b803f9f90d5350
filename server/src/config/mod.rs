//! `prometheus.yml` as Prometheus 3.x reads it: serde structs that refuse unknown fields, upstream's defaults, and a
//! [`Config::load_file`] that parses, fills defaults from `global`, pulls in `scrape_config_files` and checks the
//! cross-field rules. Every error names the file, the line (when the YAML has one for it) and the field.
//!
//! Sections: [`GlobalConfig`], [`ScrapeConfig`] (with its service discovery in [`discovery`]), `rule_files`,
//! [`AlertingConfig`], [`RemoteWriteConfig`], [`RemoteReadConfig`], [`StorageConfig`], [`TracingConfig`],
//! [`OtlpConfig`] and [`RuntimeConfig`].

use std::fmt;
use std::path::{Path as FsPath, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

#[macro_use]
pub mod http;
pub mod discovery;
mod global;
pub(crate) mod locate;
mod remote;
mod scrape;
mod sections;
pub mod types;

pub use global::{EscapingScheme, GlobalConfig, ScrapeProtocol, ValidationScheme};
pub use remote::{
    AlertingConfig, AlertmanagerConfig, MetadataConfig, QueueConfig, RemoteReadConfig, RemoteWriteConfig,
};
pub use scrape::ScrapeConfig;
pub use sections::{OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig, TsdbConfig};
pub use types::{Duration, Secret, Size};

use crate::model::relabel::RelabelError;

/// One step of the way from the document root to a field: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Where a field sits in the document, as `scrape_configs[2].relabel_configs[0].regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(Vec<Segment>);

impl Path {
    /// The document root.
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_owned()));
        p
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A rule the configuration breaks, with the field it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// A required field is missing or empty.
    #[error("{path}: field is required and must not be empty")]
    Missing {
        /// The field.
        path: Path,
    },
    /// A list entry or section is `null`.
    #[error("{path}: empty or null section")]
    Null {
        /// The entry.
        path: Path,
    },
    /// More than one of a set of mutually exclusive fields is set.
    #[error("{path}: at most one of {fields} may be configured")]
    Exclusive {
        /// The section holding the fields.
        path: Path,
        /// The exclusive fields.
        fields: String,
    },
    /// A field is set without another it depends on.
    #[error("{path}: requires {needs}")]
    Requires {
        /// The field.
        path: Path,
        /// What it needs.
        needs: &'static str,
    },
    /// A value is outside what the field accepts.
    #[error("{path}: invalid value {value:?}: {reason}")]
    Invalid {
        /// The field.
        path: Path,
        /// The offending value.
        value: String,
        /// What the field accepts.
        reason: String,
    },
    /// A header that the HTTP client or protocol sets itself.
    #[error("{path}: header {header:?} is reserved and cannot be set")]
    ReservedHeader {
        /// The headers field.
        path: Path,
        /// The header.
        header: String,
    },
    /// A label name is not valid under the configured validation scheme.
    #[error("{path}: {name:?} is not a valid label name")]
    LabelName {
        /// The field.
        path: Path,
        /// The name.
        name: String,
    },
    /// A URL does not parse or has the wrong scheme or no host.
    #[error("{path}: invalid URL {url:?}: {reason}")]
    Url {
        /// The field.
        path: Path,
        /// The URL text.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// `scrape_timeout` is longer than `scrape_interval`.
    #[error(
        "{path}: scrape timeout {timeout} greater than scrape interval {interval} for scrape config with job name {job:?}"
    )]
    TimeoutExceedsInterval {
        /// The scrape config (or `global`).
        path: Path,
        /// The job name (empty for `global`).
        job: String,
        /// The timeout.
        timeout: Duration,
        /// The interval.
        interval: Duration,
    },
    /// Two scrape configs share a job name.
    #[error("{path}: found multiple scrape configs with job name {job:?}")]
    DuplicateJob {
        /// The second config.
        path: Path,
        /// The job name.
        job: String,
    },
    /// Two remote write or read configs share a name.
    #[error("{path}: found multiple remote configs with name {name:?}")]
    DuplicateName {
        /// The second config.
        path: Path,
        /// The name.
        name: String,
    },
    /// A relabeling rule is invalid.
    #[error("{path}: {source}")]
    Relabel {
        /// The rule.
        path: Path,
        /// The reason.
        source: RelabelError,
    },
    /// A section that agent mode does not allow.
    #[error("field {field} is not allowed in agent mode")]
    AgentMode {
        /// The section.
        field: &'static str,
    },
    /// A file pattern (`rule_files`, `scrape_config_files`, `file_sd_configs`) is invalid.
    #[error("{path}: invalid file path pattern {pattern:?}: {reason}")]
    FilePattern {
        /// The field.
        path: Path,
        /// The pattern.
        pattern: String,
        /// Why.
        reason: &'static str,
    },
}

impl Problem {
    /// The field the problem concerns.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Problem::Missing { path }
            | Problem::Null { path }
            | Problem::Exclusive { path, .. }
            | Problem::Requires { path, .. }
            | Problem::Invalid { path, .. }
            | Problem::ReservedHeader { path, .. }
            | Problem::LabelName { path, .. }
            | Problem::Url { path, .. }
            | Problem::TimeoutExceedsInterval { path, .. }
            | Problem::DuplicateJob { path, .. }
            | Problem::DuplicateName { path, .. }
            | Problem::Relabel { path, .. }
            | Problem::FilePattern { path, .. } => Some(path),
            Problem::AgentMode { .. } => None,
        }
    }
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown field, or a value of the wrong type (the message has line and column).
    #[error("{file}: {source}")]
    Yaml {
        /// The file.
        file: PathBuf,
        /// The parser's error.
        source: Box<serde_saphyr::Error>,
    },
    /// The document parsed but breaks a rule.
    #[error("{file}:{}: {problem}", line.map_or_else(|| "?".to_owned(), |l| l.to_string()))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The 1-based line of the offending field, when found.
        line: Option<usize>,
        /// The rule broken.
        problem: Problem,
    },
    /// A `scrape_config_files` pattern could not be expanded.
    #[error("{file}: scrape_config_files pattern {pattern:?}: {reason}")]
    Glob {
        /// The main file.
        file: PathBuf,
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
}

/// A whole `prometheus.yml`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every other section.
    #[serde(default, deserialize_with = "null_default")]
    pub global: GlobalConfig,
    /// Runtime settings (`gogc`).
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeConfig>,
    /// Rule file patterns.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// Files (globs) with more `scrape_configs`.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// Scrape jobs (after loading: also those from `scrape_config_files`).
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<Option<ScrapeConfig>>,
    /// Alertmanagers and alert relabeling.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Option::is_none")]
    pub alerting: Option<AlertingConfig>,
    /// Remote write endpoints.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<Option<RemoteWriteConfig>>,
    /// Remote read endpoints.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<Option<RemoteReadConfig>>,
    /// Storage settings.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    /// OpenTelemetry tracing of the server itself.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
    /// The OTLP receiver's translation settings.
    #[serde(default, deserialize_with = "null_default")]
    pub otlp: OtlpConfig,
}

/// Deserializes `null` as the type's default, as Go's YAML decoder leaves a field untouched on `null`.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// How the file will be used: a full server or `--agent` mode (no rules, alerting or remote read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The full server.
    #[default]
    Server,
    /// Agent mode.
    Agent,
}

/// The scrape-config-only document that `scrape_config_files` entries hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default, deserialize_with = "null_default")]
    scrape_configs: Vec<Option<ScrapeConfig>>,
}

impl Config {
    /// Parses and validates a configuration held in memory (relative paths are taken as they are; no
    /// `scrape_config_files` are read). `name` is used in error messages.
    pub fn load_str(text: &str, name: &FsPath, mode: Mode) -> Result<Config, ConfigError> {
        let mut config: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml {
            file: name.to_owned(),
            source: Box::new(e),
        })?;
        config.validate(mode).map_err(|problem| invalid(name, text, problem))?;
        Ok(config)
    }

    /// Reads, parses and validates `file`, then loads its `scrape_config_files` (globs relative to the file's
    /// folder) and checks job names across all of them.
    pub fn load_file(file: &FsPath, mode: Mode) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
            file: file.to_owned(),
            source: e,
        })?;
        let mut config = Config::load_str(&text, file, mode)?;
        let dir = file.parent().unwrap_or_else(|| FsPath::new("."));
        config.set_directory(dir);
        config.include_scrape_config_files(file, &text, dir)?;
        Ok(config)
    }

    /// Makes every relative file path in the configuration relative to `dir`, the folder of the file, as upstream
    /// does on load (`scrape_config_files` patterns are resolved when they are read).
    pub fn set_directory(&mut self, dir: &FsPath) {
        use http::join_dir;
        join_dir(dir, &mut self.global.query_log_file);
        join_dir(dir, &mut self.global.scrape_failure_log_file);
        for rule_file in &mut self.rule_files {
            join_dir(dir, rule_file);
        }
        for scrape in self.scrape_configs.iter_mut().flatten() {
            scrape.set_directory(dir);
        }
        if let Some(alerting) = &mut self.alerting {
            for am in alerting.alertmanagers.iter_mut().flatten() {
                am.set_http_directory(dir);
                am.set_discovery_directory(dir);
            }
        }
        for rw in self.remote_write.iter_mut().flatten() {
            rw.set_http_directory(dir);
        }
        for rr in self.remote_read.iter_mut().flatten() {
            rr.set_http_directory(dir);
        }
        if let Some(tls) = self.tracing.as_mut().and_then(|t| t.tls_config.as_mut()) {
            tls.set_directory(dir);
        }
    }

    /// The scrape configs (null entries are rejected by validation, so all are present after loading).
    pub fn scrape_configs(&self) -> impl Iterator<Item = &ScrapeConfig> {
        self.scrape_configs.iter().flatten()
    }

    fn include_scrape_config_files(&mut self, file: &FsPath, text: &str, dir: &FsPath) -> Result<(), ConfigError> {
        let mut jobs: Vec<String> = self.scrape_configs().map(|s| s.job_name.clone()).collect();
        let patterns = self.scrape_config_files.clone();
        for (i, pattern) in patterns.iter().enumerate() {
            let full = dir.join(pattern);
            let full_text = full.to_string_lossy().into_owned();
            let paths = glob::glob(&full_text).map_err(|e| ConfigError::Glob {
                file: file.to_owned(),
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
            let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            matched.sort();
            for path in matched {
                let included_text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
                    file: path.clone(),
                    source: e,
                })?;
                let parsed: ScrapeConfigFile =
                    serde_saphyr::from_str(&included_text).map_err(|e| ConfigError::Yaml {
                        file: path.clone(),
                        source: Box::new(e),
                    })?;
                for (j, entry) in parsed.scrape_configs.into_iter().enumerate() {
                    let at = Path::root().key("scrape_configs").index(j);
                    let Some(mut scrape) = entry else {
                        return Err(invalid(&path, &included_text, Problem::Null { path: at }));
                    };
                    scrape
                        .finalize(&self.global, &at)
                        .map_err(|problem| invalid(&path, &included_text, problem))?;
                    scrape.set_directory(path.parent().unwrap_or(dir));
                    if jobs.contains(&scrape.job_name) {
                        let problem = Problem::DuplicateJob {
                            path: Path::root().key("scrape_config_files").index(i),
                            job: scrape.job_name.clone(),
                        };
                        return Err(invalid(file, text, problem));
                    }
                    jobs.push(scrape.job_name.clone());
                    self.scrape_configs.push(Some(scrape));
                }
            }
        }
        Ok(())
    }

    /// Fills defaults from `global` and checks every rule upstream checks when it loads a file.
    pub fn validate(&mut self, mode: Mode) -> Result<(), Problem> {
        let root = Path::root();
        self.global.finalize(&root.key("global"))?;
        if mode == Mode::Agent {
            if !self.rule_files.is_empty() {
                return Err(Problem::AgentMode { field: "rule_files" });
            }
            if self.alerting.is_some() {
                return Err(Problem::AgentMode { field: "alerting" });
            }
            if !self.remote_read.is_empty() {
                return Err(Problem::AgentMode { field: "remote_read" });
            }
        }
        for (i, pattern) in self.rule_files.iter().enumerate() {
            check_rule_path(&root.key("rule_files").index(i), pattern)?;
        }
        for (i, pattern) in self.scrape_config_files.iter().enumerate() {
            check_rule_path(&root.key("scrape_config_files").index(i), pattern)?;
        }
        let mut jobs: Vec<&str> = Vec::new();
        let global = self.global.clone();
        for (i, entry) in self.scrape_configs.iter_mut().enumerate() {
            let at = root.key("scrape_configs").index(i);
            let Some(scrape) = entry else {
                return Err(Problem::Null { path: at });
            };
            scrape.finalize(&global, &at)?;
            if jobs.contains(&scrape.job_name.as_str()) {
                return Err(Problem::DuplicateJob {
                    path: at,
                    job: scrape.job_name.clone(),
                });
            }
            jobs.push(&scrape.job_name);
        }
        let legacy = self.global.metric_name_validation_scheme == ValidationScheme::Legacy;
        if let Some(alerting) = &mut self.alerting {
            alerting.validate(&root.key("alerting"), legacy)?;
        }
        let mut names: Vec<String> = Vec::new();
        for (i, entry) in self.remote_write.iter_mut().enumerate() {
            let at = root.key("remote_write").index(i);
            let Some(rw) = entry else {
                return Err(Problem::Null { path: at });
            };
            rw.validate(&at, legacy)?;
            if !rw.name.is_empty() {
                if names.contains(&rw.name) {
                    return Err(Problem::DuplicateName {
                        path: at,
                        name: rw.name.clone(),
                    });
                }
                names.push(rw.name.clone());
            }
        }
        names.clear();
        for (i, entry) in self.remote_read.iter_mut().enumerate() {
            let at = root.key("remote_read").index(i);
            let Some(rr) = entry else {
                return Err(Problem::Null { path: at });
            };
            rr.validate(&at)?;
            if !rr.name.is_empty() {
                if names.contains(&rr.name) {
                    return Err(Problem::DuplicateName {
                        path: at,
                        name: rr.name.clone(),
                    });
                }
                names.push(rr.name.clone());
            }
        }
        if let Some(storage) = &self.storage {
            storage.validate(&root.key("storage"))?;
        }
        if let Some(tracing) = &self.tracing {
            tracing.validate(&root.key("tracing"))?;
        }
        self.otlp
            .validate(&root.key("otlp"), self.global.metric_name_validation_scheme)?;
        Ok(())
    }
}

fn invalid(file: &FsPath, text: &str, problem: Problem) -> ConfigError {
    let line = problem.path().and_then(|p| locate::line_of(text, p));
    ConfigError::Invalid {
        file: file.to_owned(),
        line,
        problem,
    }
}

/// Upstream's rule for `rule_files` and `scrape_config_files`: a `*` may only appear in the last path element.
fn check_rule_path(path: &Path, pattern: &str) -> Result<(), Problem> {
    if let Some(star) = pattern.find('*')
        && pattern[star..].contains('/')
    {
        return Err(Problem::FilePattern {
            path: path.clone(),
            pattern: pattern.to_owned(),
            reason: "a glob is only allowed in the last path element",
        });
    }
    Ok(())
}

/// Checks a URL the way upstream's `url.Parse` plus its scheme/host checks do: `scheme://host...` with a scheme
/// from `schemes`.
pub(crate) fn validate_url(path: &Path, url: &str, schemes: &[&str]) -> Result<(), Problem> {
    let err = |reason| Problem::Url {
        path: path.clone(),
        url: url.to_owned(),
        reason,
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(err(
            "URL scheme must be one of the supported ones (e.g. 'http' or 'https')",
        ));
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(err("unsupported URL scheme"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(err("host is missing"));
    }
    Ok(())
}
