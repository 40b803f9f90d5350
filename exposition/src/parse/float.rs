//! Number parsing with the Go parsers' rules.
//!
//! Sample values accept what Go's `strconv.ParseFloat` accepts for decimal input (`1`, `-1.5e3`, `.5`, `1.`,
//! `Inf`, `+Inf`, `-inf`, `infinity`, `NaN` in any case) and reject what the Prometheus parsers reject: hexadecimal
//! floats, `_` digit separators and values that overflow. Plain integers and short decimals take a fast path that
//! is exact (one correctly rounded division); everything else goes through `str::parse::<f64>`.

use super::error::ErrorKind;

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a sample value, exemplar value or OpenMetrics timestamp.
pub(crate) fn parse_float(s: &[u8]) -> Result<f64, ErrorKind> {
    match fast_decimal(s) {
        Some((v, len)) if len == s.len() => Ok(v),
        _ => slow_float(s),
    }
}

/// The decimal `[+-]?digits[.digits]` at the start of `s` and its length, when it has at most 19 digits, at most
/// 22 of them after the point, and its digits as an integer are exactly representable (at most 2^53): then one
/// correctly rounded division by an exact power of ten gives the correctly rounded value. The caller checks what
/// follows (a value is only this decimal when a separator comes next).
#[inline]
pub(crate) fn fast_decimal(s: &[u8]) -> Option<(f64, usize)> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let sign_len = s.len() - digits.len();
    let digits = &digits[..digits.len().min(19)];
    if digits.is_empty() {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut i = 0;
    while let Some(&c) = digits.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mantissa = mantissa * 10 + u64::from(d);
        i += 1;
    }
    let mut frac_digits = 0;
    if digits.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        i = frac_start;
        while let Some(&c) = digits.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mantissa = mantissa * 10 + u64::from(d);
            i += 1;
        }
        frac_digits = i - frac_start;
        if i == 1 {
            // A lone ".".
            return None;
        }
    }
    if i == 0 || mantissa > 1 << 53 || frac_digits >= POW10.len() {
        return None;
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some((if neg { -v } else { v }, sign_len + i))
}

#[cold]
fn slow_float(s: &[u8]) -> Result<f64, ErrorKind> {
    let text = || String::from_utf8_lossy(s).into_owned();
    if s.iter().any(|c| matches!(c, b'_' | b'p' | b'P' | b'x' | b'X')) {
        return Err(ErrorKind::UnsupportedFloat { text: text() });
    }
    let str = std::str::from_utf8(s).map_err(|_| ErrorKind::InvalidFloat { text: text() })?;
    // Go accepts a sign before "inf" but not before "nan".
    let unsigned = str.strip_prefix(['+', '-']);
    if unsigned.is_some_and(|u| u.as_bytes().get(..3).is_some_and(|b| b.eq_ignore_ascii_case(b"nan"))) {
        return Err(ErrorKind::InvalidFloat { text: text() });
    }
    let v: f64 = str.parse().map_err(|_| ErrorKind::InvalidFloat { text: text() })?;
    if v.is_infinite() {
        let u = unsigned.unwrap_or(str);
        if !(u.eq_ignore_ascii_case("inf") || u.eq_ignore_ascii_case("infinity")) {
            return Err(ErrorKind::FloatOutOfRange { text: text() });
        }
    }
    Ok(v)
}

/// Parses a text-format timestamp: decimal digits only, as an `i64`.
pub(crate) fn parse_int_timestamp(s: &[u8]) -> Result<i64, ErrorKind> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ErrorKind::InvalidTimestamp {
            text: String::from_utf8_lossy(s).into_owned(),
        });
    }
    let mut v: i64 = 0;
    for &c in s {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .ok_or_else(|| ErrorKind::InvalidTimestamp {
                text: String::from_utf8_lossy(s).into_owned(),
            })?;
    }
    Ok(v)
}

/// Parses an OpenMetrics timestamp (float seconds) into milliseconds, truncating toward zero as Prometheus does.
/// Plain decimals are converted exactly (`1520879607.789` is 1520879607789 ms, where multiplying the float by
/// 1000 could give ...788.99).
pub(crate) fn parse_seconds_timestamp(s: &[u8], exemplar: bool) -> Result<i64, ErrorKind> {
    if let Some(ms) = exact_decimal_millis(s) {
        return Ok(ms);
    }
    let secs = parse_float(s).map_err(|e| match e {
        ErrorKind::InvalidFloat { text } => ErrorKind::InvalidTimestamp { text },
        other => other,
    })?;
    if !secs.is_finite() {
        let text = String::from_utf8_lossy(s).into_owned();
        return Err(if exemplar {
            ErrorKind::NonFiniteExemplarTimestamp { text }
        } else {
            ErrorKind::NonFiniteTimestamp { text }
        });
    }
    Ok((secs * 1000.0) as i64)
}

