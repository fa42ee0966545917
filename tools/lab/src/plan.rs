//! The pure plan of a lab: from a [`Description`] and the lab's /24 of 169.254.0.0/16 to
//! namespace names, interface names, addresses and every route, in the host and in each
//! namespace. No IO: the builder (`lab.rs`) carries the plan out.
//!
//! Addressing inside 169.254.X.0/24: each link (ISP uplink, management link, cable) gets a /30
//! from the bottom (.1 = host or upstream end, .2 = the other end); each device's agent gets a
//! loopback /32 from the top (.254 down).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::description::{Description, Kind, Node, Probe, Traffic, UplinkBgp};

/// Metric of the `unreachable` route covering the lab's /24: above every real route, and the
/// same in every lab, so claiming a prefix is one atomic `ip route add` (it fails when another
/// lab holds the prefix).
pub const UNREACHABLE_METRIC: u32 = 4242;

/// A route: `dst/32` (or the default route when `dst` is None) via `via` on `dev`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Route {
    pub dst: Option<Ipv4Addr>,
    pub via: Ipv4Addr,
    pub dev: String,
    pub metric: u32,
}

impl Route {
    /// Arguments of `ip route replace ...`.
    pub fn args(&self) -> Vec<String> {
        let dst = self
            .dst
            .map(|d| format!("{d}/32"))
            .unwrap_or_else(|| "default".to_string());
        vec![
            "route".into(),
            "replace".into(),
            dst,
            "via".into(),
            self.via.to_string(),
            "dev".into(),
            self.dev.clone(),
            "metric".into(),
            self.metric.to_string(),
        ]
    }
}

/// A link from the host into a device's namespace: an ISP uplink (the host end is the
/// provider's) or a management link (HQ devices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessLink {
    pub node: String,
    /// Port inside the device's namespace (`isp0`, `mgmt0`).
    pub port: String,
    /// The veth end on the host.
    pub host_if: String,
    pub host_addr: Ipv4Addr,
    pub node_addr: Ipv4Addr,
    pub metric: u32,
    /// The ISP, for an uplink; None for a management link.
    pub provider: Option<String>,
    pub traffic: Option<Traffic>,
    /// The uplink's eBGP session: the router's bgpd peers with the provider's at `host_addr`.
    #[serde(default)]
    pub bgp: Option<UplinkBgp>,
    /// The uplink's IP SLA echo probe, to `host_addr` (the provider's end) from `node_addr`.
    #[serde(default)]
    pub probe: Option<Probe>,
}

/// A cable between two namespaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cable {
    pub a_node: String,
    pub a_port: String,
    pub a_addr: Ipv4Addr,
    pub b_node: String,
    pub b_port: String,
    pub b_addr: Ipv4Addr,
    pub traffic: Option<Traffic>,
}

/// One device as built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNode {
    pub node: Node,
    pub netns: String,
    /// Where its agent listens (UDP 161), on `lo` inside the namespace.
    pub loopback: Ipv4Addr,
    /// Routes inside the namespace.
    pub routes: Vec<Route>,
    /// Forwards packets for devices behind it.
    pub forwards: bool,
    /// Cabled ports (lldpd runs on these).
    pub cable_ports: Vec<String>,
    /// Devices it is reached through (empty for routers and management devices).
    pub upstream: Vec<String>,
}

/// Everything the builder creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// X of 169.254.X.0/24; also in every host interface and namespace name.
    pub octet: u8,
    pub nodes: Vec<PlanNode>,
    pub access: Vec<AccessLink>,
    pub cables: Vec<Cable>,
    /// Routes in the host (to every agent, over uplinks or management links).
    pub host_routes: Vec<Route>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the lab needs {needed} addresses, more than the 252 of one /24")]
    TooBig { needed: usize },
}

/// For each node reachable from the host, its distance (0 = routers and management devices).
pub fn reach_order(d: &Description) -> BTreeMap<String, usize> {
    let mut dist = BTreeMap::new();
    let mut queue = VecDeque::new();
    for n in &d.nodes {
        if n.kind == Kind::Router || n.management {
            dist.insert(n.name.clone(), 0);
            queue.push_back(n.name.clone());
        }
    }
    while let Some(cur) = queue.pop_front() {
        let here = dist[&cur];
        for l in &d.links {
            let other = if l.a.node == cur {
                &l.b.node
            } else if l.b.node == cur {
                &l.a.node
            } else {
                continue;
            };
            if !dist.contains_key(other) {
                dist.insert(other.clone(), here + 1);
                queue.push_back(other.clone());
            }
        }
    }
    dist
}

impl Plan {
    pub fn prefix(&self) -> String {
        format!("169.254.{}.0/24", self.octet)
    }

