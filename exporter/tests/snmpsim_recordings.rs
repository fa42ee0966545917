//! Real device recordings replayed by snmpsim: every interface value the exporter serves on
//! `/metrics` equals what `snmpbulkwalk` reads from the same agent, OID by OID and ifIndex by
//! ifIndex, and no interface of the agent's ifTable is missing.
//!
//! Needs: Debian snmpsim, snmp, bzip2; PyPI snmpsim-data.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{bulkwalk, community_of, Exporter, Sample, Snmpsim};

/// Every if_mib series the exporter may serve, with the column it comes from. Written out here
/// on purpose (not taken from the exporter) so the test is an independent check.
const COLUMNS: &[(&str, &str)] = &[
    ("ifType", "1.3.6.1.2.1.2.2.1.3"),
    ("ifMtu", "1.3.6.1.2.1.2.2.1.4"),
    ("ifSpeed", "1.3.6.1.2.1.2.2.1.5"),
    ("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7"),
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8"),
    ("ifInOctets", "1.3.6.1.2.1.2.2.1.10"),
    ("ifInUcastPkts", "1.3.6.1.2.1.2.2.1.11"),
    ("ifInDiscards", "1.3.6.1.2.1.2.2.1.13"),
    ("ifInErrors", "1.3.6.1.2.1.2.2.1.14"),
    ("ifOutOctets", "1.3.6.1.2.1.2.2.1.16"),
    ("ifOutUcastPkts", "1.3.6.1.2.1.2.2.1.17"),
    ("ifOutDiscards", "1.3.6.1.2.1.2.2.1.19"),
    ("ifOutErrors", "1.3.6.1.2.1.2.2.1.20"),
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6"),
    ("ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7"),
    ("ifHCInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.8"),
    ("ifHCInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.9"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10"),
    ("ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11"),
    ("ifHCOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.12"),
    ("ifHCOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.13"),
    ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15"),
    ("ifCounterDiscontinuityTime", "1.3.6.1.2.1.31.1.1.1.19"),
    ("dot3StatsDuplexStatus", "1.3.6.1.2.1.10.7.2.1.19"),
];

/// Per-device result of the comparison, for the assertions that follow it.
struct Compared {
    /// Samples compared, by metric name.
    by_metric: BTreeMap<String, usize>,
    /// The agent's values by metric name and ifIndex.
    walked: BTreeMap<&'static str, BTreeMap<String, String>>,
}

/// Walk every column of `COLUMNS` on the agent and compare each of the device's samples.
fn compare_device(samples: &[Sample], agent: &str, device: &str, community: &str) -> Compared {
    let args = ["-v2c", "-c", community];
    let walked: BTreeMap<&'static str, BTreeMap<String, String>> = COLUMNS
        .iter()
        .map(|(metric, oid)| (*metric, bulkwalk(&args, agent, oid)))
        .collect();
    let oid_of: BTreeMap<&str, &str> = COLUMNS.iter().copied().collect();
    let mut by_metric = BTreeMap::new();
    let mut mismatches = Vec::new();
    for s in samples.iter().filter(|s| s.label("device") == device) {
        let Some(col) = walked.get(s.name.as_str()) else {
            continue;
        };
        let idx = s.label("ifIndex");
        assert!(
            !idx.is_empty(),
            "{device}: {} sample without ifIndex",
            s.name
        );
        match col.get(idx) {
            Some(v) if same_number(v, &s.value) => {}
            Some(v) => mismatches.push(format!(
                "{}.{idx} ({}): agent says {v}, /metrics says {}",
                oid_of[s.name.as_str()],
                s.name,
                s.value
            )),
            None => mismatches.push(format!(
                "{}.{idx} ({}): not on the agent, /metrics says {}",
                oid_of[s.name.as_str()],
                s.name,
                s.value
            )),
        }
        *by_metric.entry(s.name.clone()).or_insert(0) += 1;
    }
    assert!(
        mismatches.is_empty(),
        "{device}: {} values differ from snmpbulkwalk, first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every interface row of the agent (ifIndex > 0, with a type) is on /metrics.
    let agent_ifs: BTreeSet<&str> = walked["ifType"]
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "0")
        .collect();
    let served: BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.label("device") == device && s.name == "ifType")
        .map(|s| s.label("ifIndex"))
        .collect();
    assert_eq!(
        served, agent_ifs,
        "{device}: interfaces on /metrics differ from the agent's ifTable"
    );
    Compared { by_metric, walked }
}

