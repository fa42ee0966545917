//! IP SLA probes of CISCO-RTTMON-MIB: what discovery learns of each probe (tag, type, target,
//! source address, output interface) and which columns a poll reads (operational state and
//! the latest run's sense, completion time and time). Pure; any varbinds decode without
//! panicking.
//!
//! Objects (all indexed by rttMonCtrlAdminIndex): rttMonCtrlAdminTable …42.1.2.1.1 (3 Tag,
//! 4 RttType), rttMonEchoAdminTable …42.1.2.2.1 (2 TargetAddress, 6 SourceAddress, both
//! RttMonTargetAddress OCTET STRINGs; 79 OutputInterface), rttMonCtrlOperTable …42.1.2.9.1
//! (10 OperState), rttMonLatestRttOperTable …42.1.2.10.1 (1 CompletionTime in ms, 2 Sense,
//! 5 Time, a TimeStamp).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::mib::ipaddr::addr_from_octets;
use crate::snmp::walk::Column;
use crate::snmp::{Oid, Value};

const CTRL_ADMIN: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 42, 1, 2, 1, 1];
const ECHO_ADMIN: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 42, 1, 2, 2, 1];
const CTRL_OPER: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 42, 1, 2, 9, 1];
const LATEST: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 42, 1, 2, 10, 1];

/// RttResponseSense ok(1): the latest operation completed.
pub const SENSE_OK: i128 = 1;

/// The columns walked at discovery, in the order `decode` reads them.
pub fn discovery_columns() -> Vec<Oid> {
    vec![
        Oid(CTRL_ADMIN.to_vec()).child(&[3]),  // rttMonCtrlAdminTag
        Oid(CTRL_ADMIN.to_vec()).child(&[4]),  // rttMonCtrlAdminRttType
        Oid(ECHO_ADMIN.to_vec()).child(&[2]),  // rttMonEchoAdminTargetAddress
        Oid(ECHO_ADMIN.to_vec()).child(&[6]),  // rttMonEchoAdminSourceAddress
        Oid(ECHO_ADMIN.to_vec()).child(&[79]), // rttMonEchoAdminOutputInterface
    ]
}

/// One polled column of a probe: series name, help, its table entry and column.
#[derive(Debug)]
pub struct ProbeColumn {
    pub metric: &'static str,
    pub help: &'static str,
    pub entry: &'static [u32],
    pub column: u32,
}

/// What a poll reads per probe, in render order.
pub const POLLED: [ProbeColumn; 4] = [
    ProbeColumn {
        metric: "rttMonCtrlOperState",
        help: "The operational state of the probe: 1 reset, 2 orderlyStop, 3 immediateStop, 4 pending, 5 inactive, 6 active, 7 restart - 1.3.6.1.4.1.9.9.42.1.2.9.1.10",
        entry: &CTRL_OPER,
        column: 10,
    },
    ProbeColumn {
        metric: "rttMonLatestRttOperCompletionTime",
        help: "The completion time of the latest operation, in milliseconds - 1.3.6.1.4.1.9.9.42.1.2.10.1.1",
        entry: &LATEST,
        column: 1,
    },
    ProbeColumn {
        metric: "rttMonLatestRttOperSense",
        help: "The response sense of the latest operation (RttResponseSense: 1 ok, 2 disconnected, 3 overThreshold, 4 timeout, 5 busy, 6 notConnected, 7 dropped, 16 error, ...) - 1.3.6.1.4.1.9.9.42.1.2.10.1.2",
        entry: &LATEST,
        column: 2,
    },
    ProbeColumn {
        metric: "rttMonLatestRttOperTime",
        help: "The value of the agent's sysUpTime when the latest operation was started, in hundredths of a second - 1.3.6.1.4.1.9.9.42.1.2.10.1.5",
        entry: &LATEST,
        column: 5,
    },
];

/// Positions in `POLLED`.
pub const OPER_STATE: usize = 0;
pub const COMPLETION_TIME: usize = 1;
pub const SENSE: usize = 2;

impl ProbeColumn {
    pub fn oid(&self, index: u32) -> Oid {
        Oid(self.entry.to_vec()).child(&[self.column, index])
    }
}

/// One IP SLA probe as configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    /// rttMonCtrlAdminIndex.
    pub index: u32,
    pub tag: Vec<u8>,
    /// RttMonRttType (1 echo, 9 jitter, ...); `None` when not answered.
    pub rtt_type: Option<i64>,
    /// rttMonEchoAdminTargetAddress as the agent sent it.
    pub target: Vec<u8>,
    /// rttMonEchoAdminSourceAddress when it is a 4 or 16 octet address other than all-zeros.
    pub source: Option<IpAddr>,
    /// rttMonEchoAdminOutputInterface when non-zero.
    pub output_if: Option<u32>,
}

impl Probe {
    /// The target for humans: an address when it is 4 or 16 octets, the text when it is
    /// printable, hex octets otherwise; empty when the probe has none.
    pub fn target_text(&self) -> String {
        octets_text(&self.target)
    }
}

