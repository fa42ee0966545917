//! Fast status polls: ifOperStatus and ifAdminStatus of a device's critical interfaces (ISP
//! uplinks, critical trunks) and sysUpTime, in one small GET between counter polls.
//!
//! Invariants: the plan is built from discovery and only covers monitored critical interfaces;
//! an answer changes only the two status slots of those interfaces in a copy of the last
//! counter poll's values (counters, markers and their time stay the counter poll's); a
//! sysUpTime that went backwards asks for a full visit instead of being merged. Which series
//! are "status" series is decided here alone, for the poll and for `/probe?part=`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::Target;
use crate::inventory::{DeviceInventory, IfEntry, Inventory, PollValues};
use crate::mib::{if_mib, system};
use crate::snmp::session::UdpClient;
use crate::snmp::walk::{get_packed_encoded, WalkLimits};
use crate::snmp::{AtOid, ClientStats, EncodedOids, SnmpClient};

/// The `POLLED` slots a status poll reads.
pub const STATUS_SLOTS: [usize; 2] = [SLOT_OPER, SLOT_ADMIN];
const SLOT_OPER: usize = 0;
const SLOT_ADMIN: usize = 1;

/// True for an interface whose status is polled fast: monitored, and an ISP uplink or
/// critical.
pub fn is_fast(e: &IfEntry) -> bool {
    e.class.monitored
        && (e.class.is_critical || e.class.interface_type == crate::classify::InterfaceType::Isp)
}

/// True for a series that `/probe?part=status` serves (and `part=rest` leaves out).
pub fn is_status_series(e: &IfEntry, slot: usize) -> bool {
    STATUS_SLOTS.contains(&slot) && is_fast(e)
}

/// sysUpTime, then the two status OIDs of each fast interface.
#[derive(Debug, Clone, Default)]
pub struct StatusPlan {
    pub oids: EncodedOids,
    /// (interface position, slot) for each OID after sysUpTime.
    pub targets: Vec<(u32, u8)>,
}

