//! Finds the line of a field in a YAML document from its [`Path`], so validation errors (found after
//! deserialization) can point at the source like parse errors do.

use serde_saphyr::granit_parser::{Event, Parser};

use super::{Path, Segment};

enum Node {
    Scalar { text: String, line: usize },
    Seq { items: Vec<Node>, line: usize },
    Map { entries: Vec<(Node, Node)>, line: usize },
    Other { line: usize },
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } | Node::Other { line } => *line,
        }
    }
}

/// The 1-based line where `path` is written in `text` (the key's line for a mapping entry), or the line of the
/// deepest part of the path that exists; `None` when the document does not parse.
pub(crate) fn line_of(text: &str, path: &Path) -> Option<usize> {
    let mut events = Parser::new_from_str(text)
        .filter_map(|r| r.ok())
        .filter(|(e, _)| !matches!(e, Event::Comment(..)));
    // Skip to the first document's root node.
    let root = loop {
        let (event, span) = events.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart(..) => continue,
            _ => break build(event, span.start.line(), &mut events)?,
        }
    };
    let mut node = &root;
    let mut line = node.line();
    for seg in path.segments() {
        let next = match (seg, node) {
            (Segment::Key(key), Node::Map { entries, .. }) => entries
                .iter()
                .find(|(k, _)| matches!(k, Node::Scalar { text, .. } if text == key))
                .map(|(k, v)| {
                    line = k.line();
                    v
                }),
            (Segment::Index(i), Node::Seq { items, .. }) => items.get(*i).inspect(|n| line = n.line()),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    Some(line)
}

fn build<'a, I>(event: Event<'a>, line: usize, events: &mut I) -> Option<Node>
where
    I: Iterator<Item = (Event<'a>, serde_saphyr::granit_parser::Span)>,
{
    Some(match event {
        Event::Scalar(text, ..) => Node::Scalar {
            text: text.into_owned(),
            line,
        },
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                let (e, span) = events.next()?;
                if matches!(e, Event::SequenceEnd) {
                    break;
                }
                items.push(build(e, span.start.line(), events)?);
            }
            Node::Seq { items, line }
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            loop {
                let (e, span) = events.next()?;
                if matches!(e, Event::MappingEnd) {
                    break;
                }
                let key = build(e, span.start.line(), events)?;
                let (e, span) = events.next()?;
                let value = build(e, span.start.line(), events)?;
                entries.push((key, value));
            }
            Node::Map { entries, line }
        }
        _ => Node::Other { line },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_fields() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    relabel_configs:\n      - regex: x\n";
        let root = Path::root();
        let cases = [
            (root.key("global").key("scrape_interval"), Some(2)),
            (root.key("scrape_configs").index(1), Some(5)),
            (
                root.key("scrape_configs")
                    .index(1)
                    .key("relabel_configs")
                    .index(0)
                    .key("regex"),
                Some(7),
            ),
            (root.key("scrape_configs").index(0).key("missing"), Some(4)),
        ];
        for (path, want) in cases {
            assert_eq!(line_of(text, &path), want, "{path}");
        }
    }
}
