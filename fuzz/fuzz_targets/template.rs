//! cargo-fuzz target `template`: see `wardflux_fuzz::template`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::template::run(data));
