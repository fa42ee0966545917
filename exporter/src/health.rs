//! Device health (CPU, memory) over SNMP: the discovery walk of the health MIBs and the poll's
//! GET of their values. The decoding and the plan are pure (`mib::health`); this is the IO edge.
//!
//! Invariants: a device without these MIBs (or failing on them) is not an error and costs one
//! request per discovery; a device with them costs one more request per discovery when its
//! CPUs name an entity, and its values ride in the interface poll's packed GETs (a request
//! more only when they do not fit in the last one's free room; `poller::poll`); a device
//! without any health row costs nothing on the poll.

use std::sync::Arc;

use tracing::debug;

use crate::mib::health::{self, HealthPlan};
use crate::snmp::walk::{get_packed, get_packed_encoded, walk_columns, WalkLimits};
use crate::snmp::SnmpClient;

/// Walk the health tables and name the CPUs; an agent that fails on them gets an empty plan.
pub async fn discover<C: SnmpClient>(
    client: &mut C,
    device: &str,
    limits: &mut WalkLimits,
) -> Arc<HealthPlan> {
    let columns = match walk_columns(client, &health::discovery_columns(), limits).await {
        Ok(c) => c,
        Err(e) => {
            debug!(device, error = %e, "health MIB walk failed");
            return Arc::default();
        }
    };
    let mut tables = health::decode(&columns);
    let names = health::physical_name_oids(&tables);
    if !names.is_empty() {
        match get_packed(client, &names, limits).await {
            Ok(vbs) => health::apply_physical_names(&mut tables, &vbs),
            Err(e) => debug!(device, error = %e, "entPhysicalName of CPUs failed"),
        }
    }
    Arc::new(HealthPlan::build(&tables))
}

/// GET the plan's values; no request when the plan is empty, none of the values on failure
/// (the interface poll stands on its own).
pub async fn poll<C: SnmpClient>(
    client: &mut C,
    plan: &HealthPlan,
    limits: &mut WalkLimits,
) -> Vec<Option<i128>> {
    if plan.oids.is_empty() {
        return Vec::new();
    }
    match get_packed_encoded(client, &plan.oids, limits).await {
        Ok(answers) => health::decode_values(&answers, plan.series.len()),
        Err(e) => {
            debug!(error = %e, "health poll failed");
            Vec::new()
        }
    }
}
