//! The alert-history store: a small [`Store`] trait with PostgreSQL and SQLite
//! implementations over sqlx. Migrations live in `migrations/{postgres,sqlite}` at the repo
//! root and are embedded at build time. Every write is idempotent (an episode is its
//! fingerprint and start), so a transition retried after an outage never duplicates a row.
//! A row's root (`caused_by`) is written as the parent row's id, found by the parent's
//! (fingerprint, started_at): the queue is ordered, so the parent row exists by then.
//! Interface summaries (`interface_metrics_summary`, `crate::summary`) are upserted on
//! (device_name, if_index) in one transaction per run, so a run writes all its rows or none.

use crate::alert::{AlertRecord, Episode, HoldReason, Resolution, RowState, Transition};
use crate::baseline::bucket::Bucket;
use crate::baseline::stats::BucketStats;
use crate::baseline::Direction;
use crate::datasource::BoxFuture;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// A store failure; `Unavailable` is worth retrying, `Rejected` is not.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what}: store unavailable: {detail}")]
    Unavailable { what: String, detail: String },
    #[error("{what}: store rejected the write: {detail}")]
    Rejected { what: String, detail: String },
    #[error("opening store {url}: {detail}")]
    Open { url: String, detail: String },
    #[error("migrating store: {0}")]
    Migrate(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// A row as read back, with the operator's acknowledgement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    pub id: i64,
    #[serde(flatten)]
    pub record: AlertRecord,
    /// The id of the root row this row is caused by (`record.caused_by` is its episode).
    pub caused_by: Option<i64>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_comment: Option<String>,
}

/// What [`Store::acknowledge`] found.
#[derive(Debug, Clone)]
pub enum AckOutcome {
    /// Acknowledged now; the row as it reads after.
    Acknowledged(Box<HistoryRow>),
    /// No row has this id.
    NotFound,
    /// The episode is over; the row as it is.
    Resolved(Box<HistoryRow>),
    /// Someone acknowledged it before; the row with their name and time.
    AlreadyAcknowledged(Box<HistoryRow>),
}

/// One stored baseline bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRow {
    pub device: String,
    pub if_name: String,
    pub direction: Direction,
    pub bucket: Bucket,
    pub stats: BucketStats,
    pub timezone: String,
    pub last_updated: DateTime<Utc>,
}

/// One interface's statistics over a window (`interface_metrics_summary`, written by
/// `crate::summary`); `None` is SQL NULL: the statistic is undefined for the interface.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    pub device_name: String,
    pub if_index: i64,
    pub if_name: String,
    pub site: Option<String>,
    pub interface_type: Option<String>,
    pub isp_provider: Option<String>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub avg_in_mbps: Option<f64>,
    pub max_in_mbps: Option<f64>,
    pub avg_out_mbps: Option<f64>,
    pub max_out_mbps: Option<f64>,
    pub total_in_gb: Option<f64>,
    pub total_out_gb: Option<f64>,
    pub avg_error_rate: Option<f64>,
    pub max_error_rate: Option<f64>,
    pub avg_utilization: Option<f64>,
    pub max_utilization: Option<f64>,
    pub samples: Option<i32>,
    pub calculated_at: DateTime<Utc>,
}

/// Where alert history and baselines live.
pub trait Store: Send + Sync {
    /// Applies the embedded migrations.
    fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Rows still firing, oldest first, with their ids.
    fn open_rows(&self) -> BoxFuture<'_, Result<Vec<HistoryRow>, StoreError>>;
    /// Rows still firing, to restore alert state at start.
    fn open_alerts(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .open_rows()
                .await?
                .into_iter()
                .map(|h| h.record)
                .collect())
        })
    }
    /// Writes one transition; safe to repeat.
    fn apply<'a>(&'a self, t: &'a Transition) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The newest rows first, at most `limit`.
    fn history(&self, limit: i64) -> BoxFuture<'_, Result<Vec<HistoryRow>, StoreError>>;
    /// Records that `by` acknowledged the open row `id` at `at`, with an optional comment;
    /// only a firing row not yet acknowledged changes.
    fn acknowledge<'a>(
        &'a self,
        id: i64,
        by: &'a str,
        comment: Option<&'a str>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<AckOutcome, StoreError>>;
    /// Inserts or replaces baseline buckets, in one transaction.
    fn upsert_baselines<'a>(
        &'a self,
        rows: &'a [BaselineRow],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Every interface's baseline for one bucket.
    fn bucket_baselines(
        &self,
        bucket: Bucket,
    ) -> BoxFuture<'_, Result<Vec<BaselineRow>, StoreError>>;
    /// When baselines were last written, if ever.
    fn baselines_updated(&self) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, StoreError>>;
    /// Inserts or replaces interface summaries (one row per device and ifIndex), in one
    /// transaction: all of them or none.
    fn upsert_summaries<'a>(
        &'a self,
        rows: &'a [SummaryRow],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes the summaries calculated before `cutoff` (interfaces no run has seen since);
    /// returns how many.
    fn delete_summaries_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Every interface summary, by device and ifIndex.
    fn summaries(&self) -> BoxFuture<'_, Result<Vec<SummaryRow>, StoreError>>;
    /// `postgres` or `sqlite`, for logs and metrics.
    fn kind(&self) -> &'static str;
}

