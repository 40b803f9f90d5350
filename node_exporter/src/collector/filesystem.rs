//! `filesystem`: size, free space and inode counts of mounted filesystems (`statfs` on every mount point of
//! `/proc/1/mountinfo`, falling back to `/proc/self/mountinfo`), with upstream's mount point and filesystem type
//! filters. A mount point whose `statfs` does not return within `--collector.filesystem.mount-timeout` is
//! reported with `device_error="mountpoint timeout"` until that call finishes.
//!
//! The mount table is parsed again only when it changed: the kernel marks a kept procfs `mountinfo` descriptor
//! with `POLLPRI` after any mount or unmount in its namespace, so a scrape with nothing new polls once instead of
//! regenerating and parsing the file. `statfs` on disk and memory filesystems whose call only reads counters the
//! kernel keeps in memory (ext2/3/4, xfs, tmpfs, ...) runs on the collecting thread; every other filesystem type
//! (network, FUSE, ...) goes through the worker thread and the mount timeout.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{DeviceFilter, gauge, string_arg};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("filesystem", true, build).with_args(args);

const MOUNT_EXCLUDE: &str = "collector.filesystem.mount-points-exclude";
const MOUNT_INCLUDE: &str = "collector.filesystem.mount-points-include";
const FS_EXCLUDE: &str = "collector.filesystem.fs-types-exclude";
const FS_INCLUDE: &str = "collector.filesystem.fs-types-include";
const TIMEOUT: &str = "collector.filesystem.mount-timeout";

const DEFAULT_MOUNT_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
const DEFAULT_FS_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|\
hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|\
tracefs)$";

fn args() -> Vec<Arg> {
    vec![
        string_arg(
            MOUNT_EXCLUDE,
            Some(DEFAULT_MOUNT_EXCLUDE),
            "Regexp of mount points to exclude for filesystem collector. (mutually exclusive to mount-points-include)",
        ),
        string_arg(
            MOUNT_INCLUDE,
            None,
            "Regexp of mount points to include for filesystem collector. (mutually exclusive to mount-points-exclude)",
        ),
        string_arg(
            FS_EXCLUDE,
            Some(DEFAULT_FS_EXCLUDE),
            "Regexp of filesystem types to exclude for filesystem collector. (mutually exclusive to fs-types-include)",
        ),
        string_arg(
            FS_INCLUDE,
            None,
            "Regexp of filesystem types to include for filesystem collector. (mutually exclusive to fs-types-exclude)",
        ),
        string_arg(
            TIMEOUT,
            Some("5s"),
            "how long to wait for a mount to respond before marking it as stale",
        ),
    ]
}

/// Parses a Go-style duration made of `<number><unit>` parts (`5s`, `1m30s`, `500ms`).
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Some(Duration::from_secs_f64(total))
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let m = s.matches;
    let timeout_text = m.get_one::<String>(TIMEOUT).map_or("5s", String::as_str);
    let timeout = parse_duration(timeout_text).ok_or_else(|| BuildError::InvalidFlag {
        collector: "filesystem",
        flag: TIMEOUT.to_string(),
        reason: format!("invalid duration {timeout_text:?}"),
    })?;
    Ok(Box::new(Filesystem {
        paths: s.paths.clone(),
        mount_points: DeviceFilter::from_flags("filesystem", m, MOUNT_INCLUDE, MOUNT_EXCLUDE)?,
        fs_types: DeviceFilter::from_flags("filesystem", m, FS_INCLUDE, FS_EXCLUDE)?,
        timeout,
        stuck: Arc::new(Mutex::new(HashSet::new())),
        worker: Mutex::new(None),
        table: Mutex::new(None),
    }))
}

struct Filesystem {
    paths: Paths,
    mount_points: DeviceFilter,
    fs_types: DeviceFilter,
    timeout: Duration,
    /// Mount points whose `statfs` call has not returned yet.
    stuck: Arc<Mutex<HashSet<String>>>,
    /// The thread running `statfs` calls, started on first use.
    worker: Mutex<Option<mpsc::Sender<StatJob>>>,
    /// The last mount table read from procfs, with the descriptor that tells when it changed.
    table: Mutex<Option<MountTable>>,
}

