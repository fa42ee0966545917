//! The inventory store's database edge: `Sink` (migrate, write a batch, purge), for PostgreSQL
//! and SQLite, with the exporter's own migration table.
//!
//! Invariants: a batch is one transaction (its upserts, then its devices' sweeps), so a batch
//! retried after a failure writes the same rows again instead of adding any (unique on device
//! and ifIndex); migrations are recorded in `wardflux_exporter_migrations`, never in sqlx's
//! `_sqlx_migrations`, so the exporter and the ruler can migrate the same database; errors never
//! contain the URL or its password.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{ConnectOptions, PgPool, Row as _, SqlitePool};

use super::edits::{Edit, EditEntry, Settings};
use super::track::DeviceWrite;
use crate::secret::Secret;
use crate::targets_sql::{redact, BoxFuture};

/// What went wrong with the store; never holds the URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("inventory store: cannot use the url: {0}")]
    Url(String),
    #[error("inventory store: migrating: {0}")]
    Migrate(String),
    #[error("inventory store: {what}: {detail}")]
    Db { what: &'static str, detail: String },
}

/// The exporter's migrations, in order: (version, description, PostgreSQL, SQLite).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "device_interfaces",
        include_str!("../../migrations/postgres/0001_device_interfaces.sql"),
        include_str!("../../migrations/sqlite/0001_device_interfaces.sql"),
    ),
    (
        2,
        "interface_edits",
        include_str!("../../migrations/postgres/0002_interface_edits.sql"),
        include_str!("../../migrations/sqlite/0002_interface_edits.sql"),
    ),
];

/// The exporter's migration bookkeeping, apart from the ruler's `_sqlx_migrations`.
pub const MIGRATIONS_TABLE: &str = "wardflux_exporter_migrations";

/// Where `device_interfaces` rows go.
pub trait Sink: Send + Sync {
    /// Create or upgrade the schema (idempotent; safe with several exporters at once).
    fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Write a batch in one transaction.
    fn write<'a>(
        &'a self,
        batch: &'a [(Arc<str>, DeviceWrite)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Delete disabled rows last seen before `before` (unix seconds); returns how many.
    fn purge(&self, before: f64) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// `postgres` or `sqlite`.
    fn kind(&self) -> &'static str;
    /// Every API edit in `interface_edits`.
    fn load_edits(&self) -> BoxFuture<'_, Result<Vec<EditEntry>, StoreError>>;
    /// One change of an edit in one transaction: the `interface_edits` row replaced or
    /// deleted, its `interface_edit_audit` row, and the port's `device_interfaces` columns set
    /// to the values the change gives.
    fn save_edit<'a>(&'a self, r: &'a EditRecord) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Take over edits (from an edits file) in one transaction: each port not edited in the
    /// store yet gets its edit and an `import` audit row; returns how many were taken.
    fn import_edits<'a>(
        &'a self,
        entries: &'a [EditEntry],
    ) -> BoxFuture<'a, Result<usize, StoreError>>;
}

/// One change of an API edit, as the store records it.
#[derive(Debug, Clone)]
pub struct EditRecord {
    pub device: String,
    pub if_name: String,
    pub if_index: u32,
    /// The port's edit after the change (`None`: removed).
    pub after: Option<EditEntry>,
    /// The port's edit before the change.
    pub before: Option<Edit>,
    /// `patch` or `delete`.
    pub action: &'static str,
    pub user: String,
    /// Unix seconds.
    pub at: f64,
    /// What the port showed before and shows after.
    pub old: Settings,
    pub new: Option<Settings>,
}

/// A store URL, parsed and checked (TLS files readable), not yet connected.
enum Parsed {
    Pg(PgConnectOptions),
    Sqlite(SqliteConnectOptions),
}

fn parse(url: &Secret) -> Result<Parsed, StoreError> {
    let raw = url.expose();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(raw)
            .map_err(|e| StoreError::Url(redact(&e.to_string(), url)))?
            .application_name("wardflux-exporter-inventory")
            .options([("statement_timeout", "30000")])
            .disable_statement_logging();
        wardflux_web::pg::check_tls_files(raw).map_err(|e| StoreError::Url(redact(&e, url)))?;
        Ok(Parsed::Pg(opts))
    } else if let Some(path) = raw.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::Url("sqlite:// needs a file path".into()));
        }
        Ok(Parsed::Sqlite(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(2))
                .disable_statement_logging(),
        ))
    } else {
        Err(StoreError::Url(
            "must start with postgres://, postgresql:// or sqlite://".into(),
        ))
    }
}