/// Numbers compare by value (`-Oq` prints them plainly); anything else must be identical text.
fn same_number(agent: &str, served: &str) -> bool {
    match (agent.parse::<u64>(), served.parse::<u64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => match (agent.parse::<i64>(), served.parse::<i64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => agent == served,
        },
    }
}

fn config(agent: &str, poll: &str, recordings: &[&str]) -> String {
    let mut auths = String::new();
    let mut targets = String::new();
    for r in recordings {
        let c = community_of(r);
        auths.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
        targets.push_str(&format!(
            "  - {{name: {c}, address: \"{agent}\", auth: {c}, labels: {{site: lab}}}}\n"
        ));
    }
    format!(
        "poll_interval: {poll}\ndiscovery_interval: 1h\ntimeout: 5s\nretries: 2\n\
         auths:\n{auths}targets:\n{targets}"
    )
}

#[test]
fn recorded_cisco_juniper_and_legacy_devices_match_snmpbulkwalk() {
    let cisco_c3750 = "network/switch/cisco-c3750";
    let cisco_n5k = "network/switch/cisco-n5000-uk9";
    let juniper = "network/router/juniper-mx960-12-3r6-6";
    // A firewall whose agent has ifTable but no ifXTable: 32-bit counters only.
    let legacy = "network/firewall/topsec-ngfw4000-uf";
    let recordings = [cisco_c3750, cisco_n5k, juniper, legacy];
    let sim = Snmpsim::start("recordings-small", &recordings);
    let mut ex = Exporter::start(&config(&sim.addr(), "5s", &recordings), &[]);
    let names: Vec<&str> = recordings.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&names, Duration::from_secs(180));
    let samples = ex.metrics();

    for r in &recordings {
        let c = community_of(r);
        let got = compare_device(&samples, &sim.addr(), c, c);
        let n = |m: &str| got.by_metric.get(m).copied().unwrap_or(0);
        assert!(n("ifOperStatus") > 0, "{c}: no ifOperStatus compared");
        assert!(n("ifInErrors") > 0, "{c}: no error counters compared");
        if *r == legacy {
            assert!(
                n("ifInOctets") > 0,
                "{c}: no 32-bit ifInOctets without ifXTable"
            );
            assert_eq!(
                n("ifHCInOctets"),
                0,
                "{c}: 64-bit counters on an agent without ifXTable"
            );
            assert_eq!(
                n("ifHighSpeed"),
                0,
                "{c}: ifHighSpeed on an agent without ifXTable"
            );
        } else {
            assert!(n("ifHCInOctets") > 0, "{c}: no ifHCInOctets compared");
            assert!(n("ifHighSpeed") > 0, "{c}: no ifHighSpeed compared");
        }
    }
    // The target's own labels reach every series.
    assert!(samples
        .iter()
        .filter(|s| s.name == "ifHCInOctets")
        .all(|s| s.label("site") == "lab"));
}

#[test]
fn recorded_h3c_with_1317_interfaces_matches_snmpbulkwalk() {
    let h3c = "network/switch/h3c-comware-lsq1wcmd0-2509p61";
    let sim = Snmpsim::start("recordings-h3c", &[h3c]);
    // snmpsim answers slowly: one visit of 1,317 interfaces takes tens of seconds.
    let mut ex = Exporter::start(&config(&sim.addr(), "60s", &[h3c]), &[]);
    let c = community_of(h3c);
    ex.wait_devices_up(&[c], Duration::from_secs(300));
    let samples = ex.metrics();
    let got = compare_device(&samples, &sim.addr(), c, c);
    let served_ifs = samples
        .iter()
        .filter(|s| s.name == "ifType" && s.label("device") == c)
        .count();
    assert_eq!(served_ifs, 1317, "{c}: interfaces on /metrics");
    assert!(got.by_metric.get("ifHCInOctets").copied().unwrap_or(0) > 0);
}

