//! Evidence of recovery: a rule's *subject* (the first vector selector of its expression,
//! found once at load in the promql-parser AST), the instant queries that ask for it when
//! firing alerts are gone from the rule's result, and the pure judgement of each gone alert
//! from their answers (present -> recovered; absent with `wardflux_device_up == 0` -> held
//! as unreachable; absent with nothing known -> held as no data).

use crate::alert::{Alert, Evidence};
use crate::datasource::{DatasourceError, Querier, Sample};
use crate::labels::{Fingerprint, Labels, ALERT_NAME, METRIC_NAME};
use chrono::{DateTime, Utc};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The health series of each polled device (1 answering, 0 not).
pub const DEVICE_UP: &str = "wardflux_device_up";
/// The label naming a device on every exporter series.
pub const DEVICE: &str = "device";

/// What a rule's alerts are about: a selector whose presence is evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The selector as written, without `offset` or `@`, e.g. `ifOperStatus{interface_type="isp"}`.
    name: Option<String>,
    matchers: String,
    /// False when the selector uses `or` between matcher sets, where a matcher cannot be
    /// added by text.
    narrowable: bool,
}

struct FirstSelector(Option<parser::VectorSelector>);

impl ExprVisitor for FirstSelector {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        if self.0.is_some() {
            return Ok(false);
        }
        match e {
            Expr::VectorSelector(vs) => self.0 = Some(vs.clone()),
            Expr::MatrixSelector(ms) => self.0 = Some(ms.vs.clone()),
            _ => return Ok(true),
        }
        Ok(false)
    }
}

impl Subject {
    /// The subject of `expr`: its first vector selector in evaluation order (left operand
    /// first), or `None` when it has none (`vector(1)`) or does not parse (MetricsQL).
    pub fn of(expr: &str) -> Option<Subject> {
        let ast = parser::parse(expr).ok()?;
        let mut v = FirstSelector(None);
        let _ = walk_expr(&mut v, &ast);
        let vs = v.0?;
        Some(Subject {
            name: vs.name.clone(),
            matchers: vs.matchers.to_string(),
            narrowable: vs.matchers.or_matchers.is_empty(),
        })
    }

    /// The selector as queried when nothing narrows it.
    pub fn selector(&self) -> String {
        self.render(None)
    }

    fn render(&self, extra: Option<String>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.matchers.is_empty() {
            parts.push(self.matchers.clone());
        }
        if let Some(x) = extra {
            parts.push(x);
        }
        let name = self.name.as_deref().unwrap_or("");
        if parts.is_empty() {
            name.to_string()
        } else {
            format!("{name}{{{}}}", parts.join(","))
        }
    }

    /// The instant query for `alerts`: narrowed with `device=~"..."` when every one carries
    /// a `device` label.
    pub fn query_for<'a>(&self, alerts: impl IntoIterator<Item = &'a Alert>) -> String {
        match devices_of(alerts).and_then(|d| device_matcher(&d)) {
            Some(m) if self.narrowable => self.render(Some(m)),
            _ => self.selector(),
        }
    }
}

/// The devices of `alerts`, or `None` when one of them has no `device` label.
fn devices_of<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for a in alerts {
        out.insert(a.labels.get(DEVICE)?.clone());
    }
    (!out.is_empty()).then_some(out)
}

/// Longest device regex worth sending: past it (a fleet-wide outage) the whole selector is
/// cheaper than a query string the datasource may refuse.
const MAX_NARROWING: usize = 4096;

/// `device=~"a|b"` with each name matched literally; `None` when it would be too long.
fn device_matcher(devices: &BTreeSet<String>) -> Option<String> {
    let re: Vec<String> = devices.iter().map(|d| regex_literal(d)).collect();
    let re = re.join("|");
    (re.len() <= MAX_NARROWING).then(|| format!("{DEVICE}=~\"{}\"", promql_string(&re)))
}

fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn promql_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// True when `series` agrees with `alert` on every label both have, leaving out the metric
/// name, `alertname` and the rule's own labels (`own`).
pub fn agrees(alert: &Labels, series: &Labels, own: &BTreeSet<String>) -> bool {
    alert.iter().all(|(k, v)| {
        k == ALERT_NAME
            || k == METRIC_NAME
            || own.contains(k)
            || series.get(k).is_none_or(|s| s == v)
    })
}

/// The evidence for one gone alert from the subject's answer and the device-health answer.
pub fn judge(
    alert: &Alert,
    subject: &[Sample],
    device_up: &[Sample],
    own: &BTreeSet<String>,
) -> Evidence {
    if subject
        .iter()
        .any(|s| agrees(&alert.labels, &s.labels, own))
    {
        return Evidence::Present;
    }
    let down = alert.labels.get(DEVICE).is_some_and(|d| {
        device_up
            .iter()
            .any(|s| s.labels.get(DEVICE) == Some(d) && s.value == 0.0)
    });
    if down {
        Evidence::DeviceUnreachable
    } else {
        Evidence::Missing
    }
}

