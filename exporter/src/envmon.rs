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
