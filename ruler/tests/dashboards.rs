//! The Grafana dashboards (`dashboards/*.json`) against real data: a small bank (four branch
//! routers with two ISP uplinks each, one uplink down, one branch in total outage, one switch
//! not answering SNMP) is backfilled into a real VictoriaMetrics with the exporter's series; the
//! ruler's real engine evaluates the shipped rules over it, writing the recording-rule series
//! back and alert-history rows into a real PostgreSQL database (migrated by the ruler). Then
//! every variable query, PromQL expression and SQL statement of every panel, with Grafana's
//! variables and macros substituted, must return data; every metric a dashboard names must be
//! one the exporter produces or a rule records; datasources must be template inputs. The
//! inventory dashboard reads `device_interfaces` and `interface_edit_audit` (created here by the
//! exporter's own migration files) and the ruler's `interface_metrics_summary` (created with its
//! contract columns when the ruler's migrations do not have it) in the same database.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth).

mod common;

use chrono::{DateTime, Duration as CDuration, Utc};
use common::*;
use promql_parser::parser::{self, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use wardflux_ruler::baseline::bucket::Bucket;
use wardflux_ruler::baseline::stats::BucketStats;
use wardflux_ruler::baseline::{Direction, ANOMALY_ALERT, ANOMALY_GROUP};
use wardflux_ruler::datasource::Point;
use wardflux_ruler::engine::Settings;
use wardflux_ruler::store::{BaselineRow, Store};

/// The last evaluated minute; each dashboard is queried over its default time range ending here.
const END: i64 = 60;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("dashboards")).expect("reading dashboards/") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
        out.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            json,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 5,
        "expected the five dashboards, found {}",
        out.len()
    );
    out
}

// ------------------------------------------------------------------------------ data set

fn set_site(mut i: Iface, site: &str) -> Iface {
    i.labels.insert("site".into(), site.into());
    i
}

fn up() -> IfState {
    IfState::default()
}

/// A self-metric sample per minute for `device` at `site`.
fn device_series(
    name: &str,
    device: &str,
    site: &str,
    extra: &[(&str, &str)],
    value: impl Fn(i64) -> f64,
) -> Vec<Point> {
    (0..=END)
        .map(|m| {
            let mut l = wardflux_ruler::labels::Labels::new();
            l.insert("__name__".into(), name.into());
            l.insert("device".into(), device.into());
            l.insert("site".into(), site.into());
            l.insert("job".into(), "wardflux-exporter".into());
            l.insert("instance".into(), "127.0.0.1:9117".into());
            for (k, v) in extra {
                l.insert((*k).into(), (*v).into());
            }
            Point {
                labels: l,
                value: value(m),
                at: at(m),
            }
        })
        .collect()
}

/// `wardflux_interface_info` as the exporter renders it (snake_case labels).
fn interface_info(i: &Iface) -> Vec<Point> {
    let l = &i.labels;
    let g = |k: &str| l.get(k).cloned().unwrap_or_default();
    let (device, site) = (g("device"), g("site"));
    let pairs = [
        ("if_index", g("ifIndex")),
        ("if_name", g("ifName")),
        ("if_descr", g("ifDescr")),
        ("if_alias", g("ifAlias")),
        ("if_type", "6".to_string()),
        ("interface_type", g("interface_type")),
        ("isp_provider", g("isp_provider")),
        ("is_critical", g("is_critical")),
        ("monitored", "true".to_string()),
        ("confidence", "0.90".to_string()),
        ("rule", "test".to_string()),
        ("mac", "00:11:22:33:44:55".to_string()),
        ("counter_bits", i.counter_bits.to_string()),
        // As the exporter polling every minute says: can the counter move by 2^32 in one?
        (
            "counter_wrap_risk",
            (i.counter_bits == 32 && i.speed_mbps * 1e6 / 8.0 * 60.0 >= 4_294_967_296.0)
                .to_string(),
        ),
    ];
    let extra: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    device_series("wardflux_interface_info", &device, &site, &extra, |_| 1.0)
}

struct Bank {
    points: Vec<Point>,
    /// (device, ifName) of every ISP uplink, for baselines.
    uplinks: Vec<(String, String)>,
}

