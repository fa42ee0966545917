//! Flags and subcommands (`run`, `check-rules`, `migrate`, `replay`, `bench`) and the
//! start-up wiring behind them. This is the binary's edge: `anyhow` is used here only.

use crate::api::{self, ApiState, ReloadRequest};
use crate::baseline::cache::BaselineCache;
use crate::baseline::{self, BaselineConfig};
use crate::config::{self, LoadOptions, RuleErrors, RuleSet};
use crate::datasource::{Querier, VmClient};
use crate::endpoint::HttpAuth;
use crate::engine::{Deps, Engine, Settings};
use crate::labels::Labels;
use crate::metrics::Metrics;
use crate::notifier::{Fanout, Notifier};
use crate::outage::config::OutageConfig;
use crate::queue::TransitionQueue;
use crate::secret::Secret;
use crate::store::{self, Store};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

#[derive(Parser, Debug)]
#[command(
    name = "wardflux-ruler",
    version,
    about = "Alert and recording rules over VictoriaMetrics, written as alert-history rows"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Accepted before or after a subcommand.
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate rules continuously (the default).
    Run(Box<RunArgs>),
    /// Validate rule files and exit non-zero on any error (for CI).
    CheckRules(CheckArgs),
    /// Apply the store's migrations and exit.
    Migrate(MigrateArgs),
    /// Evaluate rules over a past range and write the would-be rows to a store.
    Replay(ReplayArgs),
    /// Measure evaluation cost over a synthetic fleet in VictoriaMetrics.
    Bench(BenchArgs),
    /// Learn baselines, generate test traffic, or measure learning and detection.
    #[command(subcommand)]
    Baselines(BaselinesCommand),
    /// Write the interface summaries once (window ending at --at) and exit, printing timings.
    Summary(SummaryOnceArgs),
}

#[derive(Args, Debug)]
pub struct SummaryOnceArgs {
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The window summarised, ending at --at.
    #[arg(id = "summary.window", long = "summary.window", default_value = "24h", value_parser = parse_dur)]
    pub window: Duration,
    /// Rows no run refreshed for this long are deleted.
    #[arg(id = "summary.retention", long = "summary.retention", default_value = "7d", value_parser = parse_dur)]
    pub retention: Duration,
    /// End of the window (RFC 3339); default now.
    #[arg(long = "at")]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Subcommand, Debug)]
pub enum BaselinesCommand {
    /// Learn baselines now (from the lookback ending at --at) and exit.
    Learn(LearnArgs),
    /// Write weeks of synthetic traffic with labelled anomalies into VictoriaMetrics.
    Generate(GenerateArgs),
    /// Time learning for a fleet and one detection pass.
    Bench(BaselineBenchArgs),
}

#[derive(Args, Debug, Clone)]
pub struct BaselineFileArgs {
    /// Baselines and anomaly settings; anomaly detection is off when the file is missing.
    #[arg(
        id = "baselines.file",
        long = "baselines.file",
        default_value = "rules/baselines.yml"
    )]
    pub file: PathBuf,
}

impl Cli {
    /// Parses `args`: `--log.*` go before or after a subcommand; `run`'s flags given before
    /// a subcommand are refused (they would be silently unused).
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let m = cmd.try_get_matches_from_mut(args)?;
        if let Some((sub, _)) = m.subcommand() {
            let stray: Vec<String> = m
                .ids()
                .map(|id| id.as_str())
                .filter(|id| !id.starts_with("log."))
                .filter(|id| cmd.get_arguments().any(|a| a.get_id() == *id))
                .filter(|id| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
                .map(|id| format!("--{id}"))
                .collect();
            if !stray.is_empty() {
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "{} before the subcommand '{sub}' belong to 'run'; put the subcommand's own flags after it",
                        stray.join(", ")
                    ),
                ));
            }
        }
        Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
    }
}

impl BaselineFileArgs {
    /// The settings, or `None` when the file does not exist.
    pub fn load(&self) -> Result<Option<BaselineConfig>, config::RuleError> {
        if !self.file.exists() {
            return Ok(None);
        }
        BaselineConfig::load(&self.file).map(Some)
    }
}

#[derive(Args, Debug, Clone)]
pub struct OutageFileArgs {
    /// Settings of the built-in outage group (SiteIsolated, ProviderOutage,
    /// PollerNetworkLost); when the file is missing the group runs with its defaults; an
    /// empty value turns it off.
    #[arg(
        id = "outages.file",
        long = "outages.file",
        default_value = "rules/outages.yml",
        // clap's PathBuf parser refuses an empty value, which is how the group is turned off.
        value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from)
    )]
    pub file: PathBuf,
}

impl OutageFileArgs {
    /// The settings: the file's, the defaults when it does not exist, `None` when turned off.
    pub fn load(&self) -> Result<Option<OutageConfig>, config::RuleError> {
        if self.file.as_os_str().is_empty() {
            return Ok(None);
        }
        if !self.file.exists() {
            return Ok(Some(OutageConfig::defaults(&self.file)));
        }
        OutageConfig::load(&self.file).map(Some)
    }
}

