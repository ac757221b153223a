#![no_main]
//! See sheepdog::fuzzing::config.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sheepdog::fuzzing::config(data));
