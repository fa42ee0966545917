//! The engine: one runtime per rule group (rules, their alert sets, health), evaluated at
//! explicit times by [`Engine::evaluate_group`]; loops aligned to each group's interval;
//! reload that carries alert state over; the built-in `DatasourceUnreachable` alert. IO goes
//! through the `Querier`/`Importer`/`Notifier` traits and the transition queue. Gone alerts
//! resolve only on evidence ([`crate::evidence`]); the shadow context ([`crate::shadow`])
//! gives alerts their root and keeps caused alerts from Alertmanager.

use crate::alert::{
    Alert, AlertRecord, AlertSet, AlertSpec, Candidate, Episode, Evidence, HoldReason, Judge,
    NoSubject, Resolution, Transition,
};
use crate::baseline::bucket::Bucket;
use crate::baseline::cache::BaselineCache;
use crate::baseline::detect;
use crate::baseline::split_directions;
use crate::config::{Group, Rule, RuleKind, RuleSet};
use crate::datasource::{DatasourceError, Importer, Querier};
use crate::evidence::Subject;
use crate::labels::{Fingerprint, Labels};
use crate::metrics::{GroupLabel, HoldLabel, Metrics, RuleLabel, StateLabel};
use crate::notifier::{AmAlert, Notifier};
use crate::queue::TransitionQueue;
use crate::rule;
use crate::shadow::{Shadow, ShadowHandle};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Group name of the ruler's own alerts.
pub const INTERNAL_GROUP: &str = "wardflux-ruler";
/// The alert raised when the datasource stays unreachable past the grace period.
pub const UNREACHABLE_ALERT: &str = "DatasourceUnreachable";

/// Engine-wide knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often a firing alert's row is refreshed.
    pub touch_every: Duration,
    /// How long the datasource may be unreachable before `DatasourceUnreachable` fires.
    pub unreachable_grace: Duration,
    /// Shown in the `DatasourceUnreachable` alert (no secrets).
    pub datasource_name: String,
    /// Link back to the ruler for notifications.
    pub external_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            touch_every: Duration::from_secs(300),
            unreachable_grace: Duration::from_secs(300),
            datasource_name: "victoriametrics".into(),
            external_url: "http://localhost:9095".into(),
        }
    }
}

/// Health of one rule at its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

/// One rule's live state.
pub struct RuleRuntime {
    pub rule: Rule,
    pub spec: Option<AlertSpec>,
    /// What the rule's alerts are about, found once at load; `None` when the expression
    /// has no vector selector (its gone alerts resolve without asking).
    pub subject: Option<Subject>,
    /// The rule's own label names, left out when matching evidence to an alert.
    pub own_labels: BTreeSet<String>,
    pub alerts: AlertSet,
    pub health: Health,
    pub last_error: Option<String>,
    pub last_evaluation: Option<DateTime<Utc>>,
    pub last_duration: Duration,
    pub last_samples: usize,
}

/// One group's live state.
pub struct GroupRuntime {
    pub group: Group,
    pub rules: Vec<RuleRuntime>,
    pub last_evaluation: Option<DateTime<Utc>>,
    /// The outage group's topology problems at its last evaluation (logged once each).
    problems: BTreeSet<String>,
}

/// What one group evaluation produced.
#[derive(Default)]
pub struct Outcome {
    pub transitions: Vec<Transition>,
    pub notify: Vec<AmAlert>,
    pub unreachable: Option<DatasourceError>,
    pub reached: bool,
    pub recorded: usize,
    pub failed: Vec<(String, String)>,
    /// The fleet's reachability, when this was the outage group and it read the fleet.
    pub reachability: Option<Arc<crate::outage::step::Report>>,
    /// The shadow context for every group, when this was the outage group.
    pub shadow: Option<Shadow>,
}

/// A rule as `/api/v1/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<f64>,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub health: Health,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: Option<DateTime<Utc>>,
    #[serde(rename = "evaluationTime")]
    pub evaluation_time: f64,
    #[serde(rename = "lastSamples")]
    pub last_samples: usize,
    pub alerts: Vec<Alert>,
}

/// A group as `/api/v1/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub name: String,
    pub file: String,
    pub interval: f64,
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: Option<DateTime<Utc>>,
    pub rules: Vec<RuleStatus>,
}

impl GroupRuntime {
    pub fn new(group: Group, settings: &Settings) -> Self {
        let rules = group
            .rules
            .iter()
            .map(|r| RuleRuntime {
                spec: rule::alert_spec(&group, r, settings.touch_every),
                subject: Subject::of(&r.expr),
                own_labels: r.raw_labels.keys().cloned().collect(),
                rule: r.clone(),
                alerts: AlertSet::default(),
                health: Health::Unknown,
                last_error: None,
                last_evaluation: None,
                last_duration: Duration::ZERO,
                last_samples: 0,
            })
            .collect();
        GroupRuntime {
            group,
            rules,
            last_evaluation: None,
            problems: BTreeSet::new(),
        }
    }

