//! The optional `topology:` section of the exporter config: roots for impact analysis and
//! manual links. Raw serde structs (phase one) validated against the targets (phase two).
//!
//! ```yaml
//! topology:
//!   roots:                      # devices whose reachability defines "connected"
//!     - CORE-SW-01              # a target name
//!     - {role: core}            # or a label selector: every listed label must match
//!   links:                      # links discovery cannot see; they win over discovered ones
//!     - {a: BRANCH-RTR-01, a_interface: Gi0/0, b: CORE-SW-01, b_interface: Gi1/0/1}
//! ```

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::config::{locate, ConfigError};

/// The `topology:` section as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    /// Root devices for impact analysis: target names or label selectors. When empty, devices
    /// with an interface classified `isp` are the roots.
    #[serde(default)]
    pub roots: Vec<RawRoot>,
    /// Links to add by hand (for devices without LLDP/CDP, or to correct discovery).
    #[serde(default)]
    pub links: Vec<RawLink>,
}

/// A root: a target name or a map of labels.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRoot {
    Device(String),
    Labels(BTreeMap<String, String>),
}

/// A manual link as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// One end: a target name.
    pub a: String,
    /// Its interface (ifName), optional.
    pub a_interface: Option<String>,
    /// The other end: a target name.
    pub b: String,
    pub b_interface: Option<String>,
}

/// How a root is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSelector {
    Device(String),
    Labels(BTreeMap<String, String>),
}

impl RootSelector {
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match self {
            RootSelector::Device(d) => d == name,
            RootSelector::Labels(sel) => sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        }
    }
}

/// A validated manual link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualLink {
    pub a: String,
    pub a_interface: Option<String>,
    pub b: String,
    pub b_interface: Option<String>,
}

/// The validated topology settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyConfig {
    pub roots: Vec<RootSelector>,
    pub links: Vec<ManualLink>,
}

/// Check the raw section against the target names; errors name file, line and field.
pub fn validate(
    raw: Option<RawTopology>,
    src: &str,
    file: &str,
    targets: &HashSet<&str>,
) -> Result<TopologyConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(TopologyConfig::default());
    };
    let err = |line: usize, message: String| ConfigError::Invalid {
        file: file.to_string(),
        line,
        message,
    };
    let mut roots = Vec::new();
    for r in raw.roots {
        match r {
            RawRoot::Device(name) => {
                if !targets.contains(name.as_str()) {
                    return Err(err(
                        locate(src, &[&name]),
                        format!("topology.roots: no target named {name:?}"),
                    ));
                }
                roots.push(RootSelector::Device(name));
            }
            RawRoot::Labels(sel) => {
                if sel.is_empty() {
                    return Err(err(
                        locate(src, &["roots:"]),
                        "topology.roots: an empty label selector matches every device".into(),
                    ));
                }
                roots.push(RootSelector::Labels(sel));
            }
        }
    }
    let mut links = Vec::new();
    for l in raw.links {
        for (field, name) in [("a", &l.a), ("b", &l.b)] {
            if !targets.contains(name.as_str()) {
                return Err(err(
                    locate(src, &[&format!("{field}: {name}")]),
                    format!("topology.links.{field}: no target named {name:?}"),
                ));
            }
        }
        if l.a == l.b {
            return Err(err(
                locate(src, &[&format!("a: {}", l.a)]),
                format!("topology.links: a link from {:?} to itself", l.a),
            ));
        }
        links.push(ManualLink {
            a: l.a,
            a_interface: l.a_interface.filter(|s| !s.trim().is_empty()),
            b: l.b,
            b_interface: l.b_interface.filter(|s| !s.trim().is_empty()),
        });
    }
    Ok(TopologyConfig { roots, links })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    struct NoEnv;
    impl crate::config::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    const BASE: &str = "auths:
  lab: {version: 2, community: public}
targets:
  - {name: CORE-SW-01, address: 127.0.0.1, auth: lab, labels: {role: core}}
  - {name: BRANCH-RTR-01, address: 127.0.0.2, auth: lab}
";

    fn parse(extra: &str) -> Result<TopologyConfig, String> {
        crate::config::parse(&format!("{BASE}{extra}"), Path::new("wf.yml"), &NoEnv)
            .map(|c| c.topology)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn roots_and_links_validate_into_selectors_and_manual_links() {
        let t = parse(
            "topology:
  roots:
    - CORE-SW-01
    - {role: core}
  links:
    - {a: BRANCH-RTR-01, a_interface: Gi0/0, b: CORE-SW-01}
",
        )
        .unwrap();
        assert_eq!(t.roots[0], RootSelector::Device("CORE-SW-01".into()));
        let labels = BTreeMap::from([("role".to_string(), "core".to_string())]);
        assert!(t.roots[1].matches("X", &labels));
        assert!(!t.roots[1].matches("X", &BTreeMap::new()));
        assert_eq!(t.links[0].a_interface.as_deref(), Some("Gi0/0"));
        assert_eq!(t.links[0].b_interface, None);
        assert_eq!(parse("").unwrap(), TopologyConfig::default());
    }

    #[test]
    fn bad_sections_name_file_line_and_field() {
        let cases = [
            (
                "topology:\n  rots: []\n",
                "wf.yml:7:",
                "unknown field `rots`",
            ),
            (
                "topology:\n  roots:\n    - CORE-SW-09\n",
                "wf.yml:8:",
                "topology.roots: no target named \"CORE-SW-09\"",
            ),
            (
                "topology:\n  links:\n    - {a: CORE-SW-01, b: NOPE}\n",
                "wf.yml:8:",
                "topology.links.b: no target named \"NOPE\"",
            ),
            (
                "topology:\n  links:\n    - {a: CORE-SW-01, b: CORE-SW-01}\n",
                "wf.yml:8:",
                "to itself",
            ),
            (
                "topology:\n  links:\n    - {a: CORE-SW-01, b: BRANCH-RTR-01, speed: 1}\n",
                "wf.yml:8:",
                "unknown field `speed`",
            ),
        ];
        for (extra, at, msg) in cases {
            let e = parse(extra).unwrap_err();
            assert!(e.starts_with(at) && e.contains(msg), "{extra}: {e}");
        }
    }
}
