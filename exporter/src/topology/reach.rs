//! The exporter's own reachability view: its inventory and topology graph turned into a
//! `wardflux_reach::Input`, the analysis run, and the result prepared for the scrape path,
//! the JSON API and the `/topology` page ([`Reach`]).
//!
//! What goes in:
//! - every device of this exporter with its health from the last visit (`up`, `down`, or
//!   `unknown` before the first visit), its `site` label, the number of its interfaces
//!   classified `isp`, and whether a `topology.roots` selector picks it;
//! - every link of the graph (confirmed, one-sided and manual). A device that stopped
//!   answering keeps its last discovery in the inventory, so its last known neighbours
//!   still count;
//! - with `--shard.count > 1`, the targets of the other shards (`foreign`): this exporter has
//!   no health for them and cannot see their links to each other, so they enter as *possibly
//!   answering* (they may carry paths this shard cannot see). A down device next to one is
//!   therefore down in its own right, never shadowed, and a foreign device is never a cause:
//!   each shard's view is conservative. Their own state is reported as `unknown`, and only
//!   this exporter's devices are served. The fleet-wide answer is the ruler's
//!   `wardflux:device_reachability`.
//!
//! Pure: views, graph and config in, a [`Reach`] out. `App` runs it when health or
//! topology changes, never per scrape.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use wardflux_reach::{Analysis, Device, Health, Input, Link, State};

use super::config::TopologyConfig;
use super::graph::{DeviceView, Status, Topology};
use crate::inventory::escape_label;

pub const DEVICE_REACHABILITY: &str = "wardflux_device_reachability";
pub const LINK_INFO: &str = "wardflux_topology_link_info";
pub const ROOT_INFO: &str = "wardflux_topology_root_info";

/// Labels `wardflux_device_reachability` sets itself; a target label of the same name is
/// left out.
const OWN_LABELS: [&str; 3] = ["device", "state", "root"];

/// One device of this exporter, as the analysis left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReach {
    pub state: State,
    /// For a shadowed device: the nearest devices down in their own right that cut it off,
    /// by name. For an unknown device behind a down one, the same. Empty otherwise.
    pub roots: Vec<Arc<str>>,
    /// Whether a root (configured, or by default) reaches it over known links.
    pub position_known: bool,
    /// Whether the analysis took it as a root (where paths from the poller enter).
    pub is_root: bool,
    /// For a device down in its own right: how many devices are in its shadow.
    pub behind: usize,
    /// What a person should read: "down: 2 devices behind it", "in the shadow of RTR-02".
    pub cause: String,
    /// `device="..",<target labels>,state="..",root=".."` for the metric.
    #[serde(skip)]
    pub metric_labels: String,
    /// Picked by a `topology.roots` selector.
    #[serde(skip)]
    pub configured_root: bool,
    /// Label blocks of `wardflux_topology_link_info` for the manual links this device is
    /// the `a` end of.
    #[serde(skip)]
    pub manual_links: Vec<String>,
}

/// A site with ISP uplinks and whether it is cut off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteReach {
    pub name: String,
    /// Devices of the site holding its ISP uplinks.
    pub routers: Vec<Arc<str>>,
    /// Every one of them is down in its own right.
    pub isolated: bool,
    /// Devices in the shadow of those routers.
    pub cut_off: Vec<Arc<str>>,
    /// One line for a banner: "batumi cut off: BRANCH-RTR-02 down, 1 device behind it".
    pub text: String,
}

/// The prepared result of one analysis run.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// This exporter's devices, by name.
    pub devices: HashMap<Arc<str>, DeviceReach>,
    pub sites: Vec<SiteReach>,
    /// The contradictions the analysis found, as log lines.
    pub problems: Vec<String>,
    /// Devices of other shards taken into account (possibly answering).
    pub foreign: usize,
}

impl Reach {
    pub fn device(&self, name: &str) -> Option<&DeviceReach> {
        self.devices.get(name)
    }

    /// Sites cut off, by name.
    pub fn isolated(&self) -> impl Iterator<Item = &SiteReach> {
        self.sites.iter().filter(|s| s.isolated)
    }
}

fn health_of(s: Status) -> Health {
    match s {
        Status::Up => Health::Up,
        Status::Down => Health::Down,
        Status::Unknown => Health::Unknown,
    }
}

