//! Replay: rules evaluated over a past range, as they would have been live, with the
//! would-be alert-history rows written to a chosen store (for tuning rules on history).
//! Each rule is fetched with range queries in chunks and fed through the same alert life
//! at every aligned step, including steps where the result is empty. Gone alerts resolve
//! only on evidence, as live: the rule's subject and `wardflux_device_up` are fetched over
//! the chunk (once, when an alert first needs them) and judged at each step.

use crate::alert::{Alert, AlertSet, Candidate, Evidence, Resolution, Transition};
use crate::baseline::bucket::Bucket;
use crate::baseline::cache::BaselineCache;
use crate::baseline::detect;
use crate::baseline::split_directions;
use crate::config::RuleSet;
use crate::config::{Rule, RuleKind};
use crate::datasource::{DatasourceError, Importer, Querier, Sample};
use crate::engine::align_up;
use crate::evidence::{self, Subject};
use crate::labels::Fingerprint;
use crate::rule;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use thiserror::Error;
use tracing::info;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("replaying group {group:?} rule {rule:?}: {source}")]
    Datasource {
        group: String,
        rule: String,
        #[source]
        source: DatasourceError,
    },
    #[error("replaying group {group:?} rule {rule:?}: {msg}")]
    Rule {
        group: String,
        rule: String,
        msg: String,
    },
    #[error("replay writing to the store: {0}")]
    Store(#[from] StoreError),
    #[error("replay range is empty: --from must be before --to")]
    EmptyRange,
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Write recording-rule results back to the datasource.
    pub write_recording: bool,
    /// Steps per range query.
    pub steps_per_query: u32,
    pub touch_every: Duration,
}

/// Counts by rule: rows opened and closed.
#[derive(Debug, Default, Clone)]
pub struct ReplaySummary {
    pub fired: BTreeMap<String, usize>,
    pub resolved: BTreeMap<String, usize>,
    /// Rows closed for lack of data past the staleness budget (not recoveries).
    pub no_data: BTreeMap<String, usize>,
    pub recorded: usize,
    pub steps: usize,
}

/// Range results of one rule's query, by timestamp.
type Timeline = BTreeMap<i64, Vec<Sample>>;

/// The subject's and device health's range data over one chunk, for judging gone alerts.
struct RangeEvidence {
    subject: Timeline,
    device_up: Timeline,
}

