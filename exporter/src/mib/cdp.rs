//! CISCO-CDP-MIB cdpCacheTable decoded from walked columns: one entry per neighbour, indexed by
//! (ifIndex, device index). Pure; any input is safe.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::snmp::walk::Column;
use crate::snmp::{Oid, Value};

const CACHE_ENTRY: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 23, 1, 2, 1, 1];

/// Columns walked at discovery, in this order: cdpCacheAddressType, cdpCacheAddress,
/// cdpCacheDeviceId, cdpCacheDevicePort, cdpCachePlatform, cdpCacheCapabilities.
pub fn discovery_columns() -> Vec<Oid> {
    [3, 4, 6, 7, 8, 9]
        .iter()
        .map(|c| Oid(CACHE_ENTRY.to_vec()).child(&[*c]))
        .collect()
}

/// One cdpCacheTable row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CdpEntry {
    pub if_index: u32,
    pub device_index: u32,
    pub address: Option<IpAddr>,
    pub device_id: Vec<u8>,
    pub device_port: Vec<u8>,
    pub platform: Vec<u8>,
    /// CDP capability bits (0x01 router, 0x02 trans-bridge, 0x04 source-route bridge,
    /// 0x08 switch, 0x10 host, 0x20 IGMP, 0x40 repeater, ...).
    pub capabilities: u32,
}

/// Names of CDP capability bits.
pub fn caps_names(bits: u32) -> Vec<&'static str> {
    const NAMES: [&str; 10] = [
        "router",
        "bridge",
        "source_route_bridge",
        "switch",
        "host",
        "igmp",
        "repeater",
        "phone",
        "remote",
        "cvta",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Decode the walk (`columns` in `discovery_columns()` order). Rows with neither a device id
/// nor an address are dropped; a repeated index keeps the last value.
pub fn decode(columns: &[Column]) -> Vec<CdpEntry> {
    let mut rows: BTreeMap<(u32, u32), CdpEntry> = BTreeMap::new();
    let mut addr_type: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    for (pos, col) in columns.iter().enumerate() {
        for (suffix, v) in col {
            let [ifi, dev] = suffix.as_slice() else {
                continue;
            };
            let key = (*ifi, *dev);
            if pos == 0 {
                addr_type.insert(key, v.as_i64().unwrap_or(0));
                continue;
            }
            let e = rows.entry(key).or_insert_with(|| CdpEntry {
                if_index: *ifi,
                device_index: *dev,
                ..CdpEntry::default()
            });
            let b = v.as_bytes().map(<[u8]>::to_vec).unwrap_or_default();
            match pos {
                1 => e.address = address(addr_type.get(&key).copied(), v),
                2 => e.device_id = b,
                3 => e.device_port = b,
                4 => e.platform = b,
                5 => {
                    e.capabilities = match b.as_slice() {
                        [a, b2, c, d] => u32::from_be_bytes([*a, *b2, *c, *d]),
                        _ => v.as_u64().map(|x| x as u32).unwrap_or(0),
                    }
                }
                _ => {}
            }
        }
    }
    rows.into_values()
        .filter(|e| !e.device_id.is_empty() || e.address.is_some())
        .collect()
}

/// cdpCacheAddress: type 1 (ip) is four bytes; 20 (ipv6) sixteen. Other types are ignored.
fn address(kind: Option<i64>, v: &Value) -> Option<IpAddr> {
    let b = v.as_bytes()?;
    match (kind, b.len()) {
        (Some(1) | None, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        (Some(20) | None, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// The name part of a CDP device id: NX-OS appends `(serial)`, some agents send NULs.
pub fn device_name(device_id: &[u8]) -> String {
    let s = crate::mib::lldp::clean_text(device_id);
    match s.find('(') {
        Some(i) if i > 0 && s.ends_with(')') => s[..i].trim().to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &[u8]) -> Value {
        Value::OctetString(s.to_vec())
    }

    #[test]
    fn rows_decode_with_address_and_capabilities() {
        let cols: Vec<Column> = vec![
            vec![(vec![10101, 5], Value::Integer(1))],
            vec![(vec![10101, 5], os(&[169, 254, 0, 9]))],
            vec![(vec![10101, 5], os(b"DIST-SW-01.bank.ge"))],
            vec![(vec![10101, 5], os(b"GigabitEthernet1/0/24"))],
            vec![(vec![10101, 5], os(b"cisco WS-C3750G"))],
            vec![(vec![10101, 5], os(&[0, 0, 0, 0x29]))],
        ];
        let e = decode(&cols);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].if_index, 10101);
        assert_eq!(e[0].address, Some("169.254.0.9".parse().unwrap()));
        assert_eq!(e[0].device_port, b"GigabitEthernet1/0/24");
        assert_eq!(
            caps_names(e[0].capabilities),
            vec!["router", "switch", "igmp"]
        );
    }

    #[test]
    fn device_names_lose_serials_and_nuls() {
        assert_eq!(device_name(b"N5K-A(SSI15170A1B)"), "N5K-A");
        assert_eq!(device_name(b"CORE\0"), "CORE");
        assert_eq!(device_name(b"(odd)"), "(odd)");
    }

    #[test]
    fn rows_without_identity_and_bad_indexes_are_dropped() {
        let cols: Vec<Column> = vec![
            vec![],
            vec![(vec![1, 1], os(&[1, 2]))],
            vec![(vec![1], os(b"short index"))],
        ];
        assert!(decode(&cols).is_empty());
    }
}
