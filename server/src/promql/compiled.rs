//! Process-wide caches of compiled regular expressions: label matchers of parsed selectors and the patterns of
//! `label_replace`. Compiling a regex costs a few hundred microseconds, more than evaluating a small query, and
//! dashboards send the same expressions again and again. Each cache holds at most [`CACHE_LIMIT`] entries and is
//! emptied when full; only successful compilations are kept, so errors are reported as before.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::model::matcher::{MatchOp, Matcher, MatcherError};

/// Entries a cache holds before it is emptied.
pub const CACHE_LIMIT: usize = 512;

type Cache<T> = LazyLock<Mutex<HashMap<String, T>>>;

static MATCHERS: Cache<Matcher> = LazyLock::new(|| Mutex::new(HashMap::new()));
static PATTERNS: Cache<Regex> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn cached<T: Clone, E>(cache: &Cache<T>, key: String, build: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    // Compiled outside the lock: a slow pattern does not hold up other queries.
    let v = build()?;
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= CACHE_LIMIT {
        c.clear();
    }
    c.insert(key, v.clone());
    Ok(v)
}

/// [`Matcher::new`], reusing the compiled regex of an equal matcher built before.
pub fn matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, MatcherError> {
    match op {
        MatchOp::Equal | MatchOp::NotEqual => Matcher::new(op, name, value),
        MatchOp::Regex | MatchOp::NotRegex => {
            let key = format!("{}\u{0}{name}\u{0}{value}", op.as_str());
            cached(&MATCHERS, key, || Matcher::new(op, name, value))
        }
    }
}

/// The anchored regex `^(?s:pattern)$`, as `label_replace` matches with it.
pub fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    cached(&PATTERNS, pattern.to_string(), || {
        Regex::new(&format!("^(?s:{pattern})$"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_matchers_and_patterns_behave_as_fresh_ones() {
        // (op, value, input, want)
        let cases = [
            (MatchOp::Regex, "a.*", "abc", true),
            (MatchOp::Regex, "a.*", "xabc", false),
            (MatchOp::NotRegex, "a.*", "abc", false),
            (MatchOp::Regex, "b|c", "c", true),
            (MatchOp::Equal, "x", "x", true),
            (MatchOp::NotEqual, "x", "x", false),
        ];
        for _ in 0..2 {
            for (op, value, input, want) in cases {
                let m = matcher(op, "l", value).unwrap();
                assert_eq!((m.op, m.name.as_str(), m.value.as_str()), (op, "l", value));
                assert_eq!(m.matches(input), want, "{op:?} {value} on {input}");
            }
        }
        assert!(matcher(MatchOp::Regex, "l", "(").is_err());
        assert!(matcher(MatchOp::Regex, "l", "(").is_err());
        let re = anchored("(.*)-x").unwrap();
        assert_eq!(&re.captures("a\nb-x").unwrap()[1], "a\nb");
        assert!(!anchored("(.*)-x").unwrap().is_match("a-xy"));
        assert!(anchored("[").is_err());
    }

    #[test]
    fn a_full_cache_starts_over() {
        for i in 0..CACHE_LIMIT + 3 {
            let m = matcher(MatchOp::Regex, "n", &format!("v{i}")).unwrap();
            assert!(m.matches(&format!("v{i}")));
        }
        assert!(MATCHERS.lock().unwrap().len() <= CACHE_LIMIT);
    }
}
