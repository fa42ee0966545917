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
use crate::snmp::walk::{get_packed, get_packed_encoded, walk_columns, WalkLimits};
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
    system::check_types(&sys)?;
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
    // -- envmon: temperatures, fans, supplies, sensors; optics tied to these interfaces.
    let env = crate::envmon::discover(client, &target.name, &infos, limits).await;
    // -- topology: LLDP/CDP neighbours; a device without those MIBs gets none, never an error.
    let neighbors =
        crate::topology::discover::walk_neighbors(client, &target.name, &infos, limits).await;
    // -- end topology
    // -- health: CPU and memory tables; a device without them gets an empty plan.
    let health = crate::health::discover(client, &target.name, limits).await;
    // -- ISP path: probes and peers; a device without them gets empty tables.
    let isp_path = crate::isp_path::discover(client, &target.name, limits).await;
    let mut inv = DeviceInventory::build(target, system, infos, classifier, unix_now());
    inv.tie_isp_path(target, isp_path, classifier);
    inv.neighbors = Arc::new(neighbors);
    inv.health = health;
    inv.env = env;
    Ok(inv)
}

/// GET the change markers and every monitored interface's counters and statuses, and the
/// device's health values in the same packed requests (they fill the last one's free room,
/// so a device with health rows usually pays no request for them).
pub async fn poll<C: SnmpClient>(
    client: &mut C,
    inv: &DeviceInventory,
    limits: &mut WalkLimits,
) -> Result<PollValues, AtOid> {
    // The plan's OIDs go out pre-encoded; answers come back matched to them by position and
    // OID bytes, never decoded into `Oid`s.
    let (answers, health) = if inv.health.oids.is_empty() {
        (
            get_packed_encoded(client, &inv.plan.oids, limits).await?,
            Vec::new(),
        )
    } else {
        let mut both = inv.plan.oids.clone();
        both.append(&inv.health.oids);
        match get_packed_encoded(client, &both, limits).await {
            Ok(mut answers) => {
                let values = answers.split_off(inv.plan.oids.len().min(answers.len()));
                let health = crate::mib::health::decode_values(&values, inv.health.series.len());
                (answers, health)
            }
            // An agent that errs on a health OID must not cost the interfaces their poll:
            // ask for them alone, and the health values apart as before.
            Err(e) if !matches!(e.error, SnmpError::Timeout { .. }) => {
                debug!(error = %e, "poll with health values failed; polling them apart");
                let answers = get_packed_encoded(client, &inv.plan.oids, limits).await?;
                let health = crate::health::poll(client, &inv.health, limits).await;
                (answers, health)
            }
            Err(e) => return Err(e),
        }
    };
    let n_markers = system::marker_oids().len();
    let markers = system::decode_markers(&answers[..n_markers.min(answers.len())]);
    let mut counters = vec![[None; if_mib::POLLED.len()]; inv.interfaces.len()];
    let mut narrow = vec![0u32; inv.interfaces.len()];
    let mut mismatches = [0u32; if_mib::POLLED.len()];
    for (i, (pos, slot)) in inv.plan.targets.iter().enumerate() {
        if let Some(got) = answers.get(n_markers + i) {
            let (pos, slot) = (*pos as usize, *slot as usize);
            match if_mib::store_value(&mut counters[pos], slot, got.as_ref()) {
                if_mib::Stored::Narrow => narrow[pos] |= 1 << slot,
                if_mib::Stored::Mismatch => mismatches[slot] += 1,
                _ => {}
            }
        }
    }
    // -- envmon: its own small GET, none for a device without environment rows.
    let env = crate::envmon::poll(client, &inv.env, limits).await;
    // -- ISP path: its own small GET, none for a device without probes or peers.
    let isp_path = crate::isp_path::poll(client, &inv.isp_path, limits).await;
    Ok(PollValues {
        counters,
        narrow,
        mismatches,
        markers,
        health,
        env,
        isp_path,
        at: unix_now(),
        ..PollValues::default()
    })
}

