//! Helpers shared by the topology integration tests: required tools, child processes that
//! stop when dropped, the exporter binary on a free port, and a tiny blocking HTTP client.
//!
//! A missing tool fails the test with the Debian/npm package to install.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Tool -> package that provides it.
const TOOLS: &[(&str, &str)] = &[
    ("snmpd", "Debian package snmpd"),
    ("snmpbulkwalk", "Debian package snmp"),
    ("snmpset", "Debian package snmp"),
    ("lldpd", "Debian package lldpd"),
    ("ip", "Debian package iproute2"),
    ("promtool", "Debian package prometheus"),
    ("snmpsimd", "Debian package snmpsim"),
    ("bzcat", "Debian package bzip2"),
    ("chromium", "Debian package chromium"),
    (
        "node",
        "Debian package nodejs (with npm package playwright-core)",
    ),
];

/// Full path of `tool`, or a panic naming the package that provides it.
pub fn require_tool(tool: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    for d in path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    {
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
    panic!("required tool {tool:?} is missing: install {pkg} (./wardflux test installs it)");
}

/// Run a command to completion; panic with its output on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed (and reaped) on drop.
pub struct Proc(pub Child, pub String);

impl Proc {
    pub fn spawn(what: &str, cmd: &mut Command, log: &Path) -> Proc {
        let f = std::fs::File::create(log).expect("create log file");
        let child = cmd
            .stdout(Stdio::from(f.try_clone().expect("dup log")))
            .stderr(Stdio::from(f))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc(child, what.to_string())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// The exporter binary serving `config` on a free port, stopped on drop.
pub struct Exporter {
    pub proc: Proc,
    pub addr: String,
}

impl Exporter {
    pub fn start(config: &Path, log: &Path) -> Exporter {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let proc = Proc::spawn(
            "wardflux-exporter",
            Command::new(env!("CARGO_BIN_EXE_wardflux-exporter"))
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--web.listen-address={addr}")),
            log,
        );
        let e = Exporter { proc, addr };
        wait_for(Duration::from_secs(20), "exporter to listen", || {
            get(&e.addr, "/-/healthy").ok().filter(|(s, _)| *s == 200)
        });
        e
    }

    /// GET a path; panics unless the status is 200.
    pub fn get_ok(&self, path: &str) -> String {
        let (status, body) = get(&self.addr, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// POST without a body; panics unless the status is 200.
    pub fn post_ok(&self, path: &str) -> String {
        let (status, body) =
            request(&self.addr, "POST", path).unwrap_or_else(|e| panic!("POST {path}: {e}"));
        assert_eq!(status, 200, "POST {path}: {body}");
        body
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let body = self.get_ok(path);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad JSON {e}: {body}"))
    }
}

/// A blocking HTTP/1.0 GET: (status, body).
pub fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    request(addr, "GET", path)
}

/// A blocking HTTP/1.0 request without a body: (status, body).
pub fn request(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// Poll `f` every 250 ms until it returns Some, or panic after `limit` naming `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A fresh scratch directory under the target dir (kept for inspection after a failure).
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Edges of a topology JSON as sorted "A:ifA <-> B:ifB state" strings (ends ordered by name).
pub fn edge_strings(topo: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = topo["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let a = format!(
                "{}:{}",
                e["source"].as_str().unwrap_or(""),
                e["source_interface"].as_str().unwrap_or("")
            );
            let b = format!(
                "{}:{}",
                e["target"].as_str().unwrap_or(""),
                e["target_interface"].as_str().unwrap_or("")
            );
            let (x, y) = if a <= b { (a, b) } else { (b, a) };
            format!("{x} <-> {y} {}", e["state"].as_str().unwrap_or(""))
        })
        .collect();
    v.sort();
    v
}
