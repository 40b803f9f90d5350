//! The PromQL lexer: query text to tokens with byte positions.
//!
//! Keywords are not decided here: an identifier is a keyword, a label name or a metric name depending on where
//! it stands, which the parser knows. The lexer does track parentheses, braces and brackets as upstream's does,
//! so an unbalanced query fails with upstream's messages (`unclosed left parenthesis`, ...) at the right place.

use super::ast::PosRange;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (keywords included; see [`Token::text`]).
    Identifier,
    /// An identifier containing `:` (a recording-rule style metric name).
    MetricIdentifier,
    /// A number literal (`1`, `1.5e3`, `0x1f`, `.5`).
    Number,
    /// A duration literal (`5m`, `1h30m`).
    Duration,
    /// A quoted string, quotes included.
    String,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `{`
    LeftBrace,
    /// `}`
    RightBrace,
    /// `[`
    LeftBracket,
    /// `]`
    RightBracket,
    /// `,`
    Comma,
    /// `:` (inside brackets)
    Colon,
    /// `@`
    At,
    /// `=`
    Assign,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `=~`
    EqlRegex,
    /// `!~`
    NeqRegex,
    /// `<`
    Lss,
    /// `<=`
    Lte,
    /// `>`
    Gtr,
    /// `>=`
    Gte,
    /// `</` (histogram trim upper)
    TrimUpper,
    /// `>/` (histogram trim lower)
    TrimLower,
    /// The end of the input.
    Eof,
    /// Malformed input; [`Token::error`] says why.
    Error,
}

/// One token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub pos: PosRange,
    /// For [`TokenKind::Error`]: the message.
    pub error: Option<&'static str>,
    /// For [`TokenKind::Error`] messages that quote a character: that character.
    pub error_char: Option<char>,
}

impl Token {
    /// The token's text in `input`.
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.pos.start..self.pos.end).unwrap_or("")
    }

    /// The lexer's error message, formatted as upstream's.
    pub fn error_message(&self, input: &str) -> String {
        let msg = self.error.unwrap_or("lexer error");
        match self.error_char {
            Some(c) => format!("{msg} {}", go_quote_char(c)),
            None if msg == "bad number or duration syntax:" => format!("{msg} {}", go_quote_str(self.text(input))),
            None => msg.to_string(),
        }
    }

    /// Whether it is an identifier spelled `word` (ASCII case-insensitively).
    pub fn is_word(&self, input: &str, word: &str) -> bool {
        self.kind == TokenKind::Identifier && self.text(input).eq_ignore_ascii_case(word)
    }
}

