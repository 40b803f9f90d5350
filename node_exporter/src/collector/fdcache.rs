//! Re-reading procfs and sysfs files through descriptors kept open between scrapes.
//!
//! The kernel regenerates a procfs or sysfs file whenever it is read from offset 0, so a descriptor opened once
//! can serve every later scrape with a positioned read: no path walk (sysfs paths go through the
//! `/sys/class/<class>/<device>` symlinks), no open, no close. Measured here on a sysfs attribute: about 1 µs for
//! a positioned read against 25-40 µs for open, read and close.
//!
//! Only files on procfs and sysfs are kept (checked with `fstatfs` when first opened); files on other filesystems
//! (textfile directory, fixture trees in tests, `/etc/os-release`) are opened afresh each time, as a file replaced
//! on disk must be seen. A kept descriptor whose file went away (an interface or device removed: `ENODEV`,
//! `ESTALE`, `ENOENT`) is dropped and the path opened again, so a re-created device is found. At most [`limit`]
//! descriptors are kept; beyond that files are read the ordinary way.
//!
//! Directories on procfs and sysfs are kept open the same way ([`list_dir`]): rewinding a directory stream makes
//! the kernel list the directory's current entries again, without the path walk, `fstat` and `close` of a fresh
//! listing. A removed directory lists as empty through an old descriptor, so an empty listing stands only while the
//! path still names the kept directory (same device and inode); otherwise the path is listed afresh (a missing
//! directory is then reported as missing).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Which pseudo-filesystem a kept descriptor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// procfs: a file may be longer than one read returns; read until end of file.
    Proc,
    /// sysfs: an attribute is at most one page, so a short read is the whole file.
    Sys,
}

/// A kept descriptor. Its lock is held for a whole read: procfs files longer than one read are read in several
/// positioned reads, and a concurrent read from offset 0 on the same open file would make the kernel regenerate
/// the content between them (two scrapes would each get a mix of two generations).
type Kept = Arc<Mutex<File>>;

type Cache = RwLock<HashMap<PathBuf, (Kept, Kind)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| RwLock::new(HashMap::new()))
}

/// How many descriptors may be kept: a quarter of the open-files limit, at most 4096.
pub fn limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(1024, |l| l.0);
        usize::try_from(soft / 4).unwrap_or(4096).min(4096)
    })
}

/// Reads a whole file as text, through a kept descriptor when the file is on procfs or sysfs.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let hit = cache()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(path)
        .cloned();
    if let Some((file, kind)) = hit {
        let result = read_all(&file.lock().unwrap_or_else(std::sync::PoisonError::into_inner), kind);
        match result {
            Ok(text) => return Ok(text),
            Err(e) if gone(&e) => forget(path),
            Err(e) => return Err(e),
        }
    }
    let file = super::absence::probe(path, File::open)?;
    let kind = kind_of(&file);
    let text = read_all(&file, kind.unwrap_or(Kind::Proc));
    // An attribute the kernel refuses to show now (e.g. `speed` of a link that is down) may show later: its
    // descriptor is kept as well.
    if let Some(kind) = kind
        && !text.as_ref().is_err_and(gone)
    {
        let mut map = cache().write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() < limit() {
            map.insert(path.to_path_buf(), (Arc::new(Mutex::new(file)), kind));
        }
    }
    text
}

/// Drops the kept descriptor of `path`, if any.
fn forget(path: &Path) {
    cache()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(path);
}

/// Whether a read error means the file behind the descriptor no longer exists.
fn gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV | libc::ESTALE | libc::ENOENT | libc::EBADF)
    )
}

/// The pseudo-filesystem `file` is on, or `None` for any other filesystem.
fn kind_of(file: &File) -> Option<Kind> {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    let fs = nix::sys::statfs::fstatfs(file).ok()?;
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    match fs.filesystem_type().0 as i64 {
        PROC_SUPER_MAGIC => Some(Kind::Proc),
        SYSFS_MAGIC => Some(Kind::Sys),
        _ => None,
    }
}

