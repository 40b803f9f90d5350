//! `query` and `query_range`: parse, evaluate with the engine (on a blocking thread), and write the result in
//! Prometheus' JSON: timestamps as seconds with millisecond fractions, sample values as strings in Go's `'f'`
//! formatting, native histograms as `{count, sum, buckets: [[boundary rule, lower, upper, count], ...]}`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::api::{ApiError, ErrorType, Params, parse_duration_ms, time_param};
use crate::app::App;
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::promql::engine::histogram::HistogramOps;
use crate::promql::engine::{QueryError, QueryResult, Value};

/// Upstream's limit on points per series of a range query.
const MAX_POINTS: i64 = 11_000;

/// The parts of a successful query response.
#[derive(Debug)]
pub(super) struct QueryOutput {
    /// The response body so far: [`super::api::SUCCESS_PREFIX`] and the `data` object, as JSON text.
    pub body: String,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Infos.
    pub infos: Vec<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn query_error(e: QueryError) -> ApiError {
    let kind = match e.error_type() {
        "bad_data" => ErrorType::BadData,
        "timeout" => ErrorType::Timeout,
        "canceled" => ErrorType::Canceled,
        "internal" => ErrorType::Internal,
        _ => ErrorType::Execution,
    };
    ApiError::new(kind, e.to_string())
}

/// `GET|POST /api/v1/query`.
pub(super) async fn instant(app: &Arc<App>, params: &Params) -> Result<QueryOutput, ApiError> {
    let query = params.get("query").unwrap_or("").to_string();
    let t = time_param(params, "time", now_ms())?;
    let stats = params.get("stats").is_some_and(|s| !s.is_empty());
    let expr = app.parse_query(&query).map_err(|e| ApiError::bad_data(e.to_string()))?;
    let app2 = app.clone();
    let started = Instant::now();
    let result = run_blocking(move || app2.engine.instant_query(&*app2.storage, &query, &expr, t))
        .await?
        .map_err(query_error)?;
    Ok(output(&result, stats.then(|| started.elapsed().as_secs_f64())))
}

/// `GET|POST /api/v1/query_range`.
pub(super) async fn range(app: &Arc<App>, params: &Params) -> Result<QueryOutput, ApiError> {
    let query = params.get("query").unwrap_or("").to_string();
    let start = match params.get("start") {
        Some(_) => time_param(params, "start", 0)?,
        None => {
            return Err(ApiError::bad_data(
                "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
            ));
        }
    };
    let end = match params.get("end") {
        Some(_) => time_param(params, "end", 0)?,
        None => {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": cannot parse \"\" to a valid timestamp",
            ));
        }
    };
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start time"));
    }
    let step_text = params.get("step").unwrap_or("");
    let step = parse_duration_ms(step_text).ok_or_else(|| {
        ApiError::bad_data(format!(
            "invalid parameter \"step\": cannot parse {step_text:?} to a valid duration"
        ))
    })?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let stats = params.get("stats").is_some_and(|s| !s.is_empty());
    let expr = app.parse_query(&query).map_err(|e| ApiError::bad_data(e.to_string()))?;
    if !matches!(
        expr.value_type(),
        crate::promql::ValueType::Scalar | crate::promql::ValueType::Vector
    ) {
        return Err(ApiError::bad_data(format!(
            "invalid expression type {:?} for range query, must be Scalar or instant Vector",
            type_name(expr.value_type())
        )));
    }
    let app2 = app.clone();
    let started = Instant::now();
    let result = run_blocking(move || app2.engine.range_query(&*app2.storage, &query, &expr, start, end, step))
        .await?
        .map_err(query_error)?;
    Ok(output(&result, stats.then(|| started.elapsed().as_secs_f64())))
}

/// Runs a query evaluation (blocking work) from a request handler. On a multi-threaded runtime it runs on the
/// handler's own thread (`block_in_place`: the runtime moves its other tasks to another thread), which saves the
/// hand-off to a blocking-pool thread and back that dominates small queries; elsewhere (a current-thread runtime,
/// as in tests) it goes to the blocking pool. A panic in the evaluation becomes an internal error either way.
async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tokio::task::block_in_place(f))).map_err(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "query evaluation panicked".to_string());
            ApiError::new(ErrorType::Internal, msg)
        })
    } else {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))
    }
}

fn type_name(t: crate::promql::ValueType) -> &'static str {
    match t {
        crate::promql::ValueType::Scalar => "scalar",
        crate::promql::ValueType::Vector => "vector",
        crate::promql::ValueType::Matrix => "range vector",
        crate::promql::ValueType::String => "string",
    }
}

