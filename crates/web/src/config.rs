//! The web configuration file (`--web.config.file`) in the format of Prometheus'
//! exporter-toolkit: YAML → raw structs (`deny_unknown_fields`) → a validated [`WebConfig`].
//!
//! Invariants: a file exporter-toolkit accepts is either accepted with the same meaning or
//! rejected with a message saying what rustls cannot do; every error names the file, the line
//! and the field; error messages never carry a value from the file (hashes and inline keys are
//! secrets), so a serde message's quoted values are blanked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::secret::Secret;

/// Why a web configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

// ---------------------------------------------------------------- phase one: as written

/// The whole file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebConfig {
    /// TLS for the listener; without a certificate the server speaks plain HTTP.
    pub tls_server_config: Option<RawTlsServerConfig>,
    pub http_server_config: Option<RawHttpServerConfig>,
    /// User name → bcrypt hash. When not empty, every request needs HTTP basic auth.
    pub basic_auth_users: Option<BTreeMap<String, Secret>>,
    /// Paths served without authentication (exact match), e.g. `/-/healthy`.
    pub auth_excluded_paths: Option<Vec<String>>,
}

/// `tls_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsServerConfig {
    /// PEM certificate chain inline (instead of `cert_file`).
    pub cert: Option<String>,
    /// PEM private key inline (instead of `key_file`).
    pub key: Option<Secret>,
    /// PEM CA certificates inline (instead of `client_ca_file`).
    pub client_ca: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// NoClientCert (default), VerifyClientCertIfGiven or RequireAndVerifyClientCert.
    pub client_auth_type: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub client_allowed_sans: Option<Vec<String>>,
    /// TLS12 (default) or TLS13.
    pub min_version: Option<String>,
    /// TLS12 or TLS13 (default).
    pub max_version: Option<String>,
    /// Go names of TLS 1.2 suites, in preference order.
    pub cipher_suites: Option<Vec<String>>,
    pub prefer_server_cipher_suites: Option<bool>,
    /// X25519, CurveP256, CurveP384.
    pub curve_preferences: Option<Vec<String>>,
}

/// `http_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpServerConfig {
    /// Accepted for compatibility; the servers speak HTTP/1.1 only.
    pub http2: Option<bool>,
    pub headers: Option<RawHeaders>,
}

/// The response headers exporter-toolkit lets a file set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    #[serde(rename = "Content-Security-Policy")]
    pub content_security_policy: Option<String>,
    /// deny or sameorigin.
    #[serde(rename = "X-Frame-Options")]
    pub x_frame_options: Option<String>,
    /// nosniff.
    #[serde(rename = "X-Content-Type-Options")]
    pub x_content_type_options: Option<String>,
    #[serde(rename = "X-XSS-Protection")]
    pub x_xss_protection: Option<String>,
    #[serde(rename = "Strict-Transport-Security")]
    pub strict_transport_security: Option<String>,
}

// ---------------------------------------------------------------- phase two: validated

/// PEM text from a file (resolved against the config file's directory) or inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Inline(Secret),
}

/// How the server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// A certificate is optional, but one that is sent must chain to `client_ca`.
    VerifyIfGiven,
    /// A certificate chaining to `client_ca` is required to connect.
    RequireAndVerify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// TLS 1.2 cipher suites rustls (ring) offers, by their Go names.
pub const TLS12_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// TLS 1.3 suites: Go does not let them be configured; naming them is accepted and changes
/// nothing, as there.
pub const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Key exchange groups by their Go names.
pub const CURVES: &[&str] = &["X25519", "CurveP256", "CurveP384"];

/// Validated `tls_server_config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: Pem,
    pub key: Pem,
    pub client_auth: ClientAuth,
    pub client_ca: Option<Pem>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// Entries of [`TLS12_SUITES`] in preference order; empty means rustls' defaults.
    pub cipher_suites: Vec<&'static str>,
    pub prefer_server_cipher_suites: bool,
    /// Entries of [`CURVES`] in preference order; empty means rustls' defaults.
    pub curves: Vec<&'static str>,
}

