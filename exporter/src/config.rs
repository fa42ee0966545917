//! Exporter configuration: raw YAML structs (phase one) validated into runtime targets (phase two).
//!
//! Invariants: unknown keys are errors; every error names the file, the line and the field;
//! secrets are read from env or files here and leave only as `Secret`.

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;
use crate::snmp::session::{AuthProtocol, Credentials, PrivProtocol, SessionParams, V3Credentials};

/// A configuration error, with where it was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: classification: {message}")]
    Classification { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

// ---------------------------------------------------------------- phase one: raw YAML

/// The YAML file as written. Field comments are the user documentation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// How often counters and statuses are polled (Prometheus duration, default 60s).
    #[serde(default = "d_poll")]
    pub poll_interval: PromDuration,
    /// How often the status (ifOperStatus, ifAdminStatus) of critical interfaces, the ISP
    /// uplinks and critical trunks, is read between counter polls, with sysUpTime in one small
    /// GET (default 30s; `0s` turns it off). Served by `/probe?target=NAME&part=status`.
    #[serde(default = "d_status_poll")]
    pub status_poll_interval: PromDuration,
    /// A changed ifOperStatus of a critical interface is served only when a second reading
    /// this long after the first still sees it (default 5s, the link-state rules' `for`); a
    /// reading made because of a notification is served at once. `0s` serves every reading.
    #[serde(default = "d_status_confirm")]
    pub status_confirm_delay: PromDuration,
    /// How often interface tables are walked again (default 1h); also on reboot or table change.
    #[serde(default = "d_discovery")]
    pub discovery_interval: PromDuration,
    /// Time to wait for one SNMP answer (default 2s).
    #[serde(default = "d_timeout")]
    pub timeout: PromDuration,
    /// Retries after a timeout (default 2).
    #[serde(default = "d_retries")]
    pub retries: u32,
    /// GETBULK max-repetitions (default 25); shrinks per device on tooBig or timeouts.
    #[serde(default = "d_max_rep")]
    pub max_repetitions: u32,
    /// Most varbinds asked in one request (default 50).
    #[serde(default = "d_max_oids")]
    pub max_oids_per_request: u32,
    /// Most devices polled at the same time (default 256). Each device gets one request in flight.
    #[serde(default = "d_concurrency")]
    pub max_concurrent_devices: u32,
    /// Named SNMP credentials.
    #[serde(default)]
    pub auths: BTreeMap<String, RawAuth>,
    /// The devices to poll.
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// More targets, each file a YAML list in the same form as `targets` (relative paths are
    /// relative to this file). Files are watched and reloaded when they change.
    #[serde(default)]
    pub targets_files: Vec<PathBuf>,
    /// More targets, read from a PostgreSQL inventory table and refreshed in the background.
    pub targets_sql: Option<RawTargetsSql>,
    /// Optional: keep the discovered interfaces in PostgreSQL or SQLite (`device_interfaces`).
    pub inventory_store: Option<crate::invstore::RawInventoryStore>,
    /// Interface classification: rules file, overrides, what not to poll.
    #[serde(default)]
    pub classification: crate::classify::ClassificationConfig,
    // -- topology (branch topology): roots for impact analysis and manual links.
    /// Optional topology settings: `roots` and manual `links` (see `topology::config`).
    #[serde(default)]
    pub topology: Option<crate::topology::config::RawTopology>,
}

fn d_poll() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn d_status_poll() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}
fn d_status_confirm() -> PromDuration {
    PromDuration(Duration::from_secs(5))
}
fn d_discovery() -> PromDuration {
    PromDuration(Duration::from_secs(3600))
}
fn d_timeout() -> PromDuration {
    PromDuration(Duration::from_secs(2))
}
fn d_retries() -> u32 {
    2
}
fn d_max_rep() -> u32 {
    25
}
fn d_max_oids() -> u32 {
    50
}
fn d_concurrency() -> u32 {
    256
}

/// An SNMP version as written: a number or text such as `2c`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RawVersion {
    Number(u64),
    Text(String),
}

/// The SNMP version number (1, 2 for v2c, 3) of a version as people write it: `1`, `2`,
/// `2c`, `v2c`, `v2`, `3`, `v3`, `SNMPv2c`, any case; `None` for anything else.
pub fn version_number(text: &str) -> Option<u8> {
    let lower = text.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("snmp").unwrap_or(&lower);
    let bare = bare.strip_prefix('v').unwrap_or(bare);
    match bare {
        "1" => Some(1),
        "2" | "2c" => Some(2),
        "3" => Some(3),
        _ => None,
    }
}

impl RawVersion {
    fn number(&self) -> Option<u8> {
        match self {
            RawVersion::Number(n @ 1..=3) => Some(*n as u8),
            RawVersion::Number(_) => None,
            RawVersion::Text(t) => version_number(t),
        }
    }
}

