//! Faults of the agents and of the exporter's own life, with real processes: our simulated
//! agent (tools/simagent, in this process, driven through its control API) and the real
//! exporter binary. Agent reboots that renumber interfaces (online and while unreachable),
//! slow, lossy and other-source agents beside healthy ones, SIGTERM with requests in flight,
//! and three shards splitting one agent's devices.
//!
//! Needs nothing beyond the workspace: simagent runs in-process on 127.0.0.1 (and answers
//! from 127.0.0.2 for the other-source device).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{find_sample, parse_exposition, wait_for, Exporter, Sample};
use wardflux_simagent::{synth, Agent, Hostile, Limits, Running};

/// A simulated agent with `n` devices of `interfaces` interfaces on a free port.
fn simagent(n: usize, interfaces: u32, hostile: &[(&str, Hostile)]) -> Running {
    let mut devices = synth::devices(n, interfaces);
    for (name, mode) in hostile {
        let d = devices
            .iter_mut()
            .find(|d| d.name == *name)
            .expect("hostile device exists");
        d.hostile = Some(*mode);
    }
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    wardflux_simagent::spawn(bind, Agent::new(devices, Limits::default()), Duration::ZERO)
        .expect("start simagent")
}

/// Exporter config: every device of the agent as a target named like its community.
fn config(agent: &Running, names: &[String], extra: &str) -> String {
    let mut auths = String::new();
    let mut targets = String::new();
    for n in names {
        auths.push_str(&format!("  {n}: {{version: 2, community: {n}}}\n"));
        targets.push_str(&format!(
            "  - {{name: {n}, address: \"{}\", auth: {n}}}\n",
            agent.addr
        ));
    }
    format!("{extra}auths:\n{auths}targets:\n{targets}")
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(synth::device_name).collect()
}

/// ifIndex -> ifHCInOctets of one device on /metrics.
fn hc_in(samples: &[Sample], device: &str) -> BTreeMap<u32, u64> {
    samples
        .iter()
        .filter(|s| s.name == "ifHCInOctets" && s.label("device") == device)
        .map(|s| {
            (
                s.label("ifIndex").parse().unwrap(),
                s.value.parse().unwrap(),
            )
        })
        .collect()
}

/// Every (metric, ifName) of a device appears once: no stale series of an old ifIndex.
fn assert_one_series_per_interface(samples: &[Sample], device: &str) {
    let mut seen = BTreeMap::new();
    for s in samples.iter().filter(|s| s.label("device") == device) {
        let Some(idx) = s.labels.get("ifIndex") else {
            continue;
        };
        if let Some(old) = seen.insert((s.name.clone(), s.label("ifName").to_string()), idx) {
            panic!(
                "{device}: {} of {} under ifIndex {old} and {idx}",
                s.name,
                s.label("ifName")
            );
        }
    }
}

