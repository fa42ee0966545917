//! net-snmp `snmpd` agents in network namespaces joined by veth cables (built by wardflux-lab,
//! each device over a management link): real kernel interfaces with real counters and real
//! link failures, polled over SNMPv2c and SNMPv3.
//!
//! Runs as root (CI does). Needs: Debian snmpd, snmp, iproute2, lldpd.

mod common;

use std::time::Duration;

use common::{find_sample, lab_if_index, snmp_get_v2c, wait_for, Exporter};
use wardflux_lab::{Description, Lab};

/// Two devices over management links, cabled `R1:a1 <-> R2:b1`, net-snmp with community
/// `public`; `extra` is more of the description (aliases, SNMP profiles).
fn two_devices(name: &str, r1: &str, r2: &str, extra1: &str, extra2: &str) -> Lab {
    let text = format!(
        "name: {name}\n\
         snmp:\n  lab: {{version: 2c, community: public}}\n\
         \x20 v3: {{version: 3, username: wardflux, security_level: authPriv, auth_protocol: SHA,\n\
         \x20      auth_password: wfx-auth-secret-1, priv_protocol: AES, priv_password: wfx-priv-secret-1}}\n\
         defaults: {{snmp: lab, lldp: false}}\n\
         sites:\n  hq:\n    nodes:\n\
         \x20     {r1}: {{kind: switch, management: true{extra1}}}\n\
         \x20     {r2}: {{kind: switch, management: true{extra2}}}\n\
         links:\n  - endpoints: [\"{r1}:a1\", \"{r2}:b1\"]\n"
    );
    let d = Description::parse(&format!("{name}.yml"), &text).expect("lab description");
    Lab::build(&d).unwrap_or_else(|e| panic!("lab: {e}"))
}

const IF_OPER_STATUS: &str = "1.3.6.1.2.1.2.2.1.8";
const IF_ADMIN_STATUS: &str = "1.3.6.1.2.1.2.2.1.7";
const IF_HC_IN_OCTETS: &str = "1.3.6.1.2.1.31.1.1.1.6";

fn v2_config(targets: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  lab: {version: 2, community: public}\ntargets:\n",
    );
    for (name, addr) in targets {
        s.push_str(&format!(
            "  - {{name: {name}, address: \"{addr}\", auth: lab}}\n"
        ));
    }
    s
}

/// The exporter's value of `metric` for one interface, if it is on /metrics.
fn served(ex: &Exporter, metric: &str, device: &str, if_index: u32) -> Option<u64> {
    let samples = ex.metrics();
    find_sample(
        &samples,
        metric,
        &[("device", device), ("ifIndex", &if_index.to_string())],
    )
    .map(|s| s.f64() as u64)
}

fn agent_u64(addr: &str, oid: &str) -> u64 {
    let v = snmp_get_v2c(addr, "public", oid).unwrap_or_else(|e| panic!("snmpget {oid}: {e}"));
    v.parse()
        .unwrap_or_else(|_| panic!("snmpget {oid}: not a number: {v}"))
}

