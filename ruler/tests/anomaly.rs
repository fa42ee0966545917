//! Baselines and anomaly detection end to end: three weeks of synthetic traffic with labelled
//! anomalies in a real VictoriaMetrics; baselines learned from the first two weeks
//! (`learn --at`), the third week replayed through the anomaly rule into a real store, and
//! the raised alerts scored against what was injected.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth).

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use common::*;
use std::path::Path;
use std::time::Duration;
use wardflux_ruler::baseline::bucket::Bucket;
use wardflux_ruler::baseline::cache::BaselineCache;
use wardflux_ruler::baseline::{self, BaselineConfig, Direction};
use wardflux_ruler::config::RuleSet;
use wardflux_ruler::replay::{replay, ReplayOptions};
use wardflux_ruler::traffic::{self, Raised, Spec};

fn baseline_config() -> BaselineConfig {
    BaselineConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/baselines.yml"))
        .expect("the shipped baselines file loads")
}

fn spec(interfaces: usize) -> Spec {
    let start = Utc.with_ymd_and_hms(2026, 2, 1, 20, 0, 0).unwrap(); // Monday 00:00 in Tbilisi
    Spec {
        interfaces,
        start,
        end: start + chrono::Duration::days(21),
        step: Duration::from_secs(300),
        tz: "Asia/Tbilisi".parse().unwrap(),
        holiday: NaiveDate::from_ymd_opt(2026, 2, 4),
        anomalies_from: start + chrono::Duration::days(14),
        anomalies_per_week: 2.0,
        seed: 42,
    }
}

async fn quality_on_synthetic_weeks(backend: Backend) {
    let vm = Vm::start().await;
    let spec = spec(24);
    let plan = traffic::plan(&spec);
    traffic::backfill(&vm.client(), &spec, &plan)
        .await
        .expect("backfill");
    vm.flush().await;
    let fx = StoreFixture::new(backend).await;
    let cfg = baseline_config();

    // Learn only from the two clean weeks.
    let sum = baseline::learn::learn(&cfg, &vm.client(), fx.store.as_ref(), spec.anomalies_from)
        .await
        .expect("learning");
    assert_eq!(sum.interfaces, 24);
    assert_eq!(
        sum.rows,
        24 * 2 * 168,
        "every interface, direction and hour of the week"
    );

    // Replay the third week through the anomaly rule.
    let cache = BaselineCache::new(fx.store.clone());
    let rules = RuleSet {
        groups: vec![baseline::anomaly_group(cfg.clone())],
    };
    let client = vm.client();
    replay(
        &rules,
        &client,
        &client,
        fx.store.as_ref(),
        Some(cache.as_ref()),
        &ReplayOptions {
            from: spec.anomalies_from,
            to: spec.end,
            write_recording: false,
            steps_per_query: 1440,
            touch_every: Duration::from_secs(86_400),
        },
    )
    .await
    .expect("replay");

    let rows = fx.store.history(10_000).await.unwrap();
    let raised: Vec<Raised> = rows
        .iter()
        .map(|r| Raised {
            device: r.record.device.clone(),
            if_name: r.record.if_name.clone(),
            direction: r
                .record
                .labels
                .get("direction")
                .cloned()
                .unwrap_or_default(),
            started_at: r.record.started_at,
        })
        .collect();
    for r in &rows {
        assert_eq!(r.record.alert_name, "TrafficAnomaly");
        assert!(
            r.record.message.starts_with("Traffic "),
            "{}",
            r.record.message
        );
        assert!(
            r.record.message.contains("Mbps (expected "),
            "{}",
            r.record.message
        );
        assert!(["low", "medium", "high", "critical"].contains(&r.record.severity.as_str()));
        for k in ["z_score", "time_context", "confidence", "description"] {
            assert!(r.record.annotations.contains_key(k), "missing {k}");
        }
    }

    // Each injected anomaly's size in sigma of the bucket it peaks in.
    let mut sizes = Vec::new();
    for a in &plan.anomalies {
        let p = plan
            .profiles
            .iter()
            .find(|p| p.labels["device"] == a.device && p.labels["ifName"] == a.if_name)
            .unwrap();
        let peak = a.peak();
        let normal = traffic::expected(p, &spec, peak, a.direction);
        let injected = normal * a.multiplier(peak);
        let dir = Direction::parse(a.direction).unwrap();
        let map = cache.get(Bucket::of(peak, cfg.tz)).await.unwrap();
        let stats = map[&(a.device.clone(), a.if_name.clone(), dir)];
        sizes.push((injected - normal).abs() / stats.std_dev.max(1e-9));
    }
    let big = |a: &traffic::Injected| {
        let i = plan.anomalies.iter().position(|x| x == a).unwrap();
        sizes[i] >= 5.0
    };
    let interface_weeks = spec.interfaces as f64 * 1.0;
    let q = traffic::quality(
        &raised,
        &plan.anomalies,
        big,
        interface_weeks,
        chrono::Duration::minutes(30),
    );
    println!("{backend:?}: {}", serde_json::to_string(&q).unwrap());
    assert!(
        q.anomalies >= 10,
        "enough anomalies of 5 sigma or more to judge: {q:?}"
    );
    assert!(q.precision >= 0.9, "precision {q:?}");
    assert!(
        q.recall >= 0.9,
        "recall of anomalies of 5 sigma or more {q:?}"
    );
    assert!(
        q.false_per_interface_week < 0.1,
        "false alerts per interface-week {q:?}"
    );
}

