//! Unit tests of the glue: inventory entries -> views -> graph -> `wardflux_reach::Input`,
//! and the prepared result (states, cause texts, sites, metric lines, change log).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::classify::Classifier;
use crate::inventory::{device_labels, DeviceEntry, DeviceInventory, Health as H, TargetMeta};
use crate::mib::if_mib::InterfaceInfo;
use crate::mib::lldp::Id;
use crate::mib::system::SystemInfo;
use crate::topology::config::{ManualLink, RootSelector};
use crate::topology::graph;
use crate::topology::{Neighbor, Neighborhood, Protocol};

/// How a test device's last visit went.
#[derive(Clone, Copy)]
enum Visit {
    Up,
    Failed,
    Never,
}

/// An inventory entry: interfaces `p1..p4`, the ones in `isp` with a Magti alias (classified
/// `isp` by the shipped rules), LLDP neighbours `(local port, name)`, a target label `state`
/// that collides with the metric's own.
fn entry(name: &str, site: &str, visit: Visit, isp: &[u32], sees: &[(u32, &str)]) -> DeviceEntry {
    let mut labels = BTreeMap::new();
    if !site.is_empty() {
        labels.insert("site".to_string(), site.to_string());
    }
    labels.insert("state".to_string(), "collides".to_string());
    let target = Arc::new(TargetMeta {
        name: Arc::from(name),
        address: format!("{name}.lab:161"),
        auth_name: "lab".into(),
        labels: Arc::new(labels),
    });
    let infos = (1..=4)
        .map(|i| InterfaceInfo {
            if_index: i,
            name: format!("p{i}").into_bytes(),
            descr: format!("p{i}").into_bytes(),
            alias: if isp.contains(&i) {
                b"Magti_Internet".to_vec()
            } else {
                Vec::new()
            },
            if_type: 6,
            admin_status: 1,
            oper_status: 1,
            ..InterfaceInfo::default()
        })
        .collect();
    let mut inv = DeviceInventory::build(
        &target,
        SystemInfo::default(),
        infos,
        &Classifier::embedded_default(),
        1.0,
    );
    inv.neighbors = Arc::new(Neighborhood {
        chassis_id: Some(Id::Text(format!("chassis-{name}"))),
        neighbors: sees
            .iter()
            .map(|&(local, to)| Neighbor {
                protocol: Protocol::Lldp,
                local_if_index: Some(local),
                local_port: format!("p{local}"),
                chassis_id: None,
                port_id: None,
                port_subtype: 0,
                port_descr: String::new(),
                sys_name: to.to_string(),
                sys_descr: String::new(),
                capabilities: vec![],
                addresses: vec![],
            })
            .collect(),
        ..Neighborhood::default()
    });
    let health = match visit {
        Visit::Up => H {
            up: true,
            polls: 3,
            ..H::default()
        },
        Visit::Failed => H {
            up: false,
            polls: 3,
            ..H::default()
        },
        Visit::Never => H::default(),
    };
    DeviceEntry {
        device_labels: Arc::from(device_labels(&target)),
        inventory: (!matches!(visit, Visit::Never)).then(|| Arc::new(inv)),
        target,
        values: None,
        health,
    }
}

fn run(entries: &[DeviceEntry], foreign: &[&str], cfg: &TopologyConfig) -> (Input, Reach) {
    let mut views = graph::views(entries);
    let own = views.len();
    for f in foreign {
        views.push(foreign_view(&crate::inventory::TargetMeta {
            name: Arc::from(*f),
            address: format!("{f}.lab:161"),
            auth_name: "lab".into(),
            labels: Arc::default(),
        }));
    }
    let topo = graph::build(&views, cfg);
    (
        input(&views, own, &topo, cfg),
        build(&views, own, &topo, cfg),
    )
}

fn state(r: &Reach, name: &str) -> (State, Vec<String>) {
    let d = r.device(name).unwrap_or_else(|| panic!("{name} analysed"));
    (d.state, d.roots.iter().map(|x| x.to_string()).collect())
}

