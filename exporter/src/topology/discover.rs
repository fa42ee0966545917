//! The SNMP side of topology discovery: walks LLDP-MIB, CISCO-CDP-MIB, ifStackTable and the
//! 802.3ad aggregator table of one device and builds its `Neighborhood`.
//!
//! Invariant: never fails discovery. A device without these MIBs (or failing on them) gets an
//! empty neighbourhood; the failure is logged at debug level.

use tracing::debug;

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