/// Open the store the URL names (no connection yet: pools connect lazily). Needs a Tokio
/// runtime.
pub fn open(url: &Secret) -> Result<Box<dyn Sink>, StoreError> {
    Ok(match parse(url)? {
        Parsed::Pg(opts) => Box::new(PgSink {
            pool: PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(opts),
            url: url.clone(),
        }),
        Parsed::Sqlite(opts) => Box::new(SqliteSink {
            pool: SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(opts),
            url: url.clone(),
        }),
    })
}

/// Check a store URL without connecting (config validation; no runtime needed).
pub fn check_url(url: &Secret) -> Result<(), String> {
    parse(url).map(|_| ()).map_err(|e| match e {
        StoreError::Url(m) => m,
        other => other.to_string(),
    })
}

/// A failed statement of `what` as a `StoreError`: the database's explanation, the URL's
/// secrets masked.
fn db_error<'u>(
    url: &'u Secret,
    what: &'static str,
) -> impl Fn(sqlx::Error) -> StoreError + Copy + 'u {
    move |e| StoreError::Db {
        what,
        detail: redact(&wardflux_web::pg::explain(&e.to_string()), url),
    }
}

pub struct PgSink {
    pool: PgPool,
    url: Secret,
}

pub struct SqliteSink {
    pool: SqlitePool,
    url: Secret,
}

/// Rows per INSERT statement (26 parameters each; far below both databases' limits).
const ROWS_PER_STATEMENT: usize = 400;

const COLUMNS: &str = "device_name, device_id, if_index, if_name, if_descr, if_alias, if_type, \
    if_mtu, interface_type, isp_provider, is_critical, monitored, classification_rule, \
    classification_confidence, admin_status, oper_status, speed, duplex, mac_address, \
    connected_to_device, connected_to_interface, lldp_neighbor_name, lldp_neighbor_port, \
    discovered_at, last_seen, last_status_change, enabled";

/// Parameters bound per row (the three timestamps share the last one).
const PARAMS_PER_ROW: usize = 24;

const UPSERT_TAIL: &str = " ON CONFLICT (device_name, if_index) DO UPDATE SET \
    device_id = excluded.device_id, if_name = excluded.if_name, if_descr = excluded.if_descr, \
    if_alias = excluded.if_alias, if_type = excluded.if_type, if_mtu = excluded.if_mtu, \
    interface_type = excluded.interface_type, isp_provider = excluded.isp_provider, \
    is_critical = excluded.is_critical, monitored = excluded.monitored, \
    classification_rule = excluded.classification_rule, \
    classification_confidence = excluded.classification_confidence, \
    admin_status = excluded.admin_status, oper_status = excluded.oper_status, \
    speed = excluded.speed, duplex = excluded.duplex, mac_address = excluded.mac_address, \
    connected_to_device = excluded.connected_to_device, \
    connected_to_interface = excluded.connected_to_interface, \
    lldp_neighbor_name = excluded.lldp_neighbor_name, \
    lldp_neighbor_port = excluded.lldp_neighbor_port, \
    last_status_change = CASE WHEN device_interfaces.oper_status <> excluded.oper_status \
        OR device_interfaces.admin_status <> excluded.admin_status \
        OR NOT device_interfaces.enabled \
        THEN excluded.last_seen ELSE device_interfaces.last_status_change END, \
    last_seen = CASE WHEN excluded.last_seen > device_interfaces.last_seen \
        THEN excluded.last_seen ELSE device_interfaces.last_seen END, \
    enabled = true";

/// A unix-seconds parameter as the database's timestamp.
fn ts_pg(n: usize) -> String {
    format!("to_timestamp(${n})")
}

fn ts_lite(n: usize) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', ${n}, 'unixepoch')")
}

/// `INSERT ... VALUES (...), (...) ON CONFLICT ...` for `rows` rows.
fn upsert_sql(rows: usize, ts: fn(usize) -> String) -> String {
    let mut s = format!("INSERT INTO device_interfaces ({COLUMNS}) VALUES ");
    for r in 0..rows {
        let base = r * PARAMS_PER_ROW;
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for p in 1..PARAMS_PER_ROW {
            s.push_str(&format!("${}, ", base + p));
        }
        let t = ts(base + PARAMS_PER_ROW);
        s.push_str(&format!("{t}, {t}, {t}, true)"));
    }
    s.push_str(UPSERT_TAIL);
    s
}

fn sweep_sql(ts: fn(usize) -> String) -> String {
    format!(
        "UPDATE device_interfaces SET enabled = false \
         WHERE device_name = $1 AND enabled AND last_seen < {}",
        ts(2)
    )
}

