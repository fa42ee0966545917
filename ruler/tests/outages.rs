//! The built-in outage group against real VictoriaMetrics and both stores, on the series a
//! bank's exporters write: three branch sites, each a router with a Magti and a Silknet ISP
//! uplink and a switch behind it (LLDP neighbour info both ways), and an HQ core. Evaluation
//! is driven at explicit minutes over backfilled data, as in `scenarios.rs`, with the shipped
//! rules and the outage group at its defaults (`rules/outages.yml`).
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth),
//! prometheus-alertmanager.

#[macro_use]
mod common;

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wardflux_ruler::alert::{Resolution, RowState};
use wardflux_ruler::config::RuleSet;
use wardflux_ruler::datasource::Point;
use wardflux_ruler::engine::Settings;
use wardflux_ruler::labels::Labels;
use wardflux_ruler::notifier::Notifier;
use wardflux_ruler::outage::config::OutageConfig;
use wardflux_ruler::outage::outage_group;
use wardflux_ruler::store::HistoryRow;

const SITES: [&str; 3] = ["batumi", "kutaisi", "tbilisi"];
const PROVIDERS: [(&str, &str); 2] = [("Gi0/0/0", "magti"), ("Gi0/0/1", "silknet")];

fn rtr(site: &str) -> String {
    format!("{}-RTR", site.to_uppercase())
}

fn sw(site: &str) -> String {
    format!("{}-SW", site.to_uppercase())
}

fn settings() -> Settings {
    Settings {
        unreachable_grace: Duration::from_secs(180),
        ..Settings::default()
    }
}

/// The shipped rules with the outage group at its shipped settings, first.
fn rules() -> RuleSet {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/outages.yml");
    let mut set = load_default_rules();
    set.groups
        .insert(0, outage_group(OutageConfig::load(&file).unwrap()));
    set
}

type Answers = Box<dyn Fn(&str, i64) -> bool>;
type LinkUp = Box<dyn Fn(&str, &str, i64) -> bool>;

/// What the bank's devices do, minute by minute.
struct Bank {
    /// Whether a device answers the poller at a minute.
    answers: Answers,
    /// Whether a router's uplink of a provider is up at a minute.
    link_up: LinkUp,
    /// A router that restarts at a minute (its uptime starts again).
    restart: Option<(String, i64)>,
    /// Series of the batumi switch come from a second exporter instance.
    two_shards: bool,
    /// Extra neighbour reports (device, neighbour) that contradict the topology.
    bad_links: Vec<(String, String)>,
}

impl Default for Bank {
    fn default() -> Self {
        Bank {
            answers: Box::new(|_, _| true),
            link_up: Box::new(|_, _, _| true),
            restart: None,
            two_shards: false,
            bad_links: Vec::new(),
        }
    }
}

impl Bank {
    fn devices() -> Vec<(String, String)> {
        let mut out = vec![("HQ-CORE".to_string(), "hq".to_string())];
        for s in SITES {
            out.push((rtr(s), s.to_string()));
            out.push((sw(s), s.to_string()));
        }
        out
    }

