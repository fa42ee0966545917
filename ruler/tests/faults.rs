//! Faults of the ruler's neighbours and of the ruler itself, with the real pieces:
//! VictoriaMetrics killed (SIGKILL) in the middle of a group evaluation and started again on
//! the same data and port; a private PostgreSQL crashed (`-m immediate`) in the middle of a
//! burst of writes; the SQLite file on a full tmpfs; SIGTERM to the real binary while writes
//! are pending; and two replicas of the real binary on one PostgreSQL, electing a leader over
//! an advisory lock, the leader killed with SIGKILL and the standby taking over.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth, and its
//! binaries for the private server); root for the tmpfs mount.

#[macro_use]
mod common;

use common::*;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wardflux_ruler::alert::RowState;
use wardflux_ruler::datasource::{
    BoxFuture, DatasourceError, Point, Querier, Sample, Series, VmClient,
};
use wardflux_ruler::engine::{Health, Settings, UNREACHABLE_ALERT};
use wardflux_ruler::labels::Labels;
use wardflux_ruler::secret::Secret;
use wardflux_ruler::store::{self, Store};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-ruler");

/// One alert per `test_down == 1` series, firing at once, with the device in the message.
const RULES: &str = r#"groups:
  - name: faults
    rules:
      - alert: TestDown
        expr: test_down == 1
        labels: {severity: high}
        annotations: {summary: "{{ $labels.device }} down"}
"#;

fn rules_file(dir: &Path) -> PathBuf {
    let p = dir.join("faults.yml");
    std::fs::write(&p, RULES).unwrap();
    p
}

fn load_rules(dir: &Path) -> wardflux_ruler::config::RuleSet {
    wardflux_ruler::config::load(
        &[rules_file(dir).display().to_string()],
        &wardflux_ruler::config::LoadOptions::default(),
    )
    .expect("test rules")
}

/// A migrated store at `url` and a harness evaluating the test rules against `vm` into it.
async fn harness_on(vm: &Vm, url: &Secret) -> (Arc<dyn Store>, Harness) {
    let st: Arc<dyn Store> = Arc::from(store::open(url).await.unwrap());
    st.migrate().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = load_rules(dir.path());
    let h = Harness::with(&vm.url(), st.clone(), settings(), None, rules).await;
    (st, h)
}

/// `test_down{device=...}` for `n` devices, one sample a minute from `from` to `to`,
/// 1 while `down(minute)`.
fn test_down(n: usize, from: i64, to: i64, down: impl Fn(i64) -> bool) -> Vec<Point> {
    let mut out = Vec::new();
    for d in 0..n {
        for m in from..=to {
            let mut l = Labels::new();
            l.insert("__name__".into(), "test_down".into());
            l.insert("device".into(), format!("DEV-{d:05}"));
            out.push(Point {
                labels: l,
                value: if down(m) { 1.0 } else { 0.0 },
                at: at(m),
            });
        }
    }
    out
}

fn settings() -> Settings {
    Settings {
        unreachable_grace: Duration::from_secs(180),
        ..Settings::default()
    }
}

/// Asserts every episode is one row: no (fingerprint, started_at) twice, at most one open
/// row per fingerprint.
fn assert_one_row_per_episode(rows: &[wardflux_ruler::store::HistoryRow]) {
    let mut seen = std::collections::BTreeSet::new();
    let mut open = std::collections::BTreeSet::new();
    for r in rows {
        assert!(
            seen.insert((r.record.fingerprint.clone(), r.record.started_at)),
            "duplicate row for {} at {}",
            r.record.fingerprint,
            r.record.started_at
        );
        if r.record.resolved_at.is_none() {
            assert!(
                open.insert(r.record.fingerprint.clone()),
                "two open rows for {}",
                r.record.fingerprint
            );
        }
    }
}

// ------------------------------------------------------------ VictoriaMetrics mid-evaluation

