//! Interface summaries against real VictoriaMetrics and both stores: a day of the exporter's
//! series backfilled with known traffic (an ISP uplink with a burst and an error burst, a
//! 32-bit camera with only ifSpeed, an uplink relabelled at noon), then the rows of
//! `interface_metrics_summary` compared with the figures the traffic implies; a second run
//! replaces the rows; VictoriaMetrics stopped keeps them; the operations guide's SQL on the
//! table (joined with the exporter's `device_interfaces`) runs on both stores.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth).

#[macro_use]
mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use wardflux_ruler::datasource::Point;
use wardflux_ruler::metrics::{Metrics, ResultLabel};
use wardflux_ruler::store::SummaryRow;
use wardflux_ruler::summary::{self, Clock, SummaryConfig};

/// The day summarised: minutes 0..1440 of the scenario.
const DAY: i64 = 1440;

fn uplink() -> Iface {
    iface("TBS-RTR", 1, "Gi0/0/0", "isp", "magti", true)
}

fn camera() -> Iface {
    let mut i = iface("TBS-CAM", 2, "eth0", "camera", "", false);
    i.counter_bits = 32;
    i.speed_mbps = 100.0;
    i
}

fn relabelled() -> Iface {
    iface("BTM-RTR", 5, "Gi0/0/1", "access", "", false)
}

/// The uplink: 100 Mbps in (400 for half an hour from minute 600), 50 out; 0.2 % of inbound
/// packets errored (1 % for a quarter of an hour from minute 1000).
fn uplink_state(m: i64) -> IfState {
    IfState {
        in_mbps: if (600..630).contains(&m) {
            400.0
        } else {
            100.0
        },
        out_mbps: 50.0,
        in_error_ratio: if (1000..1015).contains(&m) {
            0.01
        } else {
            0.002
        },
        ..IfState::default()
    }
}

/// The camera: 20 Mbps in, 5 out, no errors; 60 Mbps in after the first day.
fn camera_state(m: i64) -> IfState {
    IfState {
        in_mbps: if m >= DAY { 60.0 } else { 20.0 },
        out_mbps: 5.0,
        ..IfState::default()
    }
}

fn relabelled_state(_: i64) -> IfState {
    IfState {
        in_mbps: 30.0,
        out_mbps: 10.0,
        ..IfState::default()
    }
}

/// Every series from minute -10 to `to`; the third interface becomes an ISP uplink of
/// silknet at minute 720 (a classification edit: new series, same counters).
fn fleet(to: i64) -> Vec<Point> {
    let mut points = series(&uplink(), -10, to, uplink_state);
    points.extend(series(&camera(), -10, to, camera_state));
    let noon = at(720);
    points.extend(
        series(&relabelled(), -10, to, relabelled_state)
            .into_iter()
            .map(|mut p| {
                if p.at >= noon {
                    p.labels.insert("interface_type".into(), "isp".into());
                    p.labels.insert("isp_provider".into(), "silknet".into());
                    p.labels.insert("ifAlias".into(), "isp silknet".into());
                }
                p
            }),
    );
    points
}

/// Gigabytes of `mbps_minutes` (Mbps sustained for minutes, summed).
fn gb(mbps_minutes: f64) -> f64 {
    mbps_minutes * 1e6 / 8.0 * 60.0 / 1e9
}

fn calc(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(15 * n)
}

#[track_caller]
fn close(what: &str, got: Option<f64>, want: f64) {
    let g = got.unwrap_or_else(|| panic!("{what}: NULL, want {want}"));
    assert!(
        (g - want).abs() <= want.abs() * 1e-9 + 1e-12,
        "{what}: got {g}, want {want}"
    );
}

fn row<'a>(rows: &'a [SummaryRow], device: &str) -> &'a SummaryRow {
    rows.iter()
        .find(|r| r.device_name == device)
        .unwrap_or_else(|| panic!("no row for {device}: {rows:?}"))
}

fn cfg() -> SummaryConfig {
    SummaryConfig::default()
}

