//! cargo-fuzz target `classify`: see `wardflux_fuzz::classify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::classify::run(data));
