//! Hostile requests through the exporter's whole router (inventory API, `/probe`, reload,
//! discovery triggers and the topology API), in process with `tower::ServiceExt::oneshot`:
//! thousands of generated requests (seeded, see `http_requests`) must never get a 5xx or
//! panic, and every 4xx must say what was wrong in a JSON `error`.
//!
//! The inventory is filled by hand (three devices with interfaces, counters and LLDP
//! neighbours, a topology root from the config), so every route has something to render.

mod http_requests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use http_requests::Route;
use wardflux_exporter::app::App;
use wardflux_exporter::classify::Classifier;
use wardflux_exporter::config::{self, Env};
use wardflux_exporter::inventory::{DeviceInventory, PollValues, TargetMeta};
use wardflux_exporter::mib::if_mib::{InterfaceInfo, POLLED};
use wardflux_exporter::mib::lldp::Id;
use wardflux_exporter::mib::system::{ChangeMarkers, SystemInfo};
use wardflux_exporter::topology::{Neighbor, Neighborhood, Protocol};

/// Every route of the exporter, as `http.rs` and `topology/http.rs` declare them.
const ROUTES: &[Route] = &[
    ("GET", "/"),
    ("GET", "/metrics"),
    ("GET", "/metrics/self"),
    ("GET", "/probe"),
    ("GET", "/api/v1/targets"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/interfaces"),
    ("GET", "/api/v1/interfaces/summary"),
    ("POST", "/api/v1/discover"),
    ("POST", "/api/v1/discover/{device}"),
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("POST", "/-/reload"),
    ("GET", "/api/v1/topology"),
    ("GET", "/api/v1/topology/impact"),
    ("GET", "/api/v1/topology/layout.svg"),
    ("GET", "/api/v1/devices/{name}/neighbors"),
    ("GET", "/api/v1/interfaces/{device}/{if_index}"),
    ("PATCH", "/api/v1/interfaces/{device}/{if_index}"),
    ("DELETE", "/api/v1/interfaces/{device}/{if_index}"),
    ("GET", "/topology"),
    ("GET", "/topology/topology.js"),
    ("GET", "/topology/topology.css"),
];

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        Some("public".into())
    }
}

const CONFIG: &str = "\
auths:
  v2: {version: 2, community_env: C}
targets:
  - {name: CORE-SW-01, address: 127.0.0.1, auth: v2, labels: {role: core}}
  - {name: Gori-0101, address: 127.0.0.2, auth: v2, labels: {site: gori}}
  - {name: Isani-1111, address: 127.0.0.3, auth: v2, labels: {site: isani}}
topology:
  roots: [CORE-SW-01]
";

fn app(dir: &Path) -> Arc<App> {
    // A config file that does not exist: `/-/reload` is refused (400) and nothing polls. Its
    // directory does, so interface edits are saved (and audited) there.
    let app = App::new(dir.join("wardflux-http-fuzz.yml"), Box::new(NoEnv));
    let cfg = config::parse(CONFIG, Path::new("fuzz.yml"), &NoEnv).expect("test config is valid");
    *app.config.lock().unwrap() = Some(Arc::new(cfg));
    let classifier = app
        .edits
        .load(Classifier::embedded_default())
        .expect("no edits yet");
    for (d, name) in ["CORE-SW-01", "Gori-0101", "Isani-1111"].iter().enumerate() {
        let meta = Arc::new(TargetMeta {
            name: Arc::from(*name),
            address: format!("127.0.0.{}:161", d + 1),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::from([("site".into(), "lab".into())])),
        });
        app.inventory.upsert_target(meta.clone());
        let infos: Vec<InterfaceInfo> = (1..=3)
            .map(|i| InterfaceInfo {
                if_index: i,
                name: format!("Gi0/{i}").into_bytes(),
                alias: if i == 1 {
                    b"Magti_Internet \xe1\x83".to_vec()
                } else {
                    b"uplink".to_vec()
                },
                if_type: 6,
                admin_status: 1,
                oper_status: 1,
                has_hc: true,
                ..InterfaceInfo::default()
            })
            .collect();
        let mut inv = DeviceInventory::build(
            &meta,
            SystemInfo {
                sys_name: name.as_bytes().to_vec(),
                ..SystemInfo::default()
            },
            infos,
            &classifier,
            10.0,
        );
        // Branches see the core on Gi0/2; the core sees nobody (one-sided links).
        let neighbors = if d == 0 {
            Vec::new()
        } else {
            vec![Neighbor {
                protocol: Protocol::Lldp,
                local_if_index: Some(2),
                local_port: "Gi0/2".into(),
                chassis_id: Some(Id::Text("CORE-SW-01".into())),
                port_id: Some(Id::Text(format!("Gi0/{}", d + 1))),
                port_subtype: 5,
                port_descr: String::new(),
                sys_name: "CORE-SW-01".into(),
                sys_descr: "Cisco IOS".into(),
                capabilities: vec!["bridge"],
                addresses: vec!["127.0.0.1".parse().unwrap()],
            }]
        };
        inv.neighbors = Arc::new(Neighborhood {
            chassis_id: Some(Id::Text((*name).into())),
            neighbors,
            ..Neighborhood::default()
        });
        let mut counters = vec![[None; POLLED.len()]; 3];
        counters[0][0] = Some(1);
        counters[1][2] = Some(u64::MAX);
        app.inventory.update(name, |e| {
            e.inventory = Some(Arc::new(inv));
            e.values = Some(Arc::new(PollValues {
                counters,
                markers: ChangeMarkers::default(),
                health: Vec::new(),
                at: 11.0,
                ..PollValues::default()
            }));
            e.health.up = d != 2;
            e.health.polls = 1;
        });
    }
    app
}

#[tokio::test]
async fn generated_requests_never_get_5xx_and_every_4xx_says_why() {
    let (seed, n) = http_requests::settings(3000);
    let dir = std::env::temp_dir().join(format!("wardflux-http-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let router = wardflux_exporter::http::router(app(&dir));
    let tally = http_requests::drive(router, ROUTES, seed, n).await;
    println!(
        "exporter router: {} requests (seed {seed}), answers by status {:?}",
        tally.requests, tally.by_status
    );
    assert_eq!(tally.requests, n);
    // The generator reaches both sides: successes and refusals.
    assert!(tally.by_status.get(&200).copied().unwrap_or(0) > n / 20);
    assert!(tally.by_status.keys().any(|s| (400..500).contains(s)));
    let _ = std::fs::remove_dir_all(&dir);
}
