//! Fast status polls: ifOperStatus and ifAdminStatus of a device's critical interfaces (ISP
//! uplinks, critical trunks) and sysUpTime, in one small GET between counter polls.
//!
//! Invariants: the plan is built from discovery and only covers monitored critical interfaces;
//! an answer changes only the two status slots of those interfaces in a copy of the last
//! counter poll's values (counters, markers and their time stay the counter poll's); a
//! sysUpTime that went backwards asks for a full visit instead of being merged. Which series
//! are "status" series is decided here alone, for the poll and for `/probe?part=`.
//!
//! Cost: a status poll never runs within half a status interval of a counter poll (that poll
//! reads the same statuses), so with the shipped 60 s / 30 s it is one GET halfway between
//! counter polls. Flaps: a change of a critical interface's ifOperStatus is served only once
//! a second reading at least `hold` later agrees (`Guard`), or at once when the reading was
//! made because the device sent a notification.

use std::collections::HashMap;
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

/// Whether a regular status poll due at `now` is worth its request: not when a counter poll
/// (which reads the same statuses) ran or is due within half a status interval.
pub fn status_due(
    now: Instant,
    last_counter: Option<Instant>,
    next_counter: Instant,
    every: Duration,
) -> bool {
    let half = every / 2;
    let after_last = last_counter.is_none_or(|l| now.saturating_duration_since(l) >= half);
    let before_next = next_counter.saturating_duration_since(now) >= half;
    after_last && before_next
}

/// A change of ifOperStatus seen once and waiting for a second reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub value: u64,
    pub since: Instant,
}

/// What to serve for one interface's ifOperStatus, and what stays pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub serve: Option<u64>,
    pub pending: Option<Pending>,
}

/// The flap guard's rule for one critical interface. `served` is what is served now, `seen`
/// what this reading found. A change is served when a reading at least `hold` after the
/// first one that saw it still sees it, or at once when `confirmed` (the reading was made
/// because the device sent a notification: its own word plus our reading). A reading that
/// sees the served value again drops the pending change (the flap was shorter than `hold`).
pub fn decide(
    served: Option<u64>,
    seen: Option<u64>,
    pending: Option<Pending>,
    now: Instant,
    hold: Duration,
    confirmed: bool,
) -> Decision {
    let at_once = Decision {
        serve: seen,
        pending: None,
    };
    let (Some(was), Some(value)) = (served, seen) else {
        // Nothing served yet, or the agent did not answer this OID: nothing to hold.
        return at_once;
    };
    if was == value || confirmed || hold.is_zero() {
        return at_once;
    }
    match pending {
        Some(p) if p.value == value => {
            if now.saturating_duration_since(p.since) >= hold {
                at_once
            } else {
                Decision {
                    serve: served,
                    pending: Some(p),
                }
            }
        }
        _ => Decision {
            serve: served,
            pending: Some(Pending { value, since: now }),
        },
    }
}

/// The flap guard of one device: pending ifOperStatus changes of its critical interfaces.
#[derive(Debug, Default)]
pub struct Guard {
    hold: Duration,
    /// By ifIndex.
    pending: HashMap<u32, Pending>,
    /// Pending changes the confirming reading did not see again.
    dropped: u64,
}

impl Guard {
    pub fn new(hold: Duration) -> Guard {
        Guard {
            hold,
            pending: HashMap::new(),
            dropped: 0,
        }
    }

    /// How many held changes were dropped (flaps shorter than the hold), since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Apply the rule to the critical interfaces of `new` (values about to be served, made
    /// with `inv`) against `served` (made with the same discovery). Held changes keep the
    /// served ifOperStatus in `new`. Returns when a second reading is due, if any.
    pub fn apply(
        &mut self,
        inv: &DeviceInventory,
        served: Option<&PollValues>,
        new: &mut PollValues,
        now: Instant,
        confirmed: bool,
    ) -> Option<Instant> {
        let mut pending = HashMap::new();
        for (pos, e) in inv.interfaces.iter().enumerate() {
            if !is_fast(e) {
                continue;
            }
            let Some(slots) = new.counters.get_mut(pos) else {
                continue;
            };
            let was = served
                .and_then(|s| s.counters.get(pos))
                .and_then(|c| c[SLOT_OPER]);
            let idx = e.info.if_index;
            if was.is_some() && slots[SLOT_OPER] == was && self.pending.contains_key(&idx) {
                self.dropped += 1;
            }
            let d = decide(
                was,
                slots[SLOT_OPER],
                self.pending.get(&idx).copied(),
                now,
                self.hold,
                confirmed,
            );
            slots[SLOT_OPER] = d.serve;
            if let Some(p) = d.pending {
                pending.insert(idx, p);
            }
        }
        self.pending = pending;
        self.pending.values().map(|p| p.since + self.hold).min()
    }

