//! The per-target side of a scrape: turning a scrape body into appended samples.
//!
//! Each target keeps a cache from the series bytes as the target writes them (`name{labels}`) to the storage's
//! series reference, so a scrape of known series parses, looks up and appends by reference without building label
//! sets or allocating. Final label sets (target labels merged, metric relabeling applied) are built only for new
//! series and handed to the storage once. The cache also remembers which series the last
//! successful scrape saw, so series that disappear get a staleness marker, and series dropped by relabeling are
//! remembered as dropped.

use std::collections::HashMap;

use exposition::encode::Format;
use exposition::model::MetricType;
use exposition::parse::{Entry, Mode, Parser};

use crate::model::labels::Labels;
use crate::model::relabel::{self, RelabelConfig};
use crate::model::value::stale_nan;
use crate::storage::{AppendError, Appender, SeriesRef, StorageError};

/// A scrape that failed as a whole (nothing of it is kept).
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The body does not parse.
    #[error("{0}")]
    Parse(#[from] exposition::parse::ParseError),
    /// More samples than `sample_limit` after relabeling.
    #[error("sample limit exceeded")]
    SampleLimit,
    /// A series has more labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric:.50}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        /// The series.
        metric: String,
        /// Its label count.
        count: usize,
        /// The limit.
        limit: u64,
    },
    /// A label name is longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, length: {len}, limit: {limit})"
    )]
    LabelNameLength {
        /// The series.
        metric: String,
        /// The label name.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: u64,
    },
    /// A label value is longer than `label_value_length_limit`.
    #[error(
        "label_value_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, value: {value:.50}, length: {len}, limit: {limit})"
    )]
    LabelValueLength {
        /// The series.
        metric: String,
        /// The label name.
        name: String,
        /// The value.
        value: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: u64,
    },
    /// The storage failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// Fetching the body failed (set by the scrape driver).
    #[error("{0}")]
    Fetch(String),
}

/// What a target's scrapes may produce, from its scrape config.
#[derive(Clone, Debug, Default)]
pub struct ScrapeOptions {
    /// Keep the target's labels on conflict (else they are renamed `exported_<name>`).
    pub honor_labels: bool,
    /// Use timestamps the target exposes.
    pub honor_timestamps: bool,
    /// Mark series with explicit timestamps stale when they disappear.
    pub track_timestamps_staleness: bool,
    /// Samples per scrape after relabeling (0: no limit).
    pub sample_limit: u64,
    /// Labels per series (0: no limit).
    pub label_limit: u64,
    /// Label name length (0: no limit).
    pub label_name_length_limit: u64,
    /// Label value length (0: no limit).
    pub label_value_length_limit: u64,
    /// `metric_relabel_configs`.
    pub metric_relabel: Vec<RelabelConfig>,
}

/// Counts of one scrape's appends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Sample lines in the body.
    pub scraped: usize,
    /// Samples left after metric relabeling.
    pub post_relabel: usize,
    /// Series seen for the first time.
    pub series_added: usize,
    /// Samples rejected as out of order.
    pub out_of_order: usize,
    /// Samples rejected as duplicates with a different value.
    pub duplicate: usize,
    /// Samples rejected as too old for the storage.
    pub out_of_bounds: usize,
}

/// What a target says about one metric family (`# HELP`, `# TYPE`, `# UNIT`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricMetadata {
    /// The type (`counter`, `gauge`, ..., `unknown`).
    pub kind: &'static str,
    /// The help text.
    pub help: String,
    /// The unit.
    pub unit: String,
}

/// Metric metadata by family name.
pub type MetadataMap = HashMap<String, MetricMetadata, foldhash::fast::RandomState>;

#[derive(Debug)]
struct CacheEntry {
    series_ref: SeriesRef,
    /// Relabeling dropped the series (or its labels are invalid).
    dropped: bool,
    /// Iteration of the last successful scrape that exposed the series (wrapping; see [`TargetCache::iter`]).
    seen: u32,
    /// Whether the last exposure carried its own timestamp.
    explicit_ts: bool,
}

