//! The ISP path plan of one device: what discovery found (interface addresses, IP SLA probes,
//! BGP peers), each probe and peer tied to its uplink, the label blocks of every series, and
//! the pre-encoded OIDs a poll GETs. Pure: tables, interfaces and classifier in, plan out.
//!
//! Invariant: the poll's OIDs depend on the tables only, never on classification, so a plan
//! re-tied after a rules reload keeps the last poll's values valid.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::classify::{Classifier, InterfaceType};
use crate::inventory::{push_label as label, IfEntry};
use crate::isp_path::tie::{Net, Port, Tie};
use crate::mib::bgp::{self, Peer, PeerMib, Role};
use crate::mib::ipaddr::{self, IfAddr};
use crate::mib::rttmon::{self, Probe};
use crate::mib::{display_bytes, health::number};
use crate::snmp::walk::Column;
use crate::snmp::{EncodedOids, Oid, Value};

/// What discovery found, before classification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTables {
    pub addresses: Vec<IfAddr>,
    pub probes: Vec<Probe>,
    pub peers: Vec<Peer>,
}

/// Every column of the discovery walk (IP-MIB addresses, RTTMON probes, BGP peers), walked
/// together: a device without any of them costs one request.
pub fn discovery_columns() -> Vec<Oid> {
    let mut c = ipaddr::discovery_columns();
    c.extend(rttmon::discovery_columns());
    c.extend(bgp::discovery_columns());
    c
}

/// Decode the walk of `discovery_columns()`.
pub fn decode(columns: &[Column]) -> PathTables {
    let n_ip = ipaddr::discovery_columns().len();
    let n_rtt = rttmon::discovery_columns().len();
    let part = |from: usize, n: usize| {
        columns
            .get(from..(from + n).min(columns.len()))
            .unwrap_or(&[])
    };
    PathTables {
        addresses: ipaddr::decode(part(0, n_ip)),
        probes: rttmon::decode(part(n_ip, n_rtt)),
        peers: bgp::decode(part(n_ip + n_rtt, bgp::discovery_columns().len())),
    }
}

/// A raw polled family: name, help, counter or gauge.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub metric: &'static str,
    pub help: &'static str,
    pub counter: bool,
}

/// Every raw polled family, in render order: RTTMON, then BGP4-MIB, then cbgpPeer2.
pub fn families() -> impl Iterator<Item = Family> {
    let rtt = rttmon::POLLED.iter().map(|p| Family {
        metric: p.metric,
        help: p.help,
        counter: false,
    });
    let bgp4 = bgp::BGP4_POLLED.iter().map(|(c, _)| Family {
        metric: c.metric,
        help: c.help,
        counter: c.counter,
    });
    let cbgp = bgp::CBGP2_POLLED.iter().map(|(c, _)| Family {
        metric: c.metric,
        help: c.help,
        counter: c.counter,
    });
    rtt.chain(bgp4).chain(cbgp)
}

const BGP4_FAMILY: usize = rttmon::POLLED.len();
const CBGP2_FAMILY: usize = BGP4_FAMILY + bgp::BGP4_POLLED.len();

/// One polled raw value: its family (position in `families()`) and label block (without the
/// device's).
#[derive(Debug, Clone)]
pub struct Series {
    pub family: u8,
    pub labels: String,
}

/// Static raw families learned at discovery, in render order.
pub const STATIC_FAMILIES: [(&str, &str); 5] = [
    ("rttMonCtrlAdminTag", "A string which is used by a managing application to identify the probe; value is always 1 - 1.3.6.1.4.1.9.9.42.1.2.1.1.3"),
    ("rttMonCtrlAdminRttType", "The type of RTT operation (1 echo, 2 pathEcho, 5 udpEcho, 6 tcpConnect, 7 http, 8 dns, 9 jitter, ...) - 1.3.6.1.4.1.9.9.42.1.2.1.1.4"),
    ("rttMonEchoAdminTargetAddress", "The address of the target of the probe; value is always 1 - 1.3.6.1.4.1.9.9.42.1.2.2.1.2"),
    ("bgpPeerRemoteAs", "The remote autonomous system number of the peer - 1.3.6.1.2.1.15.3.1.9"),
    ("cbgpPeer2RemoteAs", "The remote autonomous system number of the peer - 1.3.6.1.4.1.9.9.187.1.2.5.1.11"),
];

