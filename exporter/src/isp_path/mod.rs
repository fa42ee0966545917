//! ISP path health over SNMP: IP SLA probes (CISCO-RTTMON-MIB) and BGP peers (BGP4-MIB,
//! CISCO-BGP4-MIB cbgpPeer2) tied to the ISP uplink each is about. This file is the IO edge
//! (the discovery walk and the poll's GET); decoding is in `mib::{ipaddr, rttmon, bgp}`, the
//! tie rules in [`tie`] and the plan in [`plan`], all pure.
//!
//! Invariants: a device without these MIBs (or failing on them) is not an error and costs one
//! request per discovery and nothing on the poll; a device with probes or peers costs one
//! packed GET per poll (more only past `max_oids` values).

pub mod plan;
pub mod tie;

use std::sync::Arc;

use tracing::debug;

pub use plan::{IspPath, PathTables};

use crate::snmp::walk::{get_packed_encoded, walk_columns, WalkLimits};
use crate::snmp::SnmpClient;

/// Walk interface addresses, probes and peers (one multi-column walk); an agent that fails on
/// them gets empty tables.
pub async fn discover<C: SnmpClient>(
    client: &mut C,
    device: &str,
    limits: &mut WalkLimits,
) -> Arc<PathTables> {
    match walk_columns(client, &plan::discovery_columns(), limits).await {
        Ok(c) => Arc::new(plan::decode(&c)),
        Err(e) => {
            debug!(device, error = %e, "ISP path MIB walk failed");
            Arc::default()
        }
    }
}

