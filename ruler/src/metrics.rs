//! The ruler's own telemetry, rendered at `/metrics` in Prometheus naming: evaluations,
//! durations, failures, alerts by state, held alerts by reason, transition-queue depth, store
//! and datasource errors, the fleet's reachability (devices by state, isolated sites, topology
//! problems), interface-summary runs.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabel {
    pub group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub group: String,
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub group: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HoldLabel {
    pub group: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReachStateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertmanagerLabel {
    pub alertmanager: String,
}

type HistFamily = Family<GroupLabel, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every self-metric; cloning shares the underlying values.
pub struct Metrics {
    registry: Registry,
    pub evaluations: Family<GroupLabel, Counter>,
    pub evaluation_duration: HistFamily,
    pub rule_failures: Family<RuleLabel, Counter>,
    pub alerts: Family<StateLabel, Gauge>,
    pub alerts_held: Family<HoldLabel, Gauge>,
    pub queue_depth: Gauge,
    pub transitions_written: Family<KindLabel, Counter>,
    pub transitions_dropped: Counter,
    pub transitions_rejected: Counter,
    pub store_errors: Counter,
    pub datasource_errors: Counter,
    pub datasource_up: Gauge,
    pub recorded_samples: Counter,
    pub notifications: Counter,
    pub notification_errors: Counter,
    pub alertmanager_up: Family<AlertmanagerLabel, Gauge>,
    pub reloads: Counter,
    pub reload_failures: Counter,
    pub config_last_reload_successful: Gauge,
    pub leader: Gauge,
    pub leader_changes: Counter,
    pub reachability_devices: Family<ReachStateLabel, Gauge>,
    pub reachability_problems: Gauge,
    pub isolated_sites: Gauge,
    pub summary_runs: Family<ResultLabel, Counter>,
    pub summary_last_success: Gauge,
    pub summary_rows_written: Counter,
    pub summary_rows_deleted: Counter,
    pub summary_interfaces: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            evaluations: Family::default(),
            evaluation_duration: Family::new_with_constructor(duration_histogram),
            rule_failures: Family::default(),
            alerts: Family::default(),
            alerts_held: Family::default(),
            queue_depth: Gauge::default(),
            transitions_written: Family::default(),
            transitions_dropped: Counter::default(),
            transitions_rejected: Counter::default(),
            store_errors: Counter::default(),
            datasource_errors: Counter::default(),
            datasource_up: Gauge::default(),
            recorded_samples: Counter::default(),
            notifications: Counter::default(),
            notification_errors: Counter::default(),
            alertmanager_up: Family::default(),
            reloads: Counter::default(),
            reload_failures: Counter::default(),
            config_last_reload_successful: Gauge::default(),
            leader: Gauge::default(),
            leader_changes: Counter::default(),
            reachability_devices: Family::default(),
            reachability_problems: Gauge::default(),
            isolated_sites: Gauge::default(),
            summary_runs: Family::default(),
            summary_last_success: Gauge::default(),
            summary_rows_written: Counter::default(),
            summary_rows_deleted: Counter::default(),
            summary_interfaces: Gauge::default(),
            registry: Registry::default(),
        };
        r.register(
            "wardflux_ruler_group_evaluations",
            "Group evaluations started",
            m.evaluations.clone(),
        );
        r.register(
            "wardflux_ruler_group_evaluation_duration_seconds",
            "Wall time of one group evaluation",
            m.evaluation_duration.clone(),
        );
        r.register(
            "wardflux_ruler_rule_evaluation_failures",
            "Rule evaluations that failed (query, import or label errors)",
            m.rule_failures.clone(),
        );
        r.register(
            "wardflux_ruler_alerts",
            "Live alerts by group and state",
            m.alerts.clone(),
        );
        r.register(
            "wardflux_ruler_alerts_held",
            "Firing alerts held open without evidence of recovery, by group and hold reason",
            m.alerts_held.clone(),
        );
        r.register(
            "wardflux_ruler_transition_queue_depth",
            "Alert transitions waiting to be written to the store",
            m.queue_depth.clone(),
        );
        r.register(
            "wardflux_ruler_transitions_written",
            "Alert transitions written to the store, by kind",
            m.transitions_written.clone(),
        );
        r.register(
            "wardflux_ruler_transitions_dropped",
            "Alert transitions dropped because the queue was full",
            m.transitions_dropped.clone(),
        );
        r.register(
            "wardflux_ruler_transitions_rejected",
            "Alert transitions the store refused permanently",
            m.transitions_rejected.clone(),
        );
        r.register(
            "wardflux_ruler_store_errors",
            "Store operations that failed and will be retried: writes, and attempts to reach the store for the leader lock",
            m.store_errors.clone(),
        );
        r.register(
            "wardflux_ruler_datasource_errors",
            "Datasource requests that failed",
            m.datasource_errors.clone(),
        );
        r.register(
            "wardflux_ruler_datasource_up",
            "1 when the last datasource request succeeded",
            m.datasource_up.clone(),
        );
        r.register(
            "wardflux_ruler_recorded_samples",
            "Samples written back by recording rules",
            m.recorded_samples.clone(),
        );
        r.register(
            "wardflux_ruler_notifications",
            "Alert batches sent to the notifier",
            m.notifications.clone(),
        );
        r.register(
            "wardflux_ruler_notification_errors",
            "Alert batches the notifier failed to deliver",
            m.notification_errors.clone(),
        );
        r.register(
            "wardflux_ruler_alertmanager_up",
            "1 when the last batch sent to this Alertmanager (--notifier.url, shown without credentials) was accepted, or none was sent yet",
            m.alertmanager_up.clone(),
        );
        r.register(
            "wardflux_ruler_config_reloads",
            "Rule reloads attempted",
            m.reloads.clone(),
        );
        r.register(
            "wardflux_ruler_config_reload_failures",
            "Rule reloads rejected (the old rules keep running)",
            m.reload_failures.clone(),
        );
        r.register(
            "wardflux_ruler_config_last_reload_successful",
            "1 when the last rule load succeeded",
            m.config_last_reload_successful.clone(),
        );
        r.register(
            "wardflux_ruler_leader",
            "1 while this replica leads (holds the PostgreSQL advisory lock, or runs on SQLite)",
            m.leader.clone(),
        );
        r.register(
            "wardflux_ruler_role_changes",
            "Changes of this replica's role (leader, standby, reacquiring)",
            m.leader_changes.clone(),
        );
        r.register(
            "wardflux_ruler_reachability_devices",
            "Devices by reachability state (up, down, shadow, unknown) at the outage group's last evaluation",
            m.reachability_devices.clone(),
        );
        r.register(
            "wardflux_ruler_reachability_problems",
            "Contradictions found in the topology at the outage group's last evaluation",
            m.reachability_problems.clone(),
        );
        r.register(
            "wardflux_ruler_isolated_sites",
            "Sites whose every ISP-uplink router is down in its own right",
            m.isolated_sites.clone(),
        );
        r.register(
            "wardflux_ruler_summary_runs",
            "Interface-summary runs by result (success, datasource_error, store_error); a failed run writes nothing",
            m.summary_runs.clone(),
        );
        r.register(
            "wardflux_ruler_summary_last_success_timestamp_seconds",
            "Unix time of the last interface-summary run that wrote its rows",
            m.summary_last_success.clone(),
        );
        r.register(
            "wardflux_ruler_summary_rows_written",
            "Rows upserted into interface_metrics_summary",
            m.summary_rows_written.clone(),
        );
        r.register(
            "wardflux_ruler_summary_rows_deleted",
            "Rows of interface_metrics_summary deleted because no run refreshed them within --summary.retention",
            m.summary_rows_deleted.clone(),
        );
        r.register(
            "wardflux_ruler_summary_interfaces",
            "Interfaces the last successful interface-summary run wrote",
            m.summary_interfaces.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// Renders the OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
