//! `nfs`: NFS client statistics from `/proc/net/rpc/nfs`: network and RPC counters and the procedures invoked
//! per protocol version (`proc2`, `proc3`, `proc4` lines).

use std::collections::HashMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("nfs", true, |s| Ok(Box::new(Nfs(s.paths.clone()))));

/// NFSv2 procedures in kernel order.
pub const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write", "Create", "Remove",
    "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures in kernel order.
pub const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// NFSv4 client operations in the order of the `proc4` line, as upstream names them.
const V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    // Upstream reports these two columns under each other's name; kept for identical output.
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// The lines of an RPC statistics file: the numbers after each line's key, with the line number.
#[derive(Debug, Default)]
pub struct RpcLines {
    lines: HashMap<String, (usize, Vec<f64>)>,
    /// The number of lines, where a missing line is reported.
    end: usize,
}

impl RpcLines {
    /// The values of the line starting with `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<f64>> {
        self.lines.get(key).map(|(_, v)| v)
    }
}

/// Parses the `key value...` lines of `/proc/net/rpc/nfs` or `/proc/net/rpc/nfsd`.
pub fn parse_rpc_lines(path: &Path, text: &str) -> Result<RpcLines, CollectorError> {
    let mut out = RpcLines::default();
    for (n, line) in numbered(text) {
        out.end = n;
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        let values = fields.map(|f| parse_num(path, n, f)).collect::<Result<Vec<f64>, _>>()?;
        out.lines.insert(key.to_string(), (n, values));
    }
    Ok(out)
}

/// The values of a `procN` line after its count, padded with zeros to `names` (older kernels print fewer).
pub fn proc_values<'a>(
    path: &Path,
    lines: &RpcLines,
    key: &str,
    names: &'a [&'a str],
) -> Result<Vec<(&'a str, f64)>, CollectorError> {
    let Some((n, values)) = lines.lines.get(key) else {
        return Ok(Vec::new());
    };
    let Some((count, rest)) = values.split_first() else {
        return Err(CollectorError::malformed(path, *n, format!("{key} has no count")));
    };
    if *count as usize != rest.len() {
        return Err(CollectorError::malformed(
            path,
            *n,
            format!("{key} announces {count} values but has {}", rest.len()),
        ));
    }
    Ok(names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, rest.get(i).copied().unwrap_or(0.0)))
        .collect())
}

/// The `idx`-th value of a line, or an error naming it.
pub fn field(path: &Path, lines: &RpcLines, key: &str, idx: usize) -> Result<f64, CollectorError> {
    match lines.lines.get(key) {
        Some((n, v)) => v
            .get(idx)
            .copied()
            .ok_or_else(|| CollectorError::malformed(path, *n, format!("{key} has fewer than {} values", idx + 1))),
        None => Err(CollectorError::malformed(
            path,
            lines.end.max(1),
            format!("no {key:?} line"),
        )),
    }
}

struct Nfs(Paths);

impl Collector for Nfs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.0.proc("net/rpc/nfs");
        let lines = parse_rpc_lines(&path, &read_file(&path)?)?;
        let f = |key, idx| field(&path, &lines, key, idx);
        let mut packets = family(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            MetricType::Counter,
        );
        add(&mut packets, &[("protocol", "udp")], f("net", 1)?);
        add(&mut packets, &[("protocol", "tcp")], f("net", 2)?);
        out.push(packets);
        out.push(single(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            MetricType::Counter,
            f("net", 3)?,
        ));
        out.push(single(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            MetricType::Counter,
            f("rpc", 0)?,
        ));
        out.push(single(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            MetricType::Counter,
            f("rpc", 1)?,
        ));
        out.push(single(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            MetricType::Counter,
            f("rpc", 2)?,
        ));
        let mut requests = family(
            "node_nfs_requests_total",
            "Number of NFS procedures invoked.",
            MetricType::Counter,
        );
        for (key, proto, names) in [
            ("proc2", "2", &V2[..]),
            ("proc3", "3", &V3[..]),
            ("proc4", "4", &V4[..]),
        ] {
            for (method, v) in proc_values(&path, &lines, key, names)? {
                add(&mut requests, &[("proto", proto), ("method", method)], v);
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
    fn rpc_lines() {
        let p = Path::new("nfs");
        let lines = parse_rpc_lines(p, "net 1 2 3 4\nproc2 3 7 8 9\nproc3 2 1\n").unwrap();
        assert_eq!(field(p, &lines, "net", 3).unwrap(), 4.0);
        assert!(field(p, &lines, "net", 4).is_err());
        let v2 = proc_values(p, &lines, "proc2", &V2).unwrap();
        assert_eq!(v2.len(), 18);
        assert_eq!(v2[1], ("GetAttr", 8.0));
        assert_eq!(v2[5], ("ReadLink", 0.0));
        assert!(proc_values(p, &lines, "proc3", &V3).is_err());
        assert!(proc_values(p, &lines, "proc4", &V4).unwrap().is_empty());
        assert!(parse_rpc_lines(p, "net 1 x\n").is_err());
    }
}
