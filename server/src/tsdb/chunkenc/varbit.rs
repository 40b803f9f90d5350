//! The variable bit-width integers of the histogram chunk encodings (Prometheus' `varbit.go`): a unary prefix
//! (`0`, `10`, `110`, ... up to eight ones) selects a width of 0, 3, 6, 9, 12, 18, 25, 56 or 64 bits. Signed values
//! are two's complement within the width and cover `-(2^(n-1) - 1) ..= 2^(n-1)`; unsigned values `0 .. 2^n`.

use super::bstream::{BitReader, BitWriter};

/// (prefix, prefix length, value width) per bucket, after the 1-bit zero case.
const BUCKETS: [(u64, u8, u8); 8] = [
    (0b10, 2, 3),
    (0b110, 3, 6),
    (0b1110, 4, 9),
    (0b11110, 5, 12),
    (0b111110, 6, 18),
    (0b1111110, 7, 25),
    (0b11111110, 8, 56),
    (0b11111111, 8, 64),
];

/// Whether `x` fits an `n`-bit signed bucket as upstream defines it.
fn fits_signed(x: i64, n: u8) -> bool {
    if n >= 64 {
        return true;
    }
    let half = 1i64 << (n - 1);
    -(half - 1) <= x && x <= half
}

/// Writes a signed varbit integer.
pub fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for &(prefix, plen, width) in &BUCKETS {
        if fits_signed(v, width) {
            w.write_bits(prefix, plen);
            w.write_bits(v as u64, width);
            return;
        }
    }
}

/// Writes an unsigned varbit integer.
pub fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for &(prefix, plen, width) in &BUCKETS {
        if width >= 64 || v.leading_zeros() >= 64 - u32::from(width) {
            w.write_bits(prefix, plen);
            w.write_bits(v, width);
            return;
        }
    }
}

/// Reads the prefix; returns the value width (0 for the zero case).
fn read_width(r: &mut BitReader<'_>) -> Option<u8> {
    let mut ones = 0usize;
    while ones < 8 {
        if !r.read_bit()? {
            break;
        }
        ones += 1;
    }
    Some(match ones {
        0 => 0,
        n => BUCKETS[n - 1].2,
    })
}

/// Reads a signed varbit integer.
pub fn read_varbit_int(r: &mut BitReader<'_>) -> Option<i64> {
    let width = read_width(r)?;
    match width {
        0 => Some(0),
        64 => r.read_bits(64).map(|b| b as i64),
        n => {
            let bits = r.read_bits(n)?;
            Some(if bits > 1 << (n - 1) {
                bits as i64 - (1i64 << n)
            } else {
                bits as i64
            })
        }
    }
}

/// Reads an unsigned varbit integer.
pub fn read_varbit_uint(r: &mut BitReader<'_>) -> Option<u64> {
    match read_width(r)? {
        0 => Some(0),
        n => r.read_bits(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges_round_trip_with_upstream_widths() {
        // (value, encoded bit length) at the edges of every bucket.
        let signed: &[(i64, usize)] = &[
            (0, 1),
            (1, 5),
            (-3, 5),
            (4, 5),
            (-4, 9),
            (5, 9),
            (32, 9),
            (33, 13),
            (-255, 13),
            (256, 13),
            (2048, 17),
            (2049, 24),
            (131_072, 24),
            (131_073, 32),
            (16_777_216, 32),
            (16_777_217, 64),
            (i64::MAX, 72),
            (i64::MIN, 72),
        ];
        for &(v, len) in signed {
            let mut w = BitWriter::default();
            put_varbit_int(&mut w, v);
            w.write_bit(true);
            let bits = w.bytes().len() * 8 - usize::from(w.free_bits());
            assert_eq!(bits - 1, len, "{v}");
            let mut r = BitReader::new(w.bytes());
            assert_eq!(read_varbit_int(&mut r), Some(v));
            assert_eq!(r.read_bit(), Some(true));
        }
        let unsigned: &[(u64, usize)] = &[
            (0, 1),
            (7, 5),
            (8, 9),
            (63, 9),
            (64, 13),
            (33_554_431, 32),
            (u64::MAX, 72),
        ];
        for &(v, len) in unsigned {
            let mut w = BitWriter::default();
            put_varbit_uint(&mut w, v);
            let bits = w.bytes().len() * 8 - usize::from(w.free_bits());
            assert_eq!(bits, len, "{v}");
            let mut r = BitReader::new(w.bytes());
            assert_eq!(read_varbit_uint(&mut r), Some(v));
        }
    }
}
