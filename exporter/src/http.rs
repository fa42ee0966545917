//! HTTP surface: `/metrics`, `/probe`, service discovery, the inventory JSON API, health, reload.
//!
//! Invariants: handlers read the inventory snapshot and never do SNMP; errors are JSON with a
//! 4xx status and a message, internals stay in the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
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

/// An API error: status and a message safe to show. Every JSON endpoint (topology's too)
/// answers errors with it.
pub struct ApiError(pub StatusCode, pub String);

/// A path parameter that does not decode (invalid UTF-8 after percent-decoding, say).
impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError(r.status(), r.body_text())
    }
}

/// A query string that does not fit the endpoint's parameters.
impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError(r.status(), r.body_text())
    }
}

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
        .merge(crate::invstore::edits::routes()) // interface edits
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(app)
}

/// Unknown paths answer like every other error: JSON with a message.
async fn no_route(uri: Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no endpoint {}", wardflux_web::echo_path(&uri)),
    )
}

/// A known path asked with a method it does not serve (the `Allow` header lists those).
async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {method} not allowed for {}",
            wardflux_web::echo_path(&uri)
        ),
    )
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
    let mut out = metrics::render_devices(&devices, &app.reach());
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
    /// `all` (default), `status` (critical interfaces' statuses only) or `rest`.
    part: Option<String>,
}

async fn probe(
    State(app): State<Arc<App>>,
    q: Result<Query<ProbeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    app.metrics.count_request("/probe");
    let Query(q) = q?;
    let name = q
        .target
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "missing target parameter".into()))?;
    let part = match q.part.as_deref() {
        None | Some("") => metrics::Part::All,
        Some(p) => metrics::Part::parse(p).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                "part must be all, status or rest".into(),
            )
        })?,
    };
    let d = app
        .inventory
        .device(&name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown target {name:?}")))?;
    Ok(text(metrics::render_devices_part(
        std::slice::from_ref(&d),
        &app.reach(),
        part,
    )))
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
    reachability: ReachJson,
}

/// A device's place in an outage, from this exporter's view.
#[derive(Serialize)]
struct ReachJson {
    /// up, down (in its own right), shadow, unknown.
    state: &'static str,
    /// For a shadowed device, the nearest devices down that cut it off.
    roots: Vec<String>,
    /// "down: 2 devices behind it", "in the shadow of BRANCH-RTR-02", empty when up.
    cause: String,
}

async fn devices(State(app): State<Arc<App>>) -> Json<Vec<DeviceJson>> {
    app.metrics.count_request("/api/v1/devices");
    let reach = app.reach();
    Json(
        app.inventory
            .snapshot()
            .iter()
            .map(|d| device_json(d, &reach))
            .collect(),
    )
}

fn device_json(d: &DeviceEntry, reach: &crate::topology::reach::Reach) -> DeviceJson {
    let r = reach.device(&d.target.name);
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
        reachability: ReachJson {
            // Not analysed yet (a device added a moment ago): unknown.
            state: r.map_or("unknown", |r| r.state.as_str()),
            roots: r
                .map(|r| r.roots.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default(),
            cause: r.map(|r| r.cause.clone()).unwrap_or_default(),
        },
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
    mtu: Option<i64>,
    mac: String,
    duplex: Option<&'static str>,
    counters: BTreeMap<&'static str, u64>,
    last_polled: Option<f64>,
    /// Where interface_type, isp_provider, is_critical and monitored came from.
    sources: crate::invstore::edits::Sources,
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

fn collect_interfaces(
    devices: &[DeviceEntry],
    f: &IfFilter,
    prov: &crate::invstore::edits::Provenance,
) -> Result<Vec<IfJson>, ApiError> {
    let critical = f
        .critical
        .as_deref()
        .map(|v| parse_bool("critical", v))
        .transpose()?;
    const STATUSES: [&str; 7] = [
        "up",
        "down",
        "testing",
        "unknown",
        "dormant",
        "notPresent",
        "lowerLayerDown",
    ];
    let unknown = |param: &str, v: &str, allowed: &[&str]| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{param}: unknown {v:?} ({})", allowed.join(", ")),
        )
    };
    if let Some(s) = f.status.as_deref() {
        if !STATUSES.contains(&s) {
            return Err(unknown("status", s, &STATUSES));
        }
    }
    if let Some(k) = f.kind.as_deref() {
        if crate::classify::InterfaceType::parse(k).is_none() {
            let all: Vec<&str> = crate::classify::InterfaceType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect();
            return Err(unknown("type", k, &all));
        }
    }
    if let Some(n) = f.device.as_deref() {
        if !devices.iter().any(|d| &*d.target.name == n) {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("device: unknown device {n:?}"),
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
            let (admin, oper) = e.statuses(d.values.as_deref(), pos);
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
            if let Some(c) = d.values.as_ref().and_then(|v| v.counters.get(pos)) {
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
                sources: prov.of(&d.target.name, &e.name_text(), e.info.if_index),
            });
        }
    }
    Ok(out)
}

