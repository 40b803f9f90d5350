//! Relabeling semantics, table-driven. The cases follow the behaviours upstream's relabel tests pin down (written
//! anew here); hashmod buckets were computed independently with Python's `hashlib.md5`.

use super::*;

/// Label pairs in a table case.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// One processing case: name, input, rules as YAML, expected output (`None`: dropped).
type Case<'a> = (&'a str, Pairs<'a>, &'a [&'a str], Option<Pairs<'a>>);

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

/// Parses one rule from YAML, as the configuration would.
fn rule(yaml: &str) -> RelabelConfig {
    let rule: RelabelConfig = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    rule.validate(false).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    rule
}

#[test]
fn default_rule_is_upstreams() {
    let rule = RelabelConfig::default();
    assert_eq!(rule.separator, ";");
    assert_eq!(rule.regex.as_str(), "(.*)");
    assert_eq!(rule.replacement, "$1");
    assert_eq!(rule.action, Some(Action::Replace));
    // A rule with only a target label gets the same defaults from YAML.
    let parsed: RelabelConfig = serde_saphyr::from_str("{target_label: x}").expect("parses");
    assert_eq!(
        parsed,
        RelabelConfig {
            target_label: "x".into(),
            ..RelabelConfig::default()
        }
    );
}

#[test]
fn process_table() {
    let base = [("a", "foo"), ("b", "bar"), ("c", "baz")];
    let cases: &[Case<'_>] = &[
        (
            "replace expands ${1} twice",
            &base,
            &["{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}"],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        ),
        (
            "replace joins sources with the separator",
            &base,
            &["{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}"],
            Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz")]),
        ),
        (
            "custom separator",
            &base,
            &["{source_labels: [b, c], separator: '|', regex: 'bar\\|(.*)', target_label: d}"],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "baz")]),
        ),
        (
            "rules chain: the second sees the first's output",
            &base,
            &[
                "{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch$1-ch$1'}",
                "{source_labels: [d], regex: '(.*)-(.*)', target_label: e, replacement: '${2}!'}",
            ],
            Some(&[
                ("a", "foo"),
                ("b", "bar"),
                ("c", "baz"),
                ("d", "choo-choo"),
                ("e", "choo!"),
            ]),
        ),
        (
            "regex is anchored: a partial match does nothing",
            &base,
            &["{source_labels: [a], regex: 'f', target_label: d, replacement: x}"],
            Some(&base),
        ),
        (
            "empty expansion deletes the target",
            &base,
            &["{source_labels: [a], regex: '(f).*', target_label: b, replacement: '${2}'}"],
            Some(&[("a", "foo"), ("c", "baz")]),
        ),
        (
            "missing source with default regex copies nothing and clears the target",
            &base,
            &["{source_labels: [zzz], target_label: a}"],
            Some(&[("b", "bar"), ("c", "baz")]),
        ),
        (
            "static replacement with no sources",
            &base,
            &["{target_label: d, replacement: static}"],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "static")]),
        ),
        (
            "Go expansion: $1x names group '1x', which is empty",
            &base,
            &["{source_labels: [a], regex: '(.*)', target_label: d, replacement: '$1x'}"],
            Some(&base),
        ),
        (
            "$$ is a literal dollar and named groups expand",
            &base,
            &[
                "{source_labels: [a], regex: '(?P<first>f)(?P<rest>.*)', target_label: d, replacement: '$$${rest}-$first'}",
            ],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "$oo-f")]),
        ),
        (
            "target label from a template",
            &[("__meta_tags", "env=prod")],
            &["{source_labels: [__meta_tags], regex: '(.*)=(.*)', target_label: '${1}', replacement: '${2}'}"],
            Some(&[("__meta_tags", "env=prod"), ("env", "prod")]),
        ),
        (
            "drop on match",
            &base,
            &["{source_labels: [a], regex: '.*o.*', action: drop}"],
            None,
        ),
        (
            "drop without match keeps",
            &base,
            &["{source_labels: [a], regex: 'x.*', action: drop}"],
            Some(&base),
        ),
        (
            "keep without match drops",
            &base,
            &["{source_labels: [a], regex: 'x.*', action: keep}"],
            None,
        ),
        (
            "keep on match",
            &base,
            &["{source_labels: [a], regex: 'fo+', action: keep}"],
            Some(&base),
        ),
        (
            "keep: the empty regex matches a missing label",
            &base,
            &["{source_labels: [zzz], regex: '', action: keep}"],
            Some(&base),
        ),
        (
            "keepequal keeps when the target equals the joined value",
            &[("a", "x"), ("b", "x")],
            &["{source_labels: [a], target_label: b, action: keepequal}"],
            Some(&[("a", "x"), ("b", "x")]),
        ),
        (
            "keepequal drops otherwise",
            &base,
            &["{source_labels: [a], target_label: b, action: keepequal}"],
            None,
        ),
        (
            "dropequal drops when equal",
            &[("a", "x"), ("b", "x")],
            &["{source_labels: [a], target_label: b, action: dropequal}"],
            None,
        ),
        (
            "dropequal keeps otherwise",
            &base,
            &["{source_labels: [a], target_label: b, action: dropequal}"],
            Some(&base),
        ),
        (
            "hashmod",
            &base,
            &["{source_labels: [a], modulus: 1000, target_label: d, action: hashmod}"],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "696")]),
        ),
        (
            "hashmod over joined values",
            &base,
            &["{source_labels: [b, c], modulus: 16, target_label: shard, action: hashmod}"],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("shard", "10")]),
        ),
        (
            "labelmap copies matching labels under the new name",
            &[
                ("__meta_kubernetes_pod_label_app", "web"),
                ("__meta_kubernetes_pod_label_tier", "db"),
                ("job", "k"),
            ],
            &["{action: labelmap, regex: '__meta_kubernetes_pod_label_(.+)'}"],
            Some(&[
                ("__meta_kubernetes_pod_label_app", "web"),
                ("__meta_kubernetes_pod_label_tier", "db"),
                ("app", "web"),
                ("job", "k"),
                ("tier", "db"),
            ]),
        ),
        (
            "labelmap with a replacement template",
            &[("b1", "bar"), ("b2", "baz"), ("a", "foo")],
            &["{action: labelmap, regex: '(b.*)', replacement: 'x_${1}'}"],
            Some(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("x_b1", "bar"),
                ("x_b2", "baz"),
            ]),
        ),
        (
            "labeldrop",
            &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            &["{action: labeldrop, regex: 'b.*'}"],
            Some(&[("a", "foo")]),
        ),
        (
            "labelkeep",
            &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            &["{action: labelkeep, regex: 'b.*'}"],
            Some(&[("b1", "bar"), ("b2", "baz")]),
        ),
        (
            "labeldrop is anchored",
            &[("a", "foo"), ("ab", "bar")],
            &["{action: labeldrop, regex: 'a'}"],
            Some(&[("ab", "bar")]),
        ),
        (
            "lowercase",
            &[("a", "FoO"), ("b", "ÄÖ")],
            &["{source_labels: [a, b], separator: '-', target_label: l, action: lowercase}"],
            Some(&[("a", "FoO"), ("b", "ÄÖ"), ("l", "foo-äö")]),
        ),
        (
            "uppercase",
            &[("a", "foo")],
            &["{source_labels: [a], target_label: a, action: uppercase}"],
            Some(&[("a", "FOO")]),
        ),
        (
            "case mapping is rune by rune as in Go",
            &[("a", "ΟΔΟΣ straße İ")],
            &[
                "{source_labels: [a], target_label: l, action: lowercase}",
                "{source_labels: [a], target_label: u, action: uppercase}",
            ],
            Some(&[("a", "ΟΔΟΣ straße İ"), ("l", "οδοσ straße i"), ("u", "ΟΔΟΣ STRAßE İ")]),
        ),
        (
            "action names ignore case",
            &[("a", "foo")],
            &["{source_labels: [a], target_label: u, action: UpperCase}"],
            Some(&[("a", "foo"), ("u", "FOO")]),
        ),
        (
            "\\d is ASCII as in Go",
            &[("a", "\u{663}")],
            &["{source_labels: [a], regex: '\\d', action: drop}"],
            Some(&[("a", "\u{663}")]),
        ),
        (
            "\\w inside a class is ASCII as in Go",
            &[("a", "é")],
            &["{source_labels: [a], regex: '[\\w]+', action: drop}"],
            Some(&[("a", "é")]),
        ),
        (
            "\\Q...\\E quotes literal text as in Go",
            &[("a", "a.b*c"), ("b", "axbbb")],
            &[
                "{source_labels: [a], regex: '\\Qa.b*\\Ec', action: keep}",
                "{source_labels: [b], regex: '\\Qa.b*', action: drop}",
            ],
            Some(&[("a", "a.b*c"), ("b", "axbbb")]),
        ),
        (
            "dot matches newlines (?s)",
            &[("a", "x\ny")],
            &["{source_labels: [a], regex: 'x.y', action: drop}"],
            None,
        ),
    ];
    for (name, input, rules, want) in cases {
        let rules: Vec<RelabelConfig> = rules.iter().map(|r| rule(r)).collect();
        let got = process(&labels(input), &rules);
        let want = want.map(labels);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn hashmod_matches_upstream_hash() {
    // Independent MD5 computations: last 8 bytes big-endian, modulo.
    for (value, modulus, want) in [
        ("foo", 1000, 696),
        ("localhost:9090", 8, 2),
        ("", 3, 1),
        ("10.0.0.1:9100", 2, 1),
    ] {
        assert_eq!(hashmod(value, modulus), want, "{value:?}");
    }
}

#[test]
fn validation_table() {
    let cases: &[(&str, Option<&str>)] = &[
        ("{target_label: a}", None),
        ("{action: null}", Some("relabel action cannot be empty")),
        ("{regex: abc}", Some("requires 'target_label'")),
        ("{action: hashmod, target_label: a}", Some("non-zero modulus")),
        ("{action: hashmod, modulus: 2}", Some("requires 'target_label'")),
        (
            "{action: lowercase, source_labels: [a]}",
            Some("requires 'target_label'"),
        ),
        (
            "{action: uppercase, target_label: a, replacement: x}",
            Some("'replacement' can not be set"),
        ),
        ("{action: keepequal, source_labels: [a], target_label: b}", None),
        (
            "{action: keepequal, source_labels: [a], target_label: b, regex: x}",
            Some("requires only 'source_labels'"),
        ),
        (
            "{action: dropequal, source_labels: [a], target_label: b, separator: ','}",
            Some("requires only"),
        ),
        ("{action: labeldrop, regex: x}", None),
        ("{action: labeldrop, source_labels: [a]}", Some("requires only 'regex'")),
        ("{action: labelkeep, modulus: 3}", Some("requires only 'regex'")),
        ("{action: labelkeep, target_label: x}", Some("requires only 'regex'")),
        (
            "{action: labelmap, regex: '(.*)', replacement: ''}",
            Some("invalid 'replacement'"),
        ),
        ("{target_label: '${1}'}", None),
    ];
    for (yaml, want) in cases {
        let parsed: RelabelConfig = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        match (parsed.validate(false), want) {
            (Ok(()), None) => {}
            (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{yaml}: {e}"),
            (got, want) => panic!("{yaml}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn legacy_names_restrict_target_labels() {
    let replace: RelabelConfig = serde_saphyr::from_str("{target_label: 'a.b'}").expect("parses");
    assert!(replace.validate(false).is_ok());
    assert!(replace.validate(true).is_err());
    let template: RelabelConfig = serde_saphyr::from_str("{target_label: 'x_${1}'}").expect("parses");
    assert!(template.validate(true).is_ok());
    let bad: RelabelConfig = serde_saphyr::from_str("{target_label: '1abc'}").expect("parses");
    assert!(bad.validate(true).is_err());
}

#[test]
fn bad_regexes_and_actions_are_parse_errors() {
    for yaml in [
        "{regex: 'abc(def', target_label: a}",
        "{action: explode}",
        "{regex: '(?=x)', target_label: a}",
    ] {
        assert!(serde_saphyr::from_str::<RelabelConfig>(yaml).is_err(), "{yaml}");
    }
    // `regex:` with no value is the empty regex, which only matches the empty string.
    let empty: RelabelConfig = serde_saphyr::from_str("{regex: null, target_label: a}").expect("parses");
    assert!(empty.regex.is_match(""));
    assert!(!empty.regex.is_match("x"));
}
