//! Notifiers: firing and resolved alerts sent to Alertmanager's v2 API
//! (`POST /api/v2/alerts`). Firing alerts are re-sent every evaluation with an `endsAt` a few
//! intervals ahead, so Alertmanager resolves them by itself if the ruler dies. Several
//! Alertmanagers (`--notifier.url` repeated, as vmalert takes them) each get every alert
//! ([`Fanout`]): they are sent to concurrently, one that refuses or hangs never holds the
//! others back, and a resolution it missed is sent again with its next batch.

use crate::alert::Alert;
use crate::datasource::BoxFuture;
use crate::endpoint::{Endpoint, HttpAuth};
use crate::labels::Labels;
use chrono::{DateTime, SecondsFormat, Utc};
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// `url` is the endpoint as it may be shown (no credentials).
#[derive(Debug, Error)]
#[error("sending {count} alerts to {url}: {detail}")]
pub struct NotifyError {
    pub url: String,
    pub count: usize,
    pub detail: String,
}

/// One alert in Alertmanager's v2 format.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AmAlert {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// A resolution (sent once, so kept for a retry when it fails), not a firing alert.
    #[serde(skip)]
    pub resolved: bool,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl AmAlert {
    /// A firing alert, valid until `valid_for` after `now` unless re-sent.
    pub fn firing(a: &Alert, now: DateTime<Utc>, valid_for: Duration, generator: &str) -> Self {
        let until = now + chrono::Duration::from_std(valid_for).unwrap_or_default();
        AmAlert {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: ts(a.active_at),
            ends_at: ts(until),
            generator_url: generator.to_string(),
            resolved: false,
        }
    }

    /// A resolved alert, ended at `at`.
    pub fn resolved(a: &Alert, at: DateTime<Utc>, generator: &str) -> Self {
        AmAlert {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: ts(a.active_at),
            ends_at: ts(at),
            generator_url: generator.to_string(),
            resolved: true,
        }
    }
}

/// Somewhere alerts go.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, alerts: &'a [AmAlert]) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// The Alertmanager v2 client; user info in its URL becomes basic auth.
pub struct Alertmanager {
    endpoint: Endpoint,
    http: reqwest::Client,
}

impl Alertmanager {
    /// `base` like `http://127.0.0.1:9093` (or `http://user:pass@am:9093`).
    pub fn new(base: &str, timeout: Duration) -> Result<Self, NotifyError> {
        let err = |url: String, detail: String| NotifyError {
            url,
            count: 0,
            detail,
        };
        let endpoint = Endpoint::parse(base, HttpAuth::None)
            .map_err(|d| err(crate::secret::Secret::http(base).to_string(), d))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| err(endpoint.shown().to_string(), e.to_string()))?;
        Ok(Alertmanager { endpoint, http })
    }

    /// The Alertmanager as logs may show it.
    pub fn name(&self) -> &str {
        self.endpoint.shown()
    }
}

impl Notifier for Alertmanager {
    fn send<'a>(&'a self, alerts: &'a [AmAlert]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            if alerts.is_empty() {
                return Ok(());
            }
            let err = |detail: String| NotifyError {
                url: self.endpoint.shown().to_string(),
                count: alerts.len(),
                detail,
            };
            let body = serde_json::to_vec(alerts).map_err(|e| err(e.to_string()))?;
            let resp = self
                .endpoint
                .authorize(self.http.post(self.endpoint.url_for("/api/v2/alerts")))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| err(crate::endpoint::describe(e)))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                Err(err(format!(
                    "status {status}: {}",
                    text.chars().take(200).collect::<String>()
                )))
            }
        })
    }
}

/// Resolutions an Alertmanager missed, kept for its next batch; past this many the oldest go
/// (their firing copies expire there by their `endsAt` anyway).
pub const MAX_BACKLOG: usize = 10_000;

/// One Alertmanager of a [`Fanout`]: its client, the resolutions it has not taken yet, and
/// `wardflux_ruler_alertmanager_up` for it.
struct Target {
    am: Alertmanager,
    backlog: Mutex<Vec<AmAlert>>,
    up: Gauge,
}

impl Target {
    /// Sends the backlog (less what `alerts` supersedes) with `alerts`; on failure keeps the
    /// resolutions of both for the next time.
    async fn send(&self, alerts: &[AmAlert]) -> Result<(), NotifyError> {
        let mut batch = {
            let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *backlog)
        };
        batch.retain(|old| !alerts.iter().any(|a| a.labels == old.labels));
        batch.extend_from_slice(alerts);
        let res = self.am.send(&batch).await;
        match &res {
            Ok(()) => {
                self.up.set(1);
            }
            Err(_) => {
                self.up.set(0);
                let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
                // Anything queued meanwhile is newer than this batch.
                let newer = std::mem::take(&mut *backlog);
                batch.retain(|a| a.resolved && !newer.iter().any(|n| n.labels == a.labels));
                batch.extend(newer);
                let over = batch.len().saturating_sub(MAX_BACKLOG);
                batch.drain(..over);
                *backlog = batch;
            }
        }
        res
    }
}

/// Every alert to every Alertmanager, concurrently.
pub struct Fanout {
    targets: Vec<Arc<Target>>,
}

/// Delivery failures of one [`Fanout::send`]: which Alertmanagers missed the batch and why.
#[derive(Debug, Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct FanoutError(pub Vec<NotifyError>);

impl Fanout {
    /// One client per URL; `up` gives the gauge of each (by the URL as shown in logs).
    pub fn new(
        urls: &[&str],
        timeout: Duration,
        up: impl Fn(&str) -> Gauge,
    ) -> Result<Self, NotifyError> {
        let mut targets = Vec::with_capacity(urls.len());
        for u in urls {
            let am = Alertmanager::new(u, timeout)?;
            let gauge = up(am.name());
            gauge.set(1);
            targets.push(Arc::new(Target {
                am,
                backlog: Mutex::new(Vec::new()),
                up: gauge,
            }));
        }
        Ok(Fanout { targets })
    }

    /// The Alertmanagers as logs may show them.
    pub fn names(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.am.name()).collect()
    }

    /// Resolutions waiting for the Alertmanager shown as `name`.
    pub fn backlog(&self, name: &str) -> usize {
        self.targets
            .iter()
            .filter(|t| t.am.name() == name)
            .map(|t| t.backlog.lock().map(|b| b.len()).unwrap_or(0))
            .sum()
    }

    /// Sends `alerts` to every Alertmanager at once; the error lists those that failed.
    pub async fn send_all(&self, alerts: &[AmAlert]) -> Result<(), FanoutError> {
        let mut set = tokio::task::JoinSet::new();
        for t in &self.targets {
            let t = t.clone();
            let alerts = alerts.to_vec();
            set.spawn(async move { t.send(&alerts).await });
        }
        let mut errors = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(NotifyError {
                    url: String::new(),
                    count: alerts.len(),
                    detail: format!("send task failed: {e}"),
                }),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(FanoutError(errors))
        }
    }
}

impl Notifier for Fanout {
    fn send<'a>(&'a self, alerts: &'a [AmAlert]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            self.send_all(alerts).await.map_err(|e| NotifyError {
                url: e
                    .0
                    .iter()
                    .map(|e| e.url.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                count: alerts.len(),
                detail: e
                    .0
                    .iter()
                    .map(|e| e.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        })
    }
}