    /// Restores firing alerts from open rows of this group; rows taken are removed.
    pub fn restore(&mut self, rows: &mut Vec<AlertRecord>) -> usize {
        let mut n = 0;
        rows.retain(|row| {
            if row.group_name != self.group.name {
                return true;
            }
            match self
                .rules
                .iter_mut()
                .find(|r| r.spec.is_some() && r.rule.name == row.alert_name)
            {
                Some(r) => {
                    r.alerts.restore(row);
                    n += 1;
                    false
                }
                None => true,
            }
        });
        n
    }

    /// Takes over the alert state of rules that did not change from `old`; returns the
    /// resolutions of firing alerts whose rule is gone.
    pub fn adopt(&mut self, old: GroupRuntime, now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        for mut o in old.rules {
            let id = o.rule.identity();
            match self
                .rules
                .iter_mut()
                .find(|r| r.rule.identity() == id && r.alerts.is_empty())
            {
                Some(r) => {
                    r.alerts = o.alerts;
                    r.health = o.health;
                    r.last_error = o.last_error;
                    r.last_evaluation = o.last_evaluation;
                }
                None => {
                    if let Some(spec) = &o.spec {
                        out.extend(o.alerts.resolve_all(spec, now));
                    }
                }
            }
        }
        out
    }

    /// Evaluates every rule at `now`, in order. A datasource that cannot be reached leaves
    /// every alert as it was.
    pub async fn evaluate(
        &mut self,
        querier: &dyn Querier,
        importer: &dyn Importer,
        baselines: Option<&BaselineCache>,
        now: DateTime<Utc>,
        settings: &Settings,
        shadow: &Shadow,
    ) -> Outcome {
        if let Some(cfg) = self.outage_config() {
            return self
                .evaluate_outages(&cfg, querier, importer, now, settings)
                .await;
        }
        let mut out = Outcome::default();
        let step = self.group.interval;
        let valid_for = step.max(Duration::from_secs(60)) * 4;
        for rr in &mut self.rules {
            let started = Instant::now();
            rr.last_evaluation = Some(now);
            if let Some(e) = &out.unreachable {
                // One unreachable answer is enough; do not wait out a timeout per rule.
                rr.health = Health::Err;
                rr.last_error = Some(e.to_string());
                continue;
            }
            let res = match produce(&rr.rule, querier, baselines, now, step).await {
                Ok(Produced::Candidates(cands, n)) => {
                    out.reached = true;
                    rr.last_samples = n;
                    match step_rule(rr, cands, querier, now, step, shadow, &self.group.name).await {
                        Ok(transitions) => {
                            out.transitions.extend(transitions);
                            out.notify.extend(notifications(
                                &mut rr.alerts,
                                shadow,
                                now,
                                valid_for,
                                &settings.external_url,
                            ));
                            Ok(())
                        }
                        Err(f) => Err(f),
                    }
                }
                Ok(Produced::Points(points)) => {
                    out.reached = true;
                    rr.last_samples = points.len();
                    match importer.import(&points).await {
                        Ok(()) => {
                            out.recorded += points.len();
                            Ok(())
                        }
                        Err(e) => Err(Failure::from(e)),
                    }
                }
                Err(f) => Err(f),
            };
            match res {
                Ok(()) => {
                    rr.health = Health::Ok;
                    rr.last_error = None;
                }
                Err(f) => {
                    match f.unreachable {
                        Some(e) => out.unreachable = Some(e),
                        None => {
                            out.reached |= f.reached;
                            warn!(group = %self.group.name, rule = %rr.rule.name, error = %f.msg, "rule evaluation failed");
                        }
                    }
                    rr.health = Health::Err;
                    rr.last_error = Some(f.msg.clone());
                    out.failed.push((rr.rule.name.clone(), f.msg));
                }
            }
            rr.last_duration = started.elapsed();
        }
        self.last_evaluation = Some(now);
        out
    }

    /// The outage settings, when this is the outage group.
    fn outage_config(&self) -> Option<Arc<crate::outage::config::OutageConfig>> {
        self.rules.iter().find_map(|r| match &r.rule.kind {
            RuleKind::Outage(cfg) => Some(cfg.clone()),
            _ => None,
        })
    }

