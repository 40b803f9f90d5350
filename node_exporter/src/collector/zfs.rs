//! `zfs`: ZFS on Linux kstats from `/proc/spl/kstat/zfs`: the global statistics files (ARC, ABD, dbuf, dnode,
//! ZIL, ...) as untyped `node_zfs_<subsystem>_<name>` families, and per pool the I/O statistics (`<pool>/io`),
//! the datasets (`<pool>/objset-*`) and the pool state (`<pool>/state`).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::sysfs::{gauge, list_dir, sample};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("zfs", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Zfs { paths: s.paths.clone() }))
}

struct Zfs {
    paths: Paths,
}

/// (kstat file, metric subsystem).
const KSTATS: [(&str, &str); 11] = [
    ("abdstats", "zfs_abd"),
    ("arcstats", "zfs_arc"),
    ("dbufstats", "zfs_dbuf"),
    ("dmu_tx", "zfs_dmu_tx"),
    ("dnodestats", "zfs_dnode"),
    ("fm", "zfs_fm"),
    ("vdev_cache_stats", "zfs_vdev_cache"),
    ("vdev_mirror_stats", "zfs_vdev_mirror"),
    ("xuio_stats", "zfs_xuio"),
    ("zfetchstats", "zfs_zfetch"),
    ("zil", "zfs_zil"),
];

/// The pool states `node_zfs_zpool_state` enumerates.
const STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// kstat data types with integer values: KSTAT_DATA_INT64 and KSTAT_DATA_UINT64.
const INT64: &str = "3";
const UINT64: &str = "4";

/// Replaces characters that cannot appear in a metric name with `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

/// One `name type data` row of a kstat file: the name, the type and the raw data (rest of the line).
fn kstat_rows(text: &str) -> impl Iterator<Item = (usize, &str, &str, &str)> {
    let mut started = false;
    text.lines().enumerate().filter_map(move |(n, line)| {
        let mut parts = line.split_whitespace();
        let (name, kind) = (parts.next()?, parts.next()?);
        if !started {
            started = name == "name" && kind == "type" && parts.next() == Some("data");
            return None;
        }
        // The data is the rest of the line after the type column (dataset names may contain spaces).
        let after_name = line.trim_start()[name.len()..].trim_start();
        let data = after_name[kind.len()..].trim_start();
        (!data.is_empty()).then_some((n + 1, name, kind, data))
    })
}

/// The integer value of a row of type INT64 or UINT64; `None` for other types.
fn int_value(path: &Path, line: usize, kind: &str, data: &str) -> Result<Option<f64>, CollectorError> {
    let v = match kind {
        INT64 => data.parse::<i64>().map(|v| v as f64).ok(),
        UINT64 => data.parse::<u64>().map(|v| v as f64).ok(),
        _ => return Ok(None),
    };
    v.map(Some)
        .ok_or_else(|| CollectorError::malformed(path, line, format!("invalid integer {data:?}")))
}

fn untyped(name: &str, help: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
    sample(name, help, MetricType::Unknown, labels, v)
}

/// A global kstat file.
fn kstat_file(path: &Path, file: &str, subsystem: &str, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    for (n, name, kind, data) in kstat_rows(&text) {
        if let Some(v) = int_value(path, n, kind, data)? {
            out.push(untyped(
                &format!("node_{subsystem}_{}", sanitize(name)),
                &format!("kstat.zfs.misc.{file}.{name}"),
                &[],
                v,
            ));
        }
    }
    Ok(())
}

/// `<pool>/io`: a header line, a line of names and a line of values.
fn pool_io(pool: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    let mut lines = text.lines().skip(1);
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Err(CollectorError::malformed(
            path,
            2,
            "expected a line of names and a line of values",
        ));
    };
    for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
        let v: u64 = super::parse_num(path, 3, value)?;
        out.push(untyped(
            &format!("node_zfs_zpool_{}", sanitize(name)),
            &format!("kstat.zfs.misc.io.{name}"),
            &[("zpool", pool)],
            v as f64,
        ));
    }
    Ok(())
}

/// `<pool>/objset-<id>`: a dataset's name and counters.
fn pool_objset(pool: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let text = read_file(path)?;
    let rows: Vec<_> = kstat_rows(&text).collect();
    let Some((_, _, _, dataset)) = rows.iter().find(|(_, name, _, _)| *name == "dataset_name") else {
        return Err(CollectorError::malformed(path, 1, "no dataset_name"));
    };
    for (n, name, kind, data) in &rows {
        if let Some(v) = int_value(path, *n, kind, data)? {
            out.push(untyped(
                &format!("node_zfs_zpool_dataset_{}", sanitize(name)),
                &format!("kstat.zfs.misc.objset.{name}"),
                &[("zpool", pool), ("dataset", dataset)],
                v,
            ));
        }
    }
    Ok(())
}

