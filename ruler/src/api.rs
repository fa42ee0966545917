//! The HTTP API: `/metrics`, `/api/v1/alerts`, `/api/v1/rules`, `/api/v1/history`, `/api/v1/leader`,
//! `/api/v1/reachability`, `/-/healthy`, `/-/ready` and `POST /-/reload`. One error type logs the detail and shows
//! callers only what they can act on.

use crate::engine::Engine;
use crate::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

/// A reload request; the answer is the rule errors, if any.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What the handlers share.
pub struct ApiState {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub ready: AtomicBool,
    pub reload: mpsc::Sender<ReloadRequest>,
}

/// Errors as callers see them.
pub enum ApiError {
    /// Something inside failed; the detail goes to the log only.
    Internal(String),
    /// The request could not be served as asked; the message is for the caller.
    Unavailable(String),
    BadRequest(String),
    /// No endpoint at this path.
    NotFound(String),
    /// The path exists but not for this method (the `Allow` header lists the methods).
    MethodNotAllowed(String),
}

/// A query string that does not fit the endpoint's parameters (`limit=ten`, say).
impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::BadRequest(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ApiError::Internal(detail) => {
                error!(error = %detail, "API request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::MethodNotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, m),
        };
        (status, Json(json!({"status": "error", "error": msg}))).into_response()
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/history", get(history))
        .route("/api/v1/reachability", get(reachability))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .route("/api/v1/leader", get(leader))
        .route("/-/reload", post(reload))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no endpoint {}", wardflux_web::echo_path(&uri)))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "method {method} not allowed for {}",
        wardflux_web::echo_path(&uri)
    ))
}

async fn metrics(State(s): State<Arc<ApiState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.engine.metrics().render(),
    )
        .into_response()
}

#[derive(Serialize)]
struct ApiAlert<'a> {
    name: &'a str,
    group: &'a str,
    state: crate::alert::AlertState,
    labels: &'a crate::labels::Labels,
    annotations: &'a std::collections::BTreeMap<String, String>,
    #[serde(rename = "activeAt")]
    active_at: chrono::DateTime<chrono::Utc>,
    value: String,
    fingerprint: String,
    /// The alert's open row, once written.
    id: Option<i64>,
    /// The id of the root row this alert is caused by.
    caused_by: Option<i64>,
    held_since: Option<chrono::DateTime<chrono::Utc>>,
    hold_reason: Option<crate::alert::HoldReason>,
    /// Always null for a live alert (its row is open); kept so both endpoints read alike.
    resolution: Option<crate::alert::Resolution>,
    resolution_note: Option<String>,
}

/// Open rows by (fingerprint, started_at): each live alert's row id and root id. A store
/// that cannot be read leaves them out (the alerts themselves live in memory).
async fn open_row_ids(
    store: &dyn Store,
) -> std::collections::HashMap<(String, chrono::DateTime<chrono::Utc>), (i64, Option<i64>)> {
    match store.open_rows().await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| {
                (
                    (r.record.fingerprint, r.record.started_at),
                    (r.id, r.caused_by),
                )
            })
            .collect(),
        Err(e) => {
            error!(error = %e, "reading open rows for /api/v1/alerts");
            Default::default()
        }
    }
}

async fn alerts(State(s): State<Arc<ApiState>>) -> Response {
    let groups = s.engine.status().await;
    let ids = open_row_ids(s.store.as_ref()).await;
    let mut out = Vec::new();
    for g in &groups {
        for r in &g.rules {
            for a in &r.alerts {
                let fp = a.fingerprint.to_string();
                let row = ids.get(&(fp.clone(), a.active_at));
                out.push(ApiAlert {
                    name: &r.name,
                    group: &g.name,
                    state: a.state,
                    labels: &a.labels,
                    annotations: &a.annotations,
                    active_at: a.active_at,
                    value: crate::template::go_float(a.value),
                    fingerprint: fp,
                    id: row.map(|r| r.0),
                    caused_by: row.and_then(|r| r.1),
                    held_since: a.held_since,
                    hold_reason: a.hold_reason,
                    resolution: None,
                    resolution_note: None,
                });
            }
        }
    }
    Json(json!({"status": "success", "data": {"alerts": out}})).into_response()
}

async fn rules(State(s): State<Arc<ApiState>>) -> Response {
    let groups = s.engine.status().await;
    let groups: Vec<&crate::engine::GroupStatus> = groups.iter().map(|g| g.as_ref()).collect();
    Json(json!({"status": "success", "data": {"groups": groups}})).into_response()
}

#[derive(Deserialize)]
struct HistoryParams {
    limit: Option<i64>,
}

async fn history(
    State(s): State<Arc<ApiState>>,
    p: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1..10000".into()));
    }
    let rows = s.store.history(limit).await.map_err(|e| {
        if e.is_transient() {
            error!(error = %e, "history read failed");
            ApiError::Unavailable("store unavailable".into())
        } else {
            ApiError::Internal(e.to_string())
        }
    })?;
    Ok(Json(json!({"status": "success", "data": {"rows": rows}})).into_response())
}

async fn ready(State(s): State<Arc<ApiState>>) -> Result<&'static str, ApiError> {
    if s.ready.load(Ordering::SeqCst) {
        Ok("OK\n")
    } else {
        Err(ApiError::Unavailable("not ready".into()))
    }
}

/// The fleet's reachability at the outage group's last evaluation: every device with its
/// state (`up`, `down`, `shadow`, `unknown`) and, when shadowed, its roots; every site with
/// ISP uplinks, isolated or not, with the devices cut off; the contradictions found.
async fn reachability(State(s): State<Arc<ApiState>>) -> Response {
    let report = s.engine.reachability();
    Json(json!({"status": "success", "data": report.as_ref()})).into_response()
}

/// This replica's role: `leader`, `standby` or `reacquiring`.
async fn leader(State(s): State<Arc<ApiState>>) -> Response {
    let role = s.engine.role();
    Json(json!({"status": "success", "data": {
        "role": role,
        "leader": role == crate::leader::Role::Leader,
    }}))
    .into_response()
}

async fn reload(State(s): State<Arc<ApiState>>) -> Result<&'static str, ApiError> {
    let (tx, rx) = oneshot::channel();
    s.reload
        .send(tx)
        .await
        .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
    match rx.await {
        Ok(Ok(())) => Ok("OK\n"),
        Ok(Err(msg)) => Err(ApiError::BadRequest(format!(
            "reload failed, previous rules still running: {msg}"
        ))),
        Err(_) => Err(ApiError::Unavailable("shutting down".into())),
    }
}
