//! Which ISP uplink an IP SLA probe or a BGP peer is about. Pure: the device's interfaces
//! (ifIndex, classified `isp` or not, provider), its addresses and a probe or peer in, a tie
//! or the reason for none out. Only interfaces classified `isp` are uplinks; ambiguous or
//! missing evidence gives no tie, never a guess.
//!
//! Probes, first rule that applies decides:
//! 1. an output interface (rttMonEchoAdminOutputInterface): that interface, if it is an uplink;
//! 2. a source address (rttMonEchoAdminSourceAddress): the interface owning that address, else
//!    the one whose subnet holds it with the longest prefix, if it is an uplink (an address
//!    on no known subnet passes on to the tag);
//! 3. the tag (rttMonCtrlAdminTag): the one uplink whose provider is the one provider the tag
//!    names (provider ids and aliases of the classification rules, case-insensitive).
//!
//! BGP peers: the interface whose subnet holds the peer address (longest prefix), if it is an
//! uplink.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::mib::ipaddr::IfAddr;
use crate::mib::rttmon::Probe;

/// What the tie rules know of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub if_index: u32,
    /// Classified `isp`.
    pub uplink: bool,
    /// The classified provider (uplinks only).
    pub provider: Option<Arc<str>>,
}

/// How a tie was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    OutputInterface,
    SourceAddress,
    Tag,
    PeerSubnet,
}

/// Why there is no tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untied {
    /// The evidence points at an interface the device does not have.
    UnknownInterface,
    /// The evidence points at an interface that is not an ISP uplink.
    NotAnUplink,
    /// Two or more interfaces (or providers) fit equally.
    Ambiguous,
    /// The tag names no provider, or no uplink has the provider it names.
    NoProvider,
    /// The address is on no known subnet (peers), or the probe has no evidence at all.
    NoEvidence,
    /// The peer's index carries no well-formed address.
    NoAddress,
}

/// The outcome for one probe or peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tie {
    To(u32, By),
    None(Untied),
}

impl Tie {
    /// The uplink's ifIndex, if tied.
    pub fn if_index(&self) -> Option<u32> {
        match self {
            Tie::To(i, _) => Some(*i),
            Tie::None(_) => None,
        }
    }
}

/// A device's interfaces and addresses, for tying.
#[derive(Debug, Clone, Default)]
pub struct Net<'a> {
    pub ports: &'a [Port],
    pub addresses: &'a [IfAddr],
}

enum Owner {
    One(u32),
    Ambiguous,
    Nobody,
}

impl Net<'_> {
    fn port(&self, if_index: u32) -> Option<&Port> {
        self.ports.iter().find(|p| p.if_index == if_index)
    }

    /// The interface owning `a`, else the one whose subnet holds `a` with the longest prefix.
    fn owner(&self, a: &IpAddr) -> Owner {
        let exact: BTreeSet<u32> = self
            .addresses
            .iter()
            .filter(|x| x.addr == *a)
            .map(|x| x.if_index)
            .collect();
        if !exact.is_empty() {
            return one(exact);
        }
        let Some(best) = self
            .addresses
            .iter()
            .filter(|x| x.subnet_holds(a))
            .map(|x| x.prefix)
            .max()
        else {
            return Owner::Nobody;
        };
        one(self
            .addresses
            .iter()
            .filter(|x| x.prefix == best && x.subnet_holds(a))
            .map(|x| x.if_index)
            .collect())
    }

    fn uplink(&self, if_index: u32, by: By) -> Tie {
        match self.port(if_index) {
            Some(p) if p.uplink => Tie::To(if_index, by),
            Some(_) => Tie::None(Untied::NotAnUplink),
            None => Tie::None(Untied::UnknownInterface),
        }
    }

    /// Tie a probe; `tag_providers` are the providers its tag names.
    pub fn tie_probe(&self, p: &Probe, tag_providers: &[Arc<str>]) -> Tie {
        if let Some(i) = p.output_if {
            return self.uplink(i, By::OutputInterface);
        }
        if let Some(src) = &p.source {
            match self.owner(src) {
                Owner::One(i) => return self.uplink(i, By::SourceAddress),
                Owner::Ambiguous => return Tie::None(Untied::Ambiguous),
                Owner::Nobody => {}
            }
        }
        match tag_providers {
            [] => Tie::None(if p.tag.is_empty() && p.source.is_none() {
                Untied::NoEvidence
            } else {
                Untied::NoProvider
            }),
            [named] => {
                let of: Vec<u32> = self
                    .ports
                    .iter()
                    .filter(|u| u.uplink && u.provider.as_deref() == Some(named))
                    .map(|u| u.if_index)
                    .collect();
                match of[..] {
                    [i] => Tie::To(i, By::Tag),
                    [] => Tie::None(Untied::NoProvider),
                    _ => Tie::None(Untied::Ambiguous),
                }
            }
            _ => Tie::None(Untied::Ambiguous),
        }
    }

    /// Tie a BGP peer by its address.
    pub fn tie_peer(&self, addr: Option<IpAddr>) -> Tie {
        let Some(a) = addr else {
            return Tie::None(Untied::NoAddress);
        };
        match self.owner(&a) {
            Owner::One(i) => self.uplink(i, By::PeerSubnet),
            Owner::Ambiguous => Tie::None(Untied::Ambiguous),
            Owner::Nobody => Tie::None(Untied::NoEvidence),
        }
    }
}

