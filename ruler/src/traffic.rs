//! A traffic generator for proving anomaly detection: weeks of realistic per-interface
//! traffic (business-hours and weekend shapes, a holiday, growth, links near zero at night,
//! noise) with labelled injected anomalies (spikes, drops, outages, slow ramps) of various
//! sizes, written as the exporter's octet counters, for a synthetic fleet or for given label
//! sets (the demo's history for its live interfaces). Deterministic for a given seed.

use crate::datasource::{DatasourceError, Importer, Point, Series};
use crate::labels::Labels;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::time::Duration;

/// SplitMix64: small, fast, good enough for synthetic traffic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// What kind of departure was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnomalyKind {
    Spike,
    Drop,
    Outage,
    Ramp,
}

/// One injected anomaly: traffic is multiplied by `factor` (at the peak, for ramps) on one
/// interface and direction from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Injected {
    pub device: String,
    pub if_name: String,
    pub direction: &'static str,
    pub kind: AnomalyKind,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub factor: f64,
}

impl Injected {
    /// The multiplier at `t` (1 outside the anomaly).
    pub fn multiplier(&self, t: DateTime<Utc>) -> f64 {
        if t < self.start || t >= self.end {
            return 1.0;
        }
        match self.kind {
            AnomalyKind::Ramp => {
                let total = (self.end - self.start).num_seconds().max(1) as f64;
                let x = (t - self.start).num_seconds() as f64 / total;
                let tri = 1.0 - (2.0 * x - 1.0).abs();
                1.0 + (self.factor - 1.0) * tri
            }
            _ => self.factor,
        }
    }

    /// When the anomaly is strongest.
    pub fn peak(&self) -> DateTime<Utc> {
        match self.kind {
            AnomalyKind::Ramp => self.start + (self.end - self.start) / 2,
            _ => self.start + (self.end - self.start) / 2,
        }
    }
}

/// One interface's normal behaviour.
#[derive(Debug, Clone)]
pub struct Profile {
    pub labels: Labels,
    /// Business-hours inbound level, Mbps.
    pub level: f64,
    /// Outbound as a fraction of inbound.
    pub out_ratio: f64,
    /// Night traffic as a fraction of the level (near zero for some links).
    pub night: f64,
    pub weekend: f64,
    /// Relative noise (standard deviation as a fraction of the current value).
    pub noise: f64,
    /// Growth per week, as a fraction.
    pub growth: f64,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub interfaces: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub step: Duration,
    pub tz: Tz,
    /// A weekday with weekend traffic.
    pub holiday: Option<NaiveDate>,
    /// Anomalies are injected only from here on (the learning window stays clean).
    pub anomalies_from: DateTime<Utc>,
    /// Anomalies per interface and week of the injection window.
    pub anomalies_per_week: f64,
    pub seed: u64,
}

/// Interfaces and the anomalies injected into them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub profiles: Vec<Profile>,
    pub anomalies: Vec<Injected>,
}

const PROVIDERS: [&str; 6] = [
    "magti",
    "silknet",
    "veon",
    "geocell",
    "caucasus_online",
    "globaltel",
];

/// Business-hours inbound levels of the synthetic fleet, Mbps.
pub const SYNTHETIC_LEVEL_MBPS: (f64, f64) = (30.0, 800.0);

/// Label sets of a synthetic fleet: four interfaces per device (two ISP uplinks, a trunk, a
/// branch link) with the exporter's labels.
pub fn synthetic_fleet(interfaces: usize) -> Vec<Labels> {
    (0..interfaces)
        .map(|i| {
            let idx = i % 4;
            let kind = match idx {
                0 | 1 => "isp",
                2 => "trunk",
                _ => "branch_link",
            };
            let mut l = Labels::new();
            l.insert("device".into(), format!("BR-{:04}", i / 4));
            l.insert("ifIndex".into(), (idx + 1).to_string());
            l.insert("ifName".into(), format!("Gi0/0/{idx}"));
            l.insert("interface_type".into(), kind.into());
            if kind == "isp" {
                l.insert(
                    "isp_provider".into(),
                    PROVIDERS[(i / 4 * 2 + idx) % PROVIDERS.len()].into(),
                );
            }
            l.insert("is_critical".into(), "true".into());
            l.insert("site".into(), format!("site-{:03}", i / 4 % 120));
            l.insert("job".into(), "wardflux-devices".into());
            l
        })
        .collect()
}

/// Lays out the synthetic fleet of `spec.interfaces` and the anomalies.
pub fn plan(spec: &Spec) -> Plan {
    plan_for(spec, synthetic_fleet(spec.interfaces), SYNTHETIC_LEVEL_MBPS)
}

