//! `os`: operating system identification from `os-release` under `--path.rootfs` (`etc/os-release`, else
//! `usr/lib/os-release`): `node_os_info` with its fields as labels and `node_os_version` with the numeric
//! major.minor version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::gauge;
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("os", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Os {
        paths: s.paths.clone(),
        parsed: Mutex::new(None),
    }))
}

struct Os {
    paths: Paths,
    /// The last file parsed, reused while its modification time, size and inode stay the same (upstream keeps
    /// its parsed file while the modification time is unchanged).
    parsed: Mutex<Option<Parsed>>,
}

/// A parsed os-release file and what identifies its version.
struct Parsed {
    path: PathBuf,
    stamp: (Option<SystemTime>, u64, u64),
    fields: Arc<BTreeMap<String, String>>,
}

/// Modification time, size and inode of a file.
fn stamp(meta: &std::fs::Metadata) -> (Option<SystemTime>, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.modified().ok(), meta.len(), meta.ino())
}

/// The os-release files, most specific first.
const FILES: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// (os-release key, label name) of `node_os_info`.
const INFO_FIELDS: [(&str, &str); 12] = [
    ("BUILD_ID", "build_id"),
    ("ID", "id"),
    ("ID_LIKE", "id_like"),
    ("IMAGE_ID", "image_id"),
    ("IMAGE_VERSION", "image_version"),
    ("NAME", "name"),
    ("PRETTY_NAME", "pretty_name"),
    ("VARIANT", "variant"),
    ("VARIANT_ID", "variant_id"),
    ("VERSION", "version"),
    ("VERSION_CODENAME", "version_codename"),
    ("VERSION_ID", "version_id"),
];

/// Parses `KEY=value` lines (values optionally single- or double-quoted, with backslash escapes inside double
/// quotes); comments and blank lines are skipped.
fn parse_os_release(path: &Path, text: &str) -> Result<BTreeMap<String, String>, CollectorError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            return Err(CollectorError::malformed(path, n + 1, "expected KEY=value"));
        };
        let value = if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            let mut s = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    s.extend(chars.next());
                } else {
                    s.push(c);
                }
            }
            s
        } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            inner.to_string()
        } else {
            raw.to_string()
        };
        out.insert(key.trim().to_string(), value);
    }
    Ok(out)
}

/// The leading `major[.minor]` of a version id as a number (`20.04.2` -> 20.04), if any.
fn major_minor(version_id: &str) -> Option<f64> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let major = digits(version_id);
    if major == 0 {
        return None;
    }
    let rest = &version_id[major..];
    let end = match rest.strip_prefix('.') {
        Some(r) if digits(r) > 0 => major + 1 + digits(r),
        _ => major,
    };
    version_id[..end].parse().ok()
}

impl Os {
    /// The fields of the os-release file at `path`: the kept ones when the file is unchanged, else read again.
    fn fields(&self, path: &Path) -> Result<Arc<BTreeMap<String, String>>, CollectorError> {
        let meta = std::fs::metadata(path).map_err(|source| CollectorError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let stamp = stamp(&meta);
        let mut parsed = self.parsed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = parsed.as_ref()
            && p.path == path
            && p.stamp == stamp
        {
            return Ok(Arc::clone(&p.fields));
        }
        let fields = Arc::new(parse_os_release(path, &read_file(path)?)?);
        *parsed = Some(Parsed {
            path: path.to_path_buf(),
            stamp,
            fields: Arc::clone(&fields),
        });
        Ok(fields)
    }
}

impl Collector for Os {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut last = None;
        for rel in FILES {
            let path = self.paths.rootfs.join(rel);
            match self.fields(&path) {
                Ok(fields) => {
                    let get = |k: &str| fields.get(k).map_or("", String::as_str);
                    let labels: Vec<(&str, &str)> = INFO_FIELDS.iter().map(|(k, l)| (*l, get(k))).collect();
                    let keys: Vec<&str> = INFO_FIELDS.iter().map(|(_, l)| *l).collect();
                    out.push(gauge(
                        "node_os_info",
                        &format!("A metric with a constant '1' value labeled by {}.", keys.join(", ")),
                        &labels,
                        1.0,
                    ));
                    out.push(gauge(
                        "node_os_version",
                        "Metric containing the major.minor part of the OS version.",
                        &[("id", get("ID")), ("id_like", get("ID_LIKE")), ("name", get("NAME"))],
                        major_minor(get("VERSION_ID")).unwrap_or(0.0),
                    ));
                    return Ok(());
                }
                Err(e @ CollectorError::Malformed { .. }) => return Err(e.into()),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| CollectorError::malformed(&self.paths.rootfs, 0, "no os-release file"))
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_os_release() {
        let text = "NAME=\"Ubuntu\"\n# comment\nID=ubuntu\nPRETTY_NAME='A b'\nVERSION=\"20.04 \\\"Focal\\\"\"\n\n";
        let f = parse_os_release(Path::new("x"), text).unwrap();
        let cases = [
            ("NAME", "Ubuntu"),
            ("ID", "ubuntu"),
            ("PRETTY_NAME", "A b"),
            ("VERSION", "20.04 \"Focal\""),
        ];
        for (k, v) in cases {
            assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert!(parse_os_release(Path::new("x"), "garbage line\n").is_err());
    }

    #[test]
    fn versions() {
        let cases = [
            ("20.04", Some(20.04)),
            ("20.04.2", Some(20.04)),
            ("7", Some(7.0)),
            ("rolling", None),
            ("", None),
        ];
        for (v, want) in cases {
            assert_eq!(major_minor(v), want, "{v}");
        }
    }

    #[test]
    fn falls_back_to_usr_lib_and_fails_without_files() {
        let root = tempfile::tempdir().unwrap();
        let c = Os {
            paths: Paths {
                rootfs: root.path().to_path_buf(),
                ..Paths::default()
            },
            parsed: Mutex::new(None),
        };
        assert!(c.collect(&mut Vec::new()).is_err());
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(root.path().join("usr/lib/os-release"), "ID=x\nVERSION_ID=1.2\n").unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out[1].metrics[0].value, exposition::Value::Gauge(1.2));
        // A replaced file (new inode and size) is read again; /etc/os-release takes precedence once it exists.
        let tmp = root.path().join("usr/lib/os-release.new");
        std::fs::write(&tmp, "ID=x\nVERSION_ID=3.25\n").unwrap();
        std::fs::rename(&tmp, root.path().join("usr/lib/os-release")).unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out[1].metrics[0].value, exposition::Value::Gauge(3.25));
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "ID=y\nVERSION_ID=7\n").unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out[1].metrics[0].value, exposition::Value::Gauge(7.0));
    }
}