    fn instance(&self, device: &str) -> &'static str {
        if self.two_shards && device == "BATUMI-SW" {
            "127.0.0.2:9116"
        } else {
            "127.0.0.1:9116"
        }
    }

    fn point(name: &str, labels: &[(&str, &str)], v: f64, at: DateTime<Utc>) -> Point {
        let mut l: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert("__name__".into(), name.into());
        l.insert("job".into(), "wardflux".into());
        Point {
            labels: l,
            value: v,
            at,
        }
    }

    /// Every series the exporters would have written from minute `from` to `to` of `base`.
    fn points(&self, base: DateTime<Utc>, from: i64, to: i64) -> Vec<Point> {
        let mut out = Vec::new();
        for m in from..=to {
            let at = base + chrono::Duration::minutes(m);
            for (dev, site) in Self::devices() {
                let inst = self.instance(&dev);
                let up = (self.answers)(&dev, m);
                let base_l = [
                    ("device", dev.as_str()),
                    ("site", site.as_str()),
                    ("instance", inst),
                ];
                out.push(Self::point(
                    "wardflux_device_up",
                    &base_l,
                    if up { 1.0 } else { 0.0 },
                    at,
                ));
                if !up {
                    // An unreachable device's other series vanish.
                    continue;
                }
                let uptime = match &self.restart {
                    Some((d, r)) if *d == dev && m >= *r => (m - r) as f64 * 60.0 + 30.0,
                    _ => 3.0 * 86_400.0 + (m + 100) as f64 * 60.0,
                };
                out.push(Self::point(
                    "wardflux_device_uptime_seconds",
                    &base_l,
                    uptime,
                    at,
                ));
                let neighbours: Vec<String> = if dev.ends_with("-SW") {
                    vec![rtr(&site)]
                } else if dev.ends_with("-RTR") {
                    vec![sw(&site)]
                } else {
                    Vec::new()
                };
                let bad = self
                    .bad_links
                    .iter()
                    .filter(|(d, _)| *d == dev)
                    .map(|(_, n)| n.clone());
                for n in neighbours.into_iter().chain(bad) {
                    out.push(Self::point(
                        "wardflux_lldp_neighbor_info",
                        &[
                            ("device", dev.as_str()),
                            ("site", site.as_str()),
                            ("instance", inst),
                            ("if_name", "Gi0/1"),
                            ("neighbor_device", n.as_str()),
                            ("neighbor_port", "Gi0/2"),
                            ("protocol", "lldp"),
                        ],
                        1.0,
                        at,
                    ));
                }
                if !dev.ends_with("-RTR") {
                    continue;
                }
                for (i, (ifname, provider)) in PROVIDERS.iter().enumerate() {
                    let index = (i + 1).to_string();
                    let l = [
                        ("device", dev.as_str()),
                        ("site", site.as_str()),
                        ("instance", inst),
                        ("ifIndex", index.as_str()),
                        ("ifName", ifname),
                        ("interface_type", "isp"),
                        ("isp_provider", provider),
                    ];
                    let oper = if (self.link_up)(&dev, provider, m) {
                        1.0
                    } else {
                        2.0
                    };
                    out.push(Self::point("ifOperStatus", &l, oper, at));
                    out.push(Self::point("ifAdminStatus", &l, 1.0, at));
                }
            }
        }
        out
    }
}

async fn start(bank: &Bank, to: i64, backend: Backend) -> (Vm, StoreFixture) {
    let vm = Vm::start().await;
    vm.import(&bank.points(t0(), -30, to)).await;
    let fx = StoreFixture::new(backend).await;
    (vm, fx)
}

async fn harness(vm: &Vm, fx: &StoreFixture) -> Harness {
    Harness::with(&vm.url(), fx.store.clone(), settings(), None, rules()).await
}

/// `GET /api/v1/reachability` through the ruler's router.
async fn reachability_json(h: &Harness) -> serde_json::Value {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let state = Arc::new(wardflux_ruler::api::ApiState {
        engine: h.engine.clone(),
        store: h.store.clone(),
        ready: AtomicBool::new(true),
        reload: tx,
    });
    let resp = wardflux_ruler::api::router(state)
        .oneshot(
            Request::get("/api/v1/reachability")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "success");
    v["data"].clone()
}

fn only<'a>(rows: &'a [HistoryRow], alert: &str) -> &'a HistoryRow {
    let r = rows_of(rows, alert);
    assert_eq!(r.len(), 1, "one {alert} row: {rows:#?}");
    r[0]
}

/// Batumi loses Magti at minute 5 (its router still answers over Silknet), then everything
/// behind its uplinks at minute 10; the router answers again at 30 over Silknet, Magti
/// comes back at 33.
fn batumi_isolated(two_shards: bool, restart: bool) -> Bank {
    Bank {
        answers: Box::new(|d, m| !(d.starts_with("BATUMI") && (10..30).contains(&m))),
        link_up: Box::new(|d, p, m| !(d == "BATUMI-RTR" && p == "magti" && (5..33).contains(&m))),
        restart: restart.then(|| ("BATUMI-RTR".to_string(), 28)),
        two_shards,
        ..Bank::default()
    }
}

