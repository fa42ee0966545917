//! Fast link state against a real net-snmp agent: a branch router in a namespace with two ISP
//! uplinks to a provider namespace; the provider's end of an uplink is cut for real.
//! Status polls read the cut between counter polls; a flap shorter than the confirmation
//! delay is read but never served; a real linkDown notification from snmpd makes the
//! exporter poll at once; hostile notifications are dropped and counted.
//!
//! Runs as root (CI does). Needs: Debian snmpd, snmp, iproute2, python3.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::netns::{if_index, mgmt_link, set_if_alias, start_snmpd, veth, Netns};
use common::{find_sample, free_udp_port, parse_exposition, run, wait_for, Exporter, TempDir};

/// A branch router `br` (snmpd, community public) with uplinks up0 (Magti) and up1 (Silknet)
/// whose provider ends pr0/pr1 live in the namespace `isp`.
struct Branch {
    br: Netns,
    isp: Netns,
    /// The agent's address as the exporter polls it.
    agent: Ipv4Addr,
    up0: u32,
    _dir: TempDir,
}

/// The host's end of the management /30 (the namespace has .2, the host .1).
fn host_end(agent: Ipv4Addr) -> Ipv4Addr {
    let o = agent.octets();
    Ipv4Addr::new(o[0], o[1], o[2], o[3] - 1)
}

fn branch(tag: &str, snmpd_extra: impl Fn(Ipv4Addr) -> String) -> Branch {
    let dir = TempDir::new(tag);
    let mut br = Netns::new(&format!("{tag}br"));
    let isp = Netns::new(&format!("{tag}isp"));
    veth(&br, "up0", &isp, "pr0");
    veth(&br, "up1", &isp, "pr1");
    let agent = mgmt_link(&br);
    start_snmpd(&mut br, agent, dir.path(), &snmpd_extra(host_end(agent)));
    let up0 = if_index(&br, "up0");
    let up1 = if_index(&br, "up1");
    set_if_alias(&br, up0, "Magti_Internet");
    set_if_alias(&br, up1, "Silknet_Internet");
    Branch {
        br,
        isp,
        agent,
        up0,
        _dir: dir,
    }
}

fn config(agent: Ipv4Addr, status_poll: &str) -> String {
    // Counter polls once an hour: anything seen after the first visit came from a status poll
    // or a triggered poll.
    format!(
        "poll_interval: 1h\nstatus_poll_interval: {status_poll}\ndiscovery_interval: 1h\n\
         timeout: 1s\nretries: 1\n\
         auths:\n  lab: {{version: 2, community: public}}\n\
         targets:\n  - {{name: br, address: \"{agent}:161\", auth: lab}}\n"
    )
}

/// ifOperStatus of one interface in `/probe?target=br&part=PART`, if served there.
fn oper(ex: &Exporter, part: &str, if_index: u32) -> Option<u64> {
    let samples = parse_exposition(&ex.get(&format!("/probe?target=br&part={part}")));
    find_sample(
        &samples,
        "ifOperStatus",
        &[("device", "br"), ("ifIndex", &if_index.to_string())],
    )
    .map(|s| s.f64() as u64)
}

/// A self-metric's value (0 when absent), summed over label sets matching `labels`.
fn self_metric(ex: &Exporter, name: &str, labels: &[(&str, &str)]) -> u64 {
    parse_exposition(&ex.get("/metrics"))
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == *v))
        .map(|s| s.f64() as u64)
        .sum()
}

