//! Fuzz harnesses for wardflux: each module has one `run(data)` that a cargo-fuzz target (and
//! the `all` target, which dispatches on the first byte) calls.
//!
//! Layout:
//! - [`gen`]: arbitrary-driven OIDs and values, a scripted `SnmpClient`, a tiny `block_on`.
//! - [`walk`]: multi-column walks and packed GETs fed arbitrary answers and errors.
//! - [`mib`]: a device from `.snmprec` text: discovery (every MIB decoder), a poll, metrics,
//!   neighbours; and each decoder on raw columns.
//! - [`exporter_config`]: exporter config text through parse and validation.
//! - [`classify`]: the embedded classifier on hostile interface facts (tab-separated lines).
//! - [`classify_rules`]: classification rule-file text through parse, compile and use.
//! - [`topology`]: arbitrary device views through the graph builder, impact, layout and JSON.
//! - [`rule_file`]: ruler rule-file text through parse and validation.
//! - [`template`]: annotation templates parsed and rendered with arbitrary labels and values.
//! - [`notification`]: SNMP notification datagrams through the decoder and source check.
//! - [`envmon`]: the device environment decoder, ENTITY-MIB ties, plan and rendering.

pub mod classify;
pub mod classify_rules;
pub mod envmon;
pub mod exporter_config;
pub mod gen;
pub mod mib;
pub mod notification;
pub mod rule_file;
pub mod template;
pub mod topology;
pub mod walk;

/// One target's entry point.
pub type Harness = fn(&[u8]);

/// The targets, in the order the `all` target dispatches to them (first byte modulo count).
pub const TARGETS: [(&str, Harness); 11] = [
    ("walk", walk::run),
    ("mib", mib::run),
    ("mib_columns", mib::run_columns),
    ("exporter_config", exporter_config::run),
    ("classify", classify::run),
    ("classify_rules", classify_rules::run),
    ("topology", topology::run),
    ("rule_file", rule_file::run),
    ("template", template::run),
    ("notification", notification::run),
    ("envmon", envmon::run),
];

/// The target `WARDFLUX_FUZZ_TARGET` names, if any (read once).
fn chosen() -> Option<Harness> {
    static CHOSEN: std::sync::OnceLock<Option<Harness>> = std::sync::OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let name = std::env::var("WARDFLUX_FUZZ_TARGET").ok()?;
        let found = TARGETS.iter().find(|(n, _)| *n == name);
        assert!(
            found.is_some(),
            "WARDFLUX_FUZZ_TARGET={name}: no such target"
        );
        found.map(|(_, f)| *f)
    })
}

/// The `all` target, one binary for every target (cheaper to build than ten): with
/// `WARDFLUX_FUZZ_TARGET=NAME` it is that target; otherwise the first byte picks a target and
/// the rest is its input.
pub fn run_all(data: &[u8]) {
    if let Some(run) = chosen() {
        return run(data);
    }
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (_, run) = TARGETS[usize::from(which) % TARGETS.len()];
    run(rest);
}

/// Input text for the text targets: valid UTF-8 as is, otherwise lossily decoded (parsers take
/// `&str`; the bytes that reach them come from files read as UTF-8).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
