//! The agents of one device, started inside its namespace: net-snmp snmpd (with an AgentX
//! master socket), lldpd as its sub-agent, ifAlias texts set through snmpd, or snmpsimd
//! replaying a recording; and steady pings over its cables.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::description::{Kind, Snmp};
use crate::plan::{Plan, PlanNode};
use crate::sys;
use crate::LabError;

/// Community snmpd accepts for writes, from 127.0.0.1 inside the namespace only (ifAlias).
const WRITE_COMMUNITY: &str = "wardflux-lab-private";
const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";
const IF_ALIAS: &str = "1.3.6.1.2.1.31.1.1.1.18";

/// The directory of one device's configs, sockets and logs.
pub fn node_dir(dir: &Path, node: &str) -> PathBuf {
    dir.join(node)
}

fn log_file(path: &Path) -> Result<std::fs::File, LabError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, e: std::io::Error) -> LabError {
    LabError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Start `cmd` in its own process group with stdout and stderr appended to `log`.
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child, LabError> {
    spawn(cmd, log)
}

fn spawn(cmd: &mut Command, log: &Path) -> Result<Child, LabError> {
    let out = log_file(log)?;
    let err = out.try_clone().map_err(|e| io_err(log, e))?;
    // Own process group: a Ctrl-C meant for the caller does not reach the agents half-way
    // through a teardown; teardown stops them by namespace.
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::Command {
            command: format!("{cmd:?}"),
            message: e.to_string(),
        })
}

/// snmpd.conf of a device.
fn snmpd_conf(plan: &Plan, n: &PlanNode, dir: &Path) -> String {
    let mut s = format!(
        "# written by wardflux-lab for {name}\n\
         agentAddress udp:127.0.0.1:161,udp:{lo}:161\n\
         rwcommunity {WRITE_COMMUNITY} 127.0.0.1\n\
         sysName {name}\n\
         sysLocation wardflux lab {lab}, site {site}\n\
         master agentx\n\
         agentXSocket {sock}\n",
        name = n.node.name,
        lo = n.loopback,
        lab = plan.name,
        site = n.node.site,
        sock = dir.join("agentx.sock").display(),
    );
    for snmp in std::iter::once(&n.node.snmp).chain(&n.node.snmp_also) {
        s.push_str(&snmp_access(snmp));
    }
    if crate::frr::runs_bgp(plan, &n.node.name) {
        s.push_str(crate::frr::snmpd_conf_lines());
    }
    if crate::sla::has_probes(plan, &n.node.name) {
        s.push_str(&crate::sla::snmpd_conf_line(dir));
    }
    s
}

/// snmpd.conf lines that let one profile read.
fn snmp_access(snmp: &Snmp) -> String {
    match snmp {
        Snmp::V2c { community } => format!("rocommunity {community}\n"),
        Snmp::V3 {
            username,
            security_level,
            auth_protocol,
            auth_password,
            priv_protocol,
            priv_password,
        } => match security_level.as_str() {
            "noAuthNoPriv" => format!("createUser {username}\nrouser {username} noauth\n"),
            "authNoPriv" => format!(
                "createUser {username} {auth_protocol} {}\nrouser {username} auth\n",
                auth_password.as_deref().unwrap_or_default()
            ),
            _ => format!(
                "createUser {username} {auth_protocol} {} {priv_protocol} {}\nrouser {username} priv\n",
                auth_password.as_deref().unwrap_or_default(),
                priv_password.as_deref().unwrap_or_default()
            ),
        },
    }
}

