//! Text format 0.0.4 encoder, writing what the Go client's `expfmt` text encoder writes.
//!
//! Per family: `# HELP` (when set; `\` and newline escaped), `# TYPE`, then the samples. Histograms write their
//! buckets (adding `+Inf` from the count when missing), `_sum` and `_count`; summaries their quantiles, `_sum` and
//! `_count`. Types the format lacks are mapped: a gauge histogram becomes a histogram, an info family a gauge named
//! `<name>_info`, a stateset a gauge with one series per state labelled `<name>="<state>"`. Exemplars, UNIT and
//! `_created` are OpenMetrics-only and not written. Families without metrics are skipped, as Go skips them.

use super::line::{self, LINE_FIXED, Line, MetaText, Sink, byte, bytes, labels_bound, lit, meta_line, with_sink};
use crate::model::{Labels, MetricFamily, MetricType, Value};

/// Writes `families` in text format 0.0.4.
pub fn encode_text(families: &[MetricFamily], out: &mut Vec<u8>) {
    with_sink(out, |sink| {
        for fam in families {
            family(sink, fam);
        }
    })
}

fn family(sink: &mut Sink<'_>, fam: &MetricFamily) {
    if fam.metrics.is_empty() {
        return;
    }
    let info_name;
    let name: &str = if fam.metric_type == MetricType::Info {
        info_name = format!("{}_info", fam.name);
        &info_name
    } else {
        &fam.name
    };
    if let Some(help) = &fam.help {
        meta_line(sink, b"HELP", name, help, MetaText::Help { quote: false });
    }
    meta_line(sink, b"TYPE", name, fam.metric_type.as_text_str(), MetaText::Plain);
    for m in &fam.metrics {
        let s = &mut Sampler {
            name,
            labels: SeriesLabels::new(&m.labels),
            ts: m.timestamp_ms,
            max: name.len() + labels_bound(&m.labels) + LINE_FIXED,
        };
        match &m.value {
            Value::Counter { total: v, .. } | Value::Gauge(v) | Value::Unknown(v) => s.sample(sink, "", None, *v),
            Value::Info => s.sample(sink, "", None, 1.0),
            Value::StateSet(states) => {
                for st in states {
                    let v = if st.enabled { 1.0 } else { 0.0 };
                    s.sample(sink, "", Some((name, Extra::Str(&st.name))), v);
                }
            }
            Value::Histogram {
                buckets, sum, count, ..
            } => {
                for b in buckets {
                    s.sample(
                        sink,
                        "_bucket",
                        Some(("le", Extra::Float(b.upper_bound))),
                        b.cumulative_count,
                    );
                }
                let has_inf = buckets.last().is_some_and(|b| b.upper_bound == f64::INFINITY);
                if let (false, Some(c)) = (has_inf, count) {
                    s.sample(sink, "_bucket", Some(("le", Extra::Float(f64::INFINITY))), *c);
                }
                s.sum_count(sink, *sum, *count);
            }
            Value::Summary {
                quantiles, sum, count, ..
            } => {
                for q in quantiles {
                    s.sample(sink, "", Some(("quantile", Extra::Float(q.quantile))), q.value);
                }
                s.sum_count(sink, *sum, *count);
            }
        }
    }
}

/// Writes the samples of one metric.
struct Sampler<'a> {
    name: &'a str,
    labels: SeriesLabels<'a>,
    ts: Option<i64>,
    /// The longest line without an extra label.
    max: usize,
}

impl Sampler<'_> {
    #[inline(always)]
    fn sample(&mut self, sink: &mut Sink<'_>, suffix: &str, extra: Option<(&str, Extra<'_>)>, value: f64) {
        let Line { buf, pos, generation } = sink.line(self.max + extra_bound(extra));
        let p = bytes(buf, pos, self.name.as_bytes());
        let p = if suffix.is_empty() {
            p
        } else {
            bytes(buf, p, suffix.as_bytes())
        };
        let p = self.labels.write(buf, p, generation, extra);
        let p = byte(buf, p, b' ');
        let mut p = line::float(buf, p, value);
        if let Some(ts) = self.ts {
            p = byte(buf, p, b' ');
            p = line::int(buf, p, ts);
        }
        let p = byte(buf, p, b'\n');
        sink.commit(p);
    }

    fn sum_count(&mut self, sink: &mut Sink<'_>, sum: Option<f64>, count: Option<f64>) {
        if let Some(s) = sum {
            self.sample(sink, "_sum", None, s);
        }
        if let Some(c) = count {
            self.sample(sink, "_count", None, c);
        }
    }
}

