//! ISP path health end to end in the lab, on real FRR (bgpd serving BGP4-MIB over AgentX into
//! the router's snmpd), the lab's IP SLA agent (CISCO-RTTMON-MIB rows measured by real pings
//! out of each uplink; it stands in for the router's `ip sla`) and real pings: a branch router
//! with two ISP uplinks, each with an eBGP session and a probe. The exporter ties every probe
//! and peer to its uplink; a provider failing beyond the handoff (`blackhole`) turns that
//! uplink's probe to 0 and its session down while its ifOperStatus stays up(1); cutting the
//! uplink takes its BGP peer down; the other uplink's series never move.
//!
//! Runs as root (CI does). Needs iproute2, snmpd, snmp, frr, frr-snmp, iputils-ping, python3.

mod common;

use std::time::Duration;

use common::{find_sample, wait_for, Exporter, Sample};
use wardflux_lab::{Description, Lab};

const LAB: &str = "\
name: isppath
snmp:
  v2: {version: 2c, community: isppath-ro}
defaults: {lldp: false}
sites:
  gori:
    nodes:
      GORI-RTR-01:
        kind: router
        bgp: {asn: 65101}
        uplinks:
          - {port: isp0, provider: Magti, bgp: {peer_asn: 65001}, probe: {tag: Magti, frequency: 1}}
          - {port: isp1, provider: Silknet, bgp: {peer_asn: 65002}, probe: {tag: Silknet, index: 7, frequency: 1}}
";
const RTR: &str = "GORI-RTR-01";
const LONG: Duration = Duration::from_secs(90);

/// The value of the one sample of `name` whose labels include `want`, if served.
fn value(s: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    find_sample(s, name, want).map(Sample::f64)
}

/// The labels of a series tied to the router's `port` of `provider`, plus one more.
fn uplink(port: &str, provider: &str, extra: (&'static str, &str)) -> Vec<(&'static str, String)> {
    [
        ("device", RTR),
        ("site", "gori"),
        ("ifName", port),
        ("interface_type", "isp"),
        ("isp_provider", provider),
        extra,
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

#[test]
fn probes_and_peers_follow_their_uplink_through_a_provider_failure_and_a_cut() {
    let d = Description::parse("isp_path_lab.rs", LAB).expect("lab description");
    let mut lab = Lab::build(&d).unwrap_or_else(|e| panic!("lab: {e}"));
    let plan = lab.plan().clone();
    let peer_of = |port: &str| {
        plan.access
            .iter()
            .find(|a| a.node == RTR && a.port == port)
            .unwrap_or_else(|| panic!("no uplink {port}"))
            .host_addr
            .to_string()
    };
    let (magti_peer, silknet_peer) = (peer_of("isp0"), peer_of("isp1"));
    let cfg = format!(
        "poll_interval: 1s\nstatus_poll_interval: 0s\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\n\
         auths:\n  lab: {{version: 2, community: isppath-ro}}\ntargets:\n\
         \x20 - {{name: {RTR}, address: \"{}\", auth: lab, labels: {{site: gori}}}}\n",
        lab.address(RTR).expect("router address")
    );
    let mut ex = Exporter::start(&cfg, &[]);
    ex.wait_devices_up(&[RTR], LONG);

    // Tied: probe 1 (tag Magti, sourced from isp0's address) and the Magti session to isp0,
    // probe 7 and the Silknet session to isp1, with the uplinks' own labels.
    let get = |s: &[Sample], name: &str, want: &[(&str, String)]| {
        let w: Vec<(&str, &str)> = want.iter().map(|(k, v)| (*k, v.as_str())).collect();
        value(s, name, &w)
    };
    let probe_magti = uplink("isp0", "magti", ("probe", "1"));
    let probe_silknet = uplink("isp1", "silknet", ("probe", "7"));
    let bgp_magti = uplink("isp0", "magti", ("peer", &magti_peer));
    let bgp_silknet = uplink("isp1", "silknet", ("peer", &silknet_peer));
    let success = "wardflux_isp_probe_success";
    let up = "wardflux_bgp_peer_up";
    let oper =
        |s: &[Sample], port: &str| value(s, "ifOperStatus", &[("device", RTR), ("ifName", port)]);
    let healthy = |s: &[Sample]| {
        get(s, success, &probe_magti) == Some(1.0)
            && get(s, success, &probe_silknet) == Some(1.0)
            && get(s, up, &bgp_magti) == Some(1.0)
            && get(s, up, &bgp_silknet) == Some(1.0)
    };
    let s = wait_for("both probes and sessions tied and healthy", LONG, || {
        let s = ex.metrics();
        healthy(&s).then_some(s)
    });
    let rtt = get(&s, "wardflux_isp_probe_rtt_seconds", &probe_magti).expect("probe 1's RTT");
    assert!(rtt > 0.0, "a successful echo has a completion time: {rtt}");
    let p1 = find_sample(&s, success, &[("probe", "1")]).unwrap();
    assert_eq!(
        (p1.label("tag"), p1.label("target")),
        ("Magti", magti_peer.as_str())
    );
    let b1 = find_sample(&s, up, &[("peer", magti_peer.as_str())]).unwrap();
    assert_eq!(b1.label("remote_as"), "65001");
    assert!(
        value(
            &s,
            "bgpPeerState",
            &[("device", RTR), ("bgpPeerRemoteAddr", &magti_peer)]
        ) == Some(6.0),
        "raw bgpPeerState served"
    );

    // Magti fails beyond the handoff: its probe fails and its session ends, the port stays up.
    lab.blackhole(RTR, "isp0").expect("blackhole");
    let s = wait_for("Magti's probe failing while isp0 is up", LONG, || {
        let s = ex.metrics();
        (get(&s, success, &probe_magti) == Some(0.0)).then_some(s)
    });
    assert_eq!(
        oper(&s, "isp0"),
        Some(1.0),
        "isp0 keeps carrier while its probe fails"
    );
    let s = wait_for("Magti's session down", LONG, || {
        let s = ex.metrics();
        (get(&s, up, &bgp_magti) == Some(0.0)).then_some(s)
    });
    assert_eq!(
        oper(&s, "isp0"),
        Some(1.0),
        "isp0 keeps carrier while its session is down"
    );
    assert_eq!(
        get(&s, success, &probe_silknet),
        Some(1.0),
        "Silknet's probe unaffected"
    );
    assert_eq!(
        get(&s, up, &bgp_silknet),
        Some(1.0),
        "Silknet's session unaffected"
    );
    assert!(
        get(&s, "wardflux_isp_probe_rtt_seconds", &probe_magti).is_none(),
        "no RTT of a failed run"
    );
    lab.unblackhole(RTR, "isp0").expect("unblackhole");
    wait_for("healed after the provider is back", LONG, || {
        healthy(&ex.metrics()).then_some(())
    });

    // The uplink cut: its BGP peer goes down (and the port with it).
    lab.cut(RTR, "isp0").expect("cut");
    let s = wait_for("Magti's session down after the cut", LONG, || {
        let s = ex.metrics();
        (get(&s, up, &bgp_magti) == Some(0.0)).then_some(s)
    });
    assert_eq!(
        get(&s, up, &bgp_silknet),
        Some(1.0),
        "Silknet's session unaffected"
    );
    wait_for("isp0 reported down", LONG, || {
        (oper(&ex.metrics(), "isp0") == Some(2.0)).then_some(())
    });
    lab.restore(RTR, "isp0").expect("restore");
    wait_for("healed after restore", LONG, || {
        healthy(&ex.metrics()).then_some(())
    });
    ex.assert_running();
    lab.teardown();
}
