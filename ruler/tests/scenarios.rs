//! End-to-end alert scenarios against real VictoriaMetrics and a real store: each scenario
//! runs once on SQLite and once on PostgreSQL. Evaluation is driven at explicit minutes over
//! backfilled data, so nothing sleeps.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth).

#[macro_use]
mod common;

use common::*;
use std::time::Duration;
use wardflux_ruler::alert::RowState;
use wardflux_ruler::engine::{Settings, UNREACHABLE_ALERT};

fn settings() -> Settings {
    Settings {
        unreachable_grace: Duration::from_secs(180),
        ..Settings::default()
    }
}

/// CORE-SW-01 with two ISP uplinks; `isp1`/`isp2` say whether each is up at a minute.
fn two_isp_device(
    device: &str,
    isp1: impl Fn(i64) -> bool,
    isp2: impl Fn(i64) -> bool,
    to: i64,
) -> Vec<wardflux_ruler::datasource::Point> {
    let a = iface(device, 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface(device, 2, "Gi0/0/1", "isp", "silknet", true);
    let st = |up: bool| {
        if up {
            IfState::default()
        } else {
            IfState::down()
        }
    };
    let mut pts = series(&a, -10, to, |m| st(isp1(m)));
    pts.extend(series(&b, -10, to, |m| st(isp2(m))));
    pts.extend(device_up(device, -10, to, |_| true));
    pts
}

async fn isp_down_then_up_gives_one_row(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&two_isp_device(
        "CORE-SW-01",
        |m| !(10..20).contains(&m),
        |_| true,
        30,
    ))
    .await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 30).await;
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1, "{backend:?}: exactly one row, got {rows:#?}");
    let r = &rows[0].record;
    assert_eq!(r.alert_name, "IspUplinkDownBackupWorking");
    assert_eq!(r.message, "ISP link Gi0/0/0 (magti) on CORE-SW-01 is DOWN");
    assert_eq!(
        (r.severity.as_str(), r.device.as_str(), r.if_name.as_str()),
        ("high", "CORE-SW-01", "Gi0/0/0")
    );
    assert_eq!(
        (r.interface_type.as_str(), r.isp_provider.as_str()),
        ("isp", "magti")
    );
    assert_eq!(r.state, RowState::Resolved);
    assert_eq!(r.started_at, at(10));
    assert_eq!(r.resolved_at, Some(at(20)));
    assert_eq!(r.labels["alertname"], "IspUplinkDownBackupWorking");
    assert!(r.annotations["description"].contains("Backup uplink working"));
}

async fn two_isps_down_is_a_total_outage_one_is_backup_working(backend: Backend) {
    let vm = Vm::start().await;
    // CORE-SW-01 loses its magti link at 5 and its silknet link at 10; BR-RTR-02 only magti.
    let mut pts = two_isp_device("CORE-SW-01", |m| m < 5, |m| m < 10, 20);
    pts.extend(two_isp_device("BR-RTR-02", |m| m < 5, |_| true, 20));
    vm.import(&pts).await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 20).await;
    let rows = h.rows().await;
    let total = rows_of(&rows, "IspTotalOutage");
    assert_eq!(total.len(), 1, "{backend:?}: {rows:#?}");
    assert_eq!(total[0].record.device, "CORE-SW-01");
    assert_eq!(total[0].record.severity, "critical");
    assert_eq!(total[0].record.started_at, at(10));
    assert_eq!(total[0].record.state, RowState::Firing);
    assert_eq!(
        total[0].record.message,
        "All ISP uplinks on CORE-SW-01 are DOWN (2 down): total outage"
    );
    let backup = rows_of(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(backup.len(), 2, "{backend:?}: {rows:#?}");
    let core = backup
        .iter()
        .find(|r| r.record.device == "CORE-SW-01")
        .unwrap();
    assert_eq!(
        (core.record.started_at, core.record.resolved_at),
        (at(5), Some(at(10))),
        "backup-working ends when the backup fails too"
    );
    let branch = backup
        .iter()
        .find(|r| r.record.device == "BR-RTR-02")
        .unwrap();
    assert_eq!(branch.record.state, RowState::Firing);
    assert_eq!(rows.len(), 3, "nothing else fires: {rows:#?}");
}

async fn restart_while_firing_continues_the_same_row(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&two_isp_device(
        "CORE-SW-01",
        |m| !(5..20).contains(&m),
        |_| true,
        30,
    ))
    .await;
    let fx = StoreFixture::new(backend).await;
    {
        let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
        h.run(0, 12).await;
        let rows = h.rows().await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].record.state, RowState::Firing);
    }
    // A new process: new store handle, state restored from the open row.
    let h = Harness::new(&vm.url(), fx.reopen().await, settings()).await;
    let alerts = h.engine.status().await;
    assert_eq!(alerts[2].rules[0].alerts.len(), 1, "restored as firing");
    h.run(13, 30).await;
    let rows = h.rows().await;
    assert_eq!(
        rows.len(),
        1,
        "{backend:?}: no duplicate after restart: {rows:#?}"
    );
    assert_eq!(rows[0].record.started_at, at(5));
    assert_eq!(
        rows[0].record.resolved_at,
        Some(at(20)),
        "no spurious resolve at restart"
    );
}

