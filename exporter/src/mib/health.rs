//! Device health MIBs (CPU and memory) decoded from walked columns into a `HealthPlan`: which
//! rows a device has (learned at discovery), their label blocks, and the pre-encoded OIDs a
//! poll GETs for their values. Pure; any varbinds decode without panicking.
//!
//! Tables: CISCO-PROCESS-MIB `cpmCPUTotalTable` (CPUs named from ENTITY-MIB `entPhysicalName`),
//! HOST-RESOURCES-MIB `hrProcessorLoad` and `hrStorageTable`, CISCO-ENHANCED-MEMPOOL-MIB
//! `cempMemPoolTable` (64-bit columns where the agent has them) and CISCO-MEMORY-POOL-MIB
//! `ciscoMemoryPoolTable`. Series carry the MIB object's own name and index labels, as
//! snmp_exporter names what it walks.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::inventory::push_label as label;
use crate::mib::{column_oid, display_bytes, Polled};
use crate::snmp::walk::Column;
use crate::snmp::{EncodedOids, Oid, Value};

const CPM: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1];
const HR_PROCESSOR: [u32; 11] = [1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
const CEMP: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 221, 1, 1, 1, 1];
const CMP: [u32; 12] = [1, 3, 6, 1, 4, 1, 9, 9, 48, 1, 1, 1];
const HRS: [u32; 10] = [1, 3, 6, 1, 2, 1, 25, 2, 3, 1];
/// ENTITY-MIB entPhysicalName.
const ENT_PHYSICAL_NAME: [u32; 12] = [1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 7];
/// HOST-RESOURCES-TYPES hrStorageRam.
const HR_STORAGE_RAM: [u32; 10] = [1, 3, 6, 1, 2, 1, 25, 2, 1, 2];

/// (table base, column) walked at discovery, in the order `decode` reads them.
const DISCOVERY: [(&[u32], u32); 19] = [
    (&CPM, 2),          // 0 cpmCPUTotalPhysicalIndex
    (&CPM, 4),          // 1 cpmCPUTotal1min
    (&CPM, 5),          // 2 cpmCPUTotal5min
    (&CPM, 7),          // 3 cpmCPUTotal1minRev
    (&CPM, 8),          // 4 cpmCPUTotal5minRev
    (&HR_PROCESSOR, 0), // 5 hrProcessorLoad (the column itself)
    (&CEMP, 3),         // 6 cempMemPoolName
    (&CEMP, 7),         // 7 cempMemPoolUsed
    (&CEMP, 8),         // 8 cempMemPoolFree
    (&CEMP, 18),        // 9 cempMemPoolHCUsed
    (&CEMP, 20),        // 10 cempMemPoolHCFree
    (&CMP, 2),          // 11 ciscoMemoryPoolName
    (&CMP, 5),          // 12 ciscoMemoryPoolUsed
    (&CMP, 6),          // 13 ciscoMemoryPoolFree
    (&HRS, 2),          // 14 hrStorageType
    (&HRS, 3),          // 15 hrStorageDescr
    (&HRS, 4),          // 16 hrStorageAllocationUnits
    (&HRS, 5),          // 17 hrStorageSize
    (&HRS, 6),          // 18 hrStorageUsed
];

/// The columns walked at discovery, all in one multi-column walk: a device without any of
/// these MIBs costs one request.
pub fn discovery_columns() -> Vec<Oid> {
    DISCOVERY.iter().map(|(b, c)| column_oid(b, *c)).collect()
}

