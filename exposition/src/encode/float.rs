//! Float formatting as the Go clients write numbers.
//!
//! Text format 0.0.4 writes values as Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that
//! round-trip, in exponent form when the decimal exponent is below -4 or at least 6 (`6.717066e+06`,
//! `6.03708e-05`), with `+Inf`, `-Inf` and `NaN` for the special values. OpenMetrics writes the same but makes
//! every float visibly a float: a result without `.` or `e` gets `.0` (`1.0`, `17.0`).

/// The fast paths format into a fixed 32-byte stack buffer that is appended whole and then cut to length: a
/// constant-size copy is a couple of vector stores, where a variable-length one is a `memcpy` call.
const FAST_LEN: usize = 32;

/// Appends `v` as text format 0.0.4 writes it.
#[inline]
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    let mut buf = [0u8; FAST_LEN];
    match fast_float(&mut buf, v, false) {
        0 => write_g(out, v),
        n => append_prefix(out, &buf, n),
    }
}

/// Appends `v` as OpenMetrics writes floats: like [`write_float`], with `.0` added to integral results.
#[inline]
pub fn write_om_float(out: &mut Vec<u8>, v: f64) {
    let mut buf = [0u8; FAST_LEN];
    match fast_float(&mut buf, v, true) {
        0 => {
            let start = out.len();
            write_g(out, v);
            let written = &out[start..];
            if !written.iter().any(|c| matches!(c, b'.' | b'e' | b'I' | b'N')) {
                out.extend_from_slice(b".0");
            }
        }
        n => append_prefix(out, &buf, n),
    }
}

/// Appends the first `n` bytes of `buf` with a constant-size copy.
#[inline]
fn append_prefix(out: &mut Vec<u8>, buf: &[u8; FAST_LEN], n: usize) {
    let end = out.len() + n;
    out.extend_from_slice(buf);
    out.truncate(end);
}

/// Formats the common cases into `buf` and returns the length, or 0 when `v` needs the general path: integers
/// below 1e6 (`om` adds `.0`), other integers below 2^53 in exponent form, and three-decimal values.
#[inline]
fn fast_float(buf: &mut [u8; FAST_LEN], v: f64, om: bool) -> usize {
    let neg = v.is_sign_negative();
    buf[0] = b'-';
    let mut p = usize::from(neg);
    if whole_below(v, 1e6) {
        p = put_digits(buf, p, (v as i64).unsigned_abs());
        if om {
            buf[p] = b'.';
            buf[p + 1] = b'0';
            p += 2;
        }
        return p;
    }
    if whole_below(v, 9_007_199_254_740_992.0) {
        return put_large_integer(buf, p, (v as i64).unsigned_abs());
    }
    if let Some(m) = few_decimals(v) {
        p = put_digits(buf, p, m / 1000);
        return put_frac_millis(buf, p, m % 1000);
    }
    0
}

/// Writes the decimal digits of `n` at `buf[p..]`, four at a time from the last (one 64-bit division per four
/// digits, the rest in 32-bit arithmetic); returns the offset after them.
#[inline]
fn put_digits(buf: &mut [u8; FAST_LEN], p: usize, mut n: u64) -> usize {
    let end = p + n.checked_ilog10().map_or(1, |l| l as usize + 1);
    let mut pos = end;
    while n >= 10_000 {
        let r = (n % 10_000) as u32;
        n /= 10_000;
        let (hi, lo) = ((r / 100) as usize * 2, (r % 100) as usize * 2);
        pos -= 4;
        buf[pos..pos + 4].copy_from_slice(&[
            DIGIT_PAIRS[hi],
            DIGIT_PAIRS[hi + 1],
            DIGIT_PAIRS[lo],
            DIGIT_PAIRS[lo + 1],
        ]);
    }
    let mut n = n as u32;
    if n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        buf[pos - 2..pos].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        buf[pos - 1] = b'0' + n as u8;
    }
    end
}

/// An integer with `1e6 <= n < 2^53` in Go's exponent form at `buf[p..]` (`6.717066e+06`). Doubles there are at
/// most 1 apart, so the integer's digits without trailing zeros are the shortest digits that round-trip.
fn put_large_integer(buf: &mut [u8; FAST_LEN], p: usize, n: u64) -> usize {
    // The digits go one place right of where they end up, then the first moves left over the point.
    let end = put_digits(buf, p + 1, n);
    // 7 to 16 digits: the exponent is 6 to 15, always two digits.
    let exp = end - p - 2;
    buf[p] = buf[p + 1];
    buf[p + 1] = b'.';
    let mut q = end;
    while buf[q - 1] == b'0' {
        q -= 1;
    }
    if q == p + 2 {
        // Only the leading digit is left: no point.
        q = p + 1;
    }
    buf[q..q + 4].copy_from_slice(&[b'e', b'+', b'0' + (exp / 10) as u8, b'0' + (exp % 10) as u8]);
    q + 4
}

