//! 32-bit interface counters extended to 64 bits, and the wide traffic counters every interface
//! gets whatever the width of its agent's counters (`wardflux_if_{in,out}_{octets,packets}_total`).
//!
//! Pure: poll values and the previous state in, wide values and tallies out; no IO, no clock
//! (poll times come with the values). One `Tracker` per device lives in the device's poll task,
//! so its state survives failed visits.
//!
//! What a new 32-bit reading means, compared with the last one of the same counter:
//! - higher or equal: the difference;
//! - lower, the agent still the same run (sysUpTime moved on as time did) and
//!   ifCounterDiscontinuityTime unchanged: a wrap, `2^32 - last + new`;
//! - lower after a restart (sysUpTime went back, or grew less than the time since) or a
//!   changed ifCounterDiscontinuityTime: a reset, the new value counted from zero (what
//!   `rate()` does for a reset); higher after one: the agent kept its counters (an snmpd restart
//!   over the kernel's counters), the difference;
//! - an ifIndex now naming another interface (type, name, description or address changed at
//!   rediscovery): a new counter, started at the agent's value.
//!
//! When the interface's speed lets the counter move by 2^32 or more between the two readings,
//! a wrap cannot be told from two: the least possible increase is counted and the reading is
//! tallied as ambiguous. `wrap_risk` says which interfaces are in that state at every poll.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::inventory::{DeviceInventory, PollValues};
use crate::mib::if_mib::{InterfaceInfo, DISCONTINUITY_SLOT};

/// A 32-bit counter's modulus.
pub const WRAP: u64 = 1 << 32;

/// The wide counters, in `Wide` order: (name, help).
pub const WIDE: [(&str, &str); 4] = [
    (
        "wardflux_if_in_octets_total",
        "Octets received, 64-bit whatever the agent's counters: ifHCInOctets where the agent has it as a Counter64, else ifInOctets (or an HC column answered with Counter32) extended across wraps by the exporter.",
    ),
    (
        "wardflux_if_out_octets_total",
        "Octets transmitted, 64-bit whatever the agent's counters: ifHCOutOctets where the agent has it as a Counter64, else ifOutOctets (or an HC column answered with Counter32) extended across wraps by the exporter.",
    ),
    (
        "wardflux_if_in_packets_total",
        "Packets received: ifHCInUcastPkts + ifHCInMulticastPkts + ifHCInBroadcastPkts where the agent has them, else ifInUcastPkts; 32-bit values extended across wraps by the exporter.",
    ),
    (
        "wardflux_if_out_packets_total",
        "Packets transmitted: ifHCOutUcastPkts + ifHCOutMulticastPkts + ifHCOutBroadcastPkts where the agent has them, else ifOutUcastPkts; 32-bit values extended across wraps by the exporter.",
    ),
];

/// One interface's wide counters, in `WIDE` order.
pub type Wide = [Option<u64>; 4];

/// For each wide counter: the HC slots (summed; the first decides whether the HC form is
/// used) and the 32-bit ifTable slot used when the first HC slot has no value.
const SOURCES: [(&[usize], usize); 4] =
    [(&[2], 14), (&[3], 15), (&[4, 6, 8], 16), (&[5, 7, 9], 17)];

/// Slots whose 32-bit values are tracked, and their position in `NarrowSet`.
const TRACKED: [usize; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17];

fn tracked_pos(slot: usize) -> Option<usize> {
    match slot {
        2..=9 => Some(slot - 2),
        14..=17 => Some(slot - 6),
        _ => None,
    }
}

/// Octets or packets: how far a counter can move per second at a given speed.
fn max_per_second(slot: usize, speed_bps: u64) -> f64 {
    let bytes = speed_bps as f64 / 8.0;
    match slot {
        2 | 3 | 14 | 15 => bytes,
        // Smallest Ethernet frame with preamble and gap: 84 bytes on the wire.
        _ => bytes / 84.0,
    }
}

/// The state of one 32-bit counter: its last raw value and the extended total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Narrow {
    pub last: u32,
    pub total: u64,
}

