//! The pure core of the inventory store: which `device_interfaces` rows the in-memory inventory
//! asks to write (a device's discovery, an interface's status change, a device leaving), and the
//! bounded queue of rows waiting for the database.
//!
//! Invariants: no IO and no clock (`now` is an argument); the queue holds at most one row per
//! (device, ifIndex), the newest, so replaying it after an outage or a failed batch writes each
//! interface's latest state once; a batch that fails goes back unless a newer row arrived;
//! when the queue is full a write is refused and counted, and the tracker does not take it as
//! queued, so the next look at the inventory offers it again: nothing is lost, only late.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::http::status_name;
use crate::inventory::{DeviceEntry, DeviceInventory, PollValues};
use crate::mib::display_bytes;
use crate::mib::if_mib::Duplex;

/// One `device_interfaces` row as the exporter writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub device_name: Arc<str>,
    /// The inventory's device id (a numeric `id` label, from a `targets_sql` `id` column).
    pub device_id: Option<i64>,
    pub if_index: u32,
    pub if_name: String,
    pub if_descr: String,
    pub if_alias: String,
    pub if_type: u32,
    pub if_mtu: Option<i64>,
    pub interface_type: &'static str,
    pub isp_provider: Option<String>,
    pub is_critical: bool,
    pub monitored: bool,
    pub classification_rule: String,
    pub classification_confidence: f32,
    pub admin_status: &'static str,
    pub oper_status: &'static str,
    /// bit/s.
    pub speed: i64,
    pub duplex: Option<&'static str>,
    pub mac_address: String,
    pub connected_to_device: Option<String>,
    pub connected_to_interface: Option<String>,
    pub lldp_neighbor_name: Option<String>,
    pub lldp_neighbor_port: Option<String>,
    /// Unix seconds: when this state was seen (discovery time or poll time).
    pub seen_at: f64,
}

/// What a device asks of the database: rows to upsert and, after a discovery, the time before
/// which its other rows were not seen again (they become `enabled = false`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceWrite {
    pub rows: BTreeMap<u32, Row>,
    /// Rows of this device whose `last_seen` is older are disabled after `rows` are written.
    pub sweep_before: Option<f64>,
}

impl DeviceWrite {
    fn merge(&mut self, newer: DeviceWrite) {
        // A newer sweep replaces rows queued before it: they describe an older discovery.
        if newer.sweep_before.is_some() {
            self.rows.retain(|ix, _| newer.rows.contains_key(ix));
            self.sweep_before = match (self.sweep_before, newer.sweep_before) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        self.rows.extend(newer.rows);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.sweep_before.is_none()
    }
}

/// Rows waiting for the database, per device, in first-queued order.
#[derive(Debug)]
pub struct Pending {
    devices: HashMap<Arc<str>, DeviceWrite>,
    order: VecDeque<Arc<str>>,
    rows: usize,
    capacity: usize,
    /// A write was refused because the queue was full.
    pub overflowed: bool,
    /// Rows refused in total (a metric).
    pub refused_total: u64,
}

impl Pending {
    pub fn new(capacity: usize) -> Pending {
        Pending {
            devices: HashMap::new(),
            order: VecDeque::new(),
            rows: 0,
            capacity,
            overflowed: false,
            refused_total: 0,
        }
    }

    /// Rows waiting (the depth metric).
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn devices(&self) -> usize {
        self.devices.len()
    }

    /// Queue a device's write, merged with what is already queued for it. Refused (and the
    /// queue marked overflowed) when it would grow the queue past its capacity.
    pub fn push(&mut self, device: Arc<str>, w: DeviceWrite) -> bool {
        if w.is_empty() {
            return true;
        }
        let before = self.devices.get(&device).map(DeviceWrite::len).unwrap_or(0);
        let mut merged = self.devices.get(&device).cloned().unwrap_or_default();
        merged.merge(w);
        let after = merged.len();
        if after > before && self.rows - before + after > self.capacity {
            self.overflowed = true;
            self.refused_total += (after - before) as u64;
            return false;
        }
        self.rows = self.rows - before + after;
        if !self.devices.contains_key(&device) {
            self.order.push_back(device.clone());
        }
        self.devices.insert(device, merged);
        true
    }

