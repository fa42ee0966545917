//! BGP peers of BGP4-MIB `bgpPeerTable` (IPv4, the peer address is the index's four arcs) and
//! CISCO-BGP4-MIB `cbgpPeer2Table` (IPv4 and IPv6, VRF peers included; index = InetAddressType
//! then the length-prefixed InetAddress): which peers a device has and their remote AS (discovery),
//! and which columns a poll reads. Pure; any varbinds decode without panicking.
//!
//! bgpPeerEntry 1.3.6.1.2.1.15.3.1: 2 State (idle 1 .. established 6), 3 AdminStatus (stop 1,
//! start 2), 9 RemoteAs, 10 InUpdates, 11 OutUpdates, 15 FsmEstablishedTransitions,
//! 16 FsmEstablishedTime. cbgpPeer2Entry 1.3.6.1.4.1.9.9.187.1.2.5.1: 3 State, 4 AdminStatus,
//! 11 RemoteAs, 18 FsmEstablishedTransitions, 19 FsmEstablishedTime.

use std::net::IpAddr;

use crate::mib::ipaddr::{inet_index, ipv4_index};
use crate::snmp::walk::Column;
use crate::snmp::Oid;

const BGP_PEER: [u32; 9] = [1, 3, 6, 1, 2, 1, 15, 3, 1];
const CBGP_PEER2: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 187, 1, 2, 5, 1];

/// bgpPeerState / cbgpPeer2State established(6).
pub const ESTABLISHED: i128 = 6;
/// bgpPeerAdminStatus / cbgpPeer2AdminStatus stop(1).
pub const ADMIN_STOP: i128 = 1;

/// The columns walked at discovery, in the order `decode` reads them.
pub fn discovery_columns() -> Vec<Oid> {
    vec![
        Oid(BGP_PEER.to_vec()).child(&[9]),    // bgpPeerRemoteAs
        Oid(CBGP_PEER2.to_vec()).child(&[11]), // cbgpPeer2RemoteAs
    ]
}

/// Which table a peer row is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerMib {
    Bgp4,
    CiscoPeer2,
}

/// One polled column: series name, help, counter or gauge, column number.
#[derive(Debug)]
pub struct PeerColumn {
    pub metric: &'static str,
    pub help: &'static str,
    pub counter: bool,
    pub column: u32,
}

/// Roles of polled columns, the same for both tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    State,
    Admin,
    Transitions,
    Other,
}

macro_rules! col {
    ($m:literal, $c:literal, $counter:literal, $help:literal) => {
        PeerColumn {
            metric: $m,
            help: $help,
            counter: $counter,
            column: $c,
        }
    };
}

/// BGP4-MIB columns a poll reads, in render order, with their roles.
pub const BGP4_POLLED: [(PeerColumn, Role); 6] = [
    (col!("bgpPeerState", 2, false, "The BGP peer connection state: 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established - 1.3.6.1.2.1.15.3.1.2"), Role::State),
    (col!("bgpPeerAdminStatus", 3, false, "The desired state of the BGP connection: 1 stop, 2 start - 1.3.6.1.2.1.15.3.1.3"), Role::Admin),
    (col!("bgpPeerInUpdates", 10, true, "The number of BGP UPDATE messages received on this connection - 1.3.6.1.2.1.15.3.1.10"), Role::Other),
    (col!("bgpPeerOutUpdates", 11, true, "The number of BGP UPDATE messages transmitted on this connection - 1.3.6.1.2.1.15.3.1.11"), Role::Other),
    (col!("bgpPeerFsmEstablishedTransitions", 15, true, "The total number of times the BGP FSM transitioned into the established state for this peer - 1.3.6.1.2.1.15.3.1.15"), Role::Transitions),
    (col!("bgpPeerFsmEstablishedTime", 16, false, "How long (in seconds) this peer has been in the established state or how long since this peer was last in the established state - 1.3.6.1.2.1.15.3.1.16"), Role::Other),
];

/// CISCO-BGP4-MIB cbgpPeer2 columns a poll reads, in render order, with their roles.
pub const CBGP2_POLLED: [(PeerColumn, Role); 4] = [
    (col!("cbgpPeer2State", 3, false, "The BGP peer connection state: 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established - 1.3.6.1.4.1.9.9.187.1.2.5.1.3"), Role::State),
    (col!("cbgpPeer2AdminStatus", 4, false, "The desired state of the BGP connection: 1 stop, 2 start - 1.3.6.1.4.1.9.9.187.1.2.5.1.4"), Role::Admin),
    (col!("cbgpPeer2FsmEstablishedTransitions", 18, true, "The total number of times the BGP FSM transitioned into the established state for this peer - 1.3.6.1.4.1.9.9.187.1.2.5.1.18"), Role::Transitions),
    (col!("cbgpPeer2FsmEstablishedTime", 19, false, "How long (in seconds) this peer has been in the established state or how long since this peer was last in the established state - 1.3.6.1.4.1.9.9.187.1.2.5.1.19"), Role::Other),
];

/// One BGP peer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub mib: PeerMib,
    /// The row's index arcs as the agent sent them.
    pub index: Vec<u32>,
    /// The peer address, when the index is well formed.
    pub addr: Option<IpAddr>,
    /// cbgpPeer2Type (InetAddressType) for cbgpPeer2 rows; 1 for BGP4-MIB rows.
    pub addr_type: u32,
    /// bgpPeerRemoteAs / cbgpPeer2RemoteAs; `None` when not a non-negative number.
    pub remote_as: Option<u64>,
}