/// Lays out traffic for the given interfaces (label sets without `__name__`, each needing
/// `device` and `ifName`) with business-hours inbound levels drawn from `level_mbps`, and the
/// anomalies; `spec.interfaces` is not used.
pub fn plan_for(spec: &Spec, fleet: Vec<Labels>, level_mbps: (f64, f64)) -> Plan {
    let mut rng = Rng::new(spec.seed);
    let mut profiles = Vec::with_capacity(fleet.len());
    for l in fleet {
        profiles.push(Profile {
            labels: l,
            level: rng.range(level_mbps.0, level_mbps.1),
            out_ratio: rng.range(0.3, 0.7),
            night: if rng.unit() < 0.3 {
                0.003
            } else {
                rng.range(0.08, 0.3)
            },
            weekend: rng.range(0.2, 0.5),
            noise: rng.range(0.03, 0.07),
            growth: rng.range(0.0, 0.03),
        });
    }
    let mut anomalies = Vec::new();
    let window_h = (spec.end - spec.anomalies_from).num_hours().max(0);
    let weeks = window_h as f64 / 168.0;
    for p in &profiles {
        let n = (spec.anomalies_per_week * weeks).round() as usize;
        let mut taken: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for k in 0..n {
            let kind = [
                AnomalyKind::Spike,
                AnomalyKind::Drop,
                AnomalyKind::Outage,
                AnomalyKind::Ramp,
            ][(rng.next_u64() % 4) as usize];
            let (minutes, factor) = match kind {
                AnomalyKind::Spike => (
                    rng.range(30.0, 90.0),
                    [1.6, 2.0, 3.0, 4.0][(rng.next_u64() % 4) as usize],
                ),
                AnomalyKind::Drop => (
                    rng.range(45.0, 120.0),
                    [0.5, 0.25, 0.1][(rng.next_u64() % 3) as usize],
                ),
                AnomalyKind::Outage => (rng.range(30.0, 60.0), 0.0),
                AnomalyKind::Ramp => (180.0, rng.range(2.0, 3.0)),
            };
            // Business hours on weekdays, local time, so there is traffic to depart from.
            for _attempt in 0..20 {
                let day = (rng.unit() * window_h as f64 / 24.0).floor() as i64;
                let hour = rng.range(9.5, 16.0);
                let local_midnight = (spec.anomalies_from + chrono::Duration::days(day))
                    .with_timezone(&spec.tz)
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .and_then(|n| n.and_local_timezone(spec.tz).single());
                let Some(mid) = local_midnight else { continue };
                if mid.weekday().num_days_from_monday() >= 5
                    || Some(mid.date_naive()) == spec.holiday
                {
                    continue;
                }
                let start =
                    (mid + chrono::Duration::minutes((hour * 60.0) as i64)).with_timezone(&Utc);
                let start = crate::engine::align_up(start, spec.step);
                let end = start + chrono::Duration::minutes(minutes as i64);
                if start < spec.anomalies_from || end > spec.end {
                    continue;
                }
                let gap = chrono::Duration::hours(2);
                if taken
                    .iter()
                    .any(|(s, e)| start < *e + gap && *s < end + gap)
                {
                    continue;
                }
                taken.push((start, end));
                anomalies.push(Injected {
                    device: label(&p.labels, "device"),
                    if_name: label(&p.labels, "ifName"),
                    direction: if k % 2 == 0 { "in" } else { "out" },
                    kind,
                    start,
                    end,
                    factor,
                });
                break;
            }
        }
    }
    Plan {
        profiles,
        anomalies,
    }
}

fn label(l: &Labels, k: &str) -> String {
    l.get(k).cloned().unwrap_or_default()
}

/// The shape of a day at local hour `h` (fractional): 1 in business hours.
fn day_shape(h: f64, night: f64) -> f64 {
    let pts = [
        (0.0, night),
        (6.0, night),
        (9.0, 1.0),
        (12.5, 1.0),
        (13.0, 0.88),
        (14.0, 1.0),
        (18.0, 1.0),
        (22.0, night * 1.5 + 0.02),
        (24.0, night),
    ];
    for w in pts.windows(2) {
        let ((h0, v0), (h1, v1)) = (w[0], w[1]);
        if h >= h0 && h <= h1 {
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0);
        }
    }
    night
}

/// Noise-free traffic of a profile at `t` in Mbps for a direction.
pub fn expected(p: &Profile, spec: &Spec, t: DateTime<Utc>, dir: &str) -> f64 {
    let local = t.with_timezone(&spec.tz);
    let h = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
    let mut v = p.level * day_shape(h, p.night);
    let weekend = local.weekday().num_days_from_monday() >= 5;
    if weekend || Some(local.date_naive()) == spec.holiday {
        v *= p.weekend.max(p.night);
    }
    let weeks = (t - spec.start).num_seconds() as f64 / 604_800.0;
    v *= 1.0 + p.growth * weeks;
    if dir == "out" {
        v *= p.out_ratio;
    }
    v
}

