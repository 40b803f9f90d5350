//! OpenMetrics 1.0 encoder, writing what the Go client's `expfmt` OpenMetrics encoder writes.
//!
//! Metadata uses the OpenMetrics family name: a counter's `_total` suffix is dropped there and put on its samples.
//! Floats always carry `.0` or an exponent; bucket counts and `_count` are integers when integral; timestamps are
//! seconds. Counters, histograms and summaries write `_created` when set; exemplars follow their sample as
//! ` # {labels} value [timestamp]`. The output ends with `# EOF`.

use super::line::{self, LINE_FIXED, Line, MetaText, Sink, byte, bytes, labels_bound, lit, meta_line, with_sink};
use super::text::{Extra, SeriesLabels, extra_bound, write_labels};
use crate::model::{Exemplar, MetricFamily, MetricType, Value};

/// Writes `families` in OpenMetrics 1.0 text, ending with `# EOF`.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut Vec<u8>) {
    with_sink(out, |sink| {
        for fam in families {
            family(sink, fam);
        }
        let Line { buf, pos, .. } = sink.line(8);
        let p = lit(buf, pos, b"# EOF\n");
        sink.commit(p);
    })
}

fn family(sink: &mut Sink<'_>, fam: &MetricFamily) {
    if fam.metrics.is_empty() {
        return;
    }
    let name = fam.openmetrics_name();
    if let Some(help) = &fam.help {
        meta_line(sink, b"HELP", name, help, MetaText::Help { quote: true });
    }
    meta_line(
        sink,
        b"TYPE",
        name,
        fam.metric_type.as_openmetrics_str(),
        MetaText::Plain,
    );
    if let Some(unit) = &fam.unit {
        meta_line(sink, b"UNIT", name, unit, MetaText::Plain);
    }
    let gauge_hist = fam.metric_type == MetricType::GaugeHistogram;
    for m in &fam.metrics {
        let s = &mut Sampler {
            name,
            labels: SeriesLabels::new(&m.labels),
            ts: m.timestamp_ms,
            max: name.len() + labels_bound(&m.labels) + LINE_FIXED,
        };
        match &m.value {
            Value::Counter {
                total,
                created,
                exemplar,
            } => {
                s.sample(sink, "_total", None, Num::Float(*total), exemplar.as_ref());
                s.created(sink, *created);
            }
            Value::Gauge(v) | Value::Unknown(v) => s.sample(sink, "", None, Num::Float(*v), None),
            Value::Info => s.sample(sink, "_info", None, Num::Count(1.0), None),
            Value::StateSet(states) => {
                for st in states {
                    let v = if st.enabled { 1.0 } else { 0.0 };
                    s.sample(sink, "", Some((name, Extra::Str(&st.name))), Num::Count(v), None);
                }
            }
            Value::Histogram {
                buckets,
                sum,
                count,
                created,
            } => {
                for b in buckets {
                    let le = Some(("le", Extra::OmFloat(b.upper_bound)));
                    s.sample(sink, "_bucket", le, Num::Count(b.cumulative_count), b.exemplar.as_ref());
                }
                let has_inf = buckets.last().is_some_and(|b| b.upper_bound == f64::INFINITY);
                if let (false, Some(c)) = (has_inf, count) {
                    let le = Some(("le", Extra::OmFloat(f64::INFINITY)));
                    s.sample(sink, "_bucket", le, Num::Count(*c), None);
                }
                let (sum_suffix, count_suffix) = if gauge_hist {
                    ("_gsum", "_gcount")
                } else {
                    ("_sum", "_count")
                };
                if let Some(v) = sum {
                    s.sample(sink, sum_suffix, None, Num::Float(*v), None);
                }
                if let Some(c) = count {
                    s.sample(sink, count_suffix, None, Num::Count(*c), None);
                }
                s.created(sink, *created);
            }
            Value::Summary {
                quantiles,
                sum,
                count,
                created,
            } => {
                for q in quantiles {
                    let ql = Some(("quantile", Extra::OmFloat(q.quantile)));
                    s.sample(sink, "", ql, Num::Float(q.value), None);
                }
                if let Some(v) = sum {
                    s.sample(sink, "_sum", None, Num::Float(*v), None);
                }
                if let Some(c) = count {
                    s.sample(sink, "_count", None, Num::Count(*c), None);
                }
                s.created(sink, *created);
            }
        }
    }
}