/// What one reading was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The first reading: the total starts at the agent's value.
    First,
    /// Same or higher than the last reading.
    Counted,
    /// Lower, and the agent did not restart: one wrap.
    Wrapped,
    /// Lower after a restart or a discontinuity: counted from zero.
    Reset,
}

/// One reading of a 32-bit counter. `restarted`: the agent restarted or the interface's
/// counters had a discontinuity since `prev`.
pub fn step(prev: Option<Narrow>, raw: u32, restarted: bool) -> (Narrow, Event) {
    let Some(p) = prev else {
        return (
            Narrow {
                last: raw,
                total: u64::from(raw),
            },
            Event::First,
        );
    };
    let (delta, event) = if raw >= p.last {
        (u64::from(raw - p.last), Event::Counted)
    } else if restarted {
        (u64::from(raw), Event::Reset)
    } else {
        (WRAP - u64::from(p.last) + u64::from(raw), Event::Wrapped)
    };
    (
        Narrow {
            last: raw,
            total: p.total.wrapping_add(delta),
        },
        event,
    )
}

/// Whether the agent restarted between two readings `elapsed` seconds apart, by sysUpTime
/// (hundredths of a second): it went back (other than its own wrap after 497 days), or grew
/// less than the time since (a restart while not polled). The slack (5 s and a tenth of the
/// gap) absorbs latency and clock drift. An unknown or frozen sysUpTime says nothing.
pub fn restarted(prev: Option<u32>, now: Option<u32>, elapsed: f64) -> bool {
    let (Some(a), Some(b)) = (prev, now) else {
        return false;
    };
    let elapsed = elapsed.max(0.0);
    let expected = f64::from(a) + elapsed * 100.0;
    let slack = 500.0 + elapsed * 10.0;
    if b < a {
        // sysUpTime itself wraps at 2^32 hundredths: then it is where time says it is.
        let wrapped_to = expected - WRAP as f64;
        return !(wrapped_to > -slack && (f64::from(b) - wrapped_to).abs() <= slack);
    }
    b > a && f64::from(b) + slack < expected
}

/// True when the interface's octet counters are 32-bit and its speed lets them move by 2^32
/// or more within `interval`: wraps can no longer be counted (poll it more often).
pub fn wrap_risk(info: &InterfaceInfo, interval: Duration) -> bool {
    info.counter_bits() == 32
        && max_per_second(2, info.speed_bps()) * interval.as_secs_f64() >= WRAP as f64
}

/// The longest poll interval at which a 32-bit octet counter of this speed cannot wrap twice.
pub fn max_interval(speed_bps: u64) -> Option<Duration> {
    (speed_bps > 0).then(|| Duration::from_secs_f64(WRAP as f64 * 8.0 / speed_bps as f64))
}

#[derive(Debug, Clone, Default)]
struct NarrowSet {
    valid: u16,
    c: [Narrow; TRACKED.len()],
}

#[derive(Debug, Clone, Default)]
struct IfState {
    if_index: u32,
    identity: u64,
    at_risk: bool,
    discontinuity: Option<u64>,
    narrow: Option<Box<NarrowSet>>,
}

/// What one poll's tracking found, for the device's health and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub wraps: u64,
    pub resets: u64,
    pub ambiguous: u64,
    /// Positions (in the inventory) of interfaces at wrap risk not seen at risk before.
    pub newly_at_risk: Vec<usize>,
}

/// One device's 32-bit counter state, parallel to its inventory's interfaces.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// Which inventory `ifs` is parallel to: (discovered_at bits, interfaces).
    plan: Option<(u64, usize)>,
    ifs: Vec<IfState>,
    prev_uptime: Option<u32>,
    prev_at: Option<f64>,
}

