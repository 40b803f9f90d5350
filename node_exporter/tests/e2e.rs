//! Upstream node_exporter's end-to-end test, reproduced: our binary started with the flags of
//! `node_exporter/e2e-cmdline.txt`, the paths pointed at upstream's fixture tree, on a free loopback port; its
//! `/metrics` output filtered as upstream filters it and compared family by family with `e2e-output.txt`. Prints
//! `CONFORMANCE node-e2e` with families as the unit.
//!
//! Left out by design, as the issue says: the Go runtime families (`go_*`, `promhttp_*`) and the HELP text of
//! `node_exporter_build_info`. Flags of collectors this build does not have yet are dropped from the command line
//! and their families count as failures (listed by the harness), never as skipped.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use exposition::conformance::{Tally, corpus_dir};

/// Families that cannot match because the stored copy of upstream's fixture tree lost entries git does not keep
/// (empty directories, the `slaves/` links of a device-mapper device). They still count as failures.
const FIXTURE_GAPS: [(&str, &str); 5] = [
    (
        "node_dmmultipath_device_paths",
        "fixture gap: sys/block/dm-5/slaves/ is missing from the stored corpus",
    ),
    (
        "node_dmmultipath_device_paths_active",
        "fixture gap: sys/block/dm-5/slaves/ is missing from the stored corpus",
    ),
    (
        "node_dmmultipath_device_paths_failed",
        "fixture gap: sys/block/dm-5/slaves/ is missing from the stored corpus",
    ),
    (
        "node_dmmultipath_path_state",
        "fixture gap: sys/block/dm-5/slaves/ is missing from the stored corpus",
    ),
    (
        "node_watchdog_info",
        "fixture gap: the empty directory sys/class/watchdog/watchdog1 is missing from the stored corpus",
    ),
];

/// Sample lines upstream's e2e test removes from both outputs before diffing (values that vary per run).
const FILTERED_PREFIXES: [&str; 9] = [
    "go_",
    "node_exporter_build_info",
    "node_scrape_collector_duration_seconds",
    "process_",
    "node_textfile_mtime_seconds",
    "node_time_zone",
    "node_time_seconds",
    "node_network_receive_",
    "node_network_transmit_",
];

fn filtered(line: &str) -> bool {
    FILTERED_PREFIXES.iter().any(|p| {
        line.starts_with(p)
            && match *p {
                // Only the bytes/packets totals of the network families vary.
                "node_network_receive_" | "node_network_transmit_" => {
                    let rest = &line[p.len()..];
                    rest.starts_with("bytes_total") || rest.starts_with("packets_total")
                }
                _ => true,
            }
    })
}

/// The command line of upstream's e2e test, unchanged: the exporter runs in a directory that has
/// `collector/fixtures` (see [`fixture_workdir`]), so paths, including those that appear in label values such as
/// RAPL's `path`, are exactly upstream's.
fn upstream_args(fixtures: &Path) -> Vec<String> {
    let cmdline = std::fs::read_to_string(fixtures.join("e2e-cmdline.txt")).expect("e2e-cmdline.txt");
    cmdline
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches('\\').trim();
            let arg = l.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(arg.to_string())
        })
        .collect()
}

/// Builds `<work>/collector/fixtures`: the `sys` tree copied with its symlinks restored, every other entry a
/// symlink to the corpus.
fn fixture_workdir(fixtures: &Path, work: &Path) {
    let dest = work.join("collector/fixtures");
    std::fs::create_dir_all(&dest).expect("create fixture dir");
    for entry in std::fs::read_dir(fixtures).expect("read fixtures") {
        let entry = entry.expect("fixture entry");
        let name = entry.file_name();
        if name == "sys" {
            materialize_sysfs(&entry.path(), &dest.join("sys"));
        } else {
            std::os::unix::fs::symlink(entry.path(), dest.join(&name)).expect("link fixture");
        }
    }
}

/// Copies upstream's `sys` fixture tree to `to`, turning back into symlinks the small files that stand for
/// symlinks in the stored corpus (their whole content is a relative target such as `../../devices/...` that
/// exists in the tree). sysfs collectors resolve such links (hwmon chip names, `class/net/*`, ...).
fn materialize_sysfs(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create sysfs copy");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("fixture entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            materialize_sysfs(&src, &dst);
            continue;
        }
        let data = std::fs::read(&src).expect("read fixture file");
        let target = std::str::from_utf8(&data).ok().filter(|t| {
            data.len() < 512
                && t.starts_with("../")
                && !t.contains('\n')
                && src.parent().is_some_and(|p| p.join(t).exists())
        });
        match target {
            Some(t) => std::os::unix::fs::symlink(t, &dst).expect("symlink"),
            None => std::fs::write(&dst, &data).expect("copy fixture file"),
        }
    }
}

/// Family name -> its lines (HELP, TYPE, samples), after filtering.
fn families(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.is_empty() || filtered(line) {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")) {
            current = rest.split(' ').next().unwrap_or_default().to_string();
            if current == "node_exporter_build_info" && line.starts_with("# HELP") {
                continue;
            }
        }
        if current.starts_with("go_") || current.starts_with("promhttp_") {
            continue;
        }
        out.entry(current.clone()).or_default().push(line.to_string());
    }
    out
}

#[test]
fn upstream_e2e_output() {
    let Some(dir) = corpus_dir() else { return };
    let fixtures = dir.join("node_exporter").canonicalize().expect("fixture dir");
    let scratch = tempfile::tempdir().expect("temp dir");
    fixture_workdir(&fixtures, scratch.path());
    let known: BTreeSet<String> = node_exporter::cli::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut args = vec!["node_exporter".to_string()];
    let mut dropped = Vec::new();
    for arg in upstream_args(&fixtures) {
        let name = arg
            .trim_start_matches("--")
            .split('=')
            .next()
            .unwrap_or_default()
            .to_string();
        if known.contains(&name) {
            args.push(arg);
        } else {
            dropped.push(name);
        }
    }
    println!(
        "node-e2e: flags of collectors not built yet, dropped: {}",
        dropped.join(" ")
    );
    let port = support::free_port();
    let exporter = support::start(
        env!("CARGO_BIN_EXE_node_exporter"),
        &args[1..],
        port,
        Some(scratch.path()),
    );
    let body = support::scrape(port);
    drop(exporter);
    let ours = families(&body);

    let golden = std::fs::read_to_string(fixtures.join("e2e-output.txt")).expect("e2e-output.txt");
    let want = families(&golden);
    let mut tally = Tally::new("node-e2e");
    for (name, lines) in &want {
        match ours.get(name) {
            _ if ours.get(name) != Some(lines)
                && let Some((_, why)) = FIXTURE_GAPS.iter().find(|(n, _)| n == name) =>
            {
                tally.fail(name.clone(), why)
            }
            None => tally.fail(name.clone(), "missing"),
            Some(got) if got == lines => tally.pass(),
            Some(got) => {
                let diff = lines
                    .iter()
                    .zip(got.iter())
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("want {a:?}, got {b:?}"))
                    .unwrap_or_else(|| format!("want {} lines, got {}", lines.len(), got.len()));
                tally.fail(name.clone(), diff);
            }
        }
    }
    for name in ours.keys().filter(|n| !want.contains_key(*n)) {
        tally.fail(name.clone(), "not in upstream output");
    }
    tally.finish();
}
