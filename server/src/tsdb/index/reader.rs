//! Reading an index file: symbols, series, postings, and postings for label matchers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ChunkMeta, FORMAT_V2, IndexError, MAGIC, SERIES_ALIGN, TOC_LEN, crc32};
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::tsdb::wal::record::Decbuf;

/// The six section offsets at the end of the file.
#[derive(Debug, Clone, Copy, Default)]
struct Toc {
    symbols: u64,
    series: u64,
    postings_table: u64,
}

/// Label name -> sorted (value, postings offset).
type PostingsTable = BTreeMap<Box<str>, Vec<(Box<str>, u64)>>;

/// An index file, loaded into memory.
#[derive(Debug)]
pub struct IndexReader {
    path: PathBuf,
    b: Vec<u8>,
    symbols: Vec<Box<str>>,
    /// Label name -> sorted (value, postings offset); the name `""` holds the all-series list.
    postings: PostingsTable,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl IndexReader {
    /// Reads and checks the index at `path`.
    pub fn open(path: &Path) -> Result<IndexReader, IndexError> {
        let b = std::fs::read(path).map_err(|source| IndexError::Io {
            op: "read index",
            path: path.to_path_buf(),
            source,
        })?;
        IndexReader::from_bytes(path, b)
    }

    /// Parses an index held in memory (`path` names it in errors).
    pub fn from_bytes(path: &Path, b: Vec<u8>) -> Result<IndexReader, IndexError> {
        let mut r = IndexReader {
            path: path.to_path_buf(),
            b,
            symbols: Vec::new(),
            postings: BTreeMap::new(),
        };
        let magic = be32(&r.b, 0).ok_or_else(|| r.malformed("header", 0, "file too short"))?;
        if magic != MAGIC {
            return Err(IndexError::BadMagic {
                path: r.path.clone(),
                found: magic,
            });
        }
        if r.b.get(4) != Some(&FORMAT_V2) {
            return Err(IndexError::UnsupportedVersion {
                path: r.path.clone(),
                version: r.b.get(4).copied().unwrap_or(0),
            });
        }
        let toc = r.read_toc()?;
        let _ = toc.series;
        r.symbols = r.read_symbols(toc.symbols)?;
        r.postings = r.read_postings_table(toc.postings_table)?;
        Ok(r)
    }

    fn malformed(&self, section: &'static str, offset: u64, reason: impl Into<String>) -> IndexError {
        IndexError::Malformed {
            path: self.path.clone(),
            section,
            offset,
            reason: reason.into(),
        }
    }

    fn read_toc(&self) -> Result<Toc, IndexError> {
        let n = self.b.len();
        if n < 5 + TOC_LEN {
            return Err(self.malformed("table of contents", 0, "file too short"));
        }
        let start = n - TOC_LEN;
        let body = &self.b[start..n - 4];
        if be32(&self.b, n - 4) != Some(crc32(body)) {
            return Err(IndexError::Checksum {
                path: self.path.clone(),
                section: "table of contents",
                offset: start as u64,
            });
        }
        let off = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&body[i * 8..i * 8 + 8]);
            u64::from_be_bytes(a)
        };
        Ok(Toc {
            symbols: off(0),
            series: off(1),
            postings_table: off(5),
        })
    }

    /// The body of the length-prefixed, checksummed section at `off`.
    fn section(&self, name: &'static str, off: u64) -> Result<&[u8], IndexError> {
        let at = usize::try_from(off).map_err(|_| self.malformed(name, off, "offset out of range"))?;
        let len = be32(&self.b, at).ok_or_else(|| self.malformed(name, off, "offset beyond the end of the file"))?;
        let body = self
            .b
            .get(at + 4..at + 4 + len as usize)
            .ok_or_else(|| self.malformed(name, off, "section runs past the end of the file"))?;
        let crc = be32(&self.b, at + 4 + len as usize).ok_or_else(|| self.malformed(name, off, "missing checksum"))?;
        if crc != crc32(body) {
            return Err(IndexError::Checksum {
                path: self.path.clone(),
                section: name,
                offset: off,
            });
        }
        Ok(body)
    }

    fn read_symbols(&self, off: u64) -> Result<Vec<Box<str>>, IndexError> {
        let body = self.section("symbol table", off)?;
        let bad = |e: String| self.malformed("symbol table", off, e);
        let n = be32(body, 0).ok_or_else(|| bad("missing symbol count".into()))?;
        let mut d = Decbuf::new(&body[4..]);
        // Each symbol takes at least one byte: the count cannot ask for more room than the section has.
        let mut out = Vec::with_capacity((n as usize).min(body.len()));
        for _ in 0..n {
            out.push(Box::from(d.uvarint_str().map_err(bad)?));
        }
        Ok(out)
    }

    fn read_postings_table(&self, off: u64) -> Result<PostingsTable, IndexError> {
        let body = self.section("postings offset table", off)?;
        let bad = |e: String| self.malformed("postings offset table", off, e);
        let n = be32(body, 0).ok_or_else(|| bad("missing entry count".into()))?;
        let mut d = Decbuf::new(&body[4..]);
        let mut out = PostingsTable::new();
        for _ in 0..n {
            let k = d.uvarint().map_err(bad)?;
            if k != 2 {
                return Err(bad(format!("entry has {k} key strings, want 2")));
            }
            let name = d.uvarint_str().map_err(bad)?;
            let value = d.uvarint_str().map_err(bad)?;
            let o = d.uvarint().map_err(bad)?;
            let values = out.entry(Box::from(name)).or_default();
            if values.last().is_some_and(|(v, _)| &**v >= value) {
                return Err(bad(format!("label values of {name:?} are not sorted")));
            }
            values.push((Box::from(value), o));
        }
        Ok(out)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.b.len() as u64
    }

    /// The symbol table, sorted.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.symbols.iter().map(|s| &**s)
    }

    fn symbol(&self, r: u64, off: u64) -> Result<&str, IndexError> {
        self.symbols
            .get(r as usize)
            .map(|s| &**s)
            .ok_or_else(|| self.malformed("series", off, format!("unknown symbol reference {r}")))
    }

    /// Sorted label names of all series.
    pub fn label_names(&self) -> Vec<String> {
        self.postings
            .keys()
            .filter(|k| !k.is_empty())
            .map(|k| k.to_string())
            .collect()
    }

    /// Sorted values of label `name` among all series.
    pub fn label_values(&self, name: &str) -> Vec<&str> {
        if name.is_empty() {
            return Vec::new();
        }
        self.postings
            .get(name)
            .map(|vs| vs.iter().map(|(v, _)| &**v).collect())
            .unwrap_or_default()
    }

    fn postings_at(&self, off: u64) -> Result<Vec<u32>, IndexError> {
        let body = self.section("postings", off)?;
        let n = be32(body, 0).ok_or_else(|| self.malformed("postings", off, "missing entry count"))? as usize;
        if body.len() != 4 + n * 4 {
            return Err(self.malformed("postings", off, format!("{n} entries do not fit {} bytes", body.len())));
        }
        Ok(body[4..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Sorted IDs of the series with label `name="value"`.
    pub fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>, IndexError> {
        let Some(values) = self.postings.get(name) else {
            return Ok(Vec::new());
        };
        match values.binary_search_by(|(v, _)| (**v).cmp(value)) {
            Ok(i) => self.postings_at(values[i].1),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// Sorted IDs of all series.
    pub fn all_postings(&self) -> Result<Vec<u32>, IndexError> {
        self.postings("", "")
    }

    /// The union of the postings of the values of `name` that `keep` accepts.
    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<u32>, IndexError> {
        let Some(values) = self.postings.get(name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut lists = 0;
        for (v, off) in values {
            if keep(v) {
                out.extend(self.postings_at(*off)?);
                lists += 1;
            }
        }
        if lists > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Ok(out)
    }

    /// Sorted IDs of the series matching every matcher (a missing label reads as `""`), as Prometheus'
    /// `PostingsForMatchers`: matchers rejecting `""` intersect the union of their matching values' postings;
    /// matchers accepting `""` subtract the union of their non-matching values' postings.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<Vec<u32>, IndexError> {
        let mut result: Option<Vec<u32>> = None;
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let list = if matches!(m.op, MatchOp::Equal) {
                self.postings(&m.name, &m.value)?
            } else {
                self.union_where(&m.name, |v| m.matches(v))?
            };
            result = Some(match result {
                None => list,
                Some(r) => intersect(&r, &list),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Vec::new());
            }
        }
        let mut result = match result {
            Some(r) => r,
            None => self.all_postings()?,
        };
        for m in matchers.iter().filter(|m| m.matches_empty()) {
            let drop = self.union_where(&m.name, |v| !m.matches(v))?;
            result = subtract(&result, &drop);
        }
        Ok(result)
    }

    /// The labels and chunk metadata of series `id`.
    pub fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>), IndexError> {
        self.series_in_range(id, i64::MIN, i64::MAX)
    }

    /// The labels of series `id` and the metadata of its chunks that overlap `[from, to]` (the others are
    /// decoded, since chunk metadata is delta-encoded, but not kept).
    pub fn series_in_range(&self, id: u32, from: i64, to: i64) -> Result<(Labels, Vec<ChunkMeta>), IndexError> {
        let off = u64::from(id) * SERIES_ALIGN;
        let at = off as usize;
        let bad = |e: String| self.malformed("series", off, e);
        let rest = self
            .b
            .get(at..)
            .ok_or_else(|| bad("series offset beyond the end of the file".into()))?;
        let mut d = Decbuf::new(rest);
        let len = d.uvarint().map_err(bad)? as usize;
        let hdr = rest.len() - d.len();
        let body = rest
            .get(hdr..hdr + len)
            .ok_or_else(|| bad("series runs past the end of the file".into()))?;
        let crc = be32(rest, hdr + len).ok_or_else(|| bad("missing checksum".into()))?;
        if crc != crc32(body) {
            return Err(IndexError::Checksum {
                path: self.path.clone(),
                section: "series",
                offset: off,
            });
        }
        let mut d = Decbuf::new(body);
        let n = d.uvarint().map_err(bad)?;
        let mut pairs = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let name = self.symbol(d.uvarint().map_err(bad)?, off)?;
            let value = self.symbol(d.uvarint().map_err(bad)?, off)?;
            pairs.push((name, value));
        }
        let labels: Labels = pairs.into_iter().collect();
        let k = d.uvarint().map_err(bad)?;
        let whole = from == i64::MIN && to == i64::MAX;
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(if whole { k.min(1024) as usize } else { 2 });
        let mut prev = ChunkMeta {
            chunk_ref: 0,
            mint: 0,
            maxt: 0,
        };
        for i in 0..k {
            let c = if i == 0 {
                let mint = d.varint().map_err(bad)?;
                let maxt = mint.wrapping_add(d.uvarint().map_err(bad)? as i64);
                let chunk_ref = d.uvarint().map_err(bad)?;
                ChunkMeta { chunk_ref, mint, maxt }
            } else {
                let mint = prev.maxt.wrapping_add(d.uvarint().map_err(bad)? as i64);
                let maxt = mint.wrapping_add(d.uvarint().map_err(bad)? as i64);
                let chunk_ref = prev.chunk_ref.wrapping_add(d.varint().map_err(bad)? as u64);
                ChunkMeta { chunk_ref, mint, maxt }
            };
            if whole || (c.maxt >= from && c.mint <= to) {
                chunks.push(c);
            }
            prev = c;
        }
        Ok((labels, chunks))
    }
}

/// The IDs in both sorted lists.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut rest = large;
    for &x in small {
        let i = rest.partition_point(|&y| y < x);
        rest = &rest[i..];
        match rest.first() {
            Some(&y) if y == x => out.push(x),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// The IDs of sorted `a` not in sorted `b`.
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}