impl StatusPlan {
    /// The plan for this discovery; empty (nothing to poll) without fast interfaces.
    pub fn build(inv: &DeviceInventory) -> StatusPlan {
        let mut plan = StatusPlan::default();
        let mut oid = crate::snmp::Oid(Vec::with_capacity(11));
        for (pos, e) in inv.interfaces.iter().enumerate() {
            if !is_fast(e) {
                continue;
            }
            if plan.oids.is_empty() {
                // Every OID here starts 1.3.6.1, so encoding cannot fail.
                let _ = plan.oids.push(&system::marker_oids()[0]);
            }
            for slot in STATUS_SLOTS {
                if_mib::POLLED[slot].oid_into(e.info.if_index, &mut oid);
                if plan.oids.push(&oid).is_ok() {
                    plan.targets.push((pos as u32, slot as u8));
                }
            }
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// What a status poll read.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusValues {
    pub sys_uptime: Option<u32>,
    /// (interface position, slot, value) for every status the agent answered.
    pub statuses: Vec<(u32, u8, u64)>,
}

/// One GET of the plan's OIDs (split only if the device's request size is smaller).
pub async fn poll_status<C: SnmpClient>(
    client: &mut C,
    plan: &StatusPlan,
    limits: &mut WalkLimits,
) -> Result<StatusValues, AtOid> {
    let answers = get_packed_encoded(client, &plan.oids, limits).await?;
    let markers = system::decode_markers(&answers[..1.min(answers.len())]);
    let mut statuses = Vec::with_capacity(plan.targets.len());
    for (i, &(pos, slot)) in plan.targets.iter().enumerate() {
        let mut one = [None; if_mib::POLLED.len()];
        if let Some(got) = answers.get(1 + i) {
            if_mib::store_value(&mut one, slot as usize, got.as_ref());
        }
        if let Some(v) = one[slot as usize] {
            statuses.push((pos, slot, v));
        }
    }
    Ok(StatusValues {
        sys_uptime: markers.sys_uptime,
        statuses,
    })
}

/// The outcome of merging a status poll into the last counter poll's values.
#[derive(Debug, PartialEq)]
pub enum Merge {
    /// The new values to serve.
    Values(Box<PollValues>),
    /// The device rebooted since the counter poll (sysUpTime went backwards): its interface
    /// numbering may have changed, so the status answers are not used; poll it fully.
    Rebooted,
}

/// A copy of `last` with the answered statuses in it. `last` is the counter poll's values.
pub fn merge(last: &PollValues, got: &StatusValues) -> Merge {
    if let (Some(before), Some(now)) = (last.markers.sys_uptime, got.sys_uptime) {
        if now < before {
            return Merge::Rebooted;
        }
    }
    let mut values = last.clone();
    for &(pos, slot, v) in &got.statuses {
        if let Some(c) = values.counters.get_mut(pos as usize) {
            c[slot as usize] = Some(v);
        }
    }
    Merge::Values(Box::new(values))
}

/// One device's status-poll schedule and what it remembers between polls.
#[derive(Debug)]
pub struct Schedule {
    every: Option<Duration>,
    next: Option<Instant>,
    /// The plan and the discovery it was built from (rebuilt when discovery changes).
    plan: Option<(Arc<DeviceInventory>, StatusPlan)>,
    /// Whether the last status poll was answered.
    answering: bool,
}

impl Schedule {
    /// Status polls every `every` (none when `None`), on the device's phase.
    pub fn new(every: Option<Duration>, phase: Duration, start: Instant) -> Schedule {
        Schedule {
            every,
            next: every.map(|e| {
                start
                    + e
                    + Duration::from_millis(phase.as_millis() as u64 % e.as_millis().max(1) as u64)
            }),
            plan: None,
            answering: true,
        }
    }

    /// When the next status poll is due.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    fn advance(&mut self, now: Instant) {
        if let (Some(next), Some(every)) = (self.next.as_mut(), self.every) {
            while *next <= now {
                *next += every;
            }
        }
    }

    fn plan_for(&mut self, inv: &Arc<DeviceInventory>) -> &StatusPlan {
        if !self.plan.as_ref().is_some_and(|(i, _)| Arc::ptr_eq(i, inv)) {
            self.plan = Some((inv.clone(), StatusPlan::build(inv)));
        }
        &self.plan.as_ref().expect("just set").1
    }
}

/// Run one status poll of `target` if it has critical interfaces and a discovery, and merge
/// the answers into the served values. True when the counter poll should run now: the device
/// rebooted, stopped answering, or answers while its last counter poll failed.
pub async fn visit(
    target: &Target,
    inventory: &Inventory,
    semaphore: &Arc<Semaphore>,
    schedule: &mut Schedule,
    limits: &mut WalkLimits,
    totals: &mut ClientStats,
) -> bool {
    schedule.advance(Instant::now());
    let Some(every) = schedule.every else {
        return false;
    };
    let Some(entry) = inventory.device(&target.name) else {
        return false;
    };
    let Some(inv) = entry.inventory else {
        return false;
    };
    let plan = schedule.plan_for(&inv).clone();
    if plan.is_empty() {
        return false;
    }
    let Ok(permit) = semaphore.clone().acquire_owned().await else {
        return false;
    };
    let mut client = UdpClient::new(target.session.clone());
    let got = tokio::time::timeout(every, poll_status(&mut client, &plan, limits)).await;
    drop(permit);
    let stats = client.stats();
    totals.requests += stats.requests;
    totals.retries += stats.retries;
    totals.timeouts += stats.timeouts;
    totals.varbinds += stats.varbinds;
    let was_answering = schedule.answering;
    let poll_now;
    match got {
        Ok(Ok(got)) => {
            schedule.answering = true;
            let served = entry.values;
            let merged = served.as_deref().map(|last| merge(last, &got));
            poll_now = !matches!(merged, Some(Merge::Values(_)));
            inventory.update(&target.name, |d| {
                d.health.requests = totals.requests;
                d.health.retries = totals.retries;
                d.health.timeouts = totals.timeouts;
                d.health.varbinds = totals.varbinds;
                // Only over the values the statuses were merged into: a counter poll that
                // replaced them in between is newer.
                let same = match (&d.values, &served) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    _ => false,
                };
                if let (true, Some(Merge::Values(v))) = (same, merged) {
                    d.values = Some(Arc::new(*v));
                }
            });
        }
        Ok(Err(_)) | Err(_) => {
            schedule.answering = false;
            poll_now = was_answering;
            inventory.update(&target.name, |d| {
                d.health.requests = totals.requests;
                d.health.retries = totals.retries;
                d.health.timeouts = totals.timeouts;
                d.health.varbinds = totals.varbinds;
            });
        }
    }
    poll_now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::inventory::TargetMeta;
    use crate::mib::if_mib::InterfaceInfo;
    use crate::snmp::fake::FakeAgent;
    use crate::snmp::{Oid, Value};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn info(idx: u32, descr: &str, alias: &str) -> InterfaceInfo {
        InterfaceInfo {
            if_index: idx,
            descr: descr.as_bytes().to_vec(),
            name: descr.as_bytes().to_vec(),
            alias: alias.as_bytes().to_vec(),
            if_type: 6,
            admin_status: 1,
            has_hc: true,
            ..InterfaceInfo::default()
        }
    }

