//! Benchmark: the cost of wrap tracking (`widen::Tracker::advance`) for a fleet of 5,000
//! devices x 48 interfaces, per poll cycle, with 64-bit counters (pass-through) and with 32-bit
//! counters only (every value extended); prints figures, asserts nothing.
//!
//! Run: `cargo run --release -p wardflux-exporter --example bench_wrap`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wardflux_exporter::classify::Classifier;
use wardflux_exporter::inventory::{DeviceInventory, PollValues, TargetMeta};
use wardflux_exporter::mib::if_mib::{InterfaceInfo, POLLED};
use wardflux_exporter::mib::system::{ChangeMarkers, SystemInfo};
use wardflux_exporter::widen::Tracker;

const DEVICES: usize = 5_000;
const INTERFACES: usize = 48;
const CYCLES: u32 = 5;

fn slot(m: &str) -> usize {
    POLLED.iter().position(|p| p.metric == m).unwrap_or(0)
}

fn inventory(name: &str, hc: bool, classifier: &Classifier) -> DeviceInventory {
    let target = TargetMeta {
        name: Arc::from(name),
        address: "127.0.0.1".into(),
        auth_name: "v2".into(),
        labels: Arc::new(BTreeMap::new()),
    };
    let ifs = (1..=INTERFACES as u32)
        .map(|i| InterfaceInfo {
            if_index: i,
            descr: format!("GigabitEthernet0/{i}").into_bytes(),
            if_type: 6,
            speed: 100_000_000,
            admin_status: 1,
            oper_status: 1,
            has_hc: hc,
            has_discontinuity: !hc,
            ..InterfaceInfo::default()
        })
        .collect();
    let mut inv = DeviceInventory::build(&target, SystemInfo::default(), ifs, classifier, 1.0);
    for e in &mut inv.interfaces {
        e.class.monitored = true;
    }
    inv.poll_interval = Duration::from_secs(60);
    inv
}

/// One poll's values as `poller::poll` leaves them.
fn values(hc: bool, cycle: u32) -> PollValues {
    let c = u64::from(cycle);
    let mut v = PollValues {
        at: 60.0 * c as f64,
        markers: ChangeMarkers {
            sys_uptime: Some(100_000 + cycle * 6_000),
            ..ChangeMarkers::default()
        },
        ..PollValues::default()
    };
    let cols: &[&str] = if hc {
        &[
            "ifHCInOctets",
            "ifHCOutOctets",
            "ifHCInUcastPkts",
            "ifHCOutUcastPkts",
            "ifHCInMulticastPkts",
            "ifHCOutMulticastPkts",
            "ifHCInBroadcastPkts",
            "ifHCOutBroadcastPkts",
        ]
    } else {
        &[
            "ifInOctets",
            "ifOutOctets",
            "ifInUcastPkts",
            "ifOutUcastPkts",
            "ifCounterDiscontinuityTime",
        ]
    };
    for i in 0..INTERFACES as u64 {
        let mut counters = [None; POLLED.len()];
        let mut narrow = 0u32;
        for (k, m) in cols.iter().enumerate() {
            let s = slot(m);
            // 32-bit values move by ~1.5 GB a poll, so they wrap every few polls.
            let raw = if *m == "ifCounterDiscontinuityTime" {
                0
            } else {
                (i * 977 + k as u64 + c * 1_500_000_000) % (1 << 32)
            };
            counters[s] = Some(if hc { raw + (1 << 40) } else { raw });
            if !hc {
                narrow |= 1 << s;
            }
        }
        v.counters.push(counters);
        v.narrow.push(narrow);
    }
    v
}

fn run(hc: bool) {
    let classifier = Classifier::embedded_default();
    let invs: Vec<DeviceInventory> = (0..DEVICES)
        .map(|d| inventory(&format!("dev{d:04}"), hc, &classifier))
        .collect();
    let mut trackers: Vec<Tracker> = (0..DEVICES).map(|_| Tracker::new()).collect();
    let mut best = f64::MAX;
    let mut wraps = 0;
    for cycle in 0..=CYCLES {
        // Values are built outside the timing: the poll makes them anyway.
        let mut polls: Vec<PollValues> = (0..DEVICES).map(|_| values(hc, cycle)).collect();
        let t = Instant::now();
        for ((tr, inv), v) in trackers.iter_mut().zip(&invs).zip(polls.iter_mut()) {
            wraps += tr.advance(inv, v).wraps;
        }
        let s = t.elapsed().as_secs_f64();
        // Cycle 0 builds the trackers' state (a rediscovery); the steady state is what counts.
        if cycle > 0 {
            best = best.min(s);
        }
    }
    let label = if hc {
        "64-bit counters (pass-through)"
    } else {
        "32-bit counters (every value extended)"
    };
    let state: usize = trackers.iter().map(Tracker::state_bytes).sum();
    println!(
        "{label}: {:.1} ms per poll cycle of {DEVICES} x {INTERFACES} interfaces, {:.0} ns per device poll, {:.1} ns per interface ({wraps} wraps counted); tracker state {:.1} MB ({:.0} bytes per interface)",
        best * 1e3,
        best * 1e9 / DEVICES as f64,
        best * 1e9 / (DEVICES * INTERFACES) as f64,
        state as f64 / 1e6,
        state as f64 / (DEVICES * INTERFACES) as f64
    );
}

fn main() {
    run(true);
    run(false);
}
