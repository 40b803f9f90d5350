//! Scrape targets: turning discovered label sets into targets as Prometheus does (its `PopulateLabels`).
//!
//! A discovered target's labels are merged with its group's labels, the job's defaults are added where unset
//! (`job`, `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`, `__scheme__`, `__param_<name>`),
//! `relabel_configs` run, and then the result is checked: an address is required and must not be a URL, interval
//! and timeout must parse, be non-zero and timeout <= interval. `__meta_*` labels are removed, `instance` defaults
//! to the address, and the target's own labels are the ones without a `__` prefix.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use crate::config::ScrapeConfig;
use crate::config::types::Duration;
use crate::model::labels::Labels;
use crate::model::relabel::{self, RelabelConfig};

/// Why a discovered target cannot be scraped; shown on the targets page and API as upstream words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Relabeling left no `__address__`.
    #[error("no address")]
    NoAddress,
    /// The address contains a `/` (a URL was given instead of `host:port`).
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    /// `__scrape_interval__` does not parse.
    #[error("error parsing scrape interval: not a valid duration string: {0:?}")]
    BadInterval(String),
    /// `__scrape_timeout__` does not parse.
    #[error("error parsing scrape timeout: not a valid duration string: {0:?}")]
    BadTimeout(String),
    /// The interval is zero.
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    /// The timeout is zero.
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    /// The timeout exceeds the interval.
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutAboveInterval {
        /// The timeout as written.
        timeout: String,
        /// The interval as written.
        interval: String,
    },
    /// A label name is empty or a value is not valid UTF-8 text.
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
}

/// One target of a scrape job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target's labels (no `__` prefixed ones): these are attached to every scraped sample.
    pub labels: Labels,
    /// The labels after relabeling, including `__address__`, `__scheme__`, `__param_*` and so on.
    pub full_labels: Labels,
    /// The labels as discovered, before relabeling (the targets API's `discoveredLabels`).
    pub discovered_labels: Labels,
    /// Scrape interval in milliseconds.
    pub interval_ms: u64,
    /// Scrape timeout in milliseconds.
    pub timeout_ms: u64,
}

/// Result of populating one discovered target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Populated {
    /// A target to scrape.
    Target(Target),
    /// Relabeling dropped it; the discovered labels are kept for the UI.
    Dropped(Labels),
}

/// Builds the target for one discovered label set (`target` labels win over `group` labels).
pub fn populate(target: &Labels, group: &Labels, cfg: &ScrapeConfig) -> Result<Populated, TargetError> {
    let mut lset = target.clone();
    for (n, v) in group.iter() {
        if target.get(n).is_none() {
            lset.set(n, v);
        }
    }
    let defaults = [
        ("job", cfg.job_name.clone()),
        ("__scrape_interval__", cfg.scrape_interval.to_string()),
        ("__scrape_timeout__", cfg.scrape_timeout.to_string()),
        ("__metrics_path__", cfg.metrics_path.clone()),
        ("__scheme__", cfg.scheme.clone()),
    ];
    for (n, v) in defaults {
        if lset.get_or_empty(n).is_empty() {
            lset.set(n, v);
        }
    }
    for (k, v) in &cfg.params {
        let name = format!("__param_{k}");
        if let Some(first) = v.first()
            && lset.get_or_empty(&name).is_empty()
        {
            lset.set(name, first.clone());
        }
    }
    let discovered = lset.clone();
    let rules: Vec<RelabelConfig> = cfg.relabel_configs.iter().flatten().cloned().collect();
    let Some(mut lset) = relabel::process(&lset, &rules) else {
        return Ok(Populated::Dropped(discovered));
    };
    let address = lset.get_or_empty("__address__").to_string();
    if address.is_empty() {
        return Err(TargetError::NoAddress);
    }
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let interval_text = lset.get_or_empty("__scrape_interval__").to_string();
    let interval = Duration::parse(&interval_text).map_err(|_| TargetError::BadInterval(interval_text.clone()))?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    let timeout_text = lset.get_or_empty("__scrape_timeout__").to_string();
    let timeout = Duration::parse(&timeout_text).map_err(|_| TargetError::BadTimeout(timeout_text.clone()))?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutAboveInterval {
            timeout: timeout_text,
            interval: interval_text,
        });
    }
    let meta: Vec<String> = lset
        .iter()
        .filter(|(n, _)| n.starts_with("__meta_"))
        .map(|(n, _)| n.to_string())
        .collect();
    for n in meta {
        lset.remove(&n);
    }
    if lset.get_or_empty("instance").is_empty() {
        lset.set("instance", address);
    }
    if let Some((n, _)) = lset.iter().find(|(n, _)| n.is_empty()) {
        return Err(TargetError::InvalidLabelName(n.to_string()));
    }
    let labels: Labels = lset.iter().filter(|(n, _)| !n.starts_with("__")).collect();
    Ok(Populated::Target(Target {
        labels,
        full_labels: lset,
        discovered_labels: discovered,
        interval_ms: interval.as_millis(),
        timeout_ms: timeout.as_millis(),
    }))
}

impl Target {
    /// `host:port`.
    pub fn address(&self) -> &str {
        self.full_labels.get_or_empty("__address__")
    }

    /// The job (`job` label).
    pub fn job(&self) -> &str {
        self.labels.get_or_empty("job")
    }

