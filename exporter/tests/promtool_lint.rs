//! `promtool check metrics` on a real `/metrics` page: no parse error (exit 1 fails), and when
//! it has style notes (exit 3) every note is about an if_mib name kept for compatibility with
//! snmp_exporter's dashboards (if_mib, and the device health MIB objects), or about the camelCase if_mib labels (`ifIndex`, `ifName`) the
//! wide interface counters carry so that rules join them with the if_mib series; never any
//! other note about a `wardflux_*` family.
//!
//! Needs: Debian prometheus (promtool), snmpsim, snmp, bzip2; PyPI snmpsim-data.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{community_of, require_tool, Exporter, Snmpsim};

/// Our wide interface counters: named the Prometheus way, labelled like the if_mib series.
const WIDE_NAMES: &[&str] = &[
    "wardflux_if_in_octets_total",
    "wardflux_if_out_octets_total",
    "wardflux_if_in_packets_total",
    "wardflux_if_out_packets_total",
];

/// Series names taken over from snmp_exporter's if_mib module (camelCase, counters without
/// `_total`): their style notes are expected.
const IF_MIB_NAMES: &[&str] = &[
    "ifOperStatus",
    "ifAdminStatus",
    "ifHCInOctets",
    "ifHCOutOctets",
    "ifHCInUcastPkts",
    "ifHCOutUcastPkts",
    "ifHCInMulticastPkts",
    "ifHCOutMulticastPkts",
    "ifHCInBroadcastPkts",
    "ifHCOutBroadcastPkts",
    "ifInErrors",
    "ifOutErrors",
    "ifInDiscards",
    "ifOutDiscards",
    "ifInOctets",
    "ifOutOctets",
    "ifInUcastPkts",
    "ifOutUcastPkts",
    "ifHighSpeed",
    "ifSpeed",
    "ifMtu",
    "ifType",
    "dot3StatsDuplexStatus",
    "ifCounterDiscontinuityTime",
    // Device health, named as snmp_exporter names what it walks (cisco_device and the
    // HOST-RESOURCES modules).
    "cpmCPUTotal1minRev",
    "cpmCPUTotal5minRev",
    "cpmCPUTotal1min",
    "cpmCPUTotal5min",
    "hrProcessorLoad",
    "cempMemPoolUsed",
    "cempMemPoolFree",
    "cempMemPoolHCUsed",
    "cempMemPoolHCFree",
    "ciscoMemoryPoolUsed",
    "ciscoMemoryPoolFree",
    "hrStorageAllocationUnits",
    "hrStorageSize",
    "hrStorageUsed",
    // Device environment, under the MIB objects' names.
    "ciscoEnvMonTemperatureStatusValue",
    "ciscoEnvMonTemperatureState",
    "ciscoEnvMonTemperatureThreshold",
    "ciscoEnvMonFanState",
    "ciscoEnvMonSupplyState",
    "entSensorValue",
    "entSensorStatus",
    "entSensorType",
    "entSensorScale",
    "entSensorPrecision",
    "entSensorThresholdValue",
    "entPhySensorValue",
    "entPhySensorOperStatus",
    "entPhySensorType",
    "entPhySensorScale",
    "entPhySensorPrecision",
];

/// Our optical levels: named the Prometheus way, with the interface's if_mib label block.
const OPTICAL_NAMES: &[&str] = &[
    "wardflux_interface_optical_rx_dbm",
    "wardflux_interface_optical_tx_dbm",
];

#[test]
fn promtool_finds_no_parse_error_and_notes_only_if_mib_names() {
    let promtool = require_tool("promtool");
    // One agent with ifXTable, one without, and one answering the HC columns with Counter32
    // (with ifCounterDiscontinuityTime), so every counter set and the wide counters the
    // exporter extends from 32-bit values are on the page.
    let recs = [
        "network/switch/cisco-c3750",
        "network/firewall/topsec-ngfw4000-uf",
        "network/switch/metel-poe-box",
    ];
    let sim = Snmpsim::start("promtool", &recs);
    let mut cfg = String::from("poll_interval: 5s\ndiscovery_interval: 1h\ntimeout: 5s\nauths:\n");
    for r in &recs {
        let c = community_of(r);
        cfg.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
    }
    cfg.push_str("targets:\n");
    for r in &recs {
        let c = community_of(r);
        cfg.push_str(&format!(
            "  - {{name: {c}, address: \"{}\", auth: {c}}}\n",
            sim.addr()
        ));
    }
    // A root and a manual link, so the reachability families are all on the page.
    let (a, b) = (community_of(recs[0]), community_of(recs[1]));
    cfg.push_str(&format!(
        "topology:\n  roots: [{a}]\n  links:\n    - {{a: {a}, a_interface: Gi1/0/1, b: {b}}}\n"
    ));
    let mut ex = Exporter::start(&cfg, &[]);
    let names: Vec<&str> = recs.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&names, Duration::from_secs(120));
    let page = common::wait_for("reachability on the page", Duration::from_secs(30), || {
        let page = ex.get("/metrics");
        page.contains("\nwardflux_device_reachability{")
            .then_some(page)
    });
    for family in [
        "cpmCPUTotal5minRev{",
        "ciscoMemoryPoolUsed{",
        "wardflux_device_cpu_ratio{",
        "wardflux_device_memory_used_ratio{",
        "entSensorValue{",
        "wardflux_device_sensor_value{",
        "wardflux_interface_optical_rx_dbm{",
        "wardflux_device_component_ok{",
        "wardflux_device_reachability{",
        "wardflux_topology_link_info{",
        "wardflux_topology_root_info{",
    ] {
        assert!(
            page.contains(&format!("\n{family}")),
            "no {family} on the page"
        );
    }
    assert!(
        page.contains("\nifInOctets{"),
        "no 32-bit counters on the page"
    );
    assert!(
        page.contains("\nwardflux_device_up{"),
        "no self-metrics on the page"
    );
    for wide in [
        "ifCounterDiscontinuityTime",
        "wardflux_device_if_wraps_total",
    ]
    .iter()
    .chain(WIDE_NAMES)
    {
        assert!(
            page.contains(&format!("\n{wide}{{")),
            "no {wide} on the page"
        );
    }
    assert!(
        page.contains(",counter_bits=\"32\",") && page.contains(",counter_bits=\"64\","),
        "wardflux_interface_info does not say both counter widths"
    );

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let notes = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code();
    assert_ne!(code, Some(1), "promtool found a parse error:\n{notes}");
    assert!(
        matches!(code, Some(0) | Some(3)),
        "promtool exited with {:?}:\n{notes}",
        out.status
    );
    let bad: Vec<&str> = notes
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let metric = l.split_whitespace().next().unwrap_or("");
            let label_case =
                l.ends_with("label names should be written in 'snake_case' not 'camelCase'");
            let allowed = IF_MIB_NAMES.contains(&metric)
                || ((WIDE_NAMES.contains(&metric) || OPTICAL_NAMES.contains(&metric))
                    && label_case);
            !allowed
        })
        .collect();
    assert!(
        bad.is_empty(),
        "style notes outside the if_mib names ({} lines), first ones:\n{}",
        bad.len(),
        bad.iter().take(20).copied().collect::<Vec<_>>().join("\n")
    );
    if code == Some(3) {
        assert!(!notes.trim().is_empty(), "exit 3 without notes");
    }
}
