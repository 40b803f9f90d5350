//! Float formatting as the Go clients write numbers.
//!
//! Text format 0.0.4 writes values as Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that
//! round-trip, in exponent form when the decimal exponent is below -4 or at least 6 (`6.717066e+06`,
//! `6.03708e-05`), with `+Inf`, `-Inf` and `NaN` for the special values. OpenMetrics writes the same but makes
//! every float visibly a float: a result without `.` or `e` gets `.0` (`1.0`, `17.0`).

/// The fast paths format into a fixed 32-byte stack buffer that is appended whole and then cut to length: a
/// constant-size copy is a couple of vector stores, where a variable-length one is a `memcpy` call.
pub(super) const FAST_LEN: usize = 32;

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

/// Formats the common cases into `buf` and returns the length, or 0 when `v` needs the general path: values below
/// 1e6 with at most three decimals (integers among them; `om` adds `.0` to those), and integers below 2^53 in
/// exponent form.
///
/// Both tests work on the bits of `v` in integer arithmetic: `|v| = mant * 2^-k` with a 53-bit `mant`, so
/// `1000 |v|` is `mant * 1000 * 2^-k` exactly and the nearest integer is a shift away. Float conversions and a
/// division would sit in the dependency chain of every number.
#[inline]
pub(super) fn fast_float(buf: &mut [u8; FAST_LEN], v: f64, om: bool) -> usize {
    fast(buf, v, om, true)
}

/// The fast paths of [`fast_float`]; integers from 1e6 to 2^53 are written in exponent form when `exponent`, else
/// as plain digits.
#[inline(always)]
fn fast(buf: &mut [u8; FAST_LEN], v: f64, om: bool, exponent: bool) -> usize {
    const FRACTION: u64 = (1 << 52) - 1;
    buf[0] = b'-';
    let bits = v.to_bits();
    let p = (bits >> 63) as usize;
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let mant = (bits & FRACTION) | (1 << 52);
    // |v| = mant * 2^-k.
    let k = 1075 - biased;
    if v.abs() < 1e6 {
        if bits << 1 == 0 {
            return put_millis(buf, p, 0, om);
        }
        // Below 1e6, k >= 33; above 62 the value is below 2^-10, under one thousandth.
        if (33..=62).contains(&k) {
            let prod = mant * 1000;
            let q = prod >> k;
            let low = prod & ((1 << k) - 1);
            // `m` is `1000 |v|` rounded half up; `m / 1000` reads back as `v` when it is within half an ulp of
            // `v`, that is when `|m * 2^k - prod| <= 500` (it is never exactly 500: `m / 1000` would be a
            // dyadic rational then, exactly representable, and the distance 0). In this range distinct
            // three-decimal numbers are far more than one ulp apart, so `m / 1000` is then the shortest form,
            // which Go's `'g'` writes here.
            let half = 1 << (k - 1);
            let (m, off) = if low >= half { (q + 1, (1 << k) - low) } else { (q, low) };
            if off <= 500 {
                return put_millis(buf, p, m, om);
            }
        }
    } else if (0..=33).contains(&k) && mant & ((1u64 << k) - 1) == 0 {
        // An integer from 1e6 to 2^53.
        if exponent {
            return put_large_integer(buf, p, mant >> k);
        }
        return put_digits(buf, p, mant >> k);
    } else if biased == 0x7FF && bits & FRACTION == 0 {
        // `+Inf` for the `le` label of the last bucket.
        buf[..4].copy_from_slice(if p == 0 { b"+Inf" } else { b"-Inf" });
        return 4;
    }
    0
}

/// Writes `m / 1000` for `m < 10^9` at `buf[p..]`: the integer part, then `.` and one to three decimals without
/// trailing zeros (nothing when they are all zero, or `.0` when `om`). All nine digits come from one
/// [`eight_digits`] (and the ninth from one division); the parts are cut out of that word with shifts.
#[inline(always)]
fn put_millis(buf: &mut [u8; FAST_LEN], mut p: usize, m: u64, om: bool) -> usize {
    const E8: u64 = 100_000_000;
    let (d, skip) = if m >= E8 {
        buf[p] = b'0' + (m / E8) as u8;
        p += 1;
        (eight_digits((m % E8) as u32), 0)
    } else {
        let d = eight_digits(m as u32);
        // Leading zeros of the five integer digits, keeping the last.
        (d, (d.trailing_zeros() / 8).min(4))
    };
    let word = d | ASCII_ZEROS;
    buf[p..p + 8].copy_from_slice(&((word & 0xFF_FFFF_FFFF) >> (8 * skip)).to_le_bytes());
    p += 5 - skip as usize;
    let frac = d >> 40;
    if frac == 0 {
        buf[p..p + 2].copy_from_slice(b".0");
        return if om { p + 2 } else { p };
    }
    // Zero digits at the end of the three decimals are the zero bytes at the top of `frac`.
    let kept = 3 - (frac.leading_zeros() as usize - 40) / 8;
    buf[p..p + 8].copy_from_slice(&(u64::from(b'.') | (word >> 40) << 8).to_le_bytes());
    p + 1 + kept
}

