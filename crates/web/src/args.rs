//! The `--web.*` flags both programs share (flattened into their clap structs), and turning
//! them into a [`Web`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{WebConfig, WebConfigError};
use crate::{ConnLimits, RequestLimits, Web};

/// Flags for the HTTP listener: TLS and basic auth from an exporter-toolkit web config, who
/// may use write endpoints, and the limits that keep slow or greedy clients from exhausting
/// the server.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct WebArgs {
    /// Web configuration in exporter-toolkit format (tls_server_config, http_server_config,
    /// basic_auth_users). Without it the listener is plain HTTP without authentication.
    #[arg(id = "web.config.file", long = "web.config.file")]
    pub config_file: Option<PathBuf>,
    /// Comma-separated users of basic_auth_users allowed to use write endpoints (POST
    /// /-/reload, discover, acks); the others get 403 there. Default: every user.
    #[arg(
        id = "web.write-users",
        long = "web.write-users",
        value_delimiter = ','
    )]
    pub write_users: Vec<String>,
    /// Most HTTP connections open at once. At the cap, new clients take the places of the
    /// connections idle the longest (keep-alive connections between requests), which are
    /// closed; only when none is idle do they wait to be accepted.
    #[arg(
        id = "web.max-connections",
        long = "web.max-connections",
        default_value_t = 512
    )]
    pub max_connections: usize,
    /// Time a client has for the TLS handshake and for each request's head; also how long
    /// an idle keep-alive connection stays open.
    #[arg(id = "web.read-header-timeout", long = "web.read-header-timeout", default_value = "10s", value_parser = parse_duration)]
    pub read_header_timeout: Duration,
    /// Time a request has to be answered (503 after it); a client that stops reading an
    /// answer for this long is disconnected.
    #[arg(id = "web.request-timeout", long = "web.request-timeout", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Largest request body accepted (413 above it).
    #[arg(
        id = "web.max-request-bytes",
        long = "web.max-request-bytes",
        default_value_t = 1 << 20
    )]
    pub max_request_bytes: usize,
}

impl Default for WebArgs {
    fn default() -> Self {
        WebArgs {
            config_file: None,
            write_users: Vec::new(),
            max_connections: 512,
            read_header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_request_bytes: 1 << 20,
        }
    }
}

/// Why the web flags could not be put into effect.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Config(#[from] WebConfigError),
    #[error("{file}: {source}")]
    Tls {
        file: String,
        source: crate::tls::TlsError,
    },
    #[error("--web.write-users: {0}")]
    WriteUsers(String),
    #[error("{0}")]
    Limits(String),
}

impl WebArgs {
    /// Reads and validates the web config (if any) and builds the listener's setup. Logs a
    /// warning when there is no web config.
    pub fn load(&self) -> Result<Web, WebError> {
        let config = match &self.config_file {
            Some(p) => Some(WebConfig::load(p)?),
            None => None,
        };
        self.build(config)
    }

    /// As [`WebArgs::load`], with the configuration already read.
    pub fn build(&self, config: Option<WebConfig>) -> Result<Web, WebError> {
        if self.max_connections == 0 {
            return Err(WebError::Limits(
                "--web.max-connections: must be at least 1".into(),
            ));
        }
        for (flag, d) in [
            ("--web.read-header-timeout", self.read_header_timeout),
            ("--web.request-timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(WebError::Limits(format!("{flag}: must be more than 0")));
            }
        }
        let write_users: BTreeSet<String> = self
            .write_users
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        Web::new(
            config,
            (!write_users.is_empty()).then_some(write_users),
            ConnLimits {
                max_connections: self.max_connections,
                header_read_timeout: self.read_header_timeout,
                write_timeout: self.request_timeout,
                max_header_bytes: 64 * 1024,
                shutdown_grace: self.request_timeout.min(Duration::from_secs(30)),
            },
            RequestLimits {
                timeout: self.request_timeout,
                max_body_bytes: self.max_request_bytes,
            },
        )
    }
}

/// `500ms`, `10s`, `2m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (use e.g. 500ms, 10s, 2m)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        total += Duration::from_millis(n.checked_mul(ms).ok_or_else(bad)?);
        rest = &rest[unit..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        web: WebArgs,
    }

    #[test]
    fn flags_parse_and_default() {
        let t = T::try_parse_from(["t"]).unwrap();
        assert_eq!(t.web, WebArgs::default());
        let t = T::try_parse_from([
            "t",
            "--web.config.file=w.yml",
            "--web.write-users=admin, ops",
            "--web.read-header-timeout=1m30s",
            "--web.request-timeout=500ms",
        ])
        .unwrap();
        assert_eq!(t.web.write_users, ["admin", " ops"]);
        assert_eq!(t.web.read_header_timeout, Duration::from_secs(90));
        assert_eq!(t.web.request_timeout, Duration::from_millis(500));
        assert!(T::try_parse_from(["t", "--web.request-timeout=5"]).is_err());
    }

    #[test]
    fn write_users_need_basic_auth_and_must_exist() {
        let args = WebArgs {
            write_users: vec!["admin".into()],
            ..WebArgs::default()
        };
        let e = args.build(None).unwrap_err().to_string();
        assert!(e.contains("needs basic_auth_users"), "{e}");
        let cfg = WebConfig::parse(
            "basic_auth_users:\n  ops: $2y$04$gYxGk0eeQ3S6S5bVJuf8yuyGJK8sJ0LTKfnXbJQb5mG8rz1Yo3U0a\n",
            std::path::Path::new("w.yml"),
        )
        .unwrap();
        let e = args.build(Some(cfg.clone())).unwrap_err().to_string();
        assert!(e.contains("\"admin\" is not in basic_auth_users"), "{e}");
        let ok = WebArgs {
            write_users: vec!["ops".into()],
            ..WebArgs::default()
        };
        let web = ok.build(Some(cfg)).unwrap();
        assert_eq!(
            web.summary(),
            "plain HTTP, basic auth for 1 user, write endpoints for: ops"
        );
    }
}
