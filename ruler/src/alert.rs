//! The pure alert life: inactive -> pending -> firing -> resolved, one alert per label set,
//! with `for` and `keep_firing_for`. No IO and no clock: `now` is an argument, and every
//! change worth storing comes back as a [`Transition`] for the queue. Threshold rules and
//! anomaly detectors both feed it [`Candidate`]s.
//!
//! An alert resolves only on evidence: when a firing alert's label set is gone from its
//! rule's result, a [`Judge`] (the engine, which queries the rule's subject) says whether the
//! data shows recovery ([`Evidence::Present`]), the device is unreachable, or there is no data
//! at all; the last two hold the alert (still firing, `held_since` set) instead of resolving
//! it, a `no_data` hold for at most the rule's staleness budget.

use crate::labels::{Fingerprint, Labels};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What an alert source says is wrong right now: final labels (with `alertname`), rendered
/// annotations, and the value behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub value: f64,
}

/// The staleness budget of rules that set none: how long a firing alert may go without any
/// data before its row is closed as `no_data`.
pub const DEFAULT_STALENESS_BUDGET: Duration = Duration::from_secs(15 * 60);

/// The timing of one alert source.
#[derive(Debug, Clone)]
pub struct AlertSpec {
    pub group: String,
    pub name: String,
    pub for_: Duration,
    pub keep_firing_for: Duration,
    /// How often a firing alert's row gets its value and `last_evaluated_at` refreshed.
    pub touch_every: Duration,
    /// How long an alert is held for lack of any data before its row closes as `no_data`.
    pub staleness_budget: Duration,
}

/// Pending or firing; inactive alerts are simply absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Pending,
    Firing,
}

/// What the data says about a firing alert whose label set is gone from its rule's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The rule's subject has data for this alert: the condition is false on present data.
    Present,
    /// The rule has no subject (e.g. `vector(1)`): resolve as on present data.
    NoSubject,
    /// No data for the alert, and its device is known down (`wardflux_device_up == 0`).
    DeviceUnreachable,
    /// No data for the alert and nothing known of its device (scrape gap, exporter down).
    Missing,
    /// The question could not be answered: the alert stays exactly as it is.
    Unknown,
}

/// Why a firing alert is held open without its condition being seen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The alert's device does not answer: held until it does.
    DeviceUnreachable,
    /// No data at all: held up to the rule's staleness budget.
    NoData,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::DeviceUnreachable => "device_unreachable",
            HoldReason::NoData => "no_data",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "device_unreachable" => Some(HoldReason::DeviceUnreachable),
            "no_data" => Some(HoldReason::NoData),
            _ => None,
        }
    }
}

/// How a row was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Present data shows the condition false.
    Recovered,
    /// The rule behind the alert was removed or changed.
    RuleRemoved,
    /// No data for longer than the staleness budget: not a recovery.
    NoData,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Recovered => "recovered",
            Resolution::RuleRemoved => "rule_removed",
            Resolution::NoData => "no_data",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "recovered" => Some(Resolution::Recovered),
            "rule_removed" => Some(Resolution::RuleRemoved),
            "no_data" => Some(Resolution::NoData),
            _ => None,
        }
    }
}

/// Answers the alert life needs from outside: evidence for gone alerts, and the outage row an
/// alert is caused by (the shadow context). The engine implements it over its queries; tests
/// use closures (any `Fn(&Alert) -> Evidence` is a judge without causes).
pub trait Judge {
    /// Evidence for a firing alert whose label set is gone from the rule's result.
    fn evidence(&self, alert: &Alert) -> Evidence;
    /// The root row this firing alert is caused by, if any.
    fn cause(&self, _alert: &Alert) -> Option<Episode> {
        None
    }
    /// What recovery showed, written as the row's `resolution_note` when the alert resolves
    /// on evidence (e.g. the outage group: whether the router restarted).
    fn recovery_note(&self, _alert: &Alert) -> Option<String> {
        None
    }
}

impl<F: Fn(&Alert) -> Evidence> Judge for F {
    fn evidence(&self, alert: &Alert) -> Evidence {
        self(alert)
    }
}

/// A judge for sources without a subject (the ruler's own alerts): gone means recovered.
pub struct NoSubject;

impl Judge for NoSubject {
    fn evidence(&self, _alert: &Alert) -> Evidence {
        Evidence::NoSubject
    }
}

