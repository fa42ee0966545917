//! The running exporter: config file, classifier, poller and inventory wired together, with
//! the reload that SIGHUP and `POST /-/reload` share, and the `targets_sql` refresh task whose
//! rows are merged with the file's targets.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{debug, error, info, warn};

use crate::classify::Classifier;
use crate::config::{self, Config, ConfigError, Env, TargetsSqlConfig};
use crate::inventory::{Inventory, TargetMeta};
use crate::metrics::selfmetrics::{ResultLabel, SelfMetrics};
use crate::poller::{unix_now, Poller};
use crate::secret::Secret;
use crate::shard::Shard;
use crate::targets_sql::{self, Episodes, PgSource, RowSource, SkipReason, SqlRow};
use crate::topology::graph;
use crate::topology::reach::{self, Reach};
use wardflux_reach::State;

/// Shared state of a running exporter.
pub struct App {
    pub config_file: PathBuf,
    pub inventory: Arc<Inventory>,
    pub poller: Arc<Poller>,
    pub metrics: SelfMetrics,
    /// The config file as validated, every target of it (sharding is applied when the
    /// poller is configured).
    pub config: Mutex<Option<Arc<Config>>>,
    /// The part of the targets this exporter polls.
    pub shard: Shard,
    env: Box<dyn Env + Send + Sync>,
    /// The last good `targets_sql` rows and what has been logged about them.
    sql: Mutex<SqlState>,
    /// Wakes the `targets_sql` task (a reload may have changed its section).
    sql_wake: Notify,
    /// Serialises configuring the poller (reload and `targets_sql` refreshes).
    apply_lock: Mutex<()>,
    /// The last reachability analysis of this exporter's view (`refresh_reach`).
    reach: Mutex<Arc<Reach>>,
    /// With shards: the targets of the other shards (reachability takes them as possibly
    /// answering; see `topology::reach`).
    foreign: Mutex<Arc<Vec<Arc<TargetMeta>>>>,
    /// The reachability problems last logged (each is logged once per change).
    problems_logged: Mutex<Vec<String>>,
}

/// How long reachability waits after a change before it runs, so that the devices of one
/// outage, failing within moments of each other, make one run, and a flapping fleet costs at
/// most one run (about 0.2 s at 5,000 devices, BENCHMARKS.md) per second.
const REACH_SETTLE: Duration = Duration::from_secs(1);

/// The `targets_sql` rows of the last good query, and which url and query they came from.
#[derive(Default)]
struct SqlState {
    rows: Option<(Secret, String, Arc<Vec<SqlRow>>)>,
    episodes: Episodes,
}

impl App {
    pub fn new(config_file: PathBuf, env: Box<dyn Env + Send + Sync>) -> Arc<App> {
        App::with_shard(config_file, env, Shard::ALL)
    }

    pub fn with_shard(
        config_file: PathBuf,
        env: Box<dyn Env + Send + Sync>,
        shard: Shard,
    ) -> Arc<App> {
        let inventory = Arc::new(Inventory::new());
        Arc::new(App {
            config_file,
            poller: Poller::new(inventory.clone()),
            inventory,
            metrics: SelfMetrics::new(),
            config: Mutex::new(None),
            shard,
            env,
            sql: Mutex::new(SqlState::default()),
            sql_wake: Notify::new(),
            apply_lock: Mutex::new(()),
            reach: Mutex::new(Arc::default()),
            foreign: Mutex::new(Arc::default()),
            problems_logged: Mutex::new(Vec::new()),
        })
    }

