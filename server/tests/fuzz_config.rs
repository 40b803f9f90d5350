//! Panic-freedom in the manner of a `cargo fuzz` target: random and mutated YAML (seeded from the upstream corpus
//! when it is present, plus a few built-in seeds) goes through the loader; errors are fine, panics are not. The
//! same for relabeling with random rules and labels.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use server::config::{Config, Mode};
use server::model::labels::Labels;
use server::model::relabel::{Action, Regex, RelabelConfig, process};

const SEEDS: &[&str] = &[
    "global:\n  scrape_interval: 15s\n  external_labels: {a: '${X}'}\n",
    "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {source_labels: [a], regex: '(.*)', target_label: b}\n",
    "remote_write:\n  - url: http://x\n    queue_config: {min_shards: 2}\n",
    "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n        selectors: [{role: pod, label: 'a in (b)'}]\n",
    "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:1']}]\n      api_version: v2\n",
];

fn seeds() -> &'static Vec<String> {
    static SEEDS_CELL: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS_CELL.get_or_init(|| {
        let mut out: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
        if let Some(dir) = exposition::conformance::corpus_dir()
            && let Ok(entries) = std::fs::read_dir(dir.join("prometheus_config"))
        {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            paths.sort();
            out.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
        }
        out
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, u8),
    Truncate(usize),
    SpliceLine(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop_oneof![
        Just(": ".to_owned()),
        Just("\n  - ".to_owned()),
        Just("{".to_owned()),
        Just("[".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("!!binary ".to_owned()),
        Just("null".to_owned()),
        Just("'".to_owned()),
        Just("\"\\u".to_owned()),
        Just("0".to_owned()),
        Just("-1h".to_owned()),
        Just("$1${".to_owned()),
        Just("(".to_owned()),
        "[ -~\n]{0,8}",
    ];
    prop_oneof![
        (any::<usize>(), token).prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), 0usize..16).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(f, l, at)| Edit::SpliceLine(f, l, at)),
    ]
}

fn apply(mut bytes: Vec<u8>, edit: &Edit, seeds: &[String]) -> Vec<u8> {
    let len = bytes.len();
    let pos = |at: usize| if len == 0 { 0 } else { at % (len + 1) };
    match edit {
        Edit::Insert(at, s) => {
            let p = pos(*at);
            bytes.splice(p..p, s.bytes());
        }
        Edit::Delete(at, n) => {
            let p = pos(*at);
            let end = (p + n).min(bytes.len());
            bytes.drain(p..end);
        }
        Edit::Replace(at, b) => {
            if len > 0 {
                bytes[at % len] = *b;
            }
        }
        Edit::Truncate(at) => bytes.truncate(pos(*at)),
        Edit::SpliceLine(file, line, at) => {
            let source = &seeds[file % seeds.len()];
            let lines: Vec<&str> = source.lines().collect();
            if !lines.is_empty() {
                let text = format!("{}\n", lines[line % lines.len()]);
                let p = pos(*at);
                bytes.splice(p..p, text.bytes());
            }
        }
    }
    bytes
}

fn load(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = Config::load_str(&text, Path::new("fuzz.yml"), Mode::Server);
    let _ = Config::load_str(&text, Path::new("fuzz.yml"), Mode::Agent);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_never_panics(seed in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        let mut bytes = seeds[seed % seeds.len()].clone().into_bytes();
        for e in &edits {
            bytes = apply(bytes, e, seeds);
        }
        load(&bytes);
    }

    #[test]
    fn random_text_never_panics(text in "[ -~\n\t]{0,300}") {
        load(text.as_bytes());
    }

    #[test]
    fn relabeling_never_panics(
        pattern in "[a-z().*+?|\\\\$^\\[\\]{}0-9]{0,12}",
        template in "[a-z$&{}0-9_]{0,10}",
        action in 0usize..11,
        modulus in 0u64..5,
        pairs in prop::collection::vec(("[a-z_]{1,4}", "[a-zA-Z0-9 ]{0,6}"), 0..6),
    ) {
        let actions = [
            Action::Replace, Action::Keep, Action::Drop, Action::KeepEqual, Action::DropEqual, Action::HashMod,
            Action::LabelMap, Action::LabelDrop, Action::LabelKeep, Action::Lowercase, Action::Uppercase,
        ];
        if let Ok(regex) = Regex::new(&pattern) {
            let labels: Labels = pairs.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
            let names: Vec<String> = pairs.iter().map(|(n, _)| n.clone()).collect();
            let rule = RelabelConfig {
                source_labels: names,
                regex,
                modulus,
                target_label: template.clone(),
                replacement: template,
                action: Some(actions[action]),
                ..RelabelConfig::default()
            };
            // Valid or not, processing must not panic (invalid rules are refused by the loader, not here).
            let _ = rule.validate(false);
            let _ = process(&labels, &[rule]);
        }
    }
}
