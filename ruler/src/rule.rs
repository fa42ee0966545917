//! Turning one rule's query result into alert candidates or recorded samples: drop the
//! metric name, apply the rule's labels, render annotations, refuse duplicate label sets.
//! Pure: the group runtime does the querying.

use crate::alert::{AlertSpec, Candidate};
use crate::config::{Group, Rule, RuleKind};
use crate::datasource::{FlatSeries, Recorded, Sample, SeriesId};
use crate::labels::{self, Fingerprint, Labels, ALERT_NAME, METRIC_NAME};
use crate::template::Context;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The alert timing of an alerting rule; `None` for recording rules.
pub fn alert_spec(group: &Group, rule: &Rule, touch_every: Duration) -> Option<AlertSpec> {
    match &rule.kind {
        RuleKind::Alert {
            for_,
            keep_firing_for,
            ..
        } => Some(AlertSpec {
            group: group.name.clone(),
            name: rule.name.clone(),
            for_: *for_,
            keep_firing_for: *keep_firing_for,
            touch_every,
            staleness_budget: rule.staleness_budget.unwrap_or(group.staleness_budget),
        }),
        RuleKind::Anomaly(cfg) => Some(AlertSpec {
            group: group.name.clone(),
            name: rule.name.clone(),
            for_: cfg.interval * cfg.consecutive.saturating_sub(1),
            keep_firing_for: cfg.keep_firing_for,
            touch_every,
            staleness_budget: rule.staleness_budget.unwrap_or(group.staleness_budget),
        }),
        RuleKind::Outage(cfg) => Some(AlertSpec {
            group: group.name.clone(),
            name: rule.name.clone(),
            for_: cfg.for_,
            keep_firing_for: Duration::ZERO,
            touch_every,
            staleness_budget: group.staleness_budget,
        }),
        RuleKind::Record => None,
    }
}

/// Alert candidates from an alerting rule's result.
pub fn candidates(
    rule: &Rule,
    samples: Vec<Sample>,
) -> Result<BTreeMap<Fingerprint, Candidate>, String> {
    let RuleKind::Alert { annotations, .. } = &rule.kind else {
        return Err("not an alerting rule".into());
    };
    let mut out = BTreeMap::new();
    for s in samples {
        let mut l: Labels = s.labels;
        l.remove(METRIC_NAME);
        // Every rule label sees the series' own labels, rendered before any is applied.
        let rendered: Vec<(&String, String)> = rule
            .labels
            .iter()
            .map(|(k, t)| {
                let ctx = Context {
                    labels: &l,
                    value: s.value,
                };
                (k, t.render(&ctx))
            })
            .collect();
        for (k, v) in rendered {
            if v.is_empty() {
                l.remove(k);
            } else {
                l.insert(k.clone(), v);
            }
        }
        l.insert(ALERT_NAME.to_string(), rule.name.clone());
        let ctx = Context {
            labels: &l,
            value: s.value,
        };
        let ann = annotations
            .iter()
            .map(|(k, t)| (k.clone(), t.render(&ctx)))
            .collect();
        let fp = Fingerprint::of(&l);
        if out.contains_key(&fp) {
            return Err(format!(
                "result has more than one series with labels {} once the metric name is dropped",
                labels::display(&l)
            ));
        }
        out.insert(
            fp,
            Candidate {
                labels: l,
                annotations: ann,
                value: s.value,
            },
        );
    }
    Ok(out)
}

/// How a recording rule names and labels what it writes: the rule's name as the metric
/// name, the result series' labels with the rule's labels set over them. Recording rules'
/// labels are plain text (templates are refused at load), so they are rendered once.
pub struct Recording<'r> {
    name: &'r str,
    /// The rule's labels, sorted by name, without `__name__`.
    labels: Vec<(&'r str, String)>,
}

impl<'r> Recording<'r> {
    pub fn new(rule: &'r Rule) -> Self {
        let none = Labels::new();
        let ctx = Context {
            labels: &none,
            value: f64::NAN,
        };
        let mut name = rule.name.as_str();
        let mut labels = Vec::with_capacity(rule.labels.len());
        for (k, t) in &rule.labels {
            if k == METRIC_NAME {
                name = rule.raw_labels.get(k).map_or(name, String::as_str);
            } else {
                labels.push((k.as_str(), t.render(&ctx)));
            }
        }
        Recording { name, labels }
    }

