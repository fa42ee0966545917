//! Benchmark: what the device environment MIBs (CISCO-ENVMON-MIB, CISCO-ENTITY-SENSOR-MIB,
//! ENTITY-SENSOR-MIB, and the ENTITY-MIB walk that names and ties sensors) cost in SNMP
//! requests, per discovery and per poll, on real recordings (snmpsim-data) served by the
//! in-memory agent with the exporter's default limits (max-repetitions 25, 50 OIDs per
//! request). Prints the figures, asserts nothing.
//!
//! Run: `cargo run -p wardflux-exporter --example bench_envmon` (request counts: any profile)
//! (needs bzip2 and PyPI snmpsim-data, or `WARDFLUX_SNMPSIM_DATA`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use wardflux_exporter::classify::Classifier;
use wardflux_exporter::inventory::TargetMeta;
use wardflux_exporter::snmp::fake::FakeAgent;
use wardflux_exporter::snmp::walk::WalkLimits;
use wardflux_exporter::snmp::{Oid, Value};
use wardflux_exporter::{envmon, poller};
use wardflux_simagent::data::Value as RecValue;
use wardflux_simagent::snmprec::{parse_oid, parse_value};

const RECORDINGS: [&str; 7] = [
    "network/switch/cisco-c3750",
    "network/switch/cisco-c3560",
    "network/appliance/cisco-unknown-01",
    "network/switch/cisco-n5000",
    "cloud/arista-dcs-7150s-52-cl",
    "network/router/cisco-unmarked-0",
    "network/firewall/topsec-ngfw4000-uf",
];

fn data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("WARDFLUX_SNMPSIM_DATA") {
        return PathBuf::from(d);
    }
    let out = Command::new("python3")
        .args(["-c", "import os, snmpsim_data; print(os.path.join(os.path.dirname(snmpsim_data.__file__), 'data'))"])
        .output()
        .expect("python3 with snmpsim-data");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn load(name: &str) -> BTreeMap<Oid, Value> {
    let path = data_dir().join(format!("{name}.snmprec.bz2"));
    let out = Command::new("bzcat").arg(&path).output().expect("bzcat");
    let mut mib = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut p = line.splitn(3, '|');
        let (Some(oid), Some(kind), Some(value)) = (p.next(), p.next(), p.next()) else {
            continue;
        };
        let v = match parse_value(kind, value) {
            Some(RecValue::Integer(i)) => Value::Integer(i),
            Some(RecValue::OctetString(b)) => Value::OctetString(b),
            Some(RecValue::Oid(o)) => Value::ObjectIdentifier(Oid(o)),
            Some(RecValue::IpAddress(b)) => {
                Value::IpAddress(<[u8; 4]>::try_from(b.as_slice()).unwrap_or_default())
            }
            Some(RecValue::Counter32(c)) => Value::Counter32(c),
            Some(RecValue::Gauge32(c)) => Value::Unsigned32(c),
            Some(RecValue::TimeTicks(c)) => Value::TimeTicks(c),
            Some(RecValue::Counter64(c)) => Value::Counter64(c),
            Some(RecValue::Opaque(b)) => Value::Opaque(b),
            Some(RecValue::Null) | None => continue,
        };
        if let Some(o) = parse_oid(oid) {
            mib.insert(Oid(o), v);
        }
    }
    mib
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn main() {
    let classifier = Classifier::embedded_default();
    println!("| recording | environment series polled (OIDs) | static series | discovery: all requests / of them environment | poll: all requests / of them environment |");
    println!("|---|---|---|---|---|");
    for name in RECORDINGS {
        let mut agent = FakeAgent::new(load(name));
        let target = TargetMeta {
            name: Arc::from(name),
            address: "127.0.0.1:161".into(),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::new()),
        };
        let mut limits = WalkLimits {
            max_repetitions: 25,
            max_varbinds: 50,
        };
        let Ok(inv) = block_on(poller::discover(
            &mut agent,
            &target,
            &mut limits,
            &classifier,
        )) else {
            println!("| {name} | discovery failed | | | |");
            continue;
        };
        let discovery = agent.stats.requests;
        // The environment's own share: its discovery again, on a fresh agent's counters.
        let infos: Vec<_> = inv.interfaces.iter().map(|e| e.info.clone()).collect();
        let before = agent.stats.requests;
        let plan = block_on(envmon::discover(&mut agent, name, &infos, &mut limits));
        let env_discovery = agent.stats.requests - before;
        let before = agent.stats.requests;
        let _ = block_on(poller::poll(&mut agent, &inv, &mut limits));
        let poll = agent.stats.requests - before;
        let before = agent.stats.requests;
        let _ = block_on(envmon::poll(&mut agent, &plan, &mut limits));
        let env_poll = agent.stats.requests - before;
        println!(
            "| {name} | {} | {} | {discovery} / {env_discovery} | {poll} / {env_poll} |",
            plan.series.len(),
            plan.statics.len(),
        );
    }
}
