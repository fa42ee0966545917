//! Benchmark of the topology core: build the graph of 1,000 devices and 3,000 links (every
//! link reported by both ends over LLDP, so all are paired) from an inventory snapshot, then
//! run impact queries. Targets: build under 100 ms, impact query under 10 ms. Also prints the
//! time of one page layout (SVG) of that graph.
//!
//! Then the reachability the exporter runs on every health or topology change: with one
//! device in fifty failing with everything below it in the generated tree, the pure
//! `wardflux_reach::analyse` alone and the whole refresh (views, graph, analysis, prepared
//! `Reach`). `bench/run` also runs it at 5,000 devices and 15,000 links.
//!
//! Run: `cargo run --release -p wardflux-exporter --example bench_topology [devices] [links]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wardflux_exporter::classify::Classifier;
use wardflux_exporter::inventory::{self, DeviceEntry, DeviceInventory, Health, TargetMeta};
use wardflux_exporter::mib::if_mib::InterfaceInfo;
use wardflux_exporter::mib::lldp::Id;
use wardflux_exporter::mib::system::SystemInfo;
use wardflux_exporter::topology::config::{RootSelector, TopologyConfig};
use wardflux_exporter::topology::graph;
use wardflux_exporter::topology::impact::{self, Adjacency, Failure};
use wardflux_exporter::topology::neighbor::AdvertisedPort;
use wardflux_exporter::topology::reach;
use wardflux_exporter::topology::{Neighbor, Neighborhood, Protocol};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1000).max(3);
    let links = args.get(1).copied().unwrap_or(3000).max(n - 1);
    // A tree (every device reachable) plus extra links making cycles, deterministic.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    let mut pairs: Vec<(usize, usize)> = (1..n).map(|i| (rnd(i), i)).collect();
    while pairs.len() < links {
        let (a, b) = (rnd(n), rnd(n));
        if a != b {
            pairs.push((a, b));
        }
    }
    let name = |i: usize| format!("DEV-{i:04}");
    // Ports: each link takes the next free port on both ends.
    let mut ports: Vec<u32> = vec![0; n];
    let mut neighbors: Vec<Vec<Neighbor>> = vec![Vec::new(); n];
    for &(a, b) in &pairs {
        ports[a] += 1;
        ports[b] += 1;
        let (pa, pb) = (ports[a], ports[b]);
        for (from, fp, to, tp) in [(a, pa, b, pb), (b, pb, a, pa)] {
            neighbors[from].push(Neighbor {
                protocol: Protocol::Lldp,
                local_if_index: Some(fp),
                local_port: format!("Gi0/{fp}"),
                chassis_id: Some(Id::Mac([2, 0, 0, 0, (to >> 8) as u8, to as u8])),
                port_id: Some(Id::Text(format!("Gi0/{tp}"))),
                port_subtype: 5,
                port_descr: String::new(),
                sys_name: name(to),
                sys_descr: String::new(),
                capabilities: vec!["bridge"],
                addresses: vec![],
            });
        }
    }
    let classifier = Classifier::embedded_default();
    let entries: Vec<DeviceEntry> = (0..n)
        .map(|i| {
            let target = Arc::new(TargetMeta {
                name: Arc::from(name(i).as_str()),
                address: format!("127.0.{}.{}:161", i / 250, i % 250 + 1),
                auth_name: "bench".into(),
                labels: Arc::new(BTreeMap::from([(
                    "role".to_string(),
                    if i == 0 { "core" } else { "access" }.to_string(),
                )])),
            });
            let infos: Vec<InterfaceInfo> = (1..=ports[i].max(1))
                .map(|p| InterfaceInfo {
                    if_index: p,
                    name: format!("Gi0/{p}").into_bytes(),
                    descr: format!("GigabitEthernet0/{p}").into_bytes(),
                    if_type: 6,
                    oper_status: 1,
                    admin_status: 1,
                    ..InterfaceInfo::default()
                })
                .collect();
            let mut inv =
                DeviceInventory::build(&target, SystemInfo::default(), infos, &classifier, 0.0);
            inv.neighbors = Arc::new(Neighborhood {
                chassis_id: Some(Id::Mac([2, 0, 0, 0, (i >> 8) as u8, i as u8])),
                advertised: (1..=ports[i])
                    .map(|p| AdvertisedPort {
                        subtype: 5,
                        id: Id::Text(format!("Gi0/{p}")),
                        if_index: Some(p),
                    })
                    .collect(),
                neighbors: std::mem::take(&mut neighbors[i]),
                lag_parent: BTreeMap::new(),
            });
            DeviceEntry {
                device_labels: Arc::from(inventory::device_labels(&target)),
                target,
                inventory: Some(Arc::new(inv)),
                values: None,
                health: Health {
                    up: true,
                    polls: 1,
                    ..Health::default()
                },
            }
        })
        .collect();
    let cfg = TopologyConfig {
        roots: vec![RootSelector::Labels(BTreeMap::from([(
            "role".to_string(),
            "core".to_string(),
        )]))],
        links: vec![],
    };

    let runs = 15;
    let (mut t_views, mut t_build) = (Vec::new(), Vec::new());
    let mut topo = None;
    for _ in 0..runs {
        let t = Instant::now();
        let views = graph::views(&entries);
        t_views.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let g = graph::build(&views, &cfg);
        t_build.push(t.elapsed().as_secs_f64() * 1e3);
        topo = Some(g);
    }
    let topo = topo.expect("built");
    let confirmed = topo
        .edges
        .iter()
        .filter(|e| e.state == graph::LinkState::Confirmed)
        .count();
    // Impact: the non-root device with the most links, and one of its interfaces.
    let mut degree = vec![0usize; n];
    for e in &topo.edges {
        degree[e.source] += 1;
        degree[e.target] += 1;
    }
    let hub = (0..n)
        .filter(|i| !topo.roots.contains(i))
        .max_by_key(|&i| degree[i])
        .unwrap_or(0);
    let (mut t_dev, mut t_if, mut t_adj) = (Vec::new(), Vec::new(), Vec::new());
    let mut lost = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let adj = Adjacency::new(&topo);
        t_adj.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = impact::impact(&topo, &adj, &Failure::Device(hub));
        t_dev.push(t.elapsed().as_secs_f64() * 1e3);
        lost = r.lost.len();
        let t = Instant::now();
        let _ = impact::impact(
            &topo,
            &adj,
            &Failure::Interface {
                device: hub,
                if_index: Some(1),
                name: String::new(),
            },
        );
        t_if.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "topology: {n} devices, {} links ({confirmed} confirmed), {} orphans",
        topo.edges.len(),
        topo.orphans.len()
    );
    println!(
        "views from inventory snapshot: {:8.2} ms (median of {runs})",
        median(t_views)
    );
    println!(
        "graph build:                   {:8.2} ms (median of {runs}; target < 100 ms)",
        median(t_build)
    );
    println!(
        "impact, adjacency build:       {:8.3} ms",
        median(t_adj.clone())
    );
    println!(
        "impact query, device {}:  {:8.3} ms ({lost} devices cut off; target < 10 ms)",
        topo.nodes[hub].name,
        median(t_dev)
    );
    println!("impact query, interface:       {:8.3} ms", median(t_if));
    let t = Instant::now();
    let svg = wardflux_exporter::topology::layout::render_svg(&topo);
    println!(
        "page layout SVG, as served:    {:8.1} ms (once; layout-rs up to {} nodes+links, rows beyond; {} KiB)",
        t.elapsed().as_secs_f64() * 1e3,
        wardflux_exporter::topology::layout::LAYOUT_RS_LIMIT,
        svg.len() / 1024
    );

    // Reachability: one device in fifty fails, and so does every device below it in the
    // generated tree; the cross links keep some of those reachable (down in their own right),
    // the rest are in a shadow.
    let mut failing = entries.clone();
    let mut is_down = vec![false; n];
    for &(parent, child) in &pairs[..n - 1] {
        is_down[child] = rnd(50) == 0 || is_down[parent];
    }
    for (e, &d) in failing.iter_mut().zip(&is_down) {
        e.health.up = !d;
    }
    let down = failing.iter().filter(|e| !e.health.up).count();
    let (mut t_analyse, mut t_refresh, mut t_input) = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = Default::default();
    let mut cut = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let views = graph::views(&failing);
        let g = graph::build(&views, &cfg);
        let r = reach::build(&views, views.len(), &g, &cfg);
        t_refresh.push(t.elapsed().as_secs_f64() * 1e3);
        cut = r
            .devices
            .values()
            .filter(|d| d.state == wardflux_reach::State::Shadow)
            .count();
        let t = Instant::now();
        let input = reach::input(&views, views.len(), &g, &cfg);
        t_input.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let a = wardflux_reach::analyse(&input);
        t_analyse.push(t.elapsed().as_secs_f64() * 1e3);
        counts = a.counts();
    }
    println!(
        "reachability: {n} devices, {} links, {down} down ({cut} in a shadow): {counts:?}",
        topo.edges.len()
    );
    println!(
        "reachability, analyse alone:   {:8.2} ms (median of {runs})",
        median(t_analyse)
    );
    println!("reachability, input from graph:{:8.2} ms", median(t_input));
    println!(
        "reachability, whole refresh:   {:8.2} ms (views + graph + analysis + prepared result; runs on a change, never per scrape)",
        median(t_refresh)
    );
}
