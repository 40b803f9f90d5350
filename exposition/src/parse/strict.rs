//! The semantic checks of [`Mode::Strict`](super::Mode::Strict), run on each entry after it parsed.
//!
//! The checker follows families (metadata and samples), the metrics of the current family (label sets without
//! `le`/`quantile`/the stateset label) and, for histograms, the current point (the samples that share a
//! timestamp). It owns copies of the names and label sets it must remember, so strict mode allocates; lenient
//! mode does not run it.

use std::collections::{HashMap, HashSet};

use super::error::ErrorKind;
use super::float::parse_strict_label_number;
use super::{Entry, Format, Sample};
use crate::model::MetricType;

/// The sample-name suffixes a family of type `t` uses in `format`.
pub(crate) fn suffixes(format: Format, t: MetricType) -> &'static [&'static str] {
    match (format, t) {
        (Format::OpenMetrics, MetricType::Counter) => &["_total", "_created"],
        (Format::OpenMetrics, MetricType::Histogram) => &["_bucket", "_count", "_sum", "_created"],
        (Format::OpenMetrics, MetricType::GaugeHistogram) => &["_bucket", "_gcount", "_gsum"],
        (Format::OpenMetrics, MetricType::Summary) => &["", "_count", "_sum", "_created"],
        (Format::OpenMetrics, MetricType::Info) => &["_info"],
        (Format::Text, MetricType::Histogram | MetricType::GaugeHistogram) => &["_bucket", "_count", "_sum"],
        (Format::Text, MetricType::Summary) => &["", "_count", "_sum"],
        _ => &[""],
    }
}

/// The suffix with which `sample` belongs to family `family` of type `t`, if it does.
pub(crate) fn suffix_of(format: Format, t: MetricType, family: &str, sample: &str) -> Option<&'static str> {
    let rest = sample.strip_prefix(family)?;
    suffixes(format, t).iter().copied().find(|s| *s == rest)
}

fn check_value(sample: &str, v: f64, ok: bool, rule: &'static str) -> Result<(), ErrorKind> {
    if ok {
        Ok(())
    } else {
        Err(ErrorKind::InvalidValue {
            sample: sample.to_owned(),
            value: v,
            rule,
        })
    }
}

/// One histogram point: the samples of a metric that share a timestamp.
#[derive(Debug, Default)]
struct Point {
    started: bool,
    ts: Option<i64>,
    last_le: Option<f64>,
    last_count: f64,
    inf: Option<f64>,
    count: Option<f64>,
    sum: Option<f64>,
    negative_bucket: bool,
}

#[derive(Debug)]
struct Family {
    name: String,
    metric_type: MetricType,
    has_type: bool,
    has_help: bool,
    unit: Option<String>,
    has_samples: bool,
    groups_seen: HashSet<Vec<(String, String)>>,
    group: Option<Vec<(String, String)>>,
    point: Point,
    series_ts: HashMap<String, Option<i64>>,
}

impl Family {
    fn new(name: &str) -> Family {
        Family {
            name: name.to_owned(),
            metric_type: MetricType::Unknown,
            has_type: false,
            has_help: false,
            unit: None,
            has_samples: false,
            groups_seen: HashSet::new(),
            group: None,
            point: Point::default(),
            series_ts: HashMap::new(),
        }
    }

    fn is_histogram(&self) -> bool {
        matches!(self.metric_type, MetricType::Histogram | MetricType::GaugeHistogram)
    }

    /// Checks the rules that apply to a complete histogram point.
    fn end_point(&mut self) -> Result<(), ErrorKind> {
        let p = std::mem::take(&mut self.point);
        if !p.started || !self.is_histogram() {
            return Ok(());
        }
        let family = || self.name.clone();
        let Some(inf) = p.inf else {
            return Err(ErrorKind::MissingInfBucket { family: family() });
        };
        if p.count.is_some() != p.sum.is_some() {
            return Err(ErrorKind::SumWithoutCount { family: family() });
        }
        if let Some(count) = p.count
            && count != inf
        {
            return Err(ErrorKind::CountMismatch {
                family: family(),
                count,
                inf,
            });
        }
        match (self.metric_type, p.sum) {
            (MetricType::Histogram, Some(_)) if p.negative_bucket => Err(ErrorKind::InvalidSum {
                family: family(),
                rule: "a histogram with negative buckets must not have a sum",
            }),
            (MetricType::GaugeHistogram, Some(s)) if s < 0.0 && !p.negative_bucket => Err(ErrorKind::InvalidSum {
                family: family(),
                rule: "a negative gsum needs negative buckets",
            }),
            _ => Ok(()),
        }
    }
}

/// Strict-mode state.
#[derive(Debug)]
pub(crate) struct Checker {
    format: Format,
    families: HashSet<String>,
    /// Sample names a typed family produces, with that family's name.
    reserved: HashMap<String, String>,
    cur: Option<Family>,
}

impl Checker {
    pub(crate) fn new(format: Format) -> Checker {
        Checker {
            format,
            families: HashSet::new(),
            reserved: HashMap::new(),
            cur: None,
        }
    }

