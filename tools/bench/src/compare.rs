//! wardflux-exporter against Debian's snmp_exporter (0.21) on the same recordings:
//! (a) on snmpsim, every counter and status value both expose must match;
//! (b) on wardflux-simagent serving the same recordings, exact SNMP requests and bytes per
//! steady-state poll of all devices, CPU per 1,000 interface polls (scrapes included),
//! wall time of a poll of all devices, peak RSS.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wardflux_simagent::{snmprec, Agent, Limits, Snapshot};

use crate::exporter::{self, free_port};
use crate::{http, procfs, promtext};

/// Counter and status columns both programs expose: (metric, IF-MIB OID, type).
const COLUMNS: [(&str, &str, &str); 18] = [
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"),
    ("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7", "gauge"),
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
    ("ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7", "counter"),
    ("ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11", "counter"),
    ("ifHCInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.8", "counter"),
    ("ifHCOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.12", "counter"),
    ("ifHCInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.9", "counter"),
    ("ifHCOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.13", "counter"),
    ("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter"),
    ("ifOutErrors", "1.3.6.1.2.1.2.2.1.20", "counter"),
    ("ifInDiscards", "1.3.6.1.2.1.2.2.1.13", "counter"),
    ("ifOutDiscards", "1.3.6.1.2.1.2.2.1.19", "counter"),
    ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    ("ifSpeed", "1.3.6.1.2.1.2.2.1.5", "gauge"),
    ("ifMtu", "1.3.6.1.2.1.2.2.1.4", "gauge"),
    ("ifType", "1.3.6.1.2.1.2.2.1.3", "gauge"),
];

/// Label lookups both programs put on every series: (label, OID).
const LOOKUPS: [(&str, &str); 3] = [
    ("ifDescr", "1.3.6.1.2.1.2.2.1.2"),
    ("ifName", "1.3.6.1.2.1.31.1.1.1.1"),
    ("ifAlias", "1.3.6.1.2.1.31.1.1.1.18"),
];

