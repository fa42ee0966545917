//! The edge to the operating system: running `ip`, commands inside a namespace, signals,
//! sysctls and the tools' packages. Everything the builder does to the host goes through here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::LabError;

/// Debian (or PyPI) package of each external tool the lab runs.
const PACKAGES: &[(&str, &str)] = &[
    ("ip", "Debian package iproute2"),
    ("snmpd", "Debian package snmpd"),
    ("snmpget", "Debian package snmp"),
    ("snmpset", "Debian package snmp"),
    ("lldpd", "Debian package lldpd"),
    ("lldpcli", "Debian package lldpd"),
    ("snmpsimd", "Debian package snmpsim"),
    ("ping", "Debian package iputils-ping"),
    ("bzcat", "Debian package bzip2"),
    ("sysctl", "Debian package procps"),
    ("python3", "Debian package python3"),
    ("chown", "Debian package coreutils"),
];

/// Full path of `tool`, or an error naming its package.
pub fn tool(name: &str) -> Result<PathBuf, LabError> {
    let path = std::env::var("PATH").unwrap_or_default();
    for d in path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    {
        let p = Path::new(d).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let package = PACKAGES
        .iter()
        .find(|(t, _)| *t == name)
        .map(|(_, p)| *p)
        .unwrap_or("its package");
    Err(LabError::MissingTool {
        tool: name.to_string(),
        package: package.to_string(),
    })
}

/// The lab makes namespaces, links and routes: it runs as root.
pub fn require_root() -> Result<(), LabError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    if uid == "0" {
        Ok(())
    } else {
        Err(LabError::NotRoot)
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run to completion; an error (with stderr) unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<String, LabError> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: describe(cmd),
            message: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run to completion, whatever the exit status.
pub fn output(cmd: &mut Command) -> Result<Output, LabError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Command {
            command: describe(cmd),
            message: e.to_string(),
        })
}

/// `ip ARGS` in the host.
pub fn ip(args: &[&str]) -> Result<String, LabError> {
    run(Command::new(tool("ip")?).args(args))
}

/// `ip -n NS ARGS`.
pub fn ip_ns(ns: &str, args: &[&str]) -> Result<String, LabError> {
    run(Command::new(tool("ip")?).arg("-n").arg(ns).args(args))
}

/// `ip [-n NS] -batch -` with one command per line (in order; stops at the first error).
pub fn ip_batch(ns: Option<&str>, lines: &[String]) -> Result<(), LabError> {
    if lines.is_empty() {
        return Ok(());
    }
    use std::io::Write;
    let mut cmd = Command::new(tool("ip")?);
    if let Some(ns) = ns {
        cmd.arg("-n").arg(ns);
    }
    cmd.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let what = format!(
        "ip {}-batch",
        ns.map(|n| format!("-n {n} ")).unwrap_or_default()
    );
    let mut child = cmd.spawn().map_err(|e| LabError::Command {
        command: what.clone(),
        message: e.to_string(),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = lines.join("\n") + "\n";
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| LabError::Command {
                command: what.clone(),
                message: e.to_string(),
            })?;
    }
    let out = child.wait_with_output().map_err(|e| LabError::Command {
        command: what.clone(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: what,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// A command run inside namespace `ns`.
pub fn in_ns(ns: &str, program: &str) -> Result<Command, LabError> {
    let mut c = Command::new(tool("ip")?);
    c.args(["netns", "exec", ns]).arg(tool(program)?);
    Ok(c)
}

/// Set sysctls (`key=value`) inside a namespace, in one process.
pub fn sysctl_ns(ns: &str, settings: &[&str]) -> Result<(), LabError> {
    run(in_ns(ns, "sysctl")?.arg("-q").arg("-w").args(settings)).map(|_| ())
}

/// Set a sysctl of the host (under /proc/sys, dots as slashes).
pub fn sysctl_host(key: &str, value: &str) -> Result<(), LabError> {
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| LabError::Command {
        command: format!("sysctl -w {key}={value}"),
        message: e.to_string(),
    })
}

/// Namespaces that exist now.
pub fn netns_list() -> Result<Vec<String>, LabError> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// Processes inside a namespace.
pub fn netns_pids(ns: &str) -> Vec<u32> {
    let Ok(ipbin) = tool("ip") else {
        return Vec::new();
    };
    output(Command::new(ipbin).args(["netns", "pids", ns]))
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Send `signal` (TERM, KILL) to `pids`.
pub fn signal(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = output(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(|p| p.to_string())),
    );
}

/// Stop every process inside `ns`: TERM, then KILL what is left after `grace`.
pub fn stop_all_in(ns: &str, grace: Duration) {
    let pids = netns_pids(ns);
    if pids.is_empty() {
        return;
    }
    signal(&pids, "TERM");
    let start = Instant::now();
    while start.elapsed() < grace {
        if pids
            .iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists() || is_zombie(*p))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&netns_pids(ns), "KILL");
}

/// Stop `pids` (not in a lab namespace): TERM, then KILL what is left after `grace`.
pub fn stop_pids(pids: &[u32], grace: Duration) {
    if pids.is_empty() {
        return;
    }
    signal(pids, "TERM");
    let gone = |p: &u32| !Path::new(&format!("/proc/{p}")).exists() || is_zombie(*p);
    let start = Instant::now();
    while start.elapsed() < grace {
        if pids.iter().all(gone) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|p| !gone(p)).collect();
    signal(&left, "KILL");
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Where the PyPI package snmpsim-data keeps its recordings: `$WARDFLUX_SNMPSIM_DATA`, else
/// asked of python3.
pub fn snmpsim_data_dir() -> Result<PathBuf, LabError> {
    if let Ok(d) = std::env::var("WARDFLUX_SNMPSIM_DATA") {
        return Ok(PathBuf::from(d));
    }
    let out = output(Command::new(tool("python3")?).args([
        "-c",
        "import os, snmpsim_data; print(os.path.join(os.path.dirname(snmpsim_data.__file__), 'data'))",
    ]))?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if out.status.success() && dir.is_dir() {
        Ok(dir)
    } else {
        Err(LabError::MissingTool {
            tool: "snmpsim_data".into(),
            package: "PyPI package snmpsim-data (or set WARDFLUX_SNMPSIM_DATA)".into(),
        })
    }
}

/// Poll `f` every 100 ms until it is true, at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