async fn check_isolation(h: &Harness, backend: Backend, restarted: bool) {
    let rows = h.rows().await;
    let site = only(&rows, "SiteIsolated");
    let r = &site.record;
    assert_eq!(r.labels["site"], "batumi");
    assert_eq!(r.severity, "critical");
    assert_eq!(r.started_at, at(10), "{backend:?}");
    assert_eq!(
        r.message,
        "Site batumi is isolated: router BATUMI-RTR does not answer; magti down since 09:05, \
         silknet last seen up at 09:09; 1 device cut off: BATUMI-SW"
    );
    assert_eq!(
        r.resolved_at,
        Some(at(30)),
        "{backend:?}: resolves when the router answers"
    );
    assert_eq!(r.resolution, Some(Resolution::Recovered));
    let note = r.resolution_note.as_deref().unwrap_or("");
    if restarted {
        assert!(
            note.starts_with("router BATUMI-RTR restarted during the outage (uptime 2m, outage 20m): power or hardware"),
            "{note}"
        );
    } else {
        assert!(
            note.starts_with("router BATUMI-RTR did not restart (uptime 3d 2h): the WAN was lost"),
            "{note}"
        );
    }
    assert!(
        note.ends_with("silknet came back first at 09:30 (magti still down)"),
        "{note}"
    );
    // The router's and the switch's own rows point at the site's row.
    assert_eq!(
        rows_of(&rows, "DeviceSnmpUnreachable").len(),
        2,
        "{rows:#?}"
    );
    for d in rows_of(&rows, "DeviceSnmpUnreachable") {
        assert!(d.record.device.starts_with("BATUMI-"), "{d:#?}");
        assert_eq!(d.caused_by, Some(site.id), "{backend:?}: {d:#?}");
    }
    // The Magti row of the router stays open through the isolation (its last known state
    // stands), then resolves on evidence once Magti is seen up.
    let magti = only(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(magti.record.device, "BATUMI-RTR");
    assert_eq!(magti.record.started_at, at(5));
    assert_eq!(
        magti.record.resolved_at,
        Some(at(33)),
        "{backend:?}: {magti:#?}"
    );
    assert!(
        rows_of(&rows, "IspTotalOutage").is_empty(),
        "no total outage row: the router was not seen with both down"
    );
    assert!(rows_of(&rows, "ProviderOutage").is_empty());
    assert!(rows_of(&rows, "PollerNetworkLost").is_empty());
}

async fn branch_isolated_is_one_site_row(backend: Backend) {
    let bank = batumi_isolated(false, false);
    let (vm, fx) = start(&bank, 40, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 20).await;
    // Mid-outage: the Magti row is still open, the API and the recorded series say who is
    // down and who is in whose shadow.
    let rows = h.rows().await;
    let magti = only(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(
        magti.record.state,
        RowState::Firing,
        "{backend:?}: no false resolve"
    );
    let report = reachability_json(&h).await;
    let state = |d: &str| {
        let r = report["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device"] == d)
            .unwrap_or_else(|| panic!("{d} in {report}"));
        (r["state"].clone(), r["roots"].clone())
    };
    assert_eq!(state("BATUMI-RTR"), (json!("down"), json!([])));
    assert_eq!(state("BATUMI-SW"), (json!("shadow"), json!(["BATUMI-RTR"])));
    assert_eq!(state("KUTAISI-SW"), (json!("up"), json!([])));
    let batumi = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == "batumi")
        .unwrap();
    assert_eq!(batumi["isolated"], true);
    assert_eq!(batumi["routers"], json!(["BATUMI-RTR"]));
    assert_eq!(batumi["cut_off"], json!(["BATUMI-SW"]));
    let rec = vm
        .query("wardflux:device_reachability{device=\"BATUMI-SW\"}", at(20))
        .await;
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0].labels["state"], "shadow");
    assert_eq!(rec[0].labels["root"], "BATUMI-RTR");
    assert_eq!(
        h.metrics
            .reachability_devices
            .get_or_create(&wardflux_ruler::metrics::ReachStateLabel {
                state: "shadow".into()
            })
            .get(),
        1
    );
    h.run(21, 40).await;
    check_isolation(&h, backend, false).await;
}