    pub fn node(&self, name: &str) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.node.name == name)
    }

    /// Every address of a device: its loopback and its ends of uplinks and cables.
    pub fn addresses_of(&self, name: &str) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .node(name)
            .map(|n| vec![n.loopback])
            .unwrap_or_default();
        v.extend(
            self.access
                .iter()
                .filter(|a| a.node == name)
                .map(|a| a.node_addr),
        );
        for c in &self.cables {
            if c.a_node == name {
                v.push(c.a_addr);
            }
            if c.b_node == name {
                v.push(c.b_addr);
            }
        }
        v
    }

    /// Sites with ISP uplinks (branches), each with its routers' uplinks.
    pub fn branches(&self) -> BTreeMap<String, Vec<&AccessLink>> {
        let mut m: BTreeMap<String, Vec<&AccessLink>> = BTreeMap::new();
        for a in self.access.iter().filter(|a| a.provider.is_some()) {
            if let Some(n) = self.node(&a.node) {
                m.entry(n.node.site.clone()).or_default().push(a);
            }
        }
        m
    }

    /// Make the plan for `d` in 169.254.`octet`.0/24.
    pub fn new(d: &Description, octet: u8) -> Result<Plan, PlanError> {
        let order = reach_order(d);
        let links_needed = d.nodes.iter().map(|n| n.uplinks.len()).sum::<usize>()
            + d.nodes.iter().filter(|n| n.management).count()
            + d.links.len();
        let needed = links_needed * 4 + d.nodes.len();
        if needed > 252 {
            return Err(PlanError::TooBig { needed });
        }
        let addr = |i: usize| Ipv4Addr::new(169, 254, octet, i as u8);
        let mut next_block = 0usize;
        let mut block = || {
            let b = next_block * 4;
            next_block += 1;
            (addr(b + 1), addr(b + 2))
        };
        let mut nodes: Vec<PlanNode> = d
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| PlanNode {
                node: n.clone(),
                netns: format!("wfl{octet}-{}", n.name.to_ascii_lowercase()),
                loopback: addr(254 - i),
                routes: Vec::new(),
                forwards: false,
                cable_ports: Vec::new(),
                upstream: Vec::new(),
            })
            .collect();
        let idx: BTreeMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.node.name.clone(), i))
            .collect();
        // Access links: uplinks of routers, management links of HQ devices.
        let mut access = Vec::new();
        for n in &d.nodes {
            for u in &n.uplinks {
                let (h, a) = block();
                access.push(AccessLink {
                    node: n.name.clone(),
                    port: u.port.clone(),
                    host_if: format!("wl{octet}u{}", access.len()),
                    host_addr: h,
                    node_addr: a,
                    metric: u.metric,
                    provider: Some(u.provider.clone()),
                    traffic: u.traffic,
                    bgp: u.bgp,
                    probe: u.probe.clone(),
                });
            }
            if n.management {
                let (h, a) = block();
                access.push(AccessLink {
                    node: n.name.clone(),
                    port: "mgmt0".into(),
                    host_if: format!("wl{octet}m{}", access.len()),
                    host_addr: h,
                    node_addr: a,
                    metric: 10,
                    provider: None,
                    traffic: None,
                    bgp: None,
                    probe: None,
                });
            }
        }
        // Cables, the end nearer the host first.
        let mut cables = Vec::new();
        for l in &d.links {
            let (mut a, mut b) = (&l.a, &l.b);
            if order.get(&b.node) < order.get(&a.node) {
                std::mem::swap(&mut a, &mut b);
            }
            let (x, y) = block();
            cables.push(Cable {
                a_node: a.node.clone(),
                a_port: a.port.clone(),
                a_addr: x,
                b_node: b.node.clone(),
                b_port: b.port.clone(),
                b_addr: y,
                traffic: l.traffic,
            });
            nodes[idx[&a.node]].cable_ports.push(a.port.clone());
            nodes[idx[&b.node]].cable_ports.push(b.port.clone());
        }
        // Upstreams: cable neighbours strictly nearer the host.
        for c in &cables {
            if order.get(&c.a_node) < order.get(&c.b_node) {
                nodes[idx[&c.b_node]].upstream.push(c.a_node.clone());
            }
        }
        // Namespace routes: default routes toward the host over each access link (routers:
        // every uplink, metric as given), or over each upstream cable.
        for a in &access {
            let n = &mut nodes[idx[&a.node]];
            n.routes.push(Route {
                dst: None,
                via: a.host_addr,
                dev: a.port.clone(),
                metric: a.metric,
            });
        }
        for c in &cables {
            if order.get(&c.a_node) < order.get(&c.b_node) {
                let n = &mut nodes[idx[&c.b_node]];
                let metric = 10 * (n.routes.iter().filter(|r| r.dst.is_none()).count() as u32 + 1);
                n.routes.push(Route {
                    dst: None,
                    via: c.a_addr,
                    dev: c.b_port.clone(),
                    metric,
                });
            }
        }
        // Routes down toward each device behind others: in each upstream, via the cable; then
        // in the upstream's upstreams via the cable to that upstream, and so on.
        let loopbacks: Vec<(String, Ipv4Addr)> = nodes
            .iter()
            .map(|n| (n.node.name.clone(), n.loopback))
            .collect();
        for (target, lo) in &loopbacks {
            // (node holding the route, next hop, dev)
            let mut work: VecDeque<String> = VecDeque::from([target.clone()]);
            let mut done = BTreeSet::from([target.clone()]);
            while let Some(cur) = work.pop_front() {
                for c in &cables {
                    if c.b_node != cur || order.get(&c.a_node) >= order.get(&c.b_node) {
                        continue;
                    }
                    let up = &mut nodes[idx[&c.a_node]];
                    up.forwards = true;
                    let route = Route {
                        dst: Some(*lo),
                        via: c.b_addr,
                        dev: c.a_port.clone(),
                        metric: 10,
                    };
                    if !up.routes.iter().any(|r| r.dst == route.dst) {
                        up.routes.push(route);
                    }
                    if done.insert(c.a_node.clone()) {
                        work.push_back(c.a_node.clone());
                    }
                }
            }
        }
        // Host routes: to each device over the access links of the devices it is reached
        // through (itself for routers and HQ devices); each (destination, metric) once.
        let mut host_routes: Vec<Route> = Vec::new();
        for (target, lo) in &loopbacks {
            let mut roots = BTreeSet::new();
            let mut work = vec![target.clone()];
            let mut seen = BTreeSet::new();
            while let Some(cur) = work.pop() {
                if !seen.insert(cur.clone()) {
                    continue;
                }
                let n = &nodes[idx[&cur]];
                if n.upstream.is_empty() {
                    roots.insert(cur);
                } else {
                    work.extend(n.upstream.iter().cloned());
                }
            }
            for a in access.iter().filter(|a| roots.contains(&a.node)) {
                let mut metric = a.metric;
                while host_routes
                    .iter()
                    .any(|r| r.dst == Some(*lo) && r.metric == metric)
                {
                    metric += 1;
                }
                host_routes.push(Route {
                    dst: Some(*lo),
                    via: a.node_addr,
                    dev: a.host_if.clone(),
                    metric,
                });
            }
            // A device's cable addresses are reached the same way as its loopback (the check
            // asks for them); only its loopback carries the agent.
        }
        Ok(Plan {
            name: d.name.clone(),
            octet,
            nodes,
            access,
            cables,
            host_routes,
        })
    }
}

