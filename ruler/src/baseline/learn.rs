//! Learning baselines: the selected interfaces' traffic over the lookback, pulled in batched
//! `query_range` calls (a batch of devices at a time, so memory stays bounded), bucketed by
//! local hour of week, reduced to statistics and upserted into `interface_baselines`.

use super::bucket::{Bucket, BUCKETS};
use super::stats::compute;
use super::{BaselineConfig, Direction};
use crate::datasource::{DatasourceError, Querier, Series};
use crate::store::{BaselineRow, Store, StoreError};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::info;

#[derive(Debug, Error)]
pub enum LearnError {
    #[error("learning baselines: {0}")]
    Datasource(#[from] DatasourceError),
    #[error("learning baselines: {0}")]
    Store(#[from] StoreError),
}

/// What one learning run did.
#[derive(Debug, Clone, Default)]
pub struct LearnSummary {
    pub interfaces: usize,
    pub series: usize,
    pub points: usize,
    pub rows: usize,
    pub batches: usize,
    pub elapsed: Duration,
    /// Time spent waiting for history, reducing it, and writing it (they overlap).
    pub fetch: Duration,
    pub compute: Duration,
    pub write: Duration,
}

/// Escapes a label value for use inside a PromQL regex in a double-quoted string.
pub fn regex_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '\\' => {
                out.push_str("\\\\");
                out.push(c);
            }
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Groups devices (with their interface counts) into batches of at most `limit` interfaces;
/// a device larger than the limit is a batch of its own.
pub fn batches(devices: &[(String, usize)], limit: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for (d, n) in devices {
        if out.is_empty() || size + n > limit {
            out.push(Vec::new());
            size = 0;
        }
        if let Some(last) = out.last_mut() {
            last.push(d.clone());
        }
        size += n;
    }
    out
}

/// History of one device batch, per direction.
type Fetched = Vec<(Direction, Vec<Series>)>;

async fn fetch(
    cfg: &BaselineConfig,
    querier: &dyn Querier,
    batch: &[String],
    start: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(Fetched, Duration), DatasourceError> {
    let t0 = Instant::now();
    let names: Vec<String> = batch.iter().map(|d| regex_quote(d)).collect();
    let extra = format!("device=~\"{}\"", names.join("|"));
    let one = |dir: Direction| {
        let expr = cfg.expr(dir, &extra);
        async move {
            let series = querier
                .query_range(&expr, start, at, cfg.resolution)
                .await?;
            Ok::<_, DatasourceError>((dir, series))
        }
    };
    // Both directions at once: one answer is parsed while the other is computed.
    let out = match cfg.directions.as_slice() {
        [a, b] => {
            let (x, y) = tokio::join!(one(*a), one(*b));
            vec![x?, y?]
        }
        dirs => {
            let mut out = Vec::new();
            for d in dirs {
                out.push(one(*d).await?);
            }
            out
        }
    };
    Ok((out, t0.elapsed()))
}

/// Buckets and reduces one batch: CPU work, run off the async threads.
fn reduce(fetched: Fetched, tz: Tz, at: DateTime<Utc>) -> (Vec<BaselineRow>, usize, usize) {
    let tz_name = tz.name().to_string();
    let mut bucket_of: HashMap<i64, usize> = HashMap::new();
    let (mut series_n, mut points_n) = (0, 0);
    let mut rows = Vec::new();
    for (dir, series) in fetched {
        series_n += series.len();
        for s in series {
            let (Some(device), Some(if_name)) = (s.labels.get("device"), s.labels.get("ifName"))
            else {
                continue;
            };
            let mut per_bucket: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
            for (ts, v) in &s.points {
                let b = *bucket_of.entry(*ts).or_insert_with(|| {
                    let t = DateTime::from_timestamp_millis(*ts).unwrap_or_default();
                    Bucket::of(t, tz).index()
                });
                per_bucket[b].push(*v);
            }
            points_n += s.points.len();
            for (idx, values) in per_bucket.iter().enumerate() {
                if let Some(stats) = compute(values) {
                    rows.push(BaselineRow {
                        device: device.clone(),
                        if_name: if_name.clone(),
                        direction: dir,
                        bucket: Bucket::from_index(idx),
                        stats,
                        timezone: tz_name.clone(),
                        last_updated: at,
                    });
                }
            }
        }
    }
    // Written in index order: neighbouring rows land in neighbouring pages.
    rows.sort_unstable_by(|a, b| {
        (a.bucket, &a.device, &a.if_name, a.direction).cmp(&(
            b.bucket,
            &b.device,
            &b.if_name,
            b.direction,
        ))
    });
    (rows, series_n, points_n)
}

/// Learns from the lookback that ends at `at`. Batches are pipelined: while one batch is
/// reduced and written, the next one's history is being fetched.
pub async fn learn(
    cfg: &BaselineConfig,
    querier: &dyn Querier,
    store: &dyn Store,
    at: DateTime<Utc>,
) -> Result<LearnSummary, LearnError> {
    let started = Instant::now();
    let start = at - chrono::Duration::from_std(cfg.lookback).unwrap_or_default();
    let inventory = format!(
        "count by (device) (last_over_time({}{{{}}}[1h]))",
        cfg.metric_in, cfg.selector
    );
    let mut devices: Vec<(String, usize)> = querier
        .query(&inventory, at, cfg.resolution)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.labels.get("device")?.clone(), s.value.max(0.0) as usize)))
        .collect();
    devices.sort();
    let batches = batches(&devices, cfg.batch_interfaces);
    let mut sum = LearnSummary {
        interfaces: devices.iter().map(|(_, n)| n).sum(),
        batches: batches.len(),
        ..LearnSummary::default()
    };
    info!(
        interfaces = sum.interfaces,
        devices = devices.len(),
        batches = batches.len(),
        from = %start.to_rfc3339(),
        to = %at.to_rfc3339(),
        "learning baselines"
    );
    if batches.is_empty() {
        sum.elapsed = started.elapsed();
        return Ok(sum);
    }
    let mut next = Some(fetch(cfg, querier, &batches[0], start, at).await?);
    for i in 0..batches.len() {
        let Some((fetched, fetch_time)) = next.take() else {
            break;
        };
        sum.fetch += fetch_time;
        let tz = cfg.tz;
        let work = async {
            let t0 = Instant::now();
            let (rows, s, p) = tokio::task::spawn_blocking(move || reduce(fetched, tz, at))
                .await
                .unwrap_or_default();
            let compute_time = t0.elapsed();
            let t1 = Instant::now();
            store.upsert_baselines(&rows).await?;
            Ok::<_, LearnError>((rows.len(), s, p, compute_time, t1.elapsed()))
        };
        let prefetch = async {
            match batches.get(i + 1) {
                Some(b) => fetch(cfg, querier, b, start, at).await.map(Some),
                None => Ok(None),
            }
        };
        let (done, fetched_next) = tokio::join!(work, prefetch);
        let (rows, s, p, c, w) = done?;
        next = fetched_next?;
        sum.rows += rows;
        sum.series += s;
        sum.points += p;
        sum.compute += c;
        sum.write += w;
        info!(
            batch = i + 1,
            batches = batches.len(),
            devices = batches[i].len(),
            rows,
            elapsed_s = format!("{:.1}", started.elapsed().as_secs_f64()),
            "baseline batch stored"
        );
    }
    sum.elapsed = started.elapsed();
    Ok(sum)
}

/// Directions by name, for summaries.
pub fn direction_names(dirs: &[Direction]) -> String {
    dirs.iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Unused buckets stay absent: a map of how many buckets each interface got, for tests.
pub fn bucket_counts(rows: &[BaselineRow]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry((r.device.clone(), r.if_name.clone())).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_quote_escapes_metacharacters_for_a_promql_string() {
        assert_eq!(regex_quote("CORE-SW-01"), "CORE-SW-01");
        assert_eq!(regex_quote("a.b(c)"), "a\\\\.b\\\\(c\\\\)");
        let expr = format!("x{{device=~\"{}\"}}", regex_quote("a.b|c\"d"));
        assert!(promql_parser::parser::parse(&expr).is_ok(), "{expr}");
    }

    #[test]
    fn batches_respect_the_interface_limit() {
        let d = |n: &str, c| (n.to_string(), c);
        let b = batches(
            &[d("a", 100), d("b", 150), d("c", 40), d("d", 500), d("e", 1)],
            200,
        );
        assert_eq!(b, vec![vec!["a"], vec!["b", "c"], vec!["d"], vec!["e"]]);
    }
}
