//! `mountstats`: NFS client statistics per mount from `/proc/self/mountstats` (age, byte and event counters,
//! RPC transports and per-operation statistics), with the server address taken from the `addr=` super option of
//! the matching `/proc/self/mountinfo` entry (both files list mounts in the same order).
//!
//! As upstream: a mount seen twice (same export, protocol and address) is exported once, though each gets its
//! `node_mountstats_nfs_mountpoint_info`; cumulative operation times are reduced modulo 2^53 milliseconds before
//! conversion, so they stay exact in a float.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("mountstats", false, |s| Ok(Box::new(MountStats(s.paths.clone()))));

/// Largest integer a float64 holds exactly, plus one.
const FLOAT64_MANTISSA: u64 = 1 << 53;

/// `events:` columns exported, by index: metric suffix and HELP text (index 18, congestion wait, is skipped).
const EVENTS: [(usize, &str, &str); 26] = [
    (
        0,
        "inode_revalidate",
        "Number of times cached inode attributes are re-validated from the server.",
    ),
    (
        1,
        "dnode_revalidate",
        "Number of times cached dentry nodes are re-validated from the server.",
    ),
    (2, "data_invalidate", "Number of times an inode cache is cleared."),
    (
        3,
        "attribute_invalidate",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        4,
        "vfs_open",
        "Number of times cached inode attributes are invalidated.",
    ),
    (5, "vfs_lookup", "Number of times a directory lookup has occurred."),
    (6, "vfs_access", "Number of times permissions have been checked."),
    (
        7,
        "vfs_update_page",
        "Number of updates (and potential writes) to pages.",
    ),
    (8, "vfs_read_page", "Number of pages read directly via mmap()'d files."),
    (9, "vfs_read_pages", "Number of times a group of pages have been read."),
    (
        10,
        "vfs_write_page",
        "Number of pages written directly via mmap()'d files.",
    ),
    (
        11,
        "vfs_write_pages",
        "Number of times a group of pages have been written.",
    ),
    (
        12,
        "vfs_getdents",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        13,
        "vfs_setattr",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        14,
        "vfs_flush",
        "Number of pending writes that have been forcefully flushed to the server.",
    ),
    (
        15,
        "vfs_fsync",
        "Number of times fsync() has been called on directories and files.",
    ),
    (16, "vfs_lock", "Number of times locking has been attempted on a file."),
    (
        17,
        "vfs_file_release",
        "Number of times files have been closed and released.",
    ),
    (19, "truncation", "Number of times files have been truncated."),
    (
        20,
        "write_extension",
        "Number of times a file has been grown due to writes beyond its existing end.",
    ),
    (
        21,
        "silly_rename",
        "Number of times a file was removed while still open by another process.",
    ),
    (
        22,
        "short_read",
        "Number of times the NFS server gave less data than expected while reading.",
    ),
    (
        23,
        "short_write",
        "Number of times the NFS server wrote less data than expected while writing.",
    ),
    (
        24,
        "jukebox_delay",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
    ),
    (25, "pnfs_read", "Number of NFS v4.1+ pNFS reads."),
    (26, "pnfs_write", "Number of NFS v4.1+ pNFS writes."),
];

/// `bytes:` columns: metric suffix and HELP text.
const BYTES: [(&str, &str); 8] = [
    ("read_bytes_total", "Number of bytes read using the read() syscall."),
    (
        "write_bytes_total",
        "Number of bytes written using the write() syscall.",
    ),
    (
        "direct_read_bytes_total",
        "Number of bytes read using the read() syscall in O_DIRECT mode.",
    ),
    (
        "direct_write_bytes_total",
        "Number of bytes written using the write() syscall in O_DIRECT mode.",
    ),
    (
        "total_read_bytes_total",
        "Number of bytes read from the NFS server, in total.",
    ),
    (
        "total_write_bytes_total",
        "Number of bytes written to the NFS server, in total.",
    ),
    ("read_pages_total", "Number of pages read directly via mmap()'d files."),
    (
        "write_pages_total",
        "Number of pages written directly via mmap()'d files.",
    ),
];

