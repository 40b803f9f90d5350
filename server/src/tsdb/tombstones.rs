//! A block's `tombstones` file (`tsdb_format_tombstones.md`): deleted time ranges per series. After the magic
//! number `0x0130BA30` and version 1 come entries `series ref <uvarint64>, mint <varint64>, maxt <varint64>` (one per
//! interval; both ends included) and a CRC32 (Castagnoli) of the entries.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::tsdb::index::crc32;
use crate::tsdb::wal::record::{Decbuf, put_uvarint, put_varint};

/// The file name inside a block.
pub const FILE_NAME: &str = "tombstones";
/// The magic number.
pub const MAGIC: u32 = 0x0130_BA30;
/// The format version.
pub const FORMAT_V1: u8 = 1;

/// Errors reading or writing a tombstones file.
#[derive(Debug, thiserror::Error)]
pub enum TombstonesError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The header or an entry is malformed, or the checksum does not match.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A deleted time range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

impl Interval {
    /// Whether `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        self.mint <= t && t <= self.maxt
    }
}

/// Adds `iv` to sorted, disjoint `ivs`, merging overlapping and adjacent intervals.
pub fn add_interval(ivs: &mut Vec<Interval>, iv: Interval) {
    ivs.push(iv);
    ivs.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(ivs.len());
    for iv in ivs.drain(..) {
        match out.last_mut() {
            Some(last) if iv.mint <= last.maxt.saturating_add(1) => last.maxt = last.maxt.max(iv.maxt),
            _ => out.push(iv),
        }
    }
    *ivs = out;
}

/// Whether `t` falls into any of `ivs`.
pub fn is_deleted(ivs: &[Interval], t: i64) -> bool {
    ivs.iter().any(|iv| iv.contains(t))
}

/// Deleted intervals by series reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    map: BTreeMap<u64, Vec<Interval>>,
}

impl Tombstones {
    /// No tombstones.
    pub fn new() -> Tombstones {
        Tombstones::default()
    }

    /// Marks `iv` deleted for series `r`.
    pub fn add(&mut self, r: u64, iv: Interval) {
        add_interval(self.map.entry(r).or_default(), iv);
    }

    /// The deleted intervals of series `r` (sorted, disjoint).
    pub fn get(&self, r: u64) -> &[Interval] {
        self.map.get(&r).map_or(&[], Vec::as_slice)
    }

    /// Whether nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of intervals (`numTombstones` in `meta.json`).
    pub fn num_intervals(&self) -> u64 {
        self.map.values().map(|v| v.len() as u64).sum()
    }

    /// All series with their intervals.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[Interval])> {
        self.map.iter().map(|(r, v)| (*r, v.as_slice()))
    }

    /// Encodes the file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.push(FORMAT_V1);
        let body_start = out.len();
        for (r, ivs) in &self.map {
            for iv in ivs {
                put_uvarint(&mut out, *r);
                put_varint(&mut out, iv.mint);
                put_varint(&mut out, iv.maxt);
            }
        }
        let crc = crc32(&out[body_start..]);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes a file's bytes (`path` names it in errors).
    pub fn decode(path: &Path, b: &[u8]) -> Result<Tombstones, TombstonesError> {
        let corrupt = |reason: String| TombstonesError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if b.len() < 9 {
            return Err(corrupt(format!("file too short ({} bytes)", b.len())));
        }
        let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if magic != MAGIC {
            return Err(corrupt(format!("bad magic number {magic:#010x}")));
        }
        if b[4] != FORMAT_V1 {
            return Err(corrupt(format!("unsupported format version {}", b[4])));
        }
        let body = &b[5..b.len() - 4];
        let n = b.len();
        let want = u32::from_be_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        if crc32(body) != want {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        let mut d = Decbuf::new(body);
        let mut t = Tombstones::new();
        while !d.is_empty() {
            let r = d.uvarint().map_err(&corrupt)?;
            let mint = d.varint().map_err(&corrupt)?;
            let maxt = d.varint().map_err(&corrupt)?;
            t.add(r, Interval { mint, maxt });
        }
        Ok(t)
    }

    /// Reads `dir/tombstones`; a missing file means no tombstones.
    pub fn read_dir(dir: &Path) -> Result<Tombstones, TombstonesError> {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(b) => Tombstones::decode(&path, &b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::new()),
            Err(source) => Err(TombstonesError::Io {
                op: "read tombstones",
                path,
                source,
            }),
        }
    }

    /// Writes `dir/tombstones` atomically (temporary file, fsync, rename). Returns the file size.
    pub fn write_dir(&self, dir: &Path) -> Result<u64, TombstonesError> {
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let io = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| TombstonesError::Io { op, path: p, source }
        };
        let b = self.encode();
        let mut f = std::fs::File::create(&tmp).map_err(io("create tombstones", &tmp))?;
        f.write_all(&b).map_err(io("write tombstones", &tmp))?;
        f.sync_all().map_err(io("sync tombstones", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename tombstones", &path))?;
        Ok(b.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)]
    fn intervals_merge() {
        type Case = (&'static [(i64, i64)], &'static [(i64, i64)]);
        let cases: &[Case] = &[
            (&[(1, 5), (3, 8)], &[(1, 8)]),
            (&[(1, 5), (6, 8)], &[(1, 8)]),
            (&[(1, 5), (7, 8)], &[(1, 5), (7, 8)]),
            (&[(10, 20), (1, 2), (0, 30)], &[(0, 30)]),
        ];
        for (input, want) in cases {
            let mut ivs = Vec::new();
            for &(mint, maxt) in *input {
                add_interval(&mut ivs, Interval { mint, maxt });
            }
            let got: Vec<(i64, i64)> = ivs.iter().map(|i| (i.mint, i.maxt)).collect();
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn file_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tombstones::new();
        t.add(16, Interval { mint: -5, maxt: 100 });
        t.add(16, Interval { mint: 200, maxt: 300 });
        t.add(
            3,
            Interval {
                mint: i64::MIN,
                maxt: i64::MAX,
            },
        );
        t.write_dir(dir.path()).unwrap();
        assert_eq!(Tombstones::read_dir(dir.path()).unwrap(), t);
        assert_eq!(t.num_intervals(), 3);
        let mut b = t.encode();
        let n = b.len();
        b[n - 6] ^= 1;
        assert!(Tombstones::decode(Path::new("x"), &b).is_err());
        assert!(Tombstones::decode(Path::new("x"), &b[..4]).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(Tombstones::read_dir(empty.path()).unwrap().is_empty());
    }
}