fn purge_sql(ts: fn(usize) -> String) -> String {
    format!(
        "DELETE FROM device_interfaces WHERE NOT enabled AND last_seen < {}",
        ts(1)
    )
}

/// Bind an edit's nine values to a query of [`edit_insert`].
macro_rules! bind_edit {
    ($sql:expr, $e:expr) => {
        sqlx::query($sql)
            .bind($e.device.as_str())
            .bind($e.if_name.as_str())
            .bind(i64::from($e.if_index))
            .bind($e.edit.interface_type.as_deref())
            .bind($e.edit.isp_provider.as_deref())
            .bind($e.edit.is_critical)
            .bind($e.edit.monitored)
            .bind($e.edited_by.as_str())
            .bind($e.edited_at)
    };
}

/// Both sinks share this body; only the pool, the timestamp form and the migration lock differ.
macro_rules! sink_impl {
    ($ty:ty, $kind:literal, $ts:path, $json:path, $epoch:literal, $which:tt, $lock:expr) => {
        impl Sink for $ty {
            fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>> {
                Box::pin(async move {
                    let err = |e: sqlx::Error| {
                        StoreError::Migrate(redact(
                            &wardflux_web::pg::explain(&e.to_string()),
                            &self.url,
                        ))
                    };
                    let create = format!(
                        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version BIGINT PRIMARY KEY, \
                         description TEXT NOT NULL, applied_at TEXT NOT NULL)"
                    );
                    let select = format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version");
                    let record = format!(
                        "INSERT INTO {MIGRATIONS_TABLE} (version, description, applied_at) \
                         VALUES ($1, $2, {})",
                        $ts(3)
                    );
                    let mut tx = self.pool.begin().await.map_err(err)?;
                    if let Some(lock) = $lock {
                        sqlx::query(lock).execute(&mut *tx).await.map_err(err)?;
                    }
                    sqlx::query(create.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    let applied: Vec<i64> = sqlx::query_scalar(select.as_str())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(err)?;
                    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
                    if let Some(v) = applied.iter().find(|v| **v > known) {
                        return Err(StoreError::Migrate(format!(
                            "{MIGRATIONS_TABLE} has version {v}, newer than this exporter \
                             knows ({known}); run the newer exporter or restore the database"
                        )));
                    }
                    for m in MIGRATIONS {
                        if applied.contains(&m.0) {
                            continue;
                        }
                        for stmt in statements(m.$which) {
                            sqlx::query(stmt.as_str()).execute(&mut *tx).await.map_err(err)?;
                        }
                        sqlx::query(record.as_str())
                            .bind(m.0)
                            .bind(m.1)
                            .bind(crate::poller::unix_now())
                            .execute(&mut *tx)
                            .await
                            .map_err(err)?;
                    }
                    tx.commit().await.map_err(err)
                })
            }

            fn write<'a>(
                &'a self,
                batch: &'a [(Arc<str>, DeviceWrite)],
            ) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    let err = |what| db_error(&self.url, what);
                    let rows: Vec<&super::track::Row> =
                        batch.iter().flat_map(|(_, w)| w.rows.values()).collect();
                    let mut tx = self.pool.begin().await.map_err(err("connecting"))?;
                    let full = upsert_sql(ROWS_PER_STATEMENT, $ts);
                    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                        let part;
                        let sql: &str = if chunk.len() == ROWS_PER_STATEMENT {
                            full.as_str()
                        } else {
                            part = upsert_sql(chunk.len(), $ts);
                            part.as_str()
                        };
                        let mut q = sqlx::query(sql);
                        for r in chunk {
                            q = q
                                .bind(&*r.device_name)
                                .bind(r.device_id)
                                .bind(i64::from(r.if_index))
                                .bind(&r.if_name)
                                .bind(&r.if_descr)
                                .bind(&r.if_alias)
                                .bind(i32::try_from(r.if_type).unwrap_or(i32::MAX))
                                .bind(r.if_mtu.and_then(|m| i32::try_from(m).ok()))
                                .bind(r.interface_type)
                                .bind(r.isp_provider.as_deref())
                                .bind(r.is_critical)
                                .bind(r.monitored)
                                .bind(&r.classification_rule)
                                .bind(r.classification_confidence)
                                .bind(r.admin_status)
                                .bind(r.oper_status)
                                .bind(r.speed)
                                .bind(r.duplex)
                                .bind(&r.mac_address)
                                .bind(r.connected_to_device.as_deref())
                                .bind(r.connected_to_interface.as_deref())
                                .bind(r.lldp_neighbor_name.as_deref())
                                .bind(r.lldp_neighbor_port.as_deref())
                                .bind(r.seen_at);
                        }
                        q.persistent(false)
                            .execute(&mut *tx)
                            .await
                            .map_err(err("writing device_interfaces"))?;
                    }
                    let sweep = sweep_sql($ts);
                    for (name, w) in batch {
                        if let Some(before) = w.sweep_before {
                            sqlx::query(sweep.as_str())
                                .bind(&**name)
                                .bind(before)
                                .execute(&mut *tx)
                                .await
                                .map_err(err("disabling vanished interfaces"))?;
                        }
                    }
                    tx.commit().await.map_err(err("committing"))
                })
            }

            fn purge(&self, before: f64) -> BoxFuture<'_, Result<u64, StoreError>> {
                Box::pin(async move {
                    let sql = purge_sql($ts);
                    sqlx::query(sql.as_str())
                        .bind(before)
                        .execute(&self.pool)
                        .await
                        .map(|r| r.rows_affected())
                        .map_err(db_error(&self.url, "deleting old disabled interfaces"))
                })
            }

            fn kind(&self) -> &'static str {
                $kind
            }

            fn load_edits(&self) -> BoxFuture<'_, Result<Vec<EditEntry>, StoreError>> {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT device_name, if_name, if_index, interface_type, isp_provider, \
                         is_critical, monitored, edited_by, {} AS edited_at \
                         FROM interface_edits ORDER BY device_name, if_name",
                        $epoch
                    );
                    let err = db_error(&self.url, "reading interface_edits");
                    let rows = sqlx::query(sql.as_str())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(err)?;
                    rows.iter()
                        .map(|r| {
                            Ok(EditEntry {
                                device: r.try_get("device_name")?,
                                if_name: r.try_get("if_name")?,
                                if_index: u32::try_from(r.try_get::<i64, _>("if_index")?)
                                    .unwrap_or(0),
                                edit: Edit {
                                    interface_type: r.try_get("interface_type")?,
                                    isp_provider: r.try_get("isp_provider")?,
                                    is_critical: r.try_get("is_critical")?,
                                    monitored: r.try_get("monitored")?,
                                },
                                edited_by: r.try_get("edited_by")?,
                                edited_at: r.try_get("edited_at")?,
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(err)
                })
            }

            fn save_edit<'a>(&'a self, r: &'a EditRecord) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    let err = |what| db_error(&self.url, what);
                    let mut tx = self.pool.begin().await.map_err(err("connecting"))?;
                    match &r.after {
                        Some(e) => {
                            let sql = edit_insert($ts, EDIT_REPLACE);
                            bind_edit!(sql.as_str(), e)
                                .execute(&mut *tx)
                                .await
                                .map_err(err("writing interface_edits"))?;
                        }
                        None => {
                            sqlx::query(
                                "DELETE FROM interface_edits WHERE device_name = $1 AND if_name = $2",
                            )
                            .bind(&r.device)
                            .bind(&r.if_name)
                            .execute(&mut *tx)
                            .await
                            .map_err(err("deleting from interface_edits"))?;
                        }
                    }
                    let audit = audit_sql($ts, $json);
                    sqlx::query(audit.as_str())
                        .bind(r.at)
                        .bind(&r.user)
                        .bind(r.action)
                        .bind(&r.device)
                        .bind(&r.if_name)
                        .bind(i64::from(r.if_index))
                        .bind(json_text(Some(&r.old)))
                        .bind(json_text(r.new.as_ref()))
                        .bind(json_text(r.before.as_ref()))
                        .bind(json_text(r.after.as_ref().map(|e| &e.edit)))
                        .execute(&mut *tx)
                        .await
                        .map_err(err("writing interface_edit_audit"))?;
                    if let Some(new) = &r.new {
                        sqlx::query(
                            "UPDATE device_interfaces SET interface_type = $1, isp_provider = $2, \
                             is_critical = $3, monitored = $4 \
                             WHERE device_name = $5 AND if_index = $6",
                        )
                        .bind(&new.interface_type)
                        .bind(new.isp_provider.as_deref())
                        .bind(new.is_critical)
                        .bind(new.monitored)
                        .bind(&r.device)
                        .bind(i64::from(r.if_index))
                        .execute(&mut *tx)
                        .await
                        .map_err(err("updating device_interfaces"))?;
                    }
                    tx.commit().await.map_err(err("committing"))
                })
            }

            fn import_edits<'a>(
                &'a self,
                entries: &'a [EditEntry],
            ) -> BoxFuture<'a, Result<usize, StoreError>> {
                Box::pin(async move {
                    let err = |what| db_error(&self.url, what);
                    let mut tx = self.pool.begin().await.map_err(err("connecting"))?;
                    let audit = audit_sql($ts, $json);
                    let mut taken = 0;
                    let sql = edit_insert($ts, EDIT_KEEP);
                    for e in entries {
                        let n = bind_edit!(sql.as_str(), e)
                            .execute(&mut *tx)
                            .await
                            .map_err(err("importing into interface_edits"))?
                            .rows_affected();
                        if n == 0 {
                            continue;
                        }
                        taken += 1;
                        sqlx::query(audit.as_str())
                            .bind(crate::poller::unix_now())
                            .bind(&e.edited_by)
                            .bind("import")
                            .bind(&e.device)
                            .bind(&e.if_name)
                            .bind(i64::from(e.if_index))
                            .bind(None::<String>)
                            .bind(None::<String>)
                            .bind(None::<String>)
                            .bind(json_text(Some(&e.edit)))
                            .execute(&mut *tx)
                            .await
                            .map_err(err("writing interface_edit_audit"))?;
                    }
                    tx.commit().await.map_err(err("committing"))?;
                    Ok(taken)
                })
            }
        }
    };
}

