//! Interface summaries: every `--summary.interval` the leading ruler asks VictoriaMetrics one
//! query per statistic over every interface (`queries`), turns the answers into one row per
//! (device, ifIndex) (`compute`, pure: answers and times in, rows out) and upserts them into
//! `interface_metrics_summary` (`run_once`), so the bank's UI reads 24-hour figures without
//! time-series queries. A run is all or nothing: a query that fails (unreachable, rejected,
//! partial) writes no row, so the last good rows stay. Rows no run has refreshed for
//! `--summary.retention` (interfaces gone) are deleted after a successful run.
//!
//! Definitions (docs/operations.md): traffic from the exporter's wide counters
//! (`wardflux_if_{in,out}_octets_total`); the average is the window's total over the window's
//! length (so `avg_in_mbps * window = total_in_gb`, and an interface seen for part of the
//! window averages over all of it, `samples` tells how much was seen); maxima are the highest
//! 5-minute rate at 5-minute steps; the error rate is errored packets (in + out) in percent of
//! packets (in + out); utilisation is the busier direction in percent of the speed
//! (`ifHighSpeed`, else `ifSpeed`, the highest seen in the window). Series of one interface
//! split by a label change (an API edit of `interface_type`, a new `ifAlias`) add up; its
//! names are those of its newest series.

use crate::datasource::{DatasourceError, FlatSeries, Querier};
use crate::leader::Role;
use crate::metrics::{Metrics, ResultLabel};
use crate::store::{Store, StoreError, SummaryRow};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::watch;
use tracing::{info, warn};

/// The rate window and subquery step of the maxima (the recording rules' `rate5m`).
pub const PEAK_STEP: &str = "5m";

/// When and over what the summaries are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryConfig {
    /// Time between runs; zero turns summaries off.
    pub interval: Duration,
    /// Length of the summarised window ending at each run.
    pub window: Duration,
    /// Rows no run refreshed for this long are deleted.
    pub retention: Duration,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig {
            interval: Duration::from_secs(15 * 60),
            window: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

impl SummaryConfig {
    /// Checks the settings against each other (the flags' second phase).
    pub fn validate(&self) -> Result<(), String> {
        if self.interval.is_zero() {
            return Ok(());
        }
        if self.window < Duration::from_secs(600) {
            return Err(format!(
                "--summary.window ({}s) must be at least 10m: its maxima are of {PEAK_STEP} rates",
                self.window.as_secs()
            ));
        }
        if self.retention < self.interval {
            return Err(format!(
                "--summary.retention ({}s) must be at least --summary.interval ({}s), or every row would be deleted",
                self.retention.as_secs(),
                self.interval.as_secs()
            ));
        }
        Ok(())
    }
}

/// Why a run wrote nothing.
#[derive(Debug, Error)]
pub enum SummaryError {
    #[error("interface summaries: {0}")]
    Datasource(#[from] DatasourceError),
    #[error("interface summaries: {0}")]
    Store(#[from] StoreError),
}

impl SummaryError {
    /// The `result` label of `wardflux_ruler_summary_runs_total`.
    pub fn result(&self) -> &'static str {
        match self {
            SummaryError::Datasource(_) => "datasource_error",
            SummaryError::Store(_) => "store_error",
        }
    }
}

/// One statistic asked of the datasource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stat {
    /// Inbound bytes in the window, per interface.
    InBytes,
    OutBytes,
    /// Highest 5-minute inbound rate, bytes/s.
    InPeak,
    OutPeak,
    /// Errored packets, in + out.
    Errors,
    /// Packets, in + out.
    Packets,
    /// Highest 5-minute ratio of errored packets to packets.
    ErrorPeak,
    /// Highest speed in the window, bit/s.
    Speed,
    /// Counter samples of inbound octets.
    Samples,
    /// Every octet series of the window with its full labels; the value orders them by recency.
    Names,
}

impl Stat {
    pub const ALL: [Stat; 10] = [
        Stat::InBytes,
        Stat::OutBytes,
        Stat::InPeak,
        Stat::OutPeak,
        Stat::Errors,
        Stat::Packets,
        Stat::ErrorPeak,
        Stat::Speed,
        Stat::Samples,
        Stat::Names,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stat::InBytes => "in_bytes",
            Stat::OutBytes => "out_bytes",
            Stat::InPeak => "in_peak",
            Stat::OutPeak => "out_peak",
            Stat::Errors => "errors",
            Stat::Packets => "packets",
            Stat::ErrorPeak => "error_peak",
            Stat::Speed => "speed",
            Stat::Samples => "samples",
            Stat::Names => "names",
        }
    }

    /// The query over every interface for a window of `w` (a PromQL duration).
    pub fn query(self, w: &str) -> String {
        let s = PEAK_STEP;
        let by = "by (device, ifIndex)";
        match self {
            Stat::InBytes => format!("sum {by} (increase(wardflux_if_in_octets_total[{w}]))"),
            Stat::OutBytes => format!("sum {by} (increase(wardflux_if_out_octets_total[{w}]))"),
            Stat::InPeak => {
                format!("max {by} (max_over_time(rate(wardflux_if_in_octets_total[{s}])[{w}:{s}]))")
            }
            Stat::OutPeak => format!(
                "max {by} (max_over_time(rate(wardflux_if_out_octets_total[{s}])[{w}:{s}]))"
            ),
            Stat::Errors => {
                format!("sum {by} (increase(ifInErrors[{w}]) + increase(ifOutErrors[{w}]))")
            }
            Stat::Packets => format!(
                "sum {by} (increase(wardflux_if_in_packets_total[{w}]) \
                 + increase(wardflux_if_out_packets_total[{w}]))"
            ),
            // Matched on the whole label set (not on(device, ifIndex)): after a label change
            // the old and the new series overlap for a few steps, each with its own partner.
            Stat::ErrorPeak => format!(
                "max {by} (max_over_time(((rate(ifInErrors[{s}]) + rate(ifOutErrors[{s}])) \
                 / ((rate(wardflux_if_in_packets_total[{s}]) \
                 + rate(wardflux_if_out_packets_total[{s}])) > 0))[{w}:{s}]))"
            ),
            Stat::Speed => format!(
                "max {by} (max_over_time(ifHighSpeed[{w}])) * 1e6 > 0 \
                 or max {by} (max_over_time(ifSpeed[{w}])) > 0"
            ),
            Stat::Samples => {
                format!("sum {by} (count_over_time(wardflux_if_in_octets_total[{w}]))")
            }
            Stat::Names => {
                format!("max_over_time(timestamp(wardflux_if_in_octets_total)[{w}:{s}])")
            }
        }
    }
}

