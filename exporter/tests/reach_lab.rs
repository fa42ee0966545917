//! Reachability against real agents, on branches wired as the bank's are: the host reaches
//! each branch router only over its ISP uplinks (veths whose host end is the provider's), and
//! the switches behind the routers only through them. Each device is a network namespace with
//! net-snmp snmpd on a loopback address; the LLDP sites run lldpd as an AgentX sub-agent.
//!
//! ```text
//!            host (exporter)
//!   u0 Magti  u1 Silknet   u2 Magti      u3 Silknet    u4 Magti
//!      \      /               |             |             |
//!     BR1-RTR (batumi)   BR2-RTR-A    BR2-RTR-B     BR3-RTR (gori, no LLDP)
//!        |  LLDP              \   LLDP  /              |  topology.links
//!     BR1-SW                  BR2-SW (kutaisi)      BR3-SW
//! ```
//!
//! Addresses come from one free 169.254.X.0/24 (uplinks, cables, loopbacks); an unreachable
//! route covers it, so with every uplink of a branch down its packets stop on this host.
//! Failures are real: the provider's (host) end of an uplink goes down, which takes the
//! host's routes over it away.
//!
//! Kept small and local on purpose: the lab description and builder of `tools/lab` will
//! replace the wiring code here.
//!
//! Needs root and the Debian packages snmpd, snmp, lldpd, iproute2, procps (sysctl); the page
//! test also chromium, nodejs and the npm package playwright-core (`npm ci` in
//! `exporter/tests/topology_page/`). It keeps its screenshot in its scratch directory,
//! `<target>/tmp/reach-page-<pid>/topology-outage.png`.

mod common;

