//! cargo-fuzz target `notification`: see `wardflux_fuzz::notification`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::notification::run(data));
