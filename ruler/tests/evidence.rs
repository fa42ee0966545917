//! An alert resolves only on evidence, against real VictoriaMetrics and both stores: a
//! device that goes unreachable holds its interface alerts, a scrape gap shorter than the
//! staleness budget continues the row, a longer one closes it as `no_data`; `absent()` and
//! recorded-series rules; a restart during a hold; `caused_by` roots set at fire time and by
//! a later link, shown by `/api/v1/history`, with the caused alert kept from a real
//! Alertmanager; a `no_data` close never sent to Alertmanager as "resolved"; replay on range
//! data; and the 0003 migration over rows written by 0001/0002. Evaluation is driven
//! at explicit minutes over backfilled data, as in `scenarios.rs`.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth),
//! prometheus-alertmanager.

#[macro_use]
mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wardflux_ruler::alert::{Episode, HoldReason, Resolution, RowState};
use wardflux_ruler::datasource::Point;
use wardflux_ruler::engine::{align_up, Settings};
use wardflux_ruler::notifier::{Alertmanager, Notifier};
use wardflux_ruler::shadow::Shadow;
use wardflux_ruler::store::HistoryRow;

fn settings() -> Settings {
    Settings {
        unreachable_grace: Duration::from_secs(180),
        ..Settings::default()
    }
}

/// What a device's poller reports at a minute.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Seen {
    /// Polled: interface series and `wardflux_device_up 1`.
    Up,
    /// Not answering: no interface series, `wardflux_device_up 0`.
    Unreachable,
    /// Nothing at all (scrape gap): neither.
    Gap,
}

/// A branch router with two ISP uplinks: magti up per `magti`, silknet always up, seen by
/// the poller per `seen`, from minute -10 to `to`.
fn router(
    device: &str,
    magti: impl Fn(i64) -> bool,
    seen: impl Fn(i64) -> Seen + Copy,
    to: i64,
) -> Vec<Point> {
    let a = iface(device, 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface(device, 2, "Gi0/0/1", "isp", "silknet", true);
    let st = |up: bool| {
        if up {
            IfState::default()
        } else {
            IfState::down()
        }
    };
    let mut pts = series(&a, -10, to, |m| st(magti(m)));
    pts.extend(series(&b, -10, to, |_| IfState::default()));
    pts.retain(|p| seen(minute(p)) == Seen::Up);
    let mut up = device_up(device, -10, to, |m| seen(m) == Seen::Up);
    up.retain(|p| seen(minute(p)) != Seen::Gap);
    pts.extend(up);
    pts
}

fn minute(p: &Point) -> i64 {
    (p.at - t0()).num_minutes()
}

fn only<'a>(rows: &'a [HistoryRow], alert: &str) -> &'a HistoryRow {
    let r = rows_of(rows, alert);
    assert_eq!(r.len(), 1, "one {alert} row: {rows:#?}");
    r[0]
}

/// Magti down from minute 5; the router stops answering from 15 to 39 (interface series
/// gone, `wardflux_device_up 0`); back at 40 with magti up.
fn unreachable_router() -> Vec<Point> {
    router(
        "BR-RTR-01",
        |m| !(5..40).contains(&m),
        |m| {
            if (15..40).contains(&m) {
                Seen::Unreachable
            } else {
                Seen::Up
            }
        },
        50,
    )
}

fn assert_held_then_recovered(rows: &[HistoryRow], backend: Backend) {
    let r = &only(rows, "IspUplinkDownBackupWorking").record;
    assert_eq!(r.started_at, at(5), "{backend:?}");
    assert_eq!(r.state, RowState::Resolved, "{backend:?}");
    assert_eq!(
        r.resolved_at,
        Some(at(40)),
        "resolves when the link is seen up"
    );
    assert_eq!(r.resolution, Some(Resolution::Recovered));
    assert_eq!(
        r.hold_reason,
        Some(HoldReason::DeviceUnreachable),
        "the closed row keeps the hold it had"
    );
    assert!(rows_of(rows, "IspTotalOutage").is_empty(), "{rows:#?}");
}

