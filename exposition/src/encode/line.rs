//! The output side of the encoders: lines are written into zero-filled room at the end of the output buffer.
//!
//! Before a line is written, [`Sink::line`] makes sure the buffer holds room for the line's largest possible length
//! plus [`SLACK`] bytes, and hands out a [`Line`]: a cursor into that room. Writes through it are plain stores at
//! the cursor — no capacity check and no length update per append, and fixed-size copies instead of `memcpy`
//! calls, because every write may store a whole word (or the whole 32-byte window of a number) past its end into
//! the slack. When the [`Sink`] is dropped the buffer is cut back to what was written.
//!
//! Callers pass an upper bound for each line: see [`labels_bound`] and [`LINE_FIXED`].

use super::float::{self, FAST_LEN};

/// Room every write may use past the end of what it writes.
pub(super) const SLACK: usize = 64;

/// Bytes a sample line needs beyond its name and labels: a suffix (`_created` at most), `{`, `}`, a comma before
/// an extra label, the value (at most [`FAST_LEN`] bytes), a timestamp (an `i64`, or seconds with three decimals)
/// and the separators and newline around them.
pub(super) const LINE_FIXED: usize = 16 + FAST_LEN + 32 + 8;

/// The largest number of bytes `{a="1",b="2"}` can take for `labels`: names, values escaped (at most twice their
/// length), quotes, `=` and commas.
#[inline]
pub(super) fn labels_bound(labels: &crate::model::Labels) -> usize {
    let mut n = 2;
    for l in labels {
        n += l.name.len() + 2 * l.value.len() + 4;
    }
    n
}

/// Lines are written into this thread's staging buffer and appended to the output when it fills up: the
/// staging buffer is zero-filled once, where writing into the output directly would zero its room on every
/// encode.
const STAGE: usize = 32 * 1024;

thread_local! {
    static STAGED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with a [`Sink`] that appends to `out`.
pub(super) fn with_sink<R>(out: &mut Vec<u8>, f: impl FnOnce(&mut Sink<'_>) -> R) -> R {
    STAGED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut stage) => {
            let r = run(out, &mut stage, f);
            if stage.len() > 4 * STAGE {
                stage.truncate(STAGE);
                stage.shrink_to_fit();
            }
            r
        }
        // Only if an encode ran inside another on this thread.
        Err(_) => run(out, &mut Vec::new(), f),
    })
}

fn run<R>(out: &mut Vec<u8>, stage: &mut Vec<u8>, f: impl FnOnce(&mut Sink<'_>) -> R) -> R {
    let mut sink = Sink {
        out,
        stage,
        end: 0,
        flushes: 0,
    };
    let r = f(&mut sink);
    sink.flush();
    r
}

/// The output being written: a staging buffer and the output it is appended to.
pub(super) struct Sink<'a> {
    out: &'a mut Vec<u8>,
    stage: &'a mut Vec<u8>,
    /// The end of what has been written into `stage`, which is longer (room).
    end: usize,
    /// How many times `stage` was appended to the output and emptied: positions into it from before are stale.
    flushes: u32,
}

impl Sink<'_> {
    /// A cursor for a line of at most `max` bytes; [`Sink::commit`] takes back where it ended.
    #[inline]
    pub(super) fn line(&mut self, max: usize) -> Line<'_> {
        let need = self.end.saturating_add(max).saturating_add(SLACK);
        if need > self.stage.len() {
            self.make_room(max);
        }
        Line {
            buf: self.stage.as_mut_slice(),
            pos: self.end,
            generation: self.flushes,
        }
    }

    /// Takes back the end of the line that [`Sink::line`] handed out.
    #[inline]
    pub(super) fn commit(&mut self, end: usize) {
        self.end = end;
    }

    /// The number of flushes so far.
    #[cfg(test)]
    fn generation(&self) -> u32 {
        self.flushes
    }

    #[cold]
    #[inline(never)]
    fn make_room(&mut self, max: usize) {
        self.flush();
        let need = max.saturating_add(SLACK).max(STAGE);
        if need > self.stage.len() {
            self.stage.resize(need, 0);
        }
    }

    fn flush(&mut self) {
        if self.end > 0 {
            // In pieces below the size where `memcpy` switches to `rep movsb`, which is slow to start.
            for piece in self.stage[..self.end].chunks(2048) {
                self.out.extend_from_slice(piece);
            }
            self.end = 0;
            self.flushes = self.flushes.wrapping_add(1);
        }
    }
}

