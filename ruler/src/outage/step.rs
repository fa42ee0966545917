//! The pure step of the outage group: from the fleet, its reachability analysis, `now` and
//! the settings to what is wrong ([`Verdict`]: isolated sites, provider-wide outages, the
//! poller's own network), to alert candidates with their messages, to what the data says
//! about an outage row that is no longer a candidate ([`Seen`]), to what a recovered site's
//! devices tell ([`recovery_note`]), and to the shadow map other rules' alerts are put under
//! ([`Shadow`]). No IO, no clock.

use super::config::OutageConfig;
use super::fleet::{Fleet, Uplink};
use crate::alert::{Candidate, Episode};
use crate::labels::{Fingerprint, Labels, ALERT_NAME};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use wardflux_reach::{Analysis, Health, State};

pub const SITE_ISOLATED: &str = "SiteIsolated";
pub const PROVIDER_OUTAGE: &str = "ProviderOutage";
pub const POLLER_NETWORK_LOST: &str = "PollerNetworkLost";
/// Alerts of the default rules that a provider outage covers at the sites it names.
pub const PROVIDER_CHILDREN: [&str; 3] = [
    "IspUplinkDownBackupWorking",
    "IspTotalOutage",
    "IspUplinkNotPassingTraffic",
];
/// How many names a message lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// A site cut off from the poller.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    pub site: String,
    pub routers: Vec<String>,
    pub cut_off: Vec<String>,
    pub message: String,
}

/// One provider's uplinks down at several sites, onsets close together.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderDown {
    pub provider: String,
    /// The sites of the outage, sorted.
    pub sites: Vec<String>,
    /// Sites with an uplink of this provider.
    pub using: usize,
    pub message: String,
}

/// Nearly every device down at once.
#[derive(Debug, Clone, PartialEq)]
pub struct PollerLost {
    pub down: usize,
    pub known: usize,
    pub message: String,
}

/// What one evaluation found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub poller: Option<PollerLost>,
    pub providers: Vec<ProviderDown>,
    pub isolated: Vec<Isolation>,
}

/// Finds the outages. While the poller's network is lost, sites and providers are not
/// judged (their rows would only repeat it).
pub fn verdict(
    fleet: &Fleet,
    analysis: &Analysis,
    cfg: &OutageConfig,
    now: DateTime<Utc>,
) -> Verdict {
    let known = fleet
        .devices
        .iter()
        .filter(|d| d.health != Health::Unknown)
        .count();
    let down = fleet
        .devices
        .iter()
        .filter(|d| d.health == Health::Down)
        .count();
    if cfg.poller.met(down, known) {
        return Verdict {
            poller: Some(PollerLost {
                down,
                known,
                message: format!(
                    "The poller lost its network: {down} of {known} devices stopped answering \
                     ({:.0}%); device rows are covered by this one",
                    100.0 * down as f64 / known as f64
                ),
            }),
            ..Verdict::default()
        };
    }
    let isolated = analysis
        .sites
        .iter()
        .filter(|s| s.isolated)
        .map(|s| {
            let routers: Vec<String> = s
                .routers
                .iter()
                .map(|&i| fleet.devices[i].name.clone())
                .collect();
            let cut_off: Vec<String> = s
                .cut_off
                .iter()
                .map(|&i| fleet.devices[i].name.clone())
                .collect();
            let message = site_message(fleet, &s.name, &routers, &cut_off, cfg.tz, now);
            Isolation {
                site: s.name.clone(),
                routers,
                cut_off,
                message,
            }
        })
        .collect();
    Verdict {
        poller: None,
        providers: providers(fleet, cfg, now),
        isolated,
    }
}

