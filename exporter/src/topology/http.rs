//! Topology HTTP surface: the graph and neighbour JSON API, impact queries, the laid-out SVG
//! and the `/topology` page with its assets embedded in the binary (no internet at run time).
//!
//! Invariants: handlers read an inventory snapshot and never do SNMP; errors are JSON with a
//! 4xx status and a message.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::App;
use crate::http::ApiError;

use super::config::TopologyConfig;
use super::graph::{self, DeviceView, Edge, Topology};
use super::impact::{self, Adjacency, Failure};
use super::layout;
use super::reach::Reach;

const PAGE_HTML: &str = include_str!("assets/topology.html");
const PAGE_JS: &str = include_str!("assets/topology.js");
const PAGE_CSS: &str = include_str!("assets/topology.css");

/// The topology routes, merged into the exporter's router.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/topology", get(topology))
        .route("/api/v1/topology/impact", get(impact_query))
        .route("/api/v1/topology/layout.svg", get(layout_svg))
        .route("/api/v1/devices/{name}/neighbors", get(neighbors))
        .route("/topology", get(page))
        .route("/topology/topology.js", get(page_js))
        .route("/topology/topology.css", get(page_css))
}

fn config_of(app: &App) -> TopologyConfig {
    app.current_config()
        .map(|c| c.topology.clone())
        .unwrap_or_default()
}

/// Views and graph of the current inventory.
fn current(app: &App) -> (Vec<DeviceView>, Topology) {
    let views = graph::views(&app.inventory.snapshot());
    let topo = graph::build(&views, &config_of(app));
    (views, topo)
}

#[derive(Serialize)]
struct NodeJson<'a> {
    id: &'a str,
    name: &'a str,
    address: &'a str,
    labels: &'a BTreeMap<String, String>,
    status: &'static str,
    root: bool,
    sys_name: &'a str,
    chassis_id: Option<String>,
    interfaces: usize,
    neighbors: usize,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    source_interface: &'a str,
    target_interface: &'a str,
    status: &'static str,
}

#[derive(Serialize)]
struct EdgeJson<'a> {
    id: String,
    source: &'a str,
    target: &'a str,
    source_interface: &'a str,
    target_interface: &'a str,
    source_if_index: Option<u32>,
    target_if_index: Option<u32>,
    interface_type: &'static str,
    status: &'static str,
    protocol: &'static str,
    state: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members: Vec<MemberJson<'a>>,
}

fn edge_json<'a>(t: &'a Topology, i: usize, e: &'a Edge) -> EdgeJson<'a> {
    EdgeJson {
        id: format!("e{i}"),
        source: &t.nodes[e.source].name,
        target: &t.nodes[e.target].name,
        source_interface: &e.source_interface,
        target_interface: &e.target_interface,
        source_if_index: e.source_if,
        target_if_index: e.target_if,
        interface_type: e.interface_type,
        status: e.status.as_str(),
        protocol: e.protocol,
        state: e.state.as_str(),
        members: e
            .members
            .iter()
            .map(|m| MemberJson {
                source_interface: &m.source_interface,
                target_interface: &m.target_interface,
                status: m.status.as_str(),
            })
            .collect(),
    }
}

