//! A bit stream written and read most significant bit first, as Prometheus' chunk encodings lay out their bits.

/// An append-only bit stream over a byte vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when the last byte is full or there is none).
    free: u8,
}

impl BitWriter {
    /// A stream starting with `bytes`, all of whose bits count as written.
    pub fn from_bytes(bytes: Vec<u8>) -> BitWriter {
        BitWriter { bytes, free: 0 }
    }

    /// A stream continuing `bytes` whose last byte has `free` unwritten low bits (cleared here, since later
    /// writes OR into them).
    pub fn resume(mut bytes: Vec<u8>, free: u8) -> BitWriter {
        let free = if bytes.is_empty() { 0 } else { free.min(7) };
        if let Some(last) = bytes.last_mut() {
            *last &= !((1u16 << free) - 1) as u8;
        }
        BitWriter { bytes, free }
    }

    /// A stream from the parts [`BitWriter::into_parts`] gave: `free` unwritten (zero) low bits in the last byte.
    #[inline]
    pub fn from_parts(bytes: Vec<u8>, free: u8) -> BitWriter {
        BitWriter { bytes, free }
    }

    /// The bytes and the number of free bits in the last one.
    #[inline]
    pub fn into_parts(self) -> (Vec<u8>, u8) {
        (self.bytes, self.free)
    }

    /// The bytes written so far (a partly written last byte is zero-padded).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, giving up the stream.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Mutable access to the bytes, for fixed-position headers.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Bits free in the last byte.
    pub fn free_bits(&self) -> u8 {
        self.free
    }

    /// Appends one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Appends a whole byte.
    #[inline]
    pub fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }

    /// Appends the low `n` bits of `value` (n <= 64), most significant first: the first bits fill the free low
    /// bits of the last byte, the rest go out as whole bytes in one copy (the unwritten bits of the new last byte
    /// are zero).
    #[inline]
    pub fn write_bits(&mut self, value: u64, n: u8) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let n = n.min(64);
        // The bits to write, aligned to the top of the word; everything below them is zero.
        let mut v = value << (64 - u32::from(n));
        let mut n = n;
        if self.free > 0 {
            let free = self.free;
            if let Some(last) = self.bytes.last_mut() {
                *last |= (v >> (64 - u32::from(free))) as u8;
            }
            if n <= free {
                self.free = free - n;
                return;
            }
            v <<= free;
            n -= free;
        }
        let whole = usize::from(n.div_ceil(8));
        self.bytes.extend_from_slice(&v.to_be_bytes()[..whole]);
        self.free = (whole * 8) as u8 - n;
    }

    /// Appends `n` (<= 128) bits of `value` (the low ones), most significant first.
    #[inline]
    pub fn write_bits_wide(&mut self, value: u128, n: u8) {
        if n > 64 {
            self.write_bits((value >> 64) as u64, n - 64);
            self.write_bits(value as u64, 64);
        } else {
            self.write_bits(value as u64, n);
        }
    }
}

