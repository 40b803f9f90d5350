//! The Go client's process collector: `process_*` metrics of the exporter's own process.
//!
//! On Linux they are read from `/proc/self` (`stat`, `fd/`, `limits`, `net/netstat`) and `/proc/stat`, with the
//! same sources, units, HELP texts and types as client_golang: CPU time and start time come from
//! `/proc/self/stat` in clock ticks, resident memory is the `stat` page count times the page size, the limits
//! are the soft limits (`unlimited` is 2^64-1), and network bytes are the `IpExt` `InOctets`/`OutOctets` of the
//! process' network namespace. A metric whose source cannot be read is left out, as the Go client does for
//! these mix-in metrics. On other systems the collector writes nothing.
//!
//! With the real `/proc`, the descriptors of `self/stat`, `self/limits` and `self/net/netstat` stay open between
//! scrapes and are re-read from offset 0 (the kernel regenerates them), which spares an open and a close each.

use crate::model::MetricFamily;
use crate::registry::{CollectError, Collector};

/// Writes the `process_*` families for the current process.
///
/// What cannot change while the process lives (page size, clock ticks, start time) is read on the first scrape
/// only; later scrapes read just `stat`, `fd/`, `limits` and `net/netstat`.
#[derive(Debug, Clone)]
pub struct ProcessCollector {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    procfs: std::path::PathBuf,
    #[cfg(target_os = "linux")]
    fixed: std::sync::OnceLock<linux::Fixed>,
    #[cfg(target_os = "linux")]
    kept: linux::Kept,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        ProcessCollector::with_procfs("/proc")
    }
}

impl ProcessCollector {
    /// A collector reading the given procfs mount (normally `/proc`) for the process `self`.
    pub fn with_procfs(procfs: impl Into<std::path::PathBuf>) -> ProcessCollector {
        ProcessCollector {
            procfs: procfs.into(),
            #[cfg(target_os = "linux")]
            fixed: std::sync::OnceLock::new(),
            #[cfg(target_os = "linux")]
            kept: linux::Kept::default(),
        }
    }
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        #[cfg(target_os = "linux")]
        linux::collect(&self.procfs, &self.fixed, &self.kept, out);
        #[cfg(not(target_os = "linux"))]
        let _ = out;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::path::Path;

    use crate::model::{Labels, Metric, MetricFamily, MetricType, Value};

