//! Discovery and counter polling: one task per device, bounded globally, filling the inventory.
//!
//! Invariants: a device has at most one request in flight; at most `max_concurrent_devices`
//! devices are polled at once; every visit has a deadline, so one dead device never delays
//! another; a scrape never waits for any of this.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::classify::Classifier;
use crate::config::{Config, Target};
use crate::inventory::{DeviceInventory, Inventory, PollValues, TargetMeta};
use crate::mib::{if_mib, system};
use crate::snmp::session::UdpClient;
use crate::snmp::walk::{get_packed, walk_columns, WalkLimits};
use crate::snmp::{AtOid, ClientStats, SnmpClient, SnmpError};

/// Unix time in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Walk the system group and the interface tables of one device.
pub async fn discover<C: SnmpClient>(
    client: &mut C,
    target: &TargetMeta,
    limits: &mut WalkLimits,
    classifier: &Classifier,
) -> Result<DeviceInventory, AtOid> {
    let sys = get_packed(client, &system::system_oids(), limits).await?;
    let system = system::decode_system(&sys);
    let columns = walk_columns(client, &if_mib::discovery_columns(), limits).await?;
    // EtherLike-MIB is optional: an agent without it (or failing on it) still has interfaces.
    let duplex = match walk_columns(client, &[if_mib::duplex_column()], limits).await {
        Ok(mut c) => c.pop().unwrap_or_default(),
        Err(e) => {
            debug!(device = %target.name, error = %e, "duplex walk failed");
            Vec::new()
        }
    };
    let infos = if_mib::decode_interfaces(&columns, &duplex);
    // -- topology: LLDP/CDP neighbours; a device without those MIBs gets none, never an error.
    let neighbors =
        crate::topology::discover::walk_neighbors(client, &target.name, &infos, limits).await;
    // -- end topology
    let mut inv = DeviceInventory::build(target, system, infos, classifier, unix_now());
    inv.neighbors = Arc::new(neighbors);
    Ok(inv)
}

/// GET the change markers and every monitored interface's counters and statuses.
pub async fn poll<C: SnmpClient>(
    client: &mut C,
    inv: &DeviceInventory,
    limits: &mut WalkLimits,
) -> Result<PollValues, AtOid> {
    let answers = get_packed(client, &inv.plan.oids, limits).await?;
    let n_markers = system::marker_oids().len();
    let markers = system::decode_markers(&answers[..n_markers.min(answers.len())]);
    let mut counters = vec![[None; if_mib::POLLED.len()]; inv.interfaces.len()];
    for (i, (pos, slot)) in inv.plan.targets.iter().enumerate() {
        let k = n_markers + i;
        if let (Some(asked), Some(got)) = (inv.plan.oids.get(k), answers.get(k)) {
            if_mib::store_value(&mut counters[*pos as usize], *slot as usize, asked, got);
        }
    }
    Ok(PollValues {
        counters,
        markers,
        at: unix_now(),
    })
}

/// Settings shared by every device task.
#[derive(Debug, Clone)]
struct Settings {
    poll_interval: Duration,
    discovery_interval: Duration,
    max_oids: u32,
}

struct DeviceTask {
    handle: JoinHandle<()>,
    discover: mpsc::Sender<()>,
    fingerprint: String,
}

/// Counts a discovery round over all devices, for progress lines in the log.
#[derive(Debug, Default)]
struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    interfaces: AtomicU64,
    started: Mutex<Option<Instant>>,
}

