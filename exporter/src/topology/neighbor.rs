//! The neighbour model: what one device says about its neighbours (LLDP preferred per port,
//! CDP as fallback), with local ports mapped to ifIndex, and the device's LAG membership.
//!
//! Pure: decoded MIB rows and the device's interfaces in, `Neighborhood` out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use crate::mib::cdp::{self, CdpEntry};
use crate::mib::display_bytes;
use crate::mib::if_mib::InterfaceInfo;
use crate::mib::lldp::{self, port_subtype, Id, LldpData};

/// Which protocol reported a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Lldp,
    Cdp,
}

impl Protocol {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Lldp => "lldp",
            Protocol::Cdp => "cdp",
        }
    }
}

/// One neighbour seen on one local port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub protocol: Protocol,
    /// The local interface, when the port could be mapped to an ifIndex.
    pub local_if_index: Option<u32>,
    /// The local port for humans: its ifName, or what LLDP calls it.
    pub local_port: String,
    pub chassis_id: Option<Id>,
    /// LLDP: the port id by subtype; CDP: the device port as text.
    pub port_id: Option<Id>,
    /// LLDP port id subtype (0 for CDP).
    pub port_subtype: u8,
    pub port_descr: String,
    /// System name (LLDP) or device id without serial (CDP), cleaned for display.
    pub sys_name: String,
    /// System description (LLDP) or platform (CDP), first line.
    pub sys_descr: String,
    pub capabilities: Vec<&'static str>,
    pub addresses: Vec<IpAddr>,
}

impl Neighbor {
    /// The far port for humans: port id text, else the port description.
    pub fn port_text(&self) -> String {
        match &self.port_id {
            Some(Id::Text(t)) if !t.is_empty() => t.clone(),
            Some(Id::Mac(_)) | Some(Id::Binary(_)) | None if !self.port_descr.is_empty() => {
                self.port_descr.clone()
            }
            Some(id) => id.to_string(),
            None => String::new(),
        }
    }

    /// The neighbour's name for humans: sysName, else chassis id, else an address.
    pub fn display_name(&self) -> String {
        if !self.sys_name.is_empty() {
            return self.sys_name.clone();
        }
        if let Some(c) = &self.chassis_id {
            return c.to_string();
        }
        self.addresses
            .first()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// One LLDP local port as this device advertises it, mapped to its ifIndex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedPort {
    pub subtype: u8,
    pub id: Id,
    pub if_index: Option<u32>,
}

/// What discovery learned about a device's place in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Neighborhood {
    /// lldpLocChassisId, decoded by subtype.
    pub chassis_id: Option<Id>,
    /// The port ids this device sends in LLDP, so a neighbour's report maps to an ifIndex.
    pub advertised: Vec<AdvertisedPort>,
    pub neighbors: Vec<Neighbor>,
    /// LAG member ifIndex -> aggregate (port-channel) ifIndex.
    pub lag_parent: BTreeMap<u32, u32>,
}

/// Interfaces of the local device, indexed for port mapping.
pub struct PortIndex<'a> {
    by_index: HashMap<u32, &'a InterfaceInfo>,
    infos: &'a [InterfaceInfo],
}

impl<'a> PortIndex<'a> {
    pub fn new(infos: &'a [InterfaceInfo]) -> PortIndex<'a> {
        PortIndex {
            by_index: infos.iter().map(|i| (i.if_index, i)).collect(),
            infos,
        }
    }

    pub fn name(&self, if_index: u32) -> Option<String> {
        self.by_index.get(&if_index).map(|i| {
            let n = display_bytes(&i.name);
            if n.is_empty() {
                display_bytes(&i.descr).into_owned()
            } else {
                n.into_owned()
            }
        })
    }

    pub fn exists(&self, if_index: u32) -> bool {
        self.by_index.contains_key(&if_index)
    }

    /// The single interface for which `pick` returns true, if exactly one does.
    fn unique(&self, pick: impl Fn(&InterfaceInfo) -> bool) -> Option<u32> {
        let mut found = None;
        for i in self.infos {
            if pick(i) {
                if found.is_some() {
                    return None;
                }
                found = Some(i.if_index);
            }
        }
        found
    }

    /// An interface by name: ifName exactly, then ifName or ifDescr ignoring case.
    pub fn by_name(&self, name: &str) -> Option<u32> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        self.unique(|i| i.name == name.as_bytes())
            .or_else(|| self.unique(|i| display_bytes(&i.name).eq_ignore_ascii_case(name)))
            .or_else(|| self.unique(|i| display_bytes(&i.descr).eq_ignore_ascii_case(name)))
    }

