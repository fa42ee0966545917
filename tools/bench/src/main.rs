//! wardflux-bench: runs the exporter against simulated agents and prints figures (issue 2, 8).

mod compare;
mod cycle;
mod exporter;
mod floor;
mod http;
mod procfs;
mod promtext;
mod scale;
mod sockets;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "wardflux-bench", version)]
struct Flags {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// wardflux-exporter as a real process against the fast simulated agent.
    Exporter {
        /// Path of the wardflux-exporter binary (release build).
        #[arg(long)]
        exporter: PathBuf,
        /// Scenarios as DEVICESxINTERFACES@DELAYms, e.g. 1000x48@0ms,1000x48@10ms.
        #[arg(long, value_delimiter = ',', default_value = "1000x48@0ms")]
        scenario: Vec<String>,
        /// Poll interval given to the exporter, in seconds.
        #[arg(long = "poll-interval", default_value_t = 10.0)]
        poll_interval: f64,
        /// Steady-state measuring window, in seconds.
        #[arg(long, default_value_t = 30.0)]
        window: f64,
        /// max_concurrent_devices given to the exporter.
        #[arg(long, default_value_t = 256)]
        concurrency: u32,
        /// Where configs and logs go.
        #[arg(long = "work-dir", default_value = "/tmp/wardflux-bench")]
        work_dir: PathBuf,
    },
    /// The poll cycle against the agent-bound floor: the cheapest client and the real exporter,
    /// both saturated (every device always due) at the same concurrency and request shapes.
    Cycle {
        /// Path of the wardflux-exporter binary (release build).
        #[arg(long)]
        exporter: PathBuf,
        /// Scenarios as DEVICESxINTERFACES@DELAYms.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "1000x48@10ms,1000x48@50ms"
        )]
        scenario: Vec<String>,
        /// Devices in flight, for both (the exporter's max_concurrent_devices).
        #[arg(long, default_value_t = 256)]
        concurrency: u32,
        /// The exporter's poll interval in seconds; default 0.4 or 42 x delay, the longer: far
        /// below a cycle, so the exporter is always busy.
        #[arg(long = "poll-interval")]
        poll_interval: Option<f64>,
        /// Seconds before each window (the exporter's: after every device was polled once).
        #[arg(long, default_value_t = 3.0)]
        warmup: f64,
        /// Measuring window in seconds, for each of floor, exporter, floor.
        #[arg(long, default_value_t = 20.0)]
        window: f64,
        /// Where configs and logs go.
        #[arg(long = "work-dir", default_value = "/tmp/wardflux-bench/cycle")]
        work_dir: PathBuf,
    },
    /// wardflux-exporter against Debian's snmp_exporter on snmpsim-data recordings.
    Compare {
        /// Path of the wardflux-exporter binary (release build).
        #[arg(long)]
        exporter: PathBuf,
        /// snmpsim-data recording names.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "cisco-c3750,cisco-n5000-uk9,juniper-mx960-12-3r6-6,cisco-c3560,cisco-unknown-01"
        )]
        recordings: Vec<String>,
        /// Steady-state polls of every device measured.
        #[arg(long, default_value_t = 20)]
        polls: u32,
        /// Where configs, recordings and logs go.
        #[arg(long = "work-dir", default_value = "/tmp/wardflux-bench/compare")]
        work_dir: PathBuf,
        /// Only the value check on snmpsim (no figures): what CI runs.
        #[arg(long = "values-only")]
        values_only: bool,
    },
    /// The scale run: many devices polled on a real interval for minutes, scraped per target
    /// by vmagent (HTTP service discovery) into VictoriaMetrics.
    Scale {
        /// Path of the wardflux-exporter binary (release build).
        #[arg(long)]
        exporter: PathBuf,
        /// Scenario as DEVICESxINTERFACES@DELAYms.
        #[arg(long, default_value = "5000x48@0ms")]
        scenario: String,
        /// Poll interval given to the exporter (and vmagent's scrape interval), in seconds.
        #[arg(long = "poll-interval", default_value_t = 60)]
        poll_interval: u64,
        /// Measured span in seconds, after every device has been polled once.
        #[arg(long, default_value_t = 600)]
        duration: u64,
        /// max_concurrent_devices given to the exporter.
        #[arg(long, default_value_t = 256)]
        concurrency: u32,
        /// Where configs, data and logs go.
        #[arg(long = "work-dir", default_value = "/tmp/wardflux-bench/scale")]
        work_dir: PathBuf,
        /// An extra exporter flag (repeatable), e.g. --exporter-arg=--web.max-connections=2048.
        #[arg(long = "exporter-arg", allow_hyphen_values = true)]
        exporter_arg: Vec<String>,
        /// An extra vmagent flag (repeatable), e.g. --vmagent-arg=-promscrape.disableKeepAlive.
        #[arg(long = "vmagent-arg", allow_hyphen_values = true)]
        vmagent_arg: Vec<String>,
    },
}

