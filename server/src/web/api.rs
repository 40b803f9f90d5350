//! The `/api/v1` response envelope and helpers shared by the endpoints: JSON bodies, error types with their HTTP
//! status codes (as Prometheus maps them), form/query parameter parsing and time formatting.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use exposition::http::{RouteRequest, RouteResponse};
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use serde_json::{Value, json};

/// The API's error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// A malformed request (400).
    BadData,
    /// Evaluation failed (422).
    Execution,
    /// The query timed out (503).
    Timeout,
    /// The query was cancelled (503).
    Canceled,
    /// An internal error (500).
    Internal,
    /// No such resource (404).
    NotFound,
    /// The feature is disabled or the server not ready (503).
    Unavailable,
}

impl ErrorType {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    /// The HTTP status code Prometheus answers with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An API error: type and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The type.
    pub kind: ErrorType,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// An error of `kind`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }
}

/// `{"status":"success","data":...}` with optional warnings and infos.
pub fn success(data: Value, warnings: &[String], infos: &[String]) -> RouteResponse {
    let mut body = json!({"status": "success", "data": data});
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    if !infos.is_empty() {
        body["infos"] = json!(infos);
    }
    json_response(StatusCode::OK, &body)
}

/// How a success envelope starts: [`success_prefixed`] takes a body that starts with this and goes on with the
/// `data` JSON.
pub const SUCCESS_PREFIX: &str = "{\"status\":\"success\",\"data\":";

/// A success envelope from `body`: [`SUCCESS_PREFIX`] followed by the `data` JSON, written in place (large
/// results are not copied).
pub fn success_prefixed(mut body: String, warnings: &[String], infos: &[String]) -> RouteResponse {
    if !warnings.is_empty() {
        body.push_str(",\"warnings\":");
        body.push_str(&serde_json::to_string(warnings).unwrap_or_default());
    }
    if !infos.is_empty() {
        body.push_str(",\"infos\":");
        body.push_str(&serde_json::to_string(infos).unwrap_or_default());
    }
    body.push('}');
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `{"status":"error","errorType":...,"error":...}` with the type's status code.
pub fn error(err: &ApiError) -> RouteResponse {
    let body = json!({"status": "error", "errorType": err.kind.as_str(), "error": err.message});
    json_response(err.kind.status(), &body)
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &Value) -> RouteResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<String>) -> RouteResponse {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.into())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Request parameters: the URL query plus, for POST with `application/x-www-form-urlencoded`, the form body
/// (as Go's `ParseForm`: both, body values first).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, Vec<String>>);

impl Params {
    /// Collects the parameters of `req`.
    pub fn from_request(req: &RouteRequest) -> Params {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form
            && matches!(
                *req.method(),
                hyper::Method::POST | hyper::Method::PUT | hyper::Method::PATCH
            )
        {
            for (k, v) in parse_urlencoded(req.body()) {
                map.entry(k).or_default().push(v);
            }
        }
        for (k, v) in parse_urlencoded(req.uri().query().unwrap_or("").as_bytes()) {
            map.entry(k).or_default().push(v);
        }
        Params(map)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }
}

/// Parses `a=1&b=x+y` (percent-decoding, `+` as space).
pub fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.Time` marshals to JSON (`2006-01-02T15:04:05.999999999Z`,
/// trailing zeros of the fraction dropped). `None` is Go's zero time.
pub fn rfc3339(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let whole = d.as_secs() as i64 + i64::from(d.subsec_nanos() > 0);
            (
                -whole,
                if d.subsec_nanos() > 0 {
                    1_000_000_000 - d.subsec_nanos()
                } else {
                    0
                },
            )
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A label set as a JSON object.
pub fn labels_json(labels: &crate::model::labels::Labels) -> Value {
    let map: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_formats_like_go() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(Some(UNIX_EPOCH)), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_484_662_064, 723_715_405);
        assert_eq!(rfc3339(Some(t)), "2017-01-17T14:07:44.723715405Z");
        let t = UNIX_EPOCH + Duration::new(951_782_400, 500_000_000);
        assert_eq!(rfc3339(Some(t)), "2000-02-29T00:00:00.5Z");
    }

    #[test]
    fn urlencoded() {
        let got = parse_urlencoded(b"query=up%7Bjob%3D%22a%22%7D&x=a+b&bad=%zz&match[]=1&match%5B%5D=2&end=%");
        assert_eq!(
            got,
            vec![
                ("query".to_string(), "up{job=\"a\"}".to_string()),
                ("x".to_string(), "a b".to_string()),
                ("bad".to_string(), "%zz".to_string()),
                ("match[]".to_string(), "1".to_string()),
                ("match[]".to_string(), "2".to_string()),
                ("end".to_string(), "%".to_string()),
            ]
        );
    }

    #[test]
    fn error_status_codes() {
        assert_eq!(error(&ApiError::bad_data("x")).status(), 400);
        assert_eq!(error(&ApiError::new(ErrorType::Execution, "x")).status(), 422);
        assert_eq!(error(&ApiError::new(ErrorType::Timeout, "x")).status(), 503);
    }
}

/// The earliest timestamp the API accepts for "no start" (upstream's `MinTime`, in ms).
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
/// The latest timestamp for "no end" (upstream's `MaxTime`, in ms).
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

/// Parses an API timestamp: Unix seconds (fractions allowed, rounded to milliseconds) or RFC 3339.
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() {
            return None;
        }
        let whole = secs.trunc();
        let frac = ((secs - whole) * 1000.0).round();
        let ms = whole * 1000.0 + frac;
        if ms < MIN_TIME_MS as f64 || ms > MAX_TIME_MS as f64 {
            return None;
        }
        return Some(ms as i64);
    }
    parse_rfc3339(text)
}

/// `parse_time` for an optional parameter, with upstream's error wording.
pub fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(default),
        Some(text) => parse_time(text).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"
            ))
        }),
    }
}

/// Parses an API duration in milliseconds: float seconds or a Prometheus duration (`5m`, `1h30m`).
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
            return None;
        }
        return Some(ms.round() as i64);
    }
    crate::config::types::Duration::parse(text)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 3600 + om * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    Some(secs * 1000 + nanos / 1_000_000)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn times_parse_like_upstream() {
        let cases = [
            ("1435781451.781", Some(1_435_781_451_781)),
            ("1435781451", Some(1_435_781_451_000)),
            ("-1.5", Some(-1500)),
            ("2015-07-01T20:10:51.781Z", Some(1_435_781_451_781)),
            ("2015-07-01T22:10:51.781+02:00", Some(1_435_781_451_781)),
            ("2015-07-01T20:10:51Z", Some(1_435_781_451_000)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("nope", None),
            ("2015-13-01T20:10:51Z", None),
            ("NaN", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time(text), want, "{text}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15"), Some(15_000));
        assert_eq!(parse_duration_ms("0.5"), Some(500));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("x"), None);
    }
}
