//! The whole pipeline on a lab wired like the bank: wardflux-lab builds three branches whose
//! routers are reached from the host ONLY over their two ISP uplinks (different providers), a
//! switch behind each router (LLDP via lldpd) and a core switch at HQ; the real
//! `wardflux-exporter` polls them, vmagent scrapes it through its HTTP service discovery into
//! VictoriaMetrics, and two real `wardflux-ruler` processes evaluate the shipped rules
//! (`rules/alerts`, `rules/outages.yml`, intervals and `for` scaled down as the demo does) on
//! the same data, one on SQLite and one on its own PostgreSQL database.
//!
//! The story (cables cut for real at the provider's end):
//! 1. tbilisi loses Magti: one `IspUplinkDownBackupWorking` row;
//! 2. batumi loses both providers: one `SiteIsolated` row naming the site, both providers
//!    with their last known state and the switch cut off; the router's and switch's own
//!    rows (if any) point at it through `caused_by`; the tbilisi row stays open. The
//!    PostgreSQL ruler is restarted during the isolation: the same rows continue;
//! 3. everything restored: every row resolves on evidence (`recovered`), the site row saying
//!    the router did not restart;
//! 4. Magti fails at every branch that uses it: one `ProviderOutage` row, the per-site rows
//!    pointing at it; restored, everything resolves.
//!
//! Assertions read the rows through each ruler's `/api/v1/history` and from its store
//! directly, and the exporter's `/api/v1/devices` (router down, switch in its shadow).
//! No timing is asserted: waits have generous limits only so a broken pipeline fails
//! instead of hanging.
//!
//! The exporter binary is the one built next to this test's `wardflux-ruler` (same target
//! directory and profile; `cargo nextest run --workspace` builds it, as the exporter's own
//! integration tests need it).
//!
//! Needs root and the Debian packages snmpd, snmp, lldpd, iproute2, victoria-metrics
//! (vmagent), postgresql (127.0.0.1:5432, trust auth).

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, require, PgDb, Vm};
use serde_json::{json, Value};
use wardflux_lab::{Description, Lab};
use wardflux_ruler::secret::Secret;
use wardflux_ruler::store::{self, Store};

/// Three branches (providers as in labs/bank.yml) and HQ, without the recorded devices.
const LAB: &str = "\
name: e2e
snmp:
  lab_v2: {version: 2c, community: public}
defaults: {snmp: lab_v2, lldp: true}
sites:
  hq:
    nodes:
      CORE-SW-01: {kind: switch, management: true, role: core}
  tbilisi:
    nodes:
      BRANCH-RTR-01:
        kind: router
        role: branch_router
        uplinks:
          - {port: isp0, provider: Magti}
          - {port: isp1, provider: Silknet}
      BRANCH-SW-01: {kind: switch, role: branch_switch}
  batumi:
    nodes:
      BRANCH-RTR-02:
        kind: router
        role: branch_router
        uplinks:
          - {port: isp0, provider: Silknet}
          - {port: isp1, provider: Veon}
      BRANCH-SW-02: {kind: switch, role: branch_switch}
  kutaisi:
    nodes:
      BRANCH-RTR-03:
        kind: router
        role: branch_router
        uplinks:
          - {port: isp0, provider: Magti}
          - {port: isp1, provider: Veon}
      BRANCH-SW-03: {kind: switch, role: branch_switch}
links:
  - endpoints: [BRANCH-RTR-01:lan0, BRANCH-SW-01:up0]
  - endpoints: [BRANCH-RTR-02:lan0, BRANCH-SW-02:up0]
  - endpoints: [BRANCH-RTR-03:lan0, BRANCH-SW-03:up0]
";

/// The shipped alert rules run with every interval, for and keep_firing_for divided by this
/// (1m -> 5s), as `./wardflux demo` does with its own factor.
const SPEEDUP: u64 = 12;

/// How long any one step of the story may take before the test gives up.
const STEP_LIMIT: Duration = Duration::from_secs(150);

/// The exporter binary built with this test (same target directory and profile).
fn exporter_binary() -> PathBuf {
    let ruler = Path::new(env!("CARGO_BIN_EXE_wardflux-ruler"));
    let exe = ruler.with_file_name("wardflux-exporter");
    assert!(
        exe.is_file(),
        "{} not built: run `cargo build -p wardflux-exporter` first (`cargo nextest run \
         --workspace` and ./wardflux test build it)",
        exe.display()
    );
    exe
}

