//! The scale run (issue 8): thousands of synthetic devices polled on a real interval for
//! minutes, scraped per target by vmagent through the exporter's HTTP service discovery
//! (`/api/v1/targets` -> `/probe?target=`) and written into VictoriaMetrics. Measures the
//! exporter's average CPU, peak RSS, missed polls and what VictoriaMetrics ingested.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wardflux_simagent::{synth, Agent, Limits, ServeOptions};

use crate::exporter::{self, free_port};
use crate::{http, procfs};

/// One scale run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub exporter: PathBuf,
    pub devices: usize,
    pub interfaces: u32,
    pub delay: Duration,
    pub poll_interval: Duration,
    /// Measured span, after every device has been discovered and polled once.
    pub duration: Duration,
    pub concurrency: u32,
    pub work_dir: PathBuf,
    /// Extra flags for the exporter (e.g. `--web.max-connections=2048`).
    pub exporter_args: Vec<String>,
    /// Extra flags for vmagent (e.g. `-promscrape.disableKeepAlive`).
    pub vmagent_args: Vec<String>,
}

/// What it measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub first_cycle_seconds: f64,
    pub window_seconds: f64,
    pub exporter_cpu_seconds: f64,
    pub exporter_peak_rss_bytes: u64,
    pub exporter_rss_end_bytes: u64,
    pub polls: f64,
    pub polls_expected: f64,
    pub polls_missed: f64,
    pub poll_failures: f64,
    pub devices_up: f64,
    pub series: f64,
    pub samples: f64,
    pub scrapes: f64,
    pub scrapes_failed: f64,
    pub vm_cpu_seconds: f64,
    pub vmagent_cpu_seconds: f64,
    pub agent_cpu_seconds: f64,
    pub load_start: String,
    pub load_mean_1m: f64,
    pub load_end: String,
    /// The exporter's listener, sampled once a second from start to end.
    pub sockets: crate::sockets::Summary,
    /// Scrapes failed in the first three minutes after vmagent started.
    pub scrapes_failed_first_3m: f64,
}

struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn check(&mut self, log: &Path) -> anyhow::Result<()> {
        if let Ok(Some(st)) = self.0.try_wait() {
            bail!("{} exited with {st}; see {}", self.1, log.display());
        }
        Ok(())
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn load1() -> f64 {
    loadavg()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// The single value of an instant query that returns one series (`sum(...)`), 0 when empty.
fn query_scalar(vm: SocketAddr, q: &str) -> anyhow::Result<f64> {
    let (status, body) = http::get(vm, &format!("/api/v1/query?query={}", enc(q)))?;
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        bail!("VictoriaMetrics answered {status} to {q}: {text}");
    }
    Ok(json_value(&text).unwrap_or(0.0))
}

/// The sample value in `"value":[<ts>,"<v>"]` of a query answer.
fn json_value(text: &str) -> Option<f64> {
    let at = text.find("\"value\":[")?;
    let rest = &text[at..];
    let comma = rest.find(',')?;
    let v = rest[comma + 1..].trim_start().strip_prefix('"')?;
    v[..v.find('"')?].parse().ok()
}

/// Sum of a metric family in a process's own /metrics (any labels).
fn self_metric(addr: SocketAddr, name: &str) -> anyhow::Result<f64> {
    let (_, body) = http::get(addr, "/metrics")?;
    Ok(crate::promtext::sum(&String::from_utf8_lossy(&body), name).0)
}

fn wait_http(addr: SocketAddr, path: &str, what: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    while !matches!(http::get(addr, path), Ok((200, _))) {
        if t.elapsed() > Duration::from_secs(60) {
            bail!("{what} did not answer {path} within 60s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn start_vm(work: &Path) -> anyhow::Result<(Proc, SocketAddr)> {
    let addr = free_port()?;
    let child = Command::new("victoria-metrics")
        .arg(format!(
            "-storageDataPath={}",
            work.join("vm-data").display()
        ))
        .arg(format!("-httpListenAddr={addr}"))
        .arg("-search.latencyOffset=0s")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("victoria-metrics.log"))?)
        .spawn()
        .context("starting victoria-metrics (apt-get install victoria-metrics)")?;
    let p = Proc(child, "victoria-metrics");
    wait_http(addr, "/health", "victoria-metrics")?;
    Ok((p, addr))
}

fn start_vmagent(
    work: &Path,
    exporter: SocketAddr,
    vm: SocketAddr,
    interval: Duration,
    extra: &[String],
) -> anyhow::Result<(Proc, SocketAddr)> {
    let addr = free_port()?;
    let cfg = work.join("scrape.yml");
    let secs = interval.as_secs().max(1);
    std::fs::write(
        &cfg,
        format!(
            "scrape_configs:\n- job_name: wardflux\n  scrape_interval: {secs}s\n  scrape_timeout: {}s\n  honor_labels: true\n  http_sd_configs:\n  - url: http://{exporter}/api/v1/targets\n",
            (secs / 2).max(1)
        ),
    )?;
    let child = Command::new("vmagent")
        .arg(format!("-promscrape.config={}", cfg.display()))
        .arg("-promscrape.httpSDCheckInterval=5s")
        .arg(format!("-remoteWrite.url=http://{vm}/api/v1/write"))
        .arg(format!(
            "-remoteWrite.tmpDataPath={}",
            work.join("vmagent-buffer").display()
        ))
        .arg(format!("-httpListenAddr={addr}"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("vmagent.log"))?)
        .spawn()
        .context("starting vmagent (apt-get install victoria-metrics)")?;
    let p = Proc(child, "vmagent");
    wait_http(addr, "/health", "vmagent")?;
    Ok((p, addr))
}

/// Runs the scale scenario end to end.
pub fn run(p: &Plan) -> anyhow::Result<Figures> {
    let _ = std::fs::remove_dir_all(&p.work_dir);
    std::fs::create_dir_all(&p.work_dir)?;
    let mut f = Figures {
        load_start: loadavg(),
        ..Figures::default()
    };
    let agent = Agent::new(synth::devices(p.devices, p.interfaces), Limits::default());
    let running = wardflux_simagent::spawn_with(
        "127.0.0.1:0".parse()?,
        agent,
        ServeOptions::with_delay(p.delay),
    )?;
    let (mut vm, vm_addr) = start_vm(&p.work_dir)?;
    let cfg = p.work_dir.join("exporter.yml");
    let names: Vec<String> = (1..=p.devices).map(synth::device_name).collect();
    std::fs::write(
        &cfg,
        exporter::config_for(&names, running.addr, p.poll_interval, p.concurrency),
    )?;
    let started = Instant::now();
    let exp = exporter::start_with(
        &p.exporter,
        &cfg,
        &p.work_dir.join("exporter.log"),
        &p.exporter_args,
    )?;
    let pid = exp.child.id();
    let sampler = crate::sockets::Sampler::start(exp.addr.port());
    let (mut vmagent, vmagent_addr) = start_vmagent(
        &p.work_dir,
        exp.addr,
        vm_addr,
        p.poll_interval,
        &p.vmagent_args,
    )?;
    let vmagent_started = Instant::now();
    let failed_by_3m = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(180));
        self_metric(vmagent_addr, "vm_promscrape_scrapes_failed_total").unwrap_or(f64::NAN)
    });
    exporter::wait_all_up(exp.addr, p.devices, Duration::from_secs(1800))?;
    f.first_cycle_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "bench: scale: {} devices up after {:.1}s; measuring {:?}",
        p.devices, f.first_cycle_seconds, p.duration
    );

    let vm_pid = vm.0.id();
    let vmagent_pid = vmagent.0.id();
    let self_pid = std::process::id();
    let cpu0 = procfs::cpu_seconds(pid)?;
    let vm0 = procfs::cpu_seconds(vm_pid)?;
    let va0 = procfs::cpu_seconds(vmagent_pid)?;
    let ag0 = procfs::cpu_seconds(self_pid)?;
    let t0 = Instant::now();
    let mut loads = Vec::new();
    while t0.elapsed() < p.duration {
        std::thread::sleep(Duration::from_secs(10).min(p.duration));
        loads.push(load1());
        vm.check(&p.work_dir.join("victoria-metrics.log"))?;
        vmagent.check(&p.work_dir.join("vmagent.log"))?;
        let peak = procfs::status_bytes(pid, "VmRSS")? as f64 / 1e6;
        let k = crate::sockets::read(exp.addr.port());
        let so = sampler.summary();
        eprintln!(
            "bench: scale: {:>4.0}s exporter cpu {:.1}s rss {peak:.0} MB load {}; connections {} accept queue {} (peak {}) listen overflows {} failed scrapes {:.0}",
            t0.elapsed().as_secs_f64(),
            procfs::cpu_seconds(pid)? - cpu0,
            loadavg(),
            k.established,
            k.accept_queue,
            so.accept_queue_peak,
            so.listen_overflows,
            self_metric(vmagent_addr, "vm_promscrape_scrapes_failed_total").unwrap_or(f64::NAN)
        );
    }
    f.window_seconds = t0.elapsed().as_secs_f64();
    f.exporter_cpu_seconds = procfs::cpu_seconds(pid)? - cpu0;
    f.vm_cpu_seconds = procfs::cpu_seconds(vm_pid)? - vm0;
    f.vmagent_cpu_seconds = procfs::cpu_seconds(vmagent_pid)? - va0;
    // The bench process is the agent (plus a little of this loop).
    f.agent_cpu_seconds = procfs::cpu_seconds(self_pid)? - ag0;
    f.exporter_peak_rss_bytes = procfs::status_bytes(pid, "VmHWM")?;
    f.exporter_rss_end_bytes = procfs::status_bytes(pid, "VmRSS")?;
    f.load_mean_1m = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    f.load_end = loadavg();

    // Through the pipeline: what vmagent scraped from /probe and VictoriaMetrics stored.
    // Let the last scrapes land, then ask VictoriaMetrics.
    std::thread::sleep(Duration::from_secs(5));
    let _ = http::get(vm_addr, "/internal/force_flush");
    let w = f.window_seconds.round() as u64;
    f.polls = query_scalar(
        vm_addr,
        &format!("sum(increase(wardflux_device_polls_total[{w}s]))"),
    )?;
    f.polls_expected = p.devices as f64 * f.window_seconds / p.poll_interval.as_secs_f64();
    f.polls_missed = query_scalar(vm_addr, "sum(wardflux_device_polls_missed_total)")?;
    f.poll_failures = query_scalar(vm_addr, "sum(wardflux_device_poll_failures_total)")?;
    f.devices_up = query_scalar(vm_addr, "sum(wardflux_device_up)")?;
    let (_, body) = http::get(vm_addr, "/api/v1/series/count")?;
    f.series = String::from_utf8_lossy(&body)
        .split(['[', ']'])
        .nth(1)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    f.samples = self_metric(vm_addr, "vm_rows_inserted_total")?;
    f.scrapes = self_metric(vmagent_addr, "vm_promscrape_scrapes_total")?;
    f.scrapes_failed = self_metric(vmagent_addr, "vm_promscrape_scrapes_failed_total")?;
    f.sockets = sampler.summary();
    drop(sampler);
    if vmagent_started.elapsed() >= Duration::from_secs(180) {
        f.scrapes_failed_first_3m = failed_by_3m.join().unwrap_or(f64::NAN);
    }
    drop(vmagent);
    drop(exp);
    drop(vm);
    running.stop();
    Ok(f)
}

