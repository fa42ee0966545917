//! cargo-fuzz target `classify_rules`: see `wardflux_fuzz::classify_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::classify_rules::run(data));