/// Prefixes of 169.254.0.0/16 in use on the host, from `ip -o -4 addr show` and
/// `ip -4 route show table all` output: (network, prefix length).
pub fn used_prefixes(addr_output: &str, route_output: &str) -> Vec<(Ipv4Addr, u8)> {
    let mut v = Vec::new();
    let mut take = |s: &str| {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().unwrap_or(32)),
            None => (s, 32),
        };
        if let Ok(ip) = a.parse::<Ipv4Addr>() {
            if ip.octets()[0] == 169 && ip.octets()[1] == 254 {
                v.push((ip, len));
            }
        }
    };
    for l in addr_output.lines() {
        let mut w = l.split_whitespace();
        while let Some(x) = w.next() {
            if x == "inet" {
                if let Some(a) = w.next() {
                    take(a);
                }
            }
        }
    }
    for l in route_output.lines() {
        let mut w = l.split_whitespace().peekable();
        // "unreachable 169.254.5.0/24 ...", "local 169.254.1.1 dev ...", "169.254.2.0/30 dev ..."
        if let Some(first) = w.next() {
            let dst = if first.parse::<Ipv4Addr>().is_ok() || first.contains('/') {
                Some(first)
            } else {
                w.next()
            };
            if let Some(d) = dst {
                take(d);
            }
        }
    }
    v
}