/// An RttMonTargetAddress as text (see `Probe::target_text`).
pub fn octets_text(b: &[u8]) -> String {
    if let Some(a) = addr_from_octets(b) {
        return a.to_string();
    }
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return String::from_utf8_lossy(b).into_owned();
    }
    b.iter()
        .map(|c| format!("{c:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn one_index(suffix: &[u32]) -> Option<u32> {
    match suffix {
        [i] => Some(*i),
        _ => None,
    }
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order; missing columns are
/// empty). A probe is a row of rttMonCtrlAdminTable (its tag or type answered); echo columns
/// of rows not in it, rows with a wrong index shape and values of the wrong type are skipped.
pub fn decode(columns: &[Column]) -> Vec<Probe> {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let mut probes: BTreeMap<u32, Probe> = BTreeMap::new();
    for (s, v) in col(0) {
        if let (Some(i), Some(b)) = (one_index(s), v.as_bytes()) {
            probes
                .entry(i)
                .or_insert_with(|| Probe {
                    index: i,
                    ..Probe::default()
                })
                .tag = b.to_vec();
        }
    }
    for (s, v) in col(1) {
        if let (Some(i), Value::Integer(t)) = (one_index(s), v) {
            probes
                .entry(i)
                .or_insert_with(|| Probe {
                    index: i,
                    ..Probe::default()
                })
                .rtt_type = Some(*t);
        }
    }
    for (s, v) in col(2) {
        if let (Some(p), Some(b)) = (one_index(s).and_then(|i| probes.get_mut(&i)), v.as_bytes()) {
            p.target = b.to_vec();
        }
    }
    for (s, v) in col(3) {
        if let (Some(p), Some(b)) = (one_index(s).and_then(|i| probes.get_mut(&i)), v.as_bytes()) {
            p.source = addr_from_octets(b).filter(|a| !a.is_unspecified());
        }
    }
    for (s, v) in col(4) {
        if let (Some(p), Value::Integer(x)) = (one_index(s).and_then(|i| probes.get_mut(&i)), v) {
            p.output_if = u32::try_from(*x).ok().filter(|x| *x != 0);
        }
    }
    probes.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(rows: &[(&[u32], Value)]) -> Column {
        rows.iter().map(|(s, v)| (s.to_vec(), v.clone())).collect()
    }

    fn s(b: &[u8]) -> Value {
        Value::OctetString(b.to_vec())
    }

    #[test]
    fn columns_are_the_named_objects() {
        let c: Vec<String> = discovery_columns().iter().map(|o| o.to_string()).collect();
        assert_eq!(
            c,
            [
                "1.3.6.1.4.1.9.9.42.1.2.1.1.3",
                "1.3.6.1.4.1.9.9.42.1.2.1.1.4",
                "1.3.6.1.4.1.9.9.42.1.2.2.1.2",
                "1.3.6.1.4.1.9.9.42.1.2.2.1.6",
                "1.3.6.1.4.1.9.9.42.1.2.2.1.79",
            ]
        );
        let p: Vec<String> = POLLED.iter().map(|p| p.oid(7).to_string()).collect();
        assert_eq!(
            p,
            [
                "1.3.6.1.4.1.9.9.42.1.2.9.1.10.7",
                "1.3.6.1.4.1.9.9.42.1.2.10.1.1.7",
                "1.3.6.1.4.1.9.9.42.1.2.10.1.2.7",
                "1.3.6.1.4.1.9.9.42.1.2.10.1.5.7",
            ]
        );
    }

    #[test]
    fn ios_shaped_rows_decode() {
        // `ip sla 10 / icmp-echo 8.8.8.8 source-interface Gi0/0 / tag ISP1-MAGTI` and
        // `ip sla 20 / icmp-echo 2001:db8::53` with no source, as IOS serves them.
        let v6 = [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
        ];
        let cols = vec![
            col(&[(&[10], s(b"ISP1-MAGTI")), (&[20], s(b""))]),
            col(&[(&[10], Value::Integer(1)), (&[20], Value::Integer(1))]),
            col(&[(&[10], s(&[8, 8, 8, 8])), (&[20], s(&v6))]),
            col(&[(&[10], s(&[169, 254, 10, 2])), (&[20], s(&[0, 0, 0, 0]))]),
            col(&[(&[10], Value::Integer(1)), (&[20], Value::Integer(0))]),
        ];
        let p = decode(&cols);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].index, 10);
        assert_eq!(p[0].tag, b"ISP1-MAGTI");
        assert_eq!(p[0].rtt_type, Some(1));
        assert_eq!(p[0].target_text(), "8.8.8.8");
        assert_eq!(p[0].source, Some("169.254.10.2".parse().unwrap()));
        assert_eq!(p[0].output_if, Some(1));
        assert_eq!(p[1].target_text(), "2001:db8::53");
        assert_eq!(p[1].source, None, "0.0.0.0 is no source");
        assert_eq!(p[1].output_if, None, "0 is no interface");
    }

    #[test]
    fn hostile_rows_decode_without_panics() {
        let cols = vec![
            col(&[
                (&[], s(b"x")),
                (&[1, 2], s(b"x")),
                (&[3], Value::Integer(5)),
                (&[4], s(b"ok")),
            ]),
            col(&[(&[4], s(b"1")), (&[5], Value::Integer(i64::MIN))]),
            col(&[(&[4], s(&[1, 2, 3])), (&[99], s(&[1, 2, 3, 4]))]),
            col(&[(&[4], s(&[1; 7])), (&[5], Value::IpAddress([1, 2, 3, 4]))]),
            col(&[(&[4], Value::Integer(-3)), (&[5], Value::Integer(i64::MAX))]),
        ];
        let p = decode(&cols);
        let idx: Vec<u32> = p.iter().map(|p| p.index).collect();
        assert_eq!(idx, [4, 5], "no probe from echo rows alone");
        assert_eq!(p[0].rtt_type, None);
        assert_eq!(p[0].target_text(), "01:02:03");
        assert_eq!(p[0].source, None);
        assert_eq!(p[0].output_if, None);
        assert_eq!(
            p[1].source, None,
            "an IpAddress is not the OCTET STRING asked for"
        );
        assert_eq!(p[1].output_if, None);
        assert_eq!(octets_text(b"host.example"), "host.example");
        assert_eq!(octets_text(b""), "");
        assert!(decode(&[]).is_empty());
    }
}
