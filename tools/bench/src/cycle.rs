//! The poll cycle against the agent-bound floor (issue 8), both measured the same way: as a
//! throughput with every device always due. The floor client (`floor.rs`) and the real
//! exporter process poll the same agent with the same concurrency (256 devices in flight), one
//! request in flight per device, the same GETs (50 OIDs each, 14 per 48-interface device) and
//! the same 2 s timeout. The exporter is saturated by a poll interval far shorter than a cycle
//! (each device wants a poll every interval, so the 256 slots never go idle); device polls
//! per second are counted from the agent's answers over a window, and a cycle of every device
//! is `devices / polls per second`. The floor runs before and after the exporter, so a change
//! of the machine's load shows.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use wardflux_simagent::{synth, Agent, Limits, Snapshot};

use crate::floor::{self, Saturated};
use crate::{exporter, http, procfs, promtext};

/// One cycle scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    pub exporter: PathBuf,
    pub devices: usize,
    pub interfaces: u32,
    pub delay: Duration,
    pub concurrency: u32,
    /// The exporter's poll interval; `None`: 0.4 s or three times a poll's 14 round trips
    /// (42 x delay), the longer: far below a cycle, above a saturated device poll.
    pub poll_interval: Option<Duration>,
    pub warmup: Duration,
    pub window: Duration,
    pub work_dir: PathBuf,
}

/// What one scenario measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub devices: usize,
    pub interfaces: u32,
    pub delay_ms: u64,
    pub concurrency: u32,
    pub poll_interval_seconds: f64,
    pub floor_before: Saturated,
    pub floor_after: Saturated,
    pub exporter_polls_per_second: f64,
    pub exporter_agent: Snapshot,
    pub exporter_cpu_seconds: f64,
    pub exporter_window_seconds: f64,
    /// The exporter's own counters over the window (`wardflux_device_*`).
    pub exporter_polls: f64,
    pub exporter_retries: f64,
    pub exporter_timeouts: f64,
    pub exporter_failures: f64,
    pub load_start: String,
    pub load_end: String,
}

impl Figures {
    /// The faster of the two floor runs (the harder one to be compared with).
    pub fn floor(&self) -> &Saturated {
        if self.floor_after.polls_per_second > self.floor_before.polls_per_second {
            &self.floor_after
        } else {
            &self.floor_before
        }
    }

    pub fn floor_cycle(&self) -> f64 {
        self.devices as f64 / self.floor().polls_per_second
    }

    pub fn exporter_cycle(&self) -> f64 {
        self.devices as f64 / self.exporter_polls_per_second
    }