/// One live alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    #[serde(serialize_with = "ser_fp")]
    pub fingerprint: Fingerprint,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub value: f64,
    pub state: AlertState,
    /// When the condition was first seen; the episode's `started_at`.
    pub active_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    /// The last evaluation at which the condition held.
    pub last_seen: DateTime<Utc>,
    /// When the alert's evidence went missing; `None` while it is seen or recovered.
    pub held_since: Option<DateTime<Utc>>,
    pub hold_reason: Option<HoldReason>,
    /// When the current hold reason began (the `no_data` budget counts from here).
    #[serde(skip)]
    reason_since: Option<DateTime<Utc>>,
    /// The root row (an outage) this alert is caused by; such alerts are not notified.
    #[serde(skip)]
    pub caused_by: Option<Episode>,
    #[serde(skip)]
    last_written: DateTime<Utc>,
}

impl Alert {
    /// This alert's episode (its row's identity) under `spec`: what a root is named by in
    /// a [`Shadow`](crate::shadow::Shadow) and in [`Transition::Link`].
    pub fn episode(&self, spec: &AlertSpec) -> Episode {
        episode_of(spec, self)
    }
}

fn ser_fp<S: serde::Serializer>(fp: &Fingerprint, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fp.to_string())
}

/// Open or closed row state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Firing,
    Resolved,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Firing => "firing",
            RowState::Resolved => "resolved",
        }
    }
}

/// One firing episode, as an `alert_history` row holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub alert_name: String,
    pub group_name: String,
    pub fingerprint: String,
    pub severity: String,
    pub device: String,
    pub if_name: String,
    pub interface_type: String,
    pub isp_provider: String,
    pub message: String,
    pub value: Option<f64>,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: RowState,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_evaluated_at: DateTime<Utc>,
    /// The root row's episode; the store writes it as the parent's id (`caused_by`), found
    /// by (fingerprint, started_at). The API shows the id (see `store::HistoryRow`).
    #[serde(skip)]
    pub caused_by: Option<Episode>,
    pub held_since: Option<DateTime<Utc>>,
    pub hold_reason: Option<HoldReason>,
    /// `None` while the row is open.
    pub resolution: Option<Resolution>,
    pub resolution_note: Option<String>,
}

/// Names one episode: its fingerprint and start are its identity in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Episode {
    pub alert_name: String,
    pub group_name: String,
    pub fingerprint: String,
    pub started_at: DateTime<Utc>,
}

impl Episode {
    /// The episode of an open row.
    pub fn of(r: &AlertRecord) -> Episode {
        Episode {
            alert_name: r.alert_name.clone(),
            group_name: r.group_name.clone(),
            fingerprint: r.fingerprint.clone(),
            started_at: r.started_at,
        }
    }
}

/// A change to store, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The alert started firing: insert its row (with `caused_by` when it has a root).
    Fired(Box<AlertRecord>),
    /// The alert resolved: close its row, saying how.
    Resolved {
        episode: Episode,
        resolved_at: DateTime<Utc>,
        value: Option<f64>,
        resolution: Resolution,
        note: Option<String>,
    },
    /// Still firing: refresh value and `last_evaluated_at`.
    Touched {
        episode: Episode,
        at: DateTime<Utc>,
        value: Option<f64>,
    },
    /// The open row of `child` is caused by `parent` (set after the fact; the parent's row is
    /// written before, the queue being ordered).
    Link { child: Episode, parent: Episode },
    /// The open row's evidence went missing at `since`: it stays open, held for `reason`.
    Held {
        episode: Episode,
        since: DateTime<Utc>,
        reason: HoldReason,
    },
    /// The held row's condition is seen again: no longer held.
    Unheld { episode: Episode },
}

