//! `wardflux-web`: the HTTP edge both programs share, so access control and limits are one
//! piece of code. A program builds its axum `Router`, gets a [`Web`] from its `--web.*` flags
//! ([`WebArgs`]) and hands both to [`Web::serve`].
//!
//! Layout:
//! - [`config`]: `--web.config.file` in Prometheus exporter-toolkit format, validated with
//!   file:line errors.
//! - [`tls`]: rustls server configuration (ring), client certificates, certificate renewal.
//! - [`auth`]: bcrypt basic auth with a keyed cache, write users.
//! - [`guard`]: the per-request middleware (timeout, auth, body limit, headers).
//! - `serve`: accept loop with a connection cap, handshake and header deadlines, shutdown.
//! - [`args`]: the shared `--web.*` flags.
//! - [`secret`]: `Secret` and `UrlSecret`, values that never print.
//! - `testkit` (feature `testkit`): certificates, curl and output scanning for tests.

pub mod args;
pub mod auth;
pub mod config;
pub mod guard;
pub mod secret;
mod serve;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use args::{WebArgs, WebError};
pub use config::WebConfig;
pub use guard::RequestLimits;
pub use secret::{Secret, UrlSecret};
pub use serve::ConnLimits;

/// Everything the listener needs: TLS, the guard (auth, limits, headers), connection limits.
pub struct Web {
    tls: Option<tokio_rustls::TlsAcceptor>,
    guard: Arc<guard::Guard>,
    conn: ConnLimits,
    summary: String,
    configured: bool,
    /// Basic auth or a required client certificate stands before every endpoint.
    protected: bool,
}

impl Web {
    /// Builds the setup; `write_users` must already be checked against the configured users.
    pub fn new(
        config: Option<WebConfig>,
        write_users: Option<std::collections::BTreeSet<String>>,
        conn: ConnLimits,
        request: RequestLimits,
    ) -> Result<Web, WebError> {
        let configured = config.is_some();
        let cert_required = config.as_ref().is_some_and(|c| {
            c.tls
                .as_ref()
                .is_some_and(|t| t.client_auth == config::ClientAuth::RequireAndVerify)
        });
        let config = config.unwrap_or_else(|| WebConfig {
            file: Default::default(),
            tls: None,
            headers: Vec::new(),
            users: Default::default(),
            excluded_paths: Vec::new(),
        });
        let tls = match &config.tls {
            None => None,
            Some(t) => {
                let cfg = tls::server_config(t).map_err(|source| WebError::Tls {
                    file: config.file.display().to_string(),
                    source,
                })?;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
            }
        };
        let mut summary = config.summary();
        if let Some(w) = &write_users {
            summary.push_str(", write endpoints for: ");
            summary.push_str(&w.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        let protected = cert_required || !config.users.is_empty();
        let auth = (!config.users.is_empty()).then(|| {
            auth::Authenticator::new(config.users.clone(), write_users, config.excluded_paths)
        });
        Ok(Web {
            tls,
            guard: Arc::new(guard::Guard {
                limits: request,
                auth,
                headers: config.headers,
            }),
            conn,
            protected,
            summary,
            configured,
        })
    }

    /// What the listener does, for logs and `check-config` (never a secret).
    pub fn summary(&self) -> String {
        self.summary.clone()
    }

    /// Whether the listener speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` on `listener` until `shutdown` completes; requests in flight then get
    /// a grace period. Logs the set-up once, with a warning when nothing protects it.
    pub async fn serve(
        self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        if !self.configured {
            warn!(
                address = %addr,
                "no --web.config.file: HTTP without TLS or authentication, every endpoint (reload and discover too) is open to anyone who can connect"
            );
        } else if !self.protected {
            warn!(address = %addr, web = %self.summary, "the web config requires no authentication (no basic_auth_users, no required client certificate)");
        } else {
            info!(address = %addr, web = %self.summary, "web access control on");
        }
        let router = guard::apply(router, self.guard);
        serve::serve(listener, router, self.tls, self.conn, shutdown).await
    }
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("summary", &self.summary)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}