async fn summaries_hold_the_exact_figures_of_the_window(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&fleet(DAY + 15)).await;
    let st = StoreFixture::new(backend).await;
    let client = vm.client();
    let rep = summary::run_once(&client, st.store.as_ref(), &cfg(), at(DAY), calc(0))
        .await
        .expect("first run");
    assert_eq!((rep.rows, rep.deleted, rep.unkeyed), (3, 0, 0));
    let rows = st.store.summaries().await.unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");

    // The uplink.
    let r = row(&rows, "TBS-RTR");
    assert_eq!(
        (r.if_index, r.if_name.as_str(), r.site.as_deref()),
        (1, "Gi0/0/0", Some("tbilisi-hq"))
    );
    assert_eq!(r.interface_type.as_deref(), Some("isp"));
    assert_eq!(r.isp_provider.as_deref(), Some("magti"));
    assert_eq!((r.window_start, r.window_end), (at(0), at(DAY)));
    assert_eq!(r.calculated_at, calc(0));
    let in_mm = 1410.0 * 100.0 + 30.0 * 400.0;
    close("uplink total_in_gb", r.total_in_gb, gb(in_mm));
    close("uplink total_out_gb", r.total_out_gb, gb(1440.0 * 50.0));
    close("uplink avg_in_mbps", r.avg_in_mbps, in_mm / 1440.0);
    close("uplink avg_out_mbps", r.avg_out_mbps, 50.0);
    close("uplink max_in_mbps", r.max_in_mbps, 400.0);
    close("uplink max_out_mbps", r.max_out_mbps, 50.0);
    // Packets of 800 bytes plus 90 multicast and broadcast a minute each way (common::series).
    let pk_min = |mbps: f64| mbps * 1e6 / 8.0 * 60.0 / 800.0;
    let errors =
        1395.0 * pk_min(100.0) * 0.002 + 30.0 * pk_min(400.0) * 0.002 + 15.0 * pk_min(100.0) * 0.01;
    let packets = (in_mm / 100.0) * pk_min(100.0) + 1440.0 * pk_min(50.0) + 2.0 * 1440.0 * 90.0;
    close(
        "uplink avg_error_rate",
        r.avg_error_rate,
        errors / packets * 100.0,
    );
    let burst = pk_min(100.0) * 0.01 / (pk_min(100.0) + pk_min(50.0) + 180.0);
    close("uplink max_error_rate", r.max_error_rate, burst * 100.0);
    close(
        "uplink avg_utilization",
        r.avg_utilization,
        in_mm / 1440.0 / 1000.0 * 100.0,
    );
    close("uplink max_utilization", r.max_utilization, 40.0);
    assert_eq!(r.samples, Some(1440));

    // The camera: 32-bit counters extended by the exporter, speed from ifSpeed only.
    let r = row(&rows, "TBS-CAM");
    assert_eq!(r.interface_type.as_deref(), Some("camera"));
    assert_eq!(r.isp_provider, None, "an empty label is NULL");
    close("camera total_in_gb", r.total_in_gb, gb(1440.0 * 20.0));
    close("camera avg_in_mbps", r.avg_in_mbps, 20.0);
    close("camera max_out_mbps", r.max_out_mbps, 5.0);
    close("camera avg_error_rate", r.avg_error_rate, 0.0);
    close("camera max_error_rate", r.max_error_rate, 0.0);
    close("camera avg_utilization", r.avg_utilization, 20.0);
    close("camera max_utilization", r.max_utilization, 20.0);

    // Relabelled at noon: its two series add up (less the minute between them), and the
    // newest names it.
    let r = row(&rows, "BTM-RTR");
    assert_eq!(r.interface_type.as_deref(), Some("isp"));
    assert_eq!(r.isp_provider.as_deref(), Some("silknet"));
    close("relabelled total_in_gb", r.total_in_gb, gb(1439.0 * 30.0));
    close(
        "relabelled avg_in_mbps",
        r.avg_in_mbps,
        1439.0 * 30.0 / 1440.0,
    );
    close("relabelled max_in_mbps", r.max_in_mbps, 30.0);
    close("relabelled max_utilization", r.max_utilization, 3.0);
    assert_eq!(r.samples, Some(1440));

    // A second run, a quarter of an hour later, replaces the rows: the camera's last quarter
    // at 60 Mbps, the window moved.
    let rep = summary::run_once(&client, st.store.as_ref(), &cfg(), at(DAY + 15), calc(1))
        .await
        .expect("second run");
    assert_eq!(rep.rows, 3);
    let again = st.store.summaries().await.unwrap();
    assert_eq!(again.len(), 3, "one row per interface: {again:?}");
    let r = row(&again, "TBS-CAM");
    assert_eq!((r.window_start, r.window_end), (at(15), at(DAY + 15)));
    assert_eq!(r.calculated_at, calc(1));
    close(
        "camera total_in_gb, second run",
        r.total_in_gb,
        gb(1425.0 * 20.0 + 15.0 * 60.0),
    );
    close("camera max_in_mbps, second run", r.max_in_mbps, 60.0);
    let ids = pg_or_sqlite_ids(&st, backend).await;
    assert_eq!(ids.len(), 3, "no duplicate rows: {ids:?}");
}