/// What makes an ifIndex the same interface across rediscoveries.
fn identity(info: &InterfaceInfo) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (info.if_type, &info.descr, &info.name, &info.phys_address).hash(&mut h);
    h.finish()
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Follow a new inventory: an interface keeps its state when its ifIndex names the same
    /// interface as before; a reused ifIndex starts over.
    fn rebase(&mut self, inv: &DeviceInventory, tally: &mut Tally) {
        let mut old: std::collections::HashMap<u32, IfState> = std::mem::take(&mut self.ifs)
            .into_iter()
            .map(|s| (s.if_index, s))
            .collect();
        self.ifs = inv
            .interfaces
            .iter()
            .enumerate()
            .map(|(pos, e)| {
                let id = identity(&e.info);
                let risk = e.class.monitored && wrap_risk(&e.info, inv.poll_interval);
                let mut s = match old.remove(&e.info.if_index) {
                    Some(s) if s.identity == id => s,
                    _ => IfState {
                        if_index: e.info.if_index,
                        identity: id,
                        ..IfState::default()
                    },
                };
                if risk && !s.at_risk {
                    tally.newly_at_risk.push(pos);
                }
                s.at_risk = risk;
                s
            })
            .collect();
        self.plan = Some((inv.discovered_at.to_bits(), inv.interfaces.len()));
    }

    /// Bytes this tracker holds (for the benchmark's memory figure).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Tracker>()
            + self.ifs.capacity() * std::mem::size_of::<IfState>()
            + self.ifs.iter().filter(|s| s.narrow.is_some()).count()
                * std::mem::size_of::<NarrowSet>()
    }

    /// Extend this poll's 32-bit values and fill `values.wide`.
    pub fn advance(&mut self, inv: &DeviceInventory, values: &mut PollValues) -> Tally {
        let mut tally = Tally::default();
        if self.plan != Some((inv.discovered_at.to_bits(), inv.interfaces.len())) {
            self.rebase(inv, &mut tally);
        }
        let elapsed = self.prev_at.map(|p| values.at - p).unwrap_or(0.0);
        let restart = restarted(self.prev_uptime, values.markers.sys_uptime, elapsed);
        if values.markers.sys_uptime.is_some() {
            self.prev_uptime = values.markers.sys_uptime;
        }
        self.prev_at = Some(values.at);
        let n = values.counters.len().min(self.ifs.len());
        values.wide.clear();
        values.wide.resize(values.counters.len(), [None; 4]);
        for pos in 0..n {
            let c = &values.counters[pos];
            let narrow = values.narrow.get(pos).copied().unwrap_or(0);
            let st = &mut self.ifs[pos];
            let mut wide: Wide = [None; 4];
            if narrow & TRACKED_MASK == 0 {
                // 64-bit counters: served as the agent has them.
                for (w, (hc, legacy)) in wide.iter_mut().zip(SOURCES.iter()) {
                    *w = match c[hc[0]] {
                        Some(_) => Some(hc.iter().filter_map(|&s| c[s]).sum()),
                        None => c[*legacy],
                    };
                }
                values.wide[pos] = wide;
                continue;
            }
            let disc = c[DISCONTINUITY_SLOT];
            let disc_changed = matches!((st.discontinuity, disc), (Some(a), Some(b)) if a != b);
            if disc.is_some() {
                st.discontinuity = disc;
            }
            let restarted_here = restart || disc_changed;
            let speed = inv
                .interfaces
                .get(pos)
                .map(|e| e.info.speed_bps())
                .unwrap_or(0);
            let set = st.narrow.get_or_insert_with(Box::default);
            let mut ext = [None; TRACKED.len()];
            for (k, &slot) in TRACKED.iter().enumerate() {
                let Some(raw) = c[slot] else { continue };
                if narrow & (1 << slot) == 0 {
                    ext[k] = Some(raw);
                    continue;
                }
                let prev = (set.valid & (1 << k) != 0).then_some(set.c[k]);
                let (next, event) = step(prev, raw as u32, restarted_here);
                match event {
                    Event::Wrapped => tally.wraps += 1,
                    Event::Reset => tally.resets += 1,
                    Event::First | Event::Counted => {}
                }
                if prev.is_some() && max_per_second(slot, speed) * elapsed >= WRAP as f64 {
                    tally.ambiguous += 1;
                }
                set.c[k] = next;
                set.valid |= 1 << k;
                ext[k] = Some(next.total);
            }
            for (w, (hc, legacy)) in wide.iter_mut().zip(SOURCES.iter()) {
                let at = |slot: usize| tracked_pos(slot).and_then(|k| ext[k]);
                *w = match at(hc[0]) {
                    Some(_) => Some(hc.iter().filter_map(|&s| at(s)).sum()),
                    None => at(*legacy),
                };
            }
            values.wide[pos] = wide;
        }
        tally
    }
}