/// Counter series (the exporter's wide `wardflux_if_in_octets_total`, `wardflux_if_out_octets_total`,
/// what the default baselines and recording rules read) of one profile over the spec's range.
pub fn series(p: &Profile, spec: &Spec, anomalies: &[&Injected], seed: u64) -> [Series; 2] {
    let mut rng = Rng::new(seed);
    let step_s = spec.step.as_secs_f64();
    let mut counters = [1e12_f64, 1e12_f64];
    let mut out = [
        ("in", "wardflux_if_in_octets_total"),
        ("out", "wardflux_if_out_octets_total"),
    ]
    .map(|(_, name)| {
        let mut l = p.labels.clone();
        l.insert("__name__".into(), name.into());
        Series {
            labels: l,
            points: Vec::new(),
        }
    });
    let mut t = spec.start;
    while t <= spec.end {
        for (i, dir) in ["in", "out"].iter().enumerate() {
            out[i]
                .points
                .push((t.timestamp_millis(), counters[i].floor()));
            // Traffic during the interval that starts now.
            let mut mbps = expected(p, spec, t, dir) * (1.0 + p.noise * rng.normal());
            for a in anomalies.iter().filter(|a| a.direction == *dir) {
                mbps *= a.multiplier(t);
            }
            counters[i] += mbps.max(0.0) * 1e6 / 8.0 * step_s;
        }
        t += chrono::Duration::from_std(spec.step).unwrap_or_default();
    }
    out
}

