//! The line grammar of both formats: one method per line kind, working on byte offsets into the input.
//!
//! Text format 0.0.4 follows Prometheus' `promlex`: spaces and tabs separate tokens (several are fine), blank
//! lines and `#` comments are allowed, label values may contain raw newlines, commas between labels are
//! optional, timestamps are integer milliseconds and the last line may lack its newline. OpenMetrics follows
//! `openmetricslex`: exactly one space between tokens, no blank lines or comments, float-second timestamps,
//! exemplars after ` # `, and `# EOF` must end the input.

use std::borrow::Cow;

use super::error::{ErrorKind, Expected};
use super::float::{fast_decimal, parse_float, parse_int_timestamp, parse_seconds_timestamp};
use super::labels::{Escapes, LabelSet, split_quoted, unescape};
use super::{Entry, ExemplarRef, Format, Mode, Parser, Sample};
use crate::model::MetricType;

/// An error at a byte offset, converted to line and column by the caller.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) offset: usize,
    pub(crate) kind: ErrorKind,
}

type PResult<T> = Result<T, Fail>;

/// Character classes: bit 0 metric name start, 1 metric name, 2 label name start, 3 label name.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= 1 | 2;
        }
        if digit {
            v |= 2 | 8;
        }
        if alpha {
            v |= 4 | 8;
        }
        t[c] = v;
        c += 1;
    }
    t
};

#[inline]
fn is_name_start(c: u8) -> bool {
    CLASS[c as usize] & 1 != 0
}

/// The [`CLASS`] bit of metric name characters.
const NAME_CHAR: u8 = 2;
/// The [`CLASS`] bit of label name characters.
const LABEL_CHAR: u8 = 8;