#[derive(Args, Debug)]
pub struct LearnArgs {
    #[command(flatten)]
    pub baselines: BaselineFileArgs,
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// End of the learned lookback (RFC 3339); default now.
    #[arg(long = "at")]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    /// Interfaces to generate (four per device: two ISP uplinks, a trunk, a branch link).
    #[arg(long = "interfaces", default_value_t = 40)]
    pub interfaces: usize,
    /// Weeks of history.
    #[arg(long = "weeks", default_value_t = 3)]
    pub weeks: u32,
    /// Weeks at the end that get injected anomalies.
    #[arg(long = "anomaly-weeks", default_value_t = 1)]
    pub anomaly_weeks: u32,
    /// Anomalies per interface and week.
    #[arg(long = "anomalies-per-week", default_value_t = 2.0)]
    pub per_week: f64,
    /// End of the generated range (RFC 3339); default now.
    #[arg(long = "end")]
    pub end: Option<DateTime<Utc>>,
    /// Step of the generated counters.
    #[arg(long = "step", default_value = "5m", value_parser = parse_dur)]
    pub step: Duration,
    /// Time zone of the traffic's daily and weekly shape.
    #[arg(long = "timezone", default_value = "Asia/Tbilisi")]
    pub timezone: String,
    #[arg(long = "seed", default_value_t = 1)]
    pub seed: u64,
    /// Write the injected anomalies here as JSON.
    #[arg(long = "anomalies.out")]
    pub anomalies_out: Option<PathBuf>,
    /// Generate history for the interfaces of the series this selector finds in the
    /// datasource now (e.g. `ifHCInOctets{site="tbilisi"}`), with their label sets as they
    /// are, instead of a synthetic fleet; `--interfaces` is then not used.
    #[arg(id = "series.match", long = "series.match")]
    pub series_match: Option<String>,
    /// Lowest business-hours inbound traffic of a generated interface, Mbps.
    #[arg(id = "level.min-mbps", long = "level.min-mbps", default_value_t = crate::traffic::SYNTHETIC_LEVEL_MBPS.0)]
    pub level_min: f64,
    /// Highest business-hours inbound traffic of a generated interface, Mbps.
    #[arg(id = "level.max-mbps", long = "level.max-mbps", default_value_t = crate::traffic::SYNTHETIC_LEVEL_MBPS.1)]
    pub level_max: f64,
}

#[derive(Args, Debug)]
pub struct BaselineBenchArgs {
    #[command(flatten)]
    pub baselines: BaselineFileArgs,
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Interfaces in the synthetic fleet.
    #[arg(long = "bench.interfaces", default_value_t = 5000)]
    pub interfaces: usize,
    /// Backfill the lookback of traffic first (in this process: its memory counts in the
    /// printed peak RSS; generate separately with `baselines generate` for a clean figure).
    #[arg(long = "bench.generate")]
    pub generate: bool,
    /// End of the learned lookback (RFC 3339); default now.
    #[arg(long = "bench.end")]
    pub end: Option<DateTime<Utc>>,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Log level: error, warn, info, debug, trace.
    #[arg(
        id = "log.level",
        long = "log.level",
        default_value = "info",
        global = true
    )]
    pub level: String,
    /// Log format: logfmt or json (colour only on a terminal).
    #[arg(
        id = "log.format",
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    pub format: wardflux_web::logging::LogFormat,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Alert-history store: sqlite://PATH or postgres://USER:PASS@HOST/DB.
    #[arg(
        id = "store.url",
        long = "store.url",
        env = "WARDFLUX_STORE_URL",
        hide_env_values = true,
        default_value = "sqlite://wardflux-ruler.db"
    )]
    pub url: String,
    /// Read the store URL from this file instead (keeps the password off the command line).
    #[arg(id = "store.url-file", long = "store.url-file")]
    pub url_file: Option<PathBuf>,
}

impl StoreArgs {
    pub fn secret(&self) -> Result<Secret> {
        match &self.url_file {
            Some(p) => Secret::from_file(p)
                .with_context(|| format!("reading store URL from {}", p.display())),
            None => Ok(Secret::new(self.url.clone())),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// Rule files (globs allowed), repeatable.
    #[arg(
        id = "rules.file",
        long = "rules.file",
        default_value = "rules/alerts/*.yml"
    )]
    pub files: Vec<String>,
    /// Interval of groups that set none.
    #[arg(id = "evaluation.interval", long = "evaluation.interval", default_value = "1m", value_parser = parse_dur)]
    pub interval: Duration,
}

#[derive(Args, Debug, Clone)]
pub struct DatasourceArgs {
    /// VictoriaMetrics (or Prometheus-compatible) base URL, with a path for vmselect or
    /// vmauth; `user:pass@` in it is sent as basic auth and never printed.
    #[arg(
        id = "datasource.url",
        long = "datasource.url",
        default_value = "http://127.0.0.1:8428",
        value_parser = parse_http_url
    )]
    pub url: Secret,
    #[command(flatten)]
    pub auth: DatasourceAuthArgs,
    /// Timeout of one query.
    #[arg(id = "datasource.timeout", long = "datasource.timeout", default_value = "30s", value_parser = parse_dur)]
    pub timeout: Duration,
}

impl DatasourceArgs {
    /// The datasource client, with the credentials of the flags or the URL.
    pub fn client(&self) -> Result<VmClient> {
        self.auth.client(&self.url, self.timeout)
    }
}

/// Credentials for the datasource (vmalert's `-datasource.basicAuth.*` and
/// `-datasource.bearerTokenFile`, whose spellings are accepted too).
#[derive(Args, Debug, Clone, Default)]
pub struct DatasourceAuthArgs {
    /// Basic-auth user for the datasource (vmauth or a proxy in front of it).
    #[arg(
        id = "datasource.basic-auth.username",
        long = "datasource.basic-auth.username",
        alias = "datasource.basicAuth.username"
    )]
    pub username: Option<String>,
    /// File holding the basic-auth password (read at start; a trailing newline is ignored).
    #[arg(
        id = "datasource.basic-auth.password-file",
        long = "datasource.basic-auth.password-file",
        alias = "datasource.basicAuth.passwordFile",
        requires = "datasource.basic-auth.username"
    )]
    pub password_file: Option<PathBuf>,
    /// File holding a bearer token sent as `Authorization: Bearer` (vmauth `bearer_token`).
    #[arg(
        id = "datasource.bearer-token-file",
        long = "datasource.bearer-token-file",
        alias = "datasource.bearerTokenFile",
        conflicts_with = "datasource.basic-auth.username"
    )]
    pub bearer_token_file: Option<PathBuf>,
}