/// How the text of a metadata line is written.
#[derive(Clone, Copy)]
pub(super) enum MetaText {
    /// HELP text, escaped (`"` too when `quote`).
    Help { quote: bool },
    /// As it is (a type or unit).
    Plain,
}

/// Writes `# <keyword> <name> <text>` and a newline.
pub(super) fn meta_line(sink: &mut Sink<'_>, keyword: &[u8; 4], name: &str, text: &str, how: MetaText) {
    let Line { buf, pos, .. } = sink.line(name.len() + 2 * text.len() + 16);
    let p = lit(buf, pos, b"# ");
    let p = lit(buf, p, keyword);
    let p = byte(buf, p, b' ');
    let p = bytes(buf, p, name.as_bytes());
    let p = byte(buf, p, b' ');
    let p = match how {
        MetaText::Help { quote } => help(buf, p, text, quote),
        MetaText::Plain => bytes(buf, p, text.as_bytes()),
    };
    let p = byte(buf, p, b'\n');
    sink.commit(p);
}

/// A line's room: the buffer and where the line starts. The writers below take the buffer and a position and
/// return the position after what they wrote, so that the position stays in a register.
pub(super) struct Line<'a> {
    pub(super) buf: &'a mut [u8],
    pub(super) pos: usize,
    /// Positions in `buf` from lines handed out with another generation are stale (the buffer was flushed).
    pub(super) generation: u32,
}

#[inline]
pub(super) fn byte(buf: &mut [u8], p: usize, b: u8) -> usize {
    buf[p] = b;
    p + 1
}

/// A constant: a fixed-size copy.
#[inline]
pub(super) fn lit<const N: usize>(buf: &mut [u8], p: usize, s: &[u8; N]) -> usize {
    buf[p..p + N].copy_from_slice(s);
    p + N
}

/// Any bytes, copied in words (overlapping at the end) instead of through `memcpy`.
#[inline(always)]
pub(super) fn bytes(buf: &mut [u8], p: usize, s: &[u8]) -> usize {
    if let Some(dst) = buf.get_mut(p..p + s.len()) {
        copy_exact(dst, s);
    }
    p + s.len()
}

/// Copies `s` into `dst` of the same length, in words over the exact destination so that no bounds check is
/// left inside.
#[inline(always)]
fn copy_exact(dst: &mut [u8], s: &[u8]) {
    let n = s.len();
    if n >= 16 {
        let mut d = dst.chunks_exact_mut(16);
        for (d, s) in (&mut d).zip(s.chunks_exact(16)) {
            d.copy_from_slice(s);
        }
        if !d.into_remainder().is_empty() {
            copy_last::<16>(dst, s);
        }
    } else if n >= 8 {
        copy_first::<8>(dst, s);
        copy_last::<8>(dst, s);
    } else if n >= 4 {
        copy_first::<4>(dst, s);
        copy_last::<4>(dst, s);
    } else if n > 0 {
        dst[0] = s[0];
        dst[n / 2] = s[n / 2];
        dst[n - 1] = s[n - 1];
    }
}

/// Copies the first `N` bytes of `s` to `dst` (both at least `N` long).
#[inline(always)]
fn copy_first<const N: usize>(dst: &mut [u8], s: &[u8]) {
    if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), s.first_chunk::<N>()) {
        *d = *s;
    }
}

/// Copies the last `N` bytes of `s` to the last `N` of `dst` (both at least `N` long).
#[inline(always)]
fn copy_last<const N: usize>(dst: &mut [u8], s: &[u8]) {
    if let (Some(d), Some(s)) = (dst.last_chunk_mut::<N>(), s.last_chunk::<N>()) {
        *d = *s;
    }
}

/// Copies `len` bytes written earlier at `from` (before `p`) to `p`, 16 at a time: the last copy may run past
/// `len` into the slack, and reads only bytes at or after `from`, which were written.
#[inline]
pub(super) fn repeat(buf: &mut [u8], p: usize, from: usize, len: usize) -> usize {
    let mut i = 0;
    while i < len {
        buf.copy_within(from + i..from + i + 16, p + i);
        i += 16;
    }
    p + len
}