/// Third octets X (1..=254) whose 169.254.X.0/24 holds none of `used` (an address in it, or a
/// route of /24 or longer inside it), in the order to try them, starting at `start`.
pub fn free_octets(used: &[(Ipv4Addr, u8)], start: u8) -> Vec<u8> {
    let busy: BTreeSet<u8> = used
        .iter()
        .filter(|(_, len)| *len >= 24 || *len == 32)
        .map(|(ip, _)| ip.octets()[2])
        .chain(
            // A host address with a shorter mask (169.254.7.9/16 on a LAN port) still takes its /24.
            used.iter()
                .filter(|(ip, _)| ip.octets()[3] != 0)
                .map(|(ip, _)| ip.octets()[2]),
        )
        .collect();
    (0..254u16)
        .map(|i| ((start as u16 - 1 + i) % 254 + 1) as u8)
        .filter(|x| !busy.contains(x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> Description {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../labs/bank.yml");
        Description::load(std::path::Path::new(path)).expect("labs/bank.yml")
    }

    #[test]
    fn the_allocator_skips_prefixes_in_use() {
        let addrs = "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n\
                     7: h1    inet 169.254.10.1/30 scope global h1\n\
                     8: eth1    inet 169.254.12.7/16 brd 169.254.255.255 scope link eth1\n";
        let routes = "default via 10.0.0.1 dev eth0\n\
                      unreachable 169.254.11.0/24 metric 4242\n\
                      169.254.0.0/16 dev eth1 scope link metric 1000\n\
                      169.254.13.8/30 dev x scope link\n\
                      local 169.254.10.1 dev h1 table local proto kernel scope host src 169.254.10.1\n";
        let used = used_prefixes(addrs, routes);
        let free = free_octets(&used, 9);
        assert_eq!(&free[..3], &[9, 14, 15], "{used:?}");
        // The /16 route that covers everything does not make every /24 busy.
        assert!(free.contains(&200));
        // Wraps around, never 0 or 255.
        let all = free_octets(&[], 250);
        assert_eq!(all.len(), 254);
        assert_eq!(&all[..6], &[250, 251, 252, 253, 254, 1]);
    }

    #[test]
    fn branch_devices_are_reached_only_over_their_routers_uplinks() {
        let d = bank();
        let p = Plan::new(&d, 77).unwrap();
        let rtr = p.node("BRANCH-RTR-02").unwrap();
        let sw = p.node("BRANCH-SW-02").unwrap();
        let uplinks: Vec<&AccessLink> = p
            .access
            .iter()
            .filter(|a| a.node == "BRANCH-RTR-02")
            .collect();
        assert_eq!(uplinks.len(), 2);
        for target in [rtr.loopback, sw.loopback] {
            let mut via: Vec<(String, u32)> = p
                .host_routes
                .iter()
                .filter(|r| r.dst == Some(target))
                .map(|r| (r.dev.clone(), r.metric))
                .collect();
            via.sort();
            let mut want: Vec<(String, u32)> = uplinks
                .iter()
                .map(|a| (a.host_if.clone(), a.metric))
                .collect();
            want.sort();
            assert_eq!(via, want, "host routes to {target}");
        }
        // The router forwards to the switch over the cable; the switch's default goes back.
        assert!(rtr.forwards);
        assert!(rtr
            .routes
            .iter()
            .any(|r| r.dst == Some(sw.loopback) && r.dev == "lan0"));
        assert!(sw.routes.iter().any(|r| r.dst.is_none() && r.dev == "up0"));
        // Every address is inside the lab's /24, and no two are equal.
        let mut all: Vec<Ipv4Addr> = p.nodes.iter().map(|n| n.loopback).collect();
        all.extend(p.access.iter().flat_map(|a| [a.host_addr, a.node_addr]));
        all.extend(p.cables.iter().flat_map(|c| [c.a_addr, c.b_addr]));
        assert!(all.iter().all(|a| a.octets()[..3] == [169, 254, 77]));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        // HQ devices over their management link.
        let core = p.node("CORE-SW-01").unwrap();
        let r: Vec<&Route> = p
            .host_routes
            .iter()
            .filter(|r| r.dst == Some(core.loopback))
            .collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].dev.starts_with("wl77m"));
        for h in p.access.iter().map(|a| &a.host_if) {
            assert!(h.len() <= 15, "{h}");
        }
    }

    #[test]
    fn a_dual_homed_switch_is_reached_through_both_routers() {
        let text = "\
name: dual
sites:
  s:
    nodes:
      R1: {kind: router, uplinks: [{port: isp0, provider: Magti}]}
      R2: {kind: router, uplinks: [{port: isp0, provider: Veon}]}
      SW: {kind: switch}
links:
  - endpoints: [SW:up1, R1:lan0]
  - endpoints: [SW:up2, R2:lan0]
";
        let d = Description::parse("dual.yml", text).unwrap();
        let p = Plan::new(&d, 5).unwrap();
        let sw = p.node("SW").unwrap();
        assert_eq!(sw.upstream, ["R1", "R2"]);
        let routes: Vec<&Route> = p
            .host_routes
            .iter()
            .filter(|r| r.dst == Some(sw.loopback))
            .collect();
        assert_eq!(routes.len(), 2);
        assert_ne!(routes[0].metric, routes[1].metric);
        assert_eq!(sw.routes.iter().filter(|r| r.dst.is_none()).count(), 2);
        // Cables were turned so the router is the upstream end.
        assert!(p.cables.iter().all(|c| c.a_node.starts_with('R')));
    }
}
