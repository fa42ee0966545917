//! 32-bit counters under real polling: our simulated agent (tools/simagent, in this process)
//! serves a camera with ifTable only whose ifInOctets starts just below 2^32 and moves 40 MB a
//! second, and the real exporter binary polls it every second. The counter wraps: the wide
//! counter `wardflux_if_in_octets_total` goes past 2^32 by exactly what the agent's counter
//! shows, and the wrap is counted. Then the agent reboots (sysUpTime and counters from zero):
//! that is a reset counted from zero, never a wrap.
//!
//! And the whole path for an agent without ifXTable: net-snmp snmpd in a namespace whose view
//! hides ifXTable carries a known, paced UDP stream; the exporter polls it, vmagent writes into
//! VictoriaMetrics, the ruler's engine evaluates the shipped recording rules, and the recorded
//! traffic and utilisation are within a few percent of what was sent.
//!
//! Needs: root (namespaces), Debian snmpd, snmp, victoria-metrics, vmagent, python3.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::netns::{if_index, mgmt_link, start_snmpd, Netns};
use common::{
    find_sample, require_tool, snmp_get_v2c, wait_for, Exporter, Proc, Sample, TempDir,
    VictoriaMetrics, Vmagent,
};
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

#[test]
fn an_interface_whose_counter_can_wrap_twice_per_poll_is_marked_and_logged_once() {
    // ifSpeed at its 32-bit maximum (4.29 Gbit/s) polled every 10 s: 5.4 GB could pass
    // between two polls, more than 2^32.
    let name = "nvr0001";
    let device = synth::counter32_device(name, u32::MAX, 0, 1_000_000);
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let agent = wardflux_simagent::spawn(
        bind,
        Agent::new(vec![device], Limits::default()),
        Duration::ZERO,
    )
    .expect("start simagent");
    let cfg = format!(
        "poll_interval: 10s\ndiscovery_interval: 1h\ntimeout: 2s\n\
         auths:\n  {name}: {{version: 2, community: {name}}}\n\
         targets:\n  - {{name: {name}, address: \"{}\", auth: {name}}}\n",
        agent.addr
    );
    let mut ex = Exporter::start(&cfg, &[]);
    ex.wait_devices_up(&[name], Duration::from_secs(60));
    let samples = ex.metrics();
    let info = find_sample(&samples, "wardflux_interface_info", &[("device", name)])
        .expect("wardflux_interface_info");
    assert_eq!(info.label("counter_bits"), "32");
    assert_eq!(info.label("counter_wrap_risk"), "true");
    let warning = "32-bit counters can wrap more than once per poll interval";
    let warnings = |ex: &Exporter| ex.log().matches(warning).count();
    wait_for("the wrap-risk warning", Duration::from_secs(10), || {
        (warnings(&ex) == 1).then_some(())
    });
    // Rediscovery finds the same interface: no second warning.
    let discovered = |ex: &Exporter| ex.device(name)["last_discovery"].as_f64().unwrap_or(0.0);
    let before = discovered(&ex);
    let (status, body) = ex.post(&format!("/api/v1/discover/{name}"));
    assert!(status < 300, "discover: {status} {body}");
    wait_for("the rediscovery", Duration::from_secs(30), || {
        (discovered(&ex) > before).then_some(())
    });
    ex.wait_next_full_poll(name, Duration::from_secs(60));
    assert_eq!(warnings(&ex), 1, "warned again:\n{}", ex.log());
    ex.assert_running();
    agent.stop();
}

/// Datagrams a second and UDP payload bytes of the paced stream.
const PPS: u32 = 500;
const PAYLOAD: u32 = 1000;
/// On the wire as the receiving interface counts it: payload, UDP 8, IPv4 20, Ethernet 14.
const WIRE: u32 = PAYLOAD + 8 + 20 + 14;