impl std::fmt::Display for RawVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawVersion::Number(n) => write!(f, "{n}"),
            RawVersion::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// SNMP credentials as written. Each secret comes inline, from an env var, or from a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// 1, 2 (v2c) or 3; also written `2c`, `v2c`, `v3`, `SNMPv2c` as in `targets_sql` rows.
    pub version: RawVersion,
    pub community: Option<Secret>,
    pub community_env: Option<String>,
    pub community_file: Option<PathBuf>,
    pub username: Option<String>,
    /// noAuthNoPriv, authNoPriv or authPriv.
    pub security_level: Option<String>,
    /// MD5, SHA, SHA224, SHA256, SHA384, SHA512.
    pub auth_protocol: Option<String>,
    pub auth_password: Option<Secret>,
    pub auth_password_env: Option<String>,
    pub auth_password_file: Option<PathBuf>,
    /// DES, AES (AES-128), AES192, AES256.
    pub priv_protocol: Option<String>,
    pub priv_password: Option<Secret>,
    pub priv_password_env: Option<String>,
    pub priv_password_file: Option<PathBuf>,
    pub context_name: Option<String>,
}

/// One device as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// Unique device name; the `device` label.
    pub name: String,
    /// Host or IP, optionally with `:port`.
    pub address: String,
    /// Name of an entry in `auths`.
    pub auth: String,
    /// Extra labels on every series of this device.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub port: Option<u16>,
    pub timeout: Option<PromDuration>,
    pub retries: Option<u32>,
    pub max_repetitions: Option<u32>,
}

/// `targets_sql` as written: where the inventory lives, the query, how often to read it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargetsSql {
    /// PostgreSQL URL, `postgres://user:password@host:5432/db`; a secret (inline for labs only).
    pub url: Option<Secret>,
    /// Name of an environment variable holding the URL.
    pub url_env: Option<String>,
    /// A file holding the URL (relative to this file).
    pub url_file: Option<PathBuf>,
    /// The query. Columns: `name`, `ip` (required), `snmp_version`, `snmp_community`,
    /// `snmp_port`, `snmp_auth`; every other column becomes a label of the device.
    #[serde(default = "d_sql_query")]
    pub query: String,
    /// How often the query runs (default 5m).
    #[serde(default = "d_sql_refresh")]
    pub refresh_interval: PromDuration,
    /// Longest time to connect and run the query (default 30s).
    #[serde(default = "d_sql_query_timeout")]
    pub query_timeout: PromDuration,
    /// SNMP port of rows whose `snmp_port` is NULL (default 161).
    #[serde(default = "d_sql_port")]
    pub default_port: u16,
    /// `auths` entry for rows without a community (and without `snmp_auth`).
    pub default_auth: Option<String>,
    /// `auths` entry (version 3) for SNMPv3 rows without `snmp_auth`.
    pub v3_auth: Option<String>,
    /// Labels on every device of this source; a row's column of the same name wins.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// SNMP timeout for these devices (default: the top-level `timeout`).
    pub timeout: Option<PromDuration>,
    /// SNMP retries for these devices (default: the top-level `retries`).
    pub retries: Option<u32>,
    /// GETBULK max-repetitions for these devices (default: the top-level value).
    pub max_repetitions: Option<u32>,
}

/// The default inventory query, for a table like the bank's `standalone_devices`.
pub const DEFAULT_SQL_QUERY: &str =
    "SELECT name, ip, snmp_version, snmp_community, snmp_port FROM standalone_devices ORDER BY name";

fn d_sql_query() -> String {
    DEFAULT_SQL_QUERY.to_string()
}
fn d_sql_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}
fn d_sql_query_timeout() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}
fn d_sql_port() -> u16 {
    161
}

/// A Prometheus-style duration: `500ms`, `30s`, `5m`, `1h30m`, `1d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromDuration(pub Duration);

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(PromDuration).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid duration {s:?} (use e.g. 30s, 5m, 1h)"))
        })
    }
}

/// Parse a Prometheus duration. Returns None on anything else, including an empty string.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_millis(total))
}

// ---------------------------------------------------------------- phase two: runtime types

/// A device ready to poll.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: Arc<str>,
    /// As written (host[:port]), for the API and logs.
    pub address: String,
    pub session: SessionParams,
    pub max_repetitions: u32,
    pub labels: Arc<BTreeMap<String, String>>,
    /// Name of the auth entry (never its secrets).
    pub auth_name: String,
}

