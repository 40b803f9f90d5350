//! Text format 0.0.4 encoder, writing what the Go client's `expfmt` text encoder writes.
//!
//! Per family: `# HELP` (when set; `\` and newline escaped), `# TYPE`, then the samples. Histograms write their
//! buckets (adding `+Inf` from the count when missing), `_sum` and `_count`; summaries their quantiles, `_sum` and
//! `_count`. Types the format lacks are mapped: a gauge histogram becomes a histogram, an info family a gauge named
//! `<name>_info`, a stateset a gauge with one series per state labelled `<name>="<state>"`. Exemplars, UNIT and
//! `_created` are OpenMetrics-only and not written. Families without metrics are skipped, as Go skips them.

use super::float::{write_float, write_int};
use crate::model::{Labels, MetricFamily, MetricType, Value};

/// Writes `families` in text format 0.0.4.
pub fn encode_text(families: &[MetricFamily], out: &mut Vec<u8>) {
    for fam in families {
        if fam.metrics.is_empty() {
            continue;
        }
        let info_name;
        let name: &str = if fam.metric_type == MetricType::Info {
            info_name = format!("{}_info", fam.name);
            &info_name
        } else {
            &fam.name
        };
        if let Some(help) = &fam.help {
            out.extend_from_slice(b"# HELP ");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            escape_help(out, help, false);
            out.push(b'\n');
        }
        out.extend_from_slice(b"# TYPE ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(fam.metric_type.as_text_str().as_bytes());
        out.push(b'\n');
        for m in &fam.metrics {
            let ts = m.timestamp_ms;
            let labels = &mut SeriesLabels::new(&m.labels);
            match &m.value {
                Value::Counter { total: v, .. } | Value::Gauge(v) | Value::Unknown(v) => {
                    sample(out, name, "", labels, None, *v, ts);
                }
                Value::Info => sample(out, name, "", labels, None, 1.0, ts),
                Value::StateSet(states) => {
                    for s in states {
                        let v = if s.enabled { 1.0 } else { 0.0 };
                        sample(out, name, "", labels, Some((name, Extra::Str(&s.name))), v, ts);
                    }
                }
                Value::Histogram {
                    buckets, sum, count, ..
                } => {
                    for b in buckets {
                        let le = Some(("le", Extra::Float(b.upper_bound)));
                        sample(out, name, "_bucket", labels, le, b.cumulative_count, ts);
                    }
                    let has_inf = buckets.last().is_some_and(|b| b.upper_bound == f64::INFINITY);
                    if let (false, Some(c)) = (has_inf, count) {
                        let le = Some(("le", Extra::Float(f64::INFINITY)));
                        sample(out, name, "_bucket", labels, le, *c, ts);
                    }
                    sum_count(out, name, labels, *sum, *count, ts);
                }
                Value::Summary {
                    quantiles, sum, count, ..
                } => {
                    for q in quantiles {
                        let ql = Some(("quantile", Extra::Float(q.quantile)));
                        sample(out, name, "", labels, ql, q.value, ts);
                    }
                    sum_count(out, name, labels, *sum, *count, ts);
                }
            }
        }
    }
}

fn sum_count(
    out: &mut Vec<u8>,
    name: &str,
    labels: &mut SeriesLabels<'_>,
    sum: Option<f64>,
    count: Option<f64>,
    ts: Option<i64>,
) {
    if let Some(s) = sum {
        sample(out, name, "_sum", labels, None, s, ts);
    }
    if let Some(c) = count {
        sample(out, name, "_count", labels, None, c, ts);
    }
}

/// The value of an extra label (`le`, `quantile`, a stateset's state).
#[derive(Clone, Copy)]
pub(super) enum Extra<'a> {
    Float(f64),
    OmFloat(f64),
    Str(&'a str),
}

fn sample(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &mut SeriesLabels<'_>,
    extra: Option<(&str, Extra<'_>)>,
    value: f64,
    ts: Option<i64>,
) {
    out.extend_from_slice(name.as_bytes());
    if !suffix.is_empty() {
        out.extend_from_slice(suffix.as_bytes());
    }
    labels.write(out, extra);
    out.push(b' ');
    write_float(out, value);
    if let Some(ts) = ts {
        out.push(b' ');
        write_int(out, ts);
    }
    out.push(b'\n');
}

/// The labels of one metric, written once: the later lines of a histogram or summary copy the first line's label
/// pairs from the output instead of escaping them again.
pub(super) struct SeriesLabels<'a> {
    labels: &'a Labels,
    /// Where the first line's `a="1",b="2"` is in the output.
    written: Option<(usize, usize)>,
}

impl<'a> SeriesLabels<'a> {
    pub(super) fn new(labels: &'a Labels) -> SeriesLabels<'a> {
        SeriesLabels { labels, written: None }
    }

    /// Writes `{a="1",b="2"}` (nothing when there are no labels and no extra label), with the extra label last.
    #[inline]
    pub(super) fn write(&mut self, out: &mut Vec<u8>, extra: Option<(&str, Extra<'_>)>) {
        if self.labels.is_empty() {
            if let Some(extra) = extra {
                out.push(b'{');
                write_extra(out, extra);
                out.push(b'}');
            }
            return;
        }
        out.push(b'{');
        match self.written {
            Some((start, end)) => out.extend_from_within(start..end),
            None => {
                let start = out.len();
                write_pairs(out, self.labels);
                self.written = Some((start, out.len()));
            }
        }
        if let Some(extra) = extra {
            out.push(b',');
            write_extra(out, extra);
        }
        out.push(b'}');
    }
}

/// Writes `a="1",b="2"`.
#[inline]
fn write_pairs(out: &mut Vec<u8>, labels: &Labels) {
    let mut first = true;
    for l in labels {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(l.name.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_label_value(out, &l.value);
        out.push(b'"');
    }
}

/// Writes `name="value"` of an extra label.
fn write_extra(out: &mut Vec<u8>, (name, value): (&str, Extra<'_>)) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    match value {
        Extra::Float(f) => write_float(out, f),
        Extra::OmFloat(f) => super::float::write_om_float(out, f),
        Extra::Str(s) => escape_label_value(out, s),
    }
    out.push(b'"');
}

/// Writes `{a="1",b="2"}` (nothing when there are no labels), as exemplars need.
pub(super) fn write_labels(out: &mut Vec<u8>, labels: &Labels) {
    SeriesLabels::new(labels).write(out, None);
}

/// Escapes a label value: `\` -> `\\`, `"` -> `\"`, newline -> `\n`.
///
/// Values are copied eight bytes at a time while a filter looks for bytes that may need escaping (below `#`, or
/// `\`); the last partial word is copied as the overlapping last eight bytes. Only when the filter hits is the
/// copy undone and the value escaped byte by byte.
#[inline]
pub(super) fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    let start = out.len();
    if copy_unless_special(out, bytes) {
        return;
    }
    out.truncate(start);
    for &c in bytes {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(c),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bits set for bytes of `x` that may need escaping: below `#` (0x23: newline, `"`, also space and
/// controls) or equal to `\`. The lowest such byte is always flagged; a flag above it may be spurious, and a
/// spurious flag only sends the value to the exact path.
#[inline]
fn maybe_special(x: u64) -> u64 {
    let low = x.wrapping_sub(ONES * 0x23) & !x;
    let y = x ^ (ONES * u64::from(b'\\'));
    let backslash = y.wrapping_sub(ONES) & !y;
    (low | backslash) & HIGHS
}

/// Appends `bytes` and returns true, or returns false (having appended some of it) when a byte may need escaping.
#[inline]
fn copy_unless_special(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n >= 8 {
        let mut flags = 0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            flags |= maybe_special(u64::from_le_bytes(word));
            out.extend_from_slice(&word);
        }
        let rem = chunks.remainder().len();
        if rem != 0 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[n - 8..]);
            flags |= maybe_special(u64::from_le_bytes(word));
            out.truncate(out.len() + rem - 8);
            out.extend_from_slice(&word);
        }
        flags == 0
    } else if n >= 4 {
        let mut lo = [0u8; 4];
        let mut hi = [0u8; 4];
        lo.copy_from_slice(&bytes[..4]);
        hi.copy_from_slice(&bytes[n - 4..]);
        let word = u64::from(u32::from_le_bytes(lo)) | u64::from(u32::from_le_bytes(hi)) << 32;
        out.extend_from_slice(&lo);
        out.truncate(out.len() + n - 8);
        out.extend_from_slice(&hi);
        maybe_special(word) == 0
    } else {
        for &c in bytes {
            if c < 0x23 || c == b'\\' {
                return false;
            }
            out.push(c);
        }
        true
    }
}

/// Escapes HELP text: `\` -> `\\`, newline -> `\n`, and for OpenMetrics also `"` -> `\"`.
pub(super) fn escape_help(out: &mut Vec<u8>, v: &str, quote: bool) {
    for &c in v.as_bytes() {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            _ => out.push(c),
        }
    }
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
    fn word_copy_and_escape_agree_with_a_plain_scan() {
        let alphabet = [b'a', b'\\', b'"', b'\n', 0x80, 0xff, b'0', 0x5c ^ 0x80];
        let mut x = 0x9E37_79B9u64;
        for len in 0..40 {
            for _ in 0..200 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if x % 5 == 0 {
                            alphabet[(x >> 8) as usize % alphabet.len()]
                        } else {
                            b'x'
                        }
                    })
                    .collect();
                let plain = v.iter().any(|c| matches!(c, b'\\' | b'"' | b'\n'));
                let mut out = b"x".to_vec();
                escape_label_value(&mut out, std::str::from_utf8(&v).unwrap_or(""));
                if std::str::from_utf8(&v).is_ok() {
                    let mut want = b"x".to_vec();
                    for &c in &v {
                        match c {
                            b'\\' => want.extend_from_slice(b"\\\\"),
                            b'"' => want.extend_from_slice(b"\\\""),
                            b'\n' => want.extend_from_slice(b"\\n"),
                            _ => want.push(c),
                        }
                    }
                    assert_eq!(out, want, "{v:?}");
                }
                let any = v.iter().any(|&c| c < 0x23 || c == b'\\');
                assert_eq!(!copy_unless_special(&mut Vec::new(), &v), any, "{v:?} plain={plain}");
            }
        }
    }

    #[test]
    fn empty_families_are_skipped() {
        assert_eq!(enc(MetricFamily::new("empty", MetricType::Gauge).with_help("x")), "");
    }
}
