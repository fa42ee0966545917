//! Shared helpers for the integration tests: real agents (snmpsim, net-snmp snmpd in network
//! namespaces), the exporter binary, VictoriaMetrics and vmagent, plus small HTTP, exposition
//! and snmpbulkwalk parsers.
//!
//! Every helper that starts a process or creates a namespace returns a guard whose `Drop` stops
//! or deletes it, so a failing test leaves nothing behind. A missing tool fails the test with a
//! message naming the Debian or PyPI package (`./wardflux test` installs them all).
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- tools and files

/// Debian (or PyPI) package that provides each external tool the tests run.
const TOOLS: &[(&str, &str)] = &[
    ("snmpsimd", "Debian package snmpsim"),
    ("snmpbulkwalk", "Debian package snmp"),
    ("snmpget", "Debian package snmp"),
    ("snmpset", "Debian package snmp"),
    ("snmpd", "Debian package snmpd"),
    ("ip", "Debian package iproute2"),
    ("sysctl", "Debian package procps"),
    ("ping", "Debian package iputils-ping"),
    ("bzcat", "Debian package bzip2"),
    ("victoria-metrics", "Debian package victoria-metrics"),
    ("vmagent", "Debian package victoria-metrics"),
    ("promtool", "Debian package prometheus"),
    ("python3", "Debian package python3"),
    ("lldpd", "Debian package lldpd"),
    ("chromium", "Debian package chromium"),
    (
        "node",
        "Debian package nodejs (with npm package playwright-core)",
    ),
];

/// Full path of `tool`, or a panic that says which package to install.
pub fn require_tool(tool: &str) -> PathBuf {
    let dirs = std::env::var("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
    for d in dirs.split(':').chain(extra) {
        let p = Path::new(d).join(tool);
        if p.is_file() {
            return p;
        }
    }
    let pkg = TOOLS
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, p)| *p)
        .unwrap_or("its package");
    panic!("required tool `{tool}` not found in PATH: install {pkg} (./wardflux test installs every test dependency)");
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A number unique within this process.
pub fn next_seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A directory under /tmp removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "wardflux-test-{tag}-{}-{}",
            std::process::id(),
            next_seq()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory under the target dir, kept after the test for inspection (unlike
/// [`TempDir`]).
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind udp 127.0.0.1:0")
        .port()
}

/// Poll `f` every 200 ms until it returns Some, or panic after `limit` naming what was awaited.
/// The limit only stops a hung test; no assertion depends on how long anything took.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("gave up after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A child process killed (and reaped) on drop.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
        }
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Panic if the process has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early with {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a command to completion; panic with its stderr if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- HTTP

/// A minimal HTTP/1.0 client (no chunked encoding to deal with): returns status and body.
pub fn http(method: &str, addr: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, body.to_string()))
}

/// GET that must answer 200.
pub fn get_ok(addr: &str, path: &str) -> String {
    match http("GET", addr, path, "") {
        Ok((200, body)) => body,
        Ok((status, body)) => panic!("GET http://{addr}{path}: status {status}: {body}"),
        Err(e) => panic!("GET http://{addr}{path}: {e}"),
    }
}

/// Percent-encode a query parameter value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------- exposition text

/// One sample of the text exposition format. The value stays text so 64-bit counters compare
/// exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: String,
}

impl Sample {
    pub fn label(&self, k: &str) -> &str {
        self.labels.get(k).map(String::as_str).unwrap_or("")
    }
    pub fn f64(&self) -> f64 {
        self.value
            .parse()
            .unwrap_or_else(|_| panic!("{}: value {:?} is not a number", self.name, self.value))
    }
}

/// Parse the samples of a text exposition (comments skipped). Panics on a malformed line.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            parse_sample(l).unwrap_or_else(|| panic!("exposition line {}: malformed: {l}", n + 1))
        })
        .collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            r = r.strip_prefix(',').unwrap_or(r);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find('=')?;
            let key = r[..eq].to_string();
            r = r[eq + 1..].strip_prefix('"')?;
            let mut value = String::new();
            let mut it = r.char_indices();
            let end = loop {
                match it.next()? {
                    (_, '\\') => match it.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key, value);
            r = &r[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?.to_string();
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of the only sample named `name` whose labels include every pair of `want`.
pub fn find_sample<'a>(
    samples: &'a [Sample],
    name: &str,
    want: &[(&str, &str)],
) -> Option<&'a Sample> {
    samples
        .iter()
        .find(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == *v))
}

