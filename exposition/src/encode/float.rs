//! Float formatting as the Go clients write numbers.
//!
//! Text format 0.0.4 writes values as Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that
//! round-trip, in exponent form when the decimal exponent is below -4 or at least 6 (`6.717066e+06`,
//! `6.03708e-05`), with `+Inf`, `-Inf` and `NaN` for the special values. OpenMetrics writes the same but makes
//! every float visibly a float: a result without `.` or `e` gets `.0` (`1.0`, `17.0`).

use std::fmt::Write as _;

/// Appends `v` as text format 0.0.4 writes it.
#[inline]
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if let Some(i) = small_integer(v) {
        write_int(out, i);
        if i == 0 && v.is_sign_negative() {
            // Go prints negative zero as "-0".
            out.insert(out.len() - 1, b'-');
        }
        return;
    }
    write_g(out, v);
}

/// Appends `v` as OpenMetrics writes floats: like [`write_float`], with `.0` added to integral results.
#[inline]
pub fn write_om_float(out: &mut Vec<u8>, v: f64) {
    let start = out.len();
    write_float(out, v);
    let written = &out[start..];
    if !written.iter().any(|c| matches!(c, b'.' | b'e' | b'I' | b'N')) {
        out.extend_from_slice(b".0");
    }
}

/// Formats `v` as text format 0.0.4 writes it.
pub fn format_float(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_float(&mut out, v);
    // Only ASCII is ever written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends a decimal integer.
#[inline]
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Integral values whose decimal exponent is below 6 print as plain integers in Go's `'g'` form.
#[inline]
fn small_integer(v: f64) -> Option<i64> {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        Some(v as i64)
    } else {
        None
    }
}

/// A fixed stack buffer for `core::fmt` output, so formatting allocates nothing.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn write_g(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`; rearrange them as Go's `%g` would.
    let mut sb = StackBuf { buf: [0; 40], len: 0 };
    if write!(sb, "{v:e}").is_err() {
        out.extend_from_slice(v.to_string().as_bytes());
        return;
    }
    let s = &sb.buf[..sb.len];
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let e_pos = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let (mantissa, exp_part) = s.split_at(e_pos);
    let exp: i32 = std::str::from_utf8(exp_part.get(1..).unwrap_or(b"0"))
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in mantissa {
        if c != b'.' && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let digits = &digits[..nd];
    if neg {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        write_int(out, i64::from(a));
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            for _ in digits.len()..int_len {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn om(v: f64) -> String {
        let mut o = Vec::new();
        write_om_float(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn go_g_format() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (6717066.0, "6.717066e+06"),
            (1234567.5, "1.2345675e+06"),
            (123456.5, "123456.5"),
            (6.03708e-05, "6.03708e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (2.5e-7, "2.5e-07"),
            (1e21, "1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
            (-0.25, "-0.25"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (8.589934592e+09, "8.589934592e+09"),
            (1.8446744073709552e19, "1.8446744073709552e+19"),
            (100.0, "100"),
            (1e100, "1e+100"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn openmetrics_floats_always_look_like_floats() {
        assert_eq!(om(1.0), "1.0");
        assert_eq!(om(0.0), "0.0");
        assert_eq!(om(17.0), "17.0");
        assert_eq!(om(0.5), "0.5");
        assert_eq!(om(1e6), "1e+06");
        assert_eq!(om(f64::INFINITY), "+Inf");
        assert_eq!(om(f64::NAN), "NaN");
    }

    #[test]
    fn integers() {
        for v in [0i64, 7, -7, 1234567890123, i64::MIN, i64::MAX] {
            let mut o = Vec::new();
            write_int(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), v.to_string());
        }
    }

    #[test]
    fn round_trips_through_parse() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_nan() {
                continue;
            }
            let s = format_float(v);
            let back: f64 = s.replace("+Inf", "inf").replace("-Inf", "-inf").parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{s}");
        }
    }
}
