//! The running exporter: config file, classifier, poller and inventory wired together, with
//! the reload that SIGHUP and `POST /-/reload` share.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing::{error, info};

use crate::classify::Classifier;
use crate::config::{self, Config, ConfigError, Env};
use crate::inventory::Inventory;
use crate::metrics::selfmetrics::{ResultLabel, SelfMetrics};
use crate::poller::{unix_now, Poller};
use crate::shard::Shard;

/// Shared state of a running exporter.
pub struct App {
    pub config_file: PathBuf,
    pub inventory: Arc<Inventory>,
    pub poller: Arc<Poller>,
    pub metrics: SelfMetrics,
    pub config: Mutex<Option<Arc<Config>>>,
    /// The part of the targets this exporter polls.
    pub shard: Shard,
    env: Box<dyn Env + Send + Sync>,
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
            Ok((mut cfg, classifier)) => {
                let total = cfg.targets.len();
                cfg.targets.retain(|t| self.shard.owns(&t.name));
                if self.shard.count > 1 {
                    info!(
                        shard = self.shard.index,
                        shards = self.shard.count,
                        owned = cfg.targets.len(),
                        total,
                        "sharded targets"
                    );
                }
                let cfg = Arc::new(cfg);
                self.poller.apply(&cfg, Arc::new(classifier));
                *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(cfg.clone());
                self.metrics
                    .config_reloads
                    .get_or_create(&label("success"))
                    .inc();
                self.metrics.config_last_reload_successful.set(1);
                self.metrics
                    .config_last_reload_success_timestamp
                    .set(unix_now());
                info!(file = %self.config_file.display(), targets = cfg.targets.len(), "configuration loaded");
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
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
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