    fn by_alias(&self, alias: &str) -> Option<u32> {
        let alias = alias.trim();
        if alias.is_empty() {
            return None;
        }
        self.unique(|i| display_bytes(&i.alias).trim() == alias)
    }

    fn by_mac(&self, mac: &[u8; 6]) -> Option<u32> {
        self.unique(|i| i.phys_address == mac)
    }

    /// Map an LLDP port id (as the device itself would advertise it) to an ifIndex.
    pub fn by_port_id(&self, subtype: u8, id: &Id, descr: &str) -> Option<u32> {
        let by_id = match (subtype, id) {
            (port_subtype::MAC_ADDRESS, Id::Mac(m)) => self.by_mac(m),
            (port_subtype::INTERFACE_ALIAS, Id::Text(t)) => {
                self.by_alias(t).or_else(|| self.by_name(t))
            }
            (port_subtype::LOCAL, Id::Text(t)) => t
                .parse::<u32>()
                .ok()
                .filter(|n| self.exists(*n))
                .or_else(|| self.by_name(t)),
            (_, Id::Text(t)) => self.by_name(t),
            _ => None,
        };
        by_id
            .or_else(|| self.by_name(descr))
            .or_else(|| self.by_alias(descr))
    }
}

/// Build a device's neighbourhood from its decoded LLDP and CDP tables and its interfaces.
/// LLDP wins on a port; CDP fills the ports LLDP says nothing about. Several neighbours on
/// one port are kept; identical reports on one port collapse into one.
pub fn build(
    lldp: &LldpData,
    cdp: &[CdpEntry],
    lag_parent: BTreeMap<u32, u32>,
    interfaces: &[InterfaceInfo],
) -> Neighborhood {
    let ports = PortIndex::new(interfaces);
    // lldpLocPortNum -> ifIndex, through the port id (not always the ifIndex).
    let mut local: BTreeMap<u32, Option<u32>> = BTreeMap::new();
    let mut advertised = Vec::new();
    for (num, p) in &lldp.local_ports {
        let id = Id::port(p.id_subtype, &p.id);
        let descr = lldp::clean_text(&p.descr);
        let mapped = ports
            .by_port_id(p.id_subtype, &id, &descr)
            .or_else(|| ports.exists(*num).then_some(*num));
        local.insert(*num, mapped);
        if !p.id.is_empty() {
            advertised.push(AdvertisedPort {
                subtype: p.id_subtype,
                id,
                if_index: mapped,
            });
        }
    }
    let mut out: Vec<Neighbor> = Vec::new();
    let mut seen: BTreeSet<(Option<u32>, String, String, String)> = BTreeSet::new();
    let mut lldp_ports: BTreeSet<u32> = BTreeSet::new();
    for r in &lldp.remotes {
        let if_index = match local.get(&r.local_port_num) {
            Some(m) => *m,
            // No lldpLocPortTable row: many agents number ports by ifIndex.
            None => ports.exists(r.local_port_num).then_some(r.local_port_num),
        };
        let chassis = (!r.chassis_id.is_empty()).then(|| r.chassis());
        let port = (!r.port_id.is_empty()).then(|| r.port());
        let n = Neighbor {
            protocol: Protocol::Lldp,
            local_if_index: if_index,
            local_port: if_index
                .and_then(|i| ports.name(i))
                .or_else(|| {
                    lldp.local_ports
                        .get(&r.local_port_num)
                        .map(|p| Id::port(p.id_subtype, &p.id).to_string())
                })
                .unwrap_or_else(|| format!("port {}", r.local_port_num)),
            chassis_id: chassis,
            port_id: port,
            port_subtype: r.port_subtype,
            port_descr: lldp::clean_text(&r.port_descr),
            sys_name: lldp::clean_text(&r.sys_name),
            sys_descr: first_line(&r.sys_descr),
            capabilities: lldp::caps_names(if r.caps_enabled != 0 {
                r.caps_enabled
            } else {
                r.caps_supported
            }),
            addresses: r.management.clone(),
        };
        if seen.insert(identity(&n)) {
            if let Some(i) = if_index {
                lldp_ports.insert(i);
            }
            out.push(n);
        }
    }
    for e in cdp {
        if lldp_ports.contains(&e.if_index) {
            continue;
        }
        let port_text = lldp::clean_text(&e.device_port);
        let if_index = ports.exists(e.if_index).then_some(e.if_index);
        let n = Neighbor {
            protocol: Protocol::Cdp,
            local_if_index: if_index,
            local_port: if_index
                .and_then(|i| ports.name(i))
                .unwrap_or_else(|| format!("ifIndex {}", e.if_index)),
            chassis_id: None,
            port_id: (!port_text.is_empty()).then(|| Id::Text(port_text.clone())),
            port_subtype: 0,
            port_descr: port_text,
            sys_name: cdp::device_name(&e.device_id),
            sys_descr: first_line(&e.platform),
            capabilities: cdp::caps_names(e.capabilities),
            addresses: e.address.into_iter().collect(),
        };
        if seen.insert(identity(&n)) {
            out.push(n);
        }
    }
    Neighborhood {
        chassis_id: lldp.local_chassis.clone(),
        advertised,
        neighbors: out,
        lag_parent,
    }
}

