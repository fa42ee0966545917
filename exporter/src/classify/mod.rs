//! Interface classification (placeholder until the rule engine lands): every port `unknown`.

use std::collections::BTreeMap;
use std::sync::Arc;

pub struct IfFacts<'a> {
    pub device: &'a str,
    pub device_labels: &'a BTreeMap<String, String>,
    pub if_index: u32,
    pub alias: &'a str,
    pub descr: &'a str,
    pub name: &'a str,
    pub if_type: u32,
    pub speed_bps: u64,
    pub admin_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn as_str(&self) -> &'static str {
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
}

#[derive(Debug, Clone)]
pub struct Classification {
    pub interface_type: InterfaceType,
    pub isp_provider: Option<Arc<str>>,
    pub is_critical: bool,
    pub monitored: bool,
    pub confidence: f32,
    pub rule: Arc<str>,
}

#[derive(Default)]
pub struct Classifier;

impl Classifier {
    pub fn embedded_default() -> Classifier {
        Classifier
    }
    pub fn classify(&self, _f: &IfFacts) -> Classification {
        Classification {
            interface_type: InterfaceType::Unknown,
            isp_provider: None,
            is_critical: false,
            monitored: true,
            confidence: 0.0,
            rule: Arc::from("none"),
        }
    }
}

/// Why classification rules were rejected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClassifyError(pub String);

/// The `classification:` section of the exporter config.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationConfig {}

impl ClassificationConfig {
    pub fn build(&self, _config_dir: &std::path::Path) -> Result<Classifier, ClassifyError> {
        Ok(Classifier)
    }
}

pub fn load_rules_file(_path: &std::path::Path) -> Result<Classifier, ClassifyError> {
    Ok(Classifier)
}

pub mod cli {
    pub fn run(
        _input: impl std::io::BufRead,
        _out: impl std::io::Write,
        _c: &super::Classifier,
        _explain: bool,
    ) -> std::io::Result<()> {
        Ok(())
    }
}