/// Forwards to VictoriaMetrics; when armed, kills it (SIGKILL) just before the n-th query.
struct KillingQuerier {
    client: VmClient,
    vm: Arc<tokio::sync::Mutex<Vm>>,
    countdown: AtomicUsize,
}

impl Querier for KillingQuerier {
    fn query<'a>(
        &'a self,
        expr: &'a str,
        at: chrono::DateTime<chrono::Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Sample>, DatasourceError>> {
        Box::pin(async move {
            let armed = self.countdown.load(Ordering::SeqCst);
            if armed > 0 && self.countdown.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.vm.lock().await.kill();
            }
            self.client.query(expr, at, step).await
        })
    }

    fn query_range<'a>(
        &'a self,
        expr: &'a str,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, DatasourceError>> {
        self.client.query_range(expr, start, end, step)
    }
}

async fn victoriametrics_killed_mid_evaluation_resolves_nothing_falsely(backend: Backend) {
    let vm = Vm::start().await;
    let url = vm.url();
    // Both uplinks of CORE-SW-01 stay down from minute 5 on: a total outage that must not
    // resolve while the datasource is away.
    let a = iface("CORE-SW-01", 1, "Gi0/0/0", "isp", "magti", true);
    let b = iface("CORE-SW-01", 2, "Gi0/0/1", "isp", "silknet", true);
    let st = |m: i64| {
        if m < 5 {
            IfState::default()
        } else {
            IfState::down()
        }
    };
    let mut pts = series(&a, -10, 40, st);
    pts.extend(series(&b, -10, 40, st));
    pts.extend(device_up("CORE-SW-01", -10, 40, |_| true));
    vm.import(&pts).await;
    // A graceful restart puts the backfill on disk, as hours-old data would be.
    let mut vm = vm;
    vm.restart().await;
    let vm = Arc::new(tokio::sync::Mutex::new(vm));
    let q = Arc::new(KillingQuerier {
        client: VmClient::new(&url, Duration::from_secs(2)).unwrap(),
        vm: vm.clone(),
        countdown: AtomicUsize::new(0),
    });
    let fx = StoreFixture::new(backend).await;
    let h = Harness::with_querier(
        q.clone(),
        &url,
        fx.store.clone(),
        settings(),
        None,
        load_default_rules(),
    )
    .await;
    h.run(0, 8).await;
    let before = h.rows().await;
    let total = rows_of(&before, "IspTotalOutage");
    assert_eq!(
        total.len(),
        1,
        "{backend:?}: fired before the fault: {before:#?}"
    );

    // Minute 9: the second query of the evaluation finds VictoriaMetrics gone.
    q.countdown.store(2, Ordering::SeqCst);
    h.tick(9).await;
    let status = h.engine.status().await;
    let evaluated: Vec<_> = status
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter(|r| r.last_evaluation == Some(at(9)))
        .collect();
    assert!(
        evaluated.iter().any(|r| r.health == Health::Ok)
            && evaluated.iter().any(|r| r.health == Health::Err),
        "the kill came in the middle of the evaluation"
    );
    assert_eq!(h.metrics.datasource_up.get(), 0);
    h.run(10, 13).await;
    // Started again on the same data and port.
    vm.lock().await.start_again().await;
    h.run(14, 16).await;

    let rows = h.rows().await;
    assert_one_row_per_episode(&rows);
    let total = rows_of(&rows, "IspTotalOutage");
    assert_eq!(total.len(), 1, "{backend:?}: {rows:#?}");
    assert_eq!(total[0].record.started_at, at(5));
    assert_eq!(
        total[0].record.state,
        RowState::Firing,
        "{backend:?}: no false resolve across the outage"
    );
    let ds = rows_of(&rows, UNREACHABLE_ALERT);
    assert_eq!(
        ds.len(),
        1,
        "{backend:?}: raised after the grace: {rows:#?}"
    );
    assert_eq!(ds[0].record.started_at, at(9));
    assert_eq!(
        ds[0].record.resolved_at,
        Some(at(14)),
        "resolved on recovery"
    );
    assert_eq!(h.metrics.datasource_up.get(), 1, "evaluations resumed");
    let status = h.engine.status().await;
    assert!(status
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter(|r| r.last_evaluation == Some(at(16)))
        .all(|r| r.health == Health::Ok));
}