/// A static value: its family (position in `STATIC_FAMILIES`), labels, value.
#[derive(Debug, Clone)]
pub struct StaticSeries {
    pub family: u8,
    pub labels: String,
    pub value: i128,
}

/// One probe's summary series: the full label block (device, uplink, probe, target, tag) and
/// where its latest sense and completion time are in the poll's values.
#[derive(Debug, Clone)]
pub struct ProbeSeries {
    pub labels: String,
    pub tie: Tie,
    pub sense: usize,
    pub completion: usize,
}

/// One peer's summary series (one per peer address: cbgpPeer2 where the device has it, else
/// BGP4-MIB): full label block and positions of its state, admin status and transitions.
#[derive(Debug, Clone)]
pub struct PeerSeries {
    pub labels: String,
    pub tie: Tie,
    pub state: usize,
    pub admin: usize,
    pub transitions: usize,
}

/// The device's ISP path plan.
#[derive(Debug, Clone, Default)]
pub struct IspPath {
    pub tables: Arc<PathTables>,
    pub oids: EncodedOids,
    /// Parallel to `oids`.
    pub series: Vec<Series>,
    pub statics: Vec<StaticSeries>,
    pub probes: Vec<ProbeSeries>,
    pub peers: Vec<PeerSeries>,
}

/// The uplink's interface label block (ifIndex, ifName, ifAlias, interface_type,
/// isp_provider), all empty when untied.
fn uplink_labels(out: &mut String, tie: Tie, interfaces: &[IfEntry]) {
    let e = tie
        .if_index()
        .and_then(|i| interfaces.iter().find(|e| e.info.if_index == i));
    match e {
        Some(e) => {
            let _ = write!(out, ",ifIndex=\"{}\"", e.info.if_index);
            label(out, "ifName", &display_bytes(&e.info.name));
            label(out, "ifAlias", &display_bytes(&e.info.alias));
            label(out, "interface_type", e.class.interface_type.as_str());
            label(
                out,
                "isp_provider",
                e.class.isp_provider.as_deref().unwrap_or(""),
            );
        }
        None => out.push_str(
            ",ifIndex=\"\",ifName=\"\",ifAlias=\"\",interface_type=\"\",isp_provider=\"\"",
        ),
    }
}

impl IspPath {
    fn add(&mut self, oid: &Oid, family: usize, labels: &str) -> usize {
        // Every OID here starts 1.3.6.1 and encodes; a failure would shift nothing.
        if self.oids.push(oid).is_err() {
            return usize::MAX;
        }
        self.series.push(Series {
            family: family as u8,
            labels: labels.to_string(),
        });
        self.series.len() - 1
    }