/// Reads the file from offset 0 to its end with positioned reads.
///
/// The reads go into a per-thread scratch buffer that is reused across files, and the text is copied out at its
/// exact size: one small allocation per file instead of a page-sized buffer trimmed afterwards (large requests
/// make the allocator consolidate its free lists, which showed up as the largest user-space cost of a scrape).
fn read_all(file: &File, kind: Kind) -> io::Result<String> {
    const CHUNK: usize = 4096;
    /// Most procfs files fit: one read then returns all of them, and the end-of-file read follows.
    const FIRST: usize = 64 * 1024;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        if buf.len() < FIRST {
            buf.resize(FIRST, 0);
        }
        let mut len = 0;
        loop {
            if buf.len() - len < CHUNK {
                let grown = buf.len() * 2;
                buf.resize(grown, 0);
            }
            let n = match file.read_at(&mut buf[len..], len as u64) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            len += n;
            if n == 0 || (kind == Kind::Sys && len < CHUNK) {
                break;
            }
        }
        let text = std::str::from_utf8(&buf[..len]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(text.to_owned())
    })
}

/// A kept directory stream; its lock is held for a whole listing.
type KeptDir = Arc<Mutex<nix::dir::Dir>>;

fn dir_cache() -> &'static RwLock<HashMap<PathBuf, KeptDir>> {
    static CACHE: OnceLock<RwLock<HashMap<PathBuf, KeptDir>>> = OnceLock::new();
    CACHE.get_or_init(|| RwLock::new(HashMap::new()))
}

