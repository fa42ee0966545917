//! The in-memory inventory: per device, what discovery found and what the last poll read.
//!
//! Invariants: pollers write, readers (scrape, API) only clone `Arc`s under a short read lock
//! and render outside it; a device's interfaces and its poll values are swapped whole, so a
//! reader never sees half a poll. Removing a target removes all of its series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use crate::classify::{Classification, Classifier, IfFacts};
use crate::mib::display_bytes;
use crate::mib::if_mib::{self, Counters, InterfaceInfo};
use crate::mib::system::{ChangeMarkers, SystemInfo};
use crate::snmp::{EncodedOids, Oid};

/// What the exporter knows about a target from its config (no secrets).
#[derive(Debug, Clone)]
pub struct TargetMeta {
    pub name: Arc<str>,
    pub address: String,
    pub auth_name: String,
    pub labels: Arc<BTreeMap<String, String>>,
}

/// One interface with its classification and its pre-rendered label block.
#[derive(Debug, Clone)]
pub struct IfEntry {
    pub info: InterfaceInfo,
    pub class: Classification,
    /// `device="..",ifIndex="..",...` ready to put between braces in the exposition.
    pub labels: String,
}

impl IfEntry {
    pub fn name_text(&self) -> String {
        display_bytes(&self.info.name).into_owned()
    }

    /// (ifAdminStatus, ifOperStatus) now: the last poll's reading of this interface (at `pos`
    /// in the device's interfaces) where it has one, else discovery's.
    pub fn statuses(&self, values: Option<&PollValues>, pos: usize) -> (i64, i64) {
        let c = values.and_then(|v| v.counters.get(pos));
        let slot = |i: usize, discovered: i64| {
            c.and_then(|c| c[i]).map(|v| v as i64).unwrap_or(discovered)
        };
        (
            slot(1, self.info.admin_status),
            slot(0, self.info.oper_status),
        )
    }
}

/// The OIDs a counter poll asks for, and where each answer goes. The OIDs are BER-encoded
/// once here and sent as they are by every poll until the next discovery.
#[derive(Debug, Clone, Default)]
pub struct PollPlan {
    /// Change markers first, then (interface, slot) pairs in `targets` order.
    pub oids: EncodedOids,
    pub targets: Vec<(u32, u8)>,
}

/// The result of discovery for one device. Immutable once built.
#[derive(Debug, Clone)]
pub struct DeviceInventory {
    pub system: SystemInfo,
    pub interfaces: Vec<IfEntry>,
    pub plan: PollPlan,
    /// Unix seconds.
    pub discovered_at: f64,
    /// LLDP/CDP neighbours, the device's own LLDP chassis id and LAG members (topology).
    pub neighbors: Arc<crate::topology::Neighborhood>,
    /// The poll interval these interfaces are polled at (zero until the poller sets it):
    /// with it, which 32-bit counters can wrap more than once between two polls.
    pub poll_interval: std::time::Duration,
    /// CPU and memory rows found (device health MIBs) and the OIDs their poll GETs.
    pub health: Arc<crate::mib::health::HealthPlan>,
    /// Environment rows found (temperatures, fans, supplies, sensors) and their poll's OIDs.
    pub env: Arc<crate::mib::envmon::EnvPlan>,
    /// IP SLA probes and BGP peers, tied to their uplinks, and the OIDs their poll GETs.
    pub isp_path: Arc<crate::isp_path::IspPath>,
}

impl DeviceInventory {
    /// Classify and label discovered interfaces and plan their polls.
    pub fn build(
        target: &TargetMeta,
        system: SystemInfo,
        infos: Vec<InterfaceInfo>,
        classifier: &Classifier,
        discovered_at: f64,
    ) -> DeviceInventory {
        let interfaces: Vec<IfEntry> = infos
            .into_iter()
            .map(|info| {
                let class = classify_one(target, &info, classifier);
                let labels = interface_labels(target, &info, &class);
                IfEntry {
                    info,
                    class,
                    labels,
                }
            })
            .collect();
        let plan = plan_polls(&interfaces);
        DeviceInventory {
            system,
            interfaces,
            plan,
            discovered_at,
            neighbors: Arc::default(),
            poll_interval: std::time::Duration::ZERO,
            health: Arc::default(),
            env: Arc::default(),
            isp_path: Arc::default(),
        }
    }