impl Peer {
    /// The polled columns of this peer's table.
    pub fn polled(&self) -> &'static [(PeerColumn, Role)] {
        match self.mib {
            PeerMib::Bgp4 => &BGP4_POLLED,
            PeerMib::CiscoPeer2 => &CBGP2_POLLED,
        }
    }

    /// The OID of one of this peer's columns.
    pub fn oid(&self, column: u32) -> Oid {
        let entry: &[u32] = match self.mib {
            PeerMib::Bgp4 => &BGP_PEER,
            PeerMib::CiscoPeer2 => &CBGP_PEER2,
        };
        Oid(entry.to_vec()).child(&[column]).child(&self.index)
    }

    /// The address for labels: the address when the index is well formed, else all of the
    /// index arcs as the agent sent them, dotted (never mistaken for a well-formed address).
    pub fn addr_text(&self) -> String {
        if let Some(a) = self.addr {
            return a.to_string();
        }
        self.index
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order). Every row is kept;
/// a malformed index leaves the peer without an address (it is exposed, never tied).
pub fn decode(columns: &[Column]) -> Vec<Peer> {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let mut out = Vec::new();
    for (s, v) in col(0) {
        out.push(Peer {
            mib: PeerMib::Bgp4,
            index: s.clone(),
            addr: ipv4_index(s),
            addr_type: 1,
            remote_as: v.as_u64(),
        });
    }
    for (s, v) in col(1) {
        let parsed = inet_index(s).filter(|(_, _, rest)| rest.is_empty());
        out.push(Peer {
            mib: PeerMib::CiscoPeer2,
            index: s.clone(),
            addr: parsed.map(|(_, a, _)| a),
            addr_type: s.first().copied().unwrap_or(0),
            remote_as: v.as_u64(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::Value;

    fn col(rows: &[(&[u32], Value)]) -> Column {
        rows.iter().map(|(s, v)| (s.to_vec(), v.clone())).collect()
    }

    #[test]
    fn columns_and_oids_are_the_named_objects() {
        let c: Vec<String> = discovery_columns().iter().map(|o| o.to_string()).collect();
        assert_eq!(
            c,
            ["1.3.6.1.2.1.15.3.1.9", "1.3.6.1.4.1.9.9.187.1.2.5.1.11"]
        );
        let p = &decode(&[
            col(&[(&[169, 254, 10, 1], Value::Integer(65001))]),
            col(&[(&[1, 4, 169, 254, 10, 1], Value::Unsigned32(65001))]),
        ]);
        assert_eq!(
            p[0].oid(15).to_string(),
            "1.3.6.1.2.1.15.3.1.15.169.254.10.1"
        );
        assert_eq!(
            p[1].oid(3).to_string(),
            "1.3.6.1.4.1.9.9.187.1.2.5.1.3.1.4.169.254.10.1"
        );
    }

    #[test]
    fn ios_shaped_peers_decode() {
        // An IOS router with an IPv4 eBGP peer per provider and an IPv6 one on the first.
        let mut v6 = vec![2, 16, 32, 1, 13, 184, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let peers = decode(&[
            col(&[
                (&[169, 254, 10, 1], Value::Integer(65001)),
                (&[169, 254, 20, 1], Value::Integer(65002)),
            ]),
            col(&[
                (&[1, 4, 169, 254, 10, 1], Value::Unsigned32(65001)),
                (&v6, Value::Unsigned32(4200000001)),
            ]),
        ]);
        assert_eq!(peers.len(), 4);
        assert_eq!(peers[0].addr_text(), "169.254.10.1");
        assert_eq!(peers[1].remote_as, Some(65002));
        assert_eq!(peers[3].mib, PeerMib::CiscoPeer2);
        assert_eq!(peers[3].addr_type, 2);
        assert_eq!(peers[3].addr_text(), "2001:db8:10::1");
        assert_eq!(peers[3].remote_as, Some(4200000001));
        v6.push(9);
        let p = &decode(&[vec![], col(&[(&v6, Value::Unsigned32(1))])])[0];
        assert_eq!(p.addr, None, "trailing arcs: malformed");
    }

    #[test]
    fn malformed_indexes_are_kept_without_an_address() {
        let peers = decode(&[
            col(&[
                (&[1, 2, 3], Value::Integer(1)),
                (&[1, 2, 3, 300], Value::Integer(-5)),
                (&[], Value::Null),
            ]),
            col(&[
                (&[1, 9, 1, 2], Value::Unsigned32(1)),
                (&[], Value::Unsigned32(1)),
                (&[7, 4, 1, 2, 3, 4], Value::OctetString(vec![1])),
            ]),
        ]);
        assert_eq!(peers.len(), 6);
        assert!(peers.iter().all(|p| p.addr.is_none()));
        assert_eq!(peers[1].addr_text(), "1.2.3.300");
        assert_eq!(peers[1].remote_as, None);
        assert_eq!(peers[3].addr_text(), "1.9.1.2");
        assert_eq!(peers[4].addr_text(), "");
        assert_eq!(peers[5].addr_type, 7);
        assert_eq!(peers[5].remote_as, None);
    }
}
