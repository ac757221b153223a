#![no_main]
//! See sheepdog::fuzzing::event.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sheepdog::fuzzing::event(data));
