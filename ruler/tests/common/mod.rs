//! Real components for the ruler's integration tests: a VictoriaMetrics single node on a free
//! port, a PostgreSQL database of the test's own (or a private PostgreSQL server that a test
//! may restart), SQLite files, Alertmanager, and a fleet builder that writes the exporter's
//! series. Missing tools fail the test with a message naming the Debian package.
//!
//! Debian packages: victoria-metrics, postgresql (server on 127.0.0.1:5432, trust auth, plus
//! its binaries for the private server), prometheus (promtool), prometheus-alertmanager.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wardflux_ruler::alert::Transition;
use wardflux_ruler::config::{self, LoadOptions, RuleSet};
use wardflux_ruler::datasource::{BoxFuture, DatasourceError, Importer, Point, Recorded, VmClient};
use wardflux_ruler::engine::{Deps, Engine, Settings};
use wardflux_ruler::labels::Labels;
use wardflux_ruler::metrics::Metrics;
use wardflux_ruler::notifier::Notifier;
use wardflux_ruler::queue::TransitionQueue;
use wardflux_ruler::secret::Secret;
use wardflux_ruler::store::{self, HistoryRow, Store};

/// Minute 0 of every scenario: a Monday, far enough in the past to be plain history.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn at(min: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(min)
}

pub use wardflux_web::testkit::free_port;
/// Fails with the package to install when a tool is missing.
pub use wardflux_web::testkit::require_tool as require;

async fn wait_http(url: &str, what: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not become healthy at {url}");
}

/// A VictoriaMetrics single node with its own data directory.
pub struct Vm {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Vm {
    pub async fn start() -> Vm {
        let dir = tempfile::tempdir().unwrap();
        let mut vm = Vm {
            port: free_port(),
            dir,
            child: None,
        };
        vm.spawn().await;
        vm
    }