impl DatasourceAuthArgs {
    /// The credentials the flags name, files read.
    pub fn auth(&self) -> Result<HttpAuth> {
        let read = |p: &PathBuf, what: &str| {
            wardflux_web::Secret::from_file(p)
                .with_context(|| format!("reading the datasource {what} from {}", p.display()))
        };
        if let Some(p) = &self.bearer_token_file {
            return Ok(HttpAuth::Bearer(read(p, "bearer token")?));
        }
        match &self.username {
            Some(username) => Ok(HttpAuth::Basic {
                username: username.clone(),
                password: match &self.password_file {
                    Some(p) => read(p, "basic-auth password")?,
                    None => wardflux_web::Secret::default(),
                },
            }),
            None => Ok(HttpAuth::None),
        }
    }

    /// A client for `url` with these credentials.
    pub fn client(&self, url: &Secret, timeout: Duration) -> Result<VmClient> {
        Ok(VmClient::with_auth(url.expose(), self.auth()?, timeout)?)
    }
}

/// An HTTP URL held as a secret from the moment it is parsed, so even `Debug` of the flags
/// cannot print its password; it is checked when the client is built.
fn parse_http_url(s: &str) -> Result<Secret, String> {
    Ok(Secret::http(s))
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address for the HTTP API and /metrics.
    #[arg(long = "web.listen-address", default_value = ":9095")]
    pub listen: String,
    /// URL the ruler is reached at, sent as the alerts' generatorURL.
    #[arg(long = "web.external-url", default_value = "http://localhost:9095")]
    pub external_url: String,
    /// Alertmanager base URL, repeatable: every Alertmanager gets every alert (as vmalert
    /// does); alerts are not sent when unset. `user:pass@` in it is sent as basic auth and
    /// never printed.
    #[arg(long = "notifier.url", value_parser = parse_http_url)]
    pub notifier_url: Vec<Secret>,
    /// How long the datasource may be unreachable before DatasourceUnreachable fires.
    #[arg(long = "datasource.unreachable-grace", default_value = "5m", value_parser = parse_dur)]
    pub unreachable_grace: Duration,
    /// Most transitions held while the store is away.
    #[arg(long = "queue.capacity", default_value_t = 100_000)]
    pub queue_capacity: usize,
    /// How often a firing alert's row gets its value and last_evaluated_at refreshed.
    #[arg(long = "store.touch-interval", default_value = "5m", value_parser = parse_dur)]
    pub touch_every: Duration,
    /// Name of the PostgreSQL advisory lock that replicas sharing one store elect their
    /// leader with; replicas with different rule sets on one database need different names.
    #[arg(long = "ha.lock-name", default_value = "wardflux-ruler")]
    pub ha_lock_name: String,
    #[command(flatten)]
    pub baselines: BaselineFileArgs,
    #[command(flatten)]
    pub outages: OutageFileArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
    #[command(flatten)]
    pub web: wardflux_web::WebArgs,
}

/// The interface summaries written into the store (`interface_metrics_summary`).
#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    /// How often the leading replica writes each interface's statistics over
    /// --summary.window into the store; 0 turns summaries off.
    #[arg(id = "summary.interval", long = "summary.interval", default_value = "15m", value_parser = parse_dur)]
    pub interval: Duration,
    /// The window the statistics cover, ending at each run.
    #[arg(id = "summary.window", long = "summary.window", default_value = "24h", value_parser = parse_dur)]
    pub window: Duration,
    /// Rows no run refreshed for this long (interfaces gone) are deleted.
    #[arg(id = "summary.retention", long = "summary.retention", default_value = "7d", value_parser = parse_dur)]
    pub retention: Duration,
    /// Timeout of one summary query (they read the whole window of every interface; the
    /// rules' queries keep --datasource.timeout).
    #[arg(id = "summary.query-timeout", long = "summary.query-timeout", default_value = "5m", value_parser = parse_dur)]
    pub query_timeout: Duration,
}

impl SummaryArgs {
    /// The validated settings.
    pub fn config(&self) -> Result<crate::summary::SummaryConfig> {
        let cfg = crate::summary::SummaryConfig {
            interval: self.interval,
            window: self.window,
            retention: self.retention,
        };
        cfg.validate().map_err(|e| anyhow::anyhow!(e))?;
        Ok(cfg)
    }
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Rule files to check.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Ask this datasource about expressions the local PromQL parser rejects (MetricsQL).
    #[arg(id = "datasource.url", long = "datasource.url", value_parser = parse_http_url)]
    pub datasource: Option<Secret>,
    #[command(flatten)]
    pub auth: DatasourceAuthArgs,
    /// Also validate this baselines file.
    #[arg(id = "baselines.file", long = "baselines.file")]
    pub baselines: Option<PathBuf>,
    /// Also validate this outages file (the built-in outage group's settings).
    #[arg(id = "outages.file", long = "outages.file")]
    pub outages: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Start of the range (RFC 3339).
    #[arg(long = "from")]
    pub from: DateTime<Utc>,
    /// End of the range (RFC 3339).
    #[arg(long = "to")]
    pub to: DateTime<Utc>,
    /// Also write recording-rule results back to the datasource.
    #[arg(long = "replay.write-recording")]
    pub write_recording: bool,
    /// Replay anomaly detection too, with the baselines held in the chosen store.
    #[arg(id = "baselines.file", long = "baselines.file")]
    pub baselines_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub datasource: DatasourceArgs,
    /// Interfaces in the synthetic fleet.
    #[arg(long = "bench.interfaces", default_value_t = 5000)]
    pub interfaces: usize,
    /// Evaluation rounds (one per minute of data).
    #[arg(long = "bench.rounds", default_value_t = 10)]
    pub rounds: usize,
    /// Backfill the fleet first (skip when the data is already there).
    #[arg(long = "bench.generate")]
    pub generate: bool,
    /// End of the synthetic data and of the evaluated range (RFC 3339); default now.
    #[arg(long = "bench.end")]
    pub end: Option<DateTime<Utc>>,
    /// PID of the datasource process, to print its CPU time too.
    #[arg(long = "bench.datasource-pid")]
    pub datasource_pid: Option<u32>,
}

