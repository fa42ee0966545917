//! The builder: carries out a [`Plan`] on this host (namespaces, veths, addresses, routes,
//! agents), checks that no lab packet can leave the machine, makes real failures, and tears
//! everything down. Its state is a JSON file in the lab's directory, so the CLI's `up`, `cut`
//! and `down` can be separate processes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent;
use crate::description::{Description, Kind};
use crate::frr;
use crate::plan::{free_octets, used_prefixes, AccessLink, Plan, PlanNode, UNREACHABLE_METRIC};
use crate::sla;
use crate::sys;
use crate::LabError;

const STATE_FILE: &str = "lab-state.json";
/// How long an agent may take to answer after its start (snmpsim indexes a recording the
/// first time it serves it: large ones take a minute).
const AGENT_LIMIT: Duration = Duration::from_secs(300);
/// How long lldpd may take until every cabled neighbour is known.
const LLDP_LIMIT: Duration = Duration::from_secs(60);

/// What is saved between CLI calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    plan: Plan,
    /// Devices powered off.
    #[serde(default)]
    off: Vec<String>,
    /// Uplinks whose provider fails behind a live link (`DEVICE`, `PORT`).
    #[serde(default)]
    blackholed: Vec<(String, String)>,
}

/// A running lab. Dropping it tears everything down, unless [`Lab::detach`] was called (the
/// CLI's `up`); [`Lab::open`] gives a handle on a lab another process built.
pub struct Lab {
    plan: Plan,
    dir: PathBuf,
    /// Remove `dir` at teardown (a temporary directory the library chose).
    own_dir: bool,
    /// Tear down on drop.
    owned: bool,
    off: Vec<String>,
    blackholed: Vec<(String, String)>,
    children: Vec<Child>,
    torn_down: bool,
}

/// One exporter target of the lab.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    /// Agent address (UDP port 161).
    pub address: String,
    /// Key of the SNMP profile in [`Targets::auths`].
    pub auth: String,
    pub labels: BTreeMap<String, String>,
}

/// Exporter `auths` entry, the form `wardflux-exporter`'s config reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExporterAuth {
    pub version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priv_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priv_password: Option<String>,
}

