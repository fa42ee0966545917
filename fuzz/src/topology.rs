//! The topology builder on arbitrary devices: names, addresses, chassis and port ids drawn
//! mostly from small pools (so neighbours match, collide and turn ambiguous) and sometimes
//! free; ports, LAG members, neighbour reports of both protocols, roots and manual links
//! (also naming devices that are not there). Then the JSON views, neighbour lists, an impact
//! query for every device and some interfaces, and the SVG layout.
//!
//! Checked besides "no panic": every edge and root points at a node, node names are unique and
//! found by `index_of`, and an impact never lists the failed device as lost.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Once};

use arbitrary::{Arbitrary, Unstructured};
use wardflux_exporter::mib::lldp::Id;
use wardflux_exporter::topology::config::{ManualLink, RootSelector, TopologyConfig};
use wardflux_exporter::topology::graph::{self, DeviceView, PortView, Status};
use wardflux_exporter::topology::impact::{self, Adjacency, Failure};
use wardflux_exporter::topology::neighbor::AdvertisedPort;
use wardflux_exporter::topology::{http, layout, Neighbor, Neighborhood, Protocol};

const NAMES: [&str; 9] = [
    "CORE-SW-01",
    "core-sw-01.bank.ge",
    "BRANCH-RTR-01",
    "Gori-0101",
    "gori-0101",
    "10.0.0.1",
    "",
    "Isani-1111",
    "SW 2",
];
const PORTS: [&str; 8] = [
    "Gi0/1",
    "Gi0/2",
    "Po1",
    "port-channel1",
    "Te1/0/1",
    "",
    "gi0/1",
    "eth0",
];
const ADDRS: [&str; 6] = [
    "10.0.0.1",
    "10.0.0.2",
    "127.0.0.1",
    "::1",
    "192.0.2.1",
    "fe80::1",
];
const TYPES: [&str; 4] = ["isp", "trunk", "access", "unknown"];
const LABEL_KEYS: [&str; 2] = ["role", "site"];
const LABEL_VALUES: [&str; 3] = ["core", "branch", "gori"];

/// A string from a pool, or any.
#[derive(Debug, Arbitrary)]
enum FStr {
    Pool(u8),
    Free(String),
}

impl FStr {
    fn get(&self, pool: &[&str]) -> String {
        match self {
            FStr::Pool(i) => pool[usize::from(*i) % pool.len()].to_string(),
            FStr::Free(s) => s.chars().take(64).collect(),
        }
    }
}

fn addr(i: u8) -> IpAddr {
    ADDRS[usize::from(i) % ADDRS.len()]
        .parse()
        .expect("pool addresses parse")
}

#[derive(Debug, Arbitrary)]
enum FId {
    Mac(u8),
    Address(u8),
    Text(FStr),
    Binary(Vec<u8>),
}