async fn stopped_victoriametrics_resolves_nothing(backend: Backend) {
    let mut vm = Vm::start().await;
    vm.import(&two_isp_device("CORE-SW-01", |m| m < 5, |_| true, 40))
        .await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 8).await;
    vm.stop();
    h.run(9, 14).await;
    let rows = h.rows().await;
    let isp = rows_of(&rows, "IspUplinkDownBackupWorking");
    assert_eq!(isp.len(), 1);
    assert_eq!(
        isp[0].record.state,
        RowState::Firing,
        "{backend:?}: nothing resolves"
    );
    let ds = rows_of(&rows, UNREACHABLE_ALERT);
    assert_eq!(
        ds.len(),
        1,
        "DatasourceUnreachable raised after the grace period"
    );
    assert_eq!(ds[0].record.started_at, at(9));
    assert_eq!(ds[0].record.severity, "critical");
    assert_eq!(h.metrics.datasource_up.get(), 0);
    let status = h.engine.status().await;
    assert!(status[2].rules[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("unreachable"));
    vm.restart().await;
    h.run(15, 16).await;
    let rows = h.rows().await;
    assert_eq!(rows.len(), 2, "same rows continue: {rows:#?}");
    assert_eq!(
        rows_of(&rows, "IspUplinkDownBackupWorking")[0].record.state,
        RowState::Firing
    );
    let ds = rows_of(&rows, UNREACHABLE_ALERT);
    assert_eq!(ds[0].record.resolved_at, Some(at(15)));
}

async fn store_outage_loses_no_transition(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&two_isp_device(
        "CORE-SW-01",
        |m| !(5..10).contains(&m),
        |_| true,
        20,
    ))
    .await;
    match backend {
        Backend::Postgres => {
            // A private server this test may really stop and start.
            let pg = PrivatePg::start();
            let url = wardflux_ruler::secret::Secret::new(pg.url());
            let store: std::sync::Arc<dyn wardflux_ruler::store::Store> =
                std::sync::Arc::from(wardflux_ruler::store::open(&url).await.unwrap());
            store.migrate().await.unwrap();
            let h = Harness::new(&vm.url(), store.clone(), settings()).await;
            h.run(0, 4).await;
            pg.stop();
            h.run(5, 12).await;
            assert_eq!(h.queue.depth(), 2, "fired and resolved wait in the queue");
            assert_eq!(h.metrics.queue_depth.get(), 2);
            assert!(h.metrics.store_errors.get() > 0);
            pg.start_again();
            h.queue.drain(store.as_ref()).await.expect("store back");
            assert_eq!(h.queue.depth(), 0);
            check_outage_rows(&h.rows().await);
        }
        Backend::Sqlite => {
            let fx = StoreFixture::new(backend).await;
            let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
            h.run(0, 4).await;
            // Another process holds the write lock.
            use sqlx::Connection;
            let path = fx.url.expose().trim_start_matches("sqlite://").to_string();
            let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut locker)
                .await
                .unwrap();
            h.run(5, 12).await;
            assert_eq!(h.queue.depth(), 2, "fired and resolved wait in the queue");
            assert_eq!(h.metrics.queue_depth.get(), 2);
            sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
            h.queue
                .drain(fx.store.as_ref())
                .await
                .expect("lock released");
            check_outage_rows(&h.rows().await);
        }
    }
}

fn check_outage_rows(rows: &[wardflux_ruler::store::HistoryRow]) {
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].record.started_at, at(5));
    assert_eq!(rows[0].record.resolved_at, Some(at(10)));
}