/// The validated web configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub file: PathBuf,
    pub tls: Option<TlsSettings>,
    /// Added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// User → bcrypt hash; empty means no basic auth.
    pub users: BTreeMap<String, Secret>,
    pub excluded_paths: Vec<String>,
}

impl WebConfig {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        WebConfig::parse(&src, path)
    }

    /// Validates `src`, read from `path` (relative file names are resolved against its
    /// directory, as exporter-toolkit does).
    pub fn parse(src: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let file = path.display().to_string();
        let raw: RawWebConfig = if src.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_yaml::from_str::<Option<RawWebConfig>>(src)
                .map_err(|e| yaml_error(&file, e))?
                .unwrap_or_default()
        };
        let base = path.parent().unwrap_or(Path::new("."));
        validate(raw, src, &file, base)
    }

    /// One line for logs and `check-config`: what the file switches on (never a secret).
    pub fn summary(&self) -> String {
        let tls = match &self.tls {
            None => "plain HTTP".to_string(),
            Some(t) => format!(
                "TLS {}{}",
                match (t.min_version, t.max_version) {
                    (TlsVersion::Tls12, TlsVersion::Tls13) => "1.2-1.3",
                    (TlsVersion::Tls13, _) => "1.3",
                    (_, TlsVersion::Tls12) => "1.2",
                },
                match t.client_auth {
                    ClientAuth::None => "",
                    ClientAuth::VerifyIfGiven => ", client certificates verified if given",
                    ClientAuth::RequireAndVerify => ", client certificates required",
                }
            ),
        };
        let users = match self.users.len() {
            0 => "no basic auth".to_string(),
            n => format!("basic auth for {n} user{}", if n == 1 { "" } else { "s" }),
        };
        format!("{tls}, {users}")
    }
}

/// A serde_yaml error as file:line: message, with any quoted value blanked (it may be a hash
/// or a key).
fn yaml_error(file: &str, e: serde_yaml::Error) -> WebConfigError {
    let line = e.location().map(|l| l.line()).unwrap_or(0);
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    WebConfigError::Invalid {
        file: file.to_string(),
        line,
        message: blank_quoted(msg),
    }
}

/// `invalid type: string "x", expected ...` → `invalid type: string "…", expected ...`.
fn blank_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut inside = false;
    for c in msg.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// 1-based line of the first line whose key is `key` (after the section `after`, if given);
/// else the section's line, else 0.
fn line_of(src: &str, after: Option<&str>, key: &str) -> usize {
    let mut start = 0;
    let mut fallback = 0;
    if let Some(a) = after {
        if let Some(i) = src
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{a}:")))
        {
            start = i;
            fallback = i + 1;
        }
    }
    src.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            let t = t.trim_start_matches(['"', '\'']);
            t.strip_prefix(key)
                .is_some_and(|r| r.trim_start_matches(['"', '\'']).starts_with(':'))
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(fallback)
}