/// A label value with `\`, `"` and newline escaped (the result takes at most twice the value's length).
///
/// The value is copied in words while a filter looks for bytes that may need escaping (below `#`, or `\`);
/// only when it hits is the value written again byte by byte.
#[inline]
pub(super) fn label_value(buf: &mut [u8], p: usize, v: &str) -> usize {
    let s = v.as_bytes();
    if copy_plain(buf, p, s) {
        p + s.len()
    } else {
        escaped(buf, p, s, true)
    }
}

/// HELP text: `\` and newline escaped, and `"` too when `quote` (OpenMetrics).
pub(super) fn help(buf: &mut [u8], p: usize, v: &str, quote: bool) -> usize {
    escaped(buf, p, v.as_bytes(), quote)
}

#[cold]
fn escaped(buf: &mut [u8], mut p: usize, s: &[u8], quote: bool) -> usize {
    for &c in s {
        p = match c {
            b'\\' => lit(buf, p, b"\\\\"),
            b'\n' => lit(buf, p, b"\\n"),
            b'"' if quote => lit(buf, p, b"\\\""),
            _ => byte(buf, p, c),
        };
    }
    p
}

/// The 32-byte window at `p` that numbers are formatted into.
#[inline]
fn window(buf: &mut [u8], p: usize) -> Option<&mut [u8; FAST_LEN]> {
    buf.get_mut(p..p + FAST_LEN).and_then(|w| w.try_into().ok())
}

/// A float as text format 0.0.4 writes it (Go's `'g'`).
#[inline]
pub(super) fn float(buf: &mut [u8], p: usize, v: f64) -> usize {
    number(buf, p, v, false)
}

/// A float as OpenMetrics writes it (`.0` added when integral).
#[inline]
pub(super) fn om_float(buf: &mut [u8], p: usize, v: f64) -> usize {
    number(buf, p, v, true)
}

#[inline]
fn number(buf: &mut [u8], p: usize, v: f64, om: bool) -> usize {
    let n = match window(buf, p) {
        Some(w) => float::fast_float(w, v, om),
        None => 0,
    };
    if n != 0 { p + n } else { general_number(buf, p, v, om) }
}

#[cold]
fn general_number(buf: &mut [u8], p: usize, v: f64, om: bool) -> usize {
    let mut tmp = Vec::with_capacity(FAST_LEN);
    if om {
        float::write_om_float(&mut tmp, v);
    } else {
        float::write_float(&mut tmp, v);
    }
    bytes(buf, p, &tmp)
}

/// A decimal integer.
#[inline]
pub(super) fn int(buf: &mut [u8], p: usize, v: i64) -> usize {
    let mut w = [0u8; FAST_LEN];
    let n = float::put_i64(&mut w, v);
    bytes(buf, p, &w[..n])
}

