//! Reachability of the network from the poller: which unreachable devices are down in their
//! own right, which are in the shadow of another, and which sites are cut off.
//!
//! Pure: no IO, no clock. Both programs call [`analyse`]: the exporter on its own view (its
//! inventory and topology), the ruler on the fleet's view read from VictoriaMetrics.
//!
//! Layout:
//! - [`Input`]: devices (name, site, health, ISP uplink count, configured root) and known
//!   links (LLDP/CDP or manual), undirected, parallel links allowed;
//! - [`analyse`] → [`Analysis`]: a [`DeviceState`] per device, in input order, the
//!   [`Site`]s with their isolation, and the [`Problem`]s found in the input.
//!
//! Definitions (the invariants the tests hold):
//! - **Roots** are where paths from the poller enter the network: the configured roots when
//!   any device is marked `root`, otherwise the devices that have ISP uplinks and the devices
//!   no known link leads to.
//! - A device's **position is known** when some root reaches it over known links. A device
//!   whose position is unknown is never shadowed.
//! - **Clear** devices are the ones the poller demonstrably reaches or may reach: every device
//!   that answers (`Up`), and everything reachable from them or from a root that is not down
//!   through devices that are not down (`Unknown` health passes: when in doubt, a device is
//!   down, not shadowed).
//! - A `Down` device is **down in its own right** when it is a root, its position is unknown,
//!   or a clear device is its neighbour. It is the cause of an outage.
//! - A `Down` device every path to which runs through a device down in its own right is **in
//!   the shadow**: its roots are the nearest causes (several when every one of its upstream
//!   paths is cut at a different device, as for a dual-homed switch whose two routers failed).
//! - A **site** is isolated when every device of the site that holds ISP uplinks is down in
//!   its own right; the devices in their shadow are cut off with it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

/// What the poller knows of a device's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Its last visit succeeded.
    Up,
    /// Its last visit failed: the device does not answer.
    Down,
    /// Not known (never visited, or polled by someone whose answer we do not have).
    Unknown,
}

/// One device as the analysis sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    /// The `site` label; empty when the device has none.
    pub site: String,
    pub health: Health,
    /// Interfaces classified as ISP uplinks.
    pub isp_uplinks: u32,
    /// Configured as a root (`topology.roots`).
    pub root: bool,
}

/// A known cable between two devices, by name. Direction carries no meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub a: String,
    pub b: String,
}

/// Everything the analysis reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub devices: Vec<Device>,
    pub links: Vec<Link>,
}

/// A device's place in an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Answers.
    Up,
    /// Does not answer, in its own right: the cause of an outage.
    Down,
    /// Does not answer because every path to it runs through a device that is down.
    Shadow,
    /// Health not known.
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Shadow => "shadow",
            State::Unknown => "unknown",
        }
    }
}

/// The analysis of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub state: State,
    /// Whether a root reaches the device over known links.
    pub position_known: bool,
    /// Whether it is a root.
    pub is_root: bool,
    /// For a shadowed device (and an unknown one behind a down device): the nearest devices
    /// down in their own right that cut it off, as indexes into `Input::devices`, sorted by
    /// name. Empty otherwise.
    pub roots: Vec<usize>,
}

/// A site and whether it is cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    /// Devices of the site that hold ISP uplinks, by index.
    pub routers: Vec<usize>,
    /// Every router of the site is down in its own right.
    pub isolated: bool,
    /// Devices in the shadow of the site's routers (any site), by index, sorted by name.
    pub cut_off: Vec<usize>,
}

