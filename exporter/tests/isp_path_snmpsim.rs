//! ISP path health from an IOS-shaped recording replayed by snmpsim
//! (`tests/data/isp-path/branch-isr.snmprec`): every CISCO-RTTMON-MIB, BGP4-MIB and
//! CISCO-BGP4-MIB value the exporter serves under the MIB object's name equals what
//! `snmpbulkwalk` reads from the same agent, each probe and peer is tied to the uplink the
//! rules say (or to none), and the added SNMP cost per poll is printed against an IF-MIB-only
//! copy of the same router.
//!
//! Needs: Debian snmpsim, snmp.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::{bulkwalk, find_sample, wait_for, Exporter, Sample, Snmpsim};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/isp-path/branch-isr.snmprec"
);
const FULL: &str = "branch-isr";
const BARE: &str = "branch-isr-bare";

/// Raw polled families: name, column OID, how its index is labelled. Written out here on
/// purpose (not taken from the exporter) so the test is an independent check.
#[derive(Clone, Copy)]
enum Index {
    Probe,
    Bgp4,
    Cbgp2,
}

const COLUMNS: &[(&str, &str, Index)] = &[
    (
        "rttMonCtrlAdminRttType",
        "1.3.6.1.4.1.9.9.42.1.2.1.1.4",
        Index::Probe,
    ),
    (
        "rttMonCtrlOperState",
        "1.3.6.1.4.1.9.9.42.1.2.9.1.10",
        Index::Probe,
    ),
    (
        "rttMonLatestRttOperCompletionTime",
        "1.3.6.1.4.1.9.9.42.1.2.10.1.1",
        Index::Probe,
    ),
    (
        "rttMonLatestRttOperSense",
        "1.3.6.1.4.1.9.9.42.1.2.10.1.2",
        Index::Probe,
    ),
    (
        "rttMonLatestRttOperTime",
        "1.3.6.1.4.1.9.9.42.1.2.10.1.5",
        Index::Probe,
    ),
    ("bgpPeerState", "1.3.6.1.2.1.15.3.1.2", Index::Bgp4),
    ("bgpPeerAdminStatus", "1.3.6.1.2.1.15.3.1.3", Index::Bgp4),
    ("bgpPeerRemoteAs", "1.3.6.1.2.1.15.3.1.9", Index::Bgp4),
    ("bgpPeerInUpdates", "1.3.6.1.2.1.15.3.1.10", Index::Bgp4),
    ("bgpPeerOutUpdates", "1.3.6.1.2.1.15.3.1.11", Index::Bgp4),
    (
        "bgpPeerFsmEstablishedTransitions",
        "1.3.6.1.2.1.15.3.1.15",
        Index::Bgp4,
    ),
    (
        "bgpPeerFsmEstablishedTime",
        "1.3.6.1.2.1.15.3.1.16",
        Index::Bgp4,
    ),
    (
        "cbgpPeer2State",
        "1.3.6.1.4.1.9.9.187.1.2.5.1.3",
        Index::Cbgp2,
    ),
    (
        "cbgpPeer2AdminStatus",
        "1.3.6.1.4.1.9.9.187.1.2.5.1.4",
        Index::Cbgp2,
    ),
    (
        "cbgpPeer2RemoteAs",
        "1.3.6.1.4.1.9.9.187.1.2.5.1.11",
        Index::Cbgp2,
    ),
    (
        "cbgpPeer2FsmEstablishedTransitions",
        "1.3.6.1.4.1.9.9.187.1.2.5.1.18",
        Index::Cbgp2,
    ),
    (
        "cbgpPeer2FsmEstablishedTime",
        "1.3.6.1.4.1.9.9.187.1.2.5.1.19",
        Index::Cbgp2,
    ),
];

/// The OID index a served sample stands for.
fn index_of(s: &Sample, how: Index) -> String {
    match how {
        Index::Probe => s.label("rttMonCtrlAdminIndex").to_string(),
        Index::Bgp4 => s.label("bgpPeerRemoteAddr").to_string(),
        Index::Cbgp2 => {
            let a: IpAddr = s.label("cbgpPeer2RemoteAddr").parse().expect("an address");
            let bytes: Vec<u8> = match a {
                IpAddr::V4(v) => v.octets().to_vec(),
                IpAddr::V6(v) => v.octets().to_vec(),
            };
            let mut parts = vec![
                s.label("cbgpPeer2Type").to_string(),
                bytes.len().to_string(),
            ];
            parts.extend(bytes.iter().map(|b| b.to_string()));
            parts.join(".")
        }
    }
}

