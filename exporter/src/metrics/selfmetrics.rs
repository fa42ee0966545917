//! Process-level self-metrics in a prometheus-client registry, served in text format 0.0.4.
//!
//! prometheus-client writes OpenMetrics; `to_text_format` turns its output into the classic
//! text format the rest of `/metrics` uses (counter families named with `_total`, no `# EOF`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabel {
    pub handler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}

/// The exporter's own process-level metrics.
pub struct SelfMetrics {
    registry: Registry,
    pub config_reloads: Family<ResultLabel, Counter>,
    pub config_last_reload_successful: Gauge,
    pub config_last_reload_success_timestamp: Gauge<f64, AtomicU64>,
    pub http_requests: Family<HandlerLabel, Counter>,
    pub render_seconds: Gauge<f64, AtomicU64>,
    /// The `targets_sql` source; rendered only once a config with `targets_sql` was loaded.
    pub sql: SqlMetrics,
    /// SNMP notifications received, accepted, rejected; polls they triggered.
    pub notifications: std::sync::Arc<crate::notify::Metrics>,
    /// The inventory store; rendered only once a config with `inventory_store` was loaded.
    pub store: crate::invstore::StoreMetrics,
}

/// Metrics of the `targets_sql` inventory source, in a registry of their own.
pub struct SqlMetrics {
    registry: Registry,
    enabled: AtomicBool,
    pub up: Gauge,
    pub last_success: Gauge<f64, AtomicU64>,
    pub targets: Gauge,
    pub skipped_rows: Family<ReasonLabel, Gauge>,
    pub refreshes: Family<ResultLabel, Counter>,
    pub query_seconds: Gauge<f64, AtomicU64>,
}

impl SqlMetrics {
    fn new() -> SqlMetrics {
        let mut registry = Registry::default();
        let up = Gauge::default();
        registry.register(
            "wardflux_targets_sql_up",
            "1 when the last targets_sql query succeeded, 0 while the inventory database cannot be read",
            up.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_targets_sql_last_success_timestamp_seconds",
            "Unix time of the last successful targets_sql query",
            last_success.clone(),
        );
        let targets = Gauge::default();
        registry.register(
            "wardflux_targets_sql_targets",
            "Targets read from the inventory database in the last good row set (before sharding)",
            targets.clone(),
        );
        let skipped_rows = Family::<ReasonLabel, Gauge>::default();
        for r in crate::targets_sql::SkipReason::ALL {
            let _ = skipped_rows.get_or_create(&ReasonLabel {
                reason: r.as_str().to_string(),
            });
        }
        registry.register(
            "wardflux_targets_sql_skipped_rows",
            "Inventory rows left out of the last good row set, by reason",
            skipped_rows.clone(),
        );
        let refreshes = Family::<ResultLabel, Counter>::default();
        for r in ["success", "failure"] {
            let _ = refreshes.get_or_create(&ResultLabel { result: r.into() });
        }
        registry.register(
            "wardflux_targets_sql_refreshes",
            "targets_sql queries, by result (success or failure)",
            refreshes.clone(),
        );
        let query_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_targets_sql_query_duration_seconds",
            "Time the last targets_sql query took, connecting included",
            query_seconds.clone(),
        );
        SqlMetrics {
            registry,
            enabled: AtomicBool::new(false),
            up,
            last_success,
            targets,
            skipped_rows,
            refreshes,
            query_seconds,
        }
    }

    /// Show these metrics from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    pub fn set_skipped(&self, counts: &[(crate::targets_sql::SkipReason, i64)]) {
        for (r, n) in counts {
            self.skipped_rows
                .get_or_create(&ReasonLabel {
                    reason: r.as_str().to_string(),
                })
                .set(*n);
        }
    }

    pub fn count_refresh(&self, ok: bool) {
        self.refreshes
            .get_or_create(&ResultLabel {
                result: if ok { "success" } else { "failure" }.to_string(),
            })
            .inc();
    }
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    pub fn new() -> SelfMetrics {
        let mut registry = Registry::default();
        let config_reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "wardflux_config_reloads",
            "Configuration reloads, by result (success or failure)",
            config_reloads.clone(),
        );
        let config_last_reload_successful = Gauge::default();
        registry.register(
            "wardflux_config_last_reload_successful",
            "1 when the last configuration reload succeeded",
            config_last_reload_successful.clone(),
        );
        let config_last_reload_success_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load",
            config_last_reload_success_timestamp.clone(),
        );
        let http_requests = Family::<HandlerLabel, Counter>::default();
        registry.register(
            "wardflux_http_requests",
            "HTTP requests served, by handler",
            http_requests.clone(),
        );
        let render_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "wardflux_metrics_render_duration_seconds",
            "Time the previous /metrics response took to render",
            render_seconds.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register(
            "wardflux_build_info",
            "Build information; value is always 1",
            build,
        );
        SelfMetrics {
            registry,
            config_reloads,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            http_requests,
            render_seconds,
            sql: SqlMetrics::new(),
            notifications: std::sync::Arc::new(crate::notify::Metrics::new()),
            store: crate::invstore::StoreMetrics::new(),
        }
    }

    pub fn count_request(&self, handler: &str) {
        self.http_requests
            .get_or_create(&HandlerLabel {
                handler: handler.to_string(),
            })
            .inc();
    }

    /// Append the registry in text format 0.0.4.
    pub fn render(&self, out: &mut String) {
        let mut om = String::new();
        if prometheus_client::encoding::text::encode(&mut om, &self.registry).is_ok() {
            to_text_format(&om, out);
        }
        self.notifications.render(out);
        if self.sql.enabled.load(Ordering::Relaxed) {
            om.clear();
            if prometheus_client::encoding::text::encode(&mut om, &self.sql.registry).is_ok() {
                to_text_format(&om, out);
            }
        }
        if self.store.enabled.load(Ordering::Relaxed) {
            om.clear();
            if prometheus_client::encoding::text::encode(&mut om, &self.store.registry).is_ok() {
                to_text_format(&om, out);
            }
        }
    }
}

/// Convert prometheus-client's OpenMetrics output to text format 0.0.4: counter families take
/// the `_total` name their samples carry, `# EOF` and `# UNIT` lines go.
pub fn to_text_format(openmetrics: &str, out: &mut String) {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) && !name.ends_with("_total") {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(tail);
                out.push('\n');
                continue;
            }
            if prefix == "# TYPE " && tail == "unknown" {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str(" untyped\n");
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_counters_become_classic_total_families() {
        let m = SelfMetrics::new();
        m.config_reloads
            .get_or_create(&ResultLabel {
                result: "success".into(),
            })
            .inc();
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("# TYPE wardflux_config_reloads_total counter\n"),
            "{out}"
        );
        assert!(
            out.contains("# HELP wardflux_config_reloads_total "),
            "{out}"
        );
        assert!(
            out.contains("wardflux_config_reloads_total{result=\"success\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("wardflux_build_info{version="), "{out}");
        assert!(!out.contains("# EOF"));
    }
}