    /// Forget pending changes (a new discovery: the served values are not comparable).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

/// One device's status-poll schedule and what it remembers between polls.
#[derive(Debug)]
pub struct Schedule {
    every: Option<Duration>,
    next: Option<Instant>,
    /// A second reading that confirms or drops a held change.
    confirm_at: Option<Instant>,
    pub guard: Guard,
    /// The plan and the discovery it was built from (rebuilt when discovery changes).
    plan: Option<(Arc<DeviceInventory>, StatusPlan)>,
    /// Whether the last status poll was answered.
    answering: bool,
}

/// The deadline of a confirmation reading when regular status polls are off.
const CONFIRM_DEADLINE: Duration = Duration::from_secs(10);

impl Schedule {
    /// Status polls every `every` (none when `None`), on the device's phase; changes of
    /// critical interfaces held for `hold` (see `decide`).
    pub fn new(
        every: Option<Duration>,
        hold: Duration,
        phase: Duration,
        start: Instant,
    ) -> Schedule {
        Schedule {
            every,
            next: every.map(|e| {
                start
                    + e
                    + Duration::from_millis(phase.as_millis() as u64 % e.as_millis().max(1) as u64)
            }),
            confirm_at: None,
            guard: Guard::new(hold),
            plan: None,
            answering: true,
        }
    }

