//! The SNMP side of topology discovery: walks LLDP-MIB, CISCO-CDP-MIB, ifStackTable and the
//! 802.3ad aggregator table of one device and builds its `Neighborhood`.
//!
//! Invariant: never fails discovery. A device without these MIBs (or failing on them) gets an
//! empty neighbourhood; the failure is logged at debug level. `keep_down_links` carries the
//! neighbours of ports that went down across a rediscovery.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tracing::debug;

use crate::inventory::DeviceInventory;
use crate::mib::if_mib::InterfaceInfo;
use crate::mib::{cdp, lldp};
use crate::snmp::walk::{get_packed, walk_columns, Column, WalkLimits};
use crate::snmp::{Oid, SnmpClient};

use super::neighbor::{self, Neighborhood};

/// ifStackStatus (index higher.lower).
const IF_STACK_STATUS: [u32; 11] = [1, 3, 6, 1, 2, 1, 31, 1, 2, 1, 3];
/// IEEE8023-LAG-MIB dot3adAggPortAttachedAggID (index member ifIndex, value aggregate ifIndex).
const AGG_ATTACHED: [u32; 11] = [1, 2, 840, 10006, 300, 43, 1, 2, 1, 1, 13];

fn agg_attached() -> Oid {
    Oid(AGG_ATTACHED.to_vec())
}

async fn walk_or_empty<C: SnmpClient>(
    client: &mut C,
    device: &str,
    what: &str,
    roots: &[Oid],
    limits: &mut WalkLimits,
) -> Vec<Column> {
    match walk_columns(client, roots, limits).await {
        Ok(c) => c,
        Err(e) => {
            debug!(device, table = what, error = %e, "topology walk failed; treated as empty");
            vec![Column::new(); roots.len()]
        }
    }
}

/// Walk the neighbour tables of one device and build its neighbourhood.
pub async fn walk_neighbors<C: SnmpClient>(
    client: &mut C,
    device: &str,
    interfaces: &[InterfaceInfo],
    limits: &mut WalkLimits,
) -> Neighborhood {
    let chassis = match get_packed(client, &lldp::local_chassis_oids(), limits).await {
        Ok(vbs) => lldp::decode_local_chassis(&vbs),
        Err(e) => {
            debug!(device, error = %e, "lldpLocChassisId get failed");
            None
        }
    };
    let lldp_cols = walk_or_empty(client, device, "lldp", &lldp::discovery_columns(), limits).await;
    let lldp_data = lldp::decode(chassis, &lldp_cols);
    let cdp_cols = walk_or_empty(client, device, "cdp", &cdp::discovery_columns(), limits).await;
    let cdp_rows = cdp::decode(&cdp_cols);
    let lag_cols = walk_or_empty(
        client,
        device,
        "lag",
        &[Oid(IF_STACK_STATUS.to_vec()), agg_attached()],
        limits,
    )
    .await;
    let stack: Vec<(u32, u32)> = lag_cols
        .first()
        .into_iter()
        .flatten()
        .filter_map(|(s, v)| match (s.as_slice(), v.as_i64()) {
            // Only active (1) stack rows.
            ([h, l], Some(1)) => Some((*h, *l)),
            _ => None,
        })
        .collect();
    let attached: Vec<(u32, u32)> = lag_cols
        .get(1)
        .into_iter()
        .flatten()
        .filter_map(|(s, v)| match (s.as_slice(), v.as_u64()) {
            ([m], Some(a)) => u32::try_from(a).ok().map(|a| (*m, a)),
            _ => None,
        })
        .collect();
    let lags = neighbor::lag_members(&stack, &attached, interfaces);
    neighbor::build(&lldp_data, &cdp_rows, lags, interfaces)
}

