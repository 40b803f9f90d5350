//! Rule files (`rule_files:` in prometheus.yml) as Prometheus reads them: groups of recording and alerting rules,
//! validated like upstream's `rulefmt` (field presence per rule kind, names, label and annotation names, PromQL
//! expressions parsed, annotation templates checked for undefined variables, duplicate group names). Only the first
//! YAML document of a file is read, as upstream does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::types::{Duration, is_utf8_label_name};
use crate::config::{Path as YamlPath, locate};
use crate::promql::{ParseOptions, parse_with};

/// A rule file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The groups.
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

/// A group: rules evaluated together, in order, every `interval`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    /// The name (unique within the file).
    #[serde(default)]
    pub name: String,
    /// Evaluation interval (default: global `evaluation_interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// How far evaluation lags behind real time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_offset: Option<Duration>,
    /// Most series or alerts a rule may produce (0: no limit).
    #[serde(default)]
    pub limit: u64,
    /// Labels added to every rule's output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The metric name a recording rule writes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub record: String,
    /// The alert name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alert: String,
    /// The PromQL expression.
    #[serde(default)]
    pub expr: String,
    /// How long an alert stays pending before it fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// How long an alert keeps firing after its condition clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Duration>,
    /// Labels added to the output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations (templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The rule's name: the recorded metric or the alert.
    pub fn name(&self) -> &str {
        if self.record.is_empty() {
            &self.alert
        } else {
            &self.record
        }
    }
}

/// Why a rule file is not valid.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not decode into rule groups (syntax, unknown fields, wrong types).
    #[error("{file}: {message}")]
    Yaml {
        /// The file.
        file: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// Groups or rules break the rules; every problem is listed.
    #[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The problems.
        problems: Vec<RuleProblem>,
    },
}

/// One problem in a rule file, located as upstream reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleProblem {
    /// The file.
    pub file: PathBuf,
    /// `line:column` of the offending value, when known.
    pub position: Option<(usize, usize)>,
    /// The group.
    pub group: String,
    /// 1-based rule index within the group (0 for a group-level problem).
    pub rule: usize,
    /// The rule's name.
    pub rule_name: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, "{line}:{col}: ")?;
        }
        if self.rule == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(
                f,
                "group {:?}, rule {}, {:?}: {}",
                self.group, self.rule, self.rule_name, self.message
            )
        }
    }
}

/// A loaded file with its lint findings.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The rules.
    pub file: RuleFile,
    /// Rules recorded twice with the same labels (upstream's `duplicate-rules` lint).
    pub duplicates: Vec<(String, BTreeMap<String, String>)>,
}

/// Reads and validates a rule file.
pub fn load_file(path: &Path, parse: &ParseOptions) -> Result<Loaded, RuleFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| RuleFileError::Read {
        file: path.to_owned(),
        source,
    })?;
    load_str(&text, path, parse)
}