/// One device per default rule with the fault that rule is for, and healthy devices beside.
async fn every_default_rule_fires_on_its_scenario_and_healthy_data_is_silent(backend: Backend) {
    let vm = Vm::start().await;
    let to = 30;
    let mut pts = Vec::new();
    // Healthy: a branch router with two ISPs, a trunk and access ports.
    pts.extend(two_isp_device("BR-OK-01", |_| true, |_| true, to));
    for (i, kind) in ["trunk", "access", "server_link"].iter().enumerate() {
        let f = iface(
            "BR-OK-01",
            10 + i as u32,
            &format!("Gi0/1/{i}"),
            kind,
            "",
            *kind == "trunk",
        );
        pts.extend(series(&f, -10, to, |_| IfState::default()));
    }
    // IspUplinkDownBackupWorking and IspTotalOutage.
    pts.extend(two_isp_device("ISP-ONE-DOWN", |m| m < 3, |_| true, to));
    pts.extend(two_isp_device("ISP-ALL-DOWN", |m| m < 3, |m| m < 3, to));
    // CriticalTrunkDown; a non-critical trunk down and an admin-down critical trunk stay silent.
    let trunk = iface("CORE-SW-02", 5, "Te1/0/1", "trunk", "", true);
    pts.extend(series(&trunk, -10, to, |m| {
        if m < 3 {
            IfState::default()
        } else {
            IfState::down()
        }
    }));
    let minor = iface("CORE-SW-02", 6, "Te1/0/2", "trunk", "", false);
    pts.extend(series(&minor, -10, to, |_| IfState::down()));
    let shut = iface("CORE-SW-02", 7, "Te1/0/3", "trunk", "", true);
    pts.extend(series(&shut, -10, to, |_| IfState {
        admin: 2.0,
        ..IfState::down()
    }));
    pts.extend(device_up("CORE-SW-02", -10, to, |_| true));
    // DeviceSnmpUnreachable.
    pts.extend(device_up("BR-MUTE-03", -10, to, |m| m < 3));
    // InterfaceHighUtilisation: 900 of 1000 Mbps in.
    let hot = iface("DC-SW-04", 1, "Te0/1", "server_link", "", false);
    pts.extend(series(&hot, -10, to, |_| IfState {
        in_mbps: 900.0,
        ..IfState::default()
    }));
    // InterfaceHighErrorRate: 1% of inbound packets.
    let bad = iface("DC-SW-04", 2, "Te0/2", "server_link", "", false);
    pts.extend(series(&bad, -10, to, |_| IfState {
        in_error_ratio: 0.01,
        ..IfState::default()
    }));
    pts.extend(device_up("DC-SW-04", -10, to, |_| true));
    // InterfaceFlapping: down and up every two minutes until minute 12.
    let flap = iface("BR-FLAP-05", 3, "Gi0/3", "branch_link", "", false);
    pts.extend(series(&flap, -10, to, |m| {
        if (0..12).contains(&m) && (m / 2) % 2 == 0 {
            IfState::down()
        } else {
            IfState::default()
        }
    }));
    pts.extend(device_up("BR-FLAP-05", -10, to, |_| true));
    vm.import(&pts).await;

    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, to).await;
    let rows = h.rows().await;
    let mut got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.record.alert_name.clone(),
                r.record.device.clone(),
                r.record.if_name.clone(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = [
        ("CriticalTrunkDown", "CORE-SW-02", "Te1/0/1"),
        ("DeviceSnmpUnreachable", "BR-MUTE-03", ""),
        ("InterfaceFlapping", "BR-FLAP-05", "Gi0/3"),
        ("InterfaceHighErrorRate", "DC-SW-04", "Te0/2"),
        ("InterfaceHighUtilisation", "DC-SW-04", "Te0/1"),
        ("IspTotalOutage", "ISP-ALL-DOWN", ""),
        ("IspUplinkDownBackupWorking", "ISP-ONE-DOWN", "Gi0/0/0"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(
        got, want,
        "{backend:?}: each rule fires once on its fault, nothing on healthy devices"
    );
    let flapping = rows_of(&rows, "InterfaceFlapping");
    assert_eq!(
        flapping[0].record.state,
        RowState::Resolved,
        "flapping stops: resolves after keep_firing_for"
    );
    let util = rows_of(&rows, "InterfaceHighUtilisation");
    assert!(
        util[0].record.message.contains("90%"),
        "{}",
        util[0].record.message
    );
    // Recording rules wrote their series back, including the 24-hour summary.
    let rec = vm.query("wardflux:if_traffic_mbps:rate5m{device=\"DC-SW-04\",ifName=\"Te0/1\",direction=\"in\"}", at(to)).await;
    assert!((rec[0].value - 900.0).abs() < 1.0, "recorded {rec:?}");
    let daily = vm
        .query(
            "wardflux:if_availability:ratio24h{device=\"BR-OK-01\"}",
            at(to),
        )
        .await;
    assert!(
        !daily.is_empty() && daily.iter().all(|s| s.value == 1.0),
        "daily {daily:?}"
    );
}

async fn replay_writes_the_rows_live_evaluation_would(backend: Backend) {
    let vm = Vm::start().await;
    let mut pts = two_isp_device("CORE-SW-01", |m| !(10..20).contains(&m), |_| true, 30);
    pts.extend(two_isp_device("BR-RTR-02", |m| m < 25, |m| m < 25, 30));
    vm.import(&pts).await;
    let fx = StoreFixture::new(backend).await;
    let rules = load_default_rules();
    let client = vm.client();
    let importer = FlushingImporter {
        client: vm.client(),
    };
    // Recording rules first, as live evaluation would have written them.
    let sum = wardflux_ruler::replay::replay(
        &rules,
        &client,
        &importer,
        fx.store.as_ref(),
        None,
        &wardflux_ruler::replay::ReplayOptions {
            from: at(0),
            to: at(30),
            write_recording: true,
            steps_per_query: 7,
            touch_every: Duration::from_secs(3600),
        },
    )
    .await
    .expect("replay");
    assert_eq!(sum.fired.get("IspUplinkDownBackupWorking"), Some(&1));
    // Recording rules wrote every step back with the labels live evaluation gives them:
    // the rule's name, the result's labels and the rule's own.
    assert!(sum.recorded > 0);
    for m in [7, 20, 30] {
        let want = vm
            .query("rate(wardflux_if_out_octets_total[5m]) * 8 / 1e6", at(m))
            .await;
        let got = vm
            .query("wardflux:if_traffic_mbps:rate5m{direction=\"out\"}", at(m))
            .await;
        assert_eq!(got.len(), want.len(), "minute {m}: {got:?}");
        assert_eq!(want.len(), 4, "minute {m}: {want:?}");
        for w in &want {
            let mut labels = w.labels.clone();
            labels.insert("__name__".into(), "wardflux:if_traffic_mbps:rate5m".into());
            labels.insert("direction".into(), "out".into());
            let g = got.iter().find(|g| g.labels == labels);
            let g = g.unwrap_or_else(|| panic!("minute {m}: no {labels:?} in {got:?}"));
            assert!(
                (g.value - w.value).abs() < 1e-9,
                "minute {m}: {g:?} vs {w:?}"
            );
        }
    }
    let rows = fx.store.history(100).await.unwrap();
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.record.alert_name.as_str(),
                r.record.device.as_str(),
                r.record.started_at,
                r.record.resolved_at,
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("IspTotalOutage", "BR-RTR-02", at(25), None),
            (
                "IspUplinkDownBackupWorking",
                "CORE-SW-01",
                at(10),
                Some(at(20))
            ),
        ],
        "{backend:?}"
    );
}

