//! Borrowed label sets: the parser validates a label set once and keeps only its bytes; [`LabelSet::iter`]
//! re-reads them on demand and unescapes a name or value only when it contains a backslash.

use std::borrow::Cow;
use std::fmt;

/// The labels of a sample or exemplar, borrowed from the input.
///
/// Iterating yields [`LabelRef`]s in input order. A quoted metric name inside the braces (`{"my.metric", a="b"}`)
/// is not a label and is skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LabelSet<'a> {
    /// The text between `{` and `}`, already validated.
    raw: &'a str,
}

impl<'a> LabelSet<'a> {
    pub(crate) fn new(raw: &'a str) -> LabelSet<'a> {
        LabelSet { raw }
    }

    /// No labels.
    pub fn empty() -> LabelSet<'static> {
        LabelSet { raw: "" }
    }

    /// The raw text between the braces, escapes and all.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Iterates over the labels.
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            src: self.raw,
            rest: self.raw.as_bytes(),
        }
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter().find(|l| l.name == name).map(|l| l.value)
    }

    /// Copies the labels into the model's owned [`Labels`](crate::model::Labels).
    pub fn to_labels(&self) -> crate::model::Labels {
        crate::model::Labels::from_pairs(self.iter().map(|l| (l.name.into_owned(), l.value.into_owned())))
    }
}

impl fmt::Debug for LabelSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|l| (l.name, l.value))).finish()
    }
}

impl<'a> IntoIterator for LabelSet<'a> {
    type Item = LabelRef<'a>;
    type IntoIter = LabelIter<'a>;
    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// One label, borrowed unless its name or value contained an escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRef<'a> {
    /// The label name.
    pub name: Cow<'a, str>,
    /// The label value, unescaped.
    pub value: Cow<'a, str>,
}

/// Iterator over a [`LabelSet`].
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    src: &'a str,
    rest: &'a [u8],
}

impl<'a> LabelIter<'a> {
    /// The text of `part`, a subslice of `src`'s bytes delimited by ASCII characters, unescaped.
    fn text(&self, part: &[u8]) -> Cow<'a, str> {
        let start = (part.as_ptr() as usize).saturating_sub(self.src.as_ptr() as usize);
        let text = self.src.get(start..start + part.len()).unwrap_or("");
        unescape(text, Escapes::LabelValue)
    }
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    &b[n..]
}

/// Splits a leading double-quoted string (with escapes) off `b`, returning its content and the rest.
pub(crate) fn split_quoted(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[j] == b'"' {
            return Some((&b[1..j], &b[j + 1..]));
        }
        i = j + 2;
    }
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = LabelRef<'a>;

    fn next(&mut self) -> Option<LabelRef<'a>> {
        loop {
            let b = skip_ws(self.rest);
            if b.is_empty() {
                self.rest = b;
                return None;
            }
            let (name, quoted, after) = if let Some((n, rest)) = split_quoted(b) {
                (n, true, rest)
            } else {
                let n = b
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if n == 0 {
                    self.rest = b"";
                    return None;
                }
                (&b[..n], false, &b[n..])
            };
            let after = skip_ws(after);
            if quoted && matches!(after.first(), None | Some(b',')) {
                // A quoted metric name, not a label.
                self.rest = after.get(1..).unwrap_or(b"");
                continue;
            }
            let Some(after) = after.strip_prefix(b"=") else {
                self.rest = b"";
                return None;
            };
            let Some((value, rest)) = split_quoted(skip_ws(after)) else {
                self.rest = b"";
                return None;
            };
            let rest = skip_ws(rest);
            self.rest = rest.strip_prefix(b",").unwrap_or(rest);
            return Some(LabelRef {
                name: self.text(name),
                value: self.text(value),
            });
        }
    }
}

/// Which escape sequences a piece of text knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// Label values and quoted names: `\\`, `\"`, `\n`.
    LabelValue,
    /// Text format HELP: `\\`, `\n`.
    TextHelp,
}

/// Unescapes `raw`, borrowing when there is nothing to replace. Unknown escapes are kept as written, as the Go
/// parsers do.
pub(crate) fn unescape(raw: &str, escapes: Escapes) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let Some(first) = memchr::memchr(b'\\', bytes) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    let mut done = 0;
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let rep = match bytes[i + 1] {
                b'\\' => Some('\\'),
                b'n' => Some('\n'),
                b'"' if escapes == Escapes::LabelValue => Some('"'),
                _ => None,
            };
            if let Some(r) = rep {
                out.push_str(&raw[done..i]);
                out.push(r);
                i += 2;
                done = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&raw[done..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_unescapes() {
        let ls = LabelSet::new(r#""my.metric", a="b",  "c.d"="e\"f\n\\g\z", h = "" ,"#);
        let got: Vec<(String, String)> = ls.iter().map(|l| (l.name.into_owned(), l.value.into_owned())).collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "b".into()),
                ("c.d".into(), "e\"f\n\\g\\z".into()),
                ("h".into(), "".into())
            ]
        );
        assert_eq!(ls.get("a").as_deref(), Some("b"));
        assert!(matches!(ls.get("a"), Some(Cow::Borrowed(_))));
        assert_eq!(ls.len(), 3);
        assert!(LabelSet::empty().is_empty());
    }

    #[test]
    fn help_escapes() {
        assert_eq!(unescape(r#"a\\b\nc\"dé\"#, Escapes::TextHelp), "a\\b\nc\\\"dé\\");
        assert_eq!(unescape(r#"a\\b\nc\"d"#, Escapes::LabelValue), "a\\b\nc\"d");
    }
}