/// The figures as Markdown.
pub fn table(p: &Plan, f: &Figures) -> String {
    let w = f.window_seconds;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} devices x {} interfaces, poll_interval {}s, agent delay {} ms, max_concurrent_devices {}; vmagent scrapes `/probe` per device (HTTP SD `/api/v1/targets`) every {}s into VictoriaMetrics. Measured over {:.0} s after every device had been polled once ({:.1} s after start).\n",
        p.devices,
        p.interfaces,
        p.poll_interval.as_secs(),
        p.delay.as_millis(),
        p.concurrency,
        p.poll_interval.as_secs(),
        w,
        f.first_cycle_seconds
    );
    s.push_str("| figure | value | target |\n|---|---|---|\n");
    let _ = writeln!(
        s,
        "| exporter average CPU, cores | {:.3} ({:.1} CPU s over {:.0} s) | under 1 |",
        f.exporter_cpu_seconds / w,
        f.exporter_cpu_seconds,
        w
    );
    let _ = writeln!(
        s,
        "| exporter peak RSS, MB | {:.0} (at the end {:.0}) | under 1,000 |",
        f.exporter_peak_rss_bytes as f64 / 1e6,
        f.exporter_rss_end_bytes as f64 / 1e6
    );
    let _ = writeln!(
        s,
        "| polls in the window (expected devices x window / interval) | {:.0} ({:.0}) | |",
        f.polls, f.polls_expected
    );
    let _ = writeln!(
        s,
        "| polls that missed their interval, since start | {:.0} | 0 |",
        f.polls_missed
    );
    let _ = writeln!(
        s,
        "| failed polls, since start | {:.0} | |",
        f.poll_failures
    );
    let _ = writeln!(
        s,
        "| devices up (`sum(wardflux_device_up)`) | {:.0} | |",
        f.devices_up
    );
    let _ = writeln!(
        s,
        "| series in VictoriaMetrics / samples ingested | {:.0} / {:.0} | |",
        f.series, f.samples
    );
    let _ = writeln!(
        s,
        "| vmagent scrapes (failed; failed in the first 3 minutes) | {:.0} ({:.0}; {:.0}) | |",
        f.scrapes, f.scrapes_failed, f.scrapes_failed_first_3m
    );
    let k = &f.sockets;
    let _ = writeln!(
        s,
        "| exporter listener: peak connections / peak accept queue (first minute) of backlog {} / listen overflows, system-wide (first minute) | {} / {} ({}) / {} ({}) | |",
        k.backlog,
        k.established_peak,
        k.accept_queue_peak,
        k.accept_queue_peak_first_minute,
        k.listen_overflows,
        k.listen_overflows_first_minute
    );
    let _ = writeln!(
        s,
        "| CPU cores: VictoriaMetrics / vmagent / simulated agent | {:.2} / {:.2} / {:.2} | |",
        f.vm_cpu_seconds / w,
        f.vmagent_cpu_seconds / w,
        f.agent_cpu_seconds / w
    );
    let _ = writeln!(
        s,
        "| load average: start / mean of 1-min over the window / end | {} / {:.1} / {} | |",
        f.load_start, f.load_mean_1m, f.load_end
    );
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_answers_and_parameters() {
        let a = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.5,"240123"]}]}}"#;
        assert_eq!(super::json_value(a), Some(240123.0));
        assert_eq!(super::json_value(r#"{"data":{"result":[]}}"#), None);
        assert_eq!(super::enc("sum(x[5m])"), "sum%28x%5B5m%5D%29");
    }
}