/// `'x'` as Go's `%q` prints a rune.
pub fn go_quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '\\' => "'\\\\'".to_string(),
        '\n' => "'\\n'".to_string(),
        '\t' => "'\\t'".to_string(),
        '\r' => "'\\r'".to_string(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// `"text"` as Go's `%q` prints a string (Go's `strconv.Quote`).
pub fn go_quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits `input` into tokens, ending with one [`TokenKind::Eof`] or at the first [`TokenKind::Error`].
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut lx = Lexer {
        input,
        bytes: input.as_bytes(),
        pos: 0,
        parens: 0,
        brace_open: false,
        bracket_open: false,
    };
    let mut out = Vec::with_capacity(input.len() / 3 + 2);
    loop {
        let t = lx.next();
        let stop = matches!(t.kind, TokenKind::Eof | TokenKind::Error);
        out.push(t);
        if stop {
            return out;
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
    parens: usize,
    brace_open: bool,
    bracket_open: bool,
}

fn is_alpha(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_alnum(b: u8) -> bool {
    is_alpha(b) || b.is_ascii_digit()
}

impl Lexer<'_> {
    fn peek(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    fn tok(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            pos: PosRange::new(start, self.pos),
            error: None,
            error_char: None,
        }
    }

    fn err(&self, start: usize, msg: &'static str, c: Option<char>) -> Token {
        Token {
            kind: TokenKind::Error,
            pos: PosRange::new(start, self.pos.max(start)),
            error: Some(msg),
            error_char: c,
        }
    }

    fn next(&mut self) -> Token {
        use TokenKind as K;
        // Skip whitespace and comments.
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'#' => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        if self.pos >= self.bytes.len() {
            if self.brace_open {
                return self.err(start, "unexpected end of input inside braces", None);
            }
            if self.bracket_open {
                return self.err(start, "unclosed left bracket", None);
            }
            if self.parens > 0 {
                return self.err(start, "unclosed left parenthesis", None);
            }
            return self.tok(K::Eof, start);
        }
        let b = self.bytes[self.pos];
        let two = |lx: &mut Self, kind| {
            lx.pos += 2;
            lx.tok(kind, start)
        };
        let one = |lx: &mut Self, kind| {
            lx.pos += 1;
            lx.tok(kind, start)
        };
        if self.brace_open {
            return match b {
                b',' => one(self, K::Comma),
                b'=' if self.peek(1) == b'~' => two(self, K::EqlRegex),
                b'=' => one(self, K::Assign),
                b'!' if self.peek(1) == b'~' => two(self, K::NeqRegex),
                b'!' if self.peek(1) == b'=' => two(self, K::Neq),
                b'!' => {
                    self.pos += 1;
                    let c = self.input[self.pos..].chars().next().unwrap_or('\0');
                    self.pos += c.len_utf8();
                    self.err(start, "unexpected character after '!' inside braces:", Some(c))
                }
                b'"' | b'\'' | b'`' => self.string(start),
                b'}' => {
                    self.brace_open = false;
                    one(self, K::RightBrace)
                }
                b'{' => {
                    self.pos += 1;
                    self.err(start, "unexpected left brace", Some('{'))
                }
                b if is_alpha(b) => {
                    while is_alnum(self.peek(0)) {
                        self.pos += 1;
                    }
                    self.tok(K::Identifier, start)
                }
                _ => {
                    let c = self.input[start..].chars().next().unwrap_or('\0');
                    self.pos += c.len_utf8();
                    self.err(start, "unexpected character inside braces:", Some(c))
                }
            };
        }
        match b {
            b',' => one(self, K::Comma),
            b'(' => {
                self.parens += 1;
                one(self, K::LeftParen)
            }
            b')' => {
                if self.parens == 0 {
                    self.pos += 1;
                    return self.err(start, "unexpected right parenthesis", Some(')'));
                }
                self.parens -= 1;
                one(self, K::RightParen)
            }
            b'{' => {
                self.brace_open = true;
                one(self, K::LeftBrace)
            }
            b'}' => {
                self.pos += 1;
                self.err(start, "unexpected character:", Some('}'))
            }
            b'[' => {
                if self.bracket_open {
                    self.pos += 1;
                    return self.err(start, "unexpected left bracket", Some('['));
                }
                self.bracket_open = true;
                one(self, K::LeftBracket)
            }
            b']' => {
                if !self.bracket_open {
                    self.pos += 1;
                    return self.err(start, "unexpected right bracket", Some(']'));
                }
                self.bracket_open = false;
                one(self, K::RightBracket)
            }
            b'@' => one(self, K::At),
            b'+' => one(self, K::Add),
            b'-' => one(self, K::Sub),
            b'*' => one(self, K::Mul),
            b'/' => one(self, K::Div),
            b'%' => one(self, K::Mod),
            b'^' => one(self, K::Pow),
            b'=' if self.peek(1) == b'=' => two(self, K::Eql),
            b'=' if self.peek(1) == b'~' => {
                self.pos += 2;
                self.err(start, "unexpected character after '=':", Some('~'))
            }
            b'=' => one(self, K::Assign),
            b'!' if self.peek(1) == b'=' => two(self, K::Neq),
            b'!' => {
                self.pos += 1;
                let c = self.input[self.pos..].chars().next().unwrap_or('\0');
                self.err(start, "unexpected character after '!':", Some(c))
            }
            b'<' if self.peek(1) == b'=' => two(self, K::Lte),
            b'<' if self.peek(1) == b'/' => two(self, K::TrimUpper),
            b'<' => one(self, K::Lss),
            b'>' if self.peek(1) == b'=' => two(self, K::Gte),
            b'>' if self.peek(1) == b'/' => two(self, K::TrimLower),
            b'>' => one(self, K::Gtr),
            b'"' | b'\'' | b'`' => self.string(start),
            b':' if self.bracket_open => one(self, K::Colon),
            b if b.is_ascii_digit() || (b == b'.' && self.peek(1).is_ascii_digit()) => self.number(start),
            b if is_alpha(b) || b == b':' => {
                let mut colon = false;
                while is_alnum(self.peek(0)) || self.peek(0) == b':' {
                    colon |= self.peek(0) == b':';
                    self.pos += 1;
                }
                self.tok(if colon { K::MetricIdentifier } else { K::Identifier }, start)
            }
            _ => {
                let c = self.input[start..].chars().next().unwrap_or('\0');
                self.pos += c.len_utf8();
                self.err(start, "unexpected character:", Some(c))
            }
        }
    }

    fn string(&mut self, start: usize) -> Token {
        let quote = self.bytes[self.pos];
        self.pos += 1;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if b == quote {
                self.pos += 1;
                return self.tok(TokenKind::String, start);
            }
            if quote != b'`' {
                if b == b'\n' {
                    break;
                }
                if b == b'\\' {
                    self.pos += 1;
                    if self.pos >= self.bytes.len() {
                        return self.err(start, "escape sequence not terminated", None);
                    }
                }
            }
            self.pos += 1;
        }
        self.pos = self.bytes.len().min(self.pos);
        self.err(
            start,
            if quote == b'`' {
                "unterminated raw string"
            } else {
                "unterminated quoted string"
            },
            None,
        )
    }

    fn digits(&mut self, hex: bool) -> usize {
        let from = self.pos;
        while self.peek(0).is_ascii_digit() || (hex && (self.peek(0).is_ascii_hexdigit() || self.peek(0) == b'_')) {
            self.pos += 1;
        }
        self.pos - from
    }

    fn accept(&mut self, set: &[u8]) -> bool {
        if set.contains(&self.peek(0)) && self.pos < self.bytes.len() {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Upstream's number-or-duration scan: a number (`0x1f`, `1.5e3`) unless a letter follows, then a duration
    /// shape (`1h30m`, units checked later by the parser), else `bad number or duration syntax`.
    fn number(&mut self, start: usize) -> Token {
        let hex = self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X');
        if hex {
            self.pos += 2;
            self.accept(b"_");
        }
        self.digits(hex);
        if self.accept(b".") {
            self.digits(hex);
        }
        if !hex && self.accept(b"eE") {
            self.accept(b"+-");
            while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
                self.pos += 1;
            }
        }
        if !is_alnum(self.peek(0)) {
            return self.tok(TokenKind::Number, start);
        }
        if self.remaining_duration() {
            return self.tok(TokenKind::Duration, start);
        }
        self.err(start, "bad number or duration syntax:", None)
    }

    /// After the leading digits of a duration: units and more digits, then something that is not alphanumeric.
    fn remaining_duration(&mut self) -> bool {
        if !self.accept(b"smhdwy") {
            return false;
        }
        self.accept(b"s");
        while self.peek(0).is_ascii_digit() {
            while self.accept(b"0123456789") {}
            if !self.accept(b"smhdw") {
                return false;
            }
            self.accept(b"s");
        }
        if is_alnum(self.peek(0)) {
            self.pos += 1;
            return false;
        }
        true
    }
}

/// Whether `s` has the shape of a Prometheus duration (`1y2w3d4h5m6s7ms`, units in that order, each at most
/// once, a number before each).
pub fn is_duration(s: &str) -> bool {
    parse_duration_ms(s).is_some_and(|r| r.is_ok())
}

/// Parses a Prometheus duration to milliseconds: `None` when malformed, `Some(Err(()))` when out of range.
pub fn parse_duration_ms(s: &str) -> Option<Result<i64, ()>> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    if s == "0" {
        return Some(Ok(0));
    }
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i128 = 0;
    while i < b.len() {
        let from = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == from {
            return None;
        }
        let n: i128 = s[from..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let idx = UNITS.iter().position(|(u, _)| *u == unit)?;
        if idx < next_unit {
            return None;
        }
        next_unit = idx + 1;
        total = total.saturating_add(n.saturating_mul(UNITS[idx].1 as i128));
    }
    // Go's time.Duration is nanoseconds in an int64.
    if total > i64::MAX as i128 / 1_000_000 {
        return Some(Err(()));
    }
    Some(Ok(total as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<TokenKind> {
        tokenize(q).iter().map(|t| t.kind).collect()
    }

    #[test]
    fn token_table() {
        use TokenKind as K;
        let cases: &[(&str, &[TokenKind])] = &[
            ("foo", &[K::Identifier, K::Eof]),
            ("foo:bar", &[K::MetricIdentifier, K::Eof]),
            (":foo", &[K::MetricIdentifier, K::Eof]),
            ("1.5e3", &[K::Number, K::Eof]),
            (".5", &[K::Number, K::Eof]),
            ("2.", &[K::Number, K::Eof]),
            ("0x1F", &[K::Number, K::Eof]),
            ("1e-3", &[K::Number, K::Eof]),
            ("5m", &[K::Duration, K::Eof]),
            ("1h30m", &[K::Duration, K::Eof]),
            ("1y2w3d4h5m6s7ms", &[K::Duration, K::Eof]),
            ("1m1h", &[K::Duration, K::Eof]),
            ("1.5m", &[K::Duration, K::Eof]),
            ("5mm", &[K::Error]),
            ("1h30", &[K::Error]),
            ("2.5.", &[K::Number, K::Error]),
            ("100..4", &[K::Number, K::Number, K::Eof]),
            ("1x", &[K::Error]),
            (
                "a{b=~\"c\",d!~'e'}",
                &[K::Identifier, K::LeftBrace, K::Identifier, K::EqlRegex, K::String],
            ),
            (
                "x[5m:1m]",
                &[
                    K::Identifier,
                    K::LeftBracket,
                    K::Duration,
                    K::Colon,
                    K::Duration,
                    K::RightBracket,
                ],
            ),
            (
                "a == b != c >= d <= e",
                &[K::Identifier, K::Eql, K::Identifier, K::Neq, K::Identifier, K::Gte],
            ),
            ("# only a comment", &[K::Eof]),
            ("foo # comment\n+ 1", &[K::Identifier, K::Add, K::Number, K::Eof]),
            ("`raw\\`", &[K::String, K::Eof]),
            ("\"unterminated", &[K::Error]),
            ("sum(", &[K::Identifier, K::LeftParen, K::Error]),
            (")", &[K::Error]),
            ("a ! b", &[K::Identifier, K::Error]),
            ("a ü", &[K::Identifier, K::Error]),
        ];
        for (q, want) in cases {
            let got = kinds(q);
            assert_eq!(&got[..want.len().min(got.len())], *want, "{q}: {got:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m"), Some(Ok(5_400_000)));
        assert_eq!(parse_duration_ms("0"), Some(Ok(0)));
        assert_eq!(parse_duration_ms("10ms"), Some(Ok(10)));
        assert_eq!(parse_duration_ms("1s1s"), None);
        assert_eq!(parse_duration_ms("99999999999y"), Some(Err(())));
    }

    #[test]
    fn error_messages() {
        let q = "foo ü";
        let t = *tokenize(q).last().unwrap();
        assert_eq!(t.error_message(q), "unexpected character: 'ü'");
        let q = "0deadbeef";
        let t = *tokenize(q).last().unwrap();
        assert_eq!(t.error_message(q), "bad number or duration syntax: \"0de\"");
        let q = "1 =~ 1";
        let t = *tokenize(q).last().unwrap();
        assert_eq!(t.error_message(q), "unexpected character after '=': '~'");
    }
}
