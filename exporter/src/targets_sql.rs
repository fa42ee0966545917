//! `targets_sql`: devices read from the bank's PostgreSQL inventory (a table like
//! `standalone_devices`), turned into targets beside the config file's own.
//!
//! Layout: [`RowSource`] is the database behind a small trait ([`PgSource`] is the real one,
//! over sqlx); it yields [`SqlRow`]s whose community is already a `Secret`. [`build`] is pure:
//! rows, the `targets_sql` config, the `auths` and the names already taken in, targets and
//! skipped rows (with row, column and reason) out. [`Episodes`] decides what is worth a log
//! line, so a failing database or a bad row is logged once per episode, not every refresh.
//!
//! Column convention: `name` and `ip` are required; `snmp_version`, `snmp_community`,
//! `snmp_port` and `snmp_auth` (the name of an `auths` entry) are read when present; every
//! other column becomes a label of the device (NULL or empty: no label). Rename columns in the
//! query with `AS`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::{valid_label_name, Target, TargetsSqlConfig, RESERVED_LABELS};
use crate::secret::Secret;
use crate::snmp::session::{Credentials, SessionParams};

/// Columns with a meaning of their own; every other column is a label.
pub const KNOWN_COLUMNS: &[&str] = &[
    "name",
    "ip",
    "snmp_version",
    "snmp_community",
    "snmp_port",
    "snmp_auth",
];

/// Words that make a column unfit to be a label: its values are likely secrets.
const SECRET_WORDS: &[&str] = &["community", "password", "secret", "passphrase"];

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the inventory could not be read. Messages never contain the URL's password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("cannot connect to the inventory database: {0}")]
    Connect(String),
    #[error("inventory query failed: {0}")]
    Query(String),
    #[error("inventory query took longer than {0:?}")]
    Timeout(Duration),
    #[error("column {column:?} cannot be a label: {reason}; rename it in the query with AS")]
    Column {
        column: String,
        reason: &'static str,
    },
    #[error("row {row}: {message}")]
    Row { row: usize, message: String },
}

/// One row of the inventory query. The community was taken out as a `Secret` when the row was
/// decoded, so `columns` (and `Debug`) hold nothing secret.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow {
    /// Every column but `snmp_community`, by name.
    pub columns: BTreeMap<String, Value>,
    pub community: Option<Secret>,
}

impl SqlRow {
    /// A row from one JSON object (what `row_to_json` gives). `row` is 1-based, for errors.
    pub fn from_json(text: &str, row: usize) -> Result<SqlRow, SourceError> {
        let parsed: Value = serde_json::from_str(text).map_err(|e| SourceError::Row {
            row,
            message: format!("not a JSON object: {e}"),
        })?;
        let Value::Object(map) = parsed else {
            return Err(SourceError::Row {
                row,
                message: "not a JSON object".into(),
            });
        };
        let mut columns: BTreeMap<String, Value> = map.into_iter().collect();
        let community = match columns.remove("snmp_community") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s.trim())),
            Some(other) => Some(Secret::new(other.to_string())),
        };
        Ok(SqlRow { columns, community })
    }

    fn text(&self, column: &str) -> Option<String> {
        match self.columns.get(column)? {
            Value::Null => None,
            Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            other => Some(other.to_string()),
        }
    }
}

/// Where inventory rows come from.
pub trait RowSource: Send + Sync {
    /// Every row of the query, in its order.
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<SqlRow>, SourceError>>;
}

/// Check a PostgreSQL URL without connecting: its syntax, and that the TLS files it names
/// (`sslrootcert`, `sslcert`, `sslkey`) can be read. The message never contains the URL.
pub fn check_url(url: &Secret) -> Result<(), String> {
    let raw = url.expose();
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
        return Err("must start with postgres:// or postgresql://".into());
    }
    PgConnectOptions::from_str(raw).map_err(|e| redact(&e.to_string(), url))?;
    wardflux_web::pg::check_tls_files(raw).map_err(|e| redact(&e, url))
}

/// `text` with the URL and its password (if any) replaced by `<redacted>`.
pub fn redact(text: &str, url: &Secret) -> String {
    let raw = url.expose();
    let mut out = text.replace(raw, "<redacted>");
    if let Some(password) = url_password(raw) {
        if !password.is_empty() {
            out = out.replace(password, "<redacted>");
        }
    }
    out
}

