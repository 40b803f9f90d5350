//! Relabeling: rewriting a label set with an ordered list of rules (`relabel_configs`, `metric_relabel_configs`,
//! `write_relabel_configs`, `alert_relabel_configs`), with Prometheus' semantics:
//!
//! - defaults: action `replace`, separator `;`, regex `(.*)`, replacement `$1`;
//! - regexes are RE2 syntax, fully anchored (`^(?s:<regex>)$`), with ASCII `\d \w \s \b` as in Go;
//! - `$1`, `${1}`, `$name`, `${name}` in `target_label`/`replacement` expand as Go's `Regexp.Expand` does
//!   (`$1x` names the group `1x`, which does not exist, so it expands to nothing);
//! - `hashmod` takes the MD5 of the joined source values, reads its last 8 bytes as a big-endian `u64` and takes
//!   the remainder by `modulus`, so shards agree with Prometheus.

use std::fmt;

use md5::{Digest, Md5};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::labels::Labels;
use crate::config::{Path, Problem};

/// What a rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Set `target_label` to the expanded `replacement` when the regex matches the joined source values.
    #[default]
    Replace,
    /// Drop the set unless the regex matches.
    Keep,
    /// Drop the set when the regex matches.
    Drop,
    /// Drop the set unless `target_label`'s value equals the joined source values.
    KeepEqual,
    /// Drop the set when `target_label`'s value equals the joined source values.
    DropEqual,
    /// Set `target_label` to `md5(joined) mod modulus`.
    HashMod,
    /// Copy labels whose names match to the name given by `replacement`.
    LabelMap,
    /// Remove labels whose names match.
    LabelDrop,
    /// Remove labels whose names do not match.
    LabelKeep,
    /// Set `target_label` to the lowercased joined values.
    Lowercase,
    /// Set `target_label` to the uppercased joined values.
    Uppercase,
}

const ACTIONS: [(&str, Action); 11] = [
    ("replace", Action::Replace),
    ("keep", Action::Keep),
    ("drop", Action::Drop),
    ("keepequal", Action::KeepEqual),
    ("dropequal", Action::DropEqual),
    ("hashmod", Action::HashMod),
    ("labelmap", Action::LabelMap),
    ("labeldrop", Action::LabelDrop),
    ("labelkeep", Action::LabelKeep),
    ("lowercase", Action::Lowercase),
    ("uppercase", Action::Uppercase),
];

impl Action {
    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        ACTIONS.iter().find(|(_, a)| *a == self).map_or("replace", |(n, _)| n)
    }

    /// Parses an action name, ignoring case as upstream does.
    pub fn parse(text: &str) -> Option<Action> {
        let lower = text.to_ascii_lowercase();
        ACTIONS.iter().find(|(n, _)| *n == lower).map(|(_, a)| *a)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Action, D::Error> {
        let text = String::deserialize(deserializer)?;
        Action::parse(&text).ok_or_else(|| de::Error::custom(format!("unknown relabel action {text:?}")))
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Why a relabeling rule is invalid.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RelabelError {
    /// `action: null`.
    #[error("relabel action cannot be empty")]
    MissingAction,
    /// `hashmod` without a modulus.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes a label has no `target_label`.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// `target_label` is not a valid label name (or template, for `replace`).
    #[error("{label:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The action.
        action: Action,
        /// The label.
        label: String,
    },
    /// `lowercase`, `uppercase`, `keepequal` and `dropequal` take no `replacement`.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// `labelmap`'s replacement is not a label name template.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The action.
        action: Action,
        /// The replacement.
        replacement: String,
    },
    /// `keepequal`/`dropequal` with other fields set.
    #[error("{0} action requires only 'source_labels' and 'target_label', and no other fields")]
    OnlySourceAndTarget(Action),
    /// `labeldrop`/`labelkeep` with other fields set.
    #[error("{0} action requires only 'regex', and no other fields")]
    OnlyRegex(Action),
    /// The regex does not compile.
    #[error("invalid regex {pattern:?}: {message}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// The compiler's message.
        message: String,
    },
}

/// A relabeling regex: RE2 syntax, matched against the whole value.
#[derive(Clone)]
pub struct Regex {
    source: String,
    compiled: regex::Regex,
}

