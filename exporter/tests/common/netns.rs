//! Network namespaces, veth cables and snmpd set up by hand, for the tests that still wire
//! their own agents (`reach_lab.rs`, `counters32.rs`, `fast_detect.rs`,
//! `inventory_store.rs`); everything else builds its network with
//! `wardflux-lab`, where these belong next.

use super::{next_seq, require_tool, run, snmp_get_v2c, wait_for, Proc};
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

/// A /30 of 169.254.0.0/16 not configured on this host yet: (host address, namespace address).
fn free_link_local() -> (Ipv4Addr, Ipv4Addr) {
    let used = run(Command::new(require_tool("ip")).args(["-o", "-4", "addr", "show"]));
    let seed = std::process::id()
        .wrapping_mul(2654435761)
        .wrapping_add(next_seq() * 7919);
    for i in 0..4000u32 {
        let n = (seed.wrapping_add(i * 4)) % (250 * 64);
        let (third, fourth) = (10 + n / 64, (n % 64) * 4);
        let host = Ipv4Addr::new(169, 254, third as u8, fourth as u8 + 1);
        let nsa = Ipv4Addr::new(169, 254, third as u8, fourth as u8 + 2);
        if !used.contains(&format!("inet {host}/")) && !used.contains(&format!("inet {nsa}/")) {
            return (host, nsa);
        }
    }
    panic!("no free 169.254.x.y/30 for a management link");
}

/// A management link from the host into `ns` (LAB.md): returns the namespace's address,
/// reachable from the host. The host end goes when the namespace is deleted.
pub fn mgmt_link(ns: &Netns) -> Ipv4Addr {
    let ip = require_tool("ip");
    let (host, inner) = free_link_local();
    let host_if = format!("wfh{}x{}", std::process::id() % 100_000, next_seq());
    run(Command::new(&ip).args([
        "link", "add", &host_if, "type", "veth", "peer", "name", "mgmt0", "netns", &ns.name,
    ]));
    run(Command::new(&ip).args(["addr", "add", &format!("{host}/30"), "dev", &host_if]));
    run(Command::new(&ip).args(["link", "set", &host_if, "up"]));
    ns.ip(&["addr", "add", &format!("{inner}/30"), "dev", "mgmt0"]);
    ns.ip(&["link", "set", "mgmt0", "up"]);
    inner
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
