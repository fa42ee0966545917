//! The optional inventory store: the discovered interfaces as `device_interfaces` rows in
//! PostgreSQL or SQLite, for the bank's own tools and SQL (next to `standalone_devices`).
//!
//! Layout: [`track`] (pure: what changed, the bounded queue), [`db`] (the database edge),
//! [`edits`] (interface settings changed through the API: validation, persistence, audit),
//! and here the `inventory_store:` config section, the metrics and the background writer.
//!
//! Invariants: the writer is its own task that only reads inventory snapshots, so a slow or
//! absent database never delays polling or `/metrics`; rows are written on discovery and on
//! status changes, not on every poll; while the database is away writes wait in a bounded
//! queue (`wardflux_inventory_store_queue_rows`) and catch up; the URL is a `Secret`. The writer
//! also hands its sink to [`edits`] and, at its first contact with the store, has the store's
//! API edits read and applied (they are the source of truth once a store is configured).

pub mod bench;
pub mod db;
pub mod edits;
pub mod track;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tracing::{debug, info, warn};

use crate::app::App;
use crate::config::{Env, PromDuration};
use crate::metrics::selfmetrics::ResultLabel;
use crate::poller::unix_now;
use crate::secret::Secret;

/// `inventory_store:` as written.
///
/// ```yaml
/// inventory_store:
///   url_env: WARDFLUX_INVENTORY_URL   # postgres://... (TLS as targets_sql) or sqlite://PATH
///   retention: 7d                     # disabled (vanished) interfaces are deleted after this
///   queue_capacity: 500000            # rows waiting while the database is away
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventoryStore {
    /// `postgres://user:password@host/db` (TLS per the URL, as `targets_sql`) or
    /// `sqlite://PATH`; a secret (inline for labs only).
    pub url: Option<Secret>,
    /// Name of an environment variable holding the URL.
    pub url_env: Option<String>,
    /// A file holding the URL (relative to the config file).
    pub url_file: Option<std::path::PathBuf>,
    /// How long a vanished interface (`enabled = false`) stays before it is deleted (default 7d).
    #[serde(default = "d_retention")]
    pub retention: PromDuration,
    /// Most rows waiting for the database (default 500000, about two fleets of 5,000 x 48).
    #[serde(default = "d_capacity")]
    pub queue_capacity: usize,
}

fn d_retention() -> PromDuration {
    PromDuration(Duration::from_secs(7 * 86400))
}
fn d_capacity() -> usize {
    500_000
}

/// The validated section.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryStoreConfig {
    pub url: Secret,
    pub retention: Duration,
    pub queue_capacity: usize,
}

/// Phase two: the URL from its one source, checked without connecting.
pub fn validate(
    raw: RawInventoryStore,
    src: &str,
    file: &str,
    base: &Path,
    env: &dyn Env,
) -> Result<InventoryStoreConfig, crate::config::ConfigError> {
    use crate::config::{locate, ConfigError};
    let start = locate(src, &["inventory_store:"]).saturating_sub(1);
    let section: String = src.lines().skip(start).collect::<Vec<_>>().join("\n");
    let err = |needle: &str, message: String| ConfigError::Invalid {
        file: file.to_string(),
        line: match locate(&section, &[needle]) {
            0 => start + 1,
            n => start + n,
        },
        message: format!("inventory_store.{message}"),
    };
    let url = crate::config::secret("url", &raw.url, &raw.url_env, &raw.url_file, base, env)
        .map_err(|m| err("url", m))?
        .ok_or_else(|| {
            err(
                "inventory_store:",
                "url: set url_env, url_file or url".into(),
            )
        })?;
    db::check_url(&url).map_err(|m| err("url", format!("url: {m}")))?;
    if raw.retention.0.is_zero() {
        return Err(err("retention", "retention: must be longer than 0s".into()));
    }
    if raw.queue_capacity == 0 {
        return Err(err(
            "queue_capacity",
            "queue_capacity: must be at least 1".into(),
        ));
    }
    Ok(InventoryStoreConfig {
        url,
        retention: raw.retention.0,
        queue_capacity: raw.queue_capacity,
    })
}