#[test]
fn inventory_health_site_isp_uplinks_roots_and_links_become_the_input() {
    let entries = [
        entry("RTR", "batumi", Visit::Up, &[1, 2], &[(3, "SW")]),
        entry("SW", "batumi", Visit::Failed, &[], &[(1, "RTR")]),
        entry("NEW", "", Visit::Never, &[], &[]),
        entry("CORE", "hq", Visit::Up, &[], &[]),
    ];
    let cfg = TopologyConfig {
        roots: vec![RootSelector::Device("CORE".into())],
        links: vec![ManualLink {
            a: "CORE".into(),
            a_interface: Some("p4".into()),
            b: "RTR".into(),
            b_interface: None,
        }],
    };
    let (input, _) = run(&entries, &[], &cfg);
    let by: BTreeMap<&str, &Device> = input.devices.iter().map(|d| (&*d.name, d)).collect();
    assert_eq!(by["RTR"].health, Health::Up);
    assert_eq!(by["SW"].health, Health::Down);
    assert_eq!(by["NEW"].health, Health::Unknown, "never visited");
    assert_eq!(by["RTR"].site, "batumi");
    assert_eq!(by["NEW"].site, "");
    assert_eq!(by["RTR"].isp_uplinks, 2);
    assert_eq!(by["SW"].isp_uplinks, 0);
    assert!(by["CORE"].root && !by["RTR"].root);
    let mut links: Vec<(String, String)> = input
        .links
        .iter()
        .map(|l| {
            if l.a < l.b {
                (l.a.clone(), l.b.clone())
            } else {
                (l.b.clone(), l.a.clone())
            }
        })
        .collect();
    links.sort();
    // Both ends report RTR - SW without far ports: two one-sided halves, one cable.
    links.dedup();
    assert_eq!(
        links,
        [
            ("CORE".to_string(), "RTR".to_string()),
            ("RTR".to_string(), "SW".to_string())
        ],
        "the LLDP link and the manual one"
    );
}

#[test]
fn a_down_router_shadows_its_switches_and_cuts_its_site_off() {
    // RTR stopped answering: its last discovery (and neighbours) is still in the inventory.
    let entries = [
        entry("RTR", "batumi", Visit::Failed, &[1, 2], &[(3, "SW")]),
        entry(
            "SW",
            "batumi",
            Visit::Failed,
            &[],
            &[(1, "RTR"), (2, "SW2")],
        ),
        entry("SW2", "batumi", Visit::Failed, &[], &[(1, "SW")]),
        entry("HQ", "hq", Visit::Up, &[1], &[]),
    ];
    let (_, r) = run(&entries, &[], &TopologyConfig::default());
    assert_eq!(state(&r, "RTR"), (State::Down, vec![]));
    assert_eq!(state(&r, "SW"), (State::Shadow, vec!["RTR".to_string()]));
    assert_eq!(state(&r, "SW2"), (State::Shadow, vec!["RTR".to_string()]));
    assert_eq!(state(&r, "HQ").0, State::Up);
    assert_eq!(r.device("RTR").unwrap().cause, "down: 2 devices behind it");
    assert_eq!(r.device("SW").unwrap().cause, "in the shadow of RTR");
    let batumi = r.sites.iter().find(|s| s.name == "batumi").unwrap();
    assert!(batumi.isolated);
    assert_eq!(batumi.text, "batumi cut off: RTR down, 2 devices behind it");
    assert!(!r.sites.iter().find(|s| s.name == "hq").unwrap().isolated);

    // The metric: target labels except the colliding `state`, then state and root.
    let mut out = String::new();
    render(&mut out, &entries, &r);
    assert!(
        out.contains(
            "wardflux_device_reachability{device=\"SW\",site=\"batumi\",state=\"shadow\",root=\"RTR\"} 1\n"
        ),
        "{out}"
    );
    assert!(out.contains(
        "wardflux_device_reachability{device=\"RTR\",site=\"batumi\",state=\"down\",root=\"\"} 1\n"
    ));
    assert_eq!(out.matches("wardflux_device_reachability{").count(), 4);
    assert!(
        !out.contains(LINK_INFO) && !out.contains(ROOT_INFO),
        "{out}"
    );
}