    /// Plan the polls of `tables` and tie each probe and peer to an uplink of `interfaces`
    /// (as classified), with `device_labels` first in every summary's label block.
    pub fn build(
        tables: Arc<PathTables>,
        device_labels: &str,
        interfaces: &[IfEntry],
        classifier: &Classifier,
    ) -> IspPath {
        let ports: Vec<Port> = interfaces
            .iter()
            .map(|e| Port {
                if_index: e.info.if_index,
                uplink: e.class.interface_type == InterfaceType::Isp,
                provider: e.class.isp_provider.clone(),
            })
            .collect();
        let net = Net {
            ports: &ports,
            addresses: &tables.addresses,
        };
        let mut plan = IspPath {
            tables: tables.clone(),
            ..IspPath::default()
        };
        let mut l = String::new();
        for p in &tables.probes {
            let tag = display_bytes(&p.tag);
            let target = p.target_text();
            l.clear();
            let _ = write!(l, "rttMonCtrlAdminIndex=\"{}\"", p.index);
            let index_only = l.clone();
            label(&mut l, "rttMonCtrlAdminTag", &tag);
            plan.statics.push(StaticSeries {
                family: 0,
                labels: l.clone(),
                value: 1,
            });
            if let Some(t) = p.rtt_type {
                plan.statics.push(StaticSeries {
                    family: 1,
                    labels: l.clone(),
                    value: t.into(),
                });
            }
            let mut tl = index_only;
            label(&mut tl, "rttMonEchoAdminTargetAddress", &target);
            plan.statics.push(StaticSeries {
                family: 2,
                labels: tl,
                value: 1,
            });
            let mut at = [usize::MAX; rttmon::POLLED.len()];
            for (k, c) in rttmon::POLLED.iter().enumerate() {
                at[k] = plan.add(&c.oid(p.index), k, &l);
            }
            let tie = net.tie_probe(p, &classifier.providers_named(&tag));
            let mut s = device_labels.to_string();
            uplink_labels(&mut s, tie, interfaces);
            let _ = write!(s, ",probe=\"{}\"", p.index);
            label(&mut s, "target", &target);
            label(&mut s, "tag", &tag);
            plan.probes.push(ProbeSeries {
                labels: s,
                tie,
                sense: at[rttmon::SENSE],
                completion: at[rttmon::COMPLETION_TIME],
            });
        }
        // cbgpPeer2 rows first: where a device has both tables, its summaries come from them.
        let mut peers: Vec<&Peer> = tables.peers.iter().collect();
        peers.sort_by_key(|p| std::cmp::Reverse(p.mib));
        let mut summarised: Vec<String> = Vec::new();
        for p in peers {
            let addr = p.addr_text();
            l.clear();
            let (family0, static_family) = match p.mib {
                PeerMib::Bgp4 => {
                    label(&mut l, "bgpPeerRemoteAddr", &addr);
                    (BGP4_FAMILY, 3)
                }
                PeerMib::CiscoPeer2 => {
                    let _ = write!(l, "cbgpPeer2Type=\"{}\"", p.addr_type);
                    label(&mut l, "cbgpPeer2RemoteAddr", &addr);
                    (CBGP2_FAMILY, 4)
                }
            };
            if let Some(a) = p.remote_as {
                plan.statics.push(StaticSeries {
                    family: static_family,
                    labels: l.clone(),
                    value: a.into(),
                });
            }
            let (mut state, mut admin, mut transitions) = (usize::MAX, usize::MAX, usize::MAX);
            for (k, (c, role)) in p.polled().iter().enumerate() {
                let at = plan.add(&p.oid(c.column), family0 + k, &l);
                match role {
                    Role::State => state = at,
                    Role::Admin => admin = at,
                    Role::Transitions => transitions = at,
                    Role::Other => {}
                }
            }
            if summarised.contains(&addr) {
                continue;
            }
            summarised.push(addr.clone());
            let tie = net.tie_peer(p.addr);
            let mut s = device_labels.to_string();
            uplink_labels(&mut s, tie, interfaces);
            label(&mut s, "peer", &addr);
            label(
                &mut s,
                "remote_as",
                &p.remote_as.map(|a| a.to_string()).unwrap_or_default(),
            );
            plan.peers.push(PeerSeries {
                labels: s,
                tie,
                state,
                admin,
                transitions,
            });
        }
        plan.oids.shrink_to_fit();
        plan
    }
}

/// A polled value as a number: integers, gauges, counters and TimeTicks (rttMonLatestRttOperTime
/// is a TimeStamp); other types are absent, never zero.
pub fn value_number(v: &Value) -> Option<i128> {
    match v {
        Value::TimeTicks(t) => Some((*t).into()),
        v => number(v),
    }
}

/// Poll answers (`None` where the agent answered for another OID) → values parallel to the
/// plan's series.
pub fn decode_values(answers: &[Option<Value>], n: usize) -> Vec<Option<i128>> {
    (0..n)
        .map(|i| {
            answers
                .get(i)
                .and_then(|a| a.as_ref())
                .and_then(value_number)
        })
        .collect()
}

/// `wardflux_isp_probe_success`: 1 when the latest sense is ok(1), else 0; `None` unanswered.
pub fn probe_success(p: &ProbeSeries, values: &[Option<i128>]) -> Option<u8> {
    let sense = values.get(p.sense).copied().flatten()?;
    Some(u8::from(sense == rttmon::SENSE_OK))
}

