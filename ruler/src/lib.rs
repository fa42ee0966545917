//! wardflux-ruler: alert and recording rules over VictoriaMetrics, written as alert-history
//! rows in PostgreSQL or SQLite.
//!
//! Layout:
//! - `config`: rule files (Prometheus rule-group format) parsed and validated
//! - `template`: the Go-template subset used in annotations
//! - `labels`: label sets and stable fingerprints
//! - `alert`: the pure alert life (pending, firing, held, resolved) and its transitions
//! - `evidence`: a rule's subject and the evidence that lets a gone alert resolve
//! - `shadow`: the shadow context (device -> root outage row) shared by every group
//! - `baseline`: hour-of-week baselines, learning, anomaly scoring and detection
//! - `rule`: one rule's query result turned into candidates or recorded samples
//! - `datasource`: the `Querier`/`Importer` traits and the VictoriaMetrics client
//! - `engine`: group runtimes, aligned loops, reload, the built-in datasource alert
//! - `store`: alert history in PostgreSQL or SQLite (sqlx, embedded migrations)
//! - `summary`: 24-hour statistics per interface into `interface_metrics_summary`
//! - `leader`: leader election over a PostgreSQL advisory lock, and role changes
//! - `queue`: the bounded, ordered transition queue in front of the store
//! - `endpoint`: HTTP endpoints with their credentials kept out of the URL
//! - `notifier`: Alertmanager v2
//! - `outage`: the built-in outage group: isolated sites, provider outages, the poller's network
//! - `metrics`: self-telemetry
//! - `api`: HTTP API (`/metrics`, `/api/v1/alerts`, `/api/v1/rules`, `/-/reload`, ...)
//! - `replay`: rules evaluated over a past range into a store
//! - `bench`: evaluation cost for a synthetic fleet
//! - `traffic`: synthetic weeks of traffic with labelled anomalies, and their scoring
//! - `secret`: values that never reach logs
//! - `cli`: flags and subcommands, wired together

pub mod alert;
pub mod api;
pub mod baseline;
pub mod bench;
pub mod cli;
pub mod config;
pub mod datasource;
pub mod endpoint;
pub mod engine;
pub mod evidence;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod notifier;
pub mod outage;
pub mod queue;
pub mod replay;
pub mod rule;
pub mod secret;
pub mod shadow;
pub mod store;
pub mod summary;
pub mod template;
pub mod traffic;