/// A guess of the JSON size of `v` (bytes), so that the response is written without growing its buffer.
fn size_hint(v: &Value) -> usize {
    let labels = |l: &Labels| l.iter().map(|(n, v)| n.len() + v.len() + 6).sum::<usize>() + 16;
    match v {
        Value::Scalar { .. } | Value::String { .. } => 64,
        Value::Vector(samples) => samples.iter().map(|s| labels(&s.metric) + 48).sum(),
        Value::Matrix(series) => series
            .iter()
            .map(|s| labels(&s.metric) + 32 + s.floats.len() * 32 + s.histograms.len() * 160)
            .sum(),
    }
}

fn output(result: &QueryResult, exec_seconds: Option<f64>) -> QueryOutput {
    let mut data = String::with_capacity(super::api::SUCCESS_PREFIX.len() + size_hint(&result.value) + 128);
    data.push_str(super::api::SUCCESS_PREFIX);
    data.push_str("{\"resultType\":\"");
    data.push_str(result.value.type_name());
    data.push_str("\",\"result\":");
    write_value(&mut data, &result.value);
    if let Some(secs) = exec_seconds {
        let _ = write!(
            data,
            ",\"stats\":{{\"timings\":{{\"evalTotalTime\":{secs},\"resultSortTime\":0,\"queryPreparationTime\":0,\
             \"innerEvalTime\":{secs},\"execQueueTime\":0,\"execTotalTime\":{secs}}},\"samples\":{{\
             \"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
            result.stats.total_queryable_samples, result.stats.peak_samples
        );
    }
    data.push('}');
    QueryOutput {
        body: data,
        warnings: result.annotations.warnings().map(str::to_string).collect(),
        infos: result.annotations.infos().map(str::to_string).collect(),
    }
}

/// Writes a query value as the `result` field.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Scalar { t, v } => write_point(out, *t, *v),
        Value::String { t, s } => {
            out.push('[');
            write_timestamp(out, *t);
            out.push(',');
            write_json_string(out, s);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.metric);
                match &s.h {
                    Some(h) => {
                        out.push_str(",\"histogram\":");
                        write_histogram_point(out, s.t, h);
                    }
                    None => {
                        out.push_str(",\"value\":");
                        write_point(out, s.t, s.f);
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.metric);
                if !s.floats.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, p) in s.floats.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_point(out, p.t, p.f);
                    }
                    out.push(']');
                }
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, p) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_histogram_point(out, p.t, &p.h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
}

fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, n);
        out.push(':');
        write_json_string(out, v);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    write_float(out, v);
    out.push_str("\"]");
}

fn write_histogram_point(out: &mut String, t: i64, h: &FloatHistogram) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",{\"count\":\"");
    write_float(out, h.count);
    out.push_str("\",\"sum\":\"");
    write_float(out, h.sum);
    out.push('"');
    let buckets: Vec<_> = h.buckets().into_iter().filter(|b| b.count != 0.0).collect();
    if !buckets.is_empty() {
        out.push_str(",\"buckets\":[");
        for (i, b) in buckets.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let rule = match (b.lower_inclusive, b.upper_inclusive) {
                (true, true) => 3,
                (true, false) => 1,
                (false, true) => 0,
                (false, false) => 2,
            };
            let _ = write!(out, "[{rule},\"");
            write_float(out, b.lower);
            out.push_str("\",\"");
            write_float(out, b.upper);
            out.push_str("\",\"");
            write_float(out, b.count);
            out.push_str("\"]");
        }
        out.push(']');
    }
    out.push_str("}]");
}

/// Milliseconds as seconds with up to three decimals (`1435781451.781`, `1`, `-0.5`).
pub fn write_timestamp(out: &mut String, t: i64) {
    exposition::encode::write_millis_as_seconds(out, t);
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent;
/// `NaN`, `+Inf`, `-Inf`.
pub fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if !exposition::encode::write_fixed_fast(out, v) {
        write_shortest_fixed(out, v);
    }
}

