#![no_main]
//! The family builder in both formats and modes: never panic; what parses must validate as model families
//! only if the builder produced consistent values (value shapes always fit their family type). What parses is
//! encoded again in both formats, which must not panic either (the encoders size each line's room from the
//! families' names, labels and values).

use exposition::encode::{Format, encode_openmetrics, encode_text};
use exposition::parse::{Mode, families};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        for mode in [Mode::Lenient, Mode::Strict] {
            if let Ok(fams) = families(data, format, mode) {
                for f in &fams {
                    for m in &f.metrics {
                        assert!(m.value.fits(f.metric_type), "{f:?}");
                    }
                }
                let mut out = Vec::new();
                encode_text(&fams, &mut out);
                encode_openmetrics(&fams, &mut out);
            }
        }
    }
});
