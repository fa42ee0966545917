//! Anomaly candidates, pure: current traffic samples of one direction scored against the
//! baselines of the bucket for `now`, turned into alert candidates with the operator's
//! message ("Traffic spike detected: 850 Mbps (expected 320 +/- 80 Mbps)").

use super::bucket::Bucket;
use super::score::{score, Anomaly};
use super::stats::BucketStats;
use super::{BaselineConfig, Direction, ANOMALY_ALERT};
use crate::alert::Candidate;
use crate::datasource::Sample;
use crate::labels::{Fingerprint, Labels, ALERT_NAME, METRIC_NAME};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Baselines of one bucket: (device, ifName, direction) -> statistics.
pub type BucketBaselines = HashMap<(String, String, Direction), BucketStats>;

fn mbps(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Message and annotations for one anomaly.
pub fn annotations(
    labels: &Labels,
    dir: Direction,
    value: f64,
    a: &Anomaly,
    stats: &BucketStats,
    bucket: Bucket,
) -> BTreeMap<String, String> {
    let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let what = match a.kind {
        super::score::Kind::Spike => "spike",
        super::score::Kind::Drop => "drop",
    };
    let summary = format!(
        "Traffic {what} detected: {} Mbps (expected {} +/- {} Mbps)",
        mbps(value),
        mbps(stats.mean),
        mbps(a.spread)
    );
    let isp = label("isp_provider");
    let isp = if isp.is_empty() {
        String::new()
    } else {
        format!(" ({isp})")
    };
    let description = format!(
        "{}bound traffic on {}{} of {} is {:.1} sigma {} its {} baseline (z-score {:.1}, robust score {:.1}, confidence {:.2}, {} samples)",
        if dir == Direction::In { "In" } else { "Out" },
        label("ifName"),
        isp,
        label("device"),
        a.score,
        if a.kind == super::score::Kind::Spike { "above" } else { "below" },
        bucket.label(),
        a.z,
        a.robust,
        stats.confidence,
        stats.samples,
    );
    [
        ("summary", summary),
        ("description", description),
        ("severity", a.severity.to_string()),
        ("z_score", format!("{:.2}", a.z)),
        ("robust_score", format!("{:.2}", a.robust)),
        ("expected_mbps", mbps(stats.mean)),
        ("spread_mbps", mbps(a.spread)),
        ("confidence", format!("{:.2}", stats.confidence)),
        ("time_context", bucket.label()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Candidates from `samples` (traffic in Mbps for `dir`) at `now`.
pub fn candidates(
    cfg: &BaselineConfig,
    dir: Direction,
    samples: Vec<Sample>,
    baselines: &BucketBaselines,
    now: DateTime<Utc>,
    out: &mut BTreeMap<Fingerprint, Candidate>,
) {
    let bucket = Bucket::of(now, cfg.tz);
    for s in samples {
        let (Some(device), Some(if_name)) = (s.labels.get("device"), s.labels.get("ifName")) else {
            continue;
        };
        let Some(stats) = baselines.get(&(device.clone(), if_name.clone(), dir)) else {
            continue;
        };
        let Some(a) = score(stats, s.value, &cfg.score) else {
            continue;
        };
        let mut labels = s.labels;
        labels.remove(METRIC_NAME);
        labels.insert(ALERT_NAME.into(), ANOMALY_ALERT.into());
        labels.insert("direction".into(), dir.as_str().into());
        labels.insert("kind".into(), a.kind.as_str().into());
        let ann = annotations(&labels, dir, s.value, &a, stats, bucket);
        out.insert(
            Fingerprint::of(&labels),
            Candidate {
                labels,
                annotations: ann,
                value: s.value,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::stats::compute;
    use chrono::TimeZone;
    use std::path::Path;

    #[test]
    fn seed_example_becomes_a_critical_spike_with_context() {
        let cfg =
            BaselineConfig::parse(Path::new("b.yml"), "baselines:\n  selector: ''\n").unwrap();
        // Monday 14:00 in Tbilisi.
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
        // 24 samples spread like a normal distribution of mean 320 and deviation 80.
        use statrs::distribution::{ContinuousCDF, Normal};
        let n = Normal::new(320.0, 80.0).unwrap();
        let values: Vec<f64> = (0..24)
            .map(|i| n.inverse_cdf((i as f64 + 0.5) / 24.0))
            .collect();
        let stats = compute(&values).unwrap();
        let mut b = BucketBaselines::new();
        b.insert(
            ("CORE-SW-01".into(), "Gi0/0/0".into(), Direction::In),
            stats,
        );
        let labels: Labels = [
            ("device", "CORE-SW-01"),
            ("ifName", "Gi0/0/0"),
            ("isp_provider", "magti"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut out = BTreeMap::new();
        candidates(
            &cfg,
            Direction::In,
            vec![Sample {
                labels: labels.clone(),
                value: 850.0,
            }],
            &b,
            now,
            &mut out,
        );
        candidates(
            &cfg,
            Direction::Out,
            vec![Sample {
                labels,
                value: 850.0,
            }],
            &b,
            now,
            &mut out,
        );
        assert_eq!(out.len(), 1, "no baseline for out: no candidate");
        let c = out.values().next().unwrap();
        assert_eq!(
            c.annotations["summary"],
            "Traffic spike detected: 850 Mbps (expected 320 +/- 80 Mbps)"
        );
        assert_eq!(c.annotations["severity"], "critical");
        assert_eq!(c.annotations["time_context"], "Monday 14:00");
        assert!(c.annotations["description"].contains("Gi0/0/0 (magti) of CORE-SW-01"));
        assert_eq!(c.labels["kind"], "spike");
        assert_eq!(c.labels["direction"], "in");
        assert!(
            !c.labels.contains_key("severity"),
            "severity changes must not split the alert"
        );
    }
}
