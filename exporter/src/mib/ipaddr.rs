//! Interface addresses from IP-MIB: `ipAddrTable` (IPv4, address in the index, netmask) and
//! `ipAddressTable` (IPv4 and IPv6, InetAddress in the index, prefix length at the end of the
//! `ipAddressPrefix` row pointer), decoded into (ifIndex, address, prefix length). Also the
//! InetAddress index decoding other tables share (CISCO-BGP4-MIB `cbgpPeer2Table`). Pure; any
//! varbinds decode without panicking.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::snmp::walk::Column;
use crate::snmp::{Oid, Value};

/// ipAddrTable entry (1.3.6.1.2.1.4.20.1): 2 ipAdEntIfIndex, 3 ipAdEntNetMask.
const IP_AD_ENT: [u32; 9] = [1, 3, 6, 1, 2, 1, 4, 20, 1];
/// ipAddressTable entry (1.3.6.1.2.1.4.34.1): 3 ipAddressIfIndex, 5 ipAddressPrefix.
const IP_ADDRESS: [u32; 9] = [1, 3, 6, 1, 2, 1, 4, 34, 1];

/// The columns walked at discovery, in the order `decode` reads them.
pub fn discovery_columns() -> Vec<Oid> {
    vec![
        Oid(IP_AD_ENT.to_vec()).child(&[2]),
        Oid(IP_AD_ENT.to_vec()).child(&[3]),
        Oid(IP_ADDRESS.to_vec()).child(&[3]),
        Oid(IP_ADDRESS.to_vec()).child(&[5]),
    ]
}

/// One address of one interface, with the length of its subnet's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfAddr {
    pub if_index: u32,
    pub addr: IpAddr,
    /// 0..=32 for IPv4, 0..=128 for IPv6; the full length when the agent gave no prefix.
    pub prefix: u8,
}

impl IfAddr {
    /// Whether `a` lies in this address's subnet (same family, same first `prefix` bits).
    pub fn subnet_holds(&self, a: &IpAddr) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(x)) => {
                let p = u32::from(self.prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                u32::from(n) & mask == u32::from(*x) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(x)) => {
                let p = u32::from(self.prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                u128::from(n) & mask == u128::from(*x) & mask
            }
            _ => false,
        }
    }
}

