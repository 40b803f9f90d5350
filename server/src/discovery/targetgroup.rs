//! [`TargetGroup`] and the JSON/YAML list-of-groups format that `file_sd_configs` files and `http_sd_configs`
//! endpoints use:
//!
//! ```json
//! [{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod"}}]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::labels::Labels;

use super::address_target;

/// A set of targets sharing labels, from one source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`0`, `file.json:1`, `pod/ns/name`, ...). An empty group with a
    /// known source means that source's targets are gone.
    pub source: String,
    /// One label set per target: `__address__` plus per-target meta labels.
    pub targets: Vec<Labels>,
    /// Labels of every target of the group (group meta labels and configured labels).
    pub labels: Labels,
}

impl TargetGroup {
    /// An empty group for `source` (its targets are gone).
    pub fn empty(source: impl Into<String>) -> TargetGroup {
        TargetGroup {
            source: source.into(),
            ..TargetGroup::default()
        }
    }
}

/// Every target of `groups` with its group's labels, as `(target labels, group labels)` pairs (what the scrape
/// manager's `sync` takes).
pub fn target_pairs(groups: &[TargetGroup]) -> Vec<(Labels, Labels)> {
    groups
        .iter()
        .flat_map(|g| g.targets.iter().map(move |t| (t.clone(), g.labels.clone())))
        .collect()
}

/// Why a list of target groups could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GroupsError {
    /// The JSON is malformed or not a list of groups.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The YAML is malformed or not a list of groups.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A list entry is null.
    #[error("nil target group item found (entry {index})")]
    NullGroup {
        /// The entry's position.
        index: usize,
    },
    /// A label name is empty or not valid UTF-8.
    #[error("group {index}: {name:?} is not a valid label name")]
    LabelName {
        /// The group's position.
        index: usize,
        /// The label name.
        name: String,
    },
}

/// One group as the files and endpoints spell it.
#[derive(Debug, Deserialize)]
struct RawGroup {
    #[serde(default, deserialize_with = "crate::config::null_default")]
    targets: Vec<String>,
    #[serde(default, deserialize_with = "crate::config::null_default")]
    labels: BTreeMap<String, String>,
}

/// The format of a list of groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Parses a list of groups; group `i` gets the source `source(i)` and the extra group label `meta`.
pub fn parse_groups(
    text: &str,
    format: Format,
    source: impl Fn(usize) -> String,
    meta: (&str, &str),
) -> Result<Vec<TargetGroup>, GroupsError> {
    let raw: Vec<Option<RawGroup>> = match format {
        Format::Json => serde_json::from_str(text)?,
        Format::Yaml => {
            if text.trim().is_empty() {
                Vec::new()
            } else {
                serde_saphyr::from_str(text).map_err(|e| GroupsError::Yaml(e.to_string()))?
            }
        }
    };
    let mut groups = Vec::with_capacity(raw.len());
    for (index, g) in raw.into_iter().enumerate() {
        let g = g.ok_or(GroupsError::NullGroup { index })?;
        let mut labels = Labels::new();
        for (name, value) in g.labels {
            if name.is_empty() {
                return Err(GroupsError::LabelName { index, name });
            }
            labels.set(name, value);
        }
        labels.set(meta.0, meta.1);
        groups.push(TargetGroup {
            source: source(index),
            targets: g.targets.into_iter().map(address_target).collect(),
            labels,
        });
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_carry_group_labels() {
        let groups = parse_groups(
            r#"[{"targets":["a:1","b:2"],"labels":{"env":"prod"}},{"targets":["c:3"]}]"#,
            Format::Json,
            |i| i.to_string(),
            ("__meta_x", "y"),
        )
        .unwrap();
        let pairs = target_pairs(&groups);
        let summary: Vec<(&str, Option<&str>)> = pairs
            .iter()
            .map(|(t, g)| (t.get("__address__").unwrap(), g.get("env")))
            .collect();
        assert_eq!(summary, [("a:1", Some("prod")), ("b:2", Some("prod")), ("c:3", None)]);
    }

    #[test]
    fn parses_both_formats() {
        let cases = [
            (
                Format::Json,
                r#"[{"targets":["a:1","b:2"],"labels":{"env":"prod"}},{"targets":[]}]"#,
                Ok(2),
            ),
            (
                Format::Yaml,
                "- targets: [a:1, b:2]\n  labels: {env: prod}\n- targets: []\n",
                Ok(2),
            ),
            (Format::Yaml, "", Ok(0)),
            (Format::Json, "[]", Ok(0)),
            (Format::Json, "[null]", Err("nil target group item found (entry 0)")),
            (Format::Json, r#"{"targets":[]}"#, Err("invalid JSON")),
            (Format::Json, r#"[{"targets":["a"],"labels":{"":"x"}}]"#, Err("group 0")),
            (Format::Yaml, "- targets: a:1\n", Err("invalid YAML")),
        ];
        for (format, text, want) in cases {
            let got = parse_groups(text, format, |i| format!("f:{i}"), ("__meta_filepath", "f"));
            match (got, want) {
                (Ok(groups), Ok(n)) => {
                    assert_eq!(groups.len(), n, "{text}");
                    if n > 0 {
                        assert_eq!(groups[0].source, "f:0");
                        assert_eq!(groups[0].targets, vec![address_target("a:1"), address_target("b:2")]);
                        assert_eq!(
                            groups[0].labels,
                            [("env", "prod"), ("__meta_filepath", "f")].into_iter().collect()
                        );
                        assert_eq!(groups[1].source, "f:1");
                        assert!(groups[1].targets.is_empty());
                    }
                }
                (Err(e), Err(prefix)) => assert!(e.to_string().starts_with(prefix), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }
}
