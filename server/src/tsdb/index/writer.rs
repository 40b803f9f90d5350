//! Writing an index file from label-sorted series.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use super::{ChunkMeta, FORMAT_V2, IndexError, MAGIC, SERIES_ALIGN, crc32};
use crate::model::labels::Labels;
use crate::tsdb::wal::record::{put_uvarint, put_varint};

/// One series to index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSeries {
    /// The labels (series must be given in label order).
    pub labels: Labels,
    /// The chunks, in time order, with increasing references.
    pub chunks: Vec<ChunkMeta>,
}

/// Appends a section with a 4-byte length prefix and a CRC32 trailer around what `body` writes.
fn section(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32(&out[start + 4..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn pad_to(out: &mut Vec<u8>, align: u64) {
    while (out.len() as u64) % align != 0 {
        out.push(0);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes the index of `series` (sorted by labels, each label set distinct) to `path`, fsynced. Returns the file
/// size.
pub fn write_index(path: &Path, series: &[IndexSeries]) -> Result<u64, IndexError> {
    let invalid = |reason: String| IndexError::InvalidInput {
        path: path.to_path_buf(),
        reason,
    };
    for w in series.windows(2) {
        if w[0].labels >= w[1].labels {
            return Err(invalid(format!("series {} is not after {}", w[1].labels, w[0].labels)));
        }
    }
    let mut out = Vec::with_capacity(4096 + series.len() * 64);
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.push(FORMAT_V2);

    // Symbols: every label name and value, sorted; referenced by their position.
    let mut symbols: BTreeSet<&str> = BTreeSet::new();
    for s in series {
        for (n, v) in s.labels.iter() {
            symbols.insert(n);
            symbols.insert(v);
        }
    }
    let sym_ref: HashMap<&str, u32> = symbols.iter().enumerate().map(|(i, s)| (*s, i as u32)).collect();
    let symbols_off = out.len() as u64;
    section(&mut out, |b| {
        b.extend_from_slice(&(symbols.len() as u32).to_be_bytes());
        for s in &symbols {
            put_str(b, s);
        }
    });

    // Series, remembering IDs for the postings.
    pad_to(&mut out, SERIES_ALIGN);
    let series_off = out.len() as u64;
    let mut postings: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    let mut all = Vec::with_capacity(series.len());
    let mut body = Vec::new();
    for s in series {
        pad_to(&mut out, SERIES_ALIGN);
        let id = u32::try_from(out.len() as u64 / SERIES_ALIGN)
            .map_err(|_| invalid("index exceeds the 64 GiB a series ID can address".to_string()))?;
        all.push(id);
        body.clear();
        put_uvarint(&mut body, s.labels.len() as u64);
        for (n, v) in s.labels.iter() {
            put_uvarint(&mut body, u64::from(sym_ref[n]));
            put_uvarint(&mut body, u64::from(sym_ref[v]));
            postings.entry((n, v)).or_default().push(id);
        }
        put_uvarint(&mut body, s.chunks.len() as u64);
        let mut prev: Option<&ChunkMeta> = None;
        for c in &s.chunks {
            if c.maxt < c.mint {
                return Err(invalid(format!("series {}: chunk ends before it starts", s.labels)));
            }
            match prev {
                None => {
                    put_varint(&mut body, c.mint);
                    put_uvarint(&mut body, (c.maxt - c.mint) as u64);
                    put_uvarint(&mut body, c.chunk_ref);
                }
                Some(p) => {
                    if c.mint <= p.maxt || c.chunk_ref <= p.chunk_ref {
                        return Err(invalid(format!(
                            "series {}: chunks overlap or are out of order",
                            s.labels
                        )));
                    }
                    put_uvarint(&mut body, (c.mint - p.maxt) as u64);
                    put_uvarint(&mut body, (c.maxt - c.mint) as u64);
                    put_varint(&mut body, c.chunk_ref.wrapping_sub(p.chunk_ref) as i64);
                }
            }
            prev = Some(c);
        }
        put_uvarint(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    // Label indices (no longer read by Prometheus, still written by it): the values of each label name.
    let mut values_by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, v) in postings.keys() {
        values_by_name.entry(n).or_default().push(v);
    }
    pad_to(&mut out, 4);
    let label_indices_off = out.len() as u64;
    let mut label_offsets = Vec::with_capacity(values_by_name.len());
    for (name, values) in &values_by_name {
        pad_to(&mut out, 4);
        label_offsets.push((*name, out.len() as u64));
        section(&mut out, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&(values.len() as u32).to_be_bytes());
            for v in values {
                b.extend_from_slice(&sym_ref[v].to_be_bytes());
            }
        });
    }

    // Postings: all series first, then each label pair in order.
    pad_to(&mut out, 4);
    let postings_off = out.len() as u64;
    let mut postings_offsets: Vec<((&str, &str), u64)> = Vec::with_capacity(postings.len() + 1);
    let lists = std::iter::once((("", ""), &all)).chain(postings.iter().map(|(k, v)| (*k, v)));
    for (key, ids) in lists {
        pad_to(&mut out, 4);
        postings_offsets.push((key, out.len() as u64));
        section(&mut out, |b| {
            b.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                b.extend_from_slice(&id.to_be_bytes());
            }
        });
    }

    // Label offset table.
    let label_table_off = out.len() as u64;
    section(&mut out, |b| {
        b.extend_from_slice(&(label_offsets.len() as u32).to_be_bytes());
        for (name, off) in &label_offsets {
            put_uvarint(b, 1);
            put_str(b, name);
            put_uvarint(b, *off);
        }
    });

    // Postings offset table.
    let postings_table_off = out.len() as u64;
    section(&mut out, |b| {
        b.extend_from_slice(&(postings_offsets.len() as u32).to_be_bytes());
        for ((n, v), off) in &postings_offsets {
            put_uvarint(b, 2);
            put_str(b, n);
            put_str(b, v);
            put_uvarint(b, *off);
        }
    });

    // Table of contents.
    let toc_start = out.len();
    for off in [
        symbols_off,
        series_off,
        label_indices_off,
        label_table_off,
        postings_off,
        postings_table_off,
    ] {
        out.extend_from_slice(&off.to_be_bytes());
    }
    let crc = crc32(&out[toc_start..]);
    out.extend_from_slice(&crc.to_be_bytes());

    let io = |op: &'static str| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { op, path, source }
    };
    let mut f = std::fs::File::create(path).map_err(io("create index"))?;
    f.write_all(&out).map_err(io("write index"))?;
    f.sync_all().map_err(io("sync index"))?;
    Ok(out.len() as u64)
}