async fn interfaces(
    State(app): State<Arc<App>>,
    q: Result<Query<IfFilter>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/api/v1/interfaces");
    let Query(f) = q?;
    let list = collect_interfaces(&app.inventory.snapshot(), &f, &provenance(&app))?;
    Ok(Json(
        serde_json::json!({ "count": list.len(), "interfaces": list }),
    ))
}

/// Which config overrides and API edits set which fields.
fn provenance(app: &App) -> crate::invstore::edits::Provenance {
    let cfg = app.current_config();
    let overrides = cfg
        .as_ref()
        .map(|c| c.classification.overrides.as_slice())
        .unwrap_or_default();
    app.edits.provenance(overrides)
}

/// One interface as `/api/v1/interfaces` shows it (the per-interface routes answer with it).
pub(crate) fn interface_value(app: &App, device: &str, if_index: u32) -> serde_json::Value {
    let f = IfFilter {
        device: Some(device.to_string()),
        ..IfFilter::default()
    };
    let devices = app.inventory.device(device).into_iter().collect::<Vec<_>>();
    collect_interfaces(&devices, &f, &provenance(app))
        .ok()
        .and_then(|l| l.into_iter().find(|i| i.if_index == if_index))
        .and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or(serde_json::Value::Null)
}

async fn summary(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    app.metrics.count_request("/api/v1/interfaces/summary");
    let devices = app.inventory.snapshot();
    let all =
        collect_interfaces(&devices, &IfFilter::default(), &Default::default()).unwrap_or_default();
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
    device: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/api/v1/discover/{device}");
    let Path(device) = device?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::inventory::{DeviceInventory, PollValues, TargetMeta};
    use crate::mib::if_mib::InterfaceInfo;
    use crate::mib::system::{ChangeMarkers, SystemInfo};
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    struct NoEnv;
    impl crate::config::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn app() -> Arc<App> {
        let app = App::new("missing.yml".into(), Box::new(NoEnv));
        let meta = Arc::new(TargetMeta {
            name: Arc::from("Gori-0101"),
            address: "127.0.0.1:161".into(),
            auth_name: "branch".into(),
            labels: Arc::new(BTreeMap::from([("site".into(), "gori".into())])),
        });
        app.inventory.upsert_target(meta.clone());
        let infos = (1..=3)
            .map(|i| InterfaceInfo {
                if_index: i,
                name: format!("Gi0/{i}").into_bytes(),
                alias: if i == 1 {
                    b"Magti_Internet".to_vec()
                } else {
                    Vec::new()
                },
                if_type: 6,
                admin_status: 1,
                oper_status: 1,
                has_hc: true,
                ..InterfaceInfo::default()
            })
            .collect();
        let inv = DeviceInventory::build(
            &meta,
            SystemInfo::default(),
            infos,
            &Classifier::embedded_default(),
            10.0,
        );
        let mut counters = vec![[None; POLLED.len()]; 3];
        counters[0][0] = Some(1);
        counters[1][0] = Some(2);
        counters[2][0] = Some(1);
        app.inventory.update("Gori-0101", |d| {
            d.inventory = Some(Arc::new(inv));
            d.values = Some(Arc::new(PollValues {
                counters,
                markers: ChangeMarkers::default(),
                health: Vec::new(),
                at: 11.0,
                ..PollValues::default()
            }));
            d.health.up = true;
        });
        app
    }

    async fn get(app: Arc<App>, uri: &str) -> (StatusCode, String) {
        let resp = router(app)
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn interfaces_filter_by_status_and_device() {
        let (s, body) = get(app(), "/api/v1/interfaces?status=down").await;
        assert_eq!(s, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["count"], 1);
        assert_eq!(v["interfaces"][0]["if_name"], "Gi0/2");
        assert_eq!(v["interfaces"][0]["oper_status"], "down");
        let (s, body) = get(app(), "/api/v1/interfaces?device=Other").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body.contains("device: unknown device \\\"Other\\\""),
            "{body}"
        );
    }

    #[tokio::test]
    async fn unknown_filter_values_are_400_naming_the_parameter_and_the_choices() {
        for (uri, want) in [
            (
                "/api/v1/interfaces?type=bogus",
                "type: unknown \\\"bogus\\\" (isp, trunk, access, server_link, branch_link, management, loopback, voice, camera, unknown)",
            ),
            (
                "/api/v1/interfaces?status=UP",
                "status: unknown \\\"UP\\\" (up, down, testing, unknown, dormant, notPresent, lowerLayerDown)",
            ),
            ("/api/v1/interfaces?critical=maybe", "critical: expected true or false"),
        ] {
            let (s, body) = get(app(), uri).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body.contains(want), "{uri}: {body}");
        }
        let (s, body) = get(app(), "/api/v1/interfaces?type=isp").await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }

    #[tokio::test]
    async fn bad_query_parameters_get_400_with_a_message() {
        for uri in [
            "/api/v1/interfaces?critical=maybe",
            "/api/v1/interfaces?status=sideways",
            "/api/v1/interfaces?colour=red",
            "/probe",
            "/probe?target=Gori-0101&part=counters",
        ] {
            let (s, body) = get(app(), uri).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body.contains("\"error\""), "{uri}: {body}");
        }
        let (s, _) = get(app(), "/probe?target=nope").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn devices_topology_and_probe_carry_the_last_reachability_run() {
        let app = app();
        let (_, body) = get(app.clone(), "/api/v1/devices").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["reachability"]["state"], "unknown", "not analysed yet");
        let (_, body) = get(app.clone(), "/probe?target=Gori-0101").await;
        assert!(!body.contains("wardflux_device_reachability"), "{body}");
        app.refresh_reach();
        let (_, body) = get(app.clone(), "/api/v1/devices").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v[0]["reachability"],
            serde_json::json!({"state": "up", "roots": [], "cause": ""})
        );
        let (_, body) = get(app.clone(), "/api/v1/topology").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["nodes"][0]["state"], "up");
        assert_eq!(v["nodes"][0]["roots"], serde_json::json!([]));
        // Gi0/1 is classified an ISP uplink (Magti_Internet): the device is its site's router.
        assert_eq!(v["sites"][0]["name"], "gori");
        assert_eq!(v["sites"][0]["routers"], serde_json::json!(["Gori-0101"]));
        assert_eq!(v["sites"][0]["isolated"], false, "its router answers");
        let (_, body) = get(app, "/probe?target=Gori-0101").await;
        assert!(
            body.contains(
                "wardflux_device_reachability{device=\"Gori-0101\",site=\"gori\",state=\"up\",root=\"\"} 1\n"
            ),
            "{body}"
        );
    }

    #[tokio::test]
    async fn summary_counts_and_service_discovery_point_at_probe() {
        let (_, body) = get(app(), "/api/v1/interfaces/summary").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["total"], 3);
        assert_eq!(v["by_status"]["down"], 1);
        assert_eq!(v["devices_up"], 1);
        let (_, body) = get(app(), "/api/v1/targets").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["labels"]["__param_target"], "Gori-0101");
        assert_eq!(v[0]["labels"]["__metrics_path__"], "/probe");
        assert_eq!(v[0]["labels"]["site"], "gori");
        let (s, body) = get(app(), "/probe?target=Gori-0101").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            body.contains("ifOperStatus{device=\"Gori-0101\",site=\"gori\",ifIndex=\"2\""),
            "{body}"
        );
    }

    #[tokio::test]
    async fn probe_parts_split_the_uplinks_statuses_from_the_rest() {
        let (s, status) = get(app(), "/probe?target=Gori-0101&part=status").await;
        assert_eq!(s, StatusCode::OK);
        let (_, rest) = get(app(), "/probe?target=Gori-0101&part=rest").await;
        let (_, all) = get(app(), "/probe?target=Gori-0101").await;
        let uplink = "ifOperStatus{device=\"Gori-0101\",site=\"gori\",ifIndex=\"1\"";
        let lan = "ifOperStatus{device=\"Gori-0101\",site=\"gori\",ifIndex=\"2\"";
        assert!(status.contains(uplink), "{status}");
        assert!(!status.contains(lan), "{status}");
        assert!(!status.contains("wardflux_device_up"), "{status}");
        assert!(!rest.contains(uplink), "{rest}");
        assert!(rest.contains(lan) && rest.contains("wardflux_interface_info"));
        assert!(all.contains(uplink) && all.contains(lan));
        let samples = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(
            samples(&status) + samples(&rest),
            samples(&all),
            "a partition"
        );
    }
}
