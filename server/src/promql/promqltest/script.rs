//! Parsing upstream's PromQL test-script format (`promql/promqltest/README.md`): `load <interval>` blocks of series
//! descriptions, `clear`, and `eval instant at <t> <query>` / `eval range from <t> to <t> step <d> <query>` commands
//! with `expect ...` lines and expected results.
//!
//! Every line is trimmed; `#` starts a comment line; an empty or comment line ends a block.

use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};
use crate::model::labels::Labels;
use crate::model::value::stale_nan;
use crate::promql::engine::histogram::HistogramOps;
#[cfg(test)]
use crate::promql::engine::histogram::expand;
use crate::promql::literals::unquote;
use crate::promql::series::parse_series_metric;

/// A script line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// A command line has an unknown keyword or bad shape.
    #[error("line {line}: invalid command {text:?}: {reason}")]
    Command {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A series description (labels and values) is malformed.
    #[error("line {line}: invalid series description {text:?}: {reason}")]
    Series {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong.
        reason: String,
    },
}

/// One value of a series description.
#[derive(Clone, Debug, PartialEq)]
pub enum Point {
    /// A float (the staleness marker is a float NaN with a special bit pattern).
    Float(f64),
    /// A native histogram.
    Histogram(Box<FloatHistogram>),
}

/// A parsed series description: labels and one optional value per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesDesc {
    /// The labels (with `__name__`).
    pub labels: Labels,
    /// `metric{...}@st values`: the values are the samples' start timestamps (offsets), not sample values.
    pub start_timestamps: bool,
    /// Values in order; `None` is an omitted point (`_`).
    pub values: Vec<Option<Point>>,
}

/// How an expected annotation or error message is matched.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// Exactly this message (`msg:`).
    Exact(String),
    /// A regular expression (`regex:`), unanchored.
    Regex(String),
}

/// The result an eval expects.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Series (for instant queries: one value each; for range queries: one per step).
    Series(Vec<SeriesDesc>),
    /// A scalar result (an instant query of a scalar expression).
    Scalar(f64),
    /// `expect string "..."`.
    String(String),
    /// `expect range vector from .. to .. step ..` followed by series.
    RangeVector {
        /// First timestamp (ms).
        start: i64,
        /// Last timestamp (ms).
        end: i64,
        /// Step (ms).
        step: i64,
        /// Expected series.
        series: Vec<SeriesDesc>,
    },
}

/// When an eval evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalTime {
    /// An instant query at this time (ms).
    Instant(i64),
    /// A range query.
    Range {
        /// Start (ms).
        start: i64,
        /// End (ms).
        end: i64,
        /// Step (ms).
        step: i64,
    },
}

