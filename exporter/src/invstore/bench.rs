//! `wardflux-exporter bench-store`: the inventory store's cost on a synthetic fleet (DEVICES x
//! INTERFACES): the first sync (every row inserted), an idle look at the inventory (what the
//! writer does every tick when nothing changed), and a status-change storm (a share of the
//! interfaces flip at once), with the database's own counters. Figures are printed, never
//! asserted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::db::{self, Sink};
use super::track::{Pending, Tracker};
use crate::classify::Classifier;
use crate::inventory::{DeviceEntry, DeviceInventory, Health, PollValues, TargetMeta};
use crate::mib::if_mib::{InterfaceInfo, POLLED};
use crate::mib::system::{ChangeMarkers, SystemInfo};
use crate::secret::Secret;

/// A synthetic fleet: `devices` x `interfaces`, every interface up.
fn fleet(devices: usize, interfaces: u32) -> Vec<DeviceEntry> {
    let classifier = Classifier::embedded_default();
    (0..devices)
        .map(|d| {
            let meta = Arc::new(TargetMeta {
                name: Arc::from(format!("bench-{d:05}")),
                address: "127.0.0.1:161".into(),
                auth_name: "bench".into(),
                labels: Arc::new(BTreeMap::from([("id".into(), d.to_string())])),
            });
            let infos = (1..=interfaces)
                .map(|i| InterfaceInfo {
                    if_index: i,
                    name: format!("Gi0/{i}").into_bytes(),
                    descr: format!("GigabitEthernet0/{i}").into_bytes(),
                    alias: if i == 1 {
                        b"Magti_Internet".to_vec()
                    } else {
                        format!("User port {i}").into_bytes()
                    },
                    if_type: 6,
                    mtu: Some(1500),
                    speed: 1_000_000_000,
                    high_speed: Some(1000),
                    phys_address: vec![0, 0x1b, 0x2c, 0, (d >> 8) as u8, i as u8],
                    admin_status: 1,
                    oper_status: 1,
                    has_hc: true,
                    ..InterfaceInfo::default()
                })
                .collect();
            let inv = DeviceInventory::build(&meta, SystemInfo::default(), infos, &classifier, 1.0);
            DeviceEntry {
                device_labels: Arc::from(""),
                target: meta,
                inventory: Some(Arc::new(inv)),
                values: Some(values(interfaces, 0, 0, 2.0)),
                health: Health::default(),
            }
        })
        .collect()
}

/// Poll values with interface `pos` down when `pos % every == phase` (every = 0: none down).
fn values(interfaces: u32, every: u32, phase: u32, at: f64) -> Arc<PollValues> {
    let counters = (0..interfaces)
        .map(|pos| {
            let mut c = [None; POLLED.len()];
            let down = every > 0 && pos % every == phase;
            c[0] = Some(if down { 2 } else { 1 });
            c[1] = Some(1);
            c
        })
        .collect();
    Arc::new(PollValues {
        counters,
        markers: ChangeMarkers::default(),
        at,
        ..Default::default()
    })
}

