//! cargo-fuzz target `mib_columns`: see `wardflux_fuzz::mib`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::mib::run_columns(data));