/// Something in the input that contradicts itself. The analysis goes on without the
/// offending part; callers log these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A device name given twice: the first one is used.
    DuplicateDevice { name: String },
    /// A link naming a device the input does not have: ignored.
    UnknownDevice {
        link: (String, String),
        name: String,
    },
    /// A link from a device to itself: ignored.
    SelfLoop { name: String },
    /// A configured root with a single neighbour that has other neighbours: every path from
    /// the poller would enter through this leaf, which is rarely what was meant.
    RootIsLeaf { name: String },
    /// Devices no root reaches: their position is unknown and they are never shadowed.
    Unpositioned { names: Vec<String> },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::DuplicateDevice { name } => {
                write!(f, "device {name} is listed twice; the first is used")
            }
            Problem::UnknownDevice { link, name } => write!(
                f,
                "link {} - {} names unknown device {name}; the link is ignored",
                link.0, link.1
            ),
            Problem::SelfLoop { name } => {
                write!(f, "link from {name} to itself is ignored")
            }
            Problem::RootIsLeaf { name } => write!(
                f,
                "root {name} is a leaf (one neighbour, which has others); check topology.roots"
            ),
            Problem::Unpositioned { names } => {
                let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
                write!(
                    f,
                    "{} device(s) not reached from any root, never shadowed: {}{}",
                    names.len(),
                    shown.join(", "),
                    if names.len() > 10 { ", ..." } else { "" }
                )
            }
        }
    }
}

/// The result of [`analyse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// One per input device, in input order.
    pub devices: Vec<DeviceState>,
    /// Sites with at least one device holding ISP uplinks, by name. A router without a
    /// `site` label is a site of its own, named after it.
    pub sites: Vec<Site>,
    pub problems: Vec<Problem>,
}

impl Analysis {
    /// Indexes of the devices down in their own right.
    pub fn causes(&self) -> impl Iterator<Item = usize> + '_ {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.state == State::Down)
            .map(|(i, _)| i)
    }

    /// Indexes of the devices in the shadow of `cause`.
    pub fn shadow_of(&self, cause: usize) -> Vec<usize> {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.state == State::Shadow && d.roots.contains(&cause))
            .map(|(i, _)| i)
            .collect()
    }

    /// Count of devices in each state.
    pub fn counts(&self) -> BTreeMap<State, usize> {
        let mut out = BTreeMap::new();
        for d in &self.devices {
            *out.entry(d.state).or_insert(0) += 1;
        }
        out
    }
}

impl PartialOrd for State {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for State {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

/// Run the analysis. O(devices + links) apart from the union of nearest causes.
pub fn analyse(input: &Input) -> Analysis {
    let mut problems = Vec::new();
    let n = input.devices.len();

    // Names to indexes; duplicates keep the first.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    let mut dup = vec![false; n];
    for (i, d) in input.devices.iter().enumerate() {
        if index.contains_key(d.name.as_str()) {
            dup[i] = true;
            problems.push(Problem::DuplicateDevice {
                name: d.name.clone(),
            });
        } else {
            index.insert(d.name.as_str(), i);
        }
    }

    // Adjacency, without self loops and links to unknown devices; parallel links collapse.
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in &input.links {
        let (a, b) = (index.get(l.a.as_str()), index.get(l.b.as_str()));
        match (a, b) {
            (Some(&a), Some(&b)) if a == b => {
                problems.push(Problem::SelfLoop { name: l.a.clone() })
            }
            (Some(&a), Some(&b)) => {
                adj[a].push(b);
                adj[b].push(a);
            }
            _ => {
                let missing = if a.is_none() { &l.a } else { &l.b };
                problems.push(Problem::UnknownDevice {
                    link: (l.a.clone(), l.b.clone()),
                    name: missing.clone(),
                });
            }
        }
    }
    for list in &mut adj {
        list.sort_unstable();
        list.dedup();
    }

    // Roots.
    let configured = input.devices.iter().any(|d| d.root);
    let is_root: Vec<bool> = input
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            !dup[i]
                && if configured {
                    d.root
                } else {
                    d.isp_uplinks > 0 || adj[i].is_empty()
                }
        })
        .collect();
    if configured {
        for i in (0..n).filter(|&i| is_root[i]) {
            if adj[i].len() == 1 && adj[adj[i][0]].len() > 1 {
                problems.push(Problem::RootIsLeaf {
                    name: input.devices[i].name.clone(),
                });
            }
        }
    }

    // Position: reached from a root over any known link.
    let roots: Vec<usize> = (0..n).filter(|&i| is_root[i]).collect();
    let positioned = bfs(&adj, roots.iter().copied(), |_| true);
    let unpositioned: Vec<String> = (0..n)
        .filter(|&i| !positioned[i] && !dup[i])
        .map(|i| input.devices[i].name.clone())
        .collect();
    if !unpositioned.is_empty() {
        problems.push(Problem::Unpositioned {
            names: unpositioned,
        });
    }

