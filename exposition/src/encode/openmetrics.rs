//! OpenMetrics 1.0 encoder, writing what the Go client's `expfmt` OpenMetrics encoder writes.
//!
//! Metadata uses the OpenMetrics family name: a counter's `_total` suffix is dropped there and put on its samples.
//! Floats always carry `.0` or an exponent; bucket counts and `_count` are integers when integral; timestamps are
//! seconds. Counters, histograms and summaries write `_created` when set; exemplars follow their sample as
//! ` # {labels} value [timestamp]`. The output ends with `# EOF`.

use super::float::{write_float, write_om_float};
use super::text::{Extra, SeriesLabels, escape_help, write_labels};
use crate::model::{Exemplar, Labels, MetricFamily, MetricType, Value};

/// Writes `families` in OpenMetrics 1.0 text, ending with `# EOF`.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut Vec<u8>) {
    for fam in families {
        if fam.metrics.is_empty() {
            continue;
        }
        let name = fam.openmetrics_name();
        if let Some(help) = &fam.help {
            meta(out, "HELP", name);
            escape_help(out, help, true);
            out.push(b'\n');
        }
        meta(out, "TYPE", name);
        out.extend_from_slice(fam.metric_type.as_openmetrics_str().as_bytes());
        out.push(b'\n');
        if let Some(unit) = &fam.unit {
            meta(out, "UNIT", name);
            out.extend_from_slice(unit.as_bytes());
            out.push(b'\n');
        }
        let gauge_hist = fam.metric_type == MetricType::GaugeHistogram;
        for m in &fam.metrics {
            let s = &mut Sampler {
                name,
                labels: SeriesLabels::new(&m.labels),
                ts: m.timestamp_ms,
            };
            match &m.value {
                Value::Counter {
                    total,
                    created,
                    exemplar,
                } => {
                    s.float(out, "_total", None, *total, exemplar.as_ref());
                    s.created(out, *created);
                }
                Value::Gauge(v) | Value::Unknown(v) => s.float(out, "", None, *v, None),
                Value::Info => s.count(out, "_info", None, 1.0, None),
                Value::StateSet(states) => {
                    for st in states {
                        let v = if st.enabled { 1.0 } else { 0.0 };
                        s.count(out, "", Some((name, Extra::Str(&st.name))), v, None);
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
                        s.count(out, "_bucket", le, b.cumulative_count, b.exemplar.as_ref());
                    }
                    let has_inf = buckets.last().is_some_and(|b| b.upper_bound == f64::INFINITY);
                    if let (false, Some(c)) = (has_inf, count) {
                        let le = Some(("le", Extra::OmFloat(f64::INFINITY)));
                        s.count(out, "_bucket", le, *c, None);
                    }
                    let (sum_suffix, count_suffix) = if gauge_hist {
                        ("_gsum", "_gcount")
                    } else {
                        ("_sum", "_count")
                    };
                    if let Some(v) = sum {
                        s.float(out, sum_suffix, None, *v, None);
                    }
                    if let Some(c) = count {
                        s.count(out, count_suffix, None, *c, None);
                    }
                    s.created(out, *created);
                }
                Value::Summary {
                    quantiles,
                    sum,
                    count,
                    created,
                } => {
                    for q in quantiles {
                        s.float(out, "", Some(("quantile", Extra::OmFloat(q.quantile))), q.value, None);
                    }
                    if let Some(v) = sum {
                        s.float(out, "_sum", None, *v, None);
                    }
                    if let Some(c) = count {
                        s.count(out, "_count", None, *c, None);
                    }
                    s.created(out, *created);
                }
            }
        }
    }
    out.extend_from_slice(b"# EOF\n");
}

fn meta(out: &mut Vec<u8>, keyword: &str, name: &str) {
    out.extend_from_slice(b"# ");
    out.extend_from_slice(keyword.as_bytes());
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
}

/// Writes the samples of one metric.
struct Sampler<'a> {
    name: &'a str,
    labels: SeriesLabels<'a>,
    ts: Option<i64>,
}

impl Sampler<'_> {
    /// A sample whose value is a float (`.0` added when integral).
    fn float(
        &mut self,
        out: &mut Vec<u8>,
        suffix: &str,
        extra: Option<(&str, Extra<'_>)>,
        v: f64,
        ex: Option<&Exemplar>,
    ) {
        self.head(out, suffix, extra);
        write_om_float(out, v);
        self.tail(out, ex);
    }

    /// A sample whose value is a count (written as an integer when integral).
    fn count(
        &mut self,
        out: &mut Vec<u8>,
        suffix: &str,
        extra: Option<(&str, Extra<'_>)>,
        v: f64,
        ex: Option<&Exemplar>,
    ) {
        self.head(out, suffix, extra);
        write_float(out, v);
        self.tail(out, ex);
    }

    fn created(&mut self, out: &mut Vec<u8>, created: Option<f64>) {
        if let Some(c) = created {
            self.float(out, "_created", None, c, None);
        }
    }

    fn head(&mut self, out: &mut Vec<u8>, suffix: &str, extra: Option<(&str, Extra<'_>)>) {
        out.extend_from_slice(self.name.as_bytes());
        if !suffix.is_empty() {
            out.extend_from_slice(suffix.as_bytes());
        }
        self.labels.write(out, extra);
        out.push(b' ');
    }

    fn tail(&self, out: &mut Vec<u8>, ex: Option<&Exemplar>) {
        if let Some(ts) = self.ts {
            out.push(b' ');
            write_seconds(out, ts);
        }
        if let Some(ex) = ex {
            out.extend_from_slice(b" # ");
            write_labels_braced(out, &ex.labels);
            out.push(b' ');
            write_om_float(out, ex.value);
            if let Some(ts) = ex.timestamp_ms {
                out.push(b' ');
                write_seconds(out, ts);
            }
        }
        out.push(b'\n');
    }
}

/// Exemplar labels are always braced, even when empty.
fn write_labels_braced(out: &mut Vec<u8>, labels: &Labels) {
    if labels.is_empty() {
        out.extend_from_slice(b"{}");
    } else {
        write_labels(out, labels);
    }
}

/// Writes a millisecond timestamp as seconds, exactly (`1520879607.789`, `1520879607`).
fn write_seconds(out: &mut Vec<u8>, ms: i64) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    if secs < 0 && frac != 0 {
        // -0.5 s is -1 s + 500 ms; write it as a negative decimal.
        let total = -ms;
        out.push(b'-');
        super::float::write_int(out, total / 1000);
        super::float::write_frac_millis(out, (total % 1000) as u64);
        return;
    }
    super::float::write_int(out, secs);
    super::float::write_frac_millis(out, frac as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, Metric, Quantile, State};

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
            write_seconds(&mut o, ms);
            assert_eq!(String::from_utf8(o).unwrap(), want, "{ms}");
        }
    }
}