/// The least time a visit that includes discovery may take before it is abandoned.
pub const DISCOVERY_DEADLINE: Duration = Duration::from_secs(120);

/// Settings shared by every device task.
#[derive(Debug, Clone)]
struct Settings {
    poll_interval: Duration,
    /// Status polls between counter polls; `None` when off or not shorter than `poll_interval`.
    status_interval: Option<Duration>,
    /// How long a changed ifOperStatus of a critical interface waits for a second reading.
    status_confirm_delay: Duration,
    discovery_interval: Duration,
    max_oids: u32,
}

struct DeviceTask {
    handle: JoinHandle<()>,
    discover: mpsc::Sender<()>,
    /// A notification's hint: poll now (at most once a second, see `triggered_at`).
    trigger: mpsc::Sender<()>,
    fingerprint: u64,
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
        if done.is_multiple_of(step) || done == total {
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
    /// Bounds visits in flight across all devices; resized in place on reload so running
    /// tasks and new ones share it.
    semaphore: Arc<Semaphore>,
    permits: Mutex<usize>,
    tasks: Mutex<HashMap<Arc<str>, DeviceTask>>,
    progress: Arc<Progress>,
    /// Targets by address, for the notification listener.
    sources: Mutex<Arc<crate::notify::Sources>>,
    /// Counts the polls notifications triggered.
    polls_triggered: prometheus_client::metrics::counter::Counter,
}

impl Poller {
    /// `polls_triggered` counts the polls notifications trigger (a self-metric).
    pub fn new(
        inventory: Arc<Inventory>,
        polls_triggered: prometheus_client::metrics::counter::Counter,
    ) -> Arc<Poller> {
        Arc::new(Poller {
            sources: Mutex::new(Arc::default()),
            polls_triggered,
            inventory,
            classifier: Arc::new(Mutex::new(Arc::new(Classifier::embedded_default()))),
            semaphore: Arc::new(Semaphore::new(0)),
            permits: Mutex::new(0),
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
        self.reconcile(config);
    }

    /// A new classifier (an interface edit through the API) for every later discovery, and
    /// one device's inventory re-labelled with it now, without SNMP.
    pub fn set_classifier(&self, classifier: Arc<Classifier>, device: &str) {
        *self.classifier.lock().unwrap_or_else(|p| p.into_inner()) = classifier.clone();
        self.inventory.reclassify_device(device, &classifier);
    }

    /// Start, restart or stop device tasks so they match `config.targets`, keeping the
    /// classifier: what a new `targets_sql` row set needs.
    pub fn reconcile(&self, config: &Config) {
        self.resize(config.max_concurrent_devices as usize);
        let sem = self.semaphore.clone();
        let settings = Settings {
            poll_interval: config.poll_interval,
            status_interval: Some(config.status_poll_interval)
                .filter(|d| !d.is_zero() && *d < config.poll_interval),
            status_confirm_delay: config.status_confirm_delay,
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
        *self.sources.lock().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(sources_of(&config.targets));
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
            let (trigger_tx, trigger_rx) = mpsc::channel(1);
            let ctx = DeviceCtx {
                target: target.clone(),
                meta,
                settings: settings.clone(),
                inventory: self.inventory.clone(),
                semaphore: sem.clone(),
                classifier: self.classifier.clone(),
                progress: self.progress.clone(),
                polls_triggered: self.polls_triggered.clone(),
            };
            let handle = tokio::spawn(device_loop(ctx, rx, trigger_rx));
            tasks.insert(
                target.name.clone(),
                DeviceTask {
                    handle,
                    discover: tx,
                    trigger: trigger_tx,
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

    fn resize(&self, want: usize) {
        let mut have = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        if want > *have {
            self.semaphore.add_permits(want - *have);
            *have = want;
        } else if want < *have {
            // Permits held by running visits come back later; forget what is free now and
            // the rest as it is returned.
            let excess = *have - want;
            let sem = self.semaphore.clone();
            let forgotten = sem.forget_permits(excess);
            if forgotten < excess {
                let rest = (excess - forgotten) as u32;
                tokio::spawn(async move {
                    if let Ok(p) = sem.acquire_many(rest).await {
                        p.forget();
                    }
                });
            }
            *have = want;
        }
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

    /// Ask one device to be polled now (a notification's hint). False when it is unknown.
    /// Hints that arrive while one is pending are merged into it.
    pub fn trigger_poll(&self, name: &str) -> bool {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        match tasks.get(name) {
            Some(t) => {
                let _ = t.trigger.try_send(());
                true
            }
            None => false,
        }
    }

    /// Stop every device task.
    pub fn shutdown(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for (_, t) in tasks.drain() {
            t.handle.abort();
        }
    }
}

impl crate::notify::Triggers for Poller {
    fn sources(&self) -> Arc<crate::notify::Sources> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn trigger(&self, device: &str) -> bool {
        self.trigger_poll(device)
    }
}

/// Targets by the IP address they are polled at, with their credentials.
fn sources_of(targets: &[Target]) -> crate::notify::Sources {
    crate::notify::Sources::build(targets.iter().map(|t| {
        (
            t.session.address.ip(),
            t.name.clone(),
            &t.session.credentials,
        )
    }))
}

/// A hash of everything that, when changed, restarts a device's task. Secrets go into the
/// hash only, never into a string that could be printed.
fn fingerprint(t: &Target, s: &Settings) -> u64 {
    use crate::snmp::session::Credentials;
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &t.address,
        t.session.address,
        t.session.timeout,
        t.session.retries,
    )
        .hash(&mut h);
    (t.max_repetitions, t.labels.as_ref()).hash(&mut h);
    (
        s.poll_interval,
        s.status_interval,
        s.status_confirm_delay,
        s.discovery_interval,
        s.max_oids,
    )
        .hash(&mut h);
    match &t.session.credentials {
        Credentials::V1 { community } => (1u8, community.expose()).hash(&mut h),
        Credentials::V2c { community } => (2u8, community.expose()).hash(&mut h),
        Credentials::V3(v) => {
            (3u8, &v.username, &v.context_name).hash(&mut h);
            if let Some((proto, pass)) = &v.auth {
                (format!("{proto:?}"), pass.expose()).hash(&mut h);
            }
            if let Some((proto, pass)) = &v.privacy {
                (format!("{proto:?}"), pass.expose()).hash(&mut h);
            }
        }
    }
    h.finish()
}

struct DeviceCtx {
    target: Target,
    meta: Arc<TargetMeta>,
    settings: Settings,
    inventory: Arc<Inventory>,
    semaphore: Arc<Semaphore>,
    classifier: Arc<Mutex<Arc<Classifier>>>,
    progress: Arc<Progress>,
    polls_triggered: prometheus_client::metrics::counter::Counter,
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

/// What woke a device's task.
enum Wake {
    Scheduled,
    Discover,
    Status,
    Triggered,
}

/// The least time between two triggered polls of one device.
pub const TRIGGER_MIN_GAP: Duration = Duration::from_secs(1);

/// When a triggered poll asked for at `now` may run: at once, or a second after the last.
pub fn triggered_at(
    now: tokio::time::Instant,
    last: Option<tokio::time::Instant>,
) -> tokio::time::Instant {
    match last {
        Some(l) if now < l + TRIGGER_MIN_GAP => l + TRIGGER_MIN_GAP,
        _ => now,
    }
}

async fn device_loop(
    ctx: DeviceCtx,
    mut discover_rx: mpsc::Receiver<()>,
    mut trigger_rx: mpsc::Receiver<()>,
) {
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
    let mut last_logged: Option<String> = None;
    let mut last_markers: Option<(system::ChangeMarkers, f64)> = None;
    let mut other_source: Option<std::net::SocketAddr> = None;
    // 32-bit counters extended across wraps; kept across failed visits.
    let mut tracker = crate::widen::Tracker::new();
    let mut status = crate::status::Schedule::new(
        ctx.settings.status_interval,
        ctx.settings.status_confirm_delay,
        phase,
        start,
    );
    // A pending triggered poll and when the last one ran.
    let mut trigger_at: Option<tokio::time::Instant> = None;
    let mut last_triggered: Option<tokio::time::Instant> = None;
    // The pending triggered poll was asked for by a notification (not by a status poll).
    let mut notified = false;
    // When the last counter poll started.
    let mut last_counter: Option<tokio::time::Instant> = None;
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
        let wake = tokio::select! {
            _ = tokio::time::sleep_until(next) => Wake::Scheduled,
            Some(()) = discover_rx.recv() => Wake::Discover,
            Some(()) = trigger_rx.recv() => {
                notified = true;
                if trigger_at.is_none() {
                    trigger_at = Some(triggered_at(tokio::time::Instant::now(), last_triggered));
                }
                continue;
            }
            _ = tokio::time::sleep_until(trigger_at.unwrap_or(far)), if trigger_at.is_some() => Wake::Triggered,
            _ = tokio::time::sleep_until(status.next().unwrap_or(far)), if status.next().is_some() => Wake::Status,
        };
        let forced = matches!(wake, Wake::Discover);
        // A poll a notification asked for confirms the changes it reads (status::decide).
        let confirmed = matches!(wake, Wake::Triggered) && std::mem::take(&mut notified);
        match wake {
            Wake::Status => {
                let poll_now = crate::status::visit(
                    &ctx.target,
                    &ctx.inventory,
                    &ctx.semaphore,
                    &mut status,
                    crate::status::CounterTimes {
                        last: last_counter,
                        next,
                    },
                    &mut limits,
                    &mut totals,
                )
                .await;
                if poll_now {
                    // A reboot, a failure after answers, or answers after failures: the
                    // counter poll decides, now (as a triggered poll, so at most once a second).
                    trigger_at.get_or_insert_with(|| {
                        triggered_at(tokio::time::Instant::now(), last_triggered)
                    });
                }
                continue;
            }
            Wake::Triggered => {
                trigger_at = None;
                last_triggered = Some(tokio::time::Instant::now());
                ctx.polls_triggered.inc();
            }
            Wake::Scheduled | Wake::Discover => {}
        }
        let off_schedule = !matches!(wake, Wake::Scheduled);
        let Ok(permit) = ctx.semaphore.clone().acquire_owned().await else {
            return;
        };
        let started = Instant::now();
        last_counter = Some(tokio::time::Instant::now());
        let mut client = UdpClient::new(ctx.target.session.clone());
        let current = ctx
            .inventory
            .device(&ctx.target.name)
            .and_then(|d| d.inventory);
        let need_discovery =
            forced || current.is_none() || tokio::time::Instant::now() >= next_discovery;
        // Every visit has a deadline: the poll interval, or for a visit that walks the
        // interface tables (thousands of rows on big switches) at least DISCOVERY_DEADLINE.
        let deadline = if need_discovery {
            interval.max(DISCOVERY_DEADLINE)
        } else {
            interval
        };
        let outcome = tokio::time::timeout(
            deadline,
            visit(
                &ctx,
                &mut client,
                &mut limits,
                current,
                need_discovery,
                last_markers,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(VisitError {
                stage: if need_discovery { "discovery" } else { "poll" },
                error: AtOid::new(&crate::snmp::Oid::default(), SnmpError::Deadline),
            })
        });
        drop(permit);
        // A device that never answers may be answering from another address: say so.
        let outcome = match outcome {
            Err(mut e) if matches!(e.error.error, SnmpError::Timeout { .. }) => {
                if other_source.is_none() {
                    other_source = client.answer_from_elsewhere().await;
                }
                if let Some(from) = other_source {
                    e.error.error = SnmpError::OtherSource {
                        from: from.to_string(),
                    };
                }
                Err(e)
            }
            Err(e) => Err(e),
            Ok(v) => {
                other_source = None;
                Ok(v)
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        let stats = client.stats();
        totals.requests += stats.requests;
        totals.retries += stats.retries;
        totals.timeouts += stats.timeouts;
        totals.varbinds += stats.varbinds;
        if let Ok(v) = &outcome {
            last_markers = Some((v.values.markers, v.values.at));
        }
        let mut tally = crate::widen::Tally::default();
        let outcome = outcome.map(|mut v| {
            let inv = v.inventory.clone().or_else(|| {
                ctx.inventory
                    .device(&ctx.target.name)
                    .and_then(|d| d.inventory)
            });
            if let Some(inv) = inv {
                tally = tracker.advance(&inv, &mut v.values);
                warn_wrap_risk(&ctx, &inv, &tally.newly_at_risk);
            }
            v
        });
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
        // One warning per failure episode (and when the reason changes); repeats go to debug.
        match &outcome {
            Err(e) => {
                let msg = format!("{}:{}", e.stage, e.error);
                if last_logged.as_deref() != Some(msg.as_str()) {
                    warn!(
                        device = %ctx.target.name,
                        address = %ctx.target.address,
                        stage = e.stage,
                        oid = %e.error.oid,
                        reason = e.error.error.reason(),
                        error = %e.error.error,
                        "device poll failed"
                    );
                    last_logged = Some(msg);
                } else {
                    debug!(device = %ctx.target.name, stage = e.stage, error = %e.error, "device poll failed again");
                }
            }
            Ok(_) => {
                if last_logged.take().is_some() {
                    info!(device = %ctx.target.name, address = %ctx.target.address, "device answering again");
                }
            }
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
            h.counter_wraps += tally.wraps;
            h.counter_ambiguous += tally.ambiguous;
            match outcome {
                Ok(v) => {
                    for (total, n) in h.type_mismatches.iter_mut().zip(v.values.mismatches) {
                        *total += u64::from(n);
                    }
                    h.up = true;
                    h.last_error = None;
                    h.last_success_at = now;
                    let mut values = v.values;
                    if let Some(inv) = v.inventory {
                        h.discoveries += 1;
                        h.last_discovery_seconds = v.discovery_seconds;
                        d.inventory = Some(inv);
                        status.guard.clear();
                    } else if let Some(inv) = &d.inventory {
                        // The counter poll reads the critical interfaces' status too: the
                        // same flap guard as a status poll's.
                        let again = status.guard.apply(
                            inv,
                            d.values.as_deref(),
                            &mut values,
                            tokio::time::Instant::now(),
                            confirmed,
                        );
                        status.confirm_at(again);
                        h.link_flaps_dropped = status.guard.dropped();
                    }
                    d.values = Some(Arc::new(values));
                }
                Err(e) => {
                    h.up = false;
                    h.poll_failures += 1;
                    h.last_error = Some(format!("{} failed: {}", e.stage, e.error));
                    // Like a failed scrape: no interface values rather than stale ones that
                    // would show a dead device's ports as up. The inventory stays for the API.
                    d.values = None;
                }
            }
        });
        if off_schedule {
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

/// Say once, when discovery finds them, which interfaces' 32-bit counters can wrap more than
/// once between two polls at this poll interval (their traffic is then a lower bound).
fn warn_wrap_risk(ctx: &DeviceCtx, inv: &DeviceInventory, positions: &[usize]) {
    for &pos in positions {
        let Some(e) = inv.interfaces.get(pos) else {
            continue;
        };
        let speed = e.info.speed_bps();
        warn!(
            device = %ctx.target.name,
            if_index = e.info.if_index,
            if_name = %e.name_text(),
            speed_mbps = speed / 1_000_000,
            poll_interval_seconds = inv.poll_interval.as_secs_f64(),
            max_poll_interval_seconds = crate::widen::max_interval(speed)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            "32-bit counters can wrap more than once per poll interval at this speed; its traffic is a lower bound (poll more often)"
        );
    }
}

struct Visit {
    /// Set when this visit walked the interface tables.
    inventory: Option<Arc<DeviceInventory>>,
    discovery_seconds: f64,
    values: PollValues,
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
    prev: Option<(system::ChangeMarkers, f64)>,
) -> Result<Visit, VisitError> {
    let classifier = ctx
        .classifier
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (mut inv, mut fresh, mut discovery_seconds) = match current {
        Some(inv) if !need_discovery => (inv, false, 0.0),
        _ => {
            let (inv, secs) = rediscover(ctx, &classifier, client, limits).await?;
            (inv, true, secs)
        }
    };
    let mut values = poll(client, &inv, limits)
        .await
        .map_err(|error| VisitError {
            stage: "poll",
            error,
        })?;
    if !fresh {
        // The markers of the last answered poll, kept across failed visits: a device that
        // rebooted (and renumbered its interfaces) while it was unreachable must not have
        // its old plan's instances read as if they were the same ports.
        if let Some(reason) =
            prev.and_then(|(p, at)| system::rediscovery_reason(&p, &values.markers, values.at - at))
        {
            info!(device = %ctx.target.name, reason, "interface table changed, rediscovering");
            let (new_inv, secs) = rediscover(ctx, &classifier, client, limits).await?;
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
    // -- topology: a cut link stays known (as down) across rediscovery
    if fresh {
        let before = ctx
            .inventory
            .device(&ctx.target.name)
            .and_then(|d| d.inventory);
        inv = crate::topology::discover::keep_down_links(inv, before.as_deref());
    }
    // -- end topology
    debug!(device = %ctx.target.name, interfaces = inv.interfaces.len(), fresh, "visited");
    Ok(Visit {
        inventory: fresh.then_some(inv),
        discovery_seconds,
        values,
    })
}

async fn rediscover(
    ctx: &DeviceCtx,
    classifier: &Classifier,
    client: &mut UdpClient,
    limits: &mut WalkLimits,
) -> Result<(Arc<DeviceInventory>, f64), VisitError> {
    let t = Instant::now();
    let mut inv = discover(client, &ctx.meta, limits, classifier)
        .await
        .map_err(|error| VisitError {
            stage: "discovery",
            error,
        })?;
    inv.poll_interval = ctx.settings.poll_interval;
    Ok((Arc::new(inv), t.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::fake::FakeAgent;
    use crate::snmp::{Oid, Value};
    use std::collections::BTreeMap;

    fn o(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    /// A two-interface router: Gi0/0 with 64-bit counters, Se0/1 without ifXTable rows.
    fn router() -> BTreeMap<Oid, Value> {
        let s = |b: &str| Value::OctetString(b.as_bytes().to_vec());
        let mut m = BTreeMap::new();
        m.insert(o("1.3.6.1.2.1.1.1.0"), s("Cisco IOS Software"));
        m.insert(o("1.3.6.1.2.1.1.3.0"), Value::TimeTicks(5000));
        m.insert(o("1.3.6.1.2.1.1.5.0"), s("BRANCH-RTR-01"));
        m.insert(o("1.3.6.1.2.1.2.1.0"), Value::Integer(2));
        for (idx, descr, kind) in [(1u32, "GigabitEthernet0/0", 6), (3, "Serial0/1", 22)] {
            let c = |col: u32| o(&format!("1.3.6.1.2.1.2.2.1.{col}.{idx}"));
            m.insert(c(1), Value::Integer(idx.into()));
            m.insert(c(2), s(descr));
            m.insert(c(3), Value::Integer(kind));
            m.insert(c(5), Value::Unsigned32(1_000_000));
            m.insert(c(7), Value::Integer(1));
            m.insert(c(8), Value::Integer(if idx == 1 { 1 } else { 2 }));
            m.insert(c(10), Value::Counter32(100 + idx));
            m.insert(c(14), Value::Counter32(7));
            m.insert(c(16), Value::Counter32(200 + idx));
        }
        m.insert(o("1.3.6.1.2.1.31.1.1.1.1.1"), s("Gi0/0"));
        m.insert(o("1.3.6.1.2.1.31.1.1.1.6.1"), Value::Counter64(1 << 40));
        m.insert(o("1.3.6.1.2.1.31.1.1.1.10.1"), Value::Counter64(99));
        m.insert(o("1.3.6.1.2.1.31.1.1.1.15.1"), Value::Unsigned32(1000));
        m.insert(o("1.3.6.1.2.1.31.1.1.1.18.1"), s("Magti_Internet"));
        m
    }

    fn meta() -> TargetMeta {
        TargetMeta {
            name: Arc::from("BRANCH-RTR-01"),
            address: "127.0.0.1".into(),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::new()),
        }
    }

    fn limits() -> WalkLimits {
        WalkLimits {
            max_repetitions: 25,
            max_varbinds: 50,
        }
    }

    async fn discover_fake(
        agent: &mut FakeAgent,
        limits: &mut WalkLimits,
    ) -> Result<DeviceInventory, AtOid> {
        discover(agent, &meta(), limits, &Classifier::embedded_default()).await
    }

    #[tokio::test]
    async fn discovery_then_poll_reads_hc_and_legacy_counters() {
        let mut agent = FakeAgent::new(router());
        let mut limits = limits();
        let inv = discover_fake(&mut agent, &mut limits).await.unwrap();
        assert_eq!(inv.interfaces.len(), 2);
        assert_eq!(inv.system.sys_name, b"BRANCH-RTR-01");
        let gi = &inv.interfaces[0];
        assert!(gi.info.has_hc && gi.info.alias == b"Magti_Internet");
        assert!(!inv.interfaces[1].info.has_hc);
        let vals = poll(&mut agent, &inv, &mut limits).await.unwrap();
        let slot = |m: &str| if_mib::POLLED.iter().position(|p| p.metric == m).unwrap();
        assert_eq!(vals.counters[0][slot("ifHCInOctets")], Some(1 << 40));
        assert_eq!(
            vals.counters[0][slot("ifInOctets")],
            None,
            "32-bit not polled when HC exists"
        );
        assert_eq!(vals.counters[1][slot("ifInOctets")], Some(103));
        assert_eq!(vals.counters[1][slot("ifOperStatus")], Some(2));
        assert_eq!(vals.markers.sys_uptime, Some(5000));
        assert_eq!(vals.markers.if_number, Some(2));
    }

    #[tokio::test]
    async fn health_mibs_cost_one_discovery_request_when_absent_and_ride_in_the_poll_get() {
        // IF-MIB only: the health walk is one request at discovery, nothing on the poll.
        let slot = |m: &str| if_mib::POLLED.iter().position(|p| p.metric == m).unwrap();
        let mut agent = FakeAgent::new(router());
        let mut limits = limits();
        let inv = discover_fake(&mut agent, &mut limits).await.unwrap();
        assert!(inv.health.oids.is_empty());
        let before = agent.stats.requests;
        let vals = poll(&mut agent, &inv, &mut limits).await.unwrap();
        assert_eq!(
            agent.stats.requests - before,
            1,
            "IF-MIB-only poll is one GET"
        );
        assert!(vals.health.is_empty());
        let mut with_health = router();
        let cpm = |c: u32| o(&format!("1.3.6.1.4.1.9.9.109.1.1.1.1.{c}.1"));
        with_health.insert(cpm(2), Value::Integer(1001));
        with_health.insert(cpm(7), Value::Unsigned32(12));
        with_health.insert(cpm(8), Value::Unsigned32(9));
        with_health.insert(
            o("1.3.6.1.2.1.47.1.1.1.1.7.1001"),
            Value::OctetString(b"CPU 0".to_vec()),
        );
        with_health.insert(
            o("1.3.6.1.4.1.9.9.48.1.1.1.2.1"),
            Value::OctetString(b"Processor".to_vec()),
        );
        with_health.insert(o("1.3.6.1.4.1.9.9.48.1.1.1.5.1"), Value::Unsigned32(30));
        with_health.insert(o("1.3.6.1.4.1.9.9.48.1.1.1.6.1"), Value::Unsigned32(70));
        let mut agent2 = FakeAgent::new(with_health);
        let inv2 = discover_fake(&mut agent2, &mut limits).await.unwrap();
        // The same discovery plus the CPUs' entPhysicalName GET.
        assert_eq!(agent2.stats.requests, before + 1);
        assert_eq!(inv2.health.series.len(), 4);
        assert!(inv2.health.series[0]
            .labels
            .contains("entPhysicalName=\"CPU 0\""));
        let vals = poll(&mut agent2, &inv2, &mut limits).await.unwrap();
        assert_eq!(
            agent2.stats.requests - before - 1,
            1,
            "the health values fill the interface GET's free room: no request more"
        );
        assert_eq!(vals.health, vec![Some(12), Some(9), Some(30), Some(70)]);
        assert_eq!(vals.counters[0][slot("ifOperStatus")], Some(1));

        // An agent that errs on a health OID: the interfaces are polled alone, the health
        // values apart (and lost), the poll stands.
        agent2.fail_on = Some(cpm(7));
        let vals = poll(&mut agent2, &inv2, &mut limits).await.unwrap();
        assert_eq!(vals.counters[0][slot("ifOperStatus")], Some(1));
        assert_eq!(vals.counters[1][slot("ifInOctets")], Some(103));
        assert!(vals.health.is_empty(), "{:?}", vals.health);
    }

    #[tokio::test]
    async fn too_big_answers_shrink_the_request_and_are_remembered() {
        let mut agent = FakeAgent::new(router());
        agent.max_varbinds = Some(8);
        let mut limits = limits();
        let inv = discover_fake(&mut agent, &mut limits).await.unwrap();
        assert_eq!(inv.interfaces.len(), 2);
        let vals = poll(&mut agent, &inv, &mut limits).await.unwrap();
        assert_eq!(vals.counters[0][0], Some(1));
        assert!(limits.max_varbinds <= 8, "limit kept: {limits:?}");
    }

    #[tokio::test]
    async fn snmpv1_style_agents_walk_with_getnext() {
        let mut agent = FakeAgent::new(router());
        agent.bulk = false;
        let mut limits = limits();
        let inv = discover_fake(&mut agent, &mut limits).await.unwrap();
        assert_eq!(inv.interfaces.len(), 2);
        assert_eq!(inv.interfaces[1].info.descr, b"Serial0/1");
    }

    #[test]
    fn triggered_polls_are_a_second_apart() {
        let t0 = tokio::time::Instant::now();
        assert_eq!(triggered_at(t0, None), t0, "the first runs at once");
        let soon = t0 + Duration::from_millis(300);
        assert_eq!(triggered_at(soon, Some(t0)), t0 + TRIGGER_MIN_GAP);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(triggered_at(later, Some(t0)), later);
    }

    #[tokio::test]
    async fn a_failing_agent_reports_the_oid_and_reason() {
        let mut agent = FakeAgent::new(router());
        agent.fail = Some(SnmpError::Timeout {
            attempts: 3,
            timeout: Duration::from_secs(1),
        });
        let mut limits = limits();
        let err = discover_fake(&mut agent, &mut limits).await.unwrap_err();
        assert_eq!(err.oid.to_string(), "1.3.6.1.2.1.1.1.0");
        assert_eq!(err.error.reason(), "timeout");
    }
}