/// A target of another shard as the graph sees it: a name and an address to match
/// neighbour reports against, nothing discovered.
pub fn foreign_view(t: &crate::inventory::TargetMeta) -> DeviceView {
    DeviceView {
        name: t.name.clone(),
        address: t.address.clone(),
        labels: t.labels.clone(),
        status: Status::Unknown,
        sys_name: String::new(),
        ports: Vec::new(),
        hood: Arc::default(),
        discovered: false,
    }
}

/// The analysis input for `views` (this exporter's `own` devices first, then the foreign
/// ones) and the graph built from them.
pub fn input(views: &[DeviceView], own: usize, topo: &Topology, cfg: &TopologyConfig) -> Input {
    let devices = views
        .iter()
        .enumerate()
        .map(|(i, v)| Device {
            name: v.name.to_string(),
            site: v.labels.get("site").cloned().unwrap_or_default(),
            // Foreign devices may be answering: see the module documentation.
            health: if i < own {
                health_of(v.status)
            } else {
                Health::Up
            },
            isp_uplinks: v.ports.iter().filter(|p| p.interface_type == "isp").count() as u32,
            root: cfg.roots.iter().any(|s| s.matches(&v.name, &v.labels)),
        })
        .collect();
    let links = topo
        .edges
        .iter()
        .map(|e| Link {
            a: topo.nodes[e.source].name.to_string(),
            b: topo.nodes[e.target].name.to_string(),
        })
        .collect();
    Input { devices, links }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn push_label(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(k);
    out.push_str("=\"");
    escape_label(out, v);
    out.push('"');
}

/// Run the analysis on this exporter's view and prepare everything its readers need.
pub fn build(views: &[DeviceView], own: usize, topo: &Topology, cfg: &TopologyConfig) -> Reach {
    let input = input(views, own, topo, cfg);
    let a = wardflux_reach::analyse(&input);
    prepare(views, own, cfg, &input, &a)
}

fn prepare(
    views: &[DeviceView],
    own: usize,
    cfg: &TopologyConfig,
    input: &Input,
    a: &Analysis,
) -> Reach {
    let name = |i: usize| -> Arc<str> { views[i].name.clone() };
    let mut behind = vec![0usize; views.len()];
    for d in &a.devices {
        if d.state == State::Shadow {
            for &r in &d.roots {
                behind[r] += 1;
            }
        }
    }
    let mut manual: HashMap<&str, Vec<String>> = HashMap::new();
    for l in &cfg.links {
        let mut block = String::new();
        push_label(&mut block, "device", &l.a);
        push_label(
            &mut block,
            "if_name",
            l.a_interface.as_deref().unwrap_or(""),
        );
        push_label(&mut block, "neighbor_device", &l.b);
        push_label(
            &mut block,
            "neighbor_port",
            l.b_interface.as_deref().unwrap_or(""),
        );
        push_label(&mut block, "source", "manual");
        manual.entry(l.a.as_str()).or_default().push(block);
    }
    let mut devices = HashMap::with_capacity(own);
    for (i, v) in views.iter().enumerate().take(own) {
        let d = &a.devices[i];
        let roots: Vec<Arc<str>> = d.roots.iter().map(|&r| name(r)).collect();
        let cause = match d.state {
            State::Down if behind[i] > 0 => {
                format!("down: {} behind it", plural(behind[i], "device"))
            }
            State::Down if !d.position_known => "down (position unknown)".to_string(),
            State::Down => "down".to_string(),
            State::Shadow => format!("in the shadow of {}", roots.join(" and ")),
            State::Unknown if !roots.is_empty() => {
                format!("not polled yet, behind {}", roots.join(" and "))
            }
            State::Unknown => "not polled yet".to_string(),
            State::Up => String::new(),
        };
        let mut labels = String::new();
        push_label(&mut labels, "device", &v.name);
        for (k, val) in v.labels.iter() {
            if !OWN_LABELS.contains(&k.as_str()) {
                push_label(&mut labels, k, val);
            }
        }
        push_label(&mut labels, "state", d.state.as_str());
        push_label(&mut labels, "root", roots.first().map_or("", |r| r));
        devices.insert(
            v.name.clone(),
            DeviceReach {
                state: d.state,
                roots,
                position_known: d.position_known,
                is_root: d.is_root,
                behind: behind[i],
                cause,
                metric_labels: labels,
                configured_root: input.devices[i].root,
                manual_links: manual.remove(&*v.name).unwrap_or_default(),
            },
        );
    }
    let sites = a
        .sites
        .iter()
        // A site of foreign routers only is not this exporter's to report.
        .filter(|s| s.routers.iter().any(|&r| r < own))
        .map(|s| {
            let routers: Vec<Arc<str>> = s.routers.iter().map(|&r| name(r)).collect();
            let cut_off: Vec<Arc<str>> = s.cut_off.iter().map(|&r| name(r)).collect();
            let text = if s.isolated {
                format!(
                    "{} cut off: {} down, {} behind {}",
                    s.name,
                    routers.join(" and "),
                    plural(cut_off.len(), "device"),
                    if routers.len() == 1 { "it" } else { "them" }
                )
            } else {
                String::new()
            };
            SiteReach {
                name: s.name.clone(),
                routers,
                isolated: s.isolated,
                cut_off,
                text,
            }
        })
        .collect();
    Reach {
        devices,
        sites,
        problems: a.problems.iter().map(|p| p.to_string()).collect(),
        foreign: views.len() - own,
    }
}

/// What changed between two runs, worth one log line each: sites cut off (or cut off
/// differently) and sites back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub isolated: Vec<String>,
    pub restored: Vec<String>,
}