/// Network namespaces, veth cables and snmpd, by hand: what this test wires itself until it
/// moves onto wardflux-lab (the other exporter tests build their agents with it).
mod netns {
    use super::common::{next_seq, require_tool, run, snmp_get_v2c, wait_for, Proc};
    use std::net::Ipv4Addr;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    /// The tests create network namespaces and run agents as root.
    pub fn require_root() {
        let out = Command::new("id").arg("-u").output().expect("run id -u");
        let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            uid, "0",
            "this test creates network namespaces and must run as root (CI runs as root)"
        );
    }

    /// A network namespace with a unique name, deleted on drop (with the links inside it, which
    /// also removes their veth peers in other namespaces).
    pub struct Netns {
        pub name: String,
        procs: Vec<Proc>,
    }

    impl Netns {
        pub fn new(tag: &str) -> Netns {
            require_root();
            let ip = require_tool("ip");
            let name = format!("wfx-{tag}-{}-{}", std::process::id(), next_seq());
            let _ = Command::new(&ip).args(["netns", "del", &name]).output();
            run(Command::new(&ip).args(["netns", "add", &name]));
            run(Command::new(&ip).args(["-n", &name, "link", "set", "lo", "up"]));
            Netns {
                name,
                procs: Vec::new(),
            }
        }

        /// `ip -n NS args...`
        pub fn ip(&self, args: &[&str]) -> String {
            run(Command::new(require_tool("ip"))
                .arg("-n")
                .arg(&self.name)
                .args(args))
        }

        /// A command run inside the namespace.
        pub fn cmd(&self, program: &str) -> Command {
            let mut c = Command::new(require_tool("ip"));
            c.args(["netns", "exec", &self.name])
                .arg(require_tool(program));
            c
        }

        /// Start a long-running process in the namespace; it is killed before the namespace goes.
        pub fn spawn(&mut self, name: &str, mut cmd: Command) -> u32 {
            let p = Proc::spawn(name, &mut cmd);
            let pid = p.pid();
            self.procs.push(p);
            pid
        }

        pub fn assert_running(&mut self) {
            for p in &mut self.procs {
                p.assert_running();
            }
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            self.procs.clear();
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }

    /// A veth cable between two namespaces: `a` in `ns_a`, `b` in `ns_b`, both up.
    pub fn veth(ns_a: &Netns, a: &str, ns_b: &Netns, b: &str) {
        run(Command::new(require_tool("ip")).args([
            "link", "add", a, "netns", &ns_a.name, "type", "veth", "peer", "name", b, "netns",
            &ns_b.name,
        ]));
        ns_a.ip(&["link", "set", a, "up"]);
        ns_b.ip(&["link", "set", b, "up"]);
    }

    /// net-snmp snmpd inside `ns`, listening on 127.0.0.1 (for snmpset inside) and on `mgmt`
    /// (for the exporter on the host), with `public`/`private` communities and optional extra
    /// config lines (e.g. an SNMPv3 user). Returns the agent address as seen from the host.
    pub fn start_snmpd(ns: &mut Netns, mgmt: Ipv4Addr, dir: &Path, extra: &str) -> String {
        let conf = dir.join(format!("snmpd-{}.conf", ns.name));
        let persist = dir.join(format!("snmpd-{}-state", ns.name));
        std::fs::create_dir_all(&persist).expect("snmpd state dir");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:127.0.0.1:161,udp:{mgmt}:161\n\
                 rocommunity public\n\
                 rwcommunity private 127.0.0.1\n\
                 {extra}\n"
            ),
        )
        .expect("write snmpd.conf");
        let mut cmd = ns.cmd("snmpd");
        cmd.args(["-f", "-C", "-c"])
            .arg(&conf)
            .arg("-Lf")
            .arg(dir.join(format!("snmpd-{}.log", ns.name)))
            .env("SNMP_PERSISTENT_DIR", &persist)
            .arg("-p")
            .arg(dir.join(format!("snmpd-{}.pid", ns.name)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        ns.spawn("snmpd", cmd);
        let addr = format!("{mgmt}:161");
        wait_for("snmpd to answer", Duration::from_secs(30), || {
            ns.assert_running();
            snmp_get_v2c(&addr, "public", "1.3.6.1.2.1.1.3.0").ok()
        });
        addr
    }

    /// ifIndex of the interface named `ifname` in the namespace, as snmpd numbers it (the kernel's).
    pub fn if_index(ns: &Netns, ifname: &str) -> u32 {
        let out = ns.ip(&["-o", "link", "show", "dev", ifname]);
        out.split(':')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no ifindex for {ifname} in {}: {out}", ns.name))
    }

    /// Set ifAlias of an interface through the agent's write community, from inside the namespace.
    pub fn set_if_alias(ns: &Netns, if_index: u32, alias: &str) {
        run(ns.cmd("snmpset").args([
            "-v2c",
            "-c",
            "private",
            "127.0.0.1",
            &format!("1.3.6.1.2.1.31.1.1.1.18.{if_index}"),
            "s",
            alias,
        ]));
    }
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{find_sample, next_seq, require_tool, run, scratch, wait_for, Exporter};
use netns::{if_index, set_if_alias, start_snmpd, veth, Netns};

/// A lab device.
struct Node {
    name: &'static str,
    site: &'static str,
    ns: Netns,
    /// Its agent's (loopback) address.
    addr: String,
}

/// An ISP uplink: the host end (the provider's) and the router end.
struct Uplink {
    host_if: String,
    router: usize,
    router_addr: String,
}

/// A host route the lab owns: destination, gateway, host interface, metric.
struct Route {
    dest: String,
    via: String,
    dev: String,
    metric: u32,
}

struct Lab {
    dir: PathBuf,
    prefix: String,
    nodes: Vec<Node>,
    uplinks: Vec<Uplink>,
    routes: Vec<Route>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The /32 routes go with their host interfaces (deleted with the namespaces).
        let _ = Command::new("ip")
            .args([
                "route",
                "del",
                "unreachable",
                &format!("{}.0/24", self.prefix),
            ])
            .output();
        for r in &self.routes {
            let _ = Command::new("ip")
                .args(["route", "del", &r.dest, "via", &r.via, "dev", &r.dev])
                .output();
        }
    }
}