    /// A branch router: two ISP uplinks and a LAN port.
    fn inventory() -> DeviceInventory {
        let meta = TargetMeta {
            name: Arc::from("BR-01"),
            address: "127.0.0.1".into(),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::new()),
        };
        DeviceInventory::build(
            &meta,
            Default::default(),
            vec![
                info(1, "GigabitEthernet0/0", "Magti_Internet"),
                info(2, "GigabitEthernet0/1", "Silknet_Internet"),
                info(3, "GigabitEthernet0/2", "LAN users"),
            ],
            &Classifier::embedded_default(),
            0.0,
        )
    }

    fn values(n: usize, uptime: u32) -> PollValues {
        let mut counters = vec![[None; if_mib::POLLED.len()]; n];
        for c in &mut counters {
            c[SLOT_OPER] = Some(1);
            c[SLOT_ADMIN] = Some(1);
            c[2] = Some(1234);
        }
        PollValues {
            counters,
            markers: system::ChangeMarkers {
                sys_uptime: Some(uptime),
                ..Default::default()
            },
            at: 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn the_plan_covers_the_uplinks_status_and_sysuptime_only() {
        let inv = inventory();
        let plan = StatusPlan::build(&inv);
        assert_eq!(
            plan.targets,
            vec![(0, 0), (0, 1), (1, 0), (1, 1)],
            "ISP uplinks only"
        );
        assert_eq!(plan.oids.len(), 5, "sysUpTime + 2 x 2 statuses");
        assert!(!is_status_series(&inv.interfaces[2], SLOT_OPER));
        assert!(is_status_series(&inv.interfaces[0], SLOT_OPER));
        assert!(!is_status_series(&inv.interfaces[0], 2), "a counter");
    }

    #[test]
    fn no_critical_interface_no_plan() {
        let mut inv = inventory();
        inv.interfaces.truncate(0);
        assert!(StatusPlan::build(&inv).is_empty());
    }

    #[tokio::test]
    async fn a_status_poll_is_one_get_and_changes_only_the_statuses() {
        let mut m = BTreeMap::new();
        m.insert(
            Oid::parse("1.3.6.1.2.1.1.3.0").unwrap(),
            Value::TimeTicks(600),
        );
        for (idx, oper) in [(1, 2), (2, 1), (3, 2)] {
            let c = |col: u32| Oid::parse(&format!("1.3.6.1.2.1.2.2.1.{col}.{idx}")).unwrap();
            m.insert(c(8), Value::Integer(oper));
            m.insert(c(7), Value::Integer(1));
        }
        let mut agent = FakeAgent::new(m);
        let inv = inventory();
        let plan = StatusPlan::build(&inv);
        let mut limits = WalkLimits {
            max_repetitions: 25,
            max_varbinds: 50,
        };
        let got = poll_status(&mut agent, &plan, &mut limits).await.unwrap();
        assert_eq!(agent.stats.requests, 1);
        assert_eq!(got.sys_uptime, Some(600));
        let last = values(3, 500);
        let Merge::Values(v) = merge(&last, &got) else {
            panic!("not a reboot")
        };
        assert_eq!(v.counters[0][SLOT_OPER], Some(2), "uplink 1 went down");
        assert_eq!(v.counters[1][SLOT_OPER], Some(1));
        assert_eq!(
            v.counters[2][SLOT_OPER],
            Some(1),
            "the LAN port is not a status-polled interface: the counter poll's value stays"
        );
        assert_eq!(v.counters[0][2], Some(1234), "counters untouched");
        assert_eq!(v.markers, last.markers);
        assert_eq!(v.at, last.at);
    }

    #[test]
    fn a_reboot_is_not_merged() {
        let got = StatusValues {
            sys_uptime: Some(100),
            statuses: vec![(0, 0, 2)],
        };
        assert_eq!(merge(&values(3, 500), &got), Merge::Rebooted);
    }

    #[test]
    fn answers_for_positions_that_do_not_exist_are_ignored() {
        let got = StatusValues {
            sys_uptime: None,
            statuses: vec![(7, 0, 2)],
        };
        let Merge::Values(v) = merge(&values(3, 500), &got) else {
            panic!()
        };
        assert_eq!(*v, values(3, 500));
    }
}