/// A parsed procfs `mountinfo` and a descriptor on it opened before it was read: `poll` on that descriptor reports
/// `POLLPRI` once the mount table changed after the open or the previous poll.
struct MountTable {
    watch: std::fs::File,
    mounts: Arc<Vec<Selected>>,
}

/// A mount that passed the mount point and filesystem type filters, with where it is seen and `statfs`ed.
struct Selected {
    mount: Mount,
    /// The mount point inside `--path.rootfs`.
    mount_point: String,
    /// The path to `statfs`.
    stat_path: PathBuf,
}

impl MountTable {
    /// Whether the table may have changed since it was read (any poll result but "nothing happened").
    fn changed(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(self.watch.as_fd(), PollFlags::POLLPRI)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => false,
            Ok(_) | Err(_) => true,
        }
    }
}

/// Filesystem types whose `statfs` reads counters the kernel keeps in memory, without I/O or network round trips;
/// they are not run under the mount timeout.
const LOCAL_FS_TYPES: &[&str] = &["ext2", "ext3", "ext4", "f2fs", "ramfs", "tmpfs", "vfat", "xfs"];

/// One line of `mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mount {
    device: String,
    mount_point: String,
    fs_type: String,
    options: String,
    major: String,
    minor: String,
}

/// Decodes the octal escapes (`\040` for a space) the kernel writes in `mountinfo` paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = bytes.get(i + 1..i + 4)
            && oct.iter().all(|b| (b'0'..=b'7').contains(b))
        {
            out.push(
                oct.iter()
                    .fold(0u8, |acc, b| acc.wrapping_mul(8).wrapping_add(b - b'0')),
            );
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `mountinfo`: `id parent major:minor root mountpoint options [optional...] - fstype source super`.
fn parse_mountinfo(path: &Path, text: &str) -> Result<Vec<Mount>, CollectorError> {
    let mut mounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let bad = |why: &str| CollectorError::malformed(path, n + 1, why.to_string());
        let sep = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| bad("missing '-' separator"))?;
        if sep < 6 || fields.len() < sep + 3 {
            return Err(bad("too few fields"));
        }
        let (major, minor) = fields[2].split_once(':').ok_or_else(|| bad("invalid major:minor"))?;
        mounts.push(Mount {
            device: unescape(fields[sep + 2]),
            mount_point: unescape(fields[4]),
            fs_type: fields[sep + 1].to_string(),
            options: fields[5].to_string(),
            major: major.to_string(),
            minor: minor.to_string(),
        });
    }
    Ok(mounts)
}

/// `statfs` results: size, free, available (bytes), files, free files.
type Stats = (f64, f64, f64, f64, f64);

fn statfs(path: &Path) -> Result<Stats, String> {
    let s = nix::sys::statfs::statfs(path).map_err(|e| e.desc().to_lowercase())?;
    #[allow(clippy::unnecessary_cast)]
    let bsize = s.block_size() as f64;
    Ok((
        s.blocks() as f64 * bsize,
        s.blocks_free() as f64 * bsize,
        s.blocks_available() as f64 * bsize,
        s.files() as f64,
        s.files_free() as f64,
    ))
}