async fn isp_alert_of_an_unreachable_device_is_held_until_the_link_is_seen_up(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&unreachable_router()).await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 35).await;
    let rows = h.rows().await;
    let r = &only(&rows, "IspUplinkDownBackupWorking").record;
    assert_eq!(
        r.state,
        RowState::Firing,
        "{backend:?}: held 20m, past the budget"
    );
    assert_eq!(r.hold_reason, Some(HoldReason::DeviceUnreachable));
    let since = r.held_since.expect("held_since set");
    assert!(
        since > at(15) && since <= at(20),
        "held once the series went stale: {since}"
    );
    assert_eq!(r.resolution, None);
    let dev = only(&rows, "DeviceSnmpUnreachable");
    assert_eq!(dev.record.state, RowState::Firing);
    let held = |reason: &str| {
        h.metrics
            .alerts_held
            .get_or_create(&wardflux_ruler::metrics::HoldLabel {
                // The ISP uplink rules are evaluated in the fast link-state group.
                group: "wardflux-link-state".into(),
                reason: reason.into(),
            })
            .get()
    };
    assert_eq!(
        (held("device_unreachable"), held("no_data")),
        (1, 0),
        "the hold is a metric"
    );
    h.run(36, 50).await;
    assert_eq!(held("device_unreachable"), 0);
    assert_held_then_recovered(&h.rows().await, backend);
}

async fn restart_during_a_hold_continues_the_same_row(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&unreachable_router()).await;
    let fx = StoreFixture::new(backend).await;
    let held_since = {
        let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
        h.run(0, 25).await;
        let rows = h.rows().await;
        let r = &only(&rows, "IspUplinkDownBackupWorking").record;
        assert_eq!(r.hold_reason, Some(HoldReason::DeviceUnreachable));
        r.held_since
    };
    let h = Harness::new(&vm.url(), fx.reopen().await, settings()).await;
    let status = h.engine.status().await;
    let restored = status
        .iter()
        .flat_map(|g| &g.rules)
        .find(|r| r.name == "IspUplinkDownBackupWorking")
        .unwrap();
    assert_eq!(restored.alerts.len(), 1);
    assert_eq!(restored.alerts[0].held_since, held_since, "restored held");
    h.run(26, 50).await;
    let rows = h.rows().await;
    assert_held_then_recovered(&rows, backend);
    assert_eq!(
        only(&rows, "IspUplinkDownBackupWorking").record.held_since,
        held_since,
        "{backend:?}: the same row, the same hold"
    );
}

/// Magti down from 5 to 34; a scrape gap (nothing at all) from 15 to `gap_end`.
fn gap(gap_end: i64, to: i64) -> Vec<Point> {
    router(
        "BR-RTR-01",
        |m| !(5..35).contains(&m),
        move |m| {
            if (15..gap_end).contains(&m) {
                Seen::Gap
            } else {
                Seen::Up
            }
        },
        to,
    )
}

async fn scrape_gap_shorter_than_the_budget_continues_the_row(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&gap(25, 45)).await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 22).await;
    let rows = h.rows().await;
    let r = &only(&rows, "IspUplinkDownBackupWorking").record;
    assert_eq!(r.state, RowState::Firing, "{backend:?}");
    assert_eq!(
        r.hold_reason,
        Some(HoldReason::NoData),
        "held for lack of data"
    );
    h.run(23, 45).await;
    let rows = h.rows().await;
    let r = &only(&rows, "IspUplinkDownBackupWorking").record;
    assert_eq!(r.started_at, at(5));
    assert_eq!(
        r.resolved_at,
        Some(at(35)),
        "{backend:?}: one row to the repair"
    );
    assert_eq!(r.resolution, Some(Resolution::Recovered));
    assert_eq!(r.held_since, None, "no longer held once the data came back");
    assert!(rows_of(&rows, "DeviceSnmpUnreachable").is_empty());
}

