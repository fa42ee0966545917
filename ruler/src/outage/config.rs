//! `rules/outages.yml`: the settings of the built-in outage group, as raw serde structs that
//! reject unknown fields, validated in a second phase into [`OutageConfig`] with every error
//! naming file, line and field.

use crate::config::{parse_duration, RuleError, SEVERITIES};
use chrono_tz::Tz;
use promql_parser::label::Matcher;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    outages: RawOutages,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOutages {
    /// How often the fleet is analysed (default 15s).
    interval: Option<String>,
    /// How long an outage must last before its row fires (default 30s).
    #[serde(rename = "for")]
    for_: Option<String>,
    /// How far back the last known links and uplink states are read (default 1d).
    topology_lookback: Option<String>,
    /// Zone of the times in messages, e.g. "Magti down since 14:01" (default UTC).
    timezone: Option<String>,
    /// Devices where paths from the poller enter the network, as PromQL label matchers on
    /// `wardflux_device_up` (e.g. `device=~"HQ-CORE-.*"`); default: the exporter's
    /// `topology.roots`, else the devices with ISP uplinks and those no link leads to.
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default)]
    provider_outage: RawProvider,
    #[serde(default)]
    poller_network_lost: RawPoller,
    #[serde(default)]
    severities: RawSeverities,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    /// Sites whose uplinks of one provider went down that always make a provider outage
    /// (default 3).
    min_sites: Option<usize>,
    /// Or this share of the sites using the provider (default 0.5) ...
    min_share: Option<f64>,
    /// ... when at least this many sites (default 2).
    min_share_sites: Option<usize>,
    /// Onsets counted together only within this window (default 10m).
    within: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoller {
    /// Share of the devices with a known state that must be down (default 0.8) ...
    min_share: Option<f64>,
    /// ... and at least this many devices (default 5).
    min_devices: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSeverities {
    /// Severity of `SiteIsolated` (default critical).
    site_isolated: Option<String>,
    /// Severity of `ProviderOutage` (default critical).
    provider_outage: Option<String>,
    /// Severity of `PollerNetworkLost` (default critical).
    poller_network_lost: Option<String>,
}

/// Validated outage settings.
#[derive(Debug, Clone)]
pub struct OutageConfig {
    pub file: PathBuf,
    pub interval: Duration,
    pub for_: Duration,
    pub topology_lookback: Duration,
    pub tz: Tz,
    /// Each entry is one selector: a device matching every matcher of any entry is a root.
    pub roots: Vec<Vec<Matcher>>,
    /// The selectors as written, for the API and the rule's identity.
    pub roots_text: Vec<String>,
    pub provider: ProviderThresholds,
    pub poller: PollerThresholds,
    pub severity_site: String,
    pub severity_provider: String,
    pub severity_poller: String,
}

/// When uplinks of one provider down at several sites make one provider outage.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderThresholds {
    pub min_sites: usize,
    pub min_share: f64,
    pub min_share_sites: usize,
    pub within: Duration,
}

impl ProviderThresholds {
    /// Whether `down` of the `using` sites of a provider make an outage.
    pub fn met(&self, down: usize, using: usize) -> bool {
        down >= self.min_sites
            || (down >= self.min_share_sites && down as f64 >= self.min_share * using as f64)
    }
}

/// When the poller itself is taken to have lost its network.
#[derive(Debug, Clone, PartialEq)]
pub struct PollerThresholds {
    pub min_share: f64,
    pub min_devices: usize,
}

impl PollerThresholds {
    /// Whether `down` of `known` devices (up or down) mean the poller's network is lost.
    pub fn met(&self, down: usize, known: usize) -> bool {
        known > 0 && down >= self.min_devices && down as f64 >= self.min_share * known as f64
    }
}

impl PartialEq for OutageConfig {
    fn eq(&self, o: &Self) -> bool {
        self.identity() == o.identity()
    }
}

