//! Device environment (temperatures, fans, power supplies, entity sensors, optical levels) over
//! SNMP: the discovery walks and the poll's GET of their values. Decoding and the plan are pure
//! (`mib::envmon`); this is the IO edge.
//!
//! Invariants: a device without these MIBs (or failing on them) is not an error and costs one
//! request per discovery and nothing on the poll; a device with entity sensors costs one more
//! multi-column walk of ENTITY-MIB (names, containment, alias mapping) per discovery; values
//! cost one packed GET per poll (more only past `max_varbinds` values).

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::debug;

use crate::mib::envmon::{self, EnvPlan};
use crate::mib::if_mib::InterfaceInfo;
use crate::snmp::walk::{get_packed_encoded, walk_columns, WalkLimits};
use crate::snmp::SnmpClient;

/// Walk the environment tables, name the sensors and tie optical ones to `interfaces`; an
/// agent that fails on them gets an empty plan (or sensors without names and ties).
pub async fn discover<C: SnmpClient>(
    client: &mut C,
    device: &str,
    interfaces: &[InterfaceInfo],
    limits: &mut WalkLimits,
) -> Arc<EnvPlan> {
    let columns = match walk_columns(client, &envmon::discovery_columns(), limits).await {
        Ok(c) => c,
        Err(e) => {
            debug!(device, error = %e, "environment MIB walk failed");
            return Arc::default();
        }
    };
    let mut tables = envmon::decode(&columns);
    if !tables.sensors.is_empty() {
        match walk_columns(client, &envmon::entity_columns(), limits).await {
            Ok(ent) => {
                let ifs: BTreeSet<u32> = interfaces.iter().map(|i| i.if_index).collect();
                envmon::apply_entities(&mut tables, &ent, &ifs);
            }
            Err(e) => debug!(device, error = %e, "ENTITY-MIB walk for sensors failed"),
        }
    }
    Arc::new(EnvPlan::build(&tables))
}

/// GET the plan's values; no request when the plan is empty, none of the values on failure
/// (the interface poll stands on its own).
pub async fn poll<C: SnmpClient>(
    client: &mut C,
    plan: &EnvPlan,
    limits: &mut WalkLimits,
) -> Vec<Option<i128>> {
    if plan.oids.is_empty() {
        return Vec::new();
    }
    match get_packed_encoded(client, &plan.oids, limits).await {
        Ok(answers) => envmon::decode_values(&answers, plan.series.len()),
        Err(e) => {
            debug!(error = %e, "environment poll failed");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::snmp::fake::FakeAgent;
    use crate::snmp::{Oid, Value};

    fn o(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    fn limits() -> WalkLimits {
        WalkLimits {
            max_repetitions: 25,
            max_varbinds: 50,
        }
    }

    fn iface(i: u32) -> InterfaceInfo {
        InterfaceInfo {
            if_index: i,
            ..InterfaceInfo::default()
        }
    }

    #[tokio::test]
    async fn without_the_mibs_one_discovery_request_and_nothing_on_the_poll() {
        let mut mib = BTreeMap::new();
        mib.insert(o("1.3.6.1.2.1.2.2.1.1.1"), Value::Integer(1));
        let mut agent = FakeAgent::new(mib);
        let mut l = limits();
        let plan = discover(&mut agent, "d", &[iface(1)], &mut l).await;
        assert_eq!(agent.stats.requests, 1);
        assert!(plan.oids.is_empty() && plan.statics.is_empty());
        let values = poll(&mut agent, &plan, &mut l).await;
        assert!(values.is_empty());
        assert_eq!(agent.stats.requests, 1, "no poll request");
    }

    #[tokio::test]
    async fn with_sensors_two_discovery_walks_and_one_poll_get() {
        let mut mib = BTreeMap::new();
        let s = |c: u32, i: u32| o(&format!("1.3.6.1.4.1.9.9.91.1.1.1.1.{c}.{i}"));
        for (i, ty, v) in [(12, 14, -23), (13, 8, 31)] {
            mib.insert(s(1, i), Value::Integer(ty));
            mib.insert(s(2, i), Value::Integer(9));
            mib.insert(s(3, i), Value::Integer(1));
            mib.insert(s(4, i), Value::Integer(v));
            mib.insert(s(5, i), Value::Integer(1));
        }
        mib.insert(
            o("1.3.6.1.4.1.9.9.13.1.4.1.3.1"),
            Value::Integer(2), // a fan in warning
        );
        let name = |i: u32, n: &str| {
            (
                o(&format!("1.3.6.1.2.1.47.1.1.1.1.7.{i}")),
                Value::OctetString(n.as_bytes().to_vec()),
            )
        };
        mib.extend([name(12, "Te1/1 Receive Power Sensor"), name(13, "Inlet")]);
        mib.insert(o("1.3.6.1.2.1.47.1.1.1.1.4.12"), Value::Integer(10));
        mib.insert(
            o("1.3.6.1.2.1.47.1.3.2.1.2.10.0"),
            Value::ObjectIdentifier(o("1.3.6.1.2.1.2.2.1.1.7")),
        );
        let mut agent = FakeAgent::new(mib);
        let mut l = limits();
        let plan = discover(&mut agent, "d", &[iface(7)], &mut l).await;
        // The environment walk (21 columns, 2 repetitions each: two requests for these two
        // sensors), then one of ENTITY-MIB.
        assert_eq!(agent.stats.requests, 3);
        assert_eq!(plan.sensors.len(), 2);
        assert_eq!(plan.sensors[0].if_index, Some(7));
        assert_eq!(plan.components.len(), 1);
        let values = poll(&mut agent, &plan, &mut l).await;
        assert_eq!(agent.stats.requests, 4, "one GET per poll");
        assert_eq!(values.len(), plan.series.len());
        assert!(values.contains(&Some(-23)) && values.contains(&Some(2)));
    }
}
