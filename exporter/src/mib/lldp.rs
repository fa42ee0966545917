//! LLDP-MIB (IEEE 802.1AB): the local chassis id, lldpLocPortTable, lldpRemTable and
//! lldpRemManAddrTable decoded from walked columns into plain types. Pure; any input is safe.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::snmp::walk::Column;
use crate::snmp::{Oid, Value, VarBind};

const LOC_SYSTEM: [u32; 8] = [1, 0, 8802, 1, 1, 2, 1, 3];
const LOC_PORT_ENTRY: [u32; 10] = [1, 0, 8802, 1, 1, 2, 1, 3, 7, 1];
const REM_ENTRY: [u32; 10] = [1, 0, 8802, 1, 1, 2, 1, 4, 1, 1];
const REM_MAN_ADDR_IF_SUBTYPE: [u32; 11] = [1, 0, 8802, 1, 1, 2, 1, 4, 2, 1, 3];

/// lldpLocChassisIdSubtype.0 and lldpLocChassisId.0, asked with one GET.
pub fn local_chassis_oids() -> Vec<Oid> {
    let base = Oid(LOC_SYSTEM.to_vec());
    vec![base.child(&[1, 0]), base.child(&[2, 0])]
}

/// The columns walked at discovery, in this order: lldpLocPortIdSubtype, lldpLocPortId,
/// lldpLocPortDesc, then lldpRemTable columns 4..=12, then lldpRemManAddrIfSubtype (whose
/// index carries the management address).
pub fn discovery_columns() -> Vec<Oid> {
    let mut v: Vec<Oid> = [2, 3, 4]
        .iter()
        .map(|c| Oid(LOC_PORT_ENTRY.to_vec()).child(&[*c]))
        .collect();
    v.extend((4..=12).map(|c| Oid(REM_ENTRY.to_vec()).child(&[c])));
    v.push(Oid(REM_MAN_ADDR_IF_SUBTYPE.to_vec()));
    v
}

/// LldpChassisIdSubtype values.
pub mod chassis_subtype {
    pub const CHASSIS_COMPONENT: u8 = 1;
    pub const INTERFACE_ALIAS: u8 = 2;
    pub const PORT_COMPONENT: u8 = 3;
    pub const MAC_ADDRESS: u8 = 4;
    pub const NETWORK_ADDRESS: u8 = 5;
    pub const INTERFACE_NAME: u8 = 6;
    pub const LOCAL: u8 = 7;
}

/// LldpPortIdSubtype values.
pub mod port_subtype {
    pub const INTERFACE_ALIAS: u8 = 1;
    pub const PORT_COMPONENT: u8 = 2;
    pub const MAC_ADDRESS: u8 = 3;
    pub const NETWORK_ADDRESS: u8 = 4;
    pub const INTERFACE_NAME: u8 = 5;
    pub const AGENT_CIRCUIT_ID: u8 = 6;
    pub const LOCAL: u8 = 7;
}

/// A chassis or port id decoded by its subtype.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Id {
    Mac([u8; 6]),
    Address(IpAddr),
    /// Printable text (names, aliases, locally assigned ids).
    Text(String),
    /// Bytes that are not text, kept for exact comparison; shown as hex.
    Binary(Vec<u8>),
}

impl Id {
    /// Decode an id: MAC and network-address subtypes as such (a MAC written as text, as
    /// NX-OS does, is read too), anything else as text when printable, bytes otherwise.
    pub fn decode(subtype_is_mac: bool, subtype_is_addr: bool, raw: &[u8]) -> Id {
        if subtype_is_mac {
            if let Some(m) = mac_from_bytes(raw) {
                return Id::Mac(m);
            }
        }
        if subtype_is_addr {
            if let Some(a) = network_address(raw) {
                return Id::Address(a);
            }
        }
        match printable(raw) {
            Some(s) => Id::Text(s),
            None => Id::Binary(raw.to_vec()),
        }
    }

    /// Decode a chassis id by LldpChassisIdSubtype.
    pub fn chassis(subtype: u8, raw: &[u8]) -> Id {
        Id::decode(
            subtype == chassis_subtype::MAC_ADDRESS,
            subtype == chassis_subtype::NETWORK_ADDRESS,
            raw,
        )
    }

    /// Decode a port id by LldpPortIdSubtype.
    pub fn port(subtype: u8, raw: &[u8]) -> Id {
        Id::decode(
            subtype == port_subtype::MAC_ADDRESS,
            subtype == port_subtype::NETWORK_ADDRESS,
            raw,
        )
    }

