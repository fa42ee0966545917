//! Baselines and anomaly detection: each critical interface's normal week, learned per
//! hour-of-week bucket from VictoriaMetrics history, stored in `interface_baselines`, and
//! compared with current traffic by an anomaly rule that shares the alert life of threshold
//! rules. Configured in its own YAML file next to the rule files.
//!
//! - `bucket`: local-time hour-of-week buckets
//! - `stats`: per-bucket statistics and confidence
//! - `score`: z-score and robust score, guards, severity
//! - `detect`: a query result turned into anomaly alert candidates
//! - `learn`: batched history pulls into stored baselines
//! - `cache`: the current bucket's baselines, read from the store

pub mod bucket;
pub mod cache;
pub mod detect;
pub mod learn;
pub mod score;
pub mod stats;

use crate::config::{parse_duration, RuleError};
use chrono_tz::Tz;
use score::ScoreSettings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Traffic direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    baselines: RawBaselines,
    #[serde(default)]
    anomaly: RawAnomaly,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaselines {
    /// Label matchers choosing the interfaces, e.g. `is_critical="true"`.
    selector: String,
    /// Counter per direction; traffic is `rate(COUNTER[resolution]) * 8 / 1e6` Mbps.
    #[serde(default)]
    metrics: Option<RawMetrics>,
    /// History learned from (default 14d).
    lookback: Option<String>,
    /// Step of the learned samples and rate window (default 5m).
    resolution: Option<String>,
    /// Zone of the hour-of-week buckets (default Asia/Tbilisi).
    timezone: Option<String>,
    /// How often baselines are learned again (default 7d).
    learn_every: Option<String>,
    /// Interfaces per history query (default 200).
    batch_interfaces: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    #[serde(rename = "in")]
    in_: String,
    out: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAnomaly {
    /// Evaluation interval (default 5m).
    interval: Option<String>,
    /// `in`, `out` or both (default both).
    directions: Option<Vec<String>>,
    /// `spike`, `drop` or both (default both).
    detect: Option<Vec<String>>,
    thresholds: Option<RawThresholds>,
    /// Buckets with less confidence never alert (default 0.7).
    min_confidence: Option<f64>,
    /// Deviations below this many Mbps never alert (default 5).
    min_deviation_mbps: Option<f64>,
    /// Spread floor in Mbps for near-zero buckets (default 1).
    floor_mbps: Option<f64>,
    /// Spread floor as a fraction of the bucket's level (default 0.05).
    relative_floor: Option<f64>,
    /// Anomalous evaluations in a row before an alert fires (default 3).
    consecutive: Option<u32>,
    /// How long an anomaly alert keeps firing once traffic is normal again (default 10m).
    keep_firing_for: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    low: f64,
    medium: f64,
    high: f64,
    critical: f64,
}

/// Validated baseline and anomaly settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineConfig {
    pub file: PathBuf,
    pub selector: String,
    pub metric_in: String,
    pub metric_out: String,
    pub lookback: Duration,
    pub resolution: Duration,
    pub tz: Tz,
    pub learn_every: Duration,
    pub batch_interfaces: usize,
    pub interval: Duration,
    pub directions: Vec<Direction>,
    pub score: ScoreSettings,
    pub consecutive: u32,
    pub keep_firing_for: Duration,
}

/// The alert name of anomaly alerts and the group they live in.
pub const ANOMALY_ALERT: &str = "TrafficAnomaly";
pub const ANOMALY_GROUP: &str = "wardflux-anomaly";

impl BaselineConfig {
    /// The traffic expression for `dir`, with `extra` matchers (e.g. a device batch) added.
    pub fn expr(&self, dir: Direction, extra: &str) -> String {
        let metric = match dir {
            Direction::In => &self.metric_in,
            Direction::Out => &self.metric_out,
        };
        let mut matchers = self.selector.trim().to_string();
        if !extra.is_empty() {
            if !matchers.is_empty() {
                matchers.push(',');
            }
            matchers.push_str(extra);
        }
        format!(
            "rate({metric}{{{matchers}}}[{}s]) * 8 / 1e6",
            self.resolution.as_secs()
        )
    }

