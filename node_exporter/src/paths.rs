//! Where collectors read from: `--path.procfs`, `--path.sysfs`, `--path.rootfs`, `--path.udev.data`.
//!
//! A value of [`Paths`] is handed to every collector (no global flags), so tests point collectors at a fixture
//! tree such as upstream's `collector/fixtures`.

use std::path::{Path, PathBuf};

/// The filesystem roots collectors read through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// procfs mountpoint (default `/proc`).
    pub procfs: PathBuf,
    /// sysfs mountpoint (default `/sys`).
    pub sysfs: PathBuf,
    /// Root filesystem mountpoint (default `/`).
    pub rootfs: PathBuf,
    /// udev data directory (default `/run/udev/data`).
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

impl Paths {
    /// A path below the procfs root.
    pub fn proc(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.procfs.join(rel)
    }

    /// A path below the sysfs root.
    pub fn sys(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.sysfs.join(rel)
    }
}