    /// A stable, comparable key: `mac:aa:bb:..`, `ip:192.0.2.1`, `text:name` (lowercase),
    /// `hex:0a0b..`.
    pub fn key(&self) -> String {
        match self {
            Id::Mac(m) => format!("mac:{}", fmt_mac(m)),
            Id::Address(a) => format!("ip:{a}"),
            Id::Text(t) => format!("text:{}", t.to_lowercase()),
            Id::Binary(b) => format!("hex:{}", hex(b)),
        }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Mac(m) => f.write_str(&fmt_mac(m)),
            Id::Address(a) => write!(f, "{a}"),
            Id::Text(t) => f.write_str(t),
            Id::Binary(b) => write!(f, "0x{}", hex(b)),
        }
    }
}

fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Six raw bytes, or a MAC written as text (`8c:60:4f:19:16:7c`, `8c60.4f19.167c`, `8c-60-..`).
pub fn mac_from_bytes(raw: &[u8]) -> Option<[u8; 6]> {
    if raw.len() == 6 {
        return raw.try_into().ok();
    }
    let s = std::str::from_utf8(raw).ok()?;
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(m)
}

/// An LLDP network address: IANA address family byte then the address (1 = IPv4, 2 = IPv6).
/// Four or sixteen bare bytes are accepted too, and so is an address written as text.
pub fn network_address(raw: &[u8]) -> Option<IpAddr> {
    match raw {
        [1, a, b, c, d] => Some(IpAddr::from([*a, *b, *c, *d])),
        [2, rest @ ..] if rest.len() == 16 => <[u8; 16]>::try_from(rest).ok().map(IpAddr::from),
        [a, b, c, d] => Some(IpAddr::from([*a, *b, *c, *d])),
        _ if raw.len() == 16 => <[u8; 16]>::try_from(raw).ok().map(IpAddr::from),
        _ => std::str::from_utf8(raw).ok()?.trim().parse().ok(),
    }
}

/// Text for humans from agent bytes: valid UTF-8 (invalid bytes as `\xNN`), control
/// characters and NULs dropped, whitespace trimmed, at most 255 characters. None when the
/// bytes are mostly not text (a binary id).
pub fn printable(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return Some(String::new());
    }
    let text = clean_text(raw);
    let invalid = std::str::from_utf8(raw).is_err();
    let controls = raw
        .iter()
        .filter(|&&b| b < 0x20 && b != b'\t' && b != 0)
        .count();
    if invalid || controls > 0 || text.is_empty() {
        None
    } else {
        Some(text)
    }
}

/// Label-safe text from agent bytes (see `printable`), never failing.
pub fn clean_text(raw: &[u8]) -> String {
    let shown = crate::mib::display_bytes(raw);
    let mut s: String = shown
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    s = s.trim().to_string();
    if s.chars().count() > 255 {
        s = s.chars().take(255).collect();
    }
    s
}

/// One row of lldpLocPortTable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalPort {
    pub port_num: u32,
    pub id_subtype: u8,
    pub id: Vec<u8>,
    pub descr: Vec<u8>,
}

/// One row of lldpRemTable with its management addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub time_mark: u32,
    pub local_port_num: u32,
    pub index: u32,
    pub chassis_subtype: u8,
    pub chassis_id: Vec<u8>,
    pub port_subtype: u8,
    pub port_id: Vec<u8>,
    pub port_descr: Vec<u8>,
    pub sys_name: Vec<u8>,
    pub sys_descr: Vec<u8>,
    /// LldpSystemCapabilitiesMap bits (bit 0 = other ... bit 7 = station), supported.
    pub caps_supported: u16,
    pub caps_enabled: u16,
    pub management: Vec<IpAddr>,
}

impl Remote {
    pub fn chassis(&self) -> Id {
        Id::chassis(self.chassis_subtype, &self.chassis_id)
    }
    pub fn port(&self) -> Id {
        Id::port(self.port_subtype, &self.port_id)
    }
}

/// What one device's LLDP-MIB says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LldpData {
    pub local_chassis: Option<Id>,
    pub local_ports: BTreeMap<u32, LocalPort>,
    /// One per (local port, remote index); duplicate rows (several time marks) collapse to
    /// the newest time mark.
    pub remotes: Vec<Remote>,
}

/// Decode the local chassis GET answer (from `local_chassis_oids`).
pub fn decode_local_chassis(vbs: &[VarBind]) -> Option<Id> {
    let mut subtype = None;
    let mut id = None;
    for (oid, v) in vbs {
        match oid.0.as_slice() {
            [base @ .., 1, 0] if base == LOC_SYSTEM => subtype = v.as_i64(),
            [base @ .., 2, 0] if base == LOC_SYSTEM => id = v.as_bytes().map(<[u8]>::to_vec),
            _ => {}
        }
    }
    let id = id.filter(|b| !b.is_empty())?;
    let subtype = subtype.and_then(|s| u8::try_from(s).ok()).unwrap_or(0);
    Some(Id::chassis(subtype, &id))
}

