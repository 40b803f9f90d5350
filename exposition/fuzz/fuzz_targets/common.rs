//! Shared driver: parse in both modes and touch every lazily decoded part of each entry.

use exposition::encode::Format;
use exposition::parse::{Entry, Mode, Parser};

pub fn drive(data: &[u8], format: Format) {
    for mode in [Mode::Lenient, Mode::Strict] {
        for entry in Parser::new(data, format, mode) {
            match entry {
                Ok(Entry::Sample(s)) => {
                    let mut n = s.name.len() + s.series.len();
                    for l in s.labels.iter() {
                        n += l.name.len() + l.value.len();
                    }
                    if let Some(e) = &s.exemplar {
                        n += e.labels.len();
                    }
                    std::hint::black_box(n);
                }
                Ok(other) => {
                    std::hint::black_box(other);
                }
                Err(e) => {
                    std::hint::black_box(e.to_string());
                }
            }
        }
    }
}