/// A sample's value: a float (`.0` added when integral) or a count (an integer when integral).
#[derive(Clone, Copy)]
enum Num {
    Float(f64),
    Count(f64),
}

/// Writes the samples of one metric.
struct Sampler<'a> {
    name: &'a str,
    labels: SeriesLabels<'a>,
    ts: Option<i64>,
    /// The longest line without an extra label or exemplar.
    max: usize,
}

impl Sampler<'_> {
    #[inline(always)]
    fn sample(
        &mut self,
        sink: &mut Sink<'_>,
        suffix: &str,
        extra: Option<(&str, Extra<'_>)>,
        v: Num,
        ex: Option<&Exemplar>,
    ) {
        let mut max = self.max + extra_bound(extra);
        if let Some(ex) = ex {
            max += labels_bound(&ex.labels) + LINE_FIXED;
        }
        let Line { buf, pos, generation } = sink.line(max);
        let p = bytes(buf, pos, self.name.as_bytes());
        let p = if suffix.is_empty() {
            p
        } else {
            bytes(buf, p, suffix.as_bytes())
        };
        let p = self.labels.write(buf, p, generation, extra);
        let p = byte(buf, p, b' ');
        let mut p = match v {
            Num::Float(v) => line::om_float(buf, p, v),
            Num::Count(v) => line::float(buf, p, v),
        };
        if let Some(ts) = self.ts {
            p = byte(buf, p, b' ');
            p = line::seconds(buf, p, ts);
        }
        if let Some(ex) = ex {
            p = exemplar(buf, p, ex);
        }
        let p = byte(buf, p, b'\n');
        sink.commit(p);
    }

    fn created(&mut self, sink: &mut Sink<'_>, created: Option<f64>) {
        if let Some(c) = created {
            self.sample(sink, "_created", None, Num::Float(c), None);
        }
    }
}

