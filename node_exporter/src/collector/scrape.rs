//! Files several collectors read in one scrape, read once per scrape.
//!
//! `/proc/stat` feeds both `cpu` and `stat`, and `/sys/devices/system/cpu` is listed by `cpu` and `cpufreq`; the
//! kernel generates each anew on every read. The registry runs its collectors one after another on one thread, so
//! [`Begin`] (registered before the collectors) opens a per-thread scope that [`End`] (registered after them)
//! closes; inside it, [`read_file`] and [`list_dir`] return what an earlier collector of the same scrape got.
//! Outside a scope (a collector called on its own, as in tests) they read as usual.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use exposition::{CollectError, Collector, MetricFamily};

use super::CollectorError;

/// What one scrape has read so far: file texts and directory listings by path.
#[derive(Default)]
struct Shared {
    files: Vec<(PathBuf, String)>,
    dirs: Vec<(PathBuf, Vec<String>)>,
}

thread_local! {
    static SCOPE: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// Opens the scope of a scrape on this thread (registered before every collector; emits nothing).
#[derive(Debug)]
pub struct Begin;

impl Collector for Begin {
    fn collect(&self, _out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        SCOPE.with(|s| *s.borrow_mut() = Some(Shared::default()));
        Ok(())
    }
}

/// Closes the scope of a scrape on this thread (registered after every collector; emits nothing).
#[derive(Debug)]
pub struct End;

impl Collector for End {
    fn collect(&self, _out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        SCOPE.with(|s| *s.borrow_mut() = None);
        Ok(())
    }
}

/// Reads a whole file as text ([`super::read_file`]), once per scrape.
pub fn read_file(path: &Path) -> Result<String, CollectorError> {
    let hit = SCOPE.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|shared| shared.files.iter().find(|(p, _)| p == path).map(|(_, t)| t.clone()))
    });
    if let Some(text) = hit {
        return Ok(text);
    }
    let text = super::read_file(path)?;
    SCOPE.with(|s| {
        if let Some(shared) = s.borrow_mut().as_mut() {
            shared.files.push((path.to_path_buf(), text.clone()));
        }
    });
    Ok(text)
}

/// Lists a directory ([`super::sysfs::list_dir`]: sorted names), once per scrape.
pub fn list_dir(path: &Path) -> Result<Vec<String>, CollectorError> {
    let hit = SCOPE.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|shared| shared.dirs.iter().find(|(p, _)| p == path).map(|(_, n)| n.clone()))
    });
    if let Some(names) = hit {
        return Ok(names);
    }
    let names = super::sysfs::list_dir(path)?;
    SCOPE.with(|s| {
        if let Some(shared) = s.borrow_mut().as_mut() {
            shared.dirs.push((path.to_path_buf(), names.clone()));
        }
    });
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_shared_inside_a_scope_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stat");
        let mut out = Vec::new();
        // Outside a scope every read sees the file as it is now.
        std::fs::write(&file, "one").unwrap();
        assert_eq!(read_file(&file).unwrap(), "one");
        std::fs::write(&file, "two").unwrap();
        assert_eq!(read_file(&file).unwrap(), "two");
        // Inside a scope the first read is kept for the rest of the scrape.
        Begin.collect(&mut out).unwrap();
        assert_eq!(read_file(&file).unwrap(), "two");
        assert_eq!(list_dir(dir.path()).unwrap(), ["stat"]);
        std::fs::write(&file, "three").unwrap();
        std::fs::write(dir.path().join("later"), "").unwrap();
        assert_eq!(read_file(&file).unwrap(), "two");
        assert_eq!(list_dir(dir.path()).unwrap(), ["stat"]);
        End.collect(&mut out).unwrap();
        assert_eq!(read_file(&file).unwrap(), "three");
        assert_eq!(list_dir(dir.path()).unwrap(), ["later", "stat"]);
        // A new scope starts empty.
        Begin.collect(&mut out).unwrap();
        std::fs::write(&file, "four").unwrap();
        assert_eq!(read_file(&file).unwrap(), "four");
        End.collect(&mut out).unwrap();
        assert!(out.is_empty());
        assert!(read_file(&dir.path().join("missing")).is_err());
    }
}