/// A duration as PromQL writes it, in whole seconds.
pub fn promql_duration(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// Every query of a run, in the order asked.
pub fn queries(window: Duration) -> Vec<(Stat, String)> {
    let w = promql_duration(window);
    Stat::ALL.iter().map(|&s| (s, s.query(&w))).collect()
}

/// The answers of one run, by statistic.
#[derive(Debug, Default)]
pub struct Answers(pub BTreeMap<Stat, FlatSeries>);

/// What `compute` made of the answers.
#[derive(Debug, Default, PartialEq)]
pub struct Computed {
    /// One row per interface, sorted by device and ifIndex.
    pub rows: Vec<SummaryRow>,
    /// Series whose `device` or `ifIndex` label was missing or not a number.
    pub unkeyed: usize,
}

type Key = (String, i64);

/// The interface a series of an answer belongs to.
fn key(a: &FlatSeries, i: usize) -> Option<Key> {
    let (mut device, mut index) = (None, None);
    for (k, v) in a.labels(i) {
        match k {
            "device" => device = Some(v),
            "ifIndex" => index = v.parse::<i64>().ok(),
            _ => {}
        }
    }
    Some((device?.to_string(), index?))
}

/// The last value of series `i`, if it is a finite number.
fn value(a: &FlatSeries, i: usize) -> Option<f64> {
    a.points(i).last().map(|p| p.1).filter(|v| v.is_finite())
}

/// Per-interface values of one aggregated answer (labels `device`, `ifIndex`); negative
/// values (never produced by increase or rate) are treated as absent.
fn per_interface(a: Option<&FlatSeries>, unkeyed: &mut usize) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    let Some(a) = a else { return out };
    for i in 0..a.len() {
        match (key(a, i), value(a, i)) {
            (Some(k), Some(v)) if v >= 0.0 => {
                out.insert(k, v);
            }
            (None, _) => *unkeyed += 1,
            _ => {}
        }
    }
    out
}

