//! The transition queue: alert transitions wait here, in order, until the store takes them,
//! so a store outage delays history but loses none of it. The queue is bounded (its depth
//! is a metric); when full, refreshes (`Touched`) give way first, and only then are new
//! transitions refused and counted.

use crate::alert::Transition;
use crate::metrics::{KindLabel, Metrics};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{debug, error, info, warn};

/// A bounded, ordered queue of transitions with one writer.
pub struct TransitionQueue {
    items: Mutex<VecDeque<Transition>>,
    notify: Notify,
    capacity: usize,
    metrics: Arc<Metrics>,
    /// Held from reading the front to popping it, so two writers (the writer task and a
    /// replica taking the lead) never write one transition and pop another.
    writing: tokio::sync::Mutex<()>,
}

impl TransitionQueue {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(TransitionQueue {
            items: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            capacity: capacity.max(1),
            metrics,
            writing: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Transition>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends transitions in order; returns how many had to be dropped.
    pub fn push(&self, new: Vec<Transition>) -> usize {
        if new.is_empty() {
            return 0;
        }
        let mut q = self.lock();
        let mut dropped = 0;
        if q.len() + new.len() > self.capacity {
            // Refreshes are the least valuable: give them up before any state change. The
            // front may be in flight with the writer, so it stays.
            let front = q.pop_front();
            let before = q.len();
            q.retain(|t| !matches!(t, Transition::Touched { .. }));
            dropped += before - q.len();
            if let Some(f) = front {
                q.push_front(f);
            }
        }
        let mut new = new;
        if q.len() + new.len() > self.capacity {
            let before = new.len();
            new.retain(|t| !matches!(t, Transition::Touched { .. }));
            dropped += before - new.len();
        }
        for t in new {
            if q.len() >= self.capacity {
                dropped += 1;
                error!(
                    transition = t.kind(),
                    alert = %t.episode().alert_name,
                    capacity = self.capacity,
                    "transition queue full, transition dropped"
                );
                continue;
            }
            q.push_back(t);
        }
        self.metrics.queue_depth.set(q.len() as i64);
        self.metrics.transitions_dropped.inc_by(dropped as u64);
        drop(q);
        self.notify.notify_one();
        dropped
    }

    pub fn depth(&self) -> usize {
        self.lock().len()
    }

    /// Drops everything queued (a replica stepping down to standby); returns how many.
    pub fn clear(&self) -> usize {
        let mut q = self.lock();
        let n = q.len();
        q.clear();
        self.metrics.queue_depth.set(0);
        self.metrics.transitions_dropped.inc_by(n as u64);
        n
    }

    fn front(&self) -> Option<Transition> {
        self.lock().front().cloned()
    }

    fn pop(&self) {
        let mut q = self.lock();
        q.pop_front();
        self.metrics.queue_depth.set(q.len() as i64);
    }

    /// Writes the front transition; `Ok(true)` when one was handled, `Ok(false)` when empty.
    async fn write_one(&self, store: &dyn Store) -> Result<bool, crate::store::StoreError> {
        let _writing = self.writing.lock().await;
        let Some(t) = self.front() else {
            return Ok(false);
        };
        match store.apply(&t).await {
            Ok(()) => {
                debug!(transition = t.kind(), alert = %t.episode().alert_name, "transition written");
                self.metrics
                    .transitions_written
                    .get_or_create(&KindLabel {
                        kind: t.kind().to_string(),
                    })
                    .inc();
                self.pop();
                Ok(true)
            }
            Err(e) if e.is_transient() => {
                self.metrics.store_errors.inc();
                Err(e)
            }
            Err(e) => {
                error!(error = %e, "store refused a transition permanently, dropping it");
                self.metrics.transitions_rejected.inc();
                self.pop();
                Ok(true)
            }
        }
    }

    /// Writes everything queued now; stops at the first transient failure.
    pub async fn drain(&self, store: &dyn Store) -> Result<(), crate::store::StoreError> {
        while self.write_one(store).await? {}
        Ok(())
    }

    /// The writer task: writes in order, retries with backoff while the store is away, and
    /// on shutdown keeps trying for `final_grace` before giving up. It writes only while
    /// `may_write` is true (this replica leads).
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        mut may_write: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
        final_grace: Duration,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if !*may_write.borrow_and_update() {
                tokio::select! {
                    r = may_write.changed() => if r.is_err() { break },
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            match self.write_one(store.as_ref()).await {
                Ok(true) => {
                    if failing {
                        info!(
                            depth = self.depth(),
                            "store is back, writing queued transitions"
                        );
                        failing = false;
                    }
                    backoff = Duration::from_millis(100);
                }
                Ok(false) => {
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = may_write.changed() => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    if !failing {
                        warn!(error = %e, depth = self.depth(), "store write failed, queueing transitions");
                        failing = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        // Bounded: each write waits at most the store's own timeouts, and no new write
        // starts after the deadline.
        let deadline = tokio::time::Instant::now() + final_grace;
        while *may_write.borrow() && self.depth() > 0 && tokio::time::Instant::now() < deadline {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.write_one(store.as_ref())).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(_) => break,
            }
        }
        let left = self.depth();
        if left > 0 {
            error!(
                depth = left,
                "shutting down with transitions not written; a restart re-derives them from the open rows and the data"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Episode, Transition};
    use chrono::{TimeZone, Utc};

    fn touched(n: i64) -> Transition {
        Transition::Touched {
            episode: Episode {
                alert_name: "A".into(),
                group_name: "g".into(),
                fingerprint: format!("{n:016x}"),
                started_at: Utc.timestamp_opt(n, 0).unwrap(),
            },
            at: Utc.timestamp_opt(n, 0).unwrap(),
            value: None,
        }
    }

    fn resolved(n: i64) -> Transition {
        match touched(n) {
            Transition::Touched { episode, at, .. } => Transition::Resolved {
                episode,
                resolved_at: at,
                value: None,
                resolution: crate::alert::Resolution::Recovered,
                note: None,
            },
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_full_queue_gives_up_refreshes_first_and_counts_drops() {
        let m = Arc::new(Metrics::new());
        let q = TransitionQueue::new(3, m.clone());
        assert_eq!(q.push(vec![resolved(1), touched(2), touched(3)]), 0);
        assert_eq!(q.push(vec![resolved(4), resolved(5)]), 2);
        assert_eq!(q.depth(), 3);
        assert_eq!(q.push(vec![resolved(6)]), 1);
        assert_eq!(m.transitions_dropped.get(), 3);
        assert_eq!(m.queue_depth.get(), 3);
        let order: Vec<String> = q.lock().iter().map(|t| t.episode().fingerprint).collect();
        assert_eq!(order, [1, 4, 5].map(|n| format!("{n:016x}")));
    }
}