    /// Appends the output series for a result series with `labels` (sorted by name).
    pub fn push_series<'a>(
        &self,
        out: &mut Recorded,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> SeriesId {
        out.begin_series(self.name);
        // Both sides are sorted by name: merge them, the rule's labels winning.
        let mut own = labels.filter(|(k, _)| *k != METRIC_NAME).peekable();
        let mut rule = self.labels.iter().peekable();
        loop {
            match (own.peek(), rule.peek()) {
                (Some((ok, ov)), Some((rk, rv))) => match (*ok).cmp(*rk) {
                    std::cmp::Ordering::Less => {
                        out.push_label(ok, ov);
                        own.next();
                    }
                    std::cmp::Ordering::Equal => {
                        out.push_label(rk, rv);
                        own.next();
                        rule.next();
                    }
                    std::cmp::Ordering::Greater => {
                        out.push_label(rk, rv);
                        rule.next();
                    }
                },
                (Some((ok, ov)), None) => {
                    out.push_label(ok, ov);
                    own.next();
                }
                (None, Some((rk, rv))) => {
                    out.push_label(rk, rv);
                    rule.next();
                }
                (None, None) => break,
            }
        }
        out.end_series()
    }
}

/// Samples to write back from a recording rule's instant result (one point per series),
/// stamped `at`; NaN and infinite values are skipped. Two series with the same labels once
/// named are an error.
pub fn recorded(rule: &Rule, result: &FlatSeries, at: DateTime<Utc>) -> Result<Recorded, String> {
    let rec = Recording::new(rule);
    let at_ms = at.timestamp_millis();
    let mut out = Recorded::new();
    for i in 0..result.len() {
        for &(_, v) in result.points(i) {
            if !v.is_finite() {
                continue;
            }
            let id = rec.push_series(&mut out, result.labels(i));
            out.push_sample(id, at_ms, v);
        }
    }
    let mut seen = HashSet::with_capacity(out.series_count());
    for block in out.blocks() {
        if !seen.insert(block) {
            return Err(format!("result has more than one series {block}"));
        }
    }
    Ok(out)
}

/// A recording rule's range result, written back one step at a time (replay). Each series'
/// label block is rendered once for the whole range; series that would write the same
/// labels are refused at a step where both have a value, as [`recorded`] would.
pub struct RecordedRange {
    series: FlatSeries,
    /// Per series, the index of its next point.
    cursor: Vec<usize>,
    /// Per series, its block in `out`.
    ids: Vec<SeriesId>,
    /// Per series, the first series with the same block when more than one has it.
    shared: Vec<Option<usize>>,
    out: Recorded,
}