/// The names of an interface: from its newest series in the `Names` answer (highest value,
/// then the smallest label set, so the choice is stable).
#[derive(Debug, Clone, Default, PartialEq)]
struct Names {
    recency: f64,
    labels: Vec<(String, String)>,
}

impl Names {
    fn get(&self, k: &str) -> Option<String> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }
}

fn names(a: Option<&FlatSeries>, unkeyed: &mut usize) -> BTreeMap<Key, Names> {
    let mut out: BTreeMap<Key, Names> = BTreeMap::new();
    let Some(a) = a else { return out };
    for i in 0..a.len() {
        let Some(k) = key(a, i) else {
            *unkeyed += 1;
            continue;
        };
        let n = Names {
            recency: value(a, i).unwrap_or(f64::MIN),
            labels: a
                .labels(i)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        match out.get(&k) {
            Some(old)
                if old.recency > n.recency
                    || (old.recency == n.recency && old.labels <= n.labels) => {}
            _ => {
                out.insert(k, n);
            }
        }
    }
    out
}

/// Turns the answers into rows for the window of `window` ending at `window_end`, stamped
/// `calculated_at`. An interface gets a row when the window has octet series of it and a
/// total of at least one direction; a statistic its answers lack is NULL (undefined).
pub fn compute(
    answers: &Answers,
    window_end: DateTime<Utc>,
    window: Duration,
    calculated_at: DateTime<Utc>,
) -> Computed {
    let mut unkeyed = 0;
    let get = |s: Stat| answers.0.get(&s);
    let mut stat = |s: Stat| per_interface(get(s), &mut unkeyed);
    let in_bytes = stat(Stat::InBytes);
    let out_bytes = stat(Stat::OutBytes);
    let in_peak = stat(Stat::InPeak);
    let out_peak = stat(Stat::OutPeak);
    let errors = stat(Stat::Errors);
    let packets = stat(Stat::Packets);
    let error_peak = stat(Stat::ErrorPeak);
    let speed = stat(Stat::Speed);
    let samples = stat(Stat::Samples);
    let names = names(get(Stat::Names), &mut unkeyed);
    let secs = window.as_secs_f64().max(1.0);
    let window_start = window_end
        - chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::days(1));
    let mbps = |bytes_per_second: f64| bytes_per_second * 8.0 / 1e6;
    let mut rows = Vec::with_capacity(names.len());
    for (k, n) in names {
        let (tin, tout) = (in_bytes.get(&k).copied(), out_bytes.get(&k).copied());
        if tin.is_none() && tout.is_none() {
            continue;
        }
        let avg_in = tin.map(|b| mbps(b / secs));
        let avg_out = tout.map(|b| mbps(b / secs));
        let max_in = in_peak.get(&k).map(|&r| mbps(r));
        let max_out = out_peak.get(&k).map(|&r| mbps(r));
        let util = |a: Option<f64>, b: Option<f64>| {
            let busier = match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (x, y) => x.or(y),
            }?;
            let bps = speed.get(&k).copied().filter(|&s| s > 0.0)?;
            Some(busier * 1e6 / bps * 100.0)
        };
        let avg_error_rate = match (errors.get(&k), packets.get(&k)) {
            (Some(&e), Some(&p)) if p > 0.0 => Some(e / p * 100.0),
            _ => None,
        };
        rows.push(SummaryRow {
            if_name: n.get("ifName").unwrap_or_default(),
            site: n.get("site"),
            interface_type: n.get("interface_type"),
            isp_provider: n.get("isp_provider"),
            device_name: k.0.clone(),
            if_index: k.1,
            window_start,
            window_end,
            avg_in_mbps: avg_in,
            max_in_mbps: max_in,
            avg_out_mbps: avg_out,
            max_out_mbps: max_out,
            total_in_gb: tin.map(|b| b / 1e9),
            total_out_gb: tout.map(|b| b / 1e9),
            avg_error_rate,
            max_error_rate: error_peak.get(&k).map(|r| r * 100.0),
            avg_utilization: util(avg_in, avg_out),
            max_utilization: util(max_in, max_out),
            samples: samples
                .get(&k)
                .map(|&s| s.round().min(f64::from(i32::MAX)) as i32),
            calculated_at,
        });
    }
    Computed { rows, unkeyed }
}

/// What a successful run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    pub rows: usize,
    pub deleted: u64,
    pub unkeyed: usize,
    pub query_seconds: f64,
    /// Computing the rows, upserting and deleting.
    pub write_seconds: f64,
}