/// ` # {labels} value [timestamp]`; exemplar labels are always braced, even when empty.
fn exemplar(buf: &mut [u8], p: usize, ex: &Exemplar) -> usize {
    let p = lit(buf, p, b" # ");
    let p = if ex.labels.is_empty() {
        lit(buf, p, b"{}")
    } else {
        write_labels(buf, p, &ex.labels)
    };
    let p = byte(buf, p, b' ');
    let p = line::om_float(buf, p, ex.value);
    match ex.timestamp_ms {
        Some(ts) => {
            let p = byte(buf, p, b' ');
            line::seconds(buf, p, ts)
        }
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, Labels, Metric, Quantile, State};

    fn enc(f: MetricFamily) -> String {
        let mut out = Vec::new();
        encode_openmetrics(&[f], &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counter_with_created_exemplar_and_timestamp() {
        let mut c = MetricFamily::new("http_requests_total", MetricType::Counter).with_help("Say \"hi\"\\.");
        let mut m = Metric::new(
            Labels::from_pairs([("code", "200")]),
            Value::Counter {
                total: 1027.0,
                created: Some(1520430000.123),
                exemplar: Some(Exemplar {
                    labels: Labels::from_pairs([("trace_id", "KOO5S4vxi0o")]),
                    value: 0.67,
                    timestamp_ms: Some(1520879607789),
                }),
            },
        );
        m.timestamp_ms = Some(1520879607000);
        c.push(m);
        assert_eq!(
            enc(c),
            "# HELP http_requests Say \\\"hi\\\"\\\\.\n# TYPE http_requests counter\n\
             http_requests_total{code=\"200\"} 1027.0 1520879607 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879607.789\n\
             http_requests_created{code=\"200\"} 1.520430000123e+09 1520879607\n# EOF\n"
        );
    }

    #[test]
    fn histogram_gaugehistogram_summary() {
        let buckets = vec![
            Bucket {
                upper_bound: 1.0,
                cumulative_count: 2.0,
                exemplar: None,
            },
            Bucket {
                upper_bound: f64::INFINITY,
                cumulative_count: 3.0,
                exemplar: Some(Exemplar {
                    labels: Labels::new(),
                    value: 7.0,
                    timestamp_ms: None,
                }),
            },
        ];
        let mut h = MetricFamily::new("req_seconds", MetricType::Histogram).with_unit("seconds");
        h.push(Metric::new(
            Labels::new(),
            Value::Histogram {
                buckets: buckets.clone(),
                sum: Some(4.5),
                count: Some(3.0),
                created: Some(1.0),
            },
        ));
        assert_eq!(
            enc(h),
            "# TYPE req_seconds histogram\n# UNIT req_seconds seconds\nreq_seconds_bucket{le=\"1.0\"} 2\n\
             req_seconds_bucket{le=\"+Inf\"} 3 # {} 7.0\nreq_seconds_sum 4.5\nreq_seconds_count 3\n\
             req_seconds_created 1.0\n# EOF\n"
        );
        let mut g = MetricFamily::new("queue", MetricType::GaugeHistogram);
        g.push(Metric::new(
            Labels::new(),
            Value::Histogram {
                buckets: buckets[..1].to_vec(),
                sum: Some(2.0),
                count: Some(3.0),
                created: None,
            },
        ));
        assert_eq!(
            enc(g),
            "# TYPE queue gaugehistogram\nqueue_bucket{le=\"1.0\"} 2\nqueue_bucket{le=\"+Inf\"} 3\n\
             queue_gsum 2.0\nqueue_gcount 3\n# EOF\n"
        );
        let mut s = MetricFamily::new("rpc", MetricType::Summary);
        s.push(Metric::new(
            Labels::new(),
            Value::Summary {
                quantiles: vec![Quantile {
                    quantile: 0.5,
                    value: 1.0,
                }],
                sum: Some(1.0),
                count: Some(1.0),
                created: None,
            },
        ));
        assert_eq!(
            enc(s),
            "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1.0\nrpc_sum 1.0\nrpc_count 1\n# EOF\n"
        );
    }

    #[test]
    fn info_stateset_and_timestamps() {
        let mut i = MetricFamily::new("build", MetricType::Info);
        i.push(Metric::new(Labels::from_pairs([("version", "1.0")]), Value::Info));
        assert_eq!(enc(i), "# TYPE build info\nbuild_info{version=\"1.0\"} 1\n# EOF\n");
        let mut st = MetricFamily::new("state", MetricType::StateSet);
        let mut m = Metric::new(
            Labels::from_pairs([("x", "y")]),
            Value::StateSet(vec![State {
                name: "on".into(),
                enabled: true,
            }]),
        );
        m.timestamp_ms = Some(-1500);
        st.push(m);
        assert_eq!(
            enc(st),
            "# TYPE state stateset\nstate{x=\"y\",state=\"on\"} 1 -1.5\n# EOF\n"
        );
        for (ms, want) in [(0, "0"), (5, "0.005"), (1050, "1.05"), (-5, "-0.005"), (-2000, "-2")] {
            let mut o = Vec::new();
            with_sink(&mut o, |sink| {
                let Line { buf, pos, .. } = sink.line(32);
                let p = line::seconds(buf, pos, ms);
                sink.commit(p);
            });
            assert_eq!(String::from_utf8(o).unwrap(), want, "{ms}");
        }
    }
}