/// The capability bits of an LldpSystemCapabilitiesMap (BITS: first octet, msb = bit 0).
pub fn caps_bits(raw: &[u8]) -> u16 {
    let mut v = 0u16;
    for (byte_no, b) in raw.iter().take(2).enumerate() {
        for bit in 0..8 {
            if b & (0x80 >> bit) != 0 {
                v |= 1 << (byte_no * 8 + bit);
            }
        }
    }
    v
}

/// Capability names of LldpSystemCapabilitiesMap bits.
pub fn caps_names(bits: u16) -> Vec<&'static str> {
    const NAMES: [&str; 11] = [
        "other",
        "repeater",
        "bridge",
        "wlan_access_point",
        "router",
        "telephone",
        "docsis_cable_device",
        "station",
        "cvlan_component",
        "svlan_component",
        "two_port_mac_relay",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order) and the local chassis.
pub fn decode(local_chassis: Option<Id>, columns: &[Column]) -> LldpData {
    let mut data = LldpData {
        local_chassis,
        ..LldpData::default()
    };
    let empty = Column::new();
    let col = |i: usize| columns.get(i).unwrap_or(&empty);
    for (i, c) in [col(0), col(1), col(2)].into_iter().enumerate() {
        for (suffix, v) in c {
            let [port] = suffix.as_slice() else { continue };
            let p = data.local_ports.entry(*port).or_insert_with(|| LocalPort {
                port_num: *port,
                ..LocalPort::default()
            });
            match i {
                0 => p.id_subtype = small(v),
                1 => p.id = bytes(v),
                _ => p.descr = bytes(v),
            }
        }
    }
    // (local port, remote index) -> row; the newest time mark wins.
    let mut rows: BTreeMap<(u32, u32), Remote> = BTreeMap::new();
    for (k, c) in (3..12).map(|i| (i, col(i))) {
        for (suffix, v) in c {
            let [tm, port, idx] = suffix.as_slice() else {
                continue;
            };
            let r = rows.entry((*port, *idx)).or_insert_with(|| Remote {
                time_mark: *tm,
                local_port_num: *port,
                index: *idx,
                chassis_subtype: 0,
                chassis_id: Vec::new(),
                port_subtype: 0,
                port_id: Vec::new(),
                port_descr: Vec::new(),
                sys_name: Vec::new(),
                sys_descr: Vec::new(),
                caps_supported: 0,
                caps_enabled: 0,
                management: Vec::new(),
            });
            if *tm < r.time_mark {
                continue; // an older duplicate of the same neighbour
            }
            r.time_mark = *tm;
            match k {
                3 => r.chassis_subtype = small(v),
                4 => r.chassis_id = bytes(v),
                5 => r.port_subtype = small(v),
                6 => r.port_id = bytes(v),
                7 => r.port_descr = bytes(v),
                8 => r.sys_name = bytes(v),
                9 => r.sys_descr = bytes(v),
                10 => r.caps_supported = caps_bits(&bytes(v)),
                _ => r.caps_enabled = caps_bits(&bytes(v)),
            }
        }
    }
    // lldpRemManAddrIfSubtype.<tm>.<port>.<idx>.<family>.<len>.<addr bytes...>
    for (suffix, _) in col(12) {
        let [_tm, port, idx, _family, len, addr @ ..] = suffix.as_slice() else {
            continue;
        };
        if *len as usize != addr.len() || addr.iter().any(|&b| b > 255) {
            continue;
        }
        let raw: Vec<u8> = addr.iter().map(|&b| b as u8).collect();
        let Some(ip) = network_address(&raw) else {
            continue;
        };
        if let Some(r) = rows.get_mut(&(*port, *idx)) {
            if !r.management.contains(&ip) {
                r.management.push(ip);
            }
        }
    }
    data.remotes = rows
        .into_values()
        .filter(|r| !r.chassis_id.is_empty() || !r.sys_name.is_empty() || !r.port_id.is_empty())
        .collect();
    data
}