fn parse_scenario(s: &str) -> anyhow::Result<(usize, u32, Duration)> {
    let (size, delay) = s.split_once('@').unwrap_or((s, "0ms"));
    let (n, m) = size
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("scenario {s:?}: expected DEVICESxINTERFACES@DELAYms"))?;
    let ms: u64 = delay.trim_end_matches("ms").parse()?;
    Ok((n.parse()?, m.parse()?, Duration::from_millis(ms)))
}

fn main() -> anyhow::Result<()> {
    match Flags::parse().cmd {
        Cmd::Exporter {
            exporter,
            scenario,
            poll_interval,
            window,
            concurrency,
            work_dir,
        } => {
            let mut rows = Vec::new();
            for s in &scenario {
                let (devices, interfaces, delay) = parse_scenario(s)?;
                eprintln!("bench: exporter scenario {s} ...");
                let f = exporter::run(&exporter::Scenario {
                    exporter: exporter.clone(),
                    devices,
                    interfaces,
                    delay,
                    poll_interval: Duration::from_secs_f64(poll_interval),
                    window: Duration::from_secs_f64(window),
                    concurrency,
                    work_dir: work_dir.join(s.replace('@', "-")),
                })?;
                eprintln!("{f:?}");
                rows.push(f);
            }
            print!("{}", exporter::table(&rows));
        }
        Cmd::Cycle {
            exporter,
            scenario,
            concurrency,
            poll_interval,
            warmup,
            window,
            work_dir,
        } => {
            let mut rows = Vec::new();
            for s in &scenario {
                let (devices, interfaces, delay) = parse_scenario(s)?;
                eprintln!("bench: cycle scenario {s} ...");
                rows.push(cycle::run(&cycle::Plan {
                    exporter: exporter.clone(),
                    devices,
                    interfaces,
                    delay,
                    concurrency,
                    poll_interval: poll_interval.map(Duration::from_secs_f64),
                    warmup: Duration::from_secs_f64(warmup),
                    window: Duration::from_secs_f64(window),
                    work_dir: work_dir.join(s.replace('@', "-")),
                })?);
            }
            print!("{}", cycle::table(&rows));
        }
        Cmd::Compare {
            exporter,
            recordings,
            polls,
            work_dir,
            values_only,
        } => {
            let polls = if values_only { None } else { Some(polls) };
            print!(
                "{}",
                compare::run(&exporter, &recordings, polls, &work_dir)?
            );
        }
        Cmd::Scale {
            exporter,
            scenario,
            poll_interval,
            duration,
            concurrency,
            work_dir,
            exporter_arg,
            vmagent_arg,
        } => {
            let (devices, interfaces, delay) = parse_scenario(&scenario)?;
            let plan = scale::Plan {
                exporter,
                devices,
                interfaces,
                delay,
                poll_interval: Duration::from_secs(poll_interval),
                duration: Duration::from_secs(duration),
                concurrency,
                work_dir,
                exporter_args: exporter_arg,
                vmagent_args: vmagent_arg,
            };
            let f = scale::run(&plan)?;
            eprintln!("{f:?}");
            print!("{}", scale::table(&plan, &f));
        }
    }
    Ok(())
}