impl Transition {
    pub fn episode(&self) -> Episode {
        match self {
            Transition::Fired(r) => Episode::of(r),
            Transition::Resolved { episode, .. }
            | Transition::Touched { episode, .. }
            | Transition::Held { episode, .. }
            | Transition::Unheld { episode } => episode.clone(),
            Transition::Link { child, .. } => child.clone(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Transition::Fired(_) => "fired",
            Transition::Resolved { .. } => "resolved",
            Transition::Touched { .. } => "touched",
            Transition::Link { .. } => "linked",
            Transition::Held { .. } => "held",
            Transition::Unheld { .. } => "unheld",
        }
    }
}

/// All live alerts of one alert source.
#[derive(Debug, Clone, Default)]
pub struct AlertSet {
    alerts: BTreeMap<Fingerprint, Alert>,
    /// Alerts resolved since the last [`AlertSet::take_resolved`], for notifiers.
    resolved: Vec<(Alert, DateTime<Utc>)>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

impl AlertSet {
    /// Live alerts, pending and firing.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// The firing alerts that [`AlertSet::step`] will ask the judge about at `now` given
    /// these candidates: gone from the result and past `keep_firing_for`.
    pub fn awaiting_evidence<'a>(
        &'a self,
        spec: &AlertSpec,
        candidates: &BTreeMap<Fingerprint, Candidate>,
        now: DateTime<Utc>,
    ) -> Vec<&'a Alert> {
        self.alerts
            .values()
            .filter(|a| {
                a.state == AlertState::Firing
                    && !candidates.contains_key(&a.fingerprint)
                    && elapsed(a.last_seen, now) >= spec.keep_firing_for
            })
            .collect()
    }

    /// Advances every alert to `now` given the candidates present at `now` (keyed by the
    /// fingerprint of their labels, so there is one per label set by construction). Firing
    /// alerts that are gone (past `keep_firing_for`) resolve only on evidence from `judge`;
    /// without it they are held. Firing alerts get their root from `judge` at fire time, or
    /// later by a [`Transition::Link`].
    pub fn step(
        &mut self,
        spec: &AlertSpec,
        candidates: BTreeMap<Fingerprint, Candidate>,
        now: DateTime<Utc>,
        judge: &dyn Judge,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut present = Vec::with_capacity(candidates.len());
        for (fp, c) in candidates {
            present.push(fp);
            let alert = self.alerts.entry(fp).or_insert_with(|| Alert {
                fingerprint: fp,
                labels: c.labels.clone(),
                annotations: BTreeMap::new(),
                value: c.value,
                state: AlertState::Pending,
                active_at: now,
                fired_at: None,
                last_seen: now,
                held_since: None,
                hold_reason: None,
                reason_since: None,
                caused_by: None,
                last_written: now,
            });
            alert.value = c.value;
            alert.annotations = c.annotations;
            alert.last_seen = now;
            if alert.held_since.is_some() {
                alert.held_since = None;
                alert.hold_reason = None;
                alert.reason_since = None;
                out.push(Transition::Unheld {
                    episode: episode_of(spec, alert),
                });
            }
            match alert.state {
                AlertState::Pending if elapsed(alert.active_at, now) >= spec.for_ => {
                    alert.state = AlertState::Firing;
                    alert.fired_at = Some(now);
                    alert.last_written = now;
                    alert.caused_by = judge.cause(alert);
                    out.push(Transition::Fired(Box::new(record_of(spec, alert, now))));
                }
                AlertState::Pending => {}
                AlertState::Firing => touch(spec, alert, now, &mut out),
            }
        }
        present.sort_unstable();
        let gone: Vec<Fingerprint> = self
            .alerts
            .keys()
            .filter(|fp| present.binary_search(fp).is_err())
            .copied()
            .collect();
        for fp in gone {
            let Some(alert) = self.alerts.get_mut(&fp) else {
                continue;
            };
            match alert.state {
                AlertState::Pending => {
                    self.alerts.remove(&fp);
                }
                AlertState::Firing => {
                    if elapsed(alert.last_seen, now) < spec.keep_firing_for {
                        continue;
                    }
                    match judge.evidence(alert) {
                        Evidence::Present | Evidence::NoSubject => {
                            let note = judge.recovery_note(alert);
                            if let Some(alert) = self.alerts.remove(&fp) {
                                out.push(resolved(spec, &alert, now, Resolution::Recovered, note));
                                self.resolved.push((alert, now));
                            }
                        }
                        Evidence::Unknown => {}
                        Evidence::DeviceUnreachable => {
                            hold(spec, alert, HoldReason::DeviceUnreachable, now, &mut out)
                        }
                        Evidence::Missing => {
                            let since = match alert.hold_reason {
                                Some(HoldReason::NoData) => alert.reason_since,
                                _ => None,
                            };
                            match since {
                                Some(since) if elapsed(since, now) >= spec.staleness_budget => {
                                    // Not a recovery: the row closes as `no_data`, and
                                    // notifiers are not told "resolved" (Alertmanager lets
                                    // the alert's `endsAt` run out).
                                    if let Some(alert) = self.alerts.remove(&fp) {
                                        let note = no_data_note(spec, &alert, since);
                                        out.push(resolved(
                                            spec,
                                            &alert,
                                            now,
                                            Resolution::NoData,
                                            Some(note),
                                        ));
                                    }
                                }
                                _ => hold(spec, alert, HoldReason::NoData, now, &mut out),
                            }
                        }
                    }
                }
            }
        }
        self.link(spec, judge, &mut out);
        out
    }