/// The password part of `scheme://user:password@host/...`, as written (percent-encoded).
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p)
}

/// The real source: a fresh connection per refresh (every few minutes), closed afterwards,
/// so a restarted or moved database is simply found again.
pub struct PgSource {
    url: Secret,
    /// `user@host:port/database`, to say which server could not be reached (no password).
    server: String,
    options: PgConnectOptions,
    sql: String,
    timeout: Duration,
}

impl PgSource {
    pub fn new(cfg: &TargetsSqlConfig) -> Result<PgSource, SourceError> {
        let options = PgConnectOptions::from_str(cfg.url.expose())
            .map_err(|e| SourceError::Connect(redact(&e.to_string(), &cfg.url)))?
            .application_name("wardflux-exporter")
            .options([(
                "statement_timeout",
                format!("{}", cfg.query_timeout.as_millis()),
            )])
            // Statements are logged by us, without sqlx's rendering of them.
            .disable_statement_logging();
        let server = format!(
            "{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        Ok(PgSource {
            url: cfg.url.clone(),
            server,
            options,
            sql: wrap_query(&cfg.query),
            timeout: cfg.query_timeout,
        })
    }

    async fn fetch_rows(&self) -> Result<Vec<SqlRow>, SourceError> {
        let mut conn = sqlx::PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| {
                SourceError::Connect(redact(
                    &format!(
                        "{}: {}",
                        self.server,
                        wardflux_web::pg::explain(&e.to_string())
                    ),
                    &self.url,
                ))
            })?;
        let result: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(&self.sql)
            .persistent(false)
            .fetch_all(&mut conn)
            .await;
        let _ = conn.close().await;
        let texts = result.map_err(|e| SourceError::Query(redact(&e.to_string(), &self.url)))?;
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| SqlRow::from_json(t, i + 1))
            .collect()
    }
}

impl RowSource for PgSource {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<SqlRow>, SourceError>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.fetch_rows())
                .await
                .unwrap_or(Err(SourceError::Timeout(self.timeout)))
        })
    }
}

/// The user's query as a subquery whose rows come back as JSON text, so any column type
/// (text, integer, inet, varchar, char) decodes the same way.
pub fn wrap_query(query: &str) -> String {
    let q = query.trim().trim_end_matches(';').trim_end();
    format!("SELECT row_to_json(wardflux_q)::text FROM ({q}\n) AS wardflux_q")
}

// ---------------------------------------------------------------- pure: rows to targets

/// Why a row was skipped; the `reason` label of `wardflux_targets_sql_skipped_rows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    MissingName,
    DuplicateName,
    NameClash,
    BadIp,
    BadPort,
    BadVersion,
    UnknownAuth,
    NoCredentials,
}

impl SkipReason {
    pub const ALL: [SkipReason; 8] = [
        SkipReason::MissingName,
        SkipReason::DuplicateName,
        SkipReason::NameClash,
        SkipReason::BadIp,
        SkipReason::BadPort,
        SkipReason::BadVersion,
        SkipReason::UnknownAuth,
        SkipReason::NoCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::MissingName => "missing_name",
            SkipReason::DuplicateName => "duplicate_name",
            SkipReason::NameClash => "name_clash",
            SkipReason::BadIp => "bad_ip",
            SkipReason::BadPort => "bad_port",
            SkipReason::BadVersion => "bad_version",
            SkipReason::UnknownAuth => "unknown_auth",
            SkipReason::NoCredentials => "no_credentials",
        }
    }
}

/// A row left out, with where and why. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Skipped {
    /// 1-based position in the query result.
    pub row: usize,
    /// The row's name, when it has one.
    pub name: Option<String>,
    pub column: &'static str,
    pub reason: SkipReason,
    pub message: String,
}

/// The outcome of turning rows into targets.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub targets: Vec<Target>,
    pub skipped: Vec<Skipped>,
}

/// SNMP version as the inventory writes it: 1, 2, "2c", "v2c", "v2", "3", "v3", "SNMPv2c" ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2c,
    V3,
}

