//! BGP from a real daemon (FRR): a router with `bgp:` uplinks runs zebra + bgpd in its
//! namespace, bgpd loaded with `-M snmp` and speaking AgentX into the router's snmpd (BGP4-MIB
//! bgpPeerTable); each provider's end of such an uplink runs a bgpd of its own.
//!
//! The provider's bgpd runs where the provider's end of the uplink already is: in the host,
//! bound to nothing the host uses: `-Z` (no zebra, so nothing touches the host's routes), `-p 0`
//! (no listening port on the host; it connects out to the router from the uplink's host
//! address), its sockets and pid file in the lab's directory. Cutting the uplink takes the
//! router's port down (zebra drops the session at once); a blackhole removes the provider's
//! address from its end, and the router's hold timer (9 s) ends the session.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::agent;
use crate::plan::{AccessLink, Plan, PlanNode};
use crate::sys;
use crate::LabError;

/// Where Debian's frr package keeps its daemons.
const FRR_DIR: &str = "/usr/lib/frr";
/// bgpd's SNMP module (Debian package frr-snmp).
const SNMP_MODULES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/frr/modules/bgpd_snmp.so",
    "/usr/lib/aarch64-linux-gnu/frr/modules/bgpd_snmp.so",
    "/usr/lib/frr/modules/bgpd_snmp.so",
];

/// A daemon of the frr package.
pub fn daemon(name: &str) -> Result<PathBuf, LabError> {
    let p = Path::new(FRR_DIR).join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(LabError::MissingTool {
            tool: p.display().to_string(),
            package: "Debian package frr".into(),
        })
    }
}

/// FRR's daemons and bgpd's SNMP module are installed.
pub fn require() -> Result<(), LabError> {
    daemon("zebra")?;
    daemon("bgpd")?;
    if !SNMP_MODULES.iter().any(|m| Path::new(m).is_file()) {
        return Err(LabError::MissingTool {
            tool: "bgpd_snmp.so".into(),
            package: "Debian package frr-snmp".into(),
        });
    }
    Ok(())
}

/// Whether a router runs bgpd (any of its uplinks has `bgp:`).
pub fn runs_bgp(plan: &Plan, node: &str) -> bool {
    plan.access
        .iter()
        .any(|a| a.node == node && a.bgp.is_some())
}

/// The directory of a router's zebra and bgpd (owned by user frr).
pub fn router_dir(dir: &Path, node: &str) -> PathBuf {
    agent::node_dir(dir, node).join("frr")
}

/// The directory of the provider's bgpd at the host end of one uplink.
pub fn provider_dir(dir: &Path, a: &AccessLink) -> PathBuf {
    dir.join(format!("provider-{}", a.host_if))
}

/// bgpd.conf of a router: one eBGP neighbour per `bgp:` uplink (the provider's end), timers
/// 3/9 so a session over a dead path ends within 9 s, connect retry 2 s so it comes back fast.
/// What the provider announces is kept in bgpd's table only (`--no_kernel`).
pub fn router_bgpd_conf(plan: &Plan, n: &PlanNode) -> String {
    let uplinks: Vec<&AccessLink> = plan
        .access
        .iter()
        .filter(|a| a.node == n.node.name && a.bgp.is_some())
        .collect();
    let asn = uplinks.first().and_then(|a| a.bgp).map_or(0, |b| b.asn);
    let mut s = format!(
        "! written by wardflux-lab for {name}\n\
         hostname {name}\n\
         log stdout informational\n\
         agentx\n\
         router bgp {asn}\n \
         bgp router-id {lo}\n \
         no bgp ebgp-requires-policy\n \
         timers bgp 3 9\n",
        name = n.node.name,
        lo = n.loopback,
    );
    for a in &uplinks {
        let b = a.bgp.expect("filtered");
        s.push_str(&format!(
            " neighbor {peer} remote-as {pasn}\n \
             neighbor {peer} description {provider} over {port}\n \
             neighbor {peer} timers connect 2\n",
            peer = a.host_addr,
            pasn = b.peer_asn,
            provider = a.provider.as_deref().unwrap_or("provider"),
            port = a.port,
        ));
    }
    s
}

/// bgpd.conf of the provider's end of one uplink: it announces the lab's /24 (never installed
/// anywhere: the router's bgpd runs with `--no_kernel`, the provider's without zebra).
pub fn provider_bgpd_conf(plan: &Plan, a: &AccessLink) -> String {
    let b = a.bgp.expect("a bgp uplink");
    format!(
        "! written by wardflux-lab: {provider}'s end of {node}:{port}\n\
         hostname {provider}-{host_if}\n\
         log stdout informational\n\
         router bgp {pasn}\n \
         bgp router-id {me}\n \
         no bgp ebgp-requires-policy\n \
         no bgp network import-check\n \
         timers bgp 3 9\n \
         neighbor {peer} remote-as {asn}\n \
         neighbor {peer} update-source {me}\n \
         neighbor {peer} timers connect 2\n \
         address-family ipv4 unicast\n  \
         network {prefix}\n \
         exit-address-family\n",
        provider = a.provider.as_deref().unwrap_or("provider"),
        node = a.node,
        port = a.port,
        host_if = a.host_if,
        pasn = b.peer_asn,
        asn = b.asn,
        me = a.host_addr,
        peer = a.node_addr,
        prefix = plan.prefix(),
    )
}

/// Lines for the router's snmpd.conf: bgpd (user frr) may connect to the AgentX socket.
pub fn snmpd_conf_lines() -> &'static str {
    "agentXPerms 0660 0755 frr frr\n"
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(|e| LabError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    })
}