/// The snmp.yml (0.21 format: auth inside the module) with one module per device community.
pub fn snmp_yml(devices: &[String]) -> String {
    let mut y = String::new();
    for d in devices {
        let _ = writeln!(y, "if_mib_{d}:\n  walk:");
        for (_, oid, _) in COLUMNS {
            let _ = writeln!(y, "  - {oid}");
        }
        for (_, oid) in LOOKUPS {
            let _ = writeln!(y, "  - {oid}");
        }
        y.push_str("  metrics:\n");
        for (name, oid, kind) in COLUMNS {
            let _ = writeln!(
                y,
                "  - name: {name}\n    oid: {oid}\n    type: {kind}\n    help: {name} - {oid}\n    indexes:\n    - labelname: ifIndex\n      type: gauge\n    lookups:"
            );
            for (label, loid) in LOOKUPS {
                let _ = writeln!(
                    y,
                    "    - labels:\n      - ifIndex\n      labelname: {label}\n      oid: {loid}\n      type: DisplayString"
                );
            }
        }
        let _ = writeln!(
            y,
            "  version: 2\n  max_repetitions: 25\n  retries: 1\n  timeout: 5s\n  auth:\n    community: {d}"
        );
    }
    y
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_recording(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new("find")
        .arg(root)
        .args(["-name", &format!("{name}.snmprec*")])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .lines()
        .next()
        .with_context(|| format!("no recording named {name} under {}", root.display()))?;
    Ok(PathBuf::from(first))
}

/// Writes the named recordings, decompressed, into `dir` as `<name>.snmprec`.
fn prepare(names: &[String], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let root = wardflux_simagent::snmpsim::data_dir().context("finding snmpsim-data")?;
    for n in names {
        let src = find_recording(&root, n)?;
        let text = if src.extension().is_some_and(|e| e == "bz2") {
            let out = Command::new("bzcat").arg(&src).output()?;
            if !out.status.success() {
                bail!("bzcat {}", src.display());
            }
            out.stdout
        } else {
            std::fs::read(&src)?
        };
        std::fs::write(dir.join(format!("{n}.snmprec")), text)?;
    }
    Ok(())
}

/// Waits until snmpsim answers for every community (it indexes files on first start).
fn wait_snmpsim(addr: SocketAddr, names: &[String]) -> anyhow::Result<()> {
    let t = Instant::now();
    for n in names {
        loop {
            let out = Command::new("snmpget")
                .args(["-v2c", "-c", n, "-t", "3", "-r", "0", &addr.to_string()])
                .arg("1.3.6.1.2.1.1.3.0")
                .output()
                .context("running snmpget (apt-get install snmp)")?;
            if String::from_utf8_lossy(&out.stdout).contains("Timeticks") {
                break;
            }
            if t.elapsed() > Duration::from_secs(600) {
                bail!("snmpsimd does not answer for {n}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(())
}

fn start_snmp_exporter(yml: &Path, log: &Path) -> anyhow::Result<(Proc, SocketAddr)> {
    let addr = free_port()?;
    let child = Command::new("prometheus-snmp-exporter")
        .arg(format!("--config.file={}", yml.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting prometheus-snmp-exporter (apt-get install prometheus-snmp-exporter)")?;
    let t = Instant::now();
    while http::get(addr, "/").is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("snmp_exporter did not start; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((Proc(child), addr))
}

fn scrape_snmp_exporter(se: SocketAddr, agent: SocketAddr, dev: &str) -> anyhow::Result<String> {
    let (status, body) = http::get(se, &format!("/snmp?target={agent}&module=if_mib_{dev}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        bail!("snmp_exporter scrape of {dev} answered {status}: {text}");
    }
    Ok(text)
}

/// Scrapes every device at once, as Prometheus would; returns the wall time.
fn scrape_all(se: SocketAddr, agent: SocketAddr, devs: &[String]) -> anyhow::Result<f64> {
    let t = Instant::now();
    let handles: Vec<_> = devs
        .iter()
        .cloned()
        .map(|d| std::thread::spawn(move || scrape_snmp_exporter(se, agent, &d)))
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("scrape thread panicked"))??;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Result of the value check on snmpsim.
#[derive(Debug, Default)]
pub struct ValueCheck {
    pub compared: usize,
    pub mismatches: Vec<String>,
    pub only_wardflux: usize,
}

/// (a): both programs poll snmpsim once; every value wardflux exposes must equal snmp_exporter's.
fn check_values(
    exporter_bin: &Path,
    names: &[String],
    data: &Path,
    work: &Path,
) -> anyhow::Result<ValueCheck> {
    let snmpsim = wardflux_simagent::snmpsim::start(data, work)
        .context("starting snmpsimd (apt-get install snmpsim)")?;
    let sim = snmpsim.addr;
    wait_snmpsim(sim, names)?;
    let cfg = work.join("wardflux-snmpsim.yml");
    std::fs::write(
        &cfg,
        exporter::config_for(names, sim, Duration::from_secs(300), 16),
    )?;
    let exp = exporter::start(exporter_bin, &cfg, &work.join("wardflux-snmpsim.log"))?;
    exporter::wait_all_up(exp.addr, names.len(), Duration::from_secs(600))?;
    let (_, body) = http::get(exp.addr, "/metrics")?;
    let ours = String::from_utf8_lossy(&body).into_owned();
    drop(exp);
    let yml = work.join("snmp.yml");
    std::fs::write(&yml, snmp_yml(names))?;
    let (_se, se) = start_snmp_exporter(&yml, &work.join("snmp_exporter-snmpsim.log"))?;
    let mut check = ValueCheck::default();
    for dev in names {
        let theirs = scrape_snmp_exporter(se, sim, dev)?;
        diff_values(dev, &ours, &theirs, &mut check);
    }
    Ok(check)
}

/// Compares every counter and status value wardflux exposes for `dev` (in `ours`, the
/// exporter's exposition) with snmp_exporter's scrape of that device (`theirs`), by ifIndex.
pub fn diff_values(dev: &str, ours: &str, theirs: &str, check: &mut ValueCheck) {
    for (metric, _, _) in COLUMNS {
        let t: BTreeMap<String, f64> = promtext::samples_by(theirs, metric, "ifIndex", "ifIndex")
            .into_iter()
            .map(|((i, _), v)| (i, v))
            .collect();
        for ((d, idx), v) in promtext::samples_by(ours, metric, "device", "ifIndex") {
            if d != dev {
                continue;
            }
            match t.get(&idx) {
                Some(w) if *w == v => check.compared += 1,
                Some(w) => {
                    check.compared += 1;
                    check.mismatches.push(format!(
                        "{dev} {metric}{{ifIndex=\"{idx}\"}}: wardflux {v} snmp_exporter {w}"
                    ));
                }
                None => check.only_wardflux += 1,
            }
        }
    }
}

/// One program's figures on the simulated agent.
#[derive(Debug, Default, Clone)]
pub struct Side {
    pub requests_per_round: f64,
    pub bytes_per_round: f64,
    pub cpu_per_round: f64,
    pub cpu_per_1000_interface_polls: f64,
    pub round_wall_seconds: f64,
    pub interfaces: usize,
    pub peak_rss_bytes: u64,
}

fn interfaces_in(text: &str) -> usize {
    let s: BTreeSet<(String, String)> =
        promtext::samples_by(text, "ifOperStatus", "ifIndex", "ifIndex")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    s.len()
}

/// (b) for wardflux: steady-state polls every `interval`, one /metrics scrape per interval.
fn wardflux_side(
    exporter_bin: &Path,
    names: &[String],
    agent: &wardflux_simagent::Running,
    rounds: u32,
    work: &Path,
) -> anyhow::Result<Side> {
    let interval = Duration::from_secs(1);
    let cfg = work.join("wardflux-simagent.yml");
    std::fs::write(&cfg, exporter::config_for(names, agent.addr, interval, 256))?;
    let exp = exporter::start(exporter_bin, &cfg, &work.join("wardflux-simagent.log"))?;
    let pid = exp.child.id();
    exporter::wait_all_up(exp.addr, names.len(), Duration::from_secs(600))?;
    std::thread::sleep(interval);
    let a0: Snapshot = agent.stats.snapshot();
    let (_, m0) = http::get(exp.addr, "/metrics")?;
    let m0 = String::from_utf8_lossy(&m0).into_owned();
    let c0 = procfs::cpu_seconds(pid)?;
    for _ in 0..rounds {
        std::thread::sleep(interval);
        let _ = http::get(exp.addr, "/metrics")?;
    }
    let c1 = procfs::cpu_seconds(pid)?;
    let a1 = agent.stats.snapshot();
    let (_, m1) = http::get(exp.addr, "/metrics")?;
    let m1 = String::from_utf8_lossy(&m1).into_owned();
    let polls = promtext::sum(&m1, "wardflux_device_polls_total").0
        - promtext::sum(&m0, "wardflux_device_polls_total").0;
    let per_round = polls / names.len() as f64;
    if per_round <= 0.0 {
        bail!("wardflux made no polls during the comparison");
    }
    let d = a1.since(&a0);
    // Per-device interface counts, weighted by that device's polls.
    let mut interface_polls = 0.0;
    for dev in names {
        let n = promtext::samples_by(&m1, "ifOperStatus", "device", "ifIndex")
            .iter()
            .filter(|((d, _), _)| d == dev)
            .count();
        let p = poll_count(&m1, dev) - poll_count(&m0, dev);
        interface_polls += n as f64 * p;
    }
    let max_dur = promtext::samples_by(
        &m1,
        "wardflux_device_poll_duration_seconds",
        "device",
        "device",
    )
    .into_iter()
    .map(|(_, v)| v)
    .fold(0.0, f64::max);
    let cpu = c1 - c0;
    Ok(Side {
        requests_per_round: d.requests as f64 / per_round,
        bytes_per_round: (d.bytes_received + d.bytes_sent) as f64 / per_round,
        cpu_per_round: cpu / per_round,
        cpu_per_1000_interface_polls: cpu / (interface_polls / 1000.0),
        round_wall_seconds: max_dur,
        interfaces: promtext::sum(&m1, "ifOperStatus").1,
        peak_rss_bytes: procfs::status_bytes(pid, "VmHWM")?,
    })
}

fn poll_count(text: &str, dev: &str) -> f64 {
    promtext::samples_by(text, "wardflux_device_polls_total", "device", "device")
        .into_iter()
        .filter(|((d, _), _)| d == dev)
        .map(|(_, v)| v)
        .sum()
}

/// (b) for snmp_exporter: `rounds` scrapes of every device (each scrape is its poll).
fn snmp_exporter_side(
    names: &[String],
    agent: &wardflux_simagent::Running,
    rounds: u32,
    work: &Path,
) -> anyhow::Result<Side> {
    let yml = work.join("snmp.yml");
    std::fs::write(&yml, snmp_yml(names))?;
    let (se_proc, se) = start_snmp_exporter(&yml, &work.join("snmp_exporter-simagent.log"))?;
    let pid = se_proc.0.id();
    // Warm-up round, and the interface count.
    let mut interfaces = 0;
    for d in names {
        interfaces += interfaces_in(&scrape_snmp_exporter(se, agent.addr, d)?);
    }
    let a0 = agent.stats.snapshot();
    let c0 = procfs::cpu_seconds(pid)?;
    let mut wall = 0.0;
    for _ in 0..rounds {
        wall += scrape_all(se, agent.addr, names)?;
    }
    let c1 = procfs::cpu_seconds(pid)?;
    let d = agent.stats.snapshot().since(&a0);
    let r = f64::from(rounds);
    let cpu = c1 - c0;
    Ok(Side {
        requests_per_round: d.requests as f64 / r,
        bytes_per_round: (d.bytes_received + d.bytes_sent) as f64 / r,
        cpu_per_round: cpu / r,
        cpu_per_1000_interface_polls: cpu / (r * interfaces as f64 / 1000.0),
        round_wall_seconds: wall / r,
        interfaces,
        peak_rss_bytes: procfs::status_bytes(pid, "VmHWM")?,
    })
}

/// Runs (a) and (b) and renders the table. Fails when values do not match.
pub fn run(
    exporter_bin: &Path,
    names: &[String],
    rounds: Option<u32>,
    work: &Path,
) -> anyhow::Result<String> {
    let data = work.join("data");
    prepare(names, &data)?;
    let check = check_values(exporter_bin, names, &data, work)?;
    let Some(rounds) = rounds else {
        let s = format!(
            "Devices: {}. Value check on snmpsim: {} values compared, {} mismatches, {} only in wardflux.\n",
            names.join(", "),
            check.compared,
            check.mismatches.len(),
            check.only_wardflux
        );
        return verdict(check, s);
    };

    let mut devices = Vec::new();
    for (d, _) in snmprec::load_dir(&data)? {
        devices.push(d);
    }
    let agent = wardflux_simagent::spawn(
        "127.0.0.1:0".parse()?,
        Agent::new(devices, Limits::default()),
        Duration::ZERO,
    )?;
    let ours = wardflux_side(exporter_bin, names, &agent, rounds, work)?;
    let theirs = snmp_exporter_side(names, &agent, rounds, work)?;
    agent.stop();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "Devices: {} (snmpsim-data recordings). Value check on snmpsim: {} values compared, {} mismatches, {} only in wardflux.\n",
        names.join(", "),
        check.compared,
        check.mismatches.len(),
        check.only_wardflux
    );
    s.push_str("| per steady-state poll of all devices (scrape included) | wardflux-exporter | snmp_exporter 0.21 | ratio |\n|---|---|---|---|\n");
    let row = |s: &mut String, what: &str, a: f64, b: f64, prec: usize| {
        let _ = writeln!(
            s,
            "| {what} | {a:.prec$} | {b:.prec$} | {:.2} |",
            if b > 0.0 { a / b } else { f64::NAN }
        );
    };
    row(
        &mut s,
        "SNMP requests",
        ours.requests_per_round,
        theirs.requests_per_round,
        1,
    );
    row(
        &mut s,
        "bytes on the wire",
        ours.bytes_per_round,
        theirs.bytes_per_round,
        0,
    );
    row(
        &mut s,
        "CPU seconds",
        ours.cpu_per_round,
        theirs.cpu_per_round,
        4,
    );
    row(
        &mut s,
        "CPU seconds per 1,000 interface polls",
        ours.cpu_per_1000_interface_polls,
        theirs.cpu_per_1000_interface_polls,
        4,
    );
    row(
        &mut s,
        "wall time of a poll of all devices, s",
        ours.round_wall_seconds,
        theirs.round_wall_seconds,
        3,
    );
    row(
        &mut s,
        "peak RSS, MB",
        ours.peak_rss_bytes as f64 / 1e6,
        theirs.peak_rss_bytes as f64 / 1e6,
        1,
    );
    let _ = writeln!(
        s,
        "\nInterfaces polled: wardflux {} (classified as monitored), snmp_exporter {} (every row).",
        ours.interfaces, theirs.interfaces
    );
    verdict(check, s)
}

/// `s` when every compared value matched (and some were); otherwise prints `s` and the first
/// mismatches and fails.
fn verdict(check: ValueCheck, s: String) -> anyhow::Result<String> {
    if !check.mismatches.is_empty() || check.compared == 0 {
        for m in check.mismatches.iter().take(20) {
            eprintln!("mismatch: {m}");
        }
        print!("{s}");
        bail!(
            "values differ between wardflux and snmp_exporter ({} of {} compared)",
            check.mismatches.len(),
            check.compared
        );
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_differing_value_is_a_mismatch_and_a_missing_one_is_counted_apart() {
        let ours = "ifHCInOctets{device=\"sw1\",ifIndex=\"1\",ifName=\"Gi0/1\"} 100\n\
                    ifHCInOctets{device=\"sw1\",ifIndex=\"2\",ifName=\"Gi0/2\"} 7\n\
                    ifHCInOctets{device=\"sw1\",ifIndex=\"3\",ifName=\"Gi0/3\"} 1\n\
                    ifOperStatus{device=\"sw2\",ifIndex=\"1\"} 1\n";
        let theirs =
            "ifHCInOctets{ifAlias=\"\",ifDescr=\"x\",ifIndex=\"1\",ifName=\"Gi0/1\"} 100\n\
                      ifHCInOctets{ifAlias=\"\",ifDescr=\"x\",ifIndex=\"2\",ifName=\"Gi0/2\"} 8\n";
        let mut c = ValueCheck::default();
        diff_values("sw1", ours, theirs, &mut c);
        assert_eq!((c.compared, c.only_wardflux), (2, 1));
        assert_eq!(c.mismatches.len(), 1, "{:?}", c.mismatches);
        assert!(c.mismatches[0].contains("ifIndex=\"2\""));
        assert!(verdict(c, String::new()).is_err());
        let mut ok = ValueCheck::default();
        diff_values("sw1", ours, ours, &mut ok);
        assert!(verdict(ok, String::new()).is_ok());
        assert!(
            verdict(ValueCheck::default(), String::new()).is_err(),
            "nothing compared"
        );
    }
}