/// Appends a finite `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (and Rust's `Display`) write it: the
/// shortest digits that read back as `v`, in plain decimal notation. zmij finds the digits (written as `1370.25`,
/// `1e-7` or `6.717066e16`); they are laid out here without an exponent.
fn write_shortest_fixed(out: &mut String, v: f64) {
    let mut zb = zmij::Buffer::new();
    let s = zb.format_finite(v);
    let (s, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => {
            // Plain decimal already: only an integer's ".0" differs.
            out.push_str(s.strip_suffix(".0").unwrap_or(s));
            return;
        }
    };
    let (neg, mantissa) = match s.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, s),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits and the position of the decimal point after the first `point` of them.
    let mut digits = [0u8; 40];
    let mut nd = 0;
    let mut point = int_part.len() as i32 + exp;
    for c in int_part.bytes().chain(frac_part.bytes()) {
        if nd == 0 && c == b'0' {
            point -= 1;
        } else if nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    while nd > 0 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    // Only ASCII digits were collected.
    let digits = std::str::from_utf8(&digits[..nd]).unwrap_or("0");
    if neg {
        out.push('-');
    }
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::engine::{FPoint, Sample, Series};

    #[test]
    fn shortest_fixed_floats_match_display() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-7,
            -2.5e-8,
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            1e15,
            1e16,
            1.2345678901234567e16,
            9.007199254740993e15,
            1e21,
            123456789012345680000.0,
            18540.069300069302,
            0.000123,
            1e-5,
            6.717066e6,
        ];
        // Random bit patterns over the whole range, and values around the sizes PromQL results take.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi(i % 40 - 20));
        }
        // Rust's `Display` also writes the shortest digits in plain notation, but where two candidates are equally
        // close (the value lies exactly halfway) it rounds up, while Go (and zmij) round half to even.
        let mut ties = 0;
        let checks = values.len() * 2;
        for v in values {
            let display = format!("{v}");
            for f in [write_shortest_fixed, write_float] {
                let mut s = String::new();
                f(&mut s, v);
                assert!(!s.contains('e'), "{s}");
                assert_eq!(
                    s.parse::<f64>().ok(),
                    Some(v),
                    "{s} reads back, bits {:#x}",
                    v.to_bits()
                );
                if s != display {
                    assert_eq!(s.len(), display.len(), "{s} against {display}");
                    let last = s.bytes().last().unwrap_or(b'0') - b'0';
                    assert_eq!(last % 2, 0, "{s} against {display}: half to even");
                    ties += 1;
                }
            }
        }
        // Exact halfway cases are rare; anything more would be a real difference.
        assert!(ties * 100 < checks, "{ties} ties of {checks}");
        let mut s = String::new();
        write_shortest_fixed(&mut s, f64::from_bits(0x4304_bfcd_9474_0b32));
        assert_eq!(s, "730048651755878.2", "exactly between ...8.2 and ...8.3");
    }

    #[test]
    fn numbers_and_times_as_upstream() {
        let cases = [
            (1_435_781_451_781, "1435781451.781"),
            (1000, "1"),
            (1500, "1.5"),
            (-500, "-0.5"),
            (0, "0"),
        ];
        for (t, want) in cases {
            let mut s = String::new();
            write_timestamp(&mut s, t);
            assert_eq!(s, want);
        }
        let floats = [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1000000000000000000000"),
            (f64::NAN, "NaN"),
            (-f64::INFINITY, "-Inf"),
        ];
        for (v, want) in floats {
            let mut s = String::new();
            write_float(&mut s, v);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn values_as_json() {
        let metric: Arc<Labels> = Arc::new([("__name__", "up"), ("job", "a\"b")].into_iter().collect());
        let mut out = String::new();
        write_value(&mut out, &Value::Vector(vec![Sample::float(metric.clone(), 1000, 1.0)]));
        assert_eq!(out, r#"[{"metric":{"__name__":"up","job":"a\"b"},"value":[1,"1"]}]"#);
        let mut out = String::new();
        let series = Series {
            metric,
            floats: vec![FPoint { t: 0, f: 2.5 }, FPoint { t: 15_000, f: 3.0 }],
            ..Series::default()
        };
        write_value(&mut out, &Value::Matrix(vec![series]));
        assert_eq!(
            out,
            r#"[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"2.5"],[15,"3"]]}]"#
        );
        let mut out = String::new();
        write_value(&mut out, &Value::Scalar { t: 1, v: f64::INFINITY });
        assert_eq!(out, r#"[0.001,"+Inf"]"#);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(parsed.is_array());
    }

    #[test]
    fn histogram_buckets_with_boundary_rules() {
        use crate::model::histogram::Span;
        let h = FloatHistogram {
            schema: 0,
            count: 5.0,
            sum: 10.0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![Span { offset: 0, length: 2 }],
            positive_buckets: vec![3.0, 0.0],
            negative_spans: vec![Span { offset: 0, length: 1 }],
            negative_buckets: vec![1.0],
            ..FloatHistogram::default()
        };
        let mut out = String::new();
        write_histogram_point(&mut out, 1000, &h);
        assert_eq!(
            out,
            r#"[1,{"count":"5","sum":"10","buckets":[[1,"-1","-0.5","1"],[3,"-0.001","0.001","1"],[0,"0.5","1","3"]]}]"#
        );
    }
}
