//! [`Registry`] and the [`Collector`] trait.
//!
//! A collector writes metric families on each scrape. A registry holds collectors (there is no global default
//! registry: each binary builds its own and hands it to the HTTP runtime). Collectors registered with a name
//! (the exporters' `cpu`, `diskstats`, `global_status`, ...) can be selected with a `collect[]` filter and, when
//! the registry has a scrape namespace, get `<ns>_scrape_collector_duration_seconds{collector=..}` and
//! `<ns>_scrape_collector_success{collector=..}`, as node_exporter writes them. A collector that fails reports
//! success 0 and is logged; the rest of the scrape is unaffected.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::model::{Labels, Metric, MetricFamily, MetricType, Value};

/// The error a collector returns when it cannot produce its families. Any error type converts into it.
#[derive(Debug)]
pub struct CollectError(Box<dyn std::error::Error + Send + Sync>);

impl CollectError {
    /// An error from a message.
    pub fn msg(message: impl Into<String>) -> CollectError {
        CollectError(message.into().into())
    }

    /// Whether the error means "no data on this system": somewhere in its `source()` chain is [`NoData`], or an
    /// I/O error saying a file is missing or may not be read (hardware or a subsystem this host does not have).
    pub fn is_no_data(&self) -> bool {
        let mut err: Option<&(dyn std::error::Error + 'static)> = Some(self.0.as_ref());
        while let Some(e) = err {
            if e.is::<NoData>() {
                return true;
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(
                    io.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                )
            {
                return true;
            }
            err = e.source();
        }
        false
    }
}

/// The collector's source does not exist on this host (no RAID arrays, no NFS, ...): like node_exporter's
/// `ErrNoData`, the collector reports success 0 but the registry logs it at debug level, not as a failure.
/// Collectors return it directly or as the `source()` of their own error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no data: {0}")]
pub struct NoData(pub String);

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for CollectError {
    fn from(e: E) -> CollectError {
        CollectError(Box::new(e))
    }
}

/// Something that writes metric families on each scrape.
///
/// `collect` runs on a blocking-capable thread (the HTTP runtime calls the registry from `spawn_blocking`), so a
/// collector may read files or block on I/O. Families already pushed to `out` before an error are kept only when
/// the collector returns `Ok`; on `Err` the registry drops what this collector pushed in this call.
pub trait Collector: Send + Sync {
    /// Appends this collector's families to `out`.
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError>;
}

impl<C: Collector + ?Sized> Collector for Box<C> {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        (**self).collect(out)
    }
}

impl<C: Collector + ?Sized> Collector for Arc<C> {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        (**self).collect(out)
    }
}

/// Errors from [`Registry::gather`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A `collect[]` filter named a collector that is not registered.
    #[error("missing collector: {name}")]
    UnknownCollector {
        /// The unknown name.
        name: String,
    },
    /// Two collectors registered with the same name.
    #[error("collector {name:?} is already registered")]
    DuplicateCollector {
        /// The repeated name.
        name: String,
    },
}

struct Entry {
    name: Option<String>,
    collector: Box<dyn Collector>,
}

