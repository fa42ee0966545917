//! The pure alert life: inactive -> pending -> firing -> resolved, one alert per label set,
//! with `for` and `keep_firing_for`. No IO and no clock: `now` is an argument, and every
//! change worth storing comes back as a [`Transition`] for the queue. Threshold rules and
//! anomaly detectors both feed it [`Candidate`]s.

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

/// The timing of one alert source.
#[derive(Debug, Clone)]
pub struct AlertSpec {
    pub group: String,
    pub name: String,
    pub for_: Duration,
    pub keep_firing_for: Duration,
    /// How often a firing alert's row gets its value and `last_evaluated_at` refreshed.
    pub touch_every: Duration,
}

/// Pending or firing; inactive alerts are simply absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Pending,
    Firing,
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
    #[serde(skip)]
    last_written: DateTime<Utc>,
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
}

/// Names one episode: its fingerprint and start are its identity in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Episode {
    pub alert_name: String,
    pub group_name: String,
    pub fingerprint: String,
    pub started_at: DateTime<Utc>,
}

/// A change to store, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The alert started firing: insert its row.
    Fired(Box<AlertRecord>),
    /// The alert resolved: close its row.
    Resolved {
        episode: Episode,
        resolved_at: DateTime<Utc>,
        value: Option<f64>,
    },
    /// Still firing: refresh value and `last_evaluated_at`.
    Touched {
        episode: Episode,
        at: DateTime<Utc>,
        value: Option<f64>,
    },
}

impl Transition {
    pub fn episode(&self) -> Episode {
        match self {
            Transition::Fired(r) => Episode {
                alert_name: r.alert_name.clone(),
                group_name: r.group_name.clone(),
                fingerprint: r.fingerprint.clone(),
                started_at: r.started_at,
            },
            Transition::Resolved { episode, .. } | Transition::Touched { episode, .. } => {
                episode.clone()
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Transition::Fired(_) => "fired",
            Transition::Resolved { .. } => "resolved",
            Transition::Touched { .. } => "touched",
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

    /// Advances every alert to `now` given the candidates present at `now` (keyed by the
    /// fingerprint of their labels, so there is one per label set by construction).
    pub fn step(
        &mut self,
        spec: &AlertSpec,
        candidates: BTreeMap<Fingerprint, Candidate>,
        now: DateTime<Utc>,
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
                last_written: now,
            });
            alert.value = c.value;
            alert.annotations = c.annotations;
            alert.last_seen = now;
            match alert.state {
                AlertState::Pending if elapsed(alert.active_at, now) >= spec.for_ => {
                    alert.state = AlertState::Firing;
                    alert.fired_at = Some(now);
                    alert.last_written = now;
                    out.push(Transition::Fired(Box::new(record_of(spec, alert, now))));
                }
                AlertState::Pending => {}
                AlertState::Firing => {
                    if elapsed(alert.last_written, now) >= spec.touch_every {
                        alert.last_written = now;
                        out.push(Transition::Touched {
                            episode: episode_of(spec, alert),
                            at: now,
                            value: finite(alert.value),
                        });
                    }
                }
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
            let Some(alert) = self.alerts.get(&fp) else {
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
                    if let Some(alert) = self.alerts.remove(&fp) {
                        out.push(Transition::Resolved {
                            episode: episode_of(spec, &alert),
                            resolved_at: now,
                            value: finite(alert.value),
                        });
                        self.resolved.push((alert, now));
                    }
                }
            }
        }
        out
    }

    /// Resolves every firing alert, as when the rule behind them is removed.
    pub fn resolve_all(&mut self, spec: &AlertSpec, now: DateTime<Utc>) -> Vec<Transition> {
        let alerts = std::mem::take(&mut self.alerts);
        let mut out = Vec::new();
        for a in alerts
            .into_values()
            .filter(|a| a.state == AlertState::Firing)
        {
            out.push(Transition::Resolved {
                episode: episode_of(spec, &a),
                resolved_at: now,
                value: finite(a.value),
            });
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
    /// the same row continues.
    pub fn restore(&mut self, row: &AlertRecord) {
        let fp =
            Fingerprint::parse(&row.fingerprint).unwrap_or_else(|| Fingerprint::of(&row.labels));
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
                last_written: row.last_evaluated_at,
            },
        );
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
            for tr in set.step(spec, c, t(m)) {
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
        assert!(set.step(&s, both.clone(), t(0)).is_empty());
        let fired = set.step(&s, both, t(1));
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
            .flat_map(|m| set.step(&s, cand("R1"), t(m)))
            .map(|tr| tr.kind())
            .collect();
        assert_eq!(kinds, ["fired", "touched", "touched"]);
    }

    #[test]
    fn a_restored_alert_continues_its_row() {
        let s = spec(0, 0);
        let mut first = AlertSet::default();
        let Transition::Fired(row) = first.step(&s, cand("R1"), t(0)).remove(0) else {
            panic!("expected fired");
        };
        let mut second = AlertSet::default();
        second.restore(&row);
        assert!(
            second.step(&s, cand("R1"), t(1)).is_empty(),
            "no second insert"
        );
        let resolved = second.step(&s, BTreeMap::new(), t(2));
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
        set.step(&s, cand("R1"), t(0));
        assert!(set.resolve_all(&s, t(0)).is_empty());
        set.step(&s, cand("R1"), t(0));
        set.step(&s, cand("R1"), t(1));
        assert_eq!(set.resolve_all(&s, t(2)).len(), 1);
    }
}