/// After a rediscovery, keep the neighbours last seen on ports that are down now and report
/// nobody: a cut cable stays on the map (as a down link) instead of vanishing when LLDP ages
/// the neighbour out. A port that comes back up with nobody on it loses them at the next
/// discovery. Ports are matched by ifIndex and name, so a renumbering drops them.
pub fn keep_down_links(
    new: Arc<DeviceInventory>,
    before: Option<&DeviceInventory>,
) -> Arc<DeviceInventory> {
    let Some(before) = before else { return new };
    let old_names: HashMap<u32, &[u8]> = before
        .interfaces
        .iter()
        .map(|e| (e.info.if_index, e.info.name.as_slice()))
        .collect();
    let down: HashSet<u32> = new
        .interfaces
        .iter()
        .filter(|e| e.info.oper_status != 1)
        .filter(|e| old_names.get(&e.info.if_index) == Some(&e.info.name.as_slice()))
        .map(|e| e.info.if_index)
        .collect();
    let reported: HashSet<u32> = new
        .neighbors
        .neighbors
        .iter()
        .filter_map(|n| n.local_if_index)
        .collect();
    let kept: Vec<_> = before
        .neighbors
        .neighbors
        .iter()
        .filter(|n| {
            n.local_if_index
                .is_some_and(|i| down.contains(&i) && !reported.contains(&i))
        })
        .cloned()
        .collect();
    if kept.is_empty() {
        return new;
    }
    let mut hood = (*new.neighbors).clone();
    hood.neighbors.extend(kept);
    let mut inv = (*new).clone();
    inv.neighbors = Arc::new(hood);
    Arc::new(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::inventory::TargetMeta;
    use crate::mib::system::SystemInfo;
    use crate::topology::{Neighbor, Protocol};

    fn inv(ports: &[(u32, &str, i64)], neighbors: &[(u32, &str)]) -> DeviceInventory {
        let target = TargetMeta {
            name: Arc::from("SW"),
            address: String::new(),
            auth_name: String::new(),
            labels: Arc::default(),
        };
        let infos = ports
            .iter()
            .map(|&(i, name, oper)| InterfaceInfo {
                if_index: i,
                name: name.as_bytes().to_vec(),
                oper_status: oper,
                ..InterfaceInfo::default()
            })
            .collect();
        let mut d = DeviceInventory::build(
            &target,
            SystemInfo::default(),
            infos,
            &Classifier::embedded_default(),
            0.0,
        );
        d.neighbors = Arc::new(Neighborhood {
            neighbors: neighbors
                .iter()
                .map(|&(i, who)| Neighbor {
                    protocol: Protocol::Lldp,
                    local_if_index: Some(i),
                    local_port: String::new(),
                    chassis_id: None,
                    port_id: None,
                    port_subtype: 0,
                    port_descr: String::new(),
                    sys_name: who.to_string(),
                    sys_descr: String::new(),
                    capabilities: vec![],
                    addresses: vec![],
                })
                .collect(),
            ..Neighborhood::default()
        });
        d
    }

    fn names(d: &DeviceInventory) -> Vec<&str> {
        d.neighbors
            .neighbors
            .iter()
            .map(|n| n.sys_name.as_str())
            .collect()
    }

    fn limits() -> WalkLimits {
        WalkLimits {
            max_repetitions: 10,
            max_varbinds: 50,
        }
    }

    #[tokio::test]
    async fn a_device_without_lldp_or_cdp_or_failing_on_them_gets_no_neighbours() {
        use crate::snmp::fake::FakeAgent;
        let ifs = [InterfaceInfo {
            if_index: 1,
            name: b"eth0".to_vec(),
            ..InterfaceInfo::default()
        }];
        let mut empty = FakeAgent::new(Default::default());
        let hood = walk_neighbors(&mut empty, "X", &ifs, &mut limits()).await;
        assert_eq!(hood, Neighborhood::default());
        let mut failing = FakeAgent::new(Default::default());
        failing.fail = Some(crate::snmp::SnmpError::Deadline);
        let hood = walk_neighbors(&mut failing, "X", &ifs, &mut limits()).await;
        assert_eq!(hood, Neighborhood::default());
    }

    #[tokio::test]
    async fn lldp_rows_walked_from_an_agent_become_neighbours() {
        use crate::snmp::fake::FakeAgent;
        use crate::snmp::{Oid, Value};
        let o = |s: &str| Oid::parse(s).unwrap();
        let os = |b: &[u8]| Value::OctetString(b.to_vec());
        let mib = [
            ("1.0.8802.1.1.2.1.3.1.0", Value::Integer(4)),
            ("1.0.8802.1.1.2.1.3.2.0", os(&[2, 0, 0, 0, 0, 1])),
            ("1.0.8802.1.1.2.1.3.7.1.2.7", Value::Integer(5)),
            ("1.0.8802.1.1.2.1.3.7.1.3.7", os(b"eth0")),
            ("1.0.8802.1.1.2.1.4.1.1.4.0.7.1", Value::Integer(4)),
            ("1.0.8802.1.1.2.1.4.1.1.5.0.7.1", os(&[2, 0, 0, 0, 0, 2])),
            ("1.0.8802.1.1.2.1.4.1.1.6.0.7.1", Value::Integer(5)),
            ("1.0.8802.1.1.2.1.4.1.1.7.0.7.1", os(b"ge-0/0/1")),
            ("1.0.8802.1.1.2.1.4.1.1.9.0.7.1", os(b"PEER")),
            ("1.3.6.1.2.1.31.1.2.1.3.9.1", Value::Integer(1)),
        ]
        .into_iter()
        .map(|(k, v)| (o(k), v))
        .collect();
        let ifs = [
            InterfaceInfo {
                if_index: 1,
                name: b"eth0".to_vec(),
                ..InterfaceInfo::default()
            },
            InterfaceInfo {
                if_index: 9,
                name: b"bond0".to_vec(),
                ..InterfaceInfo::default()
            },
        ];
        let mut agent = FakeAgent::new(mib);
        let hood = walk_neighbors(&mut agent, "X", &ifs, &mut limits()).await;
        assert_eq!(
            hood.chassis_id.map(|c| c.to_string()).as_deref(),
            Some("02:00:00:00:00:01")
        );
        assert_eq!(hood.neighbors.len(), 1);
        assert_eq!(hood.neighbors[0].local_if_index, Some(1));
        assert_eq!(hood.neighbors[0].port_text(), "ge-0/0/1");
        assert_eq!(hood.lag_parent.get(&1), Some(&9));
    }

    #[test]
    fn a_neighbour_on_a_port_that_went_down_is_kept_until_the_port_comes_back() {
        let before = inv(
            &[(1, "eth0", 1), (2, "eth1", 1), (3, "eth2", 1)],
            &[(1, "A"), (2, "B"), (3, "C")],
        );
        // eth0 down and silent (kept); eth1 up and silent (dropped); eth2 renamed (dropped).
        let now = Arc::new(inv(&[(1, "eth0", 2), (2, "eth1", 1), (3, "ethX", 2)], &[]));
        assert_eq!(
            names(&keep_down_links(now.clone(), Some(&before))),
            vec!["A"]
        );
        // A port down but reporting someone else keeps only what it reports now.
        let now = Arc::new(inv(&[(1, "eth0", 2)], &[(1, "Z")]));
        assert_eq!(names(&keep_down_links(now, Some(&before))), vec!["Z"]);
        let first = Arc::new(inv(&[(1, "eth0", 2)], &[]));
        assert!(names(&keep_down_links(first, None)).is_empty());
    }
}
