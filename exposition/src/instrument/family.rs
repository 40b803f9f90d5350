//! Labelled families: [`Family<M>`] keeps one child metric per combination of label values.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

use super::desc::Desc;
use super::error::InstrumentError;
use crate::model::{Labels, Metric, MetricFamily, MetricType};
use crate::registry::{CollectError, Collector};

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// A metric type that can be a child of a [`Family`]: [`Counter`](super::Counter), [`Gauge`](super::Gauge),
/// [`Histogram`](super::Histogram) and [`Summary`](super::Summary). Sealed; the methods are the plumbing between
/// a family and its children.
pub trait FamilyMember: Sealed + Clone + Send + Sync + 'static {
    /// The options the metric is built from ([`Opts`](super::Opts), [`HistogramOpts`](super::HistogramOpts),
    /// [`SummaryOpts`](super::SummaryOpts)).
    type Opts;
    /// The validated per-type settings every child is built with (bucket bounds, summary objectives).
    type Config: Send + Sync + fmt::Debug;
    /// The family type.
    const TYPE: MetricType;

    /// Validates the options for a family with these variable labels.
    fn describe(opts: Self::Opts, label_names: &[&str]) -> Result<(Desc, Self::Config), InstrumentError>;

    /// A fresh child with the given full label set.
    fn new_member(desc: &Arc<Desc>, config: &Self::Config, labels: Labels) -> Self;

    /// The child's current value as a model metric.
    fn to_metric(&self) -> Metric;
}

struct Child<M> {
    values: Box<[String]>,
    metric: M,
}

struct Inner<M: FamilyMember> {
    desc: Arc<Desc>,
    config: M::Config,
    hasher: RandomState,
    children: RwLock<HashMap<u64, Vec<Child<M>>>>,
}

/// A family of metrics of one type that differ by the values of their variable labels (`CounterVec` in the Go
/// client).
///
/// Children are created on first use. A child handle ([`Family::with_label_values`]) is an `Arc` clone: keep it to
/// skip the lookup on hot paths. Cloning the family is cheap and shares the children, so one clone can be
/// registered with a [`Registry`](crate::Registry) while another is used to record.
pub struct Family<M: FamilyMember> {
    inner: Arc<Inner<M>>,
}

/// A family of counters.
pub type CounterVec = Family<super::Counter>;
/// A family of gauges.
pub type GaugeVec = Family<super::Gauge>;
/// A family of histograms.
pub type HistogramVec = Family<super::Histogram>;
/// A family of summaries.
pub type SummaryVec = Family<super::Summary>;

impl<M: FamilyMember> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M: FamilyMember> fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("desc", &self.inner.desc)
            .field("config", &self.inner.config)
            .field("children", &self.len())
            .finish()
    }
}