/// The first YAML document of `text` (upstream decodes only that one).
fn first_document(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if seen_content {
                return &text[..offset];
            }
        } else if !trimmed.trim_start().is_empty() && !trimmed.trim_start().starts_with('#') {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

/// Validates rule file text; `path` names the file in messages.
pub fn load_str(text: &str, path: &Path, parse: &ParseOptions) -> Result<Loaded, RuleFileError> {
    let doc = first_document(text);
    let file: RuleFile = if doc.trim().is_empty() {
        RuleFile::default()
    } else {
        serde_saphyr::from_str(doc).map_err(|e| RuleFileError::Yaml {
            file: path.to_owned(),
            message: e.to_string(),
        })?
    };
    let mut problems = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (gi, group) in file.groups.iter().enumerate() {
        let gpath = YamlPath::root().key("groups").index(gi);
        let problem = |rule: usize, name: &str, at: Option<&YamlPath>, message: String| RuleProblem {
            file: path.to_owned(),
            position: at.and_then(|p| position(doc, p)),
            group: group.name.clone(),
            rule,
            rule_name: name.to_string(),
            message,
        };
        if group.name.is_empty() {
            problems.push(problem(0, "", Some(&gpath), "Groupname must not be empty".to_string()));
        } else if !names.insert(group.name.as_str()) {
            problems.push(problem(
                0,
                "",
                Some(&gpath.key("name")),
                format!("groupname: {:?} is repeated in the same file", group.name),
            ));
        }
        for (n, v) in &group.labels {
            if !is_utf8_label_name(n) || v.is_empty() && n.is_empty() {
                problems.push(problem(
                    0,
                    "",
                    Some(&gpath.key("labels")),
                    format!("invalid label name: {n}"),
                ));
            }
        }
        for (ri, rule) in group.rules.iter().enumerate() {
            let rpath = gpath.key("rules").index(ri);
            for (at, message) in validate_rule(rule, parse) {
                let at = rpath.key(at);
                problems.push(problem(ri + 1, rule.name(), Some(&at), message));
            }
        }
    }
    if !problems.is_empty() {
        return Err(RuleFileError::Invalid { problems });
    }
    let duplicates = duplicate_rules(&file);
    Ok(Loaded { file, duplicates })
}

/// Problems of one rule: (field the problem is at, message).
fn validate_rule(rule: &Rule, parse: &ParseOptions) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match (rule.record.is_empty(), rule.alert.is_empty()) {
        (true, true) => out.push(("expr", "one of 'record' or 'alert' must be set".to_string())),
        (false, false) => out.push(("record", "only one of 'record' and 'alert' must be set".to_string())),
        _ => {}
    }
    if rule.expr.is_empty() {
        out.push(("expr", "field 'expr' must be set in rule".to_string()));
    } else if let Err(e) = parse_with(&rule.expr, parse) {
        out.push(("expr", format!("could not parse expression: {e}")));
    }
    if !rule.record.is_empty() {
        if !rule.annotations.is_empty() {
            out.push((
                "annotations",
                "invalid field 'annotations' in recording rule".to_string(),
            ));
        }
        if rule.for_.is_some_and(|d| !d.is_zero()) {
            out.push(("for", "invalid field 'for' in recording rule".to_string()));
        }
        if rule.keep_firing_for.is_some_and(|d| !d.is_zero()) {
            out.push((
                "keep_firing_for",
                "invalid field 'keep_firing_for' in recording rule".to_string(),
            ));
        }
        if !valid_metric_name(&rule.record) {
            out.push(("record", format!("invalid recording rule name: {}", rule.record)));
        }
    }
    for n in rule.labels.keys() {
        if !is_utf8_label_name(n) {
            out.push(("labels", format!("invalid label name: {n}")));
        }
        if n == "__name__" {
            out.push(("labels", format!("invalid label name: {n}")));
        }
    }
    for (n, v) in &rule.annotations {
        if !is_utf8_label_name(n) {
            out.push(("annotations", format!("invalid annotation name: {n}")));
        }
        if let Err(e) = check_template(v) {
            out.push((
                "annotations",
                format!("annotation {n:?}: template: __alert_{}:1: {e}", rule.alert),
            ));
        }
    }
    for (n, v) in &rule.labels {
        if let Err(e) = check_template(v) {
            out.push((
                "labels",
                format!("label {n:?}: template: __alert_{}:1: {e}", rule.alert),
            ));
        }
    }
    out
}

/// UTF-8 metric names are valid in Prometheus 3 as long as they are non-empty.
fn valid_metric_name(name: &str) -> bool {
    !name.is_empty()
}

