//! `wardflux-exporter`: flags, logging, config, then serve until a signal says stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing::{info, warn};

use wardflux_exporter::app::{self, App};
use wardflux_exporter::config::ProcessEnv;
use wardflux_exporter::http;
use wardflux_exporter::shard::Shard;

/// SNMP interface exporter for VictoriaMetrics/Prometheus: discovers interfaces over SNMP
/// (v1, v2c, v3), classifies them from their descriptions, polls 64-bit counters in the
/// background and serves them on /metrics (all devices) and /probe?target=NAME (one device),
/// with HTTP service discovery at /api/v1/targets and an inventory API at /api/v1/interfaces.
#[derive(Parser, Debug)]
#[command(name = "wardflux-exporter", version, about, long_about)]
struct Cli {
    /// Path to the YAML configuration (auths, targets, intervals) [default: wardflux.yml].
    /// `check-config` with only `--web.config.file` checks that file alone.
    #[arg(long = "config.file", global = true)]
    config_file: Option<PathBuf>,
    /// Address to listen on for HTTP (`:9117` means every interface).
    #[arg(long = "web.listen-address", default_value = ":9117")]
    listen: String,
    /// This exporter's shard (0-based); with --shard.count N, N exporters split the targets
    /// by a stable hash of their names, and each serves service discovery for its own.
    #[arg(long = "shard.index", default_value_t = 0)]
    shard_index: u32,
    /// Number of exporters sharing the targets.
    #[arg(long = "shard.count", default_value_t = 1)]
    shard_count: u32,
    /// UDP address to receive SNMP notifications on (e.g. `0.0.0.0:162`); off when empty.
    /// linkDown, linkUp, coldStart and warmStart from a target's address with the target's
    /// v1/v2c community make the exporter poll that device at once.
    #[arg(long = "snmp.trap-listen-address", default_value = "")]
    trap_listen: String,
    /// Only log messages at or above this level: error, warn, info, debug, trace.
    #[arg(long = "log.level", default_value = "info", global = true)]
    log_level: String,
    /// Log line format: logfmt or json (colour only on a terminal).
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    log_format: wardflux_web::logging::LogFormat,
    #[command(flatten)]
    web: wardflux_web::WebArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the configuration (and the classification rules it names), print a summary, exit.
    CheckConfig,
    /// Classify interfaces read from stdin, one per line (text = alias, or a JSON object with
    /// alias, descr, name, if_type); prints one JSON object per line.
    Classify {
        /// Classification rules file (default: the rules built into the binary).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Also print which field and pattern decided each output.
        #[arg(long)]
        explain: bool,
    },
    /// Measure the inventory store on a synthetic fleet (first sync, a status-change storm)
    /// against the database whose URL is in the environment variable --url-env; prints figures.
    BenchStore {
        /// Environment variable holding the store URL (postgres://... or sqlite://PATH).
        #[arg(long = "url-env", default_value = "WARDFLUX_INVENTORY_URL")]
        url_env: String,
        #[arg(long, default_value_t = 5000)]
        devices: usize,
        #[arg(long, default_value_t = 48)]
        interfaces: u32,
        /// Share of the interfaces changing status at once, in percent.
        #[arg(long = "storm-percent", default_value_t = 10)]
        storm_percent: u32,
    },
}

fn listen_addr(s: &str) -> Result<SocketAddr> {
    listen_addr_of("--web.listen-address", s)
}

fn listen_addr_of(flag: &str, s: &str) -> Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .with_context(|| format!("{flag}: cannot parse {s:?} (host:port or :port)"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    wardflux_web::logging::init(&cli.log_level, cli.log_format)?;
    match &cli.command {
        Some(Command::CheckConfig) => check_config(&cli),
        Some(Command::Classify { rules, explain }) => classify(rules.as_deref(), *explain),
        Some(Command::BenchStore {
            url_env,
            devices,
            interfaces,
            storm_percent,
        }) => {
            let url = std::env::var(url_env)
                .map(wardflux_exporter::secret::Secret::new)
                .with_context(|| {
                    format!("bench-store: environment variable {url_env} is not set")
                })?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(wardflux_exporter::invstore::bench::run(
                    &url,
                    *devices,
                    *interfaces,
                    *storm_percent,
                ))
                .map_err(anyhow::Error::msg)
        }
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(cli)),
    }
}

