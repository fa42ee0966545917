//! HTTP surface: `/metrics`, `/probe`, service discovery, the inventory JSON API, health, reload.
//!
//! Invariants: handlers read the inventory snapshot and never do SNMP; errors are JSON with a
//! 4xx status and a message, internals stay in the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::inventory::DeviceEntry;
use crate::metrics;
use crate::mib::display_bytes;
use crate::mib::if_mib::{Duplex, POLLED};

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An API error: status and a message safe to show.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(serde_json::json!({ "status": "error", "error": self.1 })),
        )
            .into_response()
    }
}

/// The router for a running exporter.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(all_metrics))
        .route("/metrics/self", get(self_metrics))
        .route("/probe", get(probe))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/interfaces", get(interfaces))
        .route("/api/v1/interfaces/summary", get(summary))
        .route("/api/v1/discover", post(discover_all))
        .route("/api/v1/discover/{device}", post(discover_one))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .merge(crate::topology::http::routes()) // topology
        .with_state(app)
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>wardflux exporter</title><h1>wardflux exporter</h1><ul>\
         <li><a href=\"metrics\">/metrics</a> every device's interfaces</li>\
         <li><a href=\"metrics/self\">/metrics/self</a> the exporter's own metrics</li>\
         <li><a href=\"api/v1/targets\">/api/v1/targets</a> HTTP service discovery for /probe</li>\
         <li><a href=\"api/v1/devices\">/api/v1/devices</a></li>\
         <li><a href=\"api/v1/interfaces\">/api/v1/interfaces</a> (filters: device, type, isp, critical, status)</li>\
         <li><a href=\"api/v1/interfaces/summary\">/api/v1/interfaces/summary</a></li>\
         <li><a href=\"topology\">/topology</a> network map, neighbours and impact analysis</li></ul>",
    )
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

async fn all_metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.count_request("/metrics");
    let t = Instant::now();
    let devices = app.inventory.snapshot();
    let mut out = metrics::render_devices(&devices);
    metrics::render_totals(&mut out, &devices);
    app.metrics.render(&mut out);
    app.metrics.render_seconds.set(t.elapsed().as_secs_f64());
    text(out)
}

async fn self_metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.count_request("/metrics/self");
    let devices = app.inventory.snapshot();
    let mut out = String::new();
    metrics::render_totals(&mut out, &devices);
    app.metrics.render(&mut out);
    text(out)
}

#[derive(Deserialize)]
struct ProbeQuery {
    target: Option<String>,
}

async fn probe(
    State(app): State<Arc<App>>,
    Query(q): Query<ProbeQuery>,
) -> Result<Response, ApiError> {
    app.metrics.count_request("/probe");
    let name = q
        .target
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "missing target parameter".into()))?;
    let d = app
        .inventory
        .device(&name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown target {name:?}")))?;
    Ok(text(metrics::render_devices(std::slice::from_ref(&d))))
}

#[derive(Serialize)]
struct SdGroup {
    targets: Vec<String>,
    labels: BTreeMap<String, String>,
}

async fn targets(State(app): State<Arc<App>>, headers: HeaderMap) -> Json<Vec<SdGroup>> {
    app.metrics.count_request("/api/v1/targets");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:9117")
        .to_string();
    let groups = app
        .inventory
        .snapshot()
        .into_iter()
        .map(|d| {
            let mut labels: BTreeMap<String, String> = d.target.labels.as_ref().clone();
            labels.insert("__metrics_path__".into(), "/probe".into());
            labels.insert("__param_target".into(), d.target.name.to_string());
            labels.insert("device".into(), d.target.name.to_string());
            SdGroup {
                targets: vec![host.clone()],
                labels,
            }
        })
        .collect();
    Json(groups)
}

#[derive(Serialize)]
struct DeviceJson {
    name: String,
    address: String,
    auth: String,
    labels: BTreeMap<String, String>,
    up: bool,
    last_error: Option<String>,
    sys_name: Option<String>,
    sys_descr: Option<String>,
    sys_object_id: Option<String>,
    interfaces: usize,
    last_discovery: Option<f64>,
    last_success: Option<f64>,
    poll_duration_seconds: f64,
}