fn bank() -> Bank {
    let mut points = Vec::new();
    let mut uplinks = Vec::new();
    // (device, site, provider A, provider B, minutes [from, to) uplink B is down, minute
    // uplink A goes down)
    type Router<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<(i64, i64)>,
        Option<i64>,
    );
    let routers: [Router; 4] = [
        ("HQ-RTR-01", "tbilisi-hq", "magti", "silknet", None, None),
        // Silknet uplink down for ten minutes, then back: a resolved episode.
        (
            "Isani-1111",
            "isani",
            "magti",
            "silknet",
            Some((10, 20)),
            None,
        ),
        // Geocell uplink down from minute 25: firing, backup working.
        (
            "Batumi-2201",
            "batumi",
            "veon",
            "geocell",
            Some((25, END + 1)),
            None,
        ),
        // Both uplinks down from minute 20: total outage.
        (
            "Gldani-3301",
            "gldani",
            "magti",
            "caucasus_online",
            Some((20, END + 1)),
            Some(20),
        ),
    ];
    for (device, site, pa, pb, b_down, a_down) in routers {
        let a = set_site(iface(device, 1, "Gi0/0/0", "isp", pa, true), site);
        let b = set_site(iface(device, 2, "Gi0/0/1", "isp", pb, true), site);
        let lan = set_site(iface(device, 3, "Gi0/0/2", "access", "", false), site);
        let hq = device == "HQ-RTR-01";
        points.extend(series(&a, 0, END, |m| {
            if a_down.is_some_and(|d| m >= d) {
                IfState::down()
            } else {
                IfState {
                    in_mbps: 120.0 + (m % 7) as f64 * 5.0,
                    out_mbps: 40.0 + (m % 5) as f64 * 3.0,
                    // HQ's Magti uplink drops 0.2 % of inbound packets as errors.
                    in_error_ratio: if hq { 0.002 } else { 0.0 },
                    ..up()
                }
            }
        }));
        points.extend(series(&b, 0, END, |m| {
            if b_down.is_some_and(|(from, to)| m >= from && m < to) {
                IfState::down()
            } else {
                IfState {
                    // HQ's Silknet uplink runs at 90 % of its gigabit.
                    in_mbps: if hq { 900.0 } else { 60.0 },
                    out_mbps: 25.0,
                    ..up()
                }
            }
        }));
        points.extend(series(&lan, 0, END, |_| up()));
        for i in [&a, &b, &lan] {
            points.extend(interface_info(i));
        }
        // ISP path health: an IP SLA probe over each uplink, a BGP session with provider A.
        // Providers dead behind live links: HQ's Silknet probe fails from minute 40, and
        // Geocell at Batumi fails from minute 10, fifteen minutes before its link goes down.
        // Gldani's fail with its links.
        let batumi = device == "Batumi-2201";
        let a_ok = move |m: i64| a_down.is_none_or(|d| m < d);
        let b_ok = move |m: i64| {
            !(b_down.is_some_and(|(from, to)| m >= from && m < to)
                || (hq && m >= 40)
                || (batumi && m >= 10))
        };
        points.extend(isp_probe(&a, 1, "169.254.200.1", 0, END, a_ok));
        points.extend(isp_probe(&b, 2, "169.254.200.1", 0, END, b_ok));
        points.extend(bgp_peer(
            &a,
            "169.254.100.1",
            "29614",
            0,
            END,
            a_ok,
            move |m| {
                if a_ok(m) {
                    1.0
                } else {
                    0.0
                }
            },
        ));
        uplinks.push((device.to_string(), "Gi0/0/0".to_string()));
        uplinks.push((device.to_string(), "Gi0/0/1".to_string()));
    }
    // A branch switch that stops answering SNMP at minute 30.
    let sw = set_site(
        iface("Gldani-SW-01", 1, "Gi1/0/1", "trunk", "", true),
        "gldani",
    );
    points.extend(series(&sw, 0, 29, |_| up()));
    points.extend(interface_info(&sw));
    // Cameras behind the Gldani router answer with 32-bit counters only: an NVR
    // at 100 Mbit/s (its counter wraps every few minutes at this traffic) and a gigabit one
    // whose counter can wrap more than once per poll.
    for (index, name, speed, mbps) in [(4, "nvr0", 100.0, 80.0), (5, "nvr1", 1000.0, 300.0)] {
        let mut cam = set_site(
            iface("Gldani-3301", index, name, "access", "", false),
            "gldani",
        );
        cam.counter_bits = 32;
        cam.speed_mbps = speed;
        points.extend(series(&cam, 0, END, |_| IfState {
            in_mbps: mbps,
            out_mbps: mbps / 10.0,
            ..up()
        }));
        points.extend(interface_info(&cam));
    }

    let devices = [
        ("HQ-RTR-01", "tbilisi-hq"),
        ("Isani-1111", "isani"),
        ("Batumi-2201", "batumi"),
        ("Gldani-3301", "gldani"),
        ("Gldani-SW-01", "gldani"),
    ];
    for (n, (device, site)) in devices.into_iter().enumerate() {
        let sw = device == "Gldani-SW-01";
        let down = move |m: i64| sw && m >= 30;
        let base = 0.4 + n as f64 * 0.3;
        points.extend(device_series(
            "wardflux_device_up",
            device,
            site,
            &[],
            |m| {
                if down(m) {
                    0.0
                } else {
                    1.0
                }
            },
        ));
        points.extend(device_series(
            "wardflux_device_poll_duration_seconds",
            device,
            site,
            &[],
            |m| {
                if down(m) {
                    6.0
                } else {
                    base + (m % 3) as f64 * 0.1
                }
            },
        ));
        // Three requests a visit; a visit of the silent switch times out three times.
        let timeouts = move |m: i64| {
            if sw {
                3.0 * (m - 29).max(0) as f64
            } else {
                0.0
            }
        };
        points.extend(device_series(
            "wardflux_device_snmp_timeouts_total",
            device,
            site,
            &[],
            timeouts,
        ));
        points.extend(device_series(
            "wardflux_device_snmp_requests_total",
            device,
            site,
            &[],
            move |m| 3.0 * m as f64 + timeouts(m),
        ));
        points.extend(device_series(
            "wardflux_device_poll_failures_total",
            device,
            site,
            &[],
            move |m| if sw { (m - 29).max(0) as f64 } else { 0.0 },
        ));
        points.extend(device_series(
            "wardflux_device_if_wraps_total",
            device,
            site,
            &[],
            move |m| if n == 3 { (m / 3) as f64 } else { 0.0 },
        ));
        points.extend(device_series(
            "wardflux_device_if_ambiguous_readings_total",
            device,
            site,
            &[],
            move |m| if n == 3 { (m / 10) as f64 } else { 0.0 },
        ));
        // Device health as the exporter serves it (device labels, wardflux-devices job):
        // CPU and memory ratios, a temperature sensor with its threshold, a fan and a power
        // supply; Batumi's fan fails at minute 30.
        let dev = device_labels(device, site);
        let cpu = [
            ("mib", "CISCO-PROCESS-MIB"),
            ("cpu", "1"),
            ("cpu_name", "CPU of Route Processor 0"),
        ];
        points.extend(gauge(
            "wardflux_device_cpu_ratio",
            &dev,
            &cpu,
            0,
            END,
            |m| Some(0.1 + n as f64 * 0.1 + (m % 4) as f64 * 0.01),
        ));
        let pool = [
            ("mib", "CISCO-ENHANCED-MEMPOOL-MIB"),
            ("pool_index", "1.1"),
            ("pool", "Processor"),
        ];
        points.extend(gauge(
            "wardflux_device_memory_used_ratio",
            &dev,
            &pool,
            0,
            END,
            |_| Some(0.3 + n as f64 * 0.1),
        ));
        let inlet = [("sensor", "Inlet")];
        points.extend(gauge(
            "wardflux_device_temperature_celsius",
            &dev,
            &inlet,
            0,
            END,
            |m| Some(30.0 + n as f64 + (m % 3) as f64),
        ));
        points.extend(gauge(
            "wardflux_device_temperature_threshold_celsius",
            &dev,
            &inlet,
            0,
            END,
            |_| Some(55.0),
        ));
        let batumi = device == "Batumi-2201";
        points.extend(gauge(
            "wardflux_device_component_ok",
            &dev,
            &[("component", "fan"), ("name", "Fan 1")],
            0,
            END,
            |m| Some(if batumi && m >= 30 { 0.0 } else { 1.0 }),
        ));
        points.extend(gauge(
            "wardflux_device_component_ok",
            &dev,
            &[("component", "power_supply"), ("name", "PS1")],
            0,
            END,
            |_| Some(1.0),
        ));
        points.extend(device_series(
            "wardflux_device_interfaces",
            device,
            site,
            &[],
            |_| if sw { 1.0 } else { 3.0 },
        ));
    }
    Bank { points, uplinks }
}