fn validate(
    raw: RawWebConfig,
    src: &str,
    file: &str,
    base: &Path,
) -> Result<WebConfig, WebConfigError> {
    let err = |line: usize, message: String| WebConfigError::Invalid {
        file: file.to_string(),
        line,
        message,
    };
    let tls = match raw.tls_server_config {
        None => None,
        Some(t) => tls_settings(t, base).map_err(|(key, m)| {
            err(
                line_of(src, Some("tls_server_config"), key),
                format!("tls_server_config.{key}: {m}"),
            )
        })?,
    };

    let mut headers = Vec::new();
    if let Some(h) = raw.http_server_config.and_then(|h| h.headers) {
        for (name, value) in [
            ("Content-Security-Policy", h.content_security_policy),
            ("X-Frame-Options", h.x_frame_options),
            ("X-Content-Type-Options", h.x_content_type_options),
            ("X-XSS-Protection", h.x_xss_protection),
            ("Strict-Transport-Security", h.strict_transport_security),
        ] {
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let line = line_of(src, Some("headers"), name);
            let bad = |m: &str| err(line, format!("http_server_config.headers.{name}: {m}"));
            match name {
                "X-Frame-Options" if !["deny", "sameorigin"].contains(&&*value.to_lowercase()) => {
                    return Err(bad("must be deny or sameorigin"))
                }
                "X-Content-Type-Options" if !value.eq_ignore_ascii_case("nosniff") => {
                    return Err(bad("must be nosniff"))
                }
                _ => {}
            }
            let v = HeaderValue::from_str(&value)
                .map_err(|_| bad("not a valid header value (control characters?)"))?;
            headers.push((HeaderName::from_static(static_lower(name)), v));
        }
    }

    let mut users = BTreeMap::new();
    for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
        let line = line_of(src, Some("basic_auth_users"), &user);
        if user.is_empty() || user.contains(':') {
            return Err(err(
                line,
                "basic_auth_users: a user name must be non-empty and hold no ':'".into(),
            ));
        }
        if !looks_like_bcrypt(hash.expose()) {
            return Err(err(
                line,
                format!(
                    "basic_auth_users.{user}: not a bcrypt hash (expected $2y$NN$ and 53 more \
                     characters; make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')"
                ),
            ));
        }
        users.insert(user, hash);
    }

    let mut excluded_paths = Vec::new();
    for p in raw.auth_excluded_paths.unwrap_or_default() {
        if !p.starts_with('/') {
            return Err(err(
                line_of(src, None, "auth_excluded_paths"),
                format!("auth_excluded_paths: {p:?} must start with /"),
            ));
        }
        excluded_paths.push(p);
    }

    Ok(WebConfig {
        file: PathBuf::from(file),
        tls,
        headers,
        users,
        excluded_paths,
    })
}

fn static_lower(name: &str) -> &'static str {
    match name {
        "Content-Security-Policy" => "content-security-policy",
        "X-Frame-Options" => "x-frame-options",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "strict-transport-security",
    }
}

/// `$2a$`/`$2b$`/`$2y$`/`$2x$`, a two-digit cost 4..=31, and 53 characters of salt and hash.
pub fn looks_like_bcrypt(h: &str) -> bool {
    let b = h.as_bytes();
    b.len() == 60
        && h.starts_with("$2")
        && matches!(b[2], b'a' | b'b' | b'y' | b'x')
        && b[3] == b'$'
        && b[6] == b'$'
        && h[4..6].parse::<u32>().is_ok_and(|c| (4..=31).contains(&c))
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

type FieldError = (&'static str, String);

fn pem(
    inline: Option<Secret>,
    file: Option<PathBuf>,
    base: &Path,
    inline_key: &'static str,
    file_key: &'static str,
) -> Result<Option<Pem>, FieldError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err((
            file_key,
            format!("{inline_key} and {file_key} are mutually exclusive"),
        )),
        (Some(s), None) if !s.is_empty() => Ok(Some(Pem::Inline(s))),
        (_, Some(f)) if !f.as_os_str().is_empty() => Ok(Some(Pem::File(base.join(f)))),
        _ => Ok(None),
    }
}

fn version(
    v: Option<&str>,
    key: &'static str,
    default: TlsVersion,
) -> Result<TlsVersion, FieldError> {
    match v {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(TlsVersion::Tls12),
        Some("TLS13") => Ok(TlsVersion::Tls13),
        Some(v @ ("TLS10" | "TLS11")) => Err((
            key,
            format!("{v} is not supported: rustls speaks TLS12 and TLS13 only"),
        )),
        Some(v) => Err((key, format!("unknown version {v:?} (TLS12, TLS13)"))),
    }
}

