//! IF-MIB (ifTable, ifXTable) and EtherLike-MIB duplex, decoded into interfaces and counters.

use std::collections::BTreeMap;

use crate::snmp::walk::Column;
use crate::snmp::{Oid, Value};

const IF_ENTRY: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_ENTRY: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
const DOT3_DUPLEX: [u32; 11] = [1, 3, 6, 1, 2, 1, 10, 7, 2, 1, 19];

fn if_col(c: u32) -> Oid {
    Oid(IF_ENTRY.to_vec()).child(&[c])
}
fn ifx_col(c: u32) -> Oid {
    Oid(IFX_ENTRY.to_vec()).child(&[c])
}

/// Inventory columns walked at discovery, in this order.
pub fn discovery_columns() -> Vec<Oid> {
    vec![
        if_col(2),   // ifDescr
        if_col(3),   // ifType
        if_col(4),   // ifMtu
        if_col(5),   // ifSpeed
        if_col(6),   // ifPhysAddress
        if_col(7),   // ifAdminStatus
        if_col(8),   // ifOperStatus
        if_col(9),   // ifLastChange
        ifx_col(1),  // ifName
        ifx_col(15), // ifHighSpeed
        ifx_col(18), // ifAlias
        ifx_col(6),  // ifHCInOctets: tells which interfaces have 64-bit counters
        ifx_col(19), // ifCounterDiscontinuityTime: polled with 32-bit counters where present
    ]
}

/// The EtherLike-MIB duplex column, walked separately (its own table).
pub fn duplex_column() -> Oid {
    Oid(DOT3_DUPLEX.to_vec())
}

/// dot3StatsDuplexStatus values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplex {
    Unknown = 1,
    Half = 2,
    Full = 3,
}

/// One interface as discovered. OCTET STRINGs are kept as bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub if_index: u32,
    pub descr: Vec<u8>,
    pub name: Vec<u8>,
    pub alias: Vec<u8>,
    pub if_type: u32,
    /// ifMtu, when the agent has it for this row.
    pub mtu: Option<i64>,
    /// ifSpeed in bit/s (saturates at 4294967295).
    pub speed: u64,
    /// ifHighSpeed in Mbit/s, when the agent has ifXTable.
    pub high_speed: Option<u64>,
    pub phys_address: Vec<u8>,
    pub admin_status: i64,
    pub oper_status: i64,
    /// ifLastChange in hundredths of a second of sysUpTime.
    pub last_change: u32,
    pub duplex: Option<Duplex>,
    /// The agent answers ifHCInOctets for this interface with a Counter64.
    pub has_hc: bool,
    /// The agent answers ifHCInOctets with a 32-bit type (Counter32, non-conforming agents):
    /// the ifXTable columns are polled and served, and handled as 32-bit counters.
    pub hc32: bool,
    /// The agent has ifCounterDiscontinuityTime for this interface.
    pub has_discontinuity: bool,
}

impl InterfaceInfo {
    /// Best known speed in bit/s: ifHighSpeed when present and non-zero, else ifSpeed.
    pub fn speed_bps(&self) -> u64 {
        match self.high_speed {
            Some(h) if h > 0 => h.saturating_mul(1_000_000),
            _ => self.speed,
        }
    }

    /// Width of the octet counters polled for this interface: 64 with Counter64 ifHCInOctets,
    /// else 32 (ifInOctets, or HC columns an agent answers with Counter32).
    pub fn counter_bits(&self) -> u8 {
        if self.has_hc {
            64
        } else {
            32
        }
    }
}

/// Build interfaces from the discovery walk (`columns` in `discovery_columns()` order) and
/// the duplex column. Rows keyed by a single-arc ifIndex; anything else is ignored.
pub fn decode_interfaces(columns: &[Column], duplex: &Column) -> Vec<InterfaceInfo> {
    let mut by_index: BTreeMap<u32, InterfaceInfo> = BTreeMap::new();
    for (pos, col) in columns.iter().enumerate() {
        for (suffix, value) in col {
            let [idx] = suffix.as_slice() else { continue };
            if *idx == 0 && pos != 0 {
                continue;
            }
            let e = by_index.entry(*idx).or_insert_with(|| InterfaceInfo {
                if_index: *idx,
                ..InterfaceInfo::default()
            });
            let int = || value.as_i64().unwrap_or(0);
            let bytes = || value.as_bytes().map(<[u8]>::to_vec).unwrap_or_default();
            match pos {
                0 => e.descr = bytes(),
                1 => e.if_type = u32::try_from(int()).unwrap_or(0),
                2 => e.mtu = value.as_i64(),
                3 => e.speed = value.as_u64().unwrap_or(0),
                4 => e.phys_address = bytes(),
                5 => e.admin_status = int(),
                6 => e.oper_status = int(),
                7 => e.last_change = value.as_u64().unwrap_or(0) as u32,
                8 => e.name = bytes(),
                9 => e.high_speed = value.as_u64(),
                10 => e.alias = bytes(),
                11 => {
                    e.has_hc = matches!(value, Value::Counter64(_));
                    e.hc32 = matches!(
                        value,
                        Value::Counter32(_) | Value::Unsigned32(_) | Value::Integer(_)
                    );
                }
                12 => e.has_discontinuity = !value.is_exception() && value.as_u64().is_some(),
                _ => {}
            }
        }
    }
    for (suffix, value) in duplex {
        let [idx] = suffix.as_slice() else { continue };
        if let Some(e) = by_index.get_mut(idx) {
            e.duplex = match value.as_i64() {
                Some(2) => Some(Duplex::Half),
                Some(3) => Some(Duplex::Full),
                Some(1) => Some(Duplex::Unknown),
                _ => None,
            };
        }
    }
    // An index seen only in a counter column (no ifDescr/ifType) is not an interface row.
    by_index
        .into_values()
        .filter(|i| i.if_type != 0 || !i.descr.is_empty() || !i.name.is_empty())
        .collect()
}

