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
    /// Path to the YAML configuration (auths, targets, intervals).
    #[arg(long = "config.file", default_value = "wardflux.yml", global = true)]
    config_file: PathBuf,
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
    /// Only log messages at or above this level: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", global = true)]
    log_level: String,
    /// Log line format: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt", global = true)]
    log_format: String,
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
}

fn init_logging(level: &str, format: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(match level {
        "debug" | "info" | "warn" | "error" => format!("{level},hyper=warn,h2=warn"),
        other => anyhow::bail!("--log.level: unknown level {other:?} (debug, info, warn, error)"),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    match format {
        "logfmt" => builder.with_target(false).init(),
        "json" => builder.json().flatten_event(true).init(),
        other => anyhow::bail!("--log.format: unknown format {other:?} (logfmt, json)"),
    }
    Ok(())
}

fn listen_addr(s: &str) -> Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .with_context(|| format!("--web.listen-address: cannot parse {s:?} (host:port or :port)"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_level, &cli.log_format)?;
    match &cli.command {
        Some(Command::CheckConfig) => check_config(&cli),
        Some(Command::Classify { rules, explain }) => classify(rules.as_deref(), *explain),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(cli)),
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
    }
    match app::load_all(&cli.config_file, &ProcessEnv) {
        Ok((cfg, _)) => {
            println!(
                "{}: ok: {} targets, poll every {:?}, discovery every {:?}",
                cli.config_file.display(),
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
    let app = App::with_shard(cli.config_file.clone(), Box::new(ProcessEnv), shard);
    app.reload()
        .with_context(|| format!("loading {}", cli.config_file.display()))?;
    let listener = wardflux_web::bind(addr).with_context(|| format!("listening on {addr}"))?;
    info!(address = %listener.local_addr()?, tls = web.is_tls(), "listening");
    spawn_sighup(app.clone());
    app.spawn_targets_watch(std::time::Duration::from_secs(5));
    app.spawn_targets_sql();
    app.spawn_reach();
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