/// Opens the store named by `url` (`sqlite://PATH` or `postgres://...`).
pub async fn open(url: &Secret) -> Result<Box<dyn Store>, StoreError> {
    let raw = url.expose();
    let open_err = |detail: String| StoreError::Open {
        url: url.to_string(),
        detail,
    };
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(raw).map_err(|e| open_err(e.to_string()))?;
        // TLS (sslmode, sslrootcert, sslcert, sslkey) is sqlx's, over rustls with ring; a
        // file the URL names must exist now rather than fail every connection later.
        wardflux_web::pg::check_tls_files(raw).map_err(open_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        Ok(Box::new(PgStore { pool }))
    } else if let Some(path) = raw.strip_prefix("sqlite://") {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_millis(500));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        Ok(Box::new(SqliteStore { pool }))
    } else {
        Err(open_err(
            "unsupported scheme: use sqlite://PATH or postgres://...".into(),
        ))
    }
}

/// PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
}

/// SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
}

/// SQL shared by both backends; `{J}` marks where PostgreSQL casts text to JSONB and `{T}`
/// where it casts JSONB back to text.
mod sql {
    pub const INSERT: &str = "INSERT INTO alert_history (alert_name, group_name, fingerprint, \
        severity, device, if_name, interface_type, isp_provider, message, value, labels, \
        annotations, state, started_at, resolved_at, last_evaluated_at, caused_by, held_since, \
        hold_reason, resolution, resolution_note) VALUES ($1, $2, $3, \
        $4, $5, $6, $7, $8, $9, $10, $11{J}, $12{J}, $13, $14, $15, $16, \
        (SELECT p.id FROM alert_history p WHERE p.fingerprint = $17 AND p.started_at = $18), \
        $19, $20, $21, $22) \
        ON CONFLICT (fingerprint, started_at) DO NOTHING";
    pub const RESOLVE: &str = "UPDATE alert_history SET state = 'resolved', resolved_at = $1, \
        last_evaluated_at = $1, value = COALESCE($2, value), resolution = $5, \
        resolution_note = $6 \
        WHERE fingerprint = $3 AND started_at = $4 AND resolved_at IS NULL";
    pub const LINK: &str = "UPDATE alert_history SET caused_by = (SELECT p.id FROM \
        alert_history p WHERE p.fingerprint = $1 AND p.started_at = $2) \
        WHERE fingerprint = $3 AND started_at = $4 AND resolved_at IS NULL";
    pub const HOLD: &str = "UPDATE alert_history SET held_since = $1, hold_reason = $2 \
        WHERE fingerprint = $3 AND started_at = $4 AND resolved_at IS NULL";
    pub const UNHOLD: &str = "UPDATE alert_history SET held_since = NULL, hold_reason = NULL \
        WHERE fingerprint = $1 AND started_at = $2 AND resolved_at IS NULL";
    pub const TOUCH: &str = "UPDATE alert_history SET last_evaluated_at = $1, \
        value = COALESCE($2, value) \
        WHERE fingerprint = $3 AND started_at = $4 AND resolved_at IS NULL";
    /// Columns of `h`, a row, and `p`, its root row, from [`FROM`].
    pub const COLUMNS: &str = "h.id, h.alert_name, h.group_name, h.fingerprint, h.severity, \
        h.device, h.if_name, h.interface_type, h.isp_provider, h.message, h.value, \
        h.labels{T} AS labels, h.annotations{T} AS annotations, h.state, h.started_at, \
        h.resolved_at, h.last_evaluated_at, h.acknowledged_at, h.acknowledged_by, h.acknowledged_comment, \
        h.caused_by, h.held_since, h.hold_reason, h.resolution, h.resolution_note, \
        p.alert_name AS root_alert_name, p.group_name AS root_group_name, \
        p.fingerprint AS root_fingerprint, p.started_at AS root_started_at";
    pub const FROM: &str = "FROM alert_history h LEFT JOIN alert_history p ON p.id = h.caused_by";
    pub const ACK: &str = "UPDATE alert_history SET acknowledged_at = $1, acknowledged_by = $2, \
        acknowledged_comment = $3 \
        WHERE id = $4 AND resolved_at IS NULL AND acknowledged_at IS NULL";