/// Compare two runs.
pub fn changes(old: &Reach, new: &Reach) -> Changes {
    let was_isolated: BTreeMap<&str, &SiteReach> =
        old.isolated().map(|s| (s.name.as_str(), s)).collect();
    let now_isolated: BTreeMap<&str, &SiteReach> =
        new.isolated().map(|s| (s.name.as_str(), s)).collect();
    Changes {
        isolated: now_isolated
            .iter()
            .filter(|(n, s)| was_isolated.get(*n).is_none_or(|o| o.text != s.text))
            .map(|(_, s)| s.text.clone())
            .collect(),
        restored: was_isolated
            .keys()
            .filter(|n| !now_isolated.contains_key(*n))
            .map(|n| n.to_string())
            .collect(),
    }
}

/// Append the reachability families for these devices (prepared label blocks only).
pub fn render(out: &mut String, devices: &[crate::inventory::DeviceEntry], reach: &Reach) {
    let found: Vec<&DeviceReach> = devices
        .iter()
        .filter_map(|d| reach.device(&d.target.name))
        .collect();
    if found.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP {DEVICE_REACHABILITY} Reachability of the device from this exporter's view, value always 1: state is up, down (does not answer, in its own right: the cause of an outage), shadow (does not answer because every known path to it runs through a device that is down; root names the nearest one) or unknown (not polled yet)."
    );
    let _ = writeln!(out, "# TYPE {DEVICE_REACHABILITY} gauge");
    for d in &found {
        let _ = writeln!(out, "{DEVICE_REACHABILITY}{{{}}} 1", d.metric_labels);
    }
    if found.iter().any(|d| !d.manual_links.is_empty()) {
        let _ = writeln!(
            out,
            "# HELP {LINK_INFO} A link configured by hand in topology.links (LLDP and CDP links are wardflux_lldp_neighbor_info); value always 1."
        );
        let _ = writeln!(out, "# TYPE {LINK_INFO} gauge");
        for l in found.iter().flat_map(|d| &d.manual_links) {
            let _ = writeln!(out, "{LINK_INFO}{{{l}}} 1");
        }
    }
    let roots: Vec<&str> = devices
        .iter()
        .filter(|d| {
            reach
                .device(&d.target.name)
                .is_some_and(|r| r.configured_root)
        })
        .map(|d| &*d.target.name)
        .collect();
    if !roots.is_empty() {
        let _ = writeln!(
            out,
            "# HELP {ROOT_INFO} A device configured as a topology root (topology.roots): where paths from the poller enter the network; value always 1."
        );
        let _ = writeln!(out, "# TYPE {ROOT_INFO} gauge");
        for r in roots {
            let mut l = String::new();
            push_label(&mut l, "device", r);
            let _ = writeln!(out, "{ROOT_INFO}{{{l}}} 1");
        }
    }
}

#[cfg(test)]
mod tests;