    /// Polls per second the interval allows at most (every device once per interval); a
    /// throughput near it means the exporter was not saturated and the cycle is an upper bound.
    pub fn demand_bound(&self) -> f64 {
        self.devices as f64 / self.poll_interval_seconds
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Counters {
    polls: f64,
    retries: f64,
    timeouts: f64,
    failures: f64,
}

fn counters(addr: std::net::SocketAddr) -> anyhow::Result<Counters> {
    let (_, body) = http::get(addr, "/metrics")?;
    let t = String::from_utf8_lossy(&body);
    Ok(Counters {
        polls: promtext::sum(&t, "wardflux_device_polls_total").0,
        retries: promtext::sum(&t, "wardflux_device_snmp_retries_total").0,
        timeouts: promtext::sum(&t, "wardflux_device_snmp_timeouts_total").0,
        failures: promtext::sum(&t, "wardflux_device_poll_failures_total").0,
    })
}

/// Runs one scenario: floor, exporter, floor.
pub fn run(p: &Plan) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(&p.work_dir)?;
    let interval = p
        .poll_interval
        .unwrap_or(Duration::from_millis(400).max(p.delay * 42));
    let mut f = Figures {
        devices: p.devices,
        interfaces: p.interfaces,
        delay_ms: p.delay.as_millis() as u64,
        concurrency: p.concurrency,
        poll_interval_seconds: interval.as_secs_f64(),
        load_start: loadavg(),
        ..Figures::default()
    };
    let agent = Agent::new(synth::devices(p.devices, p.interfaces), Limits::default());
    let running = wardflux_simagent::spawn("127.0.0.1:0".parse()?, agent, p.delay)?;
    let conc = p.concurrency as usize;
    f.floor_before = floor::saturated(
        running.addr,
        p.devices,
        p.interfaces,
        conc,
        p.warmup,
        p.window,
        &running.stats,
    )?;
    eprintln!("bench: cycle: floor before {:?}", f.floor_before);

    let cfg = p.work_dir.join("exporter.yml");
    let names: Vec<String> = (1..=p.devices).map(synth::device_name).collect();
    std::fs::write(
        &cfg,
        exporter::config_for(&names, running.addr, interval, p.concurrency),
    )?;
    let exp = exporter::start(&p.exporter, &cfg, &p.work_dir.join("exporter.log"))?;
    let pid = exp.child.id();
    exporter::wait_all_up(exp.addr, p.devices, Duration::from_secs(600))?;
    // The exporter's counters come from a full /metrics, rendered outside the window.
    std::thread::sleep(p.warmup);
    let c0 = counters(exp.addr)?;
    std::thread::sleep(Duration::from_secs(2));
    let a0 = running.stats.snapshot();
    let cpu0 = procfs::cpu_seconds(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(p.window);
    let a1 = running.stats.snapshot();
    let cpu1 = procfs::cpu_seconds(pid)?;
    f.exporter_window_seconds = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let c1 = counters(exp.addr)?;
    f.exporter_agent = a1.since(&a0);
    f.exporter_cpu_seconds = cpu1 - cpu0;
    f.exporter_polls = c1.polls - c0.polls;
    f.exporter_retries = c1.retries - c0.retries;
    f.exporter_timeouts = c1.timeouts - c0.timeouts;
    f.exporter_failures = c1.failures - c0.failures;
    drop(exp);
    // Device polls from the agent's answers: each poll is the same GETs for both clients.
    let gets = floor::poll_oids(p.interfaces)
        .len()
        .div_ceil(floor::OIDS_PER_REQUEST) as f64;
    f.exporter_polls_per_second =
        f.exporter_agent.responses as f64 / gets / f.exporter_window_seconds;
    eprintln!(
        "bench: cycle: exporter {:.1} polls/s, agent {}",
        f.exporter_polls_per_second, f.exporter_agent
    );

    f.floor_after = floor::saturated(
        running.addr,
        p.devices,
        p.interfaces,
        conc,
        p.warmup,
        p.window,
        &running.stats,
    )?;
    eprintln!("bench: cycle: floor after {:?}", f.floor_after);
    running.stop();
    f.load_end = loadavg();
    if f.exporter_polls_per_second > 0.8 * f.demand_bound() {
        eprintln!(
            "bench: cycle: the exporter did {:.0} polls/s, near the {:.0} its {:.2} s interval allows: not saturated, lower --poll-interval",
            f.exporter_polls_per_second,
            f.demand_bound(),
            f.poll_interval_seconds
        );
    }
    Ok(f)
}

fn per_poll(a: &Snapshot, polls: f64) -> (f64, f64) {
    (
        a.requests as f64 / polls,
        (a.bytes_received + a.bytes_sent) as f64 / polls,
    )
}

/// The figures as a Markdown table.
pub fn table(rows: &[Figures]) -> String {
    let mut s = String::new();
    s.push_str("| devices x interfaces | delay | in flight | floor: device polls/s before / after (cycle s) | wardflux: device polls/s (cycle s) | **wardflux cycle / floor cycle** | requests / device poll: floor / wardflux | bytes / device poll: floor / wardflux | floor: requests resent | wardflux: retries / timeouts / failed polls | CPU s / 1,000 interface polls: floor client / wardflux | wardflux CPU cores | wardflux poll interval s (polls/s it allows) | load average start / end |\n");
    s.push_str(&"|---".repeat(14));
    s.push_str("|\n");
    for f in rows {
        let fl = f.floor();
        let fl_polls = fl.polls_per_second * fl.window_seconds;
        let ex_polls = f.exporter_polls_per_second * f.exporter_window_seconds;
        let (fr, fb) = per_poll(&fl.agent, fl_polls);
        let (er, eb) = per_poll(&f.exporter_agent, ex_polls);
        let k = f64::from(f.interfaces) / 1000.0;
        let _ = writeln!(
            s,
            "| {} x {} | {} ms | {} | {:.0} / {:.0} ({:.2}) | {:.0} ({:.2}) | **{:.2}** | {:.2} / {:.2} | {:.0} / {:.0} | {} | {:.0} / {:.0} / {:.0} | {:.4} / {:.4} | {:.2} | {:.2} ({:.0}) | {} / {} |",
            f.devices,
            f.interfaces,
            f.delay_ms,
            f.concurrency,
            f.floor_before.polls_per_second,
            f.floor_after.polls_per_second,
            f.floor_cycle(),
            f.exporter_polls_per_second,
            f.exporter_cycle(),
            f.exporter_cycle() / f.floor_cycle(),
            fr,
            er,
            fb,
            eb,
            f.floor_before.resent + f.floor_after.resent,
            f.exporter_retries,
            f.exporter_timeouts,
            f.exporter_failures,
            fl.cpu_seconds / (fl_polls * k),
            f.exporter_cpu_seconds / (ex_polls * k),
            f.exporter_cpu_seconds / f.exporter_window_seconds,
            f.poll_interval_seconds,
            f.demand_bound(),
            f.load_start,
            f.load_end
        );
    }
    s
}
