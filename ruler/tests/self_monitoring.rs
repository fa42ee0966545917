//! The shipped self-monitoring rules (`rules/alerts/30-self.yml`) against a real
//! VictoriaMetrics holding the series vmagent writes for the exporter, its per-device scrapes
//! and the ruler, and a real store: each fault fires its alert with the NOC's message and
//! resolves after it; a device whose SNMP is down is told apart from a device whose scrape
//! fails; the Watchdog fires and stays firing. Every scenario runs on SQLite and PostgreSQL.
//! The same rules against a real exporter stopped under a real vmagent are in
//! `exporter/tests/self_monitoring.rs`.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth).

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use common::*;
use wardflux_ruler::alert::RowState;
use wardflux_ruler::datasource::Point;
use wardflux_ruler::engine::Settings;
use wardflux_ruler::labels::Labels;
use wardflux_ruler::store::HistoryRow;

const EXPORTER: &str = "exporter.example:9117";
const RULER: &str = "ruler.example:9095";

/// One series, a sample a minute from `from` to `to` where `value` gives one.
fn gauge(
    name: &str,
    labels: &[(&str, &str)],
    from: i64,
    to: i64,
    value: impl Fn(i64) -> Option<f64>,
) -> Vec<Point> {
    let mut l = Labels::new();
    l.insert("__name__".into(), name.into());
    for (k, v) in labels {
        l.insert((*k).into(), (*v).into());
    }
    (from..=to)
        .filter_map(|m| {
            value(m).map(|v| Point {
                labels: l.clone(),
                value: v,
                at: at(m),
            })
        })
        .collect()
}

fn flag(b: bool) -> Option<f64> {
    Some(if b { 1.0 } else { 0.0 })
}

/// What vmagent would have written, minute by minute, for the faults of the scenario:
///   10-14 the exporter answers no scrape (its device scrapes fail with it);
///   20-25 device SCRAPE-D2's /probe fails while the exporter answers;
///   30-35 device SNMP-D3 does not answer SNMP (its scrape works);
///   40-49 nothing scrapes the exporter (vmagent stopped: no samples at all);
///   50-57 targets_sql fails;   60-62 SCRAPE-D2 misses poll intervals;
///   70-75 the ruler's store refuses writes, its queue holds transitions until 85;
///   90 the ruler drops transitions;   90-96 an Alertmanager refuses;
///   interface summaries: a run fails at 100 (one failure alone is no alert), another at
///   115, one writes its rows at 118.
fn fleet(to: i64) -> Vec<Point> {
    let exporter_down = |m: i64| (10..=14).contains(&m);
    let unscraped = |m: i64| (40..=49).contains(&m);
    let scraped = |m: i64, up: bool| (!unscraped(m)).then_some(if up { 1.0 } else { 0.0 });
    let mut pts = gauge(
        "up",
        &[("job", "wardflux-exporter"), ("instance", EXPORTER)],
        -10,
        to,
        |m| scraped(m, !exporter_down(m)),
    );
    for dev in ["SCRAPE-D2", "SNMP-D3"] {
        let probe_fails = |m: i64| dev == "SCRAPE-D2" && (20..=25).contains(&m);
        let snmp_down = |m: i64| dev == "SNMP-D3" && (30..=35).contains(&m);
        let probe_up = move |m: i64| !exporter_down(m) && !probe_fails(m);
        pts.extend(gauge(
            "up",
            &[
                ("job", "wardflux-devices"),
                ("instance", EXPORTER),
                ("device", dev),
            ],
            -10,
            to,
            |m| scraped(m, probe_up(m)),
        ));
        // A failed scrape writes no series of the target but `up`.
        let device_labels = [
            ("job", "wardflux-devices"),
            ("instance", EXPORTER),
            ("device", dev),
        ];
        pts.extend(gauge("wardflux_device_up", &device_labels, -10, to, |m| {
            if !probe_up(m) || unscraped(m) {
                None
            } else {
                flag(!snmp_down(m))
            }
        }));
        pts.extend(gauge(
            "wardflux_device_polls_missed_total",
            &device_labels,
            -10,
            to,
            |m| {
                if !probe_up(m) || unscraped(m) {
                    return None;
                }
                let missed = if dev == "SCRAPE-D2" {
                    (m.clamp(59, 62) - 59) as f64
                } else {
                    0.0
                };
                Some(missed)
            },
        ));
    }
    let exporter_self = [("job", "wardflux-exporter"), ("instance", EXPORTER)];
    pts.extend(gauge(
        "wardflux_targets_sql_up",
        &exporter_self,
        -10,
        to,
        |m| {
            if exporter_down(m) || unscraped(m) {
                None
            } else {
                flag(!(50..=57).contains(&m))
            }
        },
    ));
    let ruler = [("job", "wardflux-ruler"), ("instance", RULER)];
    pts.extend(gauge(
        "wardflux_ruler_store_errors_total",
        &ruler,
        -10,
        to,
        |m| Some((m.clamp(69, 75) - 69) as f64 * 3.0),
    ));
    pts.extend(gauge(
        "wardflux_ruler_transition_queue_depth",
        &ruler,
        -10,
        to,
        |m| Some(if (70..=85).contains(&m) { 12.0 } else { 0.0 }),
    ));
    pts.extend(gauge(
        "wardflux_ruler_transitions_dropped_total",
        &ruler,
        -10,
        to,
        |m| Some(if m >= 90 { 4.0 } else { 0.0 }),
    ));
    pts.extend(gauge(
        "wardflux_ruler_transitions_rejected_total",
        &ruler,
        -10,
        to,
        |_| Some(0.0),
    ));
    let summary_runs = |result: &'static str| {
        [
            ("job", "wardflux-ruler"),
            ("instance", RULER),
            ("result", result),
        ]
    };
    // Runs every 15 minutes before; the failures' series appears with the first failure.
    pts.extend(gauge(
        "wardflux_ruler_summary_runs_total",
        &summary_runs("success"),
        -10,
        to,
        |m| Some(if m >= 118 { 5.0 } else { 4.0 }),
    ));
    pts.extend(gauge(
        "wardflux_ruler_summary_runs_total",
        &summary_runs("datasource_error"),
        100,
        to,
        |m| Some(if m >= 115 { 2.0 } else { 1.0 }),
    ));
    pts.extend(gauge(
        "wardflux_ruler_alertmanager_up",
        &[
            ("job", "wardflux-ruler"),
            ("instance", RULER),
            ("alertmanager", "http://am-2.example:9093"),
        ],
        -10,
        to,
        |m| flag(!(90..=96).contains(&m)),
    ));
    pts
}