/// An operator acknowledges the open row (as `POST /api/v1/alerts/{id}/ack` does): the row
/// keeps firing, the acknowledgement survives, and the row resolves when the link is back.
async fn an_acknowledged_alert_still_resolves(backend: Backend) {
    use wardflux_ruler::store::AckOutcome;
    let vm = Vm::start().await;
    vm.import(&two_isp_device(
        "CORE-SW-01",
        |m| !(10..20).contains(&m),
        |_| true,
        30,
    ))
    .await;
    let fx = StoreFixture::new(backend).await;
    let h = Harness::new(&vm.url(), fx.store.clone(), settings()).await;
    h.run(0, 14).await;
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let id = rows[0].id;
    match fx
        .store
        .acknowledge(id, "ops", Some("Magti ticket"), at(14))
        .await
        .unwrap()
    {
        AckOutcome::Acknowledged(r) => assert_eq!(r.record.state, RowState::Firing),
        other => panic!("{other:?}"),
    }
    h.run(15, 30).await;
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1, "the same row continues: {rows:#?}");
    let r = &rows[0];
    assert_eq!(r.record.state, RowState::Resolved, "{backend:?}: {r:#?}");
    assert_eq!(r.record.resolved_at, Some(at(20)));
    assert_eq!(r.acknowledged_by.as_deref(), Some("ops"));
    assert_eq!(r.acknowledged_comment.as_deref(), Some("Magti ticket"));
    assert_eq!(r.acknowledged_at, Some(at(14)));
    assert!(matches!(
        fx.store.acknowledge(id, "ops", None, at(31)).await.unwrap(),
        AckOutcome::Resolved(_)
    ));
    assert!(matches!(
        fx.store
            .acknowledge(id + 100, "ops", None, at(31))
            .await
            .unwrap(),
        AckOutcome::NotFound
    ));
}

/// CPU rows of a Cisco device as the exporter renders them: `cpmCPUTotal5minRev` (percent)
/// and the `wardflux_device_cpu_ratio` summary.
fn cisco_cpu(
    dev: &wardflux_ruler::labels::Labels,
    cpu: &str,
    name: &str,
    to: i64,
    percent: impl Fn(i64) -> f64,
) -> Vec<wardflux_ruler::datasource::Point> {
    let raw = [("cpmCPUTotalIndex", cpu), ("entPhysicalName", name)];
    let mut pts = gauge("cpmCPUTotal5minRev", dev, &raw, -10, to, |m| {
        Some(percent(m))
    });
    let sum = [
        ("mib", "CISCO-PROCESS-MIB"),
        ("cpu", cpu),
        ("cpu_name", name),
    ];
    pts.extend(gauge(
        "wardflux_device_cpu_ratio",
        dev,
        &sum,
        -10,
        to,
        |m| Some(percent(m) / 100.0),
    ));
    pts
}

