//! The lab on real namespaces, net-snmp snmpd and lldpd: a one-branch bank builds, its
//! router's agent answers over the primary uplink, fails over to the backup when the primary's
//! provider end goes down, is unreachable (never routed to the host's default route) with both
//! uplinks down, comes back on restore, and teardown leaves nothing behind.
//!
//! Runs as root (CI does). Needs the Debian packages iproute2, snmpd, snmp, lldpd,
//! iputils-ping.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use wardflux_lab::{route_get, Description, Lab, RouteGet};

const BRANCH: &str = "\
name: labtest
snmp:
  v2: {version: 2c, community: labtest-ro}
sites:
  gori:
    nodes:
      RTR:
        kind: router
        uplinks:
          - {port: isp0, provider: Magti}
          - {port: isp1, provider: Silknet}
        aliases: {lan0: LAN_SW}
      SW: {kind: switch, aliases: {up0: Uplink_to_Router}}
links:
  - endpoints: [RTR:lan0, SW:up0]
";

/// sysName of the agent at `addr`, if it answers.
fn sys_name(addr: Ipv4Addr) -> Option<String> {
    let out = Command::new("snmpget")
        .args(["-v2c", "-c", "labtest-ro", "-t", "1", "-r", "0", "-Oqv"])
        .arg(addr.to_string())
        .arg("1.3.6.1.2.1.1.5.0")
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_matches('"')
            .to_string()
    })
}

/// Poll until `f` holds; the limit only stops a hung test.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_branch_is_reached_only_over_its_uplinks_fails_over_and_never_leaks() {
    let d = Description::parse("labtest.yml", BRANCH).expect("valid description");
    let mut lab = Lab::build(&d).expect("lab builds");
    let plan = lab.plan().clone();
    let rtr = lab.address("RTR").unwrap();
    let sw = lab.address("SW").unwrap();
    let uplink = |port: &str| {
        plan.access
            .iter()
            .find(|a| a.node == "RTR" && a.port == port)
            .unwrap()
            .host_if
            .clone()
    };
    let (magti, silknet) = (uplink("isp0"), uplink("isp1"));

    // Over the primary (Magti, the lower metric), for the router and the switch behind it.
    assert_eq!(sys_name(rtr).as_deref(), Some("RTR"));
    assert_eq!(sys_name(sw).as_deref(), Some("SW"));
    assert_eq!(route_get(rtr).unwrap(), RouteGet::Dev(magti.clone()));
    assert_eq!(route_get(sw).unwrap(), RouteGet::Dev(magti.clone()));
    // The targets carry the site and the SNMP profile.
    let t = lab.targets();
    let rt = t.targets.iter().find(|t| t.name == "RTR").unwrap();
    assert_eq!(rt.labels["site"], "gori");
    assert_eq!(rt.address, rtr.to_string());
    assert_eq!(t.auths[&rt.auth].community.as_deref(), Some("labtest-ro"));

    // Magti fails at the provider's end: the router's port loses carrier and the branch is
    // reached over Silknet.
    lab.cut("RTR", "isp0").unwrap();
    assert_eq!(route_get(rtr).unwrap(), RouteGet::Dev(silknet.clone()));
    wait_for("the router over Silknet", || {
        sys_name(rtr).as_deref() == Some("RTR")
    });
    wait_for("the switch over Silknet", || {
        sys_name(sw).as_deref() == Some("SW")
    });

    // Silknet fails too: every address of the branch is unreachable, and a ping says so
    // instead of leaving through the host's default route.
    lab.cut("RTR", "isp1").unwrap();
    for n in ["RTR", "SW"] {
        for a in plan.addresses_of(n) {
            assert_eq!(route_get(a).unwrap(), RouteGet::Unreachable, "{n} {a}");
        }
    }
    let ping = Command::new("ping")
        .args(["-c", "1", "-W", "1"])
        .arg(sw.to_string())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ping.stderr).to_lowercase()
        + &String::from_utf8_lossy(&ping.stdout).to_lowercase();
    assert!(!ping.status.success(), "{said}");
    assert!(
        said.contains("unreachable") || said.contains("no route to host"),
        "{said}"
    );
    assert_eq!(sys_name(rtr), None);

    // Both back: over Magti again.
    lab.restore("RTR", "isp1").unwrap();
    lab.restore("RTR", "isp0").unwrap();
    assert_eq!(route_get(sw).unwrap(), RouteGet::Dev(magti));
    wait_for("the switch back", || sys_name(sw).as_deref() == Some("SW"));
    lab.check().expect("the check passes again");

    // Power: the switch's agent stops, and restarts with a fresh sysUpTime.
    lab.power_off("SW").unwrap();
    assert_eq!(sys_name(sw), None);
    lab.power_on("SW").unwrap();
    assert_eq!(sys_name(sw).as_deref(), Some("SW"));

    // Teardown leaves no namespace, link or route of the lab.
    lab.teardown();
    assert_eq!(Lab::leftovers(&plan), Vec::<String>::new());
    drop(lab);
}

#[test]
fn two_labs_at_once_get_different_prefixes() {
    let d1 = Description::parse("a.yml", &BRANCH.replace("name: labtest", "name: laba")).unwrap();
    let d2 = Description::parse("b.yml", &BRANCH.replace("name: labtest", "name: labb")).unwrap();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Lab::build(&d1));
        let b = s.spawn(|| Lab::build(&d2));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (a.expect("lab a"), b.expect("lab b"));
    assert_ne!(a.prefix(), b.prefix());
    assert_eq!(sys_name(a.address("SW").unwrap()).as_deref(), Some("SW"));
    assert_eq!(sys_name(b.address("SW").unwrap()).as_deref(), Some("SW"));
}