const EDIT_COLUMNS: &str = "device_name, if_name, if_index, interface_type, isp_provider, \
    is_critical, monitored, edited_by, edited_at";

fn edit_insert(ts: fn(usize) -> String, tail: &str) -> String {
    format!(
        "INSERT INTO interface_edits ({EDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {}) {tail}",
        ts(9)
    )
}

const EDIT_REPLACE: &str = "ON CONFLICT (device_name, if_name) DO UPDATE SET \
    if_index = excluded.if_index, interface_type = excluded.interface_type, \
    isp_provider = excluded.isp_provider, is_critical = excluded.is_critical, \
    monitored = excluded.monitored, edited_by = excluded.edited_by, edited_at = excluded.edited_at";

const EDIT_KEEP: &str = "ON CONFLICT (device_name, if_name) DO NOTHING";

fn audit_sql(ts: fn(usize) -> String, json: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO interface_edit_audit (at, edited_by, action, device_name, if_name, if_index, \
         old_values, new_values, edit_before, edit_after) \
         VALUES ({}, $2, $3, $4, $5, $6, {}, {}, {}, {})",
        ts(1),
        json(7),
        json(8),
        json(9),
        json(10)
    )
}

fn json_text<T: serde::Serialize>(v: Option<&T>) -> Option<String> {
    v.and_then(|v| serde_json::to_string(v).ok())
}