fn site_message(
    fleet: &Fleet,
    site: &str,
    routers: &[String],
    cut_off: &[String],
    tz: Tz,
    now: DateTime<Utc>,
) -> String {
    let who = match routers {
        [one] => format!("router {one} does not answer"),
        many => format!("routers {} do not answer", many.join(", ")),
    };
    let mut parts = Vec::new();
    for r in routers {
        let links: Vec<String> = fleet
            .uplinks_of(r)
            .map(|u| uplink_phrase(u, tz, now))
            .collect();
        let links = if links.is_empty() {
            "no ISP uplink state known".to_string()
        } else {
            links.join(", ")
        };
        parts.push(if routers.len() > 1 {
            format!("{r}: {links}")
        } else {
            links
        });
    }
    let behind = match cut_off.len() {
        0 => "no other device cut off".to_string(),
        1 => format!("1 device cut off: {}", cut_off[0]),
        n => format!("{n} devices cut off: {}", names(cut_off)),
    };
    format!(
        "Site {site} is isolated: {who}; {}; {behind}",
        parts.join("; ")
    )
}

/// "Magti down since 14:01", "Silknet last seen up at 14:03".
pub fn uplink_phrase(u: &Uplink, tz: Tz, now: DateTime<Utc>) -> String {
    let name = u.name();
    let at = |t: Option<DateTime<Utc>>| t.map(|t| local(t, tz, now));
    if u.admin == Some(2.0) {
        return format!("{name} administratively down");
    }
    let (down, up, v) = (u.oper == 2.0, u.oper == 1.0, u.oper);
    match (at(u.changed_at), at(u.last_seen)) {
        (Some(since), _) if down => format!("{name} down since {since}"),
        (None, Some(seen)) if down => format!("{name} down, last seen at {seen}"),
        (_, Some(seen)) if up => format!("{name} last seen up at {seen}"),
        (_, Some(seen)) => format!("{name} status {v} last seen at {seen}"),
        (_, None) => format!("{name} status {v}"),
    }
}

/// `HH:MM` in `tz`, with the date when it is not `now`'s date there.
pub fn local(t: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let l = t.with_timezone(&tz);
    if l.date_naive() == now.with_timezone(&tz).date_naive() {
        l.format("%H:%M").to_string()
    } else {
        l.format("%Y-%m-%d %H:%M").to_string()
    }
}

fn names(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(NAMES_SHOWN).map(String::as_str).collect();
    if list.len() > NAMES_SHOWN {
        format!("{} and {} more", shown.join(", "), list.len() - NAMES_SHOWN)
    } else {
        shown.join(", ")
    }
}

/// Provider-wide outages: per provider, the largest set of sites whose uplinks of it went
/// down within `within` of each other, when the thresholds are met.
fn providers(fleet: &Fleet, cfg: &OutageConfig, now: DateTime<Utc>) -> Vec<ProviderDown> {
    let mut using: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    // Per provider and site, the latest onset of a down uplink.
    let mut down: BTreeMap<&str, BTreeMap<&str, DateTime<Utc>>> = BTreeMap::new();
    for u in &fleet.uplinks {
        if u.provider.is_empty() {
            continue;
        }
        let site = if u.site.is_empty() {
            &u.device
        } else {
            &u.site
        };
        using.entry(&u.provider).or_default().insert(site);
        if u.is_down() {
            let onset = u.changed_at.or(u.last_seen).unwrap_or(now);
            let e = down
                .entry(&u.provider)
                .or_default()
                .entry(site)
                .or_insert(onset);
            *e = (*e).max(onset);
        }
    }
    let within = chrono::Duration::from_std(cfg.provider.within).unwrap_or_default();
    let mut out = Vec::new();
    for (provider, sites) in down {
        let mut onsets: Vec<(DateTime<Utc>, &str)> =
            sites.into_iter().map(|(s, t)| (t, s)).collect();
        onsets.sort();
        // The largest window of onsets no wider than `within` (the latest on ties).
        let (mut best, mut lo) = ((0, 0), 0);
        for hi in 0..onsets.len() {
            while onsets[hi].0 - onsets[lo].0 > within {
                lo += 1;
            }
            if hi + 1 - lo >= best.1 - best.0 {
                best = (lo, hi + 1);
            }
        }
        let cluster = &onsets[best.0..best.1];
        let n_using = using.get(provider).map_or(0, BTreeSet::len);
        if !cfg.provider.met(cluster.len(), n_using) {
            continue;
        }
        let mut sites: Vec<String> = cluster.iter().map(|(_, s)| s.to_string()).collect();
        sites.sort();
        let (first, last) = (cluster[0].0, cluster[cluster.len() - 1].0);
        let span = if first == last {
            format!("at {}", local(first, cfg.tz, now))
        } else {
            format!(
                "between {} and {}",
                local(first, cfg.tz, now),
                local(last, cfg.tz, now)
            )
        };
        let message = format!(
            "Provider {provider} is down at {} of {n_using} sites using it ({}), uplinks lost {span}",
            sites.len(),
            names(&sites),
        );
        out.push(ProviderDown {
            provider: provider.to_string(),
            sites,
            using: n_using,
            message,
        });
    }
    out
}

