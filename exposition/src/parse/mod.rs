//! A streaming pull parser for text format 0.0.4 and OpenMetrics 1.0, and a builder that turns its entries into
//! model [`MetricFamily`]s.
//!
//! [`Parser`] reads a scrape body line by line and yields [`Entry`]s that borrow from the input: names, label
//! sets and HELP texts are slices of the body, unescaped lazily (a `Cow` is owned only when an escape is present),
//! and nothing is allocated per sample. Each [`Sample`] also exposes its raw series bytes (name and label set as
//! written, like `Series()` of Prometheus' `textparse`), which a scraper can hash to cache series.
//!
//! Both formats accept Prometheus 3 quoted UTF-8 names: `{"my.metric", a="b"}` and `m{"label.name"="v"}`.
//!
//! Two [`Mode`]s:
//! - [`Mode::Lenient`] accepts what Prometheus' `textparse` `PromParser` and `OpenMetricsParser` accept when
//!   scraping: syntax is checked (and for OpenMetrics the `# EOF` terminator, `# UNIT` suffixes and finite
//!   timestamps), semantics are not.
//! - [`Mode::Strict`] adds the semantic rules. For OpenMetrics these are the OpenMetrics 1.0 rules: metadata
//!   before samples and once per family, families not interleaved and not clashing, sample names and values that
//!   fit the family type (counters non-negative, `_total`/`_created`/`_bucket`/... suffixes, histogram buckets
//!   ordered and ending in `+Inf`, `le`/`quantile` formats, stateset and info values), metrics contiguous,
//!   timestamps not going backwards, exemplars only on counter totals and buckets and within 128 characters, no
//!   trailing comma in label sets and no duplicate label names. For text format 0.0.4 they are the Go client's
//!   `TextParser` rules: metadata once per family and before its samples, families contiguous, no duplicate label
//!   names, and histogram `le` / summary `quantile` labels present and numeric.
//!
//! Errors stop the parser; each carries the 1-based line and column ([`ParseError`]).
//!
//! Timestamps are milliseconds: text format timestamps are taken as written, OpenMetrics timestamps (float
//! seconds) are multiplied by 1000 and truncated toward zero, as Prometheus does.
//!
//! ```
//! use exposition::encode::Format;
//! use exposition::parse::{Entry, Mode, Parser};
//!
//! let body = b"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027 1395066363000\n";
//! let mut samples = 0;
//! for entry in Parser::new(body, Format::Text, Mode::Lenient) {
//!     if let Entry::Sample(s) = entry.unwrap() {
//!         assert_eq!(s.name, "http_requests_total");
//!         assert_eq!(s.labels.get("code").as_deref(), Some("200"));
//!         assert_eq!((s.value, s.timestamp_ms), (1027.0, Some(1395066363000)));
//!         assert_eq!(s.series, b"http_requests_total{code=\"200\"}");
//!         samples += 1;
//!     }
//! }
//! assert_eq!(samples, 1);
//! ```

mod error;
mod families;
mod float;
mod labels;
mod lexer;
mod strict;

use std::borrow::Cow;

pub use crate::encode::Format;
use crate::model::MetricType;
pub use error::{ErrorKind, Expected, ParseError};
pub use families::families;
pub use labels::{LabelIter, LabelRef, LabelSet};

/// How much of the format's rules the parser enforces (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Syntax and semantics (OpenMetrics 1.0 rules for OpenMetrics input).
    Strict,
    /// What Prometheus accepts when scraping.
    Lenient,
}

/// One entry of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP <name> <text>`; the text is unescaped.
    Help {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The help text.
        help: Cow<'a, str>,
    },
    /// `# TYPE <name> <type>`.
    Type {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The type (`untyped` in text format is [`MetricType::Unknown`]).
        metric_type: MetricType,
    },
    /// `# UNIT <name> <unit>` (OpenMetrics only).
    Unit {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The unit, possibly empty.
        unit: &'a str,
    },
    /// Any other `#` line (text format only), without the `#` and the whitespace after it.
    Comment(Cow<'a, str>),
    /// A sample line.
    Sample(Sample<'a>),
}

/// One sample, borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The metric name as the sample writes it (e.g. `foo_bucket`).
    pub name: Cow<'a, str>,
    /// The labels, without the metric name.
    pub labels: LabelSet<'a>,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds since the epoch, if present.
    pub timestamp_ms: Option<i64>,
    /// The exemplar (OpenMetrics only).
    pub exemplar: Option<ExemplarRef<'a>>,
    /// The series as written: the metric name and label set up to the closing `}`.
    pub series: &'a [u8],
}

/// An OpenMetrics exemplar, borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarRef<'a> {
    /// The exemplar labels.
    pub labels: LabelSet<'a>,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if present.
    pub timestamp_ms: Option<i64>,
}

impl ExemplarRef<'_> {
    /// Copies the exemplar into the model's owned [`Exemplar`](crate::model::Exemplar).
    pub fn to_exemplar(&self) -> crate::model::Exemplar {
        crate::model::Exemplar {
            labels: self.labels.to_labels(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// The pull parser. Iterate over it (or call [`Parser::next_entry`]) to get entries; after an error it yields
/// nothing more.
#[derive(Debug)]
pub struct Parser<'a> {
    input: &'a [u8],
    /// The input as `&str` when it is all UTF-8 (then slicing needs no per-token validation).
    text: Option<&'a str>,
    pos: usize,
    /// Where the entry being parsed starts (strict-mode errors point there).
    line_start: usize,
    format: Format,
    mode: Mode,
    done: bool,
    checker: Option<Box<strict::Checker>>,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in `format`, enforcing `mode`.
    pub fn new(input: &'a [u8], format: Format, mode: Mode) -> Parser<'a> {
        Parser {
            input,
            text: std::str::from_utf8(input).ok(),
            pos: 0,
            line_start: 0,
            format,
            mode,
            done: false,
            checker: (mode == Mode::Strict).then(|| Box::new(strict::Checker::new(format))),
        }
    }

    /// The format being parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The next entry, `None` at the end of the input (after `# EOF` for OpenMetrics), or an error.
    pub fn next_entry(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        if self.done {
            return None;
        }
        let step = match self.format {
            Format::Text => self.next_text(),
            Format::OpenMetrics => self.next_openmetrics(),
        };
        let fail = match (step, self.checker.as_mut()) {
            (Ok(Some(entry)), None) => return Some(Ok(entry)),
            (Ok(Some(entry)), Some(checker)) => match checker.check(&entry) {
                Ok(()) => return Some(Ok(entry)),
                Err(kind) => lexer::Fail {
                    offset: self.line_start,
                    kind,
                },
            },
            (Ok(None), checker) => match checker.map(|c| c.finish()) {
                Some(Err(kind)) => lexer::Fail {
                    offset: self.pos.min(self.input.len()),
                    kind,
                },
                _ => {
                    self.done = true;
                    return None;
                }
            },
            (Err(fail), _) => fail,
        };
        self.done = true;
        let (line, column) = error::line_column(self.input, fail.offset);
        Some(Err(ParseError {
            line,
            column,
            kind: fail.kind,
        }))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry()
    }
}

/// Parses the whole input and returns the number of samples, or the first error.
pub fn count_samples(input: &[u8], format: Format, mode: Mode) -> Result<usize, ParseError> {
    let mut n = 0;
    for entry in Parser::new(input, format, mode) {
        if let Entry::Sample(_) = entry? {
            n += 1;
        }
    }
    Ok(n)
}