    async fn spawn(&mut self) {
        let bin = require("victoria-metrics", "victoria-metrics");
        let child = Command::new(bin)
            .arg(format!("-storageDataPath={}", self.dir.path().display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{}", self.port))
            .arg("-retentionPeriod=100y")
            .arg("-search.disableCache")
            .arg("-search.latencyOffset=0")
            .arg("-loggerLevel=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting victoria-metrics");
        self.child = Some(child);
        wait_http(&format!("{}/health", self.url()), "victoria-metrics").await;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> VmClient {
        VmClient::new(&self.url(), Duration::from_secs(5)).unwrap()
    }

    /// Stops the process gracefully, so the data it holds in memory reaches disk.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            for _ in 0..200 {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the binary again (after [`Vm::kill`] or [`Vm::stop`]) on the same port and data.
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub async fn flush(&self) {
        reqwest::get(format!("{}/internal/force_flush", self.url()))
            .await
            .expect("force_flush");
    }

    pub async fn import(&self, points: &[Point]) {
        self.client().import_points(points).await.expect("backfill");
        self.flush().await;
    }

    /// Instant query, for assertions.
    pub async fn query(
        &self,
        expr: &str,
        t: DateTime<Utc>,
    ) -> Vec<wardflux_ruler::datasource::Sample> {
        use wardflux_ruler::datasource::Querier;
        self.client()
            .query(expr, t, Duration::from_secs(60))
            .await
            .expect("query")
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Imports through VictoriaMetrics and flushes, so recorded series are visible to the next
/// group evaluated at the same instant (live, the next evaluation sees them).
pub struct FlushingImporter {
    pub client: VmClient,
}

impl Importer for FlushingImporter {
    fn import<'a>(&'a self, batch: &'a Recorded) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            self.client.import(batch).await?;
            let _ = self.client.force_flush().await;
            Ok(())
        })
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn admin_url() -> String {
    std::env::var("WARDFLUX_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database of this test's own on the shared PostgreSQL, dropped at the end.
pub struct PgDb {
    pub name: String,
    admin: String,
}

impl PgDb {
    pub async fn create() -> PgDb {
        use sqlx::Connection;
        let name = format!(
            "wardflux_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = admin_url();
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL not reachable at {admin} (Debian package postgresql, trust auth): {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("creating the test database");
        PgDb { name, admin }
    }

    pub fn url(&self) -> String {
        let base = self
            .admin
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&self.admin);
        format!("{base}/{}", self.name)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A private PostgreSQL server in a temp directory, which a test may stop and start (the
/// shared `testkit::PrivatePg` with the directory it lives in).
pub struct PrivatePg {
    pg: wardflux_web::testkit::PrivatePg,
    _dir: tempfile::TempDir,
}

impl PrivatePg {
    pub fn start() -> PrivatePg {
        let dir = tempfile::tempdir().unwrap();
        PrivatePg {
            pg: wardflux_web::testkit::PrivatePg::start_in(dir.path()),
            _dir: dir,
        }
    }
}

impl std::ops::Deref for PrivatePg {
    type Target = wardflux_web::testkit::PrivatePg;
    fn deref(&self) -> &Self::Target {
        &self.pg
    }
}

/// Which store a scenario runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store and what keeps it alive.
pub struct StoreFixture {
    pub url: Secret,
    pub store: Arc<dyn Store>,
    _pg: Option<PgDb>,
    _dir: Option<tempfile::TempDir>,
}

impl StoreFixture {
    pub async fn new(backend: Backend) -> StoreFixture {
        let (url, pg, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("history.db").display());
                (url, None, Some(dir))
            }
            Backend::Postgres => {
                let db = PgDb::create().await;
                (db.url(), Some(db), None)
            }
        };
        let url = Secret::new(url);
        let store: Arc<dyn Store> = Arc::from(store::open(&url).await.unwrap());
        store.migrate().await.expect("migrations");
        StoreFixture {
            url,
            store,
            _pg: pg,
            _dir: dir,
        }
    }

    /// A second handle on the same store, as a restarted process would open it.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        let s: Arc<dyn Store> = Arc::from(store::open(&self.url).await.unwrap());
        s.migrate().await.expect("migrations on reopen");
        s
    }
}

/// The shipped interface rules (recording rules and interface alerts): what the interface
/// scenarios count rows of. The self-monitoring rules (`30-self.yml`, with the always-firing
/// Watchdog) are loaded by the tests about them ([`all_shipped_rules`]).
pub fn default_rules() -> Vec<String> {
    ["10-recording.yml", "20-interfaces.yml"]
        .iter()
        .map(|f| format!("{}/../rules/alerts/{f}", env!("CARGO_MANIFEST_DIR")))
        .collect()
}

pub fn load_default_rules() -> RuleSet {
    config::load(&default_rules(), &LoadOptions::default()).expect("default rules load")
}

/// Every file of `rules/alerts/`, as the ruler loads them by default.
pub fn all_shipped_rules() -> RuleSet {
    let all = vec![format!(
        "{}/../rules/alerts/*.yml",
        env!("CARGO_MANIFEST_DIR")
    )];
    config::load(&all, &LoadOptions::default()).expect("shipped rules load")
}

/// An engine wired to real VictoriaMetrics and a real store, driven at explicit times.
pub struct Harness {
    pub engine: Arc<Engine>,
    pub queue: Arc<TransitionQueue>,
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
}

impl Harness {
    pub async fn new(vm_url: &str, store: Arc<dyn Store>, settings: Settings) -> Harness {
        Self::with(vm_url, store, settings, None, load_default_rules()).await
    }

    pub async fn with(
        vm_url: &str,
        store: Arc<dyn Store>,
        settings: Settings,
        notifier: Option<Arc<dyn Notifier>>,
        rules: RuleSet,
    ) -> Harness {
        let client = VmClient::new(vm_url, Duration::from_secs(2)).unwrap();
        Self::with_querier(Arc::new(client), vm_url, store, settings, notifier, rules).await
    }

    /// [`Harness::with`] asking `querier` (e.g. a wrapper that injects a fault) instead of
    /// a plain client.
    pub async fn with_querier(
        querier: Arc<dyn wardflux_ruler::datasource::Querier>,
        vm_url: &str,
        store: Arc<dyn Store>,
        settings: Settings,
        notifier: Option<Arc<dyn Notifier>>,
        rules: RuleSet,
    ) -> Harness {
        let client = VmClient::new(vm_url, Duration::from_secs(2)).unwrap();
        let metrics = Arc::new(Metrics::new());
        let queue = TransitionQueue::new(10_000, metrics.clone());
        let engine = Engine::new(
            rules,
            Deps {
                querier,
                importer: Arc::new(FlushingImporter { client }),
                queue: queue.clone(),
                notifier,
                metrics: metrics.clone(),
                baselines: Some(wardflux_ruler::baseline::cache::BaselineCache::new(
                    store.clone(),
                )),
            },
            settings,
        );
        let open = store.open_alerts().await.expect("reading open alerts");
        engine.restore(open, Utc::now()).await;
        queue.drain(store.as_ref()).await.expect("writing orphans");
        Harness {
            engine,
            queue,
            metrics,
            store,
        }
    }

    /// Evaluates the groups due at minute `m` and writes what they produced.
    pub async fn tick(&self, m: i64) {
        self.engine.evaluate_due(at(m)).await;
        let _ = self.queue.drain(self.store.as_ref()).await;
    }

    /// Evaluates the groups due at `t` and writes what they produced.
    pub async fn tick_at(&self, t: DateTime<Utc>) {
        self.engine.evaluate_due(t).await;
        let _ = self.queue.drain(self.store.as_ref()).await;
    }

    pub async fn run(&self, from: i64, to: i64) {
        for m in from..=to {
            self.tick(m).await;
        }
    }

    pub async fn rows(&self) -> Vec<HistoryRow> {
        let mut rows = self.store.history(1000).await.expect("reading history");
        rows.reverse();
        rows
    }
}

pub fn rows_of<'a>(rows: &'a [HistoryRow], alert: &str) -> Vec<&'a HistoryRow> {
    rows.iter()
        .filter(|r| r.record.alert_name == alert)
        .collect()
}

/// What an interface does at a given minute.
#[derive(Clone, Copy, Debug)]
pub struct IfState {
    pub oper: f64,
    pub admin: f64,
    pub in_mbps: f64,
    pub out_mbps: f64,
    /// Inbound errors as a fraction of inbound packets.
    pub in_error_ratio: f64,
}

impl Default for IfState {
    fn default() -> Self {
        IfState {
            oper: 1.0,
            admin: 1.0,
            in_mbps: 100.0,
            out_mbps: 50.0,
            in_error_ratio: 0.0,
        }
    }
}

impl IfState {
    pub fn down() -> IfState {
        IfState {
            oper: 2.0,
            in_mbps: 0.0,
            out_mbps: 0.0,
            ..IfState::default()
        }
    }
}

/// An interface with the exporter's labels.
pub struct Iface {
    pub labels: Labels,
    pub speed_mbps: f64,
    /// 64: the agent has ifXTable (HC counters, ifHighSpeed); 32: ifTable only (ifInOctets
    /// wrapping at 2^32, ifSpeed), as cameras and UPS units answer.
    pub counter_bits: u8,
}

pub fn iface(device: &str, index: u32, name: &str, kind: &str, isp: &str, critical: bool) -> Iface {
    let mut l = Labels::new();
    let mut set = |k: &str, v: &str| {
        l.insert(k.to_string(), v.to_string());
    };
    set("device", device);
    set("ifIndex", &index.to_string());
    set("ifName", name);
    set("ifDescr", name);
    set("ifAlias", &format!("{kind} {name}"));
    set("interface_type", kind);
    if !isp.is_empty() {
        set("isp_provider", isp);
    }
    set("is_critical", if critical { "true" } else { "false" });
    set("site", "tbilisi-hq");
    set("job", "wardflux-devices");
    set("instance", "127.0.0.1:9116");
    Iface {
        labels: l,
        speed_mbps: 1000.0,
        counter_bits: 64,
    }
}

/// The exporter's series for `iface` from minute `from` to `to`, one sample a minute, with
/// counters integrating the rates `state` gives per minute.
pub fn series(iface: &Iface, from: i64, to: i64, state: impl Fn(i64) -> IfState) -> Vec<Point> {
    series_from(t0(), iface, from, to, state)
}

/// [`series`] with minute 0 at `base` instead of [`t0`].
pub fn series_from(
    base: DateTime<Utc>,
    iface: &Iface,
    from: i64,
    to: i64,
    state: impl Fn(i64) -> IfState,
) -> Vec<Point> {
    let mut out = Vec::new();
    let (mut in_oct, mut out_oct, mut in_pk, mut out_pk, mut in_err): (f64, f64, f64, f64, f64) =
        (1e9, 1e9, 1e6, 1e6, 0.0);
    for m in from..=to {
        let s = state(m);
        let t = base + chrono::Duration::minutes(m);
        let mut push = |name: &str, v: f64| {
            let mut l = iface.labels.clone();
            l.insert("__name__".into(), name.into());
            out.push(Point {
                labels: l,
                value: v,
                at: t,
            });
        };
        push("ifOperStatus", s.oper);
        push("ifAdminStatus", s.admin);
        push("ifSpeed", (iface.speed_mbps * 1e6).min(4_294_967_295.0));
        push("ifMtu", 1500.0);
        let (mcast, bcast) = (1000.0 + m as f64 * 60.0, 500.0 + m as f64 * 30.0);
        if iface.counter_bits == 64 {
            push("ifHighSpeed", iface.speed_mbps);
            push("ifHCInOctets", in_oct.floor());
            push("ifHCOutOctets", out_oct.floor());
            push("ifHCInUcastPkts", in_pk.floor());
            push("ifHCOutUcastPkts", out_pk.floor());
            push("ifHCInMulticastPkts", mcast);
            push("ifHCOutMulticastPkts", mcast);
            push("ifHCInBroadcastPkts", bcast);
            push("ifHCOutBroadcastPkts", bcast);
            // The exporter's wide counters: the HC values as they are.
            push("wardflux_if_in_octets_total", in_oct.floor());
            push("wardflux_if_out_octets_total", out_oct.floor());
            push(
                "wardflux_if_in_packets_total",
                (in_pk + mcast + bcast).floor(),
            );
            push(
                "wardflux_if_out_packets_total",
                (out_pk + mcast + bcast).floor(),
            );
        } else {
            let wrap = |v: f64| (v.floor() as u64 % (1u64 << 32)) as f64;
            push("ifInOctets", wrap(in_oct));
            push("ifOutOctets", wrap(out_oct));
            push("ifInUcastPkts", wrap(in_pk));
            push("ifOutUcastPkts", wrap(out_pk));
            // The exporter's wide counters: the 32-bit values extended across wraps.
            push("wardflux_if_in_octets_total", in_oct.floor());
            push("wardflux_if_out_octets_total", out_oct.floor());
            push("wardflux_if_in_packets_total", in_pk.floor());
            push("wardflux_if_out_packets_total", out_pk.floor());
        }
        push("ifInErrors", in_err.floor());
        push("ifOutErrors", 0.0);
        push("ifInDiscards", 0.0);
        push("ifOutDiscards", 0.0);
        // Advance counters by one minute at this minute's rates (800-byte packets).
        let in_bytes = s.in_mbps * 1e6 / 8.0 * 60.0;
        let out_bytes = s.out_mbps * 1e6 / 8.0 * 60.0;
        in_oct += in_bytes;
        out_oct += out_bytes;
        let in_packets = in_bytes / 800.0;
        in_pk += in_packets;
        out_pk += out_bytes / 800.0;
        in_err += in_packets * s.in_error_ratio;
    }
    out
}

/// `wardflux_device_up` for `device` from minute `from` to `to`.
pub fn device_up(device: &str, from: i64, to: i64, up: impl Fn(i64) -> bool) -> Vec<Point> {
    device_up_from(t0(), device, from, to, up)
}

/// [`device_up`] with minute 0 at `base`.
pub fn device_up_from(
    base: DateTime<Utc>,
    device: &str,
    from: i64,
    to: i64,
    up: impl Fn(i64) -> bool,
) -> Vec<Point> {
    (from..=to)
        .map(|m| {
            let mut l = Labels::new();
            l.insert("__name__".into(), "wardflux_device_up".into());
            l.insert("device".into(), device.into());
            l.insert("job".into(), "wardflux-devices".into());
            Point {
                labels: l,
                value: if up(m) { 1.0 } else { 0.0 },
                at: base + chrono::Duration::minutes(m),
            }
        })
        .collect()
}

/// Counts transitions of a kind, for assertions on what a harness produced.
pub fn kinds(ts: &[Transition]) -> Vec<&'static str> {
    ts.iter().map(|t| t.kind()).collect()
}

/// A Prometheus Alertmanager with a receiver that drops everything.
pub struct Am {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Am {
    pub async fn start() -> Am {
        Self::start_on(free_port()).await
    }

    /// An Alertmanager on `port` (e.g. one a test kept refusing until now).
    pub async fn start_on(port: u16) -> Am {
        Self::start_with(
            port,
            "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
        )
        .await
    }

    /// An Alertmanager on `port` with the configuration `yml`.
    pub async fn start_with(port: u16, yml: &str) -> Am {
        let bin = require("prometheus-alertmanager", "prometheus-alertmanager");
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("am.yml");
        std::fs::write(&cfg, yml).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus-alertmanager");
        wait_http(&format!("http://127.0.0.1:{port}/-/ready"), "alertmanager").await;
        Am { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Active alerts as Alertmanager lists them.
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/api/v2/alerts", self.url()))
            .await
            .expect("listing alerts")
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).expect("alerts JSON"))
            .expect("reading alerts")
    }
}

impl Drop for Am {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates one `#[tokio::test]` per scenario and store: `sqlite::NAME` and `postgres::NAME`
/// call `NAME(Backend::Sqlite)` and `NAME(Backend::Postgres)`.
#[allow(unused_macros)]
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

/// The rule files of issue 15 with the interface rules they build on: recording rules,
/// interface alerts, ISP path health (`25-isp-path.yml`) and device health (`40-health.yml`).
pub fn path_and_health_rules() -> RuleSet {
    let files: Vec<String> = [
        "10-recording.yml",
        "20-interfaces.yml",
        "25-isp-path.yml",
        "40-health.yml",
    ]
    .iter()
    .map(|f| format!("{}/../rules/alerts/{f}", env!("CARGO_MANIFEST_DIR")))
    .collect();
    config::load(&files, &LoadOptions::default()).expect("path and health rules load")
}

/// A gauge or counter `name` from minute `from` to `to`, one sample a minute, with the labels
/// `base` (e.g. an interface's or a device's label block) and `extra` set over them; minutes
/// where `value` is `None` have no sample (the exporter served no row).
pub fn gauge(
    name: &str,
    base: &Labels,
    extra: &[(&str, &str)],
    from: i64,
    to: i64,
    value: impl Fn(i64) -> Option<f64>,
) -> Vec<Point> {
    let mut l = base.clone();
    l.insert("__name__".into(), name.into());
    for (k, v) in extra {
        l.insert((*k).into(), (*v).into());
    }
    (from..=to)
        .filter_map(|m| {
            value(m).map(|v| Point {
                labels: l.clone(),
                value: v,
                at: at(m),
            })
        })
        .collect()
}

/// The device label block of the exporter's device series (what `iface` sets before the
/// interface labels).
pub fn device_labels(device: &str, site: &str) -> Labels {
    [
        ("device", device),
        ("site", site),
        ("job", "wardflux-devices"),
        ("instance", "127.0.0.1:9116"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The interface label block of `i` as the exporter puts it on series tied to an uplink
/// (IP SLA probes, BGP peers): device labels plus ifIndex, ifName, ifAlias, interface_type,
/// isp_provider.
pub fn uplink_labels(i: &Iface) -> Labels {
    let mut l = Labels::new();
    for k in [
        "device",
        "site",
        "job",
        "instance",
        "ifIndex",
        "ifName",
        "ifAlias",
        "interface_type",
        "isp_provider",
    ] {
        l.insert(k.into(), i.labels.get(k).cloned().unwrap_or_default());
    }
    l
}

/// An IP SLA probe over uplink `i` (`wardflux_isp_probe_success`, and
/// `wardflux_isp_probe_rtt_seconds` when the latest run succeeded), as the exporter renders
/// it; `ok` says whether the latest run at a minute succeeded.
pub fn isp_probe(
    i: &Iface,
    probe: u32,
    target: &str,
    from: i64,
    to: i64,
    ok: impl Fn(i64) -> bool,
) -> Vec<Point> {
    let l = uplink_labels(i);
    let p = probe.to_string();
    let tag = format!("{} {}", l["isp_provider"], l["ifName"]);
    let extra = [
        ("probe", p.as_str()),
        ("target", target),
        ("tag", tag.as_str()),
    ];
    let mut out = gauge("wardflux_isp_probe_success", &l, &extra, from, to, |m| {
        Some(if ok(m) { 1.0 } else { 0.0 })
    });
    out.extend(gauge(
        "wardflux_isp_probe_rtt_seconds",
        &l,
        &extra,
        from,
        to,
        |m| ok(m).then_some(0.012 + (m % 5) as f64 * 0.001),
    ));
    out
}

/// A BGP peer tied to uplink `i`: `wardflux_bgp_peer_up` from `up` and
/// `wardflux_bgp_peer_established_transitions_total` from `transitions` (a counter).
pub fn bgp_peer(
    i: &Iface,
    peer: &str,
    remote_as: &str,
    from: i64,
    to: i64,
    up: impl Fn(i64) -> bool,
    transitions: impl Fn(i64) -> f64,
) -> Vec<Point> {
    let l = uplink_labels(i);
    let extra = [("peer", peer), ("remote_as", remote_as)];
    let mut out = gauge("wardflux_bgp_peer_up", &l, &extra, from, to, |m| {
        Some(if up(m) { 1.0 } else { 0.0 })
    });
    out.extend(gauge(
        "wardflux_bgp_peer_established_transitions_total",
        &l,
        &extra,
        from,
        to,
        |m| Some(transitions(m)),
    ));
    out
}