impl Cli {
    fn config_path(&self) -> PathBuf {
        self.config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("wardflux.yml"))
    }
}

fn check_config(cli: &Cli) -> Result<()> {
    if let Some(path) = &cli.web.config_file {
        match cli.web.load() {
            Ok(web) => println!("{}: ok: {}", path.display(), web.summary()),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        if cli.config_file.is_none() {
            return Ok(());
        }
    }
    let config_file = cli.config_path();
    match app::load_all(&config_file, &ProcessEnv) {
        Ok((cfg, _)) => {
            println!(
                "{}: ok: {} targets, poll every {:?}, discovery every {:?}",
                config_file.display(),
                cfg.targets.len(),
                cfg.poll_interval,
                cfg.discovery_interval
            );
            if let Some(sql) = &cfg.targets_sql {
                // The database is not queried here: check-config needs no network.
                println!(
                    "targets_sql: more targets from the inventory database every {:?} (not queried by check-config)",
                    sql.refresh_interval
                );
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

fn classify(rules: Option<&std::path::Path>, explain: bool) -> Result<()> {
    use wardflux_exporter::classify;
    let classifier = match rules {
        Some(path) => classify::load_rules_file(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => classify::Classifier::embedded_default(),
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    classify::cli::run(
        stdin.lock(),
        std::io::BufWriter::new(stdout.lock()),
        &classifier,
        explain,
    )?;
    Ok(())
}

async fn serve(cli: Cli) -> Result<()> {
    let addr = listen_addr(&cli.listen)?;
    let web = cli.web.load()?;
    let shard = Shard::new(cli.shard_index, cli.shard_count).map_err(anyhow::Error::msg)?;
    let config_file = cli.config_path();
    let app = App::with_shard(config_file.clone(), Box::new(ProcessEnv), shard);
    app.reload()
        .with_context(|| format!("loading {}", config_file.display()))?;
    if !cli.trap_listen.is_empty() {
        let trap_addr = listen_addr_of("--snmp.trap-listen-address", &cli.trap_listen)?;
        let socket = wardflux_exporter::notify::bind(trap_addr)
            .await
            .with_context(|| format!("--snmp.trap-listen-address: cannot listen on {trap_addr}"))?;
        tokio::spawn(wardflux_exporter::notify::listen(
            socket,
            app.poller.clone(),
            app.metrics.notifications.clone(),
        ));
    }
    let listener = wardflux_web::bind(addr).with_context(|| format!("listening on {addr}"))?;
    info!(address = %listener.local_addr()?, tls = web.is_tls(), "listening");
    spawn_sighup(app.clone());
    app.spawn_targets_watch(std::time::Duration::from_secs(5));
    app.spawn_targets_sql();
    app.spawn_reach();
    wardflux_exporter::invstore::spawn(app.clone());
    let shutdown_app = app.clone();
    web.serve(listener, http::router(app), async move {
        shutdown_signal().await;
        info!("shutting down");
        shutdown_app.poller.shutdown();
        // Device tasks are aborted mid-request at once; only HTTP clients that keep a
        // connection open could hold the exit up, and they get a bounded wait.
        tokio::spawn(async {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            warn!(
                grace_seconds = SHUTDOWN_GRACE.as_secs(),
                "HTTP connections still open, exiting anyway"
            );
            std::process::exit(0);
        });
    })
    .await?;
    Ok(())
}

/// The longest a SIGTERM waits for open HTTP connections.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

fn spawn_sighup(app: Arc<App>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            warn!("cannot listen for SIGHUP; reload with POST /-/reload");
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading configuration");
            let a = app.clone();
            let _ = tokio::task::spawn_blocking(move || a.reload()).await;
        }
    });
}

async fn shutdown_signal() {
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
