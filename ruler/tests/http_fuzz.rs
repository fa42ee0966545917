//! Hostile requests through the ruler's router (`/metrics`, alerts, rules, history, health,
//! readiness, reload, acknowledging an alert), in process with `tower::ServiceExt::oneshot`: thousands of generated
//! requests (seeded, see `exporter/tests/http_requests`) must never get a 5xx or panic, and
//! every 4xx must say what was wrong in a JSON `error`.
//!
//! The engine runs the shipped rules against a querier that answers every expression with the
//! same hostile label sets, so alerts fire and history rows exist; the store is a real SQLite
//! file; reloads are answered alternately with success and with a rule error.

#[path = "../../exporter/tests/http_requests/mod.rs"]
mod http_requests;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, TimeZone, Utc};
use http_requests::Route;
use tower::ServiceExt;
use wardflux_ruler::api::{self, ApiState, ReloadRequest};
use wardflux_ruler::config::{self, LoadOptions};
use wardflux_ruler::datasource::{
    BoxFuture, DatasourceError, Importer, Querier, Recorded, Sample, Series,
};
use wardflux_ruler::engine::{Deps, Engine, Settings};
use wardflux_ruler::labels::Labels;
use wardflux_ruler::metrics::Metrics;
use wardflux_ruler::queue::TransitionQueue;
use wardflux_ruler::secret::Secret;
use wardflux_ruler::store;

/// Every route of `api.rs`.
const ROUTES: &[Route] = &[
    ("GET", "/metrics"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/rules"),
    ("GET", "/api/v1/history"),
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("POST", "/-/reload"),
    ("POST", "/api/v1/alerts/{id}/ack"),
];

/// Answers every instant query with two series whose labels are awkward to render.
struct Awkward;

impl Querier for Awkward {
    fn query<'a>(
        &'a self,
        _expr: &'a str,
        _at: DateTime<Utc>,
        _step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Sample>, DatasourceError>> {
        let sample = |device: &str, alias: &str| Sample {
            labels: [
                ("device", device),
                ("ifName", "Gi0/1"),
                ("ifAlias", alias),
                ("interface_type", "isp"),
                ("isp_provider", "magti"),
                ("is_critical", "true"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Labels>(),
            value: 0.0,
        };
        Box::pin(async move {
            Ok(vec![
                sample("Gori-0101", "Magti \"100M\" \\ \n\u{10d7}"),
                sample("Isani-1111", "\\xE1\\x83 {{ $value }}"),
            ])
        })
    }

    fn query_range<'a>(
        &'a self,
        _expr: &'a str,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
        _step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, DatasourceError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl Importer for Awkward {
    fn import<'a>(&'a self, _batch: &'a Recorded) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async { Ok(()) })
    }
}

async fn state(dir: &std::path::Path) -> Arc<ApiState> {
    let pattern = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/alerts/*.yml").to_string();
    let rules = config::load(
        &[pattern],
        &LoadOptions {
            allow_remote_check: true,
            ..LoadOptions::default()
        },
    )
    .expect("shipped rules load");
    let url = Secret::new(format!("sqlite://{}", dir.join("alerts.db").display()));
    let store: Arc<dyn store::Store> = Arc::from(store::open(&url).await.expect("sqlite opens"));
    store.migrate().await.expect("migrations apply");
    let metrics = Arc::new(Metrics::new());
    let queue = TransitionQueue::new(1000, metrics.clone());
    let ds = Arc::new(Awkward);
    let engine = Engine::new(
        rules,
        Deps {
            querier: ds.clone(),
            importer: ds,
            queue: queue.clone(),
            notifier: None,
            metrics,
            baselines: None,
        },
        Settings::default(),
    );
    // An hour of evaluations: pending alerts turn firing and reach the store.
    for min in 0..60 {
        engine
            .evaluate_all(Utc.timestamp_opt(1_800_000_000 + min * 60, 0).unwrap())
            .await;
    }
    queue
        .drain(store.as_ref())
        .await
        .expect("transitions written");
    let (reload, mut requests) = tokio::sync::mpsc::channel::<ReloadRequest>(4);
    tokio::spawn(async move {
        let mut ok = false;
        while let Some(answer) = requests.recv().await {
            ok = !ok;
            let _ = answer.send(if ok {
                Ok(())
            } else {
                Err("rules/alerts/20-interfaces.yml:3: bad".into())
            });
        }
    });
    Arc::new(ApiState {
        engine,
        store,
        ready: AtomicBool::new(true),
        reload,
    })
}

#[tokio::test]
async fn generated_requests_never_get_5xx_and_every_4xx_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    // The routes have something to show: firing alerts and history rows.
    for (path, key) in [("/api/v1/alerts", "alerts"), ("/api/v1/history", "rows")] {
        let resp = api::router(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let n = v["data"][key].as_array().map_or(0, Vec::len);
        assert!(n > 0, "{path} is empty: {v}");
    }
    let (seed, n) = http_requests::settings(3000);
    let tally = http_requests::drive(api::router(state), ROUTES, seed, n).await;
    println!(
        "ruler router: {} requests (seed {seed}), answers by status {:?}",
        tally.requests, tally.by_status
    );
    assert_eq!(tally.requests, n);
    assert!(tally.by_status.get(&200).copied().unwrap_or(0) > n / 20);
    assert!(tally.by_status.keys().any(|s| (400..500).contains(s)));
}
