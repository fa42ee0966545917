//! The built-in outage group (`rules/outages.yml`): each evaluation reads the fleet from
//! VictoriaMetrics (every exporter shard's `wardflux_device_up`, the last known LLDP/CDP and
//! manual links, the ISP uplinks' last known state), runs the reachability analysis
//! (`wardflux-reach`) and raises one row per outage: `SiteIsolated` per cut-off site,
//! `ProviderOutage` per provider down at several sites, `PollerNetworkLost` when nearly
//! everything stopped answering at once. The same analysis is written back as
//! `wardflux:device_reachability`, served at `/api/v1/reachability`, and handed to every
//! other group as the shadow context (devices of an isolated site -> the site's row).
//!
//! - `config`: `rules/outages.yml`, raw and validated
//! - `fleet`: the queries and their answers decoded into devices, links and uplinks
//! - `run`: one evaluation: `observe` (queries, analysis), `step` (the alert life)
//! - `step`: the pure step: verdict, candidates and messages, evidence, recovery notes,
//!   shadow map, report

pub mod config;
pub mod fleet;
pub mod run;
pub mod step;

use crate::config::{Group, Rule, RuleKind};
use crate::datasource::Recorded;
use chrono::{DateTime, Utc};
use config::OutageConfig;
use std::sync::Arc;
use step::{Report, POLLER_NETWORK_LOST, PROVIDER_OUTAGE, SITE_ISOLATED};

/// The group the outage rows live in.
pub const OUTAGE_GROUP: &str = "wardflux-outages";
/// The recorded series of the fleet's reachability, one per device.
pub const REACHABILITY_SERIES: &str = "wardflux:device_reachability";

/// The outage group: its rules in the order they are stepped (a parent before the rows
/// that point at it).
pub fn outage_group(cfg: OutageConfig) -> Group {
    let cfg = Arc::new(cfg);
    let rule = |name: &str, what: &str| Rule {
        name: name.to_string(),
        expr: format!("(built in: {what}; {})", cfg.file.display()),
        line: None,
        labels: Default::default(),
        raw_labels: Default::default(),
        kind: RuleKind::Outage(cfg.clone()),
        needs_remote_check: None,
        staleness_budget: None,
    };
    Group {
        name: OUTAGE_GROUP.to_string(),
        file: cfg.file.clone(),
        interval: cfg.interval,
        staleness_budget: crate::alert::DEFAULT_STALENESS_BUDGET,
        rules: vec![
            rule(POLLER_NETWORK_LOST, "nearly every device down at once"),
            rule(
                PROVIDER_OUTAGE,
                "one provider's uplinks down at several sites",
            ),
            rule(
                SITE_ISOLATED,
                "every router of a site down in its own right",
            ),
        ],
    }
}

/// `wardflux:device_reachability{device,site,state,root}` 1 per device, at `now`; `root`
/// (the nearest causes, comma-separated) only for shadowed devices.
pub fn recorded(report: &Report, now: DateTime<Utc>) -> Recorded {
    let mut out = Recorded::new();
    let at = now.timestamp_millis();
    for d in &report.devices {
        let roots = d.roots.join(",");
        let mut labels = vec![("device", d.device.as_str())];
        if !d.site.is_empty() {
            labels.push(("site", d.site.as_str()));
        }
        labels.push(("state", d.state.as_str()));
        if !roots.is_empty() {
            labels.push(("root", roots.as_str()));
        }
        let id = out.push_series(REACHABILITY_SERIES, labels);
        out.push_sample(id, at, 1.0);
    }
    out
}

#[cfg(test)]
mod tests;