    // Clear: from every answering device and every root not down, through devices not down.
    let health = |i: usize| input.devices[i].health;
    let sources = (0..n).filter(|&i| {
        !dup[i] && (health(i) == Health::Up || (is_root[i] && health(i) != Health::Down))
    });
    let clear = bfs(&adj, sources, |i| !dup[i] && health(i) != Health::Down);

    // Causes: down devices that are roots, unpositioned, or next to a clear device.
    let mut state: Vec<DeviceState> = (0..n)
        .map(|i| DeviceState {
            state: match health(i) {
                Health::Up => State::Up,
                Health::Down => State::Down,
                Health::Unknown => State::Unknown,
            },
            position_known: positioned[i],
            is_root: is_root[i],
            roots: Vec::new(),
        })
        .collect();
    let is_cause = |i: usize| {
        health(i) == Health::Down
            && (dup[i] || is_root[i] || !positioned[i] || adj[i].iter().any(|&j| clear[j]))
    };
    let causes: Vec<usize> = (0..n).filter(|&i| is_cause(i)).collect();

    // Nearest causes of everything not clear: multi-source BFS through devices not clear,
    // each device keeping the causes at its smallest distance.
    let mut dist = vec![usize::MAX; n];
    let mut near: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut queue = VecDeque::new();
    for &c in &causes {
        dist[c] = 0;
        near[c] = vec![c];
        queue.push_back(c);
    }
    while let Some(v) = queue.pop_front() {
        for &w in &adj[v] {
            if clear[w] || dup[w] || is_cause(w) {
                continue;
            }
            if dist[w] == usize::MAX {
                dist[w] = dist[v] + 1;
                queue.push_back(w);
            }
            if dist[w] == dist[v] + 1 {
                let add = near[v].clone();
                near[w].extend(add);
                near[w].sort_unstable();
                near[w].dedup();
            }
        }
    }
    for i in 0..n {
        if is_cause(i) || clear[i] || dup[i] || !positioned[i] {
            continue;
        }
        let mut r = std::mem::take(&mut near[i]);
        r.sort_by(|&a, &b| input.devices[a].name.cmp(&input.devices[b].name));
        match health(i) {
            // Every path runs through a cause; an unreached down device (impossible when the
            // graph is consistent) stays down: never hide a down device.
            Health::Down if !r.is_empty() => {
                state[i].state = State::Shadow;
                state[i].roots = r;
            }
            Health::Unknown => state[i].roots = r,
            _ => {}
        }
    }

    let sites = sites(input, &state, &dup);
    Analysis {
        devices: state,
        sites,
        problems,
    }
}

/// Breadth-first search from `sources`, entering only nodes `pass` accepts (sources are
/// always marked).
fn bfs(
    adj: &[Vec<usize>],
    sources: impl Iterator<Item = usize>,
    pass: impl Fn(usize) -> bool,
) -> Vec<bool> {
    let mut seen = vec![false; adj.len()];
    let mut queue = VecDeque::new();
    for s in sources {
        if !seen[s] {
            seen[s] = true;
            queue.push_back(s);
        }
    }
    while let Some(v) = queue.pop_front() {
        for &w in &adj[v] {
            if !seen[w] && pass(w) {
                seen[w] = true;
                queue.push_back(w);
            }
        }
    }
    seen
}

fn sites(input: &Input, state: &[DeviceState], dup: &[bool]) -> Vec<Site> {
    let mut by_site: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, d) in input.devices.iter().enumerate() {
        if d.isp_uplinks > 0 && !dup[i] {
            let site = if d.site.is_empty() { &d.name } else { &d.site };
            by_site.entry(site.clone()).or_default().push(i);
        }
    }
    by_site
        .into_iter()
        .map(|(name, routers)| {
            let isolated = routers.iter().all(|&r| state[r].state == State::Down);
            let mut cut_off: Vec<usize> = (0..state.len())
                .filter(|&i| {
                    state[i].state == State::Shadow
                        && state[i].roots.iter().any(|r| routers.contains(r))
                })
                .collect();
            cut_off.sort_by(|&a, &b| input.devices[a].name.cmp(&input.devices[b].name));
            Site {
                name,
                routers,
                isolated,
                cut_off,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