impl FId {
    fn get(&self) -> Id {
        match self {
            FId::Mac(m) => Id::Mac([0, 0x1b, 0x2c, 0, 0, *m % 8]),
            FId::Address(a) => Id::Address(addr(*a)),
            FId::Text(s) => Id::Text(s.get(&NAMES)),
            FId::Binary(b) => Id::Binary(b.iter().copied().take(16).collect()),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct FPort {
    if_index: u8,
    name: FStr,
    descr: FStr,
    mac: u8,
    kind: u8,
    oper: Option<i8>,
}

#[derive(Debug, Arbitrary)]
struct FNeighbor {
    cdp: bool,
    local_if_index: Option<u8>,
    local_port: FStr,
    chassis_id: Option<FId>,
    port_id: Option<FId>,
    port_subtype: u8,
    port_descr: FStr,
    sys_name: FStr,
    sys_descr: String,
    caps: u8,
    addresses: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct FDevice {
    name: FStr,
    address: u8,
    labels: Vec<(u8, u8)>,
    status: u8,
    sys_name: FStr,
    ports: Vec<FPort>,
    chassis_id: Option<FId>,
    advertised: Vec<(u8, FId, Option<u8>)>,
    neighbors: Vec<FNeighbor>,
    lag_parent: Vec<(u8, u8)>,
    discovered: bool,
}

#[derive(Debug, Arbitrary)]
enum FRoot {
    Device(FStr),
    Labels(Vec<(u8, u8)>),
}

#[derive(Debug, Arbitrary)]
struct FLink {
    a: FStr,
    a_interface: Option<FStr>,
    b: FStr,
    b_interface: Option<FStr>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    devices: Vec<FDevice>,
    roots: Vec<FRoot>,
    links: Vec<FLink>,
    failures: Vec<(u8, Option<FStr>)>,
    layout: bool,
}

fn labels(pairs: &[(u8, u8)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(k, v)| {
            (
                LABEL_KEYS[usize::from(k) % LABEL_KEYS.len()].to_string(),
                LABEL_VALUES[usize::from(v) % LABEL_VALUES.len()].to_string(),
            )
        })
        .collect()
}

fn view(d: &FDevice, seen: &mut std::collections::HashSet<String>) -> Option<DeviceView> {
    let name = d.name.get(&NAMES);
    // Target names are unique in a validated config.
    if name.is_empty() || !seen.insert(name.clone()) {
        return None;
    }
    let ports = d
        .ports
        .iter()
        .take(8)
        .map(|p| PortView {
            if_index: u32::from(p.if_index),
            name: p.name.get(&PORTS),
            descr: p.descr.get(&PORTS),
            mac: vec![0, 0x1b, 0x2c, 0, 0, p.mac % 8],
            interface_type: TYPES[usize::from(p.kind) % TYPES.len()],
            oper: p.oper.map(i64::from),
        })
        .collect();
    let neighbors = d
        .neighbors
        .iter()
        .take(8)
        .map(|n| Neighbor {
            protocol: if n.cdp { Protocol::Cdp } else { Protocol::Lldp },
            local_if_index: n.local_if_index.map(u32::from),
            local_port: n.local_port.get(&PORTS),
            chassis_id: n.chassis_id.as_ref().map(FId::get),
            port_id: n.port_id.as_ref().map(FId::get),
            port_subtype: n.port_subtype % 8,
            port_descr: n.port_descr.get(&PORTS),
            sys_name: n.sys_name.get(&NAMES),
            sys_descr: n.sys_descr.chars().take(64).collect(),
            capabilities: ["bridge", "router", "station"]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| n.caps & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect(),
            addresses: n.addresses.iter().take(3).map(|&a| addr(a)).collect(),
        })
        .collect();
    let hood = Neighborhood {
        chassis_id: d.chassis_id.as_ref().map(FId::get),
        advertised: d
            .advertised
            .iter()
            .take(8)
            .map(|(subtype, id, if_index)| AdvertisedPort {
                subtype: subtype % 8,
                id: id.get(),
                if_index: if_index.map(u32::from),
            })
            .collect(),
        neighbors,
        lag_parent: d
            .lag_parent
            .iter()
            .map(|&(m, a)| (u32::from(m), u32::from(a)))
            .collect(),
    };
    Some(DeviceView {
        name: Arc::from(name.as_str()),
        address: ADDRS[usize::from(d.address) % ADDRS.len()].to_string(),
        labels: Arc::new(labels(&d.labels)),
        status: [Status::Up, Status::Down, Status::Unknown][usize::from(d.status % 3)],
        sys_name: d.sys_name.get(&NAMES),
        ports,
        hood: Arc::new(hood),
        discovered: d.discovered,
    })
}

/// layout-rs may panic on a graph; the exporter catches that and falls back to a grid. Under
/// libFuzzer every panic aborts, so let panics raised inside layout-rs unwind quietly to that
/// `catch_unwind` and keep aborting on every other one.
fn let_layout_rs_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_layout_rs = info
                .location()
                .is_some_and(|l| l.file().contains("layout-rs"));
            if !in_layout_rs {
                fuzzer_hook(info);
            }
        }));
    });
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    let views: Vec<DeviceView> = input
        .devices
        .iter()
        .take(10)
        .filter_map(|d| view(d, &mut seen))
        .collect();
    let cfg = TopologyConfig {
        roots: input
            .roots
            .iter()
            .take(4)
            .map(|r| match r {
                FRoot::Device(n) => RootSelector::Device(n.get(&NAMES)),
                FRoot::Labels(l) => RootSelector::Labels(labels(l)),
            })
            .collect(),
        links: input
            .links
            .iter()
            .take(6)
            .map(|l| ManualLink {
                a: l.a.get(&NAMES),
                a_interface: l.a_interface.as_ref().map(|p| p.get(&PORTS)),
                b: l.b.get(&NAMES),
                b_interface: l.b_interface.as_ref().map(|p| p.get(&PORTS)),
            })
            .collect(),
    };
    let t = graph::build(&views, &cfg);
    let n = t.nodes.len();
    for (i, node) in t.nodes.iter().enumerate() {
        assert_eq!(
            t.index_of(&node.name),
            Some(i),
            "node {} not indexed",
            node.name
        );
    }
    for e in &t.edges {
        assert!(e.source < n && e.target < n, "edge to a missing node");
    }
    assert!(t.roots.iter().all(|&r| r < n), "root out of range");

    let _ = http::topology_json(&views, &t);
    for i in 0..views.len() {
        let _ = graph::neighbors_of(&views, i);
    }
    let adj = Adjacency::new(&t);
    for (d, iface) in input.failures.iter().take(8) {
        if n == 0 {
            break;
        }
        let d = usize::from(*d) % n;
        let name = t.nodes[d].name.clone();
        let iface = iface.as_ref().map(|p| p.get(&PORTS));
        let _ = http::impact_json(&views, &t, &name, iface.as_deref());
        let failure = match &iface {
            None => Failure::Device(d),
            Some(p) => Failure::Interface {
                device: d,
                if_index: p.strip_prefix("Gi0/").and_then(|x| x.parse().ok()),
                name: p.clone(),
            },
        };
        let r = impact::impact(&t, &adj, &failure);
        if matches!(failure, Failure::Device(_)) {
            assert!(!r.lost.contains(&d), "the failed device counted as lost");
        }
    }
    if input.layout {
        let_layout_rs_panic();
        let _ = layout::render_svg(&t);
    }
}