/// A child process killed (TERM, then KILL) when dropped, its output in a log file.
struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let f = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("log file"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    /// Panics with the log's tail if the process has exited.
    fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.tail());
            }
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM and wait (a graceful stop, as systemd restarts a service).
    fn stop(&mut self) {
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
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 500 ms until it gives a value; panics after `limit` with `what` and the
/// last explanation `f` gave.
async fn wait_until<T>(
    what: &str,
    limit: Duration,
    mut f: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(why) if start.elapsed() > limit => {
                panic!("timed out after {limit:?} waiting for {what}: {why}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn get_json(url: &str) -> Result<Value, String> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("GET {url}: {}", r.status()));
    }
    let body = r.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))
}

/// `text` with every `interval:`, `for:` and `keep_firing_for:` duration divided by `k`
/// (at least 5 s), the rest unchanged.
fn speed_up(text: &str, k: u64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let key = ["interval:", "for:", "keep_firing_for:"]
            .into_iter()
            .find(|k| trimmed.starts_with(k));
        let secs = key.and_then(|key| parse_secs(trimmed[key.len()..].trim()));
        match (key, secs) {
            (Some(key), Some(s)) => {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}{key} {}s\n", (s / k).max(5)));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// "1h30m" -> 5400; `None` unless the whole text is such a duration.
fn parse_secs(s: &str) -> Option<u64> {
    let (mut total, mut num) = (0u64, String::new());
    if s.is_empty() {
        return None;
    }
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        total += num.parse::<u64>().ok()? * unit;
        num.clear();
    }
    num.is_empty().then_some(total)
}

/// One ruler process on its own store and port, reading the shared VictoriaMetrics.
struct Ruler {
    name: &'static str,
    args: Vec<String>,
    addr: String,
    store_url: Secret,
    dir: PathBuf,
    proc: Proc,
    restarts: u32,
    _pg: Option<PgDb>,
}

impl Ruler {
    async fn start(
        name: &'static str,
        store_url: String,
        pg: Option<PgDb>,
        dir: &Path,
        vm_url: &str,
    ) -> Ruler {
        let addr = format!("127.0.0.1:{}", free_port());
        let args = vec![
            "run".to_string(),
            "--rules.file".into(),
            format!("{}/rules/*.yml", dir.display()),
            "--outages.file".into(),
            dir.join("outages.yml").display().to_string(),
            // No baselines: the anomaly group stays off (no history to learn from here).
            "--baselines.file".into(),
            dir.join("no-baselines.yml").display().to_string(),
            "--datasource.url".into(),
            vm_url.to_string(),
            "--store.url".into(),
            store_url.clone(),
            "--web.listen-address".into(),
            addr.clone(),
            "--store.touch-interval".into(),
            "10s".into(),
            "--log.level".into(),
            "debug".into(),
        ];
        let mut r = Ruler {
            name,
            args,
            addr,
            store_url: Secret::new(store_url),
            dir: dir.to_path_buf(),
            proc: Proc::spawn(name, &mut Command::new("true"), dir.join("unused.log")),
            restarts: 0,
            _pg: pg,
        };
        r.spawn().await;
        r
    }

    async fn spawn(&mut self) {
        let log = self
            .dir
            .join(format!("ruler-{}-{}.log", self.name, self.restarts));
        self.proc = Proc::spawn(
            &format!("wardflux-ruler ({})", self.name),
            Command::new(env!("CARGO_BIN_EXE_wardflux-ruler")).args(&self.args),
            log,
        );
        let url = format!("http://{}/-/ready", self.addr);
        let proc = &mut self.proc;
        wait_until(
            "the ruler to be ready",
            Duration::from_secs(60),
            async || {
                proc.assert_running();
                reqwest::get(&url)
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
                    .ok_or_else(|| "not ready".to_string())
            },
        )
        .await;
    }

    /// Stops the process (SIGTERM) and starts it again on the same store and port.
    async fn restart(&mut self) {
        self.proc.stop();
        self.restarts += 1;
        self.spawn().await;
    }

    /// Every row, oldest first, through `/api/v1/history`.
    async fn rows(&mut self) -> Result<Vec<Value>, String> {
        self.proc.assert_running();
        let v = get_json(&format!("http://{}/api/v1/history?limit=1000", self.addr)).await?;
        let mut rows = v["data"]["rows"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no rows in {v}"))?;
        rows.sort_by_key(|r| r["id"].as_i64());
        Ok(rows)
    }

    async fn reachability(&mut self) -> Result<Value, String> {
        self.proc.assert_running();
        let v = get_json(&format!("http://{}/api/v1/reachability", self.addr)).await?;
        Ok(v["data"].clone())
    }

    /// The rows read from the store itself, as (id, alert, resolution, caused_by).
    async fn store_rows(&self) -> Vec<(i64, String, Option<String>, Option<i64>)> {
        let s: Arc<dyn Store> = Arc::from(store::open(&self.store_url).await.expect("store"));
        let mut rows: Vec<_> = s
            .history(1000)
            .await
            .expect("reading the store")
            .into_iter()
            .map(|r| {
                let resolution = r.record.resolution.map(|x| {
                    serde_json::to_value(x)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string()
                });
                (r.id, r.record.alert_name, resolution, r.caused_by)
            })
            .collect();
        rows.sort();
        rows
    }
}

fn of<'a>(rows: &'a [Value], alert: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["alert_name"] == alert).collect()
}