impl Filesystem {
    /// The mount table: the kept one when the kernel reports no change since it was read, else read again.
    fn mounts(&self) -> Result<Arc<Vec<Selected>>, CollectorError> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = table.as_ref()
            && !t.changed()
        {
            return Ok(Arc::clone(&t.mounts));
        }
        *table = None;
        let pid1 = self.paths.proc("1/mountinfo");
        let own = self.paths.proc("self/mountinfo");
        // The watch descriptor is opened before the file is read, so a change in between is reported by the
        // next poll.
        let watch = std::fs::File::open(&pid1).ok();
        let (path, text, watch) = match read_file(&pid1) {
            Ok(t) => (pid1, t, watch),
            Err(_) => {
                let watch = std::fs::File::open(&own).ok();
                let t = read_file(&own)?;
                (own, t, watch)
            }
        };
        let mounts = Arc::new(self.select(parse_mountinfo(&path, &text)?));
        // Only a procfs file signals changes; a mountinfo on any other filesystem (a fixture tree) is read on every
        // scrape.
        if let Some(watch) = watch
            && nix::sys::statfs::fstatfs(&watch)
                .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        {
            *table = Some(MountTable {
                watch,
                mounts: Arc::clone(&mounts),
            });
        }
        Ok(mounts)
    }

    /// The mounts the mount point and filesystem type filters keep.
    fn select(&self, mounts: Vec<Mount>) -> Vec<Selected> {
        let mut selected = Vec::new();
        for mount in mounts {
            let (mount_point, stat_path) = self.locate(&mount.mount_point);
            if self.mount_points.ignored(&mount_point) {
                tracing::debug!(mountpoint = mount_point.as_str(), "Ignoring mount point");
                continue;
            }
            if self.fs_types.ignored(&mount.fs_type) {
                tracing::debug!(type = mount.fs_type.as_str(), "Ignoring fs type");
                continue;
            }
            selected.push(Selected {
                mount,
                mount_point,
                stat_path,
            });
        }
        selected
    }

    /// The mount point as seen from inside `--path.rootfs` (the prefix stripped), and the path to `statfs` (that
    /// mount point below the rootfs).
    fn locate(&self, mount_point: &str) -> (String, PathBuf) {
        let root = self.paths.rootfs.to_string_lossy();
        let root = root.trim_end_matches('/');
        let inside = match mount_point.strip_prefix(root) {
            Some(rest) if !root.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
                if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest.to_string()
                }
            }
            _ => mount_point.to_string(),
        };
        // statfs through the rootfs: `/` stays as it is, `/host` + `/boot` is `/host/boot`.
        let path = self.paths.rootfs.join(inside.trim_start_matches('/'));
        (inside, path)
    }

    /// `statfs` with the mount timeout; a call that times out keeps the mount point marked as stuck until it returns.
    ///
    /// The calls run on a long-lived worker thread (no thread per mount and scrape); when a call times out, that
    /// worker is left to finish it and the next call starts a new one.
    fn stat_with_timeout(&self, mount_point: &str, path: PathBuf) -> Result<Stats, String> {
        let (tx, rx) = mpsc::channel();
        let job = StatJob {
            path,
            key: mount_point.to_string(),
            reply: tx,
        };
        {
            let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
            let pending = match worker.as_ref() {
                Some(w) => w.send(job).err().map(|mpsc::SendError(job)| job),
                None => Some(job),
            };
            // No worker yet, or the last one has exited: start one and hand it the job.
            if let Some(job) = pending {
                let w = spawn_worker(Arc::clone(&self.stuck));
                let _ = w.send(job);
                *worker = Some(w);
            }
        }
        match rx.recv_timeout(self.timeout) {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(
                    mountpoint = mount_point,
                    "Mount point timed out, it is being labeled as stale"
                );
                self.stuck
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(mount_point.to_string());
                // The worker is busy with the stuck call; later calls go to a new one.
                *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Err("mountpoint timeout".to_string())
            }
        }
    }
}

/// One `statfs` call for the worker thread.
struct StatJob {
    path: PathBuf,
    key: String,
    reply: mpsc::Sender<Result<Stats, String>>,
}

/// Starts a worker that runs `statfs` calls until its sender is dropped.
fn spawn_worker(stuck: Arc<Mutex<HashSet<String>>>) -> mpsc::Sender<StatJob> {
    let (tx, rx) = mpsc::channel::<StatJob>();
    std::thread::spawn(move || {
        for job in rx {
            let result = statfs(&job.path);
            stuck.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.key);
            let _ = job.reply.send(result);
        }
    });
    tx
}