/// The scrape cache and append logic of one target.
#[derive(Debug)]
pub struct TargetCache {
    target_labels: Labels,
    opts: ScrapeOptions,
    /// Series text -> entry number.
    index: keys::SeriesKeys,
    entries: Vec<CacheEntry>,
    /// Iteration number of the scrape being appended. 32 bits keep a cache entry at 16 bytes; the count wraps
    /// (after 136 years of scrapes a second apart) and ages are computed with wrapping arithmetic.
    iter: u32,
    /// Iteration number of the last successful scrape (0: none).
    last_ok: u32,
    touched: Vec<u32>,
    metadata: MetadataMap,
    metadata_changed: bool,
    /// Passed with appends by reference.
    no_labels: Labels,
}

impl TargetCache {
    /// A cache for a target with `target_labels` (its labels without `__` ones).
    pub fn new(target_labels: Labels, opts: ScrapeOptions) -> TargetCache {
        TargetCache {
            target_labels,
            opts,
            index: keys::SeriesKeys::default(),
            entries: Vec::new(),
            iter: 1,
            last_ok: 0,
            touched: Vec::new(),
            metadata: MetadataMap::default(),
            metadata_changed: false,
            no_labels: Labels::new(),
        }
    }

    /// The target labels samples get.
    pub fn target_labels(&self) -> &Labels {
        &self.target_labels
    }

    /// Number of cached series (including dropped ones).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a scrape body's samples at `ts` (ms) and staleness markers for series the previous successful scrape
    /// had. On error the caller must roll the appender back and call [`TargetCache::append_failure`].
    pub fn append_body(
        &mut self,
        app: &mut dyn Appender,
        body: &[u8],
        format: Format,
        ts: i64,
    ) -> Result<AppendStats, ScrapeError> {
        self.iter = self.iter.wrapping_add(1).max(1);
        self.touched.clear();
        let entries_before = self.entries.len();
        let mut stats = AppendStats::default();
        let mut family: Option<(String, MetricType)> = None;
        let mut parser = Parser::new(body, format, Mode::Lenient);
        while let Some(entry) = parser.next_entry() {
            let sample = match entry? {
                Entry::Type { name, metric_type } => {
                    let kind = metric_type.as_openmetrics_str();
                    if self.metadata.get(name.as_ref()).is_none_or(|m| m.kind != kind) {
                        self.set_metadata(&name, |m| m.kind = kind);
                    }
                    family = Some((name.into_owned(), metric_type));
                    continue;
                }
                Entry::Help { name, help } => {
                    if self.metadata.get(name.as_ref()).is_none_or(|m| m.help != help) {
                        self.set_metadata(&name, |m| m.help = help.into_owned());
                    }
                    continue;
                }
                Entry::Unit { name, unit } => {
                    if self.metadata.get(name.as_ref()).is_none_or(|m| m.unit != unit) {
                        self.set_metadata(&name, |m| m.unit = unit.to_string());
                    }
                    continue;
                }
                Entry::Sample(s) => s,
                Entry::Comment(_) => continue,
            };
            if format == Format::OpenMetrics && is_created_series(&sample.name, family.as_ref()) {
                continue;
            }
            stats.scraped += 1;
            // Labels are built only for series the cache does not know (or the storage forgot); known series are
            // appended by reference alone.
            let mut fresh: Option<Labels> = None;
            let idx = match self.index.get(sample.series) {
                Some(i) => i,
                None => {
                    fresh = self.final_labels(&sample.name, &sample.labels)?;
                    let i = self.entries.len() as u32;
                    self.entries.push(CacheEntry {
                        series_ref: 0,
                        dropped: fresh.is_none(),
                        seen: 0,
                        explicit_ts: false,
                    });
                    let j = self.index.insert(sample.series);
                    debug_assert_eq!(i, j);
                    i
                }
            };
            let i = idx as usize;
            if self.entries[i].dropped {
                // Remembered as seen so the cache keeps the verdict while the series keeps appearing.
                self.touched.push(idx);
                continue;
            }
            stats.post_relabel += 1;
            if self.opts.sample_limit > 0 && stats.post_relabel as u64 > self.opts.sample_limit {
                return Err(ScrapeError::SampleLimit);
            }
            let (t, explicit) = match sample.timestamp_ms {
                Some(t) if self.opts.honor_timestamps => (t, true),
                _ => (ts, false),
            };
            if self.entries[i].series_ref == 0 && fresh.is_none() {
                // Known but never stored (its first sample was rejected): build the labels again.
                fresh = self.final_labels(&sample.name, &sample.labels)?;
            }
            let new_series = self.entries[i].series_ref == 0;
            let mut result = app.append(
                self.entries[i].series_ref,
                fresh.as_ref().unwrap_or(&self.no_labels),
                t,
                sample.value,
            );
            if let Err(AppendError::UnknownRef(_)) = result {
                // The storage forgot the series (garbage-collected): look it up by labels again.
                let labels = self.final_labels(&sample.name, &sample.labels)?.unwrap_or_default();
                result = app.append(0, &labels, t, sample.value);
            }
            let entry = &mut self.entries[i];
            match result {
                Ok(r) => {
                    entry.series_ref = r;
                    if new_series {
                        stats.series_added += 1;
                    }
                }
                Err(AppendError::OutOfOrder | AppendError::UnknownRef(_)) => stats.out_of_order += 1,
                Err(AppendError::DuplicateTimestamp) => stats.duplicate += 1,
                Err(AppendError::OutOfBounds | AppendError::TooOld) => stats.out_of_bounds += 1,
                Err(AppendError::Storage(e)) => return Err(ScrapeError::Storage(e)),
                Err(AppendError::InvalidLabels { .. }) => {
                    entry.dropped = true;
                    stats.post_relabel -= 1;
                    continue;
                }
            }
            entry.explicit_ts = explicit;
            self.touched.push(idx);
        }
        if self.entries.len() > entries_before {
            // New series: give back the spare capacity growth left (a target's series set is mostly stable).
            self.entries.shrink_to_fit();
            self.index.shrink();
        }
        let previous = self.last_ok;
        for &i in &self.touched {
            self.entries[i as usize].seen = self.iter;
        }
        self.last_ok = self.iter;
        self.stale_since(app, previous, ts)?;
        self.evict();
        Ok(stats)
    }

