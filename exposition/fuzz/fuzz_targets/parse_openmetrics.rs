#![no_main]
//! OpenMetrics 1.0: the parser must never panic, whatever the input.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::drive(data, exposition::encode::Format::OpenMetrics));