/// The validated `targets_sql` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetsSqlConfig {
    pub url: Secret,
    pub query: String,
    pub refresh_interval: Duration,
    pub query_timeout: Duration,
    pub default_port: u16,
    /// Name of an existing `auths` entry.
    pub default_auth: Option<String>,
    /// Name of an existing version 3 `auths` entry.
    pub v3_auth: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub timeout: Duration,
    pub retries: u32,
    pub max_repetitions: u32,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub poll_interval: Duration,
    /// Zero: no status polls between counter polls.
    pub status_poll_interval: Duration,
    /// Zero: changes are served as read.
    pub status_confirm_delay: Duration,
    pub discovery_interval: Duration,
    pub max_oids_per_request: u32,
    pub max_concurrent_devices: u32,
    pub targets: Vec<Target>,
    /// Resolved paths of `targets_files`, watched for changes.
    pub targets_files: Vec<PathBuf>,
    /// The PostgreSQL inventory source, if configured.
    pub targets_sql: Option<TargetsSqlConfig>,
    /// Where the discovered interfaces are kept, if anywhere.
    pub inventory_store: Option<crate::invstore::InventoryStoreConfig>,
    /// Every `auths` entry by name; `targets_sql` rows refer to them.
    pub auths: BTreeMap<String, Credentials>,
    /// The raw classification section; `app::load_all` builds the classifier from it.
    pub classification: crate::classify::ClassificationConfig,
    /// Topology roots and manual links (branch topology).
    pub topology: crate::topology::config::TopologyConfig,
}

/// Where to read secrets from; a trait so tests need not touch the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Read, parse and validate a config file.
pub fn load(path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.display().to_string(),
        source,
    })?;
    parse(&src, path, env)
}

/// Parse and validate config text; `path` names it in errors and anchors relative paths.
pub fn parse(src: &str, path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let raw: RawConfig = serde_yaml::from_str(src).map_err(|e| yaml_error(&file, src, &e))?;
    validate(raw, src, path, env)
}

/// A serde_yaml error as file:line: message. Errors raised while converting a value (a bad
/// duration, say) carry no precise location in serde_yaml, so the quoted value is looked up in
/// the source to find its line and the key it belongs to.
pub fn yaml_error(file: &str, src: &str, e: &serde_yaml::Error) -> ConfigError {
    let mut line = e.location().map(|l| l.line()).unwrap_or(0);
    let msg = e.to_string();
    // serde_yaml appends "at line X column Y"; the line is already in front.
    let mut message = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    // serde_yaml prefixes the field path ("targets[0].port: ...") when it knows it.
    let has_path = message
        .split('"')
        .next()
        .is_some_and(|head| head.contains(": "));
    if let Some(value) = message
        .split('"')
        .nth(1)
        .filter(|v| !v.is_empty() && !has_path)
    {
        if let Some((i, text)) = src.lines().enumerate().find(|(_, l)| l.contains(value)) {
            line = i + 1;
            let before = &text[..text.find(value).unwrap_or(0)];
            let key = before
                .trim_end()
                .trim_end_matches(':')
                .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace() || c == '-')
                .next()
                .unwrap_or("");
            if !key.is_empty() && !message.starts_with(key) {
                message = format!("{key}: {message}");
            }
        }
    }
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        message,
    }
}

/// The 1-based line of the first line containing every needle, or of the first needle alone.
pub fn locate(src: &str, needles: &[&str]) -> usize {
    let find = |pred: &dyn Fn(&str) -> bool| src.lines().position(pred).map(|i| i + 1);
    find(&|l| needles.iter().all(|n| l.contains(n)))
        .or_else(|| needles.first().and_then(|n| find(&|l| l.contains(n))))
        .unwrap_or(0)
}