    /// Load the config file and, if it is valid, apply it. A bad file leaves the running
    /// config untouched.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let result = load_all(&self.config_file, self.env.as_ref());
        let label = |r: &str| ResultLabel {
            result: r.to_string(),
        };
        match result {
            Ok((cfg, classifier)) => {
                let cfg = Arc::new(cfg);
                let owned = {
                    let _g = lock(&self.apply_lock);
                    *lock(&self.config) = Some(cfg.clone());
                    let merged = self.merged(&cfg);
                    self.poller.apply(&merged, Arc::new(classifier));
                    merged.targets.len()
                };
                if self.shard.count > 1 {
                    info!(
                        shard = self.shard.index,
                        shards = self.shard.count,
                        owned,
                        "sharded targets"
                    );
                }
                if cfg.targets_sql.is_some() {
                    self.metrics.sql.enable();
                }
                // Roots or manual links may have changed.
                self.inventory.touch_reach();
                self.sql_wake.notify_one();
                self.metrics
                    .config_reloads
                    .get_or_create(&label("success"))
                    .inc();
                self.metrics.config_last_reload_successful.set(1);
                self.metrics
                    .config_last_reload_success_timestamp
                    .set(unix_now());
                info!(
                    file = %self.config_file.display(),
                    targets = cfg.targets.len(),
                    polled = owned,
                    targets_sql = cfg.targets_sql.is_some(),
                    "configuration loaded"
                );
                Ok(())
            }
            Err(e) => {
                self.metrics
                    .config_reloads
                    .get_or_create(&label("failure"))
                    .inc();
                self.metrics.config_last_reload_successful.set(0);
                error!(error = %e, "configuration rejected; the previous configuration keeps running");
                Err(e)
            }
        }
    }

    /// `cfg` with its targets replaced by what this exporter polls: the file's targets plus
    /// the last good `targets_sql` rows (when they came from the url and query configured
    /// now), then this shard's part. Logs rows skipped for a reason not logged last time.
    fn merged(&self, cfg: &Config) -> Config {
        let mut targets = cfg.targets.clone();
        let mut sql_state = lock(&self.sql);
        let rows = match (&cfg.targets_sql, &sql_state.rows) {
            (Some(sql), Some((url, query, rows))) if *url == sql.url && *query == sql.query => {
                Some((sql, rows.clone()))
            }
            _ => None,
        };
        if let Some((sql, rows)) = rows {
            let taken: HashSet<&str> = cfg.targets.iter().map(|t| &*t.name).collect();
            match targets_sql::build(&rows, sql, &cfg.auths, &taken) {
                Ok(built) => {
                    for s in sql_state.episodes.new_skips(&built.skipped) {
                        warn!(
                            row = s.row,
                            name = s.name.as_deref().unwrap_or(""),
                            column = s.column,
                            reason = s.reason.as_str(),
                            problem = %s.message,
                            "targets_sql: row skipped"
                        );
                    }
                    let counts: Vec<(SkipReason, i64)> = SkipReason::ALL
                        .iter()
                        .map(|r| {
                            let n = built.skipped.iter().filter(|s| s.reason == *r).count();
                            (*r, n as i64)
                        })
                        .collect();
                    self.metrics.sql.set_skipped(&counts);
                    self.metrics.sql.targets.set(built.targets.len() as i64);
                    targets.extend(built.targets);
                }
                // Rows are checked when they are read, so this is not expected.
                Err(e) => {
                    error!(error = %e, "targets_sql: rows unusable; polling the config file's targets only")
                }
            }
        } else {
            // No rows yet for the url and query configured now (or no targets_sql at all).
            self.metrics.sql.targets.set(0);
            let zero: Vec<(SkipReason, i64)> = SkipReason::ALL.iter().map(|r| (*r, 0)).collect();
            self.metrics.sql.set_skipped(&zero);
        }
        drop(sql_state);
        if self.shard.count > 1 {
            let foreign: Vec<Arc<TargetMeta>> = targets
                .iter()
                .filter(|t| !self.shard.owns(&t.name))
                .map(|t| {
                    Arc::new(TargetMeta {
                        name: t.name.clone(),
                        address: t.address.clone(),
                        auth_name: t.auth_name.clone(),
                        labels: t.labels.clone(),
                    })
                })
                .collect();
            let mut was = lock(&self.foreign);
            let same = was.len() == foreign.len()
                && was.iter().zip(&foreign).all(|(a, b)| {
                    a.name == b.name && a.address == b.address && a.labels == b.labels
                });
            if !same {
                *was = Arc::new(foreign);
                self.inventory.touch_reach();
            }
        }
        targets.retain(|t| self.shard.owns(&t.name));
        Config {
            targets,
            ..cfg.clone()
        }
    }

    /// Read the inventory once. On success a changed row set reconfigures the poller (new
    /// devices start, removed ones stop, changed ones restart); on failure the last good rows
    /// stay. Returns whether the query succeeded.
    pub async fn refresh_targets_sql(
        &self,
        source: &dyn RowSource,
        sql: &TargetsSqlConfig,
    ) -> bool {
        let started = std::time::Instant::now();
        let result = source
            .fetch()
            .await
            .and_then(|rows| targets_sql::check_columns(&rows).map(|()| rows));
        let m = &self.metrics.sql;
        m.query_seconds.set(started.elapsed().as_secs_f64());
        m.count_refresh(result.is_ok());
        match result {
            Ok(rows) => {
                let n_rows = rows.len();
                m.up.set(1);
                m.last_success.set(unix_now());
                let changed = {
                    let mut st = lock(&self.sql);
                    if let Some(was) = st.episodes.succeeded() {
                        info!(was = %was, rows = rows.len(), "targets_sql: the inventory can be read again");
                    }
                    let same = st.rows.as_ref().is_some_and(|(url, query, old)| {
                        *url == sql.url && *query == sql.query && **old == rows
                    });
                    if !same {
                        st.rows = Some((sql.url.clone(), sql.query.clone(), Arc::new(rows)));
                    }
                    !same
                };
                if changed {
                    self.sync_poller();
                }
                debug!(rows = n_rows, changed, "targets_sql: inventory read");
                true
            }
            Err(e) => {
                m.up.set(0);
                let first = lock(&self.sql).episodes.failed(&e);
                if first {
                    warn!(error = %e, "targets_sql: cannot read the inventory; keeping the last good targets");
                } else {
                    debug!(error = %e, "targets_sql: inventory still unreadable");
                }
                false
            }
        }
    }

    /// Reconfigure the poller from the current config and `targets_sql` rows.
    fn sync_poller(&self) {
        let _g = lock(&self.apply_lock);
        let Some(cfg) = self.current_config() else {
            return;
        };
        let merged = self.merged(&cfg);
        info!(
            targets = merged.targets.len(),
            from_sql = self.metrics.sql.targets.get(),
            "targets_sql: inventory changed; reconciling devices"
        );
        self.poller.reconcile(&merged);
    }

    /// Read `targets_sql` every `refresh_interval` (retrying sooner while it fails), and at
    /// once after a reload. Does nothing while the config has no `targets_sql`.
    pub fn spawn_targets_sql(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            let mut source: Option<(TargetsSqlConfig, PgSource)> = None;
            let mut retry = RETRY_MIN;
            loop {
                let Some(sql) = app.current_config().and_then(|c| c.targets_sql.clone()) else {
                    source = None;
                    app.sql_wake.notified().await;
                    continue;
                };
                if source.as_ref().is_none_or(|(c, _)| *c != sql) {
                    match PgSource::new(&sql) {
                        Ok(s) => source = Some((sql.clone(), s)),
                        Err(e) => {
                            // check_url accepted it at load, so this is not expected.
                            error!(error = %e, "targets_sql: cannot use the url");
                            app.sql_wake.notified().await;
                            continue;
                        }
                    }
                }
                let Some((_, src)) = source.as_ref() else {
                    continue;
                };
                let wait = if app.refresh_targets_sql(src, &sql).await {
                    retry = RETRY_MIN;
                    sql.refresh_interval
                } else {
                    let w = retry.min(sql.refresh_interval);
                    retry = (retry * 2).min(RETRY_MAX);
                    w
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = app.sql_wake.notified() => {}
                }
            }
        });
    }

    /// Reload whenever a `targets_files` entry changes (checked every `every`).
    pub fn spawn_targets_watch(self: &Arc<Self>, every: std::time::Duration) {
        let app = self.clone();
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                tokio::time::sleep(every).await;
                let files = app
                    .current_config()
                    .map(|c| c.targets_files.clone())
                    .unwrap_or_default();
                let stamp: Vec<Option<std::time::SystemTime>> = files
                    .iter()
                    .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                    .collect();
                if seen.as_ref().is_some_and(|s| s != &stamp) {
                    info!("a targets file changed; reloading");
                    let a = app.clone();
                    let _ = tokio::task::spawn_blocking(move || a.reload()).await;
                }
                seen = Some(stamp);
            }
        });
    }

    pub fn current_config(&self) -> Option<Arc<Config>> {
        lock(&self.config).clone()
    }

    /// The last reachability analysis (prepared data for metrics, API and page).
    pub fn reach(&self) -> Arc<Reach> {
        lock(&self.reach).clone()
    }

    /// Run the reachability analysis on the current inventory, topology config and other
    /// shards' targets; log what changed (new problems, sites cut off and back) once.
    pub fn refresh_reach(&self) {
        let cfg = self
            .current_config()
            .map(|c| c.topology.clone())
            .unwrap_or_default();
        let mut views = graph::views(&self.inventory.snapshot());
        let own = views.len();
        let foreign = lock(&self.foreign).clone();
        views.extend(foreign.iter().map(|t| reach::foreign_view(t)));
        let topo = graph::build(&views, &cfg);
        let new = Arc::new(reach::build(&views, own, &topo, &cfg));
        let old = std::mem::replace(&mut *lock(&self.reach), new.clone());
        let ch = reach::changes(&old, &new);
        // Problems are logged once the view is complete (every device visited once): while
        // discovery is still filling in, links to devices not yet discovered come and go.
        if new.devices.values().all(|d| d.state != State::Unknown) {
            let mut logged = lock(&self.problems_logged);
            for p in new.problems.iter().filter(|p| !logged.contains(p)) {
                warn!(problem = %p, "topology contradicts itself; reachability goes on without that part");
            }
            *logged = new.problems.clone();
        }
        for text in &ch.isolated {
            warn!(site_status = %text, "site cut off");
        }
        for site in &ch.restored {
            info!(site = %site, "site reachable again");
        }
        let counts = new.devices.values().fold([0usize; 4], |mut c, d| {
            c[d.state as usize] += 1;
            c
        });
        debug!(
            up = counts[State::Up as usize],
            down = counts[State::Down as usize],
            shadow = counts[State::Shadow as usize],
            unknown = counts[State::Unknown as usize],
            foreign = new.foreign,
            "reachability analysed"
        );
    }

    /// Run `refresh_reach` whenever health or topology changed (after `REACH_SETTLE`).
    pub fn spawn_reach(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                app.inventory.reach_changed().await;
                tokio::time::sleep(REACH_SETTLE).await;
                let a = app.clone();
                let _ = tokio::task::spawn_blocking(move || a.refresh_reach()).await;
            }
        });
    }
}