impl Collector for Filesystem {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut seen = BTreeSet::new();
        for selected in self.mounts()?.iter() {
            let Selected {
                mount,
                mount_point,
                stat_path,
            } = selected;
            let mount_point = mount_point.clone();
            let already_stuck = self
                .stuck
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&mount_point);
            let result = if already_stuck {
                tracing::debug!(
                    mountpoint = mount_point.as_str(),
                    "Mount point is in an unresponsive state"
                );
                Err("mountpoint timeout".to_string())
            } else if LOCAL_FS_TYPES.contains(&mount.fs_type.as_str()) {
                statfs(stat_path)
            } else {
                self.stat_with_timeout(&mount_point, stat_path.clone())
            };
            let device_error = result.as_ref().err().cloned().unwrap_or_default();
            if !seen.insert((
                mount.device.clone(),
                mount_point.clone(),
                mount.fs_type.clone(),
                device_error.clone(),
            )) {
                continue;
            }
            let labels = [
                ("device", mount.device.as_str()),
                ("mountpoint", mount_point.as_str()),
                ("fstype", mount.fs_type.as_str()),
                ("device_error", device_error.as_str()),
            ];
            out.push(gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
                &labels,
                if result.is_err() { 1.0 } else { 0.0 },
            ));
            out.push(gauge(
                "node_filesystem_mount_info",
                "Filesystem mount information.",
                &[
                    ("device", mount.device.as_str()),
                    ("major", mount.major.as_str()),
                    ("minor", mount.minor.as_str()),
                    ("mountpoint", mount_point.as_str()),
                ],
                1.0,
            ));
            let Ok((size, free, avail, files, files_free)) = result else {
                tracing::debug!(
                    mountpoint = mount_point.as_str(),
                    err = device_error.as_str(),
                    "Error on statfs()"
                );
                continue;
            };
            let readonly = mount.options.split(',').any(|o| o == "ro");
            let values = [
                ("node_filesystem_size_bytes", "Filesystem size in bytes.", size),
                ("node_filesystem_free_bytes", "Filesystem free space in bytes.", free),
                (
                    "node_filesystem_avail_bytes",
                    "Filesystem space available to non-root users in bytes.",
                    avail,
                ),
                ("node_filesystem_files", "Filesystem total file nodes.", files),
                (
                    "node_filesystem_files_free",
                    "Filesystem total free file nodes.",
                    files_free,
                ),
                (
                    "node_filesystem_readonly",
                    "Filesystem read-only status.",
                    if readonly { 1.0 } else { 0.0 },
                ),
            ];
            for (name, help, v) in values {
                out.push(gauge(name, help, &labels, v));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    #[test]
    fn mountinfo_lines() {
        let text = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
23 22 0:5 / /mnt/my\\040disk ro,nosuid - vfat /dev/sdb1 rw\n\
24 22 0:6 / /proc rw master:2 shared:3 - proc proc rw\n";
        let mounts = parse_mountinfo(Path::new("mountinfo"), text).unwrap();
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].device, "/dev/sda1");
        assert_eq!((mounts[0].major.as_str(), mounts[0].minor.as_str()), ("8", "1"));
        assert_eq!(mounts[1].mount_point, "/mnt/my disk");
        assert_eq!(mounts[2].fs_type, "proc");
        for bad in [
            "1 2 3 4 5 6 7\n",
            "22 1 8:1 / / rw - ext4\n",
            "22 1 81 / / rw - ext4 /dev/x rw\n",
        ] {
            assert!(parse_mountinfo(Path::new("m"), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("5s", Some(5.0)),
            ("1m30s", Some(90.0)),
            ("500ms", Some(0.5)),
            ("5", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_secs_f64()), want, "{text}");
        }
    }

    fn collector(procfs: &Path, rootfs: &str) -> Filesystem {
        Filesystem {
            paths: Paths {
                procfs: procfs.to_path_buf(),
                rootfs: PathBuf::from(rootfs),
                ..Paths::default()
            },
            mount_points: DeviceFilter::new("filesystem", ("i", None), ("e", Some(DEFAULT_MOUNT_EXCLUDE))).unwrap(),
            fs_types: DeviceFilter::new("filesystem", ("i", None), ("e", Some(DEFAULT_FS_EXCLUDE))).unwrap(),
            timeout: Duration::from_secs(5),
            stuck: Arc::new(Mutex::new(HashSet::new())),
            worker: Mutex::new(None),
            table: Mutex::new(None),
        }
    }

    #[test]
    fn procfs_mount_table_is_kept_until_it_changes() {
        let c = collector(Path::new("/proc"), "/");
        let first = c.mounts().expect("host mount table");
        let second = c.mounts().expect("host mount table");
        assert!(
            Arc::ptr_eq(&first, &second),
            "no mount change: the parsed table is reused"
        );
        // A fixture file is not a procfs file: it is parsed on every call.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("1")).unwrap();
        std::fs::write(dir.path().join("1/mountinfo"), "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n").unwrap();
        let c = collector(dir.path(), "/");
        let first = c.mounts().unwrap();
        assert!(!Arc::ptr_eq(&first, &c.mounts().unwrap()));
    }

    #[test]
    fn stats_of_a_temp_dir_and_errors() {
        let proc = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let dir = target.path().display().to_string();
        let missing = format!("{dir}/missing");
        std::fs::create_dir_all(proc.path().join("1")).unwrap();
        std::fs::write(
            proc.path().join("1/mountinfo"),
            format!(
                "30 1 0:40 / {dir} ro,relatime - tmpfs tmpfs rw\n\
                 31 1 0:41 / {missing} rw - ext4 /dev/sdz1 rw\n\
                 32 1 0:5 / /proc rw - proc proc rw\n\
                 33 1 0:6 / {dir}/sys rw - sysfs sysfs rw\n"
            ),
        )
        .unwrap();
        let mut out = Vec::new();
        collector(proc.path(), "/").collect(&mut out).unwrap();
        let find = |name: &str, mp: &str| {
            out.iter()
                .filter(|f| f.name == name)
                .flat_map(|f| &f.metrics)
                .find(|m| m.labels.get("mountpoint") == Some(mp))
                .map(|m| m.value.clone())
        };
        assert_eq!(find("node_filesystem_device_error", &dir), Some(Value::Gauge(0.0)));
        assert_eq!(find("node_filesystem_readonly", &dir), Some(Value::Gauge(1.0)));
        assert!(matches!(find("node_filesystem_size_bytes", &dir), Some(Value::Gauge(v)) if v > 0.0));
        assert_eq!(find("node_filesystem_device_error", &missing), Some(Value::Gauge(1.0)));
        assert_eq!(find("node_filesystem_size_bytes", &missing), None);
        assert_eq!(find("node_filesystem_device_error", "/proc"), None);
        assert_eq!(find("node_filesystem_device_error", &format!("{dir}/sys")), None);
        let err = out
            .iter()
            .filter(|f| f.name == "node_filesystem_device_error")
            .flat_map(|f| &f.metrics)
            .find(|m| m.labels.get("mountpoint") == Some(missing.as_str()))
            .and_then(|m| m.labels.get("device_error").map(str::to_string));
        assert_eq!(err.as_deref(), Some("no such file or directory"));

        // Under a rootfs the prefix is stripped from the reported mount point.
        let mut out = Vec::new();
        collector(proc.path(), &dir).collect(&mut out).unwrap();
        assert!(
            out.iter()
                .flat_map(|f| &f.metrics)
                .any(|m| m.labels.get("mountpoint") == Some("/"))
        );

        std::fs::write(proc.path().join("1/mountinfo"), "garbage\n").unwrap();
        assert!(collector(proc.path(), "/").collect(&mut Vec::new()).is_err());
    }
}
