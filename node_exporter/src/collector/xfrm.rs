//! `xfrm`: IPsec transformation error counters from `/proc/net/xfrm_stat`, as
//! `node_xfrm_<snake_case name>_packets_total`.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::numbered;
use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("xfrm", false, |s| Ok(Box::new(Xfrm(s.paths.clone()))));

/// Kernel counter name and HELP text.
const COUNTERS: [(&str, &str); 28] = [
    ("XfrmInError", "All errors not matched by other"),
    ("XfrmInBufferError", "No buffer is left"),
    ("XfrmInHdrError", "Header error"),
    (
        "XfrmInNoStates",
        "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong",
    ),
    (
        "XfrmInStateProtoError",
        "Transformation protocol specific error e.g. SA key is wrong",
    ),
    ("XfrmInStateModeError", "Transformation mode specific error"),
    (
        "XfrmInStateSeqError",
        "Sequence error i.e. Sequence number is out of window",
    ),
    ("XfrmInStateExpired", "State is expired"),
    (
        "XfrmInStateMismatch",
        "State has mismatch option e.g. UDP encapsulation type is mismatch",
    ),
    ("XfrmInStateInvalid", "State is invalid"),
    (
        "XfrmInTmplMismatch",
        "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong",
    ),
    (
        "XfrmInNoPols",
        "No policy is found for states e.g. Inbound SAs are correct but no SP is found",
    ),
    ("XfrmInPolBlock", "Policy discards"),
    ("XfrmInPolError", "Policy error"),
    ("XfrmOutError", "All errors which is not matched others"),
    ("XfrmOutBundleGenError", "Bundle generation error"),
    ("XfrmOutBundleCheckError", "Bundle check error"),
    ("XfrmOutNoStates", "No state is found"),
    ("XfrmOutStateProtoError", "Transformation protocol specific error"),
    ("XfrmOutStateModeError", "Transformation mode specific error"),
    ("XfrmOutStateSeqError", "Sequence error i.e. Sequence number overflow"),
    ("XfrmOutStateExpired", "State is expired"),
    ("XfrmOutPolBlock", "Policy discards"),
    ("XfrmOutPolDead", "Policy is dead"),
    ("XfrmOutPolError", "Policy error"),
    ("XfrmFwdHdrError", "Forward routing of a packet is not allowed"),
    ("XfrmOutStateInvalid", "State is invalid, perhaps expired"),
    ("XfrmAcquireError", "State hasn\u{2019}t been fully acquired before use"),
];

/// `XfrmInStateProtoError` -> `in_state_proto_error`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim_start_matches("Xfrm").chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct Xfrm(Paths);

impl Collector for Xfrm {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("net/xfrm_stat");
        let text = read_file(&path)?;
        for (n, line) in numbered(&text) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let [name, v] = fields[..] else {
                return Err(CollectorError::malformed(&path, n, "expected a name and a value").into());
            };
            let v: f64 = parse_num(&path, n, v)?;
            // Counters newer than this table are left out, as upstream's fixed set does.
            if let Some((_, help)) = COUNTERS.iter().find(|(k, _)| *k == name) {
                out.push(single(
                    &format!("node_xfrm_{}_packets_total", snake(name)),
                    help,
                    MetricType::Counter,
                    v,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (k, want) in [
            ("XfrmInError", "in_error"),
            ("XfrmFwdHdrError", "fwd_hdr_error"),
            ("XfrmInNoPols", "in_no_pols"),
        ] {
            assert_eq!(snake(k), want);
        }
    }

    #[test]
    fn malformed_lines_fail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        let c = Xfrm(Paths {
            procfs: dir.path().to_path_buf(),
            ..Paths::default()
        });
        for (text, ok) in [
            ("XfrmInError 1\nXfrmNew 2\n", true),
            ("XfrmInError\n", false),
            ("XfrmInError x\n", false),
        ] {
            std::fs::write(dir.path().join("net/xfrm_stat"), text).unwrap();
            let mut out = Vec::new();
            assert_eq!(c.collect(&mut out).is_ok(), ok, "{text:?}");
            if ok {
                assert_eq!(out.len(), 1);
            }
        }
    }
}
