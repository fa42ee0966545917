//! cargo-fuzz target `walk`: see `wardflux_fuzz::walk`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::walk::run(data));