async fn devices(State(app): State<Arc<App>>) -> Json<Vec<DeviceJson>> {
    app.metrics.count_request("/api/v1/devices");
    Json(app.inventory.snapshot().iter().map(device_json).collect())
}

fn device_json(d: &DeviceEntry) -> DeviceJson {
    let inv = d.inventory.as_ref();
    DeviceJson {
        name: d.target.name.to_string(),
        address: d.target.address.clone(),
        auth: d.target.auth_name.clone(),
        labels: d.target.labels.as_ref().clone(),
        up: d.health.up,
        last_error: d.health.last_error.clone(),
        sys_name: inv.map(|i| display_bytes(&i.system.sys_name).into_owned()),
        sys_descr: inv.map(|i| display_bytes(&i.system.sys_descr).into_owned()),
        sys_object_id: inv.map(|i| i.system.sys_object_id.clone()),
        interfaces: inv.map(|i| i.interfaces.len()).unwrap_or(0),
        last_discovery: inv.map(|i| i.discovered_at),
        last_success: (d.health.last_success_at > 0.0).then_some(d.health.last_success_at),
        poll_duration_seconds: d.health.last_poll_seconds,
    }
}

/// Filters of `/api/v1/interfaces`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IfFilter {
    device: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    isp: Option<String>,
    critical: Option<String>,
    status: Option<String>,
}

#[derive(Serialize)]
struct IfJson {
    device: String,
    if_index: u32,
    if_name: String,
    if_descr: String,
    if_alias: String,
    if_type: u32,
    interface_type: &'static str,
    isp_provider: Option<String>,
    is_critical: bool,
    monitored: bool,
    confidence: f32,
    rule: String,
    admin_status: &'static str,
    oper_status: &'static str,
    speed_mbps: f64,
    mtu: i64,
    mac: String,
    duplex: Option<&'static str>,
    counters: BTreeMap<&'static str, u64>,
    last_polled: Option<f64>,
}

/// ifOperStatus/ifAdminStatus names.
pub fn status_name(v: i64) -> &'static str {
    match v {
        1 => "up",
        2 => "down",
        3 => "testing",
        4 => "unknown",
        5 => "dormant",
        6 => "notPresent",
        7 => "lowerLayerDown",
        _ => "unknown",
    }
}

fn parse_bool(field: &str, v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("{field}: expected true or false, got {v:?}"),
        )),
    }
}

fn collect_interfaces(devices: &[DeviceEntry], f: &IfFilter) -> Result<Vec<IfJson>, ApiError> {
    let critical = f
        .critical
        .as_deref()
        .map(|v| parse_bool("critical", v))
        .transpose()?;
    if let Some(s) = f.status.as_deref() {
        if ![
            "up",
            "down",
            "testing",
            "unknown",
            "dormant",
            "notPresent",
            "lowerLayerDown",
        ]
        .contains(&s)
        {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("status: unknown {s:?} (up, down, ...)"),
            ));
        }
    }
    let mut out = Vec::new();
    for d in devices {
        if f.device.as_deref().is_some_and(|n| n != &*d.target.name) {
            continue;
        }
        let Some(inv) = &d.inventory else { continue };
        for (pos, e) in inv.interfaces.iter().enumerate() {
            let c = d.values.as_ref().and_then(|v| v.counters.get(pos));
            let oper = c
                .and_then(|c| c[0])
                .map(|v| v as i64)
                .unwrap_or(e.info.oper_status);
            let admin = c
                .and_then(|c| c[1])
                .map(|v| v as i64)
                .unwrap_or(e.info.admin_status);
            if f.kind
                .as_deref()
                .is_some_and(|k| k != e.class.interface_type.as_str())
                || f.isp
                    .as_deref()
                    .is_some_and(|p| Some(p) != e.class.isp_provider.as_deref())
                || critical.is_some_and(|c| c != e.class.is_critical)
                || f.status.as_deref().is_some_and(|s| s != status_name(oper))
            {
                continue;
            }
            let mut counters = BTreeMap::new();
            if let Some(c) = c {
                for (slot, col) in POLLED.iter().enumerate().skip(2) {
                    if let Some(v) = c[slot] {
                        counters.insert(col.metric, v);
                    }
                }
            }
            out.push(IfJson {
                device: d.target.name.to_string(),
                if_index: e.info.if_index,
                if_name: display_bytes(&e.info.name).into_owned(),
                if_descr: display_bytes(&e.info.descr).into_owned(),
                if_alias: display_bytes(&e.info.alias).into_owned(),
                if_type: e.info.if_type,
                interface_type: e.class.interface_type.as_str(),
                isp_provider: e.class.isp_provider.as_deref().map(str::to_string),
                is_critical: e.class.is_critical,
                monitored: e.class.monitored,
                confidence: e.class.confidence,
                rule: e.class.rule.to_string(),
                admin_status: status_name(admin),
                oper_status: status_name(oper),
                speed_mbps: e.info.speed_bps() as f64 / 1e6,
                mtu: e.info.mtu,
                mac: metrics::mac(&e.info.phys_address),
                duplex: e.info.duplex.map(|d| match d {
                    Duplex::Full => "full",
                    Duplex::Half => "half",
                    Duplex::Unknown => "unknown",
                }),
                counters,
                last_polled: d.values.as_ref().map(|v| v.at),
            });
        }
    }
    Ok(out)
}