impl Regex {
    /// Compiles `pattern` anchored at both ends, with Go's ASCII meaning of `\d`, `\w`, `\s` and `\b`.
    pub fn new(pattern: &str) -> Result<Regex, RelabelError> {
        let anchored = format!("^(?s:{})$", go_classes(pattern));
        let compiled = regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 24)
            .build()
            .map_err(|e| RelabelError::Regex {
                pattern: pattern.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Regex {
            source: pattern.to_owned(),
            compiled,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }

    /// Expands `template` for the match of `text`, or `None` when it does not match.
    pub fn expand(&self, text: &str, template: &str) -> Option<String> {
        let caps = self.compiled.captures(text)?;
        let mut out = String::new();
        expand_go(&self.compiled, &caps, template, &mut out);
        Some(out)
    }
}

impl Default for Regex {
    fn default() -> Regex {
        Regex {
            source: DEFAULT_REGEX.to_owned(),
            // A constant pattern: it compiles, and tests cover it.
            compiled: regex::Regex::new("^(?s:(.*))$").expect("the default relabel regex compiles"),
        }
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex({:?})", self.source)
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for Regex {
    /// `regex:` with no value is the empty regex (which only matches the empty string), as upstream.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Regex, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        Regex::new(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Regex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// Rewrites Go's ASCII-only Perl classes so the `regex` crate (Unicode-aware by default) matches the same text, and
/// Go's `\Q...\E` literal quoting into escaped text.
fn go_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (in_class, next) {
                    (false, 'Q') => {
                        // Go's \Q...\E quotes literal text (to \E or the end); the regex crate has no such syntax.
                        let rest = chars.as_str();
                        let (literal, after) = rest.split_once("\\E").unwrap_or((rest, ""));
                        out.push_str(&regex::escape(literal));
                        chars = after.chars();
                    }
                    (false, 'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'b' | 'B') => {
                        out.push_str("(?-u:\\");
                        out.push(next);
                        out.push(')');
                    }
                    (true, 'd') => out.push_str("0-9"),
                    (true, 'w') => out.push_str("0-9A-Za-z_"),
                    (true, 's') => out.push_str("\\t\\n\\x0C\\r "),
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                class_start = false;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push(c);
                continue;
            }
            '[' if in_class && chars.as_str().starts_with(':') => {
                // A POSIX class such as [:alpha:] inside a bracket expression.
                out.push(c);
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(c);
            }
            '^' if class_start => {
                out.push(c);
                continue;
            }
            _ => out.push(c),
        }
        class_start = false;
    }
    out
}

/// Go's `Regexp.Expand`: `$$` is `$`; `$name`/`${name}` (letters, digits, `_`) name a group by number or name; an
/// unknown or unmatched group is empty; a malformed reference leaves the `$` as text.
fn expand_go(re: &regex::Regex, caps: &regex::Captures<'_>, template: &str, out: &mut String) {
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, after) = if let Some(body) = rest.strip_prefix('{') {
            let len = body
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            if len == 0 || !body[len..].starts_with('}') {
                out.push('$');
                continue;
            }
            (&body[..len], &body[len + 1..])
        } else {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 {
                out.push('$');
                continue;
            }
            (&rest[..len], &rest[len..])
        };
        rest = after;
        let number =
            (name.bytes().all(|b| b.is_ascii_digit()) && name.len() < 9 && !(name.len() > 1 && name.starts_with('0')))
                .then(|| name.parse::<usize>().ok())
                .flatten();
        let group = match number {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
}

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_owned()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_owned()
}

fn default_action() -> Option<Action> {
    Some(Action::Replace)
}

/// One relabeling rule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    #[serde(
        default,
        deserialize_with = "crate::config::null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_labels: Vec<String>,
    /// Joins the source values (default `;`).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Matched against the whole input (default `(.*)`).
    #[serde(default)]
    pub regex: Regex,
    /// For `hashmod`.
    #[serde(default)]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`; compared by `keepequal`/`dropequal`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    /// Template for `replace` and `labelmap` (default `$1`).
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// The action (default `replace`; `null` is an error).
    #[serde(default = "default_action")]
    pub action: Option<Action>,
}

impl Default for RelabelConfig {
    fn default() -> RelabelConfig {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: default_action(),
        }
    }
}

/// Upstream's pattern for a `target_label` template under legacy names: name characters and `$var`/`${var}`.
fn is_label_template(text: &str, legacy: bool) -> bool {
    if !legacy {
        return !text.is_empty();
    }
    // ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    let mut first = true;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'$' {
            if bytes.get(i + 1) == Some(&b'{') {
                let len = bytes[i + 2..].iter().take_while(|b| word(**b)).count();
                if len == 0 || bytes.get(i + 2 + len) != Some(&b'}') {
                    return false;
                }
                i += len + 3;
            } else {
                let len = bytes[i + 1..].iter().take_while(|b| word(**b)).count();
                if len == 0 {
                    return false;
                }
                i += len + 1;
            }
        } else if b.is_ascii_alphabetic() || b == b'_' || (!first && b.is_ascii_digit()) {
            i += 1;
        } else {
            return false;
        }
        first = false;
    }
    true
}

fn is_label_name(name: &str, legacy: bool) -> bool {
    if legacy {
        crate::config::types::is_legacy_label_name(name)
    } else {
        !name.is_empty()
    }
}

