//! Independent readers accept what the encoders write: Prometheus' `promtool check metrics` (Debian package
//! `prometheus`) lints our text 0.0.4 output, and the Python `prometheus_client` OpenMetrics parser (PyPI) reads
//! our OpenMetrics output back to the same samples. `.ci/run` installs both.

use std::io::Write;
use std::process::{Command, Stdio};

use exposition::encode::{Format, encode};
use exposition::model::{Bucket, Exemplar, Labels, Metric, MetricFamily, MetricType, Quantile, State, Value};

fn families() -> Vec<MetricFamily> {
    let mut out = Vec::new();

    let mut c = MetricFamily::new("http_requests_total", MetricType::Counter).with_help("Total HTTP requests.");
    for (code, total) in [("200", 1027.0), ("500", 3.0)] {
        c.push(Metric::new(
            Labels::from_pairs([("code", code), ("path", "/api/\"v1\"\\x\nnext")]),
            Value::Counter {
                total,
                created: Some(1_600_000_000.5),
                exemplar: Some(Exemplar {
                    labels: Labels::from_pairs([("trace_id", "4bf92f3577b34da6")]),
                    value: 0.25,
                    timestamp_ms: Some(1_600_000_100_123),
                }),
            },
        ));
    }
    out.push(c);

    let mut g = MetricFamily::new("node_memory_free_bytes", MetricType::Gauge)
        .with_help("Free memory, with \\ and \"quotes\".")
        .with_unit("bytes");
    g.push(Metric::new(Labels::new(), Value::Gauge(6.717066e6)));
    let mut stamped = Metric::new(Labels::from_pairs([("numa", "1")]), Value::Gauge(-3.5e-7));
    stamped.timestamp_ms = Some(1_700_000_000_250);
    g.push(stamped);
    out.push(g);

    let mut u = MetricFamily::new("legacy_value", MetricType::Unknown).with_help("An untyped value.");
    u.push(Metric::new(Labels::from_pairs([("k", "v")]), Value::Unknown(42.0)));
    out.push(u);

    let mut h = MetricFamily::new("request_duration_seconds", MetricType::Histogram)
        .with_help("Request latency.")
        .with_unit("seconds");
    h.push(Metric::new(
        Labels::from_pairs([("method", "GET")]),
        Value::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.005,
                    cumulative_count: 2.0,
                    exemplar: None,
                },
                Bucket {
                    upper_bound: 0.5,
                    cumulative_count: 7.0,
                    exemplar: Some(Exemplar {
                        labels: Labels::from_pairs([("trace_id", "abc")]),
                        value: 0.3,
                        timestamp_ms: None,
                    }),
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    cumulative_count: 9.0,
                    exemplar: None,
                },
            ],
            sum: Some(2.75),
            count: Some(9.0),
            created: Some(1_600_000_000.0),
        },
    ));
    out.push(h);

    let mut gh = MetricFamily::new("queue_size_items", MetricType::GaugeHistogram).with_help("Queue sizes.");
    gh.push(Metric::new(
        Labels::new(),
        Value::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 10.0,
                    cumulative_count: 4.0,
                    exemplar: None,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    cumulative_count: 5.0,
                    exemplar: None,
                },
            ],
            sum: Some(31.0),
            count: Some(5.0),
            created: None,
        },
    ));
    out.push(gh);

    let mut s = MetricFamily::new("rpc_duration_seconds", MetricType::Summary).with_help("RPC latency.");
    s.push(Metric::new(
        Labels::from_pairs([("service", "auth")]),
        Value::Summary {
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 0.0123,
                },
                Quantile {
                    quantile: 0.99,
                    value: 1.5e-5,
                },
            ],
            sum: Some(17.25),
            count: Some(1200.0),
            created: Some(1_600_000_000.25),
        },
    ));
    out.push(s);

    let mut i = MetricFamily::new("target", MetricType::Info).with_help("Target metadata.");
    i.push(Metric::new(
        Labels::from_pairs([("env", "prod"), ("version", "1.2.3")]),
        Value::Info,
    ));
    out.push(i);

    let mut st = MetricFamily::new("feature_state", MetricType::StateSet).with_help("Feature flags.");
    st.push(Metric::new(
        Labels::from_pairs([("host", "a")]),
        Value::StateSet(vec![
            State {
                name: "on".into(),
                enabled: true,
            },
            State {
                name: "off".into(),
                enabled: false,
            },
        ]),
    ));
    out.push(st);
    for f in &out {
        f.validate().unwrap();
    }
    out
}

fn run(cmd: &mut Command, input: &[u8]) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?} ({e}); .ci/run installs it"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn promtool_check_metrics_accepts_text_output() {
    let mut body = Vec::new();
    encode(&families(), Format::Text, &mut body);
    let (ok, stdout, stderr) = run(Command::new("promtool").args(["check", "metrics"]), &body);
    assert!(
        ok && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics rejected or linted our output:\n{stdout}{stderr}\n---\n{}",
        String::from_utf8_lossy(&body)
    );
}