/// A paced UDP sender on the host: `PPS` datagrams a second to `dest`, on an absolute
/// schedule so the average rate is exact whatever the scheduler does.
fn paced_sender(dest: &str) -> Proc {
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         payload = b'x' * {PAYLOAD}\n\
         start = time.monotonic(); sent = 0\n\
         while True:\n\
         \x20   due = int((time.monotonic() - start) * {PPS})\n\
         \x20   while sent < due:\n\
         \x20       s.sendto(payload, ('{dest}', 9)); sent += 1\n\
         \x20   time.sleep(0.002)\n"
    );
    Proc::spawn(
        "paced sender",
        Command::new(require_tool("python3"))
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

fn number(v: &serde_json::Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn traffic_of_an_agent_without_if_x_table_reaches_the_recording_rules() {
    let dir = TempDir::new("counters32");
    let mut ns = Netns::new("c32");
    let mgmt = mgmt_link(&ns);
    // `camera` sees the system group and ifTable only, as agents without ifXTable answer.
    let agent = start_snmpd(
        &mut ns,
        mgmt,
        dir.path(),
        "view noifx included .1.3.6.1.2.1.1\n\
         view noifx included .1.3.6.1.2.1.2\n\
         rocommunity camera default -V noifx",
    );
    assert!(
        snmp_get_v2c(&agent, "camera", "1.3.6.1.2.1.31.1.1.1.6.1")
            .map(|v| v.contains("No Such"))
            .unwrap_or(true),
        "the view must hide ifXTable"
    );
    let idx = if_index(&ns, "mgmt0");
    let speed: f64 = snmp_get_v2c(&agent, "camera", &format!("1.3.6.1.2.1.2.2.1.5.{idx}"))
        .expect("ifSpeed of mgmt0")
        .trim()
        .parse()
        .expect("ifSpeed is a number");
    assert!(speed > 0.0, "mgmt0 has no ifSpeed");

    // The stream runs before the first poll, so every sample the rules read is under it.
    let mut sender = paced_sender(&mgmt.to_string());
    std::thread::sleep(Duration::from_secs(2));
    let mut ex = Exporter::start(
        &format!(
            "poll_interval: 5s\ndiscovery_interval: 1h\ntimeout: 2s\n\
             auths:\n  cam: {{version: 2, community: camera}}\n\
             targets:\n  - {{name: cam-01, address: \"{agent}\", auth: cam, labels: {{site: lab}}}}\n"
        ),
        &[],
    );
    ex.wait_devices_up(&["cam-01"], Duration::from_secs(60));
    let samples = ex.metrics();
    let info = find_sample(
        &samples,
        "wardflux_interface_info",
        &[("device", "cam-01"), ("if_index", &idx.to_string())],
    )
    .expect("mgmt0 in wardflux_interface_info");
    assert_eq!(info.label("counter_bits"), "32");
    assert!(
        !samples.iter().any(|s| s.name == "ifHCInOctets"),
        "ifHCInOctets served though the view hides ifXTable"
    );

    let vm = VictoriaMetrics::start();
    let mut vmagent = Vmagent::start(&format!("http://{}/api/v1/targets", ex.addr), "5s", &vm);
    let series = format!("wardflux_if_in_octets_total{{device=\"cam-01\",ifIndex=\"{idx}\"}}");
    wait_for(
        "the wide counter in VictoriaMetrics",
        Duration::from_secs(60),
        || {
            vmagent.assert_running();
            (!vm.query(&series).is_empty()).then_some(())
        },
    );
    // Evaluate at the first minute boundary with at least 40 s of samples before it.
    let first = chrono::Utc::now();
    let at = {
        let t = first + chrono::Duration::seconds(40);
        let secs = t.timestamp();
        chrono::DateTime::from_timestamp(secs - secs.rem_euclid(60) + 60, 0).expect("time")
    };
    while chrono::Utc::now() < at + chrono::Duration::seconds(3) {
        sender.assert_running();
        std::thread::sleep(Duration::from_millis(500));
    }

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let vm_url = format!("http://{}", vm.addr);
    rt.block_on(async {
        use wardflux_ruler::{config, datasource::VmClient, engine, metrics::Metrics, queue};
        let rules = config::load(
            &[format!(
                "{}/../rules/alerts/*.yml",
                env!("CARGO_MANIFEST_DIR")
            )],
            &config::LoadOptions::default(),
        )
        .expect("shipped rules load");
        let client = Arc::new(VmClient::new(&vm_url, Duration::from_secs(5)).expect("client"));
        let metrics = Arc::new(Metrics::new());
        let engine = engine::Engine::new(
            rules,
            engine::Deps {
                querier: client.clone(),
                importer: client.clone(),
                queue: queue::TransitionQueue::new(1000, metrics.clone()),
                notifier: None,
                metrics,
                baselines: None,
            },
            engine::Settings::default(),
        );
        engine.evaluate_due(at).await;
        client.force_flush().await.expect("flush");
    });
    let at_s = at.timestamp();
    let query_at = |q: &str| -> Vec<serde_json::Value> {
        let body = common::get_ok(
            &vm.addr,
            &format!("/api/v1/query?query={}&time={at_s}", common::urlencode(q)),
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("query json");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    };
    let sel = format!("device=\"cam-01\",ifIndex=\"{idx}\",direction=\"in\"");
    let sent_mbps = f64::from(PPS * WIRE) * 8.0 / 1e6;
    let traffic = wait_for("recorded traffic", Duration::from_secs(30), || {
        query_at(&format!("wardflux:if_traffic_mbps:rate5m{{{sel}}}"))
            .first()
            .map(number)
    });
    assert!(
        (traffic - sent_mbps).abs() / sent_mbps < 0.05,
        "recorded {traffic:.3} Mbps, sent {sent_mbps:.3} Mbps"
    );
    let util = query_at(&format!("wardflux:if_utilisation:ratio5m{{{sel}}}"))
        .first()
        .map(number)
        .expect("recorded utilisation (against ifSpeed)");
    let want = sent_mbps * 1e6 / speed;
    assert!(
        (util - want).abs() / want < 0.05,
        "utilisation {util:e}, sent {want:e} of ifSpeed {speed}"
    );
    let errors = query_at(&format!("wardflux:if_errors:ratio5m{{{sel}}}"));
    assert_eq!(
        errors.first().map(number),
        Some(0.0),
        "error ratio of a clean link over its packets"
    );
    eprintln!(
        "sent {sent_mbps:.3} Mbps; recorded {traffic:.3} Mbps, utilisation {util:e} of {speed} bit/s"
    );
    ns.assert_running();
    ex.assert_running();
}
