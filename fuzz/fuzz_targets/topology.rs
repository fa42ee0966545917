//! cargo-fuzz target `topology`: see `wardflux_fuzz::topology`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::topology::run(data));