const TRACKED_MASK: u32 = {
    let mut m = 0u32;
    let mut i = 0;
    while i < TRACKED.len() {
        m |= 1 << TRACKED[i];
        i += 1;
    }
    m
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_of_a_32_bit_counter() {
        let at = |last: u32, total: u64| Some(Narrow { last, total });
        // (name, previous state, raw reading, restarted, expected total, expected event)
        type Case = (&'static str, Option<Narrow>, u32, bool, u64, Event);
        let cases: &[Case] = &[
            ("first reading", None, 42, false, 42, Event::First),
            ("growth", at(100, 100), 250, false, 250, Event::Counted),
            (
                "no traffic",
                at(100, 5_000),
                100,
                false,
                5_000,
                Event::Counted,
            ),
            (
                "wrap",
                at(u32::MAX - 9, u64::from(u32::MAX - 9)),
                20,
                false,
                WRAP + 20,
                Event::Wrapped,
            ),
            (
                "wrap after earlier wraps",
                at(4_000_000_000, 3 * WRAP + 4_000_000_000),
                1_000,
                false,
                4 * WRAP + 1_000,
                Event::Wrapped,
            ),
            (
                // Two wraps in a long gap look like one: the least possible is counted
                // (and the tracker tallies the reading as ambiguous, see below).
                "double wrap in a long gap",
                at(3_000_000_000, 3_000_000_000),
                2_000_000_000,
                false,
                WRAP + 2_000_000_000,
                Event::Wrapped,
            ),
            (
                "restart: lower is a reset, counted from zero",
                at(3_000_000_000, WRAP + 3_000_000_000),
                500,
                true,
                WRAP + 3_000_000_500,
                Event::Reset,
            ),
            (
                "restart with the counters kept (snmpd over kernel counters)",
                at(3_000, 9_000),
                4_000,
                true,
                10_000,
                Event::Counted,
            ),
        ];
        for (name, prev, raw, restarted, total, event) in cases {
            let (next, ev) = step(*prev, *raw, *restarted);
            assert_eq!((next.total, ev), (*total, *event), "{name}");
            assert_eq!(next.last, *raw, "{name}");
        }
    }

    #[test]
    fn restarts_by_sys_uptime() {
        // (name, previous, now, elapsed seconds, restarted)
        type Case = (&'static str, Option<u32>, Option<u32>, f64, bool);
        let cases: &[Case] = &[
            (
                "moved on with time",
                Some(10_000),
                Some(16_000),
                60.0,
                false,
            ),
            ("went back", Some(10_000), Some(300), 60.0, true),
            (
                "restarted in a gap",
                Some(10_000),
                Some(12_000),
                600.0,
                true,
            ),
            ("frozen clock", Some(10_000), Some(10_000), 600.0, false),
            ("unknown", None, Some(10), 60.0, false),
            (
                "sysUpTime's own wrap after 497 days",
                Some(u32::MAX - 1_000),
                Some(5_000),
                60.0,
                false,
            ),
        ];
        for (name, a, b, el, want) in cases {
            assert_eq!(restarted(*a, *b, *el), *want, "{name}");
        }
    }

    use crate::classify::Classifier;
    use crate::inventory::{DeviceInventory, TargetMeta};
    use crate::mib::if_mib::{Counters, POLLED};
    use crate::mib::system::{ChangeMarkers, SystemInfo};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn slot(m: &str) -> usize {
        POLLED.iter().position(|p| p.metric == m).unwrap()
    }

    fn iface(if_index: u32, descr: &str, speed: u64, hc: bool) -> InterfaceInfo {
        InterfaceInfo {
            if_index,
            descr: descr.as_bytes().to_vec(),
            if_type: 6,
            speed,
            admin_status: 1,
            oper_status: 1,
            has_hc: hc,
            has_discontinuity: !hc,
            ..InterfaceInfo::default()
        }
    }

    fn inventory(ifs: Vec<InterfaceInfo>, discovered_at: f64) -> DeviceInventory {
        let target = TargetMeta {
            name: Arc::from("cam"),
            address: "127.0.0.1".into(),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::new()),
        };
        let mut inv = DeviceInventory::build(
            &target,
            SystemInfo::default(),
            ifs,
            &Classifier::embedded_default(),
            discovered_at,
        );
        for e in &mut inv.interfaces {
            e.class.monitored = true;
        }
        inv.poll_interval = Duration::from_secs(60);
        inv
    }

    /// A poll of 32-bit counters: (in octets, out octets, discontinuity) per interface.
    fn poll(at: f64, uptime: u32, ifs: &[(u32, u32, u32)]) -> PollValues {
        let mut v = PollValues {
            at,
            markers: ChangeMarkers {
                sys_uptime: Some(uptime),
                ..ChangeMarkers::default()
            },
            ..PollValues::default()
        };
        for &(i, o, d) in ifs {
            let mut c: Counters = [None; POLLED.len()];
            c[slot("ifInOctets")] = Some(u64::from(i));
            c[slot("ifOutOctets")] = Some(u64::from(o));
            c[slot("ifInUcastPkts")] = Some(u64::from(o));
            c[DISCONTINUITY_SLOT] = Some(u64::from(d));
            v.counters.push(c);
            v.narrow.push(
                1 << slot("ifInOctets")
                    | 1 << slot("ifOutOctets")
                    | 1 << slot("ifInUcastPkts")
                    | 1 << DISCONTINUITY_SLOT,
            );
        }
        v
    }

    #[test]
    fn a_device_poll_by_poll() {
        let near = u32::MAX - 1_000;
        // (name, seconds since start, sysUpTime, (in, out, discontinuity), in total, tally)
        type Case = (
            &'static str,
            f64,
            u32,
            (u32, u32, u32),
            u64,
            (u64, u64, u64),
        );
        let cases: &[Case] = &[
            (
                "first",
                0.0,
                100_000,
                (near, 5, 0),
                u64::from(near),
                (0, 0, 0),
            ),
            (
                "wrap",
                60.0,
                106_000,
                (9_000, 6, 0),
                WRAP + 9_000,
                (1, 0, 0),
            ),
            (
                "growth",
                120.0,
                112_000,
                (19_000, 7, 0),
                WRAP + 19_000,
                (0, 0, 0),
            ),
            (
                "discontinuity: lower is a reset",
                180.0,
                118_000,
                (1_000, 8, 117_000),
                WRAP + 20_000,
                (0, 1, 0),
            ),
            (
                "growth again",
                240.0,
                124_000,
                (3_000, 9, 117_000),
                WRAP + 22_000,
                (0, 0, 0),
            ),
            (
                "device restart: lower is a reset",
                300.0,
                1_000,
                (500, 1, 117_000),
                WRAP + 22_500,
                (0, 3, 0),
            ),
            (
                // 100 Mbit/s for 400 s: 5 GB could have passed, more than 2^32: the least
                // possible is counted and both octet readings are ambiguous.
                "long gap",
                700.0,
                41_000,
                (400, 2, 117_000),
                2 * WRAP + 22_400,
                (1, 0, 2),
            ),
        ];
        let inv = inventory(vec![iface(3, "eth0", 100_000_000, false)], 1.0);
        let mut t = Tracker::new();
        for (name, at, up, (i, o, d), want_in, (wraps, resets, ambiguous)) in cases {
            let mut v = poll(*at, *up, &[(*i, *o, *d)]);
            let tally = t.advance(&inv, &mut v);
            assert_eq!(v.wide[0][0], Some(*want_in), "{name}: in octets");
            assert_eq!(
                (tally.wraps, tally.resets, tally.ambiguous),
                (*wraps, *resets, *ambiguous),
                "{name}: tally"
            );
        }
    }

    #[test]
    fn interfaces_at_wrap_risk_are_reported_once_and_if_index_reuse_starts_over() {
        let inv = inventory(
            vec![
                iface(1, "eth0", 1_000_000_000, false),
                iface(2, "eth1", 10_000_000, false),
                iface(3, "Gi0/3", 10_000_000_000, true),
            ],
            1.0,
        );
        assert!(wrap_risk(&inv.interfaces[0].info, inv.poll_interval));
        assert!(!wrap_risk(&inv.interfaces[1].info, inv.poll_interval));
        assert!(
            !wrap_risk(&inv.interfaces[2].info, inv.poll_interval),
            "64-bit"
        );
        let mut t = Tracker::new();
        let mut v = poll(0.0, 100, &[(10, 10, 0), (4_000_000_000, 20, 0), (0, 0, 0)]);
        assert_eq!(t.advance(&inv, &mut v).newly_at_risk, vec![0]);
        let mut v = poll(60.0, 6_100, &[(20, 10, 0), (10, 20, 0), (0, 0, 0)]);
        let tally = t.advance(&inv, &mut v);
        assert!(tally.newly_at_risk.is_empty());
        assert_eq!(v.wide[1][0], Some(WRAP + 10), "eth1 wrapped");
        // Rediscovery: the same interfaces again keep their state and are not reported again...
        let same = inventory(inv.interfaces.iter().map(|e| e.info.clone()).collect(), 2.0);
        let mut v = poll(120.0, 12_100, &[(30, 10, 0), (20, 20, 0), (0, 0, 0)]);
        let tally = t.advance(&same, &mut v);
        assert!(tally.newly_at_risk.is_empty());
        assert_eq!(v.wide[1][0], Some(WRAP + 20));
        // ...but ifIndex 2 now naming another interface is a new counter.
        let reused = inventory(
            vec![
                iface(1, "eth0", 1_000_000_000, false),
                iface(2, "wlan0", 10_000_000, false),
            ],
            3.0,
        );
        let mut v = poll(180.0, 18_100, &[(40, 10, 0), (5, 20, 0)]);
        t.advance(&reused, &mut v);
        assert_eq!(
            v.wide[1][0],
            Some(5),
            "reused ifIndex starts at the agent's value"
        );
        assert_eq!(v.wide[0][0], Some(40), "eth0 kept");
    }

    #[test]
    fn sixty_four_bit_counters_pass_through_and_packets_sum() {
        let inv = inventory(vec![iface(1, "Gi0/1", 1_000_000_000, true)], 1.0);
        let mut c: Counters = [None; POLLED.len()];
        c[slot("ifHCInOctets")] = Some(1 << 40);
        c[slot("ifHCOutOctets")] = Some(7);
        c[slot("ifHCInUcastPkts")] = Some(100);
        c[slot("ifHCInMulticastPkts")] = Some(10);
        c[slot("ifHCInBroadcastPkts")] = Some(1);
        let mut v = PollValues {
            counters: vec![c],
            narrow: vec![0],
            ..PollValues::default()
        };
        Tracker::new().advance(&inv, &mut v);
        assert_eq!(v.wide[0], [Some(1 << 40), Some(7), Some(111), None]);
    }

    #[test]
    fn hc_columns_answered_with_counter32_are_extended() {
        let mut info = iface(1, "port1", 100_000_000, false);
        info.hc32 = true;
        let inv = inventory(vec![info], 1.0);
        let mut t = Tracker::new();
        for (at, raw, want) in [
            (0.0, u32::MAX - 5, u64::from(u32::MAX - 5)),
            (60.0, 4, WRAP + 4),
        ] {
            let mut c: Counters = [None; POLLED.len()];
            c[slot("ifHCInOctets")] = Some(u64::from(raw));
            let mut v = PollValues {
                counters: vec![c],
                narrow: vec![1 << slot("ifHCInOctets")],
                at,
                ..PollValues::default()
            };
            t.advance(&inv, &mut v);
            assert_eq!(v.wide[0][0], Some(want));
        }
    }

    #[test]
    fn poll_interval_each_speed_needs() {
        let secs = |bps| max_interval(bps).unwrap().as_secs_f64();
        assert!((secs(100_000_000) - 343.6).abs() < 0.1);
        assert!((secs(1_000_000_000) - 34.36).abs() < 0.01);
        assert_eq!(max_interval(0), None);
    }
}
