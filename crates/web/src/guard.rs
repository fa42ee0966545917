//! The middleware every request passes: request timeout, authentication and the write-user
//! check, the body size limit, and the configured response headers.
//!
//! Invariants: errors are JSON `{"status":"error","error":...}` like both programs' APIs; a 401
//! carries `WWW-Authenticate: Basic`; the configured headers are on every response, errors
//! included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tracing::{debug, info};

use crate::auth::Decision;
use crate::live::{Access, Live};

/// Limits on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// From the first byte of the request to the last byte of the answer's head.
    pub timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

/// What the middleware needs.
pub struct Guard {
    pub limits: RequestLimits,
    pub(crate) live: Arc<Live>,
}

/// `router` with the guard in front of every route and the fallback.
pub fn apply(router: Router, guard: Arc<Guard>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(guard, guard_requests))
}

/// The basic-auth user a request was admitted as, for handlers that record who did what
/// (a request extension; absent when basic auth is off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser(pub String);

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"status": "error", "error": message})),
    )
        .into_response()
}

async fn guard_requests(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    // One snapshot for the whole request, even if the web config changes meanwhile.
    let access = g.live.access();
    let mut resp = match tokio::time::timeout(
        g.limits.timeout,
        admit(&access, g.limits.max_body_bytes, req, next),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("request timed out after {:?}", g.limits.timeout),
        ),
    };
    let h = resp.headers_mut();
    for (name, value) in &access.headers {
        h.insert(name.clone(), value.clone());
    }
    resp
}

async fn admit(access: &Access, max: usize, mut req: Request, next: Next) -> Response {
    if let Some(auth) = &access.auth {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        let path = req.uri().path().to_string();
        match auth
            .check(
                req.method(),
                &path,
                req.headers().get(header::AUTHORIZATION),
            )
            .await
        {
            Decision::Allow(user) => {
                if let Some(user) = user {
                    req.extensions_mut().insert(AuthUser(user));
                }
            }
            Decision::Unauthorized(user) => {
                if req.headers().contains_key(header::AUTHORIZATION) {
                    info!(user = user.as_deref().unwrap_or("<not a configured user>"), peer = %peer, path = %path, "authentication failed");
                } else {
                    debug!(peer = %peer, path = %path, "request without credentials");
                }
                let mut r = error(StatusCode::UNAUTHORIZED, "authentication required");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"wardflux\""),
                );
                return r;
            }
            Decision::Forbidden(user) => {
                info!(user = %user, peer = %peer, method = %req.method(), path = %path, "write endpoint refused: not a write user");
                return error(
                    StatusCode::FORBIDDEN,
                    "this user may not use write endpoints (see --web.write-users)",
                );
            }
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body larger than {max} bytes"),
        );
    }
    // A chunked body is cut at the limit as it is read.
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, max)));
    next.run(req).await
}