fn pool_state(pool: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let state = read_file(path)?.trim().to_lowercase();
    for s in STATES {
        out.push(gauge(
            "node_zfs_zpool_state",
            "kstat.zfs.misc.state",
            &[("zpool", pool), ("state", s)],
            if s == state { 1.0 } else { 0.0 },
        ));
    }
    Ok(())
}

impl Collector for Zfs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.proc("spl/kstat/zfs");
        let mut found = 0;
        for (file, subsystem) in KSTATS {
            let path = base.join(file);
            match kstat_file(&path, file, subsystem, out) {
                Ok(()) => found += 1,
                // Not every ZFS version has every file.
                Err(e) if super::sysfs::is_not_found(&e) => tracing::debug!(file, "ZFS kstat file not found"),
                Err(e) => return Err(e.into()),
            }
        }
        if found == 0 {
            // ZFS is not loaded: reported as the missing ARC statistics (no data).
            return Err(CollectorError::Read {
                path: base.join("arcstats"),
                source: std::io::ErrorKind::NotFound.into(),
            }
            .into());
        }
        for pool in list_dir(&base)? {
            let dir = base.join(&pool);
            if !super::sysfs::is_dir(&dir) {
                continue;
            }
            for entry in list_dir(&dir)? {
                let path = dir.join(&entry);
                match entry.as_str() {
                    "io" => pool_io(&pool, &path, out)?,
                    "state" => pool_state(&pool, &path, out)?,
                    e if e.starts_with("objset-") => pool_objset(&pool, &path, out)?,
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    const ARC: &str = "6 1 0x01 91 4368 5266997922 97951858082072\n\
name                            type data\n\
hits                            4    8772612\n\
memory_available_bytes          3    -922337203685477580\n\
arc_name                        7    arc\n\
erpt-dropped                    4    18\n";

    #[test]
    fn kstat_values() {
        let mut out = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arcstats");
        std::fs::write(&path, ARC).unwrap();
        kstat_file(&path, "arcstats", "zfs_arc", &mut out).unwrap();
        let got: Vec<(&str, &str, f64)> = out
            .iter()
            .map(|f| {
                let Value::Unknown(v) = f.metrics[0].value else {
                    panic!("untyped")
                };
                (f.name.as_str(), f.help.as_deref().unwrap_or_default(), v)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("node_zfs_arc_hits", "kstat.zfs.misc.arcstats.hits", 8_772_612.0),
                (
                    "node_zfs_arc_memory_available_bytes",
                    "kstat.zfs.misc.arcstats.memory_available_bytes",
                    -922_337_203_685_477_580.0
                ),
                (
                    "node_zfs_arc_erpt_dropped",
                    "kstat.zfs.misc.arcstats.erpt-dropped",
                    18.0
                ),
            ]
        );
        std::fs::write(&path, "x\nname type data\nhits 4 lots\n").unwrap();
        assert!(kstat_file(&path, "arcstats", "zfs_arc", &mut out).is_err());
    }

    #[test]
    fn pools() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("spl/kstat/zfs");
        let files = [
            ("arcstats", ARC),
            (
                "pool1/io",
                "12 3 0x00 1 80 79205351707403 395818011156865\nnread nwritten\n1884160 3206144\n",
            ),
            (
                "pool1/objset-2",
                "23 1 0x01 7 2160 1 2\nname type data\ndataset_name 7 pool1/data  set\nwrites 4 5\n",
            ),
            ("pool1/state", "DEGRADED\n"),
        ];
        for (p, c) in files {
            let p = base.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Zfs {
            paths: Paths {
                procfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let find = |name: &str, key: &str, val: &str| {
            out.iter()
                .filter(|f| f.name == name)
                .flat_map(|f| &f.metrics)
                .find(|m| m.labels.get(key) == Some(val))
                .map(|m| m.value.clone())
        };
        assert_eq!(
            find("node_zfs_zpool_nread", "zpool", "pool1"),
            Some(Value::Unknown(1_884_160.0))
        );
        assert_eq!(
            find("node_zfs_zpool_dataset_writes", "dataset", "pool1/data  set"),
            Some(Value::Unknown(5.0))
        );
        assert_eq!(
            find("node_zfs_zpool_state", "state", "degraded"),
            Some(Value::Gauge(1.0))
        );
        assert_eq!(find("node_zfs_zpool_state", "state", "online"), Some(Value::Gauge(0.0)));
        std::fs::remove_file(base.join("arcstats")).unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