/// A 169.254.X.0/24 no address or route of this host uses yet.
fn free_prefix() -> String {
    let addrs = run(Command::new(require_tool("ip")).args(["-o", "-4", "addr", "show"]));
    let routes =
        run(Command::new(require_tool("ip")).args(["-4", "route", "show", "table", "all"]));
    let seed = std::process::id()
        .wrapping_mul(2654435761)
        .wrapping_add(next_seq() * 31);
    for i in 0..150u32 {
        let third = 100 + (seed.wrapping_add(i) % 150);
        let p = format!("169.254.{third}.");
        if !addrs.contains(&p) && !routes.contains(&p) {
            return format!("169.254.{third}");
        }
    }
    panic!("no free 169.254.X.0/24 for the lab");
}

fn sysctl(ns: &Netns, kv: &str) {
    run(ns.cmd("sysctl").args(["-q", "-w", kv]));
}

impl Lab {
    fn node(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no lab node {name}"))
    }

    /// (Re)install every host route of the lab (a host interface taken down loses its
    /// routes; bringing it back does not restore them).
    fn install_routes(&self) {
        for r in &self.routes {
            let up = run(Command::new("ip").args(["-o", "link", "show", "dev", &r.dev]));
            if up.contains("state UP") || up.contains(",UP") {
                run(Command::new("ip").args([
                    "route",
                    "replace",
                    &r.dest,
                    "via",
                    &r.via,
                    "dev",
                    &r.dev,
                    "metric",
                    &r.metric.to_string(),
                ]));
            }
        }
    }

    /// Take the provider's end of an uplink down (or back up).
    fn set_uplink(&self, k: usize, up: bool) {
        run(Command::new("ip").args([
            "link",
            "set",
            &self.uplinks[k].host_if,
            if up { "up" } else { "down" },
        ]));
        if up {
            let u = &self.uplinks[k];
            // The connected route comes back with the link; give it a moment to carry.
            wait_for("the uplink to carry again", Duration::from_secs(10), || {
                let o = run(Command::new("ip").args(["-o", "link", "show", "dev", &u.host_if]));
                (!o.contains("NO-CARRIER")).then_some(())
            });
            self.install_routes();
        }
    }
}

