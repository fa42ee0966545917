//! The network graph: neighbours matched to known devices, half-links paired into
//! `confirmed` or left `one_sided`, manual links from config, LAG members rolled up to their
//! port-channel, unmatched neighbours as orphans and two-candidate matches as ambiguous.
//!
//! Pure: device views (built from an inventory snapshot) and the topology config in, a
//! `Topology` out. Matching order: chassis id against devices' own LLDP chassis ids, then
//! management address against target addresses, then system name (case-insensitive, domain
//! stripped) against target names and sysNames. Two candidates at a step is "ambiguous":
//! reported, never guessed.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::inventory::DeviceEntry;
use crate::mib::display_bytes;
use crate::mib::lldp::Id;

use super::config::TopologyConfig;
use super::neighbor::{Neighbor, Neighborhood};

/// Status of a device or a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Up,
    Down,
    Unknown,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Unknown => "unknown",
        }
    }
}

/// How a link is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkState {
    /// Both ends report each other.
    Confirmed,
    /// Only one end reports it (or the far end has no neighbour data).
    OneSided,
    /// From config; wins over discovery.
    Manual,
}

impl LinkState {
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkState::Confirmed => "confirmed",
            LinkState::OneSided => "one_sided",
            LinkState::Manual => "manual",
        }
    }
}

/// One interface of a device, as the graph needs it.
#[derive(Debug, Clone, Default)]
pub struct PortView {
    pub if_index: u32,
    pub name: String,
    pub descr: String,
    pub mac: Vec<u8>,
    pub interface_type: &'static str,
    /// Current ifOperStatus (last poll, else discovery).
    pub oper: Option<i64>,
}

/// One device, as the graph needs it.
#[derive(Debug, Clone)]
pub struct DeviceView {
    pub name: Arc<str>,
    pub address: String,
    pub labels: Arc<BTreeMap<String, String>>,
    pub status: Status,
    pub sys_name: String,
    pub ports: Vec<PortView>,
    pub hood: Arc<Neighborhood>,
    /// Discovery ran (so the device's own neighbour reports are known).
    pub discovered: bool,
}