    pub const BASELINE_INSERT: &str = "INSERT INTO interface_baselines (device, if_name, \
        direction, day_of_week, hour_of_day, mean, std_dev, min_value, max_value, median, mad, \
        sample_count, confidence, timezone, last_updated) ";
    pub const BASELINE_UPSERT: &str = " ON CONFLICT (day_of_week, hour_of_day, device, if_name, \
        direction) DO UPDATE SET mean = excluded.mean, std_dev = excluded.std_dev, \
        min_value = excluded.min_value, max_value = excluded.max_value, median = excluded.median, \
        mad = excluded.mad, sample_count = excluded.sample_count, \
        confidence = excluded.confidence, timezone = excluded.timezone, \
        last_updated = excluded.last_updated";
    pub const BASELINE_SELECT: &str = "SELECT device, if_name, direction, day_of_week, \
        hour_of_day, mean, std_dev, min_value, max_value, median, mad, sample_count, \
        confidence, timezone, last_updated FROM interface_baselines \
        WHERE day_of_week = $1 AND hour_of_day = $2";

    pub const SUMMARY_INSERT: &str = "INSERT INTO interface_metrics_summary (device_name, \
        if_index, if_name, site, interface_type, isp_provider, window_start, window_end, \
        avg_in_mbps, max_in_mbps, avg_out_mbps, max_out_mbps, total_in_gb, total_out_gb, \
        avg_error_rate, max_error_rate, avg_utilization, max_utilization, samples, \
        calculated_at) ";
    pub const SUMMARY_UPSERT: &str = " ON CONFLICT (device_name, if_index) DO UPDATE SET \
        if_name = excluded.if_name, site = excluded.site, \
        interface_type = excluded.interface_type, isp_provider = excluded.isp_provider, \
        window_start = excluded.window_start, window_end = excluded.window_end, \
        avg_in_mbps = excluded.avg_in_mbps, max_in_mbps = excluded.max_in_mbps, \
        avg_out_mbps = excluded.avg_out_mbps, max_out_mbps = excluded.max_out_mbps, \
        total_in_gb = excluded.total_in_gb, total_out_gb = excluded.total_out_gb, \
        avg_error_rate = excluded.avg_error_rate, max_error_rate = excluded.max_error_rate, \
        avg_utilization = excluded.avg_utilization, max_utilization = excluded.max_utilization, \
        samples = excluded.samples, calculated_at = excluded.calculated_at";
    pub const SUMMARY_SELECT: &str = "SELECT device_name, if_index, if_name, site, \
        interface_type, isp_provider, window_start, window_end, avg_in_mbps, max_in_mbps, \
        avg_out_mbps, max_out_mbps, total_in_gb, total_out_gb, avg_error_rate, max_error_rate, \
        avg_utilization, max_utilization, samples, calculated_at \
        FROM interface_metrics_summary ORDER BY device_name, if_index";
    pub const SUMMARY_DELETE: &str =
        "DELETE FROM interface_metrics_summary WHERE calculated_at < $1";

    pub fn pg(s: &str) -> String {
        s.replace("{J}", "::jsonb").replace("{T}", "::text")
    }