/// The eight decimal digits of `n < 10^8` as byte values 0-9, the most significant in the lowest byte (so that
/// `to_le_bytes` puts them in writing order). Both halves of four digits are split in parallel in the two 32-bit
/// lanes of one word, then each pair in the four 16-bit lanes: multiplications by fixed-point reciprocals instead
/// of divisions, exact for these ranges (`x * 10486 >> 20 == x / 100` for `x < 10^4`, `x * 103 >> 10 == x / 10`
/// for `x < 100`).
#[inline]
fn eight_digits(n: u32) -> u64 {
    let x = u64::from(n / 10_000) | u64::from(n % 10_000) << 32;
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let x = hundreds | (x - hundreds * 100) << 16;
    let tens = ((x * 103) >> 10) & 0x000F_000F_000F_000F;
    tens | (x - tens * 10) << 8
}

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// Writes `n < 10^8` without leading zeros at `buf[p..]` (one `0` for zero); returns the offset after it. Always
/// stores eight bytes.
#[inline]
fn put_short(buf: &mut [u8], p: usize, n: u32) -> usize {
    let d = eight_digits(n);
    // Leading zero digits are the low zero bytes; zero itself keeps its last digit.
    let skip = (d.trailing_zeros() / 8).min(7);
    buf[p..p + 8].copy_from_slice(&((d | ASCII_ZEROS) >> (8 * skip)).to_le_bytes());
    p + 8 - skip as usize
}

/// Writes exactly eight digits of `n < 10^8` (leading zeros kept) at `buf[p..]`.
#[inline]
fn put_eight(buf: &mut [u8], p: usize, n: u32) -> usize {
    buf[p..p + 8].copy_from_slice(&(eight_digits(n) | ASCII_ZEROS).to_le_bytes());
    p + 8
}

/// Writes the decimal digits of `n` at `buf[p..]`, eight at a time; returns the offset after them. Stores up to
/// 24 bytes (eight per group of digits).
#[inline]
fn put_digits(buf: &mut [u8], p: usize, n: u64) -> usize {
    const E8: u64 = 100_000_000;
    if n < E8 {
        put_short(buf, p, n as u32)
    } else if n < E8 * E8 {
        let p = put_short(buf, p, (n / E8) as u32);
        put_eight(buf, p, (n % E8) as u32)
    } else {
        let p = put_short(buf, p, (n / (E8 * E8)) as u32);
        let p = put_eight(buf, p, (n / E8 % E8) as u32);
        put_eight(buf, p, (n % E8) as u32)
    }
}

/// Writes `v` in decimal at the start of `buf`; returns its length.
#[inline]
pub(super) fn put_i64(buf: &mut [u8; FAST_LEN], v: i64) -> usize {
    buf[0] = b'-';
    put_digits(buf, usize::from(v < 0), v.unsigned_abs())
}

/// An integer with `1e6 <= n < 2^53` in Go's exponent form at `buf[p..]` (`6.717066e+06`). Doubles there are at
/// most 1 apart, so the integer's digits without trailing zeros are the shortest digits that round-trip.
///
/// The digits are one or two [`eight_digits`] words: the first digit goes before the point, the rest after it
/// as whole words, and the length is cut at the last non-zero digit (zero digits at the end of a word are zero
/// bytes at its top).
#[inline(always)]
fn put_large_integer(buf: &mut [u8; FAST_LEN], p: usize, n: u64) -> usize {
    const E8: u64 = 100_000_000;
    let (hi, lo) = if n < E8 {
        (n as u32, None)
    } else {
        ((n / E8) as u32, Some((n % E8) as u32))
    };
    let dh = eight_digits(hi);
    let skip = dh.trailing_zeros() / 8;
    let nh = 8 - skip as usize;
    let wh = (dh | ASCII_ZEROS) >> (8 * skip);
    // The digits after the first go two places right (after the first digit and the point), in whole words.
    buf[p + 2..p + 10].copy_from_slice(&(wh >> 8).to_le_bytes());
    let trailing_hi = dh.leading_zeros() as usize / 8;
    let (digits, significant) = match lo {
        None => (nh, nh - trailing_hi),
        Some(lo) => {
            let dl = eight_digits(lo);
            buf[p + 1 + nh..p + 9 + nh].copy_from_slice(&(dl | ASCII_ZEROS).to_le_bytes());
            let sig = if dl == 0 {
                nh - trailing_hi
            } else {
                nh + 8 - dl.leading_zeros() as usize / 8
            };
            (nh + 8, sig)
        }
    };
    buf[p] = wh as u8;
    buf[p + 1] = b'.';
    let q = if significant > 1 { p + 1 + significant } else { p + 1 };
    // 7 to 16 digits: the exponent is 6 to 15, always two digits.
    let exp = digits - 1;
    buf[q..q + 4].copy_from_slice(&[b'e', b'+', b'0' + (exp / 10) as u8, b'0' + (exp % 10) as u8]);
    q + 4
}