fn one(set: BTreeSet<u32>) -> Owner {
    let mut it = set.into_iter();
    match (it.next(), it.next()) {
        (Some(i), None) => Owner::One(i),
        (None, _) => Owner::Nobody,
        _ => Owner::Ambiguous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(i: u32, uplink: bool, provider: Option<&str>) -> Port {
        Port {
            if_index: i,
            uplink,
            provider: provider.map(Arc::from),
        }
    }

    fn addr(i: u32, a: &str, prefix: u8) -> IfAddr {
        IfAddr {
            if_index: i,
            addr: a.parse().unwrap(),
            prefix,
        }
    }

    /// A branch router: Gi0/0 (1) Magti, Gi0/1 (2) Silknet, Gi0/2 (3) LAN, Lo0 (4), and a
    /// second Magti uplink (5) on its own subnet; an uplink of an unnamed ISP (6).
    fn branch() -> (Vec<Port>, Vec<IfAddr>) {
        (
            vec![
                port(1, true, Some("magti")),
                port(2, true, Some("silknet")),
                port(3, false, None),
                port(4, false, None),
                port(6, true, None),
            ],
            vec![
                addr(1, "169.254.10.2", 30),
                addr(1, "2001:db8:10::2", 64),
                addr(2, "169.254.20.2", 30),
                addr(3, "10.1.0.1", 16),
                addr(4, "10.1.255.1", 32),
                addr(6, "169.254.60.2", 30),
                // Two interfaces on one subnet (a misconfiguration or a bridge).
                addr(1, "192.0.2.1", 24),
                addr(2, "192.0.2.2", 24),
            ],
        )
    }

    fn probe(output_if: Option<u32>, source: Option<&str>, tag: &str) -> Probe {
        Probe {
            index: 1,
            tag: tag.as_bytes().to_vec(),
            output_if,
            source: source.map(|s| s.parse().unwrap()),
            ..Probe::default()
        }
    }

    #[test]
    fn probe_ties() {
        let (ports, addresses) = branch();
        let net = Net {
            ports: &ports,
            addresses: &addresses,
        };
        let magti: Vec<Arc<str>> = vec![Arc::from("magti")];
        let silknet: Vec<Arc<str>> = vec![Arc::from("silknet")];
        let both: Vec<Arc<str>> = vec![Arc::from("magti"), Arc::from("silknet")];
        let veon: Vec<Arc<str>> = vec![Arc::from("veon")];
        let none: Vec<Arc<str>> = vec![];
        use By::*;
        use Untied::*;
        let cases: Vec<(&str, Probe, &[Arc<str>], Tie)> = vec![
            (
                "output interface an uplink",
                probe(Some(2), None, ""),
                &none,
                Tie::To(2, OutputInterface),
            ),
            (
                "output interface wins over source and tag",
                probe(Some(2), Some("169.254.10.2"), "magti"),
                &magti,
                Tie::To(2, OutputInterface),
            ),
            (
                "output interface the LAN",
                probe(Some(3), None, "magti"),
                &magti,
                Tie::None(NotAnUplink),
            ),
            (
                "output interface unknown",
                probe(Some(99), None, "magti"),
                &magti,
                Tie::None(UnknownInterface),
            ),
            (
                "source = the uplink's own address",
                probe(None, Some("169.254.10.2"), ""),
                &none,
                Tie::To(1, SourceAddress),
            ),
            (
                "source in the uplink's subnet",
                probe(None, Some("169.254.20.1"), ""),
                &none,
                Tie::To(2, SourceAddress),
            ),
            (
                "IPv6 source",
                probe(None, Some("2001:db8:10::99"), ""),
                &none,
                Tie::To(1, SourceAddress),
            ),
            (
                "source wins over a contrary tag",
                probe(None, Some("169.254.10.2"), "silknet"),
                &silknet,
                Tie::To(1, SourceAddress),
            ),
            (
                "source on the loopback (longest prefix)",
                probe(None, Some("10.1.255.1"), "magti"),
                &magti,
                Tie::None(NotAnUplink),
            ),
            (
                "source on the LAN",
                probe(None, Some("10.1.7.7"), "magti"),
                &magti,
                Tie::None(NotAnUplink),
            ),
            (
                "source on a subnet of two uplinks",
                probe(None, Some("192.0.2.9"), "magti"),
                &magti,
                Tie::None(Ambiguous),
            ),
            (
                "source on no subnet: the tag decides",
                probe(None, Some("203.0.113.5"), "ISP1 Magti"),
                &magti,
                Tie::To(1, Tag),
            ),
            (
                "tag alone",
                probe(None, None, "silknet"),
                &silknet,
                Tie::To(2, Tag),
            ),
            (
                "tag naming two providers",
                probe(None, None, "magti/silknet"),
                &both,
                Tie::None(Ambiguous),
            ),
            (
                "tag naming a provider with no uplink here",
                probe(None, None, "veon"),
                &veon,
                Tie::None(NoProvider),
            ),
            (
                "tag naming nobody",
                probe(None, None, "dns check"),
                &none,
                Tie::None(NoProvider),
            ),
            (
                "no evidence at all",
                probe(None, None, ""),
                &none,
                Tie::None(NoEvidence),
            ),
        ];
        for (name, p, named, want) in cases {
            assert_eq!(net.tie_probe(&p, named), want, "{name}");
        }
        // Two uplinks of the same provider: the tag cannot choose.
        let mut two = ports.clone();
        two.push(port(7, true, Some("magti")));
        let net = Net {
            ports: &two,
            addresses: &addresses,
        };
        assert_eq!(
            net.tie_probe(&probe(None, None, "magti"), &magti),
            Tie::None(Ambiguous)
        );
    }

    #[test]
    fn peer_ties() {
        let (ports, addresses) = branch();
        let net = Net {
            ports: &ports,
            addresses: &addresses,
        };
        let p = |s: &str| Some(s.parse().unwrap());
        use By::*;
        use Untied::*;
        let cases: Vec<(&str, Option<IpAddr>, Tie)> = vec![
            ("Magti's router", p("169.254.10.1"), Tie::To(1, PeerSubnet)),
            (
                "Silknet's router",
                p("169.254.20.1"),
                Tie::To(2, PeerSubnet),
            ),
            ("IPv6 peer", p("2001:db8:10::1"), Tie::To(1, PeerSubnet)),
            (
                "an ISP without a provider name is still an uplink",
                p("169.254.60.1"),
                Tie::To(6, PeerSubnet),
            ),
            ("iBGP on the LAN", p("10.1.0.2"), Tie::None(NotAnUplink)),
            (
                "multihop peer on no subnet",
                p("198.51.100.1"),
                Tie::None(NoEvidence),
            ),
            (
                "peer on a subnet of two uplinks",
                p("192.0.2.77"),
                Tie::None(Ambiguous),
            ),
            ("malformed index", None, Tie::None(NoAddress)),
        ];
        for (name, a, want) in cases {
            assert_eq!(net.tie_peer(a), want, "{name}");
        }
        let empty = Net::default();
        assert_eq!(empty.tie_peer(p("169.254.10.1")), Tie::None(NoEvidence));
        assert_eq!(
            empty.tie_probe(&probe(Some(1), None, ""), &[]),
            Tie::None(UnknownInterface)
        );
    }
}