/// Build the lab and wait until the LLDP agents show their neighbours.
fn build(dir: &Path) -> Lab {
    for t in [
        "ip",
        "snmpd",
        "snmpget",
        "snmpset",
        "snmpbulkwalk",
        "lldpd",
        "sysctl",
    ] {
        require_tool(t);
    }
    let prefix = free_prefix();
    let tag = format!("r{}", std::process::id() % 10_000);
    // name, site, namespace tag, runs lldpd
    let spec: [(&str, &str, &str, bool); 7] = [
        ("BR1-RTR", "batumi", "b1r", true),
        ("BR1-SW", "batumi", "b1s", true),
        ("BR2-RTR-A", "kutaisi", "b2a", true),
        ("BR2-RTR-B", "kutaisi", "b2b", true),
        ("BR2-SW", "kutaisi", "b2s", true),
        ("BR3-RTR", "gori", "b3r", false),
        ("BR3-SW", "gori", "b3s", false),
    ];
    let mut nodes: Vec<Node> = spec
        .iter()
        .enumerate()
        .map(|(i, &(name, site, t, _))| Node {
            name,
            site,
            ns: Netns::new(t),
            addr: format!("{prefix}.{}", 200 + i),
        })
        .collect();
    let idx = |name: &str| spec.iter().position(|s| s.0 == name).unwrap();
    for n in &nodes {
        n.ns.ip(&["addr", "add", &format!("{}/32", n.addr), "dev", "lo"]);
        for kv in [
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.ignore_routes_with_linkdown=1",
            "net.ipv4.conf.default.ignore_routes_with_linkdown=1",
        ] {
            sysctl(&n.ns, kv);
        }
    }

    // Uplinks: (router, alias, metric of the host's route to it).
    let up_spec = [
        ("BR1-RTR", "Magti_Internet", 10),
        ("BR1-RTR", "Silknet_Internet", 20),
        ("BR2-RTR-A", "Magti_Internet", 10),
        ("BR2-RTR-B", "Silknet_Internet", 10),
        ("BR3-RTR", "Magti_Internet", 10),
    ];
    let mut uplinks = Vec::new();
    let mut routes = Vec::new();
    let mut aliases = Vec::new();
    for (k, &(router, alias, metric)) in up_spec.iter().enumerate() {
        let r = idx(router);
        let host_if = format!("{tag}u{k}x{}", next_seq());
        let inner = format!("isp{k}");
        let (h, a) = (
            format!("{prefix}.{}", 4 * k + 1),
            format!("{prefix}.{}", 4 * k + 2),
        );
        run(Command::new("ip").args([
            "link",
            "add",
            &host_if,
            "type",
            "veth",
            "peer",
            "name",
            &inner,
            "netns",
            &nodes[r].ns.name,
        ]));
        run(Command::new("ip").args(["addr", "add", &format!("{h}/30"), "dev", &host_if]));
        run(Command::new("ip").args(["link", "set", &host_if, "up"]));
        nodes[r]
            .ns
            .ip(&["addr", "add", &format!("{a}/30"), "dev", &inner]);
        nodes[r].ns.ip(&["link", "set", &inner, "up"]);
        nodes[r].ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &h,
            "metric",
            &metric.to_string(),
        ]);
        routes.push(Route {
            dest: format!("{}/32", nodes[r].addr),
            via: a.clone(),
            dev: host_if.clone(),
            metric,
        });
        aliases.push((r, inner, alias));
        uplinks.push(Uplink {
            host_if,
            router: r,
            router_addr: a,
        });
    }

    // Cables behind the routers: (router, its port, switch, its port, metric on the switch).
    let cables = [
        ("BR1-RTR", "r1-sw", "BR1-SW", "sw1-rtr", 10),
        ("BR2-RTR-A", "ra-sw", "BR2-SW", "sw2-ra", 10),
        ("BR2-RTR-B", "rb-sw", "BR2-SW", "sw2-rb", 20),
        ("BR3-RTR", "r3-sw", "BR3-SW", "sw3-rtr", 10),
    ];
    for (j, &(rn, rp, sn, sp, metric)) in cables.iter().enumerate() {
        let (r, s) = (idx(rn), idx(sn));
        veth(&nodes[r].ns, rp, &nodes[s].ns, sp);
        let (ra, sa) = (
            format!("{prefix}.{}", 64 + 4 * j + 1),
            format!("{prefix}.{}", 64 + 4 * j + 2),
        );
        nodes[r]
            .ns
            .ip(&["addr", "add", &format!("{ra}/30"), "dev", rp]);
        nodes[s]
            .ns
            .ip(&["addr", "add", &format!("{sa}/30"), "dev", sp]);
        let s_addr = nodes[s].addr.clone();
        nodes[r]
            .ns
            .ip(&["route", "add", &format!("{s_addr}/32"), "via", &sa]);
        nodes[s].ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &ra,
            "metric",
            &metric.to_string(),
        ]);
        // The host reaches the switch over its router's uplinks, the router's metrics plus
        // this cable's.
        for u in uplinks.iter().filter(|u| u.router == r) {
            let base = routes
                .iter()
                .find(|x: &&Route| x.dev == u.host_if)
                .map(|x| x.metric)
                .unwrap_or(10);
            routes.push(Route {
                dest: format!("{s_addr}/32"),
                via: u.router_addr.clone(),
                dev: u.host_if.clone(),
                metric: base + metric,
            });
        }
    }
    let lab_dir = dir.to_path_buf();
    let mut lab = Lab {
        dir: lab_dir,
        prefix: prefix.clone(),
        nodes: Vec::new(),
        uplinks,
        routes,
    };
    // The guard owns the routes from here on; then the namespaces.
    run(Command::new("ip").args([
        "route",
        "add",
        "unreachable",
        &format!("{prefix}.0/24"),
        "metric",
        "4000",
    ]));
    lab.install_routes();

    // Agents: snmpd on the loopback address (an AgentX master for lldpd), lldpd on cables.
    for (i, n) in nodes.iter_mut().enumerate() {
        let sock = dir.join(format!("agentx-{i}.sock"));
        let addr = n.addr.parse().unwrap();
        start_snmpd(
            &mut n.ns,
            addr,
            dir,
            &format!("master agentx\nagentXSocket {}", sock.display()),
        );
        if !spec[i].3 {
            continue;
        }
        wait_for("snmpd agentx socket", Duration::from_secs(15), || {
            sock.exists().then_some(())
        });
        let ports: Vec<&str> = cables
            .iter()
            .filter_map(|c| {
                if c.0 == n.name {
                    Some(c.1)
                } else if c.2 == n.name {
                    Some(c.3)
                } else {
                    None
                }
            })
            .collect();
        let conf = dir.join(format!("lldpd-{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "configure system hostname {}\nconfigure lldp tx-interval 1\n",
                n.name
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("lldpd-{i}.log"))).unwrap();
        let mut cmd = n.ns.cmd("lldpd");
        cmd.args(["-d", "-x", "-X"])
            .arg(&sock)
            .arg("-u")
            .arg(dir.join(format!("lldpd-{i}.sock")))
            .arg("-O")
            .arg(&conf)
            .args(["-I", &ports.join(",")])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        n.ns.spawn("lldpd", cmd);
    }
    for (r, inner, alias) in aliases {
        set_if_alias(&nodes[r].ns, if_index(&nodes[r].ns, &inner), alias);
    }
    // Every LLDP device's agent names its neighbours.
    for (i, n) in nodes.iter().enumerate().filter(|(i, _)| spec[*i].3) {
        let want: Vec<&str> = cables
            .iter()
            .filter_map(|c| {
                if c.0 == n.name {
                    Some(c.2)
                } else if c.2 == n.name {
                    Some(c.0)
                } else {
                    None
                }
            })
            .collect();
        let addr = format!("{}:161", n.addr);
        wait_for(
            &format!("LLDP neighbours of {}", spec[i].0),
            Duration::from_secs(90),
            || {
                let out = Command::new(require_tool("snmpbulkwalk"))
                    .args(["-v2c", "-c", "public", "-Oqv", "-t", "1", "-r", "1", &addr])
                    .arg("1.0.8802.1.1.2.1.4.1.1.9")
                    .output()
                    .ok()?;
                let names = String::from_utf8_lossy(&out.stdout).into_owned();
                want.iter().all(|w| names.contains(w)).then_some(())
            },
        );
    }
    lab.nodes = nodes;
    lab
}

