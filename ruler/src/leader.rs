//! Leader election for replicas sharing one PostgreSQL store, and what a replica does when its
//! role changes.
//!
//! The leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection of
//! its own, kept for as long as it leads and checked every `retry`. A standby evaluates nothing
//! and writes nothing; it asks for the lock every `retry`, so when the leader dies (its session
//! ends and PostgreSQL releases the lock) it takes over within that time. A leader whose lock
//! connection fails is `Reacquiring`: it keeps evaluating and queueing (so a PostgreSQL restart
//! loses nothing) but writes nothing until it holds the lock again. Taking the lead always goes
//! through one path: stop the loops, write what is queued, read the open rows, re-sync the
//! firing alerts with them, then start writing and evaluating. SQLite needs no election: the
//! one process is the leader from the start.

use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::queue::TransitionQueue;
use crate::secret::Secret;
use crate::store::Store;
use chrono::Utc;
use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// What this replica is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds the lock (or needs none): evaluates, writes, notifies.
    Leader,
    /// Another replica leads (or none could be asked yet): evaluates and writes nothing.
    Standby,
    /// Led until its lock connection failed: evaluates and queues, writes nothing, and asks
    /// for the lock again.
    Reacquiring,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Standby => "standby",
            Role::Reacquiring => "reacquiring",
        }
    }
}