#[test]
fn manual_links_and_configured_roots_have_info_series_on_their_device() {
    let entries = [
        entry("CORE", "hq", Visit::Up, &[], &[]),
        entry("RTR", "batumi", Visit::Up, &[1], &[]),
    ];
    let cfg = TopologyConfig {
        roots: vec![RootSelector::Device("CORE".into())],
        links: vec![ManualLink {
            a: "RTR".into(),
            a_interface: Some("p4".into()),
            b: "CORE".into(),
            b_interface: Some("Gi1/0/\"1\"".into()),
        }],
    };
    let (_, r) = run(&entries, &[], &cfg);
    let mut out = String::new();
    render(&mut out, &entries[1..], &r); // RTR alone, as /probe renders it
    assert!(
        out.contains(
            "wardflux_topology_link_info{device=\"RTR\",if_name=\"p4\",neighbor_device=\"CORE\",neighbor_port=\"Gi1/0/\\\"1\\\"\",source=\"manual\"} 1\n"
        ),
        "{out}"
    );
    assert!(
        !out.contains(ROOT_INFO),
        "RTR is not a configured root: {out}"
    );
    let mut out = String::new();
    render(&mut out, &entries[..1], &r);
    assert!(
        out.contains("wardflux_topology_root_info{device=\"CORE\"} 1\n"),
        "{out}"
    );
    assert!(
        !out.contains(LINK_INFO),
        "the link is rendered once, at its a end"
    );
}

#[test]
fn devices_of_other_shards_are_never_a_cause_and_never_let_a_shadow_through() {
    // Shard view: RTR (own, down, ISP) - X (other shard) - SW (own, down). X may have a path
    // this shard cannot see, so SW is down in its own right, not in RTR's shadow.
    let entries = [
        entry("RTR", "batumi", Visit::Failed, &[1, 2], &[(3, "X")]),
        entry("SW", "batumi", Visit::Failed, &[], &[(1, "X")]),
    ];
    let (input, r) = run(&entries, &["X"], &TopologyConfig::default());
    assert_eq!(input.devices.len(), 3);
    assert_eq!(input.links.len(), 2, "links to the foreign device count");
    assert_eq!(state(&r, "SW"), (State::Down, vec![]));
    assert_eq!(state(&r, "RTR"), (State::Down, vec![]));
    assert!(
        r.device("X").is_none(),
        "only this shard's devices are served"
    );
    assert_eq!(r.foreign, 1);
    // The same view without the foreign device's health unknown to us would shadow SW.
    let (_, alone) = run(&entries, &[], &TopologyConfig::default());
    assert_eq!(state(&alone, "SW").0, State::Down, "no link at all: down");
    // A switch whose router is on the other shard: down, never shadowed by it.
    let entries = [entry("SW", "batumi", Visit::Failed, &[], &[(1, "RTR")])];
    let (_, r) = run(&entries, &["RTR"], &TopologyConfig::default());
    assert_eq!(state(&r, "SW"), (State::Down, vec![]));
}

#[test]
fn changes_name_sites_cut_off_and_back_once_and_problems_are_reported() {
    let cut = [
        entry("RTR", "batumi", Visit::Failed, &[1], &[(3, "SW")]),
        entry("SW", "batumi", Visit::Failed, &[], &[(1, "RTR")]),
        entry("LONE", "", Visit::Failed, &[], &[(1, "LONE2")]),
        entry("LONE2", "", Visit::Up, &[], &[(1, "LONE")]),
    ];
    let mut ok = cut.clone();
    for e in &mut ok[..2] {
        e.health.up = true;
    }
    let cfg = TopologyConfig::default();
    let (_, before) = run(&ok, &[], &cfg);
    let (_, after) = run(&cut, &[], &cfg);
    let c = changes(&before, &after);
    assert_eq!(c.isolated, ["batumi cut off: RTR down, 1 device behind it"]);
    assert!(c.restored.is_empty());
    assert_eq!(changes(&after, &after), Changes::default(), "nothing new");
    let back = changes(&after, &before);
    assert_eq!(back.restored, ["batumi"]);
    assert!(back.isolated.is_empty());
    assert!(
        before
            .problems
            .iter()
            .any(|p| p.contains("not reached from any root") && p.contains("LONE")),
        "{:?}",
        before.problems
    );
}