/// The ids of the table's rows, read with plain SQL.
async fn pg_or_sqlite_ids(st: &StoreFixture, backend: Backend) -> Vec<i64> {
    let q = "SELECT id FROM interface_metrics_summary ORDER BY id";
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(st.url.expose()).await.unwrap();
            sqlx::query_scalar(q).fetch_all(&pool).await.unwrap()
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(st.url.expose()).await.unwrap();
            sqlx::query_scalar(q).fetch_all(&pool).await.unwrap()
        }
    }
}

fn runs(m: &Metrics, result: &str) -> u64 {
    m.summary_runs
        .get_or_create(&ResultLabel {
            result: result.into(),
        })
        .get()
}

async fn a_datasource_outage_keeps_the_previous_rows(backend: Backend) {
    let mut vm = Vm::start().await;
    vm.import(&fleet(DAY + 30)).await;
    let st = StoreFixture::new(backend).await;
    let client = vm.client();
    let metrics = Metrics::new();
    let clock: Clock = std::sync::Arc::new(|| calc(0));
    summary::run_counted(
        &client,
        st.store.as_ref(),
        &cfg(),
        &metrics,
        at(DAY),
        &clock,
    )
    .await
    .expect("first run");
    let before = st.store.summaries().await.unwrap();
    assert_eq!(before.len(), 3);
    assert_eq!(metrics.summary_last_success.get(), calc(0).timestamp());

    // Stopped gracefully, so its data is still there when it comes back.
    vm.stop();
    let clock: Clock = std::sync::Arc::new(|| calc(1));
    let e = summary::run_counted(
        &client,
        st.store.as_ref(),
        &cfg(),
        &metrics,
        at(DAY + 15),
        &clock,
    )
    .await
    .expect_err("VictoriaMetrics is down");
    assert_eq!(e.result(), "datasource_error", "{e}");
    assert_eq!(
        st.store.summaries().await.unwrap(),
        before,
        "the rows of the last good run stay as they were"
    );
    assert_eq!(runs(&metrics, "success"), 1);
    assert_eq!(runs(&metrics, "datasource_error"), 1);
    assert_eq!(metrics.summary_last_success.get(), calc(0).timestamp());
    let text = metrics.render();
    assert!(
        text.contains("wardflux_ruler_summary_runs_total{result=\"datasource_error\"} 1"),
        "{text}"
    );

    vm.start_again().await;
    let clock: Clock = std::sync::Arc::new(|| calc(2));
    summary::run_counted(
        &client,
        st.store.as_ref(),
        &cfg(),
        &metrics,
        at(DAY + 30),
        &clock,
    )
    .await
    .expect("VictoriaMetrics is back");
    let after = st.store.summaries().await.unwrap();
    assert_eq!(after.len(), 3);
    assert!(
        after.iter().all(|r| r.calculated_at == calc(2)),
        "{after:?}"
    );
    assert_eq!(metrics.summary_rows_written.get(), 6);
}