impl RelabelConfig {
    /// Checks the rule as upstream does; `legacy` selects legacy label name rules for target labels.
    pub fn validate(&self, legacy: bool) -> Result<(), RelabelError> {
        let Some(action) = self.action else {
            return Err(RelabelError::MissingAction);
        };
        use Action as A;
        if action == A::HashMod && self.modulus == 0 {
            return Err(RelabelError::ZeroModulus);
        }
        let writes = matches!(
            action,
            A::Replace | A::HashMod | A::Lowercase | A::Uppercase | A::KeepEqual | A::DropEqual
        );
        if writes && self.target_label.is_empty() {
            return Err(RelabelError::MissingTargetLabel(action));
        }
        let bad_target = || RelabelError::InvalidTargetLabel {
            action,
            label: self.target_label.clone(),
        };
        match action {
            A::Replace if !is_label_template(&self.target_label, legacy) => return Err(bad_target()),
            A::Lowercase | A::Uppercase | A::KeepEqual | A::DropEqual | A::HashMod
                if !is_label_name(&self.target_label, legacy) =>
            {
                return Err(bad_target());
            }
            _ => {}
        }
        if matches!(action, A::Lowercase | A::Uppercase | A::KeepEqual | A::DropEqual)
            && self.replacement != DEFAULT_REPLACEMENT
        {
            return Err(RelabelError::ReplacementNotAllowed(action));
        }
        if action == A::LabelMap && !is_label_template(&self.replacement, legacy) {
            return Err(RelabelError::InvalidReplacement {
                action,
                replacement: self.replacement.clone(),
            });
        }
        if matches!(action, A::KeepEqual | A::DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX || self.modulus != 0 || self.separator != DEFAULT_SEPARATOR)
        {
            return Err(RelabelError::OnlySourceAndTarget(action));
        }
        if matches!(action, A::LabelDrop | A::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::OnlyRegex(action));
        }
        Ok(())
    }
}

/// Checks a list of rules from a configuration, rejecting `null` entries.
pub fn validate_list(path: &Path, rules: &mut [Option<RelabelConfig>], legacy: bool) -> Result<(), Problem> {
    for (i, rule) in rules.iter().enumerate() {
        let at = path.index(i);
        let Some(rule) = rule else {
            return Err(Problem::Null { path: at });
        };
        rule.validate(legacy)
            .map_err(|source| Problem::Relabel { path: at, source })?;
    }
    Ok(())
}

/// The bucket `hashmod` assigns `value` to: MD5, last 8 bytes big-endian, remainder by `modulus`.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(tail).checked_rem(modulus).unwrap_or(0)
}

/// Go's `strings.ToLower`: one rune to one rune (simple case mapping), no context rules (a final `Σ` becomes `σ`).
fn go_lower(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            // Only U+0130 lowercases to two characters; its simple mapping is the first of them.
            lower.next().unwrap_or(c)
        })
        .collect()
}

/// Go's `strings.ToUpper`: one rune to one rune; characters whose uppercase needs several (`ß`) stay as they are.
fn go_upper(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Applies `rules` in order; `None` when a rule drops the set.
///
/// Rules are assumed valid ([`RelabelConfig::validate`]); an invalid one (no action) leaves the labels as they
/// are.
pub fn process(labels: &Labels, rules: &[RelabelConfig]) -> Option<Labels> {
    let mut out = labels.clone();
    for rule in rules {
        if !apply(&mut out, rule) {
            return None;
        }
    }
    Some(out)
}

fn apply(labels: &mut Labels, rule: &RelabelConfig) -> bool {
    let Some(action) = rule.action else { return true };
    let value = rule
        .source_labels
        .iter()
        .map(|n| labels.get_or_empty(n))
        .collect::<Vec<_>>()
        .join(&rule.separator);
    match action {
        Action::Drop => return !rule.regex.is_match(&value),
        Action::Keep => return rule.regex.is_match(&value),
        Action::DropEqual => return labels.get_or_empty(&rule.target_label) != value,
        Action::KeepEqual => return labels.get_or_empty(&rule.target_label) == value,
        Action::Replace => {
            // Fast path upstream takes: nothing to match and no templates to expand.
            if value.is_empty()
                && rule.regex.as_str() == DEFAULT_REGEX
                && !rule.target_label.contains('$')
                && !rule.replacement.contains('$')
            {
                labels.set(rule.target_label.clone(), rule.replacement.clone());
                return true;
            }
            let Some(target) = rule.regex.expand(&value, &rule.target_label) else {
                return true;
            };
            if target.is_empty() {
                return true;
            }
            let replacement = rule.regex.expand(&value, &rule.replacement).unwrap_or_default();
            if replacement.is_empty() {
                labels.remove(&target);
            } else {
                labels.set(target, replacement);
            }
        }
        Action::Lowercase => labels.set(rule.target_label.clone(), go_lower(&value)),
        Action::Uppercase => labels.set(rule.target_label.clone(), go_upper(&value)),
        Action::HashMod => labels.set(rule.target_label.clone(), hashmod(&value, rule.modulus).to_string()),
        Action::LabelMap => {
            let snapshot: Vec<(String, String)> = labels.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
            for (name, value) in snapshot {
                if let Some(new_name) = rule.regex.expand(&name, &rule.replacement)
                    && !new_name.is_empty()
                {
                    labels.set(new_name, value);
                }
            }
        }
        Action::LabelDrop | Action::LabelKeep => {
            let keep_matching = action == Action::LabelKeep;
            let names: Vec<String> = labels.iter().map(|(n, _)| n.to_owned()).collect();
            for name in names {
                if rule.regex.is_match(&name) != keep_matching {
                    labels.remove(&name);
                }
            }
        }
    }
    true
}

#[cfg(test)]
#[path = "relabel_tests.rs"]
mod tests;
