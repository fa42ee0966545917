//! Notifiers: firing and resolved alerts sent to Alertmanager's v2 API
//! (`POST /api/v2/alerts`). Firing alerts are re-sent every evaluation with an `endsAt` a few
//! intervals ahead, so Alertmanager resolves them by itself if the ruler dies.

use crate::alert::Alert;
use crate::datasource::BoxFuture;
use crate::endpoint::{Endpoint, HttpAuth};
use crate::labels::Labels;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
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
