#![no_main]
//! See sheepdog::fuzzing::fact_expr.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sheepdog::fuzzing::fact_expr(data));