async fn scrape_gap_longer_than_the_budget_closes_the_row_as_no_data(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&gap(45, 60)).await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 60).await;
    let rows = h.rows().await;
    let isp = rows_of(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(isp.len(), 1, "{backend:?}: {rows:#?}");
    let r = &isp[0].record;
    assert_eq!(r.started_at, at(5));
    assert_eq!(r.resolution, Some(Resolution::NoData), "not recovered");
    let since = r.held_since.expect("held_since kept");
    assert_eq!(
        r.resolved_at,
        Some(since + chrono::Duration::minutes(15)),
        "closed at the end of the 15m budget"
    );
    assert!(
        r.resolution_note
            .as_deref()
            .unwrap_or("")
            .contains("staleness budget of 15m"),
        "{:?}",
        r.resolution_note
    );
    // Magti was up again when the data returned: nothing new fires.
    assert_eq!(rows.len(), 1, "{rows:#?}");
}

const ABSENT_AND_RECORDED: &str = r#"groups:
  - name: recorded
    interval: 1m
    rules:
      - record: test:uplink_down
        expr: ifOperStatus{interface_type="isp"} == bool 2
  - name: evidence
    interval: 1m
    staleness_budget: 10m
    rules:
      - alert: PollerMissing
        expr: absent(wardflux_device_up{device="BR-RTR-02"})
        labels: {severity: high}
      - alert: UplinkDownRecorded
        expr: test:uplink_down == 1
        staleness_budget: 30m
        labels: {severity: high}
"#;

async fn absent_and_recorded_series_rules(backend: Backend) {
    let vm = Vm::start().await;
    // BR-RTR-02's exporter is not scraped from 10 to 19. BR-RTR-01's magti goes down at 5,
    // and a 20-minute gap (15..35) follows: within the rule's own 30m budget.
    let mut pts = router(
        "BR-RTR-02",
        |_| true,
        |m| {
            if (10..20).contains(&m) {
                Seen::Gap
            } else {
                Seen::Up
            }
        },
        50,
    );
    pts.extend(router(
        "BR-RTR-01",
        |m| !(5..40).contains(&m),
        |m| {
            if (15..35).contains(&m) {
                Seen::Gap
            } else {
                Seen::Up
            }
        },
        50,
    ));
    vm.import(&pts).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, ABSENT_AND_RECORDED).unwrap();
    let rules = wardflux_ruler::config::load(
        &[file.display().to_string()],
        &wardflux_ruler::config::LoadOptions::default(),
    )
    .unwrap();
    let fx = StoreFixture::new(backend).await;
    let h = Harness::with(&vm.url(), fx.store.clone(), settings(), None, rules).await;
    h.run(0, 50).await;
    let rows = h.rows().await;
    let absent = &only(&rows, "PollerMissing").record;
    assert_eq!(absent.state, RowState::Resolved, "{backend:?}: {rows:#?}");
    assert_eq!(
        absent.resolved_at,
        Some(at(20)),
        "the series is the evidence"
    );
    assert_eq!(absent.resolution, Some(Resolution::Recovered));
    let rec = &only(&rows, "UplinkDownRecorded").record;
    assert_eq!(rec.started_at, at(5));
    assert_eq!(
        rec.resolved_at,
        Some(at(40)),
        "{backend:?}: the recorded series' gap is held, not resolved"
    );
    assert_eq!(rec.resolution, Some(Resolution::Recovered));
    assert_eq!(rec.held_since, None);
}

/// Rules for the root tests: a stand-in for the outage group's row (from a test series) and
/// the shipped rules' DeviceSnmpUnreachable.
const ROOTS: &str = r#"groups:
  - name: outages
    interval: 1m
    rules:
      - alert: SiteIsolated
        expr: test_site_isolated == 1
        labels: {severity: critical}
  - name: devices
    interval: 1m
    rules:
      - alert: DeviceSnmpUnreachable
        expr: wardflux_device_up == 0
        labels: {severity: high}
"#;

fn test_series(
    name: &str,
    labels: &[(&str, &str)],
    base: chrono::DateTime<chrono::Utc>,
    from: i64,
    to: i64,
    v: impl Fn(i64) -> f64,
) -> Vec<Point> {
    (from..=to)
        .map(|m| {
            let mut l: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            l.insert("__name__".into(), name.into());
            Point {
                labels: l,
                value: v(m),
                at: base + chrono::Duration::minutes(m),
            }
        })
        .collect()
}