/// The operations guide's SQL blocks that read `interface_metrics_summary`.
fn documented_queries() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/operations.md"
    ))
    .unwrap();
    let blocks: Vec<String> = text
        .split("```sql\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("interface_metrics_summary"))
        .flat_map(|b| {
            b.split(';')
                .map(str::trim)
                .filter(|s| s.lines().any(|l| !l.trim_start().starts_with("--")))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(blocks.len() >= 2, "{blocks:?}");
    blocks
}

/// Device, provider and the inventory's oper_status of a row of the guide's ISP query.
type IspRow = (String, Option<String>, Option<String>);

async fn the_documented_sql_runs_on_the_store(backend: Backend) {
    let vm = Vm::start().await;
    vm.import(&fleet(DAY)).await;
    let st = StoreFixture::new(backend).await;
    summary::run_once(&vm.client(), st.store.as_ref(), &cfg(), at(DAY), calc(0))
        .await
        .expect("run");
    let dir = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let ddl = std::fs::read_to_string(format!(
        "{}/../exporter/migrations/{dir}/0001_device_interfaces.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let insert = "INSERT INTO device_interfaces (device_name, if_index, if_name, interface_type, \
                  isp_provider, oper_status, discovered_at, last_seen) VALUES \
                  ('TBS-RTR', 1, 'Gi0/0/0', 'isp', 'magti', 'up', $1, $1)";
    // The ISP query's rows; the other queries must just run.
    let mut isp_rows: Option<Vec<IspRow>> = None;
    macro_rules! exercise {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::raw_sql(&ddl)
                .execute(&pool)
                .await
                .expect("device_interfaces");
            sqlx::query(insert)
                .bind(at(0))
                .execute(&pool)
                .await
                .expect("inventory row");
            for q in documented_queries() {
                let rows = sqlx::query(&q)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{q}\n{e}"));
                if q.contains("LEFT JOIN device_interfaces") {
                    use sqlx::Row;
                    isp_rows = Some(
                        rows.iter()
                            .map(|r| {
                                (
                                    r.get::<String, _>("device_name"),
                                    r.get::<Option<String>, _>("isp_provider"),
                                    r.get::<Option<String>, _>("oper_status"),
                                )
                            })
                            .collect(),
                    );
                }
            }
        }};
    }
    match backend {
        Backend::Postgres => exercise!(sqlx::PgPool::connect(st.url.expose()).await.unwrap()),
        Backend::Sqlite => exercise!(sqlx::SqlitePool::connect(st.url.expose()).await.unwrap()),
    }
    assert_eq!(
        isp_rows.expect("the guide joins the summary with device_interfaces"),
        vec![
            ("TBS-RTR".into(), Some("magti".into()), Some("up".into())),
            ("BTM-RTR".into(), Some("silknet".into()), None),
        ],
        "ISP uplinks fullest first, the inventory's state where it has the interface"
    );
}

both_stores!(
    summaries_hold_the_exact_figures_of_the_window,
    a_datasource_outage_keeps_the_previous_rows,
    the_documented_sql_runs_on_the_store,
);

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-ruler");

/// A `wardflux-ruler run` process, killed on drop.
struct Ruler {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Ruler {
    fn start(vm: &Vm, store_url: &str) -> Ruler {
        let dir = tempfile::tempdir().unwrap();
        // One recording rule, so the engine has a group; summaries need none.
        std::fs::write(
            dir.path().join("rules.yml"),
            "groups:\n  - name: g\n    rules:\n      - record: x:up\n        expr: vector(1)\n",
        )
        .unwrap();
        let log = dir.path().join("ruler.log");
        let port = free_port();
        let child = std::process::Command::new(BIN)
            .arg(format!("--rules.file={}/rules.yml", dir.path().display()))
            .arg(format!("--datasource.url={}", vm.url()))
            .arg(format!("--store.url={store_url}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--baselines.file={}/none.yml",
                dir.path().display()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wardflux-ruler");
        Ruler {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path`, or None while the process is not answering.
    async fn get(&self, path: &str) -> Option<String> {
        let r = reqwest::get(self.url(path)).await.ok()?;
        r.status().is_success().then_some(())?;
        r.text().await.ok()
    }

    async fn role(&self) -> Option<String> {
        let body = self.get("/api/v1/leader").await?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["role"].as_str().map(str::to_string)
    }
}

impl Drop for Ruler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms for up to two minutes (the machine may be busy).
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    for _ in 0..1200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

const SUCCESS: &str = "wardflux_ruler_summary_runs_total{result=\"success\"}";

/// Two `wardflux-ruler` processes on one PostgreSQL database: the leader writes the
/// summaries at once, the standby runs none; when the leader is killed the other one takes
/// the lead and writes them again.
#[tokio::test]
async fn only_the_leading_replica_writes_summaries() {
    let vm = Vm::start().await;
    // A day ending at the last whole minute, so the runs at start see all of it.
    let now = Utc::now();
    let end = now - chrono::Duration::seconds(now.timestamp() % 60);
    let base = end - chrono::Duration::minutes(DAY);
    let mut points = series_from(base, &uplink(), -10, DAY, uplink_state);
    points.extend(series_from(base, &camera(), -10, DAY, camera_state));
    vm.import(&points).await;
    let db = PgDb::create().await;
    let url = db.url();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let a = Ruler::start(&vm, &url);
    let b = Ruler::start(&vm, &url);
    let (leader, standby) = until("a leader", || async {
        match (a.role().await?.as_str(), b.role().await?.as_str()) {
            ("leader", "standby") => Some((&a, &b)),
            ("standby", "leader") => Some((&b, &a)),
            _ => None,
        }
    })
    .await;
    let first: Vec<(String, DateTime<Utc>, Option<f64>)> = until("the leader's rows", || async {
        let rows: Vec<(String, DateTime<Utc>, Option<f64>)> = sqlx::query_as(
            "SELECT device_name, calculated_at, avg_in_mbps FROM interface_metrics_summary \
             ORDER BY device_name",
        )
        .fetch_all(&pool)
        .await
        .ok()?;
        (rows.len() == 2).then_some(rows)
    })
    .await;
    // The camera sent 20 Mbps all day; the window ends within a minute of the data's end.
    let cam = &first[0];
    assert_eq!(cam.0, "TBS-CAM");
    let avg = cam.2.expect("camera average");
    assert!((19.0..=20.0 + 1e-9).contains(&avg), "camera average {avg}");
    let text = until("the leader's run counted", || async {
        leader.get("/metrics").await.filter(|m| m.contains(SUCCESS))
    })
    .await;
    assert!(
        text.contains("wardflux_ruler_summary_interfaces 2"),
        "{text}"
    );
    let text = standby.get("/metrics").await.expect("standby /metrics");
    assert!(
        !text.contains("wardflux_ruler_summary_runs_total{"),
        "a standby runs no summary:\n{text}\nlog:\n{}",
        standby.log()
    );

    // The leader dies: the standby leads and writes the rows again.
    let (old, new) = if std::ptr::eq(leader, &a) {
        (a, b)
    } else {
        (b, a)
    };
    drop(old);
    until("the new leader's run", || async {
        new.get("/metrics").await.filter(|m| m.contains(SUCCESS))
    })
    .await;
    let later: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT calculated_at FROM interface_metrics_summary")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(later.len(), 2, "still one row per interface");
    assert!(
        later.iter().all(|t| *t > first[0].1),
        "rows rewritten by the new leader: {later:?} after {first:?}\nlog:\n{}",
        new.log()
    );
}