fn parse_dur(s: &str) -> Result<Duration, String> {
    config::parse_duration(s)
}

/// Sets up `tracing` from the log flags.
pub fn init_logging(log: &LogArgs) -> Result<()> {
    wardflux_web::logging::init(&log.level, log.format)?;
    Ok(())
}

/// Loads rules; expressions only the datasource can judge (MetricsQL) are checked there.
pub async fn load_rules(
    files: &[String],
    interval: Duration,
    querier: Option<&dyn Querier>,
) -> Result<RuleSet, RuleErrors> {
    let opts = LoadOptions {
        default_interval: interval,
        allow_remote_check: querier.is_some(),
    };
    let set = config::load(files, &opts)?;
    let Some(q) = querier else {
        return Ok(set);
    };
    let mut errors = Vec::new();
    for g in &set.groups {
        for r in &g.rules {
            let Some(local) = &r.needs_remote_check else {
                continue;
            };
            let at = DateTime::from_timestamp(0, 0).unwrap_or_default();
            match q.query(&r.expr, at, g.interval).await {
                Ok(_) => {}
                Err(e) if e.is_unreachable() => {
                    warn!(group = %g.name, rule = %r.name, error = %e, "cannot ask the datasource about an expression the PromQL parser rejected; accepting it")
                }
                Err(e) => errors.push(config::RuleError {
                    file: g.file.clone(),
                    line: r.line,
                    group: Some(g.name.clone()),
                    rule: Some(r.name.clone()),
                    msg: format!("field \"expr\": {} (datasource: {e})", local.trim()),
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(RuleErrors(errors))
    }
}

/// Rule files plus the anomaly group from the baselines file, if any, and the outage group
/// first (so the shadow context it sets is current when the other groups are evaluated).
pub async fn load_all(
    files: &[String],
    interval: Duration,
    baselines: Option<&BaselineFileArgs>,
    outages: Option<&OutageFileArgs>,
    querier: Option<&dyn Querier>,
) -> Result<(RuleSet, Option<BaselineConfig>), String> {
    let mut set = load_rules(files, interval, querier)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(o) = outages {
        if let Some(cfg) = o.load().map_err(|e| e.to_string())? {
            set.groups.insert(0, crate::outage::outage_group(cfg));
        }
    }
    let cfg = match baselines {
        Some(b) => b.load().map_err(|e| e.to_string())?,
        None => None,
    };
    if let Some(c) = &cfg {
        set.groups.push(baseline::anomaly_group(c.clone()));
    }
    Ok((set, cfg))
}

/// Learns baselines when they are older than `learn_every` (or missing), then on schedule;
/// follows the baselines file across reloads (idle while there is none). Only the leading
/// replica learns; a standby waits for the lead.
async fn learn_loop(
    mut cfg_rx: watch::Receiver<Option<BaselineConfig>>,
    querier: Arc<VmClient>,
    store: Arc<dyn Store>,
    cache: Arc<BaselineCache>,
    mut role: watch::Receiver<crate::leader::Role>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *role.borrow_and_update() != crate::leader::Role::Leader {
            tokio::select! {
                r = role.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let cfg = cfg_rx.borrow_and_update().clone();
        let wait = match cfg {
            None => Duration::MAX,
            Some(cfg) => {
                let every = chrono::Duration::from_std(cfg.learn_every)
                    .unwrap_or_else(|_| chrono::Duration::days(7));
                let last = store.baselines_updated().await.ok().flatten();
                let next = match last {
                    Some(l) if Utc::now() - l < every => l + every,
                    _ => match baseline::learn::learn(
                        &cfg,
                        querier.as_ref(),
                        store.as_ref(),
                        Utc::now(),
                    )
                    .await
                    {
                        Ok(sum) => {
                            info!(
                                interfaces = sum.interfaces,
                                rows = sum.rows,
                                seconds = sum.elapsed.as_secs_f64(),
                                "baselines learned"
                            );
                            cache.invalidate().await;
                            Utc::now() + every
                        }
                        Err(e) => {
                            warn!(error = %e, "learning baselines failed, retrying in 10 minutes");
                            Utc::now() + chrono::Duration::minutes(10)
                        }
                    },
                };
                (next - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::from_secs(60))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(Duration::from_secs(86_400 * 365))) => {}
            r = cfg_rx.changed() => if r.is_err() { return },
            r = role.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// `check-rules`: prints each problem, or a summary per file.
pub async fn check_rules(args: CheckArgs) -> Result<bool> {
    let client = match &args.datasource {
        Some(u) => Some(args.auth.client(u, Duration::from_secs(10))?),
        None => None,
    };
    let mut ok = true;
    if let Some(path) = &args.baselines {
        match BaselineConfig::load(path) {
            Ok(c) => println!(
                "{}: ok, baselines for {{{}}}, {} buckets in {}",
                path.display(),
                c.selector,
                crate::baseline::bucket::BUCKETS,
                c.tz.name()
            ),
            Err(e) => {
                ok = false;
                println!("{e}");
            }
        }
    }
    if let Some(path) = &args.outages {
        match OutageConfig::load(path) {
            Ok(c) => println!(
                "{}: ok, outage group every {}s, for {}s, topology lookback {}s, {} root selectors",
                path.display(),
                c.interval.as_secs_f64(),
                c.for_.as_secs_f64(),
                c.topology_lookback.as_secs(),
                c.roots.len()
            ),
            Err(e) => {
                ok = false;
                println!("{e}");
            }
        }
    }
    for f in &args.files {
        let q = client.as_ref().map(|c| c as &dyn Querier);
        match load_rules(std::slice::from_ref(f), Duration::from_secs(60), q).await {
            Ok(set) => {
                let rules: usize = set.groups.iter().map(|g| g.rules.len()).sum();
                println!("{f}: ok, {} groups, {rules} rules", set.groups.len());
            }
            Err(e) => {
                ok = false;
                for err in e.0 {
                    println!("{err}");
                }
            }
        }
    }
    Ok(ok)
}

/// Opens the store and applies migrations, retrying while it is unavailable.
async fn open_store(
    secret: &Secret,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = Arc::from(store::open(secret).await?);
    let mut backoff = Duration::from_millis(500);
    loop {
        match store.migrate().await {
            Ok(()) => {
                info!(store = %secret, kind = store.kind(), "store ready");
                return Ok(store);
            }
            Err(e) => {
                warn!(store = %secret, error = %e, "store not ready, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => bail!("shutdown before the store was ready"),
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// `migrate`.
pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let secret = args.store.secret()?;
    let store = store::open(&secret).await?;
    store.migrate().await?;
    info!(store = %secret, "migrations applied");
    Ok(())
}

fn listen_addr(s: &str) -> String {
    if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    }
}

/// `run`: the long-lived ruler.
pub async fn run(args: RunArgs) -> Result<()> {
    let web = args.web.load()?;
    let summary_cfg = args.summary.config()?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_termination().await;
        let _ = shutdown_tx.send(true);
    });

    let client = Arc::new(args.datasource.client()?);
    info!(datasource = %client.name(), auth = client.auth_kind(), "querying the datasource");
    let (rules, baseline_cfg) = load_all(
        &args.rules.files,
        args.rules.interval,
        Some(&args.baselines),
        Some(&args.outages),
        Some(client.as_ref()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading rules:\n{e}"))?;
    match &baseline_cfg {
        Some(c) => info!(file = %c.file.display(), selector = %c.selector, "anomaly detection on"),
        None => {
            info!(file = %args.baselines.file.display(), "no baselines file, anomaly detection off")
        }
    }
    match rules
        .groups
        .iter()
        .find(|g| g.name == crate::outage::OUTAGE_GROUP)
    {
        Some(g) => {
            info!(file = %args.outages.file.display(), exists = args.outages.file.exists(), interval_seconds = g.interval.as_secs_f64(), "outage group on")
        }
        None => info!("outage group off (--outages.file is empty)"),
    }
    info!(
        groups = rules.groups.len(),
        rules = rules.groups.iter().map(|g| g.rules.len()).sum::<usize>(),
        "rules loaded"
    );

    let secret = args.store.secret()?;
    let store = open_store(&secret, shutdown_rx.clone()).await?;
    let metrics = Arc::new(Metrics::new());
    let queue = TransitionQueue::new(args.queue_capacity, metrics.clone());
    let notifier: Option<Arc<dyn Notifier>> = if args.notifier_url.is_empty() {
        None
    } else {
        let urls: Vec<&str> = args.notifier_url.iter().map(|u| u.expose()).collect();
        let fanout = Fanout::new(&urls, Duration::from_secs(10), |name| {
            metrics
                .alertmanager_up
                .get_or_create(&crate::metrics::AlertmanagerLabel {
                    alertmanager: name.to_string(),
                })
                .clone()
        })?;
        info!(notifier = %fanout.names().join(", "), "sending alerts to Alertmanager");
        Some(Arc::new(fanout))
    };
    let cache = BaselineCache::new(store.clone());
    let engine = Engine::new(
        rules,
        Deps {
            querier: client.clone(),
            importer: client.clone(),
            queue: queue.clone(),
            notifier,
            metrics: metrics.clone(),
            baselines: Some(cache.clone()),
        },
        Settings {
            touch_every: args.touch_every,
            unreachable_grace: args.unreachable_grace,
            datasource_name: client.name().to_string(),
            external_url: args.external_url.clone(),
        },
    );
    // Replicas on one PostgreSQL elect a leader (crate::leader); on SQLite this one leads.
    // Taking the lead restores the open rows and starts the loops.
    let (role_tx, role_rx) = watch::channel(crate::leader::Role::Standby);
    let (lock_stop_tx, lock_stop_rx) = watch::channel(false);
    let election = if store.kind() == "postgres" {
        let retry = crate::leader::retry_interval(engine.shortest_interval());
        let key = crate::leader::lock_key(&args.ha_lock_name);
        info!(lock = %args.ha_lock_name, lock_key = key, retry_seconds = retry.as_secs_f64(), "leader election on the store's advisory lock");
        Some(tokio::spawn(crate::leader::campaign(
            secret.clone(),
            key,
            retry,
            role_tx,
            metrics.clone(),
            lock_stop_rx,
        )))
    } else {
        role_tx.send_replace(crate::leader::Role::Leader);
        None
    };
    let (write_tx, write_rx) = watch::channel(false);
    let writer = tokio::spawn(queue.clone().run(
        store.clone(),
        write_rx,
        shutdown_rx.clone(),
        Duration::from_secs(10),
    ));
    let learn_role = role_rx.clone();
    let summary_role = role_rx.clone();
    let follower = tokio::spawn(crate::leader::follow(
        role_rx,
        engine.clone(),
        queue.clone(),
        store.clone(),
        write_tx,
        metrics.clone(),
        shutdown_rx.clone(),
    ));
    if summary_cfg.interval.is_zero() {
        info!("interface summaries off (--summary.interval=0)");
    } else {
        info!(
            interval_seconds = summary_cfg.interval.as_secs_f64(),
            window_seconds = summary_cfg.window.as_secs_f64(),
            "interface summaries on, written by the leader"
        );
    }
    let summary_client: Arc<dyn Querier> = Arc::new(
        args.datasource
            .auth
            .client(&args.datasource.url, args.summary.query_timeout)?,
    );
    tokio::spawn(crate::summary::run_loop(
        summary_cfg,
        summary_client,
        store.clone(),
        metrics.clone(),
        Arc::new(Utc::now),
        summary_role,
        shutdown_rx.clone(),
    ));
    let (baselines_tx, baselines_rx) = watch::channel(baseline_cfg);
    tokio::spawn(learn_loop(
        baselines_rx,
        client.clone(),
        store.clone(),
        cache.clone(),
        learn_role,
        shutdown_rx.clone(),
    ));

    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let state = Arc::new(ApiState {
        engine: engine.clone(),
        store: store.clone(),
        ready: Default::default(),
        reload: reload_tx.clone(),
    });
    let addr = listen_addr(&args.listen);
    let listener = wardflux_web::bind_host(&addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    info!(address = %addr, tls = web.is_tls(), "HTTP API listening");
    let mut srv_shutdown = shutdown_rx.clone();
    let router = api::router(state.clone());
    let server = tokio::spawn(web.serve(listener, router, async move {
        let _ = srv_shutdown.changed().await;
    }));
    state.ready.store(true, Ordering::SeqCst);

    // SIGHUP asks for the same reload as POST /-/reload.
    #[cfg(unix)]
    {
        let tx = reload_tx.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                let (answer, _) = tokio::sync::oneshot::channel();
                if tx.send(answer).await.is_err() {
                    return;
                }
            }
        });
    }

    let mut shutdown = shutdown_rx.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(answer) = reload_rx.recv() => {
                metrics.reloads.inc();
                match load_all(&args.rules.files, args.rules.interval, Some(&args.baselines), Some(&args.outages), Some(client.as_ref())).await {
                    Ok((set, baselines)) => {
                        engine.reload(set, Utc::now()).await;
                        baselines_tx.send_if_modified(|cur| {
                            let changed = *cur != baselines;
                            *cur = baselines;
                            changed
                        });
                        metrics.config_last_reload_successful.set(1);
                        let _ = answer.send(Ok(()));
                    }
                    Err(e) => {
                        metrics.reload_failures.inc();
                        metrics.config_last_reload_successful.set(0);
                        error!(error = %e, "reload failed, previous rules still running");
                        let _ = answer.send(Err(e));
                    }
                }
            }
        }
    }
    info!("shutting down");
    state.ready.store(false, Ordering::SeqCst);
    let _ = follower.await;
    engine.stop().await;
    let _ = writer.await;
    // Only now give up the lock, so a standby cannot start writing before this one stopped.
    let _ = lock_stop_tx.send(true);
    if let Some(e) = election {
        let _ = e.await;
    }
    let _ = server.await;
    Ok(())
}

async fn wait_for_termination() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `replay`.
pub async fn replay(args: ReplayArgs) -> Result<()> {
    let client = args.datasource.client()?;
    let files = args
        .baselines_file
        .clone()
        .map(|file| BaselineFileArgs { file });
    if let Some(f) = &files {
        if !f.file.exists() {
            bail!("baselines file {} does not exist", f.file.display());
        }
    }
    let (rules, _) = load_all(
        &args.rules.files,
        args.rules.interval,
        files.as_ref(),
        None,
        Some(&client),
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading rules:\n{e}"))?;
    let secret = args.store.secret()?;
    let store: Arc<dyn Store> = Arc::from(store::open(&secret).await?);
    store.migrate().await?;
    let cache = BaselineCache::new(store.clone());
    let sum = crate::replay::replay(
        &rules,
        &client,
        &client,
        store.as_ref(),
        Some(cache.as_ref()),
        &crate::replay::ReplayOptions {
            from: args.from,
            to: args.to,
            write_recording: args.write_recording,
            steps_per_query: 1440,
            touch_every: Duration::from_secs(3600),
        },
    )
    .await?;
    println!(
        "replayed {} steps from {} to {}",
        sum.steps, args.from, args.to
    );
    for (rule, n) in &sum.fired {
        let resolved = sum.resolved.get(rule).copied().unwrap_or(0);
        let no_data = sum.no_data.get(rule).copied().unwrap_or(0);
        println!(
            "{rule}: {n} episodes, {resolved} resolved within the range, {no_data} closed for \
             lack of data"
        );
    }
    if sum.fired.is_empty() {
        println!("no alert would have fired");
    }
    Ok(())
}

/// `bench`.
pub async fn bench(args: BenchArgs) -> Result<()> {
    let client = Arc::new(args.datasource.client()?);
    let rules = load_rules(
        &args.rules.files,
        args.rules.interval,
        Some(client.as_ref()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading rules:\n{e}"))?;
    let end = args.end.unwrap_or_else(Utc::now);
    let end = crate::engine::align_up(end, Duration::from_secs(60)) - chrono::Duration::minutes(1);
    let fleet = crate::bench::fleet(args.interfaces);
    if args.generate {
        let start = end - chrono::Duration::minutes(args.rounds as i64 + 20);
        let t0 = std::time::Instant::now();
        let n =
            crate::bench::backfill(client.as_ref(), &fleet, start, end, Duration::from_secs(60))
                .await?;
        println!(
            "backfilled {n} samples for {} interfaces in {:.1} s",
            fleet.len(),
            t0.elapsed().as_secs_f64()
        );
        // Give VictoriaMetrics a moment to make the imported data searchable.
        let _ = client.force_flush().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::new(
        rules,
        Deps {
            querier: client.clone(),
            importer: client.clone(),
            queue: TransitionQueue::new(usize::MAX / 2, metrics.clone()),
            notifier: None,
            metrics,
            baselines: None,
        },
        Settings::default(),
    );
    let rep = crate::bench::measure(&engine, end, args.rounds, args.datasource_pid).await;
    println!(
        "ruler: {} interfaces, {} rounds: wall {:.3} s ({:.1} ms/round), cpu {:.2} s ({:.1} ms/round), {} alerts firing",
        args.interfaces,
        rep.rounds,
        rep.wall.as_secs_f64(),
        rep.wall.as_secs_f64() * 1000.0 / rep.rounds.max(1) as f64,
        rep.cpu_seconds,
        rep.cpu_seconds * 1000.0 / rep.rounds.max(1) as f64,
        rep.firing
    );
    let mut rules: Vec<(f64, String)> = engine
        .status()
        .await
        .iter()
        .flat_map(|g| {
            g.rules
                .iter()
                .map(move |r| (r.evaluation_time, format!("{}/{}", g.name, r.name)))
        })
        .collect();
    rules.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (secs, name) in rules.iter().take(5) {
        println!(
            "  slowest at its last evaluation: {name} {:.0} ms",
            secs * 1000.0
        );
    }
    if let Some(ds) = rep.datasource_cpu_seconds {
        println!(
            "datasource: cpu {ds:.2} s ({:.1} ms/round)",
            ds * 1000.0 / rep.rounds.max(1) as f64
        );
    }
    Ok(())
}

/// Peak resident memory of this process in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `baselines learn`.
pub async fn baselines_learn(args: LearnArgs) -> Result<()> {
    let cfg = args.baselines.load()?.with_context(|| {
        format!(
            "baselines file {} does not exist",
            args.baselines.file.display()
        )
    })?;
    let client = args.datasource.client()?;
    let secret = args.store.secret()?;
    let store = store::open(&secret).await?;
    store.migrate().await?;
    let at = args.at.unwrap_or_else(Utc::now);
    let sum = baseline::learn::learn(&cfg, &client, store.as_ref(), at).await?;
    println!(
        "learned {} interfaces ({} series, {} points) into {} buckets in {:.1} s, peak RSS {:.0} MiB",
        sum.interfaces,
        sum.series,
        sum.points,
        sum.rows,
        sum.elapsed.as_secs_f64(),
        peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}

/// `summary`: one run now (or at `--at`), as the leader's loop does it.
pub async fn summary_once(args: SummaryOnceArgs) -> Result<()> {
    let cfg = crate::summary::SummaryConfig {
        interval: Duration::from_secs(60),
        window: args.window,
        retention: args.retention,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!(e))?;
    let client = args.datasource.client()?;
    let secret = args.store.secret()?;
    let store = store::open(&secret).await?;
    store.migrate().await?;
    let at = args.at.unwrap_or_else(Utc::now);
    let cpu0 = crate::bench::cpu_seconds(None).unwrap_or(0.0);
    let rep = crate::summary::run_once(&client, store.as_ref(), &cfg, at, Utc::now()).await?;
    println!(
        "summary: {} interfaces over {} s ending {}: queries {:.2} s, compute and write {:.2} s, {} rows deleted, ruler cpu {:.2} s, peak RSS {:.0} MiB",
        rep.rows,
        args.window.as_secs(),
        at.to_rfc3339(),
        rep.query_seconds,
        rep.write_seconds,
        rep.deleted,
        crate::bench::cpu_seconds(None).unwrap_or(0.0) - cpu0,
        peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}

/// `baselines generate`.
pub async fn baselines_generate(args: GenerateArgs) -> Result<()> {
    let client = args.datasource.client()?;
    let tz: chrono_tz::Tz = args
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {:?}", args.timezone))?;
    let end = crate::engine::align_up(args.end.unwrap_or_else(Utc::now), args.step)
        - chrono::Duration::from_std(args.step)?;
    let start = end - chrono::Duration::weeks(i64::from(args.weeks));
    let anomalies_from =
        end - chrono::Duration::weeks(i64::from(args.anomaly_weeks.min(args.weeks)));
    // A holiday on the Wednesday of the first week.
    let first_monday = start
        .with_timezone(&tz)
        .date_naive()
        .week(chrono::Weekday::Mon)
        .first_day()
        + chrono::Duration::days(7);
    let spec = crate::traffic::Spec {
        interfaces: args.interfaces,
        start,
        end,
        step: args.step,
        tz,
        holiday: Some(first_monday + chrono::Duration::days(2)),
        anomalies_from,
        anomalies_per_week: args.per_week,
        seed: args.seed,
    };
    if !(args.level_min >= 0.0 && args.level_min <= args.level_max) {
        bail!(
            "--level.min-mbps ({}) must be at least 0 and at most --level.max-mbps ({})",
            args.level_min,
            args.level_max
        );
    }
    let fleet = match &args.series_match {
        None => crate::traffic::synthetic_fleet(args.interfaces),
        Some(sel) => matched_interfaces(&client, sel).await?,
    };
    let plan = crate::traffic::plan_for(&spec, fleet, (args.level_min, args.level_max));
    let t0 = std::time::Instant::now();
    let n = crate::traffic::backfill(&client, &spec, &plan).await?;
    println!(
        "wrote {n} samples for {} interfaces from {} to {} with {} anomalies in {:.1} s",
        plan.profiles.len(),
        start.to_rfc3339(),
        end.to_rfc3339(),
        plan.anomalies.len(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.anomalies_out {
        std::fs::write(path, serde_json::to_string_pretty(&plan.anomalies)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("anomalies written to {}", path.display());
    }
    Ok(())
}

/// The label sets (without the metric name) of the series `selector` finds now: the
/// interfaces `baselines generate --series.match` writes history for.
async fn matched_interfaces(client: &VmClient, selector: &str) -> Result<Vec<Labels>> {
    let samples = client
        .query(selector, Utc::now(), Duration::from_secs(60))
        .await
        .with_context(|| format!("--series.match {selector:?}"))?;
    let mut fleet = std::collections::BTreeSet::new();
    for s in samples {
        let mut l = s.labels;
        l.remove(crate::labels::METRIC_NAME);
        if !l.contains_key("device") || !l.contains_key("ifName") {
            bail!("--series.match {selector:?}: series {l:?} has no device or ifName label");
        }
        fleet.insert(l);
    }
    if fleet.is_empty() {
        bail!("--series.match {selector:?}: no series in the datasource match");
    }
    Ok(fleet.into_iter().collect())
}

/// `baselines bench`.
pub async fn baselines_bench(args: BaselineBenchArgs) -> Result<()> {
    let cfg = args.baselines.load()?.with_context(|| {
        format!(
            "baselines file {} does not exist",
            args.baselines.file.display()
        )
    })?;
    let client = Arc::new(args.datasource.client()?);
    let at = crate::engine::align_up(args.end.unwrap_or_else(Utc::now), cfg.resolution)
        - chrono::Duration::from_std(cfg.resolution)?;
    if args.generate {
        let spec = crate::traffic::Spec {
            interfaces: args.interfaces,
            start: at - chrono::Duration::from_std(cfg.lookback)?,
            end: at,
            step: cfg.resolution,
            tz: cfg.tz,
            holiday: None,
            anomalies_from: at,
            anomalies_per_week: 0.0,
            seed: 1,
        };
        let plan = crate::traffic::plan(&spec);
        let t0 = std::time::Instant::now();
        let n = crate::traffic::backfill(client.as_ref(), &spec, &plan).await?;
        println!(
            "backfilled {n} samples in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        let _ = client.force_flush().await;
    }
    let secret = args.store.secret()?;
    let store: Arc<dyn Store> = Arc::from(store::open(&secret).await?);
    store.migrate().await?;
    let rss0 = peak_rss_mib().unwrap_or(0.0);
    let cpu0 = crate::bench::cpu_seconds(None).unwrap_or(0.0);
    let sum = baseline::learn::learn(&cfg, client.as_ref(), store.as_ref(), at).await?;
    let cpu = crate::bench::cpu_seconds(None).unwrap_or(0.0) - cpu0;
    println!(
        "learning: {} interfaces x {} directions x {} days at {} s: wall {:.1} s (fetch {:.1} s, reduce {:.1} s, write {:.1} s, overlapping), ruler cpu {:.1} s, {} points, {} buckets, peak RSS {:.0} MiB (before learning {:.0} MiB)",
        sum.interfaces,
        cfg.directions.len(),
        cfg.lookback.as_secs() / 86_400,
        cfg.resolution.as_secs(),
        sum.elapsed.as_secs_f64(),
        sum.fetch.as_secs_f64(),
        sum.compute.as_secs_f64(),
        sum.write.as_secs_f64(),
        cpu,
        sum.points,
        sum.rows,
        peak_rss_mib().unwrap_or(0.0),
        rss0
    );
    let metrics = Arc::new(Metrics::new());
    let cache = BaselineCache::new(store.clone());
    let engine = Engine::new(
        RuleSet {
            groups: vec![baseline::anomaly_group(cfg.clone())],
        },
        Deps {
            querier: client.clone(),
            importer: client.clone(),
            queue: TransitionQueue::new(usize::MAX / 2, metrics.clone()),
            notifier: None,
            metrics,
            baselines: Some(cache),
        },
        Settings::default(),
    );
    let t0 = std::time::Instant::now();
    engine.evaluate_all(at).await;
    let status = engine.status().await;
    let rule = &status[0].rules[0];
    println!(
        "detection pass: {} series scored in {:.3} s (baselines read from the store included), {} anomalous{}",
        rule.last_samples,
        t0.elapsed().as_secs_f64(),
        rule.alerts.len(),
        rule.last_error.as_ref().map(|e| format!(", error: {e}")).unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn log_flags_go_before_or_after_a_subcommand_and_run_flags_not_before_one() {
        use wardflux_web::logging::LogFormat;
        for args in [
            &["r", "--log.format=json", "--log.level=debug", "migrate"][..],
            &["r", "migrate", "--log.format=json", "--log.level=debug"],
            &[
                "r",
                "--log.format",
                "json",
                "migrate",
                "--log.level",
                "debug",
            ],
        ] {
            let cli = Cli::parse_from_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(matches!(cli.command, Some(Command::Migrate(_))), "{args:?}");
            assert_eq!(cli.log.format, LogFormat::Json, "{args:?}");
            assert_eq!(cli.log.level, "debug", "{args:?}");
        }
        let cli = Cli::parse_from_args(["r", "baselines", "learn", "--log.format=json"]).unwrap();
        assert_eq!(cli.log.format, LogFormat::Json);
        let cli = Cli::parse_from_args(["r", "--log.format=json"]).unwrap();
        assert!(cli.command.is_none());
        let e = Cli::parse_from_args(["r", "--rules.file=x.yml", "migrate"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--rules.file before the subcommand 'migrate'"),
            "{e}"
        );
        let e = Cli::parse_from_args(["r", "--log.format=xml"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("possible values: logfmt, json"), "{e}");
    }

    #[test]
    fn prometheus_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "wardflux-ruler",
            "--rules.file=a.yml",
            "--rules.file=b/*.yml",
            "--store.url=postgres://u:p@h/db",
            "--web.listen-address=:9999",
            "--datasource.unreachable-grace=2m",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.rules.files, ["a.yml", "b/*.yml"]);
        assert_eq!(cli.run.unreachable_grace, Duration::from_secs(120));
        assert_eq!(listen_addr(&cli.run.listen), "0.0.0.0:9999");
        let cli = Cli::try_parse_from([
            "wardflux-ruler",
            "replay",
            "--from=2026-01-01T00:00:00Z",
            "--to=2026-01-02T00:00:00Z",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Replay(_))));
    }

    #[test]
    fn an_empty_outages_file_turns_the_outage_group_off() {
        let cli = Cli::try_parse_from(["wardflux-ruler", "--outages.file="]).unwrap();
        assert!(cli.run.outages.load().unwrap().is_none());
        let cli = Cli::try_parse_from(["wardflux-ruler"]).unwrap();
        assert!(cli.run.outages.load().unwrap().is_some());
    }
}
