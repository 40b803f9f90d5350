//! Turns the entry stream into model [`MetricFamily`]s.
//!
//! Samples join the family of the metadata before them when their name is the family name plus a suffix the
//! family type uses (`_bucket`, `_sum`, `_count`, `_created`, `_total`, `_info`, `_gsum`, `_gcount`); any other
//! sample starts (or rejoins) an untyped family named after it. Within a family, samples with the same labels
//! (without `le`, `quantile` or a stateset's own label) form one [`Metric`]; a later sample of the same metric
//! overwrites an earlier value, so several timestamped points of one series collapse to the last.
//!
//! Family names: for text format 0.0.4 the family name is the name in the metadata lines, as the model expects
//! (a counter is usually `..._total`). For OpenMetrics the family name is the OpenMetrics metadata name as
//! written, so a counter family is named without `_total` (`# TYPE a counter` / `a_total 1` gives family `a`);
//! the OpenMetrics encoder writes such a family back unchanged.
//!
//! In lenient mode metadata may follow samples; a `# TYPE` that arrives after a family already has metrics is
//! ignored, so every value keeps fitting its family's type.

use std::collections::HashMap;

use super::error::{ErrorKind, ParseError, line_column};
use super::float::parse_float;
use super::strict::suffix_of;
use super::{Entry, Format, Mode, Parser, Sample};
use crate::model::{Bucket, Labels, Metric, MetricFamily, MetricType, Quantile, State, Value};

/// Parses `input` and groups its entries into families (see the module docs for the naming rules).
pub fn families(input: &[u8], format: Format, mode: Mode) -> Result<Vec<MetricFamily>, ParseError> {
    let mut b = Builder {
        format,
        out: Vec::new(),
        index: HashMap::new(),
        metrics: Vec::new(),
        cur: None,
    };
    for entry in Parser::new(input, format, mode) {
        let entry = entry?;
        if let Entry::Sample(s) = &entry {
            let offset = (s.series.as_ptr() as usize).saturating_sub(input.as_ptr() as usize);
            b.sample(s).map_err(|kind| {
                let (line, column) = line_column(input, offset);
                ParseError { line, column, kind }
            })?;
        } else {
            b.metadata(entry);
        }
    }
    Ok(b.out)
}

struct Builder {
    format: Format,
    out: Vec<MetricFamily>,
    index: HashMap<String, usize>,
    metrics: Vec<HashMap<Labels, usize>>,
    cur: Option<usize>,
}

impl Builder {
    fn family(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.out.push(MetricFamily::new(name, MetricType::Unknown));
        self.metrics.push(HashMap::new());
        self.index.insert(name.to_owned(), self.out.len() - 1);
        self.out.len() - 1
    }

    fn metadata(&mut self, entry: Entry<'_>) {
        let i = match &entry {
            Entry::Help { name, .. } | Entry::Type { name, .. } | Entry::Unit { name, .. } => self.family(name),
            _ => return,
        };
        let f = &mut self.out[i];
        match entry {
            Entry::Help { help, .. } => f.help = Some(help.into_owned()),
            // A TYPE after the family's samples (accepted in lenient mode) cannot retype values already built.
            Entry::Type { metric_type, .. } if f.metrics.is_empty() => f.metric_type = metric_type,
            Entry::Unit { unit, .. } => f.unit = Some(unit.to_owned()),
            _ => {}
        }
        self.cur = Some(i);
    }

