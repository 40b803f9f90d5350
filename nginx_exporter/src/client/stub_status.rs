//! Parser for the plain-text page of nginx's `ngx_http_stub_status_module`.
//!
//! The page has four lines (each number may be followed by spaces):
//!
//! ```text
//! Active connections: 1457
//! server accepts handled requests
//!  6717066 6717066 65844359
//! Reading: 1 Writing: 8 Waiting: 1448
//! ```
//!
//! The parser accepts what upstream's scanf template accepts (runs of spaces and tabs between tokens, an optional
//! sign on numbers, `\r\n` line ends, anything after the fourth line) and rejects the rest with the line and
//! the field that did not fit. It never panics, whatever the input.

/// The counters of one stub_status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StubStatus {
    /// `Active connections`: open client connections, including waiting ones.
    pub active: i64,
    /// `accepts`: accepted client connections since start.
    pub accepted: i64,
    /// `handled`: handled client connections since start.
    pub handled: i64,
    /// `requests`: client requests since start.
    pub requests: i64,
    /// `Reading`: connections where nginx is reading the request header.
    pub reading: i64,
    /// `Writing`: connections where nginx is writing the response.
    pub writing: i64,
    /// `Waiting`: idle keep-alive connections.
    pub waiting: i64,
}

/// Why a body is not a stub_status page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body ends before the given line.
    #[error("line {line}: missing, expected {expected:?}")]
    MissingLine {
        /// 1-based line number.
        line: usize,
        /// What the line should hold.
        expected: &'static str,
    },
    /// A fixed word of the template is not where it should be.
    #[error("line {line}: expected {expected:?}, found {found:?}")]
    Unexpected {
        /// 1-based line number.
        line: usize,
        /// The word of the template.
        expected: &'static str,
        /// What the body has there (truncated).
        found: String,
    },
    /// A number is missing, malformed or out of the 64-bit range.
    #[error("line {line}: {field}: expected an integer, found {found:?}")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// The stub_status field.
        field: &'static str,
        /// What the body has there (truncated).
        found: String,
    },
    /// A line has more tokens than the template.
    #[error("line {line}: unexpected trailing text {found:?}")]
    Trailing {
        /// 1-based line number.
        line: usize,
        /// The extra text (truncated).
        found: String,
    },
}

/// Parses a stub_status body.
pub fn parse(body: &str) -> Result<StubStatus, ParseError> {
    let mut lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut next = |line: usize, expected: &'static str| lines.next().ok_or(ParseError::MissingLine { line, expected });

    let mut s = StubStatus::default();

    let mut l1 = Tokens::new(next(1, "Active connections: N")?, 1);
    l1.word("Active")?;
    l1.word("connections:")?;
    s.active = l1.number("active")?;
    l1.end()?;

    let mut l2 = Tokens::new(next(2, "server accepts handled requests")?, 2);
    for w in ["server", "accepts", "handled", "requests"] {
        l2.word(w)?;
    }
    l2.end()?;

    let mut l3 = Tokens::new(next(3, "N N N")?, 3);
    s.accepted = l3.number("accepts")?;
    s.handled = l3.number("handled")?;
    s.requests = l3.number("requests")?;
    l3.end()?;

    let mut l4 = Tokens::new(next(4, "Reading: N Writing: N Waiting: N")?, 4);
    l4.word("Reading:")?;
    s.reading = l4.number("Reading")?;
    l4.word("Writing:")?;
    s.writing = l4.number("Writing")?;
    l4.word("Waiting:")?;
    s.waiting = l4.number("Waiting")?;
    l4.end()?;

    Ok(s)
}

/// Whitespace-separated tokens of one line.
struct Tokens<'a> {
    iter: std::str::SplitAsciiWhitespace<'a>,
    line: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str, line: usize) -> Tokens<'a> {
        Tokens {
            iter: text.split_ascii_whitespace(),
            line,
        }
    }

    fn word(&mut self, expected: &'static str) -> Result<(), ParseError> {
        match self.iter.next() {
            Some(w) if w == expected => Ok(()),
            other => Err(ParseError::Unexpected {
                line: self.line,
                expected,
                found: excerpt(other.unwrap_or("")),
            }),
        }
    }

    fn number(&mut self, field: &'static str) -> Result<i64, ParseError> {
        let token = self.iter.next().unwrap_or("");
        // Like Go's %d: an optional sign, then decimal digits, within int64.
        let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad(field, token));
        }
        token.parse::<i64>().map_err(|_| self.bad(field, token))
    }

    fn end(&mut self) -> Result<(), ParseError> {
        match self.iter.next() {
            None => Ok(()),
            Some(extra) => Err(ParseError::Trailing {
                line: self.line,
                found: excerpt(extra),
            }),
        }
    }

    fn bad(&self, field: &'static str, token: &str) -> ParseError {
        ParseError::BadNumber {
            line: self.line,
            field,
            found: excerpt(token),
        }
    }
}

