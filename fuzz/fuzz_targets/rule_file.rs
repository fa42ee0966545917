//! cargo-fuzz target `rule_file`: see `wardflux_fuzz::rule_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::rule_file::run(data));