// ---------------------------------------------------------------- snmpsim

/// Where the PyPI package snmpsim-data keeps its recordings: `$WARDFLUX_SNMPSIM_DATA`, else
/// asked of python3.
pub fn snmpsim_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("WARDFLUX_SNMPSIM_DATA") {
        return PathBuf::from(d);
    }
    let py = require_tool("python3");
    let out = Command::new(py)
        .args([
            "-c",
            "import os, snmpsim_data; print(os.path.join(os.path.dirname(snmpsim_data.__file__), 'data'))",
        ])
        .output()
        .expect("run python3");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        out.status.success() && dir.is_dir(),
        "the PyPI package snmpsim-data is not installed for python3 (pip install snmpsim-data, or \
         set WARDFLUX_SNMPSIM_DATA to its data directory; ./wardflux test does this): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Community under which snmpsim serves a recording: its file name without extension.
pub fn community_of(recording: &str) -> &str {
    recording.rsplit('/').next().unwrap_or(recording)
}

/// A running snmpsimd serving some snmpsim-data recordings on 127.0.0.1.
pub struct Snmpsim {
    pub port: u16,
    /// Where the served recordings are, as `<community>.snmprec`.
    pub data_dir: PathBuf,
    _proc: Proc,
}

impl Snmpsim {
    /// Serve `recordings` (paths inside snmpsim-data without extension, e.g.
    /// `network/switch/cisco-c3750`). `key` names a fixed directory under
    /// /tmp/wardflux-simcache, so the slow first indexing is done once and reused by later runs;
    /// give each test its own key so two tests never index the same files at once.
    pub fn start(key: &str, recordings: &[&str]) -> Snmpsim {
        let named: Vec<(&str, &str)> = recordings.iter().map(|r| (*r, community_of(r))).collect();
        Snmpsim::start_as(key, &named)
    }