    /// One evaluation of the outage group: read the fleet once for its three rules, write
    /// the reachability back, step the rows with the group's own evidence and causes, and
    /// hand the shadow map to every other group. An unreachable datasource changes nothing.
    async fn evaluate_outages(
        &mut self,
        cfg: &crate::outage::config::OutageConfig,
        querier: &dyn Querier,
        importer: &dyn Importer,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Outcome {
        let mut out = Outcome::default();
        let started = Instant::now();
        let step = self.group.interval;
        let valid_for = step.max(Duration::from_secs(60)) * 4;
        self.last_evaluation = Some(now);
        let seen = match crate::outage::run::observe(cfg, querier, now, step).await {
            Ok(seen) => seen,
            Err(e) => {
                let f = Failure::from(e);
                match &f.unreachable {
                    Some(e) => out.unreachable = Some(e.clone()),
                    None => {
                        out.reached = true;
                        warn!(group = %self.group.name, error = %f.msg, "outage evaluation failed");
                    }
                }
                for rr in &mut self.rules {
                    rr.last_evaluation = Some(now);
                    rr.health = Health::Err;
                    rr.last_error = Some(f.msg.clone());
                    out.failed.push((rr.rule.name.clone(), f.msg.clone()));
                }
                return out;
            }
        };
        out.reached = true;
        self.log_problems(&seen.report.problems);
        let recorded = crate::outage::recorded(&seen.report, now);
        let write = importer.import(&recorded).await;
        if let Err(e) = &write {
            warn!(group = %self.group.name, error = %e, "writing wardflux:device_reachability failed");
        } else {
            out.recorded += recorded.len();
        }
        let rules: Vec<(&AlertSpec, &mut AlertSet)> = self
            .rules
            .iter_mut()
            .filter_map(|r| Some((r.spec.as_ref()?, &mut r.alerts)))
            .collect();
        let stepped = crate::outage::run::step(&seen, cfg, rules, now);
        out.transitions = stepped.transitions;
        let shadow = stepped.shadow.context();
        for rr in &mut self.rules {
            out.notify.extend(notifications(
                &mut rr.alerts,
                &shadow,
                now,
                valid_for,
                &settings.external_url,
            ));
            rr.last_evaluation = Some(now);
            rr.last_samples = seen.samples;
            rr.last_duration = started.elapsed();
            match &write {
                Ok(()) => {
                    rr.health = Health::Ok;
                    rr.last_error = None;
                }
                Err(e) => {
                    rr.health = Health::Err;
                    rr.last_error = Some(format!("writing the reachability series: {e}"));
                }
            }
        }
        out.shadow = Some(shadow);
        out.reachability = Some(Arc::new(seen.report));
        out
    }

    /// Logs each topology contradiction once, when it appears.
    fn log_problems(&mut self, problems: &[String]) {
        let now: std::collections::BTreeSet<String> = problems.iter().cloned().collect();
        for p in now.difference(&self.problems) {
            warn!(group = %self.group.name, problem = %p, "topology problem");
        }
        for p in self.problems.difference(&now) {
            info!(group = %self.group.name, problem = %p, "topology problem gone");
        }
        self.problems = now;
    }

    pub fn status(&self) -> GroupStatus {
        GroupStatus {
            name: self.group.name.clone(),
            file: self.group.file.display().to_string(),
            interval: self.group.interval.as_secs_f64(),
            last_evaluation: self.last_evaluation,
            rules: self
                .rules
                .iter()
                .map(|r| {
                    let (kind, duration, keep, annotations) = match &r.rule.kind {
                        RuleKind::Alert {
                            for_,
                            keep_firing_for,
                            raw_annotations,
                            ..
                        } => (
                            "alerting",
                            Some(for_.as_secs_f64()),
                            Some(keep_firing_for.as_secs_f64()),
                            raw_annotations.clone(),
                        ),
                        RuleKind::Record => ("recording", None, None, BTreeMap::new()),
                        RuleKind::Anomaly(cfg) => (
                            "anomaly",
                            Some((cfg.interval * cfg.consecutive.saturating_sub(1)).as_secs_f64()),
                            Some(cfg.keep_firing_for.as_secs_f64()),
                            BTreeMap::new(),
                        ),
                        RuleKind::Outage(cfg) => (
                            "alerting",
                            Some(cfg.for_.as_secs_f64()),
                            Some(0.0),
                            BTreeMap::new(),
                        ),
                    };
                    RuleStatus {
                        name: r.rule.name.clone(),
                        kind,
                        query: r.rule.expr.clone(),
                        duration,
                        keep_firing_for: keep,
                        labels: r.rule.raw_labels.clone(),
                        annotations,
                        health: r.health,
                        last_error: r.last_error.clone(),
                        last_evaluation: r.last_evaluation,
                        evaluation_time: r.last_duration.as_secs_f64(),
                        last_samples: r.last_samples,
                        alerts: r.alerts.alerts().cloned().collect(),
                    }
                })
                .collect(),
        }
    }
}

/// The engine's answers to the alert life for one rule at one evaluation: the evidence
/// gathered for its gone alerts, and the shadow context for roots.
struct Answers<'a> {
    evidence: BTreeMap<Fingerprint, Evidence>,
    shadow: &'a Shadow,
    group: &'a str,
}

impl Judge for Answers<'_> {
    fn evidence(&self, alert: &Alert) -> Evidence {
        self.evidence
            .get(&alert.fingerprint)
            .copied()
            .unwrap_or(Evidence::Unknown)
    }

    fn cause(&self, alert: &Alert) -> Option<Episode> {
        self.shadow
            .root_of(&alert.labels, self.group)
            .filter(|root| root.fingerprint != alert.fingerprint.to_string())
            .cloned()
    }
}

/// Steps one alerting rule's alerts with its candidates, asking the datasource for evidence
/// about the firing alerts that are gone. An unreachable datasource (or a failed evidence
/// query) leaves the alerts as they are.
async fn step_rule(
    rr: &mut RuleRuntime,
    cands: BTreeMap<Fingerprint, Candidate>,
    querier: &dyn Querier,
    now: DateTime<Utc>,
    step: Duration,
    shadow: &Shadow,
    group: &str,
) -> Result<Vec<Transition>, Failure> {
    let Some(spec) = &rr.spec else {
        return Ok(Vec::new());
    };
    let gone = rr.alerts.awaiting_evidence(spec, &cands, now);
    let evidence = crate::evidence::gather(
        rr.subject.as_ref(),
        &rr.own_labels,
        &gone,
        querier,
        now,
        step,
    )
    .await
    .map_err(|e| Failure {
        msg: format!("asking for evidence: {e}"),
        reached: !e.is_unreachable(),
        unreachable: e.is_unreachable().then(|| e.clone()),
    })?;
    let answers = Answers {
        evidence,
        shadow,
        group,
    };
    Ok(rr.alerts.step(spec, cands, now, &answers))
}