/// GET the plan's values; no request when the plan is empty, none of the values on failure
/// (the interface poll stands on its own).
pub async fn poll<C: SnmpClient>(
    client: &mut C,
    plan: &IspPath,
    limits: &mut WalkLimits,
) -> Vec<Option<i128>> {
    if plan.oids.is_empty() {
        return Vec::new();
    }
    match get_packed_encoded(client, &plan.oids, limits).await {
        Ok(answers) => plan::decode_values(&answers, plan.series.len()),
        Err(e) => {
            debug!(error = %e, "ISP path poll failed");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use crate::classify::Classifier;
    use crate::inventory::TargetMeta;
    use crate::poller::{discover, poll};
    use crate::snmp::fake::FakeAgent;
    use crate::snmp::walk::WalkLimits;
    use crate::snmp::{Oid, Value};

    fn o(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    /// A branch router with two ISP uplinks (Gi0/0 Magti, Gi0/1 Silknet).
    fn router() -> BTreeMap<Oid, Value> {
        let s = |b: &str| Value::OctetString(b.as_bytes().to_vec());
        let mut m = BTreeMap::new();
        m.insert(o("1.3.6.1.2.1.1.1.0"), s("Cisco IOS Software"));
        m.insert(o("1.3.6.1.2.1.1.3.0"), Value::TimeTicks(5000));
        m.insert(o("1.3.6.1.2.1.1.5.0"), s("BRANCH-RTR-01"));
        m.insert(o("1.3.6.1.2.1.2.1.0"), Value::Integer(2));
        for (idx, name, alias) in [(1u32, "Gi0/0", "ISP1_Magti"), (2, "Gi0/1", "ISP2_Silknet")] {
            let c = |col: u32| o(&format!("1.3.6.1.2.1.2.2.1.{col}.{idx}"));
            m.insert(c(2), s(name));
            m.insert(c(3), Value::Integer(6));
            m.insert(c(5), Value::Unsigned32(100_000_000));
            m.insert(c(7), Value::Integer(1));
            m.insert(c(8), Value::Integer(1));
            m.insert(c(10), Value::Counter32(1));
            m.insert(c(16), Value::Counter32(1));
            m.insert(o(&format!("1.3.6.1.2.1.31.1.1.1.1.{idx}")), s(name));
            m.insert(o(&format!("1.3.6.1.2.1.31.1.1.1.18.{idx}")), s(alias));
        }
        m
    }

    fn with_path(mut m: BTreeMap<Oid, Value>) -> BTreeMap<Oid, Value> {
        let s = |b: &[u8]| Value::OctetString(b.to_vec());
        m.insert(o("1.3.6.1.2.1.4.20.1.2.169.254.10.2"), Value::Integer(1));
        m.insert(
            o("1.3.6.1.2.1.4.20.1.3.169.254.10.2"),
            Value::IpAddress([255, 255, 255, 252]),
        );
        m.insert(o("1.3.6.1.2.1.4.20.1.2.169.254.20.2"), Value::Integer(2));
        m.insert(
            o("1.3.6.1.2.1.4.20.1.3.169.254.20.2"),
            Value::IpAddress([255, 255, 255, 252]),
        );
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.1.1.3.10"), s(b"ISP2 silknet"));
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.1.1.4.10"), Value::Integer(1));
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.2.1.2.10"), s(&[8, 8, 8, 8]));
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.9.1.10.10"), Value::Integer(6));
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.10.1.1.10"), Value::Unsigned32(23));
        m.insert(o("1.3.6.1.4.1.9.9.42.1.2.10.1.2.10"), Value::Integer(1));
        m.insert(
            o("1.3.6.1.4.1.9.9.42.1.2.10.1.5.10"),
            Value::TimeTicks(4900),
        );
        for (col, v) in [(2, 6), (3, 2), (9, 65001), (15, 1), (16, 300)] {
            m.insert(
                o(&format!("1.3.6.1.2.1.15.3.1.{col}.169.254.10.1")),
                Value::Integer(v),
            );
        }
        m
    }

    fn meta() -> TargetMeta {
        TargetMeta {
            name: Arc::from("BRANCH-RTR-01"),
            address: "127.0.0.1".into(),
            auth_name: "v2".into(),
            labels: Arc::default(),
        }
    }

    #[tokio::test]
    async fn no_mibs_cost_nothing_on_the_poll_and_present_ones_one_get() {
        let c = Classifier::embedded_default();
        let mut limits = WalkLimits {
            max_repetitions: 25,
            max_varbinds: 50,
        };
        let mut bare = FakeAgent::new(router());
        let inv = discover(&mut bare, &meta(), &mut limits, &c).await.unwrap();
        assert!(inv.isp_path.oids.is_empty());
        let before = bare.stats.requests;
        let vals = poll(&mut bare, &inv, &mut limits).await.unwrap();
        assert_eq!(
            bare.stats.requests - before,
            1,
            "IF-MIB-only poll is one GET"
        );
        assert!(vals.isp_path.is_empty());

        let mut agent = FakeAgent::new(with_path(router()));
        let inv = discover(&mut agent, &meta(), &mut limits, &c)
            .await
            .unwrap();
        assert_eq!(inv.isp_path.series.len(), 4 + 6);
        let before = agent.stats.requests;
        let vals = poll(&mut agent, &inv, &mut limits).await.unwrap();
        assert_eq!(agent.stats.requests - before, 2, "one GET more per poll");
        let p = &inv.isp_path.probes[0];
        assert_eq!(p.tie.if_index(), Some(2), "tied by its tag");
        assert_eq!(
            super::plan::probe_rtt_seconds(p, &vals.isp_path),
            Some(0.023)
        );
        let peer = &inv.isp_path.peers[0];
        assert_eq!(peer.tie.if_index(), Some(1), "tied by its subnet");
        assert_eq!(super::plan::peer_up(peer, &vals.isp_path), Some(1));
        // A rules reload re-ties without SNMP, and the poll's values stay parallel.
        let rules = "providers:\n  - {id: silknet, aliases: [silknet]}\nrules:\n  - id: all-isp\n    when: {alias: isp}\n    set: {type: isp, provider: auto}\n";
        let other = Classifier::new(Arc::new(
            crate::classify::rules::RuleSet::parse(rules, "t.yml").unwrap(),
        ));
        let re = inv.reclassified(&meta(), &other);
        assert_eq!(re.isp_path.oids.len(), inv.isp_path.oids.len());
        assert_eq!(re.isp_path.probes[0].tie.if_index(), Some(2));
        assert!(re.isp_path.probes[0]
            .labels
            .contains("isp_provider=\"silknet\""));
        assert!(re.isp_path.peers[0].labels.contains(
            "ifName=\"Gi0/0\",ifAlias=\"ISP1_Magti\",interface_type=\"isp\",isp_provider=\"\""
        ));
    }
}