    /// Like `start`, each recording served under the community given with it (snmpsim's
    /// community is the file name), so a test can use communities it can look for in output.
    pub fn start_as(key: &str, recordings: &[(&str, &str)]) -> Snmpsim {
        let bin = require_tool("snmpsimd");
        let root = Path::new("/tmp/wardflux-simcache").join(key);
        let data = root.join("data");
        let cache = root.join("cache");
        std::fs::create_dir_all(&data).expect("create snmpsim data dir");
        std::fs::create_dir_all(&cache).expect("create snmpsim cache dir");
        let _ = Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(&root)
            .status();
        let src = snmpsim_data_dir();
        for (r, community) in recordings {
            let dst = data.join(format!("{community}.snmprec"));
            if dst.is_file() {
                continue; // unchanged file keeps snmpsim's index valid
            }
            let plain = src.join(format!("{r}.snmprec"));
            let bz = src.join(format!("{r}.snmprec.bz2"));
            let tmp = data.join(format!(".{community}.tmp"));
            if plain.is_file() {
                std::fs::copy(&plain, &tmp).expect("copy recording");
            } else if bz.is_file() {
                let bzcat = require_tool("bzcat");
                let out = std::fs::File::create(&tmp).expect("create recording");
                let ok = Command::new(bzcat)
                    .arg(&bz)
                    .stdout(out)
                    .status()
                    .expect("run bzcat");
                assert!(ok.success(), "bzcat {} failed", bz.display());
            } else {
                panic!("recording {r} not found in {}", src.display());
            }
            std::fs::rename(&tmp, &dst).expect("rename recording");
            let _ = Command::new("chmod").arg("a+r").arg(&dst).status();
        }
        let port = free_udp_port();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .arg("--v2c-arch")
            .arg("--logging-method=null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
        }
        let mut proc = Proc::spawn("snmpsimd", &mut cmd);
        let addr = format!("127.0.0.1:{port}");
        let first = recordings[0].1.to_string();
        // The first start indexes every recording (large ones take a while).
        wait_for("snmpsimd to answer", Duration::from_secs(300), || {
            proc.assert_running();
            snmp_get_v2c(&addr, &first, "1.3.6.1.2.1.1.3.0").ok()
        });
        Snmpsim {
            port,
            data_dir: data,
            _proc: proc,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

// ---------------------------------------------------------------- net-snmp tools

/// `snmpget -v2c` one OID; Ok(value text) or Err(stderr).
pub fn snmp_get_v2c(addr: &str, community: &str, oid: &str) -> Result<String, String> {
    let out = Command::new(require_tool("snmpget"))
        .args([
            "-v2c", "-c", community, "-On", "-Oqv", "-Oe", "-Ot", "-t", "1", "-r", "1",
        ])
        .arg(addr)
        .arg(oid)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !text.is_empty() && !text.starts_with("No Such") {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// `snmpbulkwalk` one subtree with numeric output: OID suffix (after `base`) -> value text
/// (integers and enums as numbers, OCTET STRINGs as printed).
pub fn bulkwalk(args: &[&str], addr: &str, base: &str) -> BTreeMap<String, String> {
    let out = run(Command::new(require_tool("snmpbulkwalk"))
        .args(args)
        .args(["-On", "-Oq", "-Oe", "-Ot", "-Cr50", "-t", "5", "-r", "2"])
        .arg(addr)
        .arg(base));
    let prefix = format!(".{base}.");
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let (suffix, value) = rest.split_once(' ').unwrap_or((rest, ""));
        m.insert(suffix.to_string(), value.trim().to_string());
    }
    m
}

// ---------------------------------------------------------------- the exporter

/// A running wardflux-exporter with its own config file, on a free port.
pub struct Exporter {
    pub dir: TempDir,
    pub addr: String,
    proc: Proc,
}

impl Exporter {
    /// Start the exporter on `config` (YAML text) with extra environment variables.
    pub fn start(config: &str, env: &[(&str, &str)]) -> Exporter {
        Exporter::start_with_args(config, env, &[])
    }

    /// [`Exporter::start`] with extra flags (e.g. `--shard.index`).
    pub fn start_with_args(config: &str, env: &[(&str, &str)], args: &[&str]) -> Exporter {
        let dir = TempDir::new("exporter");
        std::fs::write(dir.join("wardflux.yml"), config).expect("write config");
        let port = free_tcp_port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("exporter.log")).expect("create log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardflux-exporter"));
        cmd.arg("--config.file")
            .arg(dir.join("wardflux.yml"))
            .arg("--web.listen-address")
            .arg(&addr)
            .arg("--log.level")
            .arg("debug")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut proc = Proc::spawn("wardflux-exporter", &mut cmd);
        let ex_addr = addr.clone();
        wait_for("the exporter to listen", Duration::from_secs(30), || {
            proc.assert_running();
            matches!(http("GET", &ex_addr, "/-/healthy", ""), Ok((200, _))).then_some(())
        });
        Exporter { dir, addr, proc }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("wardflux.yml")
    }

    pub fn get(&self, path: &str) -> String {
        get_ok(&self.addr, path)
    }

    pub fn post(&self, path: &str) -> (u16, String) {
        http("POST", &self.addr, path, "").unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// GET a path that must answer 200 with JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let body = self.get(path);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad JSON {e}: {body}"))
    }

    pub fn metrics(&self) -> Vec<Sample> {
        parse_exposition(&self.get("/metrics"))
    }

    pub fn devices(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.get("/api/v1/devices")).expect("devices json")
    }

    pub fn device(&self, name: &str) -> serde_json::Value {
        self.devices()
            .into_iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("device {name} not in /api/v1/devices"))
    }

    /// wardflux_device_polls_total of one device (0 before its first visit ends).
    pub fn polls(&self, device: &str) -> u64 {
        let text = self.get("/metrics");
        let needle = format!("wardflux_device_polls_total{{device=\"{device}\"");
        text.lines()
            .find(|l| l.starts_with(&needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or(0)
    }

    /// Wait until every listed device is up and has polled values on /metrics.
    pub fn wait_devices_up(&mut self, names: &[&str], limit: Duration) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let addr = self.addr.clone();
        let proc = &mut self.proc;
        wait_for(
            &format!("devices {names:?} to be up and polled"),
            limit,
            || {
                proc.assert_running();
                let devs: Vec<serde_json::Value> =
                    serde_json::from_str(&get_ok(&addr, "/api/v1/devices")).ok()?;
                let all = names.iter().all(|n| {
                    devs.iter().any(|d| {
                        d["name"] == n.as_str()
                            && d["up"] == true
                            && d["last_success"].is_number()
                            && d["interfaces"].as_u64().unwrap_or(0) > 0
                    })
                });
                all.then_some(())
            },
        );
    }

    /// Wait until a full visit of `device` has started and ended after this call.
    pub fn wait_next_full_poll(&self, device: &str, limit: Duration) {
        let start = self.polls(device);
        wait_for(&format!("two more visits of {device}"), limit, || {
            (self.polls(device) >= start + 2).then_some(())
        });
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("exporter.log")).unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        self.proc.assert_running();
    }