/// Hour-of-week baselines for every uplink, written through the ruler's own store.
async fn insert_baselines(store: &dyn Store, uplinks: &[(String, String)]) {
    let mut rows = Vec::new();
    for (device, if_name) in uplinks {
        for direction in [Direction::In, Direction::Out] {
            let level = if direction == Direction::In {
                110.0
            } else {
                38.0
            };
            for day_of_week in 0..7u8 {
                for hour_of_day in 0..24u8 {
                    let mean = level * (0.5 + 0.5 * (f64::from(hour_of_day) / 24.0));
                    rows.push(BaselineRow {
                        device: device.clone(),
                        if_name: if_name.clone(),
                        direction,
                        bucket: Bucket {
                            day_of_week,
                            hour_of_day,
                        },
                        stats: BucketStats {
                            mean,
                            std_dev: mean * 0.1,
                            min: mean * 0.7,
                            max: mean * 1.3,
                            median: mean,
                            mad: mean * 0.07,
                            samples: 24,
                            confidence: 0.95,
                        },
                        timezone: "Asia/Tbilisi".into(),
                        last_updated: at(0),
                    });
                }
            }
        }
    }
    store
        .upsert_baselines(&rows)
        .await
        .expect("writing baselines");
}

/// A resolved traffic-anomaly row shaped like the ruler's anomaly rule writes them.
async fn insert_anomaly(pool: &sqlx::PgPool) {
    sqlx::query(
        "INSERT INTO alert_history (alert_name, group_name, fingerprint, severity, device, \
         if_name, interface_type, isp_provider, message, value, labels, annotations, state, \
         started_at, resolved_at, last_evaluated_at) VALUES ($1, $2, 'f00dfeed', 'medium', \
         'HQ-RTR-01', 'Gi0/0/1', 'isp', 'silknet', \
         'Traffic spike detected: 900 Mbps (expected 320 +/- 80 Mbps)', 900, \
         '{\"alertname\": \"TrafficAnomaly\", \"direction\": \"in\", \"kind\": \"spike\"}', \
         '{\"description\": \"Inbound traffic on Gi0/0/1 (silknet) of HQ-RTR-01 is 7.2 sigma above its Monday 13:00 baseline\", \
           \"z_score\": \"7.20\", \"expected_mbps\": \"320\", \"spread_mbps\": \"80\"}', \
         'resolved', $3, $4, $4)",
    )
    .bind(ANOMALY_ALERT)
    .bind(ANOMALY_GROUP)
    .bind(at(5))
    .bind(at(25))
    .execute(pool)
    .await
    .expect("inserting an anomaly row");
}