/// Views of every device in an inventory snapshot.
pub fn views(entries: &[DeviceEntry]) -> Vec<DeviceView> {
    entries
        .iter()
        .map(|d| {
            let status = if d.health.up {
                Status::Up
            } else if d.health.polls > 0 {
                Status::Down
            } else {
                Status::Unknown
            };
            let inv = d.inventory.as_ref();
            let ports = inv
                .map(|inv| {
                    inv.interfaces
                        .iter()
                        .enumerate()
                        .map(|(pos, e)| {
                            let polled = d
                                .values
                                .as_ref()
                                .and_then(|v| v.counters.get(pos))
                                .and_then(|c| c[0])
                                .map(|v| v as i64);
                            PortView {
                                if_index: e.info.if_index,
                                name: display_bytes(&e.info.name).into_owned(),
                                descr: display_bytes(&e.info.descr).into_owned(),
                                mac: e.info.phys_address.clone(),
                                interface_type: e.class.interface_type.as_str(),
                                oper: polled.or(Some(e.info.oper_status)),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            DeviceView {
                name: d.target.name.clone(),
                address: d.target.address.clone(),
                labels: d.target.labels.clone(),
                status,
                sys_name: inv
                    .map(|i| crate::mib::lldp::clean_text(&i.system.sys_name))
                    .unwrap_or_default(),
                ports,
                hood: inv.map(|i| i.neighbors.clone()).unwrap_or_default(),
                discovered: inv.is_some(),
            }
        })
        .collect()
}

/// A node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: Arc<str>,
    pub status: Status,
    pub root: bool,
}

/// One LAG member pair inside a rolled-up edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub source_if: Option<u32>,
    pub source_interface: String,
    pub target_if: Option<u32>,
    pub target_interface: String,
    pub status: Status,
}

/// A link between two devices.
#[derive(Debug, Clone)]
pub struct Edge {
    pub source: usize,
    pub target: usize,
    pub source_if: Option<u32>,
    pub source_interface: String,
    pub target_if: Option<u32>,
    pub target_interface: String,
    pub interface_type: &'static str,
    pub status: Status,
    /// "lldp", "cdp", "lldp+cdp" or "manual".
    pub protocol: &'static str,
    pub state: LinkState,
    /// LAG members when the edge was rolled up to a port-channel.
    pub members: Vec<Member>,
}

/// A neighbour that matches no known device, with where it was seen.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub neighbor_name: String,
    pub chassis_id: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub protocol: &'static str,
    /// (device, local interface, far port).
    pub seen_from: Vec<(Arc<str>, String, String)>,
}

/// A neighbour that matches more than one device.
#[derive(Debug, Clone)]
pub struct Ambiguous {
    pub neighbor_name: String,
    pub seen_from: (Arc<str>, String),
    pub matched_by: &'static str,
    pub candidates: Vec<Arc<str>>,
}

/// A neighbour report that was not used, and why (e.g. a device reporting itself).
#[derive(Debug, Clone)]
pub struct Ignored {
    pub device: Arc<str>,
    pub interface: String,
    pub neighbor_name: String,
    pub reason: &'static str,
}

/// The whole graph.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub orphans: Vec<Orphan>,
    pub ambiguous: Vec<Ambiguous>,
    pub ignored: Vec<Ignored>,
    /// Indexes of root nodes, and where they came from ("config", "isp_interfaces", "none").
    pub roots: Vec<usize>,
    pub roots_source: &'static str,
    by_name: HashMap<Arc<str>, usize>,
}

impl Topology {
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

/// The name part used for matching: lowercase, trimmed, domain stripped (addresses kept).
pub fn match_name(s: &str) -> String {
    let s = s.trim().to_lowercase();
    if s.parse::<IpAddr>().is_ok() {
        return s;
    }
    match s.split_once('.') {
        Some((host, _)) if !host.is_empty() => host.to_string(),
        _ => s,
    }
}

/// The host part of a target address (`host`, `host:port`, `[v6]:port`).
fn address_ip(addr: &str) -> Option<IpAddr> {
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = addr.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    addr.rsplit_once(':')
        .and_then(|(h, _)| h.parse::<IpAddr>().ok())
}

enum Match {
    Device(usize),
    Ambiguous(&'static str, Vec<usize>),
    None,
}

struct Matcher {
    chassis: HashMap<String, Vec<usize>>,
    addrs: HashMap<IpAddr, Vec<usize>>,
    names: HashMap<String, Vec<usize>>,
}

fn push_unique(map: &mut Vec<usize>, i: usize) {
    if !map.contains(&i) {
        map.push(i);
    }
}

impl Matcher {
    fn new(devs: &[DeviceView]) -> Matcher {
        let mut m = Matcher {
            chassis: HashMap::new(),
            addrs: HashMap::new(),
            names: HashMap::new(),
        };
        for (i, d) in devs.iter().enumerate() {
            if let Some(c) = &d.hood.chassis_id {
                push_unique(m.chassis.entry(c.key()).or_default(), i);
            }
            if let Some(ip) = address_ip(&d.address) {
                push_unique(m.addrs.entry(ip).or_default(), i);
            }
            for n in [&*d.name, d.sys_name.as_str()] {
                let k = match_name(n);
                if !k.is_empty() {
                    push_unique(m.names.entry(k).or_default(), i);
                }
            }
        }
        m
    }

    fn find(&self, n: &Neighbor) -> Match {
        let pick = |c: &[usize], by: &'static str| match c {
            [] => Match::None,
            [one] => Match::Device(*one),
            many => Match::Ambiguous(by, many.to_vec()),
        };
        if let Some(c) = n
            .chassis_id
            .as_ref()
            .and_then(|c| self.chassis.get(&c.key()))
        {
            return pick(c, "chassis_id");
        }
        let mut by_addr: Vec<usize> = Vec::new();
        for a in &n.addresses {
            for &i in self.addrs.get(a).into_iter().flatten() {
                push_unique(&mut by_addr, i);
            }
        }
        if !by_addr.is_empty() {
            return pick(&by_addr, "management_address");
        }
        let k = match_name(&n.sys_name);
        if !k.is_empty() {
            if let Some(c) = self.names.get(&k) {
                return pick(c, "sys_name");
            }
        }
        Match::None
    }
}

/// Per-device lookups for resolving a far port, built on first use.
struct FarPorts {
    by_name: HashMap<String, Option<u32>>,
    by_mac: HashMap<Vec<u8>, Option<u32>>,
    indexes: HashMap<u32, usize>,
}

impl FarPorts {
    fn new(d: &DeviceView) -> FarPorts {
        let mut by_name: HashMap<String, Option<u32>> = HashMap::new();
        let mut by_mac: HashMap<Vec<u8>, Option<u32>> = HashMap::new();
        let mut indexes = HashMap::new();
        for (pos, p) in d.ports.iter().enumerate() {
            indexes.insert(p.if_index, pos);
            let mut keys = vec![p.name.to_lowercase()];
            let descr = p.descr.to_lowercase();
            if descr != keys[0] {
                keys.push(descr);
            }
            for k in keys.into_iter().filter(|k| !k.is_empty()) {
                by_name
                    .entry(k)
                    .and_modify(|v| {
                        if *v != Some(p.if_index) {
                            *v = None
                        }
                    })
                    .or_insert(Some(p.if_index));
            }
            if p.mac.len() == 6 {
                by_mac
                    .entry(p.mac.clone())
                    .and_modify(|v| *v = None)
                    .or_insert(Some(p.if_index));
            }
        }
        FarPorts {
            by_name,
            by_mac,
            indexes,
        }
    }

    fn name(&self, s: &str) -> Option<u32> {
        self.by_name
            .get(&s.trim().to_lowercase())
            .copied()
            .flatten()
    }
}

struct Half {
    from: usize,
    from_if: Option<u32>,
    from_port: String,
    to: usize,
    to_if: Option<u32>,
    to_port: String,
    protocol: &'static str,
}

/// Resolve the far port a neighbour reports to an ifIndex of the matched device `d`.
fn resolve_far(n: &Neighbor, d: &DeviceView, far: &FarPorts) -> Option<u32> {
    if let Some(pid) = &n.port_id {
        if n.port_subtype != 0 {
            if let Some(p) = d
                .hood
                .advertised
                .iter()
                .find(|a| a.subtype == n.port_subtype && &a.id == pid)
            {
                if p.if_index.is_some() {
                    return p.if_index;
                }
            }
        }
        let direct = match pid {
            Id::Mac(m) => far.by_mac.get(m.as_slice()).copied().flatten(),
            Id::Text(t) => far.name(t).or_else(|| {
                (n.port_subtype == crate::mib::lldp::port_subtype::LOCAL)
                    .then(|| t.parse::<u32>().ok())
                    .flatten()
                    .filter(|i| far.indexes.contains_key(i))
            }),
            _ => None,
        };
        if direct.is_some() {
            return direct;
        }
    }
    far.name(&n.port_descr)
}

fn port_name(d: &DeviceView, far: Option<&FarPorts>, if_index: u32) -> Option<String> {
    let pos = match far {
        Some(f) => f.indexes.get(&if_index).copied(),
        None => d.ports.iter().position(|p| p.if_index == if_index),
    }?;
    let p = &d.ports[pos];
    Some(if p.name.is_empty() {
        p.descr.clone()
    } else {
        p.name.clone()
    })
}

fn port_of(d: &DeviceView, if_index: Option<u32>) -> Option<&PortView> {
    let i = if_index?;
    d.ports.iter().find(|p| p.if_index == i)
}

fn end_status(d: &DeviceView, if_index: Option<u32>) -> Option<Status> {
    let p = port_of(d, if_index)?;
    p.oper
        .map(|o| if o == 1 { Status::Up } else { Status::Down })
}

/// Link status from both ends: down when a known end is down, up when every known end is
/// up, unknown when neither end is known.
fn link_status(a: Option<Status>, b: Option<Status>) -> Status {
    match (a, b) {
        (Some(Status::Down), _) | (_, Some(Status::Down)) => Status::Down,
        (None, None) => Status::Unknown,
        _ => Status::Up,
    }
}

/// Build the graph from device views and the topology config.
pub fn build(devs: &[DeviceView], cfg: &TopologyConfig) -> Topology {
    let matcher = Matcher::new(devs);
    let far: Vec<OnceCell<FarPorts>> = (0..devs.len()).map(|_| OnceCell::new()).collect();
    let far_of = |i: usize| far[i].get_or_init(|| FarPorts::new(&devs[i]));
    let mut halves: Vec<Half> = Vec::new();
    let mut orphans: BTreeMap<String, Orphan> = BTreeMap::new();
    let mut ambiguous = Vec::new();
    let mut ignored = Vec::new();
    for (a, d) in devs.iter().enumerate() {
        for n in &d.hood.neighbors {
            match matcher.find(n) {
                Match::Device(b) if b == a => ignored.push(Ignored {
                    device: d.name.clone(),
                    interface: n.local_port.clone(),
                    neighbor_name: n.display_name(),
                    reason: "the neighbour is the device itself",
                }),
                Match::Device(b) => {
                    let fp = far_of(b);
                    let to_if = resolve_far(n, &devs[b], fp);
                    let to_port = to_if
                        .and_then(|i| port_name(&devs[b], Some(fp), i))
                        .unwrap_or_else(|| n.port_text());
                    halves.push(Half {
                        from: a,
                        from_if: n.local_if_index,
                        from_port: n.local_port.clone(),
                        to: b,
                        to_if,
                        to_port,
                        protocol: n.protocol.as_str(),
                    });
                }
                Match::Ambiguous(by, c) => ambiguous.push(Ambiguous {
                    neighbor_name: n.display_name(),
                    seen_from: (d.name.clone(), n.local_port.clone()),
                    matched_by: by,
                    candidates: c.iter().map(|&i| devs[i].name.clone()).collect(),
                }),
                Match::None => {
                    let key = n
                        .chassis_id
                        .as_ref()
                        .map(Id::key)
                        .unwrap_or_else(|| format!("name:{}", match_name(&n.sys_name)));
                    let o = orphans.entry(key).or_insert_with(|| Orphan {
                        neighbor_name: n.display_name(),
                        chassis_id: n.chassis_id.as_ref().map(|c| c.to_string()),
                        addresses: Vec::new(),
                        protocol: n.protocol.as_str(),
                        seen_from: Vec::new(),
                    });
                    for ad in &n.addresses {
                        if !o.addresses.contains(ad) {
                            o.addresses.push(*ad);
                        }
                    }
                    let seen = (d.name.clone(), n.local_port.clone(), n.port_text());
                    if !o.seen_from.contains(&seen) {
                        o.seen_from.push(seen);
                    }
                }
            }
        }
    }
    let mut edges = pair(devs, halves);
    roll_up_lags(devs, &mut edges);
    apply_manual(devs, cfg, &mut edges);
    edges.sort_by(|x, y| {
        (
            &devs[x.source].name,
            &devs[x.target].name,
            &x.source_interface,
        )
            .cmp(&(
                &devs[y.source].name,
                &devs[y.target].name,
                &y.source_interface,
            ))
    });
    let (roots, roots_source) = pick_roots(devs, cfg);
    let nodes = devs
        .iter()
        .enumerate()
        .map(|(i, d)| Node {
            name: d.name.clone(),
            status: d.status,
            root: roots.contains(&i),
        })
        .collect();
    Topology {
        nodes,
        edges,
        orphans: orphans.into_values().collect(),
        ambiguous,
        ignored,
        roots,
        roots_source,
        by_name: devs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect(),
    }
}

fn pick_roots(devs: &[DeviceView], cfg: &TopologyConfig) -> (Vec<usize>, &'static str) {
    if !cfg.roots.is_empty() {
        let r = devs
            .iter()
            .enumerate()
            .filter(|(_, d)| cfg.roots.iter().any(|s| s.matches(&d.name, &d.labels)))
            .map(|(i, _)| i)
            .collect();
        return (r, "config");
    }
    let r: Vec<usize> = devs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.ports.iter().any(|p| p.interface_type == "isp"))
        .map(|(i, _)| i)
        .collect();
    let src = if r.is_empty() {
        "none"
    } else {
        "isp_interfaces"
    };
    (r, src)
}

/// Pair half-links between each two devices: matching ports make a `confirmed` edge, the
/// rest stay `one_sided`.
fn pair(devs: &[DeviceView], halves: Vec<Half>) -> Vec<Edge> {
    // Oriented (lo, hi) with ports on each side.
    struct Oriented {
        lo_if: Option<u32>,
        lo_port: String,
        hi_if: Option<u32>,
        hi_port: String,
        from_lo: bool,
        protocol: &'static str,
    }
    let mut buckets: BTreeMap<(usize, usize), Vec<Oriented>> = BTreeMap::new();
    for h in halves {
        let (lo, hi) = (h.from.min(h.to), h.from.max(h.to));
        let o = if h.from == lo {
            Oriented {
                lo_if: h.from_if,
                lo_port: h.from_port,
                hi_if: h.to_if,
                hi_port: h.to_port,
                from_lo: true,
                protocol: h.protocol,
            }
        } else {
            Oriented {
                lo_if: h.to_if,
                lo_port: h.to_port,
                hi_if: h.from_if,
                hi_port: h.from_port,
                from_lo: false,
                protocol: h.protocol,
            }
        };
        let list = buckets.entry((lo, hi)).or_default();
        // Duplicate reports from one side (same ports) collapse.
        if !list.iter().any(|x| {
            x.from_lo == o.from_lo && x.lo_if == o.lo_if && x.hi_if == o.hi_if && {
                x.lo_if.is_some() || x.hi_if.is_some() || x.hi_port == o.hi_port
            }
        }) {
            list.push(o);
        }
    }
    let mut edges = Vec::new();
    for ((lo, hi), list) in buckets {
        let (los, his): (Vec<Oriented>, Vec<Oriented>) = list.into_iter().partition(|o| o.from_lo);
        let mut his_used = vec![false; his.len()];
        let mut los_used = vec![false; los.len()];
        let mut pairs = Vec::new();
        let same = |a: Option<u32>, b: Option<u32>| a.is_some() && a == b;
        let fits = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
        for strict in [true, false] {
            for (i, l) in los.iter().enumerate() {
                if los_used[i] {
                    continue;
                }
                let found = his.iter().enumerate().position(|(j, h)| {
                    !his_used[j]
                        && if strict {
                            same(l.lo_if, h.lo_if) && same(l.hi_if, h.hi_if)
                        } else {
                            fits(l.lo_if, h.lo_if)
                                && fits(l.hi_if, h.hi_if)
                                && (same(l.lo_if, h.lo_if) || same(l.hi_if, h.hi_if))
                        }
                });
                if let Some(j) = found {
                    los_used[i] = true;
                    his_used[j] = true;
                    pairs.push((i, j));
                }
            }
        }
        let mk = |lo_if: Option<u32>,
                  lo_port: String,
                  hi_if: Option<u32>,
                  hi_port: String,
                  protocol: &'static str,
                  state: LinkState| {
            let itype = port_of(&devs[lo], lo_if)
                .map(|p| p.interface_type)
                .filter(|t| *t != "unknown")
                .or_else(|| port_of(&devs[hi], hi_if).map(|p| p.interface_type))
                .unwrap_or("unknown");
            Edge {
                source: lo,
                target: hi,
                source_if: lo_if,
                source_interface: lo_port,
                target_if: hi_if,
                target_interface: hi_port,
                interface_type: itype,
                status: link_status(end_status(&devs[lo], lo_if), end_status(&devs[hi], hi_if)),
                protocol,
                state,
                members: Vec::new(),
            }
        };
        for (i, j) in pairs {
            let (l, h) = (&los[i], &his[j]);
            let protocol = if l.protocol == h.protocol {
                l.protocol
            } else {
                "lldp+cdp"
            };
            let (lo_if, lo_port) = if l.lo_if.is_some() {
                (l.lo_if, l.lo_port.clone())
            } else {
                (h.lo_if, h.lo_port.clone())
            };
            let (hi_if, hi_port) = if h.hi_if.is_some() {
                (h.hi_if, h.hi_port.clone())
            } else {
                (l.hi_if, l.hi_port.clone())
            };
            edges.push(mk(
                lo_if,
                lo_port,
                hi_if,
                hi_port,
                protocol,
                LinkState::Confirmed,
            ));
        }
        for (_, l) in los.iter().enumerate().filter(|(i, _)| !los_used[*i]) {
            edges.push(mk(
                l.lo_if,
                l.lo_port.clone(),
                l.hi_if,
                l.hi_port.clone(),
                l.protocol,
                LinkState::OneSided,
            ));
        }
        for (_, h) in his.iter().enumerate().filter(|(j, _)| !his_used[*j]) {
            // Orient one-sided edges from the reporting device.
            let mut e = mk(
                h.lo_if,
                h.lo_port.clone(),
                h.hi_if,
                h.hi_port.clone(),
                h.protocol,
                LinkState::OneSided,
            );
            std::mem::swap(&mut e.source, &mut e.target);
            std::mem::swap(&mut e.source_if, &mut e.target_if);
            std::mem::swap(&mut e.source_interface, &mut e.target_interface);
            edges.push(e);
        }
    }
    edges
}

/// Replace LAG member ends by their port-channel and merge the members into one edge.
fn roll_up_lags(devs: &[DeviceView], edges: &mut Vec<Edge>) {
    let parent =
        |dev: usize, i: Option<u32>| i.and_then(|i| devs[dev].hood.lag_parent.get(&i).copied());
    let mut merged: Vec<Edge> = Vec::with_capacity(edges.len());
    // (source, target, source parent, target parent) -> position in `merged`
    let mut groups: HashMap<(usize, usize, Option<u32>, Option<u32>), usize> = HashMap::new();
    for e in edges.drain(..) {
        let (ps, pt) = (parent(e.source, e.source_if), parent(e.target, e.target_if));
        if ps.is_none() && pt.is_none() {
            merged.push(e);
            continue;
        }
        // Orient by device index so both directions of a LAG land in one group.
        let e = if e.source > e.target { flip(e) } else { e };
        let (ps, pt) = (parent(e.source, e.source_if), parent(e.target, e.target_if));
        let member = Member {
            source_if: e.source_if,
            source_interface: e.source_interface.clone(),
            target_if: e.target_if,
            target_interface: e.target_interface.clone(),
            status: e.status,
        };
        let key = (e.source, e.target, ps, pt);
        match groups.get(&key) {
            Some(&pos) => {
                let m = &mut merged[pos];
                if !m.members.contains(&member) {
                    m.members.push(member);
                }
                if e.state == LinkState::Confirmed {
                    m.state = LinkState::Confirmed;
                }
                if m.protocol != e.protocol {
                    m.protocol = "lldp+cdp";
                }
            }
            None => {
                let name = |dev: usize, p: Option<u32>, fallback: &str| {
                    p.and_then(|i| port_name(&devs[dev], None, i))
                        .unwrap_or_else(|| fallback.to_string())
                };
                let mut m = e.clone();
                m.source_interface = name(e.source, ps, &e.source_interface);
                m.target_interface = name(e.target, pt, &e.target_interface);
                m.source_if = ps.or(e.source_if);
                m.target_if = pt.or(e.target_if);
                m.members = vec![member];
                groups.insert(key, merged.len());
                merged.push(m);
            }
        }
    }
    for m in merged.iter_mut().filter(|m| !m.members.is_empty()) {
        let own = link_status(
            end_status(&devs[m.source], m.source_if),
            end_status(&devs[m.target], m.target_if),
        );
        let any_member_up = m.members.iter().any(|x| x.status == Status::Up);
        m.status = match own {
            Status::Unknown if any_member_up => Status::Up,
            Status::Unknown => m
                .members
                .first()
                .map(|x| x.status)
                .unwrap_or(Status::Unknown),
            s => s,
        };
    }
    *edges = merged;
}

fn flip(mut e: Edge) -> Edge {
    std::mem::swap(&mut e.source, &mut e.target);
    std::mem::swap(&mut e.source_if, &mut e.target_if);
    std::mem::swap(&mut e.source_interface, &mut e.target_interface);
    for m in &mut e.members {
        std::mem::swap(&mut m.source_if, &mut m.target_if);
        std::mem::swap(&mut m.source_interface, &mut m.target_interface);
    }
    e
}

/// Add manual links; a discovered edge between the same devices on the same interfaces (or
/// on any interface, where the manual link names none) is replaced.
fn apply_manual(devs: &[DeviceView], cfg: &TopologyConfig, edges: &mut Vec<Edge>) {
    for l in &cfg.links {
        let find = |n: &str| devs.iter().position(|d| &*d.name == n);
        let (Some(a), Some(b)) = (find(&l.a), find(&l.b)) else {
            continue;
        };
        let resolve = |dev: usize, name: &Option<String>| {
            name.as_deref()
                .and_then(|n| FarPorts::new(&devs[dev]).name(n))
        };
        let (a_if, b_if) = (resolve(a, &l.a_interface), resolve(b, &l.b_interface));
        let same_end = |want: &Option<String>,
                        want_if: Option<u32>,
                        got_if: Option<u32>,
                        got: &str| {
            match want {
                None => true,
                Some(w) => (want_if.is_some() && want_if == got_if) || w.eq_ignore_ascii_case(got),
            }
        };
        edges.retain(|e| {
            let (ea, eb) = if e.source == a && e.target == b {
                (
                    (e.source_if, &e.source_interface),
                    (e.target_if, &e.target_interface),
                )
            } else if e.source == b && e.target == a {
                (
                    (e.target_if, &e.target_interface),
                    (e.source_if, &e.source_interface),
                )
            } else {
                return true;
            };
            !(same_end(&l.a_interface, a_if, ea.0, ea.1)
                && same_end(&l.b_interface, b_if, eb.0, eb.1))
        });
        let status = link_status(end_status(&devs[a], a_if), end_status(&devs[b], b_if));
        edges.push(Edge {
            source: a,
            target: b,
            source_if: a_if,
            source_interface: l.a_interface.clone().unwrap_or_default(),
            target_if: b_if,
            target_interface: l.b_interface.clone().unwrap_or_default(),
            interface_type: port_of(&devs[a], a_if)
                .map(|p| p.interface_type)
                .unwrap_or("unknown"),
            status,
            protocol: "manual",
            state: LinkState::Manual,
            members: Vec::new(),
        });
    }
}

/// Neighbour names per device, for the `/api/v1/devices/{name}/neighbors` view: each
/// neighbour with the device it matched (if any).
pub fn neighbors_of(
    devs: &[DeviceView],
    device: usize,
) -> Vec<(Neighbor, Option<Arc<str>>, &'static str)> {
    let matcher = Matcher::new(devs);
    devs[device]
        .hood
        .neighbors
        .iter()
        .map(|n| match matcher.find(n) {
            Match::Device(b) if b == device => (n.clone(), None, "self"),
            Match::Device(b) => (n.clone(), Some(devs[b].name.clone()), "matched"),
            Match::Ambiguous(..) => (n.clone(), None, "ambiguous"),
            Match::None => (n.clone(), None, "orphan"),
        })
        .collect()
}

/// Every distinct device name that appears as a node.
pub fn node_names(t: &Topology) -> BTreeSet<Arc<str>> {
    t.nodes.iter().map(|n| n.name.clone()).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mib::lldp::Id;
    use crate::topology::config::{ManualLink, RootSelector};
    use crate::topology::neighbor::{AdvertisedPort, Protocol};

    /// A device with ports `eth0..ethN` (ifIndex 1..=N, all up) and LLDP chassis id `name`.
    pub(crate) fn dev(name: &str, ports: u32) -> DeviceView {
        DeviceView {
            name: Arc::from(name),
            address: String::new(),
            labels: Arc::default(),
            status: Status::Up,
            sys_name: name.to_string(),
            ports: (1..=ports)
                .map(|i| PortView {
                    if_index: i,
                    name: format!("eth{}", i - 1),
                    descr: format!("eth{}", i - 1),
                    mac: vec![2, 0, 0, 0, 0, i as u8],
                    interface_type: "unknown",
                    oper: Some(1),
                })
                .collect(),
            hood: Arc::new(Neighborhood {
                chassis_id: Some(Id::Text(format!("chassis-{name}"))),
                advertised: (1..=ports)
                    .map(|i| AdvertisedPort {
                        subtype: 5,
                        id: Id::Text(format!("eth{}", i - 1)),
                        if_index: Some(i),
                    })
                    .collect(),
                ..Neighborhood::default()
            }),
            discovered: true,
        }
    }

    /// `from` sees `to` on local ifIndex `local` and far port name `far`, by LLDP chassis id.
    pub(crate) fn see(devs: &mut [DeviceView], from: usize, local: u32, to: &str, far: &str) {
        let n = Neighbor {
            protocol: Protocol::Lldp,
            local_if_index: Some(local),
            local_port: format!("eth{}", local - 1),
            chassis_id: Some(Id::Text(format!("chassis-{to}"))),
            port_id: Some(Id::Text(far.to_string())),
            port_subtype: 5,
            port_descr: String::new(),
            sys_name: to.to_string(),
            sys_descr: String::new(),
            capabilities: vec![],
            addresses: vec![],
        };
        Arc::make_mut(&mut devs[from].hood).neighbors.push(n);
    }

    fn edges(t: &Topology) -> Vec<String> {
        t.edges
            .iter()
            .map(|e| {
                format!(
                    "{}:{}-{}:{} {} {}",
                    t.nodes[e.source].name,
                    e.source_interface,
                    t.nodes[e.target].name,
                    e.target_interface,
                    e.state.as_str(),
                    e.status.as_str()
                )
            })
            .collect()
    }

    #[test]
    fn both_ends_reporting_make_one_confirmed_edge_with_both_ports() {
        let mut d = vec![dev("A", 2), dev("B", 2)];
        see(&mut d, 0, 2, "B", "eth0");
        see(&mut d, 1, 1, "A", "eth1");
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(edges(&t), vec!["A:eth1-B:eth0 confirmed up"]);
        assert_eq!(t.edges[0].source_if, Some(2));
        assert_eq!(t.edges[0].target_if, Some(1));
    }

    #[test]
    fn one_end_reporting_or_an_undiscovered_far_end_is_one_sided() {
        let mut d = vec![dev("A", 2), dev("B", 2), dev("C", 1)];
        see(&mut d, 1, 2, "A", "eth0"); // B reports A, A says nothing
        d[2].discovered = false;
        see(&mut d, 0, 2, "C", "eth0");
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(
            edges(&t),
            vec!["A:eth1-C:eth0 one_sided up", "B:eth1-A:eth0 one_sided up"]
        );
    }

    #[test]
    fn a_down_end_makes_the_link_down() {
        let mut d = vec![dev("A", 1), dev("B", 1)];
        see(&mut d, 0, 1, "B", "eth0");
        see(&mut d, 1, 1, "A", "eth0");
        d[1].ports[0].oper = Some(2);
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(edges(&t), vec!["A:eth0-B:eth0 confirmed down"]);
    }

    #[test]
    fn unknown_neighbours_are_orphans_and_two_candidates_are_ambiguous() {
        let mut d = vec![dev("A", 3), dev("B", 1), dev("C", 1)];
        d[1].sys_name = "twin.bank.ge".into();
        d[2].sys_name = "TWIN".into();
        see(&mut d, 0, 1, "printer-7", "p1");
        let mut twin = d[0].hood.neighbors[0].clone();
        twin.chassis_id = None;
        twin.sys_name = "Twin.other.domain".into();
        twin.local_if_index = Some(2);
        Arc::make_mut(&mut d[0].hood).neighbors.push(twin);
        let t = build(&d, &TopologyConfig::default());
        assert!(t.edges.is_empty());
        assert_eq!(t.orphans.len(), 1);
        assert_eq!(t.orphans[0].neighbor_name, "printer-7");
        assert_eq!(&*t.orphans[0].seen_from[0].0, "A");
        assert_eq!(t.ambiguous.len(), 1);
        assert_eq!(t.ambiguous[0].matched_by, "sys_name");
        let c: Vec<&str> = t.ambiguous[0].candidates.iter().map(|c| &**c).collect();
        assert_eq!(c, vec!["B", "C"]);
    }

    #[test]
    fn a_device_reporting_itself_is_ignored_not_a_loop() {
        let mut d = vec![dev("A", 2)];
        see(&mut d, 0, 1, "A", "eth1");
        let t = build(&d, &TopologyConfig::default());
        assert!(t.edges.is_empty());
        assert_eq!(t.ignored.len(), 1);
    }

    #[test]
    fn matching_falls_back_to_management_address_then_name_without_domain() {
        let mut d = vec![dev("A", 2), dev("B", 1), dev("C", 1)];
        d[1].address = "169.254.0.2:161".into();
        see(&mut d, 0, 1, "x", "eth0");
        see(&mut d, 0, 2, "y", "eth0");
        {
            let h = Arc::make_mut(&mut d[0].hood);
            h.neighbors[0].chassis_id = None;
            h.neighbors[0].addresses = vec!["169.254.0.2".parse().unwrap()];
            h.neighbors[1].chassis_id = None;
            h.neighbors[1].sys_name = "c.bank.ge".into();
            h.neighbors[1].protocol = Protocol::Cdp;
            h.neighbors[1].port_subtype = 0;
        }
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(
            edges(&t),
            vec!["A:eth0-B:eth0 one_sided up", "A:eth1-C:eth0 one_sided up"]
        );
        assert_eq!(t.edges[1].protocol, "cdp");
    }

    #[test]
    fn lag_members_roll_up_to_one_port_channel_edge() {
        let mut d = vec![dev("A", 3), dev("B", 3)];
        for (i, x) in d.iter_mut().enumerate() {
            x.ports[2].name = "Po1".into();
            let _ = i;
            Arc::make_mut(&mut x.hood).lag_parent = BTreeMap::from([(1, 3), (2, 3)]);
        }
        for (l, f) in [(1, "eth0"), (2, "eth1")] {
            see(&mut d, 0, l, "B", f);
            see(&mut d, 1, l, "A", f);
        }
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(edges(&t), vec!["A:Po1-B:Po1 confirmed up"]);
        assert_eq!(t.edges[0].members.len(), 2);
    }

    #[test]
    fn manual_links_win_over_discovered_ones() {
        let mut d = vec![dev("A", 2), dev("B", 2)];
        see(&mut d, 0, 1, "B", "eth0");
        let cfg = TopologyConfig {
            roots: vec![RootSelector::Device("A".into())],
            links: vec![ManualLink {
                a: "B".into(),
                a_interface: Some("eth0".into()),
                b: "A".into(),
                b_interface: None,
            }],
        };
        let t = build(&d, &cfg);
        assert_eq!(edges(&t), vec!["B:eth0-A: manual up"]);
        assert_eq!(t.roots, vec![0]);
        assert_eq!(t.roots_source, "config");
    }

    #[test]
    fn roots_default_to_devices_with_isp_interfaces() {
        let mut d = vec![dev("A", 1), dev("B", 1)];
        d[1].ports[0].interface_type = "isp";
        let t = build(&d, &TopologyConfig::default());
        assert_eq!(
            (t.roots.clone(), t.roots_source),
            (vec![1], "isp_interfaces")
        );
    }

    #[test]
    fn names_match_without_domain_and_case() {
        assert_eq!(match_name(" Core-SW-01.bank.ge "), "core-sw-01");
        assert_eq!(match_name("10.1.2.3"), "10.1.2.3");
        assert_eq!(match_name(".weird"), ".weird");
    }
}