/// Start a device's agent (snmpd or snmpsimd) and return at once; [`finish_agent`] waits for
/// it and completes the start.
pub fn spawn_agent(plan: &Plan, n: &PlanNode, dir: &Path) -> Result<Child, LabError> {
    let ndir = node_dir(dir, &n.node.name);
    std::fs::create_dir_all(&ndir).map_err(|e| io_err(&ndir, e))?;
    set_mode(&ndir, 0o711);
    if n.node.kind == Kind::Recording {
        return spawn_snmpsim(plan, n, &ndir);
    }
    let conf = ndir.join("snmpd.conf");
    // The config holds the agent's secrets: readable by root only.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&conf)
            .map_err(|e| io_err(&conf, e))?;
        f.write_all(snmpd_conf(plan, n, &ndir).as_bytes())
            .map_err(|e| io_err(&conf, e))?;
    }
    if crate::sla::has_probes(plan, &n.node.name) {
        crate::sla::write_agent(plan, n, &ndir)?;
    }
    let persist = ndir.join("snmp-state");
    std::fs::create_dir_all(&persist).map_err(|e| io_err(&persist, e))?;
    let _ = std::fs::remove_file(ndir.join("agentx.sock"));
    let mut cmd = sys::in_ns(&n.netns, "snmpd")?;
    cmd.args(["-f", "-C", "-I", "-smux", "-Lo", "-c"])
        .arg(&conf)
        .arg("-p")
        .arg(ndir.join("snmpd.pid"))
        .env("SNMP_PERSISTENT_DIR", &persist)
        .env("MIBS", "");
    spawn(&mut cmd, &ndir.join("snmpd.log"))
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// snmpsimd in the device's namespace on its loopback, serving one recording under the
/// profile's community. The data and index live in a fixed directory per lab and device under
/// /tmp/wardflux-simcache, so only the first start ever indexes the file.
fn spawn_snmpsim(plan: &Plan, n: &PlanNode, ndir: &Path) -> Result<Child, LabError> {
    let Snmp::V2c { community } = &n.node.snmp else {
        return Err(LabError::State(format!(
            "{}: recordings answer SNMPv2c only",
            n.node.name
        )));
    };
    let recording = n.node.recording.clone().unwrap_or_default();
    let root =
        Path::new("/tmp/wardflux-simcache").join(format!("lab-{}-{}", plan.name, n.node.name));
    let data = root.join("data");
    let cache = root.join("cache");
    for d in [&data, &cache] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    let dst = data.join(format!("{community}.snmprec"));
    let stamp = root.join("recording");
    let same = std::fs::read_to_string(&stamp).is_ok_and(|s| s == recording);
    if !dst.is_file() || !same {
        let src = sys::snmpsim_data_dir()?;
        let plain = src.join(format!("{recording}.snmprec"));
        let bz = src.join(format!("{recording}.snmprec.bz2"));
        let tmp = data.join(format!(".{community}.tmp"));
        if plain.is_file() {
            std::fs::copy(&plain, &tmp).map_err(|e| io_err(&plain, e))?;
        } else if bz.is_file() {
            let out = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            let st = Command::new(sys::tool("bzcat")?)
                .arg(&bz)
                .stdout(out)
                .status()
                .map_err(|e| io_err(&bz, e))?;
            if !st.success() {
                return Err(LabError::Command {
                    command: format!("bzcat {}", bz.display()),
                    message: st.to_string(),
                });
            }
        } else {
            return Err(LabError::State(format!(
                "{}: recording {recording} not found in {}",
                n.node.name,
                src.display()
            )));
        }
        std::fs::rename(&tmp, &dst).map_err(|e| io_err(&dst, e))?;
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).map_err(|e| io_err(&cache, e))?;
        std::fs::write(&stamp, &recording).map_err(|e| io_err(&stamp, e))?;
    }
    // snmpsimd drops to nobody after binding.
    for p in [&root, &data, &cache, &dst] {
        set_mode(p, if p.is_dir() { 0o777 } else { 0o644 });
    }
    let mut cmd = sys::in_ns(&n.netns, "snmpsimd")?;
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--agent-udpv4-endpoint={}:161", n.loopback))
        .arg("--v2c-arch")
        .arg("--logging-method=null")
        .args(["--process-user=nobody", "--process-group=nogroup"]);
    spawn(&mut cmd, &ndir.join("snmpsimd.log"))
}

/// Wait until the agent answers inside its namespace, then set the ifAlias texts and start
/// lldpd. Returns lldpd's process when it runs one.
pub fn finish_agent(
    n: &PlanNode,
    dir: &Path,
    agent: &mut Child,
    limit: Duration,
) -> Result<Option<Child>, LabError> {
    let ndir = node_dir(dir, &n.node.name);
    let (community, target) = match (&n.node.kind, &n.node.snmp) {
        (Kind::Recording, Snmp::V2c { community }) => {
            (community.clone(), format!("{}:161", n.loopback))
        }
        _ => (WRITE_COMMUNITY.to_string(), "127.0.0.1:161".to_string()),
    };
    let mut exited = None;
    let ok = sys::wait_until(limit, || {
        if let Ok(Some(st)) = agent.try_wait() {
            exited = Some(st);
            return true;
        }
        sys::in_ns(&n.netns, "snmpget")
            .and_then(|mut c| {
                sys::output(c.args([
                    "-v2c", "-c", &community, "-t", "0.3", "-r", "0", &target, SYS_UPTIME,
                ]))
            })
            .is_ok_and(|o| o.status.success())
    });
    let log = if n.node.kind == Kind::Recording {
        "snmpsimd.log"
    } else {
        "snmpd.log"
    };
    if let Some(st) = exited {
        return Err(LabError::Agent {
            node: n.node.name.clone(),
            message: format!("exited with {st}; log {}", ndir.join(log).display()),
        });
    }
    if !ok {
        return Err(LabError::Agent {
            node: n.node.name.clone(),
            message: format!(
                "did not answer within {limit:?}; log {}",
                ndir.join(log).display()
            ),
        });
    }
    if n.node.kind == Kind::Recording {
        return Ok(None);
    }
    set_aliases(n)?;
    if !n.node.lldp || n.cable_ports.is_empty() {
        return Ok(None);
    }
    let conf = ndir.join("lldpd.conf");
    std::fs::write(
        &conf,
        format!(
            "configure system hostname {}\nconfigure lldp tx-interval 1\n",
            n.node.name
        ),
    )
    .map_err(|e| io_err(&conf, e))?;
    let _ = std::fs::remove_file(ndir.join("lldpd.sock"));
    let mut cmd = sys::in_ns(&n.netns, "lldpd")?;
    cmd.args(["-d", "-x", "-X"])
        .arg(ndir.join("agentx.sock"))
        .arg("-u")
        .arg(ndir.join("lldpd.sock"))
        .arg("-O")
        .arg(&conf)
        .arg("-I")
        .arg(n.cable_ports.join(","));
    spawn(&mut cmd, &ndir.join("lldpd.log")).map(Some)
}