/// First retry of a failing `targets_sql` query; doubles up to `RETRY_MAX` (never beyond
/// `refresh_interval`).
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Load and validate the config and the classification rules it names.
pub fn load_all(
    path: &std::path::Path,
    env: &dyn Env,
) -> Result<(Config, Classifier), ConfigError> {
    let cfg = config::load(path, env)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let classifier = cfg
        .classification
        .build(dir)
        .map_err(|e| ConfigError::Classification {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok((cfg, classifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    /// Rows (or an error) set by the test.
    struct FakeSource(Mutex<Result<Vec<SqlRow>, targets_sql::SourceError>>);
    impl RowSource for FakeSource {
        fn fetch(
            &self,
        ) -> targets_sql::BoxFuture<'_, Result<Vec<SqlRow>, targets_sql::SourceError>> {
            let r = lock(&self.0).clone();
            Box::pin(async move { r })
        }
    }

    fn rows(json: &[&str]) -> Vec<SqlRow> {
        json.iter()
            .enumerate()
            .map(|(i, t)| SqlRow::from_json(t, i + 1).unwrap())
            .collect()
    }

    fn device_names(app: &App) -> Vec<String> {
        let mut n: Vec<String> = app
            .inventory
            .snapshot()
            .iter()
            .map(|d| d.target.name.to_string())
            .collect();
        n.sort();
        n
    }

    #[tokio::test]
    async fn sql_rows_merge_with_the_file_targets_follow_changes_and_survive_failures() {
        let dir = std::env::temp_dir().join(format!("wf-app-sql-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("wf.yml");
        std::fs::write(
            &cfg,
            "poll_interval: 1h\nauths: {v2: {version: 2, community: x}}\n\
             targets: [{name: STATIC, address: '127.0.0.1:9', auth: v2}]\n\
             targets_sql: {url: 'postgres://u:pw@127.0.0.1:1/db', refresh_interval: 1h}\n",
        )
        .unwrap();
        let app = App::new(cfg, Box::new(NoEnv));
        app.reload().unwrap();
        assert_eq!(device_names(&app), ["STATIC"]);
        let sql = app.current_config().unwrap().targets_sql.clone().unwrap();

        let source = FakeSource(Mutex::new(Ok(rows(&[
            r#"{"name": "B", "ip": "127.0.0.1", "snmp_port": 9, "snmp_community": "cb"}"#,
            r#"{"name": "C", "ip": "127.0.0.1", "snmp_port": 9, "snmp_community": "cc"}"#,
            r#"{"name": "STATIC", "ip": "127.0.0.2", "snmp_community": "cs"}"#,
            r#"{"name": "D", "ip": "not-an-ip", "snmp_community": "cd"}"#,
        ]))));
        assert!(app.refresh_targets_sql(&source, &sql).await);
        assert_eq!(device_names(&app), ["B", "C", "STATIC"]);
        assert_eq!(app.metrics.sql.up.get(), 1);
        assert_eq!(app.metrics.sql.targets.get(), 2);
        let skipped = |r: &str| {
            app.metrics
                .sql
                .skipped_rows
                .get_or_create(&crate::metrics::selfmetrics::ReasonLabel { reason: r.into() })
                .get()
        };
        assert_eq!((skipped("name_clash"), skipped("bad_ip")), (1, 1));

        // The database goes away: the last good set stays.
        *lock(&source.0) = Err(targets_sql::SourceError::Connect("refused".into()));
        assert!(!app.refresh_targets_sql(&source, &sql).await);
        assert_eq!(device_names(&app), ["B", "C", "STATIC"]);
        assert_eq!(app.metrics.sql.up.get(), 0);

        // It comes back changed: C removed, E added, B moved to another address.
        *lock(&source.0) = Ok(rows(&[
            r#"{"name": "B", "ip": "127.0.0.3", "snmp_port": 9, "snmp_community": "cb"}"#,
            r#"{"name": "E", "ip": "127.0.0.1", "snmp_port": 9, "snmp_community": "ce"}"#,
        ]));
        assert!(app.refresh_targets_sql(&source, &sql).await);
        assert_eq!(device_names(&app), ["B", "E", "STATIC"]);
        assert_eq!(
            app.inventory.device("B").unwrap().target.address,
            "127.0.0.3:9"
        );
        assert_eq!((skipped("name_clash"), skipped("bad_ip")), (0, 0));

        // A reload keeps the SQL devices; another database or no targets_sql drops them.
        app.reload().unwrap();
        assert_eq!(device_names(&app), ["B", "E", "STATIC"]);
        let text = std::fs::read_to_string(dir.join("wf.yml")).unwrap();
        std::fs::write(dir.join("wf.yml"), text.replace("1/db", "1/other")).unwrap();
        app.reload().unwrap();
        assert_eq!(device_names(&app), ["STATIC"]);
        assert_eq!(app.metrics.sql.targets.get(), 0);
        std::fs::write(
            dir.join("wf.yml"),
            "poll_interval: 1h\nauths: {v2: {version: 2, community: x}}\n\
             targets: [{name: STATIC, address: '127.0.0.1:9', auth: v2}]\n",
        )
        .unwrap();
        app.reload().unwrap();
        assert_eq!(device_names(&app), ["STATIC"]);
        app.poller.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn each_shard_polls_its_own_part_of_the_sql_rows() {
        let dir = std::env::temp_dir().join(format!("wf-app-sqlshard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("wf.yml");
        std::fs::write(
            &cfg,
            "poll_interval: 1h\n\
             targets_sql: {url: 'postgres://u@127.0.0.1:1/db', refresh_interval: 1h}\n",
        )
        .unwrap();
        let json: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"name": "BR-{i:03}", "ip": "127.0.0.1", "snmp_port": 9, "snmp_community": "c"}}"#))
            .collect();
        let json: Vec<&str> = json.iter().map(String::as_str).collect();
        let source = FakeSource(Mutex::new(Ok(rows(&json))));
        let mut seen = Vec::new();
        for index in 0..2 {
            let app = App::with_shard(cfg.clone(), Box::new(NoEnv), Shard::new(index, 2).unwrap());
            app.reload().unwrap();
            let sql = app.current_config().unwrap().targets_sql.clone().unwrap();
            assert!(app.refresh_targets_sql(&source, &sql).await);
            let names = device_names(&app);
            assert!(!names.is_empty() && names.len() < 40, "{names:?}");
            assert_eq!(app.metrics.sql.targets.get(), 40);
            seen.extend(names);
            app.poller.shutdown();
        }
        seen.sort();
        let all: Vec<String> = (0..40).map(|i| format!("BR-{i:03}")).collect();
        assert_eq!(seen, all, "every row on exactly one shard");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_bad_rules_file_is_rejected_and_the_running_config_stays() {
        let dir = std::env::temp_dir().join(format!("wf-app-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("wf.yml");
        std::fs::write(
            &cfg,
            "poll_interval: 1h\nauths: {v2: {version: 2, community: x}}\n\
             targets: [{name: A, address: '127.0.0.1:9', auth: v2}]\n\
             classification: {rules_file: rules.yml}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("rules.yml"),
            "rules:\n  - id: any-isp\n    when: {alias: 'isp'}\n    set: {type: isp}\n",
        )
        .unwrap();
        let app = App::new(cfg.clone(), Box::new(NoEnv));
        app.reload().unwrap();
        let first = app.current_config().unwrap();
        std::fs::write(
            dir.join("rules.yml"),
            "rules:\n  - id: broken\n    when: {alias: '(unclosed'}\n    set: {type: isp}\n",
        )
        .unwrap();
        let err = app.reload().unwrap_err().to_string();
        assert!(
            err.contains("rules.yml") && err.contains("(unclosed"),
            "{err}"
        );
        assert!(
            Arc::ptr_eq(&first, &app.current_config().unwrap()),
            "old config kept"
        );
        assert_eq!(app.metrics.config_last_reload_successful.get(), 0);
        app.poller.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