    /// Fields of `/proc/<pid>/stat` the collector uses.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(super) struct Stat {
        pub(super) utime: u64,
        pub(super) stime: u64,
        pub(super) starttime: u64,
        pub(super) vsize: u64,
        pub(super) rss_pages: i64,
    }

    /// Parses `/proc/<pid>/stat`. The command name may contain spaces and parentheses: fields are counted from
    /// the last `)`.
    pub(super) fn parse_stat(text: &str) -> Option<Stat> {
        let after = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = after.split_whitespace().collect();
        // after[0] is field 3 (state); field n is f[n - 3].
        Some(Stat {
            utime: f.get(11)?.parse().ok()?,
            stime: f.get(12)?.parse().ok()?,
            starttime: f.get(19)?.parse().ok()?,
            vsize: f.get(20)?.parse().ok()?,
            rss_pages: f.get(21)?.parse().ok()?,
        })
    }

    /// The soft limit of a `/proc/<pid>/limits` row (`unlimited` is 2^64-1).
    pub(super) fn parse_limit(text: &str, row: &str) -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(row))?;
        let soft = line[row.len()..].split_whitespace().next()?;
        if soft == "unlimited" {
            return Some(u64::MAX as f64);
        }
        soft.parse::<u64>().ok().map(|v| v as f64)
    }

    /// `IpExt` `InOctets` and `OutOctets` from `/proc/<pid>/net/netstat`.
    pub(super) fn parse_netstat(text: &str) -> Option<(f64, f64)> {
        let mut lines = text.lines();
        while let Some(header) = lines.next() {
            let values = lines.next()?;
            if !header.starts_with("IpExt:") {
                continue;
            }
            let names = header.split_whitespace().skip(1);
            let vals = values.split_whitespace().skip(1);
            let (mut rx, mut tx) = (None, None);
            for (n, v) in names.zip(vals) {
                match n {
                    "InOctets" => rx = v.parse::<f64>().ok(),
                    "OutOctets" => tx = v.parse::<f64>().ok(),
                    _ => {}
                }
            }
            return rx.zip(tx);
        }
        None
    }

    /// `btime` from `/proc/stat`: boot time in seconds since the epoch.
    pub(super) fn parse_btime(text: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Page size and clock ticks per second from the auxiliary vector (`AT_PAGESZ` 6, `AT_CLKTCK` 17).
    pub(super) fn parse_auxv(bytes: &[u8]) -> (Option<u64>, Option<u64>) {
        const WORD: usize = std::mem::size_of::<usize>();
        let mut page = None;
        let mut ticks = None;
        for pair in bytes.chunks_exact(2 * WORD) {
            let word = |b: &[u8]| b.try_into().ok().map(usize::from_ne_bytes);
            let (Some(key), Some(val)) = (word(&pair[..WORD]), word(&pair[WORD..])) else {
                break;
            };
            match key {
                0 => break,
                6 => page = Some(val as u64),
                17 => ticks = Some(val as u64),
                _ => {}
            }
        }
        (page, ticks)
    }

    fn gauge(out: &mut Vec<MetricFamily>, name: &str, help: &str, v: f64) {
        let mut f = MetricFamily::new(name, MetricType::Gauge).with_help(help);
        f.push(Metric::new(Labels::new(), Value::Gauge(v)));
        out.push(f);
    }

    fn counter(out: &mut Vec<MetricFamily>, name: &str, help: &str, v: f64) {
        let mut f = MetricFamily::new(name, MetricType::Counter).with_help(help);
        f.push(Metric::new(
            Labels::new(),
            Value::Counter {
                total: v,
                created: None,
                exemplar: None,
            },
        ));
        out.push(f);
    }

    /// Values fixed for the life of the process.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Fixed {
        page: f64,
        ticks: f64,
        /// Boot time from `/proc/stat`, if readable.
        btime: Option<u64>,
    }

    fn fixed(procfs: &Path, me: &Path) -> Fixed {
        let (page, ticks) = std::fs::read(me.join("auxv"))
            .map(|b| parse_auxv(&b))
            .unwrap_or((None, None));
        Fixed {
            page: page.unwrap_or(4096) as f64,
            ticks: ticks.filter(|&t| t > 0).unwrap_or(100) as f64,
            btime: std::fs::read_to_string(procfs.join("stat"))
                .ok()
                .as_deref()
                .and_then(parse_btime),
        }
    }

    /// Open descriptors of `/proc/self` files, by path relative to `self`.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Kept(std::sync::Arc<std::sync::Mutex<HashMap<&'static str, File>>>);

    impl Kept {
        /// Reads `me/rel`: through a kept descriptor when `keep` (the real `/proc`), else opened afresh.
        fn read(&self, me: &Path, rel: &'static str, keep: bool) -> Option<String> {
            if !keep {
                return std::fs::read_to_string(me.join(rel)).ok();
            }
            let mut files = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(f) = files.get(rel) {
                match read_from_start(f) {
                    Ok(text) => return Some(text),
                    Err(_) => {
                        files.remove(rel);
                    }
                }
            }
            let f = File::open(me.join(rel)).ok()?;
            let text = read_from_start(&f).ok()?;
            files.insert(rel, f);
            Some(text)
        }
    }

    /// Reads a procfs file from offset 0 to its end with positioned reads.
    fn read_from_start(f: &File) -> std::io::Result<String> {
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        loop {
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = f.read_at(&mut buf[len..], len as u64)?;
            if n == 0 {
                break;
            }
            len += n;
        }
        buf.truncate(len);
        String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub(super) fn collect(procfs: &Path, cache: &std::sync::OnceLock<Fixed>, kept: &Kept, out: &mut Vec<MetricFamily>) {
        let me = procfs.join("self");
        let keep = procfs == Path::new("/proc");
        let read = |rel: &'static str| kept.read(&me, rel, keep);
        let Fixed { page, ticks, btime } = *cache.get_or_init(|| fixed(procfs, &me));
        if let Some(stat) = read("stat").as_deref().and_then(parse_stat) {
            counter(
                out,
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                (stat.utime + stat.stime) as f64 / ticks,
            );
            gauge(
                out,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stat.vsize as f64,
            );
            gauge(
                out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                stat.rss_pages as f64 * page,
            );
            if let Some(btime) = btime {
                gauge(
                    out,
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    btime as f64 + stat.starttime as f64 / ticks,
                );
            }
        }
        if let Ok(dir) = std::fs::read_dir(me.join("fd")) {
            gauge(
                out,
                "process_open_fds",
                "Number of open file descriptors.",
                dir.count() as f64,
            );
        }
        if let Some(limits) = read("limits") {
            if let Some(v) = parse_limit(&limits, "Max open files") {
                gauge(out, "process_max_fds", "Maximum number of open file descriptors.", v);
            }
            if let Some(v) = parse_limit(&limits, "Max address space") {
                gauge(
                    out,
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes.",
                    v,
                );
            }
        }
        if let Some((rx, tx)) = read("net/netstat").as_deref().and_then(parse_netstat) {
            counter(
                out,
                "process_network_receive_bytes_total",
                "Number of bytes received by the process over the network.",
                rx,
            );
            counter(
                out,
                "process_network_transmit_bytes_total",
                "Number of bytes sent by the process over the network.",
                tx,
            );
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::*;
    use super::*;

    #[test]
    fn parses_recorded_files() {
        let stat = "4242 (my (weird) exp) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 \
                    123456 1234567890 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                utime: 250,
                stime: 75,
                starttime: 123456,
                vsize: 1234567890,
                rss_pages: 2500,
            })
        );
        assert_eq!(parse_stat("4242 (truncated) S 1"), None);

        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(parse_limit(limits, "Max open files"), Some(1024.0));
        assert_eq!(parse_limit(limits, "Max address space"), Some(18446744073709551615.0));
        assert_eq!(parse_limit(limits, "Max processes"), None);

        let netstat = "TcpExt: SyncookiesSent SyncookiesRecv\nTcpExt: 0 0\n\
                       IpExt: InNoRoutes InOctets OutOctets InMcastPkts\nIpExt: 0 1500 2600 3\n";
        assert_eq!(parse_netstat(netstat), Some((1500.0, 2600.0)));
        assert_eq!(parse_netstat("TcpExt: A\nTcpExt: 1\n"), None);

        assert_eq!(
            parse_btime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );

        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 16384usize), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes());
            auxv.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(parse_auxv(&auxv), (Some(16384), Some(250)));
    }

    #[test]
    fn fake_procfs_tree() {
        let dir = tempfile::tempdir().unwrap();
        let me = dir.path().join("self");
        std::fs::create_dir_all(me.join("fd")).unwrap();
        std::fs::create_dir_all(me.join("net")).unwrap();
        for n in ["0", "1", "2"] {
            std::fs::write(me.join("fd").join(n), "").unwrap();
        }
        std::fs::write(
            me.join("stat"),
            "1 (x) S 0 0 0 0 0 0 0 0 0 0 300 100 0 0 0 0 1 0 500 4096000 10 0\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("stat"), "btime 1000\n").unwrap();
        std::fs::write(me.join("limits"), "Max open files  64  64  files\n").unwrap();
        let mut out = Vec::new();
        ProcessCollector::with_procfs(dir.path()).collect(&mut out).unwrap();
        let get = |n: &str| {
            out.iter().find(|f| f.name == n).map(|f| match &f.metrics[0].value {
                crate::Value::Gauge(v) => *v,
                crate::Value::Counter { total, .. } => *total,
                _ => f64::NAN,
            })
        };
        assert_eq!(get("process_cpu_seconds_total"), Some(4.0));
        assert_eq!(get("process_start_time_seconds"), Some(1005.0));
        assert_eq!(get("process_virtual_memory_bytes"), Some(4_096_000.0));
        assert_eq!(get("process_resident_memory_bytes"), Some(40960.0));
        assert_eq!(get("process_open_fds"), Some(3.0));
        assert_eq!(get("process_max_fds"), Some(64.0));
        assert_eq!(get("process_virtual_memory_max_bytes"), None);
        assert_eq!(get("process_network_receive_bytes_total"), None);
    }

    #[test]
    fn real_procfs() {
        let mut out = Vec::new();
        ProcessCollector::default().collect(&mut out).unwrap();
        for name in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_virtual_memory_bytes",
            "process_virtual_memory_max_bytes",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
        ] {
            assert!(out.iter().any(|f| f.name == name), "{name} missing");
        }
    }
}