fn tls_settings(t: RawTlsServerConfig, base: &Path) -> Result<Option<TlsSettings>, FieldError> {
    let cert = pem(
        t.cert.map(Secret::new),
        t.cert_file,
        base,
        "cert",
        "cert_file",
    )?;
    let key = pem(t.key, t.key_file, base, "key", "key_file")?;
    let client_ca = pem(
        t.client_ca.map(Secret::new),
        t.client_ca_file,
        base,
        "client_ca",
        "client_ca_file",
    )?;
    let client_auth = match t.client_auth_type.as_deref() {
        None | Some("") | Some("NoClientCert") => ClientAuth::None,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerify,
        Some(v @ ("RequestClientCert" | "RequireAnyClientCert")) => {
            return Err((
                "client_auth_type",
                format!(
                    "{v} accepts client certificates without verifying them, which rustls \
                     does not do; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) \
                     with client_ca_file"
                ),
            ))
        }
        Some(v) => {
            return Err((
                "client_auth_type",
                format!(
                    "unknown {v:?} (NoClientCert, VerifyClientCertIfGiven, \
                     RequireAndVerifyClientCert)"
                ),
            ))
        }
    };
    let (cert, key) = match (cert, key) {
        (None, None) => {
            if client_auth != ClientAuth::None || client_ca.is_some() {
                return Err((
                    "cert_file",
                    "client certificates need TLS: set cert_file and key_file".into(),
                ));
            }
            // As in exporter-toolkit: no certificate, no TLS.
            return Ok(None);
        }
        (Some(_), None) => return Err(("key_file", "missing (cert_file is set)".into())),
        (None, Some(_)) => return Err(("cert_file", "missing (key_file is set)".into())),
        (Some(c), Some(k)) => (c, k),
    };
    match (client_auth, &client_ca) {
        (ClientAuth::None, Some(_)) => {
            return Err((
                "client_ca_file",
                "set, but client_auth_type is NoClientCert: say RequireAndVerifyClientCert".into(),
            ))
        }
        (ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify, None) => {
            return Err((
                "client_ca_file",
                "required to verify client certificates".into(),
            ))
        }
        _ => {}
    }
    if t.client_allowed_sans.is_some_and(|s| !s.is_empty()) {
        return Err((
            "client_allowed_sans",
            "not supported: issue client certificates from a CA of their own and name it in \
             client_ca_file"
                .into(),
        ));
    }
    let min_version = version(t.min_version.as_deref(), "min_version", TlsVersion::Tls12)?;
    let max_version = version(t.max_version.as_deref(), "max_version", TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err(("max_version", "lower than min_version".into()));
    }
    let mut cipher_suites = Vec::new();
    let named_suites = t.cipher_suites.unwrap_or_default();
    for s in &named_suites {
        if let Some(known) = TLS12_SUITES
            .iter()
            .find(|k| **k == s || format!("{s}_SHA256") == **k)
        {
            if !cipher_suites.contains(known) {
                cipher_suites.push(*known);
            }
        } else if !TLS13_SUITES.contains(&s.as_str()) {
            return Err((
                "cipher_suites",
                format!(
                    "{s:?} is not supported (supported: {})",
                    TLS12_SUITES.join(", ")
                ),
            ));
        }
    }
    if min_version == TlsVersion::Tls12
        && max_version == TlsVersion::Tls12
        && cipher_suites.is_empty()
        && !named_suites.is_empty()
    {
        return Err((
            "cipher_suites",
            "no TLS 1.2 suite left for a TLS 1.2-only server".into(),
        ));
    }
    let mut curves = Vec::new();
    for c in t.curve_preferences.unwrap_or_default() {
        match CURVES.iter().find(|k| **k == c) {
            Some(k) => {
                if !curves.contains(k) {
                    curves.push(*k)
                }
            }
            None => {
                return Err((
                    "curve_preferences",
                    format!("{c:?} is not supported (supported: {})", CURVES.join(", ")),
                ))
            }
        }
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_auth,
        client_ca,
        min_version,
        max_version,
        cipher_suites,
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
        curves,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$04$gYxGk0eeQ3S6S5bVJuf8yuyGJK8sJ0LTKfnXbJQb5mG8rz1Yo3U0a";

    fn parse(src: &str) -> Result<WebConfig, String> {
        WebConfig::parse(src, Path::new("/etc/wardflux/web.yml")).map_err(|e| e.to_string())
    }

    fn check_err(src: &str, line: usize, needle: &str) {
        let e = parse(src).expect_err(src);
        assert!(
            e.starts_with(&format!("/etc/wardflux/web.yml:{line}: ")),
            "{e}"
        );
        assert!(e.contains(needle), "{e} should contain {needle}");
    }

    #[test]
    fn a_full_file_validates_with_relative_paths_resolved() {
        let c = parse(&format!(
            "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /abs/server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
             min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
             TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305]\n  \
             curve_preferences: [CurveP256, X25519]\n\
             http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n    \
             Strict-Transport-Security: max-age=31536000\n\
             basic_auth_users:\n  alice: {HASH}\n  \"bob\": '{HASH}'\n\
             auth_excluded_paths: [/-/healthy]\n"
        ))
        .unwrap();
        let t = c.tls.as_ref().unwrap();
        assert_eq!(t.cert, Pem::File("/etc/wardflux/tls/server.crt".into()));
        assert_eq!(t.key, Pem::File("/abs/server.key".into()));
        assert_eq!(t.client_auth, ClientAuth::RequireAndVerify);
        assert_eq!(t.min_version, TlsVersion::Tls13);
        assert_eq!(
            t.cipher_suites,
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            ]
        );
        assert_eq!(t.curves, ["CurveP256", "X25519"]);
        assert_eq!(c.users.len(), 2);
        assert_eq!(c.headers.len(), 2);
        assert_eq!(c.excluded_paths, ["/-/healthy"]);
        assert_eq!(
            c.summary(),
            "TLS 1.3, client certificates required, basic auth for 2 users"
        );
    }

    #[test]
    fn empty_files_and_certless_tls_mean_plain_http() {
        for src in [
            "",
            "# nothing\n",
            "tls_server_config: {}\n",
            "basic_auth_users:\n",
        ] {
            let c = parse(src).unwrap();
            assert!(c.tls.is_none() && c.users.is_empty(), "{src}");
        }
    }

    #[test]
    fn errors_name_line_and_field_and_never_a_value() {
        check_err(
            "tls_server_config:\n  cert_fil: x\n",
            2,
            "unknown field `cert_fil`",
        );
        check_err(
            "basic_auth_user:\n  a: b\n",
            1,
            "unknown field `basic_auth_user`",
        );
        check_err(
            "basic_auth_users:\n  alice: $2y$04$short-hunter2\n",
            2,
            "basic_auth_users.alice: not a bcrypt hash",
        );
        let e = parse("basic_auth_users:\n  alice: $2y$04$short-hunter2\n").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        // A serde type error quotes the value: it is blanked.
        let e = parse("basic_auth_users: \"hunter2\"\n").unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("invalid type"), "{e}");
        let e = parse("tls_server_config:\n  key: [hunter2]\n").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequestClientCert\n",
            4,
            "without verifying",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
            4,
            "TLS12 and TLS13 only",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
            4,
            "\"TLS_RSA_WITH_RC4_128_SHA\" is not supported",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [CurveP521]\n",
            4,
            "curve_preferences",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
            1,
            "client_ca_file: required",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n",
            4,
            "NoClientCert",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  cert: inline\n  key_file: b\n",
            2,
            "mutually exclusive",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n",
            1,
            "key_file: missing",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS12\n  min_version: TLS13\n",
            4,
            "lower than min_version",
        );
        check_err(
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            3,
            "deny or sameorigin",
        );
        check_err(
            "http_server_config:\n  headers:\n    X-Powered-By: me\n",
            3,
            "unknown field `X-Powered-By`",
        );
        check_err("auth_excluded_paths: [metrics]\n", 1, "must start with /");
    }

    #[test]
    fn bcrypt_shapes() {
        assert!(looks_like_bcrypt(HASH));
        assert!(looks_like_bcrypt(&HASH.replace("$2y$", "$2b$")));
        assert!(!looks_like_bcrypt(&HASH.replace("$04$", "$03$")));
        assert!(!looks_like_bcrypt(&HASH[..59]));
        assert!(!looks_like_bcrypt("plain-password"));
    }
}