async fn timeline(
    querier: &dyn Querier,
    expr: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> Result<Timeline, DatasourceError> {
    let mut by_time = Timeline::new();
    for s in querier.query_range(expr, start, end, step).await? {
        for (ts, v) in s.points {
            by_time.entry(ts).or_default().push(Sample {
                labels: s.labels.clone(),
                value: v,
            });
        }
    }
    Ok(by_time)
}

impl RangeEvidence {
    async fn fetch(
        subject: &Subject,
        querier: &dyn Querier,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Self, DatasourceError> {
        Ok(RangeEvidence {
            subject: timeline(querier, &subject.selector(), start, end, step).await?,
            device_up: timeline(querier, evidence::DEVICE_UP, start, end, step).await?,
        })
    }

    fn judge(&self, alert: &Alert, own: &BTreeSet<String>, ms: i64) -> Evidence {
        let none = Vec::new();
        evidence::judge(
            alert,
            self.subject.get(&ms).unwrap_or(&none),
            self.device_up.get(&ms).unwrap_or(&none),
            own,
        )
    }
}

async fn fetch(
    rule: &Rule,
    querier: &dyn Querier,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> Result<Timeline, DatasourceError> {
    let expr = match &rule.kind {
        RuleKind::Anomaly(cfg) => cfg.detect_expr(),
        _ => rule.expr.clone(),
    };
    timeline(querier, &expr, start, end, step).await
}

/// Alert candidates of `rule` at `t` from its fetched timeline.
async fn candidates_at(
    rule: &Rule,
    timeline: &mut Timeline,
    t: DateTime<Utc>,
    baselines: Option<&BaselineCache>,
) -> Result<BTreeMap<Fingerprint, Candidate>, String> {
    let ms = t.timestamp_millis();
    match &rule.kind {
        RuleKind::Anomaly(cfg) => {
            let cache = baselines.ok_or("anomaly replay needs the store holding the baselines")?;
            let map = cache
                .get(Bucket::of(t, cfg.tz))
                .await
                .map_err(|e| e.to_string())?;
            let mut out = BTreeMap::new();
            let samples = timeline.remove(&ms).unwrap_or_default();
            for (dir, samples) in split_directions(&cfg.directions, samples) {
                detect::candidates(cfg, dir, samples, &map, t, &mut out);
            }
            Ok(out)
        }
        _ => rule::candidates(rule, timeline.remove(&ms).unwrap_or_default()),
    }
}

/// Replays every rule in `rules` over `[from, to]`; anomaly rules read baselines through
/// `baselines`.
pub async fn replay(
    rules: &RuleSet,
    querier: &dyn Querier,
    importer: &dyn Importer,
    store: &dyn Store,
    baselines: Option<&BaselineCache>,
    opts: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    if opts.from >= opts.to {
        return Err(ReplayError::EmptyRange);
    }
    let mut sum = ReplaySummary::default();
    for g in &rules.groups {
        let step = g.interval;
        let step_ms = step.as_millis().max(1) as i64;
        let first = align_up(opts.from, step);
        for r in &g.rules {
            let spec = rule::alert_spec(g, r, opts.touch_every);
            if spec.is_none() && !opts.write_recording {
                continue;
            }
            let mut alerts = AlertSet::default();
            let subject = Subject::of(&r.expr);
            let own: BTreeSet<String> = r.raw_labels.keys().cloned().collect();
            let mut chunk_start = first;
            let err_ds = |source| ReplayError::Datasource {
                group: g.name.clone(),
                rule: r.name.clone(),
                source,
            };
            let err_rule = |msg| ReplayError::Rule {
                group: g.name.clone(),
                rule: r.name.clone(),
                msg,
            };
            while chunk_start <= opts.to {
                let span =
                    chrono::Duration::milliseconds(step_ms * (i64::from(opts.steps_per_query) - 1));
                let chunk_end = (chunk_start + span).min(opts.to);
                let mut t = chunk_start;
                match &spec {
                    None => {
                        // Recording: each series' labels rendered once for the whole chunk.
                        let series = querier
                            .query_range_flat(&r.expr, chunk_start, chunk_end, step)
                            .await
                            .map_err(err_ds)?;
                        let mut range = rule::RecordedRange::new(r, series);
                        while t <= chunk_end {
                            sum.steps += 1;
                            let batch = range.at(t.timestamp_millis()).map_err(err_rule)?;
                            importer.import(batch).await.map_err(err_ds)?;
                            sum.recorded += batch.len();
                            t += chrono::Duration::milliseconds(step_ms);
                        }
                    }
                    Some(spec) => {
                        let mut timeline = fetch(r, querier, chunk_start, chunk_end, step)
                            .await
                            .map_err(err_ds)?;
                        let mut range_evidence: Option<RangeEvidence> = None;
                        while t <= chunk_end {
                            sum.steps += 1;
                            let cands = candidates_at(r, &mut timeline, t, baselines)
                                .await
                                .map_err(err_rule)?;
                            let gone = alerts.awaiting_evidence(spec, &cands, t);
                            let ms = t.timestamp_millis();
                            let mut answers: BTreeMap<Fingerprint, Evidence> = BTreeMap::new();
                            if let (false, Some(subject)) = (gone.is_empty(), &subject) {
                                if range_evidence.is_none() {
                                    range_evidence = Some(
                                        RangeEvidence::fetch(
                                            subject,
                                            querier,
                                            chunk_start,
                                            chunk_end,
                                            step,
                                        )
                                        .await
                                        .map_err(err_ds)?,
                                    );
                                }
                                if let Some(ev) = &range_evidence {
                                    for a in &gone {
                                        answers.insert(a.fingerprint, ev.judge(a, &own, ms));
                                    }
                                }
                            }
                            let judge = |a: &Alert| {
                                if subject.is_none() {
                                    Evidence::NoSubject
                                } else {
                                    answers
                                        .get(&a.fingerprint)
                                        .copied()
                                        .unwrap_or(Evidence::Unknown)
                                }
                            };
                            for tr in alerts.step(spec, cands, t, &judge) {
                                let counter = match &tr {
                                    Transition::Fired(_) => Some(&mut sum.fired),
                                    Transition::Resolved {
                                        resolution: Resolution::NoData,
                                        ..
                                    } => Some(&mut sum.no_data),
                                    Transition::Resolved { .. } => Some(&mut sum.resolved),
                                    _ => None,
                                };
                                if let Some(c) = counter {
                                    *c.entry(r.name.clone()).or_default() += 1;
                                }
                                store.apply(&tr).await?;
                            }
                            alerts.take_resolved();
                            t += chrono::Duration::milliseconds(step_ms);
                        }
                    }
                }
                chunk_start = t;
            }
            info!(group = %g.name, rule = %r.name, "rule replayed");
        }
    }
    Ok(sum)
}