/// The graph as JSON: nodes, edges, orphans, ambiguous matches, ignored reports, roots.
pub fn topology_json(views: &[DeviceView], t: &Topology) -> serde_json::Value {
    let nodes: Vec<NodeJson> = t
        .nodes
        .iter()
        .zip(views)
        .map(|(n, v)| NodeJson {
            id: &n.name,
            name: &n.name,
            address: &v.address,
            labels: &v.labels,
            status: n.status.as_str(),
            root: n.root,
            sys_name: &v.sys_name,
            chassis_id: v.hood.chassis_id.as_ref().map(|c| c.to_string()),
            interfaces: v.ports.len(),
            neighbors: v.hood.neighbors.len(),
        })
        .collect();
    let edges: Vec<EdgeJson> = t
        .edges
        .iter()
        .enumerate()
        .map(|(i, e)| edge_json(t, i, e))
        .collect();
    let orphans: Vec<serde_json::Value> = t
        .orphans
        .iter()
        .map(|o| {
            json!({
                "neighbor_name": o.neighbor_name,
                "chassis_id": o.chassis_id,
                "addresses": o.addresses,
                "protocol": o.protocol,
                "seen_from": o.seen_from.iter().map(|(d, i, p)| json!({
                    "device": &**d, "interface": i, "neighbor_port": p
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ambiguous: Vec<serde_json::Value> = t
        .ambiguous
        .iter()
        .map(|a| {
            json!({
                "neighbor_name": a.neighbor_name,
                "seen_from": {"device": &*a.seen_from.0, "interface": a.seen_from.1},
                "matched_by": a.matched_by,
                "candidates": a.candidates.iter().map(|c| &**c).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ignored: Vec<serde_json::Value> = t
        .ignored
        .iter()
        .map(|x| {
            json!({"device": &*x.device, "interface": x.interface,
                   "neighbor_name": x.neighbor_name, "reason": x.reason})
        })
        .collect();
    json!({
        "nodes": nodes,
        "edges": edges,
        "orphans": orphans,
        "ambiguous": ambiguous,
        "ignored": ignored,
        "roots": t.roots.iter().map(|&r| &*t.nodes[r].name).collect::<Vec<_>>(),
        "roots_source": t.roots_source,
    })
}

async fn topology(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    app.metrics.count_request("/api/v1/topology");
    let (views, t) = current(&app);
    let mut v = topology_json(&views, &t);
    with_reach(&mut v, &app.reach());
    Json(v)
}

/// Add the last reachability analysis to a topology answer: per node `state` (up, down,
/// shadow, unknown), `roots` (the nearest causes of a shadowed device), `cause` (text) and
/// `behind` (devices in its shadow); `sites` (with `isolated`, `cut_off` and a `text`) and
/// the analysis' `problems`.
pub fn with_reach(v: &mut serde_json::Value, reach: &Reach) {
    if let Some(nodes) = v["nodes"].as_array_mut() {
        for n in nodes {
            let r = n["name"].as_str().and_then(|name| reach.device(name));
            n["state"] = json!(r.map_or("unknown", |r| r.state.as_str()));
            n["roots"] = json!(r.map(|r| r.roots.clone()).unwrap_or_default());
            n["cause"] = json!(r.map_or("", |r| r.cause.as_str()));
            n["behind"] = json!(r.map_or(0, |r| r.behind));
        }
    }
    v["sites"] = json!(reach.sites);
    v["problems"] = json!(reach.problems);
}

async fn neighbors(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics
        .count_request("/api/v1/devices/{name}/neighbors");
    let Path(name) = name?;
    let views = graph::views(&app.inventory.snapshot());
    let Some(i) = views.iter().position(|v| *v.name == *name) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown device {name:?}"),
        ));
    };
    let t = graph::build(&views, &config_of(&app));
    let list: Vec<serde_json::Value> = graph::neighbors_of(&views, i)
        .into_iter()
        .map(|(n, matched, how)| {
            json!({
                "protocol": n.protocol.as_str(),
                "local_interface": n.local_port,
                "local_if_index": n.local_if_index,
                "neighbor_name": n.display_name(),
                "neighbor_device": matched.as_deref(),
                "match": how,
                "chassis_id": n.chassis_id.as_ref().map(|c| c.to_string()),
                "port_id": n.port_id.as_ref().map(|c| c.to_string()),
                "neighbor_port": n.port_text(),
                "port_description": n.port_descr,
                "system_description": n.sys_descr,
                "capabilities": n.capabilities,
                "addresses": n.addresses,
            })
        })
        .collect();
    let edges: Vec<EdgeJson> = t
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.source == i || e.target == i)
        .map(|(k, e)| edge_json(&t, k, e))
        .collect();
    Ok(Json(json!({
        "device": name,
        "chassis_id": views[i].hood.chassis_id.as_ref().map(|c| c.to_string()),
        "count": list.len(),
        "neighbors": list,
        "links": edges,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpactQuery {
    device: Option<String>,
    interface: Option<String>,
}

/// Answer an impact query on a built graph; errors are user-facing.
pub fn impact_json(
    views: &[DeviceView],
    t: &Topology,
    device: &str,
    interface: Option<&str>,
) -> Result<serde_json::Value, (StatusCode, String)> {
    let d = t
        .index_of(device)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("unknown device {device:?}")))?;
    if t.roots.is_empty() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "no roots: set topology.roots in the config (or classify ISP interfaces)".into(),
        ));
    }
    let failure = match interface.filter(|s| !s.is_empty()) {
        None => Failure::Device(d),
        Some(name) => {
            let port = views[d].ports.iter().find(|p| {
                p.name.eq_ignore_ascii_case(name)
                    || p.descr.eq_ignore_ascii_case(name)
                    || name.parse::<u32>().ok() == Some(p.if_index)
            });
            let on_edge = t.edges.iter().any(|e| {
                (e.source == d && e.source_interface.eq_ignore_ascii_case(name))
                    || (e.target == d && e.target_interface.eq_ignore_ascii_case(name))
            });
            if port.is_none() && !on_edge {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("device {device:?} has no interface {name:?}"),
                ));
            }
            Failure::Interface {
                device: d,
                if_index: port.map(|p| p.if_index),
                name: port
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| name.to_string()),
            }
        }
    };
    let adj = Adjacency::new(t);
    let r = impact::impact(t, &adj, &failure);
    let names = |v: &[usize]| v.iter().map(|&i| &*t.nodes[i].name).collect::<Vec<_>>();
    Ok(json!({
        "device": device,
        "interface": interface,
        "roots": names(&t.roots),
        "cut_edges": r.cut_edges.iter().map(|&i| edge_json(t, i, &t.edges[i])).collect::<Vec<_>>(),
        "lost": names(&r.lost),
        "lost_count": r.lost.len(),
        "unreachable_before": names(&r.unreachable_before),
    }))
}

async fn impact_query(
    State(app): State<Arc<App>>,
    q: Result<Query<ImpactQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics.count_request("/api/v1/topology/impact");
    let Query(q) = q?;
    let device = q
        .device
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "missing device parameter".into()))?;
    let (views, t) = current(&app);
    impact_json(&views, &t, &device, q.interface.as_deref())
        .map(Json)
        .map_err(|(s, m)| ApiError(s, m))
}

/// The last layout, keyed by the graph's shape (names and links, not statuses).
static LAYOUT: Mutex<Option<(u64, Arc<str>)>> = Mutex::new(None);

fn shape_key(t: &Topology) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for n in &t.nodes {
        n.name.hash(&mut h);
        n.root.hash(&mut h);
    }
    for e in &t.edges {
        (e.source, e.target).hash(&mut h);
    }
    h.finish()
}

async fn layout_svg(State(app): State<Arc<App>>) -> Response {
    app.metrics.count_request("/api/v1/topology/layout.svg");
    let (_, t) = current(&app);
    let key = shape_key(&t);
    let cached = LAYOUT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .filter(|(k, _)| *k == key)
        .map(|(_, s)| s.clone());
    let svg = match cached {
        Some(s) => s,
        None => {
            let svg: Arc<str> = tokio::task::spawn_blocking(move || layout::render_svg(&t))
                .await
                .map(Arc::from)
                .unwrap_or_else(|_| Arc::from("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"));
            *LAYOUT.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, svg.clone()));
            svg
        }
    };
    (
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg.to_string(),
    )
        .into_response()
}

async fn page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE_HTML,
    )
        .into_response()
}

async fn page_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PAGE_JS,
    )
        .into_response()
}

async fn page_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        PAGE_CSS,
    )
        .into_response()
}