#[test]
fn status_polls_read_a_cut_uplink_between_counter_polls() {
    let b = branch("fds", |_| String::new());
    let mut ex = Exporter::start(&config(b.agent, "1s"), &[]);
    ex.wait_devices_up(&["br"], Duration::from_secs(60));
    let polls = ex.polls("br");
    assert_eq!(oper(&ex, "status", b.up0), Some(1));
    assert_eq!(
        oper(&ex, "rest", b.up0),
        None,
        "the uplink's status is served by part=status only"
    );
    b.isp.ip(&["link", "set", "pr0", "down"]);
    wait_for(
        "the status poll to read up0 down",
        Duration::from_secs(30),
        || (oper(&ex, "status", b.up0) == Some(2)).then_some(()),
    );
    assert_eq!(
        ex.polls("br"),
        polls,
        "no counter poll ran: the status poll read it"
    );
    b.isp.ip(&["link", "set", "pr0", "up"]);
    wait_for(
        "the status poll to read up0 up again",
        Duration::from_secs(30),
        || (oper(&ex, "status", b.up0) == Some(1)).then_some(()),
    );
    ex.assert_running();
}

#[test]
fn a_flap_shorter_than_the_confirmation_delay_is_read_but_never_served() {
    let b = branch("fdf", |_| String::new());
    // Status polls every second, so a 1.5 s flap is read; the confirming reading 5 s later
    // (status_confirm_delay, default) sees the link up again.
    let mut ex = Exporter::start(&config(b.agent, "1s"), &[]);
    ex.wait_devices_up(&["br"], Duration::from_secs(60));
    assert_eq!(oper(&ex, "status", b.up0), Some(1));
    let dropped = || {
        self_metric(
            &ex,
            "wardflux_device_link_flaps_dropped_total",
            &[("device", "br")],
        )
    };
    // Under load a reading can miss a flap: flap until one was read and dropped.
    for attempt in 1.. {
        assert!(attempt <= 10, "no flap was read in 10 attempts");
        b.isp.ip(&["link", "set", "pr0", "down"]);
        let flap_end = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < flap_end {
            assert_eq!(
                oper(&ex, "status", b.up0),
                Some(1),
                "a short flap was served"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        b.isp.ip(&["link", "set", "pr0", "up"]);
        // Past the confirming reading: the change is dropped or was never read.
        let quiet_end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < quiet_end {
            assert_eq!(
                oper(&ex, "status", b.up0),
                Some(1),
                "a short flap was served"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if dropped() >= 1 {
            break;
        }
    }
    // A real cut is served once the confirming reading agrees.
    b.isp.ip(&["link", "set", "pr0", "down"]);
    wait_for(
        "the confirmed cut to be served",
        Duration::from_secs(30),
        || (oper(&ex, "status", b.up0) == Some(2)).then_some(()),
    );
    ex.assert_running();
}

/// net-snmp sends linkDown/linkUp itself (LAB.md: numeric notificationEvent + monitor).
fn trap_lines(sink: Ipv4Addr, port: u16) -> String {
    format!(
        "trap2sink {sink}:{port} public\n\
         createUser internalUser SHA internalpass123\n\
         iquerySecName internalUser\n\
         rouser internalUser\n\
         notificationEvent linkUpTrap .1.3.6.1.6.3.1.1.5.4 .1.3.6.1.2.1.2.2.1.1 .1.3.6.1.2.1.2.2.1.7 .1.3.6.1.2.1.2.2.1.8\n\
         notificationEvent linkDownTrap .1.3.6.1.6.3.1.1.5.3 .1.3.6.1.2.1.2.2.1.1 .1.3.6.1.2.1.2.2.1.7 .1.3.6.1.2.1.2.2.1.8\n\
         monitor -r 1 -e linkUpTrap \"Generate linkUp\" .1.3.6.1.2.1.2.2.1.8 == 1\n\
         monitor -r 1 -e linkDownTrap \"Generate linkDown\" .1.3.6.1.2.1.2.2.1.8 != 1\n"
    )
}

#[test]
fn a_real_link_down_notification_polls_the_router_at_once_and_hostile_ones_are_dropped() {
    let port = free_udp_port();
    let b = branch("fdn", |sink| trap_lines(sink, port));
    let listen = format!("{}:{port}", host_end(b.agent));
    let mut ex = Exporter::start_with_args(
        &config(b.agent, "0s"),
        &[],
        &["--snmp.trap-listen-address", &listen],
    );
    ex.wait_devices_up(&["br"], Duration::from_secs(60));
    assert_eq!(oper(&ex, "all", b.up0), Some(1));
    b.isp.ip(&["link", "set", "pr0", "down"]);
    wait_for(
        "the linkDown notification's poll to read up0 down",
        Duration::from_secs(30),
        || (oper(&ex, "all", b.up0) == Some(2)).then_some(()),
    );
    assert!(
        self_metric(
            &ex,
            "wardflux_snmp_notifications_accepted_total",
            &[("kind", "linkDown")]
        ) >= 1
    );
    assert!(self_metric(&ex, "wardflux_snmp_notification_polls_triggered_total", &[]) >= 1);

    // Hostile: a flood from the router's own address (valid traps, wrong communities,
    // malformed BER, SNMPv3) and from the host (a source that is no target).
    let triggered_before =
        self_metric(&ex, "wardflux_snmp_notification_polls_triggered_total", &[]);
    let started = Instant::now();
    flood(&b.br, &listen, 10_000);
    flood_from_host(&listen, 1_000);
    let received = wait_for("the flood to be counted", Duration::from_secs(30), || {
        let n = self_metric(&ex, "wardflux_snmp_notifications_received_total", &[]);
        let again = self_metric(&ex, "wardflux_snmp_notifications_received_total", &[]);
        // UDP may drop some of a flood; wait until the count stops moving.
        std::thread::sleep(Duration::from_millis(500));
        (n > 1_000
            && n == again
            && n == self_metric(&ex, "wardflux_snmp_notifications_received_total", &[]))
        .then_some(n)
    });
    let triggered = self_metric(&ex, "wardflux_snmp_notification_polls_triggered_total", &[])
        - triggered_before;
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        triggered <= seconds + 1,
        "{triggered} polls triggered in about {seconds} s: more than one per second"
    );
    for reason in ["wrong_community", "malformed", "unknown_source"] {
        assert!(
            self_metric(
                &ex,
                "wardflux_snmp_notifications_rejected_total",
                &[("reason", reason)]
            ) > 0,
            "nothing rejected as {reason} out of {received}"
        );
    }
    // Still polling and serving.
    b.isp.ip(&["link", "set", "pr0", "up"]);
    wait_for(
        "the linkUp notification's poll to read up0 up",
        Duration::from_secs(30),
        || (oper(&ex, "all", b.up0) == Some(1)).then_some(()),
    );
    ex.assert_running();
    assert!(
        !ex.log().contains("public"),
        "the community never reaches the log"
    );
}

#[test]
fn a_real_snmpv3_authpriv_link_down_polls_the_router_and_an_unknown_user_is_rejected() {
    let port = free_udp_port();
    // The router is polled as the v3 user and sends its notifications as the same user
    // (trapsess), authenticated (SHA) and encrypted (AES): snmpd is the authoritative engine.
    let b = branch("fd3", |sink| {
        let mut conf = String::from(
            "createUser wfxuser SHA wfxauthpass1 AES wfxprivpass1\n\
             rouser wfxuser authPriv\n",
        );
        conf.push_str(&format!(
            "trapsess -v 3 -u wfxuser -l authPriv -a SHA -A wfxauthpass1 -x AES -X wfxprivpass1 {sink}:{port}\n"
        ));
        for line in trap_lines(sink, port).lines() {
            if !line.starts_with("trap2sink") {
                conf.push_str(line);
                conf.push('\n');
            }
        }
        conf
    });
    let listen = format!("{}:{port}", host_end(b.agent));
    let config = format!(
        "poll_interval: 1h\nstatus_poll_interval: 0s\ndiscovery_interval: 1h\n\
         timeout: 1s\nretries: 1\n\
         auths:\n  v3: {{version: 3, username: wfxuser, security_level: authPriv, \
         auth_protocol: SHA, auth_password: wfxauthpass1, priv_protocol: AES, \
         priv_password: wfxprivpass1}}\n\
         targets:\n  - {{name: br, address: \"{}:161\", auth: v3}}\n",
        b.agent
    );
    let mut ex = Exporter::start_with_args(&config, &[], &["--snmp.trap-listen-address", &listen]);
    ex.wait_devices_up(&["br"], Duration::from_secs(60));
    assert_eq!(oper(&ex, "all", b.up0), Some(1));
    b.isp.ip(&["link", "set", "pr0", "down"]);
    wait_for(
        "the v3 linkDown notification's poll to read up0 down",
        Duration::from_secs(30),
        || (oper(&ex, "all", b.up0) == Some(2)).then_some(()),
    );
    assert!(
        self_metric(
            &ex,
            "wardflux_snmp_notifications_accepted_total",
            &[("kind", "linkDown")]
        ) >= 1
    );
    // From the router's own address, net-snmp's snmptrap: a user the exporter does not know,
    // and the known user with another password.
    let (host, port) = listen.split_once(':').unwrap();
    let sink = format!("{host}:{port}");
    for (user, pass, reason) in [
        ("wfxother", "otherauthpass1", "unknown_user"),
        ("wfxuser", "wrongauthpass1", "bad_digest"),
    ] {
        run(b.br.cmd("snmptrap").args([
            "-v",
            "3",
            "-u",
            user,
            "-l",
            "authNoPriv",
            "-a",
            "SHA",
            "-A",
            pass,
            "-e",
            "0x80001f8880c0ffee0000000002",
            &sink,
            "",
            "1.3.6.1.6.3.1.1.5.3",
        ]));
        wait_for(
            &format!("the notification to be rejected as {reason}"),
            Duration::from_secs(15),
            || {
                (self_metric(
                    &ex,
                    "wardflux_snmp_notifications_rejected_total",
                    &[("reason", reason)],
                ) >= 1)
                    .then_some(())
            },
        );
    }
    ex.assert_running();
    for secret in ["wfxauthpass1", "wfxprivpass1"] {
        assert!(!ex.log().contains(secret));
        assert!(!ex.get("/metrics").contains(secret));
    }
}

const TRAP_PY: &str = r#"
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def tlv(t, b):
    if len(b) < 128: return bytes([t, len(b)]) + b
    return bytes([t, 0x82]) + len(b).to_bytes(2, 'big') + b
def vb(oid, val): return tlv(0x30, tlv(0x06, oid) + val)
SU = bytes([0x2b,6,1,2,1,1,3,0]); TO = bytes([0x2b,6,1,6,3,1,1,4,1,0]); TR = bytes([0x2b,6,1,6,3,1,1,5])
def trap(comm, arc, version=1):
    vbs = vb(SU, bytes([0x43,2,0x12,0x34])) + vb(TO, tlv(0x06, TR + bytes([arc])))
    pdu = bytes([2,1,7,2,1,0,2,1,0]) + tlv(0x30, vbs)
    return tlv(0x30, bytes([2,1,version]) + tlv(0x04, comm) + tlv(0xa7, pdu))
kinds = [trap(b'public', 3), trap(b'wrong', 3), trap(b'public', 3)[:17], trap(b'public', 3, 3)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    try: s.sendto(kinds[i % 4], (host, port))
    except OSError: pass
"#;

/// Send `n` datagrams from inside `ns` (so from the target's own address).
fn flood(ns: &Netns, listen: &str, n: u32) {
    let (host, port) = listen.split_once(':').unwrap();
    run(ns
        .cmd("python3")
        .args(["-c", TRAP_PY, host, port, &n.to_string()]));
}

fn flood_from_host(listen: &str, n: u32) {
    let (host, port) = listen.split_once(':').unwrap();
    run(
        std::process::Command::new(common::require_tool("python3")).args([
            "-c",
            TRAP_PY,
            host,
            port,
            &n.to_string(),
        ]),
    );
}