/// A device with both memory MIBs, as the exporter renders it: the 32-bit `ciscoMemoryPool*`
/// rows, the enhanced pool's 32-bit and 64-bit columns, and one
/// `wardflux_device_memory_used_ratio` per enhanced pool from its 64-bit columns (the
/// exporter summarises CISCO-MEMORY-POOL-MIB only on devices without the enhanced MIB).
/// `used` is the true used share of an 8 GiB pool; the 32-bit columns wrap at 2^32.
fn cisco_memory(
    dev: &wardflux_ruler::labels::Labels,
    to: i64,
    used: impl Fn(i64) -> f64,
) -> Vec<wardflux_ruler::datasource::Point> {
    let total = 8.0 * 1024.0 * 1024.0 * 1024.0;
    let wrap = |v: f64| (v as u64 % (1u64 << 32)) as f64;
    let cmp = [
        ("ciscoMemoryPoolType", "1"),
        ("ciscoMemoryPoolName", "Processor"),
    ];
    let cemp = [
        ("entPhysicalIndex", "1"),
        ("cempMemPoolIndex", "1"),
        ("cempMemPoolName", "Processor"),
    ];
    let u = |m: i64| used(m) * total;
    let f = |m: i64| total - used(m) * total;
    let mut pts = Vec::new();
    pts.extend(gauge("cempMemPoolHCUsed", dev, &cemp, -10, to, |m| {
        Some(u(m).floor())
    }));
    pts.extend(gauge("cempMemPoolHCFree", dev, &cemp, -10, to, |m| {
        Some(f(m).floor())
    }));
    // The 32-bit columns of a pool above 4 GiB: wrapped values that give a wrong ratio.
    for (name, labels, v) in [
        ("ciscoMemoryPoolUsed", &cmp[..], &u as &dyn Fn(i64) -> f64),
        ("ciscoMemoryPoolFree", &cmp[..], &f),
        ("cempMemPoolUsed", &cemp[..], &u),
        ("cempMemPoolFree", &cemp[..], &f),
    ] {
        pts.extend(gauge(name, dev, labels, -10, to, |m| Some(wrap(v(m)))));
    }
    let sum = [
        ("mib", "CISCO-ENHANCED-MEMPOOL-MIB"),
        ("pool_index", "1.1"),
        ("pool", "Processor"),
    ];
    pts.extend(gauge(
        "wardflux_device_memory_used_ratio",
        dev,
        &sum,
        -10,
        to,
        |m| Some(u(m).floor() / (u(m).floor() + f(m).floor())),
    ));
    pts
}

/// Environment rows of a device: a temperature sensor with its threshold, and a fan or power
/// supply state, under the exporter's names.
fn temperature(
    dev: &wardflux_ruler::labels::Labels,
    sensor: &str,
    threshold: f64,
    to: i64,
    celsius: impl Fn(i64) -> f64,
) -> Vec<wardflux_ruler::datasource::Point> {
    let l = [("sensor", sensor)];
    let mut pts = gauge(
        "wardflux_device_temperature_celsius",
        dev,
        &l,
        -10,
        to,
        |m| Some(celsius(m)),
    );
    pts.extend(gauge(
        "wardflux_device_temperature_threshold_celsius",
        dev,
        &l,
        -10,
        to,
        |_| Some(threshold),
    ));
    pts
}

fn component(
    dev: &wardflux_ruler::labels::Labels,
    kind: &str,
    name: &str,
    to: i64,
    ok: impl Fn(i64) -> bool,
) -> Vec<wardflux_ruler::datasource::Point> {
    gauge(
        "wardflux_device_component_ok",
        dev,
        &[("component", kind), ("name", name)],
        -10,
        to,
        |m| Some(if ok(m) { 1.0 } else { 0.0 }),
    )
}