impl Version {
    fn of(c: &Credentials) -> Version {
        match c {
            Credentials::V1 { .. } => Version::V1,
            Credentials::V2c { .. } => Version::V2c,
            Credentials::V3(_) => Version::V3,
        }
    }
}

/// A version cell that names no SNMP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownVersion;

/// Parse a version cell; None for NULL or empty, Err for anything unknown.
pub fn parse_version(v: Option<&str>) -> Result<Option<Version>, UnknownVersion> {
    let Some(v) = v else { return Ok(None) };
    if v.trim().is_empty() {
        return Ok(None);
    }
    match crate::config::version_number(v) {
        Some(1) => Ok(Some(Version::V1)),
        Some(2) => Ok(Some(Version::V2c)),
        Some(3) => Ok(Some(Version::V3)),
        _ => Err(UnknownVersion),
    }
}

/// Parse an `ip` cell: an IPv4 or IPv6 address, optionally with a host mask (`/32`, `/128`)
/// as PostgreSQL's `cidr` type writes it.
pub fn parse_ip(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    let (addr, mask) = match v.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (v, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    match (mask, ip) {
        (None, _) | (Some("32"), IpAddr::V4(_)) | (Some("128"), IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

/// Every label column of `rows` must be a valid, unreserved label name that does not look
/// like a secret; one bad column fails the whole refresh (it is a mistake in the query).
pub fn check_columns(rows: &[SqlRow]) -> Result<(), SourceError> {
    let mut seen: HashSet<&str> = HashSet::new();
    for row in rows {
        for col in row.columns.keys() {
            if KNOWN_COLUMNS.contains(&col.as_str()) || !seen.insert(col) {
                continue;
            }
            let lower = col.to_ascii_lowercase();
            let reason = if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                "its values look like secrets"
            } else if RESERVED_LABELS.contains(&col.as_str()) {
                "the exporter sets this label itself"
            } else if !valid_label_name(col) {
                "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"
            } else {
                continue;
            };
            return Err(SourceError::Column {
                column: col.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Turn rows into targets. `taken` holds the names of the config file's targets; a row with
/// one of those names, like a second row with a name already read, is skipped. The first
/// row with a name wins.
pub fn build(
    rows: &[SqlRow],
    cfg: &TargetsSqlConfig,
    auths: &BTreeMap<String, Credentials>,
    taken: &HashSet<&str>,
) -> Result<Built, SourceError> {
    check_columns(rows)?;
    let mut out = Built::default();
    let mut names: HashSet<String> = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        match build_one(i + 1, row, cfg, auths) {
            Ok(t) => {
                let skip = |reason, message: String| Skipped {
                    row: i + 1,
                    name: Some(t.name.to_string()),
                    column: "name",
                    reason,
                    message,
                };
                if taken.contains(&*t.name) {
                    out.skipped.push(skip(
                        SkipReason::NameClash,
                        "a target of the config file has this name".into(),
                    ));
                } else if !names.insert(t.name.to_string()) {
                    out.skipped.push(skip(
                        SkipReason::DuplicateName,
                        "an earlier row has this name".into(),
                    ));
                } else {
                    out.targets.push(t);
                }
            }
            Err(s) => out.skipped.push(s),
        }
    }
    Ok(out)
}

fn build_one(
    row_no: usize,
    row: &SqlRow,
    cfg: &TargetsSqlConfig,
    auths: &BTreeMap<String, Credentials>,
) -> Result<Target, Skipped> {
    let name = row.text("name");
    let skip = |column: &'static str, reason: SkipReason, message: String| Skipped {
        row: row_no,
        name: name.clone(),
        column,
        reason,
        message,
    };
    let Some(name) = name.clone() else {
        return Err(skip(
            "name",
            SkipReason::MissingName,
            "name is NULL or empty".into(),
        ));
    };
    let ip_text = row.text("ip");
    let ip = match ip_text.as_deref() {
        None => return Err(skip("ip", SkipReason::BadIp, "ip is NULL or empty".into())),
        Some(v) => parse_ip(v).ok_or_else(|| {
            skip(
                "ip",
                SkipReason::BadIp,
                format!("{v:?} is not an IP address"),
            )
        })?,
    };
    let port = match row.columns.get("snmp_port") {
        None | Some(Value::Null) => cfg.default_port,
        Some(v) => {
            let text = match v {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            };
            match text.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ if text.is_empty() => cfg.default_port,
                _ => {
                    return Err(skip(
                        "snmp_port",
                        SkipReason::BadPort,
                        format!("{text:?} is not a port (1-65535)"),
                    ))
                }
            }
        }
    };
    let version_text = row.text("snmp_version");
    let version = parse_version(version_text.as_deref()).map_err(|UnknownVersion| {
        skip(
            "snmp_version",
            SkipReason::BadVersion,
            format!(
                "{:?} is not an SNMP version (1, 2c, 3)",
                version_text.as_deref().unwrap_or_default()
            ),
        )
    })?;
    // An `auths` entry, checked against the row's version when the row gives one.
    let named = |column: &'static str, auth: &str| -> Result<(Credentials, String), Skipped> {
        let creds = auths.get(auth).ok_or_else(|| {
            skip(
                column,
                SkipReason::UnknownAuth,
                format!("no auth named {auth:?} in auths"),
            )
        })?;
        match version {
            Some(v) if v != Version::of(creds) => Err(skip(
                "snmp_version",
                SkipReason::BadVersion,
                format!(
                    "the row says {v:?} but auth {auth:?} is {:?}",
                    Version::of(creds)
                ),
            )),
            _ => Ok((creds.clone(), auth.to_string())),
        }
    };
    let (credentials, auth_name) = if let Some(auth) = row.text("snmp_auth") {
        named("snmp_auth", &auth)?
    } else if version == Some(Version::V3) {
        match &cfg.v3_auth {
            Some(auth) => named("snmp_version", auth)?,
            None => {
                return Err(skip(
                    "snmp_version",
                    SkipReason::NoCredentials,
                    "an SNMPv3 row needs an snmp_auth column or targets_sql.v3_auth".into(),
                ))
            }
        }
    } else {
        match row.community.as_ref().filter(|c| !c.is_empty()) {
            Some(community) => {
                let community = community.clone();
                if version == Some(Version::V1) {
                    (Credentials::V1 { community }, "targets_sql:v1".into())
                } else {
                    (Credentials::V2c { community }, "targets_sql:v2c".into())
                }
            }
            None => match &cfg.default_auth {
                Some(auth) => named("snmp_community", auth)?,
                None => {
                    return Err(skip(
                        "snmp_community",
                        SkipReason::NoCredentials,
                        "no community, no snmp_auth and no targets_sql.default_auth".into(),
                    ))
                }
            },
        }
    };
    let mut labels = cfg.labels.clone();
    for (col, _) in row.columns.iter() {
        if KNOWN_COLUMNS.contains(&col.as_str()) {
            continue;
        }
        match row.text(col) {
            Some(v) => {
                labels.insert(col.clone(), v);
            }
            None => {
                labels.remove(col);
            }
        }
    }
    let address = SocketAddr::new(ip, port);
    Ok(Target {
        name: Arc::from(name.as_str()),
        address: address.to_string(),
        session: SessionParams {
            address,
            credentials,
            timeout: cfg.timeout,
            retries: cfg.retries,
        },
        max_repetitions: cfg.max_repetitions,
        labels: Arc::new(labels),
        auth_name,
    })
}

// ---------------------------------------------------------------- what to log

/// Remembers the last refresh's failure and skipped rows, so logs speak once per episode.
#[derive(Debug, Default)]
pub struct Episodes {
    failing: Option<String>,
    skipped: HashSet<Skipped>,
}

impl Episodes {
    /// A failed refresh: true when it starts an episode (log it), false while it continues.
    pub fn failed(&mut self, e: &SourceError) -> bool {
        let first = self.failing.is_none();
        self.failing = Some(e.to_string());
        first
    }

    /// A good refresh: the error of the episode it ends, if one was running.
    pub fn succeeded(&mut self) -> Option<String> {
        self.failing.take()
    }

    /// The skipped rows not skipped (for the same reason) last time; remembers these.
    pub fn new_skips(&mut self, skipped: &[Skipped]) -> Vec<Skipped> {
        let now: HashSet<Skipped> = skipped.iter().cloned().collect();
        let fresh = skipped
            .iter()
            .filter(|s| !self.skipped.contains(*s))
            .cloned()
            .collect();
        self.skipped = now;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> TargetsSqlConfig {
        TargetsSqlConfig {
            url: Secret::new("postgres://inv:pw-Xy9@127.0.0.1:5432/inventory"),
            query: crate::config::DEFAULT_SQL_QUERY.into(),
            refresh_interval: Duration::from_secs(300),
            query_timeout: Duration::from_secs(30),
            default_port: 161,
            default_auth: None,
            v3_auth: None,
            labels: BTreeMap::from([("source".into(), "inventory".into())]),
            timeout: Duration::from_secs(2),
            retries: 1,
            max_repetitions: 25,
        }
    }

    fn auths() -> BTreeMap<String, Credentials> {
        let v3 = crate::snmp::session::V3Credentials {
            username: "wardflux".into(),
            auth: None,
            privacy: None,
            context_name: String::new(),
        };
        BTreeMap::from([
            (
                "fallback".to_string(),
                Credentials::V2c {
                    community: Secret::new("fallback-comm"),
                },
            ),
            ("core_v3".to_string(), Credentials::V3(v3)),
        ])
    }

    fn row(v: Value) -> SqlRow {
        SqlRow::from_json(&v.to_string(), 1).unwrap()
    }

    fn dev(name: &str, ip: &str, version: Value, community: Value, port: Value) -> SqlRow {
        row(json!({"name": name, "ip": ip, "snmp_version": version,
                   "snmp_community": community, "snmp_port": port}))
    }

    fn built(rows: &[SqlRow], cfg: &TargetsSqlConfig) -> Built {
        build(rows, cfg, &auths(), &HashSet::from(["STATIC-01"])).unwrap()
    }

    #[test]
    fn version_spellings_of_the_inventory_are_accepted() {
        for (text, want) in [
            ("1", Some(Version::V1)),
            ("v1", Some(Version::V1)),
            ("2", Some(Version::V2c)),
            ("2c", Some(Version::V2c)),
            ("v2c", Some(Version::V2c)),
            ("V2C", Some(Version::V2c)),
            ("v2", Some(Version::V2c)),
            ("SNMPv2c", Some(Version::V2c)),
            (" 3 ", Some(Version::V3)),
            ("v3", Some(Version::V3)),
            ("", None),
        ] {
            assert_eq!(parse_version(Some(text)), Ok(want), "{text:?}");
        }
        assert_eq!(parse_version(None), Ok(None));
        for bad in ["4", "v2d", "two", "2.0"] {
            assert_eq!(parse_version(Some(bad)), Err(UnknownVersion), "{bad:?}");
        }
    }

    #[test]
    fn ips_are_addresses_with_at_most_a_host_mask() {
        assert_eq!(parse_ip("10.1.2.3"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(parse_ip("10.1.2.3/32"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(parse_ip("fe80::1/128"), Some("fe80::1".parse().unwrap()));
        for bad in ["10.1.2.0/24", "10.0.0.300", "router-1", "10.1.2.3:161", ""] {
            assert_eq!(parse_ip(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn good_rows_become_targets_with_their_own_community_port_and_labels() {
        let rows = [
            row(
                json!({"name": "BR-001", "ip": "127.0.0.1", "snmp_version": "2c",
                       "snmp_community": "row-secret", "snmp_port": 1161,
                       "site": "Isani", "region": null, "floor": 3}),
            ),
            dev(
                "BR-002",
                "10.0.0.2",
                json!(1),
                json!("v1-secret"),
                Value::Null,
            ),
            dev(
                "BR-003",
                "10.0.0.3",
                json!(null),
                json!("c3"),
                json!("10161"),
            ),
        ];
        let b = built(&rows, &cfg());
        assert!(b.skipped.is_empty(), "{:?}", b.skipped);
        let t = &b.targets[0];
        assert_eq!(&*t.name, "BR-001");
        assert_eq!(t.session.address, "127.0.0.1:1161".parse().unwrap());
        assert_eq!(t.address, "127.0.0.1:1161");
        assert!(
            matches!(&t.session.credentials, Credentials::V2c { community } if community.expose() == "row-secret")
        );
        assert_eq!(t.auth_name, "targets_sql:v2c");
        let labels: Vec<(&str, &str)> = t
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [("floor", "3"), ("site", "Isani"), ("source", "inventory")]
        );
        assert!(matches!(
            &b.targets[1].session.credentials,
            Credentials::V1 { .. }
        ));
        assert_eq!(b.targets[1].session.address.port(), 161);
        assert!(matches!(
            &b.targets[2].session.credentials,
            Credentials::V2c { .. }
        ));
        assert_eq!(b.targets[2].session.address.port(), 10161);
        let dbg = format!("{b:?} {rows:?}");
        assert!(
            !dbg.contains("row-secret") && !dbg.contains("v1-secret"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_rows_are_skipped_naming_row_column_and_reason_and_the_rest_load() {
        let rows = [
            dev("", "10.0.0.1", json!("2c"), json!("c"), Value::Null),
            dev("BAD-IP", "10.0.0.300", json!("2c"), json!("c"), Value::Null),
            dev("BAD-VER", "10.0.0.4", json!("v4"), json!("c"), Value::Null),
            dev(
                "BAD-PORT",
                "10.0.0.5",
                json!("2c"),
                json!("c"),
                json!(70000),
            ),
            dev("OK-1", "10.0.0.6", json!("2c"), json!("c"), Value::Null),
            dev("OK-1", "10.0.0.7", json!("2c"), json!("c"), Value::Null),
            dev(
                "STATIC-01",
                "10.0.0.8",
                json!("2c"),
                json!("c"),
                Value::Null,
            ),
            dev("NO-COMM", "10.0.0.9", json!("2c"), Value::Null, Value::Null),
            dev(
                "V3-NO-AUTH",
                "10.0.0.10",
                json!("3"),
                Value::Null,
                Value::Null,
            ),
            row(json!({"name": "UNK-AUTH", "ip": "10.0.0.11", "snmp_auth": "nope"})),
            row(
                json!({"name": "MISMATCH", "ip": "10.0.0.12", "snmp_version": "2c",
                       "snmp_auth": "core_v3"}),
            ),
            row(json!({"ip": "10.0.0.13", "snmp_community": "c"})),
        ];
        let b = built(&rows, &cfg());
        let names: Vec<&str> = b.targets.iter().map(|t| &*t.name).collect();
        assert_eq!(names, ["OK-1"]);
        let got: Vec<(usize, Option<&str>, &str, &str)> = b
            .skipped
            .iter()
            .map(|s| (s.row, s.name.as_deref(), s.column, s.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, None, "name", "missing_name"),
                (2, Some("BAD-IP"), "ip", "bad_ip"),
                (3, Some("BAD-VER"), "snmp_version", "bad_version"),
                (4, Some("BAD-PORT"), "snmp_port", "bad_port"),
                (6, Some("OK-1"), "name", "duplicate_name"),
                (7, Some("STATIC-01"), "name", "name_clash"),
                (8, Some("NO-COMM"), "snmp_community", "no_credentials"),
                (9, Some("V3-NO-AUTH"), "snmp_version", "no_credentials"),
                (10, Some("UNK-AUTH"), "snmp_auth", "unknown_auth"),
                (11, Some("MISMATCH"), "snmp_version", "bad_version"),
                (12, None, "name", "missing_name"),
            ]
        );
        assert!(b.skipped[1].message.contains("10.0.0.300"));
    }

    #[test]
    fn rows_without_community_use_default_auth_and_v3_rows_use_a_named_auth() {
        let mut c = cfg();
        c.default_auth = Some("fallback".into());
        c.v3_auth = Some("core_v3".into());
        let rows = [
            dev("NO-COMM", "10.0.0.9", json!("2c"), Value::Null, Value::Null),
            dev(
                "EMPTY-COMM",
                "10.0.0.10",
                Value::Null,
                json!(""),
                Value::Null,
            ),
            dev("V3", "10.0.0.11", json!("v3"), Value::Null, Value::Null),
            row(json!({"name": "BY-AUTH", "ip": "10.0.0.12", "snmp_auth": "core_v3"})),
            dev(
                "V1-DEFAULT",
                "10.0.0.13",
                json!("1"),
                Value::Null,
                Value::Null,
            ),
        ];
        let b = built(&rows, &c);
        let got: Vec<(&str, &str)> = b
            .targets
            .iter()
            .map(|t| (&*t.name, t.auth_name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("NO-COMM", "fallback"),
                ("EMPTY-COMM", "fallback"),
                ("V3", "core_v3"),
                ("BY-AUTH", "core_v3"),
            ]
        );
        assert_eq!(b.skipped.len(), 1, "{:?}", b.skipped);
        assert_eq!(b.skipped[0].reason, SkipReason::BadVersion);
    }

    #[test]
    fn label_columns_must_be_label_names_and_not_secrets() {
        for (col, reason) in [
            ("Site Name", "label name"),
            ("device", "sets this label"),
            ("ro_community", "secrets"),
            ("__meta", "label name"),
        ] {
            let r = row(json!({"name": "A", "ip": "10.0.0.1", col: "x"}));
            let e = build(&[r], &cfg(), &auths(), &HashSet::new()).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(col) && text.contains(reason), "{text}");
        }
    }

    #[test]
    fn a_row_column_overrides_a_configured_label_and_null_removes_it() {
        let rows = [
            row(json!({"name": "A", "ip": "10.0.0.1", "snmp_community": "c",
                       "source": "branch-db"})),
            row(json!({"name": "B", "ip": "10.0.0.2", "snmp_community": "c",
                       "source": null})),
        ];
        let b = built(&rows, &cfg());
        assert_eq!(
            b.targets[0].labels.get("source").map(String::as_str),
            Some("branch-db")
        );
        assert_eq!(b.targets[1].labels.get("source"), None);
    }

    #[test]
    fn urls_are_checked_and_their_passwords_redacted() {
        let url = Secret::new("postgres://inv:pw-Xy9@db.example:5432/inventory");
        assert!(check_url(&url).is_ok());
        assert!(check_url(&Secret::new("mysql://a@b/c")).is_err());
        assert!(check_url(&Secret::new("postgres://a:pw-Xy9@b/c?sslmode=require")).is_ok());
        let ca = check_url(&Secret::new(
            "postgres://a:pw-Xy9@b/c?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ))
        .unwrap_err();
        assert!(
            ca.contains("sslrootcert file /nonexistent/ca.pem") && !ca.contains("pw-Xy9"),
            "{ca}"
        );
        let bad = Secret::new("postgres://inv:pw-Xy9@db.example:notaport/inventory");
        let e = check_url(&bad).unwrap_err();
        assert!(!e.contains("pw-Xy9"), "{e}");
        assert_eq!(
            redact(
                "failed for postgres://inv:pw-Xy9@db.example:5432/inventory and pw-Xy9",
                &url
            ),
            "failed for <redacted> and <redacted>"
        );
        assert_eq!(url_password("postgres://inv@h/db"), None);
        assert_eq!(url_password("postgres://inv:p%40ss@h/db"), Some("p%40ss"));
    }

    #[test]
    fn the_query_is_wrapped_as_a_subquery_without_its_semicolon() {
        assert_eq!(
            wrap_query(" SELECT name, ip FROM standalone_devices;\n"),
            "SELECT row_to_json(wardflux_q)::text FROM (SELECT name, ip FROM standalone_devices\n) AS wardflux_q"
        );
    }

    #[test]
    fn failures_and_bad_rows_are_logged_once_per_episode() {
        let mut ep = Episodes::default();
        let e = SourceError::Query("relation does not exist".into());
        assert!(ep.failed(&e));
        assert!(!ep.failed(&e));
        assert!(ep.succeeded().is_some());
        assert!(ep.succeeded().is_none());
        assert!(ep.failed(&e));
        let rows = [dev("BAD-IP", "x", json!("2c"), json!("c"), Value::Null)];
        let b = built(&rows, &cfg());
        assert_eq!(ep.new_skips(&b.skipped).len(), 1);
        assert_eq!(ep.new_skips(&b.skipped).len(), 0);
        assert_eq!(ep.new_skips(&[]).len(), 0);
        assert_eq!(ep.new_skips(&b.skipped).len(), 1);
    }
}