/// A polled interface value: the metric it feeds and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolledColumn {
    /// The if_mib metric name.
    pub metric: &'static str,
    pub help: &'static str,
    /// True for counters, false for gauges (statuses).
    pub counter: bool,
    pub table: Table,
    pub column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    If,
    IfX,
}

impl PolledColumn {
    pub fn oid(&self, if_index: u32) -> Oid {
        let mut o = Oid(Vec::with_capacity(13));
        self.oid_into(if_index, &mut o);
        o
    }

    /// The same OID written into `out`, reusing its allocation.
    pub fn oid_into(&self, if_index: u32, out: &mut Oid) {
        let base: &[u32] = match self.table {
            Table::If => &IF_ENTRY,
            Table::IfX => &IFX_ENTRY,
        };
        out.0.clear();
        out.0.extend_from_slice(base);
        out.0.push(self.column);
        out.0.push(if_index);
    }
}

const fn pc(
    metric: &'static str,
    help: &'static str,
    counter: bool,
    table: Table,
    column: u32,
) -> PolledColumn {
    PolledColumn {
        metric,
        help,
        counter,
        table,
        column,
    }
}

/// Every column the poller may read, in a fixed order; a `Counters` value holds one slot each.
pub const POLLED: [PolledColumn; 19] = [
    pc("ifOperStatus", "The current operational state of the interface (1 up, 2 down, 3 testing, 4 unknown, 5 dormant, 6 notPresent, 7 lowerLayerDown) - 1.3.6.1.2.1.2.2.1.8", false, Table::If, 8),
    pc("ifAdminStatus", "The desired state of the interface (1 up, 2 down, 3 testing) - 1.3.6.1.2.1.2.2.1.7", false, Table::If, 7),
    pc("ifHCInOctets", "The total number of octets received on the interface, including framing characters (64-bit) - 1.3.6.1.2.1.31.1.1.1.6", true, Table::IfX, 6),
    pc("ifHCOutOctets", "The total number of octets transmitted out of the interface, including framing characters (64-bit) - 1.3.6.1.2.1.31.1.1.1.10", true, Table::IfX, 10),
    pc("ifHCInUcastPkts", "The number of unicast packets delivered to a higher-layer protocol (64-bit) - 1.3.6.1.2.1.31.1.1.1.7", true, Table::IfX, 7),
    pc("ifHCOutUcastPkts", "The number of unicast packets requested to be transmitted (64-bit) - 1.3.6.1.2.1.31.1.1.1.11", true, Table::IfX, 11),
    pc("ifHCInMulticastPkts", "The number of multicast packets delivered to a higher-layer protocol (64-bit) - 1.3.6.1.2.1.31.1.1.1.8", true, Table::IfX, 8),
    pc("ifHCOutMulticastPkts", "The number of multicast packets requested to be transmitted (64-bit) - 1.3.6.1.2.1.31.1.1.1.12", true, Table::IfX, 12),
    pc("ifHCInBroadcastPkts", "The number of broadcast packets delivered to a higher-layer protocol (64-bit) - 1.3.6.1.2.1.31.1.1.1.9", true, Table::IfX, 9),
    pc("ifHCOutBroadcastPkts", "The number of broadcast packets requested to be transmitted (64-bit) - 1.3.6.1.2.1.31.1.1.1.13", true, Table::IfX, 13),
    pc("ifInErrors", "The number of inbound packets that contained errors - 1.3.6.1.2.1.2.2.1.14", true, Table::If, 14),
    pc("ifOutErrors", "The number of outbound packets that could not be transmitted because of errors - 1.3.6.1.2.1.2.2.1.20", true, Table::If, 20),
    pc("ifInDiscards", "The number of inbound packets discarded though no errors were detected - 1.3.6.1.2.1.2.2.1.13", true, Table::If, 13),
    pc("ifOutDiscards", "The number of outbound packets discarded though no errors were detected - 1.3.6.1.2.1.2.2.1.19", true, Table::If, 19),
    pc("ifInOctets", "The total number of octets received on the interface (32-bit; polled only without ifXTable) - 1.3.6.1.2.1.2.2.1.10", true, Table::If, 10),
    pc("ifOutOctets", "The total number of octets transmitted out of the interface (32-bit; polled only without ifXTable) - 1.3.6.1.2.1.2.2.1.16", true, Table::If, 16),
    pc("ifInUcastPkts", "The number of unicast packets delivered to a higher-layer protocol (32-bit; polled only without ifXTable) - 1.3.6.1.2.1.2.2.1.11", true, Table::If, 11),
    pc("ifOutUcastPkts", "The number of unicast packets requested to be transmitted (32-bit; polled only without ifXTable) - 1.3.6.1.2.1.2.2.1.17", true, Table::If, 17),
    pc("ifCounterDiscontinuityTime", "The value of sysUpTime on the most recent occasion at which any one or more of this interface's counters suffered a discontinuity (polled with 32-bit counters) - 1.3.6.1.2.1.31.1.1.1.19", false, Table::IfX, 19),
];

