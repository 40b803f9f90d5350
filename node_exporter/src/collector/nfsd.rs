//! `nfsd`: NFS server statistics from `/proc/net/rpc/nfsd`: reply cache, file handles, I/O, threads, read-ahead
//! cache, network and RPC counters, and the procedures served per protocol version.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::nfs::{V2, V3, field, parse_rpc_lines, proc_values};
use super::procutil::{add, family};
use super::{Spec, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("nfsd", true, |s| Ok(Box::new(Nfsd(s.paths.clone()))));

/// NFSv4 server operations by index in the `proc4ops` line, with upstream's names (unlisted ones are skipped).
const V4_OPS: [(usize, &str); 35] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "SetClientID"),
    (36, "SetClientIDConfirm"),
    (37, "Verify"),
    (38, "Write"),
    (39, "RelLockOwner"),
];

struct Nfsd(Paths);

impl Collector for Nfsd {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("net/rpc/nfsd");
        let lines = parse_rpc_lines(&path, &read_file(&path)?)?;
        let f = |key, idx| field(&path, &lines, key, idx);
        let c = MetricType::Counter;
        for (name, help, t, v) in [
            (
                "reply_cache_hits_total",
                "Total number of NFSd Reply Cache hits (client lost server response).",
                c,
                f("rc", 0)?,
            ),
            (
                "reply_cache_misses_total",
                "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
                c,
                f("rc", 1)?,
            ),
            (
                "reply_cache_nocache_total",
                "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/\u{2026}).",
                c,
                f("rc", 2)?,
            ),
            (
                "file_handles_stale_total",
                "Total number of NFSd stale file handles",
                c,
                f("fh", 0)?,
            ),
            ("disk_bytes_read_total", "Total NFSd bytes read.", c, f("io", 0)?),
            ("disk_bytes_written_total", "Total NFSd bytes written.", c, f("io", 1)?),
            (
                "server_threads",
                "Total number of NFSd kernel threads that are running.",
                MetricType::Gauge,
                f("th", 0)?,
            ),
            (
                "read_ahead_cache_size_blocks",
                "How large the read ahead cache is in blocks.",
                MetricType::Gauge,
                f("ra", 0)?,
            ),
            (
                "read_ahead_cache_not_found_total",
                "Total number of NFSd read ahead cache not found.",
                c,
                f("ra", 11)?,
            ),
            (
                "connections_total",
                "Total number of NFSd TCP connections.",
                c,
                f("net", 3)?,
            ),
            ("server_rpcs_total", "Total number of NFSd RPCs.", c, f("rpc", 0)?),
        ] {
            out.push(single(&format!("node_nfsd_{name}"), help, t, v));
        }
        let mut packets = family(
            "node_nfsd_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            c,
        );
        add(&mut packets, &[("proto", "udp")], f("net", 1)?);
        add(&mut packets, &[("proto", "tcp")], f("net", 2)?);
        out.push(packets);
        let mut errors = family(
            "node_nfsd_rpc_errors_total",
            "Total number of NFSd RPC errors by error type.",
            c,
        );
        add(&mut errors, &[("error", "fmt")], f("rpc", 2)?);
        add(&mut errors, &[("error", "auth")], f("rpc", 3)?);
        add(&mut errors, &[("error", "cInt")], f("rpc", 4)?);
        out.push(errors);

        let mut requests = family(
            "node_nfsd_requests_total",
            "Total number NFSd Requests by method and protocol.",
            c,
        );
        // The server does not report NULL calls for v2 and v3.
        for (key, proto, names) in [("proc2", "2", &V2[..]), ("proc3", "3", &V3[..])] {
            for (method, v) in proc_values(&path, &lines, key, names)?.into_iter().skip(1) {
                add(&mut requests, &[("proto", proto), ("method", method)], v);
            }
        }
        if let Some(ops) = lines.get("proc4ops") {
            let values = ops.get(1..).unwrap_or_default();
            for (idx, method) in V4_OPS {
                add(
                    &mut requests,
                    &[("proto", "4"), ("method", method)],
                    values.get(idx).copied().unwrap_or(0.0),
                );
            }
            if let Some(v) = lines.get("wdeleg_getattr").and_then(|v| v.first()) {
                add(&mut requests, &[("proto", "4"), ("method", "WdelegGetattr")], *v);
            }
        }
        out.push(requests);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_stats() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net/rpc")).unwrap();
        let c = Nfsd(Paths {
            procfs: dir.path().to_path_buf(),
            ..Paths::default()
        });
        let good = "rc 0 6 18622\nfh 0 0 0 0 0\nio 1 2\nth 8 0\nra 32 0 0 0 0 0 0 0 0 0 0 4\nnet 9 5 4 1\n\
                    rpc 18 3 1 2 0\nproc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0\n\
                    proc4ops 5 0 0 0 7 2\n";
        let cases = [(good, true), ("rc 0 6\n", false), ("rc 0 x 1\n", false)];
        for (text, ok) in cases {
            std::fs::write(dir.path().join("net/rpc/nfsd"), text).unwrap();
            let mut out = Vec::new();
            assert_eq!(c.collect(&mut out).is_ok(), ok, "{text:?}");
            if ok {
                let req = out.iter().find(|f| f.name == "node_nfsd_requests_total").unwrap();
                // 21 v3 procedures without NULL, and every v4 operation.
                assert_eq!(req.metrics.len(), 21 + V4_OPS.len());
                let access4 = req
                    .metrics
                    .iter()
                    .find(|m| m.labels.get("proto") == Some("4") && m.labels.get("method") == Some("Access"))
                    .unwrap();
                assert_eq!(
                    access4.value,
                    exposition::Value::Counter {
                        total: 7.0,
                        created: None,
                        exemplar: None
                    }
                );
            }
        }
    }
}