    /// Tie the ISP path tables found at discovery to these interfaces (as classified).
    pub fn tie_isp_path(
        &mut self,
        target: &TargetMeta,
        tables: Arc<crate::isp_path::PathTables>,
        classifier: &Classifier,
    ) {
        self.isp_path = Arc::new(crate::isp_path::IspPath::build(
            tables,
            &device_labels(target),
            &self.interfaces,
            classifier,
        ));
    }

    /// The same inventory classified again (after a rules reload). No SNMP.
    pub fn reclassified(&self, target: &TargetMeta, classifier: &Classifier) -> DeviceInventory {
        let infos = self.interfaces.iter().map(|e| e.info.clone()).collect();
        let mut inv = DeviceInventory {
            neighbors: self.neighbors.clone(),
            poll_interval: self.poll_interval,
            health: self.health.clone(),
            env: self.env.clone(),
            ..DeviceInventory::build(
                target,
                self.system.clone(),
                infos,
                classifier,
                self.discovered_at,
            )
        };
        inv.tie_isp_path(target, self.isp_path.tables.clone(), classifier);
        inv
    }
}

fn classify_one(
    target: &TargetMeta,
    info: &InterfaceInfo,
    classifier: &Classifier,
) -> Classification {
    let alias = display_bytes(&info.alias);
    let descr = display_bytes(&info.descr);
    let name = display_bytes(&info.name);
    classifier.classify(&IfFacts {
        device: &target.name,
        device_labels: &target.labels,
        if_index: info.if_index,
        alias: &alias,
        descr: &descr,
        name: &name,
        if_type: info.if_type,
        speed_bps: info.speed_bps(),
        admin_up: info.admin_status == 1,
    })
}

/// Plan a poll: markers, then every monitored interface's slots.
pub fn plan_polls(interfaces: &[IfEntry]) -> PollPlan {
    let mut plan = PollPlan::default();
    // Every OID here starts 1.3.6.1, so encoding cannot fail; a failure would only drop
    // that one value, never shift the others.
    for m in crate::mib::system::marker_oids() {
        let _ = plan.oids.push(&m);
    }
    let mut oid = Oid(Vec::with_capacity(13));
    for (pos, e) in interfaces.iter().enumerate() {
        if !e.class.monitored {
            continue;
        }
        for &slot in if_mib::slots_for(&e.info) {
            if_mib::POLLED[slot].oid_into(e.info.if_index, &mut oid);
            if plan.oids.push(&oid).is_ok() {
                plan.targets.push((pos as u32, slot as u8));
            }
        }
    }
    plan.oids.shrink_to_fit();
    plan.targets.shrink_to_fit();
    plan
}

/// Escape a label value for the text exposition format.
pub fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Append `name="value"` (escaped) to a label block, with a comma when it is not empty.
pub fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    escape_label(out, value);
    out.push('"');
}

/// The label block every series of a device carries: `device` and the target's labels.
pub fn device_labels(target: &TargetMeta) -> String {
    let mut out = String::new();
    push_label(&mut out, "device", &target.name);
    for (k, v) in target.labels.iter() {
        push_label(&mut out, k, v);
    }
    out
}

fn interface_labels(target: &TargetMeta, info: &InterfaceInfo, class: &Classification) -> String {
    let mut out = device_labels(target);
    let _ = write!(out, ",ifIndex=\"{}\"", info.if_index);
    push_label(&mut out, "ifName", &display_bytes(&info.name));
    push_label(&mut out, "ifDescr", &display_bytes(&info.descr));
    push_label(&mut out, "ifAlias", &display_bytes(&info.alias));
    push_label(&mut out, "interface_type", class.interface_type.as_str());
    push_label(
        &mut out,
        "isp_provider",
        class.isp_provider.as_deref().unwrap_or(""),
    );
    push_label(
        &mut out,
        "is_critical",
        if class.is_critical { "true" } else { "false" },
    );
    out
}

