//! Live parity on the machine the tests run on: with default flags, every `node_*` family (with its label names)
//! that Debian's `prometheus-node-exporter` exposes on this host is exposed by ours too. Both exporters run on
//! free loopback ports and are scraped once. Prints `CONFORMANCE node-live` with families as the unit; `.ci/run`
//! installs the Debian package.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use exposition::conformance::Tally;
use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser};

const DEBIAN_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// `node_*` family (sample name without histogram/summary suffixes is not needed: node families are flat) ->
/// the union of label names seen on its samples.
fn node_families(body: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in Parser::new(body.as_bytes(), Format::Text, Mode::Lenient) {
        let entry = entry.expect("exporter output parses");
        if let Entry::Sample(s) = entry
            && s.name.starts_with("node_")
        {
            let names = out.entry(s.name.to_string()).or_default();
            for l in s.labels.iter() {
                names.insert(l.name.to_string());
            }
        }
    }
    out
}

#[test]
fn our_node_families_contain_debians() {
    assert!(
        std::path::Path::new(DEBIAN_EXPORTER).exists(),
        "{DEBIAN_EXPORTER} missing; .ci/run installs prometheus-node-exporter"
    );
    let (ours_port, theirs_port) = (support::free_port(), support::free_port());
    let ours = support::start(env!("CARGO_BIN_EXE_node_exporter"), &[], ours_port, None);
    let theirs = support::start(DEBIAN_EXPORTER, &[], theirs_port, None);
    let ours_body = support::scrape(ours_port);
    let theirs_body = support::scrape(theirs_port);
    drop((ours, theirs));
    let ours = node_families(&ours_body);
    let theirs = node_families(&theirs_body);
    assert!(
        theirs.len() > 50,
        "Debian's exporter exposed only {} node families",
        theirs.len()
    );
    let mut tally = Tally::new("node-live");
    for (name, labels) in &theirs {
        match ours.get(name) {
            None => tally.fail(name.clone(), "missing"),
            Some(ours_labels) if ours_labels.is_superset(labels) => tally.pass(),
            Some(ours_labels) => tally.fail(
                name.clone(),
                format!("label names {labels:?} upstream, {ours_labels:?} ours"),
            ),
        }
    }
    tally.finish();
}