fn rows_named<'a>(rows: &'a [HistoryRow], alert: &str) -> Vec<&'a HistoryRow> {
    rows_of(rows, alert)
}

/// The only row of `alert` (a row exists only once the alert fired, after its `for`): its
/// condition first seen within `started`, resolved within `resolved` (minutes).
fn one_episode(
    rows: &[HistoryRow],
    alert: &str,
    started: std::ops::RangeInclusive<i64>,
    resolved: std::ops::RangeInclusive<i64>,
) -> HistoryRow {
    let of = rows_named(rows, alert);
    assert_eq!(of.len(), 1, "{alert}: one episode, got {of:#?}");
    let r = of[0].clone();
    let within = |t: DateTime<Utc>, range: &std::ops::RangeInclusive<i64>| {
        t >= at(*range.start()) && t <= at(*range.end())
    };
    assert!(
        within(r.record.started_at, &started),
        "{alert} started at {}, want minutes {started:?}",
        r.record.started_at
    );
    assert_eq!(
        r.record.state,
        RowState::Resolved,
        "{alert} resolved: {r:#?}"
    );
    let end = r.record.resolved_at.expect("resolved_at");
    assert!(
        within(end, &resolved),
        "{alert} resolved at {end}, want minutes {resolved:?}"
    );
    r
}

async fn each_fault_fires_its_alert_and_resolves_after_it(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&fleet(120)).await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        Settings::default(),
        None,
        all_shipped_rules(),
    )
    .await;
    h.run(0, 120).await;
    let rows = h.rows().await;

    let r = one_episode(&rows, "WardfluxExporterDown", 10..=10, 15..=16);
    assert_eq!(r.record.severity, "critical");
    assert_eq!(
        r.record.message,
        format!(
            "wardflux-exporter {EXPORTER} is down: no interface data is collected from its devices"
        )
    );
    let r = one_episode(&rows, "WardfluxDeviceScrapeFailing", 20..=20, 26..=27);
    assert_eq!(
        r.record.device, "SCRAPE-D2",
        "only the device whose /probe failed"
    );
    assert_eq!(
        r.record.message,
        "vmagent cannot scrape SCRAPE-D2 through the exporter (/probe): its interface series are missing"
    );
    let r = one_episode(&rows, "DeviceSnmpUnreachable", 30..=30, 36..=37);
    assert_eq!(
        r.record.device, "SNMP-D3",
        "a device not answering SNMP is not a failing scrape, and a failing scrape is not SNMP"
    );
    let r = one_episode(&rows, "WardfluxExporterNotScraped", 44..=45, 50..=50);
    assert!(r
        .record
        .message
        .starts_with("Nobody scrapes wardflux-exporter"));
    one_episode(&rows, "WardfluxTargetsSqlFailing", 50..=50, 58..=59);
    let r = one_episode(&rows, "WardfluxPollsMissed", 60..=60, 75..=78);
    assert!(
        r.record.message.starts_with(&format!(
            "1 devices of wardflux-exporter {EXPORTER} missed poll intervals"
        )),
        "{}",
        r.record.message
    );
    one_episode(&rows, "WardfluxRulerStoreFailing", 70..=70, 76..=81);
    one_episode(&rows, "WardfluxRulerQueueBacklog", 70..=70, 86..=87);
    let r = one_episode(&rows, "WardfluxRulerTransitionsLost", 90..=90, 104..=106);
    assert_eq!(r.record.severity, "critical");
    let r = one_episode(&rows, "WardfluxAlertmanagerUnreachable", 90..=90, 97..=98);
    assert!(r.record.message.contains("http://am-2.example:9093"));
    let r = one_episode(&rows, "WardfluxRulerSummariesFailing", 115..=115, 118..=119);
    assert_eq!(r.record.severity, "warning");
    assert_eq!(
        r.record.message,
        format!("wardflux-ruler {RULER} wrote no interface summary in 30 minutes (2 failed runs)")
    );

    let watchdog = rows_named(&rows, "Watchdog");
    assert_eq!(watchdog.len(), 1, "{watchdog:#?}");
    assert_eq!(watchdog[0].record.state, RowState::Firing, "always firing");
    assert_eq!(watchdog[0].record.severity, "info");
}

both_stores!(each_fault_fires_its_alert_and_resolves_after_it);