/// The exporter's inventory-store tables, created by the exporter's own migration files, in
/// the ruler's database (the inventory dashboard reads both in one database).
const EXPORTER_MIGRATIONS: [&str; 2] = [
    include_str!("../../exporter/migrations/postgres/0001_device_interfaces.sql"),
    include_str!("../../exporter/migrations/postgres/0002_interface_edits.sql"),
];

/// `interface_metrics_summary` as the ruler's contract has it, for a ruler whose migrations do
/// not create it yet; when they do (migration 0005), theirs stays.
const SUMMARY_TABLE: &str = "CREATE TABLE IF NOT EXISTS interface_metrics_summary (
    id BIGSERIAL PRIMARY KEY, device_name TEXT NOT NULL, if_index BIGINT NOT NULL,
    if_name TEXT NOT NULL, avg_in_mbps DOUBLE PRECISION, max_in_mbps DOUBLE PRECISION,
    avg_out_mbps DOUBLE PRECISION, max_out_mbps DOUBLE PRECISION,
    total_in_gb DOUBLE PRECISION, total_out_gb DOUBLE PRECISION,
    avg_error_rate DOUBLE PRECISION, max_error_rate DOUBLE PRECISION,
    avg_utilization DOUBLE PRECISION, max_utilization DOUBLE PRECISION,
    window_start TIMESTAMPTZ NOT NULL, window_end TIMESTAMPTZ NOT NULL,
    calculated_at TIMESTAMPTZ NOT NULL)";