async fn history_json(h: &Harness) -> serde_json::Value {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let state = Arc::new(wardflux_ruler::api::ApiState {
        engine: h.engine.clone(),
        store: h.store.clone(),
        ready: AtomicBool::new(true),
        reload: tx,
    });
    let mut out = serde_json::Value::Null;
    for path in ["/api/v1/history", "/api/v1/alerts"] {
        let resp = wardflux_ruler::api::router(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if out.is_null() {
            out = serde_json::json!({"history": v["data"]["rows"].clone()});
        } else {
            out["alerts"] = v["data"]["alerts"].clone();
        }
    }
    out
}

fn by_device<'a>(rows: &'a serde_json::Value, alert: &str, device: &str) -> &'a serde_json::Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| {
            (r["alert_name"] == alert || r["name"] == alert)
                && (r["device"] == device || r["labels"]["device"] == device)
        })
        .unwrap_or_else(|| panic!("no {alert} for {device} in {rows:#}"))
}

async fn roots_are_set_at_fire_time_and_by_later_links(backend: Backend) {
    let am = Am::start().await;
    let vm = Vm::start().await;
    // Alertmanager judges endsAt by its own clock: the scenario ends at the current minute.
    let base = align_up(chrono::Utc::now(), Duration::from_secs(60)) - chrono::Duration::minutes(7);
    let min = |m: i64| base + chrono::Duration::minutes(m);
    // The site is isolated from minute 1; BR-SW-01 (behind it) stops answering at 3 and is
    // covered by the shadow before it fires; BR-SW-02 fires at 2, before the shadow covers it.
    let mut pts = test_series(
        "test_site_isolated",
        &[("site", "batumi")],
        base,
        -5,
        10,
        |m| {
            if m >= 1 {
                1.0
            } else {
                0.0
            }
        },
    );
    pts.extend(device_up_from(base, "BR-SW-01", -5, 10, |m| m < 3));
    pts.extend(device_up_from(base, "BR-SW-02", -5, 10, |m| m < 2));
    vm.import(&pts).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, ROOTS).unwrap();
    let rules = wardflux_ruler::config::load(
        &[file.display().to_string()],
        &wardflux_ruler::config::LoadOptions::default(),
    )
    .unwrap();
    let fx = StoreFixture::new(backend).await;
    let notifier: Arc<dyn Notifier> =
        Arc::new(Alertmanager::new(&am.url(), Duration::from_secs(5)).unwrap());
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        settings(),
        Some(notifier),
        rules,
    )
    .await;
    for m in 0..=2 {
        h.tick_at(min(m)).await;
    }
    let rows = h.rows().await;
    let root_row = only(&rows, "SiteIsolated");
    let root = Episode::of(&root_row.record);
    // What the outage group will do: cover the site's devices with its row.
    h.engine.shadow().set(Shadow::new(
        [
            ("BR-SW-01".to_string(), root.clone()),
            ("BR-SW-02".to_string(), root.clone()),
        ]
        .into(),
    ));
    for m in 3..=6 {
        h.tick_at(min(m)).await;
    }
    let v = history_json(&h).await;
    let root_id = root_row.id;
    let at_fire = by_device(&v["history"], "DeviceSnmpUnreachable", "BR-SW-01");
    assert_eq!(
        at_fire["caused_by"], root_id,
        "{backend:?}: set at fire time: {v:#}"
    );
    let linked = by_device(&v["history"], "DeviceSnmpUnreachable", "BR-SW-02");
    assert_eq!(
        linked["caused_by"], root_id,
        "{backend:?}: set by a later link"
    );
    let root_json = by_device(&v["history"], "SiteIsolated", "");
    assert!(root_json["caused_by"].is_null());
    for key in ["held_since", "hold_reason", "resolution", "resolution_note"] {
        assert!(root_json.get(key).is_some(), "history shows {key}");
    }
    let live = by_device(&v["alerts"], "DeviceSnmpUnreachable", "BR-SW-01");
    assert_eq!(
        live["caused_by"], root_id,
        "/api/v1/alerts shows the root: {v:#}"
    );
    for key in ["held_since", "hold_reason", "resolution", "resolution_note"] {
        assert!(live.get(key).is_some(), "alerts show {key}");
    }
    // Alertmanager has the root and the alert sent before its link, never the one caused
    // from the start.
    let names_in_am = || async {
        am.alerts()
            .await
            .iter()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                    a["labels"]["device"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<(String, String)>>()
    };
    let mut names = names_in_am().await;
    for _ in 0..50 {
        if names.iter().any(|(a, _)| a == "SiteIsolated") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        names = names_in_am().await;
    }
    assert!(
        names.contains(&("SiteIsolated".into(), String::new())),
        "{names:?}"
    );
    assert!(
        !names.contains(&("DeviceSnmpUnreachable".into(), "BR-SW-01".into())),
        "{backend:?}: a caused alert is not sent: {names:?}"
    );
    assert_eq!(h.metrics.notification_errors.get(), 0);
}