fn firing(r: &Value) -> bool {
    r["resolved_at"].is_null()
}

fn brief(rows: &[Value]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "#{} {} {} {} resolved={} resolution={} caused_by={} | {}",
                r["id"],
                r["alert_name"].as_str().unwrap_or(""),
                r["device"].as_str().unwrap_or(""),
                r["labels"]["site"].as_str().unwrap_or(""),
                r["resolved_at"],
                r["resolution"],
                r["caused_by"],
                r["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The running pipeline: lab, exporter, VictoriaMetrics, vmagent, two rulers.
struct Pipeline {
    rulers: Vec<Ruler>,
    exporter: Proc,
    exporter_addr: String,
    vmagent: Proc,
    vm: Vm,
    lab: Lab,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    async fn start() -> Pipeline {
        for (tool, pkg) in [
            ("snmpd", "snmpd"),
            ("lldpd", "lldpd"),
            ("vmagent", "victoria-metrics"),
        ] {
            require(tool, pkg);
        }
        let exporter_bin = exporter_binary();
        let dir = tempfile::Builder::new()
            .prefix("wardflux-wan-lab-")
            .tempdir()
            .unwrap();
        let d = Description::parse("wan_lab.rs", LAB).expect("lab description");
        let lab = Lab::build(&d).unwrap_or_else(|e| panic!("lab: {e}"));

        // The exporter: the lab's auths and targets (labels site, role), a short poll.
        let t = lab.targets();
        let cfg = json!({
            "poll_interval": "2s",
            "discovery_interval": "10m",
            "timeout": "1s",
            "retries": 0,
            "auths": t.auths,
            "targets": t.targets,
        });
        let cfg_path = dir.path().join("exporter.yml");
        std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
        let exporter_addr = format!("127.0.0.1:{}", free_port());
        let exporter = Proc::spawn(
            "wardflux-exporter",
            Command::new(&exporter_bin)
                .arg("--config.file")
                .arg(&cfg_path)
                .arg("--web.listen-address")
                .arg(&exporter_addr),
            dir.path().join("exporter.log"),
        );

        let vm = Vm::start().await;
        let scrape = dir.path().join("scrape.yml");
        std::fs::write(
            &scrape,
            format!(
                "scrape_configs:\n\
                 \x20 - job_name: wardflux\n\
                 \x20   scrape_interval: 2s\n\
                 \x20   honor_labels: true\n\
                 \x20   http_sd_configs:\n\
                 \x20     - url: http://{exporter_addr}/api/v1/targets\n"
            ),
        )
        .unwrap();
        let vmagent = Proc::spawn(
            "vmagent",
            Command::new(require("vmagent", "victoria-metrics"))
                .arg(format!("-promscrape.config={}", scrape.display()))
                .arg("-promscrape.httpSDCheckInterval=2s")
                .arg(format!("-remoteWrite.url={}/api/v1/write", vm.url()))
                .arg(format!(
                    "-remoteWrite.tmpDataPath={}",
                    dir.path().join("vmagent").display()
                ))
                .arg("-remoteWrite.flushInterval=1s")
                .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()))
                .arg("-loggerLevel=WARN"),
            dir.path().join("vmagent.log"),
        );

        // The rulers' rules: the shipped ones, faster; the outage group likewise. The
        // self-monitoring file (30-self.yml) is left out: it watches the deploy's scrape jobs
        // (and always fires its Watchdog), which this pipeline's single vmagent job is not;
        // ruler/tests/self_monitoring.rs covers it.
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        for e in std::fs::read_dir(shipped.join("alerts")).unwrap() {
            let p = e.unwrap().path();
            let self_monitoring = p.file_name().is_some_and(|n| n == "30-self.yml");
            if p.extension().is_some_and(|x| x == "yml") && !self_monitoring {
                let text = std::fs::read_to_string(&p).unwrap();
                std::fs::write(rules.join(p.file_name().unwrap()), speed_up(&text, SPEEDUP))
                    .unwrap();
            }
        }
        // The outage group: analysed every 3 s, a row after 6 s (shipped: 15 s and 30 s).
        let outages = std::fs::read_to_string(shipped.join("outages.yml")).unwrap();
        let outages = outages
            .replace("  interval: 15s\n", "  interval: 3s\n")
            .replace("  for: 30s\n", "  for: 6s\n");
        assert!(outages.contains("interval: 3s") && outages.contains("for: 6s"));
        std::fs::write(dir.path().join("outages.yml"), outages).unwrap();

        let sqlite = format!("sqlite://{}", dir.path().join("history.db").display());
        let pg = PgDb::create().await;
        let pg_url = pg.url();
        let rulers = vec![
            Ruler::start("sqlite", sqlite, None, dir.path(), &vm.url()).await,
            Ruler::start("postgres", pg_url, Some(pg), dir.path(), &vm.url()).await,
        ];
        let mut p = Pipeline {
            rulers,
            exporter,
            exporter_addr,
            vmagent,
            vm,
            lab,
            _dir: dir,
        };
        p.wait_ready().await;
        p
    }

    fn alive(&mut self) {
        self.exporter.assert_running();
        self.vmagent.assert_running();
    }

    async fn devices(&mut self) -> Result<Vec<Value>, String> {
        self.alive();
        let v = get_json(&format!("http://{}/api/v1/devices", self.exporter_addr)).await?;
        v.as_array().cloned().ok_or_else(|| format!("{v}"))
    }

    /// Every device up at the exporter, every branch cable known to both rulers' analysis
    /// (the switch is in the router's shadow only when its position is known).
    async fn wait_ready(&mut self) {
        let names: Vec<String> = self
            .lab
            .targets()
            .targets
            .iter()
            .map(|t| t.name.clone())
            .collect();
        wait_until("every device up", STEP_LIMIT, async || {
            let devs = self.devices().await?;
            let down: Vec<&String> = names
                .iter()
                .filter(|n| {
                    !devs
                        .iter()
                        .any(|d| d["name"] == n.as_str() && d["up"] == true)
                })
                .collect();
            down.is_empty()
                .then_some(())
                .ok_or(format!("not up yet: {down:?}"))
        })
        .await;
        for i in 0..self.rulers.len() {
            let name = self.rulers[i].name;
            wait_until(
                &format!("the {name} ruler to see every device up and the branches' links"),
                STEP_LIMIT,
                async || {
                    let r = self.rulers[i].reachability().await?;
                    let devs = r["devices"].as_array().cloned().unwrap_or_default();
                    let up = devs.iter().filter(|d| d["state"] == "up").count();
                    let sites = r["sites"].as_array().cloned().unwrap_or_default();
                    // Each branch site knows its router and the switch behind it.
                    let known = sites
                        .iter()
                        .filter(|s| s["routers"].as_array().is_some_and(|a| a.len() == 1))
                        .count();
                    (up == names.len() && known == 3)
                        .then_some(())
                        .ok_or(format!("{r}"))
                },
            )
            .await;
        }
        // The switches' place behind their routers: LLDP both ways in VictoriaMetrics.
        let vm = &self.vm;
        wait_until(
            "LLDP neighbours in VictoriaMetrics",
            STEP_LIMIT,
            async || {
                let n = vm
                    .query(
                        "wardflux_lldp_neighbor_info{device=~\"BRANCH-.*\"}",
                        chrono::Utc::now(),
                    )
                    .await
                    .len();
                (n >= 6).then_some(()).ok_or(format!("{n} of 6"))
            },
        )
        .await;
        for r in &mut self.rulers {
            let rows = r.rows().await.unwrap();
            assert!(
                rows.is_empty(),
                "{}: rows before any cut:\n{}",
                r.name,
                brief(&rows)
            );
        }
    }

    /// Waits until every ruler's rows satisfy `f` (Err explains what is missing).
    async fn wait_rows(
        &mut self,
        what: &str,
        f: impl Fn(&[Value]) -> Result<(), String>,
    ) -> Vec<Vec<Value>> {
        let mut all = Vec::new();
        for i in 0..self.rulers.len() {
            let name = self.rulers[i].name;
            let rows = wait_until(&format!("{name}: {what}"), STEP_LIMIT, async || {
                self.alive();
                let rows = self.rulers[i].rows().await?;
                f(&rows).map_err(|e| format!("{e}\nrows:\n{}", brief(&rows)))?;
                Ok(rows)
            })
            .await;
            all.push(rows);
        }
        all
    }

    fn cut(&mut self, node: &str, port: &str) {
        self.lab
            .cut(node, port)
            .unwrap_or_else(|e| panic!("cut {node}:{port}: {e}"));
    }

    fn restore(&mut self, node: &str, port: &str) {
        self.lab
            .restore(node, port)
            .unwrap_or_else(|e| panic!("restore {node}:{port}: {e}"));
    }
}