    fn sample(&mut self, s: &Sample<'_>) -> Result<(), ErrorKind> {
        let format = self.format;
        let name: &str = &s.name;
        let found = [self.cur, self.index.get(name).copied()]
            .into_iter()
            .flatten()
            .find_map(|i| {
                let f = &self.out[i];
                suffix_of(format, f.metric_type, &f.name, name).map(|sfx| (i, sfx))
            });
        let (fi, suffix) = match found {
            Some(found) => found,
            None => (self.family(name), ""),
        };
        self.cur = Some(fi);
        let t = self.out[fi].metric_type;
        let family_name = self.out[fi].name.clone();
        let excluded: Option<&str> = match (t, suffix) {
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
            (MetricType::Summary, "") => Some("quantile"),
            (MetricType::StateSet, _) => Some(family_name.as_str()),
            _ => None,
        };
        let mut labels = Labels::new();
        let mut special = None;
        for l in s.labels.iter() {
            if Some(&*l.name) == excluded {
                special = Some(l.value.into_owned());
            } else {
                labels.push(l.name.into_owned(), l.value.into_owned());
            }
        }
        let special_number = |label: &'static str| -> Result<f64, ErrorKind> {
            let raw = special.as_deref().ok_or_else(|| ErrorKind::MissingLabel {
                sample: name.to_owned(),
                label: label.to_owned(),
            })?;
            parse_float(raw.as_bytes()).map_err(|_| ErrorKind::InvalidLabelNumber {
                label,
                value: raw.to_owned(),
            })
        };
        let v = s.value;
        let exemplar = s.exemplar.as_ref().map(|e| e.to_exemplar());

        let fam_metrics = &mut self.metrics[fi];
        let fam = &mut self.out[fi];
        let mi = match fam_metrics.get(&labels) {
            Some(&mi) => mi,
            None => {
                let value = match t {
                    MetricType::Counter => Value::Counter {
                        total: 0.0,
                        created: None,
                        exemplar: None,
                    },
                    MetricType::Gauge => Value::Gauge(v),
                    MetricType::Unknown => Value::Unknown(v),
                    MetricType::Histogram | MetricType::GaugeHistogram => Value::Histogram {
                        buckets: Vec::new(),
                        sum: None,
                        count: None,
                        created: None,
                    },
                    MetricType::Summary => Value::Summary {
                        quantiles: Vec::new(),
                        sum: None,
                        count: None,
                        created: None,
                    },
                    MetricType::Info => Value::Info,
                    MetricType::StateSet => Value::StateSet(Vec::new()),
                };
                fam.metrics.push(Metric::new(labels.clone(), value));
                fam_metrics.insert(labels, fam.metrics.len() - 1);
                fam.metrics.len() - 1
            }
        };
        let metric = &mut fam.metrics[mi];
        if s.timestamp_ms.is_some() {
            metric.timestamp_ms = s.timestamp_ms;
        }
        match (&mut metric.value, suffix) {
            (Value::Counter { created, .. }, "_created") => *created = Some(v),
            (
                Value::Counter {
                    total, exemplar: ex, ..
                },
                _,
            ) => {
                *total = v;
                *ex = exemplar;
            }
            (Value::Gauge(g) | Value::Unknown(g), _) => *g = v,
            (Value::Histogram { buckets, .. }, "_bucket") => buckets.push(Bucket {
                upper_bound: special_number("le")?,
                cumulative_count: v,
                exemplar,
            }),
            (Value::Histogram { count, .. } | Value::Summary { count, .. }, "_count" | "_gcount") => *count = Some(v),
            (Value::Histogram { sum, .. } | Value::Summary { sum, .. }, "_sum" | "_gsum") => *sum = Some(v),
            (Value::Histogram { created, .. } | Value::Summary { created, .. }, "_created") => *created = Some(v),
            (Value::Summary { quantiles, .. }, _) => quantiles.push(Quantile {
                quantile: special_number("quantile")?,
                value: v,
            }),
            (Value::StateSet(states), _) => {
                let state = special
                    .as_deref()
                    .map(str::to_owned)
                    .ok_or_else(|| ErrorKind::MissingLabel {
                        sample: name.to_owned(),
                        label: family_name.clone(),
                    })?;
                states.push(State {
                    name: state,
                    enabled: v != 0.0,
                });
            }
            _ => {}
        }
        Ok(())
    }
}