/// Rows written before 0003 stay valid: they read back with empty new columns, and the
/// transitions of the evidence work on them.
async fn migration_keeps_rows_of_0001_and_0002(backend: Backend) {
    use sqlx::migrate::Migrator;
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut old = Migrator::new(std::path::Path::new(&path)).await.unwrap();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= 2)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(old.migrations.len(), 2);
    let fx_dir = tempfile::tempdir().unwrap();
    let (url, _pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", fx_dir.path().join("old.db").display()),
            None,
        ),
        Backend::Postgres => {
            let db = PgDb::create().await;
            (db.url(), Some(db))
        }
    };
    let insert = "INSERT INTO alert_history (alert_name, group_name, fingerprint, severity, \
        device, state, started_at, last_evaluated_at) VALUES ('IspTotalOutage', 'g', \
        '00000000000000ab', 'critical', 'BR-RTR-01', 'firing', $1, $1)";
    match backend {
        Backend::Sqlite => {
            use sqlx::ConnectOptions;
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(fx_dir.path().join("old.db"))
                .create_if_missing(true);
            let mut c = opts.connect().await.unwrap();
            old.run(&mut c).await.unwrap();
            sqlx::query(insert)
                .bind(at(0))
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            old.run(&mut c).await.unwrap();
            sqlx::query(insert)
                .bind(at(0))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    let secret = wardflux_ruler::secret::Secret::new(url);
    let store = wardflux_ruler::store::open(&secret).await.unwrap();
    store.migrate().await.expect("0003 over 0001/0002");
    let open = store.open_rows().await.unwrap();
    assert_eq!(open.len(), 1, "{backend:?}");
    let r = &open[0];
    assert_eq!(
        (
            r.caused_by,
            r.record.held_since,
            r.record.hold_reason,
            r.record.resolution
        ),
        (None, None, None, None)
    );
    let ep = Episode::of(&r.record);
    use wardflux_ruler::alert::Transition;
    for t in [
        Transition::Held {
            episode: ep.clone(),
            since: at(3),
            reason: HoldReason::NoData,
        },
        Transition::Resolved {
            episode: ep.clone(),
            resolved_at: at(18),
            value: None,
            resolution: Resolution::NoData,
            note: Some("gap".into()),
        },
    ] {
        store.apply(&t).await.unwrap();
    }
    let rows = store.history(10).await.unwrap();
    assert_eq!(rows[0].record.held_since, Some(at(3)));
    assert_eq!(rows[0].record.resolution, Some(Resolution::NoData));
    assert_eq!(rows[0].record.resolution_note.as_deref(), Some("gap"));
    assert_eq!(rows[0].record.resolved_at, Some(at(18)));
}

/// Replay judges gone alerts on the subject's range data, as live evaluation does: the same
/// held row, resolved when the link is seen up.
async fn replay_holds_like_live_evaluation(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&unreachable_router()).await;
    let fx = StoreFixture::new(backend).await;
    let client = vm.client();
    let importer = FlushingImporter {
        client: vm.client(),
    };
    let sum = wardflux_ruler::replay::replay(
        &load_default_rules(),
        &client,
        &importer,
        fx.store.as_ref(),
        None,
        &wardflux_ruler::replay::ReplayOptions {
            from: at(0),
            to: at(50),
            write_recording: false,
            steps_per_query: 7,
            touch_every: Duration::from_secs(3600),
        },
    )
    .await
    .expect("replay");
    assert_eq!(sum.fired.get("IspUplinkDownBackupWorking"), Some(&1));
    assert!(sum.no_data.is_empty(), "{:?}", sum.no_data);
    let mut rows = fx.store.history(100).await.unwrap();
    rows.reverse();
    assert_held_then_recovered(&rows, backend);
}