/// `[+-]?digits[.digits]` seconds as exact milliseconds (extra fraction digits truncated), when it fits.
fn exact_decimal_millis(s: &[u8]) -> Option<i64> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match memchr::memchr(b'.', body) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &b""[..]),
    };
    if (int.is_empty() && frac.is_empty()) || int.len() > 15 {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut ms: i64 = 0;
    for &c in int {
        ms = ms * 10 + i64::from(c - b'0');
    }
    for i in 0..3 {
        ms = ms * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
    }
    Some(if neg { -ms } else { ms })
}

/// An OpenMetrics number as the `le` and `quantile` labels require in strict mode: a decimal or `+Inf`/`-Inf`
/// (exact case), never NaN.
pub(crate) fn parse_strict_label_number(s: &str) -> Option<f64> {
    match s {
        "+Inf" => return Some(f64::INFINITY),
        "-Inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let b = s.as_bytes();
    let body = b.strip_prefix(b"-").or_else(|| b.strip_prefix(b"+")).unwrap_or(b);
    let (mant, exp) = match body.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut parts = mant.splitn(2, |c| *c == b'.');
    let int = parts.next().unwrap_or(b"");
    let frac = parts.next();
    let digits_ok = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if !digits_ok(int) || !frac.is_none_or(digits_ok) || (int.is_empty() && frac.is_none_or(<[u8]>::is_empty)) {
        return None;
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(b"-").or_else(|| e.strip_prefix(b"+")).unwrap_or(e);
        if e.is_empty() || !digits_ok(e) {
            return None;
        }
    }
    s.parse().ok().filter(|v: &f64| !v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_parses_them() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-1", -1.0),
            ("+1.5", 1.5),
            ("0.1", 0.1),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1.5E-3", 0.0015),
            ("0000000000000000000000000000000000000000001.2e-1", 0.12),
            ("9223372036854775808", 9223372036854775808.0),
            ("0.013300656000000001", 0.013300656000000001),
            ("2.478268416e+09", 2.478268416e9),
            ("Inf", f64::INFINITY),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
        ];
        for (s, want) in ok {
            assert_eq!(parse_float(s.as_bytes()), Ok(*want), "{s}");
        }
        for nan in ["NaN", "nan", "NAN"] {
            assert!(parse_float(nan.as_bytes()).unwrap().is_nan(), "{nan}");
        }
        for bad in [
            "", "a", "true", "1_2", "0x1p-3", "0x1P-3", "0x1", "0X1", "0b1", "0o1", "1.1.1", "1z", "+NaN", "-nan",
        ] {
            assert!(parse_float(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(matches!(parse_float(b"1e400"), Err(ErrorKind::FloatOutOfRange { .. })));
        assert!(matches!(parse_float(b"1_2"), Err(ErrorKind::UnsupportedFloat { .. })));
    }

    #[test]
    fn fast_path_matches_std() {
        for s in [
            "123.456",
            "0.1",
            "99999999999999.9",
            "-0.000001",
            "100000000000.0",
            "7476.0",
            "0",
        ] {
            assert_eq!(parse_float(s.as_bytes()).unwrap(), s.parse::<f64>().unwrap(), "{s}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_int_timestamp(b"1234567890123"), Ok(1234567890123));
        for bad in ["", "-1", "1.5", "1_2", "99999999999999999999"] {
            assert!(parse_int_timestamp(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds_timestamp(b"1.5e3", false), Ok(1_500_000));
        assert_eq!(parse_seconds_timestamp(b"1.1", false), Ok(1100));
        assert_eq!(parse_seconds_timestamp(b"1520879607.789", false), Ok(1520879607789));
        assert_eq!(parse_seconds_timestamp(b"-1.5", false), Ok(-1500));
        assert_eq!(parse_seconds_timestamp(b"0.0000000001", false), Ok(0));
        assert_eq!(parse_seconds_timestamp(b"12345678901234567890.1", false), Ok(i64::MAX));
        assert!(matches!(
            parse_seconds_timestamp(b"NaN", true),
            Err(ErrorKind::NonFiniteExemplarTimestamp { .. })
        ));
        assert!(parse_seconds_timestamp(b"Inf", false).is_err());
    }

    #[test]
    fn strict_label_numbers() {
        for ok in ["0", "1.0", "-1", "1e-04", "100000000000.0", "+Inf", "-Inf", ".5", "1."] {
            assert!(parse_strict_label_number(ok).is_some(), "{ok}");
        }
        for bad in ["+INF", "inf", "NaN", "foo", "", ".", "1e", "0x1"] {
            assert!(parse_strict_label_number(bad).is_none(), "{bad}");
        }
    }
}
