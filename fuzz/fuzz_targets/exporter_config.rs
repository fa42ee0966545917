//! cargo-fuzz target `exporter_config`: see `wardflux_fuzz::exporter_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wardflux_fuzz::exporter_config::run(data));