impl OutageConfig {
    /// Everything that gives the configuration its meaning, as text (reload carry-over).
    pub fn identity(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}|{}|{}",
            self.interval,
            self.for_,
            self.topology_lookback,
            self.tz.name(),
            self.roots_text,
            self.provider,
            self.poller,
            self.severity_site,
            self.severity_provider,
            self.severity_poller
        )
    }

    /// Loads and validates an outages file.
    pub fn load(file: &Path) -> Result<OutageConfig, RuleError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| RuleError::in_file(file, None, format!("cannot read: {e}")))?;
        Self::parse(file, &text)
    }

    /// The defaults, as an empty `outages:` section gives them.
    pub fn defaults(file: &Path) -> OutageConfig {
        Self::parse(file, "outages: {}\n").expect("the defaults validate")
    }

    pub fn parse(file: &Path, text: &str) -> Result<OutageConfig, RuleError> {
        let raw: RawFile = serde_yaml::from_str(text).map_err(|e| {
            RuleError::in_file(
                file,
                e.location().map(|l| l.line()),
                format!("invalid YAML: {e}"),
            )
        })?;
        let line_of = |key: &str| {
            text.lines()
                .position(|l| {
                    let l = l.trim_start().trim_start_matches("- ");
                    l.starts_with(&format!("{key}:"))
                })
                .map(|i| i + 1)
        };
        let fail = |key: &str, msg: String| {
            RuleError::in_file(file, line_of(key), format!("field {key:?}: {msg}"))
        };
        let dur = |key: &str, v: &Option<String>, default: u64| -> Result<Duration, RuleError> {
            match v {
                None => Ok(Duration::from_secs(default)),
                Some(s) => parse_duration(s).map_err(|e| fail(key, e)),
            }
        };
        let o = &raw.outages;
        let interval = dur("interval", &o.interval, 15)?;
        if interval.is_zero() {
            return Err(fail("interval", "must be > 0".into()));
        }
        let for_ = dur("for", &o.for_, 30)?;
        let topology_lookback = dur("topology_lookback", &o.topology_lookback, 86_400)?;
        if topology_lookback < Duration::from_secs(60) {
            return Err(fail("topology_lookback", "must be at least 1m".into()));
        }
        let tz_name = o.timezone.clone().unwrap_or_else(|| "UTC".into());
        let tz: Tz = tz_name
            .parse()
            .map_err(|_| fail("timezone", format!("unknown time zone {tz_name:?}")))?;
        let mut roots = Vec::new();
        for sel in &o.roots {
            let sel = sel.trim();
            let parsed = promql_parser::parser::parse(&format!("x{{{sel}}}")).map_err(|e| {
                fail(
                    "roots",
                    format!("{sel:?} is not a list of label matchers: {}", e.trim()),
                )
            })?;
            match parsed {
                promql_parser::parser::Expr::VectorSelector(vs) => roots.push(
                    vs.matchers
                        .matchers
                        .into_iter()
                        .filter(|m| m.name != "__name__")
                        .collect(),
                ),
                _ => return Err(fail("roots", format!("{sel:?} is not a selector"))),
            }
        }
        let p = &o.provider_outage;
        let share = |key: &str, v: Option<f64>, default: f64| -> Result<f64, RuleError> {
            let v = v.unwrap_or(default);
            if v > 0.0 && v <= 1.0 {
                Ok(v)
            } else {
                Err(fail(key, format!("{v} is not within (0, 1]")))
            }
        };
        let provider = ProviderThresholds {
            min_sites: p.min_sites.unwrap_or(3),
            min_share: share("min_share", p.min_share, 0.5)?,
            min_share_sites: p.min_share_sites.unwrap_or(2),
            within: dur("within", &p.within, 600)?,
        };
        if provider.min_sites == 0 || provider.min_share_sites == 0 {
            let key = if provider.min_sites == 0 {
                "min_sites"
            } else {
                "min_share_sites"
            };
            return Err(fail(key, "must be at least 1".into()));
        }
        let q = &o.poller_network_lost;
        let poller = PollerThresholds {
            min_share: share("min_share", q.min_share, 0.8)?,
            min_devices: q.min_devices.unwrap_or(5),
        };
        if poller.min_devices == 0 {
            return Err(fail("min_devices", "must be at least 1".into()));
        }
        let sev = |key: &str, v: &Option<String>| -> Result<String, RuleError> {
            let s = v.clone().unwrap_or_else(|| "critical".into());
            if SEVERITIES.contains(&s.as_str()) {
                Ok(s)
            } else {
                Err(fail(
                    key,
                    format!("{s:?} is not one of {}", SEVERITIES.join(", ")),
                ))
            }
        };
        let s = &o.severities;
        Ok(OutageConfig {
            file: file.to_path_buf(),
            interval,
            for_,
            topology_lookback,
            tz,
            roots,
            roots_text: o.roots.clone(),
            provider,
            poller,
            severity_site: sev("site_isolated", &s.site_isolated)?,
            severity_provider: sev("provider_outage", &s.provider_outage)?,
            severity_poller: sev("poller_network_lost", &s.poller_network_lost)?,
        })
    }

    /// Whether a device with these labels is a configured root.
    pub fn is_root<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.roots.iter().any(|sel| {
            sel.iter()
                .all(|m| m.is_match(label(&m.name).unwrap_or_default()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = OutageConfig::defaults(Path::new("o.yml"));
        assert_eq!(c.interval, Duration::from_secs(15));
        assert_eq!(c.for_, Duration::from_secs(30));
        assert_eq!(c.topology_lookback, Duration::from_secs(86_400));
        assert_eq!(c.tz.name(), "UTC");
        assert_eq!(
            c.provider,
            ProviderThresholds {
                min_sites: 3,
                min_share: 0.5,
                min_share_sites: 2,
                within: Duration::from_secs(600)
            }
        );
        assert_eq!(
            c.poller,
            PollerThresholds {
                min_share: 0.8,
                min_devices: 5
            }
        );
        assert_eq!(
            [&c.severity_site, &c.severity_provider, &c.severity_poller],
            ["critical"; 3]
        );
    }

    #[test]
    fn the_shipped_file_validates() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/outages.yml");
        let c = OutageConfig::load(&file).unwrap();
        assert_eq!(c.interval, Duration::from_secs(15));
    }

    #[test]
    fn roots_are_label_selectors() {
        let c = OutageConfig::parse(
            Path::new("o.yml"),
            "outages:\n  roots:\n    - 'device=~\"HQ-.*\"'\n    - 'site=\"dc\", role!=\"ap\"'\n",
        )
        .unwrap();
        let labels = |d: &'static str, s: &'static str| {
            move |k: &str| match k {
                "device" => Some(d),
                "site" => Some(s),
                _ => None,
            }
        };
        assert!(c.is_root(labels("HQ-CORE-1", "tbilisi")));
        assert!(c.is_root(labels("X", "dc")));
        assert!(!c.is_root(labels("BR-1", "batumi")));
    }

    #[test]
    fn thresholds() {
        let p = OutageConfig::defaults(Path::new("o.yml")).provider;
        // (sites down, sites using the provider, outage?)
        for (down, using, want) in [
            (3, 10, true),
            (2, 10, false),
            (2, 4, true),
            (2, 3, true),
            (1, 2, false),
            (1, 1, false),
        ] {
            assert_eq!(p.met(down, using), want, "{down} of {using}");
        }
        let q = OutageConfig::defaults(Path::new("o.yml")).poller;
        for (down, known, want) in [(8, 10, true), (7, 10, false), (4, 4, false), (5, 5, true)] {
            assert_eq!(q.met(down, known), want, "{down} of {known}");
        }
    }

    #[test]
    fn bad_fields_name_file_line_and_field() {
        let cases = [
            (
                "outages:\n  interval: soon\n",
                "o.yml:2: field \"interval\"",
            ),
            ("outages:\n  intervall: 15s\n", "o.yml:2: invalid YAML"),
            (
                "outages:\n  timezone: Mars/Olympus\n",
                "o.yml:2: field \"timezone\"",
            ),
            (
                "outages:\n  roots:\n    - 'device=='\n",
                "o.yml:2: field \"roots\"",
            ),
            (
                "outages:\n  provider_outage:\n    min_share: 1.5\n",
                "o.yml:3: field \"min_share\"",
            ),
            (
                "outages:\n  provider_outage:\n    within: 10 minutes\n",
                "o.yml:3: field \"within\"",
            ),
            (
                "outages:\n  poller_network_lost:\n    min_devices: 0\n",
                "o.yml:3: field \"min_devices\"",
            ),
            (
                "outages:\n  severities:\n    site_isolated: urgent\n",
                "o.yml:3: field \"site_isolated\"",
            ),
            (
                "outages:\n  topology_lookback: 10s\n",
                "o.yml:2: field \"topology_lookback\"",
            ),
        ];
        for (text, want) in cases {
            let got = OutageConfig::parse(Path::new("o.yml"), text)
                .unwrap_err()
                .to_string();
            assert!(got.starts_with(want), "got {got:?} want {want:?}");
        }
    }
}
