//! Turning one rule's query result into alert candidates or recorded samples: drop the
//! metric name, apply the rule's labels, render annotations, refuse duplicate label sets.
//! Pure: the group runtime does the querying.

use crate::alert::{AlertSpec, Candidate};
use crate::config::{Group, Rule, RuleKind};
use crate::datasource::{Point, Sample};
use crate::labels::{self, Fingerprint, Labels, ALERT_NAME, METRIC_NAME};
use crate::template::Context;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
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
        }),
        RuleKind::Anomaly(cfg) => Some(AlertSpec {
            group: group.name.clone(),
            name: rule.name.clone(),
            for_: cfg.interval * cfg.consecutive.saturating_sub(1),
            keep_firing_for: cfg.keep_firing_for,
            touch_every,
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
        let ctx_labels = l.clone();
        for (k, t) in &rule.labels {
            let v = t.render(&Context {
                labels: &ctx_labels,
                value: s.value,
            });
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

/// Samples to write back from a recording rule's result, stamped `at`.
pub fn recorded(
    rule: &Rule,
    samples: Vec<Sample>,
    at: DateTime<Utc>,
) -> Result<Vec<Point>, String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        if !s.value.is_finite() {
            continue;
        }
        let mut l = s.labels;
        l.insert(METRIC_NAME.to_string(), rule.name.clone());
        for (k, t) in &rule.labels {
            let v = t.render(&Context {
                labels: &Labels::new(),
                value: s.value,
            });
            l.insert(k.clone(), v);
        }
        if !seen.insert(Fingerprint::of(&l)) {
            return Err(format!(
                "result has more than one series with labels {}",
                labels::display(&l)
            ));
        }
        out.push(Point {
            labels: l,
            value: s.value,
            at,
        });
    }
    Ok(out)
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
            vec![
                sample(&[("device", "R1")], 0.5),
                sample(&[("device", "R2")], f64::NAN),
            ],
            at,
        )
        .unwrap();
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].labels["__name__"], "wardflux:y");
        assert_eq!(pts[0].labels["direction"], "in");
        assert_eq!(pts[0].at, at);
    }
}