/// True while `alert` is caused by a root that is still open: its root is what Alertmanager
/// gets, not it.
pub fn suppressed(alert: &Alert, shadow: &Shadow) -> bool {
    alert
        .caused_by
        .as_ref()
        .is_some_and(|root| shadow.is_open(root))
}

/// What Alertmanager gets from a rule after a step: every firing alert (held ones included,
/// as firing) and every recovered one, except those whose root is open.
fn notifications(
    alerts: &mut AlertSet,
    shadow: &Shadow,
    now: DateTime<Utc>,
    valid_for: Duration,
    external_url: &str,
) -> Vec<AmAlert> {
    let mut out: Vec<AmAlert> = alerts
        .alerts()
        .filter(|a| a.state == crate::alert::AlertState::Firing && !suppressed(a, shadow))
        .map(|a| AmAlert::firing(a, now, valid_for, external_url))
        .collect();
    for (a, at) in alerts.take_resolved() {
        if !suppressed(&a, shadow) {
            out.push(AmAlert::resolved(&a, at, external_url));
        }
    }
    out
}

/// What one rule produced at one instant.
enum Produced {
    /// Alert candidates and how many samples the queries returned.
    Candidates(BTreeMap<Fingerprint, Candidate>, usize),
    /// Recorded samples to write back.
    Points(crate::datasource::Recorded),
}

/// Why a rule produced nothing.
struct Failure {
    msg: String,
    /// Set when the datasource could not be reached: alert state must not move.
    unreachable: Option<DatasourceError>,
    /// The datasource answered (even if with an error).
    reached: bool,
}

impl From<DatasourceError> for Failure {
    fn from(e: DatasourceError) -> Self {
        let unreachable = e.is_unreachable().then(|| e.clone());
        Failure {
            reached: unreachable.is_none(),
            msg: e.to_string(),
            unreachable,
        }
    }
}

impl From<String> for Failure {
    fn from(msg: String) -> Self {
        Failure {
            msg,
            unreachable: None,
            reached: true,
        }
    }
}

/// Queries for one rule at `now` and turns the answer into candidates or points.
async fn produce(
    rule: &Rule,
    querier: &dyn Querier,
    baselines: Option<&BaselineCache>,
    now: DateTime<Utc>,
    step: Duration,
) -> Result<Produced, Failure> {
    match &rule.kind {
        RuleKind::Alert { .. } => {
            let samples = querier.query(&rule.expr, now, step).await?;
            let n = samples.len();
            Ok(Produced::Candidates(rule::candidates(rule, samples)?, n))
        }
        RuleKind::Record => {
            let result = querier.query_flat(&rule.expr, now, step).await?;
            Ok(Produced::Points(rule::recorded(rule, &result, now)?))
        }
        RuleKind::Anomaly(cfg) => {
            let cache = baselines
                .ok_or_else(|| Failure::from("no baseline store configured".to_string()))?;
            let bucket = Bucket::of(now, cfg.tz);
            let map = cache
                .get(bucket)
                .await
                .map_err(|e| Failure::from(e.to_string()))?;
            let mut cands = BTreeMap::new();
            // Every direction in one query: at most one query per rule.
            let samples = querier.query(&cfg.detect_expr(), now, step).await?;
            let n = samples.len();
            for (dir, samples) in split_directions(&cfg.directions, samples) {
                detect::candidates(cfg, dir, samples, &map, now, &mut cands);
            }
            Ok(Produced::Candidates(cands, n))
        }
        RuleKind::Outage(_) => Err(Failure::from(
            "outage rules are evaluated by their group".to_string(),
        )),
    }
}

/// A group with its runtime and its last published status.
pub struct GroupHandle {
    pub name: String,
    pub interval: Duration,
    runtime: tokio::sync::Mutex<GroupRuntime>,
    status: RwLock<Arc<GroupStatus>>,
}

impl GroupHandle {
    fn new(rt: GroupRuntime) -> Arc<Self> {
        Arc::new(GroupHandle {
            name: rt.group.name.clone(),
            interval: rt.group.interval,
            status: RwLock::new(Arc::new(rt.status())),
            runtime: tokio::sync::Mutex::new(rt),
        })
    }