/// The bank's interfaces as the exporter's inventory store writes them (the same routers as
/// the series: two ISP uplinks and a LAN port each), an API edit's audit row, and 24-hour
/// summaries for the uplinks of two routers (the others have none yet).
async fn insert_inventory(pool: &sqlx::PgPool) {
    for sql in EXPORTER_MIGRATIONS {
        sqlx::raw_sql(sql)
            .execute(pool)
            .await
            .expect("the exporter's migrations");
    }
    sqlx::raw_sql(SUMMARY_TABLE)
        .execute(pool)
        .await
        .expect("interface_metrics_summary");
    let routers = [
        ("HQ-RTR-01", "magti", "silknet", "up", "up"),
        ("Isani-1111", "magti", "silknet", "up", "up"),
        ("Batumi-2201", "veon", "geocell", "up", "down"),
        ("Gldani-3301", "magti", "caucasus_online", "down", "down"),
    ];
    for (n, (device, pa, pb, sa, sb)) in routers.into_iter().enumerate() {
        let ports = [
            (1, "Gi0/0/0", "isp", Some(pa), sa, None),
            (2, "Gi0/0/1", "isp", Some(pb), sb, None),
            (
                3,
                "Gi0/0/2",
                "access",
                None,
                "up",
                Some(("Gldani-SW-01", "Gi1/0/1")),
            ),
        ];
        for (ix, name, ty, provider, oper, peer) in ports {
            let changed = if oper == "down" { at(25) } else { at(0) };
            sqlx::query(
                "INSERT INTO device_interfaces (device_name, device_id, if_index, if_name, \
                 if_descr, if_alias, if_type, interface_type, isp_provider, is_critical, \
                 monitored, classification_rule, classification_confidence, admin_status, \
                 oper_status, speed, mac_address, connected_to_device, connected_to_interface, \
                 lldp_neighbor_name, lldp_neighbor_port, discovered_at, last_seen, \
                 last_status_change, enabled) VALUES ($1, $2, $3, $4, $4, $5, 6, $6, $7, $8, \
                 true, 'test', 0.9, 'up', $9, 1000000000, '00:11:22:33:44:55', $10, $11, $10, \
                 $11, $12, $13, $14, true)",
            )
            .bind(device)
            .bind(n as i64 + 1)
            .bind(ix as i64)
            .bind(name)
            .bind(format!("{} uplink", provider.unwrap_or("lan")))
            .bind(ty)
            .bind(provider)
            .bind(ty == "isp")
            .bind(oper)
            .bind(peer.map(|p| p.0))
            .bind(peer.map(|p| p.1))
            .bind(at(0))
            .bind(at(END))
            .bind(changed)
            .execute(pool)
            .await
            .expect("inserting a device_interfaces row");
            if ty == "isp" && n < 2 {
                sqlx::query(
                    "INSERT INTO interface_metrics_summary (device_name, if_index, if_name, \
                     avg_in_mbps, max_in_mbps, avg_out_mbps, max_out_mbps, total_in_gb, \
                     total_out_gb, avg_error_rate, max_error_rate, avg_utilization, \
                     max_utilization, window_start, window_end, calculated_at) \
                     VALUES ($1, $2, $3, 120, 155, 40, 52, 1296, 432, 0.002, 0.004, 0.12, 0.16, \
                     $4, $5, $5)",
                )
                .bind(device)
                .bind(ix as i64)
                .bind(name)
                .bind(at(END) - CDuration::hours(24))
                .bind(at(END))
                .execute(pool)
                .await
                .expect("inserting an interface_metrics_summary row");
            }
        }
    }
    sqlx::query(
        "INSERT INTO interface_edit_audit (at, edited_by, action, device_name, if_name, if_index, \
         old_values, new_values, edit_before, edit_after) VALUES ($1, 'noc-admin', 'patch', \
         'Batumi-2201', 'Gi0/0/1', 2, '{\"is_critical\": false}', '{\"is_critical\": true}', \
         NULL, '{\"is_critical\": true}')",
    )
    .bind(at(40))
    .execute(pool)
    .await
    .expect("inserting an interface_edit_audit row");
}

// ------------------------------------------------------------------------------ substitution

/// Values a user would pick; a dashboard variable not listed here fails the test.
/// Multi-value variables get what Grafana sends for a selection of several values.
fn variable_value(name: &str) -> Option<String> {
    Some(
        match name {
            // The Batumi branch (one uplink down) and Gldani (total outage).
            "site" => "batumi|gldani",
            "provider" => ".*",
            "device" => "Batumi-2201|Gldani-3301|Gldani-SW-01",
            "interface" => "Gi0/0/0",
            "k" => "3",
            "severity" => "'critical','high','medium','low'",
            _ => return None,
        }
        .to_string(),
    )
}

