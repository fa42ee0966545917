//! Notifiers: firing and resolved alerts sent to Alertmanager's v2 API
//! (`POST /api/v2/alerts`). Firing alerts are re-sent every evaluation with an `endsAt` a few
//! intervals ahead, so Alertmanager resolves them by itself if the ruler dies.

use crate::alert::Alert;
use crate::datasource::BoxFuture;
use crate::labels::Labels;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

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

/// The Alertmanager v2 client.
pub struct Alertmanager {
    url: String,
    http: reqwest::Client,
}

impl Alertmanager {
    /// `base` like `http://127.0.0.1:9093`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, NotifyError> {
        let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| NotifyError {
                url: url.clone(),
                count: 0,
                detail: e.to_string(),
            })?;
        Ok(Alertmanager { url, http })
    }
}

impl Notifier for Alertmanager {
    fn send<'a>(&'a self, alerts: &'a [AmAlert]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            if alerts.is_empty() {
                return Ok(());
            }
            let err = |detail: String| NotifyError {
                url: self.url.clone(),
                count: alerts.len(),
                detail,
            };
            let body = serde_json::to_vec(alerts).map_err(|e| err(e.to_string()))?;
            let resp = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| err(e.to_string()))?;
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