impl<M: FamilyMember> Family<M> {
    /// A family with the given variable label names. Names are validated: each must be a valid label name, not
    /// start with `__`, not repeat, not clash with a constant label, and not be `le` (histograms) or `quantile`
    /// (summaries).
    pub fn new(opts: impl Into<M::Opts>, label_names: &[&str]) -> Result<Family<M>, InstrumentError> {
        let (desc, config) = M::describe(opts.into(), label_names)?;
        Ok(Family {
            inner: Arc::new(Inner {
                desc: Arc::new(desc),
                config,
                hasher: RandomState::new(),
                children: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The family's description.
    pub fn desc(&self) -> &Desc {
        &self.inner.desc
    }

    /// The child for these label values (in the order of the label names), created if absent.
    pub fn with_label_values<S: AsRef<str>>(&self, values: &[S]) -> Result<M, InstrumentError> {
        self.check_count(values.len())?;
        let hash = self.hash(values);
        {
            let map = self.read();
            if let Some(m) = find(&map, hash, values) {
                return Ok(m.clone());
            }
        }
        let mut map = self.write();
        if let Some(m) = find(&map, hash, values) {
            return Ok(m.clone());
        }
        let metric = M::new_member(
            &self.inner.desc,
            &self.inner.config,
            self.inner.desc.child_labels(values),
        );
        map.entry(hash).or_default().push(Child {
            values: values.iter().map(|v| v.as_ref().to_owned()).collect(),
            metric: metric.clone(),
        });
        Ok(metric)
    }

    /// The child for these `(name, value)` pairs, given in any order, created if absent.
    pub fn with_labels(&self, labels: &[(&str, &str)]) -> Result<M, InstrumentError> {
        let values = self.values_from_pairs(labels)?;
        self.with_label_values(&values)
    }

    /// Removes the child with these label values; returns whether it existed. Handles to it keep working but are
    /// no longer exposed.
    pub fn remove_label_values<S: AsRef<str>>(&self, values: &[S]) -> Result<bool, InstrumentError> {
        self.check_count(values.len())?;
        let hash = self.hash(values);
        let mut map = self.write();
        let Some(bucket) = map.get_mut(&hash) else {
            return Ok(false);
        };
        let before = bucket.len();
        bucket.retain(|c| !same(&c.values, values));
        let removed = bucket.len() != before;
        if bucket.is_empty() {
            map.remove(&hash);
        }
        Ok(removed)
    }

    /// Removes the child with these `(name, value)` pairs; returns whether it existed.
    pub fn remove_labels(&self, labels: &[(&str, &str)]) -> Result<bool, InstrumentError> {
        let values = self.values_from_pairs(labels)?;
        self.remove_label_values(&values)
    }

    /// Removes all children.
    pub fn clear(&self) {
        self.write().clear();
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }

    /// True when the family has no children.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn check_count(&self, got: usize) -> Result<(), InstrumentError> {
        let expected = self.inner.desc.label_names.len();
        if got == expected {
            Ok(())
        } else {
            Err(InstrumentError::LabelValueCount {
                metric: self.inner.desc.name.clone(),
                expected,
                got,
            })
        }
    }

    fn values_from_pairs<'a>(&self, labels: &[(&str, &'a str)]) -> Result<Vec<&'a str>, InstrumentError> {
        let desc = &self.inner.desc;
        for (i, (name, _)) in labels.iter().enumerate() {
            if !desc.label_names.iter().any(|n| n == name) {
                return Err(InstrumentError::UnknownLabel {
                    metric: desc.name.clone(),
                    label: (*name).to_owned(),
                });
            }
            if labels[..i].iter().any(|(n, _)| n == name) {
                return Err(InstrumentError::DuplicateLabelName {
                    metric: desc.name.clone(),
                    label: (*name).to_owned(),
                });
            }
        }
        desc.label_names
            .iter()
            .map(|want| {
                labels
                    .iter()
                    .find(|(n, _)| n == want)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| InstrumentError::MissingLabel {
                        metric: desc.name.clone(),
                        label: want.clone(),
                    })
            })
            .collect()
    }

    fn hash<S: AsRef<str>>(&self, values: &[S]) -> u64 {
        let mut h = self.inner.hasher.build_hasher();
        for v in values {
            v.as_ref().hash(&mut h);
        }
        h.finish()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Vec<Child<M>>>> {
        self.inner.children.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Vec<Child<M>>>> {
        self.inner.children.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn same<S: AsRef<str>>(have: &[String], want: &[S]) -> bool {
    have.len() == want.len() && have.iter().zip(want).all(|(a, b)| a == b.as_ref())
}

fn find<'m, M, S: AsRef<str>>(map: &'m HashMap<u64, Vec<Child<M>>>, hash: u64, values: &[S]) -> Option<&'m M> {
    map.get(&hash)?
        .iter()
        .find(|c| same(&c.values, values))
        .map(|c| &c.metric)
}

impl<M: FamilyMember> Collector for Family<M> {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let metrics: Vec<Metric> = self
            .read()
            .values()
            .flat_map(|b| b.iter().map(|c| c.metric.to_metric()))
            .collect();
        if !metrics.is_empty() {
            let mut fam = self.inner.desc.family();
            fam.metrics = metrics;
            out.push(fam);
        }
        Ok(())
    }
}

/// Builds a standalone (unlabelled) metric of type `M`.
pub(crate) fn standalone<M: FamilyMember>(opts: M::Opts) -> Result<M, InstrumentError> {
    let (desc, config) = M::describe(opts, &[])?;
    let labels = desc.child_labels::<&str>(&[]);
    Ok(M::new_member(&Arc::new(desc), &config, labels))
}

/// Writes one standalone metric as a family of one.
pub(crate) fn collect_one(desc: &Desc, metric: Metric, out: &mut Vec<MetricFamily>) {
    let mut fam = desc.family();
    fam.push(metric);
    out.push(fam);
}