    pub(crate) fn check(&mut self, entry: &Entry<'_>) -> Result<(), ErrorKind> {
        match entry {
            Entry::Comment(_) => Ok(()),
            Entry::Help { name, .. } => {
                let f = self.metadata(name, "HELP", |f| f.has_help)?;
                f.has_help = true;
                Ok(())
            }
            Entry::Unit { name, unit } => {
                let f = self.metadata(name, "UNIT", |f| f.unit.is_some())?;
                f.unit = Some((*unit).to_owned());
                self.check_unit_type()
            }
            Entry::Type { name, metric_type } => {
                let f = self.metadata(name, "TYPE", |f| f.has_type)?;
                f.has_type = true;
                f.metric_type = *metric_type;
                let name = f.name.clone();
                for sfx in suffixes(self.format, *metric_type) {
                    if sfx.is_empty() {
                        continue;
                    }
                    let s = format!("{name}{sfx}");
                    if self.families.contains(&s) {
                        return Err(ErrorKind::NameClash { family: name, other: s });
                    }
                    self.reserved.insert(s, name.clone());
                }
                self.check_unit_type()
            }
            Entry::Sample(s) => self.sample(s),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<(), ErrorKind> {
        match self.cur.as_mut() {
            Some(f) => f.end_point(),
            None => Ok(()),
        }
    }

    fn check_unit_type(&self) -> Result<(), ErrorKind> {
        match &self.cur {
            Some(f) if f.unit.is_some() && matches!(f.metric_type, MetricType::Info | MetricType::StateSet) => {
                Err(ErrorKind::UnitNotAllowed {
                    family: f.name.clone(),
                    metric_type: f.metric_type,
                })
            }
            _ => Ok(()),
        }
    }

    /// The family a metadata line of `kind` for `name` belongs to, starting it if needed.
    fn metadata(
        &mut self,
        name: &str,
        kind: &'static str,
        seen: fn(&Family) -> bool,
    ) -> Result<&mut Family, ErrorKind> {
        let same = self.cur.as_ref().is_some_and(|f| f.name == name);
        if !same {
            self.start_family(name)?;
        }
        let Some(f) = self.cur.as_mut() else {
            return Err(ErrorKind::MetricNameNotSet);
        };
        if f.has_samples {
            return Err(ErrorKind::MetadataAfterSamples {
                kind,
                family: f.name.clone(),
            });
        }
        if seen(f) {
            return Err(ErrorKind::RepeatedMetadata {
                kind,
                family: f.name.clone(),
            });
        }
        Ok(f)
    }

    fn start_family(&mut self, name: &str) -> Result<(), ErrorKind> {
        if let Some(f) = self.cur.as_mut() {
            f.end_point()?;
        }
        if self.families.contains(name) {
            return Err(ErrorKind::FamilyNotContiguous {
                family: name.to_owned(),
            });
        }
        if let Some(owner) = self.reserved.get(name) {
            return Err(ErrorKind::NameClash {
                family: name.to_owned(),
                other: owner.clone(),
            });
        }
        self.families.insert(name.to_owned());
        self.cur = Some(Family::new(name));
        Ok(())
    }

    fn sample(&mut self, s: &Sample<'_>) -> Result<(), ErrorKind> {
        let format = self.format;
        let name: &str = &s.name;
        let suffix = match &self.cur {
            Some(f) => match suffix_of(format, f.metric_type, &f.name, name) {
                Some(sfx) => Some(sfx),
                None if f.name == name => {
                    return Err(ErrorKind::InvalidSampleName {
                        sample: name.to_owned(),
                        family: f.name.clone(),
                        metric_type: f.metric_type,
                    });
                }
                None => None,
            },
            None => None,
        };
        let suffix = match suffix {
            Some(sfx) => sfx,
            None => {
                self.start_family(name)?;
                ""
            }
        };
        let Some(f) = self.cur.as_mut() else {
            return Err(ErrorKind::MetricNameNotSet);
        };
        f.has_samples = true;

        let mut labels: Vec<(String, String)> = Vec::new();
        for l in s.labels.iter() {
            if labels.iter().any(|(n, _)| *n == l.name) {
                return Err(ErrorKind::DuplicateLabel {
                    name: l.name.into_owned(),
                });
            }
            labels.push((l.name.into_owned(), l.value.into_owned()));
        }
        let label = |n: &str| labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let missing = |l: &str| ErrorKind::MissingLabel {
            sample: name.to_owned(),
            label: l.to_owned(),
        };
        let t = f.metric_type;
        let v = s.value;
        let family_name = f.name.clone();

        if format == Format::Text {
            let needed = match (t, suffix) {
                (MetricType::Histogram, "_bucket") => Some("le"),
                (MetricType::Summary, "") => Some("quantile"),
                _ => None,
            };
            if let Some(needed) = needed {
                let val = label(needed).ok_or_else(|| missing(needed))?;
                if super::float::parse_float(val.as_bytes()).is_err() {
                    return Err(ErrorKind::InvalidLabelNumber {
                        label: if needed == "le" { "le" } else { "quantile" },
                        value: val.to_owned(),
                    });
                }
            }
            return Ok(());
        }

        // OpenMetrics values and required labels.
        let counter_like = |what: &'static str| check_value(name, v, !v.is_nan() && v >= 0.0, what);
        let mut le = None;
        let mut group_exclude: Option<&str> = None;
        let family_label = family_name.as_str();
        match (t, suffix) {
            (MetricType::Counter, "_total") => counter_like("counter totals must not be negative or NaN")?,
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
                counter_like("bucket counts must not be negative or NaN")?;
                let raw = label("le").ok_or_else(|| missing("le"))?;
                let bound = parse_strict_label_number(raw).ok_or_else(|| ErrorKind::InvalidLabelNumber {
                    label: "le",
                    value: raw.to_owned(),
                })?;
                le = Some(bound);
                group_exclude = Some("le");
            }
            (MetricType::Histogram | MetricType::Summary, "_count") | (MetricType::GaugeHistogram, "_gcount") => {
                counter_like("counts must not be negative or NaN")?
            }
            (MetricType::Histogram | MetricType::Summary, "_sum") => counter_like("sums must not be negative or NaN")?,
            (MetricType::GaugeHistogram, "_gsum") => check_value(name, v, !v.is_nan(), "gsum must not be NaN")?,
            (MetricType::Summary, "") => {
                let raw = label("quantile").ok_or_else(|| missing("quantile"))?;
                match parse_strict_label_number(raw) {
                    Some(q) if (0.0..=1.0).contains(&q) => {}
                    _ => {
                        return Err(ErrorKind::InvalidLabelNumber {
                            label: "quantile",
                            value: raw.to_owned(),
                        });
                    }
                }
                check_value(name, v, v.is_nan() || v >= 0.0, "quantile values must not be negative")?;
                group_exclude = Some("quantile");
            }
            (MetricType::Info, _) => check_value(name, v, v == 1.0, "info values must be 1")?,
            (MetricType::StateSet, _) => {
                label(family_label).ok_or_else(|| missing(family_label))?;
                check_value(name, v, v == 0.0 || v == 1.0, "stateset values must be 0 or 1")?;
                group_exclude = Some(family_label);
            }
            _ => {}
        }

        if let Some(ex) = &s.exemplar {
            let allowed = matches!(
                (t, suffix),
                (MetricType::Counter, "_total") | (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket")
            );
            if !allowed {
                return Err(ErrorKind::ExemplarNotAllowed {
                    sample: name.to_owned(),
                });
            }
            let chars: usize = ex
                .labels
                .iter()
                .map(|l| l.name.chars().count() + l.value.chars().count())
                .sum();
            if chars > 128 {
                return Err(ErrorKind::ExemplarTooLong { chars });
            }
        }

        // Series timestamps.
        let mut sorted = labels.clone();
        sorted.sort();
        let series = format!("{name}{sorted:?}");
        match f.series_ts.get(&series) {
            Some(Some(prev)) if s.timestamp_ms.is_some_and(|ts| ts < *prev) => {
                return Err(ErrorKind::TimestampOutOfOrder { series });
            }
            Some(prev) if prev.is_none() || s.timestamp_ms.is_none() => {
                return Err(ErrorKind::DuplicateSeries { series });
            }
            _ => {}
        }
        f.series_ts.insert(series, s.timestamp_ms);

        // Metric contiguity.
        let key: Vec<(String, String)> = sorted
            .into_iter()
            .filter(|(n, _)| Some(n.as_str()) != group_exclude)
            .collect();
        if f.group.as_ref() != Some(&key) {
            f.end_point()?;
            if let Some(prev) = f.group.take() {
                f.groups_seen.insert(prev);
            }
            if f.groups_seen.contains(&key) {
                return Err(ErrorKind::MetricNotContiguous { family: family_name });
            }
            f.group = Some(key);
        }

        // Histogram points.
        if f.is_histogram() {
            if f.point.started && f.point.ts != s.timestamp_ms {
                f.end_point()?;
            }
            let family = family_name;
            let p = &mut f.point;
            p.started = true;
            p.ts = s.timestamp_ms;
            match suffix {
                "_bucket" => {
                    let le = le.unwrap_or(f64::INFINITY);
                    if p.last_le.is_some_and(|last| le <= last) {
                        return Err(ErrorKind::BucketsOutOfOrder { family });
                    }
                    if p.last_le.is_some() && v < p.last_count {
                        return Err(ErrorKind::BucketCountsDecrease { family });
                    }
                    p.last_le = Some(le);
                    p.last_count = v;
                    p.negative_bucket |= le < 0.0;
                    if le == f64::INFINITY {
                        p.inf = Some(v);
                    }
                }
                "_count" | "_gcount" => p.count = Some(v),
                "_sum" | "_gsum" => p.sum = Some(v),
                _ => {}
            }
        }
        Ok(())
    }
}