/// Python reads OpenMetrics text from stdin and prints one line per sample:
/// `name<TAB>sorted labels as JSON<TAB>value repr<TAB>timestamp<TAB>exemplar`.
const PY_READER: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        ex = ""
        if s.exemplar is not None:
            ex = json.dumps([sorted(s.exemplar.labels.items()), float(s.exemplar.value),
                             None if s.exemplar.timestamp is None else float(s.exemplar.timestamp)])
        ts = "" if s.timestamp is None else repr(float(s.timestamp))
        print("\t".join([fam.type, s.name, json.dumps(sorted(s.labels.items())), repr(float(s.value)), ts, ex]))
"#;

fn py_float(v: f64) -> String {
    // Python's repr of a float: shortest round-trip digits, like Rust's `{:?}` but with Python's exponent style.
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let out = std::process::Command::new("python3")
        .args(["-c", &format!("print(repr(float.fromhex('{}')))", hex(v))])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn hex(v: f64) -> String {
    let bits = v.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        format!("{sign}0x0.{mant:013x}p-1022")
    } else {
        format!("{sign}0x1.{mant:013x}p{}", exp - 1023)
    }
}

fn json_labels(pairs: &[(String, String)]) -> String {
    let mut v: Vec<(String, String)> = pairs.to_vec();
    v.sort();
    let items: Vec<String> = v
        .iter()
        .map(|(k, val)| format!("[{}, {}]", json_str(k), json_str(val)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The samples OpenMetrics defines for our model, computed from the model (not from our encoder's output).
fn expected_samples(fams: &[MetricFamily]) -> Vec<String> {
    let mut out = Vec::new();
    for f in fams {
        let name = f.openmetrics_name();
        let ty = f.metric_type.as_openmetrics_str();
        for m in &f.metrics {
            let base: Vec<(String, String)> = m.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
            let ts = m.timestamp_ms.map(|t| py_float(t as f64 / 1000.0)).unwrap_or_default();
            let mut push = |suffix: &str, extra: Option<(&str, String)>, v: f64, ex: Option<&Exemplar>| {
                let mut labels = base.clone();
                if let Some((k, val)) = extra {
                    labels.push((k.to_string(), val));
                }
                let ex = ex
                    .map(|e| {
                        let pairs: Vec<(String, String)> =
                            e.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                        let ts = e
                            .timestamp_ms
                            .map(|t| py_float(t as f64 / 1000.0))
                            .unwrap_or_else(|| "null".into());
                        format!("[{}, {}, {}]", json_labels(&pairs), py_float(e.value), ts)
                    })
                    .unwrap_or_default();
                out.push(format!(
                    "{ty}\t{name}{suffix}\t{}\t{}\t{ts}\t{ex}",
                    json_labels(&labels),
                    py_float(v)
                ));
            };
            match &m.value {
                Value::Counter {
                    total,
                    created,
                    exemplar,
                } => {
                    push("_total", None, *total, exemplar.as_ref());
                    if let Some(c) = created {
                        push("_created", None, *c, None);
                    }
                }
                Value::Gauge(v) | Value::Unknown(v) => push("", None, *v, None),
                Value::Info => push("_info", None, 1.0, None),
                Value::StateSet(states) => {
                    for s in states {
                        push(
                            "",
                            Some((name, s.name.clone())),
                            if s.enabled { 1.0 } else { 0.0 },
                            None,
                        );
                    }
                }
                Value::Histogram {
                    buckets,
                    sum,
                    count,
                    created,
                } => {
                    let gauge = f.metric_type == MetricType::GaugeHistogram;
                    for b in buckets {
                        let le = if b.upper_bound.is_infinite() {
                            "+Inf".to_string()
                        } else {
                            let mut s = exposition::encode::format_float(b.upper_bound);
                            if !s.contains(['.', 'e']) {
                                s.push_str(".0");
                            }
                            s
                        };
                        push("_bucket", Some(("le", le)), b.cumulative_count, b.exemplar.as_ref());
                    }
                    if let Some(s) = sum {
                        push(if gauge { "_gsum" } else { "_sum" }, None, *s, None);
                    }
                    if let Some(c) = count {
                        push(if gauge { "_gcount" } else { "_count" }, None, *c, None);
                    }
                    if let Some(c) = created {
                        push("_created", None, *c, None);
                    }
                }
                Value::Summary {
                    quantiles,
                    sum,
                    count,
                    created,
                } => {
                    for q in quantiles {
                        let mut qs = exposition::encode::format_float(q.quantile);
                        if !qs.contains(['.', 'e']) {
                            qs.push_str(".0");
                        }
                        push("", Some(("quantile", qs)), q.value, None);
                    }
                    if let Some(s) = sum {
                        push("_sum", None, *s, None);
                    }
                    if let Some(c) = count {
                        push("_count", None, *c, None);
                    }
                    if let Some(c) = created {
                        push("_created", None, *c, None);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn python_prometheus_client_reads_openmetrics_output_to_the_same_samples() {
    let fams = families();
    let mut body = Vec::new();
    encode(&fams, Format::OpenMetrics, &mut body);
    let (ok, stdout, stderr) = run(Command::new("python3").args(["-c", PY_READER]), &body);
    assert!(
        ok,
        "prometheus_client could not parse our OpenMetrics output:\n{stderr}\n---\n{}",
        String::from_utf8_lossy(&body)
    );
    let got: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let want = expected_samples(&fams);
    assert_eq!(got, want, "\n---\n{}", String::from_utf8_lossy(&body));
}
