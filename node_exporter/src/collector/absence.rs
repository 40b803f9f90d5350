//! Remembering, for a few seconds, that a procfs or sysfs path does not exist.
//!
//! Most default collectors probe for hardware or kernel features a host may not have (`/sys/fs/bcache`,
//! `/proc/spl/kstat/zfs/*`, `/sys/class/infiniband`, per-CPU `thermal_throttle` files, ...). Each probe is a path
//! walk in the kernel that fails the same way on every scrape. A path found missing is remembered for [`TTL`]; in
//! that window a probe answers "not found" without a system call. A device or module that appears is therefore
//! reported at most [`TTL`] later than upstream would (upstream probes on every scrape).
//!
//! Only paths whose nearest existing ancestor is on procfs or sysfs are remembered (checked with one `statfs` when
//! the absence is first recorded): fixture trees, the textfile directory and udev's data directory are probed on
//! every call, as a file created there must be seen at once.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a missing path is taken as missing without looking again.
pub const TTL: Duration = Duration::from_secs(5);

/// At most this many absent paths are remembered (a bound against unbounded growth; probes are a few dozen).
const MAX: usize = 4096;

type Map = Mutex<HashMap<PathBuf, Instant>>;

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Whether `path` was found missing less than [`TTL`] ago.
pub fn known_absent(path: &Path) -> bool {
    let map = map().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(path).is_some_and(|at| at.elapsed() < TTL)
}

/// The error a probe of a remembered missing path returns: the same "not found" the kernel gives.
pub fn not_found() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// Records the outcome of a probe of `path`: a "not found" error is remembered when the path lies on procfs or
/// sysfs; any other outcome forgets an earlier absence.
pub fn record<T>(path: &Path, result: &io::Result<T>) {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if on_pseudo_fs(path) {
                let mut map = map().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.len() >= MAX {
                    map.retain(|_, at| at.elapsed() < TTL);
                }
                if map.len() < MAX {
                    map.insert(path.to_path_buf(), Instant::now());
                }
            }
        }
        _ => {
            let mut map = map().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !map.is_empty() {
                map.remove(path);
            }
        }
    }
}

/// Runs `probe` on `path` unless the path is known to be missing, and records the outcome.
pub fn probe<'a, T>(path: &'a Path, probe: impl FnOnce(&'a Path) -> io::Result<T>) -> io::Result<T> {
    if known_absent(path) {
        return Err(not_found());
    }
    let result = probe(path);
    record(path, &result);
    result
}

/// Whether `path` is a directory, as [`Path::is_dir`], with missing paths remembered.
pub fn is_dir(path: &Path) -> bool {
    probe(path, std::fs::metadata).is_ok_and(|m| m.is_dir())
}

/// Whether the nearest existing ancestor of `path` is on procfs or sysfs.
fn on_pseudo_fs(path: &Path) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            return false;
        }
        match nix::sys::statfs::statfs(dir) {
            #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
            Ok(fs) => return matches!(fs.filesystem_type().0 as i64, PROC_SUPER_MAGIC | SYSFS_MAGIC),
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {}
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_proc_and_sys_paths_are_remembered() {
        for path in ["/proc/no/such/file", "/sys/class/no_such_class"] {
            let path = Path::new(path);
            let mut calls = 0;
            for _ in 0..3 {
                let r = probe(path, |p| {
                    calls += 1;
                    std::fs::metadata(p)
                });
                assert_eq!(r.expect_err("missing").kind(), io::ErrorKind::NotFound);
            }
            assert_eq!(calls, 1, "{} probed once within the TTL", path.display());
        }
    }

    #[test]
    fn other_filesystems_are_probed_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("later");
        assert!(!is_dir(&path));
        assert!(!known_absent(&path));
        std::fs::create_dir(&path).expect("mkdir");
        assert!(
            is_dir(&path),
            "a directory created on a disk filesystem is seen at once"
        );
    }

    #[test]
    fn success_forgets_an_absence() {
        let path = Path::new("/proc/self/no_such_entry_for_test");
        record::<()>(path, &Err(not_found()));
        assert!(known_absent(path));
        record(path, &Ok(()));
        assert!(!known_absent(path));
    }

    #[test]
    fn existing_paths_are_not_remembered() {
        let path = Path::new("/proc/self/stat");
        assert!(probe(path, std::fs::metadata).is_ok());
        assert!(!known_absent(path));
        assert!(!is_dir(path));
        assert!(is_dir(Path::new("/proc/self")));
    }
}