/// What the last successful poll read, parallel to `DeviceInventory::interfaces`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollValues {
    pub counters: Vec<Counters>,
    /// Per interface, a bit per `POLLED` slot answered with a 32-bit type.
    pub narrow: Vec<u32>,
    /// Per interface, the wide traffic counters (`widen::WIDE`), filled by `widen::Tracker`.
    pub wide: Vec<crate::widen::Wide>,
    /// Answers of a type no number could be read from, per `POLLED` slot, in this poll.
    pub mismatches: [u32; if_mib::POLLED.len()],
    pub markers: ChangeMarkers,
    /// Device health values, parallel to the discovery's `health.series`.
    pub health: Vec<Option<i128>>,
    /// Environment values, parallel to the discovery's `env.series`.
    pub env: Vec<Option<i128>>,
    /// ISP path values, parallel to the discovery's `isp_path.series`.
    pub isp_path: Vec<Option<i128>>,
    /// Unix seconds.
    pub at: f64,
}

/// How polling a device is going. Counters only grow while the target exists.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub up: bool,
    pub last_error: Option<String>,
    pub last_poll_seconds: f64,
    pub last_discovery_seconds: f64,
    pub last_success_at: f64,
    pub requests: u64,
    pub retries: u64,
    pub timeouts: u64,
    pub varbinds: u64,
    pub polls: u64,
    pub poll_failures: u64,
    pub polls_missed: u64,
    pub discoveries: u64,
    /// Current GETBULK max-repetitions (shrinks on tooBig or timeouts).
    pub max_repetitions: u32,
    /// 32-bit counter wraps counted (not taken for resets).
    pub counter_wraps: u64,
    /// 32-bit counter readings after a gap long enough for the counter to pass its previous
    /// value (more than one wrap possible): what was counted is a lower bound.
    pub counter_ambiguous: u64,
    /// Changes of a critical interface's ifOperStatus that the confirming reading did not see
    /// again (flaps shorter than `status_confirm_delay`), never served.
    pub link_flaps_dropped: u64,
    /// Answers of a type no number could be read from, per `POLLED` slot.
    pub type_mismatches: [u64; if_mib::POLLED.len()],
}

/// One device in the inventory.
#[derive(Debug, Clone)]
pub struct DeviceEntry {
    pub target: Arc<TargetMeta>,
    pub inventory: Option<Arc<DeviceInventory>>,
    pub values: Option<Arc<PollValues>>,
    pub health: Health,
    /// `device="..",site=".."` for per-device self-metrics.
    pub device_labels: Arc<str>,
}

/// Every device, by name.
#[derive(Debug, Default)]
pub struct Inventory {
    devices: RwLock<BTreeMap<Arc<str>, DeviceEntry>>,
    /// Woken when what reachability reads changed: a device's health (up, down, not yet
    /// visited), its discovery (neighbours, classification), or the set of devices.
    reach_changed: tokio::sync::Notify,
}

/// What the reachability analysis reads of an entry: health and which discovery.
fn reach_key(e: &DeviceEntry) -> (u8, Option<*const DeviceInventory>) {
    let health = if e.health.up {
        1
    } else if e.health.polls > 0 {
        2
    } else {
        0
    };
    (health, e.inventory.as_ref().map(Arc::as_ptr))
}

impl Inventory {
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// A copy of the entries (cheap: `Arc`s and small health structs), sorted by name.
    pub fn snapshot(&self) -> Vec<DeviceEntry> {
        self.read().values().cloned().collect()
    }

    /// One device's entry.
    pub fn device(&self, name: &str) -> Option<DeviceEntry> {
        self.read().get(name).cloned()
    }

    /// Resolves when reachability inputs changed since the last wake-up (changes while
    /// nobody waits are remembered once).
    pub async fn reach_changed(&self) {
        self.reach_changed.notified().await
    }

    /// Say that reachability inputs outside the inventory changed (config, other shards).
    pub fn touch_reach(&self) {
        self.reach_changed.notify_one();
    }

    pub fn names(&self) -> Vec<Arc<str>> {
        self.read().keys().cloned().collect()
    }

