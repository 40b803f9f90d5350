//! Live parity on the machine the tests run on: with default flags, every `node_*` family (with its label names)
//! that Debian's `prometheus-node-exporter` exposes on this host is exposed by ours too. Both exporters run on
//! free loopback ports and are scraped once. Prints `CONFORMANCE node-live` with families as the unit; `.ci/run`
//! installs the Debian package.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use exposition::conformance::Tally;
use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser};

const DEBIAN_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start(program: &str, port: u16) -> KillOnDrop {
    let child = Command::new(program)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} ({e}); .ci/run installs prometheus-node-exporter"));
    KillOnDrop(child)
}

fn scrape(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .expect("send");
                let mut resp = String::new();
                s.read_to_string(&mut resp).expect("read");
                let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
                assert!(head.contains(" 200 "), "{head}");
                return body.to_string();
            }
            Err(e) if Instant::now() > deadline => panic!("no exporter on {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

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
    let (ours_port, theirs_port) = (free_port(), free_port());
    let ours = start(env!("CARGO_BIN_EXE_node_exporter"), ours_port);
    let theirs = start(DEBIAN_EXPORTER, theirs_port);
    let ours_body = scrape(ours_port);
    let theirs_body = scrape(theirs_port);
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
