//! 32-bit counters under real polling: our simulated agent (tools/simagent, in this process)
//! serves a camera with ifTable only whose ifInOctets starts just below 2^32 and moves 40 MB a
//! second, and the real exporter binary polls it every second. The counter wraps: the wide
//! counter `wardflux_if_in_octets_total` goes past 2^32 by exactly what the agent's counter
//! shows, and the wrap is counted. Then the agent reboots (sysUpTime and counters from zero):
//! that is a reset counted from zero, never a wrap.
//!
//! Needs nothing beyond the workspace.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{find_sample, wait_for, Exporter, Sample};
use wardflux_simagent::{synth, Agent, Limits};

const WRAP: u64 = 1 << 32;
const RATE: u32 = 40_000_000;

fn value(samples: &[Sample], name: &str, device: &str) -> Option<u64> {
    samples
        .iter()
        .find(|s| s.name == name && s.label("device") == device)
        .and_then(|s| s.value.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// (ifInOctets, wardflux_if_in_octets_total, wraps counted, sysUpTime) of one /metrics page:
/// every number of a page comes from the same poll.
fn read(ex: &Exporter, device: &str) -> Option<(u64, u64, u64, u64)> {
    let s = ex.metrics();
    Some((
        value(&s, "ifInOctets", device)?,
        value(&s, "wardflux_if_in_octets_total", device)?,
        value(&s, "wardflux_device_if_wraps_total", device)?,
        value(&s, "wardflux_device_uptime_seconds", device)?,
    ))
}

#[test]
fn a_32_bit_counter_wraps_and_a_reboot_resets_it_under_real_polling() {
    let name = "cam0001";
    // 2.5 s of traffic before the wrap.
    let start = (WRAP - 100_000_000) as u32;
    let device = synth::counter32_device(name, 1_000_000_000, start, RATE);
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let agent = wardflux_simagent::spawn(
        bind,
        Agent::new(vec![device], Limits::default()),
        Duration::ZERO,
    )
    .expect("start simagent");
    let cfg = format!(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 2s\n\
         auths:\n  {name}: {{version: 2, community: {name}}}\n\
         targets:\n  - {{name: {name}, address: \"{}\", auth: {name}}}\n",
        agent.addr
    );
    let mut ex = Exporter::start(&cfg, &[]);
    ex.wait_devices_up(&[name], Duration::from_secs(60));

    // The camera's interface is polled with 32-bit counters and does not risk double wraps at
    // 1 Gbit/s polled every second.
    let samples = ex.metrics();
    let info = find_sample(&samples, "wardflux_interface_info", &[("device", name)])
        .expect("wardflux_interface_info");
    assert_eq!(info.label("counter_bits"), "32");
    assert_eq!(info.label("counter_wrap_risk"), "false");
    assert!(
        value(&samples, "ifHCInOctets", name).is_none(),
        "no ifXTable"
    );

    // Once the agent's counter has wrapped, the wide counter is 2^32 above it.
    let (raw, wide, wraps, _) = wait_for(
        "the agent's ifInOctets to wrap",
        Duration::from_secs(30),
        || read(&ex, name).filter(|(raw, ..)| *raw < u64::from(start)),
    );
    assert_eq!(
        wide,
        raw + WRAP,
        "wide counter after one wrap (agent says {raw})"
    );
    assert!(wraps >= 1, "the wrap was not counted");
    ex.wait_next_full_poll(name, Duration::from_secs(30));
    let (raw2, wide2, wraps2, uptime) = read(&ex, name).expect("values");
    assert_eq!(wide2, raw2 + WRAP, "and it keeps counting from there");
    assert_eq!(wraps2, wraps, "no wrap since");

    // A reboot: sysUpTime and counters start from zero. Counted as a reset from zero: the
    // wide counter grows by what the agent counted since, and no wrap is invented.
    agent.reboot(name, 0);
    let (raw3, wide3, wraps3, _) = wait_for(
        "the exporter to see the reboot",
        Duration::from_secs(30),
        || read(&ex, name).filter(|(.., up)| *up < uptime),
    );
    assert_eq!(wraps3, wraps, "a reboot counted as a wrap");
    assert!(
        raw3 < raw2,
        "the agent's counter restarted ({raw3} >= {raw2})"
    );
    assert!(
        wide3 >= wide2 + raw3,
        "wide counter went back or lost the new traffic: {wide2} then {wide3} (agent {raw3})"
    );
    // What the exporter counted beyond the agent's new value happened before the reboot,
    // between our two reads: at most a few seconds of traffic, not a wrap's 4 GB.
    assert!(
        wide3 - raw3 - wide2 < 4 * u64::from(RATE),
        "wide counter jumped at the reboot: {wide2} then {wide3} (agent {raw3})"
    );
    ex.assert_running();
    agent.stop();
}