    pub fn status(&self) -> Arc<GroupStatus> {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Internal {
    spec: AlertSpec,
    alerts: AlertSet,
}

/// Where the engine sends its output.
pub struct Deps {
    pub querier: Arc<dyn Querier>,
    pub importer: Arc<dyn Importer>,
    pub queue: Arc<TransitionQueue>,
    pub notifier: Option<Arc<dyn Notifier>>,
    pub metrics: Arc<Metrics>,
    /// Where anomaly rules find their baselines.
    pub baselines: Option<Arc<BaselineCache>>,
}

/// All groups, their loops, and the ruler's own alerts.
pub struct Engine {
    deps: Deps,
    settings: Settings,
    groups: RwLock<Vec<Arc<GroupHandle>>>,
    internal: tokio::sync::Mutex<Internal>,
    loops: std::sync::Mutex<Vec<(watch::Sender<bool>, JoinHandle<()>)>>,
    /// This replica's role, for the API (set by `leader::follow`; a lone engine leads).
    role: RwLock<crate::leader::Role>,
    /// The fleet's reachability at the outage group's last evaluation.
    reachability: RwLock<Arc<crate::outage::step::Report>>,
    /// Device -> root outage row, read by every group evaluation; empty unless set.
    shadow: ShadowHandle,
}

/// The first multiple of `interval` (since the epoch) at or after `t`.
pub fn align_up(t: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = interval.as_millis().max(1) as i64;
    let ms = t.timestamp_millis();
    let aligned = ms.div_euclid(step) * step + if ms.rem_euclid(step) == 0 { 0 } else { step };
    DateTime::from_timestamp_millis(aligned).unwrap_or(t)
}

impl Engine {
    pub fn new(rules: RuleSet, deps: Deps, settings: Settings) -> Arc<Self> {
        let groups = rules
            .groups
            .into_iter()
            .map(|g| GroupHandle::new(GroupRuntime::new(g, &settings)))
            .collect();
        let spec = AlertSpec {
            group: INTERNAL_GROUP.into(),
            name: UNREACHABLE_ALERT.into(),
            for_: settings.unreachable_grace,
            keep_firing_for: Duration::ZERO,
            touch_every: settings.touch_every,
            staleness_budget: crate::alert::DEFAULT_STALENESS_BUDGET,
        };
        deps.metrics.config_last_reload_successful.set(1);
        Arc::new(Engine {
            deps,
            settings,
            groups: RwLock::new(groups),
            internal: tokio::sync::Mutex::new(Internal {
                spec,
                alerts: AlertSet::default(),
            }),
            loops: std::sync::Mutex::new(Vec::new()),
            role: RwLock::new(crate::leader::Role::Leader),
            reachability: RwLock::new(Arc::default()),
            shadow: ShadowHandle::default(),
        })
    }

    /// The fleet's reachability at the outage group's last evaluation (empty before it).
    pub fn reachability(&self) -> Arc<crate::outage::step::Report> {
        self.reachability
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The shadow context every group evaluation reads: whoever computes it (the outage
    /// group) calls `set` on it; alerts whose `device` it covers get `caused_by` and are not
    /// notified while their root is open.
    pub fn shadow(&self) -> &ShadowHandle {
        &self.shadow
    }

    pub fn role(&self) -> crate::leader::Role {
        *self.role.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_role(&self, role: crate::leader::Role) {
        *self.role.write().unwrap_or_else(|p| p.into_inner()) = role;
    }

    /// The shortest group interval (how often anything is evaluated).
    pub fn shortest_interval(&self) -> Duration {
        self.handles()
            .iter()
            .map(|h| h.interval)
            .min()
            .unwrap_or(Duration::from_secs(60))
    }

    /// Forgets every live alert (a replica stepping down: the leader owns them now).
    pub async fn clear_alerts(&self) {
        for h in self.handles() {
            let mut rt = h.runtime.lock().await;
            for r in &mut rt.rules {
                r.alerts = AlertSet::default();
            }
            *h.status.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rt.status());
        }
        self.internal.lock().await.alerts = AlertSet::default();
    }

    /// Makes the firing alerts exactly the open rows (taking the lead): firing alerts without
    /// an open row are forgotten, open rows are restored as firing, pending alerts stay, and
    /// rows whose rule is gone are resolved at `now`.
    pub async fn resync(&self, rows: Vec<AlertRecord>, now: DateTime<Utc>) {
        for h in self.handles() {
            let mut rt = h.runtime.lock().await;
            for r in &mut rt.rules {
                r.alerts.forget_firing();
            }
        }
        self.internal.lock().await.alerts.forget_firing();
        self.restore(rows, now).await;
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.deps.metrics
    }

    pub fn queue(&self) -> &Arc<TransitionQueue> {
        &self.deps.queue
    }

    fn handles(&self) -> Vec<Arc<GroupHandle>> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Restores alerts that were firing before a restart from their open rows; rows whose
    /// rule no longer exists are resolved at `now`. Call before the loops start.
    pub async fn restore(&self, mut rows: Vec<AlertRecord>, now: DateTime<Utc>) {
        let total = rows.len();
        let mut restored = 0;
        for h in self.handles() {
            let mut rt = h.runtime.lock().await;
            restored += rt.restore(&mut rows);
            *h.status.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rt.status());
        }
        {
            let mut internal = self.internal.lock().await;
            rows.retain(|r| {
                if r.group_name == INTERNAL_GROUP && r.alert_name == UNREACHABLE_ALERT {
                    internal.alerts.restore(r);
                    restored += 1;
                    false
                } else {
                    true
                }
            });
        }
        let orphans: Vec<Transition> = rows
            .into_iter()
            .map(|r| Transition::Resolved {
                episode: Episode::of(&r),
                resolved_at: now,
                value: r.value,
                resolution: Resolution::RuleRemoved,
                note: None,
            })
            .collect();
        info!(
            open_rows = total,
            restored,
            orphaned = orphans.len(),
            "alert state restored from the store"
        );
        self.deps.queue.push(orphans);
    }

    /// Evaluates one group at `now` and hands its transitions and notifications on.
    pub async fn evaluate_group(&self, h: &GroupHandle, now: DateTime<Utc>) {
        let m = &self.deps.metrics;
        let gl = GroupLabel {
            group: h.name.clone(),
        };
        m.evaluations.get_or_create(&gl).inc();
        let started = Instant::now();
        let shadow = self.shadow.get();
        let (outcome, status) = {
            let mut rt = h.runtime.lock().await;
            let o = rt
                .evaluate(
                    self.deps.querier.as_ref(),
                    self.deps.importer.as_ref(),
                    self.deps.baselines.as_deref(),
                    now,
                    &self.settings,
                    &shadow,
                )
                .await;
            (o, rt.status())
        };
        m.evaluation_duration
            .get_or_create(&gl)
            .observe(started.elapsed().as_secs_f64());
        for (rule, _) in &outcome.failed {
            m.rule_failures
                .get_or_create(&RuleLabel {
                    group: h.name.clone(),
                    rule: rule.clone(),
                })
                .inc();
        }
        m.recorded_samples.inc_by(outcome.recorded as u64);
        let (mut pending, mut firing) = (0, 0);
        let mut held: BTreeMap<HoldReason, i64> = BTreeMap::new();
        for r in &status.rules {
            for a in &r.alerts {
                match a.state {
                    crate::alert::AlertState::Pending => pending += 1,
                    crate::alert::AlertState::Firing => firing += 1,
                }
                if let Some(reason) = a.hold_reason {
                    *held.entry(reason).or_default() += 1;
                }
            }
        }
        for reason in [HoldReason::DeviceUnreachable, HoldReason::NoData] {
            m.alerts_held
                .get_or_create(&HoldLabel {
                    group: h.name.clone(),
                    reason: reason.as_str().into(),
                })
                .set(held.get(&reason).copied().unwrap_or(0));
        }
        for (state, n) in [("pending", pending), ("firing", firing)] {
            m.alerts
                .get_or_create(&StateLabel {
                    group: h.name.clone(),
                    state: state.into(),
                })
                .set(n);
        }
        *h.status.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(status);
        if let Some(report) = &outcome.reachability {
            self.publish_reachability(report.clone());
        }
        if let Some(shadow) = &outcome.shadow {
            self.shadow.set(shadow.clone());
        }
        if let Some(e) = &outcome.unreachable {
            m.datasource_errors.inc();
            m.datasource_up.set(0);
            warn!(group = %h.name, error = %e, "datasource unreachable, alerts keep their state");
        } else if outcome.reached {
            m.datasource_up.set(1);
        }
        self.deps.queue.push(outcome.transitions);
        let mut notify = outcome.notify;
        notify.extend(
            self.step_internal(outcome.unreachable.as_ref(), outcome.reached, now)
                .await,
        );
        self.notify(&notify).await;
    }

    /// Makes `report` the fleet's reachability: API, self-metrics.
    fn publish_reachability(&self, report: Arc<crate::outage::step::Report>) {
        let m = &self.deps.metrics;
        let mut by_state: BTreeMap<&str, i64> = ["up", "down", "shadow", "unknown"]
            .into_iter()
            .map(|s| (s, 0))
            .collect();
        for d in &report.devices {
            *by_state.entry(d.state.as_str()).or_default() += 1;
        }
        for (state, n) in by_state {
            m.reachability_devices
                .get_or_create(&crate::metrics::ReachStateLabel {
                    state: state.to_string(),
                })
                .set(n);
        }
        m.reachability_problems.set(report.problems.len() as i64);
        m.isolated_sites
            .set(report.sites.iter().filter(|s| s.isolated).count() as i64);
        *self.reachability.write().unwrap_or_else(|p| p.into_inner()) = report;
    }

    /// Advances `DatasourceUnreachable`: present while the datasource fails, firing once it
    /// has failed for the grace period.
    async fn step_internal(
        &self,
        unreachable: Option<&DatasourceError>,
        reached: bool,
        now: DateTime<Utc>,
    ) -> Vec<AmAlert> {
        let mut internal = self.internal.lock().await;
        if unreachable.is_none() && !reached {
            return Vec::new();
        }
        let mut cands = BTreeMap::new();
        if let Some(e) = unreachable {
            let labels: Labels = [
                ("alertname", UNREACHABLE_ALERT),
                ("severity", "critical"),
                ("datasource", self.settings.datasource_name.as_str()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let summary = format!(
                "Datasource {} is unreachable; alerts are frozen: {e}",
                self.settings.datasource_name
            );
            cands.insert(
                Fingerprint::of(&labels),
                Candidate {
                    labels,
                    annotations: [("summary".to_string(), summary)].into(),
                    value: 1.0,
                },
            );
        }
        let Internal { spec, alerts } = &mut *internal;
        let transitions = alerts.step(spec, cands, now, &NoSubject);
        self.deps.queue.push(transitions);
        let mut out: Vec<AmAlert> = alerts
            .alerts()
            .filter(|a| a.state == crate::alert::AlertState::Firing)
            .map(|a| {
                AmAlert::firing(
                    a,
                    now,
                    Duration::from_secs(600),
                    &self.settings.external_url,
                )
            })
            .collect();
        out.extend(
            alerts
                .take_resolved()
                .iter()
                .map(|(a, at)| AmAlert::resolved(a, *at, &self.settings.external_url)),
        );
        out
    }

    async fn notify(&self, alerts: &[AmAlert]) {
        let Some(n) = &self.deps.notifier else {
            return;
        };
        if alerts.is_empty() {
            return;
        }
        self.deps.metrics.notifications.inc();
        if let Err(e) = n.send(alerts).await {
            self.deps.metrics.notification_errors.inc();
            warn!(error = %e, "notification failed");
        }
    }

    /// Evaluates every group at `now`, one after another, in file order (tests, bench).
    pub async fn evaluate_all(&self, now: DateTime<Utc>) {
        for h in self.handles() {
            self.evaluate_group(&h, now).await;
        }
    }

    /// Evaluates, in file order, the groups whose interval divides `now` (what the loops
    /// would do at `now`); for tests and the benchmark.
    pub async fn evaluate_due(&self, now: DateTime<Utc>) {
        for h in self.handles() {
            if align_up(now, h.interval) == now {
                self.evaluate_group(&h, now).await;
            }
        }
    }

    /// Statuses of all groups, and of the ruler's own alerts as a last group.
    pub async fn status(&self) -> Vec<Arc<GroupStatus>> {
        let mut out: Vec<Arc<GroupStatus>> = self.handles().iter().map(|h| h.status()).collect();
        let internal = self.internal.lock().await;
        out.push(Arc::new(GroupStatus {
            name: INTERNAL_GROUP.into(),
            file: String::new(),
            interval: 0.0,
            last_evaluation: None,
            rules: vec![RuleStatus {
                name: UNREACHABLE_ALERT.into(),
                kind: "alerting",
                query: "(built in: datasource unreachable)".into(),
                duration: Some(internal.spec.for_.as_secs_f64()),
                keep_firing_for: None,
                labels: Labels::new(),
                annotations: BTreeMap::new(),
                health: Health::Ok,
                last_error: None,
                last_evaluation: None,
                evaluation_time: 0.0,
                last_samples: 0,
                alerts: internal.alerts.alerts().cloned().collect(),
            }],
        }));
        out
    }

    /// Starts one loop per group, each evaluating at the multiples of its interval.
    pub fn start(self: &Arc<Self>) {
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        for h in self.handles() {
            let (tx, mut rx) = watch::channel(false);
            let engine = Arc::clone(self);
            let task = tokio::spawn(async move {
                loop {
                    let now = Utc::now();
                    let next = align_up(now + chrono::Duration::milliseconds(1), h.interval);
                    let wait = (next - now).to_std().unwrap_or_default();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = rx.changed() => return,
                    }
                    engine.evaluate_group(&h, next).await;
                }
            });
            loops.push((tx, task));
        }
    }

    /// Stops the loops, letting an evaluation in progress finish.
    pub async fn stop(&self) {
        let loops: Vec<_> =
            std::mem::take(&mut *self.loops.lock().unwrap_or_else(|p| p.into_inner()));
        let running = !loops.is_empty();
        for (tx, task) in loops {
            let _ = tx.send(true);
            let _ = task.await;
        }
        if running {
            info!("group loops stopped");
        }
    }

    /// Swaps in a new rule set; alerts of unchanged rules carry over, alerts of removed
    /// rules resolve. Loops are restarted if they were running.
    pub async fn reload(self: &Arc<Self>, rules: RuleSet, now: DateTime<Utc>) {
        let was_running = !self
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        self.stop().await;
        let old: Vec<Arc<GroupHandle>> = self.handles();
        let mut old_rt: BTreeMap<String, GroupRuntime> = BTreeMap::new();
        for h in old {
            let rt = std::mem::replace(
                &mut *h.runtime.lock().await,
                GroupRuntime::new(
                    Group {
                        name: h.name.clone(),
                        file: Default::default(),
                        interval: h.interval,
                        staleness_budget: crate::alert::DEFAULT_STALENESS_BUDGET,
                        rules: Vec::new(),
                    },
                    &self.settings,
                ),
            );
            old_rt.insert(h.name.clone(), rt);
        }
        let mut transitions = Vec::new();
        let mut handles = Vec::new();
        for g in rules.groups {
            let mut rt = GroupRuntime::new(g, &self.settings);
            if let Some(o) = old_rt.remove(&rt.group.name) {
                transitions.extend(rt.adopt(o, now));
            }
            handles.push(GroupHandle::new(rt));
        }
        for (_, o) in old_rt {
            for mut r in o.rules {
                if let Some(spec) = &r.spec {
                    transitions.extend(r.alerts.resolve_all(spec, now));
                }
            }
        }
        info!(
            groups = handles.len(),
            resolved = transitions.len(),
            "rules reloaded"
        );
        if !handles
            .iter()
            .any(|h| h.name == crate::outage::OUTAGE_GROUP)
        {
            // No outage group any more: nothing is in the shadow of anything.
            self.shadow.set(Shadow::default());
        }
        *self.groups.write().unwrap_or_else(|p| p.into_inner()) = handles;
        self.deps.queue.push(transitions);
        if was_running {
            self.start();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_file, LoadOptions};
    use crate::datasource::fake::FakeDatasource;
    use crate::datasource::Sample;
    use chrono::TimeZone;
    use std::path::Path;

    const RULES: &str = r#"groups:
  - name: g
    rules:
      - alert: Down
        expr: down
        for: 1m
        labels: {severity: high}
        annotations: {summary: "{{ $labels.device }} down"}
      - record: wardflux:r
        expr: r
"#;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn engine(ds: Arc<FakeDatasource>, rules: &str) -> Arc<Engine> {
        let groups = parse_file(Path::new("t.yml"), rules, &LoadOptions::default()).unwrap();
        let metrics = Arc::new(Metrics::new());
        Engine::new(
            RuleSet { groups },
            Deps {
                querier: ds.clone(),
                importer: ds,
                queue: TransitionQueue::new(100, metrics.clone()),
                notifier: None,
                metrics,
                baselines: None,
            },
            Settings {
                unreachable_grace: Duration::from_secs(120),
                ..Settings::default()
            },
        )
    }

    fn down(device: &str) -> Sample {
        Sample {
            labels: [("__name__", "down"), ("device", device)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: 2.0,
        }
    }

    #[tokio::test]
    async fn unreachable_datasource_freezes_alerts_then_raises_its_own() {
        let ds = Arc::new(FakeDatasource::default());
        let e = engine(ds.clone(), RULES);
        ds.answer("down", Ok(vec![down("R1")]));
        e.evaluate_all(t(0)).await;
        e.evaluate_all(t(1)).await;
        assert_eq!(e.queue().depth(), 1, "fired");
        let err = DatasourceError::Unreachable {
            what: "x".into(),
            detail: "connection refused".into(),
        };
        ds.answer("down", Err(err.clone()));
        ds.answer("r", Err(err));
        for m in 2..=4 {
            e.evaluate_all(t(m)).await;
        }
        let status = e.status().await;
        assert_eq!(status[0].rules[0].alerts.len(), 1, "still firing");
        let internal = &status.last().unwrap().rules[0].alerts;
        assert_eq!(internal.len(), 1);
        assert_eq!(internal[0].state, crate::alert::AlertState::Firing);
        assert_eq!(
            e.queue().depth(),
            2,
            "fired + DatasourceUnreachable fired, no resolve"
        );
        ds.answer("down", Ok(vec![]));
        ds.answer("r", Ok(vec![]));
        e.evaluate_all(t(5)).await;
        assert_eq!(
            e.queue().depth(),
            4,
            "DatasourceUnreachable resolves; Down is held: no evidence of recovery"
        );
        ds.answer("down{device=~\"R1\"}", Ok(vec![down("R1")]));
        e.evaluate_all(t(6)).await;
        assert_eq!(e.queue().depth(), 5, "Down resolves on evidence");
    }

    #[tokio::test]
    async fn reload_keeps_unchanged_rules_and_resolves_removed_ones() {
        let ds = Arc::new(FakeDatasource::default());
        let e = engine(ds.clone(), RULES);
        ds.answer("down", Ok(vec![down("R1")]));
        e.evaluate_all(t(0)).await;
        e.evaluate_all(t(1)).await;
        let same = parse_file(Path::new("t.yml"), RULES, &LoadOptions::default()).unwrap();
        e.reload(RuleSet { groups: same }, t(2)).await;
        assert_eq!(e.status().await[0].rules[0].alerts.len(), 1);
        assert_eq!(e.queue().depth(), 1);
        let fewer = RULES.replace("expr: down", "expr: down2");
        let changed = parse_file(Path::new("t.yml"), &fewer, &LoadOptions::default()).unwrap();
        e.reload(RuleSet { groups: changed }, t(3)).await;
        assert_eq!(e.queue().depth(), 2, "the changed rule's alert resolved");
    }

    #[tokio::test]
    async fn recording_rules_write_back_with_the_evaluation_time() {
        let ds = Arc::new(FakeDatasource::default());
        let e = engine(ds.clone(), RULES);
        ds.answer("r", Ok(vec![down("R1")]));
        e.evaluate_all(t(0)).await;
        let imported = ds.imported.lock().unwrap();
        assert_eq!(imported.len(), 1);
        assert!(
            imported[0].0.starts_with("wardflux:r{"),
            "{:?}",
            imported[0]
        );
        assert_eq!(imported[0].1, t(0).timestamp_millis());
    }

    #[test]
    fn align_up_rounds_to_the_next_multiple() {
        let at = |s: i64| Utc.timestamp_opt(s, 0).unwrap();
        assert_eq!(align_up(at(120), Duration::from_secs(60)), at(120));
        assert_eq!(align_up(at(121), Duration::from_secs(60)), at(180));
    }
}
