#![no_main]
//! Text format 0.0.4: the parser must never panic, whatever the input.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::drive(data, exposition::encode::Format::Text));