#[inline]
fn is_label_start(c: u8) -> bool {
    CLASS[c as usize] & 4 != 0
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bits of the bytes of `x` that are zero. The lowest one set is exact (a borrow only flags bytes above a
/// zero byte), which is all [`value_stops`] needs.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bits of the bytes of `x` that end a label value scan: `"`, `\`, and a newline when `newline` is all ones.
/// Its lowest set bit marks the first such byte.
#[inline]
fn value_stops(x: u64, newline: u64) -> u64 {
    zero_bytes(x ^ (ONES * u64::from(b'"')))
        | zero_bytes(x ^ (ONES * u64::from(b'\\')))
        | (zero_bytes(x ^ (ONES * u64::from(b'\n'))) & newline)
}

/// A parsed label set: its raw bytes, the offset after `}` and a quoted metric name found inside.
struct ParsedLabels<'a> {
    raw: &'a str,
    end: usize,
    name: Option<Cow<'a, str>>,
}

impl<'a> Parser<'a> {
    fn fail(&self, offset: usize, kind: ErrorKind) -> Fail {
        Fail { offset, kind }
    }

    /// A syntax error at `offset`, showing the token found there.
    fn syntax(&self, offset: usize, expected: Expected) -> Fail {
        let rest = self.input.get(offset..).unwrap_or(b"");
        let n = rest
            .iter()
            .position(|c| matches!(c, b' ' | b'\t' | b'\n'))
            .unwrap_or(rest.len())
            .max(1)
            .min(rest.len());
        self.fail(offset, ErrorKind::syntax(expected, &rest[..n]))
    }

    #[inline]
    fn skip_ws(&self, p: usize) -> usize {
        match self.input.get(p) {
            Some(b' ' | b'\t') => self.scan_while(p + 1, |c| c == b' ' || c == b'\t'),
            _ => p,
        }
    }

    /// The end of the run of bytes at `p` whose [`CLASS`] has `bit`. Eight bytes at a time: the classes of a
    /// whole word are and-ed without branches, and only the word where the run ends is looked at byte by byte.
    #[inline]
    fn scan_class(&self, mut p: usize, bit: u8) -> usize {
        while let Some(word) = self.input.get(p..).and_then(<[u8]>::first_chunk::<8>) {
            if word.iter().fold(bit, |acc, &c| acc & CLASS[c as usize]) == 0 {
                break;
            }
            p += 8;
        }
        self.scan_while(p, |c| CLASS[c as usize] & bit != 0)
    }

    #[inline]
    fn scan_while(&self, p: usize, f: impl Fn(u8) -> bool) -> usize {
        let rest = self.input.get(p..).unwrap_or_default();
        p + rest.iter().position(|&c| !f(c)).unwrap_or(rest.len())
    }

    /// The end of the line starting at or after `p` (the offset of `\n`, or the input length).
    #[inline]
    fn line_end(&self, p: usize) -> usize {
        memchr::memchr(b'\n', &self.input[p..]).map_or(self.input.len(), |i| p + i)
    }

    /// The input bytes `start..end` as `&str`: a cheap slice when the whole input is UTF-8, else checked.
    #[inline]
    fn utf8(&self, start: usize, end: usize, what: &'static str) -> PResult<&'a str> {
        if let Some(s) = self.text.and_then(|t| t.get(start..end)) {
            return Ok(s);
        }
        std::str::from_utf8(&self.input[start..end]).map_err(|_| self.fail(start, ErrorKind::InvalidUtf8 { what }))
    }

    /// A quoted name at `p` (content non-empty, valid UTF-8), unescaped, and the offset after it.
    fn quoted_name(&self, p: usize, expected: Expected) -> PResult<(Cow<'a, str>, usize)> {
        let input: &'a [u8] = self.input;
        let Some((content, rest)) = split_quoted(&input[p..]) else {
            return Err(self.syntax(p, expected));
        };
        if self.format == Format::OpenMetrics && memchr::memchr(b'\n', content).is_some() {
            return Err(self.syntax(p, expected));
        }
        if content.is_empty() {
            return Err(self.fail(p, ErrorKind::EmptyName));
        }
        let end = input.len() - rest.len();
        let name = self.utf8(p + 1, end - 1, "name")?;
        Ok((unescape(name, Escapes::LabelValue), end))
    }

    /// The metric name of a metadata line at `p`: bare or quoted.
    fn metadata_name(&self, p: usize, keyword: &'static str) -> PResult<(Cow<'a, str>, usize)> {
        let input: &'a [u8] = self.input;
        match input.get(p) {
            Some(b'"') => self.quoted_name(p, Expected::MetadataName(keyword)),
            Some(&c) if is_name_start(c) => {
                let end = self.scan_class(p, NAME_CHAR);
                Ok((Cow::Borrowed(self.utf8(p, end, "name")?), end))
            }
            _ => Err(self.syntax(p, Expected::MetadataName(keyword))),
        }
    }

    /// Parses `{...}` at `open`. `exemplar` forbids a quoted metric name inside.
    fn labels(&self, open: usize, exemplar: bool) -> PResult<ParsedLabels<'a>> {
        let input: &'a [u8] = self.input;
        let text = self.format == Format::Text;
        let strict_om = !text && self.mode == Mode::Strict;
        let mut name = None;
        let mut p = open + 1;
        let mut after_comma = false;
        loop {
            if text {
                p = self.skip_ws(p);
            }
            let start = p;
            let quoted = match input.get(p) {
                Some(b'}') => {
                    if after_comma && strict_om {
                        return Err(self.syntax(p, Expected::LabelName));
                    }
                    return Ok(ParsedLabels {
                        raw: self.utf8(open + 1, p, "label set")?,
                        end: p + 1,
                        name,
                    });
                }
                Some(b'"') => {
                    let (_, end) = self.quoted_name(p, Expected::LabelName)?;
                    p = end;
                    true
                }
                Some(&c) if is_label_start(c) => {
                    p = self.scan_while(p, |c| CLASS[c as usize] & LABEL_CHAR != 0);
                    false
                }
                _ => return Err(self.syntax(p, Expected::LabelName)),
            };
            if text {
                p = self.skip_ws(p);
            }
            if quoted && matches!(input.get(p), Some(b',' | b'}')) {
                if exemplar {
                    return Err(self.syntax(p, Expected::LabelName));
                }
                if name.is_some() {
                    return Err(self.fail(start, ErrorKind::MetricNameAlreadySet));
                }
                name = Some(self.quoted_name(start, Expected::LabelName)?.0);
                after_comma = input[p] == b',';
                if after_comma {
                    p += 1;
                }
                continue;
            }
            if input.get(p) != Some(&b'=') {
                return Err(self.syntax(p, Expected::Equal));
            }
            p += 1;
            if text {
                p = self.skip_ws(p);
            }
            if input.get(p) != Some(&b'"') {
                return Err(self.syntax(p, Expected::LabelValue));
            }
            let value_start = p;
            let end = self
                .label_value_end(p + 1)
                .ok_or_else(|| self.syntax(value_start, Expected::LabelValue))?;
            let value = &input[value_start + 1..end];
            if self.text.is_none() && !value.is_ascii() {
                self.utf8(value_start + 1, end, "label value")?;
            }
            p = end + 1;
            if text {
                p = self.skip_ws(p);
            }
            match input.get(p) {
                Some(b',') => {
                    p += 1;
                    after_comma = true;
                }
                Some(b'}') => after_comma = false,
                _ if text => after_comma = false,
                _ => return Err(self.syntax(p, Expected::CommaOrBraceClose)),
            }
        }
    }

    /// The offset of the closing quote of a label value whose content starts at `p`. Scans eight bytes at a time
    /// for `"` and `\` (and a newline in OpenMetrics, where it ends the value as an error).
    #[inline]
    fn label_value_end(&self, mut p: usize) -> Option<usize> {
        let input = self.input;
        let newline = if self.format == Format::Text { 0 } else { u64::MAX };
        loop {
            let rest = input.get(p..)?;
            let i = match rest.first_chunk::<8>() {
                Some(word) => {
                    let mask = value_stops(u64::from_le_bytes(*word), newline);
                    if mask == 0 {
                        p += 8;
                        continue;
                    }
                    mask.trailing_zeros() as usize / 8
                }
                None => rest
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\' || (c == b'\n' && newline != 0))?,
            };
            match rest[i] {
                b'"' => return Some(p + i),
                b'\\' => p += i + 2,
                _ => return None,
            }
        }
    }

    /// The metric name and labels of a sample starting at `p`: (name, labels, offset after them).
    fn series(&self, p: usize) -> PResult<(Cow<'a, str>, LabelSet<'a>, usize)> {
        let input: &'a [u8] = self.input;
        let text = self.format == Format::Text;
        let mut name = None;
        let mut q = p;
        if input[p] != b'{' {
            q = self.scan_class(p, NAME_CHAR);
            name = Some(Cow::Borrowed(self.utf8(p, q, "name")?));
        }
        let mut after = q;
        if text {
            after = self.skip_ws(q);
        }
        let mut labels = LabelSet::empty();
        if input.get(after) == Some(&b'{') {
            let parsed = self.labels(after, false)?;
            if let Some(n) = parsed.name {
                if name.is_some() {
                    return Err(self.fail(after, ErrorKind::MetricNameAlreadySet));
                }
                name = Some(n);
            }
            labels = LabelSet::new(parsed.raw);
            q = parsed.end;
        }
        match name {
            Some(n) => Ok((n, labels, q)),
            None => Err(self.fail(p, ErrorKind::MetricNameNotSet)),
        }
    }

    // ---- text format 0.0.4 ----

    pub(crate) fn next_text(&mut self) -> PResult<Option<Entry<'a>>> {
        let input: &'a [u8] = self.input;
        loop {
            let p = self.skip_ws(self.pos);
            let Some(&c) = input.get(p) else {
                self.pos = input.len();
                return Ok(None);
            };
            self.line_start = p;
            match c {
                b'\n' => self.pos = p + 1,
                b'#' => return self.text_hash(p).map(Some),
                b'{' => return self.text_sample(p).map(Some),
                c if is_name_start(c) => return self.text_sample(p).map(Some),
                _ => return Err(self.syntax(p, Expected::StartToken)),
            }
        }
    }

    fn text_hash(&mut self, p: usize) -> PResult<Entry<'a>> {
        let input: &'a [u8] = self.input;
        let end = self.line_end(p);
        self.pos = end + 1;
        let kw_start = self.skip_ws(p + 1);
        if kw_start > p + 1 && kw_start + 4 < end && matches!(input[kw_start + 4], b' ' | b'\t') {
            let keyword = match &input[kw_start..kw_start + 4] {
                b"HELP" => Some("HELP"),
                b"TYPE" => Some("TYPE"),
                _ => None,
            };
            if let Some(keyword) = keyword {
                let (name, after) = self.metadata_name(self.skip_ws(kw_start + 4), keyword)?;
                if after >= end || !matches!(input[after], b' ' | b'\t') {
                    return Err(self.syntax(after, Expected::MetadataText(keyword)));
                }
                let text = &input[after + 1..end];
                return if keyword == "HELP" {
                    let help = self.utf8(after + 1, end, "help text")?;
                    Ok(Entry::Help {
                        name,
                        help: unescape(help, Escapes::TextHelp),
                    })
                } else {
                    match std::str::from_utf8(text).ok().and_then(MetricType::from_text) {
                        Some(metric_type) => Ok(Entry::Type { name, metric_type }),
                        None => Err(self.fail(
                            after + 1,
                            ErrorKind::InvalidMetricType {
                                text: String::from_utf8_lossy(text).into_owned(),
                            },
                        )),
                    }
                };
            }
        }
        Ok(Entry::Comment(String::from_utf8_lossy(&input[kw_start.min(end)..end])))
    }

    fn text_sample(&mut self, p: usize) -> PResult<Entry<'a>> {
        let input: &'a [u8] = self.input;
        let (name, labels, series_end) = self.series(p)?;
        let v_start = self.skip_ws(series_end);
        // Most values are plain decimals: parse while scanning, and take the result when a separator follows.
        let fast = fast_decimal(&input[v_start..])
            .filter(|&(_, len)| matches!(input.get(v_start + len), None | Some(b' ' | b'\t' | b'\n')));
        let (value, v_end) = match fast {
            Some((v, len)) => (v, v_start + len),
            None => {
                let v_end = self.scan_while(v_start, |c| !matches!(c, b' ' | b'\t' | b'\n'));
                if v_end == v_start {
                    return Err(self.syntax(v_start, Expected::ValueAfterMetric));
                }
                (
                    parse_float(&input[v_start..v_end]).map_err(|k| self.fail(v_start, k))?,
                    v_end,
                )
            }
        };
        let mut q = self.skip_ws(v_end);
        let mut timestamp_ms = None;
        if q < input.len() && input[q] != b'\n' {
            let t_end = self.scan_while(q, |c| c.is_ascii_digit());
            if t_end == q {
                return Err(self.syntax(q, Expected::TimestampOrNewRecord));
            }
            timestamp_ms = Some(parse_int_timestamp(&input[q..t_end]).map_err(|k| self.fail(q, k))?);
            q = self.skip_ws(t_end);
            if q < input.len() && input[q] != b'\n' {
                return Err(self.syntax(q, Expected::NextEntryAfterTimestamp));
            }
        }
        self.pos = q + 1;
        Ok(Entry::Sample(Sample {
            name,
            labels,
            value,
            timestamp_ms,
            exemplar: None,
            series: &input[p..series_end],
        }))
    }

    // ---- OpenMetrics 1.0 ----

    pub(crate) fn next_openmetrics(&mut self) -> PResult<Option<Entry<'a>>> {
        let input: &'a [u8] = self.input;
        let p = self.pos;
        let Some(&c) = input.get(p) else {
            return Err(self.fail(p, ErrorKind::MissingEof));
        };
        self.line_start = p;
        match c {
            b'#' => self.om_hash(p),
            b'{' => self.om_sample(p).map(Some),
            c if is_name_start(c) => self.om_sample(p).map(Some),
            _ => Err(self.syntax(p, Expected::StartToken)),
        }
    }

    fn om_hash(&mut self, p: usize) -> PResult<Option<Entry<'a>>> {
        let input: &'a [u8] = self.input;
        let rest = &input[p..];
        if rest.starts_with(b"# EOF") {
            let mut q = p + 5;
            if input.get(q) == Some(&b'\n') {
                q += 1;
            }
            if q != input.len() {
                return Err(self.fail(q, ErrorKind::DataAfterEof));
            }
            self.pos = q;
            return Ok(None);
        }
        let keyword = if rest.starts_with(b"# HELP ") {
            "HELP"
        } else if rest.starts_with(b"# TYPE ") {
            "TYPE"
        } else if rest.starts_with(b"# UNIT ") {
            "UNIT"
        } else {
            return Err(self.syntax(p, Expected::StartToken));
        };
        let (name, after) = self.metadata_name(p + 7, keyword)?;
        let Some(nl) = memchr::memchr(b'\n', &input[after..]).map(|i| after + i) else {
            return Err(self.fail(input.len(), ErrorKind::MissingEof));
        };
        if input[after] != b' ' {
            return Err(self.syntax(after, Expected::MetadataText(keyword)));
        }
        let text = &input[after + 1..nl];
        self.pos = nl + 1;
        match keyword {
            "HELP" => {
                let help = self.utf8(after + 1, nl, "help text")?;
                Ok(Some(Entry::Help {
                    name,
                    help: unescape(help, Escapes::LabelValue),
                }))
            }
            "TYPE" => match std::str::from_utf8(text).ok().and_then(MetricType::from_openmetrics) {
                Some(metric_type) => Ok(Some(Entry::Type { name, metric_type })),
                None => Err(self.fail(
                    after + 1,
                    ErrorKind::InvalidMetricType {
                        text: String::from_utf8_lossy(text).into_owned(),
                    },
                )),
            },
            _ => {
                let unit = self.utf8(after + 1, nl, "unit")?;
                let suffix_ok = name.strip_suffix(unit).is_some_and(|base| base.ends_with('_'));
                if !unit.is_empty() && !suffix_ok {
                    return Err(self.fail(
                        after + 1,
                        ErrorKind::UnitNotSuffix {
                            unit: unit.to_owned(),
                            name: name.into_owned(),
                        },
                    ));
                }
                Ok(Some(Entry::Unit { name, unit }))
            }
        }
    }

    /// A token after a single space at `p`: its end, or `None` when there is no space or the token is empty.
    #[inline]
    fn om_token(&self, p: usize) -> Option<usize> {
        if self.input.get(p) != Some(&b' ') {
            return None;
        }
        let end = self.scan_while(p + 1, |c| c != b' ' && c != b'\n');
        (end > p + 1).then_some(end)
    }

    fn om_sample(&mut self, p: usize) -> PResult<Entry<'a>> {
        let input: &'a [u8] = self.input;
        let (name, labels, series_end) = self.series(p)?;
        let Some(v_end) = self.om_token(series_end) else {
            return Err(self.syntax(series_end, Expected::ValueAfterMetric));
        };
        let value = parse_float(&input[series_end + 1..v_end]).map_err(|k| self.fail(series_end + 1, k))?;
        let mut q = v_end;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        let mut expected = Expected::TimestampOrNewRecord;
        loop {
            match input.get(q) {
                None => return Err(self.fail(q, ErrorKind::MissingEof)),
                Some(b'\n') => break,
                Some(b' ') if input[q..].starts_with(b" # {") => {
                    let (ex, end) = self.om_exemplar(q + 3)?;
                    exemplar = Some(ex);
                    q = end;
                    break;
                }
                Some(b' ') if timestamp_ms.is_none() => {
                    let Some(t_end) = self.om_token(q) else {
                        return Err(self.syntax(q, expected));
                    };
                    timestamp_ms =
                        Some(parse_seconds_timestamp(&input[q + 1..t_end], false).map_err(|k| self.fail(q + 1, k))?);
                    q = t_end;
                    expected = Expected::NextEntryAfterTimestamp;
                }
                _ => return Err(self.syntax(q, expected)),
            }
        }
        self.pos = q + 1;
        Ok(Entry::Sample(Sample {
            name,
            labels,
            value,
            timestamp_ms,
            exemplar,
            series: &input[p..series_end],
        }))
    }

    /// An exemplar whose label set opens at `open`; returns it and the offset of the line's `\n`.
    fn om_exemplar(&self, open: usize) -> PResult<(ExemplarRef<'a>, usize)> {
        let input: &'a [u8] = self.input;
        let parsed = self.labels(open, true)?;
        let q = parsed.end;
        let Some(v_end) = self.om_token(q) else {
            return Err(self.syntax(q, Expected::ValueAfterExemplarLabels));
        };
        let value = parse_float(&input[q + 1..v_end]).map_err(|k| self.fail(q + 1, k))?;
        let mut timestamp_ms = None;
        let mut q = v_end;
        if input.get(q) == Some(&b' ') {
            let Some(t_end) = self.om_token(q) else {
                return Err(self.syntax(q, Expected::ExemplarTimestampOrNewline));
            };
            timestamp_ms = Some(parse_seconds_timestamp(&input[q + 1..t_end], true).map_err(|k| self.fail(q + 1, k))?);
            q = t_end;
        }
        match input.get(q) {
            Some(b'\n') => Ok((
                ExemplarRef {
                    labels: LabelSet::new(parsed.raw),
                    value,
                    timestamp_ms,
                },
                q,
            )),
            None => Err(self.fail(q, ErrorKind::MissingEof)),
            Some(_) if timestamp_ms.is_some() => Err(self.syntax(q, Expected::NextEntryAfterExemplarTimestamp)),
            Some(_) => Err(self.syntax(q, Expected::ExemplarTimestampOrNewline)),
        }
    }
}