/// Wait until the device's IP SLA agent has a first result for each of `probes`
/// (rttMonLatestRttOperSense other than other(0)); the first request starts the agent.
pub fn wait_probes(
    n: &PlanNode,
    probes: &[crate::sla::ProbeConfig],
    dir: &Path,
    limit: Duration,
) -> Result<(), LabError> {
    let mut args: Vec<String> = [
        "-v2c",
        "-c",
        WRITE_COMMUNITY,
        "-t",
        "3",
        "-r",
        "0",
        "-Oqv",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(
        probes
            .iter()
            .map(|p| format!("{}.{}", crate::sla::LATEST_SENSE, p.index)),
    );
    let ok = sys::wait_until(limit, || {
        sys::in_ns(&n.netns, "snmpget")
            .and_then(|mut c| sys::output(c.args(&args)))
            .is_ok_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                o.status.success()
                    && text.lines().count() == probes.len()
                    && text
                        .lines()
                        .all(|l| l.trim().parse::<i64>().is_ok_and(|v| v != 0))
            })
    });
    if ok {
        Ok(())
    } else {
        Err(LabError::Agent {
            node: n.node.name.clone(),
            message: format!(
                "the IP SLA probe agent gave no first result within {limit:?}; log {}",
                node_dir(dir, &n.node.name).join("snmpd.log").display()
            ),
        })
    }
}

/// bgpPeerState of `peer` in the device's snmpd (asked inside its namespace), if it answers.
pub fn bgp_peer_state(n: &PlanNode, peer: std::net::Ipv4Addr) -> Option<i64> {
    let out = sys::in_ns(&n.netns, "snmpget")
        .and_then(|mut c| {
            sys::output(c.args([
                "-v2c",
                "-c",
                WRITE_COMMUNITY,
                "-t",
                "1",
                "-r",
                "0",
                "-Oqv",
                "127.0.0.1",
                &format!("1.3.6.1.2.1.15.3.1.2.{peer}"),
            ]))
        })
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// ifAlias of every described port, in one snmpset through the local write community.
fn set_aliases(n: &PlanNode) -> Result<(), LabError> {
    if n.node.aliases.is_empty() {
        return Ok(());
    }
    let links = sys::ip_ns(&n.netns, &["-o", "link", "show"])?;
    let mut args: Vec<String> = [
        "-v2c",
        "-c",
        WRITE_COMMUNITY,
        "-t",
        "1",
        "-r",
        "3",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (port, alias) in &n.node.aliases {
        let idx = links
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let idx = parts.next()?.trim();
                let name = parts.next()?.trim();
                let name = name.split('@').next()?;
                (name == port).then(|| idx.to_string())
            })
            .ok_or_else(|| {
                LabError::State(format!("{}: no port {port} to set ifAlias on", n.node.name))
            })?;
        args.push(format!("{IF_ALIAS}.{idx}"));
        args.push("s".into());
        args.push(alias.clone());
    }
    sys::run(sys::in_ns(&n.netns, "snmpset")?.args(&args)).map(|_| ())
}

/// Neighbours lldpd has learnt, by local port (`lldpcli show neighbors`).
pub fn lldp_neighbours(dir: &Path, node: &str) -> Vec<(String, String)> {
    let sock = node_dir(dir, node).join("lldpd.sock");
    let Ok(cli) = sys::tool("lldpcli") else {
        return Vec::new();
    };
    let Ok(out) = sys::output(Command::new(cli).arg("-u").arg(&sock).args([
        "-f",
        "keyvalue",
        "show",
        "neighbors",
    ])) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let rest = k.strip_prefix("lldp.")?;
            let (port, key) = rest.split_once('.')?;
            (key == "chassis.name").then(|| (port.to_string(), v.to_string()))
        })
        .collect()
}

/// Steady pings from `ns` to `to`: traffic that moves the counters of the ports between.
pub fn spawn_ping(
    ns: &str,
    to: std::net::Ipv4Addr,
    interval: f64,
    size: u32,
    log: &Path,
) -> Result<Child, LabError> {
    let mut cmd = sys::in_ns(ns, "ping")?;
    cmd.args(["-q", "-i", &format!("{interval}"), "-s", &size.to_string()])
        .arg(to.to_string());
    spawn(&mut cmd, log)
}