/// [`series`] as individual points.
pub fn points(p: &Profile, spec: &Spec, anomalies: &[&Injected], seed: u64) -> Vec<Point> {
    series(p, spec, anomalies, seed)
        .iter()
        .flat_map(|s| {
            s.points.iter().map(|(ts, v)| Point {
                labels: s.labels.clone(),
                value: *v,
                at: DateTime::from_timestamp_millis(*ts).unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes the plan into the datasource, a few interfaces at a time.
pub async fn backfill(
    importer: &dyn Importer,
    spec: &Spec,
    plan: &Plan,
) -> Result<usize, DatasourceError> {
    let mut total = 0;
    let mut batch = Vec::new();
    for (i, p) in plan.profiles.iter().enumerate() {
        let mine: Vec<&Injected> = plan
            .anomalies
            .iter()
            .filter(|a| {
                a.device == label(&p.labels, "device") && a.if_name == label(&p.labels, "ifName")
            })
            .collect();
        for s in series(p, spec, &mine, spec.seed ^ (i as u64 + 1)) {
            total += s.points.len();
            batch.push(s);
        }
        if batch.len() >= 100 {
            importer.import_series(&batch).await?;
            batch.clear();
        }
    }
    importer.import_series(&batch).await?;
    Ok(total)
}

/// An alert as the scoring below sees it.
#[derive(Debug, Clone)]
pub struct Raised {
    pub device: String,
    pub if_name: String,
    pub direction: String,
    pub started_at: DateTime<Utc>,
}

/// Precision, recall and false alerts of raised alerts against injected anomalies.
#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub alerts: usize,
    pub matched_alerts: usize,
    pub precision: f64,
    pub anomalies: usize,
    pub detected: usize,
    pub recall: f64,
    pub false_alerts: usize,
    pub false_per_interface_week: f64,
}

/// Scores `raised` against `anomalies` (only those `counted` enter recall); an alert matches
/// an anomaly on the same interface and direction that it starts within (or up to `grace`
/// after).
pub fn quality(
    raised: &[Raised],
    anomalies: &[Injected],
    counted: impl Fn(&Injected) -> bool,
    interface_weeks: f64,
    grace: chrono::Duration,
) -> Quality {
    let matches = |r: &Raised, a: &Injected| {
        r.device == a.device
            && r.if_name == a.if_name
            && r.direction == a.direction
            && r.started_at >= a.start
            && r.started_at <= a.end + grace
    };
    let matched_alerts = raised
        .iter()
        .filter(|r| anomalies.iter().any(|a| matches(r, a)))
        .count();
    let target: Vec<&Injected> = anomalies.iter().filter(|a| counted(a)).collect();
    let detected = target
        .iter()
        .filter(|a| raised.iter().any(|r| matches(r, a)))
        .count();
    let false_alerts = raised.len() - matched_alerts;
    Quality {
        alerts: raised.len(),
        matched_alerts,
        precision: if raised.is_empty() {
            1.0
        } else {
            matched_alerts as f64 / raised.len() as f64
        },
        anomalies: target.len(),
        detected,
        recall: if target.is_empty() {
            1.0
        } else {
            detected as f64 / target.len() as f64
        },
        false_alerts,
        false_per_interface_week: false_alerts as f64 / interface_weeks.max(1e-9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec() -> Spec {
        Spec {
            interfaces: 8,
            start: Utc.with_ymd_and_hms(2026, 2, 2, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 2, 23, 0, 0, 0).unwrap(),
            step: Duration::from_secs(300),
            tz: "Asia/Tbilisi".parse().unwrap(),
            holiday: NaiveDate::from_ymd_opt(2026, 2, 4),
            anomalies_from: Utc.with_ymd_and_hms(2026, 2, 16, 0, 0, 0).unwrap(),
            anomalies_per_week: 2.0,
            seed: 7,
        }
    }

    #[test]
    fn plan_is_deterministic_and_anomalies_stay_in_their_window() {
        let s = spec();
        let a = plan(&s);
        let b = plan(&s);
        assert_eq!(a.anomalies, b.anomalies);
        assert_eq!(a.anomalies.len(), 16);
        for x in &a.anomalies {
            assert!(x.start >= s.anomalies_from && x.end <= s.end);
        }
    }

    #[test]
    fn shapes_weekdays_weekends_holidays_and_nights() {
        let s = spec();
        let p = &plan(&s).profiles[0];
        // 2026-02-03 is a Tuesday; 07:00 UTC is 11:00 in Tbilisi.
        let tue = expected(
            p,
            &s,
            Utc.with_ymd_and_hms(2026, 2, 3, 7, 0, 0).unwrap(),
            "in",
        );
        let holiday = expected(
            p,
            &s,
            Utc.with_ymd_and_hms(2026, 2, 4, 7, 0, 0).unwrap(),
            "in",
        );
        let sat = expected(
            p,
            &s,
            Utc.with_ymd_and_hms(2026, 2, 7, 7, 0, 0).unwrap(),
            "in",
        );
        let night = expected(
            p,
            &s,
            Utc.with_ymd_and_hms(2026, 2, 3, 23, 0, 0).unwrap(),
            "in",
        );
        assert!(
            tue > holiday && tue > sat && tue > night,
            "{tue} {holiday} {sat} {night}"
        );
        assert!(
            (holiday - sat).abs() / sat < 0.01,
            "a holiday looks like a weekend"
        );
    }

    #[test]
    fn plan_for_keeps_the_given_labels_and_levels() {
        let s = spec();
        let mut l = Labels::new();
        l.insert("device".into(), "BRANCH-RTR-01".into());
        l.insert("ifName".into(), "isp0".into());
        l.insert("instance".into(), "127.0.0.1:9117".into());
        let pl = plan_for(&s, vec![l.clone(); 3], (1.0, 2.0));
        assert_eq!(pl.profiles.len(), 3);
        for p in &pl.profiles {
            assert_eq!(p.labels, l);
            assert!((1.0..=2.0).contains(&p.level), "{}", p.level);
        }
        assert!(pl.anomalies.iter().all(|a| a.device == "BRANCH-RTR-01"));
        // The synthetic fleet is plan_for over synthetic_fleet with the default levels.
        let a = plan(&s);
        let b = plan_for(&s, synthetic_fleet(s.interfaces), SYNTHETIC_LEVEL_MBPS);
        assert_eq!(a.anomalies, b.anomalies);
        assert_eq!(a.profiles[3].labels, b.profiles[3].labels);
    }

    #[test]
    fn counters_only_grow() {
        let s = spec();
        let pl = plan(&s);
        let pts = points(&pl.profiles[0], &s, &[], 1);
        let ins: Vec<f64> = pts
            .iter()
            .filter(|p| p.labels["__name__"] == "wardflux_if_in_octets_total")
            .map(|p| p.value)
            .collect();
        assert!(ins.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(ins.len(), 21 * 288 + 1);
    }

    #[test]
    fn quality_counts_matches_and_false_alerts() {
        let t = |h| Utc.with_ymd_and_hms(2026, 2, 16, h, 0, 0).unwrap();
        let a = Injected {
            device: "D".into(),
            if_name: "I".into(),
            direction: "in",
            kind: AnomalyKind::Spike,
            start: t(10),
            end: t(11),
            factor: 3.0,
        };
        let r = |h, dir: &str| Raised {
            device: "D".into(),
            if_name: "I".into(),
            direction: dir.into(),
            started_at: t(h),
        };
        let q = quality(
            &[r(10, "in"), r(10, "out"), r(14, "in")],
            &[a],
            |_| true,
            2.0,
            chrono::Duration::minutes(30),
        );
        assert_eq!((q.matched_alerts, q.false_alerts, q.detected), (1, 2, 1));
        assert!((q.precision - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(q.false_per_interface_week, 1.0);
    }
}