/// Put the fixture (and a copy without the ISP path MIBs) where snmpsim serves them; an
/// unchanged file is left alone so snmpsim's index stays valid.
fn place_fixtures(key: &str) {
    let data = Path::new("/tmp/wardflux-simcache").join(key).join("data");
    std::fs::create_dir_all(&data).expect("create snmpsim data dir");
    let full = std::fs::read_to_string(FIXTURE).expect("read fixture");
    let path_mib = |l: &&str| {
        [
            "1.3.6.1.4.1.9.9.42.",
            "1.3.6.1.2.1.15.",
            "1.3.6.1.4.1.9.9.187.",
            "1.3.6.1.2.1.4.20.",
            "1.3.6.1.2.1.4.34.",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    };
    let bare: String = full
        .lines()
        .filter(|l| !path_mib(l))
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, text) in [(FULL, full), (BARE, bare)] {
        let dst = data.join(format!("{name}.snmprec"));
        if std::fs::read_to_string(&dst).ok().as_deref() != Some(text.as_str()) {
            let tmp = data.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).expect("write fixture");
            std::fs::rename(&tmp, &dst).expect("rename fixture");
        }
    }
}

fn number(samples: &[Sample], name: &str, device: &str) -> f64 {
    find_sample(samples, name, &[("device", device)])
        .unwrap_or_else(|| panic!("no {name} of {device}"))
        .f64()
}

