#![no_main]
//! See sheepdog::fuzzing::rules.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sheepdog::fuzzing::rules(data));