/// Reads bits from a byte slice, most significant bit first.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start of `bytes`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0 }
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    /// Reads one bit; `None` at the end.
    #[inline]
    pub fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = byte >> (7 - (self.pos % 8)) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` bits (n <= 64) as the low bits of the result; `None` if fewer remain.
    ///
    /// Loads the (up to) eight bytes from the current byte as one big-endian word and shifts the bits out of it;
    /// only a read of more than 64 - (bit offset) bits takes one more byte.
    #[inline]
    pub fn read_bits(&mut self, n: u8) -> Option<u64> {
        let n = usize::from(n);
        if n > self.remaining() || n > 64 {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        let at = self.pos / 8;
        let offset = self.pos % 8;
        let word = match self.bytes.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(w) => u64::from_be_bytes(w),
            None => {
                // Fewer than eight bytes left: pad with zeros (never read, as `remaining` was checked).
                let mut w = [0u8; 8];
                let tail = &self.bytes[at..];
                w[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(w)
            }
        };
        self.pos += n;
        if offset + n <= 64 {
            return Some((word << offset) >> (64 - n));
        }
        // The word holds 64 - offset of the bits; the rest (at most 7) come from the next byte.
        let extra = offset + n - 64;
        let low = u64::from(self.bytes[at + 8] >> (8 - extra));
        Some((((word << offset) >> offset) << extra) | low)
    }

    /// Reads a whole byte (not necessarily aligned).
    #[inline]
    pub fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|b| b as u8)
    }

    /// Reads a Go `binary.Uvarint` (LEB128, at most 10 bytes).
    pub fn read_uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.read_byte()?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return None;
                }
                return Some(x | u64::from(b) << shift);
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        None
    }

    /// Reads a Go `binary.Varint` (zigzag over LEB128).
    pub fn read_varint(&mut self) -> Option<i64> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Some(if ux & 1 != 0 { !x } else { x })
    }
}

/// Appends a Go `binary.PutUvarint` encoding of `x`.
pub fn put_uvarint(w: &mut BitWriter, mut x: u64) {
    while x >= 0x80 {
        w.write_byte(x as u8 | 0x80);
        x >>= 7;
    }
    w.write_byte(x as u8);
}

/// Appends a Go `binary.PutVarint` encoding of `x` (zigzag).
pub fn put_varint(w: &mut BitWriter, x: i64) {
    let mut ux = (x as u64) << 1;
    if x < 0 {
        ux = !ux;
    }
    put_uvarint(w, ux);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_every_width_near_the_end_and_past_it() {
        // Fields of every width 0..=64 at changing alignments, read back by word loads, up to the last bit.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut fields = Vec::new();
        let mut w = BitWriter::default();
        for i in 0..400u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (i % 65) as u8;
            let v = if n == 64 { x } else { x & ((1u64 << n) - 1) };
            w.write_bits(v, n);
            fields.push((v, n));
        }
        let mut r = BitReader::new(w.bytes());
        for &(v, n) in &fields {
            assert_eq!(r.read_bits(n), Some(v), "{n}-bit field at bit {}", r.position());
        }
        let left = r.remaining();
        assert!(left < 8);
        assert_eq!(r.read_bits(left as u8 + 1), None);
        assert_eq!(r.read_bits(left as u8), Some(0));
        assert_eq!(r.read_bits(65), None);
    }

    #[test]
    fn bits_round_trip_at_every_alignment() {
        for lead in 0..8u8 {
            let mut w = BitWriter::default();
            w.write_bits(0, lead);
            w.write_bits(0b1011, 4);
            w.write_byte(0xA5);
            w.write_bits(u64::MAX, 64);
            w.write_bits(0x1234, 14);
            w.write_bits_wide((0b10 << 64) | u128::from(u64::MAX - 5), 66);
            w.write_bits_wide(0x1fff, 13);
            put_uvarint(&mut w, 300);
            put_varint(&mut w, -12345);
            let mut r = BitReader::new(w.bytes());
            assert_eq!(r.read_bits(lead), Some(0));
            assert_eq!(r.read_bits(4), Some(0b1011));
            assert_eq!(r.read_byte(), Some(0xA5));
            assert_eq!(r.read_bits(64), Some(u64::MAX));
            assert_eq!(r.read_bits(14), Some(0x1234 & 0x3fff));
            assert_eq!(r.read_bits(2), Some(0b10));
            assert_eq!(r.read_bits(64), Some(u64::MAX - 5));
            assert_eq!(r.read_bits(13), Some(0x1fff));
            assert_eq!(r.read_uvarint(), Some(300));
            assert_eq!(r.read_varint(), Some(-12345));
            assert!(r.remaining() < 8);
        }
    }

    #[test]
    fn go_varint_bytes() {
        // binary.PutUvarint(300) = ac 02; binary.PutVarint(-1) = 01; PutVarint(1000) = d0 0f.
        for (v, want) in [(300u64, vec![0xac, 0x02]), (0, vec![0]), (127, vec![0x7f])] {
            let mut w = BitWriter::default();
            put_uvarint(&mut w, v);
            assert_eq!(w.bytes(), want.as_slice());
        }
        for (v, want) in [(-1i64, vec![0x01]), (1000, vec![0xd0, 0x0f]), (1, vec![0x02])] {
            let mut w = BitWriter::default();
            put_varint(&mut w, v);
            assert_eq!(w.bytes(), want.as_slice());
        }
        let mut r = BitReader::new(&[0xff; 11]);
        assert_eq!(r.read_uvarint(), None);
    }
}