async fn learning_again_replaces_buckets_without_duplicates(backend: Backend) {
    let vm = Vm::start().await;
    let spec = Spec {
        anomalies_per_week: 0.0,
        ..spec(4)
    };
    let plan = traffic::plan(&spec);
    traffic::backfill(&vm.client(), &spec, &plan)
        .await
        .expect("backfill");
    vm.flush().await;
    let fx = StoreFixture::new(backend).await;
    let cfg = baseline_config();
    let first = spec.anomalies_from;
    let second = spec.end;
    baseline::learn::learn(&cfg, &vm.client(), fx.store.as_ref(), first)
        .await
        .unwrap();
    let monday_14 = Bucket {
        day_of_week: 0,
        hour_of_day: 14,
    };
    let before = fx.store.bucket_baselines(monday_14).await.unwrap();
    baseline::learn::learn(&cfg, &vm.client(), fx.store.as_ref(), second)
        .await
        .unwrap();
    let after = fx.store.bucket_baselines(monday_14).await.unwrap();
    assert_eq!(before.len(), 8, "4 interfaces x 2 directions");
    assert_eq!(after.len(), 8, "replaced, not duplicated");
    assert!(after.iter().all(|r| r.last_updated == second));
    assert!(after.iter().all(|r| r.timezone == "Asia/Tbilisi"));
    let r = &after[0];
    assert!(r.stats.samples >= 20 && r.stats.confidence >= 0.7, "{r:?}");
    assert!(r.stats.min <= r.stats.median && r.stats.median <= r.stats.max);
    assert_eq!(fx.store.baselines_updated().await.unwrap(), Some(second));
}

async fn live_detection_fires_after_consecutive_evaluations(backend: Backend) {
    let vm = Vm::start().await;
    let spec = spec(4);
    let plan = traffic::plan(&spec);
    traffic::backfill(&vm.client(), &spec, &plan)
        .await
        .expect("backfill");
    vm.flush().await;
    let fx = StoreFixture::new(backend).await;
    let cfg = baseline_config();
    baseline::learn::learn(&cfg, &vm.client(), fx.store.as_ref(), spec.anomalies_from)
        .await
        .unwrap();
    // The clearest step-shaped anomaly: its size in sigma of the bucket it starts in.
    let cache = BaselineCache::new(fx.store.clone());
    let mut best: Option<(f64, &traffic::Injected)> = None;
    for a in plan
        .anomalies
        .iter()
        .filter(|a| a.kind != traffic::AnomalyKind::Ramp)
    {
        let p = plan
            .profiles
            .iter()
            .find(|p| p.labels["device"] == a.device && p.labels["ifName"] == a.if_name)
            .unwrap();
        let t = a.start + chrono::Duration::minutes(5);
        let normal = traffic::expected(p, &spec, t, a.direction);
        let map = cache.get(Bucket::of(t, cfg.tz)).await.unwrap();
        let stats = map[&(
            a.device.clone(),
            a.if_name.clone(),
            Direction::parse(a.direction).unwrap(),
        )];
        let size = (normal * (1.0 - a.factor)).abs() / stats.std_dev;
        if best.is_none_or(|(b, _)| size > b) {
            best = Some((size, a));
        }
    }
    let (size, a) = best.expect("anomalies in the plan");
    assert!(size >= 6.0, "the plan has a clear anomaly: {size}");
    let rules = RuleSet {
        groups: vec![baseline::anomaly_group(cfg.clone())],
    };
    let h = Harness::with(&vm.url(), fx.store.clone(), Default::default(), None, rules).await;
    // Other interfaces may have anomalies at the same time; this test follows one.
    let mine = |r: &wardflux_ruler::alert::AlertRecord| {
        r.device == a.device && r.if_name == a.if_name && r.labels["direction"] == a.direction
    };
    let step = chrono::Duration::minutes(5);
    let mut t = a.start - step * 6;
    let mut fired_at_tick = None;
    while t <= a.end + step * 6 {
        h.tick_at(t).await;
        if fired_at_tick.is_none() && h.rows().await.iter().any(|r| mine(&r.record)) {
            fired_at_tick = Some(t);
        }
        t += step;
    }
    let rows: Vec<_> = h
        .rows()
        .await
        .into_iter()
        .filter(|r| mine(&r.record))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "{backend:?}: one episode for one anomaly: {rows:#?}"
    );
    let r = &rows[0].record;
    assert_eq!(
        (r.device.as_str(), r.if_name.as_str()),
        (a.device.as_str(), a.if_name.as_str())
    );
    assert_eq!(r.labels["direction"], a.direction);
    let kind = if a.factor > 1.0 { "spike" } else { "drop" };
    assert_eq!(r.labels["kind"], kind);
    assert_eq!(r.severity, "critical", "{size:.1} sigma");
    // The rate over the first 5 minutes of the outage already shows it: anomalous from the
    // first evaluation after its start, firing on the third (consecutive: 3).
    let first = a.start + step;
    assert_eq!(r.started_at, first);
    assert_eq!(fired_at_tick, Some(first + step * 2));
    let resolved = r
        .resolved_at
        .expect("resolved once traffic is back and keep_firing_for passed");
    assert!(
        resolved >= a.end + chrono::Duration::minutes(10)
            && resolved <= a.end + chrono::Duration::minutes(20),
        "{resolved} vs end {}",
        a.end
    );
}

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

both_stores!(
    quality_on_synthetic_weeks,
    learning_again_replaces_buckets_without_duplicates,
    live_detection_fires_after_consecutive_evaluations,
);