impl Progress {
    fn start(&self, total: usize) {
        self.total.store(total as u64, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.interfaces.store(0, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn record(&self, ok: bool, interfaces: usize) {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return;
        }
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.interfaces
            .fetch_add(interfaces as u64, Ordering::Relaxed);
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let step = (total / 10).max(1);
        if done % step == 0 || done == total {
            let elapsed = self
                .started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .map(|s| s.elapsed().as_secs_f64())
                .unwrap_or(0.0);
            info!(
                done,
                total,
                failed = self.failed.load(Ordering::Relaxed),
                interfaces = self.interfaces.load(Ordering::Relaxed),
                elapsed_seconds = format!("{elapsed:.1}"),
                "discovery progress"
            );
        }
        if done >= total {
            self.total.store(0, Ordering::Relaxed);
        }
    }
}

/// Runs one task per target and reconciles them with each new config.
pub struct Poller {
    inventory: Arc<Inventory>,
    classifier: Arc<Mutex<Arc<Classifier>>>,
    semaphore: Mutex<Arc<Semaphore>>,
    tasks: Mutex<HashMap<Arc<str>, DeviceTask>>,
    progress: Arc<Progress>,
}

impl Poller {
    pub fn new(inventory: Arc<Inventory>) -> Arc<Poller> {
        Arc::new(Poller {
            inventory,
            classifier: Arc::new(Mutex::new(Arc::new(Classifier::embedded_default()))),
            semaphore: Mutex::new(Arc::new(Semaphore::new(1))),
            tasks: Mutex::new(HashMap::new()),
            progress: Arc::new(Progress::default()),
        })
    }

    pub fn inventory(&self) -> &Arc<Inventory> {
        &self.inventory
    }

    /// Start, restart or stop device tasks so they match `config`. Unchanged devices keep
    /// their state and schedule. A new classifier re-labels every inventory without SNMP.
    pub fn apply(&self, config: &Config, classifier: Arc<Classifier>) {
        *self.classifier.lock().unwrap_or_else(|p| p.into_inner()) = classifier.clone();
        self.inventory.reclassify(&classifier);
        let sem = Arc::new(Semaphore::new(config.max_concurrent_devices as usize));
        *self.semaphore.lock().unwrap_or_else(|p| p.into_inner()) = sem.clone();
        let settings = Settings {
            poll_interval: config.poll_interval,
            discovery_interval: config.discovery_interval,
            max_oids: config.max_oids_per_request,
        };
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let keep: HashSet<Arc<str>> = config.targets.iter().map(|t| t.name.clone()).collect();
        tasks.retain(|name, t| {
            let stay = keep.contains(name);
            if !stay {
                t.handle.abort();
            }
            stay
        });
        self.inventory.retain(&keep);
        let mut started = 0usize;
        for target in &config.targets {
            let fp = fingerprint(target, &settings);
            if tasks.get(&target.name).is_some_and(|t| t.fingerprint == fp) {
                continue;
            }
            if let Some(old) = tasks.remove(&target.name) {
                old.handle.abort();
            }
            let meta = Arc::new(TargetMeta {
                name: target.name.clone(),
                address: target.address.clone(),
                auth_name: target.auth_name.clone(),
                labels: target.labels.clone(),
            });
            self.inventory.upsert_target(meta.clone());
            let (tx, rx) = mpsc::channel(1);
            let ctx = DeviceCtx {
                target: target.clone(),
                meta,
                settings: settings.clone(),
                inventory: self.inventory.clone(),
                semaphore: sem.clone(),
                classifier: self.classifier.clone(),
                progress: self.progress.clone(),
            };
            let handle = tokio::spawn(device_loop(ctx, rx));
            tasks.insert(
                target.name.clone(),
                DeviceTask {
                    handle,
                    discover: tx,
                    fingerprint: fp,
                },
            );
            started += 1;
        }
        if started > 0 {
            self.progress.start(started);
        }
        info!(devices = tasks.len(), started, "poller configured");
    }

    /// Ask one device to rediscover now. False when the device is unknown.
    pub fn discover_now(&self, name: &str) -> bool {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        match tasks.get(name) {
            Some(t) => {
                let _ = t.discover.try_send(());
                true
            }
            None => false,
        }
    }

    /// Ask every device to rediscover now; returns how many were asked.
    pub fn discover_all(&self) -> usize {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        self.progress.start(tasks.len());
        for t in tasks.values() {
            let _ = t.discover.try_send(());
        }
        tasks.len()
    }

    /// Stop every device task.
    pub fn shutdown(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for (_, t) in tasks.drain() {
            t.handle.abort();
        }
    }
}

fn fingerprint(t: &Target, s: &Settings) -> String {
    // Secrets are part of the session; hash-free comparison through Debug would redact them,
    // so include the credentials' exposed form only inside this in-memory fingerprint.
    let creds = match &t.session.credentials {
        crate::snmp::session::Credentials::V1 { community } => format!("v1:{}", community.expose()),
        crate::snmp::session::Credentials::V2c { community } => {
            format!("v2:{}", community.expose())
        }
        crate::snmp::session::Credentials::V3(v) => format!(
            "v3:{}:{:?}:{:?}:{}:{}:{}",
            v.username,
            v.auth.as_ref().map(|a| a.0),
            v.privacy.as_ref().map(|p| p.0),
            v.auth.as_ref().map(|a| a.1.expose()).unwrap_or(""),
            v.privacy.as_ref().map(|p| p.1.expose()).unwrap_or(""),
            v.context_name
        ),
    };
    format!(
        "{}|{}|{:?}|{}|{}|{:?}|{}|{}",
        t.address,
        t.session.address,
        t.session.timeout,
        t.session.retries,
        t.max_repetitions,
        t.labels,
        creds,
        format_args!(
            "{:?}|{:?}|{}",
            s.poll_interval, s.discovery_interval, s.max_oids
        )
    )
}

struct DeviceCtx {
    target: Target,
    meta: Arc<TargetMeta>,
    settings: Settings,
    inventory: Arc<Inventory>,
    semaphore: Arc<Semaphore>,
    classifier: Arc<Mutex<Arc<Classifier>>>,
    progress: Arc<Progress>,
}

/// Spread devices over the interval by name, so polls do not come in bursts.
fn start_offset(name: &str, interval: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

async fn device_loop(ctx: DeviceCtx, mut discover_rx: mpsc::Receiver<()>) {
    let interval = ctx.settings.poll_interval;
    let phase = start_offset(&ctx.target.name, interval);
    let start = tokio::time::Instant::now();
    // The first visit comes within a second so a fresh start fills /metrics quickly; later
    // visits keep a per-device phase so the fleet's polls spread over the interval.
    let mut next = start + Duration::from_millis(phase.as_millis() as u64 % 1000);
    let mut aligned = start + phase;
    let mut limits = WalkLimits {
        max_repetitions: ctx.target.max_repetitions,
        max_varbinds: ctx.settings.max_oids,
    };
    let mut next_discovery = start;
    let mut totals = ClientStats::default();
    let mut first_discovery = true;
    loop {
        let mut forced = false;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            Some(()) = discover_rx.recv() => { forced = true; }
        }
        let Ok(permit) = ctx.semaphore.clone().acquire_owned().await else {
            return;
        };
        let started = Instant::now();
        let mut client = UdpClient::new(ctx.target.session.clone());
        let current = ctx
            .inventory
            .device(&ctx.target.name)
            .and_then(|d| d.inventory);
        let need_discovery =
            forced || current.is_none() || tokio::time::Instant::now() >= next_discovery;
        // Every visit has a deadline: the poll interval.
        let outcome = tokio::time::timeout(
            interval,
            visit(&ctx, &mut client, &mut limits, current, need_discovery),
        )
        .await
        .unwrap_or_else(|_| {
            Err(VisitError {
                stage: if need_discovery { "discovery" } else { "poll" },
                error: AtOid::new(&crate::snmp::Oid::default(), SnmpError::Deadline),
            })
        });
        drop(permit);
        let elapsed = started.elapsed().as_secs_f64();
        let stats = client.stats();
        totals.requests += stats.requests;
        totals.retries += stats.retries;
        totals.timeouts += stats.timeouts;
        totals.varbinds += stats.varbinds;
        let discovered = outcome.as_ref().is_ok_and(|v| v.inventory.is_some());
        if discovered {
            next_discovery = tokio::time::Instant::now() + ctx.settings.discovery_interval;
        }
        if need_discovery && first_discovery {
            first_discovery = false;
            let n = outcome
                .as_ref()
                .ok()
                .and_then(|v| v.inventory.as_ref())
                .map(|i| i.interfaces.len())
                .unwrap_or(0);
            ctx.progress.record(discovered, n);
        }
        if let Err(e) = &outcome {
            warn!(
                device = %ctx.target.name,
                address = %ctx.target.address,
                stage = e.stage,
                oid = %e.error.oid,
                reason = e.error.error.reason(),
                error = %e.error.error,
                "device poll failed"
            );
        }
        let now = unix_now();
        ctx.inventory.update(&ctx.target.name, |d| {
            let h = &mut d.health;
            h.requests = totals.requests;
            h.retries = totals.retries;
            h.timeouts = totals.timeouts;
            h.varbinds = totals.varbinds;
            h.max_repetitions = limits.max_repetitions;
            h.polls += 1;
            h.last_poll_seconds = elapsed;
            match outcome {
                Ok(v) => {
                    h.up = true;
                    h.last_error = None;
                    h.last_success_at = now;
                    if let Some(inv) = v.inventory {
                        h.discoveries += 1;
                        h.last_discovery_seconds = v.discovery_seconds;
                        d.inventory = Some(inv);
                    }
                    d.values = Some(v.values);
                }
                Err(e) => {
                    h.up = false;
                    h.poll_failures += 1;
                    h.last_error = Some(format!("{} failed: {}", e.stage, e.error));
                }
            }
        });
        if forced {
            continue;
        }
        // Next visit on this device's phase; intervals skipped entirely count as missed.
        let now_i = tokio::time::Instant::now();
        let mut missed = 0u64;
        while aligned <= now_i {
            aligned += interval;
            missed += 1;
        }
        // The first pass over `aligned` is the normal advance, not a miss.
        let missed = missed.saturating_sub(1);
        next = aligned;
        if missed > 0 {
            ctx.inventory
                .update(&ctx.target.name, |d| d.health.polls_missed += missed);
        }
    }
}

struct Visit {
    /// Set when this visit walked the interface tables.
    inventory: Option<Arc<DeviceInventory>>,
    discovery_seconds: f64,
    values: Arc<PollValues>,
}

struct VisitError {
    stage: &'static str,
    error: AtOid,
}

async fn visit(
    ctx: &DeviceCtx,
    client: &mut UdpClient,
    limits: &mut WalkLimits,
    current: Option<Arc<DeviceInventory>>,
    need_discovery: bool,
) -> Result<Visit, VisitError> {
    let classifier = ctx
        .classifier
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (mut inv, mut fresh, mut discovery_seconds) = match current {
        Some(inv) if !need_discovery => (inv, false, 0.0),
        _ => {
            let (inv, secs) = rediscover(&ctx.meta, &classifier, client, limits).await?;
            (inv, true, secs)
        }
    };
    let prev = ctx
        .inventory
        .device(&ctx.target.name)
        .and_then(|d| d.values.map(|v| v.markers));
    let mut values = poll(client, &inv, limits)
        .await
        .map_err(|error| VisitError {
            stage: "poll",
            error,
        })?;
    if !fresh {
        if let Some(reason) = prev.and_then(|p| system::rediscovery_reason(&p, &values.markers)) {
            info!(device = %ctx.target.name, reason, "interface table changed, rediscovering");
            let (new_inv, secs) = rediscover(&ctx.meta, &classifier, client, limits).await?;
            inv = new_inv;
            fresh = true;
            discovery_seconds = secs;
            values = poll(client, &inv, limits)
                .await
                .map_err(|error| VisitError {
                    stage: "poll",
                    error,
                })?;
        }
    }
    debug!(device = %ctx.target.name, interfaces = inv.interfaces.len(), fresh, "visited");
    Ok(Visit {
        inventory: fresh.then_some(inv),
        discovery_seconds,
        values: Arc::new(values),
    })
}

async fn rediscover(
    meta: &TargetMeta,
    classifier: &Classifier,
    client: &mut UdpClient,
    limits: &mut WalkLimits,
) -> Result<(Arc<DeviceInventory>, f64), VisitError> {
    let t = Instant::now();
    let inv = discover(client, meta, limits, classifier)
        .await
        .map_err(|error| VisitError {
            stage: "discovery",
            error,
        })?;
    Ok((Arc::new(inv), t.elapsed().as_secs_f64()))
}