    /// Take whole devices, oldest first, until at least `max_rows` rows (or the queue is empty).
    pub fn take(&mut self, max_rows: usize) -> Vec<(Arc<str>, DeviceWrite)> {
        let mut out = Vec::new();
        let mut n = 0;
        while n < max_rows.max(1) {
            let Some(name) = self.order.pop_front() else {
                break;
            };
            if let Some(w) = self.devices.remove(&name) {
                n += w.len().max(1);
                self.rows -= w.len();
                out.push((name, w));
            }
        }
        out
    }

    /// Put a batch that could not be written back, under anything queued since (newer).
    pub fn restore(&mut self, batch: Vec<(Arc<str>, DeviceWrite)>) {
        for (name, mut old) in batch.into_iter().rev() {
            match self.devices.remove(&name) {
                Some(newer) => {
                    self.rows -= newer.len();
                    old.merge(newer);
                    self.rows += old.len();
                    self.devices.insert(name, old);
                }
                None => {
                    self.rows += old.len();
                    self.order.push_front(name.clone());
                    self.devices.insert(name, old);
                }
            }
        }
    }
}

/// What was last queued for one device.
#[derive(Debug, Clone)]
struct Seen {
    inventory: Arc<DeviceInventory>,
    values: Option<Arc<PollValues>>,
    /// (admin, oper) by interface position.
    status: Vec<(i64, i64)>,
}

/// Follows the inventory and turns what changed into queued writes.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: HashMap<Arc<str>, Seen>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Compare the inventory with what was queued last and queue the difference. Devices
    /// gone from `devices` have all their rows disabled (`now` is the sweep time).
    pub fn observe(&mut self, devices: &[DeviceEntry], now: f64, pending: &mut Pending) {
        let mut present = std::collections::HashSet::with_capacity(devices.len());
        for d in devices {
            let name = &d.target.name;
            present.insert(name.clone());
            let Some(inv) = &d.inventory else { continue };
            let device_id = d
                .target
                .labels
                .get("id")
                .and_then(|v| v.trim().parse().ok());
            let values = d
                .values
                .clone()
                .filter(|v| v.counters.len() == inv.interfaces.len());
            match self.seen.get_mut(name) {
                Some(s) if Arc::ptr_eq(&s.inventory, inv) => {
                    // Same discovery: rows only for interfaces whose status changed.
                    let same_values = match (&s.values, &values) {
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    };
                    if same_values {
                        continue;
                    }
                    let Some(v) = &values else {
                        // No answer: keep the last known statuses, write nothing.
                        s.values = None;
                        continue;
                    };
                    let status = statuses(inv, Some(v));
                    let mut w = DeviceWrite::default();
                    for (pos, (st, old)) in status.iter().zip(&s.status).enumerate() {
                        if st != old {
                            let row = row(name, device_id, inv, pos, *st, v.at);
                            w.rows.insert(row.if_index, row);
                        }
                    }
                    if pending.push(name.clone(), w) {
                        s.values = Some(v.clone());
                        s.status = status;
                    }
                }
                prev => {
                    // New device, or a new discovery (or classification) of it: every row.
                    let keep_status = prev.as_ref().and_then(|s| {
                        (values.is_none() && s.inventory.interfaces.len() == inv.interfaces.len())
                            .then(|| s.status.clone())
                    });
                    let status = keep_status.unwrap_or_else(|| statuses(inv, values.as_ref()));
                    let at = values
                        .as_ref()
                        .map(|v| v.at.max(inv.discovered_at))
                        .unwrap_or(inv.discovered_at);
                    let mut w = DeviceWrite {
                        rows: BTreeMap::new(),
                        sweep_before: Some(inv.discovered_at),
                    };
                    for (pos, st) in status.iter().enumerate() {
                        let row = row(name, device_id, inv, pos, *st, at);
                        w.rows.insert(row.if_index, row);
                    }
                    if pending.push(name.clone(), w) {
                        self.seen.insert(
                            name.clone(),
                            Seen {
                                inventory: inv.clone(),
                                values,
                                status,
                            },
                        );
                    }
                }
            }
        }
        let gone: Vec<Arc<str>> = self
            .seen
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for name in gone {
            let w = DeviceWrite {
                rows: BTreeMap::new(),
                sweep_before: Some(now),
            };
            if pending.push(name.clone(), w) {
                self.seen.remove(&name);
            }
        }
    }
}