    /// Firing alerts that have no root yet but that the judge now places under one get a
    /// [`Transition::Link`].
    fn link(&mut self, spec: &AlertSpec, judge: &dyn Judge, out: &mut Vec<Transition>) {
        for alert in self.alerts.values_mut() {
            if alert.state != AlertState::Firing || alert.caused_by.is_some() {
                continue;
            }
            if let Some(parent) = judge.cause(alert) {
                alert.caused_by = Some(parent.clone());
                out.push(Transition::Link {
                    child: episode_of(spec, alert),
                    parent,
                });
            }
        }
    }

    /// Resolves every firing alert, as when the rule behind them is removed.
    pub fn resolve_all(&mut self, spec: &AlertSpec, now: DateTime<Utc>) -> Vec<Transition> {
        let alerts = std::mem::take(&mut self.alerts);
        let mut out = Vec::new();
        for a in alerts
            .into_values()
            .filter(|a| a.state == AlertState::Firing)
        {
            out.push(resolved(spec, &a, now, Resolution::RuleRemoved, None));
            self.resolved.push((a, now));
        }
        out
    }

    /// Alerts resolved since the last call, with when they resolved.
    pub fn take_resolved(&mut self) -> Vec<(Alert, DateTime<Utc>)> {
        std::mem::take(&mut self.resolved)
    }

    /// Forgets firing alerts and keeps pending ones (before re-syncing with open rows).
    pub fn forget_firing(&mut self) {
        self.alerts.retain(|_, a| a.state == AlertState::Pending);
    }

    /// Takes back an alert that was firing when the process stopped, from its open row, so
    /// the same row continues, held or not, with its root.
    pub fn restore(&mut self, row: &AlertRecord) {
        let fp =
            Fingerprint::parse(&row.fingerprint).unwrap_or_else(|| Fingerprint::of(&row.labels));
        let held = row.held_since.is_some() && row.hold_reason.is_some();
        self.alerts.insert(
            fp,
            Alert {
                fingerprint: fp,
                labels: row.labels.clone(),
                annotations: row.annotations.clone(),
                value: row.value.unwrap_or(f64::NAN),
                state: AlertState::Firing,
                active_at: row.started_at,
                fired_at: Some(row.started_at),
                last_seen: row.last_evaluated_at,
                held_since: row.held_since.filter(|_| held),
                hold_reason: row.hold_reason.filter(|_| held),
                // The store keeps when the hold began, not when its reason last changed: a
                // `no_data` budget counts from the row's last refresh at the earliest, so a
                // restart never closes a row that became `no_data` late in a long hold.
                reason_since: row
                    .held_since
                    .filter(|_| held)
                    .map(|since| match row.hold_reason {
                        Some(HoldReason::NoData) => since.max(row.last_evaluated_at),
                        _ => since,
                    }),
                caused_by: row.caused_by.clone(),
                last_written: row.last_evaluated_at,
            },
        );
    }
}

/// Refreshes a firing alert's row every `touch_every`.
fn touch(spec: &AlertSpec, alert: &mut Alert, now: DateTime<Utc>, out: &mut Vec<Transition>) {
    if elapsed(alert.last_written, now) >= spec.touch_every {
        alert.last_written = now;
        out.push(Transition::Touched {
            episode: episode_of(spec, alert),
            at: now,
            value: finite(alert.value),
        });
    }
}

/// Holds a firing alert for `reason`: a [`Transition::Held`] when the hold starts or its
/// reason changes (`since` stays when the evidence first went missing).
fn hold(
    spec: &AlertSpec,
    alert: &mut Alert,
    reason: HoldReason,
    now: DateTime<Utc>,
    out: &mut Vec<Transition>,
) {
    if alert.hold_reason == Some(reason) {
        touch(spec, alert, now, out);
        return;
    }
    let since = *alert.held_since.get_or_insert(now);
    alert.hold_reason = Some(reason);
    alert.reason_since = Some(now);
    out.push(Transition::Held {
        episode: episode_of(spec, alert),
        since,
        reason,
    });
}