fn identity(n: &Neighbor) -> (Option<u32>, String, String, String) {
    (
        n.local_if_index,
        n.chassis_id.as_ref().map(Id::key).unwrap_or_default(),
        n.port_id.as_ref().map(Id::key).unwrap_or_default(),
        n.sys_name.to_lowercase(),
    )
}

fn first_line(b: &[u8]) -> String {
    let s = display_bytes(b);
    lldp::clean_text(s.lines().next().unwrap_or("").as_bytes())
}

/// True for interface names that are link aggregates (port-channels, bonds, bundles).
pub fn looks_like_lag(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let digit_after = |p: &str| {
        n.strip_prefix(p)
            .is_some_and(|r| r.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    n.starts_with("port-channel")
        || n.starts_with("bundle-ether")
        || n.starts_with("eth-trunk")
        || n.starts_with("bridge-aggregation")
        || n.starts_with("bond")
        || n.starts_with("trk")
        || digit_after("po")
        || digit_after("ae")
        || digit_after("lag")
}

/// ieee8023adLag (IANAifType 161).
pub const IF_TYPE_LAG: u32 = 161;

/// LAG membership from ifStackStatus rows (higher, lower) and dot3adAggPortAttachedAggID
/// rows (member -> aggregate). A stack entry counts when the higher layer is a LAG by ifType
/// or, failing that, by name.
pub fn lag_members(
    stack: &[(u32, u32)],
    attached: &[(u32, u32)],
    interfaces: &[InterfaceInfo],
) -> BTreeMap<u32, u32> {
    let by_index: HashMap<u32, &InterfaceInfo> =
        interfaces.iter().map(|i| (i.if_index, i)).collect();
    let is_lag = |i: u32| {
        by_index
            .get(&i)
            .is_some_and(|x| x.if_type == IF_TYPE_LAG || looks_like_lag(&display_bytes(&x.name)))
    };
    let mut out = BTreeMap::new();
    for &(member, agg) in attached {
        if member != agg && agg != 0 && by_index.contains_key(&member) && is_lag(agg) {
            out.insert(member, agg);
        }
    }
    for &(higher, lower) in stack {
        if higher != 0 && lower != 0 && higher != lower && is_lag(higher) && !is_lag(lower) {
            out.entry(lower).or_insert(higher);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mib::lldp::{LocalPort, Remote};

    fn iface(idx: u32, name: &str, mac: u8) -> InterfaceInfo {
        InterfaceInfo {
            if_index: idx,
            name: name.as_bytes().to_vec(),
            descr: name.as_bytes().to_vec(),
            phys_address: vec![0, 0, 0, 0, 0, mac],
            if_type: 6,
            ..InterfaceInfo::default()
        }
    }

    fn remote(port: u32, idx: u32, name: &[u8], port_id: &[u8]) -> Remote {
        Remote {
            time_mark: 0,
            local_port_num: port,
            index: idx,
            chassis_subtype: 4,
            chassis_id: vec![2, 0, 0, 0, 0, idx as u8],
            port_subtype: 5,
            port_id: port_id.to_vec(),
            port_descr: Vec::new(),
            sys_name: name.to_vec(),
            sys_descr: b"Linux\nsecond line".to_vec(),
            caps_supported: 0,
            caps_enabled: 0,
            management: Vec::new(),
        }
    }

    #[test]
    fn local_port_numbers_map_to_if_index_through_the_port_id_not_the_number() {
        // Bridge port numbers 1 and 2; ifIndex 10101/10102; port 1 is also an ifIndex (Vlan1).
        let ifs = vec![
            iface(1, "Vl1", 1),
            iface(10101, "Gi1/0/1", 2),
            iface(10102, "Gi1/0/2", 3),
        ];
        let mut data = LldpData::default();
        for (num, name) in [(1, "Gi1/0/1"), (2, "Gi1/0/2")] {
            data.local_ports.insert(
                num,
                LocalPort {
                    port_num: num,
                    id_subtype: 5,
                    id: name.as_bytes().to_vec(),
                    descr: b"GigabitEthernet".to_vec(),
                },
            );
        }
        data.remotes.push(remote(1, 1, b"DIST-SW-01", b"eth0"));
        data.remotes.push(remote(2, 2, b"ACCESS-SW-01", b"eth1"));
        let hood = build(&data, &[], BTreeMap::new(), &ifs);
        let got: Vec<_> = hood
            .neighbors
            .iter()
            .map(|n| (n.local_if_index, n.local_port.as_str(), n.sys_name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(10101), "Gi1/0/1", "DIST-SW-01"),
                (Some(10102), "Gi1/0/2", "ACCESS-SW-01")
            ]
        );
        assert_eq!(hood.neighbors[0].sys_descr, "Linux");
        assert_eq!(hood.advertised[0].if_index, Some(10101));
    }

    #[test]
    fn mac_and_local_subtypes_map_ports_and_unknown_numbers_fall_back_to_if_index() {
        let ifs = vec![
            iface(5, "eth0", 5),
            iface(6, "eth1", 6),
            iface(7, "eth2", 7),
        ];
        let mut data = LldpData::default();
        data.local_ports.insert(
            100,
            LocalPort {
                port_num: 100,
                id_subtype: 3,
                id: vec![0, 0, 0, 0, 0, 6],
                descr: Vec::new(),
            },
        );
        data.local_ports.insert(
            101,
            LocalPort {
                port_num: 101,
                id_subtype: 7,
                id: b"7".to_vec(),
                descr: Vec::new(),
            },
        );
        data.remotes.push(remote(100, 1, b"A", b"x"));
        data.remotes.push(remote(101, 2, b"B", b"y"));
        data.remotes.push(remote(5, 3, b"C", b"z")); // no local port row: number is ifIndex
        data.remotes.push(remote(999, 4, b"D", b"w")); // unknown port: kept, unmapped
        let hood = build(&data, &[], BTreeMap::new(), &ifs);
        let got: Vec<_> = hood.neighbors.iter().map(|n| n.local_if_index).collect();
        assert_eq!(got, vec![Some(6), Some(7), Some(5), None]);
        assert_eq!(hood.neighbors[3].local_port, "port 999");
    }

    #[test]
    fn lldp_wins_per_port_cdp_fills_the_rest_and_several_neighbours_stay() {
        let ifs = vec![iface(1, "Gi0/1", 1), iface(2, "Gi0/2", 2)];
        let mut data = LldpData::default();
        data.remotes.push(remote(1, 1, b"PEER-A", b"Gi0/9"));
        data.remotes.push(remote(1, 2, b"PEER-B", b"Gi0/9"));
        data.remotes.push(remote(1, 2, b"PEER-B", b"Gi0/9")); // duplicate row
        let cdp_rows = vec![
            CdpEntry {
                if_index: 1,
                device_index: 1,
                device_id: b"PEER-A".to_vec(),
                device_port: b"GigabitEthernet0/9".to_vec(),
                ..CdpEntry::default()
            },
            CdpEntry {
                if_index: 2,
                device_index: 1,
                device_id: b"PEER-C(FOC123)".to_vec(),
                device_port: b"Gi0/3".to_vec(),
                ..CdpEntry::default()
            },
        ];
        let hood = build(&data, &cdp_rows, BTreeMap::new(), &ifs);
        let got: Vec<_> = hood
            .neighbors
            .iter()
            .map(|n| (n.protocol, n.local_if_index, n.sys_name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Protocol::Lldp, Some(1), "PEER-A"),
                (Protocol::Lldp, Some(1), "PEER-B"),
                (Protocol::Cdp, Some(2), "PEER-C"),
            ]
        );
    }

    #[test]
    fn bad_input_binary_ids_nul_names_and_long_names_do_not_panic() {
        let ifs = vec![iface(1, "eth0", 1)];
        let mut data = LldpData::default();
        let mut r = remote(1, 1, b"EVIL\0\0NAME", b"\xff\x00\x01");
        r.chassis_subtype = 7;
        r.chassis_id = vec![0xde, 0xad, 0x00, 0xbe, 0xef];
        r.port_subtype = 7;
        data.remotes.push(r);
        data.remotes.push(remote(1, 2, &[b'X'; 300], b""));
        let hood = build(&data, &[], BTreeMap::new(), &ifs);
        assert_eq!(hood.neighbors[0].sys_name, "EVILNAME");
        assert_eq!(
            hood.neighbors[0].chassis_id.as_ref().map(|c| c.to_string()),
            Some("0xdead00beef".to_string())
        );
        assert_eq!(hood.neighbors[0].port_text(), "0xff0001");
        assert_eq!(hood.neighbors[1].sys_name.chars().count(), 255);
        assert_eq!(hood.neighbors[1].port_text(), "");
    }

    #[test]
    fn lag_members_come_from_the_stack_table_or_the_aggregator_table() {
        let mut po = iface(50, "Port-channel1", 50);
        po.if_type = 53; // propVirtual: a LAG by name only
        let mut ae = iface(60, "ae0", 60);
        ae.if_type = IF_TYPE_LAG;
        let ifs = vec![
            iface(1, "Gi0/1", 1),
            iface(2, "Gi0/2", 2),
            iface(3, "xe-0/0/0", 3),
            iface(4, "Vlan10", 4),
            po,
            ae,
        ];
        let stack = vec![(50, 1), (50, 2), (4, 1), (0, 50)];
        let attached = vec![(3, 60)];
        let m = lag_members(&stack, &attached, &ifs);
        assert_eq!(m, BTreeMap::from([(1, 50), (2, 50), (3, 60)]));
        assert!(looks_like_lag("Po12") && looks_like_lag("bond0") && !looks_like_lag("Port1"));
        assert!(!looks_like_lag("aes") && !looks_like_lag("eth0"));
    }
}