#[test]
fn a_reboot_that_renumbers_interfaces_moves_every_series_and_leaves_none_behind() {
    let agent = simagent(2, 4, &[]);
    let devs = names(2);
    let mut ex = Exporter::start(
        &config(
            &agent,
            &devs,
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n",
        ),
        &[],
    );
    ex.wait_devices_up(&["dev0001", "dev0002"], Duration::from_secs(30));
    let before = ex.metrics();
    let old = hc_in(&before, "dev0001");
    assert_eq!(old.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    let other_before = hc_in(&before, "dev0002");

    agent.reboot("dev0001", 100);
    let after = wait_for(
        "dev0001's series under the new ifIndexes",
        Duration::from_secs(30),
        || {
            let m = ex.metrics();
            (hc_in(&m, "dev0001").keys().copied().collect::<Vec<_>>() == [101, 102, 103, 104])
                .then_some(m)
        },
    );
    assert_one_series_per_interface(&after, "dev0001");
    let stale: Vec<&Sample> = after
        .iter()
        .filter(|s| {
            s.label("device") == "dev0001"
                && s.labels
                    .get("ifIndex")
                    .or(s.labels.get("if_index"))
                    .is_some_and(|i| i.parse::<u32>().unwrap_or(0) < 100)
        })
        .collect();
    assert!(stale.is_empty(), "series of the old ifIndexes: {stale:?}");
    // Counters restarted: a drop, which rate() takes as a reset; the same port's new series
    // starts low.
    let new = hc_in(&after, "dev0001");
    assert!(
        new[&101] < old[&1],
        "counter reset: {} then {}",
        old[&1],
        new[&101]
    );
    // From here on they only grow.
    ex.wait_next_full_poll("dev0001", Duration::from_secs(30));
    let later = hc_in(&ex.metrics(), "dev0001");
    for (idx, v) in &new {
        assert!(later[idx] >= *v, "ifIndex {idx}: {v} then {}", later[idx]);
    }
    // The other device was not disturbed.
    let other_after = hc_in(&ex.metrics(), "dev0002");
    assert_eq!(
        other_after.keys().collect::<Vec<_>>(),
        other_before.keys().collect::<Vec<_>>()
    );
    for (idx, v) in &other_before {
        assert!(other_after[idx] >= *v, "dev0002 ifIndex {idx} went down");
    }
    let log = ex.log();
    assert!(
        log.lines()
            .any(|l| l.contains("dev0001") && l.contains("reboot") && l.contains("rediscovering")),
        "the reboot is logged:\n{log}"
    );
}

#[test]
fn a_reboot_while_unreachable_is_noticed_when_the_device_answers_again() {
    let agent = simagent(1, 3, &[]);
    let mut ex = Exporter::start(
        &config(
            &agent,
            &names(1),
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 500ms\nretries: 0\n",
        ),
        &[],
    );
    ex.wait_devices_up(&["dev0001"], Duration::from_secs(30));
    agent.set_hostile("dev0001", Some(Hostile::Silent));
    wait_for("dev0001 down", Duration::from_secs(30), || {
        (ex.device("dev0001")["up"] == false).then_some(())
    });
    // Rebooted while nobody could ask, with its interfaces numbered anew.
    agent.reboot("dev0001", 50);
    agent.set_hostile("dev0001", None);
    let m = wait_for(
        "dev0001 back with its new ifIndexes",
        Duration::from_secs(30),
        || {
            let m = ex.metrics();
            (hc_in(&m, "dev0001").keys().copied().collect::<Vec<_>>() == [51, 52, 53]).then_some(m)
        },
    );
    assert_one_series_per_interface(&m, "dev0001");
    assert_eq!(ex.device("dev0001")["up"], true);
}

#[test]
fn slow_lossy_and_other_source_agents_get_the_right_status_and_others_keep_their_interval() {
    let agent = simagent(
        5,
        4,
        &[
            ("dev0002", Hostile::Slow(400)),
            ("dev0003", Hostile::Lossy(7)),
            ("dev0004", Hostile::OtherSource([127, 0, 0, 2])),
            ("dev0005", Hostile::Silent),
        ],
    );
    let mut ex = Exporter::start(
        &config(
            &agent,
            &names(5),
            "poll_interval: 3s\ndiscovery_interval: 1h\ntimeout: 500ms\nretries: 2\n",
        ),
        &[],
    );
    ex.wait_devices_up(&["dev0001", "dev0002", "dev0003"], Duration::from_secs(60));
    let other = wait_for("dev0004's reason", Duration::from_secs(60), || {
        let d = ex.device("dev0004");
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("answers come from"))
            .then_some(d)
    });
    assert_eq!(other["up"], false);
    let err = other["last_error"].as_str().unwrap();
    assert!(err.contains("127.0.0.2"), "names the other address: {err}");
    let silent = wait_for("dev0005 down", Duration::from_secs(60), || {
        let d = ex.device("dev0005");
        d["last_error"].is_string().then_some(d)
    });
    assert_eq!(silent["up"], false);
    assert!(
        silent["last_error"]
            .as_str()
            .unwrap()
            .contains("no response after 3 attempts of 500ms"),
        "{silent}"
    );

    // Over a window, the healthy device is visited every interval while the others are
    // slow, lossy or dead; the slow and lossy ones stay up.
    let before = ex.polls("dev0001");
    let start = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(12));
    let window = start.elapsed().as_secs_f64();
    let after = ex.polls("dev0001");
    let due = (window / 3.0).floor() as u64;
    assert!(
        after - before + 1 >= due,
        "dev0001: {} visits in {window:.1}s at a 3s interval",
        after - before
    );
    let m = ex.metrics();
    let up = |d: &str| {
        find_sample(&m, "wardflux_device_up", &[("device", d)])
            .map(|s| s.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        [
            up("dev0001"),
            up("dev0002"),
            up("dev0003"),
            up("dev0004"),
            up("dev0005")
        ],
        ["1", "1", "1", "0", "0"].map(String::from)
    );
    let retries = find_sample(
        &m,
        "wardflux_device_snmp_retries_total",
        &[("device", "dev0003")],
    )
    .map(|s| s.f64())
    .unwrap_or(0.0);
    assert!(retries > 0.0, "the lossy device needed retries");
    let slow = ex.device("dev0002");
    assert!(
        slow["poll_duration_seconds"].as_f64().unwrap() >= 0.4,
        "the slow device answered slowly: {slow}"
    );
    let log = ex.log();
    assert!(
        log.lines()
            .any(|l| l.contains("device=dev0004") && l.contains("reason=other_source")),
        "a warning with the reason:\n{log}"
    );
    ex.assert_running();
}

