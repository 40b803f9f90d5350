//! Relabeling semantics, table-driven.

use super::*;

#[test]
fn default_rule_is_upstreams() {
    let rule = RelabelConfig::default();
    assert_eq!(rule.separator, ";");
    assert_eq!(rule.regex.as_str(), "(.*)");
    assert_eq!(rule.replacement, "$1");
    assert_eq!(rule.action, Some(Action::Replace));
}
