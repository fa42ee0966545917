//! ISP path health in the lab, on real FRR, net-snmp and pings: a branch router with two
//! `bgp:` + `probe:` uplinks serves BGP4-MIB bgpPeerState (FRR bgpd over AgentX) and
//! CISCO-RTTMON-MIB probe rows (the lab's IP SLA agent) through its snmpd. Cutting an uplink
//! ends its BGP session and restore brings it back; a provider failing behind a live link
//! (`blackhole`) fails the probe and the session while the port's ifOperStatus stays up(1);
//! `unblackhole` heals both; teardown stops every FRR daemon with TERM and leaves no daemon and
//! no /var/tmp/frr directory.
//!
//! Runs as root (CI does). Needs the Debian packages iproute2, snmpd, snmp, frr, frr-snmp,
//! iputils-ping, python3.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use wardflux_lab::{sla, Description, Lab};

const BRANCH: &str = "\
name: pathtest
snmp:
  v2: {version: 2c, community: pathtest-ro}
defaults: {lldp: false}
sites:
  gori:
    nodes:
      RTR:
        kind: router
        bgp: {asn: 65101}
        uplinks:
          - {port: isp0, provider: Magti, bgp: {peer_asn: 65001}, probe: {tag: Magti, frequency: 1}}
          - {port: isp1, provider: Silknet, bgp: {peer_asn: 65002}, probe: {tag: Silknet, index: 7, frequency: 1}}
";

const BGP_PEER_STATE: &str = "1.3.6.1.2.1.15.3.1.2";
const IF_OPER_STATUS: &str = "1.3.6.1.2.1.2.2.1.8";

/// One value (`-Oqv`) of the agent at `addr`, if it answers with a value.
fn get(addr: Ipv4Addr, oid: &str) -> Option<String> {
    let out = Command::new("snmpget")
        .args([
            "-v2c",
            "-c",
            "pathtest-ro",
            "-t",
            "1",
            "-r",
            "1",
            "-Oqv",
            "-On",
            "-Ot",
        ])
        .arg(addr.to_string())
        .arg(oid)
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.contains("No Such")).then_some(v)
}

fn int(addr: Ipv4Addr, oid: &str) -> Option<i64> {
    get(addr, oid)?.parse().ok()
}