/// The evidence answers for `gone` alerts, by fingerprint; the queries this takes: one of
/// the subject, and one of `wardflux_device_up` for the gone alerts' devices when the subject
/// did not answer for all of them. No subject: every answer is [`Evidence::NoSubject`].
pub async fn gather(
    subject: Option<&Subject>,
    own: &BTreeSet<String>,
    gone: &[&Alert],
    querier: &dyn Querier,
    now: DateTime<Utc>,
    step: Duration,
) -> Result<BTreeMap<Fingerprint, Evidence>, DatasourceError> {
    let mut out = BTreeMap::new();
    if gone.is_empty() {
        return Ok(out);
    }
    let Some(subject) = subject else {
        out.extend(gone.iter().map(|a| (a.fingerprint, Evidence::NoSubject)));
        return Ok(out);
    };
    let present = querier
        .query(&subject.query_for(gone.iter().copied()), now, step)
        .await?;
    let missing: Vec<&Alert> = gone
        .iter()
        .copied()
        .filter(|a| !present.iter().any(|s| agrees(&a.labels, &s.labels, own)))
        .collect();
    let up = match devices_of(
        missing
            .iter()
            .copied()
            .filter(|a| a.labels.contains_key(DEVICE)),
    ) {
        Some(devs) => {
            let q = match device_matcher(&devs) {
                Some(m) => format!("{DEVICE_UP}{{{m}}}"),
                None => DEVICE_UP.to_string(),
            };
            querier.query(&q, now, step).await?
        }
        None => Vec::new(),
    };
    for a in gone {
        out.insert(a.fingerprint, judge(a, &present, &up, own));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, LoadOptions, RuleKind};

    #[test]
    fn subject_of_tricky_expressions() {
        let cases: &[(&str, Option<&str>)] = &[
            ("up == 0", Some("up")),
            (
                r#"(ifOperStatus{interface_type="isp"} == 2) and on(device) (ifAdminStatus == 1)"#,
                Some(r#"ifOperStatus{interface_type="isp"}"#),
            ),
            ("absent(x)", Some("x")),
            (r#"absent(x{job="a"})"#, Some(r#"x{job="a"}"#)),
            ("changes(ifOperStatus[15m]) >= 4", Some("ifOperStatus")),
            ("rate(x[5m] offset 1h) > 0", Some("x")),
            ("sum by (device) (rate(y[5m])) / 2", Some("y")),
            ("1 - avg_over_time(z[1h:5m])", Some("z")),
            ("avg_over_time((a == bool 1)[24h:5m])", Some("a")),
            ("vector(1)", None),
            ("time() > 0", None),
            ("vector(scalar(b)) > 1", Some("b")),
            (
                r#"{__name__="c", d!="e"}"#,
                Some(r#"{__name__="c",d!="e"}"#),
            ),
            (
                r#"wardflux:r{x=~"a.*"} > 0.8"#,
                Some(r#"wardflux:r{x=~"a.*"}"#),
            ),
            ("rollup_rate(x[5m])[1i]", None),
        ];
        for (expr, want) in cases {
            let got = Subject::of(expr).map(|s| s.selector());
            assert_eq!(got.as_deref(), *want, "{expr}");
        }
    }

    #[test]
    fn subjects_of_the_shipped_rules() {
        let pattern = format!("{}/../rules/alerts/*.yml", env!("CARGO_MANIFEST_DIR"));
        let rules = load(&[pattern], &LoadOptions::default()).unwrap();
        let got: BTreeMap<String, String> = rules
            .groups
            .iter()
            .flat_map(|g| &g.rules)
            .filter(|r| matches!(r.kind, RuleKind::Alert { .. }))
            .map(|r| {
                let s = Subject::of(&r.expr).map(|s| s.selector());
                (r.name.clone(), s.unwrap_or_default())
            })
            .collect();
        let want: BTreeMap<String, String> = [
            (
                "IspUplinkDownBackupWorking",
                r#"ifOperStatus{interface_type="isp"}"#,
            ),
            ("IspTotalOutage", r#"ifOperStatus{interface_type="isp"}"#),
            (
                "CriticalTrunkDown",
                r#"ifOperStatus{interface_type="trunk",is_critical="true"}"#,
            ),
            ("DeviceSnmpUnreachable", "wardflux_device_up"),
            (
                "InterfaceHighUtilisation",
                "wardflux:if_utilisation:ratio5m",
            ),
            ("InterfaceHighErrorRate", "wardflux:if_errors:ratio5m"),
            ("InterfaceFlapping", "ifOperStatus"),
            // Path health: the uplink's link state, so a router gone silent holds the row
            // and a probe or session back (link series present) resolves it.
            (
                "IspUplinkNotPassingTraffic",
                r#"ifOperStatus{interface_type="isp"}"#,
            ),
            (
                "BgpPeerFlapping",
                "wardflux_bgp_peer_established_transitions_total",
            ),
            ("DeviceCpuHigh", "wardflux_device_cpu_ratio"),
            ("DeviceMemoryHigh", "wardflux_device_memory_used_ratio"),
            (
                "DeviceTemperatureHigh",
                "wardflux_device_temperature_celsius",
            ),
            (
                "DeviceFanFailed",
                r#"wardflux_device_component_ok{component="fan"}"#,
            ),
            (
                "DevicePowerSupplyFailed",
                r#"wardflux_device_component_ok{component="power_supply"}"#,
            ),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        for (name, subject) in &want {
            assert_eq!(got.get(name), Some(subject), "{name}");
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)]) -> Alert {
        let mut set = crate::alert::AlertSet::default();
        let l = labels(pairs);
        let mut c = BTreeMap::new();
        c.insert(
            Fingerprint::of(&l),
            crate::alert::Candidate {
                labels: l,
                annotations: BTreeMap::new(),
                value: 1.0,
            },
        );
        let spec = crate::alert::AlertSpec {
            group: "g".into(),
            name: "A".into(),
            for_: Duration::ZERO,
            keep_firing_for: Duration::ZERO,
            touch_every: Duration::from_secs(60),
            staleness_budget: Duration::from_secs(60),
        };
        set.step(&spec, c, Utc::now(), &crate::alert::NoSubject);
        let a = set.alerts().next().unwrap().clone();
        a
    }

    #[test]
    fn queries_are_narrowed_to_the_gone_alerts_devices() {
        let s = Subject::of(r#"ifOperStatus{interface_type="isp"} == 2"#).unwrap();
        let a = alert(&[("device", "BR-1"), ("alertname", "A")]);
        let b = alert(&[("device", "r.2\"x"), ("alertname", "A")]);
        assert_eq!(
            s.query_for([&a, &b]),
            r#"ifOperStatus{interface_type="isp",device=~"BR-1|r\\.2\"x"}"#
        );
        let c = alert(&[("site", "x"), ("alertname", "A")]);
        assert_eq!(
            s.query_for([&a, &c]),
            r#"ifOperStatus{interface_type="isp"}"#,
            "an alert without a device: not narrowed"
        );
        let many: Vec<Alert> = (0..1000)
            .map(|i| alert(&[("device", &format!("DEV-{i:05}")), ("alertname", "A")]))
            .collect();
        assert_eq!(
            s.query_for(&many),
            r#"ifOperStatus{interface_type="isp"}"#,
            "a fleet-wide outage is not narrowed to a huge regex"
        );
        let bare = Subject::of("up == 0").unwrap();
        assert_eq!(bare.query_for([&a]), r#"up{device=~"BR-1"}"#);
        let parsed = parser::parse(&s.query_for([&a, &b]));
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels(pairs),
            value,
        }
    }

    #[test]
    fn judging_gone_alerts() {
        let own: BTreeSet<String> = ["severity".to_string()].into();
        let a = alert(&[
            ("alertname", "IspDown"),
            ("device", "R1"),
            ("ifIndex", "1"),
            ("severity", "high"),
        ]);
        let same = sample(
            &[
                ("__name__", "ifOperStatus"),
                ("device", "R1"),
                ("ifIndex", "1"),
                ("severity", "x"),
            ],
            1.0,
        );
        let other_if = sample(&[("device", "R1"), ("ifIndex", "2")], 1.0);
        let up = |v: f64| sample(&[("__name__", DEVICE_UP), ("device", "R1")], v);
        let other_dev_down = sample(&[("device", "R2")], 0.0);
        let cases: Vec<(&str, Vec<Sample>, Vec<Sample>, Evidence)> = vec![
            (
                "its series is back",
                vec![same.clone()],
                vec![],
                Evidence::Present,
            ),
            (
                "rule labels do not count against agreement",
                vec![same],
                vec![up(0.0)],
                Evidence::Present,
            ),
            (
                "another interface of the device is no evidence; device down",
                vec![other_if.clone()],
                vec![up(0.0)],
                Evidence::DeviceUnreachable,
            ),
            (
                "device answering but no series: no data",
                vec![other_if],
                vec![up(1.0)],
                Evidence::Missing,
            ),
            ("nothing at all", vec![], vec![], Evidence::Missing),
            (
                "another device down says nothing of this one",
                vec![],
                vec![other_dev_down],
                Evidence::Missing,
            ),
        ];
        for (name, subject, device_up, want) in cases {
            assert_eq!(judge(&a, &subject, &device_up, &own), want, "{name}");
        }
    }
}