    pub fn lite(s: &str) -> String {
        s.replace("{J}", "").replace("{T}", "")
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

fn decode_row<R: Row>(row: &R) -> Result<HistoryRow, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<DateTime<Utc>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let labels: String = row.try_get("labels")?;
    let annotations: String = row.try_get("annotations")?;
    let state: String = row.try_get("state")?;
    let root = match (
        row.try_get::<Option<String>, _>("root_fingerprint")?,
        row.try_get::<Option<DateTime<Utc>>, _>("root_started_at")?,
    ) {
        (Some(fingerprint), Some(started_at)) => Some(Episode {
            alert_name: row
                .try_get::<Option<String>, _>("root_alert_name")?
                .unwrap_or_default(),
            group_name: row
                .try_get::<Option<String>, _>("root_group_name")?
                .unwrap_or_default(),
            fingerprint,
            started_at,
        }),
        _ => None,
    };
    let hold_reason: Option<String> = row.try_get("hold_reason")?;
    let resolution: Option<String> = row.try_get("resolution")?;
    Ok(HistoryRow {
        id: row.try_get("id")?,
        record: AlertRecord {
            alert_name: row.try_get("alert_name")?,
            group_name: row.try_get("group_name")?,
            fingerprint: row.try_get("fingerprint")?,
            severity: row.try_get("severity")?,
            device: row.try_get("device")?,
            if_name: row.try_get("if_name")?,
            interface_type: row.try_get("interface_type")?,
            isp_provider: row.try_get("isp_provider")?,
            message: row.try_get("message")?,
            value: row.try_get("value")?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            annotations: serde_json::from_str(&annotations).unwrap_or_default(),
            state: if state == "resolved" {
                RowState::Resolved
            } else {
                RowState::Firing
            },
            started_at: row.try_get("started_at")?,
            resolved_at: row.try_get("resolved_at")?,
            last_evaluated_at: row.try_get("last_evaluated_at")?,
            caused_by: root,
            held_since: row.try_get("held_since")?,
            hold_reason: hold_reason.as_deref().and_then(HoldReason::parse),
            resolution: resolution.as_deref().and_then(Resolution::parse),
            resolution_note: row.try_get("resolution_note")?,
        },
        caused_by: row.try_get("caused_by")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledged_comment: row.try_get("acknowledged_comment")?,
    })
}

fn decode_baseline<R: Row>(row: &R) -> Result<BaselineRow, sqlx::Error>
where
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let dir: String = row.try_get("direction")?;
    let dow: i32 = row.try_get("day_of_week")?;
    let hod: i32 = row.try_get("hour_of_day")?;
    let samples: i32 = row.try_get("sample_count")?;
    Ok(BaselineRow {
        device: row.try_get("device")?,
        if_name: row.try_get("if_name")?,
        direction: Direction::parse(&dir)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad direction {dir:?}").into()))?,
        bucket: Bucket {
            day_of_week: dow.clamp(0, 6) as u8,
            hour_of_day: hod.clamp(0, 23) as u8,
        },
        stats: BucketStats {
            mean: row.try_get("mean")?,
            std_dev: row.try_get("std_dev")?,
            min: row.try_get("min_value")?,
            max: row.try_get("max_value")?,
            median: row.try_get("median")?,
            mad: row.try_get("mad")?,
            samples: samples.max(0) as usize,
            confidence: row.try_get("confidence")?,
        },
        timezone: row.try_get("timezone")?,
        last_updated: row.try_get("last_updated")?,
    })
}

/// Rows per multi-row insert (15 parameters each, under SQLite's 32766).
const BASELINE_CHUNK: usize = 2000;

/// Summary rows per multi-row insert (20 parameters each, under SQLite's 32766).
const SUMMARY_CHUNK: usize = 1000;

fn decode_summary<R: Row>(row: &R) -> Result<SummaryRow, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    Ok(SummaryRow {
        device_name: row.try_get("device_name")?,
        if_index: row.try_get("if_index")?,
        if_name: row.try_get("if_name")?,
        site: row.try_get("site")?,
        interface_type: row.try_get("interface_type")?,
        isp_provider: row.try_get("isp_provider")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        avg_in_mbps: row.try_get("avg_in_mbps")?,
        max_in_mbps: row.try_get("max_in_mbps")?,
        avg_out_mbps: row.try_get("avg_out_mbps")?,
        max_out_mbps: row.try_get("max_out_mbps")?,
        total_in_gb: row.try_get("total_in_gb")?,
        total_out_gb: row.try_get("total_out_gb")?,
        avg_error_rate: row.try_get("avg_error_rate")?,
        max_error_rate: row.try_get("max_error_rate")?,
        avg_utilization: row.try_get("avg_utilization")?,
        max_utilization: row.try_get("max_utilization")?,
        samples: row.try_get("samples")?,
        calculated_at: row.try_get("calculated_at")?,
    })
}