/// The advisory-lock key for a lock name (FNV-1a, so every version agrees on it).
pub fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// How often a standby asks for the lock and a leader checks its lock connection: a quarter
/// of the shortest group interval, between 200 ms and 5 s, so a standby takes over well
/// within one evaluation interval.
pub fn retry_interval(shortest_group_interval: Duration) -> Duration {
    (shortest_group_interval / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

/// Campaigns for the lock named `key` on `url` until `stop` turns true, publishing the role.
/// On stop the lock connection is closed, which releases the lock at once. Every failed
/// attempt to reach the store counts in `wardflux_ruler_store_errors_total`: a leader that
/// lost its lock connection stops writing, so its queue writer sees no failures of its own,
/// and without these the store being down would not show in the metric (nor fire
/// `WardfluxRulerStoreFailing`).
pub async fn campaign(
    url: Secret,
    key: i64,
    retry: Duration,
    role: watch::Sender<Role>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let opts = match PgConnectOptions::from_str(url.expose()) {
        Ok(o) => o.application_name("wardflux-ruler-leader-lock"),
        Err(e) => {
            error!(store = %url, error = %e, "cannot parse the store URL for leader election");
            return;
        }
    };
    let mut conn: Option<PgConnection> = None;
    let mut led = false;
    let mut last_warning = String::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let step = async {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => {
                    let c = tokio::time::timeout(retry * 4, PgConnection::connect_with(&opts))
                        .await
                        .map_err(|_| "connecting timed out".to_string())?
                        .map_err(|e| format!("connecting: {e}"))?;
                    conn.insert(c)
                }
            };
            let sql = if led {
                // A cheap round trip proves the session, and with it the lock, is alive.
                "SELECT true"
            } else {
                "SELECT pg_try_advisory_lock($1)"
            };
            let row = tokio::time::timeout(retry * 4, sqlx::query(sql).bind(key).fetch_one(c))
                .await
                .map_err(|_| "lock connection timed out".to_string())?
                .map_err(|e| format!("lock query: {e}"))?;
            row.try_get::<bool, _>(0)
                .map_err(|e| format!("lock answer: {e}"))
        };
        match step.await {
            Ok(true) => {
                if !led {
                    info!(lock_key = key, "acquired the leader lock");
                    led = true;
                }
                last_warning.clear();
                role.send_if_modified(|r| std::mem::replace(r, Role::Leader) != Role::Leader);
            }
            Ok(false) => {
                role.send_if_modified(|r| std::mem::replace(r, Role::Standby) != Role::Standby);
            }
            Err(e) => {
                conn = None;
                metrics.store_errors.inc();
                if led {
                    error!(store = %url, error = %e, "lost the connection to the store (and with it the leader lock): alert transitions are queued and notifications continue; writing resumes when the store is back and the lock is held again");
                    led = false;
                    role.send_if_modified(|r| {
                        std::mem::replace(r, Role::Reacquiring) != Role::Reacquiring
                    });
                } else if e != last_warning {
                    warn!(store = %url, error = %e, "cannot ask for the leader lock, retrying");
                }
                last_warning = e;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some(c) = conn.take() {
        let _ = c.close().await;
        if led {
            info!("leader lock released");
        }
    }
}

/// Follows role changes: takes the lead (write the queue, re-sync with the open rows, start
/// evaluating and writing), pauses writing while reacquiring, and steps down to standby
/// (stop evaluating, drop what was queued and the alert state: the leader has its own).
/// `write` gates the queue's writer. Returns when `shutdown` turns true.
pub async fn follow(
    mut role: watch::Receiver<Role>,
    engine: Arc<Engine>,
    queue: Arc<TransitionQueue>,
    store: Arc<dyn Store>,
    write: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut current = Role::Standby;
    let mut ever_led = false;
    loop {
        let next = *role.borrow_and_update();
        engine.set_role(next);
        if next != current {
            info!(from = current.as_str(), to = next.as_str(), "role changed");
            metrics.leader_changes.inc();
        }
        match next {
            Role::Leader if current != Role::Leader || !ever_led => {
                write.send_replace(false);
                engine.stop().await;
                if !take_over(&engine, &queue, store.as_ref(), &mut role, &mut shutdown).await {
                    // The role changed again (or we are stopping) before the lead was taken.
                    if *shutdown.borrow() {
                        return;
                    }
                    current = Role::Reacquiring;
                    continue;
                }
                ever_led = true;
                write.send_replace(true);
                metrics.leader.set(1);
                engine.start();
            }
            Role::Leader => {}
            Role::Reacquiring => {
                write.send_replace(false);
                metrics.leader.set(0);
            }
            Role::Standby => {
                write.send_replace(false);
                metrics.leader.set(0);
                if current != Role::Standby {
                    engine.stop().await;
                    let dropped = queue.clear();
                    engine.clear_alerts().await;
                    if dropped > 0 {
                        error!(
                            dropped,
                            "another replica leads now; transitions queued here were dropped (the leader evaluates the same data and writes its own)"
                        );
                    }
                    info!("standing by: evaluating and writing nothing");
                }
            }
        }
        current = next;
        tokio::select! {
            r = role.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Writes what is queued and re-syncs the firing alerts with the open rows; false when the
/// role changed (or shutdown came) first.
async fn take_over(
    engine: &Engine,
    queue: &TransitionQueue,
    store: &dyn Store,
    role: &mut watch::Receiver<Role>,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut backoff = Duration::from_millis(200);
    let queued = queue.depth();
    loop {
        if *shutdown.borrow() || role.has_changed().unwrap_or(true) {
            return false;
        }
        let attempt = async {
            queue.drain(store).await?;
            store.open_alerts().await
        };
        match attempt.await {
            Ok(rows) => {
                let n = rows.len();
                engine.resync(rows, Utc::now()).await;
                info!(
                    open_rows = n,
                    queued_written = queued,
                    "leading: queue written, alert state synced with the store"
                );
                return true;
            }
            Err(e) => {
                warn!(error = %e, depth = queue.depth(), "taking the lead: store not writable yet, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = role.changed() => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("wardflux-ruler"), lock_key("wardflux-ruler"));
        assert_ne!(lock_key("wardflux-ruler"), lock_key("wardflux-ruler-2"));
        // Pinned: replicas of different versions must ask for the same lock.
        assert_eq!(lock_key(""), 0xcbf2_9ce4_8422_2325u64 as i64);
    }

    /// A store that cannot be reached counts in `store_errors` on every attempt: with the
    /// writer paused (no lock), the lock's attempts are what shows the store is down.
    #[tokio::test]
    async fn failed_attempts_to_reach_the_store_count_as_store_errors() {
        // A port nothing listens on: connections are refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Secret::new(format!("postgres://nobody:pw@127.0.0.1:{port}/none"));
        let metrics = Arc::new(Metrics::new());
        let (role_tx, role_rx) = watch::channel(Role::Standby);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(campaign(
            url,
            1,
            Duration::from_millis(200),
            role_tx,
            metrics.clone(),
            stop_rx,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while metrics.store_errors.get() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no store errors counted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(*role_rx.borrow(), Role::Standby);
        stop_tx.send_replace(true);
        task.await.unwrap();
    }

    #[test]
    fn retry_is_a_quarter_interval_within_bounds() {
        assert_eq!(
            retry_interval(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
        assert_eq!(
            retry_interval(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            retry_interval(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }
}