    /// Send SIGTERM and wait (at most `limit`, a guard against a hang) for the exit: the
    /// exit status and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        run(Command::new("kill").args(["-TERM", &self.proc.pid().to_string()]));
        let status = wait_for("the exporter to exit after SIGTERM", limit, || {
            self.proc.child.try_wait().ok().flatten()
        });
        (status, start.elapsed())
    }
}

// ---------------------------------------------------------------- the namespace lab

// Network namespaces, cables, agents and failures are wardflux-lab's (`tools/lab`): tests
// describe their devices in its YAML and build them with `wardflux_lab::Lab`.

/// ifIndex of `port` on a lab device, as its snmpd numbers it (the kernel's).
pub fn lab_if_index(lab: &wardflux_lab::Lab, node: &str, port: &str) -> u32 {
    let ns = lab.netns(node).expect("lab device");
    let out =
        run(Command::new(require_tool("ip")).args(["-n", ns, "-o", "link", "show", "dev", port]));
    out.split(':')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ifindex for {port} on {node}: {out}"))
}

// ---------------------------------------------------------------- VictoriaMetrics, vmagent

/// A single-node VictoriaMetrics on a free port with its own storage.
pub struct VictoriaMetrics {
    pub addr: String,
    _dir: TempDir,
    _proc: Proc,
}

impl VictoriaMetrics {
    pub fn start() -> VictoriaMetrics {
        let bin = require_tool("victoria-metrics");
        let dir = TempDir::new("vm");
        let addr = format!("127.0.0.1:{}", free_tcp_port());
        let log = std::fs::File::create(dir.join("vm.log")).expect("vm log");
        let mut proc = Proc::spawn(
            "victoria-metrics",
            Command::new(bin)
                .arg(format!("-storageDataPath={}", dir.join("data").display()))
                .arg(format!("-httpListenAddr={addr}"))
                .arg("-retentionPeriod=100y")
                .arg("-search.latencyOffset=0s")
                .arg("-search.disableCache")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        );
        let a = addr.clone();
        wait_for(
            "victoria-metrics to answer",
            Duration::from_secs(30),
            || {
                proc.assert_running();
                matches!(http("GET", &a, "/health", ""), Ok((200, _))).then_some(())
            },
        );
        VictoriaMetrics {
            addr,
            _dir: dir,
            _proc: proc,
        }
    }

    /// Instant query: the `data.result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let body = get_ok(
            &self.addr,
            &format!("/api/v1/query?query={}", urlencode(promql)),
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("query json");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// vmagent scraping whatever the HTTP service-discovery URL lists, writing to `vm`.
/// `honor_labels: true`: the exporter's series already carry `device` and the target's labels,
/// which the service discovery also attaches; without it they would come out as `exported_*`.
pub struct Vmagent {
    dir: TempDir,
    proc: Proc,
}

impl Vmagent {
    pub fn start(sd_url: &str, scrape_interval: &str, vm: &VictoriaMetrics) -> Vmagent {
        let bin = require_tool("vmagent");
        let dir = TempDir::new("vmagent");
        std::fs::write(
            dir.join("scrape.yml"),
            format!(
                "scrape_configs:\n\
                 - job_name: wardflux\n\
                 \x20 scrape_interval: {scrape_interval}\n\
                 \x20 honor_labels: true\n\
                 \x20 http_sd_configs:\n\
                 \x20 - url: {sd_url}\n"
            ),
        )
        .expect("write scrape.yml");
        let log = std::fs::File::create(dir.join("vmagent.log")).expect("vmagent log");
        let proc = Proc::spawn(
            "vmagent",
            Command::new(bin)
                .arg(format!(
                    "-promscrape.config={}",
                    dir.join("scrape.yml").display()
                ))
                .arg("-promscrape.httpSDCheckInterval=2s")
                .arg(format!("-remoteWrite.url=http://{}/api/v1/write", vm.addr))
                .arg(format!(
                    "-remoteWrite.tmpDataPath={}",
                    dir.join("buffer").display()
                ))
                .arg(format!("-httpListenAddr=127.0.0.1:{}", free_tcp_port()))
                .arg("-remoteWrite.flushInterval=1s")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        );
        Vmagent { dir, proc }
    }

    /// Panic (with its log) if vmagent has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.proc.child.try_wait() {
            panic!(
                "vmagent exited with {status}:\n{}",
                std::fs::read_to_string(self.dir.join("vmagent.log")).unwrap_or_default()
            );
        }
    }
}