/// Single-value variables of the interface dashboard are a device and an interface.
fn single_value(name: &str) -> Option<&'static str> {
    match name {
        "device" => Some("HQ-RTR-01"),
        "interface" => Some("Gi0/0/0"),
        _ => None,
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A dashboard's template variables: all of them, and those that take several values.
struct Vars {
    defined: BTreeSet<String>,
    multi: BTreeSet<String>,
}

impl Vars {
    fn of(list: &[Value]) -> Vars {
        let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_string();
        Vars {
            defined: list.iter().map(name).collect(),
            multi: list
                .iter()
                .filter(|v| v["multi"] == true || v["includeAll"] == true)
                .map(name)
                .collect(),
        }
    }
}

/// Replaces `$name` and `${name}` with the value picked for it; panics on a variable the
/// dashboard does not define or the test has no value for.
fn substitute_vars(text: &str, vars: &Vars, what: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, used) = if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').expect("unclosed ${");
            (&body[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        assert!(
            vars.defined.contains(name),
            "{what}: ${name} is not a variable of the dashboard"
        );
        let value = if vars.multi.contains(name) {
            variable_value(name)
        } else {
            single_value(name)
                .map(str::to_string)
                .or_else(|| variable_value(name))
        };
        let value = value.unwrap_or_else(|| panic!("{what}: unknown variable ${name}"));
        out.push_str(&value);
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// Grafana's interval macros for a 60 s step over `range`, then the variables.
fn substitute_promql(expr: &str, range: CDuration, vars: &Vars, what: &str) -> String {
    let secs = range.num_seconds();
    let e = expr
        .replace("$__rate_interval", "5m")
        .replace("$__range_s", &secs.to_string())
        .replace("$__range", &format!("{secs}s"))
        .replace("$__interval_ms", "60000")
        .replace("$__interval", "1m");
    substitute_vars(&e, vars, what)
}

fn substitute_sql(
    q: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    vars: &Vars,
    what: &str,
) -> String {
    let mut q = q
        .replace("$__timeFrom()", &format!("'{}'", rfc(from)))
        .replace("$__timeTo()", &format!("'{}'", rfc(to)));
    while let Some(pos) = q.find("$__timeFilter(") {
        let end = pos + q[pos..].find(')').expect("unclosed $__timeFilter(");
        let col = q[pos + "$__timeFilter(".len()..end].trim().to_string();
        let cond = format!("{col} BETWEEN '{}' AND '{}'", rfc(from), rfc(to));
        q.replace_range(pos..=end, &cond);
    }
    assert!(
        !q.contains("$__"),
        "{what}: unsupported Grafana macro in {q}"
    );
    substitute_vars(&q, vars, what)
}

// ------------------------------------------------------------------------------ metric names

/// The exporter's source files, recursively (each family it renders is named by a string
/// literal in one of them: the interface MIBs, the health and path modules, self metrics).
fn exporter_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            exporter_sources(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

/// Metric names the exporter renders (from its source) and the rules record.
fn produced_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let src = repo().join("exporter/src");
    let mut files = Vec::new();
    exporter_sources(&src, &mut files);
    files.sort();
    for path in files {
        // Self metrics are registered without the `_total` a counter is exposed with.
        let counters_get_total = path.ends_with("metrics/selfmetrics.rs");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        // Every text between two neighbouring quotes, so a quote character in a char
        // literal or a raw string does not shift which pieces are literals.
        let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
        for w in quotes.windows(2) {
            let lit = &text[w[0] + 1..w[1]];
            let metric_like =
                (lit.starts_with("if") || lit.starts_with("dot3") || lit.starts_with("wardflux_"))
                    && lit.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if metric_like {
                names.insert(lit.to_string());
                if counters_get_total {
                    names.insert(format!("{lit}_total"));
                }
            }
        }
    }
    assert!(
        names.contains("ifHCInOctets") && names.contains("wardflux_device_up"),
        "could not read the exporter's metric names: {names:?}"
    );
    let rules = repo().join("rules/alerts");
    for entry in std::fs::read_dir(&rules).expect("reading rules/alerts") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let y: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for g in y["groups"].as_sequence().into_iter().flatten() {
            for r in g["rules"].as_sequence().into_iter().flatten() {
                if let Some(rec) = r["record"].as_str() {
                    names.insert(rec.to_string());
                }
            }
        }
    }
    names
}

struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = ();
    fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
        let vs = match e {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(name) = vs.and_then(|v| v.name.clone()) {
            self.0.insert(name);
        }
        Ok(true)
    }
}

fn metric_names(expr: &str, what: &str) -> BTreeSet<String> {
    let ast = parser::parse(expr).unwrap_or_else(|e| panic!("{what}: not PromQL: {e}\n{expr}"));
    let mut v = Names(BTreeSet::new());
    walk_expr(&mut v, &ast).unwrap();
    assert!(!v.0.is_empty(), "{what}: no metric in {expr}");
    v.0
}

// ------------------------------------------------------------------------------ walking

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for q in p["panels"].as_array().into_iter().flatten() {
            out.push(q);
        }
    }
    out
}

/// Every `datasource` object anywhere in the document.
fn datasource_uids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "datasource" {
                    if let Some(uid) = x["uid"].as_str() {
                        out.push(uid.to_string());
                    } else if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                }
                datasource_uids(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| datasource_uids(x, out)),
        _ => {}
    }
}

enum Kind {
    Prom,
    Sql,
}

fn kind_of(uid: &str, what: &str) -> Kind {
    match uid {
        "${DS_VICTORIAMETRICS}" => Kind::Prom,
        "${DS_POSTGRES}" => Kind::Sql,
        other => panic!("{what}: datasource {other:?} is not a template input"),
    }
}

async fn query_range(vm: &str, expr: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{vm}/api/v1/query_range"))
        .query(&[
            ("query", expr),
            ("start", &from.timestamp().to_string()),
            ("end", &to.timestamp().to_string()),
            ("step", "60"),
        ])
        .send()
        .await
        .expect("query_range");
    let status = r.status();
    let body: Value = serde_json::from_slice(&r.bytes().await.expect("query_range body"))
        .expect("query_range JSON");
    assert!(status.is_success(), "{expr}: HTTP {status}: {body}");
    body
}