    /// The metadata the target exposed, by family.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// Whether the metadata changed since the last call (then the caller publishes a copy).
    pub fn take_metadata_changed(&mut self) -> bool {
        std::mem::take(&mut self.metadata_changed)
    }

    fn set_metadata(&mut self, name: &str, f: impl FnOnce(&mut MetricMetadata)) {
        let entry = match self.metadata.get_mut(name) {
            Some(m) => m,
            None => self.metadata.entry(name.to_string()).or_insert_with(|| MetricMetadata {
                kind: "unknown",
                ..MetricMetadata::default()
            }),
        };
        let before = entry.clone();
        f(entry);
        if *entry != before {
            self.metadata_changed = true;
        }
    }

    /// After a failed scrape: every series the last successful scrape had goes stale at `ts` (the caller appends
    /// the report series and commits).
    pub fn append_failure(&mut self, app: &mut dyn Appender, ts: i64) -> Result<(), StorageError> {
        self.iter = self.iter.wrapping_add(1).max(1);
        let previous = self.last_ok;
        self.last_ok = self.iter;
        self.stale_since(app, previous, ts)
    }

    /// The target is going away: all its current series go stale at `ts`.
    pub fn append_all_stale(&mut self, app: &mut dyn Appender, ts: i64) -> Result<(), StorageError> {
        self.append_failure(app, ts)
    }