/// Slot of ifCounterDiscontinuityTime in `POLLED`.
pub const DISCONTINUITY_SLOT: usize = 18;

/// Positions in `POLLED` read for an interface with 64-bit counters.
pub const HC_SLOTS: [usize; 14] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
/// Positions in `POLLED` read for an interface without them (no ifXTable).
pub const LEGACY_SLOTS: [usize; 10] = [0, 1, 10, 11, 12, 13, 14, 15, 16, 17];
/// The same with ifCounterDiscontinuityTime, for agents that have it.
pub const LEGACY_DISC_SLOTS: [usize; 11] = [0, 1, 10, 11, 12, 13, 14, 15, 16, 17, 18];
/// Positions read for an interface whose agent answers the HC columns with Counter32: the
/// HC columns (served as they are), the 32-bit unicast packets (some of these agents have no
/// HC packet columns) and ifCounterDiscontinuityTime.
pub const HC32_SLOTS: [usize; 17] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18];

/// Slots of `POLLED` for one interface.
pub fn slots_for(info: &InterfaceInfo) -> &'static [usize] {
    match (info.has_hc, info.hc32, info.has_discontinuity) {
        (true, _, _) => &HC_SLOTS,
        (false, true, _) => &HC32_SLOTS,
        (false, false, true) => &LEGACY_DISC_SLOTS,
        (false, false, false) => &LEGACY_SLOTS,
    }
}

/// One poll's values for one interface, a slot per `POLLED` column (None: not read or missing).
pub type Counters = [Option<u64>; POLLED.len()];

/// What `store_value` made of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// No answer for this OID: the slot is unchanged.
    Unanswered,
    /// An exception (noSuchInstance...): the slot is empty.
    Missing,
    /// A 64-bit value.
    Wide,
    /// A value of a 32-bit type (Counter32, Gauge32, TimeTicks, a non-negative INTEGER): for
    /// a counter, it wraps at 2^32.
    Narrow,
    /// A type whose value is not a number this column can have (a string, an address, a
    /// negative INTEGER where a counter or status is due): the slot is empty and the answer
    /// counted per device and column.
    Mismatch,
}