/// The store's metrics, in a registry of their own shown once a store is configured.
pub struct StoreMetrics {
    pub registry: Registry,
    pub enabled: AtomicBool,
    pub up: Gauge,
    pub queue_rows: Gauge,
    pub queue_capacity: Gauge,
    pub rows_written: Counter,
    pub refused_rows: Counter,
    pub batches: Family<ResultLabel, Counter>,
    pub last_success: Gauge<f64, AtomicU64>,
    pub batch_seconds: Gauge<f64, AtomicU64>,
    pub purged_rows: Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreMetrics {
    pub fn new() -> StoreMetrics {
        let mut registry = Registry::default();
        let up = Gauge::default();
        registry.register(
            "wardflux_inventory_store_up",
            "1 when the inventory store took the last batch (or had nothing to take), 0 while it cannot be written",
            up.clone(),
        );
        let queue_rows = Gauge::default();
        registry.register(
            "wardflux_inventory_store_queue_rows",
            "device_interfaces rows waiting to be written",
            queue_rows.clone(),
        );
        let queue_capacity = Gauge::default();
        registry.register(
            "wardflux_inventory_store_queue_capacity_rows",
            "Most rows the inventory store queue holds (inventory_store.queue_capacity)",
            queue_capacity.clone(),
        );
        let rows_written = Counter::default();
        registry.register(
            "wardflux_inventory_store_rows_written",
            "device_interfaces rows written (inserted or updated)",
            rows_written.clone(),
        );
        let refused_rows = Counter::default();
        registry.register(
            "wardflux_inventory_store_refused_rows",
            "Rows the full queue refused for now (offered again on the next look)",
            refused_rows.clone(),
        );
        let batches = Family::<ResultLabel, Counter>::default();
        registry.register(
            "wardflux_inventory_store_batches",
            "Write transactions, by result (success or failure)",
            batches.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_inventory_store_last_success_timestamp_seconds",
            "Unix time of the last batch the store took",
            last_success.clone(),
        );
        let batch_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_inventory_store_batch_duration_seconds",
            "Time the last write transaction took",
            batch_seconds.clone(),
        );
        let purged_rows = Counter::default();
        registry.register(
            "wardflux_inventory_store_purged_rows",
            "Disabled interfaces deleted after the retention",
            purged_rows.clone(),
        );
        StoreMetrics {
            registry,
            enabled: AtomicBool::new(false),
            up,
            queue_rows,
            queue_capacity,
            rows_written,
            refused_rows,
            batches,
            last_success,
            batch_seconds,
            purged_rows,
        }
    }

    fn count_batch(&self, ok: bool) {
        self.batches
            .get_or_create(&ResultLabel {
                result: if ok { "success" } else { "failure" }.to_string(),
            })
            .inc();
    }
}