/// The exporter's view of the lab: `auths` and `targets` for its config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    pub auths: BTreeMap<String, ExporterAuth>,
    pub targets: Vec<Target>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// Build `d` in a fresh temporary directory (removed at teardown).
    pub fn build(d: &Description) -> Result<Lab, LabError> {
        let dir = std::env::temp_dir().join(format!(
            "wardflux-lab-{}-{}-{}",
            d.name,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut lab = Lab::build_in(d, &dir)?;
        lab.own_dir = true;
        Ok(lab)
    }

    /// Build `d` with its state, configs and logs in `dir` (created; kept at teardown).
    pub fn build_in(d: &Description, dir: &Path) -> Result<Lab, LabError> {
        sys::require_root()?;
        for t in ["ip", "snmpd", "snmpget", "snmpset", "sysctl", "ping"] {
            sys::tool(t)?;
        }
        if d.nodes.iter().any(|n| n.lldp) {
            sys::tool("lldpd")?;
            sys::tool("lldpcli")?;
        }
        if d.nodes.iter().any(|n| n.kind == Kind::Recording) {
            sys::tool("snmpsimd")?;
            sys::snmpsim_data_dir()?;
        }
        let uplinks = || d.nodes.iter().flat_map(|n| n.uplinks.iter());
        if uplinks().any(|u| u.bgp.is_some()) {
            frr::require()?;
            sys::tool("chown")?;
        }
        if uplinks().any(|u| u.probe.is_some()) {
            sys::tool("python3")?;
        }
        if let Ok(old) = std::fs::read_to_string(dir.join(STATE_FILE)) {
            if let Ok(s) = serde_json::from_str::<State>(&old) {
                let live = sys::netns_list()?;
                if s.plan.nodes.iter().any(|n| live.contains(&n.netns)) {
                    return Err(LabError::State(format!(
                        "a lab is already up with its state in {} (wardflux-lab down --state {0})",
                        dir.display()
                    )));
                }
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| LabError::Io {
            what: dir.display().to_string(),
            message: e.to_string(),
        })?;
        // lldpd's unprivileged half reaches its sockets in here: traversable, not listable.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711));
        }
        let octet = claim_prefix()?;
        let plan = match Plan::new(d, octet) {
            Ok(p) => p,
            Err(e) => {
                let _ = release_prefix(octet);
                return Err(e.into());
            }
        };
        let mut lab = Lab {
            plan,
            dir: dir.to_path_buf(),
            own_dir: false,
            owned: true,
            off: Vec::new(),
            blackholed: Vec::new(),
            children: Vec::new(),
            torn_down: false,
        };
        // Saved first, so even a half-built lab can be torn down by `down --state`.
        lab.save()?;
        if let Err(e) = lab.create() {
            lab.teardown();
            return Err(e);
        }
        Ok(lab)
    }

    /// A handle on a lab built by another process (CLI); dropping it leaves the lab running.
    pub fn open(dir: &Path) -> Result<Lab, LabError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| LabError::Io {
            what: format!("{} (is a lab up with this --state?)", path.display()),
            message: e.to_string(),
        })?;
        let s: State = serde_json::from_str(&text)
            .map_err(|e| LabError::State(format!("{}: {e}", path.display())))?;
        Ok(Lab {
            plan: s.plan,
            dir: dir.to_path_buf(),
            own_dir: false,
            owned: false,
            off: s.off,
            blackholed: s.blackholed,
            children: Vec::new(),
            torn_down: false,
        })
    }

    /// Leave the lab running when this handle is dropped (the CLI's `up`).
    pub fn detach(mut self) {
        self.owned = false;
        // The agents keep running; their exit is reaped by init once this process is gone.
        self.children.clear();
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lab's prefix, `169.254.X.0/24`.
    pub fn prefix(&self) -> String {
        self.plan.prefix()
    }

    /// A device's agent address.
    pub fn address(&self, node: &str) -> Result<Ipv4Addr, LabError> {
        Ok(self.node(node)?.loopback)
    }

    /// A device's namespace (to run commands in it).
    pub fn netns(&self, node: &str) -> Result<&str, LabError> {
        Ok(&self.node(node)?.netns)
    }

    fn node(&self, name: &str) -> Result<&PlanNode, LabError> {
        self.plan
            .node(name)
            .ok_or_else(|| LabError::Unknown(format!("no device {name:?} in the lab")))
    }

    fn save(&self) -> Result<(), LabError> {
        let path = self.dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(&State {
            plan: self.plan.clone(),
            off: self.off.clone(),
            blackholed: self.blackholed.clone(),
        })
        .map_err(|e| LabError::State(e.to_string()))?;
        // The plan holds the agents' secrets: readable by root only.
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| LabError::Io {
                what: tmp.display().to_string(),
                message: e.to_string(),
            })?;
        f.write_all(text.as_bytes())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| LabError::Io {
                what: path.display().to_string(),
                message: e.to_string(),
            })
    }

    // ------------------------------------------------------------ build

    fn create(&mut self) -> Result<(), LabError> {
        let p = self.plan.clone();
        // Routes over a link that lost carrier are skipped, in the host and every namespace:
        // the provider's end going down fails the branch over to the other uplink.
        sys::sysctl_host("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")?;
        sys::sysctl_host("net.ipv4.conf.default.ignore_routes_with_linkdown", "1")?;
        for n in &p.nodes {
            sys::ip(&["netns", "add", &n.netns])?;
        }
        for n in &p.nodes {
            let fwd = if n.forwards { "1" } else { "0" };
            sys::sysctl_ns(
                &n.netns,
                &[
                    "net.ipv4.conf.all.ignore_routes_with_linkdown=1",
                    "net.ipv4.conf.default.ignore_routes_with_linkdown=1",
                    &format!("net.ipv4.ip_forward={fwd}"),
                ],
            )?;
        }
        // Links: from the host into namespaces (uplinks, management), and cables.
        let mut host = Vec::new();
        for a in &p.access {
            let ns = &self.node(&a.node)?.netns;
            host.push(format!(
                "link add {} type veth peer name {} netns {ns}",
                a.host_if, a.port
            ));
            host.push(format!("addr add {}/30 dev {}", a.host_addr, a.host_if));
            host.push(format!("link set {} up", a.host_if));
        }
        for (i, c) in p.cables.iter().enumerate() {
            // Made in the host under temporary names, then moved and renamed into place.
            let (ta, tb) = (format!("wl{}c{i}a", p.octet), format!("wl{}c{i}b", p.octet));
            host.push(format!("link add {ta} type veth peer name {tb}"));
            host.push(format!(
                "link set {ta} netns {} name {}",
                self.node(&c.a_node)?.netns,
                c.a_port
            ));
            host.push(format!(
                "link set {tb} netns {} name {}",
                self.node(&c.b_node)?.netns,
                c.b_port
            ));
        }
        sys::ip_batch(None, &host)?;
        for n in &p.nodes {
            let mut lines = vec![
                "link set lo up".to_string(),
                format!("addr add {}/32 dev lo", n.loopback),
            ];
            for a in p.access.iter().filter(|a| a.node == n.node.name) {
                lines.push(format!("addr add {}/30 dev {}", a.node_addr, a.port));
                lines.push(format!("link set {} up", a.port));
            }
            for c in &p.cables {
                if c.a_node == n.node.name {
                    lines.push(format!("addr add {}/30 dev {}", c.a_addr, c.a_port));
                    lines.push(format!("link set {} up", c.a_port));
                }
                if c.b_node == n.node.name {
                    lines.push(format!("addr add {}/30 dev {}", c.b_addr, c.b_port));
                    lines.push(format!("link set {} up", c.b_port));
                }
            }
            sys::ip_batch(Some(&n.netns), &lines)?;
        }
        for n in &p.nodes {
            let lines: Vec<String> = n.routes.iter().map(|r| r.args().join(" ")).collect();
            sys::ip_batch(Some(&n.netns), &lines)?;
        }
        let lines: Vec<String> = p.host_routes.iter().map(|r| r.args().join(" ")).collect();
        sys::ip_batch(None, &lines)?;
        // No packet leaves the machine: checked before any agent runs.
        self.check()?;
        self.start_agents(
            &p.nodes
                .iter()
                .map(|n| n.node.name.clone())
                .collect::<Vec<_>>(),
        )?;
        // The providers' BGP speakers, at the host ends of `bgp:` uplinks.
        for a in p.access.iter().filter(|a| a.bgp.is_some()) {
            let c = frr::spawn_provider(&p, a, &self.dir)?;
            self.children.push(c);
        }
        self.wait_lldp(LLDP_LIMIT)?;
        self.wait_bgp(AGENT_LIMIT)?;
        Ok(())
    }

    /// Wait until every BGP session over an uplink that is neither cut nor blackholed is
    /// established (bgpPeerState 6 in the router's snmpd, as bgpd reports it over AgentX).
    pub fn wait_bgp(&self, limit: Duration) -> Result<(), LabError> {
        let cut = self.cut_uplinks()?;
        let start = Instant::now();
        for a in self.plan.access.iter().filter(|a| a.bgp.is_some()) {
            if cut.contains(&a) || self.is_blackholed(a) || self.off.contains(&a.node) {
                continue;
            }
            let n = self.node(&a.node)?;
            let ok = sys::wait_until(limit.saturating_sub(start.elapsed()), || {
                agent::bgp_peer_state(n, a.host_addr) == Some(6)
            });
            if !ok {
                return Err(LabError::Agent {
                    node: a.node.clone(),
                    message: format!(
                        "the BGP session with {} over {} was not established within {limit:?}; logs in {}",
                        a.provider.as_deref().unwrap_or("the provider"),
                        a.port,
                        frr::router_dir(&self.dir, &a.node).display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Start the agents (and pings) of `names`, all at once, and wait until each answers.
    fn start_agents(&mut self, names: &[String]) -> Result<(), LabError> {
        let p = self.plan.clone();
        let nodes: Vec<&PlanNode> = p
            .nodes
            .iter()
            .filter(|n| names.contains(&n.node.name))
            .collect();
        let mut started = Vec::new();
        for n in &nodes {
            started.push(agent::spawn_agent(&p, n, &self.dir)?);
        }
        let dir = self.dir.clone();
        let results: Vec<Result<Option<Child>, LabError>> = std::thread::scope(|s| {
            let handles: Vec<_> = nodes
                .iter()
                .zip(started.iter_mut())
                .map(|(n, child)| {
                    let dir = &dir;
                    s.spawn(move || agent::finish_agent(n, dir, child, AGENT_LIMIT))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(LabError::State("agent start panicked".into())))
                })
                .collect()
        });
        self.children.extend(started);
        for r in results {
            if let Some(c) = r? {
                self.children.push(c);
            }
        }
        // zebra + bgpd of routers with `bgp:` uplinks, once their snmpd takes AgentX.
        for n in nodes.iter().filter(|n| frr::runs_bgp(&p, &n.node.name)) {
            let c = frr::spawn_router(&p, n, &self.dir)?;
            self.children.extend(c);
        }
        // snmpd starts the probe agent on the first request for its subtree: ask now, and wait
        // until every probe has a first result, so no poll ever sees a probe that never ran.
        for n in nodes.iter().filter(|n| sla::has_probes(&p, &n.node.name)) {
            agent::wait_probes(n, &sla::probes(&p, &n.node.name), &self.dir, AGENT_LIMIT)?;
        }
        // Traffic: pings from the downstream end of each cable, and from routers over uplinks.
        for a in p.access.iter().filter(|a| names.contains(&a.node)) {
            if let Some(t) = a.traffic {
                let n = self.node(&a.node)?;
                let log = agent::node_dir(&self.dir, &a.node).join("ping.log");
                let c = agent::spawn_ping(&n.netns, a.host_addr, t.interval, t.size, &log)?;
                self.children.push(c);
            }
        }
        for c in p.cables.iter().filter(|c| names.contains(&c.b_node)) {
            if let Some(t) = c.traffic {
                let n = self.node(&c.b_node)?;
                let log = agent::node_dir(&self.dir, &c.b_node).join("ping.log");
                let ch = agent::spawn_ping(&n.netns, c.a_addr, t.interval, t.size, &log)?;
                self.children.push(ch);
            }
        }
        Ok(())
    }

    /// Wait until lldpd of every device knows its neighbour on each cable to another device
    /// running lldpd (so an exporter's first discovery sees the whole topology).
    pub fn wait_lldp(&self, limit: Duration) -> Result<(), LabError> {
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &self.plan.cables {
            let (a, b) = (self.node(&c.a_node)?, self.node(&c.b_node)?);
            let on = |n: &PlanNode| n.node.lldp && !self.off.contains(&n.node.name);
            if on(a) && on(b) {
                want.entry(c.a_node.clone())
                    .or_default()
                    .push(c.b_node.clone());
                want.entry(c.b_node.clone())
                    .or_default()
                    .push(c.a_node.clone());
            }
        }
        let start = Instant::now();
        for (node, neighbours) in &want {
            let mut missing = neighbours.clone();
            let ok = sys::wait_until(limit.saturating_sub(start.elapsed()), || {
                let known = agent::lldp_neighbours(&self.dir, node);
                missing.retain(|n| !known.iter().any(|(_, k)| k == n));
                missing.is_empty()
            });
            if !ok {
                return Err(LabError::Agent {
                    node: node.clone(),
                    message: format!(
                        "lldpd did not learn {missing:?} within {limit:?}; log {}",
                        agent::node_dir(&self.dir, node).join("lldpd.log").display()
                    ),
                });
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ the check

    /// The invariant "no lab packet leaves the machine", checked on the live routing tables:
    /// every lab address goes out over a link of this lab; and for each branch, with all its
    /// uplinks down, every address of the branch is unreachable (never the host's default
    /// route). The uplinks are restored afterwards.
    pub fn check(&self) -> Result<(), LabError> {
        let p = &self.plan;
        let lab_devs = [format!("wl{}u", p.octet), format!("wl{}m", p.octet)];
        let all: Vec<(String, Ipv4Addr)> = p
            .nodes
            .iter()
            .flat_map(|n| {
                p.addresses_of(&n.node.name)
                    .into_iter()
                    .map(|a| (n.node.name.clone(), a))
            })
            .collect();
        let cut_now: Vec<&AccessLink> = self.cut_uplinks()?;
        // Uplinks that carry nothing now: cut, or their provider blackholed.
        let gone: Vec<&AccessLink> = p
            .access
            .iter()
            .filter(|a| cut_now.contains(a) || self.is_blackholed(a))
            .collect();
        for (node, a) in &all {
            let route = route_get(*a)?;
            // Agents must be reached (unless cut off); the addresses on cables between two
            // devices have no host route and hit the lab's `unreachable` route.
            let agent = p.node(node).is_some_and(|n| n.loopback == *a);
            let isolated = self.off.contains(node) || self.is_cut_off(node, &gone);
            let ok = match &route {
                RouteGet::Dev(d) => lab_devs.iter().any(|l| d.starts_with(l.as_str())),
                RouteGet::Unreachable => !agent || isolated,
                RouteGet::Other(_) => false,
            };
            if !ok {
                return Err(LabError::Check(format!(
                    "{a} ({node}) routes {route} instead of over a link of this lab"
                )));
            }
        }
        for (site, uplinks) in p.branches() {
            let down: Vec<&&AccessLink> = uplinks.iter().filter(|a| !cut_now.contains(a)).collect();
            for a in &down {
                sys::ip(&["link", "set", &a.host_if, "down"])?;
            }
            let mut bad = None;
            for n in p.nodes.iter().filter(|n| n.node.site == site) {
                for a in p.addresses_of(&n.node.name) {
                    let r = route_get(a)?;
                    if r != RouteGet::Unreachable && bad.is_none() {
                        bad = Some(format!(
                            "with every uplink of {site} down, {a} ({}) routes {r}; it must be unreachable",
                            n.node.name
                        ));
                    }
                }
            }
            for a in &down {
                self.uplink_up(a)?;
            }
            if let Some(b) = bad {
                return Err(LabError::Check(b));
            }
        }
        Ok(())
    }

    /// Uplinks whose host end is down now.
    fn cut_uplinks(&self) -> Result<Vec<&AccessLink>, LabError> {
        let out = sys::ip(&["-o", "link", "show"])?;
        Ok(self
            .plan
            .access
            .iter()
            .filter(|a| {
                out.lines().any(|l| {
                    l.split(':')
                        .nth(1)
                        .map(|n| n.trim().split('@').next() == Some(&a.host_if))
                        == Some(true)
                        && !l.contains(",UP")
                        && !l.contains("<UP")
                })
            })
            .collect())
    }

    /// Whether every access link that leads to `node` is in `cut`.
    fn is_cut_off(&self, node: &str, cut: &[&AccessLink]) -> bool {
        let Some(n) = self.plan.node(node) else {
            return false;
        };
        let loop_routes: Vec<&str> = self
            .plan
            .host_routes
            .iter()
            .filter(|r| r.dst == Some(n.loopback))
            .map(|r| r.dev.as_str())
            .collect();
        !loop_routes.is_empty()
            && loop_routes
                .iter()
                .all(|d| cut.iter().any(|a| a.host_if == *d))
    }

    // ------------------------------------------------------------ failures

    fn access(&self, node: &str, port: &str) -> Option<&AccessLink> {
        self.plan
            .access
            .iter()
            .find(|a| a.node == node && a.port == port)
    }

    /// Cut `DEVICE:PORT`: an uplink at the provider's end (the host side goes down, the
    /// router's port loses carrier), or a cable at that port.
    pub fn cut(&mut self, node: &str, port: &str) -> Result<(), LabError> {
        if let Some(a) = self.access(node, port) {
            return sys::ip(&["link", "set", &a.host_if, "down"]).map(|_| ());
        }
        let ns = self.cable_port(node, port)?;
        sys::ip_ns(&ns, &["link", "set", port, "down"]).map(|_| ())
    }

    /// Undo [`Lab::cut`]: the link comes up and its routes are put back.
    pub fn restore(&mut self, node: &str, port: &str) -> Result<(), LabError> {
        if let Some(a) = self.access(node, port).cloned() {
            return self.uplink_up(&a);
        }
        let ns = self.cable_port(node, port)?;
        sys::ip_ns(&ns, &["link", "set", port, "up"])?;
        let n = self.node(node)?.clone();
        let lines: Vec<String> = n
            .routes
            .iter()
            .filter(|r| r.dev == port)
            .map(|r| r.args().join(" "))
            .collect();
        sys::ip_batch(Some(&ns), &lines)
    }

    fn cable_port(&self, node: &str, port: &str) -> Result<String, LabError> {
        let n = self.node(node)?;
        if !n.cable_ports.iter().any(|p| p == port) {
            return Err(LabError::Unknown(format!(
                "{node} has no uplink or cable on port {port:?}"
            )));
        }
        Ok(n.netns.clone())
    }

    fn uplink_up(&self, a: &AccessLink) -> Result<(), LabError> {
        sys::ip(&["link", "set", &a.host_if, "up"])?;
        if self.is_blackholed(a) {
            // No provider address on this end: its routes come back with `unblackhole`.
            return Ok(());
        }
        // Taking a link down flushed the host's routes over it.
        let lines: Vec<String> = self
            .plan
            .host_routes
            .iter()
            .filter(|r| r.dev == a.host_if)
            .map(|r| r.args().join(" "))
            .collect();
        sys::ip_batch(None, &lines)
    }

    fn is_blackholed(&self, a: &AccessLink) -> bool {
        self.blackholed
            .iter()
            .any(|(n, p)| *n == a.node && *p == a.port)
    }

    /// Uplinks whose provider fails behind a live link now (`DEVICE`, `PORT`).
    pub fn blackholed(&self) -> &[(String, String)] {
        &self.blackholed
    }

    /// The provider behind the uplink `DEVICE:PORT` fails while the link keeps carrier: the
    /// provider's address leaves its end of the cable, so nothing beyond the handoff answers
    /// (the router's IP SLA probe over it times out, its BGP session ends after the hold time,
    /// 9 s), while the router's port stays up (ifOperStatus 1). Like the bank's WAN when a
    /// provider's network fails, traffic to and from the branch moves to its other uplinks:
    /// the host's routes over this uplink go with the address, and the router drops its default
    /// route over it (what a default route tracked by the IP SLA probe, or learnt over the BGP
    /// session, does on a real router). Undone by [`Lab::unblackhole`].
    pub fn blackhole(&mut self, node: &str, port: &str) -> Result<(), LabError> {
        let a = self.uplink_of(node, port)?;
        if self.is_blackholed(&a) {
            return Ok(());
        }
        let ns = self.node(node)?.netns.clone();
        self.blackholed.push((node.to_string(), port.to_string()));
        self.save()?;
        let _ = sys::ip_ns(
            &ns,
            &[
                "route",
                "del",
                "default",
                "via",
                &a.host_addr.to_string(),
                "dev",
                port,
            ],
        );
        sys::ip(&[
            "addr",
            "del",
            &format!("{}/30", a.host_addr),
            "dev",
            &a.host_if,
        ])?;
        Ok(())
    }

    /// Undo [`Lab::blackhole`]: the provider's address and every route over the uplink return.
    pub fn unblackhole(&mut self, node: &str, port: &str) -> Result<(), LabError> {
        let a = self.uplink_of(node, port)?;
        if !self.is_blackholed(&a) {
            return Ok(());
        }
        let n = self.node(node)?.clone();
        let out = sys::ip(&["-o", "-4", "addr", "show", "dev", &a.host_if])?;
        if !out.contains(&format!("{}/30", a.host_addr)) {
            sys::ip(&[
                "addr",
                "add",
                &format!("{}/30", a.host_addr),
                "dev",
                &a.host_if,
            ])?;
        }
        self.blackholed.retain(|(d, p)| !(d == node && p == port));
        self.save()?;
        let up = sys::ip(&["-o", "link", "show", "dev", &a.host_if])?;
        if up.contains(",UP") || up.contains("<UP") {
            self.uplink_up(&a)?;
        }
        if !self.off.contains(&n.node.name) {
            let lines: Vec<String> = n
                .routes
                .iter()
                .filter(|r| r.dev == port)
                .map(|r| r.args().join(" "))
                .collect();
            sys::ip_batch(Some(&n.netns), &lines)?;
        }
        Ok(())
    }

    fn uplink_of(&self, node: &str, port: &str) -> Result<AccessLink, LabError> {
        self.node(node)?;
        self.access(node, port)
            .filter(|a| a.provider.is_some())
            .cloned()
            .ok_or_else(|| LabError::Unknown(format!("{node} has no ISP uplink on port {port:?}")))
    }

    /// Every uplink of `provider` (case-insensitive), at `site` or everywhere: `DEVICE:PORT`s.
    pub fn provider_uplinks(&self, provider: &str, site: Option<&str>) -> Vec<(String, String)> {
        self.plan
            .access
            .iter()
            .filter(|a| {
                a.provider
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(provider))
            })
            .filter(|a| {
                site.is_none_or(|s| self.plan.node(&a.node).is_some_and(|n| n.node.site == s))
            })
            .map(|a| (a.node.clone(), a.port.clone()))
            .collect()
    }

    /// Power a device off: every process in it stops and its links go down (its neighbours
    /// see loss of carrier).
    pub fn power_off(&mut self, node: &str) -> Result<(), LabError> {
        let n = self.node(node)?.clone();
        let frr_pids = frr::pids(&self.plan, &self.dir);
        sys::stop_all_in(&n.netns, Duration::from_secs(2));
        frr::clean_var_tmp(&frr_pids);
        self.reap();
        let mut lines: Vec<String> = self
            .plan
            .access
            .iter()
            .filter(|a| a.node == node)
            .map(|a| format!("link set {} down", a.port))
            .collect();
        lines.extend(n.cable_ports.iter().map(|p| format!("link set {p} down")));
        sys::ip_batch(Some(&n.netns), &lines)?;
        if !self.off.contains(&n.node.name) {
            self.off.push(n.node.name.clone());
        }
        self.save()
    }

    /// Power a device on: links up, routes back, and its agents start afresh (sysUpTime
    /// restarts from zero).
    pub fn power_on(&mut self, node: &str) -> Result<(), LabError> {
        let n = self.node(node)?.clone();
        let mut lines: Vec<String> = self
            .plan
            .access
            .iter()
            .filter(|a| a.node == node)
            .map(|a| format!("link set {} up", a.port))
            .collect();
        lines.extend(n.cable_ports.iter().map(|p| format!("link set {p} up")));
        lines.extend(n.routes.iter().map(|r| r.args().join(" ")));
        sys::ip_batch(Some(&n.netns), &lines)?;
        let frr_pids = frr::pids(&self.plan, &self.dir);
        sys::stop_all_in(&n.netns, Duration::from_secs(2));
        frr::clean_var_tmp(&frr_pids);
        self.start_agents(std::slice::from_ref(&n.node.name))?;
        self.off.retain(|o| o != node);
        self.save()
    }

    fn reap(&mut self) {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
    }

    // ------------------------------------------------------------ targets

    /// The exporter's targets for the lab: one per device, labels `site` and `role` (and the
    /// description's own), credentials as the profiles say.
    pub fn targets(&self) -> Targets {
        let mut auths = BTreeMap::new();
        let mut targets = Vec::new();
        for n in &self.plan.nodes {
            auths
                .entry(n.node.snmp_profile.clone())
                .or_insert_with(|| exporter_auth(&n.node.snmp));
            let mut labels = n.node.labels.clone();
            labels.insert("site".into(), n.node.site.clone());
            if let Some(r) = &n.node.role {
                labels.insert("role".into(), r.clone());
            }
            targets.push(Target {
                name: n.node.name.clone(),
                address: n.loopback.to_string(),
                auth: n.node.snmp_profile.clone(),
                labels,
            });
        }
        Targets { auths, targets }
    }

    // ------------------------------------------------------------ teardown

    /// Stop every process, delete every namespace (with its links, and so the host ends) and
    /// every route the lab made. Safe to call twice; also after a half-done build.
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        let names: Vec<String> = self.plan.nodes.iter().map(|n| n.netns.clone()).collect();
        let frr_pids = frr::pids(&self.plan, &self.dir);
        frr::stop_providers(&self.plan, &self.dir, Duration::from_secs(3));
        // Stop all at once: TERM everywhere, then wait.
        let mut pids = Vec::new();
        for ns in &names {
            pids.extend(sys::netns_pids(ns));
        }
        sys::signal(&pids, "TERM");
        for c in &mut self.children {
            let _ = c.kill();
        }
        for ns in &names {
            sys::stop_all_in(ns, Duration::from_secs(2));
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        self.children.clear();
        frr::clean_var_tmp(&frr_pids);
        for ns in &names {
            let _ = sys::ip(&["netns", "del", ns]);
        }
        for a in &self.plan.access {
            let _ = sys::ip(&["link", "del", &a.host_if]);
        }
        let _ = release_prefix(self.plan.octet);
        let _ = std::fs::remove_file(self.dir.join(STATE_FILE));
        if self.own_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Namespaces, host links and routes of this lab that still exist (empty after teardown).
    pub fn leftovers(plan: &Plan) -> Vec<String> {
        let mut left = Vec::new();
        let live = sys::netns_list().unwrap_or_default();
        for n in &plan.nodes {
            if live.contains(&n.netns) {
                left.push(format!("namespace {}", n.netns));
            }
        }
        let links = sys::ip(&["-o", "link", "show"]).unwrap_or_default();
        for a in &plan.access {
            if links.contains(&format!(": {}", a.host_if)) {
                left.push(format!("link {}", a.host_if));
            }
        }
        let routes = sys::ip(&["-4", "route", "show", "table", "all"]).unwrap_or_default();
        let net = format!("169.254.{}.", plan.octet);
        for l in routes.lines().filter(|l| l.contains(&net)) {
            left.push(format!("route {l}"));
        }
        left
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            self.teardown();
        }
    }
}

fn exporter_auth(s: &crate::description::Snmp) -> ExporterAuth {
    use crate::description::Snmp;
    match s {
        Snmp::V2c { community } => ExporterAuth {
            version: 2,
            community: Some(community.clone()),
            username: None,
            security_level: None,
            auth_protocol: None,
            auth_password: None,
            priv_protocol: None,
            priv_password: None,
        },
        Snmp::V3 {
            username,
            security_level,
            auth_protocol,
            auth_password,
            priv_protocol,
            priv_password,
        } => ExporterAuth {
            version: 3,
            community: None,
            username: Some(username.clone()),
            security_level: Some(security_level.clone()),
            auth_protocol: auth_password.as_ref().map(|_| auth_protocol.clone()),
            auth_password: auth_password.clone(),
            priv_protocol: priv_password.as_ref().map(|_| priv_protocol.clone()),
            priv_password: priv_password.clone(),
        },
    }
}

/// What `ip route get` says of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteGet {
    /// Out of this device.
    Dev(String),
    /// No route to host (an `unreachable` route).
    Unreachable,
    /// Anything else (local, an error).
    Other(String),
}

impl std::fmt::Display for RouteGet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteGet::Dev(d) => write!(f, "out of {d}"),
            RouteGet::Unreachable => write!(f, "unreachable"),
            RouteGet::Other(o) => write!(f, "{o}"),
        }
    }
}

/// `ip route get ADDR` in the host.
pub fn route_get(a: Ipv4Addr) -> Result<RouteGet, LabError> {
    let out = sys::output(Command::new(sys::tool("ip")?).args(["route", "get", &a.to_string()]))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        if err.contains("No route to host") || err.contains("unreachable") {
            return Ok(RouteGet::Unreachable);
        }
        return Ok(RouteGet::Other(err.trim().to_string()));
    }
    let first = text.lines().next().unwrap_or("").to_string();
    if first.starts_with("local ") {
        return Ok(RouteGet::Other(first));
    }
    let mut w = first.split_whitespace();
    while let Some(x) = w.next() {
        if x == "dev" {
            if let Some(d) = w.next() {
                return Ok(RouteGet::Dev(d.to_string()));
            }
        }
    }
    Ok(RouteGet::Other(first))
}

/// Claim a free 169.254.X.0/24: the `unreachable` route for it is added with the metric every
/// lab uses, which fails when another lab got there first; then the next is tried.
fn claim_prefix() -> Result<u8, LabError> {
    let addrs = sys::ip(&["-o", "-4", "addr", "show"])?;
    let routes = sys::ip(&["-4", "route", "show", "table", "all"])?;
    let links = sys::ip(&["-o", "link", "show"])?;
    let spaces = sys::netns_list()?;
    let used = used_prefixes(&addrs, &routes);
    let start = (std::process::id() % 254) as u8 + 1;
    for x in free_octets(&used, start) {
        // Leftovers of a lab that was not torn down keep their prefix.
        if links.contains(&format!(": wl{x}"))
            || spaces.iter().any(|s| s.starts_with(&format!("wfl{x}-")))
        {
            continue;
        }
        let ok = sys::output(Command::new(sys::tool("ip")?).args([
            "route",
            "add",
            "unreachable",
            &format!("169.254.{x}.0/24"),
            "metric",
            &UNREACHABLE_METRIC.to_string(),
        ]))?;
        if ok.status.success() {
            return Ok(x);
        }
    }
    Err(LabError::NoFreePrefix)
}

fn release_prefix(x: u8) -> Result<(), LabError> {
    sys::ip(&[
        "route",
        "del",
        "unreachable",
        &format!("169.254.{x}.0/24"),
        "metric",
        &UNREACHABLE_METRIC.to_string(),
    ])
    .map(|_| ())
}
