//! What a web config switches on (TLS acceptor, authenticator, headers), held so that a changed
//! file can replace it while the server runs: the file is looked at every two seconds, as
//! exporter-toolkit reads it on every request.
//!
//! Invariants: a file that does not validate (or no longer holds a `--web.write-users` user)
//! changes nothing and is logged with its file:line error; connections and requests take a
//! snapshot (`Arc`) at their start, so a swap never changes a request half-way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use tracing::{error, info, warn};

use crate::auth::Authenticator;
use crate::config::{ClientAuth, WebConfig};
use crate::{tls, WebError};

/// Per-request access rules.
pub struct Access {
    pub auth: Option<Authenticator>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// One validated web config, ready to serve.
pub struct Setup {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub access: Arc<Access>,
    pub summary: String,
    /// Basic auth or a required client certificate stands before every endpoint.
    pub protected: bool,
}

/// `--web.write-users` must name users of the file.
pub fn check_write_users(
    write_users: &Option<BTreeSet<String>>,
    config: Option<&WebConfig>,
) -> Result<(), WebError> {
    let Some(w) = write_users else { return Ok(()) };
    let users = config.map(|c| &c.users);
    let Some(users) = users.filter(|u| !u.is_empty()) else {
        return Err(WebError::WriteUsers(
            "needs basic_auth_users in --web.config.file".into(),
        ));
    };
    if let Some(u) = w.iter().find(|u| !users.contains_key(*u)) {
        return Err(WebError::WriteUsers(format!(
            "{u:?} is not in basic_auth_users"
        )));
    }
    Ok(())
}

/// Builds what `config` switches on; `None` is the open listener.
pub fn setup(
    config: Option<WebConfig>,
    write_users: Option<BTreeSet<String>>,
) -> Result<Setup, WebError> {
    check_write_users(&write_users, config.as_ref())?;
    let Some(config) = config else {
        return Ok(Setup {
            tls: None,
            access: Arc::new(Access {
                auth: None,
                headers: Vec::new(),
            }),
            summary: "plain HTTP, no basic auth".into(),
            protected: false,
        });
    };
    let cert_required = config
        .tls
        .as_ref()
        .is_some_and(|t| t.client_auth == ClientAuth::RequireAndVerify);
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
    let auth = (!config.users.is_empty())
        .then(|| Authenticator::new(config.users, write_users, config.excluded_paths));
    Ok(Setup {
        tls,
        access: Arc::new(Access {
            auth,
            headers: config.headers,
        }),
        summary,
        protected,
    })
}

/// The current setup, swappable while serving.
pub struct Live {
    tls: RwLock<Option<tokio_rustls::TlsAcceptor>>,
    access: RwLock<Arc<Access>>,
}

impl Live {
    pub fn new(s: &Setup) -> Live {
        Live {
            tls: RwLock::new(s.tls.clone()),
            access: RwLock::new(s.access.clone()),
        }
    }

    pub fn tls(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.tls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, s: Setup) {
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) = s.tls;
        *self.access.write().unwrap_or_else(|p| p.into_inner()) = s.access;
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Re-reads `path` whenever it changes and swaps the setup in `live`; runs until aborted.
pub async fn watch(path: PathBuf, write_users: Option<BTreeSet<String>>, live: Arc<Live>) {
    let mut last = stamp(&path);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = stamp(&path);
        if now == last || now.is_none() {
            continue;
        }
        last = now;
        let result = WebConfig::load(&path)
            .map_err(WebError::from)
            .and_then(|c| setup(Some(c), write_users.clone()));
        match result {
            Ok(s) => {
                if s.protected {
                    info!(file = %path.display(), web = %s.summary, "web config reloaded");
                } else {
                    warn!(file = %path.display(), web = %s.summary, "web config reloaded; it requires no authentication");
                }
                live.replace(s);
            }
            Err(e) => {
                error!(error = %e, "web config not reloaded, the previous one stays in force")
            }
        }
    }
}