#[test]
fn udp_traffic_across_a_veth_moves_ifhcinoctets() {
    let lab = two_devices(
        "nstraffic",
        "R1",
        "BRANCH-RTR-02",
        "",
        ", aliases: {b1: Uplink_to_Core}",
    );
    let agent = lab.address("BRANCH-RTR-02").unwrap().to_string();
    let b1 = lab_if_index(&lab, "BRANCH-RTR-02", "b1");
    let b1_addr = lab.plan().cables[0].b_addr;
    let mut ex = Exporter::start(&v2_config(&[("BRANCH-RTR-02", &agent)]), &[]);
    ex.wait_devices_up(&["BRANCH-RTR-02"], Duration::from_secs(60));
    let samples = ex.metrics();
    let s = find_sample(
        &samples,
        "ifHCInOctets",
        &[("device", "BRANCH-RTR-02"), ("ifIndex", &b1.to_string())],
    )
    .expect("ifHCInOctets of b1 on /metrics");
    assert_eq!(s.label("ifName"), "b1");
    assert_eq!(s.label("ifAlias"), "Uplink_to_Core");
    let before = s.f64() as u64;

    // 50 UDP datagrams of 1,400 bytes each arrive on b1 (bash's /dev/udp, so no extra tool).
    let sent: u64 = 50 * 1400;
    common::run(
        std::process::Command::new("ip")
            .args(["netns", "exec", lab.netns("R1").unwrap(), "bash", "-c"])
            .arg(format!(
                "payload=$(head -c 1400 /dev/zero | tr '\\0' x); \
                 for i in $(seq 50); do printf '%s' \"$payload\" > /dev/udp/{b1_addr}/9; done"
            )),
    );
    // The agent refreshes its interface cache on its own schedule; wait until it reports the
    // traffic, then one full poll later the exporter must serve at least that.
    let oid = format!("{IF_HC_IN_OCTETS}.{b1}");
    let at_agent = wait_for("snmpd to count the pings", Duration::from_secs(60), || {
        let v = agent_u64(&agent, &oid);
        (v >= before + sent).then_some(v)
    });
    ex.wait_next_full_poll("BRANCH-RTR-02", Duration::from_secs(30));
    let after = served(&ex, "ifHCInOctets", "BRANCH-RTR-02", b1).expect("ifHCInOctets of b1");
    assert!(
        after >= at_agent,
        "exporter shows {after} after the agent reported {at_agent}"
    );
    assert!(
        after - before >= sent,
        "ifHCInOctets grew by {} for {sent} bytes of ping payload",
        after - before
    );
}

#[test]
fn link_down_shows_ifoperstatus_2_within_one_poll() {
    let mut lab = two_devices(
        "nslinkdown",
        "BRANCH-RTR-01",
        "CORE-SW-01",
        ", aliases: {a1: Magti_Internet}",
        "",
    );
    let agent1 = lab.address("BRANCH-RTR-01").unwrap().to_string();
    let agent2 = lab.address("CORE-SW-01").unwrap().to_string();
    let a1 = lab_if_index(&lab, "BRANCH-RTR-01", "a1");
    let b1 = lab_if_index(&lab, "CORE-SW-01", "b1");

    let mut ex = Exporter::start(
        &v2_config(&[("BRANCH-RTR-01", &agent1), ("CORE-SW-01", &agent2)]),
        &[],
    );
    ex.wait_devices_up(&["BRANCH-RTR-01", "CORE-SW-01"], Duration::from_secs(60));
    assert_eq!(served(&ex, "ifOperStatus", "BRANCH-RTR-01", a1), Some(1));
    assert_eq!(served(&ex, "ifOperStatus", "CORE-SW-01", b1), Some(1));

    lab.cut("BRANCH-RTR-01", "a1").expect("cut a1");
    // Once the agents report the failure, the next full poll must show it on /metrics.
    let a1_oid = format!("{IF_OPER_STATUS}.{a1}");
    let b1_oid = format!("{IF_OPER_STATUS}.{b1}");
    wait_for("snmpd to report a1 down", Duration::from_secs(60), || {
        (agent_u64(&agent1, &a1_oid) == 2).then_some(())
    });
    let b1_at_agent = wait_for("snmpd to report b1 not up", Duration::from_secs(60), || {
        let v = agent_u64(&agent2, &b1_oid);
        (v != 1).then_some(v)
    });
    ex.wait_next_full_poll("BRANCH-RTR-01", Duration::from_secs(30));
    ex.wait_next_full_poll("CORE-SW-01", Duration::from_secs(30));
    // a1 is an ISP uplink: the flap guard serves its change once a second reading,
    // status_confirm_delay (5 s) after the poll that saw it, still sees it.
    wait_for(
        "the exporter to serve a1 down",
        Duration::from_secs(30),
        || (served(&ex, "ifOperStatus", "BRANCH-RTR-01", a1) == Some(2)).then_some(()),
    );
    assert_eq!(served(&ex, "ifAdminStatus", "BRANCH-RTR-01", a1), Some(2));
    assert_eq!(
        served(&ex, "ifOperStatus", "CORE-SW-01", b1),
        Some(b1_at_agent),
        "the far end of the cable"
    );
    assert_eq!(
        agent_u64(&agent2, &format!("{IF_ADMIN_STATUS}.{b1}")),
        1,
        "the far end stays admin up"
    );
}