    /// Traffic of every configured direction in one query (so detection costs one query per
    /// evaluation), each series labelled [`DIRECTION_LABEL`] with its direction.
    pub fn detect_expr(&self) -> String {
        self.directions
            .iter()
            .map(|d| {
                format!(
                    "label_replace({}, \"{DIRECTION_LABEL}\", \"{}\", \"\", \"\")",
                    self.expr(*d, ""),
                    d.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Loads and validates a baselines file.
    pub fn load(file: &Path) -> Result<BaselineConfig, RuleError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| RuleError::in_file(file, None, format!("cannot read: {e}")))?;
        Self::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<BaselineConfig, RuleError> {
        let raw: RawFile = serde_yaml::from_str(text).map_err(|e| {
            RuleError::in_file(
                file,
                e.location().map(|l| l.line()),
                format!("invalid YAML: {e}"),
            )
        })?;
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(&format!("{key}:")))
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
        let b = &raw.baselines;
        let selector = b.selector.trim().to_string();
        promql_parser::parser::parse(&format!("x{{{selector}}}")).map_err(|e| {
            fail(
                "selector",
                format!("not a list of label matchers: {}", e.trim()),
            )
        })?;
        let (metric_in, metric_out) = match &b.metrics {
            Some(m) => (m.in_.clone(), m.out.clone()),
            None => (
                "wardflux_if_in_octets_total".to_string(),
                "wardflux_if_out_octets_total".to_string(),
            ),
        };
        let tz_name = b.timezone.clone().unwrap_or_else(|| "Asia/Tbilisi".into());
        let tz: Tz = tz_name
            .parse()
            .map_err(|_| fail("timezone", format!("unknown time zone {tz_name:?}")))?;
        let resolution = dur("resolution", &b.resolution, 300)?;
        if resolution.as_secs() < 1 {
            return Err(fail("resolution", "must be at least 1s".into()));
        }
        let a = &raw.anomaly;
        let directions = match &a.directions {
            None => vec![Direction::In, Direction::Out],
            Some(v) => v
                .iter()
                .map(|d| {
                    Direction::parse(d)
                        .ok_or_else(|| fail("directions", format!("{d:?} is not in or out")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let detect = a
            .detect
            .clone()
            .unwrap_or_else(|| vec!["spike".into(), "drop".into()]);
        for d in &detect {
            if d != "spike" && d != "drop" {
                return Err(fail("detect", format!("{d:?} is not spike or drop")));
            }
        }
        let thresholds = match &a.thresholds {
            None => [3.0, 4.0, 5.0, 6.0],
            Some(t) => [t.low, t.medium, t.high, t.critical],
        };
        if !thresholds.windows(2).all(|w| w[0] < w[1]) || thresholds[0] <= 0.0 {
            return Err(fail(
                "thresholds",
                "must be positive and rise from low to critical".into(),
            ));
        }
        let min_confidence = a.min_confidence.unwrap_or(0.7);
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(fail("min_confidence", "must be within 0..1".into()));
        }
        let consecutive = a.consecutive.unwrap_or(3);
        if consecutive == 0 {
            return Err(fail("consecutive", "must be at least 1".into()));
        }
        Ok(BaselineConfig {
            file: file.to_path_buf(),
            selector,
            metric_in,
            metric_out,
            lookback: dur("lookback", &b.lookback, 14 * 86_400)?,
            resolution,
            tz,
            learn_every: dur("learn_every", &b.learn_every, 7 * 86_400)?,
            batch_interfaces: b.batch_interfaces.unwrap_or(200).max(1),
            interval: dur("interval", &a.interval, 300)?,
            directions,
            score: ScoreSettings {
                thresholds,
                min_confidence,
                min_deviation: a.min_deviation_mbps.unwrap_or(5.0),
                floor: a.floor_mbps.unwrap_or(1.0),
                relative_floor: a.relative_floor.unwrap_or(0.05),
                spikes: detect.iter().any(|d| d == "spike"),
                drops: detect.iter().any(|d| d == "drop"),
            },
            consecutive,
            keep_firing_for: dur("keep_firing_for", &a.keep_firing_for, 600)?,
        })
    }
}

/// The label [`BaselineConfig::detect_expr`] puts on each series: its direction.
pub const DIRECTION_LABEL: &str = "wardflux_direction";

/// Splits the result of [`BaselineConfig::detect_expr`] by direction, in the order of
/// `directions`, taking the direction label off; series without a known one are dropped.
pub fn split_directions(
    directions: &[Direction],
    samples: Vec<crate::datasource::Sample>,
) -> Vec<(Direction, Vec<crate::datasource::Sample>)> {
    let mut out: Vec<(Direction, Vec<crate::datasource::Sample>)> =
        directions.iter().map(|d| (*d, Vec::new())).collect();
    for mut s in samples {
        let dir = s
            .labels
            .remove(DIRECTION_LABEL)
            .and_then(|d| Direction::parse(&d));
        if let Some((_, v)) = out.iter_mut().find(|(d, _)| Some(*d) == dir) {
            v.push(s);
        }
    }
    out
}

/// The group that holds the anomaly rule, evaluated like any rule group.
pub fn anomaly_group(cfg: BaselineConfig) -> crate::config::Group {
    let expr = cfg.detect_expr();
    crate::config::Group {
        name: ANOMALY_GROUP.to_string(),
        file: cfg.file.clone(),
        interval: cfg.interval,
        staleness_budget: crate::alert::DEFAULT_STALENESS_BUDGET,
        rules: vec![crate::config::Rule {
            name: ANOMALY_ALERT.to_string(),
            expr,
            line: None,
            labels: Default::default(),
            raw_labels: Default::default(),
            kind: crate::config::RuleKind::Anomaly(std::sync::Arc::new(cfg)),
            needs_remote_check: None,
            staleness_budget: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_detection_query_split_by_direction() {
        let c = BaselineConfig::parse(Path::new("b.yml"), "baselines:\n  selector: 'x=\"1\"'\n")
            .unwrap();
        let e = c.detect_expr();
        assert!(e.contains(&c.expr(Direction::In, "")), "{e}");
        assert!(e.contains(&c.expr(Direction::Out, "")), "{e}");
        assert_eq!(e.matches(" or ").count(), c.directions.len() - 1, "{e}");
        let s = |dir: &str, dev: &str| crate::datasource::Sample {
            labels: [(DIRECTION_LABEL, dir), ("device", dev)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: 1.0,
        };
        let split = split_directions(
            &[Direction::In, Direction::Out],
            vec![
                s("out", "A"),
                s("in", "B"),
                s("sideways", "C"),
                s("out", "D"),
            ],
        );
        let got: Vec<(Direction, Vec<String>)> = split
            .into_iter()
            .map(|(d, v)| {
                assert!(v.iter().all(|s| !s.labels.contains_key(DIRECTION_LABEL)));
                (
                    d,
                    v.into_iter().map(|s| s.labels["device"].clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Direction::In, vec!["B".to_string()]),
                (Direction::Out, vec!["A".to_string(), "D".to_string()]),
            ]
        );
    }

    #[test]
    fn defaults_and_expression() {
        let c = BaselineConfig::parse(
            Path::new("b.yml"),
            "baselines:\n  selector: 'is_critical=\"true\"'\n",
        )
        .unwrap();
        assert_eq!(c.lookback, Duration::from_secs(14 * 86_400));
        assert_eq!(c.tz.name(), "Asia/Tbilisi");
        assert_eq!(c.consecutive, 3);
        assert_eq!(
            c.expr(Direction::In, "device=~\"A|B\""),
            "rate(wardflux_if_in_octets_total{is_critical=\"true\",device=~\"A|B\"}[300s]) * 8 / 1e6"
        );
    }

    #[test]
    fn bad_fields_name_file_line_and_field() {
        let cases = [
            ("baselines:\n  selector: 'x'\n", "b.yml:2: field \"selector\""),
            ("baselines:\n  selector: ''\n  timezone: Mars/Olympus\n", "b.yml:3: field \"timezone\""),
            ("baselines:\n  selector: ''\n  lookbak: 14d\n", "b.yml:3: invalid YAML"),
            (
                "baselines:\n  selector: ''\nanomaly:\n  thresholds: {low: 5, medium: 4, high: 6, critical: 7}\n",
                "b.yml:4: field \"thresholds\"",
            ),
        ];
        for (text, want) in cases {
            let got = BaselineConfig::parse(Path::new("b.yml"), text)
                .unwrap_err()
                .to_string();
            assert!(got.starts_with(want), "got {got:?} want {want:?}");
        }
    }
}