fn validate(raw: RawConfig, src: &str, path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new("."));
    let err = |line: usize, message: String| ConfigError::Invalid {
        file: file.clone(),
        line,
        message,
    };
    let positive = |v: u32, field: &str| {
        if v == 0 {
            Err(err(
                locate(src, &[field]),
                format!("{field}: must be at least 1"),
            ))
        } else {
            Ok(())
        }
    };
    positive(raw.max_repetitions, "max_repetitions")?;
    positive(raw.max_oids_per_request, "max_oids_per_request")?;
    positive(raw.max_concurrent_devices, "max_concurrent_devices")?;
    for (field, d) in [
        ("poll_interval", raw.poll_interval.0),
        ("discovery_interval", raw.discovery_interval.0),
        ("timeout", raw.timeout.0),
    ] {
        if d.is_zero() {
            return Err(err(
                locate(src, &[field]),
                format!("{field}: must be longer than 0s"),
            ));
        }
    }

    let mut auths: BTreeMap<&str, Credentials> = BTreeMap::new();
    for (name, a) in &raw.auths {
        let line = locate(src, &[&format!("{name}:")]);
        let creds =
            build_auth(name, a, base, env).map_err(|m| err(line, format!("auths.{name}: {m}")))?;
        auths.insert(name, creds);
    }

    let defaults = TargetDefaults {
        max_repetitions: raw.max_repetitions,
        timeout: raw.timeout.0,
        retries: raw.retries,
    };
    let mut seen = HashSet::new();
    let mut targets = Vec::with_capacity(raw.targets.len());
    build_targets(
        raw.targets,
        src,
        &file,
        &auths,
        &defaults,
        &mut seen,
        &mut targets,
    )?;
    let mut targets_files = Vec::new();
    for f in &raw.targets_files {
        let p = if f.is_absolute() {
            f.clone()
        } else {
            base.join(f)
        };
        let fname = p.display().to_string();
        let text = std::fs::read_to_string(&p).map_err(|source| ConfigError::Read {
            file: fname.clone(),
            source,
        })?;
        let list: Vec<RawTarget> = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_yaml::from_str(&text).map_err(|e| yaml_error(&fname, &text, &e))?
        };
        build_targets(
            list,
            &text,
            &fname,
            &auths,
            &defaults,
            &mut seen,
            &mut targets,
        )?;
        targets_files.push(p);
    }
    let targets_sql = match raw.targets_sql {
        Some(sql) => Some(validate_targets_sql(
            sql, src, &file, base, env, &auths, &defaults,
        )?),
        None => None,
    };
    let inventory_store = match raw.inventory_store {
        Some(st) => Some(crate::invstore::validate(st, src, &file, base, env)?),
        None => None,
    };
    // -- topology (branch topology)
    let names: HashSet<&str> = targets.iter().map(|t| &*t.name).collect();
    let topology = crate::topology::config::validate(raw.topology, src, &file, &names)?;
    // -- end topology
    Ok(Config {
        file: path.to_path_buf(),
        poll_interval: raw.poll_interval.0,
        status_poll_interval: raw.status_poll_interval.0,
        status_confirm_delay: raw.status_confirm_delay.0,
        discovery_interval: raw.discovery_interval.0,
        max_oids_per_request: raw.max_oids_per_request,
        max_concurrent_devices: raw.max_concurrent_devices,
        targets,
        targets_files,
        targets_sql,
        inventory_store,
        auths: auths.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        classification: raw.classification,
        topology,
    })
}

fn validate_targets_sql(
    raw: RawTargetsSql,
    src: &str,
    file: &str,
    base: &Path,
    env: &dyn Env,
    auths: &BTreeMap<&str, Credentials>,
    defaults: &TargetDefaults,
) -> Result<TargetsSqlConfig, ConfigError> {
    // Lines are looked up inside the section, so `url` finds `url_env:` there, not a comment.
    let start = locate(src, &["targets_sql:"]).saturating_sub(1);
    let section: String = src.lines().skip(start).collect::<Vec<_>>().join("\n");
    let err = |needles: &[&str], message: String| ConfigError::Invalid {
        file: file.to_string(),
        line: match locate(&section, needles) {
            0 => start + 1,
            n => start + n,
        },
        message: format!("targets_sql.{message}"),
    };
    let url = secret("url", &raw.url, &raw.url_env, &raw.url_file, base, env)
        .map_err(|m| err(&["url"], m))?
        .ok_or_else(|| {
            err(
                &["targets_sql:"],
                "url: set url_env, url_file or url".into(),
            )
        })?;
    crate::targets_sql::check_url(&url).map_err(|m| err(&["url"], format!("url: {m}")))?;
    if raw.query.trim().trim_end_matches(';').trim().is_empty() {
        return Err(err(&["query:"], "query: must not be empty".into()));
    }
    for (field, d) in [
        ("refresh_interval", raw.refresh_interval.0),
        ("query_timeout", raw.query_timeout.0),
    ] {
        if d.is_zero() {
            return Err(err(&[field], format!("{field}: must be longer than 0s")));
        }
    }
    if raw.timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(err(
            &["targets_sql:"],
            "timeout: must be longer than 0s".into(),
        ));
    }
    if raw.default_port == 0 {
        return Err(err(
            &["default_port"],
            "default_port: must be 1-65535".into(),
        ));
    }
    if raw.max_repetitions == Some(0) {
        return Err(err(
            &["max_repetitions"],
            "max_repetitions: must be at least 1".into(),
        ));
    }
    if let Some(name) = &raw.default_auth {
        if !auths.contains_key(name.as_str()) {
            return Err(err(
                &["default_auth:", name],
                format!("default_auth: no auth named {name:?} in auths"),
            ));
        }
    }
    if let Some(name) = &raw.v3_auth {
        match auths.get(name.as_str()) {
            None => {
                return Err(err(
                    &["v3_auth:", name],
                    format!("v3_auth: no auth named {name:?} in auths"),
                ))
            }
            Some(Credentials::V3(_)) => {}
            Some(_) => {
                return Err(err(
                    &["v3_auth:", name],
                    format!("v3_auth: auth {name:?} is not version 3"),
                ))
            }
        }
    }
    for k in raw.labels.keys() {
        if !valid_label_name(k) || RESERVED_LABELS.contains(&k.as_str()) {
            return Err(err(
                &[&format!("{k}:")],
                format!("labels: {k:?} is not a valid label name or is reserved"),
            ));
        }
    }
    Ok(TargetsSqlConfig {
        url,
        query: raw.query,
        refresh_interval: raw.refresh_interval.0,
        query_timeout: raw.query_timeout.0,
        default_port: raw.default_port,
        default_auth: raw.default_auth,
        v3_auth: raw.v3_auth,
        labels: raw.labels,
        timeout: raw.timeout.map(|d| d.0).unwrap_or(defaults.timeout),
        retries: raw.retries.unwrap_or(defaults.retries),
        max_repetitions: raw.max_repetitions.unwrap_or(defaults.max_repetitions),
    })
}