/// (admin, oper) per interface: the last poll's when it belongs to this discovery, else the
/// discovery's own.
fn statuses(inv: &DeviceInventory, values: Option<&Arc<PollValues>>) -> Vec<(i64, i64)> {
    inv.interfaces
        .iter()
        .enumerate()
        .map(|(pos, e)| e.statuses(values.map(|v| &**v), pos))
        .collect()
}

fn row(
    device: &Arc<str>,
    device_id: Option<i64>,
    inv: &DeviceInventory,
    pos: usize,
    (admin, oper): (i64, i64),
    seen_at: f64,
) -> Row {
    let e = &inv.interfaces[pos];
    let ix = e.info.if_index;
    let nb = inv
        .neighbors
        .neighbors
        .iter()
        .find(|n| n.local_if_index == Some(ix));
    let short = |s: String| s.split('.').next().unwrap_or("").to_string();
    Row {
        device_name: device.clone(),
        device_id,
        if_index: ix,
        if_name: display_bytes(&e.info.name).into_owned(),
        if_descr: display_bytes(&e.info.descr).into_owned(),
        if_alias: display_bytes(&e.info.alias).into_owned(),
        if_type: e.info.if_type,
        if_mtu: e.info.mtu,
        interface_type: e.class.interface_type.as_str(),
        isp_provider: e.class.isp_provider.as_deref().map(str::to_string),
        is_critical: e.class.is_critical,
        monitored: e.class.monitored,
        classification_rule: e.class.rule.to_string(),
        classification_confidence: e.class.confidence,
        admin_status: status_name(admin),
        oper_status: status_name(oper),
        speed: i64::try_from(e.info.speed_bps()).unwrap_or(i64::MAX),
        duplex: e.info.duplex.map(|d| match d {
            Duplex::Full => "full",
            Duplex::Half => "half",
            Duplex::Unknown => "unknown",
        }),
        mac_address: crate::metrics::mac(&e.info.phys_address),
        connected_to_device: nb.map(|n| short(n.display_name())),
        connected_to_interface: nb.map(|n| n.port_text()),
        lldp_neighbor_name: nb.map(|n| n.display_name()),
        lldp_neighbor_port: nb.map(|n| n.port_text()),
        seen_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::inventory::{Health, TargetMeta};
    use crate::mib::if_mib::{InterfaceInfo, POLLED};
    use crate::mib::system::{ChangeMarkers, SystemInfo};

    fn meta(name: &str) -> Arc<TargetMeta> {
        Arc::new(TargetMeta {
            name: Arc::from(name),
            address: "127.0.0.1:161".into(),
            auth_name: "a".into(),
            labels: Arc::new(BTreeMap::from([("id".into(), "42".into())])),
        })
    }

    fn inv(meta: &TargetMeta, indexes: &[u32], at: f64) -> Arc<DeviceInventory> {
        let infos = indexes
            .iter()
            .map(|&i| InterfaceInfo {
                if_index: i,
                name: format!("Gi0/{i}").into_bytes(),
                if_type: 6,
                admin_status: 1,
                oper_status: 1,
                ..InterfaceInfo::default()
            })
            .collect();
        Arc::new(DeviceInventory::build(
            meta,
            SystemInfo::default(),
            infos,
            &Classifier::embedded_default(),
            at,
        ))
    }

    fn values(opers: &[u64], at: f64) -> Arc<PollValues> {
        let counters = opers
            .iter()
            .map(|&o| {
                let mut c = [None; POLLED.len()];
                c[0] = Some(o);
                c[1] = Some(1);
                c
            })
            .collect();
        Arc::new(PollValues {
            counters,
            markers: ChangeMarkers::default(),
            at,
            ..Default::default()
        })
    }

    fn entry(
        meta: &Arc<TargetMeta>,
        i: &Arc<DeviceInventory>,
        v: Option<Arc<PollValues>>,
    ) -> DeviceEntry {
        DeviceEntry {
            target: meta.clone(),
            inventory: Some(i.clone()),
            values: v,
            health: Health::default(),
            device_labels: Arc::from(""),
        }
    }

    #[test]
    fn discovery_writes_every_row_and_polls_only_status_changes() {
        let m = meta("r1");
        let i = inv(&m, &[1, 2, 3], 100.0);
        let (mut t, mut p) = (Tracker::new(), Pending::new(100));
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 1, 2], 110.0)))],
            110.0,
            &mut p,
        );
        let b = p.take(1000);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].1.rows.len(), 3);
        assert_eq!(b[0].1.sweep_before, Some(100.0));
        assert_eq!(b[0].1.rows[&1].device_id, Some(42));
        assert_eq!(b[0].1.rows[&3].oper_status, "down");
        // A poll with the same statuses writes nothing; one change writes one row.
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 1, 2], 170.0)))],
            170.0,
            &mut p,
        );
        assert_eq!(p.rows(), 0);
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 2, 2], 230.0)))],
            230.0,
            &mut p,
        );
        let b = p.take(1000);
        assert_eq!(b[0].1.rows.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(b[0].1.rows[&2].oper_status, "down");
        assert_eq!(b[0].1.rows[&2].seen_at, 230.0);
        assert_eq!(b[0].1.sweep_before, None);
        // A failed visit (no values) writes nothing and does not forget the statuses.
        t.observe(&[entry(&m, &i, None)], 290.0, &mut p);
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 2, 2], 350.0)))],
            350.0,
            &mut p,
        );
        assert_eq!(p.rows(), 0);
    }

    #[test]
    fn rediscovery_sweeps_vanished_rows_and_a_removed_device_is_swept_whole() {
        let m = meta("r1");
        let (mut t, mut p) = (Tracker::new(), Pending::new(100));
        t.observe(
            &[entry(&m, &inv(&m, &[1, 2, 3], 100.0), None)],
            100.0,
            &mut p,
        );
        p.take(1000);
        t.observe(&[entry(&m, &inv(&m, &[1, 5], 200.0), None)], 200.0, &mut p);
        let b = p.take(1000);
        assert_eq!(b[0].1.rows.keys().copied().collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(b[0].1.sweep_before, Some(200.0));
        t.observe(&[], 300.0, &mut p);
        let b = p.take(1000);
        assert_eq!(b[0].0.as_ref(), "r1");
        assert!(b[0].1.rows.is_empty());
        assert_eq!(b[0].1.sweep_before, Some(300.0));
    }

    #[test]
    fn queue_keeps_the_newest_row_once_and_failed_batches_go_back_under_newer_ones() {
        let m = meta("r1");
        let i = inv(&m, &[1, 2], 100.0);
        let (mut t, mut p) = (Tracker::new(), Pending::new(100));
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 1], 110.0)))],
            110.0,
            &mut p,
        );
        let batch = p.take(1000);
        // While the batch is out, interface 2 goes down.
        t.observe(
            &[entry(&m, &i, Some(values(&[1, 2], 170.0)))],
            170.0,
            &mut p,
        );
        p.restore(batch);
        assert_eq!(p.rows(), 2);
        let b = p.take(1000);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].1.rows[&2].oper_status, "down", "the newer row wins");
        assert_eq!(b[0].1.rows[&1].oper_status, "up");
        assert_eq!(b[0].1.sweep_before, Some(100.0), "the sweep survives");
    }

    #[test]
    fn a_full_queue_refuses_counts_and_the_refused_device_is_offered_again() {
        let (mut t, mut p) = (Tracker::new(), Pending::new(3));
        let (a, b) = (meta("a"), meta("b"));
        let devices = [
            entry(&a, &inv(&a, &[1, 2], 1.0), None),
            entry(&b, &inv(&b, &[1, 2], 1.0), None),
        ];
        t.observe(&devices, 1.0, &mut p);
        assert_eq!(p.rows(), 2);
        assert!(p.overflowed);
        assert_eq!(p.refused_total, 2);
        // The refused device is not marked seen, so the next look queues it again.
        p.take(1000);
        t.observe(&devices, 2.0, &mut p);
        assert_eq!(p.rows(), 2);
        assert_eq!(p.take(1000)[0].0.as_ref(), "b");
    }
}