/// Every value a poll may read, in the order families are rendered.
pub const POLLED: [Polled; 13] = [
    polled!("cpmCPUTotal1minRev", CPM, 7, "The overall CPU busy percentage in the last 1 minute period - 1.3.6.1.4.1.9.9.109.1.1.1.1.7"),
    polled!("cpmCPUTotal5minRev", CPM, 8, "The overall CPU busy percentage in the last 5 minute period - 1.3.6.1.4.1.9.9.109.1.1.1.1.8"),
    polled!("cpmCPUTotal1min", CPM, 4, "The overall CPU busy percentage in the last 1 minute period (deprecated; read only where cpmCPUTotal1minRev is absent) - 1.3.6.1.4.1.9.9.109.1.1.1.1.4"),
    polled!("cpmCPUTotal5min", CPM, 5, "The overall CPU busy percentage in the last 5 minute period (deprecated; read only where cpmCPUTotal5minRev is absent) - 1.3.6.1.4.1.9.9.109.1.1.1.1.5"),
    polled!("hrProcessorLoad", HR_PROCESSOR, 0, "The average, over the last minute, of the percentage of time that this processor was not idle - 1.3.6.1.2.1.25.3.3.1.2"),
    polled!("cempMemPoolUsed", CEMP, 7, "Indicates the number of bytes from the memory pool that are currently in use - 1.3.6.1.4.1.9.9.221.1.1.1.1.7"),
    polled!("cempMemPoolFree", CEMP, 8, "Indicates the number of bytes from the memory pool that are currently unused - 1.3.6.1.4.1.9.9.221.1.1.1.1.8"),
    polled!("cempMemPoolHCUsed", CEMP, 18, "Indicates the number of bytes from the memory pool that are currently in use (64 bits) - 1.3.6.1.4.1.9.9.221.1.1.1.1.18"),
    polled!("cempMemPoolHCFree", CEMP, 20, "Indicates the number of bytes from the memory pool that are currently unused (64 bits) - 1.3.6.1.4.1.9.9.221.1.1.1.1.20"),
    polled!("ciscoMemoryPoolUsed", CMP, 5, "Indicates the number of bytes from the memory pool that are currently in use - 1.3.6.1.4.1.9.9.48.1.1.1.5"),
    polled!("ciscoMemoryPoolFree", CMP, 6, "Indicates the number of bytes from the memory pool that are currently unused - 1.3.6.1.4.1.9.9.48.1.1.1.6"),
    polled!("hrStorageSize", HRS, 5, "The size of the storage represented by this entry, in units of hrStorageAllocationUnits - 1.3.6.1.2.1.25.2.3.1.5"),
    polled!("hrStorageUsed", HRS, 6, "The amount of the storage represented by this entry that is allocated, in units of hrStorageAllocationUnits - 1.3.6.1.2.1.25.2.3.1.6"),
];

const CPM_1MIN_REV: u8 = 0;
const CPM_5MIN_REV: u8 = 1;
const CPM_1MIN: u8 = 2;
const CPM_5MIN: u8 = 3;
const HR_LOAD: u8 = 4;
const CEMP_USED: u8 = 5;
const CEMP_FREE: u8 = 6;
const CEMP_HC_USED: u8 = 7;
const CEMP_HC_FREE: u8 = 8;
const CMP_USED: u8 = 9;
const CMP_FREE: u8 = 10;
const HRS_SIZE: u8 = 11;
const HRS_USED: u8 = 12;

/// A number as the agent sent it. Integer32, Gauge32/Unsigned32, Counter32 and Counter64
/// (CounterBasedGauge64) all fit; every other type is not a health value.
pub fn number(v: &Value) -> Option<i128> {
    match *v {
        Value::Integer(i) => Some(i.into()),
        Value::Counter32(u) | Value::Unsigned32(u) => Some(u.into()),
        Value::Counter64(u) => Some(u.into()),
        _ => None,
    }
}

/// A CPU row of `cpmCPUTotalTable`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuRow {
    pub index: u32,
    /// cpmCPUTotalPhysicalIndex; 0 when the agent names no entity.
    pub physical_index: u32,
    /// entPhysicalName of `physical_index`, filled by `apply_physical_names`.
    pub name: Vec<u8>,
    /// Which of 1minRev, 5minRev, 1min, 5min the agent has.
    pub has: [bool; 4],
}

/// A memory pool of `cempMemPoolTable`, indexed by (entPhysicalIndex, cempMemPoolIndex).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CempRow {
    pub physical_index: u32,
    pub index: u32,
    pub name: Vec<u8>,
    /// Which of Used, Free, HCUsed, HCFree the agent has.
    pub has: [bool; 4],
}

/// A pool of `ciscoMemoryPoolTable`, indexed by ciscoMemoryPoolType.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolRow {
    pub pool_type: u32,
    pub name: Vec<u8>,
    /// Which of Used, Free the agent has.
    pub has: [bool; 2],
}