/// Store a GET answer value into its slot. `None` (the agent answered for another OID, or
/// not at all) leaves the slot as it is. A value of another integer type than the MIB's is
/// served when its number is unambiguous (snmp_exporter serves an HC column answered with a
/// Counter32 as it is; so do we, and it is tracked as a 32-bit counter).
pub fn store_value(counters: &mut Counters, slot: usize, got: Option<&Value>) -> Stored {
    let Some(value) = got else {
        return Stored::Unanswered;
    };
    let (v, how) = match value {
        Value::Counter64(v) => (Some(*v), Stored::Wide),
        Value::Counter32(v) | Value::Unsigned32(v) | Value::TimeTicks(v) => {
            (Some(u64::from(*v)), Stored::Narrow)
        }
        Value::Integer(i) => match u32::try_from(*i) {
            Ok(v) => (Some(u64::from(v)), Stored::Narrow),
            Err(_) => (None, Stored::Mismatch),
        },
        v if v.is_exception() => (None, Stored::Missing),
        _ => (None, Stored::Mismatch),
    };
    counters[slot] = v;
    how
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_decode_from_columns_and_ignore_junk_rows() {
        let cols = discovery_columns();
        let mut walked: Vec<Column> = vec![Vec::new(); cols.len()];
        walked[0] = vec![
            (vec![1], Value::OctetString(b"GigabitEthernet0/0".to_vec())),
            (vec![2, 7], Value::OctetString(b"bad".to_vec())),
        ];
        walked[1] = vec![
            (vec![1], Value::Integer(6)),
            (vec![5], Value::OctetString(b"wrong type".to_vec())),
        ];
        walked[5] = vec![(vec![1], Value::Integer(1))];
        walked[6] = vec![(vec![1], Value::Integer(2))];
        walked[8] = vec![(vec![1], Value::OctetString(b"Gi0/0".to_vec()))];
        walked[9] = vec![(vec![1], Value::Unsigned32(1000))];
        walked[10] = vec![(vec![1], Value::OctetString(b"Magti\xFF".to_vec()))];
        walked[11] = vec![(vec![1], Value::Counter64(5))];
        let duplex = vec![(vec![1], Value::Integer(3))];
        let ifs = decode_interfaces(&walked, &duplex);
        assert_eq!(ifs.len(), 1, "{ifs:?}");
        let i = &ifs[0];
        assert_eq!(
            (i.if_index, i.if_type, i.admin_status, i.oper_status),
            (1, 6, 1, 2)
        );
        assert_eq!(i.alias, b"Magti\xFF");
        assert_eq!(i.speed_bps(), 1_000_000_000);
        assert_eq!(i.duplex, Some(Duplex::Full));
        assert!(i.has_hc);
    }

    #[test]
    fn the_width_of_hc_columns_decides_the_counter_width() {
        let cols = discovery_columns();
        let mut walked: Vec<Column> = vec![Vec::new(); cols.len()];
        walked[0] = [1u32, 2, 3]
            .iter()
            .map(|i| (vec![*i], Value::OctetString(b"port".to_vec())))
            .collect();
        // ifHCInOctets: Counter64 on 1, Counter32 on 2 (a non-conforming agent), none on 3.
        walked[11] = vec![
            (vec![1], Value::Counter64(5)),
            (vec![2], Value::Counter32(5)),
        ];
        walked[12] = vec![
            (vec![2], Value::TimeTicks(0)),
            (vec![3], Value::TimeTicks(7)),
        ];
        let ifs = decode_interfaces(&walked, &Vec::new());
        let got: Vec<(bool, bool, bool, u8)> = ifs
            .iter()
            .map(|i| (i.has_hc, i.hc32, i.has_discontinuity, i.counter_bits()))
            .collect();
        assert_eq!(
            got,
            [
                (true, false, false, 64),
                (false, true, true, 32),
                (false, false, true, 32)
            ]
        );
        assert_eq!(slots_for(&ifs[0]), &HC_SLOTS);
        assert_eq!(slots_for(&ifs[1]), &HC32_SLOTS);
        assert_eq!(slots_for(&ifs[2]), &LEGACY_DISC_SLOTS);
    }

    #[test]
    fn stored_values_are_served_when_their_number_is_unambiguous() {
        let mut c: Counters = [None; POLLED.len()];
        // (slot, answer, stored value, how)
        let cases: &[(usize, Option<Value>, Option<u64>, Stored)] = &[
            (2, Some(Value::Counter64(42)), Some(42), Stored::Wide),
            (2, None, Some(42), Stored::Unanswered),
            (2, Some(Value::NoSuchInstance), None, Stored::Missing),
            // An HC column answered with Counter32 (Venus VSOS, Metel): served, 32-bit.
            (2, Some(Value::Counter32(7)), Some(7), Stored::Narrow),
            (14, Some(Value::Unsigned32(9)), Some(9), Stored::Narrow),
            (14, Some(Value::Integer(11)), Some(11), Stored::Narrow),
            (14, Some(Value::Integer(-1)), None, Stored::Mismatch),
            (
                14,
                Some(Value::OctetString(b"12".to_vec())),
                None,
                Stored::Mismatch,
            ),
            (0, Some(Value::Integer(2)), Some(2), Stored::Narrow),
            (0, Some(Value::Counter64(2)), Some(2), Stored::Wide),
            (
                0,
                Some(Value::IpAddress([1, 2, 3, 4])),
                None,
                Stored::Mismatch,
            ),
            (
                DISCONTINUITY_SLOT,
                Some(Value::TimeTicks(5)),
                Some(5),
                Stored::Narrow,
            ),
        ];
        for (slot, answer, want, how) in cases {
            let got = store_value(&mut c, *slot, answer.as_ref());
            assert_eq!((c[*slot], got), (*want, *how), "slot {slot}: {answer:?}");
        }
        let mut o = Oid::default();
        POLLED[3].oid_into(9, &mut o);
        assert_eq!(o, POLLED[3].oid(9));
        assert!(POLLED.iter().all(|p| p.oid(1).0.len() >= 11));
    }
}