    /// Stale markers for series seen in scrape `previous` but not in the current one.
    fn stale_since(&mut self, app: &mut dyn Appender, previous: u32, ts: i64) -> Result<(), StorageError> {
        if previous == 0 {
            return Ok(());
        }
        for e in &mut self.entries {
            if e.dropped || e.seen != previous || e.series_ref == 0 {
                continue;
            }
            if e.explicit_ts && !self.opts.track_timestamps_staleness {
                continue;
            }
            match app.append(e.series_ref, &self.no_labels, ts, stale_nan()) {
                Ok(r) => e.series_ref = r,
                Err(AppendError::Storage(err)) => return Err(err),
                // Out of order or duplicate: the series already has a newer sample. Unknown: the storage dropped
                // the series, so there is nothing left to mark.
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Forgets series not exposed for a while (they are stale already), so churning targets do not grow the cache.
    fn evict(&mut self) {
        const KEEP_ITERATIONS: u32 = 10;
        if self.iter % KEEP_ITERATIONS != 0 {
            return;
        }
        // Entries never seen (0) count as old once the cache is KEEP_ITERATIONS scrapes old.
        let iter = self.iter;
        let recent = |e: &CacheEntry| e.seen != 0 && iter.wrapping_sub(e.seen) <= KEEP_ITERATIONS;
        if self.entries.iter().all(recent) {
            return;
        }
        let keep: Vec<bool> = self.entries.iter().map(recent).collect();
        // Both renumber the kept entries in order.
        let mut flags = keep.iter();
        self.entries.retain(|_| flags.next().copied().unwrap_or(false));
        self.entries.shrink_to_fit();
        self.index.retain(&keep);
        debug_assert_eq!(self.index.len(), self.entries.len());
    }

    /// The labels a scraped series is stored under: target labels merged, metric relabeling applied, limits
    /// checked; `None` when relabeling drops it.
    fn final_labels(
        &self,
        name: &str,
        labels: &exposition::parse::LabelSet<'_>,
    ) -> Result<Option<Labels>, ScrapeError> {
        let built = self.build_labels(name, labels.iter().map(|l| (l.name, l.value)));
        let relabeled = if self.opts.metric_relabel.is_empty() {
            Some(built)
        } else {
            relabel::process(&built, &self.opts.metric_relabel)
        };
        match relabeled {
            Some(l) if !l.is_empty() => {
                self.check_limits(&l)?;
                Ok(Some(l))
            }
            _ => Ok(None),
        }
    }

    /// The sample's labels with the target's labels merged in (`honor_labels` semantics).
    fn build_labels<'a>(
        &self,
        name: &str,
        labels: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Labels {
        let mut out: Labels = labels.map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
        out.set("__name__", name);
        if self.opts.honor_labels {
            for (n, v) in self.target_labels.iter() {
                if out.get_or_empty(n).is_empty() {
                    out.set(n, v);
                }
            }
            return out;
        }
        let mut conflicts = Vec::new();
        for (n, v) in self.target_labels.iter() {
            if let Some(existing) = out.get(n) {
                conflicts.push((n.to_string(), existing.to_string()));
            }
            out.set(n, v);
        }
        for (n, v) in conflicts {
            let mut new_name = format!("exported_{n}");
            while out.get(&new_name).is_some() && out.get(&new_name) != Some(v.as_str()) {
                new_name.insert_str(0, "exported_");
            }
            out.set(new_name, v);
        }
        out
    }

    fn check_limits(&self, labels: &Labels) -> Result<(), ScrapeError> {
        let o = &self.opts;
        if o.label_limit > 0 && labels.len() as u64 > o.label_limit {
            return Err(ScrapeError::LabelLimit {
                metric: labels.to_string(),
                count: labels.len(),
                limit: o.label_limit,
            });
        }
        for (n, v) in labels.iter() {
            if o.label_name_length_limit > 0 && n.len() as u64 > o.label_name_length_limit {
                return Err(ScrapeError::LabelNameLength {
                    metric: labels.to_string(),
                    name: n.to_string(),
                    len: n.len(),
                    limit: o.label_name_length_limit,
                });
            }
            if o.label_value_length_limit > 0 && v.len() as u64 > o.label_value_length_limit {
                return Err(ScrapeError::LabelValueLength {
                    metric: labels.to_string(),
                    name: n.to_string(),
                    value: v.to_string(),
                    len: v.len(),
                    limit: o.label_value_length_limit,
                });
            }
        }
        Ok(())
    }
}

/// Whether an OpenMetrics sample is a `_created` line of a counter, histogram or summary family (Prometheus does
/// not ingest those as series).
fn is_created_series(name: &str, family: Option<&(String, MetricType)>) -> bool {
    let Some(base) = name.strip_suffix("_created") else {
        return false;
    };
    let Some((fam, kind)) = family else { return false };
    fam == base
        && matches!(
            kind,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary | MetricType::GaugeHistogram
        )
}

mod keys;
#[cfg(test)]
mod tests;