/// Poll until `f` holds; the limit only stops a hung test.
fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn bgp_sessions_and_sla_probes_follow_cuts_and_a_provider_failing_behind_a_live_link() {
    let d = Description::parse("pathtest.yml", BRANCH).expect("valid description");
    // In a directory of the test's own, so the daemons' logs outlive the teardown.
    let dir = std::env::temp_dir().join(format!("wardflux-pathtest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut lab = Lab::build_in(&d, &dir).expect("lab builds");
    let plan = lab.plan().clone();
    let rtr = lab.address("RTR").unwrap();
    let up = |port: &str| {
        plan.access
            .iter()
            .find(|a| a.node == "RTR" && a.port == port)
            .unwrap()
            .clone()
    };
    let (isp0, isp1) = (up("isp0"), up("isp1"));
    let peer = |a: &wardflux_lab::plan::AccessLink| format!("{BGP_PEER_STATE}.{}", a.host_addr);
    let sense = |index: u32| format!("{}.{index}", sla::LATEST_SENSE);
    let if_index: u32 = {
        let out = Command::new("ip")
            .args([
                "-n",
                lab.netns("RTR").unwrap(),
                "-o",
                "link",
                "show",
                "isp0",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.split(':').next().unwrap().trim().parse().unwrap()
    };
    let oper_isp0 = format!("{IF_OPER_STATUS}.{if_index}");
    let long = Duration::from_secs(60);

    // Both sessions established (bgpPeerState 6), as FRR's bgpd reports them over AgentX.
    wait_for("both BGP sessions established", long, || {
        int(rtr, &peer(&isp0)) == Some(6) && int(rtr, &peer(&isp1)) == Some(6)
    });
    // The probe rows: echo operations tagged per provider, to the provider's end from the
    // uplink's address, active, and succeeding.
    assert_eq!(
        get(rtr, &format!("{}.1", sla::CTRL_ADMIN_TAG)).as_deref(),
        Some("\"Magti\"")
    );
    assert_eq!(
        get(rtr, &format!("{}.7", sla::CTRL_ADMIN_TAG)).as_deref(),
        Some("\"Silknet\"")
    );
    assert_eq!(
        int(rtr, &format!("{}.1", sla::CTRL_ADMIN_RTT_TYPE)),
        Some(1)
    );
    assert_eq!(int(rtr, &format!("{}.7", sla::CTRL_OPER_STATE)), Some(6));
    let hex = |a: Ipv4Addr| {
        a.octets()
            .iter()
            .map(|o| format!("{o:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let target = get(rtr, &format!("{}.1", sla::ECHO_ADMIN_TARGET_ADDRESS)).unwrap();
    assert!(target.contains(&hex(isp0.host_addr)), "{target}");
    let source = get(rtr, &format!("{}.7", sla::ECHO_ADMIN_SOURCE_ADDRESS)).unwrap();
    assert!(source.contains(&hex(isp1.node_addr)), "{source}");
    assert_eq!(
        int(rtr, &format!("{}.1", sla::ECHO_ADMIN_OUTPUT_INTERFACE)),
        Some(i64::from(if_index)),
        "the probe's output interface is the uplink's port"
    );
    wait_for("both probes ok", long, || {
        int(rtr, &sense(1)) == Some(sla::SENSE_OK) && int(rtr, &sense(7)) == Some(sla::SENSE_OK)
    });
    let rtt = int(rtr, &format!("{}.1", sla::LATEST_COMPLETION_TIME)).unwrap();
    assert!(rtt >= 1, "completion time of a successful echo: {rtt} ms");
    assert!(int(rtr, &format!("{}.1", sla::LATEST_TIME)).is_some());

    // Cut Magti's end: the session over it leaves established; the other one stays.
    lab.cut("RTR", "isp0").unwrap();
    wait_for(
        "the session over the cut uplink down",
        Duration::from_secs(30),
        || int(rtr, &peer(&isp0)).is_some_and(|s| s != 6),
    );
    assert_eq!(int(rtr, &peer(&isp1)), Some(6));
    lab.restore("RTR", "isp0").unwrap();
    wait_for("the session back after restore", long, || {
        int(rtr, &peer(&isp0)) == Some(6)
    });

    // Magti fails behind a live link: the probe over it fails and the session ends, while the
    // port stays up; the agent keeps answering (over Silknet).
    lab.blackhole("RTR", "isp0").unwrap();
    wait_for("the probe over the blackholed uplink failing", long, || {
        int(rtr, &sense(1)).is_some_and(|s| s != sla::SENSE_OK)
    });
    assert_eq!(int(rtr, &oper_isp0), Some(1), "the port keeps carrier");
    wait_for("the session over the blackholed uplink down", long, || {
        int(rtr, &peer(&isp0)).is_some_and(|s| s != 6)
    });
    assert_eq!(int(rtr, &oper_isp0), Some(1), "the port keeps carrier");
    assert_eq!(int(rtr, &sense(1)), Some(sla::SENSE_TIMEOUT));
    assert_eq!(int(rtr, &sense(7)), Some(sla::SENSE_OK));
    lab.check()
        .expect("no lab packet leaves the machine while blackholed");
    lab.unblackhole("RTR", "isp0").unwrap();
    wait_for("probe and session healed", long, || {
        int(rtr, &sense(1)) == Some(sla::SENSE_OK)
            && int(rtr, &peer(&isp0)) == Some(6)
            && int(rtr, &peer(&isp1)) == Some(6)
    });

    // Teardown stops every daemon (the providers' bgpds run in the host) and FRR's
    // /var/tmp/frr directories go with them.
    let pids = wardflux_lab::frr::pids(&plan, &dir);
    assert_eq!(
        pids.len(),
        4,
        "zebra, bgpd and two providers' bgpds: {pids:?}"
    );
    lab.teardown();
    for p in &pids {
        let alive = std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        });
        assert!(!alive, "FRR daemon {p} still runs after teardown");
        for d in ["zebra", "bgpd"] {
            let left = format!("/var/tmp/frr/{d}.{p}");
            assert!(!std::path::Path::new(&left).exists(), "{left} left behind");
        }
    }
    assert_eq!(Lab::leftovers(&plan), Vec::<String>::new());
    // Each stopped on TERM (FRR logs it), not killed.
    let logs = [
        wardflux_lab::frr::router_dir(&dir, "RTR").join("zebra.log"),
        wardflux_lab::frr::router_dir(&dir, "RTR").join("bgpd.log"),
        wardflux_lab::frr::provider_dir(&dir, &isp0).join("bgpd.log"),
        wardflux_lab::frr::provider_dir(&dir, &isp1).join("bgpd.log"),
    ];
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            text.contains("Terminating on signal"),
            "{} does not show a TERM exit",
            log.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