/// Defaults a target inherits from the top of the config.
struct TargetDefaults {
    max_repetitions: u32,
    timeout: Duration,
    retries: u32,
}

/// Validate targets written in `file` (whose text is `src`), appending them to `targets`.
/// `seen` spans every file, so a name may appear once across the config and target files.
fn build_targets(
    raw_targets: Vec<RawTarget>,
    src: &str,
    file: &str,
    auths: &BTreeMap<&str, Credentials>,
    defaults: &TargetDefaults,
    seen: &mut HashSet<String>,
    targets: &mut Vec<Target>,
) -> Result<(), ConfigError> {
    let err = |line: usize, message: String| ConfigError::Invalid {
        file: file.to_string(),
        line,
        message,
    };
    for t in raw_targets {
        let line = locate(src, &["name:", &t.name]);
        if t.name.trim().is_empty() {
            return Err(err(line, "targets: name must not be empty".into()));
        }
        if !seen.insert(t.name.clone()) {
            let dup_line = src
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains("name:") && l.contains(t.name.as_str()))
                .nth(1)
                .map(|(i, _)| i + 1)
                .unwrap_or(line);
            return Err(err(
                dup_line,
                format!("targets.name: duplicate target name {:?}", t.name),
            ));
        }
        let Some(creds) = auths.get(t.auth.as_str()) else {
            let line = locate(src, &["auth:", &t.auth]);
            return Err(err(
                line,
                format!(
                    "targets[{}].auth: no auth named {:?} in auths",
                    t.name, t.auth
                ),
            ));
        };
        for k in t.labels.keys() {
            if !valid_label_name(k) || RESERVED_LABELS.contains(&k.as_str()) {
                return Err(err(
                    locate(src, &[&format!("{k}:")]),
                    format!(
                        "targets[{}].labels: {k:?} is not a valid label name or is reserved",
                        t.name
                    ),
                ));
            }
        }
        let address = resolve(&t.address, t.port).map_err(|m| {
            err(
                locate(src, &["address:", &t.address]),
                format!("targets[{}].address: {m}", t.name),
            )
        })?;
        let max_rep = t.max_repetitions.unwrap_or(defaults.max_repetitions);
        if max_rep == 0 {
            return Err(err(
                line,
                format!("targets[{}].max_repetitions: must be at least 1", t.name),
            ));
        }
        targets.push(Target {
            name: Arc::from(t.name.as_str()),
            address: t.address.clone(),
            session: SessionParams {
                address,
                credentials: creds.clone(),
                timeout: t.timeout.map(|d| d.0).unwrap_or(defaults.timeout),
                retries: t.retries.unwrap_or(defaults.retries),
            },
            max_repetitions: max_rep,
            labels: Arc::new(t.labels),
            auth_name: t.auth,
        });
    }
    Ok(())
}

/// Labels the exporter sets itself; a target may not override them.
pub const RESERVED_LABELS: &[&str] = &[
    "device",
    "ifIndex",
    "ifName",
    "ifDescr",
    "ifAlias",
    "interface_type",
    "isp_provider",
    "is_critical",
];

/// True for a Prometheus label name that is not reserved for internal use (`__`).
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn resolve(address: &str, port: Option<u16>) -> Result<SocketAddr, String> {
    let port = port.unwrap_or(161);
    if let Ok(sa) = address.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let with_port = if address
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        address.to_string()
    } else {
        format!("{address}:{port}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {address:?}"))
}

pub(crate) fn secret(
    field: &str,
    inline: &Option<Secret>,
    env_name: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
    env: &dyn Env,
) -> Result<Option<Secret>, String> {
    let given = [inline.is_some(), env_name.is_some(), file.is_some()];
    if given.iter().filter(|&&b| b).count() > 1 {
        return Err(format!(
            "set only one of {field}, {field}_env, {field}_file"
        ));
    }
    if let Some(s) = inline {
        return Ok(Some(s.clone()));
    }
    if let Some(name) = env_name {
        return env
            .var(name)
            .map(|v| Some(Secret::new(v)))
            .ok_or_else(|| format!("{field}_env: environment variable {name} is not set"));
    }
    if let Some(f) = file {
        let p = if f.is_absolute() {
            f.clone()
        } else {
            base.join(f)
        };
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("{field}_file: cannot read {}: {e}", p.display()))?;
        return Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))));
    }
    Ok(None)
}