/// The alert candidates of each outage alert, by alert name.
pub fn candidates(
    v: &Verdict,
    cfg: &OutageConfig,
) -> BTreeMap<&'static str, BTreeMap<Fingerprint, Candidate>> {
    let mut out: BTreeMap<&'static str, BTreeMap<Fingerprint, Candidate>> = BTreeMap::new();
    for name in [POLLER_NETWORK_LOST, PROVIDER_OUTAGE, SITE_ISOLATED] {
        out.insert(name, BTreeMap::new());
    }
    let mut add = |name: &'static str,
                   labels: &[(&str, &str)],
                   message: &str,
                   description: String,
                   value: f64| {
        let mut l: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert(ALERT_NAME.to_string(), name.to_string());
        let annotations = [
            ("summary".to_string(), message.to_string()),
            ("description".to_string(), description),
        ]
        .into();
        if let Some(m) = out.get_mut(name) {
            m.insert(
                Fingerprint::of(&l),
                Candidate {
                    labels: l,
                    annotations,
                    value,
                },
            );
        }
    };
    if let Some(p) = &v.poller {
        add(
            POLLER_NETWORK_LOST,
            &[("severity", &cfg.severity_poller)],
            &p.message,
            "Check the monitoring host's own network (its uplink, firewall, routes) before any device.".into(),
            p.down as f64 / p.known.max(1) as f64,
        );
    }
    for p in &v.providers {
        add(
            PROVIDER_OUTAGE,
            &[
                ("isp_provider", &p.provider),
                ("severity", &cfg.severity_provider),
            ],
            &p.message,
            format!(
                "Call {}: its uplinks failed at {}.",
                p.provider,
                p.sites.join(", ")
            ),
            p.sites.len() as f64,
        );
    }
    for s in &v.isolated {
        add(
            SITE_ISOLATED,
            &[("site", &s.site), ("severity", &cfg.severity_site)],
            &s.message,
            format!(
                "Every device holding the ISP uplinks of site {} stopped answering; the devices behind them are covered by this row.",
                s.site
            ),
            s.cut_off.len() as f64,
        );
    }
    out
}

/// What the data says about an outage row no longer among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Present data shows the outage over (a router answers again, the uplinks are seen).
    Recovered,
    /// The devices that would show recovery still do not answer.
    Unreachable,
    /// Nothing is known of them.
    NoData,
}

/// Routers of `site`: devices holding ISP uplinks there (or the router a site is named after).
fn routers_of<'a>(fleet: &'a Fleet, site: &'a str) -> BTreeSet<&'a str> {
    fleet
        .uplinks
        .iter()
        .filter(|u| u.site == site || (u.site.is_empty() && u.device == site))
        .map(|u| u.device.as_str())
        .collect()
}

fn health_of(fleet: &Fleet, devices: impl Iterator<Item = impl AsRef<str>>) -> Seen {
    let mut seen = Seen::NoData;
    for d in devices {
        match fleet.device(d.as_ref()).map(|d| d.health) {
            Some(Health::Up) => return Seen::Recovered,
            Some(Health::Down) => seen = Seen::Unreachable,
            _ => {}
        }
    }
    seen
}