#[test]
fn snmpv3_authpriv_user_works_and_a_wrong_password_is_reported() {
    let lab = two_devices("nsv3", "CORE-SW-01", "PEER", ", snmp: [v3, lab]", "");
    let agent = lab.address("CORE-SW-01").unwrap().to_string();
    let config = format!(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n\
         \x20 core_v3: {{version: 3, username: wardflux, security_level: authPriv, auth_protocol: SHA,\n\
         \x20           auth_password_env: V3_AUTH, priv_protocol: AES, priv_password_env: V3_PRIV}}\n\
         \x20 wrong_v3: {{version: 3, username: wardflux, security_level: authPriv, auth_protocol: SHA,\n\
         \x20           auth_password: wfx-not-the-password, priv_protocol: AES, priv_password_env: V3_PRIV}}\n\
         targets:\n\
         \x20 - {{name: CORE-SW-01, address: \"{agent}\", auth: core_v3}}\n\
         \x20 - {{name: CORE-SW-02, address: \"{agent}\", auth: wrong_v3}}\n"
    );
    let mut ex = Exporter::start(
        &config,
        &[
            ("V3_AUTH", "wfx-auth-secret-1"),
            ("V3_PRIV", "wfx-priv-secret-1"),
        ],
    );
    ex.wait_devices_up(&["CORE-SW-01"], Duration::from_secs(60));
    // The v3 agent's interfaces were walked: its loopback is there with its real type.
    let samples = ex.metrics();
    let lo = find_sample(
        &samples,
        "ifType",
        &[("device", "CORE-SW-01"), ("ifName", "lo")],
    )
    .expect("loopback of the v3 agent on /metrics");
    assert_eq!(lo.value, "24", "softwareLoopback");

    let bad = wait_for(
        "CORE-SW-02 to report its error",
        Duration::from_secs(30),
        || {
            let d = ex.device("CORE-SW-02");
            d["last_error"].is_string().then_some(d)
        },
    );
    assert_eq!(bad["up"], false);
    let err = bad["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        err.contains("auth") || err.contains("digest"),
        "last_error should say authentication failed: {err}"
    );
    let samples = ex.metrics();
    assert_eq!(
        find_sample(&samples, "wardflux_device_up", &[("device", "CORE-SW-02")])
            .map(|s| s.value.as_str()),
        Some("0")
    );
    assert_eq!(
        find_sample(&samples, "wardflux_device_up", &[("device", "CORE-SW-01")])
            .map(|s| s.value.as_str()),
        Some("1")
    );
    let log = ex.log();
    let line = log
        .lines()
        .find(|l| l.contains("CORE-SW-02") && l.to_lowercase().contains("auth"))
        .unwrap_or_else(|| panic!("no log line about CORE-SW-02's authentication:\n{log}"));
    assert!(line.contains(&agent), "log line names the address: {line}");
    // Secrets never leave the process.
    for secret in [
        "wfx-auth-secret-1",
        "wfx-priv-secret-1",
        "wfx-not-the-password",
    ] {
        assert!(!log.contains(secret), "a password reached the log");
        assert!(
            !ex.get("/metrics").contains(secret),
            "a password reached /metrics"
        );
        assert!(
            !ex.get("/api/v1/devices").contains(secret),
            "a password reached /api/v1/devices"
        );
    }
}