/// An address from raw octets: 4 (IPv4) or 16 (IPv6); anything else is not an address.
pub fn addr_from_octets(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// Index arcs that must each be an octet.
fn octets(arcs: &[u32]) -> Option<Vec<u8>> {
    arcs.iter().map(|a| u8::try_from(*a).ok()).collect()
}

/// An IPv4 address written as four index arcs (BGP4-MIB `bgpPeerRemoteAddr`, ipAdEntAddr).
pub fn ipv4_index(arcs: &[u32]) -> Option<IpAddr> {
    match arcs {
        [_, _, _, _] => addr_from_octets(&octets(arcs)?),
        _ => None,
    }
}

/// An InetAddressType + InetAddress pair at the start of an index (the address length-
/// prefixed, as SMIv2 encodes a variable-length OCTET STRING index): (type, address, arcs
/// after it). Types ipv4(1), ipv6(2) and their zoned forms ipv4z(3) / ipv6z(4) (the zone
/// index is dropped) give an address; a malformed index gives `None`.
pub fn inet_index(arcs: &[u32]) -> Option<(u32, IpAddr, &[u32])> {
    let (&ty, rest) = arcs.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::try_from(len).ok()?;
    if rest.len() < len {
        return None;
    }
    let (bytes, after) = rest.split_at(len);
    let bytes = octets(bytes)?;
    let addr = match (ty, len) {
        (1, 4) | (2, 16) => addr_from_octets(&bytes)?,
        (3, 8) => addr_from_octets(&bytes[..4])?,
        (4, 20) => addr_from_octets(&bytes[..16])?,
        _ => return None,
    };
    Some((ty, addr, after))
}

/// Prefix length from a netmask (contiguous ones only).
fn mask_prefix(mask: [u8; 4]) -> Option<u8> {
    let m = u32::from_be_bytes(mask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order; missing columns are
/// empty) into distinct (ifIndex, address, prefix) rows, sorted. Rows with a malformed index,
/// a non-contiguous netmask, an ifIndex of 0 or a value of the wrong type are skipped.
pub fn decode(columns: &[Column]) -> Vec<IfAddr> {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let mut out = BTreeSet::new();
    // ipAddrTable: ifIndex and netmask by address.
    let masks: std::collections::BTreeMap<&[u32], [u8; 4]> = col(1)
        .iter()
        .filter_map(|(s, v)| match v {
            Value::IpAddress(m) => Some((s.as_slice(), *m)),
            _ => None,
        })
        .collect();
    for (s, v) in col(0) {
        let (Some(addr), Some(ifx)) = (ipv4_index(s), v.as_u64()) else {
            continue;
        };
        let Ok(if_index @ 1..) = u32::try_from(ifx) else {
            continue;
        };
        let prefix = match masks.get(s.as_slice()) {
            Some(m) => match mask_prefix(*m) {
                Some(p) => p,
                None => continue,
            },
            None => 32,
        };
        out.insert(IfAddr {
            if_index,
            addr,
            prefix,
        });
    }
    // ipAddressTable: ifIndex by (type, address); prefix from the row pointer's last arc.
    let prefixes: std::collections::BTreeMap<&[u32], u32> = col(3)
        .iter()
        .filter_map(|(s, v)| match v {
            Value::ObjectIdentifier(o) => Some((s.as_slice(), *o.0.last()?)),
            _ => None,
        })
        .collect();
    for (s, v) in col(2) {
        let Some((_, addr, [])) = inet_index(s) else {
            continue;
        };
        let Some(Ok(if_index @ 1..)) = v.as_u64().map(u32::try_from) else {
            continue;
        };
        let full = if addr.is_ipv4() { 32 } else { 128 };
        // A pointer to zeroDotZero (no prefix known) ends in 0: only the address itself.
        let prefix = match prefixes.get(s.as_slice()) {
            Some(&p @ 1..) if p <= full => p as u8,
            _ => full as u8,
        };
        out.insert(IfAddr {
            if_index,
            addr,
            prefix,
        });
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(rows: &[(&[u32], Value)]) -> Column {
        rows.iter().map(|(s, v)| (s.to_vec(), v.clone())).collect()
    }

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn discovery_columns_are_the_ip_mib_objects() {
        let c: Vec<String> = discovery_columns().iter().map(|o| o.to_string()).collect();
        assert_eq!(
            c,
            [
                "1.3.6.1.2.1.4.20.1.2",
                "1.3.6.1.2.1.4.20.1.3",
                "1.3.6.1.2.1.4.34.1.3",
                "1.3.6.1.2.1.4.34.1.5"
            ]
        );
    }

    #[test]
    fn both_tables_decode_into_one_set_of_subnets() {
        // Shaped like an IOS branch router: ipAddrTable for IPv4, ipAddressTable for both,
        // the prefix pointer into ipAddressPrefixOrigin (…4.32.1.5.ifIndex.type.len.addr.len).
        let v6: [u32; 16] = [32, 1, 13, 184, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut v6_index = vec![2, 16];
        v6_index.extend_from_slice(&v6);
        let mut v6_ptr = vec![1, 3, 6, 1, 2, 1, 4, 32, 1, 5, 1, 2, 16];
        v6_ptr.extend_from_slice(&[32, 1, 13, 184, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64]);
        let cols = vec![
            col(&[
                (&[169, 254, 10, 2], Value::Integer(1)),
                (&[10, 1, 1, 1], Value::Integer(3)),
            ]),
            col(&[
                (&[169, 254, 10, 2], Value::IpAddress([255, 255, 255, 252])),
                (&[10, 1, 1, 1], Value::IpAddress([255, 255, 255, 0])),
            ]),
            col(&[
                (&[1, 4, 169, 254, 10, 2], Value::Integer(1)),
                (&v6_index, Value::Integer(1)),
            ]),
            col(&[
                (
                    &[1, 4, 169, 254, 10, 2],
                    Value::ObjectIdentifier(
                        Oid::parse("1.3.6.1.2.1.4.32.1.5.1.1.4.169.254.10.0.30").unwrap(),
                    ),
                ),
                (&v6_index, Value::ObjectIdentifier(Oid(v6_ptr))),
            ]),
        ];
        let got = decode(&cols);
        assert_eq!(
            got,
            vec![
                IfAddr {
                    if_index: 1,
                    addr: a("169.254.10.2"),
                    prefix: 30
                },
                IfAddr {
                    if_index: 1,
                    addr: a("2001:db8:10::2"),
                    prefix: 64
                },
                IfAddr {
                    if_index: 3,
                    addr: a("10.1.1.1"),
                    prefix: 24
                },
            ]
        );
        assert!(got[0].subnet_holds(&a("169.254.10.1")));
        assert!(!got[0].subnet_holds(&a("169.254.10.5")));
        assert!(got[1].subnet_holds(&a("2001:db8:10::1")));
        assert!(!got[1].subnet_holds(&a("2001:db8:11::1")));
        assert!(!got[0].subnet_holds(&a("2001:db8:10::1")), "other family");
    }

    #[test]
    fn prefix_edge_cases() {
        let any = IfAddr {
            if_index: 1,
            addr: a("0.0.0.0"),
            prefix: 0,
        };
        assert!(any.subnet_holds(&a("203.0.113.9")));
        let host = IfAddr {
            if_index: 1,
            addr: a("::1"),
            prefix: 128,
        };
        assert!(host.subnet_holds(&a("::1")) && !host.subnet_holds(&a("::2")));
        assert_eq!(mask_prefix([255, 255, 255, 255]), Some(32));
        assert_eq!(mask_prefix([0, 0, 0, 0]), Some(0));
        assert_eq!(mask_prefix([255, 0, 255, 0]), None);
    }

    #[test]
    fn inet_index_forms() {
        type Want = Option<(u32, &'static str, usize)>;
        let cases: Vec<(&[u32], Want)> = vec![
            (&[1, 4, 192, 0, 2, 1], Some((1, "192.0.2.1", 0))),
            (&[1, 4, 192, 0, 2, 1, 7], Some((1, "192.0.2.1", 1))),
            (&[3, 8, 192, 0, 2, 1, 0, 0, 0, 5], Some((3, "192.0.2.1", 0))),
            (&[1, 4, 192, 0, 2], None),
            (&[1, 4, 192, 0, 2, 256], None),
            (&[1, 16, 192, 0, 2, 1], None),
            (&[2, 4, 192, 0, 2, 1], None),
            (&[9, 4, 192, 0, 2, 1], None),
            (&[1, u32::MAX], None),
            (&[1], None),
            (&[], None),
        ];
        for (arcs, want) in cases {
            let got = inet_index(arcs).map(|(t, a, rest)| (t, a.to_string(), rest.len()));
            assert_eq!(got, want.map(|(t, a, r)| (t, a.to_string(), r)), "{arcs:?}");
        }
        assert_eq!(ipv4_index(&[1, 2, 3, 4]), Some(a("1.2.3.4")));
        assert_eq!(ipv4_index(&[1, 2, 3, 400]), None);
        assert_eq!(ipv4_index(&[1, 2, 3]), None);
    }

    #[test]
    fn hostile_rows_are_skipped() {
        let cols = vec![
            col(&[
                (&[1, 2, 3], Value::Integer(1)),             // short index
                (&[1, 2, 3, 999], Value::Integer(1)),        // arc over 255
                (&[1, 2, 3, 4], Value::Integer(0)),          // ifIndex 0
                (&[1, 2, 3, 5], Value::OctetString(vec![])), // wrong type
                (&[1, 2, 3, 6], Value::Integer(7)),          // bad mask below
                (&[1, 2, 3, 7], Value::Integer(-7)),         // negative ifIndex
            ]),
            col(&[(&[1, 2, 3, 6], Value::IpAddress([255, 0, 255, 0]))]),
            col(&[
                (&[1, 5, 1, 2, 3, 4, 5], Value::Integer(1)),
                (&[2, 16, 1], Value::Integer(1)),
                (&[1, 4, 1, 2, 3, 4, 9], Value::Integer(1)), // trailing arcs
            ]),
            col(&[(&[1, 4, 1, 2, 3, 4], Value::Null)]),
        ];
        assert!(decode(&cols).is_empty());
        assert!(decode(&[]).is_empty());
    }
}