async fn two_shards_give_the_same_answer(backend: Backend) {
    let bank = batumi_isolated(true, false);
    let (vm, fx) = start(&bank, 40, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 40).await;
    check_isolation(&h, backend, false).await;
}

async fn restart_during_isolation_continues_the_rows(backend: Backend) {
    let bank = batumi_isolated(false, true);
    let (vm, fx) = start(&bank, 40, backend).await;
    {
        let h = harness(&vm, &fx).await;
        h.run(0, 18).await;
        let rows = h.rows().await;
        assert_eq!(only(&rows, "SiteIsolated").record.state, RowState::Firing);
    }
    // A new process: new store handle, the open rows restored.
    let h = Harness::with(&vm.url(), fx.reopen().await, settings(), None, rules()).await;
    h.run(19, 40).await;
    check_isolation(&h, backend, true).await;
}

async fn provider_outage_is_one_row_the_site_rows_point_at(backend: Backend) {
    // Magti fails at every branch within three minutes; the routers stay reachable.
    let bank = Bank {
        link_up: Box::new(|d, p, m| {
            let onset = match d {
                "BATUMI-RTR" => 5,
                "KUTAISI-RTR" => 6,
                _ => 7,
            };
            !(p == "magti" && m >= onset)
        }),
        ..Bank::default()
    };
    let (vm, fx) = start(&bank, 15, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 15).await;
    let rows = h.rows().await;
    let p = only(&rows, "ProviderOutage");
    assert_eq!(p.record.isp_provider, "magti");
    // At 6 two of the three sites using Magti are down: half of them, and at least two.
    assert_eq!(p.record.started_at, at(6));
    assert_eq!(
        p.record.message,
        "Provider magti is down at 3 of 3 sites using it (batumi, kutaisi, tbilisi), uplinks \
         lost between 09:05 and 09:07"
    );
    let per_site = rows_of(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(per_site.len(), 3, "{backend:?}: {rows:#?}");
    for r in per_site {
        assert_eq!(r.caused_by, Some(p.id), "{backend:?}: {r:#?}");
        assert_eq!(r.record.state, RowState::Firing);
    }
    assert!(rows_of(&rows, "SiteIsolated").is_empty());
    assert_eq!(rows.len(), 4, "{rows:#?}");
}

async fn poller_network_lost_is_one_row(backend: Backend) {
    let bank = Bank {
        answers: Box::new(|_, m| m < 5),
        ..Bank::default()
    };
    let (vm, fx) = start(&bank, 15, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 15).await;
    let rows = h.rows().await;
    let p = only(&rows, "PollerNetworkLost");
    assert_eq!(p.record.started_at, at(5));
    assert!(p
        .record
        .message
        .starts_with("The poller lost its network: 7 of 7 devices"));
    assert!(rows_of(&rows, "SiteIsolated").is_empty(), "{rows:#?}");
    assert!(rows_of(&rows, "ProviderOutage").is_empty());
    let devices = rows_of(&rows, "DeviceSnmpUnreachable");
    assert_eq!(devices.len(), 7, "{rows:#?}");
    for d in devices {
        assert_eq!(d.caused_by, Some(p.id), "{backend:?}: {d:#?}");
    }
}

async fn both_uplinks_down_but_reachable_is_a_total_outage(backend: Backend) {
    // Batumi's router loses both providers at 5 but is still reached another way.
    let bank = Bank {
        link_up: Box::new(|d, _, m| !(d == "BATUMI-RTR" && m >= 5)),
        ..Bank::default()
    };
    let (vm, fx) = start(&bank, 10, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 10).await;
    let rows = h.rows().await;
    let total = only(&rows, "IspTotalOutage");
    assert_eq!(total.record.device, "BATUMI-RTR");
    assert_eq!(total.record.started_at, at(5));
    assert_eq!(total.caused_by, None);
    assert_eq!(rows.len(), 1, "{backend:?}: no outage row: {rows:#?}");
}

async fn flapping_shorter_than_for_raises_nothing(backend: Backend) {
    // Batumi drops for single minutes, never two in a row.
    let bank = Bank {
        answers: Box::new(|d, m| !(d.starts_with("BATUMI") && [5, 7, 9].contains(&m))),
        ..Bank::default()
    };
    let (vm, fx) = start(&bank, 12, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 12).await;
    let rows = h.rows().await;
    assert!(rows.is_empty(), "{backend:?}: {rows:#?}");
}

async fn contradicting_topology_never_hides_a_down_device(backend: Backend) {
    // The batumi switch goes down behind an answering router; the neighbour reports hold a
    // self link, a link to a device nobody polls, and a loop through HQ.
    let bank = Bank {
        answers: Box::new(|d, m| !(d == "BATUMI-SW" && m >= 5)),
        bad_links: vec![
            ("BATUMI-RTR".into(), "BATUMI-RTR".into()),
            ("BATUMI-RTR".into(), "PHONE-7".into()),
            ("HQ-CORE".into(), "BATUMI-SW".into()),
            ("HQ-CORE".into(), "BATUMI-RTR".into()),
        ],
        ..Bank::default()
    };
    let (vm, fx) = start(&bank, 10, backend).await;
    let h = harness(&vm, &fx).await;
    h.run(0, 10).await;
    let rows = h.rows().await;
    let d = only(&rows, "DeviceSnmpUnreachable");
    assert_eq!(d.record.device, "BATUMI-SW");
    assert_eq!(
        d.caused_by, None,
        "a down device in its own right has no root"
    );
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let report = h.engine.reachability();
    let sw = report
        .devices
        .iter()
        .find(|x| x.device == "BATUMI-SW")
        .unwrap();
    assert_eq!(sw.state.as_str(), "down");
    assert!(
        report.problems.iter().any(|p| p.contains("PHONE-7")),
        "{:?}",
        report.problems
    );
    assert_eq!(
        h.metrics.reachability_problems.get(),
        report.problems.len() as i64
    );
}

both_stores!(
    branch_isolated_is_one_site_row,
    two_shards_give_the_same_answer,
    restart_during_isolation_continues_the_rows,
    provider_outage_is_one_row_the_site_rows_point_at,
    poller_network_lost_is_one_row,
    both_uplinks_down_but_reachable_is_a_total_outage,
    flapping_shorter_than_for_raises_nothing,
    contradicting_topology_never_hides_a_down_device,
);

/// A real Alertmanager gets the site's row, not a page per device behind it.
#[tokio::test]
async fn alertmanager_receives_the_root_not_a_page_per_device() {
    let am = Am::start().await;
    let vm = Vm::start().await;
    // Alertmanager judges endsAt by its own clock: the scenario ends at the current minute.
    let base = wardflux_ruler::engine::align_up(Utc::now(), Duration::from_secs(60))
        - chrono::Duration::minutes(15);
    let bank = Bank {
        answers: Box::new(|d, m| !(d.starts_with("BATUMI") && m >= 3)),
        ..Bank::default()
    };
    vm.import(&bank.points(base, -30, 14)).await;
    let fx = StoreFixture::new(Backend::Sqlite).await;
    let notifier: Arc<dyn Notifier> = Arc::new(
        wardflux_ruler::notifier::Alertmanager::new(&am.url(), Duration::from_secs(5)).unwrap(),
    );
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        settings(),
        Some(notifier),
        rules(),
    )
    .await;
    for m in 0..=14 {
        h.tick_at(base + chrono::Duration::minutes(m)).await;
    }
    let rows = h.rows().await;
    let site = only(&rows, "SiteIsolated");
    assert_eq!(
        rows_of(&rows, "DeviceSnmpUnreachable").len(),
        2,
        "{rows:#?}"
    );
    for d in rows_of(&rows, "DeviceSnmpUnreachable") {
        assert_eq!(d.caused_by, Some(site.id));
    }
    let mut names = Vec::new();
    for _ in 0..100 {
        names = am
            .alerts()
            .await
            .iter()
            .map(|a| a["labels"]["alertname"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>();
        if names.iter().any(|n| n == "SiteIsolated") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(names, ["SiteIsolated"], "only the root is paged");
    assert_eq!(h.metrics.notification_errors.get(), 0);
}
