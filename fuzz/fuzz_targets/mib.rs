//! cargo-fuzz target `mib`: see `wardflux_fuzz::mib`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::mib::run(data));