/// Transport statistics: metric suffix, HELP text, type.
const TRANSPORT: [(&str, &str, MetricType); 10] = [
    (
        "bind_total",
        "Number of times the client has had to establish a connection from scratch to the NFS server.",
        MetricType::Counter,
    ),
    (
        "connect_total",
        "Number of times the client has made a TCP connection to the NFS server.",
        MetricType::Counter,
    ),
    (
        "idle_time_seconds",
        "Duration since the NFS mount last saw any RPC traffic, in seconds.",
        MetricType::Gauge,
    ),
    (
        "sends_total",
        "Number of RPC requests for this mount sent to the NFS server.",
        MetricType::Counter,
    ),
    (
        "receives_total",
        "Number of RPC responses for this mount received from the NFS server.",
        MetricType::Counter,
    ),
    (
        "bad_transaction_ids_total",
        "Number of times the NFS server sent a response with a transaction ID unknown to this client.",
        MetricType::Counter,
    ),
    (
        "backlog_queue_total",
        "Total number of items added to the RPC backlog queue.",
        MetricType::Counter,
    ),
    (
        "maximum_rpc_slots",
        "Maximum number of simultaneously active RPC requests ever used.",
        MetricType::Gauge,
    ),
    (
        "sending_queue_total",
        "Total number of items added to the RPC transmission sending queue.",
        MetricType::Counter,
    ),
    (
        "pending_queue_total",
        "Total number of items added to the RPC transmission pending queue.",
        MetricType::Counter,
    ),
];

/// Per-operation statistics: metric suffix, HELP text, column, whether it is a millisecond duration.
const OPERATIONS: [(&str, &str, usize, bool); 8] = [
    (
        "requests_total",
        "Number of requests performed for a given operation.",
        0,
        false,
    ),
    (
        "transmissions_total",
        "Number of times an actual RPC request has been transmitted for a given operation.",
        1,
        false,
    ),
    (
        "major_timeouts_total",
        "Number of times a request has had a major timeout for a given operation.",
        2,
        false,
    ),
    (
        "sent_bytes_total",
        "Number of bytes sent for a given operation, including RPC headers and payload.",
        3,
        false,
    ),
    (
        "received_bytes_total",
        "Number of bytes received for a given operation, including RPC headers and payload.",
        4,
        false,
    ),
    (
        "queue_time_seconds_total",
        "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.",
        5,
        true,
    ),
    (
        "response_time_seconds_total",
        "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.",
        6,
        true,
    ),
    (
        "request_time_seconds_total",
        "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.",
        7,
        true,
    ),
];

/// One RPC transport (`xprt:` line), its values in [`TRANSPORT`] order.
#[derive(Debug, Clone, PartialEq)]
struct Transport {
    protocol: String,
    values: [u64; 10],
}

/// The statistics of one NFS mount.
#[derive(Debug, Clone, Default, PartialEq)]
struct NfsMount {
    /// Line of the `device` entry, for errors.
    line: usize,
    device: String,
    mountpoint: String,
    age: u64,
    events: Vec<u64>,
    bytes: Vec<u64>,
    transports: Vec<Transport>,
    operations: Vec<(String, Vec<u64>)>,
}

/// A mount of `/proc/self/mountstats`: `Some` for NFS mounts with statistics.
type Mount = Option<NfsMount>;

fn nums(path: &Path, n: usize, fields: &[&str]) -> Result<Vec<u64>, CollectorError> {
    fields.iter().map(|f| parse_num(path, n, f)).collect()
}

/// Maps an `xprt:` line's values onto [`TRANSPORT`] order.
fn parse_transport(path: &Path, n: usize, fields: &[&str]) -> Result<Transport, CollectorError> {
    let Some((protocol, rest)) = fields.split_first() else {
        return Err(CollectorError::malformed(path, n, "empty xprt line"));
    };
    let v = nums(path, n, rest)?;
    // Columns of bind, connect, idle, sends, receives, bad xids, backlog, max slots, sending, pending queues.
    let (min, idx): (usize, [Option<usize>; 10]) = match *protocol {
        "tcp" | "rdma" => (
            10,
            [
                Some(1),
                Some(2),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(9),
                Some(10),
                Some(11),
                Some(12),
            ],
        ),
        "udp" => (
            7,
            [
                Some(1),
                None,
                None,
                Some(2),
                Some(3),
                Some(4),
                Some(6),
                Some(7),
                Some(8),
                Some(9),
            ],
        ),
        other => {
            return Err(CollectorError::malformed(
                path,
                n,
                format!("unknown transport protocol {other:?}"),
            ));
        }
    };
    if v.len() < min {
        return Err(CollectorError::malformed(
            path,
            n,
            format!("{protocol} transport has {} values, expected at least {min}", v.len()),
        ));
    }
    let mut values = [0u64; 10];
    for (slot, i) in values.iter_mut().zip(idx) {
        *slot = i.and_then(|i| v.get(i).copied()).unwrap_or(0);
    }
    Ok(Transport {
        protocol: protocol.to_string(),
        values,
    })
}

