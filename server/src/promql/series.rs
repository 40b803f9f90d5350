//! The metric part of a series description (`name{label="value", ...}`), as upstream's `ParseMetric` reads it for
//! PromQL test scripts (`load` blocks) and rule unit tests: the labels, and where the values start.

use crate::model::labels::Labels;

use super::ast::PosRange;
use super::lexer::TokenKind as K;
use super::parser::{ParseError, ParseOptions, Parser};

/// Parses the metric at the start of `input` (a name, `{labels}`, or both) and returns its labels (the name as
/// `__name__`) and the byte offset just past it, where the series' values begin.
pub fn parse_series_metric(input: &str) -> Result<(Labels, usize), ParseError> {
    let opts = ParseOptions::default();
    let mut p = Parser::new(input, &opts);
    let mut labels = Labels::new();
    let t = p.peek();
    if matches!(t.kind, K::Identifier | K::MetricIdentifier) {
        p.bump();
        labels.set("__name__", p.text(&t));
    } else if t.kind != K::LeftBrace {
        return Err(p.unexpected(t, Some("series description"), Some("metric name or \"{\"")));
    }
    let brace = p.peek();
    // `{{` starts a native histogram value, not a label set.
    if brace.kind == K::LeftBrace && input.as_bytes().get(brace.pos.end) != Some(&b'{') {
        p.bump();
        loop {
            let t = p.peek();
            let name = match t.kind {
                K::RightBrace => {
                    p.bump();
                    break;
                }
                K::Identifier => {
                    p.bump();
                    p.text(&t).to_string()
                }
                K::String => {
                    p.bump();
                    p.unquote(&t)?
                }
                _ => return Err(p.unexpected(t, Some("label set"), Some("identifier or \"}\""))),
            };
            if p.peek().kind == K::Assign {
                p.bump();
                let v = p.peek();
                if v.kind != K::String {
                    return Err(p.unexpected(v, Some("label set"), Some("string")));
                }
                p.bump();
                labels.set(name, p.unquote(&v)?);
            } else if t.kind == K::String {
                // A quoted name alone is the metric name: `{"my.metric"}`.
                labels.set("__name__", name);
            } else {
                return Err(p.unexpected(p.peek(), Some("label set"), Some("\"=\"")));
            }
            match p.peek().kind {
                K::Comma => {
                    p.bump();
                }
                K::RightBrace => {}
                _ => return Err(p.unexpected(p.peek(), Some("label set"), Some("\",\" or \"}\""))),
            }
        }
    }
    if labels.is_empty() && input.trim().is_empty() {
        return Err(p.error_at(PosRange::new(0, 0), "no metric found in input".into()));
    }
    Ok((labels, p.last_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load line, the labels of its metric, and the text after the metric.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn metrics_of_load_lines() {
        let cases: &[Case<'_>] = &[
            ("foo 1 2 3", &[("__name__", "foo")], " 1 2 3"),
            (
                "foo{a=\"b\", c='d'} 1+2x3",
                &[("__name__", "foo"), ("a", "b"), ("c", "d")],
                " 1+2x3",
            ),
            ("{__name__=\"x\",} _x3", &[("__name__", "x")], " _x3"),
            (
                "{\"my.metric\", \"a.b\"=\"c\"} 1",
                &[("__name__", "my.metric"), ("a.b", "c")],
                " 1",
            ),
            ("a:b{job=\"j\"}@st 1", &[("__name__", "a:b"), ("job", "j")], "@st 1"),
            ("h {{schema:0 sum:1}}", &[("__name__", "h")], " {{schema:0 sum:1}}"),
        ];
        for (line, want, rest) in cases {
            let (labels, end) = parse_series_metric(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let got: Vec<(&str, &str)> = labels.iter().collect();
            let mut want = want.to_vec();
            want.sort();
            assert_eq!(got, want, "{line}");
            assert_eq!(&line[end..], *rest, "{line}");
        }
        assert!(parse_series_metric("{a}").is_err());
        assert!(parse_series_metric("1 2").is_err());
        assert!(parse_series_metric("").is_err());
    }
}