/// The ISP path and device health rules (issue 15) over data shaped as the exporter serves
/// it: each new alert fires on its fault, with the provider and since when; healthy devices,
/// a router without probes or BGP, a link that is down (another rule's case), a short CPU
/// spike and a device whose 32-bit memory columns look full stay silent. Live evaluation and
/// replay write the same rows.
async fn path_and_health_rules_fire_on_their_faults_only(backend: Backend) {
    let vm = Vm::start().await;
    let to = 40;
    let mut pts = Vec::new();
    let a = |d: &str| iface(d, 1, "Gi0/0/0", "isp", "magti", true);
    let b = |d: &str| iface(d, 2, "Gi0/0/1", "isp", "silknet", true);
    let ok = |_: i64| true;
    // Sessions that came up several times since the routers booted, long before the
    // exporter first served them (at minute -10): not flapping now.
    let steady = |_: i64| 7.0;
    // Healthy: probes succeed, sessions established, on both uplinks.
    pts.extend(two_isp_device("PATH-OK-01", ok, ok, to));
    pts.extend(isp_probe(&a("PATH-OK-01"), 1, "8.8.8.8", -10, to, ok));
    pts.extend(isp_probe(&b("PATH-OK-01"), 2, "8.8.8.8", -10, to, ok));
    pts.extend(bgp_peer(
        &a("PATH-OK-01"),
        "169.254.1.1",
        "29614",
        -10,
        to,
        ok,
        steady,
    ));
    // No probes, no BGP: both links up, nothing can be said about the providers.
    pts.extend(two_isp_device("PATH-NONE-02", ok, ok, to));
    // Magti's probe fails from minute 10 to 30 behind a live link; a second probe of the
    // same uplink fails too (every probe of the uplink must fail).
    pts.extend(two_isp_device("PATH-DEAD-03", ok, ok, to));
    let dead = |m: i64| !(10..30).contains(&m);
    pts.extend(isp_probe(&a("PATH-DEAD-03"), 1, "8.8.8.8", -10, to, dead));
    pts.extend(isp_probe(&a("PATH-DEAD-03"), 3, "1.1.1.1", -10, to, dead));
    pts.extend(isp_probe(&b("PATH-DEAD-03"), 2, "8.8.8.8", -10, to, ok));
    // One of two probes of an uplink fails: its path still works, nothing fires.
    pts.extend(isp_probe(
        &b("PATH-OK-01"),
        4,
        "169.254.9.9",
        -10,
        to,
        |m| m < 5,
    ));
    // Silknet's BGP session down from minute 10 while its link stays up; no probes.
    pts.extend(two_isp_device("PATH-BGP-04", ok, ok, to));
    pts.extend(bgp_peer(
        &b("PATH-BGP-04"),
        "169.254.2.1",
        "35805",
        -10,
        to,
        |m| m < 10,
        steady,
    ));
    // Both links up, neither passes from minute 10: Magti's probe and Silknet's session.
    pts.extend(two_isp_device("PATH-ALL-05", ok, ok, to));
    pts.extend(isp_probe(&a("PATH-ALL-05"), 1, "8.8.8.8", -10, to, |m| {
        m < 10
    }));
    pts.extend(bgp_peer(
        &b("PATH-ALL-05"),
        "169.254.3.1",
        "35805",
        -10,
        to,
        |m| m < 10,
        steady,
    ));
    // Magti's link down from minute 10 and its probe failing with it: a down link is
    // IspUplinkDownBackupWorking's case, not this one.
    pts.extend(two_isp_device("PATH-LINK-06", |m| m < 10, ok, to));
    pts.extend(isp_probe(&a("PATH-LINK-06"), 1, "8.8.8.8", -10, to, |m| {
        m < 10
    }));
    // A session re-established at minutes 20, 22 and 24 (up at every poll).
    pts.extend(two_isp_device("BGP-FLAP-07", ok, ok, to));
    pts.extend(bgp_peer(
        &a("BGP-FLAP-07"),
        "169.254.4.1",
        "29614",
        -10,
        to,
        ok,
        |m| 3.0 + [20, 22, 24].iter().filter(|&&f| m >= f).count() as f64,
    ));
    // Magti's probe fails from minute 10; at minute 25 the router stops answering and all
    // its series stop: the row holds (the router is unreachable), it does not resolve.
    for f in [a("PATH-SILENT-14"), b("PATH-SILENT-14")] {
        pts.extend(series(&f, -10, 24, |_| IfState::default()));
    }
    pts.extend(isp_probe(
        &a("PATH-SILENT-14"),
        1,
        "8.8.8.8",
        -10,
        24,
        |m| m < 10,
    ));
    pts.extend(device_up("PATH-SILENT-14", -10, to, |m| m < 25));
    // Device health.
    let hot = device_labels("CPU-HOT-08", "tbilisi-hq");
    pts.extend(cisco_cpu(&hot, "1", "CPU of Route Processor 0", to, |m| {
        if m >= 5 {
            95.0
        } else {
            30.0
        }
    }));
    pts.extend(cisco_cpu(&hot, "2", "CPU of Module 1", to, |_| 20.0));
    pts.extend(device_up("CPU-HOT-08", -10, to, ok));
    let spike = device_labels("CPU-SPIKE-09", "tbilisi-hq");
    pts.extend(cisco_cpu(
        &spike,
        "1",
        "CPU of Route Processor 0",
        to,
        |m| {
            if (5..15).contains(&m) {
                99.0
            } else {
                30.0
            }
        },
    ));
    pts.extend(device_up("CPU-SPIKE-09", -10, to, ok));
    let full = device_labels("MEM-FULL-10", "tbilisi-hq");
    pts.extend(cisco_memory(&full, to, |m| if m >= 5 { 0.95 } else { 0.5 }));
    pts.extend(device_up("MEM-FULL-10", -10, to, ok));
    // 3.8 of 8 GiB used (47.5 %), but its 32-bit rows (free wrapped past 4 GiB) read 95 %:
    // the ratio the exporter serves comes from the 64-bit enhanced columns.
    let wide = device_labels("MEM-64-11", "tbilisi-hq");
    pts.extend(cisco_memory(&wide, to, |_| 0.475));
    pts.extend(device_up("MEM-64-11", -10, to, ok));
    let env = device_labels("ENV-12", "batumi");
    pts.extend(temperature(&env, "Inlet", 55.0, to, |m| {
        if m >= 5 {
            58.0
        } else {
            40.0
        }
    }));
    pts.extend(temperature(&env, "Outlet", 75.0, to, |_| 60.0));
    pts.extend(component(&env, "fan", "Fan 1", to, |m| m < 5));
    pts.extend(component(&env, "fan", "Fan 2", to, ok));
    pts.extend(component(&env, "power_supply", "PS1", to, |m| m < 5));
    pts.extend(component(&env, "power_supply", "PS2", to, ok));
    pts.extend(device_up("ENV-12", -10, to, ok));
    let cool = device_labels("ENV-OK-13", "batumi");
    pts.extend(temperature(&cool, "Inlet", 55.0, to, |_| 31.0));
    pts.extend(component(&cool, "fan", "Fan 1", to, ok));
    pts.extend(component(&cool, "power_supply", "PS1", to, ok));
    pts.extend(cisco_cpu(
        &cool,
        "1",
        "CPU of Route Processor 0",
        to,
        |_| 12.0,
    ));
    pts.extend(cisco_memory(&cool, to, |_| 0.4));
    pts.extend(device_up("ENV-OK-13", -10, to, ok));
    vm.import(&pts).await;

    let fx = StoreFixture::new(backend).await;
    let h = Harness::with(
        &vm.url(),
        fx.store.clone(),
        settings(),
        None,
        path_and_health_rules(),
    )
    .await;
    h.run(0, to).await;
    let rows = h.rows().await;
    let mut got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.record.alert_name.clone(),
                r.record.device.clone(),
                r.record.if_name.clone(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = [
        ("BgpPeerFlapping", "BGP-FLAP-07", "Gi0/0/0"),
        ("DeviceCpuHigh", "CPU-HOT-08", ""),
        ("DeviceFanFailed", "ENV-12", ""),
        ("DeviceMemoryHigh", "MEM-FULL-10", ""),
        ("DevicePowerSupplyFailed", "ENV-12", ""),
        ("DeviceSnmpUnreachable", "PATH-SILENT-14", ""),
        ("DeviceTemperatureHigh", "ENV-12", ""),
        ("IspTotalOutage", "PATH-ALL-05", ""),
        ("IspUplinkDownBackupWorking", "PATH-LINK-06", "Gi0/0/0"),
        ("IspUplinkNotPassingTraffic", "PATH-ALL-05", "Gi0/0/0"),
        ("IspUplinkNotPassingTraffic", "PATH-ALL-05", "Gi0/0/1"),
        ("IspUplinkNotPassingTraffic", "PATH-BGP-04", "Gi0/0/1"),
        ("IspUplinkNotPassingTraffic", "PATH-DEAD-03", "Gi0/0/0"),
        ("IspUplinkNotPassingTraffic", "PATH-SILENT-14", "Gi0/0/0"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(
        got, want,
        "{backend:?}: each rule fires once on its fault, nothing on healthy devices: {rows:#?}"
    );

    let find = |alert: &str, device: &str, if_name: &str| {
        rows.iter()
            .find(|r| {
                r.record.alert_name == alert
                    && r.record.device == device
                    && r.record.if_name == if_name
            })
            .unwrap()
    };
    // The provider, and since when: the last minute the uplink passed (minute 9).
    let dead = &find("IspUplinkNotPassingTraffic", "PATH-DEAD-03", "Gi0/0/0").record;
    assert_eq!(
        dead.message,
        "ISP uplink Gi0/0/0 (magti) on PATH-DEAD-03 is UP but passes no traffic since 2026-03-02 09:09:00 +0000 UTC"
    );
    assert_eq!(
        (dead.severity.as_str(), dead.isp_provider.as_str()),
        ("high", "magti")
    );
    assert_eq!(dead.started_at, at(10));
    assert_eq!(dead.resolved_at, Some(at(30)), "probes back: resolved");
    let bgp = &find("IspUplinkNotPassingTraffic", "PATH-BGP-04", "Gi0/0/1").record;
    assert_eq!(bgp.isp_provider, "silknet");
    assert_eq!(bgp.state, RowState::Firing);
    assert!(
        bgp.message.contains("since 2026-03-02 09:09:00 +0000 UTC"),
        "{}",
        bgp.message
    );
    let silent = &find("IspUplinkNotPassingTraffic", "PATH-SILENT-14", "Gi0/0/0").record;
    assert_eq!(
        (silent.state, silent.resolved_at),
        (RowState::Firing, None),
        "a silent router's row holds"
    );
    assert!(silent.held_since.is_some(), "{silent:#?}");
    let total = &find("IspTotalOutage", "PATH-ALL-05", "").record;
    assert_eq!(total.severity, "critical");
    assert_eq!(total.labels["outage_kind"], "no_traffic");
    assert_eq!(
        total.message,
        "No ISP uplink on PATH-ALL-05 passes traffic (2 up but dead): total outage"
    );
    let flap = &find("BgpPeerFlapping", "BGP-FLAP-07", "Gi0/0/0").record;
    assert_eq!(flap.severity, "medium");
    assert!(
        flap.message.contains("169.254.4.1 (AS 29614, magti)"),
        "{}",
        flap.message
    );
    let cpu = &find("DeviceCpuHigh", "CPU-HOT-08", "").record;
    assert_eq!(cpu.labels["cpu_name"], "CPU of Route Processor 0");
    assert!(cpu.message.contains("at 95%"), "{}", cpu.message);
    let mem = &find("DeviceMemoryHigh", "MEM-FULL-10", "").record;
    assert_eq!(mem.labels["mib"], "CISCO-ENHANCED-MEMPOOL-MIB");
    assert!(mem.message.contains("Processor"), "{}", mem.message);
    // The 64-bit preference matters: a rule over either 32-bit MIB would have fired.
    for mib in ["ciscoMemoryPool", "cempMemPool"] {
        let q = format!(
            "{mib}Used{{device=\"MEM-64-11\"}} / ({mib}Used{{device=\"MEM-64-11\"}} + {mib}Free{{device=\"MEM-64-11\"}})"
        );
        let r = vm.query(&q, at(to)).await;
        assert!(r.len() == 1 && r[0].value > 0.9, "{q}: {r:?}");
    }
    let r = vm
        .query(
            "wardflux_device_memory_used_ratio{device=\"MEM-64-11\"}",
            at(to),
        )
        .await;
    assert!(r.len() == 1 && (r[0].value - 0.475).abs() < 1e-6, "{r:?}");
    let temp = &find("DeviceTemperatureHigh", "ENV-12", "").record;
    assert_eq!(temp.labels["sensor"], "Inlet");
    assert!(temp.message.contains("is 58 °C"), "{}", temp.message);
    assert_eq!(
        find("DeviceFanFailed", "ENV-12", "").record.labels["name"],
        "Fan 1"
    );
    assert_eq!(
        find("DevicePowerSupplyFailed", "ENV-12", "").record.labels["name"],
        "PS1"
    );

    // Replay over the same data writes the same alerts.
    let replayed = StoreFixture::new(backend).await;
    let sum = wardflux_ruler::replay::replay(
        &path_and_health_rules(),
        &vm.client(),
        &FlushingImporter {
            client: vm.client(),
        },
        replayed.store.as_ref(),
        None,
        &wardflux_ruler::replay::ReplayOptions {
            from: at(0),
            to: at(to),
            write_recording: false,
            steps_per_query: 7,
            touch_every: Duration::from_secs(3600),
        },
    )
    .await
    .expect("replay");
    let mut fired: Vec<(String, usize)> = sum.fired.iter().map(|(k, v)| (k.clone(), *v)).collect();
    fired.sort();
    let mut live: Vec<(String, usize)> = Vec::new();
    for (name, _, _) in &want {
        match live.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 += 1,
            None => live.push((name.clone(), 1)),
        }
    }
    assert_eq!(
        fired, live,
        "{backend:?}: replay fires what live evaluation fired"
    );
}

both_stores!(
    an_acknowledged_alert_still_resolves,
    isp_down_then_up_gives_one_row,
    two_isps_down_is_a_total_outage_one_is_backup_working,
    restart_while_firing_continues_the_same_row,
    stopped_victoriametrics_resolves_nothing,
    store_outage_loses_no_transition,
    every_default_rule_fires_on_its_scenario_and_healthy_data_is_silent,
    replay_writes_the_rows_live_evaluation_would,
    path_and_health_rules_fire_on_their_faults_only,
);