both_stores!(
    isp_alert_of_an_unreachable_device_is_held_until_the_link_is_seen_up,
    restart_during_a_hold_continues_the_same_row,
    scrape_gap_shorter_than_the_budget_continues_the_row,
    scrape_gap_longer_than_the_budget_closes_the_row_as_no_data,
    absent_and_recorded_series_rules,
    roots_are_set_at_fire_time_and_by_later_links,
    migration_keeps_rows_of_0001_and_0002,
    replay_holds_like_live_evaluation,
);

const SHORT_BUDGET: &str = r#"groups:
  - name: evidence
    interval: 1m
    rules:
      - alert: UplinkDown
        expr: ifOperStatus{interface_type="isp"} == 2
        for: 1m
        staleness_budget: 1m
        labels: {severity: high}
"#;

/// A row closed for lack of data is not a recovery: Alertmanager is never sent "resolved"
/// for it and keeps the alert active until its `endsAt` runs out; a recovered row leaves.
#[tokio::test]
async fn no_data_close_does_not_tell_alertmanager_resolved() {
    let am = Am::start().await;
    let vm = Vm::start().await;
    // Alertmanager judges endsAt by its own clock, so this scenario ends at the current minute.
    let base = align_up(chrono::Utc::now(), Duration::from_secs(60)) - chrono::Duration::minutes(1);
    let min = |m: i64| base + chrono::Duration::minutes(m);
    // BR-GAP: magti down, then nothing at all from -2 (a scrape gap; its last firing send
    // is valid until after now). BR-BACK: magti down, then up again from -3 (a recovery).
    let a = iface("BR-GAP", 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface("BR-BACK", 1, "Gi0/0/0", "isp", "magti", true);
    let mut pts = series_from(base, &a, -20, -3, |_| IfState::down());
    pts.extend(series_from(base, &b, -20, 0, |m| {
        if m < -3 {
            IfState::down()
        } else {
            IfState::default()
        }
    }));
    vm.import(&pts).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, SHORT_BUDGET).unwrap();
    let rules = wardflux_ruler::config::load(
        &[file.display().to_string()],
        &wardflux_ruler::config::LoadOptions::default(),
    )
    .unwrap();
    let fx = StoreFixture::new(Backend::Sqlite).await;
    let notifier: Arc<dyn Notifier> =
        Arc::new(Alertmanager::new(&am.url(), Duration::from_secs(5)).unwrap());
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        settings(),
        Some(notifier),
        rules,
    )
    .await;
    for m in -12..=0 {
        h.tick_at(min(m)).await;
    }
    let rows = h.rows().await;
    let row = |device: &str| {
        rows.iter()
            .find(|r| r.record.device == device)
            .unwrap_or_else(|| panic!("no row for {device}: {rows:#?}"))
            .record
            .clone()
    };
    let gap = row("BR-GAP");
    assert_eq!(gap.resolution, Some(Resolution::NoData), "{rows:#?}");
    let back = row("BR-BACK");
    assert_eq!(back.resolution, Some(Resolution::Recovered), "{rows:#?}");
    assert_eq!(back.resolved_at, Some(min(-3)));
    // Both were sent as firing; only the recovery was sent as resolved.
    let state_of = |alerts: &[serde_json::Value], device: &str| {
        alerts
            .iter()
            .find(|a| a["labels"]["device"] == device)
            .map(|a| a["status"]["state"].as_str().unwrap_or("").to_string())
    };
    let mut listed = am.alerts().await;
    for _ in 0..50 {
        if state_of(&listed, "BR-GAP").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        listed = am.alerts().await;
    }
    assert_eq!(
        state_of(&listed, "BR-GAP").as_deref(),
        Some("active"),
        "no resolved sent for a no_data close: {listed:#?}"
    );
    assert_eq!(
        state_of(&listed, "BR-BACK"),
        None,
        "the recovered alert left Alertmanager: {listed:#?}"
    );
    assert_eq!(h.metrics.notification_errors.get(), 0);
}