/// An `eval` command with its expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct Eval {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The query text.
    pub query: String,
    /// Instant or range.
    pub time: EvalTime,
    /// `expect fail` (with an optional message).
    pub fail: Option<MessageMatch>,
    /// `expect warn` lines.
    pub warn: Vec<MessageMatch>,
    /// `expect info` lines.
    pub info: Vec<MessageMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered`.
    pub ordered: bool,
    /// The expected result.
    pub expected: Expected,
}

/// A script command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `load <interval>` (or `load_with_nhcb`): series to append.
    Load {
        /// 1-based line of the `load` line.
        line: usize,
        /// Interval between points (ms).
        interval: i64,
        /// Whether classic histograms should also be converted to custom-bucket native histograms.
        with_nhcb: bool,
        /// The series.
        series: Vec<SeriesDesc>,
    },
    /// `clear`: drop all data.
    Clear,
    /// An `eval`.
    Eval(Box<Eval>),
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        if is_blank(line) {
            continue;
        }
        let cmd_err = |reason: &str| ScriptError::Command {
            line: lineno,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let (word, rest) = split_word(line);
        match word {
            "clear" => commands.push(Command::Clear),
            "load" | "load_with_nhcb" => {
                let interval = parse_duration(rest.trim()).ok_or_else(|| cmd_err("bad interval"))?;
                let mut series = Vec::new();
                while i < lines.len() && !is_blank(lines[i]) {
                    series.push(parse_series_desc(lines[i], i + 1)?);
                    i += 1;
                }
                commands.push(Command::Load {
                    line: lineno,
                    interval,
                    with_nhcb: word == "load_with_nhcb",
                    series,
                });
            }
            w if w.starts_with("eval") => {
                let mut eval = parse_eval_line(w, rest).map_err(|r| cmd_err(&r))?;
                eval.line = lineno;
                let mut series = Vec::new();
                let mut range_vector = None;
                while i < lines.len() && !is_blank(lines[i]) {
                    let l = lines[i];
                    let ln = i + 1;
                    i += 1;
                    if let Some(rest) = l.strip_prefix("expect ") {
                        parse_expect(&mut eval, rest.trim(), &mut range_vector).map_err(|reason| {
                            ScriptError::Command {
                                line: ln,
                                text: l.to_string(),
                                reason,
                            }
                        })?;
                        continue;
                    }
                    if let Some(m) = l.strip_prefix("expected_fail_message ") {
                        eval.fail = Some(MessageMatch::Exact(m.trim().to_string()));
                        continue;
                    }
                    if let Some(m) = l.strip_prefix("expected_fail_regexp ") {
                        eval.fail = Some(MessageMatch::Regex(m.trim().to_string()));
                        continue;
                    }
                    // A bare number is a scalar result.
                    if let Some(v) = parse_float(l) {
                        eval.expected = Expected::Scalar(v);
                        continue;
                    }
                    series.push(parse_series_desc(l, ln)?);
                }
                if let Some((start, end, step)) = range_vector {
                    eval.expected = Expected::RangeVector {
                        start,
                        end,
                        step,
                        series,
                    };
                } else if !series.is_empty() || matches!(eval.expected, Expected::Series(_)) {
                    eval.expected = Expected::Series(series);
                }
                commands.push(Command::Eval(Box::new(eval)));
            }
            _ => return Err(cmd_err("unknown command")),
        }
    }
    Ok(commands)
}

fn is_blank(line: &str) -> bool {
    line.is_empty() || line.starts_with('#')
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn parse_eval_line(word: &str, rest: &str) -> Result<Eval, String> {
    let mut eval = Eval {
        line: 0,
        query: String::new(),
        time: EvalTime::Instant(0),
        fail: None,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: false,
        expected: Expected::Series(Vec::new()),
    };
    match word {
        "eval" => {}
        "eval_fail" => eval.fail = Some(MessageMatch::Any),
        "eval_warn" => eval.warn.push(MessageMatch::Any),
        "eval_info" => eval.info.push(MessageMatch::Any),
        "eval_ordered" => eval.ordered = true,
        _ => return Err(format!("unknown eval variant {word:?}")),
    }
    let (kind, rest) = split_word(rest);
    match kind {
        "instant" => {
            let (at, rest) = split_word(rest);
            if at != "at" {
                return Err("expected `at` after `instant`".into());
            }
            let (t, query) = split_word(rest);
            eval.time = EvalTime::Instant(parse_time(t).ok_or("bad time")?);
            eval.query = query.trim().to_string();
        }
        "range" => {
            let mut parts = Vec::new();
            let mut rest = rest;
            for kw in ["from", "to", "step"] {
                let (w, r) = split_word(rest);
                if w != kw {
                    return Err(format!("expected `{kw}` in range eval"));
                }
                let (v, r) = split_word(r);
                parts.push(parse_time(v).ok_or_else(|| format!("bad `{kw}` value {v:?}"))?);
                rest = r;
            }
            if parts[2] <= 0 {
                return Err("step must be positive".into());
            }
            eval.time = EvalTime::Range {
                start: parts[0],
                end: parts[1],
                step: parts[2],
            };
            eval.query = rest.trim().to_string();
        }
        _ => return Err("expected `instant` or `range`".into()),
    }
    if eval.query.is_empty() {
        return Err("missing query".into());
    }
    Ok(eval)
}

fn parse_message(rest: &str) -> Result<MessageMatch, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(MessageMatch::Any);
    }
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok(MessageMatch::Exact(unquote_opt(m.trim())));
    }
    if let Some(m) = rest.strip_prefix("regex:") {
        return Ok(MessageMatch::Regex(unquote_opt(m.trim())));
    }
    Err(format!("expected `msg:` or `regex:`, got {rest:?}"))
}

/// Strips one pair of surrounding double quotes (the README shows messages both quoted and bare).
fn unquote_opt(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

fn parse_expect(eval: &mut Eval, rest: &str, range_vector: &mut Option<(i64, i64, i64)>) -> Result<(), String> {
    let (kind, rest) = split_word(rest);
    match kind {
        "fail" => eval.fail = Some(parse_message(rest)?),
        "warn" => eval.warn.push(parse_message(rest)?),
        "info" => eval.info.push(parse_message(rest)?),
        "no_warn" => eval.no_warn = true,
        "no_info" => eval.no_info = true,
        "ordered" => eval.ordered = true,
        "string" => {
            let s = rest.trim();
            let v = unquote(s).map_err(|e| format!("bad string literal {s:?}: {e}"))?;
            eval.expected = Expected::String(v);
        }
        "range" => {
            let (w, r) = split_word(rest);
            if w != "vector" {
                return Err("expected `expect range vector`".into());
            }
            let mut vals = Vec::new();
            let mut r = r;
            for kw in ["from", "to", "step"] {
                let (w, rr) = split_word(r);
                if w != kw {
                    return Err(format!("expected `{kw}`"));
                }
                let (v, rr) = split_word(rr);
                vals.push(parse_time(v).ok_or_else(|| format!("bad `{kw}` value"))?);
                r = rr;
            }
            *range_vector = Some((vals[0], vals[1], vals[2]));
        }
        _ => return Err(format!("unknown expectation {kind:?}")),
    }
    Ok(())
}

/// A time in a script: a duration from 0 (`5m`, `1h30m`, `0`) or a number of seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Some(d) = parse_duration(s) {
        return Some(d);
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then(|| (v * 1000.0).round() as i64)
}

/// A Prometheus duration (`1h30m`, `10s53ms`, `0`), in milliseconds; negative with a leading `-`.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Some(rest) = s.strip_prefix('-') {
        return parse_duration(rest).map(|d| -d);
    }
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

/// A float as the scripts write them (`1`, `-2.5e3`, `Inf`, `-Inf`, `NaN`, `0x1f`).
pub fn parse_float(s: &str) -> Option<f64> {
    parse_float_hex(s, true)
}

/// A float; hexadecimal only with `hex` (in series values `0x5` is a repetition, not a number).
fn parse_float_hex(s: &str, hex: bool) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if body.eq_ignore_ascii_case("inf") {
        f64::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else if let Some(digits) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if !hex {
            return None;
        }
        i64::from_str_radix(digits, 16).ok()? as f64
    } else {
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Parses `metric{a="b"} values...` from line `line`.
pub fn parse_series_desc(text: &str, line: usize) -> Result<SeriesDesc, ScriptError> {
    let err = |reason: String| ScriptError::Series {
        line,
        text: text.to_string(),
        reason,
    };
    let (labels, end) = parse_series_metric(text).map_err(|e| err(e.to_string()))?;
    let rest = &text[end..];
    let (start_timestamps, rest) = match rest.strip_prefix("@st") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let values = if start_timestamps {
        parse_start_timestamps(rest.trim()).map_err(err)?
    } else {
        parse_values(rest.trim()).map_err(err)?
    };
    Ok(SeriesDesc {
        labels,
        start_timestamps,
        values,
    })
}

/// Splits the values part into tokens: `{{...}}` blocks (with any `+{{..}}xN` suffix) stay whole.
fn tokenize_values(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'{' {
                depth += 1;
            } else if c == b'}' {
                depth -= 1;
            } else if c.is_ascii_whitespace() && depth == 0 {
                break;
            }
            i += 1;
        }
        if depth != 0 {
            return Err("unbalanced `{{`".into());
        }
        out.push(&s[start..i]);
    }
    Ok(out)
}

fn parse_values(s: &str) -> Result<Vec<Option<Point>>, String> {
    let mut out = Vec::new();
    for tok in tokenize_values(s)? {
        if tok == "_" {
            out.push(None);
        } else if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repetition {tok:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
        } else if tok == "stale" {
            out.push(Some(Point::Float(stale_nan())));
        } else if tok.starts_with("{{") {
            parse_histogram_token(tok, &mut out)?;
        } else {
            parse_float_token(tok, &mut out)?;
        }
    }
    Ok(out)
}

/// Start-timestamp offsets: durations (`-30s`), `_`, and `a+bxN`/`a-bxN`/`axN` expansions of durations, as
/// milliseconds.
fn parse_start_timestamps(s: &str) -> Result<Vec<Option<Point>>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        let bad = || format!("bad start timestamp {tok:?}");
        if tok == "_" {
            out.push(None);
            continue;
        }
        let tok = tok.strip_prefix('+').unwrap_or(tok);
        let (head, times) = match tok.rfind('x') {
            Some(x) => (&tok[..x], tok[x + 1..].parse::<usize>().map_err(|_| bad())?),
            None => (tok, 0),
        };
        let hb = head.as_bytes();
        let split = (1..hb.len()).find(|&j| hb[j] == b'+' || hb[j] == b'-');
        let (start, inc) = match split {
            Some(j) => {
                let a = parse_duration(&head[..j]).ok_or_else(bad)?;
                let b = parse_duration(&head[j + 1..]).ok_or_else(bad)?;
                (a, if hb[j] == b'-' { -b } else { b })
            }
            None => (parse_duration(head).ok_or_else(bad)?, 0),
        };
        for k in 0..=times as i64 {
            out.push(Some(Point::Float((start + k * inc) as f64)));
        }
    }
    Ok(out)
}

/// `a`, `axN`, `a+bxN`, `a-bxN`.
fn parse_float_token(tok: &str, out: &mut Vec<Option<Point>>) -> Result<(), String> {
    let bad = || format!("bad value {tok:?}");
    let parse_float = |s: &str| parse_float_hex(s, false);
    if let Some(v) = parse_float(tok) {
        out.push(Some(Point::Float(v)));
        return Ok(());
    }
    let x = tok.rfind('x').ok_or_else(bad)?;
    let times: usize = tok[x + 1..].parse().map_err(|_| bad())?;
    let head = &tok[..x];
    // Find the operator separating start and increment: a `+`/`-` not at position 0 and not after `e`.
    let hb = head.as_bytes();
    let mut split = None;
    for j in 1..hb.len() {
        if (hb[j] == b'+' || hb[j] == b'-') && !matches!(hb[j - 1], b'e' | b'E') {
            split = Some(j);
            break;
        }
    }
    let (start, inc) = match split {
        Some(j) => {
            let start = parse_float(&head[..j]).ok_or_else(bad)?;
            let mut inc = parse_float(&head[j + 1..]).ok_or_else(bad)?;
            if hb[j] == b'-' {
                inc = -inc;
            }
            (start, inc)
        }
        None => (parse_float(head).ok_or_else(bad)?, 0.0),
    };
    let mut v = start;
    for k in 0..=times {
        // As upstream: repeated addition, except that exact steps avoid drift for whole numbers.
        if k > 0 {
            v += inc;
        }
        out.push(Some(Point::Float(v)));
    }
    Ok(())
}

fn parse_histogram_token(tok: &str, out: &mut Vec<Option<Point>>) -> Result<(), String> {
    let end = tok.find("}}").ok_or("unterminated histogram")?;
    let first = parse_histogram(&tok[2..end])?;
    let rest = &tok[end + 2..];
    if rest.is_empty() {
        out.push(Some(Point::Histogram(Box::new(first))));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().map_err(|_| format!("bad repetition in {tok:?}"))?;
        for _ in 0..=n {
            out.push(Some(Point::Histogram(Box::new(first.clone()))));
        }
        return Ok(());
    }
    let (sub, rest) = if let Some(r) = rest.strip_prefix('+') {
        (false, r)
    } else if let Some(r) = rest.strip_prefix('-') {
        (true, r)
    } else {
        return Err(format!("bad histogram expansion {tok:?}"));
    };
    let r = rest.strip_prefix("{{").ok_or("expected `{{` after the operator")?;
    let end = r.find("}}").ok_or("unterminated histogram")?;
    let inc = parse_histogram(&r[..end])?;
    let n: usize = r[end + 2..]
        .strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad histogram repetition in {tok:?}"))?;
    let mut cur = first;
    out.push(Some(Point::Histogram(Box::new(cur.clone()))));
    for _ in 0..n {
        cur = add_histogram_literal(&cur, &inc, sub);
        out.push(Some(Point::Histogram(Box::new(cur.clone()))));
    }
    Ok(())
}

/// `a + b` (or `a - b`) for histogram literal expansion; the result keeps `a`'s counter-reset hint.
fn add_histogram_literal(a: &FloatHistogram, b: &FloatHistogram, sub: bool) -> FloatHistogram {
    let mut out = a.clone();
    let res = if sub { out.sub_hist(b) } else { out.add_hist(b) };
    if res.is_err() {
        return a.clone();
    }
    out.counter_reset_hint = a.counter_reset_hint;
    out
}

/// Parses the inside of `{{...}}`.
pub fn parse_histogram(s: &str) -> Result<FloatHistogram, String> {
    let mut h = FloatHistogram::default();
    let mut buckets: Vec<f64> = Vec::new();
    let mut n_buckets: Vec<f64> = Vec::new();
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut rest = s.trim();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("expected `key:value` at {rest:?}"))?;
        let key = rest[..colon].trim();
        let after = rest[colon + 1..].trim_start();
        let (val, r) = if after.starts_with('[') {
            let close = after.find(']').ok_or("unterminated `[`")?;
            (&after[..close + 1], &after[close + 1..])
        } else {
            let e = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..e], &after[e..])
        };
        rest = r.trim_start();
        let num = |v: &str| parse_float(v).ok_or_else(|| format!("bad number {v:?} for {key}"));
        let list = |v: &str| -> Result<Vec<f64>, String> {
            let inner = v
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .ok_or_else(|| format!("expected a list for {key}"))?;
            inner.split_whitespace().map(num).collect()
        };
        match key {
            "schema" => h.schema = num(val)? as i32,
            "sum" => h.sum = num(val)?,
            "count" => h.count = num(val)?,
            "z_bucket" => h.zero_count = num(val)?,
            "z_bucket_w" => h.zero_threshold = num(val)?,
            "buckets" => buckets = list(val)?,
            "n_buckets" => n_buckets = list(val)?,
            "offset" => offset = num(val)? as i32,
            "n_offset" => n_offset = num(val)? as i32,
            "custom_values" => h.custom_values = list(val)?,
            "counter_reset_hint" => {
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return Err(format!("bad counter_reset_hint {val:?}")),
                }
            }
            _ => return Err(format!("unknown histogram field {key:?}")),
        }
    }
    if !buckets.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: buckets.len() as u32,
        }];
        h.positive_buckets = buckets;
    }
    if !n_buckets.is_empty() {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: n_buckets.len() as u32,
        }];
        h.negative_buckets = n_buckets;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::is_stale_nan;

    fn floats(v: &[Option<Point>]) -> Vec<Option<f64>> {
        v.iter()
            .map(|p| match p {
                Some(Point::Float(f)) => Some(*f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn series_values_expand() {
        let cases: &[(&str, Vec<Option<f64>>)] = &[
            ("m 1 2 _ 3", vec![Some(1.0), Some(2.0), None, Some(3.0)]),
            ("m 0+10x2", vec![Some(0.0), Some(10.0), Some(20.0)]),
            ("m -2-3x2", vec![Some(-2.0), Some(-5.0), Some(-8.0)]),
            ("m 1x2 _x2", vec![Some(1.0), Some(1.0), Some(1.0), None, None]),
            ("m 1e3 -Inf", vec![Some(1000.0), Some(f64::NEG_INFINITY)]),
            ("m 1e-1+1e-1x1", vec![Some(0.1), Some(0.2)]),
        ];
        for (text, want) in cases {
            let d = parse_series_desc(text, 1).unwrap();
            assert_eq!(&floats(&d.values), want, "{text}");
        }
        let d = parse_series_desc("m 1 stale", 1).unwrap();
        assert!(matches!(d.values[1], Some(Point::Float(f)) if is_stale_nan(f)));
    }

    #[test]
    fn labels_forms() {
        let cases = [
            ("m{a=\"1\", b='2'} 1", "{__name__=\"m\", a=\"1\", b=\"2\"}"),
            ("{__name__=\"x\"} 1", "{__name__=\"x\"}"),
            ("{\"a.b\", \"c.d\"=\"v\"} 1", "{__name__=\"a.b\", c.d=\"v\"}"),
            ("{} 3", "{}"),
        ];
        for (text, want) in cases {
            let d = parse_series_desc(text, 1).unwrap();
            assert_eq!(d.labels.to_string(), want, "{text}");
        }
        assert!(parse_series_desc("m{a=1} 1", 1).is_err());
        assert!(parse_series_desc("m{a=\"1\"}@st -1m", 1).unwrap().start_timestamps);
    }

    #[test]
    fn histogram_literals() {
        let d = parse_series_desc(
            "h {{schema:0 sum:5 count:4 buckets:[1 2 1] offset:1}}+{{sum:1 count:1 buckets:[1]}}x2",
            1,
        )
        .unwrap();
        assert_eq!(d.values.len(), 3);
        let Some(Point::Histogram(h)) = &d.values[2] else {
            panic!("not a histogram")
        };
        assert_eq!((h.count, h.sum), (6.0, 7.0));
        assert_eq!(
            expand(&h.positive_spans, &h.positive_buckets),
            vec![(0, 2.0), (1, 1.0), (2, 2.0), (3, 1.0)]
        );
    }

    #[test]
    fn commands() {
        let text = "load 5m\n  m 1 2\n\n# c\neval instant at 5m m\n  expect no_warn\n  m 2\n\neval range from 0 to 5m step 5m m\n  expect fail msg: boom\n\neval instant at 1m 1+1\n  2\n";
        let cmds = parse_script(text).unwrap();
        assert_eq!(cmds.len(), 4);
        let Command::Eval(e) = &cmds[1] else { panic!() };
        assert_eq!((e.line, e.no_warn, e.time), (5, true, EvalTime::Instant(300_000)));
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(e.fail, Some(MessageMatch::Exact("boom".into())));
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.expected, Expected::Scalar(2.0));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("10s53ms"), Some(10_053));
    }
}