/// Writes `.d`, `.dd` or `.ddd` for `frac` thousandths at `buf[p..]` (nothing for 0), without trailing zeros.
#[inline]
pub(super) fn put_frac_millis(buf: &mut [u8; FAST_LEN], p: usize, frac: u64) -> usize {
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

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (and Rust's `Display`) write it, for the common
/// cases (values below 1e6 with at most three decimals, integers below 2^53); returns false, having written
/// nothing, for the rest.
#[inline]
pub fn write_fixed_fast(out: &mut String, v: f64) -> bool {
    let mut buf = [0u8; FAST_LEN];
    let n = fast(&mut buf, v, false, false);
    if n == 0 || v.is_infinite() {
        return false;
    }
    // Only ASCII digits, `-` and `.` are written.
    match std::str::from_utf8(&buf[..n]) {
        Ok(s) => {
            out.push_str(s);
            true
        }
        Err(_) => false,
    }
}

/// Appends a millisecond timestamp as seconds with up to three decimals, without trailing zeros
/// (`1435781451.781`, `1`, `-0.5`), as Prometheus' JSON API writes times.
#[inline]
pub fn write_millis_as_seconds(out: &mut String, ms: i64) {
    let mut buf = [0u8; FAST_LEN];
    buf[0] = b'-';
    let abs = ms.unsigned_abs();
    let p = put_digits(&mut buf, usize::from(ms < 0), abs / 1000);
    let n = put_frac_millis(&mut buf, p, abs % 1000);
    // Only ASCII digits, `-` and `.` are written.
    if let Ok(s) = std::str::from_utf8(&buf[..n]) {
        out.push_str(s);
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
    let mut buf = [0u8; FAST_LEN];
    let n = put_i64(&mut buf, v);
    append_prefix(out, &buf, n);
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
            (100000.5, "100000.5"),
            (100000.25, "100000.25"),
            (0.02, "0.02"),
            (0.0005, "0.0005"),
            (0.00005, "5e-05"),
            (999999.9995, "999999.9995"),
            (0.001, "0.001"),
            (12.3, "12.3"),
            (0.999, "0.999"),
            (1.5e15, "1.5e+15"),
            (1e15 + 1.0, "1.000000000000001e+15"),
            (1e8, "1e+08"),
            (123456789.0, "1.23456789e+08"),
            (1e7, "1e+07"),
            (99999999.0, "9.9999999e+07"),
            (-4503599627370496.0, "-4.503599627370496e+15"),
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
            let mut buf = [0u8; FAST_LEN];
            let n = fast_float(&mut buf, v, false);
            if n != 0 {
                hits += 1;
                assert_eq!(&buf[..n], &general[..], "{v:?}");
            }
            let mut om = general.clone();
            if !general.iter().any(|c| matches!(c, b'.' | b'e' | b'I' | b'N')) {
                om.extend_from_slice(b".0");
            }
            let n = fast_float(&mut buf, v, true);
            if n != 0 {
                assert_eq!(&buf[..n], &om[..], "{v:?}");
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
    fn fixed_fast_path_agrees_with_display() {
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        let mut hits = 0;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 4 {
                0 => (x % 1_000_000_000) as f64 / 1000.0,
                1 => (x % (1 << 53)) as f64,
                2 => f64::from_bits(x),
                _ => (x % 1_000_000_000_000) as f64 / 1_000_000.0,
            };
            let v = if x & 1 == 1 { -v } else { v };
            let mut out = String::new();
            if write_fixed_fast(&mut out, v) {
                hits += 1;
                assert_eq!(out, format!("{v}"), "{v:?}");
            } else {
                assert!(out.is_empty());
            }
        }
        assert!(hits > 100_000, "{hits}");
        for (v, want) in [(0.0, "0"), (-0.0, "-0"), (1e6, "1000000"), (0.1 + 0.2, ""), (1e300, "")] {
            let mut out = String::new();
            write_fixed_fast(&mut out, v);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn millis_as_seconds() {
        for (ms, want) in [
            (0i64, "0"),
            (1000, "1"),
            (-500, "-0.5"),
            (1435781451781, "1435781451.781"),
            (1435781451780, "1435781451.78"),
            (i64::MIN, "-9223372036854775.808"),
            (i64::MAX, "9223372036854775.807"),
        ] {
            let mut out = String::new();
            write_millis_as_seconds(&mut out, ms);
            assert_eq!(out, want);
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
