//! The `classification:` section of the exporter config, validated into a [`Classifier`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::engine::{embedded_rules, Pin, Policy};
use super::{load_rules_file, Classifier, ClassifyError, InterfaceType};

/// How interfaces are classified and which of them are polled.
///
/// ```yaml
/// classification:
///   rules_file: rules.yml        # optional; default: the rules built into the exporter
///   skip_admin_down: false
///   skip_if_types: [53, 135]     # e.g. propVirtual and l2vlan sub-interfaces
///   overrides:
///     - {device: Isani-1111, if_name: Gi0/0/1, type: isp, provider: magti, critical: true}
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassificationConfig {
    /// Rule file, relative to the config file's directory; the embedded default when absent.
    #[serde(default)]
    pub rules_file: Option<PathBuf>,
    /// Do not poll counters of administratively down interfaces (they stay in the inventory).
    #[serde(default)]
    pub skip_admin_down: bool,
    /// Do not poll counters of interfaces with these ifType values.
    #[serde(default)]
    pub skip_if_types: Vec<u32>,
    /// Per-port pins for what no pattern can know.
    #[serde(default)]
    pub overrides: Vec<Override>,
}

/// Pins type, provider, criticality or polling of one port, found by device and ifName or ifIndex.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Device name as in the targets list.
    pub device: String,
    /// ifName of the port (give this or `if_index`).
    #[serde(default)]
    pub if_name: Option<String>,
    /// ifIndex of the port (give this or `if_name`).
    #[serde(default)]
    pub if_index: Option<u32>,
    /// Interface type, e.g. `isp`.
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
    /// Provider id from the rules' provider table (or one of its aliases).
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub critical: Option<bool>,
    #[serde(default)]
    pub monitored: Option<bool>,
}

impl ClassificationConfig {
    /// Loads the rules and validates the overrides; `config_dir` resolves a relative `rules_file`.
    pub fn build(&self, config_dir: &Path) -> Result<Classifier, ClassifyError> {
        let rules = match &self.rules_file {
            Some(p) => {
                let path = if p.is_absolute() {
                    p.clone()
                } else {
                    config_dir.join(p)
                };
                load_rules_file(&path)?.rules_arc()
            }
            None => embedded_rules(),
        };
        let mut policy = Policy {
            skip_admin_down: self.skip_admin_down,
            skip_if_types: self.skip_if_types.clone(),
            by_name: HashMap::new(),
            by_index: HashMap::new(),
            api: HashMap::new(),
        };
        for (i, o) in self.overrides.iter().enumerate() {
            let bad = |m: String| {
                ClassifyError::Config(format!("overrides[{i}] (device {}): {m}", o.device))
            };
            if o.device.is_empty() {
                return Err(bad("device is empty".into()));
            }
            let ty = match &o.ty {
                Some(t) => Some(
                    InterfaceType::parse(t).ok_or_else(|| bad(format!("unknown type `{t}`")))?,
                ),
                None => None,
            };
            let provider = match &o.provider {
                Some(p) => Some(
                    rules
                        .providers
                        .resolve(p)
                        .ok_or_else(|| bad(format!("unknown provider `{p}`")))?,
                ),
                None => None,
            };
            if provider.is_some() && ty.is_some_and(|t| t != InterfaceType::Isp) {
                return Err(bad("provider is only meaningful with type isp".into()));
            }
            if ty.is_none() && provider.is_none() && o.critical.is_none() && o.monitored.is_none() {
                return Err(bad(
                    "pins nothing (give type, provider, critical or monitored)".into(),
                ));
            }
            let (key, dup) = match (&o.if_name, o.if_index) {
                (Some(n), None) => {
                    let key = format!("{}:{n}", o.device);
                    let pin = pin(ty, provider, o, &key);
                    (
                        key,
                        policy
                            .by_name
                            .insert((o.device.clone(), n.clone()), pin)
                            .is_some(),
                    )
                }
                (None, Some(ix)) => {
                    let key = format!("{}:{ix}", o.device);
                    let pin = pin(ty, provider, o, &key);
                    (
                        key,
                        policy
                            .by_index
                            .insert((o.device.clone(), ix), pin)
                            .is_some(),
                    )
                }
                _ => return Err(bad("give exactly one of if_name and if_index".into())),
            };
            if dup {
                return Err(bad(format!("second override for {key}")));
            }
        }
        Ok(Classifier::with_policy(rules, policy))
    }
}