both_stores!(victoriametrics_killed_mid_evaluation_resolves_nothing_falsely);

// ------------------------------------------------------------ PostgreSQL crash mid-write

#[tokio::test]
async fn postgresql_crashed_mid_write_loses_nothing_and_duplicates_nothing() {
    let n = 3000;
    let vm = Vm::start().await;
    vm.import(&test_down(n, -2, 12, |m| m < 10)).await;
    let pg = PrivatePg::start();
    let url = Secret::new(pg.url());
    let (st, h) = harness_on(&vm, &url).await;
    // The real writer task, retrying with backoff while the store is away.
    let (write_tx, write_rx) = tokio::sync::watch::channel(true);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let writer = tokio::spawn(h.queue.clone().run(
        st.clone(),
        write_rx,
        stop_rx,
        Duration::from_secs(5),
    ));
    h.engine.evaluate_due(at(0)).await;
    let written = |h: &Harness| {
        h.metrics
            .render()
            .lines()
            .find(|l| l.starts_with("wardflux_ruler_transitions_written_total{kind=\"fired\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let t = Instant::now();
    while written(&h) < 200 {
        assert!(t.elapsed() < Duration::from_secs(60), "writes started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pg.crash();
    let depth_at_crash = h.queue.depth();
    assert!(
        depth_at_crash > 0,
        "the crash came in the middle of the burst (depth {depth_at_crash})"
    );
    // Evaluation goes on while the store is away: the resolutions queue behind the fires.
    h.engine.evaluate_due(at(10)).await;
    assert!(h.queue.depth() > depth_at_crash, "resolutions queued");
    // Down for longer than the pool waits for a connection (5 s), so writes fail.
    let t = Instant::now();
    while h.metrics.store_errors.get() == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "a failed write is counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.start_again();
    let t = Instant::now();
    while h.queue.depth() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "queue written after recovery"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    let _ = write_tx.send(true);
    writer.await.unwrap();
    let rows = st.history(10_000).await.unwrap();
    assert_eq!(rows.len(), n, "one row per alert, none lost");
    assert_one_row_per_episode(&rows);
    assert!(rows.iter().all(|r| r.record.started_at == at(0)
        && r.record.resolved_at == Some(at(10))
        && r.record.state == RowState::Resolved));
}

// ------------------------------------------------------------ SQLite on a full disk

/// A small tmpfs mounted on a temp directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount (Debian package mount)");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem with one file until it is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let p = self.path().join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn sqlite_on_a_full_disk_queues_with_a_clear_error_and_writes_everything_on_recovery() {
    let n = 300;
    let vm = Vm::start().await;
    vm.import(&test_down(n, -2, 12, |m| m < 10)).await;
    // Room for the WAL of every write once the filler is gone (about 20 KB per row before
    // a checkpoint).
    let fs = Tmpfs::mount("32m");
    let url = Secret::new(format!(
        "sqlite://{}",
        fs.path().join("history.db").display()
    ));
    let (st, h) = harness_on(&vm, &url).await;
    let filler = fs.fill();
    h.engine.evaluate_due(at(0)).await;
    let err = h
        .queue
        .drain(st.as_ref())
        .await
        .expect_err("a full disk refuses writes");
    let msg = err.to_string();
    assert!(
        msg.contains("full") && msg.contains("TestDown"),
        "the error says what failed and why: {msg}"
    );
    assert!(err.is_transient(), "a full disk is retried, not dropped");
    assert!(h.queue.depth() > 0);
    h.engine.evaluate_due(at(10)).await;
    let queued = h.queue.depth();
    assert!(queued >= n, "fires and resolutions wait: {queued}");
    std::fs::remove_file(&filler).unwrap();
    h.queue.drain(st.as_ref()).await.expect("space again");
    let rows = st.history(10_000).await.unwrap();
    assert_eq!(rows.len(), n, "every alert written once");
    assert_one_row_per_episode(&rows);
    assert!(rows
        .iter()
        .all(|r| r.record.resolved_at == Some(at(10)) && r.record.started_at == at(0)));
}

// ------------------------------------------------------------ the real binary

/// A running `wardflux-ruler run` on a free port, killed on drop.
struct Ruler {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Ruler {
    fn start(rules: &Path, vm: &str, store_url: &str, log: PathBuf, extra: &[&str]) -> Ruler {
        let port = free_port();
        let child = Command::new(BIN)
            .arg(format!("--rules.file={}", rules.display()))
            .arg(format!("--datasource.url={vm}"))
            .arg(format!("--store.url={store_url}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--evaluation.interval=1s")
            .arg("--baselines.file=/nonexistent/baselines.yml")
            .arg("--log.level=info")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wardflux-ruler");
        Ruler { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn json(&self, path: &str) -> Option<serde_json::Value> {
        let r = reqwest::get(self.url(path)).await.ok()?;
        serde_json::from_slice(&r.bytes().await.ok()?).ok()
    }

    async fn role(&self) -> Option<String> {
        Some(
            self.json("/api/v1/leader").await?["data"]["role"]
                .as_str()?
                .to_string(),
        )
    }

    async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// Firing alerts this replica holds.
    async fn firing(&self) -> Vec<serde_json::Value> {
        self.json("/api/v1/alerts")
            .await
            .and_then(|v| v["data"]["alerts"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["state"] == "firing")
            .collect()
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }

    /// Waits (at most `limit`, a hang guard) for the process to exit.
    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(
                t.elapsed() < limit,
                "ruler did not exit; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Ruler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it gives Some; panics after `limit` (a hang guard only).
async fn until<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(t.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `test_down` of `devices` for live evaluation at a 1 s interval: a sample every second from
/// now for `secs` seconds (the ruler's instant queries look back one interval).
fn live_down(devices: &[String], down: bool, secs: i64) -> Vec<Point> {
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for d in devices {
        for s in -2..=secs {
            let mut l = Labels::new();
            l.insert("__name__".into(), "test_down".into());
            l.insert("device".into(), d.clone());
            out.push(Point {
                labels: l,
                value: if down { 1.0 } else { 0.0 },
                at: now + chrono::Duration::seconds(s),
            });
        }
    }
    out
}

/// One device down (or up again) from now on, for four minutes. Going up first deletes the
/// series, so no sample of "down" imported ahead of time can still be read.
async fn set_down(vm: &Vm, device: &str, down: bool) {
    if !down {
        let sel: String = format!("test_down{{device=\"{device}\"}}")
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let r = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/admin/tsdb/delete_series?match[]={sel}",
                vm.url()
            ))
            .send()
            .await
            .expect("delete_series");
        assert!(r.status().is_success(), "delete_series: {}", r.status());
    }
    vm.import(&live_down(&[device.to_string()], down, 240))
        .await;
}

async fn open_rows(url: &str) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    let st = store::open(&Secret::new(url.to_string())).await.unwrap();
    // Before the ruler migrated there is no table yet: no rows.
    st.history(1000)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.record.resolved_at.is_none())
        .map(|r| (r.record.fingerprint, r.record.started_at))
        .collect()
}

#[tokio::test]
async fn sigterm_with_writes_pending_exits_in_bounded_time_and_a_restart_continues_the_row() {
    let vm = Vm::start().await;
    let pg = PrivatePg::start();
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    set_down(&vm, "DEV-A", true).await;
    // Every evaluation refreshes the row: there is always a write to make.
    let extra = ["--store.touch-interval=1s"];
    let mut r = Ruler::start(
        &rules,
        &vm.url(),
        &pg.url(),
        dir.path().join("a.log"),
        &extra,
    );
    let first = until("the row to be written", Duration::from_secs(60), || async {
        open_rows(&pg.url()).await.into_iter().next()
    })
    .await;
    // The store goes away; refreshes queue up, then SIGTERM.
    pg.stop();
    until("a failed write", Duration::from_secs(30), || async {
        (r.metric("wardflux_ruler_transition_queue_depth").await? > 0.0).then_some(())
    })
    .await;
    let t = Instant::now();
    r.signal("-TERM");
    let status = r.wait_exit(Duration::from_secs(60)).await;
    let took = t.elapsed();
    println!("ruler exit after SIGTERM with the store down and writes queued: {took:?}");
    assert!(status.success(), "clean exit: {status}\n{}", r.log());
    let log = r.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        log.contains("transitions not written"),
        "says what it could not write:\n{log}"
    );
    pg.start_again();

    // A new process continues the same open row and resolves it.
    let r2 = Ruler::start(
        &rules,
        &vm.url(),
        &pg.url(),
        dir.path().join("b.log"),
        &extra,
    );
    until(
        "the restarted ruler firing the restored alert",
        Duration::from_secs(60),
        || async {
            let f = r2.firing().await;
            (f.len() == 1).then_some(())
        },
    )
    .await;
    assert_eq!(
        open_rows(&pg.url()).await,
        vec![first.clone()],
        "the same row, still open"
    );
    set_down(&vm, "DEV-A", false).await;
    until("the row resolved", Duration::from_secs(60), || async {
        open_rows(&pg.url()).await.is_empty().then_some(())
    })
    .await;
    let rows = store::open(&Secret::new(pg.url()))
        .await
        .unwrap()
        .history(100)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one episode, one row: {rows:#?}");
    assert_eq!(rows[0].record.started_at, first.1);
    drop(r2);
}

#[tokio::test]
async fn two_replicas_elect_one_leader_and_the_standby_takes_over_when_it_is_killed() {
    let vm = Vm::start().await;
    let db = PgDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    set_down(&vm, "DEV-A", true).await;
    let a = Ruler::start(&rules, &vm.url(), &db.url(), dir.path().join("a.log"), &[]);
    until("replica A to lead", Duration::from_secs(60), || async {
        (a.role().await? == "leader").then_some(())
    })
    .await;
    let b = Ruler::start(&rules, &vm.url(), &db.url(), dir.path().join("b.log"), &[]);
    until("replica B to stand by", Duration::from_secs(60), || async {
        (b.role().await? == "standby").then_some(())
    })
    .await;
    let first = until("the row written by A", Duration::from_secs(60), || async {
        open_rows(&db.url()).await.into_iter().next()
    })
    .await;
    // The standby evaluates nothing: no alerts, no evaluations, not leading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(b.firing().await.is_empty(), "the standby holds no alerts");
    assert_eq!(b.metric("wardflux_ruler_leader").await, Some(0.0));
    assert_eq!(a.metric("wardflux_ruler_leader").await, Some(1.0));
    assert!(
        b.metric("wardflux_ruler_group_evaluations_total{group=\"faults\"}")
            .await
            .is_none(),
        "the standby evaluated nothing"
    );
    assert_eq!(b.role().await.as_deref(), Some("standby"));

    // kill -9 the leader: its session ends, PostgreSQL drops the lock, B takes over.
    let t = Instant::now();
    a.signal("-KILL");
    until("replica B to lead", Duration::from_secs(30), || async {
        (b.role().await? == "leader").then_some(())
    })
    .await;
    println!(
        "standby took the lead {:?} after the leader was killed (interval 1s)",
        t.elapsed()
    );
    let firing = until(
        "B firing the restored alert",
        Duration::from_secs(30),
        || async {
            let f = b.firing().await;
            (f.len() == 1).then_some(f)
        },
    )
    .await;
    let active: chrono::DateTime<chrono::Utc> =
        firing[0]["activeAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(active, first.1, "B continues A's episode");
    assert_eq!(open_rows(&db.url()).await, vec![first.clone()]);

    // Connection loss drops the lock: cut B's lock session; B (alone) takes the lock again.
    let mut admin = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'wardflux-ruler-leader-lock' AND datname = current_database()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    until(
        "B to notice and lead again",
        Duration::from_secs(30),
        || async {
            let changes = b.metric("wardflux_ruler_role_changes_total").await?;
            (changes >= 3.0 && b.role().await? == "leader").then_some(())
        },
    )
    .await;
    assert!(
        b.log()
            .contains("lost the connection to the store (and with it the leader lock)"),
        "{}",
        b.log()
    );

    set_down(&vm, "DEV-A", false).await;
    until("the row resolved by B", Duration::from_secs(30), || async {
        open_rows(&db.url()).await.is_empty().then_some(())
    })
    .await;
    let rows = store::open(&Secret::new(db.url()))
        .await
        .unwrap()
        .history(100)
        .await
        .unwrap();
    assert_one_row_per_episode(&rows);
    assert_eq!(
        rows.len(),
        1,
        "one episode across two replicas is one row: {rows:#?}"
    );
    assert_eq!(rows[0].record.started_at, first.1);
    drop(b);
}

async fn row_count(url: &str) -> i64 {
    let Ok(mut c) = sqlx::PgConnection::connect(url).await else {
        return 0;
    };
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM alert_history")
        .fetch_one(&mut c)
        .await
        .unwrap_or(0)
}

#[tokio::test]
async fn sigterm_during_a_burst_of_writes_leaves_whole_rows_and_a_restart_completes_them() {
    let n = 2000;
    let vm = Vm::start().await;
    let db = PgDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let devices: Vec<String> = (0..n).map(|d| format!("DEV-{d:05}")).collect();
    vm.import(&live_down(&devices, true, 150)).await;
    let mut r = Ruler::start(&rules, &vm.url(), &db.url(), dir.path().join("a.log"), &[]);
    until(
        "the burst of inserts to start",
        Duration::from_secs(60),
        || async { (row_count(&db.url()).await >= 50).then_some(()) },
    )
    .await;
    let t = Instant::now();
    r.signal("-TERM");
    let status = r.wait_exit(Duration::from_secs(60)).await;
    println!(
        "ruler exit after SIGTERM during a burst of {n} inserts: {:?}, {} rows written",
        t.elapsed(),
        row_count(&db.url()).await
    );
    assert!(status.success(), "clean exit: {status}\n{}", r.log());
    let before = store::open(&Secret::new(db.url()))
        .await
        .unwrap()
        .history(10_000)
        .await
        .unwrap();
    assert_one_row_per_episode(&before);
    assert!(before
        .iter()
        .all(|r| r.record.state == RowState::Firing && !r.record.message.is_empty()));

    // The next process continues the rows written and writes the rest.
    let r2 = Ruler::start(&rules, &vm.url(), &db.url(), dir.path().join("b.log"), &[]);
    let t = Instant::now();
    while row_count(&db.url()).await < n as i64 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "every alert's row: {} of {n}; log:\n{}",
            row_count(&db.url()).await,
            r2.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = store::open(&Secret::new(db.url()))
        .await
        .unwrap()
        .history(10_000)
        .await
        .unwrap();
    assert_eq!(after.len(), n, "one row per alert");
    assert_one_row_per_episode(&after);
    for b in &before {
        assert!(
            after
                .iter()
                .any(|a| a.record.fingerprint == b.record.fingerprint
                    && a.record.started_at == b.record.started_at
                    && a.record.resolved_at.is_none()),
            "{} continued",
            b.record.fingerprint
        );
    }
    drop(r2);
}