async fn label_values(
    vm: &str,
    query: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("variable query {query:?} is not label_values(selector, label)"));
    let (selector, label) = inner
        .rsplit_once(',')
        .expect("label_values(selector, label)");
    let r = reqwest::Client::new()
        .get(format!("{vm}/api/v1/label/{}/values", label.trim()))
        .query(&[
            ("match[]", selector.trim()),
            ("start", &from.timestamp().to_string()),
            ("end", &to.timestamp().to_string()),
        ])
        .send()
        .await
        .expect("label values");
    let body: Value = serde_json::from_slice(&r.bytes().await.expect("label values body"))
        .expect("label values JSON");
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {body}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_what_wardflux_produces() {
    let boards = dashboards();
    let produced = produced_metrics();

    let vm = Vm::start().await;
    let fixture = StoreFixture::new(Backend::Postgres).await;
    let pool = sqlx::PgPool::connect(fixture.url.expose())
        .await
        .expect("connecting to the test database");

    let bank = bank();
    vm.import(&bank.points).await;
    // The shipped rules, evaluated minute by minute: recording series and alert rows.
    let h = Harness::new(&vm.url(), fixture.store.clone(), Settings::default()).await;
    h.run(0, END).await;
    insert_baselines(fixture.store.as_ref(), &bank.uplinks).await;
    insert_anomaly(&pool).await;
    insert_inventory(&pool).await;

    let to = at(END);
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, d) in &boards {
        // Datasources are the template inputs, never a UID of someone's Grafana.
        let inputs: BTreeMap<String, String> = d["__inputs"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no __inputs"))
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap_or_default().to_string(),
                    i["pluginId"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut uids = Vec::new();
        datasource_uids(d, &mut uids);
        for uid in &uids {
            match uid.as_str() {
                "-- Mixed --" | "-- Grafana --" => {}
                "${DS_VICTORIAMETRICS}" => assert_eq!(
                    inputs.get("DS_VICTORIAMETRICS").map(String::as_str),
                    Some("prometheus"),
                    "{file}: DS_VICTORIAMETRICS must be a prometheus __input"
                ),
                // `postgres`, not `grafana-postgresql-datasource`: Grafana 10.0-10.2.2 know
                // only the first, 10.2.3 and later take it as an alias of the second.
                "${DS_POSTGRES}" => assert_eq!(
                    inputs.get("DS_POSTGRES").map(String::as_str),
                    Some("postgres"),
                    "{file}: DS_POSTGRES must be a postgres __input"
                ),
                other => panic!("{file}: hard-coded datasource {other:?}"),
            }
        }
        let text = serde_json::to_string(d).unwrap();
        assert!(
            !text.contains("grafana-postgresql-datasource"),
            "{file}: the PostgreSQL plugin id of Grafana 10.2.3+ only; use postgres"
        );
        // Each input is also a datasource variable of the same type, before the variables
        // that query it: a dashboard provisioned from a file (no import dialog fills the
        // inputs in) resolves ${DS_*} through it.
        let list = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (name, plugin) in &inputs {
            let pos = list
                .iter()
                .position(|v| v["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{file}: no datasource variable {name}"));
            assert_eq!(list[pos]["type"], "datasource", "{file}: {name}");
            assert_eq!(list[pos]["query"], plugin.as_str(), "{file}: {name}");
            let reference = format!("${{{name}}}");
            if let Some(first_user) = list
                .iter()
                .position(|v| serde_json::to_string(v).unwrap().contains(&reference))
            {
                assert!(pos < first_user, "{file}: {name} after a variable using it");
            }
        }

        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let defs = Vars::of(&vars);
        let range = default_range(d, file);
        let from = to - range;
        // Variable queries list the values the test then picks.
        for v in &vars {
            let name = v["name"].as_str().unwrap();
            if v["type"] != "query" {
                continue;
            }
            let what = format!("{file}: variable {name}");
            let q = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .unwrap();
            let q = substitute_promql(q, range, &defs, &what);
            for m in metric_names(&label_selector(&q), &what) {
                if !produced.contains(&m) {
                    failures.push(format!("{what}: metric {m} is produced by no component"));
                }
            }
            let values = label_values(&vm.url(), &q, from, to).await;
            let pick = if defs.multi.contains(name) {
                variable_value(name).unwrap()
            } else {
                single_value(name).unwrap().to_string()
            };
            if pick != ".*" && !pick.split('|').all(|p| values.contains(&p.to_string())) {
                failures.push(format!("{what}: {q} lists {values:?}, not {pick}"));
            }
            checked += 1;
        }

        for p in panels(d) {
            let title = p["title"].as_str().unwrap_or("?");
            for t in p["targets"].as_array().into_iter().flatten() {
                let ds = if t["datasource"].is_object() {
                    &t["datasource"]
                } else {
                    &p["datasource"]
                };
                let what = format!("{file}: panel {title:?} target {}", t["refId"]);
                match kind_of(ds["uid"].as_str().unwrap_or_default(), &what) {
                    Kind::Prom => {
                        let raw = t["expr"]
                            .as_str()
                            .unwrap_or_else(|| panic!("{what}: no expr"));
                        let expr = substitute_promql(raw, range, &defs, &what);
                        for m in metric_names(&expr, &what) {
                            if !produced.contains(&m) {
                                failures.push(format!(
                                    "{what}: metric {m} is produced by no component"
                                ));
                            }
                        }
                        let body = query_range(&vm.url(), &expr, from, to).await;
                        let n = body["data"]["result"].as_array().map_or(0, Vec::len);
                        if n == 0 {
                            failures.push(format!("{what}: no data for {expr}"));
                        }
                    }
                    Kind::Sql => {
                        let raw = t["rawSql"]
                            .as_str()
                            .unwrap_or_else(|| panic!("{what}: no rawSql"));
                        let q = substitute_sql(raw, from, to, &defs, &what);
                        match sqlx::query(&q).fetch_all(&pool).await {
                            Ok(rows) if rows.is_empty() => {
                                failures.push(format!("{what}: no rows for\n{q}"))
                            }
                            Ok(_) => {}
                            Err(e) => failures.push(format!("{what}: {e}\n{q}")),
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    // The summary panel joins the ruler's summaries onto the exporter's interfaces: the uplinks
    // of two routers have one, every other monitored interface is listed without.
    let (_, inventory) = boards
        .iter()
        .find(|(f, _)| f == "inventory.json")
        .expect("dashboards/inventory.json");
    let summary = panels(inventory)
        .into_iter()
        .find(|p| p["title"] == "Last 24 hours per interface")
        .expect("the summary panel");
    let sql = summary["targets"][0]["rawSql"].as_str().unwrap();
    let rows = sqlx::query(sql)
        .fetch_all(&pool)
        .await
        .expect("summary panel");
    use sqlx::Row as _;
    let with: usize = rows
        .iter()
        .filter(|r| {
            r.try_get::<Option<f64>, _>("avg_in_mbps")
                .unwrap()
                .is_some()
        })
        .count();
    assert_eq!((rows.len(), with), (12, 4), "summary panel rows");
    eprintln!("dashboards: {checked} variable queries and panel targets returned data");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 40, "only {checked} queries checked");
}

/// The span of a dashboard's default time range (`now-6h` to `now`).
fn default_range(d: &Value, file: &str) -> CDuration {
    let from = d["time"]["from"].as_str().unwrap_or_default();
    assert_eq!(d["time"]["to"], "now", "{file}: time range must end now");
    let span = from
        .strip_prefix("now-")
        .and_then(|s| promql_parser::util::parse_duration(s).ok())
        .unwrap_or_else(|| panic!("{file}: default time range {from:?} is not now-DURATION"));
    CDuration::from_std(span).unwrap()
}

/// `label_values(selector, label)` -> `selector`.
fn label_selector(q: &str) -> String {
    let inner = q.trim().trim_start_matches("label_values(");
    inner
        .rsplit_once(',')
        .map(|(s, _)| s.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn a_metric_no_component_produces_is_caught() {
    let produced = produced_metrics();
    let names = metric_names(
        "sum by (device) (rate(ifHCInOctetz{device=\"x\"}[5m])) / wardflux:if_traffic_mbps:rate5m",
        "fixture",
    );
    let unknown: Vec<_> = names.difference(&produced).cloned().collect();
    assert_eq!(unknown, vec!["ifHCInOctetz".to_string()]);
}

#[test]
fn grafana_macros_and_variables_are_substituted() {
    let vars = Vars::of(&[
        serde_json::json!({"name": "site", "multi": true}),
        serde_json::json!({"name": "device"}),
        serde_json::json!({"name": "severity", "includeAll": true}),
    ]);
    let e = substitute_promql(
        "rate(ifInErrors{site=~\"$site\", device=\"${device}\"}[$__rate_interval])",
        CDuration::hours(6),
        &vars,
        "t",
    );
    assert_eq!(
        e,
        "rate(ifInErrors{site=~\"batumi|gldani\", device=\"HQ-RTR-01\"}[5m])"
    );
    let q = substitute_sql(
        "SELECT 1 WHERE $__timeFilter(started_at) AND severity IN ($severity) AND x > $__timeFrom()",
        at(0),
        at(60),
        &vars,
        "t",
    );
    assert_eq!(
        q,
        "SELECT 1 WHERE started_at BETWEEN '2026-03-02T09:00:00Z' AND '2026-03-02T10:00:00Z' \
         AND severity IN ('critical','high','medium','low') AND x > '2026-03-02T09:00:00Z'"
    );
}

#[test]
#[should_panic(expected = "$interface is not a variable of the dashboard")]
fn a_query_using_an_undefined_variable_is_caught() {
    let vars = Vars::of(&[serde_json::json!({"name": "device"})]);
    substitute_promql(
        "ifOperStatus{device=\"$device\", ifName=\"$interface\"}",
        CDuration::hours(6),
        &vars,
        "fixture",
    );
}
