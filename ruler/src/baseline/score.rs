//! Anomaly scoring, pure: a current value against its bucket's statistics. A z-score from
//! mean and standard deviation and a robust score from median and MAD must agree on the
//! direction; the smaller of the two sets the severity. Guards: minimum confidence, a floor
//! on the spread for quiet buckets, and a minimum absolute deviation.

use super::stats::BucketStats;
use serde::Serialize;

/// Scale from MAD to a normal standard deviation.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Spike or drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Spike,
    Drop,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Spike => "spike",
            Kind::Drop => "drop",
        }
    }
}

/// The detection knobs (validated from the baselines file).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSettings {
    /// Score thresholds for low, medium, high and critical.
    pub thresholds: [f64; 4],
    pub min_confidence: f64,
    /// Deviations smaller than this (Mbps) never alert.
    pub min_deviation: f64,
    /// The spread is never taken below this (Mbps), so near-zero buckets stay calm.
    pub floor: f64,
    /// Nor below this fraction of the bucket's typical level.
    pub relative_floor: f64,
    pub spikes: bool,
    pub drops: bool,
}

impl Default for ScoreSettings {
    fn default() -> Self {
        ScoreSettings {
            thresholds: [3.0, 4.0, 5.0, 6.0],
            min_confidence: 0.7,
            min_deviation: 5.0,
            floor: 1.0,
            relative_floor: 0.05,
            spikes: true,
            drops: true,
        }
    }
}

/// An anomalous value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    pub kind: Kind,
    pub z: f64,
    pub robust: f64,
    /// min(|z|, |robust|): what the thresholds compare.
    pub score: f64,
    pub severity: &'static str,
    pub expected: f64,
    pub spread: f64,
}

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Scores `value` against `stats`; `None` when it is normal or a guard holds it back.
pub fn score(stats: &BucketStats, value: f64, s: &ScoreSettings) -> Option<Anomaly> {
    if !value.is_finite() || stats.confidence < s.min_confidence {
        return None;
    }
    let level = stats.median.abs().max(stats.mean.abs());
    let floor = s.floor.max(s.relative_floor * level);
    let spread = stats.std_dev.max(floor);
    let robust_spread = (MAD_TO_SIGMA * stats.mad).max(floor);
    let z = (value - stats.mean) / spread;
    let robust = (value - stats.median) / robust_spread;
    let kind = if z > 0.0 && robust > 0.0 {
        Kind::Spike
    } else if z < 0.0 && robust < 0.0 {
        Kind::Drop
    } else {
        return None;
    };
    if (kind == Kind::Spike && !s.spikes) || (kind == Kind::Drop && !s.drops) {
        return None;
    }
    if (value - stats.median).abs() < s.min_deviation
        || (value - stats.mean).abs() < s.min_deviation
    {
        return None;
    }
    let score = z.abs().min(robust.abs());
    let level_index = s.thresholds.iter().rposition(|t| score >= *t)?;
    Some(Anomaly {
        kind,
        z,
        robust,
        score,
        severity: SEVERITIES[level_index],
        expected: stats.mean,
        spread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: f64, std_dev: f64, samples: usize) -> BucketStats {
        BucketStats {
            mean,
            std_dev,
            min: mean - 2.0 * std_dev,
            max: mean + 2.0 * std_dev,
            median: mean,
            mad: std_dev / MAD_TO_SIGMA,
            samples,
            confidence: super::super::stats::confidence(samples),
        }
    }

    #[test]
    fn table_of_scores() {
        let s = ScoreSettings::default();
        let b = stats(320.0, 80.0, 24);
        type Case<'a> = (&'a str, f64, Option<(Kind, &'a str)>);
        let cases: &[Case] = &[
            ("normal", 400.0, None),
            (
                "3 sigma spike is low",
                320.0 + 3.2 * 80.0,
                Some((Kind::Spike, "low")),
            ),
            (
                "seed example 850 vs 320+/-80 is critical",
                850.0,
                Some((Kind::Spike, "critical")),
            ),
            (
                "3.9 sigma drop is low",
                320.0 - 3.9 * 80.0,
                Some((Kind::Drop, "low")),
            ),
            (
                "4.5 sigma spike is medium",
                320.0 + 4.5 * 80.0,
                Some((Kind::Spike, "medium")),
            ),
            (
                "5.5 sigma spike is high",
                320.0 + 5.5 * 80.0,
                Some((Kind::Spike, "high")),
            ),
        ];
        for (name, v, want) in cases {
            let got = score(&b, *v, &s).map(|a| (a.kind, a.severity));
            assert_eq!(got, *want, "{name}");
        }
        let a = score(&b, 850.0, &s).unwrap();
        assert!((a.z - 6.625).abs() < 1e-9);
        assert_eq!(a.expected, 320.0);
    }

    #[test]
    fn drops_below_zero_spread_are_scored() {
        let s = ScoreSettings::default();
        let b = stats(500.0, 20.0, 24);
        let a = score(&b, 0.0, &s).unwrap();
        assert_eq!((a.kind, a.severity), (Kind::Drop, "critical"));
        // 5% of 500 (25) is above the learned 20: the floor makes this 4 sigma, medium.
        assert_eq!(score(&b, 400.0, &s).map(|a| a.severity), Some("medium"));
    }

    #[test]
    fn guards_hold_back_false_alarms() {
        let s = ScoreSettings::default();
        // Too few samples.
        assert!(score(&stats(320.0, 80.0, 10), 850.0, &s).is_none());
        // A near-zero night bucket: 3 Mbps against 0.2 +/- 0.1 is not an anomaly.
        assert!(score(&stats(0.2, 0.1, 24), 3.0, &s).is_none());
        // Directions can be switched off.
        let no_drops = ScoreSettings {
            drops: false,
            ..ScoreSettings::default()
        };
        assert!(score(&stats(500.0, 20.0, 24), 0.0, &no_drops).is_none());
        // The two scores must agree: mean says up, median says down.
        let mut skewed = stats(100.0, 10.0, 24);
        skewed.median = 200.0;
        assert!(score(&skewed, 150.0, &s).is_none());
    }
}