#[test]
fn sigterm_with_requests_in_flight_exits_cleanly_and_promptly() {
    // Twenty devices answering after 2.5 s with a 4 s timeout: requests are always in flight.
    let slow: Vec<(String, Hostile)> = names(20)
        .into_iter()
        .map(|n| (n, Hostile::Slow(2500)))
        .collect();
    let slow_refs: Vec<(&str, Hostile)> = slow.iter().map(|(n, h)| (n.as_str(), *h)).collect();
    let agent = simagent(20, 4, &slow_refs);
    let mut ex = Exporter::start(
        &config(
            &agent,
            &names(20),
            "poll_interval: 5s\ndiscovery_interval: 1h\ntimeout: 4s\nretries: 1\n",
        ),
        &[],
    );
    wait_for(
        "requests in flight to every device",
        Duration::from_secs(30),
        || {
            names(20)
                .iter()
                .all(|n| agent.device_requests(n) > 0)
                .then_some(())
        },
    );
    let (status, took) = ex.terminate(Duration::from_secs(30));
    println!("exporter exit after SIGTERM with 20 requests in flight: {took:?}");
    assert!(status.success(), "clean exit: {status}");
    let log = ex.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn three_shards_poll_each_device_exactly_once_and_serve_discovery_for_their_own() {
    let n = 30;
    let agent = simagent(n, 2, &[]);
    let all = names(n);
    // One visit per device (the first), then nothing for an hour: traffic can be counted.
    let cfg = config(
        &agent,
        &all,
        "poll_interval: 1h\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\n",
    );
    let mut shards: Vec<Exporter> = (0..3)
        .map(|i| {
            Exporter::start_with_args(
                &cfg,
                &[],
                &["--shard.index", &i.to_string(), "--shard.count", "3"],
            )
        })
        .collect();
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (i, ex) in shards.iter_mut().enumerate() {
        let mine: Vec<String> = ex
            .devices()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        assert!(!mine.is_empty(), "shard {i} got no devices");
        let refs: Vec<&str> = mine.iter().map(String::as_str).collect();
        ex.wait_devices_up(&refs, Duration::from_secs(60));
        for d in mine {
            if let Some(other) = owner.insert(d.clone(), i) {
                panic!("{d} is on shards {other} and {i}");
            }
        }
        // Service discovery lists exactly this shard's devices.
        let sd: Vec<serde_json::Value> =
            serde_json::from_str(&ex.get("/api/v1/targets")).expect("targets json");
        let listed: BTreeSet<String> = sd
            .iter()
            .map(|g| g["labels"]["__param_target"].as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = owner
            .iter()
            .filter(|(_, s)| **s == i)
            .map(|(d, _)| d.clone())
            .collect();
        assert_eq!(listed, want, "shard {i}'s service discovery");
    }
    assert_eq!(
        owner.keys().cloned().collect::<Vec<_>>(),
        all,
        "every device on some shard"
    );
    // Every request a device received came from its own shard: the agent's per-device
    // counters equal the owning shard's request counters.
    let per_shard: Vec<Vec<Sample>> = shards
        .iter()
        .map(|ex| parse_exposition(&ex.get("/metrics")))
        .collect();
    for (d, s) in &owner {
        let sent = find_sample(
            &per_shard[*s],
            "wardflux_device_snmp_requests_total",
            &[("device", d)],
        )
        .map(|x| x.f64() as u64)
        .unwrap_or(0);
        assert!(sent > 0, "{d}: shard {s} sent nothing");
        assert_eq!(
            agent.device_requests(d),
            sent,
            "{d}: requests received vs sent by shard {s}"
        );
        for (o, samples) in per_shard.iter().enumerate() {
            if o != *s {
                assert!(
                    find_sample(samples, "wardflux_device_up", &[("device", d)]).is_none(),
                    "{d} also on shard {o}"
                );
            }
        }
    }
}

#[test]
fn after_a_renumbering_reboot_victoriametrics_holds_one_series_per_interface_and_no_reset() {
    let agent = simagent(1, 4, &[]);
    let mut ex = Exporter::start(
        &config(
            &agent,
            &names(1),
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n",
        ),
        &[],
    );
    ex.wait_devices_up(&["dev0001"], Duration::from_secs(30));
    let vm = common::VictoriaMetrics::start();
    let mut vmagent =
        common::Vmagent::start(&format!("http://{}/api/v1/targets", ex.addr), "1s", &vm);
    let indexes = |q: &str| -> Vec<u32> {
        let mut v: Vec<u32> = vm
            .query(q)
            .iter()
            .filter_map(|r| r["metric"]["ifIndex"].as_str()?.parse().ok())
            .collect();
        v.sort();
        v
    };
    let q = "ifHCInOctets{device=\"dev0001\"}";
    wait_for(
        "the series in VictoriaMetrics",
        Duration::from_secs(90),
        || {
            vmagent.assert_running();
            (indexes(q) == [1, 2, 3, 4]).then_some(())
        },
    );
    agent.reboot("dev0001", 100);
    wait_for(
        "only the renumbered series in VictoriaMetrics",
        Duration::from_secs(90),
        || {
            vmagent.assert_running();
            (indexes(q) == [101, 102, 103, 104]).then_some(())
        },
    );
    // Once the new series have a few samples: none of the device's series ever went down,
    // the old ones just ended (vmagent marked them stale) and the new ones start low.
    wait_for("samples of the new series", Duration::from_secs(60), || {
        let r =
            vm.query("min(count_over_time(ifHCInOctets{device=\"dev0001\",ifIndex=\"101\"}[5m]))");
        r.first()
            .and_then(|x| x["value"][1].as_str()?.parse::<f64>().ok())
            .filter(|n| *n >= 3.0)
    });
    let resets = vm.query("max(resets(ifHCInOctets{device=\"dev0001\"}[10m]))");
    assert_eq!(
        resets[0]["value"][1], "0",
        "no series of the device went down"
    );
    assert_eq!(
        vm.query("count(ifHCInOctets{device=\"dev0001\"})")[0]["value"][1],
        "4",
        "one series per interface"
    );
}