/// At most 40 characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NGINX_BODY: &str = "Active connections: 1457 \nserver accepts handled requests\n 6717066 6717066 65844359 \n\
                              Reading: 1 Writing: 8 Waiting: 1448 \n";

    #[test]
    fn parses_nginx_page() {
        assert_eq!(
            parse(NGINX_BODY),
            Ok(StubStatus {
                active: 1457,
                accepted: 6717066,
                handled: 6717066,
                requests: 65844359,
                reading: 1,
                writing: 8,
                waiting: 1448,
            })
        );
    }

    #[test]
    fn table() {
        let ok = |a, acc, h, r, rd, wr, wt| {
            Ok(StubStatus {
                active: a,
                accepted: acc,
                handled: h,
                requests: r,
                reading: rd,
                writing: wr,
                waiting: wt,
            })
        };
        let cases: &[(&str, &str, Result<StubStatus, ParseError>)] = &[
            (
                "no trailing spaces, CRLF",
                "Active connections: 1\r\nserver accepts handled requests\r\n2 3 4\r\nReading: 5 Writing: 6 Waiting: 7\r\n",
                ok(1, 2, 3, 4, 5, 6, 7),
            ),
            (
                "no final newline, extra lines ignored",
                "Active connections: 1\nserver accepts handled requests\n2 3 4\nReading: 0 Writing: 1 Waiting: 0\nmore",
                ok(1, 2, 3, 4, 0, 1, 0),
            ),
            (
                "signed numbers",
                "Active connections: +1\nserver accepts handled requests\n-2 3 4\nReading: 0 Writing: 1 Waiting: 0",
                ok(1, -2, 3, 4, 0, 1, 0),
            ),
            (
                "int64 max",
                "Active connections: 9223372036854775807\nserver accepts handled requests\n0 0 0\nReading: 0 Writing: 0 Waiting: 0",
                ok(i64::MAX, 0, 0, 0, 0, 0, 0),
            ),
            (
                "empty",
                "",
                Err(ParseError::Unexpected {
                    line: 1,
                    expected: "Active",
                    found: String::new(),
                }),
            ),
            (
                "html",
                "<html><body>hi</body></html>",
                Err(ParseError::Unexpected {
                    line: 1,
                    expected: "Active",
                    found: "<html><body>hi</body></html>".into(),
                }),
            ),
            (
                "missing line",
                "Active connections: 1\nserver accepts handled requests\n",
                Err(ParseError::BadNumber {
                    line: 3,
                    field: "accepts",
                    found: String::new(),
                }),
            ),
            (
                "truncated",
                "Active connections: 1\nserver accepts handled requests",
                Err(ParseError::MissingLine {
                    line: 3,
                    expected: "N N N",
                }),
            ),
            (
                "overflow",
                "Active connections: 9223372036854775808\n",
                Err(ParseError::BadNumber {
                    line: 1,
                    field: "active",
                    found: "9223372036854775808".into(),
                }),
            ),
            (
                "float",
                "Active connections: 1.5\n",
                Err(ParseError::BadNumber {
                    line: 1,
                    field: "active",
                    found: "1.5".into(),
                }),
            ),
            (
                "sign only",
                "Active connections: -\n",
                Err(ParseError::BadNumber {
                    line: 1,
                    field: "active",
                    found: "-".into(),
                }),
            ),
            (
                "extra number",
                "Active connections: 1\nserver accepts handled requests\n2 3 4 5\n",
                Err(ParseError::Trailing {
                    line: 3,
                    found: "5".into(),
                }),
            ),
            (
                "wrong label",
                "Active connections: 1\nserver accepts handled requests\n2 3 4\nReading: 0 Writing: 1 Idle: 0",
                Err(ParseError::Unexpected {
                    line: 4,
                    expected: "Waiting:",
                    found: "Idle:".into(),
                }),
            ),
        ];
        for (name, body, want) in cases {
            assert_eq!(&parse(body), want, "case {name}");
        }
    }

    proptest! {
        // Random bytes (lossily decoded) and random mutations of a real page never panic.
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn never_panics_on_mutated_page(pos in 0usize..200, ch in any::<char>(), cut in 0usize..200) {
            let mut chars: Vec<char> = NGINX_BODY.chars().collect();
            let i = pos % chars.len();
            chars[i] = ch;
            chars.truncate(cut.max(1));
            let _ = parse(&chars.into_iter().collect::<String>());
        }

        #[test]
        fn round_trips_any_values(v in proptest::array::uniform7(any::<i64>())) {
            let body = format!(
                "Active connections: {} \nserver accepts handled requests\n {} {} {} \nReading: {} Writing: {} Waiting: {} \n",
                v[0], v[1], v[2], v[3], v[4], v[5], v[6]
            );
            let s = parse(&body).expect("valid page");
            prop_assert_eq!([s.active, s.accepted, s.handled, s.requests, s.reading, s.writing, s.waiting], v);
        }
    }
}