/// Sorts sqlx errors into retry-worthy and permanent ones: constraint, data and syntax
/// errors are permanent; connection trouble, locks and everything else are retried.
fn classify(what: &str, e: sqlx::Error) -> StoreError {
    let permanent = match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            // PostgreSQL SQLSTATE classes 22 (data), 23 (integrity), 42 (syntax/access);
            // SQLite's extended constraint codes are 19 + n*256. Except a privilege taken
            // away (42501) or a table missing (42P01, a restore in progress): the database
            // is being repaired, not refusing this row, so the row waits for it like it
            // waits for a stopped server (the store-failing alert fires meanwhile).
            (code.starts_with("22")
                || code.starts_with("23")
                || code.starts_with("42")
                || code.parse::<i32>().is_ok_and(|n| n & 0xff == 19))
                && !matches!(code.as_str(), "42501" | "42P01")
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_) => true,
        _ => false,
    };
    let detail = wardflux_web::pg::explain(&e.to_string());
    if permanent {
        StoreError::Rejected {
            what: what.to_string(),
            detail,
        }
    } else {
        StoreError::Unavailable {
            what: what.to_string(),
            detail,
        }
    }
}

fn describe(t: &Transition) -> String {
    let ep = t.episode();
    format!(
        "writing {} of {}/{} ({})",
        t.kind(),
        ep.group_name,
        ep.alert_name,
        ep.fingerprint
    )
}