fn small(v: &Value) -> u8 {
    v.as_i64().and_then(|x| u8::try_from(x).ok()).unwrap_or(0)
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_bytes().map(<[u8]>::to_vec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &[u8]) -> Value {
        Value::OctetString(s.to_vec())
    }

    /// Columns for one remote row on local port 7 plus its local port entry.
    fn sample() -> Vec<Column> {
        let mut cols: Vec<Column> = vec![Vec::new(); 13];
        cols[0].push((vec![7], Value::Integer(5)));
        cols[1].push((vec![7], os(b"Gi1/0/7")));
        cols[2].push((vec![7], os(b"uplink")));
        let r = |c: &mut Vec<Column>, i: usize, v: Value| c[i].push((vec![100, 7, 1], v));
        r(&mut cols, 3, Value::Integer(4));
        r(&mut cols, 4, os(&[0, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]));
        r(&mut cols, 5, Value::Integer(5));
        r(&mut cols, 6, os(b"Gi0/1"));
        r(&mut cols, 7, os(b"to core"));
        r(&mut cols, 8, os(b"BRANCH-RTR-01.bank.ge"));
        r(&mut cols, 9, os(b"Cisco IOS"));
        r(&mut cols, 10, os(&[0x28, 0x00]));
        r(&mut cols, 11, os(&[0x08, 0x00]));
        cols[12].push((vec![100, 7, 1, 1, 4, 169, 254, 1, 2], Value::Integer(2)));
        cols
    }

    #[test]
    fn a_remote_row_decodes_ids_by_subtype_and_collects_addresses() {
        let d = decode(Some(Id::Text("me".into())), &sample());
        assert_eq!(d.local_ports[&7].id, b"Gi1/0/7");
        assert_eq!(d.remotes.len(), 1);
        let r = &d.remotes[0];
        assert_eq!(r.chassis(), Id::Mac([0, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]));
        assert_eq!(r.chassis().to_string(), "00:1b:2c:3d:4e:5f");
        assert_eq!(r.port(), Id::Text("Gi0/1".into()));
        assert_eq!(caps_names(r.caps_supported), vec!["bridge", "router"]);
        assert_eq!(caps_names(r.caps_enabled), vec!["router"]);
        assert_eq!(r.management, vec!["169.254.1.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn duplicate_rows_keep_the_newest_time_mark() {
        let mut cols = sample();
        cols[8].push((vec![50, 7, 1], os(b"OLD-NAME")));
        cols[8].push((vec![200, 7, 1], os(b"NEW-NAME")));
        let d = decode(None, &cols);
        assert_eq!(d.remotes.len(), 1);
        assert_eq!(d.remotes[0].sys_name, b"NEW-NAME");
    }

    #[test]
    fn ids_decode_macs_written_as_text_addresses_and_binary() {
        assert_eq!(
            Id::chassis(4, b"8c:60:4f:19:16:7c"),
            Id::Mac([0x8c, 0x60, 0x4f, 0x19, 0x16, 0x7c])
        );
        assert_eq!(Id::chassis(5, &[1, 10, 0, 0, 1]).to_string(), "10.0.0.1");
        assert_eq!(
            Id::chassis(7, &[0, 1, 2, 0xff]),
            Id::Binary(vec![0, 1, 2, 0xff])
        );
        assert_eq!(Id::chassis(7, &[0, 1, 2, 0xff]).to_string(), "0x000102ff");
        assert_eq!(Id::chassis(6, b"eth0").key(), "text:eth0");
        // A MAC subtype with a wrong length stays bytes, not a panic.
        assert!(matches!(Id::chassis(4, &[1, 2, 3]), Id::Binary(_)));
    }

    #[test]
    fn text_is_cleaned_of_nuls_and_capped_at_255_characters() {
        assert_eq!(clean_text(b"CORE\0\0"), "CORE");
        assert_eq!(clean_text(b" SW\n01 "), "SW01");
        let long = vec![b'A'; 300];
        assert_eq!(clean_text(&long).len(), 255);
        assert_eq!(clean_text(&[0xff, b'x']), "\\xFFx");
    }

    #[test]
    fn local_chassis_get_decodes() {
        let vbs = vec![
            (
                Oid::parse("1.0.8802.1.1.2.1.3.1.0").unwrap(),
                Value::Integer(4),
            ),
            (
                Oid::parse("1.0.8802.1.1.2.1.3.2.0").unwrap(),
                os(&[1, 2, 3, 4, 5, 6]),
            ),
        ];
        assert_eq!(local_chassis_oids()[1], vbs[1].0);
        assert_eq!(
            decode_local_chassis(&vbs),
            Some(Id::Mac([1, 2, 3, 4, 5, 6]))
        );
        assert_eq!(decode_local_chassis(&[]), None);
    }

    #[test]
    fn malformed_indexes_and_values_are_skipped() {
        let mut cols = sample();
        cols[4].push((vec![1, 2], os(b"short index")));
        cols[12].push((vec![1, 7, 1, 1, 9, 1, 2], Value::Integer(2)));
        cols[12].push((vec![1, 7, 1, 1, 4, 1, 2, 3, 999], Value::Integer(2)));
        cols[3].push((vec![1, 9, 9], Value::OctetString(vec![])));
        let d = decode(None, &cols);
        assert_eq!(d.remotes.len(), 1);
        assert_eq!(d.remotes[0].management.len(), 1);
    }
}