fn pin(ty: Option<InterfaceType>, provider: Option<Arc<str>>, o: &Override, key: &str) -> Pin {
    Pin {
        ty,
        provider,
        critical: o.critical,
        monitored: o.monitored,
        id: Arc::from(format!("override:{key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::IfFacts;
    use std::collections::BTreeMap;

    fn cfg(yaml: &str) -> Result<ClassificationConfig, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    fn facts<'a>(
        labels: &'a BTreeMap<String, String>,
        name: &'a str,
        index: u32,
        alias: &'a str,
    ) -> IfFacts<'a> {
        IfFacts {
            device: "Isani-1111",
            device_labels: labels,
            if_index: index,
            alias,
            descr: "",
            name,
            if_type: 6,
            speed_bps: 0,
            admin_up: true,
        }
    }

    #[test]
    fn override_pins_type_provider_and_monitoring() {
        let c = cfg("overrides:\n  - {device: Isani-1111, if_name: Gi0/0/1, type: isp, provider: MagtiCom}\n  - {device: Isani-1111, if_index: 7, monitored: false}\n")
            .unwrap()
            .build(Path::new("."))
            .unwrap();
        let labels = BTreeMap::new();
        let r = c.classify(&facts(&labels, "Gi0/0/1", 1, "to branch switch"));
        assert_eq!(r.interface_type, InterfaceType::Isp);
        assert_eq!(r.isp_provider.as_deref(), Some("magti"));
        assert!(r.is_critical, "isp pins are critical by default");
        assert_eq!(&*r.rule, "override:Isani-1111:Gi0/0/1");
        assert_eq!(r.confidence, 1.0);
        let r = c.classify(&facts(&labels, "Gi0/0/7", 7, "Magti_Internet"));
        assert_eq!((r.interface_type, r.monitored), (InterfaceType::Isp, false));
        let r = c.classify(&facts(&labels, "Gi0/0/2", 2, "Magti_Internet"));
        assert!(r.monitored);
    }

    #[test]
    fn skips_admin_down_and_chosen_if_types() {
        let c = cfg("skip_admin_down: true\nskip_if_types: [135]\n")
            .unwrap()
            .build(Path::new("."))
            .unwrap();
        let labels = BTreeMap::new();
        let mut f = facts(&labels, "Gi0/1", 1, "User PC");
        assert!(c.classify(&f).monitored);
        f.admin_up = false;
        assert!(!c.classify(&f).monitored);
        f.admin_up = true;
        f.if_type = 135;
        assert!(!c.classify(&f).monitored);
    }

    #[test]
    fn bad_overrides_and_unknown_keys_are_rejected() {
        assert!(cfg("rule_file: x.yml\n")
            .unwrap_err()
            .to_string()
            .contains("rule_file"));
        let e = cfg("overrides:\n  - {device: d, if_name: x, type: ips}\n")
            .unwrap()
            .build(Path::new("."))
            .unwrap_err();
        assert!(e.to_string().contains("unknown type `ips`"), "{e}");
        let e = cfg("overrides:\n  - {device: d, type: isp}\n")
            .unwrap()
            .build(Path::new("."))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("exactly one of if_name and if_index"),
            "{e}"
        );
        let e = cfg("overrides:\n  - {device: d, if_index: 1, provider: vodafone}\n")
            .unwrap()
            .build(Path::new("."))
            .unwrap_err();
        assert!(e.to_string().contains("unknown provider"), "{e}");
    }

    #[test]
    fn rules_file_is_relative_to_config_dir_and_errors_name_it() {
        let dir = std::env::temp_dir().join(format!("wardflux-classify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("r.yml"),
            "rules:\n  - id: all\n    when: {alias: '.'}\n    set: {type: voice}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("bad.yml"),
            "rules:\n  - id: x\n    when: {alias: '('}\n    set: {type: voice}\n",
        )
        .unwrap();
        let labels = BTreeMap::new();
        let c = cfg("rules_file: r.yml\n").unwrap().build(&dir).unwrap();
        assert_eq!(
            c.classify(&facts(&labels, "Gi0/1", 1, "Magti"))
                .interface_type,
            InterfaceType::Voice
        );
        let e = cfg("rules_file: bad.yml\n")
            .unwrap()
            .build(&dir)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yml:3:"), "{e}");
        let e = cfg("rules_file: missing.yml\n")
            .unwrap()
            .build(&dir)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