    /// Add a target, or update its meta while keeping what was discovered if only labels
    /// are unchanged; a changed target starts over.
    pub fn upsert_target(&self, target: Arc<TargetMeta>) {
        let mut map = self.write();
        let labels: Arc<str> = Arc::from(device_labels(&target));
        match map.get_mut(&target.name) {
            Some(e) if e.target.labels == target.labels && e.target.address == target.address => {
                e.target = target;
            }
            _ => {
                self.reach_changed.notify_one();
                map.insert(
                    target.name.clone(),
                    DeviceEntry {
                        target,
                        inventory: None,
                        values: None,
                        health: Health::default(),
                        device_labels: labels,
                    },
                );
            }
        }
    }

    /// Drop targets not in `keep`; their series leave `/metrics`.
    pub fn retain(&self, keep: &std::collections::HashSet<Arc<str>>) {
        let mut map = self.write();
        let before = map.len();
        map.retain(|k, _| keep.contains(k));
        if map.len() != before {
            self.reach_changed.notify_one();
        }
    }

    /// Apply `f` to a device's entry, if it still exists.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut DeviceEntry)) {
        if let Some(e) = self.write().get_mut(name) {
            let before = reach_key(e);
            f(e);
            if reach_key(e) != before {
                self.reach_changed.notify_one();
            }
        }
    }

    /// Classify every inventory again with new rules.
    pub fn reclassify(&self, classifier: &Classifier) {
        let current = self.snapshot();
        for e in current {
            if let Some(inv) = &e.inventory {
                let new = Arc::new(inv.reclassified(&e.target, classifier));
                self.update(&e.target.name, |d| {
                    // Poll values are parallel to interfaces, which did not change.
                    d.inventory = Some(new);
                });
            }
        }
    }

    /// Classify one device's inventory again (an interface edit through the API).
    pub fn reclassify_device(&self, name: &str, classifier: &Classifier) {
        let Some(e) = self.device(name) else { return };
        if let Some(inv) = &e.inventory {
            let new = Arc::new(inv.reclassified(&e.target, classifier));
            self.update(name, |d| d.inventory = Some(new));
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Arc<str>, DeviceEntry>> {
        self.devices.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Arc<str>, DeviceEntry>> {
        self.devices.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn meta(name: &str) -> Arc<TargetMeta> {
        Arc::new(TargetMeta {
            name: Arc::from(name),
            address: "127.0.0.1:161".into(),
            auth_name: "lab".into(),
            labels: Arc::default(),
        })
    }

    /// Whether a wake-up is pending (the notification is taken).
    async fn woke(inv: &Inventory) -> bool {
        // A pending notification completes on the first poll; nothing waits on the clock.
        tokio::time::timeout(Duration::ZERO, inv.reach_changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn reachability_wakes_on_health_state_discovery_and_device_set_changes_only() {
        let inv = Inventory::new();
        assert!(!woke(&inv).await);
        inv.upsert_target(meta("A"));
        assert!(woke(&inv).await, "a new device");
        assert!(!woke(&inv).await, "one change, one wake-up");
        inv.upsert_target(meta("A"));
        assert!(!woke(&inv).await, "the same target again");
        inv.update("A", |d| d.health.requests += 10);
        assert!(!woke(&inv).await, "counters are not reachability");
        inv.update("A", |d| {
            d.health.up = true;
            d.health.polls = 1;
        });
        assert!(woke(&inv).await, "first visit: unknown -> up");
        inv.update("A", |d| d.health.polls += 1);
        assert!(!woke(&inv).await, "still up");
        inv.update("A", |d| d.health.up = false);
        assert!(woke(&inv).await, "up -> down");
        let inv_of = |name| {
            Arc::new(DeviceInventory::build(
                &meta(name),
                SystemInfo::default(),
                vec![],
                &Classifier::embedded_default(),
                1.0,
            ))
        };
        inv.update("A", |d| d.inventory = Some(inv_of("A")));
        assert!(
            woke(&inv).await,
            "a new discovery (neighbours, classification)"
        );
        inv.touch_reach();
        assert!(woke(&inv).await, "config or other shards");
        inv.retain(&std::collections::HashSet::new());
        assert!(woke(&inv).await, "a device removed");
    }
}