fn resolved(
    spec: &AlertSpec,
    a: &Alert,
    now: DateTime<Utc>,
    resolution: Resolution,
    note: Option<String>,
) -> Transition {
    Transition::Resolved {
        episode: episode_of(spec, a),
        resolved_at: now,
        value: finite(a.value),
        resolution,
        note,
    }
}

fn no_data_note(spec: &AlertSpec, a: &Alert, since: DateTime<Utc>) -> String {
    format!(
        "no data since {} (condition last seen {}), longer than the staleness budget of {}: \
         closed without evidence of recovery",
        since.format("%Y-%m-%d %H:%M:%SZ"),
        a.last_seen.format("%Y-%m-%d %H:%M:%SZ"),
        humantime(spec.staleness_budget)
    )
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn episode_of(spec: &AlertSpec, a: &Alert) -> Episode {
    Episode {
        alert_name: spec.name.clone(),
        group_name: spec.group.clone(),
        fingerprint: a.fingerprint.to_string(),
        started_at: a.active_at,
    }
}

fn record_of(spec: &AlertSpec, a: &Alert, now: DateTime<Utc>) -> AlertRecord {
    let label = |k: &str| a.labels.get(k).cloned().unwrap_or_default();
    let message = ["summary", "message", "description"]
        .iter()
        .find_map(|k| a.annotations.get(*k).filter(|s| !s.is_empty()).cloned())
        .unwrap_or_else(|| spec.name.clone());
    AlertRecord {
        alert_name: spec.name.clone(),
        group_name: spec.group.clone(),
        fingerprint: a.fingerprint.to_string(),
        // Anomaly alerts carry severity as an annotation, so a change of score does not
        // change their identity.
        severity: a
            .labels
            .get("severity")
            .or_else(|| a.annotations.get("severity"))
            .cloned()
            .unwrap_or_default(),
        device: label("device"),
        if_name: label("ifName"),
        interface_type: label("interface_type"),
        isp_provider: label("isp_provider"),
        message,
        value: finite(a.value),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        state: RowState::Firing,
        started_at: a.active_at,
        resolved_at: None,
        last_evaluated_at: now,
        caused_by: a.caused_by.clone(),
        held_since: None,
        hold_reason: None,
        resolution: None,
        resolution_note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn spec(for_min: u64, keep_min: u64) -> AlertSpec {
        AlertSpec {
            group: "g".into(),
            name: "IspDown".into(),
            for_: Duration::from_secs(for_min * 60),
            keep_firing_for: Duration::from_secs(keep_min * 60),
            touch_every: Duration::from_secs(3600),
            staleness_budget: Duration::from_secs(15 * 60),
        }
    }

    fn cand(device: &str) -> BTreeMap<Fingerprint, Candidate> {
        let labels: Labels = [
            ("alertname", "IspDown"),
            ("device", device),
            ("severity", "high"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut m = BTreeMap::new();
        m.insert(
            Fingerprint::of(&labels),
            Candidate {
                labels,
                annotations: [("summary".to_string(), format!("{device} is down"))].into(),
                value: 2.0,
            },
        );
        m
    }

    /// Runs a schedule of (minute, condition present) and returns the transitions by minute.
    fn run(spec: &AlertSpec, schedule: &[(i64, bool)]) -> Vec<(i64, &'static str)> {
        let mut set = AlertSet::default();
        let mut out = Vec::new();
        for &(m, on) in schedule {
            let c = if on { cand("R1") } else { BTreeMap::new() };
            for tr in set.step(spec, c, t(m), &NoSubject) {
                out.push((m, tr.kind()));
            }
        }
        out
    }

    #[test]
    fn table_of_lives() {
        type Case<'a> = (&'a str, AlertSpec, &'a [(i64, bool)], &'a [(i64, &'a str)]);
        let cases: &[Case] = &[
            (
                "for 0 fires at once and resolves when clear",
                spec(0, 0),
                &[(0, true), (1, true), (2, false)],
                &[(0, "fired"), (2, "resolved")],
            ),
            (
                "for 2m waits two intervals",
                spec(2, 0),
                &[(0, true), (1, true), (2, true), (3, false)],
                &[(2, "fired"), (3, "resolved")],
            ),
            (
                "a pending alert that clears leaves no trace",
                spec(2, 0),
                &[(0, true), (1, false), (2, true), (3, true)],
                &[],
            ),
            (
                "keep_firing_for holds a flapping alert",
                spec(0, 3),
                &[
                    (0, true),
                    (1, false),
                    (2, false),
                    (3, true),
                    (4, false),
                    (5, false),
                    (6, false),
                ],
                &[(0, "fired"), (6, "resolved")],
            ),
        ];
        for (name, spec, schedule, want) in cases {
            let got = run(spec, schedule);
            let want: Vec<(i64, &str)> = want.to_vec();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn one_alert_per_label_set_and_started_at_is_active_at() {
        let s = spec(1, 0);
        let mut set = AlertSet::default();
        let mut both = cand("R1");
        both.extend(cand("R2"));
        assert!(set.step(&s, both.clone(), t(0), &NoSubject).is_empty());
        let fired = set.step(&s, both, t(1), &NoSubject);
        assert_eq!(fired.len(), 2);
        for tr in &fired {
            match tr {
                Transition::Fired(r) => {
                    assert_eq!(r.started_at, t(0));
                    assert_eq!(r.last_evaluated_at, t(1));
                    assert_eq!(r.severity, "high");
                    assert!(r.message.ends_with("is down"));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn firing_alerts_are_touched_at_the_touch_interval() {
        let mut s = spec(0, 0);
        s.touch_every = Duration::from_secs(120);
        let mut set = AlertSet::default();
        let kinds: Vec<_> = (0..5)
            .flat_map(|m| set.step(&s, cand("R1"), t(m), &NoSubject))
            .map(|tr| tr.kind())
            .collect();
        assert_eq!(kinds, ["fired", "touched", "touched"]);
    }

    #[test]
    fn a_restored_alert_continues_its_row() {
        let s = spec(0, 0);
        let mut first = AlertSet::default();
        let Transition::Fired(row) = first.step(&s, cand("R1"), t(0), &NoSubject).remove(0) else {
            panic!("expected fired");
        };
        let mut second = AlertSet::default();
        second.restore(&row);
        assert!(
            second.step(&s, cand("R1"), t(1), &NoSubject).is_empty(),
            "no second insert"
        );
        let resolved = second.step(&s, BTreeMap::new(), t(2), &NoSubject);
        match &resolved[..] {
            [Transition::Resolved { episode, .. }] => {
                assert_eq!(episode.fingerprint, row.fingerprint);
                assert_eq!(episode.started_at, row.started_at);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn resolve_all_closes_only_firing_alerts() {
        let s = spec(1, 0);
        let mut set = AlertSet::default();
        set.step(&s, cand("R1"), t(0), &NoSubject);
        assert!(set.resolve_all(&s, t(0)).is_empty());
        set.step(&s, cand("R1"), t(0), &NoSubject);
        set.step(&s, cand("R1"), t(1), &NoSubject);
        assert_eq!(set.resolve_all(&s, t(2)).len(), 1);
    }

    /// Runs a schedule of (minute, condition present, evidence if gone) and returns the
    /// transitions by minute, with the hold reason or resolution they carry.
    fn run_evidence(spec: &AlertSpec, schedule: &[(i64, bool, Evidence)]) -> Vec<(i64, String)> {
        let mut set = AlertSet::default();
        let mut out = Vec::new();
        for &(m, on, ev) in schedule {
            let c = if on { cand("R1") } else { BTreeMap::new() };
            for tr in set.step(spec, c, t(m), &move |_: &Alert| ev) {
                let what = match &tr {
                    Transition::Held { reason, since, .. } => {
                        format!(
                            "held {} since {}",
                            reason.as_str(),
                            (*since - t(0)).num_minutes()
                        )
                    }
                    Transition::Resolved { resolution, .. } => {
                        format!("resolved {}", resolution.as_str())
                    }
                    other => other.kind().to_string(),
                };
                out.push((m, what));
            }
            for (a, _) in set.take_resolved() {
                out.push((m, format!("notify resolved {}", a.labels["device"])));
            }
        }
        out
    }

    #[test]
    fn gone_alerts_resolve_only_on_evidence() {
        use Evidence::*;
        type Case<'a> = (
            &'a str,
            AlertSpec,
            &'a [(i64, bool, Evidence)],
            &'a [(i64, &'a str)],
        );
        let cases: &[Case] = &[
            (
                "present data without the condition resolves as recovered",
                spec(0, 0),
                &[(0, true, Present), (1, false, Present)],
                &[
                    (0, "fired"),
                    (1, "resolved recovered"),
                    (1, "notify resolved R1"),
                ],
            ),
            (
                "a rule without a subject resolves as before",
                spec(0, 0),
                &[(0, true, NoSubject), (1, false, NoSubject)],
                &[
                    (0, "fired"),
                    (1, "resolved recovered"),
                    (1, "notify resolved R1"),
                ],
            ),
            (
                "an unreachable device holds the alert indefinitely, then present data resolves",
                spec(0, 0),
                &[
                    (0, true, Present),
                    (1, false, DeviceUnreachable),
                    (30, false, DeviceUnreachable),
                    (120, false, DeviceUnreachable),
                    (121, false, Present),
                ],
                &[
                    (0, "fired"),
                    (1, "held device_unreachable since 1"),
                    (120, "touched"),
                    (121, "resolved recovered"),
                    (121, "notify resolved R1"),
                ],
            ),
            (
                "the condition seen again unholds the same alert",
                spec(0, 0),
                &[
                    (0, true, Present),
                    (1, false, Missing),
                    (2, true, Present),
                    (3, false, Present),
                ],
                &[
                    (0, "fired"),
                    (1, "held no_data since 1"),
                    (2, "unheld"),
                    (3, "resolved recovered"),
                    (3, "notify resolved R1"),
                ],
            ),
            (
                "no data shorter than the budget continues the alert",
                spec(0, 0),
                &[
                    (0, true, Present),
                    (1, false, Missing),
                    (15, false, Missing),
                    (16, true, Present),
                ],
                &[(0, "fired"), (1, "held no_data since 1"), (16, "unheld")],
            ),
            (
                "no data past the budget closes as no_data and notifies nothing",
                spec(0, 0),
                &[
                    (0, true, Present),
                    (1, false, Missing),
                    (15, false, Missing),
                    (16, false, Missing),
                ],
                &[
                    (0, "fired"),
                    (1, "held no_data since 1"),
                    (16, "resolved no_data"),
                ],
            ),
            (
                "the budget counts from when no_data began, not from the device hold",
                spec(0, 0),
                &[
                    (0, true, Present),
                    (1, false, DeviceUnreachable),
                    (60, false, Missing),
                    (70, false, Missing),
                    (75, false, Missing),
                ],
                &[
                    (0, "fired"),
                    (1, "held device_unreachable since 1"),
                    (60, "held no_data since 1"),
                    (70, "touched"),
                    (75, "resolved no_data"),
                ],
            ),
            (
                "an unknown answer changes nothing",
                spec(0, 0),
                &[(0, true, Present), (1, false, Unknown), (2, false, Present)],
                &[
                    (0, "fired"),
                    (2, "resolved recovered"),
                    (2, "notify resolved R1"),
                ],
            ),
            (
                "keep_firing_for runs before evidence is asked",
                spec(0, 3),
                &[
                    (0, true, Present),
                    (1, false, Missing),
                    (2, false, Missing),
                    (3, false, Missing),
                    (4, false, Present),
                ],
                &[
                    (0, "fired"),
                    (3, "held no_data since 3"),
                    (4, "resolved recovered"),
                    (4, "notify resolved R1"),
                ],
            ),
        ];
        for (name, spec, schedule, want) in cases {
            let got = run_evidence(spec, schedule);
            let want: Vec<(i64, String)> = want.iter().map(|(m, s)| (*m, s.to_string())).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn awaiting_evidence_lists_gone_firing_alerts_past_keep_firing_for() {
        let s = spec(0, 2);
        let mut set = AlertSet::default();
        set.step(&s, cand("R1"), t(0), &NoSubject);
        assert!(set.awaiting_evidence(&s, &cand("R1"), t(1)).is_empty());
        assert!(set.awaiting_evidence(&s, &BTreeMap::new(), t(1)).is_empty());
        assert_eq!(set.awaiting_evidence(&s, &BTreeMap::new(), t(2)).len(), 1);
    }

    #[test]
    fn a_restored_held_alert_keeps_its_hold_and_root() {
        let s = spec(0, 0);
        let mut first = AlertSet::default();
        let Transition::Fired(mut row) = first.step(&s, cand("R1"), t(0), &NoSubject).remove(0)
        else {
            panic!("expected fired");
        };
        row.held_since = Some(t(1));
        row.hold_reason = Some(HoldReason::DeviceUnreachable);
        let root = Episode {
            alert_name: "SiteIsolated".into(),
            group_name: "outages".into(),
            fingerprint: "00000000000000aa".into(),
            started_at: t(0),
        };
        row.caused_by = Some(root.clone());
        let mut second = AlertSet::default();
        second.restore(&row);
        let unreachable = |_: &Alert| Evidence::DeviceUnreachable;
        assert!(
            second
                .step(&s, BTreeMap::new(), t(5), &unreachable)
                .is_empty(),
            "the same hold continues without a new transition"
        );
        let a = second.alerts().next().unwrap();
        assert_eq!(a.held_since, Some(t(1)));
        assert_eq!(a.caused_by, Some(root));
    }

    #[test]
    fn a_restored_no_data_hold_counts_its_budget_from_the_last_refresh_at_the_earliest() {
        let s = spec(0, 0);
        let mut first = AlertSet::default();
        let Transition::Fired(mut row) = first.step(&s, cand("R1"), t(0), &NoSubject).remove(0)
        else {
            panic!("expected fired");
        };
        // Held since minute 1 (device unreachable), no data from about minute 115, the row
        // last refreshed at 118, the ruler restarted at 120.
        row.held_since = Some(t(1));
        row.hold_reason = Some(HoldReason::NoData);
        row.last_evaluated_at = t(118);
        let mut second = AlertSet::default();
        second.restore(&row);
        let missing = |_: &Alert| Evidence::Missing;
        assert!(second
            .step(&s, BTreeMap::new(), t(120), &missing)
            .is_empty());
        assert!(second
            .step(&s, BTreeMap::new(), t(132), &missing)
            .is_empty());
        match &second.step(&s, BTreeMap::new(), t(133), &missing)[..] {
            [Transition::Resolved {
                resolution: Resolution::NoData,
                ..
            }] => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    struct Shadowed(Option<Episode>);
    impl Judge for Shadowed {
        fn evidence(&self, _: &Alert) -> Evidence {
            Evidence::Present
        }
        fn cause(&self, _: &Alert) -> Option<Episode> {
            self.0.clone()
        }
    }

    struct Noting;
    impl Judge for Noting {
        fn evidence(&self, _: &Alert) -> Evidence {
            Evidence::Present
        }
        fn recovery_note(&self, a: &Alert) -> Option<String> {
            Some(format!("{} answered again", a.labels["device"]))
        }
    }

    #[test]
    fn a_recovery_note_from_the_judge_goes_into_the_resolution() {
        let s = spec(0, 0);
        let mut set = AlertSet::default();
        set.step(&s, cand("R1"), t(0), &Noting);
        match &set.step(&s, BTreeMap::new(), t(1), &Noting)[..] {
            [Transition::Resolved {
                resolution: Resolution::Recovered,
                note: Some(note),
                ..
            }] => assert_eq!(note, "R1 answered again"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn roots_are_set_at_fire_time_or_linked_later() {
        let root = Episode {
            alert_name: "SiteIsolated".into(),
            group_name: "outages".into(),
            fingerprint: "00000000000000aa".into(),
            started_at: t(0),
        };
        let s = spec(0, 0);
        let mut set = AlertSet::default();
        match &set.step(&s, cand("R1"), t(0), &Shadowed(Some(root.clone())))[..] {
            [Transition::Fired(r)] => assert_eq!(r.caused_by.as_ref(), Some(&root)),
            other => panic!("unexpected {other:?}"),
        }
        let mut later = AlertSet::default();
        later.step(&s, cand("R1"), t(0), &Shadowed(None));
        match &later.step(&s, cand("R1"), t(1), &Shadowed(Some(root.clone())))[..] {
            [Transition::Link { child, parent }] => {
                assert_eq!(parent, &root);
                assert_eq!(child.started_at, t(0));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            later
                .step(&s, cand("R1"), t(2), &Shadowed(Some(root)))
                .is_empty(),
            "linked once"
        );
    }
}