/// A millisecond timestamp as seconds, exactly (`1520879607.789`, `1520879607`, `-0.5`).
pub(super) fn seconds(buf: &mut [u8], mut p: usize, ms: i64) -> usize {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let frac = if secs < 0 && frac != 0 {
        // -0.5 s is -1 s + 500 ms; write it as a negative decimal.
        let total = ms.unsigned_abs();
        p = byte(buf, p, b'-');
        p = int(buf, p, (total / 1000) as i64);
        total % 1000
    } else {
        p = int(buf, p, secs);
        frac as u64
    };
    let mut w = [0u8; FAST_LEN];
    let n = float::put_frac_millis(&mut w, 0, frac);
    bytes(buf, p, &w[..n])
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

/// Copies `s` to `buf[p..]` and returns true, or returns false (having written some of it) when a byte may need
/// escaping.
#[inline(always)]
fn copy_plain(buf: &mut [u8], p: usize, s: &[u8]) -> bool {
    let n = s.len();
    let Some(dst) = buf.get_mut(p..p + n) else {
        return false;
    };
    if n >= 8 {
        let mut flags = 0;
        let mut d = dst.chunks_exact_mut(8);
        for (d, s) in (&mut d).zip(s.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            flags |= maybe_special(u64::from_le_bytes(w));
            d.copy_from_slice(&w);
        }
        if !d.into_remainder().is_empty()
            && let (Some(d), Some(s)) = (dst.last_chunk_mut::<8>(), s.last_chunk::<8>())
        {
            flags |= maybe_special(u64::from_le_bytes(*s));
            *d = *s;
        }
        flags == 0
    } else if n >= 4 {
        let (Some(lo), Some(hi)) = (s.first_chunk::<4>(), s.last_chunk::<4>()) else {
            return false;
        };
        copy_first::<4>(dst, s);
        copy_last::<4>(dst, s);
        maybe_special(u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32) == 0
    } else {
        let mut ok = true;
        for (d, &c) in dst.iter_mut().zip(s) {
            ok &= c >= 0x23 && c != b'\\';
            *d = c;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a line's buffer and start; returns the output with `pre` before it.
    fn with_line(f: impl FnOnce(&mut [u8], usize) -> usize) -> Vec<u8> {
        let mut out = b"pre".to_vec();
        with_sink(&mut out, |sink| {
            let Line { buf, pos, .. } = sink.line(200);
            let end = f(buf, pos);
            sink.commit(end);
        });
        out
    }

    #[test]
    fn copies_of_every_length_are_exact() {
        let src: Vec<u8> = (0..70u8).map(|i| b'a' + i % 26).collect();
        for n in 0..src.len() {
            let out = with_line(|buf, p| {
                let p = bytes(buf, p, &src[..n]);
                byte(buf, p, b'|')
            });
            let mut want = b"pre".to_vec();
            want.extend_from_slice(&src[..n]);
            want.push(b'|');
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn repeat_copies_earlier_output() {
        for n in 0..40 {
            let src: Vec<u8> = (0..n as u8).map(|i| b'A' + i % 26).collect();
            let out = with_line(|buf, at| {
                let p = bytes(buf, at, &src);
                let p = byte(buf, p, b'/');
                let p = repeat(buf, p, at, n);
                byte(buf, p, b'|')
            });
            let mut want = b"pre".to_vec();
            want.extend_from_slice(&src);
            want.push(b'/');
            want.extend_from_slice(&src);
            want.push(b'|');
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn word_copy_and_escape_agree_with_a_plain_scan() {
        let alphabet = [b'a', b'\\', b'"', b'\n', 0x80, 0xff, b'0', 0x5c ^ 0x80, b' ', b'#'];
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
                let any = v.iter().any(|&c| c < 0x23 || c == b'\\');
                let mut buf = vec![0u8; 64];
                assert_eq!(!copy_plain(&mut buf, 3, &v), any, "{v:?}");
                let Ok(s) = std::str::from_utf8(&v) else { continue };
                let out = with_line(|buf, p| label_value(buf, p, s));
                let mut want = b"pre".to_vec();
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
        }
    }

    #[test]
    fn numbers_and_seconds() {
        let out = with_line(|buf, mut p| {
            for v in [0i64, 7, -7, 1234567890123, i64::MIN, i64::MAX] {
                p = int(buf, p, v);
                p = byte(buf, p, b' ');
            }
            for ms in [1520879607789i64, 1520879607000, -500, -1500, 0, 5] {
                p = seconds(buf, p, ms);
                p = byte(buf, p, b' ');
            }
            p = float(buf, p, 6717066.0);
            p = byte(buf, p, b' ');
            p = om_float(buf, p, 17.0);
            p = byte(buf, p, b' ');
            float(buf, p, 0.1 + 0.2)
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "pre0 7 -7 1234567890123 {} {} 1520879607.789 1520879607 -0.5 -1.5 0 0.005 6.717066e+06 17.0 \
                 0.30000000000000004",
                i64::MIN,
                i64::MAX
            )
        );
    }

    #[test]
    fn the_buffer_grows_between_lines() {
        let mut out = Vec::new();
        let flushes = with_sink(&mut out, |sink| {
            for i in 0..10_000 {
                let Line { buf, pos, .. } = sink.line(40);
                let p = lit(buf, pos, b"line ");
                let p = int(buf, p, i);
                let p = byte(buf, p, b'\n');
                sink.commit(p);
            }
            // A line longer than the staging buffer.
            let long = "x".repeat(3 * STAGE);
            let Line { buf, pos, .. } = sink.line(long.len() + 1);
            let p = bytes(buf, pos, long.as_bytes());
            let p = byte(buf, p, b'\n');
            sink.commit(p);
            sink.generation()
        });
        assert!(flushes > 0);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 10_001);
        assert!(text.contains("\nline 9999\nxxx"));
        assert_eq!(
            text.len(),
            (0..10_000).map(|i| 6 + i.to_string().len()).sum::<usize>() + 3 * STAGE + 1
        );
    }
}