/// The entry names of a directory (without `.` and `..`, in the kernel's order), through a kept directory stream
/// when the directory is on procfs or sysfs. A missing procfs or sysfs directory is remembered for a few seconds
/// ([`super::absence`]).
pub fn list_dir(path: &Path) -> io::Result<Vec<String>> {
    let hit = dir_cache()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(path)
        .cloned();
    if let Some(dir) = hit {
        let mut dir = dir.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match names(&mut dir) {
            Ok(names) if !names.is_empty() => return Ok(names),
            // An empty listing may be a removed directory: it stands if the path still names the kept directory.
            Ok(names) if same_file(&dir, path) => return Ok(names),
            Ok(_) => {}
            Err(e) if !gone(&e) => return Err(e),
            Err(_) => {}
        }
        drop(dir);
        dir_cache()
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(path);
    }
    let mut dir = super::absence::probe(path, |p| {
        use nix::fcntl::OFlag;
        nix::dir::Dir::open(
            p,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(io::Error::from)
    })?;
    let listed = names(&mut dir)?;
    let pseudo = nix::sys::statfs::fstatfs(&dir).is_ok_and(|fs| {
        let t = fs.filesystem_type();
        t == nix::sys::statfs::PROC_SUPER_MAGIC || t == nix::sys::statfs::SYSFS_MAGIC
    });
    if pseudo {
        let mut map = dir_cache().write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let files = cache().read().unwrap_or_else(std::sync::PoisonError::into_inner).len();
        if map.len() + files < limit() {
            map.insert(path.to_path_buf(), Arc::new(Mutex::new(dir)));
        }
    }
    Ok(listed)
}

/// Whether `path` names the directory `dir` is open on (same device and inode).
fn same_file(dir: &nix::dir::Dir, path: &Path) -> bool {
    match (nix::sys::stat::fstat(dir), nix::sys::stat::stat(path)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// Lists a directory stream from its start (the stream rewinds when the listing ends).
fn names(dir: &mut nix::dir::Dir) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(io::Error::from)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(out)
}

/// Raises the soft open-files limit to the hard one, as Go programs (upstream's exporter among them) do at start,
/// so kept descriptors and scrapes have room.
pub fn raise_nofile_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::debug!(err = %e, "could not raise the open files limit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_kept_open_and_read_fresh() {
        let path = Path::new("/proc/self/stat");
        let first = read_to_string(path).expect("reads");
        assert!(
            cache().read().expect("lock").contains_key(path),
            "procfs descriptor kept"
        );
        // The process' own CPU time moves; spin until the regenerated content differs.
        let start = std::time::Instant::now();
        let mut changed = false;
        while start.elapsed() < std::time::Duration::from_secs(5) {
            if read_to_string(path).expect("reads") != first {
                changed = true;
                break;
            }
        }
        assert!(changed, "a kept descriptor returns regenerated content");
    }

    #[test]
    fn concurrent_reads_of_a_long_file_are_whole() {
        // /proc/self/maps of a test binary is long; every concurrent read must end in a complete line.
        let path = Path::new("/proc/self/maps");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let text = read_to_string(path).expect("reads");
                        assert!(text.ends_with('\n'));
                        assert!(text.lines().all(|l| l.split_whitespace().count() >= 5), "garbled line");
                    }
                });
            }
        });
    }

    #[test]
    fn long_proc_files_are_read_to_the_end() {
        let ours = read_to_string(Path::new("/proc/self/maps")).expect("reads");
        let again = read_to_string(Path::new("/proc/self/maps")).expect("reads");
        assert!(ours.ends_with('\n') && again.ends_with('\n'));
        assert!(ours.lines().count() > 5);
    }

    #[test]
    fn files_on_other_filesystems_are_not_kept_and_changes_are_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "one").expect("write");
        assert_eq!(read_to_string(&path).expect("reads"), "one");
        assert!(!cache().read().expect("lock").contains_key(&path));
        std::fs::write(dir.path().join("g"), "two").expect("write");
        std::fs::rename(dir.path().join("g"), &path).expect("rename");
        assert_eq!(read_to_string(&path).expect("reads"), "two");
    }

    #[test]
    fn missing_files_are_not_found_errors() {
        let err = read_to_string(Path::new("/proc/no/such/file")).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn directories_are_kept_and_listed_fresh() {
        let path = Path::new("/proc/self/task");
        let before = list_dir(path).expect("lists");
        assert!(
            dir_cache().read().expect("lock").contains_key(path),
            "procfs directory kept"
        );
        // A new thread shows up in a later listing through the kept stream.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        let during = list_dir(path).expect("lists");
        assert!(
            during.len() > before.len() || during != before,
            "{before:?} then {during:?}"
        );
        drop(tx);
        t.join().expect("joins").ok();
        assert!(
            list_dir(path)
                .expect("lists")
                .iter()
                .all(|n| !n.is_empty() && n != "." && n != "..")
        );
    }

    #[test]
    fn kept_directory_identity() {
        use nix::fcntl::OFlag;
        let dir = nix::dir::Dir::open(
            "/proc/self",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .expect("opens");
        assert!(same_file(&dir, Path::new("/proc/self")));
        assert!(!same_file(&dir, Path::new("/proc/self/task")));
        assert!(!same_file(&dir, Path::new("/proc/no_such_dir")));
    }

    #[test]
    fn missing_and_non_pseudo_directories() {
        assert_eq!(
            list_dir(Path::new("/sys/no_such_dir")).expect_err("missing").kind(),
            io::ErrorKind::NotFound
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a"), "").expect("write");
        assert_eq!(list_dir(dir.path()).expect("lists"), ["a"]);
        assert!(!dir_cache().read().expect("lock").contains_key(dir.path()));
        std::fs::write(dir.path().join("b"), "").expect("write");
        let mut names = list_dir(dir.path()).expect("lists");
        names.sort();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn sysfs_attributes_are_kept() {
        let path = Path::new("/sys/class/net/lo/mtu");
        let text = read_to_string(path).expect("lo has an mtu");
        assert!(text.trim().parse::<u32>().is_ok());
        assert!(cache().read().expect("lock").contains_key(path));
        assert_eq!(read_to_string(path).expect("reads again"), text);
    }
}
