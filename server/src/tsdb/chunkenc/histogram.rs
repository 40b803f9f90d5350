//! The native histogram chunk encodings (Prometheus' `EncHistogram` = 2 and `EncFloatHistogram` = 3; layout in
//! `tsdb_format_chunks.md`).
//!
//! Both start with a big-endian `u16` sample count and a flags byte whose top two bits are the counter reset
//! header, then the layout shared by every sample of the chunk: the zero threshold (1 or 9 bytes), the schema, the
//! positive and negative spans and, for schema -53, the custom bucket bounds. Integer histograms then store the
//! first sample's timestamp, count, zero count, sum and (delta-encoded) buckets raw, and later samples as deltas of
//! deltas in varbit integers, the sum XOR-encoded. Float histograms XOR-encode every value, each field with its own
//! leading/trailing-zero window. A stale marker sample (sum = staleness NaN) carries no buckets.
//!
//! Unlike Prometheus, the builders here never re-encode a chunk when new buckets appear: a histogram whose layout
//! differs from the chunk's starts a new chunk ([`Appendability::NewChunk`]). Both produce valid chunks; this one
//! needs fewer code paths at the cost of slightly more chunks for histograms whose buckets keep growing.

use super::bstream::{BitReader, BitWriter};
use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use super::xor::{NO_WINDOW, write_xor};
use super::{ChunkError, MAX_SAMPLES};
use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span};

/// Encoding byte of integer histogram chunks.
pub const ENCODING_HISTOGRAM: u8 = 2;
/// Encoding byte of float histogram chunks.
pub const ENCODING_FLOAT_HISTOGRAM: u8 = 3;
/// Bytes before the bit stream: sample count and flags.
const HEADER_SIZE: usize = 3;
/// Mask of the counter reset header in the flags byte.
const RESET_MASK: u8 = 0b1100_0000;

/// The staleness marker's bit pattern.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN
}

/// What a chunk says about counter resets before its first sample (the flags byte's top two bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterResetHeader {
    /// Not known; query-time detection decides.
    #[default]
    Unknown,
    /// The chunk starts after a counter reset.
    CounterReset,
    /// The chunk continues the previous one without a reset.
    NotCounterReset,
    /// The chunk holds a gauge histogram.
    Gauge,
}

impl CounterResetHeader {
    fn bits(self) -> u8 {
        match self {
            CounterResetHeader::Unknown => 0b0000_0000,
            CounterResetHeader::CounterReset => 0b1000_0000,
            CounterResetHeader::NotCounterReset => 0b0100_0000,
            CounterResetHeader::Gauge => 0b1100_0000,
        }
    }

    fn from_flags(flags: u8) -> CounterResetHeader {
        match flags & RESET_MASK {
            0b1000_0000 => CounterResetHeader::CounterReset,
            0b0100_0000 => CounterResetHeader::NotCounterReset,
            0b1100_0000 => CounterResetHeader::Gauge,
            _ => CounterResetHeader::Unknown,
        }
    }

