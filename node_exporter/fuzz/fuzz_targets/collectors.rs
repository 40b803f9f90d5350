#![no_main]
//! Collectors reading damaged procfs and sysfs files: the first byte picks a (collector, file) pair, the rest is
//! written as that file under a scratch `--path.procfs` / `--path.sysfs` tree, and the collector runs alone. A
//! malformed file must give a failed collector (`node_scrape_collector_success 0`), never a panic.

use std::path::PathBuf;
use std::sync::OnceLock;

/// (collector, file relative to the scratch root, extra flags).
const CASES: &[(&str, &str, &[&str])] = &[
    ("arp", "proc/net/arp", &["--no-collector.arp.netlink"]),
    ("buddyinfo", "proc/buddyinfo", &[]),
    ("conntrack", "proc/sys/net/netfilter/nf_conntrack_count", &[]),
    ("cpu", "proc/stat", &[]),
    ("diskstats", "proc/diskstats", &[]),
    ("drbd", "proc/drbd", &[]),
    ("entropy", "proc/sys/kernel/random/entropy_avail", &[]),
    ("filefd", "proc/sys/fs/file-nr", &[]),
    ("filesystem", "proc/1/mountinfo", &[]),
    ("interrupts", "proc/interrupts", &[]),
    ("ipvs", "proc/net/ip_vs_stats", &[]),
    ("ksmd", "sys/kernel/mm/ksm/pages_shared", &[]),
    ("lnstat", "proc/net/stat/nf_conntrack", &[]),
    ("loadavg", "proc/loadavg", &[]),
    ("mdadm", "proc/mdstat", &[]),
    ("meminfo", "proc/meminfo", &[]),
    ("mountstats", "proc/self/mountstats", &[]),
    ("netdev", "proc/net/dev", &["--no-collector.netdev.netlink"]),
    ("netstat", "proc/net/netstat", &[]),
    ("netstat", "proc/net/snmp", &[]),
    ("netstat", "proc/net/snmp6", &[]),
    ("nfs", "proc/net/rpc/nfs", &[]),
    ("nfsd", "proc/net/rpc/nfsd", &[]),
    ("pressure", "proc/pressure/cpu", &[]),
    ("processes", "proc/sys/kernel/pid_max", &[]),
    ("schedstat", "proc/schedstat", &[]),
    ("slabinfo", "proc/slabinfo", &[]),
    ("sockstat", "proc/net/sockstat", &[]),
    ("softirqs", "proc/softirqs", &[]),
    ("softnet", "proc/net/softnet_stat", &[]),
    ("stat", "proc/stat", &[]),
    ("udp_queues", "proc/net/udp", &[]),
    ("vmstat", "proc/vmstat", &[]),
    ("xfrm", "proc/net/xfrm_stat", &[]),
    ("zfs", "proc/spl/kstat/zfs/arcstats", &[]),
    ("zoneinfo", "proc/zoneinfo", &[]),
];

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("node-exporter-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (collector, file, extra) = CASES[usize::from(which) % CASES.len()];
    let root = root();
    let _ = std::fs::remove_dir_all(root.join("proc"));
    let _ = std::fs::remove_dir_all(root.join("sys"));
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(&path, body).expect("write");
    let procfs = format!("--path.procfs={}", root.join("proc").display());
    let sysfs = format!("--path.sysfs={}", root.join("sys").display());
    let rootfs = format!("--path.rootfs={}", root.display());
    let only = format!("--collector.{collector}");
    let mut args = vec![
        "node_exporter",
        "--collector.disable-defaults",
        &only,
        &procfs,
        &sysfs,
        &rootfs,
    ];
    args.extend_from_slice(extra);
    let Ok(matches) = node_exporter::cli::command().try_get_matches_from(args) else {
        return;
    };
    if let Ok(registry) = node_exporter::cli::registry(&matches) {
        let _ = registry.gather(&[]);
    }
});