/// A row of `hrStorageTable`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageRow {
    pub index: u32,
    pub is_ram: bool,
    pub descr: Vec<u8>,
    /// hrStorageAllocationUnits (bytes); `None` when absent or not a positive number.
    pub units: Option<i64>,
    /// Which of Size, Used the agent has.
    pub has: [bool; 2],
}

/// What discovery learned of a device's health tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthTables {
    pub cpus: Vec<CpuRow>,
    /// hrDeviceIndex of each hrProcessorTable row with a load.
    pub processors: Vec<u32>,
    pub cemp: Vec<CempRow>,
    pub pools: Vec<PoolRow>,
    pub storage: Vec<StorageRow>,
}

fn one_index(suffix: &[u32]) -> Option<u32> {
    match suffix {
        [i] => Some(*i),
        _ => None,
    }
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order; missing columns are
/// empty). Rows whose index has the wrong shape, and values of the wrong type, are skipped.
pub fn decode(columns: &[Column]) -> HealthTables {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let mut cpus: BTreeMap<u32, CpuRow> = BTreeMap::new();
    for (pos, which) in [(1, 2), (2, 3), (3, 0), (4, 1)] {
        for (s, v) in col(pos) {
            if let (Some(i), Some(_)) = (one_index(s), number(v)) {
                let row = cpus.entry(i).or_insert_with(|| CpuRow {
                    index: i,
                    ..CpuRow::default()
                });
                row.has[which] = true;
            }
        }
    }
    for (s, v) in col(0) {
        if let (Some(row), Some(p)) = (one_index(s).and_then(|i| cpus.get_mut(&i)), v.as_u64()) {
            row.physical_index = u32::try_from(p).unwrap_or(0);
        }
    }
    let processors = col(5)
        .iter()
        .filter(|(_, v)| number(v).is_some())
        .filter_map(|(s, _)| one_index(s))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();

    let mut cemp: BTreeMap<(u32, u32), CempRow> = BTreeMap::new();
    for (pos, which) in [(7, 0), (8, 1), (9, 2), (10, 3)] {
        for (s, v) in col(pos) {
            if let ([p, i], Some(_)) = (s.as_slice(), number(v)) {
                let row = cemp.entry((*p, *i)).or_insert_with(|| CempRow {
                    physical_index: *p,
                    index: *i,
                    ..CempRow::default()
                });
                row.has[which] = true;
            }
        }
    }
    for (s, v) in col(6) {
        if let ([p, i], Some(b)) = (s.as_slice(), v.as_bytes()) {
            if let Some(row) = cemp.get_mut(&(*p, *i)) {
                row.name = b.to_vec();
            }
        }
    }

    let mut pools: BTreeMap<u32, PoolRow> = BTreeMap::new();
    for (pos, which) in [(12, 0), (13, 1)] {
        for (s, v) in col(pos) {
            if let (Some(t), Some(_)) = (one_index(s), number(v)) {
                let row = pools.entry(t).or_insert_with(|| PoolRow {
                    pool_type: t,
                    ..PoolRow::default()
                });
                row.has[which] = true;
            }
        }
    }
    for (s, v) in col(11) {
        if let (Some(row), Some(b)) = (one_index(s).and_then(|t| pools.get_mut(&t)), v.as_bytes()) {
            row.name = b.to_vec();
        }
    }

    let mut storage: BTreeMap<u32, StorageRow> = BTreeMap::new();
    for (pos, which) in [(17, 0), (18, 1)] {
        for (s, v) in col(pos) {
            if let (Some(i), Some(_)) = (one_index(s), number(v)) {
                let row = storage.entry(i).or_insert_with(|| StorageRow {
                    index: i,
                    ..StorageRow::default()
                });
                row.has[which] = true;
            }
        }
    }
    for (s, v) in col(14) {
        if let (Some(row), Value::ObjectIdentifier(t)) =
            (one_index(s).and_then(|i| storage.get_mut(&i)), v)
        {
            row.is_ram = t.0 == HR_STORAGE_RAM;
        }
    }
    for (s, v) in col(15) {
        if let (Some(row), Some(b)) = (one_index(s).and_then(|i| storage.get_mut(&i)), v.as_bytes())
        {
            row.descr = b.to_vec();
        }
    }
    for (s, v) in col(16) {
        if let Some(row) = one_index(s).and_then(|i| storage.get_mut(&i)) {
            row.units = v.as_i64().filter(|u| *u > 0);
        }
    }
    HealthTables {
        cpus: cpus.into_values().collect(),
        processors,
        cemp: cemp.into_values().collect(),
        pools: pools.into_values().collect(),
        storage: storage.into_values().collect(),
    }
}

/// The entPhysicalName instances to GET for naming the CPUs (distinct, non-zero indices).
pub fn physical_name_oids(t: &HealthTables) -> Vec<Oid> {
    let set: std::collections::BTreeSet<u32> = t
        .cpus
        .iter()
        .map(|c| c.physical_index)
        .filter(|p| *p != 0)
        .collect();
    set.into_iter()
        .map(|p| Oid(ENT_PHYSICAL_NAME.to_vec()).child(&[p]))
        .collect()
}

/// Name each CPU from the answered entPhysicalName varbinds (others are ignored).
pub fn apply_physical_names(t: &mut HealthTables, varbinds: &[(Oid, Value)]) {
    let base = Oid(ENT_PHYSICAL_NAME.to_vec());
    let names: BTreeMap<u32, &[u8]> = varbinds
        .iter()
        .filter_map(|(o, v)| Some((one_index(base.suffix_of(o)?)?, v.as_bytes()?)))
        .collect();
    for c in &mut t.cpus {
        if let Some(n) = names.get(&c.physical_index) {
            c.name = n.to_vec();
        }
    }
}

/// One polled series: which `POLLED` value, and its label block (without the device's).
#[derive(Debug, Clone)]
pub struct Series {
    pub polled: u8,
    pub labels: String,
}

/// Where a summary reads its numbers: positions in the poll's values.
#[derive(Debug, Clone)]
pub struct CpuSummary {
    pub labels: String,
    /// The 5-minute (CISCO-PROCESS-MIB) or 1-minute (hrProcessorLoad) busy percentage.
    pub value: usize,
}

/// A memory pool's used and free (or size) values, for the used ratio.
#[derive(Debug, Clone)]
pub struct MemorySummary {
    pub labels: String,
    /// (used, free) in preference order: 64-bit first. For hrStorage: (used, size) with
    /// `of_size` set.
    pub pairs: Vec<(usize, usize)>,
    pub of_size: bool,
}

/// A static value learned at discovery (hrStorageAllocationUnits).
#[derive(Debug, Clone)]
pub struct StaticSeries {
    pub metric: &'static str,
    pub help: &'static str,
    pub labels: String,
    pub value: i64,
}

/// The device's health series and the OIDs a poll GETs for them (parallel to `series`).
#[derive(Debug, Clone, Default)]
pub struct HealthPlan {
    pub oids: EncodedOids,
    pub series: Vec<Series>,
    pub statics: Vec<StaticSeries>,
    pub cpus: Vec<CpuSummary>,
    pub memory: Vec<MemorySummary>,
}

impl HealthPlan {
    fn add(&mut self, polled: u8, instance: &[u32], labels: &str) -> Option<usize> {
        let p = &POLLED[polled as usize];
        let oid = column_oid(p.base, p.column).child(instance);
        self.oids.push(&oid).ok()?;
        self.series.push(Series {
            polled,
            labels: labels.to_string(),
        });
        Some(self.series.len() - 1)
    }

    /// Plan the polls of what discovery found. Memory summaries come from
    /// CISCO-ENHANCED-MEMPOOL-MIB when the device has it, else CISCO-MEMORY-POOL-MIB, else
    /// the RAM rows of hrStorage.
    pub fn build(t: &HealthTables) -> HealthPlan {
        let mut plan = HealthPlan::default();
        let mut l = String::new();
        for c in &t.cpus {
            l.clear();
            let _ = write!(l, "cpmCPUTotalIndex=\"{}\"", c.index);
            label(&mut l, "entPhysicalName", &display_bytes(&c.name));
            // The Rev columns replace the deprecated ones; read the old ones only without them.
            let (one, five) = if c.has[0] || c.has[1] {
                ((c.has[0], CPM_1MIN_REV), (c.has[1], CPM_5MIN_REV))
            } else {
                ((c.has[2], CPM_1MIN), (c.has[3], CPM_5MIN))
            };
            if one.0 {
                plan.add(one.1, &[c.index], &l);
            }
            if five.0 {
                if let Some(at) = plan.add(five.1, &[c.index], &l) {
                    let mut s = String::new();
                    label(&mut s, "mib", "CISCO-PROCESS-MIB");
                    let _ = write!(s, ",cpu=\"{}\"", c.index);
                    label(&mut s, "cpu_name", &display_bytes(&c.name));
                    plan.cpus.push(CpuSummary {
                        labels: s,
                        value: at,
                    });
                }
            }
        }
        for &i in &t.processors {
            l.clear();
            let _ = write!(l, "hrDeviceIndex=\"{i}\"");
            if let Some(at) = plan.add(HR_LOAD, &[i], &l) {
                plan.cpus.push(CpuSummary {
                    labels: format!("mib=\"HOST-RESOURCES-MIB\",cpu=\"{i}\",cpu_name=\"\""),
                    value: at,
                });
            }
        }
        for r in &t.cemp {
            l.clear();
            let _ = write!(
                l,
                "entPhysicalIndex=\"{}\",cempMemPoolIndex=\"{}\"",
                r.physical_index, r.index
            );
            label(&mut l, "cempMemPoolName", &display_bytes(&r.name));
            let inst = [r.physical_index, r.index];
            let mut at = [None; 4];
            for (k, polled) in [CEMP_USED, CEMP_FREE, CEMP_HC_USED, CEMP_HC_FREE]
                .into_iter()
                .enumerate()
            {
                if r.has[k] {
                    at[k] = plan.add(polled, &inst, &l);
                }
            }
            let mut pairs = Vec::new();
            if let (Some(u), Some(f)) = (at[2], at[3]) {
                pairs.push((u, f));
            }
            if let (Some(u), Some(f)) = (at[0], at[1]) {
                pairs.push((u, f));
            }
            if !pairs.is_empty() {
                let mut s = String::new();
                label(&mut s, "mib", "CISCO-ENHANCED-MEMPOOL-MIB");
                let _ = write!(s, ",pool_index=\"{}.{}\"", r.physical_index, r.index);
                label(&mut s, "pool", &display_bytes(&r.name));
                plan.memory.push(MemorySummary {
                    labels: s,
                    pairs,
                    of_size: false,
                });
            }
        }
        let summarise_pools = plan.memory.is_empty();
        for r in &t.pools {
            l.clear();
            let _ = write!(l, "ciscoMemoryPoolType=\"{}\"", r.pool_type);
            label(&mut l, "ciscoMemoryPoolName", &display_bytes(&r.name));
            let used = r.has[0]
                .then(|| plan.add(CMP_USED, &[r.pool_type], &l))
                .flatten();
            let free = r.has[1]
                .then(|| plan.add(CMP_FREE, &[r.pool_type], &l))
                .flatten();
            if let (true, Some(u), Some(f)) = (summarise_pools, used, free) {
                let mut s = String::new();
                label(&mut s, "mib", "CISCO-MEMORY-POOL-MIB");
                let _ = write!(s, ",pool_index=\"{}\"", r.pool_type);
                label(&mut s, "pool", &display_bytes(&r.name));
                plan.memory.push(MemorySummary {
                    labels: s,
                    pairs: vec![(u, f)],
                    of_size: false,
                });
            }
        }
        let summarise_ram = plan.memory.is_empty();
        for r in &t.storage {
            l.clear();
            let _ = write!(l, "hrStorageIndex=\"{}\"", r.index);
            label(&mut l, "hrStorageDescr", &display_bytes(&r.descr));
            if let Some(u) = r.units {
                plan.statics.push(StaticSeries {
                    metric: "hrStorageAllocationUnits",
                    help: "The size, in bytes, of the data objects allocated from this pool - 1.3.6.1.2.1.25.2.3.1.4",
                    labels: l.clone(),
                    value: u,
                });
            }
            let size = r.has[0]
                .then(|| plan.add(HRS_SIZE, &[r.index], &l))
                .flatten();
            let used = r.has[1]
                .then(|| plan.add(HRS_USED, &[r.index], &l))
                .flatten();
            if let (true, true, Some(u), Some(s)) = (summarise_ram, r.is_ram, used, size) {
                let mut s2 = String::new();
                label(&mut s2, "mib", "HOST-RESOURCES-MIB");
                let _ = write!(s2, ",pool_index=\"{}\"", r.index);
                label(&mut s2, "pool", &display_bytes(&r.descr));
                plan.memory.push(MemorySummary {
                    labels: s2,
                    pairs: vec![(u, s)],
                    of_size: true,
                });
            }
        }
        plan.oids.shrink_to_fit();
        plan
    }
}

/// Poll answers (`None` where the agent answered for another OID) → values parallel to the
/// plan's series; values of the wrong type are `None`.
pub fn decode_values(answers: &[Option<Value>], n: usize) -> Vec<Option<i128>> {
    (0..n)
        .map(|i| answers.get(i).and_then(|a| a.as_ref()).and_then(number))
        .collect()
}

/// A CPU busy percentage as a ratio; `None` outside 0..=100 (an agent's nonsense).
pub fn cpu_ratio(percent: i128) -> Option<f64> {
    (0..=100).contains(&percent).then(|| percent as f64 / 100.0)
}

/// Used ratio of a memory summary: the first pair with both values present and a positive
/// total; `None` for negative values or used above size.
pub fn memory_used_ratio(m: &MemorySummary, values: &[Option<i128>]) -> Option<f64> {
    for &(a, b) in &m.pairs {
        let (Some(Some(used)), Some(Some(other))) = (values.get(a), values.get(b)) else {
            continue;
        };
        let (used, other) = (*used, *other);
        if used < 0 || other < 0 {
            return None;
        }
        let total = if m.of_size { other } else { used + other };
        if total <= 0 || used > total {
            return None;
        }
        return Some(used as f64 / total as f64);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(rows: &[(&[u32], Value)]) -> Column {
        rows.iter().map(|(s, v)| (s.to_vec(), v.clone())).collect()
    }

    fn columns(set: &[(usize, Column)]) -> Vec<Column> {
        let mut out = vec![Vec::new(); DISCOVERY.len()];
        for (i, c) in set {
            out[*i] = c.clone();
        }
        out
    }

    fn s(b: &str) -> Value {
        Value::OctetString(b.as_bytes().to_vec())
    }

    #[test]
    fn discovery_columns_are_the_named_objects() {
        let c = discovery_columns();
        assert_eq!(c[3].to_string(), "1.3.6.1.4.1.9.9.109.1.1.1.1.7");
        assert_eq!(c[5].to_string(), "1.3.6.1.2.1.25.3.3.1.2");
        assert_eq!(c[9].to_string(), "1.3.6.1.4.1.9.9.221.1.1.1.1.18");
        assert_eq!(c[13].to_string(), "1.3.6.1.4.1.9.9.48.1.1.1.6");
        assert_eq!(c[18].to_string(), "1.3.6.1.2.1.25.2.3.1.6");
    }

    #[test]
    fn cpus_prefer_rev_columns_and_are_named_from_entity_mib() {
        let cols = columns(&[
            (
                0,
                col(&[(&[1], Value::Integer(3017)), (&[2], Value::Integer(0))]),
            ),
            (
                1,
                col(&[(&[1], Value::Unsigned32(64)), (&[2], Value::Unsigned32(9))]),
            ),
            (
                2,
                col(&[(&[1], Value::Unsigned32(71)), (&[2], Value::Unsigned32(8))]),
            ),
            (3, col(&[(&[1], Value::Unsigned32(64))])),
            (4, col(&[(&[1], Value::Unsigned32(71))])),
        ]);
        let mut t = decode(&cols);
        assert_eq!(t.cpus.len(), 2);
        let oids = physical_name_oids(&t);
        assert_eq!(oids.len(), 1);
        assert_eq!(oids[0].to_string(), "1.3.6.1.2.1.47.1.1.1.1.7.3017");
        apply_physical_names(
            &mut t,
            &[(oids[0].clone(), s("CPU of Switching Processor 5"))],
        );
        let plan = HealthPlan::build(&t);
        let got: Vec<(String, &str)> = plan
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    plan.oids.oid(i).to_string(),
                    POLLED[s.polled as usize].metric,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "1.3.6.1.4.1.9.9.109.1.1.1.1.7.1".to_string(),
                    "cpmCPUTotal1minRev"
                ),
                (
                    "1.3.6.1.4.1.9.9.109.1.1.1.1.8.1".to_string(),
                    "cpmCPUTotal5minRev"
                ),
                (
                    "1.3.6.1.4.1.9.9.109.1.1.1.1.4.2".to_string(),
                    "cpmCPUTotal1min"
                ),
                (
                    "1.3.6.1.4.1.9.9.109.1.1.1.1.5.2".to_string(),
                    "cpmCPUTotal5min"
                ),
            ]
        );
        assert_eq!(
            plan.series[0].labels,
            "cpmCPUTotalIndex=\"1\",entPhysicalName=\"CPU of Switching Processor 5\""
        );
        assert_eq!(
            plan.series[2].labels,
            "cpmCPUTotalIndex=\"2\",entPhysicalName=\"\""
        );
        assert_eq!(plan.cpus.len(), 2);
        assert_eq!(plan.cpus[0].value, 1);
        assert_eq!(plan.cpus[1].value, 3);
    }

    #[test]
    fn memory_summaries_prefer_64_bit_enhanced_pools() {
        let cols = columns(&[
            (6, col(&[(&[1, 1], s("Processor")), (&[1, 2], s("I/O"))])),
            (
                7,
                col(&[
                    (&[1, 1], Value::Unsigned32(10)),
                    (&[1, 2], Value::Unsigned32(5)),
                ]),
            ),
            (
                8,
                col(&[
                    (&[1, 1], Value::Unsigned32(30)),
                    (&[1, 2], Value::Unsigned32(5)),
                ]),
            ),
            (9, col(&[(&[1, 1], Value::Counter64(10))])),
            (10, col(&[(&[1, 1], Value::Counter64(30))])),
            (11, col(&[(&[1], s("Processor"))])),
            (12, col(&[(&[1], Value::Unsigned32(1))])),
            (13, col(&[(&[1], Value::Unsigned32(3))])),
        ]);
        let plan = HealthPlan::build(&decode(&cols));
        // Pool 1.1: 4 columns, pool 1.2: 2, ciscoMemoryPool 1: 2.
        assert_eq!(plan.series.len(), 8);
        assert_eq!(
            plan.memory.len(),
            2,
            "only the enhanced pools are summarised"
        );
        assert_eq!(plan.memory[0].pairs, vec![(2, 3), (0, 1)]);
        assert!(plan.memory[0].labels.contains("pool=\"Processor\""));
        let mut v: Vec<Option<i128>> = vec![
            Some(1),
            Some(3),
            Some(30),
            Some(90),
            Some(5),
            Some(5),
            None,
            None,
        ];
        assert_eq!(memory_used_ratio(&plan.memory[0], &v), Some(0.25));
        v[2] = None; // the 64-bit answer lost: the 32-bit pair is used
        assert_eq!(memory_used_ratio(&plan.memory[0], &v), Some(0.25));
        assert_eq!(memory_used_ratio(&plan.memory[1], &v), Some(0.5));
        assert_eq!(
            plan.series[6].labels,
            "ciscoMemoryPoolType=\"1\",ciscoMemoryPoolName=\"Processor\""
        );
    }

    #[test]
    fn host_resources_cpus_and_ram_storage() {
        let ram = Value::ObjectIdentifier(Oid(HR_STORAGE_RAM.to_vec()));
        let disk = Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.25.2.1.4").unwrap());
        let cols = columns(&[
            (
                5,
                col(&[
                    (&[196608], Value::Integer(7)),
                    (&[196609], Value::Integer(3)),
                ]),
            ),
            (14, col(&[(&[1], ram), (&[31], disk)])),
            (15, col(&[(&[1], s("Physical memory")), (&[31], s("/"))])),
            (
                16,
                col(&[(&[1], Value::Integer(1024)), (&[31], Value::Integer(4096))]),
            ),
            (
                17,
                col(&[(&[1], Value::Integer(1000)), (&[31], Value::Integer(500))]),
            ),
            (
                18,
                col(&[(&[1], Value::Integer(250)), (&[31], Value::Integer(100))]),
            ),
        ]);
        let t = decode(&cols);
        assert_eq!(t.processors, vec![196608, 196609]);
        let plan = HealthPlan::build(&t);
        assert_eq!(plan.cpus.len(), 2);
        assert_eq!(plan.series[0].labels, "hrDeviceIndex=\"196608\"");
        assert_eq!(plan.statics.len(), 2);
        assert_eq!(plan.statics[1].value, 4096);
        assert_eq!(plan.memory.len(), 1, "only RAM is memory");
        let v = decode_values(
            &[
                Some(Value::Integer(7)),
                Some(Value::Integer(3)),
                Some(Value::Integer(1000)),
                Some(Value::Integer(250)),
            ],
            6,
        );
        assert_eq!(memory_used_ratio(&plan.memory[0], &v), Some(0.25));
        assert_eq!(cpu_ratio(v[0].unwrap()), Some(0.07));
    }

    #[test]
    fn hostile_rows_are_skipped_not_fatal() {
        let cases: Vec<(&str, Vec<Column>)> = vec![
            ("no columns at all", Vec::new()),
            (
                "fewer columns than asked",
                vec![col(&[(&[1], Value::Integer(1))])],
            ),
            (
                "wrong types",
                columns(&[
                    (3, col(&[(&[1], s("64"))])),
                    (5, col(&[(&[1], Value::Null)])),
                    (7, col(&[(&[1, 1], Value::IpAddress([1, 2, 3, 4]))])),
                    (12, col(&[(&[1], Value::NoSuchInstance)])),
                    (18, col(&[(&[1], Value::TimeTicks(5))])),
                ]),
            ),
            (
                "wrong index shapes",
                columns(&[
                    (
                        3,
                        col(&[(&[], Value::Integer(1)), (&[1, 2], Value::Integer(1))]),
                    ),
                    (
                        7,
                        col(&[(&[1], Value::Integer(1)), (&[1, 2, 3], Value::Integer(1))]),
                    ),
                    (12, col(&[(&[1, 1], Value::Integer(1))])),
                ]),
            ),
        ];
        for (name, cols) in cases {
            let t = decode(&cols);
            assert_eq!(t, HealthTables::default(), "{name}");
            assert!(HealthPlan::build(&t).oids.is_empty(), "{name}");
        }
        // A name or physical index of the wrong type leaves the row, unnamed.
        let cols = columns(&[
            (0, col(&[(&[1], s("x"))])),
            (3, col(&[(&[1], Value::Integer(5))])),
            (11, col(&[(&[1], Value::Integer(9))])),
            (12, col(&[(&[1], Value::Counter32(1))])),
            (16, col(&[(&[1], Value::Integer(-4))])),
            (18, col(&[(&[1], Value::Integer(-1))])),
        ]);
        let t = decode(&cols);
        assert_eq!(t.cpus[0].physical_index, 0);
        assert!(physical_name_oids(&t).is_empty());
        assert!(t.pools[0].name.is_empty());
        assert_eq!(t.storage[0].units, None);
    }

    #[test]
    fn absurd_values_give_no_ratio() {
        assert_eq!(cpu_ratio(101), None);
        assert_eq!(cpu_ratio(-1), None);
        assert_eq!(cpu_ratio(100), Some(1.0));
        let m = MemorySummary {
            labels: String::new(),
            pairs: vec![(0, 1)],
            of_size: true,
        };
        for (used, size) in [(5, 0), (-1, 10), (11, 10), (1, -10)] {
            assert_eq!(
                memory_used_ratio(&m, &[Some(used), Some(size)]),
                None,
                "{used}/{size}"
            );
        }
        assert_eq!(memory_used_ratio(&m, &[Some(1)]), None, "missing value");
        let m = MemorySummary {
            pairs: vec![(0, 1)],
            of_size: false,
            ..m
        };
        let huge = i128::from(u64::MAX);
        assert_eq!(memory_used_ratio(&m, &[Some(huge), Some(huge)]), Some(0.5));
        assert_eq!(memory_used_ratio(&m, &[Some(0), Some(0)]), None);
        // Values of the wrong type or an answer for another OID are absent, never zero.
        let v = decode_values(&[Some(s("12")), None, Some(Value::Counter64(u64::MAX))], 4);
        assert_eq!(v, vec![None, None, Some(huge), None]);
    }
}
