//! `wardflux-web`: the HTTP edge both programs share, so access control and limits are one
//! piece of code. A program builds its axum `Router`, gets a [`Web`] from its `--web.*` flags
//! ([`WebArgs`]) and hands both to [`Web::serve`].
//!
//! Layout:
//! - [`config`]: `--web.config.file` in Prometheus exporter-toolkit format, validated with
//!   file:line errors.
//! - [`tls`]: rustls server configuration (ring), client certificates, certificate renewal.
//! - [`auth`]: bcrypt basic auth with a keyed cache, write users.
//! - `guard`: the per-request middleware (timeout, auth, body limit, headers).
//! - `live`: the current TLS and access set-up, replaced when the web config file changes.
//! - `serve`: accept loop with a connection cap (idle connections make room), handshake and
//!   header deadlines, shutdown; [`bind`] with a deep listen backlog.
//! - [`args`]: the shared `--web.*` flags.
//! - [`secret`]: `Secret` and `UrlSecret`, values that never print.
//! - [`pg`]: PostgreSQL TLS settings of a connection URL: files checked up front, hints for
//!   TLS failures (both programs' database connections).
//! - `testkit` (feature `testkit`): certificates, curl and output scanning for tests.

pub mod args;
pub mod auth;
pub mod config;
mod guard;
mod live;
pub mod pg;
pub mod secret;
mod serve;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::http::Uri;
use axum::Router;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use args::{WebArgs, WebError};
pub use config::WebConfig;
pub use guard::{AuthUser, RequestLimits};
pub use secret::{Secret, UrlSecret};
pub use serve::{bind, bind_host, ConnLimits, LISTEN_BACKLOG};

/// Everything the listener needs: TLS, the guard (auth, limits, headers), connection limits,
/// and the file to watch for changes.
pub struct Web {
    setup: live::Setup,
    request: RequestLimits,
    conn: ConnLimits,
    /// The web config file and the write users its successors must still hold.
    source: Option<(
        std::path::PathBuf,
        Option<std::collections::BTreeSet<String>>,
    )>,
}

impl Web {
    /// Builds the setup; fails when `write_users` are not users of `config`.
    pub fn new(
        config: Option<WebConfig>,
        write_users: Option<std::collections::BTreeSet<String>>,
        conn: ConnLimits,
        request: RequestLimits,
    ) -> Result<Web, WebError> {
        let source = config
            .as_ref()
            .map(|c| (c.file.clone(), write_users.clone()));
        Ok(Web {
            setup: live::setup(config, write_users)?,
            request,
            conn,
            source,
        })
    }

    /// What the listener does, for logs and `check-config` (never a secret).
    pub fn summary(&self) -> String {
        self.setup.summary.clone()
    }

    /// Whether the listener speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.setup.tls.is_some()
    }

    /// Serves `router` on `listener` until `shutdown` completes; requests in flight then get
    /// a grace period. Logs the set-up once, with a warning when nothing protects it, and
    /// follows changes of the web config file while serving.
    pub async fn serve(
        self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        let summary = &self.setup.summary;
        if self.source.is_none() {
            warn!(
                address = %addr,
                "no --web.config.file: HTTP without TLS or authentication, every endpoint (reload and discover too) is open to anyone who can connect"
            );
        } else if !self.setup.protected {
            warn!(address = %addr, web = %summary, "the web config requires no authentication (no basic_auth_users, no required client certificate)");
        } else {
            info!(address = %addr, web = %summary, "web access control on");
        }
        let live = Arc::new(live::Live::new(&self.setup));
        let watcher = self
            .source
            .map(|(path, users)| tokio::spawn(live::watch(path, users, live.clone())));
        let guard = Arc::new(guard::Guard {
            limits: self.request,
            live: live.clone(),
        });
        let router = guard::apply(router, guard);
        let result = serve::serve(listener, router, live, self.conn, shutdown).await;
        if let Some(w) = watcher {
            w.abort();
        }
        result
    }
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("summary", &self.setup.summary)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// At most this much of a request's path is echoed in an error message.
const ECHO_LIMIT: usize = 200;

/// The request path as it came (still percent-encoded), cut to 200 bytes on a character
/// boundary: what both programs echo in their JSON 404/405 answers, so a huge or hostile
/// path never makes a huge answer.
pub fn echo_path(uri: &Uri) -> &str {
    let p = uri.path();
    let mut end = ECHO_LIMIT.min(p.len());
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    &p[..end]
}
