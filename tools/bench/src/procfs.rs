//! Process figures from /proc: CPU seconds (user + system) and peak resident memory.

use anyhow::Context;

/// Clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// User plus system CPU seconds the process has used.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &s[s.rfind(')').context("bad /proc stat")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11).context("no utime")?.parse()?;
    let stime: f64 = f.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / TICKS)
}

/// A `kB` field of /proc/PID/status (VmHWM peak RSS, VmRSS current RSS) in bytes.
pub fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = s
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("bad status line")?
        .parse()?;
    Ok(kb * 1024)
}

/// User plus system CPU seconds of this process's threads named `name` (`/proc/self/task`).
pub fn threads_cpu_seconds(name: &str) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let dir = e?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        // comm is cut at 15 bytes.
        if !name.starts_with(comm.trim_end()) || comm.trim_end().is_empty() {
            continue;
        }
        let Ok(s) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        let Some(close) = s.rfind(')') else { continue };
        let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
        let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (ut + st) / TICKS;
    }
    Ok(total)
}