/// Room for an extra label: its name, `=""`, the comma before it and the value (escaped, or a float).
#[inline]
pub(super) fn extra_bound(extra: Option<(&str, Extra<'_>)>) -> usize {
    match extra {
        None => 0,
        Some((name, Extra::Str(s))) => name.len() + 2 * s.len() + 4,
        Some((name, Extra::Float(_) | Extra::OmFloat(_))) => name.len() + 4 + super::float::FAST_LEN,
    }
}

/// The value of an extra label (`le`, `quantile`, a stateset's state).
#[derive(Clone, Copy)]
pub(super) enum Extra<'a> {
    Float(f64),
    OmFloat(f64),
    Str(&'a str),
}

/// The labels of one metric, written once: the later lines of a histogram or summary copy the first line's label
/// pairs from the output instead of escaping them again.
pub(super) struct SeriesLabels<'a> {
    labels: &'a Labels,
    /// Where the first line's `a="1",b="2"` is in the buffer, and the buffer's generation then.
    written: Option<(u32, usize, usize)>,
}

impl<'a> SeriesLabels<'a> {
    pub(super) fn new(labels: &'a Labels) -> SeriesLabels<'a> {
        SeriesLabels { labels, written: None }
    }

    /// Writes `{a="1",b="2"}` (nothing when there are no labels and no extra label), with the extra label last,
    /// at `p` in a buffer of generation `generation`.
    #[inline(always)]
    pub(super) fn write(
        &mut self,
        buf: &mut [u8],
        p: usize,
        generation: u32,
        extra: Option<(&str, Extra<'_>)>,
    ) -> usize {
        if self.labels.is_empty() {
            return match extra {
                Some(extra) => {
                    let p = byte(buf, p, b'{');
                    let p = write_extra(buf, p, extra);
                    byte(buf, p, b'}')
                }
                None => p,
            };
        }
        let p = byte(buf, p, b'{');
        let p = match self.written {
            Some((g, start, end)) if g == generation => line::repeat(buf, p, start, end - start),
            _ => {
                let end = write_pairs(buf, p, self.labels);
                self.written = Some((generation, p, end));
                end
            }
        };
        let p = match extra {
            Some(extra) => {
                let p = byte(buf, p, b',');
                write_extra(buf, p, extra)
            }
            None => p,
        };
        byte(buf, p, b'}')
    }
}

/// Writes `a="1",b="2"`.
#[inline(always)]
fn write_pairs(buf: &mut [u8], mut p: usize, labels: &Labels) -> usize {
    let mut first = true;
    for label in labels {
        if !first {
            p = byte(buf, p, b',');
        }
        first = false;
        p = bytes(buf, p, label.name.as_bytes());
        p = lit(buf, p, b"=\"");
        p = line::label_value(buf, p, &label.value);
        p = byte(buf, p, b'"');
    }
    p
}

/// Writes `name="value"` of an extra label.
#[inline]
fn write_extra(buf: &mut [u8], p: usize, (name, value): (&str, Extra<'_>)) -> usize {
    let p = bytes(buf, p, name.as_bytes());
    let p = lit(buf, p, b"=\"");
    let p = match value {
        Extra::Float(f) => line::float(buf, p, f),
        Extra::OmFloat(f) => line::om_float(buf, p, f),
        Extra::Str(s) => line::label_value(buf, p, s),
    };
    byte(buf, p, b'"')
}

/// Writes `{a="1",b="2"}` (nothing when there are no labels), as exemplars need.
pub(super) fn write_labels(buf: &mut [u8], p: usize, labels: &Labels) -> usize {
    SeriesLabels::new(labels).write(buf, p, 0, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, Metric, Quantile, State};

    fn enc(f: MetricFamily) -> String {
        let mut out = Vec::new();
        encode_text(&[f], &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counter_gauge_untyped_with_escaping_and_timestamp() {
        let mut c = MetricFamily::new("http_requests_total", MetricType::Counter).with_help("Total \\ requests\nseen.");
        let mut m = Metric::new(
            Labels::from_pairs([("path", "/a\"b\\c\nd"), ("code", "200")]),
            Value::Counter {
                total: 1027.0,
                created: Some(1.5e9),
                exemplar: None,
            },
        );
        m.timestamp_ms = Some(1395066363000);
        c.push(m);
        assert_eq!(
            enc(c),
            "# HELP http_requests_total Total \\\\ requests\\nseen.\n# TYPE http_requests_total counter\n\
             http_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 1027 1395066363000\n"
        );
        let mut u = MetricFamily::new("x", MetricType::Unknown);
        u.push(Metric::new(Labels::new(), Value::Unknown(-0.5)));
        assert_eq!(enc(u), "# TYPE x untyped\nx -0.5\n");
    }

    #[test]
    fn histogram_adds_inf_bucket() {
        let mut h = MetricFamily::new("rpc_duration_seconds", MetricType::Histogram).with_help("RPC latency.");
        h.push(Metric::new(
            Labels::from_pairs([("service", "a")]),
            Value::Histogram {
                buckets: vec![
                    Bucket {
                        upper_bound: 0.05,
                        cumulative_count: 24054.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: 1e6,
                        cumulative_count: 33444.0,
                        exemplar: None,
                    },
                ],
                sum: Some(53423.0),
                count: Some(144320.0),
                created: None,
            },
        ));
        assert_eq!(
            enc(h),
            "# HELP rpc_duration_seconds RPC latency.\n# TYPE rpc_duration_seconds histogram\n\
             rpc_duration_seconds_bucket{service=\"a\",le=\"0.05\"} 24054\n\
             rpc_duration_seconds_bucket{service=\"a\",le=\"1e+06\"} 33444\n\
             rpc_duration_seconds_bucket{service=\"a\",le=\"+Inf\"} 144320\n\
             rpc_duration_seconds_sum{service=\"a\"} 53423\n\
             rpc_duration_seconds_count{service=\"a\"} 144320\n"
        );
    }

    #[test]
    fn summary_info_stateset() {
        let mut s = MetricFamily::new("go_gc_duration_seconds", MetricType::Summary);
        s.push(Metric::new(
            Labels::new(),
            Value::Summary {
                quantiles: vec![
                    Quantile {
                        quantile: 0.0,
                        value: 2.5e-5,
                    },
                    Quantile {
                        quantile: 1.0,
                        value: 0.004,
                    },
                ],
                sum: Some(0.5),
                count: Some(7.0),
                created: None,
            },
        ));
        assert_eq!(
            enc(s),
            "# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds{quantile=\"0\"} 2.5e-05\n\
             go_gc_duration_seconds{quantile=\"1\"} 0.004\ngo_gc_duration_seconds_sum 0.5\n\
             go_gc_duration_seconds_count 7\n"
        );
        let mut i = MetricFamily::new("build", MetricType::Info);
        i.push(Metric::new(Labels::from_pairs([("version", "1.0")]), Value::Info));
        assert_eq!(enc(i), "# TYPE build_info gauge\nbuild_info{version=\"1.0\"} 1\n");
        let mut st = MetricFamily::new("state", MetricType::StateSet);
        st.push(Metric::new(
            Labels::new(),
            Value::StateSet(vec![
                State {
                    name: "a".into(),
                    enabled: true,
                },
                State {
                    name: "b".into(),
                    enabled: false,
                },
            ]),
        ));
        assert_eq!(
            enc(st),
            "# TYPE state gauge\nstate{state=\"a\"} 1\nstate{state=\"b\"} 0\n"
        );
    }

    #[test]
    fn empty_families_are_skipped() {
        assert_eq!(enc(MetricFamily::new("empty", MetricType::Gauge).with_help("x")), "");
    }
}
