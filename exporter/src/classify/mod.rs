//! Interface classification: names each port's role (ISP uplink, trunk, access ...) and ISP from YAML rules.
//!
//! Layout:
//! - [`rules`]: the YAML rule-file model, its validation (errors carry file and line) and compilation
//!   into regex sets.
//! - [`engine`]: the pure classifier core: facts in, [`Classification`] (and an [`Explanation`]) out.
//! - [`config`]: the `classification:` section of the exporter config: rules file, skips, per-port overrides.
//! - [`cli`]: the `wardflux-exporter classify` line tool used by the people who edit the rules.
//!
//! Invariants: classification does no IO (files are read only while building a [`Classifier`]), never
//! panics on any input text, and gives `isp_provider` only for [`InterfaceType::Isp`].

pub mod cli;
pub mod config;
pub mod engine;
pub mod rules;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use config::{ClassificationConfig, Override};
pub use engine::{Classifier, Decision, Evidence, Explanation};

/// The rule file shipped with the exporter and used when no `rules_file` is configured.
pub const EMBEDDED_RULES: &str = include_str!("../../../rules/classification.yml");
/// The name under which errors in [`EMBEDDED_RULES`] are reported.
pub const EMBEDDED_RULES_NAME: &str = "<embedded>/rules/classification.yml";

/// One interface as discovered (OCTET STRINGs already lossily decoded to text).
#[derive(Debug, Clone, Copy)]
pub struct IfFacts<'a> {
    pub device: &'a str,
    /// Target labels such as `site`.
    pub device_labels: &'a BTreeMap<String, String>,
    pub if_index: u32,
    pub alias: &'a str,
    pub descr: &'a str,
    pub name: &'a str,
    pub if_type: u32,
    /// ifHighSpeed * 1e6, else ifSpeed; 0 when unknown.
    pub speed_bps: u64,
    pub admin_up: bool,
}

/// The role of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InterfaceType {
    Isp,
    Trunk,
    Access,
    ServerLink,
    BranchLink,
    Management,
    Loopback,
    Voice,
    Camera,
    Unknown,
}

impl InterfaceType {
    /// Every type, in the order the labels are documented.
    pub const ALL: [InterfaceType; 10] = [
        InterfaceType::Isp,
        InterfaceType::Trunk,
        InterfaceType::Access,
        InterfaceType::ServerLink,
        InterfaceType::BranchLink,
        InterfaceType::Management,
        InterfaceType::Loopback,
        InterfaceType::Voice,
        InterfaceType::Camera,
        InterfaceType::Unknown,
    ];

    /// The label value, e.g. `server_link`.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceType::Isp => "isp",
            InterfaceType::Trunk => "trunk",
            InterfaceType::Access => "access",
            InterfaceType::ServerLink => "server_link",
            InterfaceType::BranchLink => "branch_link",
            InterfaceType::Management => "management",
            InterfaceType::Loopback => "loopback",
            InterfaceType::Voice => "voice",
            InterfaceType::Camera => "camera",
            InterfaceType::Unknown => "unknown",
        }
    }

    /// Parses a label value as written in rule and config files.
    pub fn parse(s: &str) -> Option<InterfaceType> {
        InterfaceType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for InterfaceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the classifier decided for one interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub interface_type: InterfaceType,
    /// Only for [`InterfaceType::Isp`]; `None` when the uplink names no known provider.
    pub isp_provider: Option<Arc<str>>,
    pub is_critical: bool,
    /// False: kept in inventory and API, but counters are not polled.
    pub monitored: bool,
    /// 0..1, taken from the rule that decided the type.
    pub confidence: f32,
    /// Id of the rule that decided the type (`override:...` for pins).
    pub rule: Arc<str>,
}

/// Errors from loading rules or building a classifier from config.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("reading rules file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A malformed rule file; `line` is 1-based.
    #[error("{file}:{line}: {message}")]
    Rules {
        file: String,
        line: usize,
        message: String,
    },
    /// A malformed `classification:` config section (already parsed by the config loader).
    #[error("classification config: {0}")]
    Config(String),
}

/// Loads and compiles a rule file (for `classify --rules FILE` and config reloads).
pub fn load_rules_file(path: impl AsRef<std::path::Path>) -> Result<Classifier, ClassifyError> {
    let path = path.as_ref();
    let src = std::fs::read_to_string(path).map_err(|source| ClassifyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let rules = rules::RuleSet::parse(&src, &path.display().to_string())?;
    Ok(Classifier::new(Arc::new(rules)))
}