/// `wardflux_isp_probe_rtt_seconds`: the latest completion time, only after a success.
pub fn probe_rtt_seconds(p: &ProbeSeries, values: &[Option<i128>]) -> Option<f64> {
    if probe_success(p, values)? != 1 {
        return None;
    }
    let ms = values.get(p.completion).copied().flatten()?;
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

/// `wardflux_bgp_peer_up`: 1 when established(6), else 0; `None` for a peer stopped by its
/// admin status (an agent that does not answer the admin status counts as started).
pub fn peer_up(p: &PeerSeries, values: &[Option<i128>]) -> Option<u8> {
    if values.get(p.admin).copied().flatten() == Some(bgp::ADMIN_STOP) {
        return None;
    }
    let state = values.get(p.state).copied().flatten()?;
    Some(u8::from(state == bgp::ESTABLISHED))
}

/// `wardflux_bgp_peer_established_transitions_total`.
pub fn peer_transitions(p: &PeerSeries, values: &[Option<i128>]) -> Option<i128> {
    values
        .get(p.transitions)
        .copied()
        .flatten()
        .filter(|v| *v >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{DeviceInventory, TargetMeta};
    use crate::mib::if_mib::InterfaceInfo;
    use crate::mib::system::SystemInfo;

    fn s(b: &[u8]) -> Value {
        Value::OctetString(b.to_vec())
    }

    fn iface(i: u32, name: &str, alias: &str) -> InterfaceInfo {
        InterfaceInfo {
            if_index: i,
            name: name.as_bytes().to_vec(),
            descr: name.as_bytes().to_vec(),
            alias: alias.as_bytes().to_vec(),
            if_type: 6,
            admin_status: 1,
            oper_status: 1,
            ..InterfaceInfo::default()
        }
    }

    /// Recording-shaped columns of an IOS branch router (see `discovery_columns()` order).
    fn columns() -> Vec<Column> {
        let c = |rows: Vec<(Vec<u32>, Value)>| rows;
        vec![
            c(vec![
                (vec![169, 254, 10, 2], Value::Integer(1)),
                (vec![169, 254, 20, 2], Value::Integer(2)),
                (vec![10, 1, 1, 1], Value::Integer(3)),
            ]),
            c(vec![
                (
                    vec![169, 254, 10, 2],
                    Value::IpAddress([255, 255, 255, 252]),
                ),
                (
                    vec![169, 254, 20, 2],
                    Value::IpAddress([255, 255, 255, 252]),
                ),
                (vec![10, 1, 1, 1], Value::IpAddress([255, 255, 255, 0])),
            ]),
            vec![],
            vec![],
            c(vec![
                (vec![10], s(b"ISP1-MAGTI")),
                (vec![20], s(b"silknet dns")),
                (vec![30], s(b"")),
            ]),
            c(vec![
                (vec![10], Value::Integer(1)),
                (vec![20], Value::Integer(1)),
                (vec![30], Value::Integer(1)),
            ]),
            c(vec![
                (vec![10], s(&[8, 8, 8, 8])),
                (vec![20], s(&[1, 1, 1, 1])),
                (vec![30], s(&[9, 9, 9, 9])),
            ]),
            c(vec![
                (vec![10], s(&[169, 254, 10, 2])),
                (vec![20], s(&[0, 0, 0, 0])),
                (vec![30], s(&[10, 9, 9, 9])),
            ]),
            vec![],
            c(vec![
                (vec![169, 254, 10, 1], Value::Integer(65001)),
                (vec![198, 51, 100, 1], Value::Integer(65009)),
            ]),
            c(vec![
                (vec![1, 4, 169, 254, 10, 1], Value::Unsigned32(65001)),
                (vec![1, 4, 169, 254, 20, 1], Value::Unsigned32(65002)),
            ]),
        ]
    }

    fn inventory() -> DeviceInventory {
        let target = TargetMeta {
            name: Arc::from("Isani-1111"),
            address: "127.0.0.1:161".into(),
            auth_name: "v2".into(),
            labels: Arc::default(),
        };
        DeviceInventory::build(
            &target,
            SystemInfo::default(),
            vec![
                iface(1, "Gi0/0", "ISP1_Magti_Internet"),
                iface(2, "Gi0/1", "ISP2 Silknet FTTB"),
                iface(3, "Gi0/2", "LAN users"),
            ],
            &Classifier::embedded_default(),
            1.0,
        )
    }

    #[test]
    fn discovery_columns_walk_all_three_mibs() {
        let c = discovery_columns();
        assert_eq!(c.len(), 11);
        assert_eq!(c[4].to_string(), "1.3.6.1.4.1.9.9.42.1.2.1.1.3");
        assert_eq!(c[10].to_string(), "1.3.6.1.4.1.9.9.187.1.2.5.1.11");
    }

    #[test]
    fn probes_and_peers_are_tied_and_planned() {
        let inv = inventory();
        assert_eq!(
            inv.interfaces[0].class.isp_provider.as_deref(),
            Some("magti")
        );
        let t = Arc::new(decode(&columns()));
        assert_eq!(t.addresses.len(), 3);
        let plan = IspPath::build(
            t,
            "device=\"Isani-1111\"",
            &inv.interfaces,
            &Classifier::embedded_default(),
        );
        // 3 probes x 4 columns, 2 BGP4 peers x 6, 2 cbgpPeer2 peers x 4.
        assert_eq!(plan.oids.len(), 12 + 12 + 8);
        assert_eq!(plan.series.len(), plan.oids.len());
        assert_eq!(
            plan.oids.oid(2).to_string(),
            "1.3.6.1.4.1.9.9.42.1.2.10.1.2.10"
        );
        assert_eq!(
            plan.probes[0].labels,
            "device=\"Isani-1111\",ifIndex=\"1\",ifName=\"Gi0/0\",ifAlias=\"ISP1_Magti_Internet\",interface_type=\"isp\",isp_provider=\"magti\",probe=\"10\",target=\"8.8.8.8\",tag=\"ISP1-MAGTI\""
        );
        assert_eq!(plan.probes[1].tie.if_index(), Some(2), "by its tag");
        assert_eq!(
            plan.probes[2].labels,
            "device=\"Isani-1111\",ifIndex=\"\",ifName=\"\",ifAlias=\"\",interface_type=\"\",isp_provider=\"\",probe=\"30\",target=\"9.9.9.9\",tag=\"\"",
            "sourced from an unknown subnet, no tag: untied"
        );
        assert_eq!(
            plan.series[0].labels,
            "rttMonCtrlAdminIndex=\"10\",rttMonCtrlAdminTag=\"ISP1-MAGTI\""
        );
        // Peers: cbgpPeer2 first; 169.254.10.1 summarised once.
        let peers: Vec<(&str, Option<u32>)> = plan
            .peers
            .iter()
            .map(|p| (p.labels.split("peer=").nth(1).unwrap(), p.tie.if_index()))
            .collect();
        assert_eq!(
            peers,
            [
                ("\"169.254.10.1\",remote_as=\"65001\"", Some(1)),
                ("\"169.254.20.1\",remote_as=\"65002\"", Some(2)),
                ("\"198.51.100.1\",remote_as=\"65009\"", None),
            ]
        );
        let cbgp = &plan.series[plan.peers[0].state];
        assert_eq!(
            cbgp.labels,
            "cbgpPeer2Type=\"1\",cbgpPeer2RemoteAddr=\"169.254.10.1\""
        );
        assert_eq!(
            families().nth(cbgp.family.into()).unwrap().metric,
            "cbgpPeer2State"
        );
        let statics: Vec<(&str, &str, i128)> = plan
            .statics
            .iter()
            .map(|s| {
                (
                    STATIC_FAMILIES[s.family as usize].0,
                    s.labels.as_str(),
                    s.value,
                )
            })
            .filter(|s| s.0.contains("RemoteAs"))
            .collect();
        assert_eq!(
            statics,
            [
                (
                    "cbgpPeer2RemoteAs",
                    "cbgpPeer2Type=\"1\",cbgpPeer2RemoteAddr=\"169.254.10.1\"",
                    65001
                ),
                (
                    "cbgpPeer2RemoteAs",
                    "cbgpPeer2Type=\"1\",cbgpPeer2RemoteAddr=\"169.254.20.1\"",
                    65002
                ),
                (
                    "bgpPeerRemoteAs",
                    "bgpPeerRemoteAddr=\"169.254.10.1\"",
                    65001
                ),
                (
                    "bgpPeerRemoteAs",
                    "bgpPeerRemoteAddr=\"198.51.100.1\"",
                    65009
                ),
            ]
        );
    }

    #[test]
    fn summaries_follow_sense_state_and_admin_status() {
        let inv = inventory();
        let plan = IspPath::build(
            Arc::new(decode(&columns())),
            "device=\"x\"",
            &inv.interfaces,
            &Classifier::embedded_default(),
        );
        let mut v = vec![None; plan.oids.len()];
        let p = &plan.probes[0];
        assert_eq!(probe_success(p, &v), None, "unanswered: no series");
        v[p.sense] = Some(1);
        v[p.completion] = Some(12);
        assert_eq!(probe_success(p, &v), Some(1));
        assert_eq!(probe_rtt_seconds(p, &v), Some(0.012));
        v[p.sense] = Some(4); // timeout
        assert_eq!(probe_success(p, &v), Some(0));
        assert_eq!(probe_rtt_seconds(p, &v), None, "no RTT of a failed run");
        let q = &plan.peers[0];
        v[q.state] = Some(6);
        assert_eq!(peer_up(q, &v), Some(1), "admin status unanswered: started");
        v[q.admin] = Some(2);
        v[q.state] = Some(3);
        assert_eq!(peer_up(q, &v), Some(0));
        v[q.admin] = Some(1);
        assert_eq!(
            peer_up(q, &v),
            None,
            "admin-stopped peers have no up series"
        );
        v[q.transitions] = Some(-1);
        assert_eq!(peer_transitions(q, &v), None);
        v[q.transitions] = Some(3);
        assert_eq!(peer_transitions(q, &v), Some(3));
        let vals = decode_values(
            &[
                Some(Value::TimeTicks(5)),
                Some(s(b"6")),
                None,
                Some(Value::Counter32(7)),
            ],
            5,
        );
        assert_eq!(vals, vec![Some(5), None, None, Some(7), None]);
    }

    #[test]
    fn hostile_rows_are_exposed_untied() {
        let inv = inventory();
        let mut cols = columns();
        // A probe out of an interface the router does not have, one whose source is 3 octets;
        // a BGP4-MIB peer whose index arc is no octet, a cbgpPeer2 row with a lying length.
        cols[4] = vec![(vec![1], s(b"magti")), (vec![2], s(b""))];
        cols[5] = vec![];
        cols[6] = vec![(vec![1], s(&[8, 8, 8, 8])), (vec![2], s(b"\xff\""))];
        cols[7] = vec![(vec![2], s(&[169, 254, 10]))];
        cols[8] = vec![(vec![1], Value::Integer(99))];
        cols[9] = vec![(vec![169, 254, 10, 300], Value::Integer(65001))];
        cols[10] = vec![(vec![1, 9, 169, 254, 10, 1], Value::Unsigned32(65001))];
        let plan = IspPath::build(
            Arc::new(decode(&cols)),
            "device=\"x\"",
            &inv.interfaces,
            &Classifier::embedded_default(),
        );
        let untied = ",ifIndex=\"\",ifName=\"\",ifAlias=\"\",interface_type=\"\",isp_provider=\"\"";
        assert_eq!(plan.probes.len(), 2);
        assert_eq!(plan.peers.len(), 2);
        for p in &plan.probes {
            assert!(p.labels.contains(untied), "{}", p.labels);
        }
        for p in &plan.peers {
            assert!(p.labels.contains(untied), "{}", p.labels);
        }
        assert!(plan.probes[0]
            .labels
            .ends_with("probe=\"1\",target=\"8.8.8.8\",tag=\"magti\""));
        assert!(
            plan.probes[1].labels.contains("target=\"ff:22\""),
            "{}",
            plan.probes[1].labels
        );
        let peers: Vec<&str> = plan
            .peers
            .iter()
            .map(|p| p.labels.split("peer=").nth(1).unwrap())
            .collect();
        assert_eq!(
            peers,
            [
                "\"1.9.169.254.10.1\",remote_as=\"65001\"",
                "\"169.254.10.300\",remote_as=\"65001\""
            ]
        );
        // Raw rows stay under their index as the agent sent it.
        assert!(plan
            .series
            .iter()
            .any(|s| s.labels == "cbgpPeer2Type=\"1\",cbgpPeer2RemoteAddr=\"1.9.169.254.10.1\""));
    }

    #[test]
    fn a_device_without_the_mibs_plans_nothing() {
        let inv = inventory();
        let plan = IspPath::build(
            Arc::new(decode(&[])),
            "device=\"x\"",
            &inv.interfaces,
            &Classifier::embedded_default(),
        );
        assert!(plan.oids.is_empty() && plan.statics.is_empty());
        assert!(plan.probes.is_empty() && plan.peers.is_empty());
    }
}
