//! Label matchers (`name="v"`, `!=`, `=~`, `!~`) as selectors, the storage querier and the API use them.
//!
//! Regular expressions have RE2 semantics (the `regex` crate) and are fully anchored, as in Prometheus: `a.*`
//! matches `abc` but `b` does not match `abc`. `.` also matches a newline (Prometheus compiles with `(?s)`).
//! Plain literals and `a|b|c` alternations of literals skip the regex engine.

use std::fmt;

use regex::Regex;

/// How a matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A matcher's regular expression did not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {source}")]
pub struct MatcherError {
    /// The label the matcher is for.
    pub name: String,
    /// The pattern as given.
    pub pattern: String,
    /// What the regex compiler said.
    #[source]
    pub source: regex::Error,
}

/// How a regex matcher decides, from cheapest to dearest.
#[derive(Clone, Debug)]
enum Compiled {
    /// `=` / `!=`, or a regex that is a plain literal.
    Literal,
    /// A regex that is an alternation of literals (`a|b|c`), sorted.
    Set(Vec<String>),
    /// `.*`: everything matches.
    Any,
    /// `.+`: everything non-empty matches.
    NonEmpty,
    /// The general case, anchored.
    Regex(Regex),
}

/// One label matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    compiled: Compiled,
    /// For a regex that is a literal: the literal.
    literal: Option<String>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher; regex operators compile `value` (anchored).
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, MatcherError> {
        let (name, value) = (name.into(), value.into());
        let (compiled, literal) = match op {
            MatchOp::Equal | MatchOp::NotEqual => (Compiled::Literal, Some(value.clone())),
            MatchOp::Regex | MatchOp::NotRegex => compile(&name, &value)?,
        };
        Ok(Matcher {
            name,
            op,
            value,
            compiled,
            literal,
        })
    }

    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        let (name, value) = (name.into(), value.into());
        Matcher {
            literal: Some(value.clone()),
            name,
            op: MatchOp::Equal,
            value,
            compiled: Compiled::Literal,
        }
    }

    /// Whether `value` (the series' value for this label, `""` when unset) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        let positive = match &self.compiled {
            Compiled::Literal => self.literal.as_deref() == Some(value),
            Compiled::Set(set) => set.binary_search_by(|s| s.as_str().cmp(value)).is_ok(),
            Compiled::Any => true,
            Compiled::NonEmpty => !value.is_empty(),
            Compiled::Regex(re) => re.is_match(value),
        };
        match self.op {
            MatchOp::Equal | MatchOp::Regex => positive,
            MatchOp::NotEqual | MatchOp::NotRegex => !positive,
        }
    }

    /// Whether the matcher accepts the empty string (i.e. also selects series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` and literal regexes: the one value that matches (for `!=`/`!~`, the one that does not).
    pub fn literal(&self) -> Option<&str> {
        self.literal.as_deref()
    }

    /// For `=~` of an alternation of literals (or a literal): the values that match, sorted.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match (&self.compiled, self.op) {
            (Compiled::Set(set), MatchOp::Regex) => Some(set.iter().map(String::as_str).collect()),
            (Compiled::Literal, MatchOp::Regex | MatchOp::Equal) => self.literal.as_deref().map(|l| vec![l]),
            _ => None,
        }
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with the value quoted as PromQL prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), quote(&self.value))
    }
}

/// Quotes a string the way Prometheus prints label values (Go's `strconv.Quote`).
pub fn quote(s: &str) -> String {
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
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn compile(name: &str, pattern: &str) -> Result<(Compiled, Option<String>), MatcherError> {
    let err = |source| MatcherError {
        name: name.to_string(),
        pattern: pattern.to_string(),
        source,
    };
    // Compile first so invalid patterns are rejected even when a fast path would apply.
    let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(err)?;
    if pattern == ".*" {
        return Ok((Compiled::Any, None));
    }
    if pattern == ".+" {
        return Ok((Compiled::NonEmpty, None));
    }
    if is_plain(pattern) {
        return Ok((Compiled::Literal, Some(pattern.to_string())));
    }
    if pattern.contains('|') && !pattern.contains("||") {
        let parts: Vec<&str> = pattern.split('|').collect();
        if parts.iter().all(|p| is_plain(p)) {
            let mut set: Vec<String> = parts.into_iter().map(str::to_string).collect();
            set.sort();
            set.dedup();
            return Ok((Compiled::Set(set), None));
        }
    }
    Ok((Compiled::Regex(re), None))
}

/// Whether `s` has no regex metacharacters, so it matches only itself.
fn is_plain(s: &str) -> bool {
    !s.chars().any(|c| "\\.+*?()|[]{}^$".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let cases: &[(MatchOp, &str, &str, bool)] = &[
            (MatchOp::Equal, "a", "a", true),
            (MatchOp::Equal, "a", "b", false),
            (MatchOp::Equal, "", "", true),
            (MatchOp::NotEqual, "a", "a", false),
            (MatchOp::NotEqual, "a", "", true),
            (MatchOp::Regex, "a.*", "abc", true),
            (MatchOp::Regex, "b", "abc", false),
            (MatchOp::Regex, "a|b", "b", true),
            (MatchOp::Regex, "a|b", "ab", false),
            (MatchOp::Regex, "a|", "", true),
            (MatchOp::Regex, ".*", "", true),
            (MatchOp::Regex, ".+", "", false),
            (MatchOp::Regex, ".+", "x", true),
            (MatchOp::Regex, "a.b", "a\nb", true),
            (MatchOp::Regex, "foo", "foo", true),
            (MatchOp::Regex, "foo", "foobar", false),
            (MatchOp::NotRegex, "foo|bar", "bar", false),
            (MatchOp::NotRegex, "foo|bar", "baz", true),
            (MatchOp::NotRegex, ".*", "x", false),
            (MatchOp::Regex, "(a|b)c", "bc", true),
            (MatchOp::Regex, "[0-9]+", "123", true),
            (MatchOp::Regex, "[0-9]+", "12a", false),
        ];
        for &(op, pattern, value, want) in cases {
            let m = Matcher::new(op, "l", pattern).unwrap();
            assert_eq!(m.matches(value), want, "{m} against {value:?}");
        }
    }

    #[test]
    fn bad_regex_names_label_and_pattern() {
        let err = Matcher::new(MatchOp::Regex, "job", "a(").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"a(\"") && text.contains("\"job\""), "{text}");
        // The fast paths must not hide invalid patterns.
        assert!(Matcher::new(MatchOp::NotRegex, "job", "a|(").is_err());
    }

    #[test]
    fn set_and_literal_views() {
        let m = Matcher::new(MatchOp::Regex, "l", "b|a|b").unwrap();
        assert_eq!(m.set_matches(), Some(vec!["a", "b"]));
        let m = Matcher::new(MatchOp::Regex, "l", "abc").unwrap();
        assert_eq!(m.literal(), Some("abc"));
        assert_eq!(m.set_matches(), Some(vec!["abc"]));
        assert!(
            Matcher::new(MatchOp::Regex, "l", "a.*")
                .unwrap()
                .set_matches()
                .is_none()
        );
    }

    #[test]
    fn display_quotes_like_promql() {
        let m = Matcher::new(MatchOp::NotEqual, "path", "a\"b\\c\n").unwrap();
        assert_eq!(m.to_string(), r#"path!="a\"b\\c\n""#);
    }
}