/// One run: asks every query for the window ending at `at` (any failure ends the run before
/// a write), upserts the rows stamped `calculated_at` in one transaction, then deletes rows
/// calculated before `calculated_at - retention`, unless the run found no interface at all.
pub async fn run_once(
    querier: &dyn Querier,
    store: &dyn Store,
    cfg: &SummaryConfig,
    at: DateTime<Utc>,
    calculated_at: DateTime<Utc>,
) -> Result<RunReport, SummaryError> {
    let t0 = Instant::now();
    let mut answers = Answers::default();
    for (stat, q) in queries(cfg.window) {
        let a = querier.query_flat(&q, at, cfg.interval.max(Duration::from_secs(60)));
        answers.0.insert(stat, a.await?);
    }
    let query_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let computed = compute(&answers, at, cfg.window, calculated_at);
    drop(answers);
    store.upsert_summaries(&computed.rows).await?;
    let deleted = if computed.rows.is_empty() {
        0
    } else {
        let keep =
            chrono::Duration::from_std(cfg.retention).unwrap_or_else(|_| chrono::Duration::days(7));
        store.delete_summaries_before(calculated_at - keep).await?
    };
    Ok(RunReport {
        rows: computed.rows.len(),
        deleted,
        unkeyed: computed.unkeyed,
        query_seconds,
        write_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// Where a loop reads the time: `Utc::now` in the ruler, a paused clock in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Runs and counts one run at `at`, logging its outcome.
pub async fn run_counted(
    querier: &dyn Querier,
    store: &dyn Store,
    cfg: &SummaryConfig,
    metrics: &Metrics,
    at: DateTime<Utc>,
    clock: &Clock,
) -> Result<RunReport, SummaryError> {
    let r = run_once(querier, store, cfg, at, clock()).await;
    let result = match &r {
        Ok(rep) => {
            metrics.summary_rows_written.inc_by(rep.rows as u64);
            metrics.summary_rows_deleted.inc_by(rep.deleted);
            metrics.summary_interfaces.set(rep.rows as i64);
            metrics.summary_last_success.set(clock().timestamp());
            if rep.rows == 0 {
                warn!(window_end = %at.to_rfc3339(), "interface summaries: no interface has traffic series in the window; rows kept");
            } else {
                info!(rows = rep.rows, deleted = rep.deleted, unkeyed_series = rep.unkeyed, query_seconds = rep.query_seconds, write_seconds = rep.write_seconds, window_end = %at.to_rfc3339(), "interface summaries written");
            }
            "success"
        }
        Err(e) => {
            warn!(error = %e, window_end = %at.to_rfc3339(), "interface summaries not computed; the previous rows stay");
            e.result()
        }
    };
    metrics
        .summary_runs
        .get_or_create(&ResultLabel {
            result: result.to_string(),
        })
        .inc();
    r
}

/// Computes summaries while this replica leads: at once on taking the lead, then at every
/// multiple of the interval. A standby (or a leader whose lock is in doubt) computes nothing;
/// a run under way when the lead is lost is abandoned before its write commits.
pub async fn run_loop(
    cfg: SummaryConfig,
    querier: Arc<dyn Querier>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Clock,
    mut role: watch::Receiver<Role>,
    mut shutdown: watch::Receiver<bool>,
) {
    if cfg.interval.is_zero() {
        return;
    }
    let mut next: Option<DateTime<Utc>> = None;
    loop {
        if *role.borrow_and_update() != Role::Leader {
            next = None;
            tokio::select! {
                r = role.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let at = match next {
            None => clock(),
            Some(t) => {
                let wait = (t - clock()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    r = role.changed() => { if r.is_err() { return } continue }
                    _ = shutdown.changed() => return,
                }
                t
            }
        };
        let run = run_counted(querier.as_ref(), store.as_ref(), &cfg, &metrics, at, &clock);
        tokio::select! {
            _ = run => {}
            r = role.changed() => {
                if r.is_err() { return }
                warn!("interface summaries: lead lost during a run; nothing written by it");
                continue;
            }
            _ = shutdown.changed() => return,
        }
        next = Some(crate::engine::align_up(
            clock().max(at) + chrono::Duration::milliseconds(1),
            cfg.interval,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasource::Sample;
    use crate::labels::Labels;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ans(items: &[(&[(&str, &str)], f64)]) -> FlatSeries {
        let samples: Vec<Sample> = items
            .iter()
            .map(|(l, v)| Sample {
                labels: labels(l),
                value: *v,
            })
            .collect();
        FlatSeries::from_samples(&samples, at().timestamp_millis())
    }

    const R1: &[(&str, &str)] = &[("device", "r1"), ("ifIndex", "2")];
    const R1B: &[(&str, &str)] = &[("device", "r1"), ("ifIndex", "3")];

    fn full(idx: &str, kind: &str, alias: &str) -> Vec<(&'static str, String)> {
        vec![
            ("device", "r1".into()),
            ("ifIndex", idx.into()),
            ("ifName", format!("Gi0/{idx}")),
            ("ifAlias", alias.into()),
            ("interface_type", kind.into()),
            (
                "isp_provider",
                if kind == "isp" { "magti" } else { "" }.into(),
            ),
            ("site", "tbilisi".into()),
        ]
    }

    fn names_answer(items: &[(Vec<(&'static str, String)>, f64)]) -> FlatSeries {
        let samples: Vec<Sample> = items
            .iter()
            .map(|(l, v)| Sample {
                labels: l.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                value: *v,
            })
            .collect();
        FlatSeries::from_samples(&samples, at().timestamp_millis())
    }

    fn day() -> Duration {
        Duration::from_secs(86_400)
    }

    /// A day at 100 Mbps in and 50 out on a 1 Gbit/s uplink, peaks 400/80 Mbps, 1% errors.
    fn uplink() -> Answers {
        let mut a = Answers::default();
        let day_bytes = |mbps: f64| mbps * 1e6 / 8.0 * 86_400.0;
        a.0.insert(Stat::InBytes, ans(&[(R1, day_bytes(100.0))]));
        a.0.insert(Stat::OutBytes, ans(&[(R1, day_bytes(50.0))]));
        a.0.insert(Stat::InPeak, ans(&[(R1, 400e6 / 8.0)]));
        a.0.insert(Stat::OutPeak, ans(&[(R1, 80e6 / 8.0)]));
        a.0.insert(Stat::Errors, ans(&[(R1, 1_000.0)]));
        a.0.insert(Stat::Packets, ans(&[(R1, 100_000.0)]));
        a.0.insert(Stat::ErrorPeak, ans(&[(R1, 0.05)]));
        a.0.insert(Stat::Speed, ans(&[(R1, 1e9)]));
        a.0.insert(Stat::Samples, ans(&[(R1, 1440.0)]));
        a.0.insert(
            Stat::Names,
            names_answer(&[(full("2", "isp", "uplink"), 1000.0)]),
        );
        a
    }

    #[test]
    fn answers_become_one_row_with_every_statistic_in_its_unit() {
        let calc = at() + chrono::Duration::seconds(7);
        let c = compute(&uplink(), at(), day(), calc);
        assert_eq!(c.unkeyed, 0);
        assert_eq!(
            c.rows,
            vec![SummaryRow {
                device_name: "r1".into(),
                if_index: 2,
                if_name: "Gi0/2".into(),
                site: Some("tbilisi".into()),
                interface_type: Some("isp".into()),
                isp_provider: Some("magti".into()),
                window_start: at() - chrono::Duration::days(1),
                window_end: at(),
                avg_in_mbps: Some(100.0),
                max_in_mbps: Some(400.0),
                avg_out_mbps: Some(50.0),
                max_out_mbps: Some(80.0),
                total_in_gb: Some(1080.0),
                total_out_gb: Some(540.0),
                avg_error_rate: Some(1.0),
                max_error_rate: Some(5.0),
                avg_utilization: Some(10.0),
                max_utilization: Some(40.0),
                samples: Some(1440),
                calculated_at: calc,
            }]
        );
    }

    #[test]
    fn undefined_statistics_are_null_and_interfaces_without_totals_get_no_row() {
        let mut a = uplink();
        // r1/3 is named but has no totals: no row. r1/2 has no packets and no speed.
        a.0.insert(
            Stat::Names,
            names_answer(&[
                (full("2", "isp", "uplink"), 1000.0),
                (full("3", "access", ""), 1000.0),
            ]),
        );
        a.0.insert(Stat::Packets, ans(&[(R1, 0.0)]));
        a.0.insert(Stat::ErrorPeak, ans(&[]));
        a.0.insert(Stat::Speed, ans(&[(R1B, 1e9)]));
        let c = compute(&a, at(), day(), at());
        assert_eq!(c.rows.len(), 1);
        let r = &c.rows[0];
        assert_eq!((r.device_name.as_str(), r.if_index), ("r1", 2));
        assert_eq!(r.avg_error_rate, None, "no packets: no error rate");
        assert_eq!(r.max_error_rate, None);
        assert_eq!(r.avg_utilization, None, "no speed: no utilisation");
        assert_eq!(r.max_utilization, None);
        assert_eq!(r.avg_in_mbps, Some(100.0));
    }

    #[test]
    fn the_newest_series_of_a_relabelled_interface_names_it() {
        let mut a = uplink();
        a.0.insert(
            Stat::Names,
            names_answer(&[
                (full("2", "access", "old"), 500.0),
                (full("2", "isp", "new"), 900.0),
                (full("2", "branch", "older"), 100.0),
            ]),
        );
        let r = &compute(&a, at(), day(), at()).rows[0];
        assert_eq!(r.interface_type.as_deref(), Some("isp"));
        assert_eq!(r.isp_provider.as_deref(), Some("magti"));
        // Equal recency: the smaller label set wins whatever the order of the answer.
        for order in [[0, 1], [1, 0]] {
            let sets = [full("2", "access", "a"), full("2", "branch", "b")];
            a.0.insert(
                Stat::Names,
                names_answer(&order.map(|i| (sets[i].clone(), 700.0))),
            );
            let r = &compute(&a, at(), day(), at()).rows[0];
            assert_eq!(r.interface_type.as_deref(), Some("access"), "{order:?}");
        }
    }

    #[test]
    fn series_without_a_usable_key_are_counted_and_left_out() {
        let mut a = uplink();
        a.0.insert(
            Stat::InBytes,
            ans(&[
                (R1, 1e9),
                (&[("device", "r1"), ("ifIndex", "x")], 5.0),
                (&[("ifIndex", "4")], 5.0),
            ]),
        );
        let c = compute(&a, at(), day(), at());
        assert_eq!(c.rows.len(), 1);
        assert_eq!(c.unkeyed, 2);
        assert_eq!(c.rows[0].total_in_gb, Some(1.0));
    }

    #[test]
    fn non_finite_and_negative_values_are_absent() {
        let mut a = uplink();
        a.0.insert(Stat::InPeak, ans(&[(R1, f64::NAN)]));
        a.0.insert(Stat::OutPeak, ans(&[(R1, -3.0)]));
        a.0.insert(Stat::OutBytes, ans(&[(R1, f64::INFINITY)]));
        let r = &compute(&a, at(), day(), at()).rows[0];
        assert_eq!(
            (r.max_in_mbps, r.max_out_mbps, r.total_out_gb),
            (None, None, None)
        );
        // One direction is enough for utilisation.
        assert_eq!(r.avg_utilization, Some(10.0));
        assert_eq!(r.max_utilization, None);
    }

    #[test]
    fn rows_come_sorted_by_device_and_index() {
        let mut a = Answers::default();
        let mut n = Vec::new();
        let mut b = Vec::new();
        for (d, i) in [("r2", "1"), ("r1", "10"), ("r1", "9")] {
            let mut l = full(i, "access", "");
            l[0].1 = d.into();
            n.push((l, 1.0));
            b.push((vec![("device", d), ("ifIndex", i)], 1.0));
        }
        a.0.insert(Stat::Names, names_answer(&n));
        let b: Vec<(&[(&str, &str)], f64)> = b.iter().map(|(l, v)| (&l[..], *v)).collect();
        a.0.insert(Stat::InBytes, ans(&b));
        let keys: Vec<(String, i64)> = compute(&a, at(), day(), at())
            .rows
            .into_iter()
            .map(|r| (r.device_name, r.if_index))
            .collect();
        assert_eq!(
            keys,
            [("r1".into(), 9), ("r1".into(), 10), ("r2".into(), 1)]
        );
    }

    #[test]
    fn queries_aggregate_per_interface_over_the_window() {
        let q = queries(day());
        assert_eq!(q.len(), Stat::ALL.len());
        let get = |s: Stat| q.iter().find(|(x, _)| *x == s).unwrap().1.clone();
        assert_eq!(
            get(Stat::InBytes),
            "sum by (device, ifIndex) (increase(wardflux_if_in_octets_total[86400s]))"
        );
        assert_eq!(
            get(Stat::InPeak),
            "max by (device, ifIndex) (max_over_time(rate(wardflux_if_in_octets_total[5m])[86400s:5m]))"
        );
        for (s, text) in &q {
            promql_parser::parser::parse(text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}: {text}", s.name()));
        }
    }

    /// Summaries in memory; every other store operation is refused.
    #[derive(Default)]
    struct MemStore(std::sync::Mutex<BTreeMap<Key, SummaryRow>>);

    fn refused<T: Send + 'static>() -> crate::datasource::BoxFuture<'static, Result<T, StoreError>>
    {
        Box::pin(async {
            Err(StoreError::Rejected {
                what: "test".into(),
                detail: "not in the memory store".into(),
            })
        })
    }

    impl Store for MemStore {
        fn migrate(&self) -> crate::datasource::BoxFuture<'_, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn open_rows(
            &self,
        ) -> crate::datasource::BoxFuture<'_, Result<Vec<crate::store::HistoryRow>, StoreError>>
        {
            refused()
        }
        fn apply<'a>(
            &'a self,
            _: &'a crate::alert::Transition,
        ) -> crate::datasource::BoxFuture<'a, Result<(), StoreError>> {
            refused()
        }
        fn history(
            &self,
            _: i64,
        ) -> crate::datasource::BoxFuture<'_, Result<Vec<crate::store::HistoryRow>, StoreError>>
        {
            refused()
        }
        fn acknowledge<'a>(
            &'a self,
            _: i64,
            _: &'a str,
            _: Option<&'a str>,
            _: DateTime<Utc>,
        ) -> crate::datasource::BoxFuture<'a, Result<crate::store::AckOutcome, StoreError>>
        {
            refused()
        }
        fn upsert_baselines<'a>(
            &'a self,
            _: &'a [crate::store::BaselineRow],
        ) -> crate::datasource::BoxFuture<'a, Result<(), StoreError>> {
            refused()
        }
        fn bucket_baselines(
            &self,
            _: crate::baseline::bucket::Bucket,
        ) -> crate::datasource::BoxFuture<'_, Result<Vec<crate::store::BaselineRow>, StoreError>>
        {
            refused()
        }
        fn baselines_updated(
            &self,
        ) -> crate::datasource::BoxFuture<'_, Result<Option<DateTime<Utc>>, StoreError>> {
            refused()
        }
        fn upsert_summaries<'a>(
            &'a self,
            rows: &'a [SummaryRow],
        ) -> crate::datasource::BoxFuture<'a, Result<(), StoreError>> {
            let mut m = self.0.lock().unwrap();
            for r in rows {
                m.insert((r.device_name.clone(), r.if_index), r.clone());
            }
            Box::pin(async { Ok(()) })
        }
        fn delete_summaries_before(
            &self,
            cutoff: DateTime<Utc>,
        ) -> crate::datasource::BoxFuture<'_, Result<u64, StoreError>> {
            let mut m = self.0.lock().unwrap();
            let n = m.len();
            m.retain(|_, r| r.calculated_at >= cutoff);
            let gone = (n - m.len()) as u64;
            Box::pin(async move { Ok(gone) })
        }
        fn summaries(
            &self,
        ) -> crate::datasource::BoxFuture<'_, Result<Vec<SummaryRow>, StoreError>> {
            let rows = self.0.lock().unwrap().values().cloned().collect();
            Box::pin(async move { Ok(rows) })
        }
        fn kind(&self) -> &'static str {
            "memory"
        }
    }

    fn scripted(answers: Answers) -> Arc<crate::datasource::fake::FakeDatasource> {
        let ds = Arc::new(crate::datasource::fake::FakeDatasource::default());
        let w = promql_duration(day());
        for (stat, a) in answers.0 {
            let samples: Vec<Sample> = (0..a.len())
                .map(|i| Sample {
                    labels: a
                        .labels(i)
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: a.points(i)[0].1,
                })
                .collect();
            ds.answer(&stat.query(&w), Ok(samples));
        }
        ds
    }

    fn runs(m: &Metrics, result: &str) -> u64 {
        m.summary_runs
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .get()
    }

    /// The loop computes only while this replica leads, at once on taking the lead and then
    /// at every multiple of the interval. Time is paused (tokio's clock drives the loop's),
    /// so the hours it waits pass at once.
    #[tokio::test(start_paused = true)]
    async fn only_the_leader_runs_and_it_runs_on_every_interval() {
        let store = Arc::new(MemStore::default());
        let ds = scripted(uplink());
        let metrics = Arc::new(Metrics::new());
        let start = tokio::time::Instant::now();
        let base = at() + chrono::Duration::minutes(7);
        let clock: Clock = Arc::new(move || {
            base + chrono::Duration::from_std(start.elapsed()).unwrap_or_default()
        });
        let (role_tx, role_rx) = watch::channel(Role::Standby);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_loop(
            SummaryConfig::default(),
            ds.clone(),
            store.clone(),
            metrics.clone(),
            clock.clone(),
            role_rx,
            stop_rx,
        ));
        tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
        assert_eq!(runs(&metrics, "success"), 0, "a standby never runs");
        assert!(store.summaries().await.unwrap().is_empty());
        // Taking the lead at 12:07: a run at once, then at 12:15, 12:30, 12:45, 13:00.
        role_tx.send_replace(Role::Leader);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs(&metrics, "success"), 1, "the new leader runs at once");
        let rows = store.summaries().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].window_end, base + chrono::Duration::hours(3));
        tokio::time::sleep(Duration::from_secs(3600 - 7 * 60)).await;
        assert_eq!(runs(&metrics, "success"), 5, "then every 15 minutes");
        let rows = store.summaries().await.unwrap();
        assert_eq!(
            rows[0].window_end,
            at() + chrono::Duration::hours(4),
            "window ends on the interval's multiples"
        );
        role_tx.send_replace(Role::Reacquiring);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            runs(&metrics, "success"),
            5,
            "no run while the lock is in doubt"
        );
        task.abort();
    }

    /// A failing query leaves the previous rows as they were and counts the failure.
    #[tokio::test]
    async fn a_datasource_failure_keeps_the_previous_rows() {
        let store = MemStore::default();
        let ds = scripted(uplink());
        let metrics = Metrics::new();
        let clock: Clock = Arc::new(at);
        let cfg = SummaryConfig::default();
        run_counted(ds.as_ref(), &store, &cfg, &metrics, at(), &clock)
            .await
            .unwrap();
        let before = store.summaries().await.unwrap();
        ds.answer(
            &Stat::ErrorPeak.query(&promql_duration(day())),
            Err(DatasourceError::Unreachable {
                what: "q".into(),
                detail: "connection refused".into(),
            }),
        );
        let later = at() + chrono::Duration::minutes(15);
        let clock: Clock = Arc::new(move || later);
        let e = run_counted(ds.as_ref(), &store, &cfg, &metrics, later, &clock)
            .await
            .unwrap_err();
        assert_eq!(e.result(), "datasource_error");
        assert_eq!(store.summaries().await.unwrap(), before);
        assert_eq!(runs(&metrics, "success"), 1);
        assert_eq!(runs(&metrics, "datasource_error"), 1);
        assert_eq!(metrics.summary_last_success.get(), at().timestamp());
    }

    /// Rows no run refreshed within the retention are deleted by the next successful run;
    /// a run that finds no interface deletes nothing.
    #[tokio::test]
    async fn vanished_interfaces_age_out_after_the_retention() {
        let store = MemStore::default();
        let cfg = SummaryConfig::default();
        let mut gone = compute(&uplink(), at(), day(), at()).rows.remove(0);
        gone.if_index = 99;
        store.upsert_summaries(&[gone]).await.unwrap();
        let empty = scripted(Answers::default());
        let week = at() + chrono::Duration::days(8);
        let r = run_once(empty.as_ref(), &store, &cfg, week, week)
            .await
            .unwrap();
        assert_eq!((r.rows, r.deleted), (0, 0));
        assert_eq!(store.summaries().await.unwrap().len(), 1);
        let six = at() + chrono::Duration::days(6);
        let ds = scripted(uplink());
        let r = run_once(ds.as_ref(), &store, &cfg, six, six).await.unwrap();
        assert_eq!((r.rows, r.deleted), (1, 0), "younger than the retention");
        let r = run_once(ds.as_ref(), &store, &cfg, week, week)
            .await
            .unwrap();
        assert_eq!((r.rows, r.deleted), (1, 1));
        let left: Vec<i64> = store
            .summaries()
            .await
            .unwrap()
            .iter()
            .map(|r| r.if_index)
            .collect();
        assert_eq!(left, [2]);
    }
}