/// How often the writer looks at the inventory.
const TICK: Duration = Duration::from_secs(2);
/// Rows per write transaction.
const BATCH_ROWS: usize = 4_000;
/// First wait after a failed write; doubles up to `RETRY_MAX`.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// How often disabled rows past the retention are deleted (at most; a shorter retention is
/// checked as often as it lasts).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Run the writer in the background. It does nothing while no `inventory_store` is configured
/// and follows reloads (a new URL opens a new store; the queue carries over).
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        let m = &app.metrics.store;
        // The open store: its URL, its sink, migrated, its API edits read.
        let mut sink: Option<(Secret, Arc<dyn db::Sink>, bool, bool)> = None;
        let mut tracker = track::Tracker::new();
        let mut pending: Option<track::Pending> = None;
        let mut failing: Option<String> = None;
        let mut retry = RETRY_MIN;
        let mut last_purge: Option<Instant> = None;
        loop {
            let Some(cfg) = app.current_config().and_then(|c| c.inventory_store.clone()) else {
                if sink.take().is_some() {
                    // The store left the config: API edits go back to the file.
                    app.edits.set_sink(None);
                }
                tokio::time::sleep(TICK).await;
                continue;
            };
            m.enabled.store(true, Ordering::Relaxed);
            m.queue_capacity.set(cfg.queue_capacity as i64);
            if sink.as_ref().is_none_or(|(u, _, _, _)| *u != cfg.url) {
                match db::open(&cfg.url) {
                    Ok(s) => {
                        let s: Arc<dyn db::Sink> = Arc::from(s);
                        app.edits.set_sink(Some(s.clone()));
                        sink = Some((cfg.url.clone(), s, false, false));
                    }
                    Err(e) => {
                        // check_url accepted it at load, so this is not expected.
                        warn!(error = %e, "inventory store: cannot use the url");
                        tokio::time::sleep(TICK).await;
                        continue;
                    }
                }
            }
            let q = pending.get_or_insert_with(|| track::Pending::new(cfg.queue_capacity));
            let refused = q.refused_total;
            tracker.observe(&app.inventory.snapshot(), unix_now(), q);
            m.refused_rows.inc_by(q.refused_total - refused);
            m.queue_rows.set(q.rows() as i64);
            let Some((_, s, migrated, edits_read)) = sink.as_mut() else {
                continue;
            };
            let outcome = async {
                if !*migrated {
                    s.migrate().await?;
                    *migrated = true;
                    info!(store = s.kind(), "inventory store: schema ready");
                }
                if !*edits_read && !app.edits.from_store() {
                    // The store's API edits replace the local copy the exporter started with.
                    match app.edits.attach(s.clone()).await {
                        Ok((classifier, devices)) => {
                            edits::run_with(&app, classifier, &devices);
                            info!(devices = devices.len(), "inventory store: API edits read from the store");
                        }
                        Err(edits::EditError::Store(e)) => {
                            return Err(db::StoreError::Db {
                                what: "reading API edits",
                                detail: e,
                            })
                        }
                        Err(e) => warn!(error = %e, "inventory store: API edits not read"),
                    }
                }
                *edits_read = true;
                while q.rows() > 0 || q.devices() > 0 {
                    let batch = q.take(BATCH_ROWS);
                    let n: usize = batch.iter().map(|(_, w)| w.len()).sum();
                    let t = Instant::now();
                    match s.write(&batch).await {
                        Ok(()) => {
                            m.batch_seconds.set(t.elapsed().as_secs_f64());
                            m.count_batch(true);
                            m.rows_written.inc_by(n as u64);
                            m.last_success.set(unix_now());
                            m.queue_rows.set(q.rows() as i64);
                            debug!(rows = n, "inventory store: batch written");
                        }
                        Err(e) => {
                            m.count_batch(false);
                            q.restore(batch);
                            return Err(e);
                        }
                    }
                }
                if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY.min(cfg.retention)) {
                    let before = unix_now() - cfg.retention.as_secs_f64();
                    let n = s.purge(before).await?;
                    last_purge = Some(Instant::now());
                    m.purged_rows.inc_by(n);
                    if n > 0 {
                        info!(rows = n, "inventory store: deleted interfaces vanished longer than the retention");
                    }
                }
                Ok::<(), db::StoreError>(())
            }
            .await;
            m.queue_rows.set(q.rows() as i64);
            let wait = match outcome {
                Ok(()) => {
                    m.up.set(1);
                    if let Some(was) = failing.take() {
                        info!(was = %was, "inventory store: writing again");
                    }
                    retry = RETRY_MIN;
                    TICK
                }
                Err(e) => {
                    m.up.set(0);
                    let text = e.to_string();
                    if failing.is_none() {
                        warn!(error = %text, queued_rows = q.rows(), "inventory store: cannot write; rows wait in the queue");
                    } else {
                        debug!(error = %text, "inventory store: still cannot write");
                    }
                    failing = Some(text);
                    let w = retry;
                    retry = (retry * 2).min(RETRY_MAX);
                    w
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
}
