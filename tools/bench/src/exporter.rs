//! Runs wardflux-exporter as a real process against the in-process simulated agent and measures
//! requests per poll, CPU per 1,000 interface polls, the first full cycle, peak RSS and /metrics.
//! (The poll cycle against the agent-bound floor is `cycle.rs`.)

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wardflux_simagent::{synth, Agent, Limits, Snapshot};

use crate::{http, procfs, promtext};

/// One exporter scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub exporter: PathBuf,
    pub devices: usize,
    pub interfaces: u32,
    pub delay: Duration,
    pub poll_interval: Duration,
    pub window: Duration,
    pub concurrency: u32,
    pub work_dir: PathBuf,
}

/// What one scenario measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub devices: usize,
    pub interfaces: u32,
    pub delay_ms: u64,
    pub discovery_requests_per_device: f64,
    pub first_cycle_seconds: f64,
    pub requests_per_poll: f64,
    pub bytes_per_poll: f64,
    pub polls_per_second: f64,
    pub cpu_per_1000_interface_polls: f64,
    pub cpu_cores_busy: f64,
    pub mean_poll_seconds: f64,
    pub polls_missed: f64,
    pub poll_failures: f64,
    pub devices_up: usize,
    pub render_seconds: f64,
    pub render_cpu_seconds: f64,
    /// The exporter's own figure for its last render (no HTTP transfer).
    pub render_self_seconds: f64,
    pub metrics_bytes: usize,
    pub series: usize,
    pub peak_rss_bytes: u64,
}

/// The exporter process, killed when dropped.
pub struct Exporter {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// The exporter config for `n` synthetic devices on the agent at `agent`.
pub fn config(n: usize, agent: SocketAddr, sc: &Scenario) -> String {
    let names: Vec<String> = (1..=n).map(synth::device_name).collect();
    config_for(&names, agent, sc.poll_interval, sc.concurrency)
}

/// The exporter config for devices `names` (community = name) on the agent at `agent`.
pub fn config_for(
    names: &[String],
    agent: SocketAddr,
    poll_interval: Duration,
    concurrency: u32,
) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "poll_interval: {}ms\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\nmax_concurrent_devices: {}\nauths:",
        poll_interval.as_millis(),
        concurrency
    );
    for d in names {
        let _ = writeln!(y, "  {d}: {{version: 2, community: {d}}}");
    }
    y.push_str("targets:\n");
    for d in names {
        let _ = writeln!(
            y,
            "  - {{name: {d}, address: \"{agent}\", auth: {d}, labels: {{site: bench}}}}"
        );
    }
    y
}

pub fn start(exporter: &Path, config: &Path, log: &Path) -> anyhow::Result<Exporter> {
    start_with(exporter, config, log, &[])
}