/// A set of collectors gathered together on each scrape.
pub struct Registry {
    namespace: Option<String>,
    entries: RwLock<Vec<Entry>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<Option<String>> = self
            .entries
            .read()
            .map(|e| e.iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("Registry")
            .field("namespace", &self.namespace)
            .field("collectors", &names)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry without per-collector scrape metrics.
    pub fn new() -> Registry {
        Registry {
            namespace: None,
            entries: RwLock::new(Vec::new()),
        }
    }

    /// An empty registry whose named collectors are timed into `<namespace>_scrape_collector_duration_seconds`
    /// and `<namespace>_scrape_collector_success`.
    pub fn with_scrape_metrics(namespace: impl Into<String>) -> Registry {
        Registry {
            namespace: Some(namespace.into()),
            entries: RwLock::new(Vec::new()),
        }
    }

    /// Registers a collector that is always gathered and not timed (instrumentation, process metrics).
    pub fn register(&self, collector: impl Collector + 'static) {
        self.write().push(Entry {
            name: None,
            collector: Box::new(collector),
        });
    }

    /// Registers a named collector: selectable by `collect[]`, timed, and reported as failed when it errors.
    pub fn register_named(
        &self,
        name: impl Into<String>,
        collector: impl Collector + 'static,
    ) -> Result<(), RegistryError> {
        let name = name.into();
        let mut entries = self.write();
        if entries.iter().any(|e| e.name.as_deref() == Some(name.as_str())) {
            return Err(RegistryError::DuplicateCollector { name });
        }
        entries.push(Entry {
            name: Some(name),
            collector: Box::new(collector),
        });
        Ok(())
    }

    /// The names of the named collectors, in registration order.
    pub fn collector_names(&self) -> Vec<String> {
        self.read().iter().filter_map(|e| e.name.clone()).collect()
    }

    /// Runs the collectors and returns their families sorted by name, families of the same name merged.
    ///
    /// With a non-empty `filter` only the named collectors listed there run (unnamed ones always run); a name
    /// that is not registered is an error, as in node_exporter's `collect[]` handling.
    pub fn gather(&self, filter: &[String]) -> Result<Vec<MetricFamily>, RegistryError> {
        let entries = self.read();
        for want in filter {
            if !entries.iter().any(|e| e.name.as_deref() == Some(want.as_str())) {
                return Err(RegistryError::UnknownCollector { name: want.clone() });
            }
        }
        let mut out = Vec::new();
        let mut durations = Vec::new();
        for entry in entries.iter() {
            if let Some(name) = &entry.name
                && !filter.is_empty()
                && !filter.iter().any(|f| f == name)
            {
                continue;
            }
            let start = Instant::now();
            let mark = out.len();
            let result = entry.collector.collect(&mut out);
            let elapsed = start.elapsed().as_secs_f64();
            let ok = match result {
                Ok(()) => true,
                Err(err) if err.is_no_data() => {
                    // Like node_exporter's ErrNoData: the data source does not exist here (or may not be read);
                    // success is 0 but this is not worth an error line on every scrape.
                    out.truncate(mark);
                    tracing::debug!(
                        name = entry.name.as_deref().unwrap_or_default(),
                        duration_seconds = elapsed,
                        err = %err,
                        "collector returned no data"
                    );
                    false
                }
                Err(err) => {
                    out.truncate(mark);
                    match &entry.name {
                        Some(name) => tracing::error!(
                            name = name.as_str(),
                            duration_seconds = elapsed,
                            err = %err,
                            "collector failed"
                        ),
                        None => tracing::error!(err = %err, "collector failed"),
                    }
                    false
                }
            };
            if let Some(name) = &entry.name {
                durations.push((name.clone(), elapsed, ok));
            }
        }
        drop(entries);
        if let Some(ns) = &self.namespace
            && !durations.is_empty()
        {
            out.extend(scrape_families(ns, &durations));
        }
        Ok(merge_sorted(out))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn scrape_families(ns: &str, results: &[(String, f64, bool)]) -> [MetricFamily; 2] {
    let mut duration = MetricFamily::new(format!("{ns}_scrape_collector_duration_seconds"), MetricType::Gauge)
        .with_help(format!("{ns}_exporter: Duration of a collector scrape."));
    let mut success = MetricFamily::new(format!("{ns}_scrape_collector_success"), MetricType::Gauge)
        .with_help(format!("{ns}_exporter: Whether a collector succeeded."));
    for (name, secs, ok) in results {
        let labels = Labels::from_pairs([("collector", name.as_str())]);
        duration.push(Metric::new(labels.clone(), Value::Gauge(*secs)));
        success.push(Metric::new(labels, Value::Gauge(if *ok { 1.0 } else { 0.0 })));
    }
    [duration, success]
}

/// Sorts families by name and merges families that share a name (keeping the first one's metadata), then sorts
/// each family's metrics by label values, as the Go client's gatherer does.
fn merge_sorted(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut by_name: BTreeMap<String, MetricFamily> = BTreeMap::new();
    for fam in families {
        match by_name.get_mut(&fam.name) {
            Some(existing) => {
                if existing.help.is_none() {
                    existing.help = fam.help;
                }
                existing.metrics.extend(fam.metrics);
            }
            None => {
                by_name.insert(fam.name.clone(), fam);
            }
        }
    }
    by_name
        .into_values()
        .map(|mut fam| {
            for m in &mut fam.metrics {
                m.labels.sort();
            }
            // As the Go client: fewer labels first, then label values position by position.
            fam.metrics.sort_by(|a, b| {
                a.labels
                    .len()
                    .cmp(&b.labels.len())
                    .then_with(|| a.labels.iter().map(|l| &l.value).cmp(b.labels.iter().map(|l| &l.value)))
            });
            fam
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, f64);
    impl Collector for Fixed {
        fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
            let mut f = MetricFamily::new(self.0, MetricType::Gauge);
            f.push(Metric::new(Labels::new(), Value::Gauge(self.1)));
            out.push(f);
            Ok(())
        }
    }

    struct Failing;
    impl Collector for Failing {
        fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
            out.push(MetricFamily::new("half_written", MetricType::Gauge));
            Err(CollectError::msg("cannot read /proc/stat"))
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: {0}")]
    struct Wrapped(#[source] NoData);

    struct Absent;
    impl Collector for Absent {
        fn collect(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
            Err(Wrapped(NoData("/proc/mdstat does not exist".into())).into())
        }
    }

    #[test]
    fn no_data_is_recognised_through_the_source_chain_and_reports_success_zero() {
        assert!(CollectError::from(NoData("x".into())).is_no_data());
        assert!(CollectError::from(Wrapped(NoData("x".into()))).is_no_data());
        assert!(!CollectError::msg("real failure").is_no_data());
        let r = Registry::with_scrape_metrics("node");
        r.register_named("mdadm", Absent).unwrap();
        let fams = r.gather(&[]).unwrap();
        assert_eq!(gauge(&fams, "node_scrape_collector_success", "mdadm"), Some(0.0));
    }

    fn gauge(fams: &[MetricFamily], name: &str, collector: &str) -> Option<f64> {
        let f = fams.iter().find(|f| f.name == name)?;
        f.metrics
            .iter()
            .find(|m| m.labels.get("collector") == Some(collector))
            .map(|m| match m.value {
                Value::Gauge(v) => v,
                _ => f64::NAN,
            })
    }

    #[test]
    fn failing_collector_reports_success_zero_and_keeps_the_rest() {
        let r = Registry::with_scrape_metrics("node");
        r.register_named("a", Fixed("a_metric", 1.0)).unwrap();
        r.register_named("bad", Failing).unwrap();
        r.register(Fixed("process_open_fds", 3.0));
        let fams = r.gather(&[]).unwrap();
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "a_metric",
                "node_scrape_collector_duration_seconds",
                "node_scrape_collector_success",
                "process_open_fds"
            ]
        );
        assert_eq!(gauge(&fams, "node_scrape_collector_success", "a"), Some(1.0));
        assert_eq!(gauge(&fams, "node_scrape_collector_success", "bad"), Some(0.0));
    }

    #[test]
    fn filter_selects_named_collectors_and_rejects_unknown() {
        let r = Registry::with_scrape_metrics("node");
        r.register_named("a", Fixed("a_metric", 1.0)).unwrap();
        r.register_named("b", Fixed("b_metric", 2.0)).unwrap();
        let fams = r.gather(&["b".to_string()]).unwrap();
        assert!(fams.iter().any(|f| f.name == "b_metric"));
        assert!(!fams.iter().any(|f| f.name == "a_metric"));
        assert_eq!(
            r.gather(&["nope".to_string()]),
            Err(RegistryError::UnknownCollector { name: "nope".into() })
        );
        assert!(matches!(
            r.register_named("a", Failing),
            Err(RegistryError::DuplicateCollector { .. })
        ));
    }

    #[test]
    fn same_name_families_merge() {
        let r = Registry::new();
        r.register(Fixed("x", 1.0));
        r.register(Fixed("x", 2.0));
        let fams = r.gather(&[]).unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].metrics.len(), 2);
    }

    /// Go's gatherer orders metrics by label count, then by label values position by position (not by names):
    /// `{power_supply="AC",type="Mains"}` comes before `{capacity_level="Normal",...}` with more labels, and
    /// `{a="2",b="1"}` after `{a="1",c="9"}`.
    #[test]
    fn metrics_sorted_like_the_go_client() {
        struct Mixed;
        impl Collector for Mixed {
            fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
                let mut f = MetricFamily::new("m", MetricType::Gauge);
                for pairs in [
                    vec![
                        ("capacity_level", "Normal"),
                        ("power_supply", "BAT0"),
                        ("type", "Battery"),
                    ],
                    vec![("a", "2"), ("b", "1")],
                    vec![("power_supply", "AC"), ("type", "Mains")],
                    vec![("a", "1"), ("c", "9")],
                ] {
                    f.push(Metric::new(Labels::from_pairs(pairs), Value::Gauge(1.0)));
                }
                out.push(f);
                Ok(())
            }
        }
        let r = Registry::new();
        r.register(Mixed);
        let fams = r.gather(&[]).unwrap();
        let firsts: Vec<&str> = fams[0].metrics.iter().map(|m| m.labels.0[0].value.as_str()).collect();
        assert_eq!(firsts, ["1", "2", "AC", "Normal"]);
    }

    #[test]
    fn missing_files_are_no_data() {
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "reading x: {}", self.0)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let cases = [
            (
                CollectError::from(std::io::Error::from(std::io::ErrorKind::NotFound)),
                true,
            ),
            (
                CollectError::from(Wrapped(std::io::ErrorKind::PermissionDenied.into())),
                true,
            ),
            (
                CollectError::from(Wrapped(std::io::ErrorKind::InvalidData.into())),
                false,
            ),
            (CollectError::msg("malformed"), false),
        ];
        for (err, want) in cases {
            assert_eq!(err.is_no_data(), want, "{err}");
        }
    }
}