    /// The hint of the `n`-th (1-based) sample read from a chunk with this header.
    fn hint(self, n: u16) -> CounterResetHint {
        match self {
            CounterResetHeader::Gauge => CounterResetHint::Gauge,
            _ if n > 1 => CounterResetHint::NotCounterReset,
            CounterResetHeader::CounterReset => CounterResetHint::CounterReset,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// Whether a histogram can go into the current chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appendability {
    /// Append it.
    Append,
    /// Start a new chunk with this header and append it there.
    NewChunk(CounterResetHeader),
}

// ---- layout -------------------------------------------------------------------------------------------------

/// The layout shared by all samples of a chunk.
#[derive(Debug, Clone, PartialEq, Default)]
struct Layout {
    schema: i32,
    zero_threshold: f64,
    positive_spans: Vec<Span>,
    negative_spans: Vec<Span>,
    custom_values: Vec<f64>,
}

impl Layout {
    fn matches(&self, schema: i32, zero_threshold: f64, pos: &[Span], neg: &[Span], custom: &[f64]) -> bool {
        self.schema == schema
            && self.zero_threshold.to_bits() == zero_threshold.to_bits()
            && self.positive_spans == pos
            && self.negative_spans == neg
            && (schema != CUSTOM_BUCKETS_SCHEMA || floats_equal(&self.custom_values, custom))
    }

    fn num_positive(&self) -> usize {
        count_spans(&self.positive_spans)
    }

    fn num_negative(&self) -> usize {
        count_spans(&self.negative_spans)
    }

    fn write(&self, w: &mut BitWriter) {
        put_zero_threshold(w, self.zero_threshold);
        put_varbit_int(w, i64::from(self.schema));
        put_spans(w, &self.positive_spans);
        put_spans(w, &self.negative_spans);
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            put_varbit_uint(w, self.custom_values.len() as u64);
            for &v in &self.custom_values {
                put_custom_bound(w, v);
            }
        }
    }

    fn read(r: &mut BitReader<'_>) -> Option<Layout> {
        let zero_threshold = read_zero_threshold(r)?;
        let schema = i32::try_from(read_varbit_int(r)?).ok()?;
        let positive_spans = read_spans(r)?;
        let negative_spans = read_spans(r)?;
        let mut custom_values = Vec::new();
        if schema == CUSTOM_BUCKETS_SCHEMA {
            let n = read_varbit_uint(r)?;
            for _ in 0..n {
                custom_values.push(read_custom_bound(r)?);
                if custom_values.len() > 1 << 16 {
                    return None;
                }
            }
        }
        Some(Layout {
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            custom_values,
        })
    }
}

fn floats_equal(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn count_spans(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

/// One byte for 0 and for powers of two between 2^-243 and 2^10, else 255 and the 8 bytes of the float.
fn put_zero_threshold(w: &mut BitWriter, t: f64) {
    if t == 0.0 {
        w.write_byte(0);
        return;
    }
    let bits = t.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    // In frexp terms t = 0.5 * 2^exp for a positive normal power of two.
    let exp = biased - 1022;
    if t > 0.0 && biased != 0 && biased != 0x7ff && mantissa == 0 && (-242..=11).contains(&exp) {
        w.write_byte((exp + 243) as u8);
    } else {
        w.write_byte(255);
        w.write_bits(bits, 64);
    }
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Option<f64> {
    match r.read_byte()? {
        0 => Some(0.0),
        255 => r.read_bits(64).map(f64::from_bits),
        b => {
            // 0.5 * 2^(b - 243) = 2^(b - 244); b in 1..=254 keeps the exponent normal.
            let exp = i64::from(b) - 244;
            Some(f64::from_bits(((exp + 1023) as u64) << 52))
        }
    }
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Option<Vec<Span>> {
    let n = read_varbit_uint(r)?;
    if n > 1 << 16 {
        return None;
    }
    let mut spans = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let length = u32::try_from(read_varbit_uint(r)?).ok()?;
        let offset = i32::try_from(read_varbit_int(r)?).ok()?;
        spans.push(Span { offset, length });
    }
    Some(spans)
}

/// Bounds that are multiples of 0.001 in `0 ..= 33554.430` as `bound * 1000 + 1` in varbit; others as a 0 bit and
/// the 8 bytes of the float.
fn put_custom_bound(w: &mut BitWriter, f: f64) {
    let tf = f * 1000.0;
    let whole = {
        let i = (f * 1000.0).round() as u64;
        f == i as f64 / 1000.0
    };
    if !(0.0..=33_554_430.0).contains(&tf) || !whole {
        w.write_bit(false);
        w.write_bits(f.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, tf.round() as u64 + 1);
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Option<f64> {
    match read_varbit_uint(r)? {
        0 => r.read_bits(64).map(f64::from_bits),
        v => Some((v - 1) as f64 / 1000.0),
    }
}

/// Reads an XOR-encoded value; windows start at (0, 0) as upstream's readers do.
fn read_xor(r: &mut BitReader<'_>, v: &mut f64, leading: &mut u8, trailing: &mut u8) -> Option<()> {
    if !r.read_bit()? {
        return Some(());
    }
    let (lead, sig) = if !r.read_bit()? {
        (*leading, 64u8.checked_sub(*leading)?.checked_sub(*trailing)?)
    } else {
        let lead = r.read_bits(5)? as u8;
        let mut sig = r.read_bits(6)? as u8;
        if sig == 0 {
            sig = 64;
        }
        *leading = lead;
        *trailing = 64u8.checked_sub(lead)?.checked_sub(sig)?;
        (lead, sig)
    };
    let bits = r.read_bits(sig)?;
    let shift = 64u32.checked_sub(u32::from(lead) + u32::from(sig))?;
    *v = f64::from_bits(v.to_bits() ^ bits.checked_shl(shift).unwrap_or(0));
    Some(())
}

fn new_stream() -> BitWriter {
    BitWriter::from_bytes(vec![0; HEADER_SIZE])
}

fn set_count(w: &mut BitWriter, n: u16) {
    w.bytes_mut()[..2].copy_from_slice(&n.to_be_bytes());
}

fn header_of(bytes: &[u8]) -> Result<(u16, CounterResetHeader), ChunkError> {
    if bytes.len() < HEADER_SIZE {
        return Err(ChunkError::NoHeader { len: bytes.len() });
    }
    Ok((
        u16::from_be_bytes([bytes[0], bytes[1]]),
        CounterResetHeader::from_flags(bytes[2]),
    ))
}

// ---- integer histograms ---------------------------------------------------------------------------------------

/// Builds an integer histogram chunk (an owned appender, like [`super::XorBuilder`]).
#[derive(Debug, Clone)]
pub struct HistogramBuilder {
    stream: BitWriter,
    layout: Layout,
    t: i64,
    t_delta: i64,
    count: u64,
    zero_count: u64,
    count_delta: i64,
    zero_count_delta: i64,
    positive: Vec<i64>,
    negative: Vec<i64>,
    positive_delta: Vec<i64>,
    negative_delta: Vec<i64>,
    sum: f64,
    leading: u8,
    trailing: u8,
    last: Option<Histogram>,
}

impl HistogramBuilder {
    /// An empty chunk with the given counter reset header.
    pub fn new(header: CounterResetHeader) -> HistogramBuilder {
        let mut stream = new_stream();
        stream.bytes_mut()[2] = header.bits();
        HistogramBuilder {
            stream,
            layout: Layout::default(),
            t: 0,
            t_delta: 0,
            count: 0,
            zero_count: 0,
            count_delta: 0,
            zero_count_delta: 0,
            positive: Vec::new(),
            negative: Vec::new(),
            positive_delta: Vec::new(),
            negative_delta: Vec::new(),
            sum: 0.0,
            leading: NO_WINDOW,
            trailing: 0,
            last: None,
        }
    }

    /// The last appended sample.
    pub fn last(&self) -> Option<(i64, &Histogram)> {
        self.last.as_ref().map(|h| (self.t, h))
    }

    /// The chunk bytes.
    pub fn bytes(&self) -> &[u8] {
        self.stream.bytes()
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        let b = self.stream.bytes();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The counter reset header.
    pub fn header(&self) -> CounterResetHeader {
        CounterResetHeader::from_flags(self.stream.bytes()[2])
    }

    fn set_header(&mut self, h: CounterResetHeader) {
        let b = &mut self.stream.bytes_mut()[2];
        *b = (*b & !RESET_MASK) | h.bits();
    }

    /// Whether `h` can be appended, or which header the next chunk gets. A counter reset (the count, the zero
    /// count or a bucket going down, or an explicit hint) or a change of layout starts a new chunk; so does a
    /// change between gauge and counter histograms, and a sample after a stale marker.
    pub fn appendability(&self, h: &Histogram) -> Appendability {
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        if self.num_samples() == 0 {
            return Appendability::Append;
        }
        if self.num_samples() == MAX_SAMPLES {
            return Appendability::NewChunk(if gauge {
                CounterResetHeader::Gauge
            } else {
                CounterResetHeader::Unknown
            });
        }
        if gauge != (self.header() == CounterResetHeader::Gauge) {
            return Appendability::NewChunk(if gauge {
                CounterResetHeader::Gauge
            } else {
                CounterResetHeader::Unknown
            });
        }
        if is_stale(h.sum) {
            return Appendability::Append;
        }
        let new_header = if gauge {
            CounterResetHeader::Gauge
        } else {
            CounterResetHeader::Unknown
        };
        if is_stale(self.sum) {
            return Appendability::NewChunk(new_header);
        }
        if !gauge && h.counter_reset_hint == CounterResetHint::CounterReset {
            return Appendability::NewChunk(CounterResetHeader::CounterReset);
        }
        if !self.layout.matches(
            h.schema,
            h.zero_threshold,
            &h.positive_spans,
            &h.negative_spans,
            &h.custom_values,
        ) || h.positive_buckets.len() != self.positive.len()
            || h.negative_buckets.len() != self.negative.len()
        {
            return Appendability::NewChunk(new_header);
        }
        if !gauge && (h.count < self.count || h.zero_count < self.zero_count || buckets_decreased(self, h)) {
            return Appendability::NewChunk(CounterResetHeader::CounterReset);
        }
        Appendability::Append
    }

    /// Appends `h` at `t`. The caller checked [`HistogramBuilder::appendability`]; a histogram whose buckets do
    /// not fit the chunk's layout is refused.
    pub fn append(&mut self, t: i64, h: &Histogram) -> Result<(), ChunkError> {
        let num = self.num_samples();
        if num == MAX_SAMPLES {
            return Err(ChunkError::Full);
        }
        let stale = is_stale(h.sum);
        let empty = Histogram::default();
        let src = if stale { &empty } else { h };
        if num == 0 {
            if src.positive_buckets.len() != count_spans(&src.positive_spans)
                || src.negative_buckets.len() != count_spans(&src.negative_spans)
            {
                return Err(ChunkError::Layout);
            }
            self.layout = Layout {
                schema: src.schema,
                zero_threshold: src.zero_threshold,
                positive_spans: src.positive_spans.clone(),
                negative_spans: src.negative_spans.clone(),
                custom_values: src.custom_values.clone(),
            };
            self.layout.write(&mut self.stream);
            self.positive = vec![0; self.layout.num_positive()];
            self.negative = vec![0; self.layout.num_negative()];
            self.positive_delta = vec![0; self.positive.len()];
            self.negative_delta = vec![0; self.negative.len()];
            let w = &mut self.stream;
            put_varbit_int(w, t);
            put_varbit_uint(w, src.count);
            put_varbit_uint(w, src.zero_count);
            w.write_bits(h.sum.to_bits(), 64);
            for &b in src.positive_buckets.iter().chain(&src.negative_buckets) {
                put_varbit_int(w, b);
            }
            match h.counter_reset_hint {
                CounterResetHint::Gauge => self.set_header(CounterResetHeader::Gauge),
                CounterResetHint::CounterReset => self.set_header(CounterResetHeader::CounterReset),
                _ => {}
            }
            self.t_delta = 0;
            self.count_delta = 0;
            self.zero_count_delta = 0;
        } else {
            if !stale
                && (src.positive_buckets.len() != self.positive.len()
                    || src.negative_buckets.len() != self.negative.len())
            {
                return Err(ChunkError::Layout);
            }
            let t_delta = t.wrapping_sub(self.t);
            let count_delta = (src.count as i64).wrapping_sub(self.count as i64);
            let zero_count_delta = (src.zero_count as i64).wrapping_sub(self.zero_count as i64);
            let mut count_dod = count_delta.wrapping_sub(self.count_delta);
            let mut zero_count_dod = zero_count_delta.wrapping_sub(self.zero_count_delta);
            if stale {
                count_dod = 0;
                zero_count_dod = 0;
            }
            let w = &mut self.stream;
            put_varbit_int(w, t_delta.wrapping_sub(self.t_delta));
            put_varbit_int(w, count_dod);
            put_varbit_int(w, zero_count_dod);
            write_xor(w, h.sum, self.sum, &mut self.leading, &mut self.trailing);
            for (i, &b) in src.positive_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(self.positive[i]);
                put_varbit_int(w, delta.wrapping_sub(self.positive_delta[i]));
                self.positive_delta[i] = delta;
            }
            for (i, &b) in src.negative_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(self.negative[i]);
                put_varbit_int(w, delta.wrapping_sub(self.negative_delta[i]));
                self.negative_delta[i] = delta;
            }
            self.t_delta = t_delta;
            self.count_delta = count_delta;
            self.zero_count_delta = zero_count_delta;
        }
        set_count(&mut self.stream, num + 1);
        self.t = t;
        self.count = src.count;
        self.zero_count = src.zero_count;
        for (dst, &b) in self.positive.iter_mut().zip(&src.positive_buckets) {
            *dst = b;
        }
        for (dst, &b) in self.negative.iter_mut().zip(&src.negative_buckets) {
            *dst = b;
        }
        self.sum = h.sum;
        self.last = Some(h.clone());
        Ok(())
    }
}

/// Whether any absolute bucket count of `h` is below the chunk's last one (same layout).
fn buckets_decreased(b: &HistogramBuilder, h: &Histogram) -> bool {
    let down = |old: &[i64], new: &[i64]| {
        let (mut a, mut c) = (0i64, 0i64);
        old.iter().zip(new).any(|(o, n)| {
            a = a.wrapping_add(*o);
            c = c.wrapping_add(*n);
            c < a
        })
    };
    down(&b.positive, &h.positive_buckets) || down(&b.negative, &h.negative_buckets)
}

/// Iterates an integer histogram chunk's samples; a corrupt chunk yields one error.
#[derive(Debug)]
pub struct HistogramIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    layout: Layout,
    t: i64,
    t_delta: i64,
    count: u64,
    zero_count: u64,
    count_delta: i64,
    zero_count_delta: i64,
    positive: Vec<i64>,
    negative: Vec<i64>,
    positive_delta: Vec<i64>,
    negative_delta: Vec<i64>,
    sum: f64,
    leading: u8,
    trailing: u8,
    failed: bool,
}

impl<'a> HistogramIter<'a> {
    /// An iterator over `bytes` (a whole chunk, header included).
    pub fn new(bytes: &'a [u8]) -> Result<HistogramIter<'a>, ChunkError> {
        let (total, header) = header_of(bytes)?;
        Ok(HistogramIter {
            r: BitReader::new(&bytes[HEADER_SIZE..]),
            total,
            read: 0,
            header,
            layout: Layout::default(),
            t: 0,
            t_delta: 0,
            count: 0,
            zero_count: 0,
            count_delta: 0,
            zero_count_delta: 0,
            positive: Vec::new(),
            negative: Vec::new(),
            positive_delta: Vec::new(),
            negative_delta: Vec::new(),
            sum: 0.0,
            leading: 0,
            trailing: 0,
            failed: false,
        })
    }

    /// The chunk's counter reset header.
    pub fn header(&self) -> CounterResetHeader {
        self.header
    }

    fn decode(&mut self) -> Option<()> {
        let r = &mut self.r;
        if self.read == 0 {
            self.layout = Layout::read(r)?;
            let (np, nn) = (self.layout.num_positive(), self.layout.num_negative());
            if np + nn > 1 << 16 {
                return None;
            }
            self.t = read_varbit_int(r)?;
            self.count = read_varbit_uint(r)?;
            self.zero_count = read_varbit_uint(r)?;
            self.sum = f64::from_bits(r.read_bits(64)?);
            self.positive = (0..np).map(|_| read_varbit_int(r)).collect::<Option<_>>()?;
            self.negative = (0..nn).map(|_| read_varbit_int(r)).collect::<Option<_>>()?;
            self.positive_delta = vec![0; np];
            self.negative_delta = vec![0; nn];
            return Some(());
        }
        self.t_delta = self.t_delta.wrapping_add(read_varbit_int(r)?);
        self.t = self.t.wrapping_add(self.t_delta);
        self.count_delta = self.count_delta.wrapping_add(read_varbit_int(r)?);
        self.count = (self.count as i64).wrapping_add(self.count_delta) as u64;
        self.zero_count_delta = self.zero_count_delta.wrapping_add(read_varbit_int(r)?);
        self.zero_count = (self.zero_count as i64).wrapping_add(self.zero_count_delta) as u64;
        read_xor(r, &mut self.sum, &mut self.leading, &mut self.trailing)?;
        if is_stale(self.sum) {
            return Some(());
        }
        for i in 0..self.positive.len() {
            self.positive_delta[i] = self.positive_delta[i].wrapping_add(read_varbit_int(r)?);
            self.positive[i] = self.positive[i].wrapping_add(self.positive_delta[i]);
        }
        for i in 0..self.negative.len() {
            self.negative_delta[i] = self.negative_delta[i].wrapping_add(read_varbit_int(r)?);
            self.negative[i] = self.negative[i].wrapping_add(self.negative_delta[i]);
        }
        Some(())
    }

    fn current(&self) -> Histogram {
        if is_stale(self.sum) {
            return Histogram {
                sum: self.sum,
                ..Histogram::default()
            };
        }
        Histogram {
            counter_reset_hint: self.header.hint(self.read),
            schema: self.layout.schema,
            zero_threshold: self.layout.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans: self.layout.positive_spans.clone(),
            negative_spans: self.layout.negative_spans.clone(),
            positive_buckets: self.positive.clone(),
            negative_buckets: self.negative.clone(),
            custom_values: self.layout.custom_values.clone(),
        }
    }
}

impl Iterator for HistogramIter<'_> {
    type Item = Result<(i64, Histogram), ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.read >= self.total {
            return None;
        }
        if self.decode().is_none() {
            self.failed = true;
            return Some(Err(ChunkError::Truncated {
                sample: self.read,
                count: self.total,
            }));
        }
        self.read += 1;
        Some(Ok((self.t, self.current())))
    }
}

// ---- float histograms -----------------------------------------------------------------------------------------

/// An XOR-encoded value with its window.
#[derive(Debug, Clone, Copy)]
struct XorValue {
    value: f64,
    leading: u8,
    trailing: u8,
}

impl XorValue {
    fn new(value: f64) -> XorValue {
        XorValue {
            value,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    fn write(&mut self, w: &mut BitWriter, v: f64) {
        write_xor(w, v, self.value, &mut self.leading, &mut self.trailing);
        self.value = v;
    }

    fn read(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        read_xor(r, &mut self.value, &mut self.leading, &mut self.trailing)
    }
}

/// Builds a float histogram chunk.
#[derive(Debug, Clone)]
pub struct FloatHistogramBuilder {
    stream: BitWriter,
    layout: Layout,
    t: i64,
    t_delta: i64,
    count: XorValue,
    zero_count: XorValue,
    sum: XorValue,
    positive: Vec<XorValue>,
    negative: Vec<XorValue>,
    last: Option<FloatHistogram>,
}

impl FloatHistogramBuilder {
    /// An empty chunk with the given counter reset header.
    pub fn new(header: CounterResetHeader) -> FloatHistogramBuilder {
        let mut stream = new_stream();
        stream.bytes_mut()[2] = header.bits();
        FloatHistogramBuilder {
            stream,
            layout: Layout::default(),
            t: 0,
            t_delta: 0,
            count: XorValue::new(0.0),
            zero_count: XorValue::new(0.0),
            sum: XorValue::new(0.0),
            positive: Vec::new(),
            negative: Vec::new(),
            last: None,
        }
    }

    /// The last appended sample.
    pub fn last(&self) -> Option<(i64, &FloatHistogram)> {
        self.last.as_ref().map(|h| (self.t, h))
    }

    /// The chunk bytes.
    pub fn bytes(&self) -> &[u8] {
        self.stream.bytes()
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        let b = self.stream.bytes();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The counter reset header.
    pub fn header(&self) -> CounterResetHeader {
        CounterResetHeader::from_flags(self.stream.bytes()[2])
    }

    fn set_header(&mut self, h: CounterResetHeader) {
        let b = &mut self.stream.bytes_mut()[2];
        *b = (*b & !RESET_MASK) | h.bits();
    }

    /// As [`HistogramBuilder::appendability`], for float histograms.
    pub fn appendability(&self, h: &FloatHistogram) -> Appendability {
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let new_header = if gauge {
            CounterResetHeader::Gauge
        } else {
            CounterResetHeader::Unknown
        };
        if self.num_samples() == 0 {
            return Appendability::Append;
        }
        if self.num_samples() == MAX_SAMPLES || gauge != (self.header() == CounterResetHeader::Gauge) {
            return Appendability::NewChunk(new_header);
        }
        if is_stale(h.sum) {
            return Appendability::Append;
        }
        if is_stale(self.sum.value) {
            return Appendability::NewChunk(new_header);
        }
        if !gauge && h.counter_reset_hint == CounterResetHint::CounterReset {
            return Appendability::NewChunk(CounterResetHeader::CounterReset);
        }
        if !self.layout.matches(
            h.schema,
            h.zero_threshold,
            &h.positive_spans,
            &h.negative_spans,
            &h.custom_values,
        ) || h.positive_buckets.len() != self.positive.len()
            || h.negative_buckets.len() != self.negative.len()
        {
            return Appendability::NewChunk(new_header);
        }
        let down = |old: &[XorValue], new: &[f64]| old.iter().zip(new).any(|(o, n)| *n < o.value);
        if !gauge
            && (h.count < self.count.value
                || h.zero_count < self.zero_count.value
                || down(&self.positive, &h.positive_buckets)
                || down(&self.negative, &h.negative_buckets))
        {
            return Appendability::NewChunk(CounterResetHeader::CounterReset);
        }
        Appendability::Append
    }

    /// Appends `h` at `t` (see [`HistogramBuilder::append`]).
    pub fn append(&mut self, t: i64, h: &FloatHistogram) -> Result<(), ChunkError> {
        let num = self.num_samples();
        if num == MAX_SAMPLES {
            return Err(ChunkError::Full);
        }
        let stale = is_stale(h.sum);
        let empty = FloatHistogram::default();
        let src = if stale { &empty } else { h };
        if num == 0 {
            if src.positive_buckets.len() != count_spans(&src.positive_spans)
                || src.negative_buckets.len() != count_spans(&src.negative_spans)
            {
                return Err(ChunkError::Layout);
            }
            self.layout = Layout {
                schema: src.schema,
                zero_threshold: src.zero_threshold,
                positive_spans: src.positive_spans.clone(),
                negative_spans: src.negative_spans.clone(),
                custom_values: src.custom_values.clone(),
            };
            self.layout.write(&mut self.stream);
            let w = &mut self.stream;
            put_varbit_int(w, t);
            w.write_bits(src.count.to_bits(), 64);
            w.write_bits(src.zero_count.to_bits(), 64);
            w.write_bits(h.sum.to_bits(), 64);
            for &b in src.positive_buckets.iter().chain(&src.negative_buckets) {
                w.write_bits(b.to_bits(), 64);
            }
            self.count = XorValue::new(src.count);
            self.zero_count = XorValue::new(src.zero_count);
            self.sum = XorValue::new(h.sum);
            self.positive = src.positive_buckets.iter().map(|&b| XorValue::new(b)).collect();
            self.negative = src.negative_buckets.iter().map(|&b| XorValue::new(b)).collect();
            self.t_delta = 0;
            match h.counter_reset_hint {
                CounterResetHint::Gauge => self.set_header(CounterResetHeader::Gauge),
                CounterResetHint::CounterReset => self.set_header(CounterResetHeader::CounterReset),
                _ => {}
            }
        } else {
            if !stale
                && (src.positive_buckets.len() != self.positive.len()
                    || src.negative_buckets.len() != self.negative.len())
            {
                return Err(ChunkError::Layout);
            }
            let t_delta = t.wrapping_sub(self.t);
            let w = &mut self.stream;
            put_varbit_int(w, t_delta.wrapping_sub(self.t_delta));
            self.count.write(w, src.count);
            self.zero_count.write(w, src.zero_count);
            self.sum.write(w, h.sum);
            for (x, &b) in self.positive.iter_mut().zip(&src.positive_buckets) {
                x.write(w, b);
            }
            for (x, &b) in self.negative.iter_mut().zip(&src.negative_buckets) {
                x.write(w, b);
            }
            self.t_delta = t_delta;
        }
        set_count(&mut self.stream, num + 1);
        self.t = t;
        self.last = Some(h.clone());
        Ok(())
    }
}

/// Iterates a float histogram chunk's samples; a corrupt chunk yields one error.
#[derive(Debug)]
pub struct FloatHistogramIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    layout: Layout,
    t: i64,
    t_delta: i64,
    count: XorValue,
    zero_count: XorValue,
    sum: XorValue,
    positive: Vec<XorValue>,
    negative: Vec<XorValue>,
    failed: bool,
}

impl<'a> FloatHistogramIter<'a> {
    /// An iterator over `bytes` (a whole chunk, header included).
    pub fn new(bytes: &'a [u8]) -> Result<FloatHistogramIter<'a>, ChunkError> {
        let (total, header) = header_of(bytes)?;
        let zero = XorValue {
            value: 0.0,
            leading: 0,
            trailing: 0,
        };
        Ok(FloatHistogramIter {
            r: BitReader::new(&bytes[HEADER_SIZE..]),
            total,
            read: 0,
            header,
            layout: Layout::default(),
            t: 0,
            t_delta: 0,
            count: zero,
            zero_count: zero,
            sum: zero,
            positive: Vec::new(),
            negative: Vec::new(),
            failed: false,
        })
    }

    /// The chunk's counter reset header.
    pub fn header(&self) -> CounterResetHeader {
        self.header
    }

    fn decode(&mut self) -> Option<()> {
        let r = &mut self.r;
        let raw = |r: &mut BitReader<'_>| {
            r.read_bits(64).map(|b| XorValue {
                value: f64::from_bits(b),
                leading: 0,
                trailing: 0,
            })
        };
        if self.read == 0 {
            self.layout = Layout::read(r)?;
            let (np, nn) = (self.layout.num_positive(), self.layout.num_negative());
            if np + nn > 1 << 16 {
                return None;
            }
            self.t = read_varbit_int(r)?;
            self.count = raw(r)?;
            self.zero_count = raw(r)?;
            self.sum = raw(r)?;
            self.positive = (0..np).map(|_| raw(r)).collect::<Option<_>>()?;
            self.negative = (0..nn).map(|_| raw(r)).collect::<Option<_>>()?;
            return Some(());
        }
        self.t_delta = self.t_delta.wrapping_add(read_varbit_int(r)?);
        self.t = self.t.wrapping_add(self.t_delta);
        self.count.read(r)?;
        self.zero_count.read(r)?;
        self.sum.read(r)?;
        if is_stale(self.sum.value) {
            return Some(());
        }
        for x in self.positive.iter_mut().chain(self.negative.iter_mut()) {
            x.read(r)?;
        }
        Some(())
    }

    fn current(&self) -> FloatHistogram {
        if is_stale(self.sum.value) {
            return FloatHistogram {
                sum: self.sum.value,
                ..FloatHistogram::default()
            };
        }
        FloatHistogram {
            counter_reset_hint: self.header.hint(self.read),
            schema: self.layout.schema,
            zero_threshold: self.layout.zero_threshold,
            zero_count: self.zero_count.value,
            count: self.count.value,
            sum: self.sum.value,
            positive_spans: self.layout.positive_spans.clone(),
            negative_spans: self.layout.negative_spans.clone(),
            positive_buckets: self.positive.iter().map(|x| x.value).collect(),
            negative_buckets: self.negative.iter().map(|x| x.value).collect(),
            custom_values: self.layout.custom_values.clone(),
        }
    }
}

impl Iterator for FloatHistogramIter<'_> {
    type Item = Result<(i64, FloatHistogram), ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.read >= self.total {
            return None;
        }
        if self.decode().is_none() {
            self.failed = true;
            return Some(Err(ChunkError::Truncated {
                sample: self.read,
                count: self.total,
            }));
        }
        self.read += 1;
        Some(Ok((self.t, self.current())))
    }
}

#[cfg(test)]
mod tests;
