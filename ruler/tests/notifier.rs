//! Alerts reach a real Alertmanager (v2 API) when they fire, and leave it when they resolve.
//!
//! Needs Debian packages: prometheus-alertmanager, victoria-metrics.

mod common;

use chrono::Utc;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use wardflux_ruler::engine::{align_up, Settings};
use wardflux_ruler::notifier::{Alertmanager, Fanout, Notifier};

async fn wait_until<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> bool {
    for _ in 0..100 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn alertmanager_receives_firing_and_resolved_alerts() {
    let am = Am::start().await;
    let vm = Vm::start().await;
    // Alertmanager judges endsAt by its own clock, so this scenario ends at the current minute.
    let base = align_up(Utc::now(), Duration::from_secs(60)) - chrono::Duration::minutes(1);
    let min = |m: i64| base + chrono::Duration::minutes(m);
    let a = iface("CORE-SW-01", 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface("CORE-SW-01", 2, "Gi0/0/1", "isp", "silknet", true);
    let mut pts = series_from(base, &a, -15, 0, |m| {
        if (-5..=-2).contains(&m) {
            IfState::down()
        } else {
            IfState::default()
        }
    });
    pts.extend(series_from(base, &b, -15, 0, |_| IfState::default()));
    vm.import(&pts).await;

    let fx = StoreFixture::new(Backend::Sqlite).await;
    let notifier: Arc<dyn Notifier> =
        Arc::new(Alertmanager::new(&am.url(), Duration::from_secs(5)).unwrap());
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        Settings::default(),
        Some(notifier),
        load_default_rules(),
    )
    .await;

    h.tick_at(min(-3)).await; // pending: nothing sent for it
    h.tick_at(min(-2)).await; // firing, valid until min(2) unless resolved
    let listed = || async {
        am.alerts()
            .await
            .iter()
            .any(|a| a["labels"]["alertname"] == "IspUplinkDownBackupWorking")
    };
    assert!(
        wait_until(listed).await,
        "firing alert reaches Alertmanager"
    );
    let alerts = am.alerts().await;
    let got = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "IspUplinkDownBackupWorking")
        .unwrap();
    assert_eq!(got["labels"]["device"], "CORE-SW-01");
    assert_eq!(got["labels"]["severity"], "high");
    assert_eq!(
        got["annotations"]["summary"],
        "ISP link Gi0/0/0 (magti) on CORE-SW-01 is DOWN"
    );
    assert_eq!(got["status"]["state"], "active");

    h.tick_at(min(-1)).await; // the link is back: resolved, endsAt min(-1)
    let gone = || async { !listed().await };
    assert!(
        wait_until(gone).await,
        "resolved alert leaves Alertmanager before its endsAt"
    );
    assert_eq!(h.metrics.notification_errors.get(), 0);
    assert!(h.metrics.notifications.get() >= 2);
}

/// `--notifier.url` repeated: two real Alertmanagers and a URL that refuses connections. Both
/// get every alert, the refusing one never holds them back, and the resolution it missed is
/// delivered once an Alertmanager listens there.
#[tokio::test]
async fn every_alertmanager_gets_every_alert_and_a_refusing_one_loses_nothing() {
    let am1 = Am::start().await;
    let am2 = Am::start().await;
    let refusing_port = free_port();
    let refusing = format!("http://127.0.0.1:{refusing_port}");
    let vm = Vm::start().await;
    let base = align_up(Utc::now(), Duration::from_secs(60)) - chrono::Duration::minutes(1);
    let min = |m: i64| base + chrono::Duration::minutes(m);
    let a = iface("CORE-SW-01", 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface("CORE-SW-01", 2, "Gi0/0/1", "isp", "silknet", true);
    let mut pts = series_from(base, &a, -15, 0, |m| {
        if (-5..=-2).contains(&m) {
            IfState::down()
        } else {
            IfState::default()
        }
    });
    pts.extend(series_from(base, &b, -15, 0, |_| IfState::default()));
    vm.import(&pts).await;

    let fx = StoreFixture::new(Backend::Sqlite).await;
    let metrics = wardflux_ruler::metrics::Metrics::new();
    let up = |name: &str| {
        metrics
            .alertmanager_up
            .get_or_create(&wardflux_ruler::metrics::AlertmanagerLabel {
                alertmanager: name.to_string(),
            })
            .clone()
    };
    let fanout = Arc::new(
        Fanout::new(
            &[&refusing, &am1.url(), &am2.url()],
            Duration::from_secs(5),
            up,
        )
        .unwrap(),
    );
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        Settings::default(),
        Some(fanout.clone() as Arc<dyn Notifier>),
        all_shipped_rules(),
    )
    .await;
    let has = |alerts: Vec<serde_json::Value>, name: &str| {
        alerts.iter().any(|a| a["labels"]["alertname"] == name)
    };

    h.tick_at(min(-3)).await;
    h.tick_at(min(-2)).await; // IspUplinkDownBackupWorking fires
    for am in [&am1, &am2] {
        assert!(
            wait_until(|| async { has(am.alerts().await, "IspUplinkDownBackupWorking") }).await,
            "Alertmanager {} gets the firing alert although another URL refuses",
            am.url()
        );
        assert!(
            has(am.alerts().await, "Watchdog"),
            "the always-firing Watchdog reaches {}",
            am.url()
        );
    }
    assert!(h.metrics.notification_errors.get() >= 1);
    let gauge = |name: &str| up(name).get();
    assert_eq!(gauge(&refusing), 0, "the refusing Alertmanager is down");
    assert_eq!(gauge(&am1.url()), 1);
    assert_eq!(gauge(&am2.url()), 1);
    assert_eq!(
        fanout.backlog(&refusing),
        0,
        "firing alerts are re-sent, not kept"
    );

    h.tick_at(min(-1)).await; // resolved
    for am in [&am1, &am2] {
        assert!(
            wait_until(|| async { !has(am.alerts().await, "IspUplinkDownBackupWorking") }).await,
            "the resolution reaches {}",
            am.url()
        );
    }
    assert_eq!(
        fanout.backlog(&refusing),
        1,
        "the resolution the refusing Alertmanager missed is kept for it"
    );

    // An Alertmanager comes up at the refusing address: the next batch (the Watchdog keeps
    // one going every evaluation) carries the missed resolution.
    let late = Am::start_on(refusing_port).await;
    h.tick_at(min(0)).await;
    assert_eq!(
        fanout.backlog(&refusing),
        0,
        "the missed resolution was delivered"
    );
    assert_eq!(gauge(&refusing), 1);
    assert!(wait_until(|| async { has(late.alerts().await, "Watchdog") }).await);
}