fn json_pg(n: usize) -> String {
    format!("CAST(${n} AS jsonb)")
}

fn json_lite(n: usize) -> String {
    format!("${n}")
}

/// A migration file's statements: comment lines dropped, split at `;` (the files hold no
/// `;` inside literals).
fn statements(sql: &'static str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Serialises migrations of several exporters sharing one PostgreSQL database (the key is
/// the ASCII of "wfexinv"; the ruler's sqlx migrations use their own key).
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(34521212340037238)";

sink_impl!(
    PgSink,
    "postgres",
    ts_pg,
    json_pg,
    "EXTRACT(EPOCH FROM edited_at)::float8",
    2,
    Some(PG_MIGRATION_LOCK)
);
sink_impl!(
    SqliteSink,
    "sqlite",
    ts_lite,
    json_lite,
    "(julianday(edited_at) - 2440587.5) * 86400.0",
    3,
    None::<&str>
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_numbers_parameters_per_row_and_shares_the_timestamp() {
        let s = upsert_sql(2, ts_pg);
        assert!(s.contains("($1, $2, "), "{s}");
        assert!(
            s.contains("to_timestamp($24), to_timestamp($24), to_timestamp($24), true)"),
            "{s}"
        );
        assert!(s.contains("($25, $26, "), "{s}");
        assert!(s.contains("to_timestamp($48), to_timestamp($48)"), "{s}");
        assert_eq!(COLUMNS.split(',').count(), PARAMS_PER_ROW + 3);
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        let url = Secret::new("mysql://u:Hunter2pw@h/db".to_string());
        let e = check_url(&url).unwrap_err();
        assert!(e.contains("postgres://"), "{e}");
        assert!(!e.contains("Hunter2pw"), "{e}");
        let url = Secret::new("postgres://u:Hunter2pw@h:notaport/db".to_string());
        let e = check_url(&url).unwrap_err();
        assert!(!e.contains("Hunter2pw"), "{e}");
    }
}