fn config(lab: &Lab) -> String {
    let mut cfg = String::from(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  lab: {version: 2, community: public}\ntargets:\n",
    );
    for n in &lab.nodes {
        cfg.push_str(&format!(
            "  - {{name: {}, address: \"{}:161\", auth: lab, labels: {{site: {}}}}}\n",
            n.name, n.addr, n.site
        ));
    }
    // gori has no LLDP: its cable is known from the config alone.
    cfg.push_str(
        "topology:\n  links:\n    - {a: BR3-RTR, a_interface: r3-sw, b: BR3-SW, b_interface: sw3-rtr}\n",
    );
    cfg
}

/// Every device's reachability from `/api/v1/devices`: name -> (state, roots).
fn states(exp: &Exporter) -> BTreeMap<String, (String, Vec<String>)> {
    exp.devices()
        .iter()
        .map(|d| {
            let r = &d["reachability"];
            (
                d["name"].as_str().unwrap_or("").to_string(),
                (
                    r["state"].as_str().unwrap_or("").to_string(),
                    r["roots"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().unwrap_or("").to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn st(state: &str, roots: &[&str]) -> (String, Vec<String>) {
    (
        state.to_string(),
        roots.iter().map(|r| r.to_string()).collect(),
    )
}

/// Wait until `/api/v1/devices` shows every `want`ed state.
fn wait_states(exp: &Exporter, what: &str, want: &[(&str, (String, Vec<String>))]) {
    wait_for(what, Duration::from_secs(60), || {
        let now = states(exp);
        want.iter()
            .all(|(n, s)| now.get(*n) == Some(s))
            .then_some(())
    });
}

/// The metric agrees: `wardflux_device_reachability` of `device` has this state and root.
fn assert_metric(exp: &Exporter, device: &str, state: &str, root: &str) {
    let m = exp.metrics();
    let s = find_sample(&m, "wardflux_device_reachability", &[("device", device)])
        .unwrap_or_else(|| panic!("no wardflux_device_reachability for {device}"));
    assert_eq!(
        (s.label("state"), s.label("root"), s.value.as_str()),
        (state, root, "1"),
        "{device}: {s:?}"
    );
    assert_eq!(
        m.iter()
            .filter(|x| x.name == "wardflux_device_reachability" && x.label("device") == device)
            .count(),
        1,
        "one series per device"
    );
}

#[test]
fn branches_behind_isp_uplinks_shadow_their_switches_when_cut_and_come_back() {
    let dir = scratch("reach-lab");
    let lab = build(&dir);
    let cfg = config(&lab);
    std::fs::write(lab.dir.join("exporter.yml"), &cfg).unwrap();
    let mut exp = Exporter::start(&cfg, &[]);
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name).collect();
    exp.wait_devices_up(&names, Duration::from_secs(60));
    let all_up: Vec<(&str, (String, Vec<String>))> =
        names.iter().map(|n| (*n, st("up", &[]))).collect();
    wait_states(&exp, "every device up", &all_up);
    assert_metric(&exp, "BR1-SW", "up", "");
    // Manual link and its info series; no roots configured, so no root info.
    let m = exp.metrics();
    let l = find_sample(&m, "wardflux_topology_link_info", &[("device", "BR3-RTR")])
        .expect("manual link info");
    assert_eq!(
        (
            l.label("if_name"),
            l.label("neighbor_device"),
            l.label("neighbor_port"),
            l.label("source")
        ),
        ("r3-sw", "BR3-SW", "sw3-rtr", "manual")
    );
    assert!(m.iter().all(|s| s.name != "wardflux_topology_root_info"));

    // Two shards on the same lab, started while everything answers (so they know the
    // topology): during the cut neither may claim a shadow it cannot see.
    let shards: Vec<Exporter> = (0..2)
        .map(|i| {
            Exporter::start_with_args(
                &cfg,
                &[],
                &["--shard.count", "2", "--shard.index", &i.to_string()],
            )
        })
        .collect();
    let owner: BTreeMap<String, usize> = wait_for(
        "both shards to see their devices up",
        Duration::from_secs(60),
        || {
            let mut o = BTreeMap::new();
            for (i, s) in shards.iter().enumerate() {
                for (name, (state, _)) in states(s) {
                    if state != "up" {
                        return None;
                    }
                    o.insert(name, i);
                }
            }
            (o.len() == lab.nodes.len()).then_some(o)
        },
    );

    // batumi loses both providers: the router is down, the switch in its shadow.
    lab.set_uplink(0, false);
    lab.set_uplink(1, false);
    // No packet for the lab leaves the machine: the unreachable route catches it.
    let get = Command::new("ip")
        .args(["route", "get", &lab.nodes[lab.node("BR1-SW")].addr])
        .output()
        .expect("ip route get");
    let said = String::from_utf8_lossy(&get.stderr);
    assert!(
        !get.status.success() && said.contains("No route to host"),
        "the unreachable route must catch the lab's packets: {said}"
    );
    wait_states(
        &exp,
        "batumi cut off",
        &[
            ("BR1-RTR", st("down", &[])),
            ("BR1-SW", st("shadow", &["BR1-RTR"])),
            ("BR2-SW", st("up", &[])),
        ],
    );
    assert_metric(&exp, "BR1-RTR", "down", "");
    assert_metric(&exp, "BR1-SW", "shadow", "BR1-RTR");
    let t = exp.json("/api/v1/topology");
    let batumi = t["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "batumi")
        .expect("site batumi");
    assert_eq!(batumi["isolated"], true, "{batumi}");
    assert_eq!(batumi["cut_off"], serde_json::json!(["BR1-SW"]));
    assert_eq!(
        batumi["text"],
        "batumi cut off: BR1-RTR down, 1 device behind it"
    );
    let node = |name: &str| {
        t["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(node("BR1-RTR")["cause"], "down: 1 device behind it");
    assert_eq!(node("BR1-SW")["roots"], serde_json::json!(["BR1-RTR"]));
    // One warning line says it, not one per scrape or per visit.
    let said = |log: &str| {
        log.lines()
            .filter(|l| l.contains("batumi cut off: BR1-RTR down, 1 device behind it"))
            .count()
    };
    exp.wait_next_full_poll("BR1-SW", Duration::from_secs(30));
    assert_eq!(said(&exp.log()), 1, "{}", exp.log());

    // Each shard: the router down where it is polled; the switch in its shadow only on the
    // shard that also polls the router, else down in its own right.
    let same = owner["BR1-RTR"] == owner["BR1-SW"];
    wait_states(
        &shards[owner["BR1-RTR"]],
        "the router down on its shard",
        &[("BR1-RTR", st("down", &[]))],
    );
    let want_sw = if same {
        st("shadow", &["BR1-RTR"])
    } else {
        st("down", &[])
    };
    wait_states(
        &shards[owner["BR1-SW"]],
        "the switch on its shard",
        &[("BR1-SW", want_sw)],
    );
    for (i, s) in shards.iter().enumerate() {
        for (name, (state, roots)) in states(s) {
            if state == "shadow" {
                assert!(
                    roots.iter().all(|r| owner[r] == i),
                    "shard {i}: {name} shadowed by {roots:?} of another shard"
                );
                assert_eq!(name, "BR1-SW", "shard {i}: {name} is not behind a cut");
            }
        }
    }
    drop(shards);

    // batumi comes back: both up.
    lab.set_uplink(0, true);
    lab.set_uplink(1, true);
    wait_states(
        &exp,
        "batumi back",
        &[("BR1-RTR", st("up", &[])), ("BR1-SW", st("up", &[]))],
    );
    assert_metric(&exp, "BR1-SW", "up", "");
    let log = exp.log();
    assert_eq!(said(&log), 1);
    assert!(
        log.lines()
            .any(|l| l.contains("site reachable again") && l.contains("batumi")),
        "{log}"
    );

    // kutaisi's switch hangs off two routers: one cut is no shadow.
    lab.set_uplink(2, false);
    wait_states(
        &exp,
        "BR2-RTR-A down",
        &[("BR2-RTR-A", st("down", &[])), ("BR2-RTR-B", st("up", &[]))],
    );
    // Let the switch's visits settle after the cut, then: up (reached over B) or down in its
    // own right (its replies still leave over A), never in A's shadow.
    exp.wait_next_full_poll("BR2-SW", Duration::from_secs(30));
    let (sw2, roots) = states(&exp)["BR2-SW"].clone();
    assert!(
        sw2 == "up" || (sw2 == "down" && roots.is_empty()),
        "{sw2} {roots:?}"
    );
    // Both routers cut: the switch is in the shadow of both.
    lab.set_uplink(3, false);
    wait_states(
        &exp,
        "kutaisi cut off",
        &[
            ("BR2-RTR-A", st("down", &[])),
            ("BR2-RTR-B", st("down", &[])),
            ("BR2-SW", st("shadow", &["BR2-RTR-A", "BR2-RTR-B"])),
        ],
    );
    assert_metric(&exp, "BR2-SW", "shadow", "BR2-RTR-A");

    // gori has no LLDP: the manual link alone puts its switch behind its router.
    lab.set_uplink(4, false);
    wait_states(
        &exp,
        "gori cut off",
        &[
            ("BR3-RTR", st("down", &[])),
            ("BR3-SW", st("shadow", &["BR3-RTR"])),
        ],
    );
    for k in 2..5 {
        lab.set_uplink(k, true);
    }
    wait_states(&exp, "every device up again", &all_up);
    exp.assert_running();
}

#[test]
fn page_shows_the_cut_off_site_its_cause_in_red_and_the_shadow_greyed() {
    let node = require_tool("node");
    require_tool("chromium");
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topology_page");
    assert!(
        script_dir.join("node_modules/playwright-core").is_dir(),
        "npm package playwright-core is missing: run `npm ci` in {} (./wardflux test does)",
        script_dir.display()
    );
    let dir = scratch("reach-page");
    let lab = build(&dir);
    let cfg = config(&lab);
    let mut exp = Exporter::start(&cfg, &[]);
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name).collect();
    exp.wait_devices_up(&names, Duration::from_secs(60));
    lab.set_uplink(0, false);
    lab.set_uplink(1, false);
    wait_states(
        &exp,
        "batumi cut off",
        &[
            ("BR1-RTR", st("down", &[])),
            ("BR1-SW", st("shadow", &["BR1-RTR"])),
        ],
    );
    // The screenshot stays in the test's scratch directory for a person to look at.
    let shot = dir.join("topology-outage.png");
    let out = Command::new(node)
        .current_dir(&script_dir)
        .arg("outage_test.mjs")
        .arg(format!("http://{}", exp.addr))
        .arg(&shot)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "page test failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("outage-result.json"), stdout.as_bytes()).unwrap();
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).expect("page result JSON");
    // Isolated sites at a glance.
    assert_eq!(r["banner_visible"], true);
    assert_eq!(
        r["banner_sites"],
        serde_json::json!(["batumi cut off: BR1-RTR down, 1 device behind it"])
    );
    // The cause in red with its cause text.
    let rtr = &r["nodes"]["BR1-RTR"];
    assert_eq!(rtr["state"], "down", "{rtr}");
    assert!(rtr["classes"]
        .as_array()
        .unwrap()
        .contains(&"rs-down".into()));
    assert_eq!(rtr["fill"], "rgb(238, 0, 0)", "{rtr}");
    assert_eq!(rtr["note"], "down: 1 device behind it");
    assert_eq!(rtr["note_fill"], "rgb(204, 0, 0)");
    assert_eq!(rtr["note_inside"], true);
    // The shadowed switch greyed and marked as behind it.
    let sw = &r["nodes"]["BR1-SW"];
    assert_eq!(sw["state"], "shadow", "{sw}");
    assert!(sw["classes"]
        .as_array()
        .unwrap()
        .contains(&"rs-shadow".into()));
    assert_eq!(sw["fill"], "rgb(221, 221, 221)", "{sw}");
    assert_eq!(sw["note"], "behind BR1-RTR");
    assert!(
        sw["title"]
            .as_str()
            .unwrap()
            .contains("in the shadow of BR1-RTR"),
        "{sw}"
    );
    // Devices that answer keep their colour and carry no note.
    let up = &r["nodes"]["BR2-SW"];
    assert_eq!(up["state"], "up");
    assert_eq!(up["fill"], "rgb(212, 245, 212)", "{up}");
    assert!(up["note"].is_null());
    // The only link with a silent end is the one between the router and its switch.
    let silent = r["silent_edges"].as_array().unwrap();
    assert_eq!(silent.len(), 1, "{silent:?}");
    assert!(
        silent[0]
            .as_str()
            .unwrap()
            .contains("BR1-RTR:r1-sw - BR1-SW:sw1-rtr"),
        "{silent:?}"
    );
    // The legend explains both.
    let legend = r["legend"].to_string();
    assert!(
        legend.contains("rs-down") && legend.contains("rs-shadow"),
        "{legend}"
    );
    assert!(r["summary"].as_str().unwrap().contains("1 in a shadow"));
    assert_eq!(r["external_requests"], serde_json::json!([]));
    assert_eq!(r["page_errors"], serde_json::json!([]));
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));
    eprintln!("screenshot: {}", shot.display());
}