impl RecordedRange {
    pub fn new(rule: &Rule, series: FlatSeries) -> Self {
        let recording = Recording::new(rule);
        let mut out = Recorded::new();
        let ids: Vec<SeriesId> = (0..series.len())
            .map(|i| recording.push_series(&mut out, series.labels(i)))
            .collect();
        let mut first: HashMap<&str, (usize, usize)> = HashMap::with_capacity(ids.len());
        let canon: Vec<usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let e = first.entry(out.block(*id)).or_insert((i, 0));
                e.1 += 1;
                e.0
            })
            .collect();
        let shared = canon
            .iter()
            .zip(&ids)
            .map(|(&c, id)| (first[out.block(*id)].1 > 1).then_some(c))
            .collect();
        RecordedRange {
            cursor: vec![0; series.len()],
            series,
            ids,
            shared,
            out,
        }
    }

    /// The samples at `at_ms`, stamped with it; NaN and infinite values are skipped. Steps
    /// come in increasing order; points between steps are passed over.
    pub fn at(&mut self, at_ms: i64) -> Result<&Recorded, String> {
        self.out.clear_samples();
        let mut present: HashSet<usize> = HashSet::new();
        for i in 0..self.series.len() {
            let points = self.series.points(i);
            let c = &mut self.cursor[i];
            while points.get(*c).is_some_and(|p| p.0 < at_ms) {
                *c += 1;
            }
            let Some(&(ts, v)) = points.get(*c) else {
                continue;
            };
            if ts != at_ms || !v.is_finite() {
                continue;
            }
            let id = self.ids[i];
            if let Some(first) = self.shared[i] {
                if !present.insert(first) {
                    return Err(format!(
                        "result has more than one series {}",
                        self.out.block(id)
                    ));
                }
            }
            self.out.push_sample(id, at_ms, v);
        }
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_file, LoadOptions};
    use std::path::Path;

    fn rules() -> Vec<Rule> {
        let text = r#"groups:
  - name: g
    rules:
      - alert: IspDown
        expr: x
        labels: {severity: high, team: "noc-{{ $labels.site }}"}
        annotations: {summary: "{{ $labels.ifName }} on {{ $labels.device }} is {{ $labels.severity }}"}
      - record: wardflux:y
        expr: y
        labels: {direction: in}
"#;
        parse_file(Path::new("t.yml"), text, &LoadOptions::default())
            .unwrap()
            .remove(0)
            .rules
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn alert_labels_and_annotations() {
        let r = &rules()[0];
        let got = candidates(
            r,
            vec![sample(
                &[
                    ("__name__", "ifOperStatus"),
                    ("device", "R1"),
                    ("ifName", "Gi0/1"),
                    ("site", "tbs"),
                ],
                2.0,
            )],
        )
        .unwrap();
        let c = got.values().next().unwrap();
        assert_eq!(c.labels.get("alertname").unwrap(), "IspDown");
        assert_eq!(c.labels.get("team").unwrap(), "noc-tbs");
        assert!(!c.labels.contains_key("__name__"));
        assert_eq!(c.annotations["summary"], "Gi0/1 on R1 is high");
    }

    #[test]
    fn duplicate_label_sets_are_an_error() {
        let r = &rules()[0];
        let dup = vec![
            sample(&[("__name__", "a"), ("device", "R1")], 1.0),
            sample(&[("__name__", "b"), ("device", "R1")], 1.0),
        ];
        assert!(candidates(r, dup)
            .unwrap_err()
            .contains("more than one series"));
    }

    #[test]
    fn recording_sets_name_and_labels_and_skips_nan() {
        let r = &rules()[1];
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let pts = recorded(
            r,
            &FlatSeries::from_samples(
                &[
                    sample(&[("__name__", "y"), ("device", "R1"), ("zone", "a")], 0.5),
                    sample(&[("device", "R2")], f64::NAN),
                    sample(&[("device", "R3"), ("direction", "out")], 2.0),
                ],
                0,
            ),
            at,
        )
        .unwrap();
        let got: Vec<(&str, i64, f64)> = pts.samples().collect();
        assert_eq!(
            got,
            vec![
                (
                    "wardflux:y{device=\"R1\",direction=\"in\",zone=\"a\"}",
                    at.timestamp_millis(),
                    0.5
                ),
                (
                    "wardflux:y{device=\"R3\",direction=\"in\"}",
                    at.timestamp_millis(),
                    2.0
                ),
            ]
        );
    }

    #[test]
    fn recording_refuses_series_that_only_differ_in_name_or_rule_labels() {
        let r = &rules()[1];
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let err = recorded(
            r,
            &FlatSeries::from_samples(
                &[
                    sample(&[("__name__", "a"), ("device", "R1")], 1.0),
                    sample(&[("device", "R1"), ("direction", "out")], 1.0),
                ],
                0,
            ),
            at,
        )
        .unwrap_err();
        assert!(err.contains("more than one series"), "{err}");
        assert!(
            err.contains("wardflux:y{device=\"R1\",direction=\"in\"}"),
            "{err}"
        );
    }

    fn series(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> crate::datasource::Series {
        crate::datasource::Series {
            labels: sample(pairs, 0.0).labels,
            points: points.to_vec(),
        }
    }

    #[test]
    fn recorded_range_writes_each_step_once_with_shared_blocks() {
        let r = &rules()[1];
        let mut range = RecordedRange::new(
            r,
            FlatSeries::from_series(&[
                series(&[("device", "R1")], &[(0, 1.0), (30, 9.0), (60, 2.0)]),
                series(&[("device", "R2")], &[(60, f64::NAN), (120, 3.0)]),
            ]),
        );
        let at0: Vec<(&str, i64, f64)> = range.at(0).unwrap().samples().collect();
        assert_eq!(
            at0,
            vec![("wardflux:y{device=\"R1\",direction=\"in\"}", 0, 1.0)]
        );
        let at60: Vec<(&str, i64, f64)> = range.at(60).unwrap().samples().collect();
        assert_eq!(
            at60,
            vec![("wardflux:y{device=\"R1\",direction=\"in\"}", 60, 2.0)]
        );
        let at120 = range.at(120).unwrap();
        assert_eq!(at120.series_count(), 2);
        let at120: Vec<(&str, i64, f64)> = at120.samples().collect();
        assert_eq!(
            at120,
            vec![("wardflux:y{device=\"R2\",direction=\"in\"}", 120, 3.0)]
        );
        assert!(range.at(180).unwrap().is_empty());
    }

    #[test]
    fn recorded_range_refuses_same_labels_only_where_both_have_a_value() {
        let r = &rules()[1];
        let mut range = RecordedRange::new(
            r,
            FlatSeries::from_series(&[
                series(
                    &[("__name__", "a"), ("device", "R1")],
                    &[(0, 1.0), (60, 1.0)],
                ),
                series(&[("device", "R2")], &[(0, 1.0), (60, 1.0), (120, 1.0)]),
                series(
                    &[("__name__", "b"), ("device", "R1")],
                    &[(60, 1.0), (120, 1.0)],
                ),
            ]),
        );
        assert_eq!(range.at(0).unwrap().len(), 2);
        let err = range.at(60).unwrap_err();
        assert!(err.contains("more than one series"), "{err}");
        assert_eq!(range.at(120).unwrap().len(), 2);
    }
}