/// Database counters before and after a phase (PostgreSQL: pg_stat_database; SQLite: none).
async fn pg_counters(url: &Secret) -> Option<(i64, i64, i64, i64)> {
    use sqlx::Connection;
    if !url.expose().starts_with("postgres") {
        return None;
    }
    let mut c = sqlx::PgConnection::connect(url.expose()).await.ok()?;
    sqlx::query_as::<_, (i64, i64, i64, i64)>(
        "SELECT xact_commit, tup_inserted, tup_updated, pg_database_size(current_database()) \
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut c)
    .await
    .ok()
}

async fn write_all(
    sink: &dyn Sink,
    pending: &mut Pending,
    batch_rows: usize,
) -> Result<usize, String> {
    let mut batches = 0;
    while pending.rows() > 0 || pending.devices() > 0 {
        let b = pending.take(batch_rows);
        sink.write(&b).await.map_err(|e| e.to_string())?;
        batches += 1;
    }
    Ok(batches)
}

/// Run the benchmark and print its figures.
pub async fn run(
    url: &Secret,
    devices: usize,
    interfaces: u32,
    storm_percent: u32,
) -> Result<(), String> {
    let sink = db::open(url).map_err(|e| e.to_string())?;
    sink.migrate().await.map_err(|e| e.to_string())?;
    println!(
        "inventory store benchmark: {devices} devices x {interfaces} interfaces = {} rows, store {}",
        devices * interfaces as usize,
        sink.kind()
    );
    let t = Instant::now();
    let mut entries = fleet(devices, interfaces);
    println!(
        "  synthetic inventory built in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let mut tracker = Tracker::new();
    let mut pending = Pending::new(devices * interfaces as usize * 2);

    // First sync.
    let before = pg_counters(url).await;
    let t = Instant::now();
    tracker.observe(&entries, 3.0, &mut pending);
    let observe = t.elapsed().as_secs_f64();
    let rows = pending.rows();
    let t = Instant::now();
    let batches = write_all(sink.as_ref(), &mut pending, super::BATCH_ROWS).await?;
    let write = t.elapsed().as_secs_f64();
    // PostgreSQL publishes a backend's statistics when it has been idle a while.
    settle(url).await;
    let after = pg_counters(url).await;
    println!(
        "  first sync: {rows} rows queued in {observe:.2}s, written in {write:.2}s \
         ({batches} transactions, {:.0} rows/s)",
        rows as f64 / write
    );
    print_load(before, after);

    // An idle look: nothing changed.
    let t = Instant::now();
    tracker.observe(&entries, 4.0, &mut pending);
    println!(
        "  idle look at the inventory (every writer tick): {:.1} ms, {} rows queued",
        t.elapsed().as_secs_f64() * 1000.0,
        pending.rows()
    );
    // A poll with the same statuses everywhere (new values, nothing changed).
    for e in entries.iter_mut() {
        e.values = Some(values(interfaces, 0, 0, 5.0));
    }
    let t = Instant::now();
    tracker.observe(&entries, 5.0, &mut pending);
    println!(
        "  look after a full poll round without changes: {:.1} ms, {} rows queued",
        t.elapsed().as_secs_f64() * 1000.0,
        pending.rows()
    );

    // The storm: storm_percent of the interfaces go down at once.
    let every = (100 / storm_percent.clamp(1, 100)).max(1);
    for e in entries.iter_mut() {
        e.values = Some(values(interfaces, every, 0, 6.0));
    }
    let before = pg_counters(url).await;
    let t = Instant::now();
    tracker.observe(&entries, 6.0, &mut pending);
    let observe = t.elapsed().as_secs_f64();
    let rows = pending.rows();
    let t = Instant::now();
    let batches = write_all(sink.as_ref(), &mut pending, super::BATCH_ROWS).await?;
    let write = t.elapsed().as_secs_f64();
    // PostgreSQL publishes a backend's statistics when it has been idle a while.
    settle(url).await;
    let after = pg_counters(url).await;
    println!(
        "  status storm ({storm_percent}% of interfaces down): {rows} rows queued in {observe:.2}s, \
         written in {write:.2}s ({batches} transactions, {:.0} rows/s)",
        rows as f64 / write.max(1e-9)
    );
    print_load(before, after);
    Ok(())
}

async fn settle(url: &Secret) {
    if url.expose().starts_with("postgres") {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    }
}

fn print_load(before: Option<(i64, i64, i64, i64)>, after: Option<(i64, i64, i64, i64)>) {
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "    database: {} commits, {} tuples inserted, {} updated, database size {:.1} MB (was {:.1} MB)",
            a.0 - b.0,
            a.1 - b.1,
            a.2 - b.2,
            a.3 as f64 / 1e6,
            b.3 as f64 / 1e6
        );
    }
}