/// Checks a Go template for balanced actions and variables the alert template data does not define (`$labels`,
/// `$externalLabels`, `$externalURL`, `$value`, `$`, and variables the template declares itself).
pub fn check_template(text: &str) -> Result<(), String> {
    let mut declared: Vec<String> = ["$labels", "$externalLabels", "$externalURL", "$value", "$"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unclosed action".to_string());
        };
        let action = &after[..end];
        let bytes = action.as_bytes();
        let mut i = 0;
        let mut in_string: Option<u8> = None;
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(q) = in_string {
                if c == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if c == q {
                    in_string = None;
                }
                i += 1;
                continue;
            }
            if c == b'"' || c == b'`' {
                in_string = Some(c);
                i += 1;
                continue;
            }
            if c == b'$' {
                let len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let var = &action[i..i + 1 + len];
                let declares = action[i + 1 + len..].trim_start().starts_with(":=");
                if declares {
                    declared.push(var.to_string());
                } else if !declared.iter().any(|d| d == var) {
                    return Err(format!("undefined variable {var:?}"));
                }
                i += 1 + len;
                continue;
            }
            i += 1;
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Recording rules with the same name and labels, for the lint.
fn duplicate_rules(file: &RuleFile) -> Vec<(String, BTreeMap<String, String>)> {
    let mut seen: BTreeMap<(String, BTreeMap<String, String>, String), usize> = BTreeMap::new();
    for g in &file.groups {
        for r in &g.rules {
            let mut labels = r.labels.clone();
            labels.insert("__name__".to_string(), r.name().to_string());
            *seen.entry((r.name().to_string(), labels, r.expr.clone())).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((name, mut labels, _), _)| {
            labels.remove("__name__");
            (name, labels)
        })
        .collect()
}

/// `line:column` of the value at `path` (the column after the key's colon and spaces).
fn position(text: &str, path: &YamlPath) -> Option<(usize, usize)> {
    let line = locate::line_of(text, path)?;
    let content = text.lines().nth(line - 1)?;
    let col = match content.find(':') {
        Some(i) => {
            let after = &content[i + 1..];
            i + 2 + (after.len() - after.trim_start().len())
        }
        None => content.len() - content.trim_start().len() + 1,
    };
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<Loaded, String> {
        load_str(yaml, Path::new("r.yml"), &ParseOptions::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn problems_are_worded_and_placed_as_upstream() {
        let cases: &[(&str, &str)] = &[
            (
                "groups:\n  - name: bad-syntax\n    rules:\n      - record: x\n        expr: 'test +'\n",
                "r.yml: 5:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: \
                 unexpected end of input",
            ),
            (
                "groups:\n- name: g\n  rules:\n  - expr: up\n",
                "group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
            ),
            (
                "groups:\n- name: g\n  rules:\n  - record: r\n    alert: a\n    expr: up\n",
                "only one of 'record' and 'alert' must be set",
            ),
            (
                "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    for: 5m\n",
                "invalid field 'for' in recording rule",
            ),
            (
                "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
                "groupname: \"g\" is repeated in the same file",
            ),
            ("groups:\n- rules: []\n", "Groupname must not be empty"),
            (
                "groups:\n- name: alerts\n  rules:\n  - alert: InstanceDown\n    expr: up == 0\n    annotations:\n      \
                 summary: \"{{ $label.foo }}\"\n",
                "group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: \
                 undefined variable \"$label\"",
            ),
            (
                "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    bogus: 1\n",
                "bogus",
            ),
        ];
        for (yaml, want) in cases {
            let err = check(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}\n got: {err}\nwant: {want}");
        }
    }

    #[test]
    fn good_files_and_lint() {
        let yaml = "groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  \
                    - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    \
                    annotations:\n      summary: '{{ $labels.instance }} is {{ $value }} {{ $x := 1 }}{{ $x }}'\n";
        let loaded = check(yaml).unwrap();
        assert_eq!(loaded.file.groups[0].rules.len(), 3);
        assert_eq!(loaded.duplicates, vec![("job:up:sum".to_string(), BTreeMap::new())]);
        // Only the first document counts.
        let multi = "groups:\n- name: a\n  rules: []\n---\ngroups: [{name: a}, {name: a}]\n";
        assert_eq!(check(multi).unwrap().file.groups.len(), 1);
    }
}
