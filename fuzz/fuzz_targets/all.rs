//! cargo-fuzz target `all`: see `wardflux_fuzz::run_all`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::run_all(data));