fn parse_mountstats(path: &Path, text: &str) -> Result<Vec<Mount>, CollectorError> {
    let mut out: Vec<Mount> = Vec::new();
    for (n, line) in numbered(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields[0] == "device" {
            // device <dev> mounted on <mountpoint> with fstype <type> [statvers=<v>]
            if fields.len() < 8 || fields[2] != "mounted" || fields[5] != "with" {
                return Err(CollectorError::malformed(path, n, "malformed device line"));
            }
            let nfs = matches!(fields[7], "nfs" | "nfs4");
            if nfs && !fields.get(8).is_some_and(|f| f.starts_with("statvers=")) {
                return Err(CollectorError::malformed(path, n, "NFS mount without statvers"));
            }
            out.push(nfs.then(|| NfsMount {
                line: n,
                device: fields[1].to_string(),
                mountpoint: fields[4].to_string(),
                ..NfsMount::default()
            }));
            continue;
        }
        let Some(Some(mount)) = out.last_mut() else { continue };
        match fields[0] {
            "age:" => {
                mount.age = parse_num(path, n, fields.get(1).copied().unwrap_or_default())?;
            }
            "events:" => mount.events = nums(path, n, &fields[1..])?,
            "bytes:" => mount.bytes = nums(path, n, &fields[1..])?,
            "xprt:" => mount.transports.push(parse_transport(path, n, &fields[1..])?),
            op if op.ends_with(':') && op[..op.len() - 1].bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                let v = nums(path, n, &fields[1..])?;
                if v.len() < 8 {
                    return Err(CollectorError::malformed(path, n, "operation has fewer than 8 values"));
                }
                mount.operations.push((op.trim_end_matches(':').to_string(), v));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The `addr=` super option of each `/proc/self/mountinfo` line, in order.
fn parse_mountinfo_addrs(path: &Path, text: &str) -> Result<Vec<String>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        if line.trim().is_empty() {
            continue;
        }
        let Some((_, after)) = line.split_once(" - ") else {
            return Err(CollectorError::malformed(path, n, "missing ' - ' separator"));
        };
        let supers = after.split_whitespace().nth(2).unwrap_or("");
        let addr = supers
            .split(',')
            .find_map(|o| o.strip_prefix("addr="))
            .unwrap_or("")
            .to_string();
        out.push(addr);
    }
    Ok(out)
}

struct MountStats(Paths);

impl MountStats {
    /// `<procfs>/self` resolved to the PID directory it names, as procfs libraries do.
    fn self_dir(&self) -> PathBuf {
        let link = self.0.proc("self");
        let target = std::fs::read_link(&link).ok().or_else(|| {
            // A copied fixture tree may hold the link as a file containing its target.
            let text = std::fs::read_to_string(&link).ok()?;
            let pid = text.trim();
            (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| PathBuf::from(pid))
        });
        match target {
            Some(t) if t.is_relative() => self.0.proc(t),
            Some(t) => t,
            None => link,
        }
    }
}

impl Collector for MountStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.self_dir();
        let stats_path = dir.join("mountstats");
        let info_path = dir.join("mountinfo");
        let mounts = parse_mountstats(&stats_path, &read_file(&stats_path)?)?;
        let addrs = parse_mountinfo_addrs(&info_path, &read_file(&info_path)?)?;

        let mut fams: BTreeMap<String, MetricFamily> = BTreeMap::new();
        let mut put = |suffix: &str, help: &str, t: MetricType, labels: &[(&str, &str)], v: f64| {
            let f = fams
                .entry(suffix.to_string())
                .or_insert_with(|| family(&format!("node_mountstats_nfs_{suffix}"), help, t));
            add(f, labels, v);
        };
        let mut seen = HashSet::new();
        for (idx, mount) in mounts.iter().enumerate() {
            let Some(m) = mount else { continue };
            let Some(first) = m.transports.first() else {
                return Err(CollectorError::malformed(
                    &stats_path,
                    m.line,
                    format!("mount {} has no xprt line", m.device),
                )
                .into());
            };
            let addr = addrs.get(idx).map(String::as_str).unwrap_or("");
            let base = [
                ("export", m.device.as_str()),
                ("protocol", first.protocol.as_str()),
                ("mountaddr", addr),
            ];
            put(
                "mountpoint_info",
                "Info metric for an NFS mountpoint.",
                MetricType::Gauge,
                &[base[0], base[1], base[2], ("mountpoint", m.mountpoint.as_str())],
                1.0,
            );
            if !seen.insert((m.device.clone(), first.protocol.clone(), addr.to_string())) {
                continue;
            }
            put(
                "age_seconds_total",
                "The age of the NFS mount in seconds.",
                MetricType::Counter,
                &base,
                m.age as f64,
            );
            for ((suffix, help), v) in BYTES.iter().zip(&m.bytes) {
                put(suffix, help, MetricType::Counter, &base, *v as f64);
            }
            for (i, suffix, help) in EVENTS {
                if let Some(v) = m.events.get(i) {
                    put(
                        &format!("event_{suffix}_total"),
                        help,
                        MetricType::Counter,
                        &base,
                        *v as f64,
                    );
                }
            }
            for (i, t) in m.transports.iter().enumerate() {
                let i = i.to_string();
                let labels = [base[0], base[1], base[2], ("transport", i.as_str())];
                for ((suffix, help, ty), v) in TRANSPORT.iter().zip(t.values) {
                    put(&format!("transport_{suffix}"), help, *ty, &labels, v as f64);
                }
            }
            for (op, v) in &m.operations {
                let labels = [base[0], base[1], base[2], ("operation", op.as_str())];
                for (suffix, help, col, millis) in OPERATIONS {
                    let x = if millis {
                        (v[col] % FLOAT64_MANTISSA) as f64 / 1000.0
                    } else {
                        v[col] as f64
                    };
                    put(&format!("operations_{suffix}"), help, MetricType::Counter, &labels, x);
                }
            }
        }
        out.extend(fams.into_values());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = "device rootfs mounted on / with fstype rootfs\n\
        device 1.1.1.1:/srv mounted on /mnt with fstype nfs4 statvers=1.1\n\
        \tage:\t13968\n\tevents:\t52 226 0\n\tbytes:\t1 2 3 4 5 6 7 8\n\
        \tRPC iostats version: 1.0  p/v: 100003/4 (nfs)\n\
        \txprt:\ttcp 832 0 1 0 11 6428 6428 0 12154 0 24 26 5726\n\
        \tper-op statistics\n\t        NULL: 0 0 0 0 0 0 0 0\n\
        \t      ACCESS: 2 2 0 5 3 18446743919241604546 1667369447 1953587717\n\n\
        device 1.1.1.1:/srv mounted on /mnt2 with fstype nfs statvers=1.1\n\
        \txprt:\tudp 832 0 6428 6428 0 12154 0 24 26 5726\n";

    #[test]
    fn mountstats_file() {
        let p = Path::new("mountstats");
        let got = parse_mountstats(p, STATS).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_none());
        let nfs4 = got[1].as_ref().unwrap();
        assert_eq!((nfs4.age, nfs4.events.len(), nfs4.operations.len()), (13968, 3, 2));
        assert_eq!(nfs4.transports[0].values, [0, 1, 11, 6428, 6428, 0, 0, 24, 26, 5726]);
        let udp = &got[2].as_ref().unwrap().transports[0];
        assert_eq!(udp.values, [0, 0, 0, 6428, 6428, 0, 0, 24, 26, 5726]);
        // Durations beyond 2^53 ms are reduced as upstream does.
        assert_eq!(
            (18446743919241604546u64 % FLOAT64_MANTISSA) as f64 / 1000.0,
            9.007044786793922e12
        );
        for bad in [
            "device x mounted on /m with fstype nfs\n",
            "device x mounted on /m with fstype nfs statvers=1.1\n\txprt:\tsctp 1 2\n",
            "device x mounted on /m with fstype nfs statvers=1.1\n\txprt:\ttcp 1 2\n",
            "device x mounted on /m with fstype nfs statvers=1.1\n\tage:\tx\n",
            "device x mounted on /m with fstype nfs statvers=1.1\n\tREAD: 1 2\n",
            "device x on\n",
        ] {
            assert!(parse_mountstats(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mountinfo_addresses() {
        let p = Path::new("mountinfo");
        let text =
            "17 21 0:4 / /proc rw - proc proc rw\n194 21 0:42 / /mnt rw - nfs4 1.1.1.1:/srv rw,vers=4.0,addr=1.1.1.1\n";
        assert_eq!(parse_mountinfo_addrs(p, text).unwrap(), ["", "1.1.1.1"]);
        assert!(parse_mountinfo_addrs(p, "17 21 0:4 / /proc rw\n").is_err());
    }
}