/// As [`start`], with extra flags.
pub fn start_with(
    exporter: &Path,
    config: &Path,
    log: &Path,
    extra: &[String],
) -> anyhow::Result<Exporter> {
    let addr = free_port()?;
    let log = std::fs::File::create(log)?;
    let child = Command::new(exporter)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", exporter.display()))?;
    let t = Instant::now();
    while http::get(addr, "/-/healthy").is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("exporter did not answer /-/healthy within 30s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Exporter { child, addr })
}

/// Polls /api/v1/devices until every device has succeeded once.
pub fn wait_all_up(addr: SocketAddr, n: usize, limit: Duration) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let (_, body) = http::get(addr, "/api/v1/devices")?;
        let text = String::from_utf8_lossy(&body);
        let done = text.matches("\"last_success\":").count()
            - text.matches("\"last_success\":null").count();
        if done >= n {
            return Ok(());
        }
        if t.elapsed() > limit {
            bail!("only {done} of {n} devices polled after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Health {
    polls: f64,
    missed: f64,
    failures: f64,
    up: usize,
    mean_poll: f64,
}

fn health(text: &str) -> Health {
    let (polls, _) = promtext::sum(text, "wardflux_device_polls_total");
    let (missed, _) = promtext::sum(text, "wardflux_device_polls_missed_total");
    let (failures, _) = promtext::sum(text, "wardflux_device_poll_failures_total");
    let (up, _) = promtext::sum(text, "wardflux_device_up");
    let (dur, n) = promtext::sum(text, "wardflux_device_poll_duration_seconds");
    Health {
        polls,
        missed,
        failures,
        up: up as usize,
        mean_poll: if n > 0 { dur / n as f64 } else { 0.0 },
    }
}

/// Runs one scenario end to end.
pub fn run(sc: &Scenario) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(&sc.work_dir)?;
    let agent = Agent::new(synth::devices(sc.devices, sc.interfaces), Limits::default());
    let running = wardflux_simagent::spawn("127.0.0.1:0".parse()?, agent, sc.delay)?;
    let before_exporter = running.stats.snapshot();
    let cfg = sc.work_dir.join("exporter.yml");
    std::fs::write(&cfg, config(sc.devices, running.addr, sc))?;
    let started = Instant::now();
    let exp = start(&sc.exporter, &cfg, &sc.work_dir.join("exporter.log"))?;
    let pid = exp.child.id();
    wait_all_up(exp.addr, sc.devices, Duration::from_secs(600))?;
    let first_cycle = started.elapsed().as_secs_f64();
    let after_discovery = running.stats.snapshot().since(&before_exporter);

    // Steady state: the window's CPU excludes both /metrics renders (see BENCHMARKS.md).
    std::thread::sleep(sc.poll_interval.min(Duration::from_secs(5)));
    // The agent is read just before each /metrics request, whose snapshot of poll counts is
    // taken as it starts: requests and polls cover the same span. CPU is read after the first
    // render and before the second, so no render lands in it; polls are scaled to its span.
    let a0: Snapshot = running.stats.snapshot();
    let t_h0 = Instant::now();
    let (_, m0) = http::get(exp.addr, "/metrics")?;
    let h0 = health(&String::from_utf8_lossy(&m0));
    drop(m0);
    let cpu0 = procfs::cpu_seconds(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(sc.window);
    let cpu1 = procfs::cpu_seconds(pid)?;
    let a1 = running.stats.snapshot();
    let t1 = Instant::now();
    let (_, m1) = http::get(exp.addr, "/metrics")?;
    let h1 = health(&String::from_utf8_lossy(&m1));
    drop(m1);
    let poll_window = t1.duration_since(t_h0).as_secs_f64();
    let cpu_window = t1.duration_since(t0).as_secs_f64();
    let polls_exact = h1.polls - h0.polls;
    let polls = polls_exact * cpu_window / poll_window;
    let d = a1.since(&a0);
    if polls <= 0.0 {
        bail!("no polls completed in the {cpu_window:.1}s window; raise --window");
    }

    // /metrics: best of three renders, with the CPU each took.
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut size = 0;
    let mut series = 0;
    for _ in 0..3 {
        let c0 = procfs::cpu_seconds(pid)?;
        let t = Instant::now();
        let (status, body) = http::get(exp.addr, "/metrics")?;
        let el = t.elapsed().as_secs_f64();
        let c1 = procfs::cpu_seconds(pid)?;
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        best = best.min(el);
        best_cpu = best_cpu.min(c1 - c0);
        size = body.len();
        series = promtext::series(&String::from_utf8_lossy(&body));
    }
    let (_, selfm) = http::get(exp.addr, "/metrics/self")?;
    let render_self = promtext::sum(
        &String::from_utf8_lossy(&selfm),
        "wardflux_metrics_render_duration_seconds",
    )
    .0;
    let peak = procfs::status_bytes(pid, "VmHWM")?;
    drop(exp);
    running.stop();
    Ok(Figures {
        devices: sc.devices,
        interfaces: sc.interfaces,
        delay_ms: sc.delay.as_millis() as u64,
        discovery_requests_per_device: after_discovery.requests as f64 / sc.devices as f64,
        first_cycle_seconds: first_cycle,
        requests_per_poll: d.requests as f64 / polls_exact,
        bytes_per_poll: (d.bytes_received + d.bytes_sent) as f64 / polls_exact,
        polls_per_second: polls / cpu_window,
        cpu_per_1000_interface_polls: (cpu1 - cpu0) / (polls * f64::from(sc.interfaces) / 1000.0),
        cpu_cores_busy: (cpu1 - cpu0) / cpu_window,
        mean_poll_seconds: h1.mean_poll,
        polls_missed: h1.missed,
        poll_failures: h1.failures,
        devices_up: h1.up,
        render_seconds: best,
        render_cpu_seconds: best_cpu,
        render_self_seconds: render_self,
        metrics_bytes: size,
        series,
        peak_rss_bytes: peak,
    })
}

/// The figures as a Markdown table.
pub fn table(rows: &[Figures]) -> String {
    let mut s = String::new();
    s.push_str("| devices x interfaces | delay | first full cycle (discovery+poll) s | SNMP requests / device poll | bytes / device poll | first-visit requests / device (discovery + poll) | CPU s / 1,000 interface polls | polls/s (CPU cores) | mean device poll ms | devices up; missed / failed polls | /metrics render s: exporter's own / GET incl. transfer (CPU s) | /metrics MB | series | peak RSS MB |\n");
    s.push_str(&"|---".repeat(14));
    s.push_str("|\n");
    for f in rows {
        let _ = writeln!(
            s,
            "| {} x {} | {} ms | {:.2} | {:.2} | {:.0} | {:.1} | {:.4} | {:.0} ({:.2}) | {:.1} | {}; {:.0} / {:.0} | {:.3} / {:.3} ({:.2}) | {:.1} | {} | {:.0} |",
            f.devices,
            f.interfaces,
            f.delay_ms,
            f.first_cycle_seconds,
            f.requests_per_poll,
            f.bytes_per_poll,
            f.discovery_requests_per_device,
            f.cpu_per_1000_interface_polls,
            f.polls_per_second,
            f.cpu_cores_busy,
            f.mean_poll_seconds * 1000.0,
            f.devices_up,
            f.polls_missed,
            f.poll_failures,
            f.render_self_seconds,
            f.render_seconds,
            f.render_cpu_seconds,
            f.metrics_bytes as f64 / 1e6,
            f.series,
            f.peak_rss_bytes as f64 / 1e6
        );
    }
    s
}