fn build_auth(name: &str, a: &RawAuth, base: &Path, env: &dyn Env) -> Result<Credentials, String> {
    let community = secret(
        "community",
        &a.community,
        &a.community_env,
        &a.community_file,
        base,
        env,
    )?;
    let version = a.version.number();
    match version {
        Some(v @ (1 | 2)) => {
            if a.username.is_some() || a.security_level.is_some() {
                return Err("username/security_level are SNMPv3 settings; version is not 3".into());
            }
            let community =
                community.ok_or("version 1/2 needs community, community_env or community_file")?;
            Ok(if v == 1 {
                Credentials::V1 { community }
            } else {
                Credentials::V2c { community }
            })
        }
        Some(_) => {
            if community.is_some() {
                return Err(
                    "community is not used by version 3; set username and passwords".into(),
                );
            }
            let username = a
                .username
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or("version 3 needs username")?;
            let level = a.security_level.as_deref().unwrap_or("authPriv");
            let auth_pw = secret(
                "auth_password",
                &a.auth_password,
                &a.auth_password_env,
                &a.auth_password_file,
                base,
                env,
            )?;
            let priv_pw = secret(
                "priv_password",
                &a.priv_password,
                &a.priv_password_env,
                &a.priv_password_file,
                base,
                env,
            )?;
            let auth_proto = match a
                .auth_protocol
                .as_deref()
                .unwrap_or("SHA")
                .to_ascii_uppercase()
                .as_str()
            {
                "MD5" => AuthProtocol::Md5,
                "SHA" | "SHA1" => AuthProtocol::Sha1,
                "SHA224" => AuthProtocol::Sha224,
                "SHA256" => AuthProtocol::Sha256,
                "SHA384" => AuthProtocol::Sha384,
                "SHA512" => AuthProtocol::Sha512,
                other => {
                    return Err(format!(
                    "auth_protocol: unknown {other:?} (MD5, SHA, SHA224, SHA256, SHA384, SHA512)"
                ))
                }
            };
            let priv_proto = match a
                .priv_protocol
                .as_deref()
                .unwrap_or("AES")
                .to_ascii_uppercase()
                .as_str()
            {
                "DES" => PrivProtocol::Des,
                "AES" | "AES128" => PrivProtocol::Aes128,
                "AES192" => PrivProtocol::Aes192,
                "AES256" => PrivProtocol::Aes256,
                other => {
                    return Err(format!(
                        "priv_protocol: unknown {other:?} (DES, AES, AES192, AES256)"
                    ))
                }
            };
            let need = |p: Option<Secret>, f: &str| -> Result<Secret, String> {
                match p {
                    Some(s) if s.expose().len() >= 8 => Ok(s),
                    Some(_) => Err(format!("{f}: must be at least 8 characters (RFC 3414)")),
                    None => Err(format!(
                        "security_level {level} needs {f}, {f}_env or {f}_file"
                    )),
                }
            };
            let (auth, privacy) = match level {
                "noAuthNoPriv" => (None, None),
                "authNoPriv" => (Some((auth_proto, need(auth_pw, "auth_password")?)), None),
                "authPriv" => (
                    Some((auth_proto, need(auth_pw, "auth_password")?)),
                    Some((priv_proto, need(priv_pw, "priv_password")?)),
                ),
                other => {
                    return Err(format!(
                        "security_level: unknown {other:?} (noAuthNoPriv, authNoPriv, authPriv)"
                    ))
                }
            };
            Ok(Credentials::V3(V3Credentials {
                username,
                auth,
                privacy,
                context_name: a.context_name.clone().unwrap_or_default(),
            }))
        }
        None => Err(format!(
            "version: {} is not 1, 2 (2c, v2c) or 3 (auth {name})",
            a.version
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeEnv(Vec<(&'static str, &'static str)>);
    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const GOOD: &str = r#"
poll_interval: 30s
discovery_interval: 1h
timeout: 2s
retries: 2
max_repetitions: 25
auths:
  branch_v2: {version: 2, community_env: SNMP_COMMUNITY}
  core_v3:   {version: 3, username: wardflux, security_level: authPriv,
              auth_protocol: SHA, auth_password_env: V3_AUTH,
              priv_protocol: AES, priv_password_env: V3_PRIV}
targets:
  - {name: CORE-SW-01, address: 127.0.0.1, auth: core_v3, labels: {site: hq}}
  - {name: Isani-1111, address: "127.0.0.1:1161", auth: branch_v2, timeout: 5s, retries: 0}
"#;

    fn env() -> FakeEnv {
        FakeEnv(vec![
            ("SNMP_COMMUNITY", "pub-secret"),
            ("V3_AUTH", "authpass123"),
            ("V3_PRIV", "privpass123"),
        ])
    }

    fn check_err(src: &str, line: usize, needle: &str) {
        let e = parse(src, Path::new("wf.yml"), &env())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("wf.yml:{line}: ")), "{e}");
        assert!(e.contains(needle), "{e}");
    }

    #[test]
    fn auth_versions_take_the_spellings_targets_sql_takes() {
        for (v, v2c) in [
            ("2", true),
            ("2c", true),
            ("v2c", true),
            ("\"2c\"", true),
            ("SNMPv2c", true),
            ("1", false),
            ("v1", false),
        ] {
            let src = GOOD.replace(
                "{version: 2, community_env",
                &format!("{{version: {v}, community_env"),
            );
            let c = parse(&src, Path::new("wf.yml"), &env()).unwrap_or_else(|e| panic!("{v}: {e}"));
            let creds = &c.targets[1].session.credentials;
            assert_eq!(matches!(creds, Credentials::V2c { .. }), v2c, "{v}");
            assert_eq!(matches!(creds, Credentials::V1 { .. }), !v2c, "{v}");
        }
        for bad in ["4", "2d", "0"] {
            let src = GOOD.replace(
                "{version: 2, community_env",
                &format!("{{version: {bad}, community_env"),
            );
            let e = parse(&src, Path::new("wf.yml"), &env())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("is not 1, 2 (2c, v2c) or 3 (auth branch_v2)"),
                "{bad}: {e}"
            );
            assert!(e.starts_with("wf.yml:"), "{e}");
        }
    }

    #[test]
    fn the_documented_example_validates() {
        let c = parse(GOOD, Path::new("wf.yml"), &env()).unwrap();
        assert_eq!(c.poll_interval, Duration::from_secs(30));
        assert_eq!(c.targets.len(), 2);
        let t = &c.targets[1];
        assert_eq!(t.session.address, "127.0.0.1:1161".parse().unwrap());
        assert_eq!(t.session.timeout, Duration::from_secs(5));
        assert_eq!(t.session.retries, 0);
        assert_eq!(c.targets[0].session.address.port(), 161);
        assert_eq!(
            c.targets[0].labels.get("site").map(String::as_str),
            Some("hq")
        );
        assert!(
            matches!(&c.targets[0].session.credentials, Credentials::V3(v) if v.auth.is_some() && v.privacy.is_some())
        );
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("pub-secret") && !dbg.contains("authpass123"),
            "secrets leaked: {dbg}"
        );
    }

    #[test]
    fn unknown_keys_bad_durations_and_references_name_file_line_and_field() {
        // (replace, with, line of the error, what it says)
        for (from, to, line, needle) in [
            (
                "retries: 2\n",
                "retries: 2\nretires: 3\n",
                6,
                "unknown field `retires`",
            ),
            ("timeout: 2s", "timeout: 2 seconds", 4, "invalid duration"),
            (
                "auth: branch_v2",
                "auth: branch_v9",
                14,
                "no auth named \"branch_v9\"",
            ),
            ("Isani-1111", "CORE-SW-01", 14, "duplicate target name"),
            (
                "labels: {site: hq}",
                "labels: {site: hq}, port: x",
                13,
                "port",
            ),
            ("V3_PRIV}", "V3_MISSING}", 9, "V3_MISSING is not set"),
            ("labels: {site: hq}", "labels: {device: x}", 13, "reserved"),
        ] {
            check_err(&GOOD.replace(from, to), line, needle);
        }
    }

    #[test]
    fn targets_files_add_targets_and_their_errors_name_that_file() {
        let dir = std::env::temp_dir().join(format!("wf-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let extra = dir.join("branches.yml");
        std::fs::write(
            &extra,
            "- {name: Batumi-0201, address: 127.0.0.2, auth: branch_v2}\n",
        )
        .unwrap();
        let src = format!("{GOOD}targets_files: [branches.yml]\n");
        let cfg_path = dir.join("wf.yml");
        let c = parse(&src, &cfg_path, &env()).unwrap();
        assert_eq!(c.targets.len(), 3);
        assert_eq!(&*c.targets[2].name, "Batumi-0201");
        assert_eq!(c.targets_files, vec![extra.clone()]);
        std::fs::write(&extra, "- {name: Batumi-0201, address: 127.0.0.2, auth: branch_v2}\n- {name: Isani-1111, address: 127.0.0.3, auth: branch_v2}\n").unwrap();
        let e = parse(&src, &cfg_path, &env()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2: ", extra.display())), "{e}");
        assert!(e.contains("duplicate target name"), "{e}");
        std::fs::write(&extra, "- {name: X, address: 127.0.0.2, auht: branch_v2}\n").unwrap();
        let e = parse(&src, &cfg_path, &env()).unwrap_err().to_string();
        assert!(
            e.contains("branches.yml:1") && e.contains("unknown field `auht`"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const SQL: &str = "targets_sql:
  url_env: INVENTORY_URL
  refresh_interval: 2m
  default_auth: branch_v2
  v3_auth: core_v3
  labels: {source: inventory}
";

    fn sql_env() -> FakeEnv {
        let mut e = env();
        e.0.push((
            "INVENTORY_URL",
            "postgres://inv:db-pass-77@127.0.0.1:5432/inventory",
        ));
        e
    }

    fn check_sql_err(sql: &str, line: usize, needle: &str) {
        let src = format!("{GOOD}{sql}");
        let e = parse(&src, Path::new("wf.yml"), &sql_env())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("wf.yml:{line}: ")), "{e}");
        assert!(e.contains(needle), "{e}");
        assert!(!e.contains("db-pass-77"), "{e}");
    }

    #[test]
    fn targets_sql_validates_with_defaults_and_keeps_the_url_secret() {
        let c = parse(&format!("{GOOD}{SQL}"), Path::new("wf.yml"), &sql_env()).unwrap();
        let sql = c.targets_sql.as_ref().unwrap();
        assert_eq!(
            sql.url.expose(),
            "postgres://inv:db-pass-77@127.0.0.1:5432/inventory"
        );
        assert_eq!(sql.query, DEFAULT_SQL_QUERY);
        assert_eq!(sql.refresh_interval, Duration::from_secs(120));
        assert_eq!(sql.query_timeout, Duration::from_secs(30));
        assert_eq!(sql.default_port, 161);
        assert_eq!(sql.timeout, Duration::from_secs(2));
        assert_eq!(sql.retries, 2);
        assert_eq!(sql.max_repetitions, 25);
        assert_eq!(sql.default_auth.as_deref(), Some("branch_v2"));
        assert_eq!(c.auths.len(), 2);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("db-pass-77"), "{dbg}");
    }

    #[test]
    fn targets_sql_errors_name_file_line_and_field() {
        // GOOD has 14 lines; targets_sql: is line 15.
        check_sql_err(
            "targets_sql:\n  refresh_interval: 5m\n",
            15,
            "targets_sql.url: set url_env, url_file or url",
        );
        check_sql_err(
            &format!("{SQL}  query: \" ; \"\n"),
            21,
            "targets_sql.query: must not be empty",
        );
        // (replace, with, line of the error, what it says)
        for (from, to, line, needle) in [
            (
                "url_env: INVENTORY_URL",
                "url_env: NOT_SET_ANYWHERE",
                16,
                "NOT_SET_ANYWHERE is not set",
            ),
            (
                "url_env: INVENTORY_URL",
                "url: mysql://x@y/z",
                16,
                "targets_sql.url: must start with postgres://",
            ),
            (
                "default_auth: branch_v2",
                "default_auth: nope",
                18,
                "targets_sql.default_auth: no auth named \"nope\"",
            ),
            (
                "v3_auth: core_v3",
                "v3_auth: branch_v2",
                19,
                "targets_sql.v3_auth: auth \"branch_v2\" is not version 3",
            ),
            (
                "refresh_interval: 2m",
                "refresh_interval: 0s",
                17,
                "targets_sql.refresh_interval: must be longer than 0s",
            ),
            (
                "refresh_interval: 2m",
                "refresh_intervall: 2m",
                17,
                "unknown field `refresh_intervall`",
            ),
            (
                "{source: inventory}",
                "{device: x}",
                20,
                "targets_sql.labels",
            ),
        ] {
            check_sql_err(&SQL.replace(from, to), line, needle);
        }
    }

    #[test]
    fn the_shipped_example_config_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/exporter.yml");
        let c = load(&path, &env()).unwrap();
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.poll_interval, Duration::from_secs(60));
    }

    #[test]
    fn the_shipped_example_targets_sql_block_validates_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/exporter.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .find("# targets_sql:")
            .expect("example has a targets_sql block");
        let block: String = text[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let src = format!("{}{block}", &text[..start]);
        let mut e = env();
        e.0.push((
            "WARDFLUX_INVENTORY_URL",
            "postgres://ro:pw@127.0.0.1:5432/inventory",
        ));
        let c = parse(&src, &path, &e).unwrap();
        let sql = c.targets_sql.unwrap();
        assert_eq!(sql.default_auth.as_deref(), Some("branch_v2"));
        assert!(sql.query.contains("standalone_devices"), "{}", sql.query);
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "5", "s", "1.5s", "-1s", "5 s", "1x"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
