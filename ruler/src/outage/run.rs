//! One evaluation of the outage group: [`observe`] asks VictoriaMetrics through the
//! `Querier` and runs the analysis; [`step`] (pure) moves the group's three alert sets
//! through the shared alert life with the group's own evidence (a site's row resolves when a
//! router of the site answers again, with a note of what recovery showed) and causes (a
//! site's row under the provider's or the poller's row), and gives the shadow map for every
//! other group.

use super::config::OutageConfig;
use super::fleet::{Fleet, Queries};
use super::step::{
    self, recovery_note, seen, Report, Seen, Shadow, Verdict, POLLER_NETWORK_LOST, PROVIDER_OUTAGE,
    SITE_ISOLATED,
};
use crate::alert::{Alert, AlertSet, AlertSpec, AlertState, Episode, Evidence, Judge, Transition};
use crate::datasource::{DatasourceError, Querier};
use crate::labels::Fingerprint;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;
use wardflux_reach::analyse;

/// What one evaluation saw of the fleet.
#[derive(Debug, Clone)]
pub struct Observed {
    pub fleet: Fleet,
    pub verdict: Verdict,
    pub report: Report,
    /// Series the queries returned, for `/api/v1/rules`.
    pub samples: usize,
}

/// Reads the fleet and analyses it.
pub async fn observe(
    cfg: &OutageConfig,
    querier: &dyn Querier,
    now: DateTime<Utc>,
    step: Duration,
) -> Result<Observed, DatasourceError> {
    let answers = Queries::new(cfg).ask(querier, now, step).await?;
    Ok(analyse_answers(&answers, cfg, now))
}

/// The pure half of [`observe`].
pub fn analyse_answers(
    answers: &super::fleet::Answers,
    cfg: &OutageConfig,
    now: DateTime<Utc>,
) -> Observed {
    let fleet = Fleet::from_answers(answers, cfg);
    let analysis = analyse(&fleet.input());
    let verdict = step::verdict(&fleet, &analysis, cfg, now);
    let report = Report::new(&fleet, &analysis, now);
    let samples = answers.up_now.len() + answers.lldp.len() + answers.isp_oper.len();
    Observed {
        fleet,
        verdict,
        report,
        samples,
    }
}

/// What [`step`] produced.
#[derive(Debug, Default)]
pub struct Stepped {
    pub transitions: Vec<Transition>,
    /// The shadow map for every other group.
    pub shadow: Shadow,
}

/// The key of an outage row among its kind: its site, its provider, or nothing.
fn key_of(alert: &Alert) -> String {
    ["site", "isp_provider"]
        .iter()
        .find_map(|k| alert.labels.get(*k).cloned())
        .unwrap_or_default()
}

fn episode(spec: &AlertSpec, a: &Alert) -> Episode {
    Episode {
        alert_name: spec.name.clone(),
        group_name: spec.group.clone(),
        fingerprint: a.fingerprint.to_string(),
        started_at: a.active_at,
    }
}

/// The group's own judge: evidence from the fleet, causes from the rows already stepped.
struct OutageJudge<'a> {
    name: &'a str,
    fleet: &'a Fleet,
    verdict: &'a Verdict,
    firing: &'a BTreeMap<(&'static str, String), Episode>,
}

impl Judge for OutageJudge<'_> {
    fn evidence(&self, alert: &Alert) -> Evidence {
        match seen(self.fleet, self.name, &alert.labels) {
            Seen::Recovered => Evidence::Present,
            Seen::Unreachable => Evidence::DeviceUnreachable,
            Seen::NoData => Evidence::Missing,
        }
    }

    fn cause(&self, alert: &Alert) -> Option<Episode> {
        let poller = self.firing.get(&(POLLER_NETWORK_LOST, String::new()));
        match self.name {
            PROVIDER_OUTAGE => poller.cloned(),
            SITE_ISOLATED => poller.cloned().or_else(|| {
                let site = key_of(alert);
                self.verdict
                    .providers
                    .iter()
                    .filter(|p| p.sites.contains(&site))
                    .find_map(|p| self.firing.get(&(PROVIDER_OUTAGE, p.provider.clone())))
                    .cloned()
            }),
            _ => None,
        }
    }
}

/// Steps the outage rules (`PollerNetworkLost`, `ProviderOutage`, `SiteIsolated`, in this
/// order, so a parent's row is written before the rows that point at it).
pub fn step(
    seen_now: &Observed,
    cfg: &OutageConfig,
    rules: Vec<(&AlertSpec, &mut AlertSet)>,
    now: DateTime<Utc>,
) -> Stepped {
    let mut cands = step::candidates(&seen_now.verdict, cfg);
    let mut firing: BTreeMap<(&'static str, String), Episode> = BTreeMap::new();
    let mut held_sites: BTreeMap<String, Episode> = BTreeMap::new();
    let mut out = Stepped::default();
    for (spec, alerts) in rules {
        let Some(name) = [POLLER_NETWORK_LOST, PROVIDER_OUTAGE, SITE_ISOLATED]
            .into_iter()
            .find(|n| *n == spec.name)
        else {
            continue;
        };
        let c = cands.remove(name).unwrap_or_default();
        // What a site's devices tell, for the site rows that resolve now.
        let notes: BTreeMap<Fingerprint, String> = if name == SITE_ISOLATED {
            alerts
                .alerts()
                .filter(|a| a.state == AlertState::Firing && !c.contains_key(&a.fingerprint))
                .filter(|a| seen(&seen_now.fleet, name, &a.labels) == Seen::Recovered)
                .map(|a| {
                    let note = recovery_note(&seen_now.fleet, &key_of(a), a.active_at, now, cfg.tz);
                    (a.fingerprint, note)
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        let judge = OutageJudge {
            name,
            fleet: &seen_now.fleet,
            verdict: &seen_now.verdict,
            firing: &firing,
        };
        let mut ts = alerts.step(spec, c, now, &judge);
        for t in &mut ts {
            if let Transition::Resolved { episode, note, .. } = t {
                let fp = Fingerprint::parse(&episode.fingerprint);
                if let Some(n) = fp.and_then(|fp| notes.get(&fp)) {
                    if !n.is_empty() {
                        *note = Some(n.clone());
                    }
                }
            }
        }
        out.transitions.extend(ts);
        for a in alerts.alerts().filter(|a| a.state == AlertState::Firing) {
            let ep = episode(spec, a);
            if name == SITE_ISOLATED && a.held_since.is_some() {
                held_sites.insert(key_of(a), ep.clone());
            }
            firing.insert((name, key_of(a)), ep);
        }
    }
    out.shadow = Shadow::build(&seen_now.fleet, &seen_now.verdict, &held_sites, &firing);
    out
}