#[test]
fn probes_and_peers_are_served_as_walked_and_tied_to_their_uplinks() {
    let key = "isp-path-fixture";
    place_fixtures(key);
    let sim = Snmpsim::start_as(
        key,
        &[
            ("isp-path/branch-isr", FULL),
            ("isp-path/branch-isr-bare", BARE),
        ],
    );
    let agent = sim.addr();
    let config = format!(
        "poll_interval: 3s\nstatus_poll_interval: 0s\ndiscovery_interval: 1h\ntimeout: 5s\nretries: 2\n\
         auths:\n  {FULL}: {{version: 2, community: {FULL}}}\n  {BARE}: {{version: 2, community: {BARE}}}\n\
         targets:\n  - {{name: {FULL}, address: \"{agent}\", auth: {FULL}, labels: {{site: lab}}}}\n\
         \x20 - {{name: {BARE}, address: \"{agent}\", auth: {BARE}, labels: {{site: lab}}}}\n"
    );
    let mut ex = Exporter::start(&config, &[]);
    ex.wait_devices_up(&[FULL, BARE], Duration::from_secs(180));
    let samples = ex.metrics();
    let args = ["-v2c", "-c", FULL];

    // Every raw value equals the agent's, and every row of the agent's tables is served.
    let mut problems = Vec::new();
    for (metric, oid, how) in COLUMNS {
        let walked = bulkwalk(&args, &agent, oid);
        let mut served = BTreeSet::new();
        for s in samples.iter().filter(|s| s.name == *metric) {
            assert_eq!(
                s.label("device"),
                FULL,
                "{metric} of the bare router: {s:?}"
            );
            assert_eq!(s.label("site"), "lab", "{metric} without target labels");
            let idx = index_of(s, *how);
            let agent_says = walked.get(&idx).and_then(|v| v.split_whitespace().next());
            if agent_says != Some(s.value.as_str()) {
                problems.push(format!(
                    "{oid}.{idx} ({metric}): agent {agent_says:?}, /metrics {}",
                    s.value
                ));
            }
            served.insert(idx);
        }
        let rows: BTreeSet<String> = walked.keys().cloned().collect();
        if rows != served || rows.is_empty() {
            problems.push(format!("{metric}: agent rows {rows:?}, served {served:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Tags and targets as labels, as the agent has them.
    let tags = bulkwalk(&args, &agent, "1.3.6.1.4.1.9.9.42.1.2.1.1.3");
    for (idx, tag) in &tags {
        let s = find_sample(
            &samples,
            "rttMonCtrlAdminTag",
            &[("rttMonCtrlAdminIndex", idx)],
        )
        .unwrap_or_else(|| panic!("probe {idx}: no rttMonCtrlAdminTag"));
        assert_eq!(s.label("rttMonCtrlAdminTag"), tag.trim_matches('"'));
    }
    let t = find_sample(
        &samples,
        "rttMonEchoAdminTargetAddress",
        &[("rttMonCtrlAdminIndex", "10")],
    )
    .expect("probe 10's target");
    assert_eq!(t.label("rttMonEchoAdminTargetAddress"), "8.8.8.8");

    // Ties: the uplink's labels are the agent's ifName/ifAlias of that ifIndex.
    let if_names = bulkwalk(&args, &agent, "1.3.6.1.2.1.31.1.1.1.1");
    let uplink = |s: &Sample| -> Option<(String, String)> {
        let idx = s.label("ifIndex");
        if idx.is_empty() {
            for l in ["ifName", "ifAlias", "interface_type", "isp_provider"] {
                assert_eq!(s.label(l), "", "untied but {l} set: {s:?}");
            }
            return None;
        }
        assert_eq!(s.label("ifName"), if_names[idx].trim_matches('"'), "{s:?}");
        assert_eq!(s.label("interface_type"), "isp", "{s:?}");
        Some((
            s.label("ifName").to_string(),
            s.label("isp_provider").to_string(),
        ))
    };
    let tied = |name: &str, key: &str, val: &str| -> (Option<(String, String)>, f64) {
        let s = find_sample(&samples, name, &[(key, val)])
            .unwrap_or_else(|| panic!("no {name}{{{key}={val}}}"));
        assert_eq!(s.label("device"), FULL);
        assert_eq!(s.label("site"), "lab");
        (uplink(s), s.f64())
    };
    let gi = |n: &str, p: &str| Some((n.to_string(), p.to_string()));
    let success = "wardflux_isp_probe_success";
    assert_eq!(
        tied(success, "probe", "10"),
        (gi("Gi0/0/0", "magti"), 1.0),
        "by source address"
    );
    assert_eq!(
        tied(success, "probe", "20"),
        (gi("Gi0/0/1", "silknet"), 0.0),
        "by tag; timed out"
    );
    assert_eq!(
        tied(success, "probe", "30"),
        (None, 1.0),
        "source on no subnet, no tag"
    );
    assert_eq!(
        tied(success, "probe", "40"),
        (None, 1.0),
        "unknown output interface"
    );
    let rtt = "wardflux_isp_probe_rtt_seconds";
    assert_eq!(tied(rtt, "probe", "10"), (gi("Gi0/0/0", "magti"), 0.012));
    assert!(
        find_sample(&samples, rtt, &[("probe", "20")]).is_none(),
        "no RTT of a failed run"
    );
    let s10 = find_sample(&samples, success, &[("probe", "10")]).unwrap();
    assert_eq!(
        (s10.label("target"), s10.label("tag")),
        ("8.8.8.8", "ISP1-MAGTI")
    );
    let up = "wardflux_bgp_peer_up";
    assert_eq!(
        tied(up, "peer", "169.254.10.1"),
        (gi("Gi0/0/0", "magti"), 1.0)
    );
    assert_eq!(
        tied(up, "peer", "169.254.20.1"),
        (gi("Gi0/0/1", "silknet"), 0.0)
    );
    assert_eq!(
        tied(up, "peer", "2001:db8:10::1"),
        (gi("Gi0/0/0", "magti"), 1.0),
        "IPv6 peer"
    );
    assert!(
        find_sample(&samples, up, &[("peer", "198.51.100.7")]).is_none(),
        "admin-stopped"
    );
    let trans = "wardflux_bgp_peer_established_transitions_total";
    assert_eq!(
        tied(trans, "peer", "198.51.100.7"),
        (None, 2.0),
        "multihop peer: untied"
    );
    assert_eq!(tied(trans, "peer", "169.254.20.1").1, 4.0);
    let s = find_sample(&samples, up, &[("peer", "169.254.10.1")]).unwrap();
    assert_eq!(s.label("remote_as"), "65001");
    let per_peer: BTreeMap<&str, usize> =
        samples
            .iter()
            .filter(|s| s.name == trans)
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.label("peer")).or_default() += 1;
                m
            });
    assert!(
        per_peer.values().all(|n| *n == 1),
        "one summary per peer: {per_peer:?}"
    );
    assert!(
        !samples.iter().any(|s| s.label("device") == BARE
            && (s.name.starts_with("wardflux_isp") || s.name.starts_with("wardflux_bgp"))),
        "summaries on a router without the MIBs"
    );

    // promtool parses the page; its style notes may name the MIB objects' names (camelCase,
    // counters without `_total`, as snmp_exporter names them) and, for our families, only the
    // camelCase interface labels (`ifIndex`, `ifName`, `ifAlias`) they share with the if_mib
    // series so that rules join them.
    let mut child = std::process::Command::new(common::require_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        ex.get("/metrics").as_bytes(),
    )
    .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let notes = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "promtool: {notes}"
    );
    let ours: Vec<&str> = notes
        .lines()
        .filter(|l| l.starts_with("wardflux_isp") || l.starts_with("wardflux_bgp"))
        .filter(|l| !l.ends_with("label names should be written in 'snake_case' not 'camelCase'"))
        .collect();
    assert!(ours.is_empty(), "promtool notes on our families: {ours:?}");

    // Cost: SNMP requests per poll, with and without these MIBs (discovery excluded).
    let read = |s: &[Sample], d: &str| {
        (
            number(s, "wardflux_device_snmp_requests_total", d),
            number(s, "wardflux_device_polls_total", d),
        )
    };
    let before = ex.metrics();
    wait_for(
        "three more polls of both routers",
        Duration::from_secs(120),
        || {
            let now = ex.metrics();
            [FULL, BARE]
                .iter()
                .all(|d| read(&now, d).1 >= read(&before, d).1 + 3.0)
                .then_some(now)
        },
    );
    let after = ex.metrics();
    let per_poll = |d: &str| {
        let (r0, p0) = read(&before, d);
        let (r1, p1) = read(&after, d);
        (r1 - r0) / (p1 - p0)
    };
    let (full, bare) = (per_poll(FULL), per_poll(BARE));
    println!(
        "isp path cost: {full:.2} SNMP requests per poll with 4 IP SLA probes, 3 BGP4-MIB and 4 cbgpPeer2 peers, {bare:.2} without (IF-MIB only): {:.2} more",
        full - bare
    );
    assert!(
        full > bare,
        "the ISP path GET is not on the poll: {full} vs {bare}"
    );
}