/// Evidence for a gone outage alert, by its name and labels.
pub fn seen(fleet: &Fleet, alert: &str, labels: &Labels) -> Seen {
    let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
    match alert {
        SITE_ISOLATED => health_of(fleet, routers_of(fleet, get("site")).into_iter()),
        PROVIDER_OUTAGE => {
            let provider = get("isp_provider");
            let routers: BTreeSet<&str> = fleet
                .uplinks
                .iter()
                .filter(|u| u.provider == provider)
                .map(|u| u.device.as_str())
                .collect();
            health_of(fleet, routers.into_iter())
        }
        _ => {
            if fleet.devices.iter().any(|d| d.health != Health::Unknown) {
                Seen::Recovered
            } else {
                Seen::NoData
            }
        }
    }
}

/// What a site's devices tell once it answers again: whether its router(s) restarted during
/// the outage (uptime shorter than the outage: power or hardware) or not (the WAN was lost),
/// and which uplink came back first.
pub fn recovery_note(
    fleet: &Fleet,
    site: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> String {
    let outage = (now - started_at).num_seconds().max(0) as f64;
    let mut parts = Vec::new();
    for r in routers_of(fleet, site) {
        let Some(d) = fleet.device(r) else { continue };
        if d.health != Health::Up {
            continue;
        }
        parts.push(match d.uptime {
            Some(up) if up < outage => format!(
                "router {r} restarted during the outage (uptime {}, outage {}): power or hardware",
                human(up),
                human(outage)
            ),
            Some(up) => format!(
                "router {r} did not restart (uptime {}): the WAN was lost",
                human(up)
            ),
            None => format!("router {r} answers; its uptime is not known"),
        });
    }
    // An unreachable router's uplinks are not seen while it is away: the ones up when it
    // answers again are the ones that brought it back; a change seen during the outage
    // (an uplink seen down, then up) orders them further.
    let site_links: Vec<&Uplink> = fleet
        .uplinks
        .iter()
        .filter(|u| u.site == site || (u.site.is_empty() && u.device == site))
        .collect();
    let mut up: Vec<&Uplink> = site_links.iter().copied().filter(|u| u.is_up()).collect();
    let down: Vec<&str> = site_links
        .iter()
        .filter(|u| !u.is_up())
        .map(|u| u.name())
        .collect();
    let back_at = |u: &Uplink| u.changed_at.filter(|t| *t >= started_at).unwrap_or(now);
    up.sort_by_key(|u| back_at(u));
    if let Some(first) = up.first().map(|u| back_at(u)) {
        let firsts: Vec<&str> = up
            .iter()
            .filter(|u| back_at(u) == first)
            .map(|u| u.name())
            .collect();
        let verb = if firsts.len() > 1 {
            "came back together"
        } else {
            "came back first"
        };
        let mut s = format!(
            "{} {verb} at {}",
            firsts.join(" and "),
            local(first, tz, now)
        );
        if !down.is_empty() {
            s.push_str(&format!(" ({} still down)", down.join(", ")));
        }
        parts.push(s);
    } else if !down.is_empty() {
        parts.push(format!("{} still down", down.join(", ")));
    }
    parts.join("; ")
}

/// `3d 4h`, `12m`, `45s`.
pub fn human(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The outage rows other rules' alerts are put under: a device of an isolated site (its
/// router or a device cut off with it) under the site's row, the ISP alerts of a provider
/// outage's routers under the provider's row, everything under `PollerNetworkLost`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shadow {
    pub all: Option<Episode>,
    pub devices: BTreeMap<String, Episode>,
    /// Router -> (provider, its outage row).
    pub uplinks: BTreeMap<String, (String, Episode)>,
}

impl Shadow {
    /// Builds the map from the verdict and the episodes of the firing outage rows (keyed by
    /// alert name and the row's `site` or `isp_provider`; empty for the poller's row).
    pub fn build(
        fleet: &Fleet,
        v: &Verdict,
        held_sites: &BTreeMap<String, Episode>,
        firing: &BTreeMap<(&'static str, String), Episode>,
    ) -> Shadow {
        let mut s = Shadow {
            all: firing.get(&(POLLER_NETWORK_LOST, String::new())).cloned(),
            ..Shadow::default()
        };
        for i in &v.isolated {
            if let Some(ep) = firing.get(&(SITE_ISOLATED, i.site.clone())) {
                for d in i.routers.iter().chain(&i.cut_off) {
                    s.devices.insert(d.clone(), ep.clone());
                }
            }
        }
        // Sites whose rows are held open (their routers still silent) keep their routers.
        for (site, ep) in held_sites {
            for r in routers_of(fleet, site) {
                s.devices.entry(r.to_string()).or_insert_with(|| ep.clone());
            }
        }
        for p in &v.providers {
            if let Some(ep) = firing.get(&(PROVIDER_OUTAGE, p.provider.clone())) {
                for site in &p.sites {
                    for r in routers_of(fleet, site) {
                        s.uplinks
                            .insert(r.to_string(), (p.provider.clone(), ep.clone()));
                    }
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.devices.is_empty() && self.uplinks.is_empty()
    }

    /// The engine's shadow context: a site's row for its devices, the provider's row for its
    /// routers' uplink alerts ([`PROVIDER_CHILDREN`]), the poller's row for everything.
    pub fn context(&self) -> crate::shadow::Shadow {
        let ctx = crate::shadow::Shadow::new(self.devices.clone())
            .with_uplinks(self.uplinks.clone(), &PROVIDER_CHILDREN);
        match &self.all {
            Some(all) => ctx.covering_all(all.clone()),
            None => ctx,
        }
    }
}

/// The fleet's reachability as `/api/v1/reachability` serves it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Report {
    pub at: Option<DateTime<Utc>>,
    pub devices: Vec<DeviceReport>,
    pub sites: Vec<SiteReport>,
    pub problems: Vec<String>,
}

/// The analysis' problems as lines to log and serve. Neighbours nobody polls (phones, access
/// points, the provider's end) are common: they make one line, not one per link.
fn problems(list: &[wardflux_reach::Problem]) -> Vec<String> {
    let mut unknown = BTreeSet::new();
    let mut out = Vec::new();
    for p in list {
        match p {
            wardflux_reach::Problem::UnknownDevice { name, .. } => {
                unknown.insert(name.clone());
            }
            other => out.push(other.to_string()),
        }
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        out.push(format!(
            "links to {} device(s) no exporter polls are ignored: {}",
            names.len(),
            self::names(&names)
        ));
    }
    out
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceReport {
    pub device: String,
    pub site: String,
    pub state: State,
    pub roots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SiteReport {
    pub site: String,
    pub routers: Vec<String>,
    pub isolated: bool,
    pub cut_off: Vec<String>,
}

impl Report {
    pub fn new(fleet: &Fleet, a: &Analysis, now: DateTime<Utc>) -> Report {
        let name = |i: &usize| fleet.devices[*i].name.clone();
        Report {
            at: Some(now),
            devices: fleet
                .devices
                .iter()
                .zip(&a.devices)
                .map(|(d, s)| DeviceReport {
                    device: d.name.clone(),
                    site: d.site.clone(),
                    state: s.state,
                    roots: s.roots.iter().map(name).collect(),
                })
                .collect(),
            sites: a
                .sites
                .iter()
                .map(|s| SiteReport {
                    site: s.name.clone(),
                    routers: s.routers.iter().map(name).collect(),
                    isolated: s.isolated,
                    cut_off: s.cut_off.iter().map(name).collect(),
                })
                .collect(),
            problems: problems(&a.problems),
        }
    }
}