    /// When the next status poll (regular or confirming) is due.
    pub fn next(&self) -> Option<Instant> {
        match (self.next, self.confirm_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ask for a confirming reading at `at` (the earliest asked wins).
    pub fn confirm_at(&mut self, at: Option<Instant>) {
        self.confirm_at = match (self.confirm_at, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
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

/// The device's counter-poll schedule, as the status schedule needs it.
#[derive(Debug, Clone, Copy)]
pub struct CounterTimes {
    /// When the last counter poll (scheduled or triggered) started.
    pub last: Option<Instant>,
    /// When the next scheduled one is due.
    pub next: Instant,
}

/// Run one status poll of `target` if it has critical interfaces and a discovery, and merge
/// the answers into the served values. A regular poll is skipped when a counter poll is
/// near (`status_due`); a confirming one always runs. True when the counter poll should run
/// now: the device rebooted, stopped answering, or answers while its last counter poll failed.
pub async fn visit(
    target: &Target,
    inventory: &Inventory,
    semaphore: &Arc<Semaphore>,
    schedule: &mut Schedule,
    counter: CounterTimes,
    limits: &mut WalkLimits,
    totals: &mut ClientStats,
) -> bool {
    let now = Instant::now();
    let regular = schedule.next.is_some_and(|n| n <= now);
    let confirming = schedule.confirm_at.is_some_and(|c| c <= now);
    schedule.advance(now);
    if confirming {
        schedule.confirm_at = None;
    }
    let run = confirming
        || (regular
            && schedule
                .every
                .is_some_and(|every| status_due(now, counter.last, counter.next, every)));
    if !run {
        return false;
    }
    let deadline = schedule.every.unwrap_or(CONFIRM_DEADLINE);
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
    let got = tokio::time::timeout(deadline, poll_status(&mut client, &plan, limits)).await;
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
            let mut merged = served.as_deref().map(|last| merge(last, &got));
            if let (Some(Merge::Values(v)), Some(last)) = (merged.as_mut(), served.as_deref()) {
                let again = schedule
                    .guard
                    .apply(&inv, Some(last), v, Instant::now(), false);
                schedule.confirm_at(again);
            }
            poll_now = !matches!(merged, Some(Merge::Values(_)));
            inventory.update(&target.name, |d| {
                d.health.requests = totals.requests;
                d.health.retries = totals.retries;
                d.health.timeouts = totals.timeouts;
                d.health.varbinds = totals.varbinds;
                d.health.link_flaps_dropped = schedule.guard.dropped();
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

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_status_poll_runs_halfway_between_counter_polls_never_next_to_one() {
        let t0 = Instant::now();
        let every = secs(30);
        // Counter polls at 0 and 60 s: the status poll due at 30 s runs.
        assert!(status_due(t0 + secs(30), Some(t0), t0 + secs(60), every));
        // Due at the counter poll's own time (60 s): that poll reads the statuses.
        assert!(!status_due(t0 + secs(60), Some(t0), t0 + secs(60), every));
        assert!(!status_due(
            t0 + secs(60),
            Some(t0 + secs(60)),
            t0 + secs(120),
            every
        ));
        // A triggered counter poll 10 s ago, or one due in 10 s: skipped.
        assert!(!status_due(
            t0 + secs(30),
            Some(t0 + secs(20)),
            t0 + secs(60),
            every
        ));
        assert!(!status_due(t0 + secs(50), Some(t0), t0 + secs(60), every));
        // Before any counter poll.
        assert!(status_due(t0 + secs(30), None, t0 + secs(60), every));
        // Faster status polls keep their rate between counter polls.
        let ten = secs(10);
        for k in 1..6 {
            assert!(status_due(t0 + secs(10 * k), Some(t0), t0 + secs(60), ten));
        }
    }

    #[test]
    fn a_change_is_served_only_when_a_second_reading_after_the_hold_agrees() {
        let t0 = Instant::now();
        let hold = secs(5);
        // Up served; a reading sees down: held, up still served.
        let d = decide(Some(1), Some(2), None, t0, hold, false);
        assert_eq!(d.serve, Some(1));
        assert_eq!(
            d.pending,
            Some(Pending {
                value: 2,
                since: t0
            })
        );
        // A reading before the hold is over changes nothing.
        let d2 = decide(Some(1), Some(2), d.pending, t0 + secs(2), hold, false);
        assert_eq!(d2, d);
        // The confirming reading still sees down: served.
        let d3 = decide(Some(1), Some(2), d.pending, t0 + secs(5), hold, false);
        assert_eq!(
            d3,
            Decision {
                serve: Some(2),
                pending: None
            }
        );
        // The way back up is held the same way.
        let d4 = decide(Some(2), Some(1), None, t0 + secs(40), hold, false);
        assert_eq!(d4.serve, Some(2));
    }

    #[test]
    fn a_flap_shorter_than_the_hold_is_never_served() {
        let t0 = Instant::now();
        let hold = secs(5);
        // Down seen in the middle of a 2.5 s flap, up again at the confirming reading.
        let d = decide(Some(1), Some(2), None, t0, hold, false);
        let d2 = decide(Some(1), Some(1), d.pending, t0 + hold, hold, false);
        assert_eq!(
            d2,
            Decision {
                serve: Some(1),
                pending: None
            },
            "the flap is dropped"
        );
    }

    #[test]
    fn a_reading_a_notification_asked_for_is_served_at_once() {
        let t0 = Instant::now();
        let d = decide(Some(1), Some(2), None, t0, secs(5), true);
        assert_eq!(
            d,
            Decision {
                serve: Some(2),
                pending: None
            }
        );
    }

    #[test]
    fn nothing_to_compare_or_no_hold_serves_the_reading() {
        let t0 = Instant::now();
        let at_once = |serve| Decision {
            serve,
            pending: None,
        };
        assert_eq!(
            decide(None, Some(2), None, t0, secs(5), false),
            at_once(Some(2))
        );
        assert_eq!(
            decide(Some(1), None, None, t0, secs(5), false),
            at_once(None)
        );
        assert_eq!(
            decide(Some(1), Some(2), None, t0, secs(0), false),
            at_once(Some(2))
        );
        // A pending change to another value starts over.
        let p = Some(Pending {
            value: 7,
            since: t0,
        });
        let d = decide(Some(1), Some(2), p, t0 + secs(9), secs(5), false);
        assert_eq!(d.serve, Some(1));
        assert_eq!(d.pending.map(|p| p.since), Some(t0 + secs(9)));
    }

    #[test]
    fn the_guard_holds_critical_interfaces_only_and_asks_for_a_second_reading() {
        let inv = inventory();
        let t0 = Instant::now();
        let mut guard = Guard::new(secs(5));
        let served = values(3, 500);
        // Uplink 1 (position 0) and the LAN port (position 2) go down.
        let mut new = values(3, 500);
        new.counters[0][SLOT_OPER] = Some(2);
        new.counters[2][SLOT_OPER] = Some(2);
        let again = guard.apply(&inv, Some(&served), &mut new, t0, false);
        assert_eq!(again, Some(t0 + secs(5)));
        assert_eq!(
            new.counters[0][SLOT_OPER],
            Some(1),
            "the uplink's change is held"
        );
        assert_eq!(
            new.counters[2][SLOT_OPER],
            Some(2),
            "a LAN port is served as read"
        );
        // The second reading agrees: served, nothing left to confirm.
        let mut new2 = values(3, 500);
        new2.counters[0][SLOT_OPER] = Some(2);
        let again = guard.apply(&inv, Some(&served), &mut new2, t0 + secs(5), false);
        assert_eq!(again, None);
        assert_eq!(new2.counters[0][SLOT_OPER], Some(2));
        assert_eq!(guard.dropped(), 0);
        // A change the second reading does not see again is dropped, and counted.
        let mut new3 = values(3, 500);
        new3.counters[1][SLOT_OPER] = Some(2);
        guard.apply(&inv, Some(&served), &mut new3, t0 + secs(9), false);
        let mut new4 = values(3, 500);
        let again = guard.apply(&inv, Some(&served), &mut new4, t0 + secs(14), false);
        assert_eq!((again, guard.dropped()), (None, 1));
        assert_eq!(new4.counters[1][SLOT_OPER], Some(1));
    }
}
