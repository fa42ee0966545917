//! Alerts reach a real Alertmanager (v2 API) when they fire, and leave it when they resolve.
//!
//! Needs Debian packages: prometheus-alertmanager, victoria-metrics.

mod common;

use chrono::Utc;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use wardflux_ruler::engine::{align_up, Settings};
use wardflux_ruler::notifier::{Alertmanager, Notifier};

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