async fn interfaces(
    State(app): State<Arc<App>>,
    q: Result<Query<IfFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/api/v1/interfaces");
    let Query(f) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let list = collect_interfaces(&app.inventory.snapshot(), &f)?;
    Ok(Json(
        serde_json::json!({ "count": list.len(), "interfaces": list }),
    ))
}

async fn summary(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    app.metrics.count_request("/api/v1/interfaces/summary");
    let devices = app.inventory.snapshot();
    let all = collect_interfaces(&devices, &IfFilter::default()).unwrap_or_default();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_isp: BTreeMap<String, usize> = BTreeMap::new();
    let (mut critical, mut critical_down, mut monitored) = (0, 0, 0);
    for i in &all {
        *by_type.entry(i.interface_type).or_default() += 1;
        *by_status.entry(i.oper_status).or_default() += 1;
        if let Some(p) = &i.isp_provider {
            *by_isp.entry(p.clone()).or_default() += 1;
        }
        if i.is_critical {
            critical += 1;
            if i.oper_status != "up" && i.admin_status == "up" {
                critical_down += 1;
            }
        }
        monitored += usize::from(i.monitored);
    }
    let last_discovery = devices
        .iter()
        .filter_map(|d| d.inventory.as_ref().map(|i| i.discovered_at))
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    Json(serde_json::json!({
        "total": all.len(),
        "monitored": monitored,
        "by_type": by_type,
        "by_status": by_status,
        "by_isp": by_isp,
        "critical": critical,
        "critical_down": critical_down,
        "devices": devices.len(),
        "devices_up": devices.iter().filter(|d| d.health.up).count(),
        "last_discovery": last_discovery,
    }))
}

async fn discover_all(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    app.metrics.count_request("/api/v1/discover");
    let n = app.poller.discover_all();
    Json(serde_json::json!({ "status": "success", "devices": n }))
}

async fn discover_one(
    State(app): State<Arc<App>>,
    Path(device): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/api/v1/discover/{device}");
    if app.poller.discover_now(&device) {
        Ok(Json(
            serde_json::json!({ "status": "success", "device": device }),
        ))
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown device {device:?}"),
        ))
    }
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.current_config().is_some() {
        "Ready\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "configuration not loaded\n",
        )
            .into_response()
    }
}

async fn reload(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/-/reload");
    let a = app.clone();
    match tokio::task::spawn_blocking(move || a.reload()).await {
        Ok(Ok(())) => Ok(Json(serde_json::json!({ "status": "success" }))),
        Ok(Err(e)) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("configuration rejected: {e}"),
        )),
        Err(_) => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reload failed".into(),
        )),
    }
}
