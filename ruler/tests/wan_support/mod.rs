//! The bank-like WAN pipeline shared by wan_lab.rs and wan_gaps.rs: wardflux-lab's three
//! branches reached only over their ISP uplinks, the real exporter, vmagent through HTTP SD into
//! VictoriaMetrics, and real rulers on SQLite and PostgreSQL with the shipped rules sped up.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{free_port, require, PgDb, Vm};
use serde_json::{json, Value};
use wardflux_lab::{Description, Lab};
use wardflux_ruler::secret::Secret;
use wardflux_ruler::store::{self, Store};

/// Three branches (providers as in labs/bank.yml) and HQ, without the recorded devices.
pub const LAB: &str = "\
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
pub const SPEEDUP: u64 = 12;

/// How long any one step of the story may take before the test gives up.
pub const STEP_LIMIT: Duration = Duration::from_secs(150);

/// The exporter binary built with this test (same target directory and profile).
pub fn exporter_binary() -> PathBuf {
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
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
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
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.tail());
            }
        }
    }

    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM and wait (a graceful stop, as systemd restarts a service).
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
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 500 ms until it gives a value; panics after `limit` with `what` and the
/// last explanation `f` gave.
pub async fn wait_until<T>(
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

pub async fn get_json(url: &str) -> Result<Value, String> {
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
pub fn speed_up(text: &str, k: u64) -> String {
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
pub fn parse_secs(s: &str) -> Option<u64> {
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
pub struct Ruler {
    pub name: &'static str,
    pub args: Vec<String>,
    pub addr: String,
    store_url: Secret,
    pub dir: PathBuf,
    pub proc: Proc,
    restarts: u32,
    _pg: Option<PgDb>,
}

impl Ruler {
    pub async fn start(
        name: &'static str,
        store_url: String,
        pg: Option<PgDb>,
        dir: &Path,
        vm_url: &str,
        notifier_url: Option<&str>,
    ) -> Ruler {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
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
        if let Some(url) = notifier_url {
            args.extend(["--notifier.url".to_string(), url.to_string()]);
        }
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

    pub async fn spawn(&mut self) {
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
    pub async fn restart(&mut self) {
        self.proc.stop();
        self.restarts += 1;
        self.spawn().await;
    }

    /// Every row, oldest first, through `/api/v1/history`.
    pub async fn rows(&mut self) -> Result<Vec<Value>, String> {
        self.proc.assert_running();
        let v = get_json(&format!("http://{}/api/v1/history?limit=1000", self.addr)).await?;
        let mut rows = v["data"]["rows"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no rows in {v}"))?;
        rows.sort_by_key(|r| r["id"].as_i64());
        Ok(rows)
    }

    pub async fn reachability(&mut self) -> Result<Value, String> {
        self.proc.assert_running();
        let v = get_json(&format!("http://{}/api/v1/reachability", self.addr)).await?;
        Ok(v["data"].clone())
    }

    /// The rows read from the store itself, as (id, alert, resolution, caused_by).
    pub async fn store_rows(&self) -> Vec<(i64, String, Option<String>, Option<i64>)> {
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

pub fn of<'a>(rows: &'a [Value], alert: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["alert_name"] == alert).collect()
}

pub fn firing(r: &Value) -> bool {
    r["resolved_at"].is_null()
}

pub fn brief(rows: &[Value]) -> String {
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
pub struct Pipeline {
    pub rulers: Vec<Ruler>,
    pub exporter: Proc,
    pub exporter_addr: String,
    pub vmagent: Proc,
    pub vm: Vm,
    pub lab: Lab,
    /// The exporter's configuration as written to `exporter.yml` (see `reload_exporter`).
    pub exporter_config: Value,
    exporter_cmd: Vec<std::ffi::OsString>,
    vmagent_cmd: Vec<std::ffi::OsString>,
    starts: u32,
    deploy_jobs: bool,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    pub async fn start() -> Pipeline {
        Pipeline::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Pipeline {
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
        let exporter_cmd: Vec<std::ffi::OsString> = vec![
            exporter_bin.into(),
            "--config.file".into(),
            cfg_path.into(),
            "--web.listen-address".into(),
            exporter_addr.clone().into(),
        ];
        let exporter = spawn_cmd("wardflux-exporter", &exporter_cmd, dir.path(), 0);

        let vm = Vm::start().await;
        let scrape = dir.path().join("scrape.yml");
        // One job by default; with `deploy_jobs` the deploy's two (deploy/examples/
        // vmagent-scrape.yml): the devices through HTTP SD and the exporter's own metrics.
        let devices_job = if opts.deploy_jobs {
            "wardflux-devices"
        } else {
            "wardflux"
        };
        let mut scrape_cfg = format!(
            "scrape_configs:\n\
             \x20 - job_name: {devices_job}\n\
             \x20   scrape_interval: 2s\n\
             \x20   honor_labels: true\n\
             \x20   http_sd_configs:\n\
             \x20     - url: http://{exporter_addr}/api/v1/targets\n"
        );
        if opts.deploy_jobs {
            scrape_cfg.push_str(&format!(
                "\x20 - job_name: wardflux-exporter\n\
                 \x20   scrape_interval: 2s\n\
                 \x20   metrics_path: /metrics/self\n\
                 \x20   static_configs:\n\
                 \x20     - targets: [\"{exporter_addr}\"]\n"
            ));
        }
        std::fs::write(&scrape, scrape_cfg).unwrap();
        let vmagent_cmd = vmagent_cmd(&scrape, &vm.url(), dir.path());
        let vmagent = spawn_cmd("vmagent", &vmagent_cmd, dir.path(), 0);

        write_rules(dir.path(), opts.deploy_jobs, SPEEDUP);

        let sqlite = format!("sqlite://{}", dir.path().join("history.db").display());
        let pg = PgDb::create().await;
        let pg_url = pg.url();
        let am = opts.notifier_url.as_deref();
        let rulers = vec![
            Ruler::start("sqlite", sqlite, None, dir.path(), &vm.url(), am).await,
            Ruler::start("postgres", pg_url, Some(pg), dir.path(), &vm.url(), am).await,
        ];
        let mut p = Pipeline {
            rulers,
            exporter,
            exporter_addr,
            vmagent,
            vm,
            lab,
            exporter_config: cfg,
            exporter_cmd,
            vmagent_cmd,
            starts: 0,
            deploy_jobs: opts.deploy_jobs,
            _dir: dir,
        };
        p.wait_ready().await;
        p
    }

    pub fn alive(&mut self) {
        self.exporter.assert_running();
        self.vmagent.assert_running();
    }

    pub async fn devices(&mut self) -> Result<Vec<Value>, String> {
        self.alive();
        let v = get_json(&format!("http://{}/api/v1/devices", self.exporter_addr)).await?;
        v.as_array().cloned().ok_or_else(|| format!("{v}"))
    }

    /// Every device up at the exporter, every branch cable known to both rulers' analysis
    /// (the switch is in the router's shadow only when its position is known).
    pub async fn wait_ready(&mut self) {
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
        let deploy_jobs = self.deploy_jobs;
        for r in &mut self.rulers {
            let mut rows = r.rows().await.unwrap();
            // With the self-monitoring rules the Watchdog always fires, and a start may be
            // seen before the first scrape: only the network's own rows count here.
            if deploy_jobs {
                rows.retain(|r| !is_self(r));
            }
            assert!(
                rows.is_empty(),
                "{}: rows before any cut:\n{}",
                r.name,
                brief(&rows)
            );
        }
    }

    /// Waits until every ruler's rows satisfy `f` (Err explains what is missing).
    pub async fn wait_rows(
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

    pub fn cut(&mut self, node: &str, port: &str) {
        self.lab
            .cut(node, port)
            .unwrap_or_else(|e| panic!("cut {node}:{port}: {e}"));
    }

    /// Stops vmagent (SIGTERM): nothing is scraped until `start_vmagent`.
    pub fn stop_vmagent(&mut self) {
        self.vmagent.stop();
    }

    pub fn start_vmagent(&mut self) {
        self.starts += 1;
        self.vmagent = spawn_cmd("vmagent", &self.vmagent_cmd, self._dir.path(), self.starts);
    }

    /// Stops the exporter (SIGTERM, as systemd does): its port refuses connections.
    pub fn stop_exporter(&mut self) {
        self.exporter.stop();
    }

    pub fn start_exporter(&mut self) {
        self.starts += 1;
        self.exporter = spawn_cmd(
            "wardflux-exporter",
            &self.exporter_cmd,
            self._dir.path(),
            self.starts,
        );
    }

    /// Writes `cfg` as the exporter's configuration and has it reloaded (`POST /-/reload`).
    pub async fn reload_exporter(&mut self, cfg: Value) {
        let path = self._dir.path().join("exporter.yml");
        std::fs::write(&path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
        let url = format!("http://{}/-/reload", self.exporter_addr);
        let r = reqwest::Client::new()
            .post(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {url}: {status}: {body}");
        self.exporter_config = cfg;
    }

    pub fn restore(&mut self, node: &str, port: &str) {
        self.lab
            .restore(node, port)
            .unwrap_or_else(|e| panic!("restore {node}:{port}: {e}"));
    }
}

/// What `Pipeline::start_with` runs beyond wan_lab's defaults.
#[derive(Default)]
pub struct Options {
    /// vmagent runs the deploy's jobs (`wardflux-devices`, `wardflux-exporter` on
    /// /metrics/self) and the rulers get the self-monitoring rules (30-self.yml).
    pub deploy_jobs: bool,
    /// The rulers' `--notifier.url`.
    pub notifier_url: Option<String>,
}

/// A row of the self-monitoring rules (30-self.yml).
pub fn is_self(r: &Value) -> bool {
    let n = r["alert_name"].as_str().unwrap_or("");
    n == "Watchdog" || n.starts_with("Wardflux")
}

/// Starts `cmd` (program first) with its output in `NAME-N.log` under `dir`.
pub fn spawn_cmd(name: &str, cmd: &[std::ffi::OsString], dir: &Path, n: u32) -> Proc {
    Proc::spawn(
        name,
        Command::new(&cmd[0]).args(&cmd[1..]),
        dir.join(format!("{name}-{n}.log")),
    )
}

pub fn device<'a>(devs: &'a [Value], name: &str) -> &'a Value {
    devs.iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in /api/v1/devices"))
}

pub fn has_text(r: &Value, needle: &str) -> bool {
    r["message"]
        .as_str()
        .unwrap_or("")
        .to_lowercase()
        .contains(&needle.to_lowercase())
}

/// vmagent scraping as `scrape` says into VictoriaMetrics at `vm_url`, its buffer under `dir`
/// (program first, for `spawn_cmd`).
pub fn vmagent_cmd(scrape: &Path, vm_url: &str, dir: &Path) -> Vec<std::ffi::OsString> {
    vec![
        require("vmagent", "victoria-metrics").into(),
        format!("-promscrape.config={}", scrape.display()).into(),
        "-promscrape.httpSDCheckInterval=2s".into(),
        format!("-remoteWrite.url={vm_url}/api/v1/write").into(),
        format!("-remoteWrite.tmpDataPath={}", dir.join("vmagent").display()).into(),
        "-remoteWrite.flushInterval=1s".into(),
        format!("-httpListenAddr=127.0.0.1:{}", free_port()).into(),
        "-loggerLevel=WARN".into(),
    ]
}

/// Writes the rulers' rules under `dir`: the shipped alert rules in `dir/rules/` with every
/// interval and `for` divided by `speedup` (`speed_up`), and the outage group in
/// `dir/outages.yml` analysed every 3 s with a row after 6 s (shipped: 15 s and 30 s). The
/// self-monitoring file (30-self.yml) watches the deploy's scrape jobs (and always fires its
/// Watchdog): it is left out unless `self_monitoring`, and then its range windows are scaled
/// like the intervals ([5m] -> [25s] at 12).
pub fn write_rules(dir: &Path, self_monitoring: bool, speedup: u64) {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    for e in std::fs::read_dir(shipped.join("alerts")).unwrap() {
        let p = e.unwrap().path();
        let is_self = p.file_name().is_some_and(|n| n == "30-self.yml");
        if p.extension().is_some_and(|x| x == "yml") && (self_monitoring || !is_self) {
            let mut text = speed_up(&std::fs::read_to_string(&p).unwrap(), speedup);
            if is_self {
                text = text
                    .replace("[5m]", &format!("[{}s]", 300 / speedup))
                    .replace("[15m]", &format!("[{}s]", 900 / speedup))
                    .replace("[30m]", &format!("[{}s]", 1800 / speedup));
                assert!(!text.contains("m])"), "a range left unscaled:\n{text}");
            }
            std::fs::write(rules.join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let outages = std::fs::read_to_string(shipped.join("outages.yml")).unwrap();
    let outages = outages
        .replace("  interval: 15s\n", "  interval: 3s\n")
        .replace("  for: 30s\n", "  for: 6s\n");
    assert!(outages.contains("interval: 3s") && outages.contains("for: 6s"));
    std::fs::write(dir.join("outages.yml"), outages).unwrap();
}

/// Every webhook notification Alertmanager sends to 127.0.0.1:`port`, in arrival order.
pub fn webhook(port: u16) -> Arc<Mutex<Vec<Value>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("webhook port");
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_ok() {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    sink.lock().unwrap().push(v);
                }
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    got
}

/// The statuses ("firing", "resolved") Alertmanager reported for `alert` in `msgs`.
pub fn statuses(msgs: &[Value], alert: &str) -> Vec<String> {
    msgs.iter()
        .flat_map(|m| m["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == alert)
        .map(|a| a["status"].as_str().unwrap_or("").to_string())
        .collect()
}