fn prepare(fdir: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(fdir).map_err(|e| LabError::Io {
        what: fdir.display().to_string(),
        message: e.to_string(),
    })?;
    for f in ["zserv.api", "zebra.vty", "bgpd.vty"] {
        let _ = std::fs::remove_file(fdir.join(f));
    }
    Ok(())
}

fn chown_frr(fdir: &Path) -> Result<(), LabError> {
    sys::run(
        Command::new(sys::tool("chown")?)
            .arg("-R")
            .arg("frr:frr")
            .arg(fdir),
    )
    .map(|_| ())
}

/// Start zebra and bgpd (with its SNMP module) in a router's namespace; its snmpd must be up
/// (bgpd registers BGP4-MIB over AgentX, and re-registers every 2 s after an snmpd restart).
pub fn spawn_router(plan: &Plan, n: &PlanNode, dir: &Path) -> Result<Vec<Child>, LabError> {
    let fdir = router_dir(dir, &n.node.name);
    prepare(&fdir)?;
    let agentx = agent::node_dir(dir, &n.node.name).join("agentx.sock");
    write(
        &fdir.join("frr.conf"),
        &format!("agentXSocket {}\nagentXPingInterval 2\n", agentx.display()),
    )?;
    write(
        &fdir.join("zebra.conf"),
        &format!("hostname {}\nlog stdout informational\n", n.node.name),
    )?;
    write(&fdir.join("bgpd.conf"), &router_bgpd_conf(plan, n))?;
    chown_frr(&fdir)?;
    let zserv = fdir.join("zserv.api");
    let mut zebra = Command::new(sys::tool("ip")?);
    zebra
        .args(["netns", "exec", &n.netns])
        .arg(daemon("zebra")?)
        .args(["-P", "0", "-u", "frr", "-g", "frr", "-z"])
        .arg(&zserv)
        .arg("-f")
        .arg(fdir.join("zebra.conf"))
        .arg("-i")
        .arg(fdir.join("zebra.pid"))
        .arg("--vty_socket")
        .arg(&fdir);
    let mut children = vec![agent::spawn_logged(&mut zebra, &fdir.join("zebra.log"))?];
    if !sys::wait_until(Duration::from_secs(30), || zserv.exists()) {
        return Err(LabError::Agent {
            node: n.node.name.clone(),
            message: format!(
                "zebra did not open {} within 30 s; log {}",
                zserv.display(),
                fdir.join("zebra.log").display()
            ),
        });
    }
    let mut bgpd = Command::new(sys::tool("ip")?);
    bgpd.args(["netns", "exec", &n.netns])
        .arg(daemon("bgpd")?)
        .args([
            "-P", "0", "-n", "-u", "frr", "-g", "frr", "-M", "snmp", "-z",
        ])
        .arg(&zserv)
        .arg("-f")
        .arg(fdir.join("bgpd.conf"))
        .arg("-i")
        .arg(fdir.join("bgpd.pid"))
        .arg("--vty_socket")
        .arg(&fdir)
        .env("SNMPCONFPATH", &fdir)
        .env("MIBS", "");
    children.push(agent::spawn_logged(&mut bgpd, &fdir.join("bgpd.log"))?);
    Ok(children)
}

/// Start the provider's bgpd at the host end of a `bgp:` uplink (in the host: see the module
/// documentation).
pub fn spawn_provider(plan: &Plan, a: &AccessLink, dir: &Path) -> Result<Child, LabError> {
    let pdir = provider_dir(dir, a);
    prepare(&pdir)?;
    write(&pdir.join("bgpd.conf"), &provider_bgpd_conf(plan, a))?;
    chown_frr(&pdir)?;
    let mut bgpd = Command::new(daemon("bgpd")?);
    bgpd.args(["-P", "0", "-p", "0", "-Z", "-u", "frr", "-g", "frr", "-f"])
        .arg(pdir.join("bgpd.conf"))
        .arg("-i")
        .arg(pdir.join("bgpd.pid"))
        .arg("--vty_socket")
        .arg(&pdir);
    agent::spawn_logged(&mut bgpd, &pdir.join("bgpd.log"))
}

/// Pids in the pid files of the lab's FRR daemons (routers' and providers').
pub fn pids(plan: &Plan, dir: &Path) -> Vec<u32> {
    let mut files = Vec::new();
    for n in &plan.nodes {
        let f = router_dir(dir, &n.node.name);
        files.push(f.join("zebra.pid"));
        files.push(f.join("bgpd.pid"));
    }
    for a in plan.access.iter().filter(|a| a.bgp.is_some()) {
        files.push(provider_dir(dir, a).join("bgpd.pid"));
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Stop the providers' bgpds (in the host) with TERM, KILL after `grace`.
pub fn stop_providers(plan: &Plan, dir: &Path, grace: Duration) {
    let pids: Vec<u32> = plan
        .access
        .iter()
        .filter(|a| a.bgp.is_some())
        .filter_map(|a| std::fs::read_to_string(provider_dir(dir, a).join("bgpd.pid")).ok())
        .filter_map(|s| s.trim().parse().ok())
        .filter(|p| is_bgpd(*p))
        .collect();
    sys::stop_pids(&pids, grace);
}

fn is_bgpd(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "bgpd")
}

/// FRR keeps `/var/tmp/frr/<daemon>.<pid>/` while a daemon runs and removes it on a clean exit;
/// remove those of `pids` that a KILL left behind.
pub fn clean_var_tmp(pids: &[u32]) {
    for p in pids {
        for d in ["zebra", "bgpd"] {
            let path = PathBuf::from(format!("/var/tmp/frr/{d}.{p}"));
            if path.exists() && !Path::new(&format!("/proc/{p}")).exists() {
                let _ = std::fs::remove_dir_all(path);
            }
        }
    }
}
