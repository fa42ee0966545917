//! The lab's own IP SLA probe agent, standing in for a branch router's IP SLA `icmp-echo`
//! operations: for every uplink with `probe:`, a ping from the uplink's address out of its port
//! to the provider's end (the host side of the uplink) every `frequency` seconds, served as
//! CISCO-RTTMON-MIB rows by the router's own snmpd.
//!
//! The mechanism is net-snmp's `pass_persist`: snmpd starts `sla_agent.py` (embedded here,
//! written into the router's directory) inside the router's namespace and asks it for the
//! subtree 1.3.6.1.4.1.9.9.42. The script pings in threads of its own and answers from the
//! latest results, so an SNMP request never waits for a ping. Python 3 is already needed by
//! snmpsim; a script needs no binary of this crate at a known path (the library runs from
//! other crates' tests too).

use std::path::Path;

use serde::Serialize;

use crate::plan::{Plan, PlanNode};
use crate::sys;
use crate::LabError;

/// The pass_persist script.
pub const AGENT_PY: &str = include_str!("sla_agent.py");
/// The subtree the script serves: ciscoRttMonMIB.
pub const RTTMON: &str = "1.3.6.1.4.1.9.9.42";
/// rttMonLatestRttOperSense values.
pub const SENSE_OK: i64 = 1;
pub const SENSE_TIMEOUT: i64 = 4;
/// Column OIDs (append `.INDEX`).
pub const CTRL_ADMIN_TAG: &str = "1.3.6.1.4.1.9.9.42.1.2.1.1.3";
pub const CTRL_ADMIN_RTT_TYPE: &str = "1.3.6.1.4.1.9.9.42.1.2.1.1.4";
pub const ECHO_ADMIN_TARGET_ADDRESS: &str = "1.3.6.1.4.1.9.9.42.1.2.2.1.2";
pub const ECHO_ADMIN_SOURCE_ADDRESS: &str = "1.3.6.1.4.1.9.9.42.1.2.2.1.6";
/// rttMonEchoAdminOutputInterface: the ifIndex of the uplink's port.
pub const ECHO_ADMIN_OUTPUT_INTERFACE: &str = "1.3.6.1.4.1.9.9.42.1.2.2.1.79";
pub const CTRL_OPER_STATE: &str = "1.3.6.1.4.1.9.9.42.1.2.9.1.10";
pub const LATEST_COMPLETION_TIME: &str = "1.3.6.1.4.1.9.9.42.1.2.10.1.1";
pub const LATEST_SENSE: &str = "1.3.6.1.4.1.9.9.42.1.2.10.1.2";
pub const LATEST_TIME: &str = "1.3.6.1.4.1.9.9.42.1.2.10.1.5";

/// One probe as the script reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeConfig {
    pub index: u32,
    pub tag: String,
    pub port: String,
    pub source: String,
    pub target: String,
    pub frequency: u32,
    pub timeout_ms: u32,
}

/// Whether a device has uplinks with `probe:`.
pub fn has_probes(plan: &Plan, node: &str) -> bool {
    plan.access
        .iter()
        .any(|a| a.node == node && a.probe.is_some())
}

/// The probes of a device: from each probed uplink's address to the provider's end.
pub fn probes(plan: &Plan, node: &str) -> Vec<ProbeConfig> {
    plan.access
        .iter()
        .filter(|a| a.node == node)
        .filter_map(|a| {
            let p = a.probe.as_ref()?;
            Some(ProbeConfig {
                index: p.index,
                tag: p.tag.clone(),
                port: a.port.clone(),
                source: a.node_addr.to_string(),
                target: a.host_addr.to_string(),
                frequency: p.frequency,
                // Below the frequency, at most 2 s (Cisco's default timeout is 5 s).
                timeout_ms: (p.frequency * 1000).saturating_sub(500).clamp(500, 2000),
            })
        })
        .collect()
}

/// The snmpd.conf line that hands CISCO-RTTMON-MIB to the script (`ndir`: the device's dir).
pub fn snmpd_conf_line(ndir: &Path) -> String {
    let python = sys::tool("python3")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/bin/python3".into());
    format!(
        "pass_persist .{RTTMON} {python} {} {}\n",
        ndir.join("sla_agent.py").display(),
        ndir.join("sla.json").display()
    )
}

/// Write the script and its config into the device's directory.
pub fn write_agent(plan: &Plan, n: &PlanNode, ndir: &Path) -> Result<(), LabError> {
    sys::tool("python3")?;
    let io = |p: &Path, e: std::io::Error| LabError::Io {
        what: p.display().to_string(),
        message: e.to_string(),
    };
    let script = ndir.join("sla_agent.py");
    std::fs::write(&script, AGENT_PY).map_err(|e| io(&script, e))?;
    let conf = ndir.join("sla.json");
    let text = serde_json::json!({ "probes": probes(plan, &n.node.name) }).to_string();
    std::fs::write(&conf, text).map_err(|e| io(&conf, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Description;

    #[test]
    fn probes_ping_the_providers_end_from_the_uplinks_address() {
        let text = "\
name: sla
sites:
  s:
    nodes:
      R:
        kind: router
        uplinks:
          - {port: isp0, provider: Magti, probe: {tag: Magti-isp0}}
          - {port: isp1, provider: Veon, probe: {index: 20, frequency: 1}}
          - {port: isp2, provider: Silknet}
";
        let d = Description::parse("sla.yml", text).unwrap();
        let p = Plan::new(&d, 9).unwrap();
        let v = probes(&p, "R");
        assert_eq!(v.len(), 2);
        let a0 = p.access.iter().find(|a| a.port == "isp0").unwrap();
        assert_eq!(v[0].index, 1);
        assert_eq!(v[0].tag, "Magti-isp0");
        assert_eq!(v[0].target, a0.host_addr.to_string());
        assert_eq!(v[0].source, a0.node_addr.to_string());
        assert_eq!(v[0].frequency, 3);
        assert_eq!((v[1].index, v[1].tag.as_str()), (20, "Veon"));
        assert_eq!(v[1].timeout_ms, 500);
        assert!(has_probes(&p, "R"));
    }
}