/// Writes `.d`, `.dd` or `.ddd` for `frac` thousandths at `buf[p..]` (nothing for 0), without trailing zeros.
#[inline]
fn put_frac_millis(buf: &mut [u8; FAST_LEN], p: usize, frac: u64) -> usize {
    let d = [
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    buf[p..p + 4].copy_from_slice(&d);
    let keep = if frac == 0 {
        0
    } else if d[3] != b'0' {
        4
    } else if d[2] != b'0' {
        3
    } else {
        2
    };
    p + keep
}

/// For `1e-4 <= |v| < 1e6` whose shortest form has at most three decimals (clock ticks, percentages, most
/// exporter values): `round(|v| * 1000)`. Then the decimal `m / 1000` parses back to `v` (IEEE division is
/// correctly rounded) and is the shortest such decimal, because in this range distinct three-decimal numbers are
/// far more than one ulp apart; it is the form Go's `'g'` writes here.
#[inline]
fn few_decimals(v: f64) -> Option<u64> {
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        return None;
    }
    // Round half up by cast (no libm call); a wrong neighbour would fail the exactness check below.
    let m = (a * 1000.0 + 0.5) as u64;
    if m as f64 / 1000.0 == a { Some(m) } else { None }
}

/// Writes `.d`, `.dd` or `.ddd` for a fraction of `frac` thousandths (nothing for 0), without trailing zeros.
#[inline]
pub(super) fn write_frac_millis(out: &mut Vec<u8>, frac: u64) {
    let mut buf = [0u8; FAST_LEN];
    let n = put_frac_millis(&mut buf, 0, frac);
    append_prefix(out, &buf, n);
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
    if v < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 20];
    let start = digits_u64(v.unsigned_abs(), &mut buf);
    out.extend_from_slice(&buf[start..]);
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `n` at the end of `buf`, two at a time; returns where they start.
#[inline]
fn digits_u64(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut pos = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    pos
}

/// `v` is a whole number of magnitude below `limit` (at most 2^63). Casts, not `trunc`: baseline x86-64 has no
/// rounding instruction, so `f64::fract` is a libm call on the hot path.
#[inline]
fn whole_below(v: f64, limit: f64) -> bool {
    v.abs() < limit && (v as i64) as f64 == v
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
    // zmij gives the shortest round-trip digits (as `1370.25`, `1e-7` or `6.717066e6`). In Go's fixed-point
    // range its plain decimal output is already what Go writes; otherwise collect the digits with the position of
    // the decimal point and lay them out as Go's `%g` would.
    let mut zb = zmij::Buffer::new();
    let s = zb.format_finite(v).as_bytes();
    let a = v.abs();
    if (1e-4..1e6).contains(&a) && !s.contains(&b'e') {
        out.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s));
        return;
    }
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let e_pos = s.iter().position(|&c| c == b'e' || c == b'E').unwrap_or(s.len());
    let (mantissa, exp_part) = s.split_at(e_pos);
    let mut e10: i32 = 0;
    if let Some(rest) = exp_part.get(1..) {
        let (eneg, rest) = match rest.split_first() {
            Some((b'-', r)) => (true, r),
            Some((b'+', r)) => (false, r),
            _ => (false, rest),
        };
        for &c in rest {
            e10 = e10 * 10 + i32::from(c - b'0');
        }
        if eneg {
            e10 = -e10;
        }
    }
    let mut digits = [0u8; 32];
    let mut nd = 0usize;
    let mut dp: i32 = e10;
    let mut seen_point = false;
    for &c in mantissa {
        if c == b'.' {
            seen_point = true;
            continue;
        }
        if !seen_point {
            dp += 1;
        }
        if nd == 0 && c == b'0' {
            // Leading zero: the point moves one place left relative to the significant digits.
            dp -= 1;
            continue;
        }
        if nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let digits = &digits[..nd];
    if digits.is_empty() {
        out.extend_from_slice(if neg { b"-0" } else { b"0" });
        return;
    }
    let exp = dp - 1;
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
            (123456.78, "123456.78"),
            (-0.001, "-0.001"),
            (0.0105, "0.0105"),
            (999999.999, "999999.999"),
            (0.1 + 0.2, "0.30000000000000004"),
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
    fn three_decimal_fast_path_agrees_with_the_general_path() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut hits = 0;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mix exact three-decimal values with arbitrary ones of the same magnitude.
            let v = if i % 2 == 0 {
                (x % 1_000_000_000) as f64 / 1000.0
            } else {
                (x % 1_000_000_000_000) as f64 / 1_000_000.0 * 1.0000001
            };
            let v = if x & 1 == 1 { -v } else { v };
            let mut general = Vec::new();
            write_g(&mut general, v);
            if let Some(m) = few_decimals(v) {
                hits += 1;
                let mut buf = [0u8; FAST_LEN];
                let n = fast_float(&mut buf, v, false);
                assert_eq!(few_decimals(v), Some(m));
                assert_eq!(&buf[..n], &general[..], "{v:?}");
            }
        }
        assert!(hits > 90_000, "{hits}");
    }

    #[test]
    fn large_integer_path_agrees_with_the_general_path() {
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mag = 10f64.powi(6 + (i % 10) as i32);
            let v = ((x % (1 << 53)) as f64 % (mag * 10.0)).max(1e6).trunc();
            let v = if i % 3 == 0 { (v / 4096.0).trunc() * 4096.0 } else { v };
            let v = if x & 1 == 1 { -v } else { v };
            if v.abs() < 1e6 {
                continue;
            }
            let mut general = Vec::new();
            write_g(&mut general, v);
            let mut buf = [0u8; FAST_LEN];
            let n = fast_float(&mut buf, v, false);
            let fast = buf[..n].to_vec();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(general).unwrap(),
                "{v:?}"
            );
        }
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
