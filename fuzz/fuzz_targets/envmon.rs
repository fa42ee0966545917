//! cargo-fuzz target `envmon`: see `wardflux_fuzz::envmon`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::envmon::run(data));