fn device<'a>(devs: &'a [Value], name: &str) -> &'a Value {
    devs.iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in /api/v1/devices"))
}

fn has_text(r: &Value, needle: &str) -> bool {
    r["message"]
        .as_str()
        .unwrap_or("")
        .to_lowercase()
        .contains(&needle.to_lowercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_wan_outages_through_the_whole_pipeline_on_sqlite_and_postgres() {
    let mut p = Pipeline::start().await;

    // 1. tbilisi loses Magti: its router still answers over Silknet.
    p.cut("BRANCH-RTR-01", "isp0");
    let step1 = p
        .wait_rows("tbilisi's Magti row", |rows| {
            let r = of(rows, "IspUplinkDownBackupWorking");
            (r.len() == 1 && r[0]["device"] == "BRANCH-RTR-01" && firing(r[0]))
                .then_some(())
                .ok_or("no open IspUplinkDownBackupWorking row of BRANCH-RTR-01".into())
        })
        .await;
    for (rows, r) in step1.iter().zip(&p.rulers) {
        assert_eq!(rows.len(), 1, "{}: one row:\n{}", r.name, brief(rows));
        assert_eq!(
            rows[0]["isp_provider"]
                .as_str()
                .map(str::to_lowercase)
                .as_deref(),
            Some("magti")
        );
        assert_eq!(rows[0]["severity"], "high");
    }

    // 2. batumi loses both providers: router and switch stop answering.
    p.cut("BRANCH-RTR-02", "isp0");
    p.cut("BRANCH-RTR-02", "isp1");
    p.wait_rows("batumi's SiteIsolated row", |rows| {
        let s = of(rows, "SiteIsolated");
        (s.len() == 1 && firing(s[0]))
            .then_some(())
            .ok_or("no open SiteIsolated row".into())
    })
    .await;
    // The exporter's own view: the router down, the switch in its shadow.
    wait_until("the exporter's view of batumi", STEP_LIMIT, async || {
        let devs = p.devices().await?;
        let rtr = device(&devs, "BRANCH-RTR-02");
        let sw = device(&devs, "BRANCH-SW-02");
        let ok = rtr["up"] == false
            && rtr["reachability"]["state"] == "down"
            && sw["up"] == false
            && sw["reachability"]["state"] == "shadow"
            && sw["reachability"]["roots"] == json!(["BRANCH-RTR-02"])
            && device(&devs, "BRANCH-SW-01")["reachability"]["state"] == "up";
        ok.then_some(()).ok_or(format!("{rtr}\n{sw}"))
    })
    .await;
    // A restart of the PostgreSQL ruler during the isolation: its open rows continue.
    let before: Vec<i64> = p.rulers[1]
        .rows()
        .await
        .unwrap()
        .iter()
        .filter(|r| firing(r))
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    p.rulers[1].restart().await;
    // Wait until the devices' own rows (DeviceSnmpUnreachable, 10 s here) have had their
    // time: each must point at the site's row.
    let step2 = p
        .wait_rows("batumi's devices' rows under the site row", |rows| {
            let site = of(rows, "SiteIsolated");
            let id = &site[0]["id"];
            let dev = of(rows, "DeviceSnmpUnreachable");
            let linked = dev.iter().filter(|d| d["caused_by"] == *id).count();
            (dev.len() == 2 && linked == 2).then_some(()).ok_or(format!(
                "{} device rows, {linked} linked to #{id}",
                dev.len()
            ))
        })
        .await;
    for (rows, r) in step2.iter().zip(&p.rulers) {
        let name = r.name;
        let all = brief(rows);
        let site = of(rows, "SiteIsolated");
        assert_eq!(site.len(), 1, "{name}: one site row:\n{all}");
        let s = site[0];
        assert_eq!(s["labels"]["site"], "batumi", "{name}");
        assert_eq!(s["severity"], "critical", "{name}");
        for needle in ["batumi", "BRANCH-RTR-02", "1 device cut off: BRANCH-SW-02"] {
            assert!(
                has_text(s, needle),
                "{name}: {needle:?} not in {}",
                s["message"]
            );
        }
        // Both providers with their last known state: cut at once, the router is gone before
        // a poll sees either link down, so "last seen up at"; a poll in between the two cuts
        // would have seen the first "down since".
        for provider in ["silknet", "veon"] {
            assert!(
                has_text(s, &format!("{provider} last seen up at "))
                    || has_text(s, &format!("{provider} down since ")),
                "{name}: {provider}'s last known state not in {}",
                s["message"]
            );
        }
        for d in of(rows, "DeviceSnmpUnreachable") {
            assert!(
                ["BRANCH-RTR-02", "BRANCH-SW-02"].contains(&d["device"].as_str().unwrap_or("")),
                "{name}: {all}"
            );
        }
        // No independent row for anything in batumi.
        for row in rows {
            let batumi = row["labels"]["site"] == "batumi"
                || row["device"].as_str().is_some_and(|d| d.ends_with("-02"));
            if batumi && row["alert_name"] != "SiteIsolated" {
                assert_eq!(row["caused_by"], s["id"], "{name}: independent row:\n{all}");
            }
        }
        // tbilisi's Magti row stays open: its router still answers, Magti still down.
        let magti = of(rows, "IspUplinkDownBackupWorking");
        assert_eq!(magti.len(), 1, "{name}:\n{all}");
        assert!(firing(magti[0]), "{name}: tbilisi's row resolved:\n{all}");
        assert_eq!(magti[0]["caused_by"], Value::Null, "{name}");
        assert!(of(rows, "IspTotalOutage").is_empty(), "{name}:\n{all}");
        assert!(of(rows, "ProviderOutage").is_empty(), "{name}:\n{all}");
        assert!(of(rows, "PollerNetworkLost").is_empty(), "{name}:\n{all}");
    }
    // The restarted ruler continued the rows open before its restart: none duplicated.
    for id in &before {
        let row = step2[1].iter().find(|r| r["id"] == *id).expect("row kept");
        assert!(
            firing(row),
            "postgres: #{id} closed by the restart:\n{}",
            brief(&step2[1])
        );
    }

    // 3. Everything restored: every row resolves on evidence.
    p.restore("BRANCH-RTR-01", "isp0");
    p.restore("BRANCH-RTR-02", "isp0");
    p.restore("BRANCH-RTR-02", "isp1");
    let step3 = p
        .wait_rows("every row resolved", |rows| {
            let open: Vec<_> = rows.iter().filter(|r| firing(r)).collect();
            open.is_empty()
                .then_some(())
                .ok_or(format!("{} open", open.len()))
        })
        .await;
    for (rows, r) in step3.iter().zip(&p.rulers) {
        let all = brief(rows);
        for row in rows {
            assert_eq!(row["resolution"], "recovered", "{}:\n{all}", r.name);
        }
        let s = of(rows, "SiteIsolated")[0];
        let note = s["resolution_note"].as_str().unwrap_or("");
        assert!(
            note.contains("router BRANCH-RTR-02 did not restart"),
            "{}: {note}",
            r.name
        );
        assert_eq!(of(rows, "SiteIsolated").len(), 1, "{}:\n{all}", r.name);
    }
    let done = step3[0].len();

    // 4. Magti fails at every branch using it (tbilisi, kutaisi); the routers stay reachable.
    let magti = p.lab.provider_uplinks("Magti", None);
    assert_eq!(magti.len(), 2, "{magti:?}");
    for (n, port) in &magti {
        p.cut(n, port);
    }
    let step4 = p
        .wait_rows(
            "the Magti provider row and the site rows under it",
            |rows| {
                let new = &rows[done..];
                let prov = of(new, "ProviderOutage");
                if prov.len() != 1 {
                    return Err("no ProviderOutage row".into());
                }
                let per_site = of(new, "IspUplinkDownBackupWorking");
                let linked = per_site
                    .iter()
                    .filter(|r| r["caused_by"] == prov[0]["id"])
                    .count();
                (linked == 2)
                    .then_some(())
                    .ok_or(format!("{linked} of 2 site rows linked"))
            },
        )
        .await;
    for (rows, r) in step4.iter().zip(&p.rulers) {
        let new = &rows[done..];
        let all = brief(new);
        let prov = of(new, "ProviderOutage")[0];
        assert_eq!(
            prov["isp_provider"]
                .as_str()
                .map(str::to_lowercase)
                .as_deref(),
            Some("magti"),
            "{}",
            r.name
        );
        for needle in ["kutaisi", "tbilisi"] {
            assert!(has_text(prov, needle), "{}: {}", r.name, prov["message"]);
        }
        let devs: Vec<&str> = of(new, "IspUplinkDownBackupWorking")
            .iter()
            .map(|x| x["device"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(devs.len(), 2, "{}:\n{all}", r.name);
        assert!(devs.contains(&"BRANCH-RTR-01") && devs.contains(&"BRANCH-RTR-03"));
        assert!(of(new, "SiteIsolated").is_empty(), "{}:\n{all}", r.name);
    }
    for (n, port) in &magti {
        p.restore(n, port);
    }
    // tbilisi's Magti went down and up twice within 15 minutes: `InterfaceFlapping` may
    // rightly fire (4 status changes) and stays until its 15-minute window passes.
    // Everything else resolves.
    let last = p
        .wait_rows("every row resolved after Magti is back", |rows| {
            let open: Vec<_> = rows
                .iter()
                .filter(|r| firing(r) && r["alert_name"] != "InterfaceFlapping")
                .collect();
            open.is_empty()
                .then_some(())
                .ok_or(format!("{} open", open.len()))
        })
        .await;

    // The store holds what the API showed.
    for (rows, r) in last.iter().zip(&p.rulers) {
        let api: Vec<_> = rows
            .iter()
            .map(|x| {
                (
                    x["id"].as_i64().unwrap(),
                    x["alert_name"].as_str().unwrap().to_string(),
                    x["resolution"].as_str().map(str::to_string),
                    x["caused_by"].as_i64(),
                )
            })
            .collect();
        assert_eq!(r.store_rows().await, api, "{}", r.name);
        let prov = &of(&rows[done..], "ProviderOutage")[0]["id"];
        for row in rows {
            if row["alert_name"] == "InterfaceFlapping" {
                assert_eq!(
                    row["device"],
                    "BRANCH-RTR-01",
                    "{}:\n{}",
                    r.name,
                    brief(rows)
                );
                // Under the provider's row when it fired during the outage (else its own).
                assert!(
                    row["caused_by"] == *prov || row["caused_by"].is_null(),
                    "{}:\n{}",
                    r.name,
                    brief(rows)
                );
                continue;
            }
            assert_eq!(
                row["resolution"],
                "recovered",
                "{}:\n{}",
                r.name,
                brief(rows)
            );
        }
    }
}
