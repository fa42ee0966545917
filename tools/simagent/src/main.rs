//! wardflux-simagent: serve synthetic devices and `.snmprec` recordings over SNMP v2c.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use wardflux_simagent::{snmprec, synth, Agent, Device, Hostile, Limits, ServeOptions};

/// A fast simulated SNMP v2c agent: one UDP port, community = device name.
#[derive(Debug, Parser)]
#[command(name = "wardflux-simagent", version)]
struct Flags {
    /// Address to listen on.
    #[arg(
        long = "web.listen-address",
        alias = "listen",
        default_value = "127.0.0.1:1161"
    )]
    listen: SocketAddr,
    /// Number of synthetic devices (communities dev0001, dev0002, ...).
    #[arg(long, default_value_t = 0)]
    devices: usize,
    /// Interfaces per synthetic device.
    #[arg(long, default_value_t = 48)]
    interfaces: u32,
    /// Directory of `.snmprec` recordings (community = path without extension).
    #[arg(long = "data-dir")]
    data_dir: Vec<PathBuf>,
    /// Delay before each answer (e.g. 10ms), without blocking other requests.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    delay: Duration,
    /// Largest response message in bytes.
    #[arg(long = "max-message-size", default_value_t = 1472)]
    max_message_size: usize,
    /// Most varbinds in one response (0: limited by size only).
    #[arg(long = "max-varbinds", default_value_t = 0)]
    max_varbinds: usize,
    /// Receive loops (runtime worker threads) reading the socket; 0: one per core, at least 2.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Make a device misbehave: DEVICE=MODE (non-increasing, wrong-type, truncated, silent,
    /// slow:MS, lossy:N, other-source:IP).
    #[arg(long)]
    hostile: Vec<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "ms"));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "us" => Ok(Duration::from_micros(n)),
        _ => Err(format!("bad duration unit in {s:?} (us, ms, s)")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let mut devices: Vec<Device> = synth::devices(flags.devices, flags.interfaces);
    for dir in &flags.data_dir {
        for (d, skipped) in snmprec::load_dir(dir)
            .with_context(|| format!("loading recordings from {}", dir.display()))?
        {
            eprintln!(
                "recording {} entries={} skipped_lines={skipped}",
                d.name,
                d.template.len()
            );
            devices.push(d);
        }
    }
    for h in &flags.hostile {
        let Some((name, mode)) = h.split_once('=') else {
            bail!("--hostile {h:?}: expected DEVICE=MODE");
        };
        let mode: Hostile = mode.parse().map_err(anyhow::Error::msg)?;
        let Some(d) = devices.iter_mut().find(|d| d.name == name) else {
            bail!("--hostile {h:?}: no device named {name:?}");
        };
        d.hostile = Some(mode);
    }
    if devices.is_empty() {
        bail!("no devices: give --devices N and/or --data-dir DIR");
    }
    let n = devices.len();
    let agent = Agent::new(
        devices,
        Limits {
            max_message_size: flags.max_message_size,
            max_varbinds: flags.max_varbinds,
        },
    );
    let mut opts = ServeOptions::with_delay(flags.delay);
    if flags.threads > 0 {
        opts.threads = flags.threads;
    }
    let running = wardflux_simagent::spawn_with(flags.listen, agent, opts)
        .with_context(|| format!("binding {}", flags.listen))?;
    eprintln!(
        "serving devices={n} address={} delay={:?} threads={} recv_buffer_bytes={}",
        running.addr, flags.delay, opts.threads, running.recv_buffer
    );
    let stats = running.stats.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = usr1.recv() => println!("stats {}", stats.snapshot()),
        }
    }
    running.stop();
    println!("stats {}", stats.snapshot());
    Ok(())
}