/// The wide octet counters of a device whose counters do not move (a recording): at every poll
/// they equal the agent's ifHCInOctets where it has one, else its ifInOctets, and
/// `wardflux_interface_info` says 32 for every interface without a Counter64 ifHCInOctets.
fn check_wide(
    samples: &[Sample],
    device: &str,
    got: &Compared,
    hc_types: &BTreeMap<String, String>,
) {
    let mut checked = 0;
    for (wide, hc, legacy) in [
        ("wardflux_if_in_octets_total", "ifHCInOctets", "ifInOctets"),
        (
            "wardflux_if_out_octets_total",
            "ifHCOutOctets",
            "ifOutOctets",
        ),
    ] {
        for s in samples
            .iter()
            .filter(|s| s.label("device") == device && s.name == wide)
        {
            let idx = s.label("ifIndex");
            let agent = got.walked[hc]
                .get(idx)
                .or_else(|| got.walked[legacy].get(idx))
                .unwrap_or_else(|| panic!("{device}: {wide} for ifIndex {idx} the agent lacks"));
            assert!(
                same_number(agent, &s.value),
                "{device}: {wide}.{idx} is {}, the agent says {agent}",
                s.value
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "{device}: no wide octet counters served");
    for s in samples
        .iter()
        .filter(|s| s.label("device") == device && s.name == "wardflux_interface_info")
    {
        let want = match hc_types.get(s.label("if_index")).map(String::as_str) {
            Some("Counter64") => "64",
            _ => "32",
        };
        assert_eq!(
            s.label("counter_bits"),
            want,
            "{device}: ifIndex {} counter width",
            s.label("if_index")
        );
    }
}

/// The SNMP type of each ifHCInOctets instance, as snmpbulkwalk names it.
fn hc_types(agent: &str, community: &str) -> BTreeMap<String, String> {
    let out = std::process::Command::new("snmpbulkwalk")
        .args([
            "-v2c",
            "-c",
            community,
            "-On",
            agent,
            "1.3.6.1.2.1.31.1.1.1.6",
        ])
        .output()
        .expect("run snmpbulkwalk");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (oid, rest) = l.split_once(" = ")?;
            let idx = oid.rsplit('.').next()?.to_string();
            let ty = rest.split(':').next()?.trim().to_string();
            Some((idx, ty))
        })
        .collect()
}

#[test]
fn recorded_32_bit_only_and_non_conforming_agents_match_snmpbulkwalk() {
    // Agents with 32-bit counters only (no ifXTable, or ifXTable rows without HC columns) and
    // two that answer the HC columns with Counter32 (Venus VSOS, Metel PoE box).
    let brocade = "network/switch/brocade-ds-5100b";
    let camera = "camera/semac-ipcam-500";
    let netapp = "storage/netapp-fas3270";
    let ups = "UPS/eaton-93e-80";
    let venus = "network/firewall/venus-vsos-v0600r0705b20180507";
    let metel = "network/switch/metel-poe-box";
    let recordings = [brocade, camera, netapp, ups, venus, metel];
    let sim = Snmpsim::start("recordings-32bit", &recordings);
    let mut ex = Exporter::start(&config(&sim.addr(), "5s", &recordings), &[]);
    let names: Vec<&str> = recordings.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&names, Duration::from_secs(180));
    // Two polls at least, so the wide counters went through the wrap tracker twice.
    for n in &names {
        ex.wait_next_full_poll(n, Duration::from_secs(60));
    }
    let samples = ex.metrics();
    for r in &recordings {
        let c = community_of(r);
        let got = compare_device(&samples, &sim.addr(), c, c);
        let n = |m: &str| got.by_metric.get(m).copied().unwrap_or(0);
        assert!(n("ifOperStatus") > 0, "{c}: no ifOperStatus compared");
        let types = hc_types(&sim.addr(), c);
        check_wide(&samples, c, &got, &types);
        if *r == venus || *r == metel {
            // Served as snmp_exporter serves them: the agent's Counter32 values under the HC
            // names (compared above), with the discontinuity time where the agent has it.
            assert!(
                types.values().all(|t| t == "Counter32"),
                "{c}: expected Counter32 HC columns, got {types:?}"
            );
            assert!(
                n("ifHCInOctets") > 0,
                "{c}: Counter32 ifHCInOctets not served"
            );
            assert_eq!(
                n("ifInOctets"),
                0,
                "{c}: ifInOctets served instead of the HC column"
            );
        } else {
            assert!(n("ifInOctets") > 0, "{c}: no 32-bit ifInOctets served");
        }
        if *r == metel {
            assert!(
                n("ifCounterDiscontinuityTime") > 0,
                "{c}: no discontinuity time"
            );
        }
    }
}
