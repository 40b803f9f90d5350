#![no_main]
//! TSDB files read from disk (WAL records, index, tombstones, chunks): damaged bytes give errors, never panics.
//! The first byte picks the reader.

use std::hint::black_box;
use std::path::Path;

use server::tsdb::chunkenc::XorChunk;
use server::tsdb::index::IndexReader;
use server::tsdb::tombstones::Tombstones;
use server::tsdb::wal::{histogram_record, record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            let _ = record::decode_series(rest, &mut Vec::new());
        }
        1 => {
            let _ = record::decode_samples(rest, &mut Vec::new());
        }
        2 => {
            let _ = record::decode_tombstones(rest, &mut Vec::new());
        }
        3 => {
            let _ = histogram_record::decode_histograms(rest, &mut Vec::new());
            let _ = histogram_record::decode_float_histograms(rest, &mut Vec::new());
        }
        4 => {
            if let Ok(index) = IndexReader::from_bytes(Path::new("fuzz/index"), rest.to_vec()) {
                black_box(index.symbols().count());
                for name in index.label_names() {
                    for value in index.label_values(&name) {
                        let _ = index.postings(&name, value);
                    }
                }
                if let Ok(all) = index.all_postings() {
                    for id in all.into_iter().take(64) {
                        let _ = black_box(index.series(id));
                    }
                }
            }
        }
        5 => {
            let _ = Tombstones::decode(Path::new("fuzz/tombstones"), rest);
        }
        6 => {
            if let Some((&encoding, bytes)) = rest.split_first() {
                let _ = server::tsdb::chunks::decode_chunk(encoding, bytes);
            }
        }
        _ => {
            if let Ok(chunk) = XorChunk::from_bytes(rest.to_vec()) {
                for s in chunk.iter().take(100_000) {
                    if black_box(s).is_err() {
                        break;
                    }
                }
            }
        }
    }
});