    /// The URL to scrape: scheme, address, metrics path and the query parameters (`__param_*` labels override
    /// the job's `params`; further values of a multi-valued param are kept).
    pub fn url(&self, params: &BTreeMap<String, Vec<String>>) -> String {
        let mut query: BTreeMap<String, Vec<String>> = params.clone();
        for (n, v) in self.full_labels.iter() {
            if let Some(p) = n.strip_prefix("__param_") {
                let values = query.entry(p.to_string()).or_default();
                if values.is_empty() {
                    values.push(v.to_string());
                } else {
                    values[0] = v.to_string();
                }
            }
        }
        let mut url = format!(
            "{}://{}{}",
            self.full_labels.get_or_empty("__scheme__"),
            self.address(),
            self.full_labels.get_or_empty("__metrics_path__")
        );
        let mut first = !url.contains('?');
        for (k, values) in &query {
            for v in values {
                url.push(if first { '?' } else { '&' });
                first = false;
                url.push_str(&encode_query(k));
                url.push('=');
                url.push_str(&encode_query(v));
            }
        }
        url
    }

    /// A stable hash of the target (labels and URL), used to spread scrapes over the interval.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        self.full_labels.hash(&mut h);
        h.finish()
    }

    /// Offset of this target's scrapes within each interval, so targets spread evenly; `seed` varies the
    /// spread between servers.
    pub fn offset_ms(&self, seed: u64) -> u64 {
        if self.interval_ms == 0 {
            return 0;
        }
        (self.hash() ^ seed) % self.interval_ms
    }
}

/// Percent-encoding for URL query components (`application/x-www-form-urlencoded`, as Go's `url.Values.Encode`).
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// FNV-1a, for hashes that must not change between runs or builds.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Mode};

    fn job(yaml: &str) -> ScrapeConfig {
        let text = format!("scrape_configs:\n{yaml}");
        let cfg = Config::load_str(&text, std::path::Path::new("test.yml"), Mode::Server).unwrap();
        cfg.scrape_configs().next().unwrap().clone()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().copied().collect()
    }

    fn target(p: Populated) -> Target {
        match p {
            Populated::Target(t) => t,
            Populated::Dropped(l) => panic!("dropped: {l}"),
        }
    }

    #[test]
    fn defaults_instance_and_url() {
        let cfg = job("- job_name: node\n  params:\n    collect[]: [cpu, meminfo]\n");
        let t = target(
            populate(
                &labels(&[("__address__", "h:9100"), ("__meta_x", "y")]),
                &labels(&[("env", "p")]),
                &cfg,
            )
            .unwrap(),
        );
        assert_eq!(
            t.labels,
            labels(&[("env", "p"), ("instance", "h:9100"), ("job", "node")])
        );
        assert_eq!(t.full_labels.get("__meta_x"), None);
        assert_eq!(t.discovered_labels.get("__meta_x"), Some("y"));
        assert_eq!(t.discovered_labels.get("__scrape_interval__"), Some("1m"));
        assert_eq!((t.interval_ms, t.timeout_ms), (60_000, 10_000));
        assert_eq!(
            t.url(&cfg.params),
            "http://h:9100/metrics?collect%5B%5D=cpu&collect%5B%5D=meminfo"
        );
    }

    #[test]
    fn relabeling_drops_and_rewrites() {
        let cfg = job(concat!(
            "- job_name: k\n  relabel_configs:\n",
            "  - source_labels: [__meta_keep]\n    regex: 'true'\n    action: keep\n",
            "  - source_labels: [__meta_path]\n    target_label: __metrics_path__\n",
            "  - source_labels: [__meta_port]\n    target_label: __param_port\n",
        ));
        let dropped = populate(&labels(&[("__address__", "a:1")]), &Labels::new(), &cfg).unwrap();
        assert!(matches!(dropped, Populated::Dropped(_)));
        let t = target(
            populate(
                &labels(&[
                    ("__address__", "a:1"),
                    ("__meta_keep", "true"),
                    ("__meta_path", "/m"),
                    ("__meta_port", "9"),
                ]),
                &Labels::new(),
                &cfg,
            )
            .unwrap(),
        );
        assert_eq!(t.url(&cfg.params), "http://a:1/m?port=9");
    }

    #[test]
    fn errors_as_upstream_words_them() {
        let cfg = job("- job_name: j\n");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("foo", "bar")], "no address"),
            (
                &[("__address__", "http://h:1")],
                "\"http://h:1\" is not a valid hostname",
            ),
            (
                &[("__address__", "h:1"), ("__scrape_interval__", "2notseconds")],
                "error parsing scrape interval",
            ),
            (
                &[("__address__", "h:1"), ("__scrape_interval__", "0s")],
                "scrape interval cannot be 0",
            ),
            (
                &[("__address__", "h:1"), ("__scrape_timeout__", "0s")],
                "scrape timeout cannot be 0",
            ),
            (
                &[
                    ("__address__", "h:1"),
                    ("__scrape_interval__", "1s"),
                    ("__scrape_timeout__", "2s"),
                ],
                "scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")",
            ),
        ];
        for (lset, want) in cases {
            let err = populate(&labels(lset), &Labels::new(), &cfg).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn target_labels_win_over_group_and_offset_is_stable() {
        let cfg = job("- job_name: j\n");
        let t = target(
            populate(
                &labels(&[("__address__", "h:1"), ("a", "t")]),
                &labels(&[("a", "g"), ("b", "g")]),
                &cfg,
            )
            .unwrap(),
        );
        assert_eq!(t.labels.get("a"), Some("t"));
        assert_eq!(t.labels.get("b"), Some("g"));
        assert_eq!(t.offset_ms(7), t.clone().offset_ms(7));
        assert!(t.offset_ms(7) < t.interval_ms);
    }
}