/// Both implementations share this body; only the pool type and SQL dialect differ.
macro_rules! store_impl {
    ($ty:ty, $db:ty, $kind:literal, $dialect:path, $migrations:literal) => {
        impl Store for $ty {
            fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>> {
                Box::pin(async move {
                    sqlx::migrate!($migrations)
                        .run(&self.pool)
                        .await
                        .map_err(|e| StoreError::Migrate(wardflux_web::pg::explain(&e.to_string())))
                })
            }

            fn open_rows(&self) -> BoxFuture<'_, Result<Vec<HistoryRow>, StoreError>> {
                Box::pin(async move {
                    let q = $dialect(&format!(
                        "SELECT {} {} WHERE h.resolved_at IS NULL ORDER BY h.id",
                        sql::COLUMNS,
                        sql::FROM
                    ));
                    let rows = sqlx::query(&q)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| classify("reading open alerts", e))?;
                    rows.iter()
                        .map(decode_row)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| classify("decoding open alerts", e))
                })
            }

            fn apply<'a>(&'a self, t: &'a Transition) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    let what = describe(t);
                    let result = match t {
                        Transition::Fired(r) => {
                            sqlx::query(&$dialect(sql::INSERT))
                                .bind(&r.alert_name)
                                .bind(&r.group_name)
                                .bind(&r.fingerprint)
                                .bind(&r.severity)
                                .bind(&r.device)
                                .bind(&r.if_name)
                                .bind(&r.interface_type)
                                .bind(&r.isp_provider)
                                .bind(&r.message)
                                .bind(r.value)
                                .bind(json(&r.labels))
                                .bind(json(&r.annotations))
                                .bind(r.state.as_str())
                                .bind(r.started_at)
                                .bind(r.resolved_at)
                                .bind(r.last_evaluated_at)
                                .bind(r.caused_by.as_ref().map(|p| p.fingerprint.clone()))
                                .bind(r.caused_by.as_ref().map(|p| p.started_at))
                                .bind(r.held_since)
                                .bind(r.hold_reason.map(|h| h.as_str()))
                                .bind(r.resolution.map(|x| x.as_str()))
                                .bind(r.resolution_note.as_deref())
                                .execute(&self.pool)
                                .await
                        }
                        Transition::Resolved {
                            episode,
                            resolved_at,
                            value,
                            resolution,
                            note,
                        } => {
                            sqlx::query(&$dialect(sql::RESOLVE))
                                .bind(*resolved_at)
                                .bind(*value)
                                .bind(&episode.fingerprint)
                                .bind(episode.started_at)
                                .bind(resolution.as_str())
                                .bind(note.as_deref())
                                .execute(&self.pool)
                                .await
                        }
                        Transition::Link { child, parent } => {
                            sqlx::query(&$dialect(sql::LINK))
                                .bind(&parent.fingerprint)
                                .bind(parent.started_at)
                                .bind(&child.fingerprint)
                                .bind(child.started_at)
                                .execute(&self.pool)
                                .await
                        }
                        Transition::Held {
                            episode,
                            since,
                            reason,
                        } => {
                            sqlx::query(&$dialect(sql::HOLD))
                                .bind(*since)
                                .bind(reason.as_str())
                                .bind(&episode.fingerprint)
                                .bind(episode.started_at)
                                .execute(&self.pool)
                                .await
                        }
                        Transition::Unheld { episode } => {
                            sqlx::query(&$dialect(sql::UNHOLD))
                                .bind(&episode.fingerprint)
                                .bind(episode.started_at)
                                .execute(&self.pool)
                                .await
                        }
                        Transition::Touched { episode, at, value } => {
                            sqlx::query(&$dialect(sql::TOUCH))
                                .bind(*at)
                                .bind(*value)
                                .bind(&episode.fingerprint)
                                .bind(episode.started_at)
                                .execute(&self.pool)
                                .await
                        }
                    };
                    result.map(|_| ()).map_err(|e| classify(&what, e))
                })
            }

            fn history(&self, limit: i64) -> BoxFuture<'_, Result<Vec<HistoryRow>, StoreError>> {
                Box::pin(async move {
                    let q = $dialect(&format!(
                        "SELECT {} {} ORDER BY h.id DESC LIMIT $1",
                        sql::COLUMNS,
                        sql::FROM
                    ));
                    let rows = sqlx::query(&q)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| classify("reading alert history", e))?;
                    rows.iter()
                        .map(decode_row)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| classify("decoding alert history", e))
                })
            }

            fn acknowledge<'a>(
                &'a self,
                id: i64,
                by: &'a str,
                comment: Option<&'a str>,
                at: DateTime<Utc>,
            ) -> BoxFuture<'a, Result<AckOutcome, StoreError>> {
                Box::pin(async move {
                    let what = format!("acknowledging alert-history row {id}");
                    let done = sqlx::query(&$dialect(sql::ACK))
                        .bind(at)
                        .bind(by)
                        .bind(comment)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| classify(&what, e))?
                        .rows_affected()
                        == 1;
                    let q = $dialect(&format!(
                        "SELECT {} {} WHERE h.id = $1",
                        sql::COLUMNS,
                        sql::FROM
                    ));
                    let row = sqlx::query(&q)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| classify(&what, e))?;
                    let Some(row) = row else {
                        return Ok(AckOutcome::NotFound);
                    };
                    let row = Box::new(decode_row(&row).map_err(|e| classify(&what, e))?);
                    Ok(if done {
                        AckOutcome::Acknowledged(row)
                    } else if row.record.resolved_at.is_some() {
                        AckOutcome::Resolved(row)
                    } else {
                        AckOutcome::AlreadyAcknowledged(row)
                    })
                })
            }

            fn upsert_baselines<'a>(
                &'a self,
                rows: &'a [BaselineRow],
            ) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    let what = format!("writing {} baseline buckets", rows.len());
                    let mut tx = self.pool.begin().await.map_err(|e| classify(&what, e))?;
                    for chunk in rows.chunks(BASELINE_CHUNK) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(sql::BASELINE_INSERT);
                        qb.push_values(chunk, |mut b, r| {
                            b.push_bind(r.device.clone())
                                .push_bind(r.if_name.clone())
                                .push_bind(r.direction.as_str())
                                .push_bind(i32::from(r.bucket.day_of_week))
                                .push_bind(i32::from(r.bucket.hour_of_day))
                                .push_bind(r.stats.mean)
                                .push_bind(r.stats.std_dev)
                                .push_bind(r.stats.min)
                                .push_bind(r.stats.max)
                                .push_bind(r.stats.median)
                                .push_bind(r.stats.mad)
                                .push_bind(r.stats.samples.min(i32::MAX as usize) as i32)
                                .push_bind(r.stats.confidence)
                                .push_bind(r.timezone.clone())
                                .push_bind(r.last_updated);
                        });
                        qb.push(sql::BASELINE_UPSERT);
                        qb.build()
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| classify(&what, e))?;
                    }
                    tx.commit().await.map_err(|e| classify(&what, e))
                })
            }

            fn bucket_baselines(
                &self,
                bucket: Bucket,
            ) -> BoxFuture<'_, Result<Vec<BaselineRow>, StoreError>> {
                Box::pin(async move {
                    let what = format!("reading baselines for {}", bucket.label());
                    let rows = sqlx::query(&$dialect(sql::BASELINE_SELECT))
                        .bind(i32::from(bucket.day_of_week))
                        .bind(i32::from(bucket.hour_of_day))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| classify(&what, e))?;
                    rows.iter()
                        .map(decode_baseline)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| classify(&what, e))
                })
            }

            fn baselines_updated(&self) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, StoreError>> {
                Box::pin(async move {
                    let what = "reading when baselines were learned";
                    let row = sqlx::query(
                        "SELECT last_updated FROM interface_baselines ORDER BY last_updated DESC LIMIT 1",
                    )
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| classify(what, e))?;
                    match row {
                        None => Ok(None),
                        Some(r) => r
                            .try_get::<DateTime<Utc>, _>(0)
                            .map(Some)
                            .map_err(|e| classify(what, e)),
                    }
                })
            }

            fn upsert_summaries<'a>(
                &'a self,
                rows: &'a [SummaryRow],
            ) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    let what = format!("writing {} interface summaries", rows.len());
                    let mut tx = self.pool.begin().await.map_err(|e| classify(&what, e))?;
                    for chunk in rows.chunks(SUMMARY_CHUNK) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(sql::SUMMARY_INSERT);
                        qb.push_values(chunk, |mut b, r| {
                            b.push_bind(r.device_name.clone())
                                .push_bind(r.if_index)
                                .push_bind(r.if_name.clone())
                                .push_bind(r.site.clone())
                                .push_bind(r.interface_type.clone())
                                .push_bind(r.isp_provider.clone())
                                .push_bind(r.window_start)
                                .push_bind(r.window_end)
                                .push_bind(r.avg_in_mbps)
                                .push_bind(r.max_in_mbps)
                                .push_bind(r.avg_out_mbps)
                                .push_bind(r.max_out_mbps)
                                .push_bind(r.total_in_gb)
                                .push_bind(r.total_out_gb)
                                .push_bind(r.avg_error_rate)
                                .push_bind(r.max_error_rate)
                                .push_bind(r.avg_utilization)
                                .push_bind(r.max_utilization)
                                .push_bind(r.samples)
                                .push_bind(r.calculated_at);
                        });
                        qb.push(sql::SUMMARY_UPSERT);
                        qb.build()
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| classify(&what, e))?;
                    }
                    tx.commit().await.map_err(|e| classify(&what, e))
                })
            }

            fn delete_summaries_before(
                &self,
                cutoff: DateTime<Utc>,
            ) -> BoxFuture<'_, Result<u64, StoreError>> {
                Box::pin(async move {
                    let what = "deleting interface summaries no run refreshed";
                    sqlx::query(&$dialect(sql::SUMMARY_DELETE))
                        .bind(cutoff)
                        .execute(&self.pool)
                        .await
                        .map(|r| r.rows_affected())
                        .map_err(|e| classify(what, e))
                })
            }

            fn summaries(&self) -> BoxFuture<'_, Result<Vec<SummaryRow>, StoreError>> {
                Box::pin(async move {
                    let what = "reading interface summaries";
                    let rows = sqlx::query(&$dialect(sql::SUMMARY_SELECT))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| classify(what, e))?;
                    rows.iter()
                        .map(decode_summary)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| classify(what, e))
                })
            }

            fn kind(&self) -> &'static str {
                $kind
            }
        }
    };
}

store_impl!(
    PgStore,
    sqlx::Postgres,
    "postgres",
    sql::pg,
    "../migrations/postgres"
);
store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    sql::lite,
    "../migrations/sqlite"
);
