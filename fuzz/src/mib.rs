//! Every MIB table the exporter reads, decoded from hostile data, two ways:
//!
//! - [`run`]: a device as `.snmprec` text (`oid|type|value` lines, as snmpsim records them, so
//!   real recordings seed it) served by the in-memory agent: the full discovery (system group,
//!   IF-MIB, EtherLike, LLDP, CDP, ifStackTable, 802.3ad, health, ISP path), classification, a counter poll, the
//!   `/metrics` exposition, neighbour metrics and the topology graph of that device.
//!   An optional first line `#! v1 max=N reps=N` picks SNMPv1 (no GETBULK), a tooBig limit
//!   and GETBULK max-repetitions. Extra types 128/129/130 are noSuchObject, noSuchInstance and
//!   endOfMibView.
//! - [`run_columns`]: each decoder on arbitrary walked columns and varbinds (device health
//!   tables and their plan, ISP path addresses, probes, peers, ties and summaries included).
//!
//! Checked besides "no panic": every exposition line that is not a comment ends in a number.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use wardflux_exporter::classify::Classifier;
use wardflux_exporter::inventory::{DeviceInventory, Inventory, TargetMeta};
use wardflux_exporter::isp_path::plan as path;
use wardflux_exporter::metrics;
use wardflux_exporter::mib::if_mib::{self, InterfaceInfo, POLLED};
use wardflux_exporter::mib::{cdp, display_bytes, health, ipaddr, lldp, rttmon, system};
use wardflux_exporter::snmp::fake::FakeAgent;
use wardflux_exporter::snmp::walk::{Column, WalkLimits};
use wardflux_exporter::snmp::{Oid, Value};
use wardflux_exporter::topology::config::TopologyConfig;
use wardflux_exporter::topology::{graph, neighbor};
use wardflux_exporter::{poller, topology};
use wardflux_simagent::data::Value as RecValue;
use wardflux_simagent::snmprec::{parse_oid, parse_value};

use crate::gen::{block_on, FArc, FValue, FVarBind};

/// The embedded rules, compiled once per process (compiling them is most of the cost).
pub fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(Classifier::embedded_default)
}

fn value_of(kind: &str, text: &str) -> Option<Value> {
    Some(match kind {
        "128" => Value::NoSuchObject,
        "129" => Value::NoSuchInstance,
        "130" => Value::EndOfMibView,
        _ => match parse_value(kind, text)? {
            RecValue::Integer(i) => Value::Integer(i),
            RecValue::OctetString(b) => Value::OctetString(b),
            RecValue::Null => Value::Null,
            RecValue::Oid(o) => Value::ObjectIdentifier(Oid(o)),
            RecValue::IpAddress(b) => {
                Value::IpAddress(<[u8; 4]>::try_from(b.as_slice()).unwrap_or_default())
            }
            RecValue::Counter32(c) => Value::Counter32(c),
            RecValue::Gauge32(c) => Value::Unsigned32(c),
            RecValue::TimeTicks(c) => Value::TimeTicks(c),
            RecValue::Opaque(b) => Value::Opaque(b),
            RecValue::Counter64(c) => Value::Counter64(c),
        },
    })
}

/// Agent settings from the optional `#!` first line.
struct Options {
    bulk: bool,
    max_varbinds: Option<usize>,
    max_repetitions: u32,
}

fn options(first: &str) -> Options {
    let mut o = Options {
        bulk: true,
        max_varbinds: None,
        max_repetitions: 25,
    };
    if let Some(rest) = first.strip_prefix("#!") {
        for w in rest.split_whitespace() {
            match w.split_once('=') {
                None if w == "v1" => o.bulk = false,
                Some(("max", n)) => o.max_varbinds = n.parse().ok(),
                Some(("reps", n)) => o.max_repetitions = n.parse().unwrap_or(25),
                _ => {}
            }
        }
    }
    o
}

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    let opts = options(text.lines().next().unwrap_or(""));
    let mut mib = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '|');
        let (Some(oid), Some(kind), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Some(oid), Some(v)) = (parse_oid(oid), value_of(kind, value)) {
            mib.insert(Oid(oid), v);
        }
    }
    let mut agent = FakeAgent::new(mib);
    agent.bulk = opts.bulk;
    agent.max_varbinds = opts.max_varbinds;
    let target = TargetMeta {
        name: Arc::from("fuzz-rtr-01"),
        address: "127.0.0.1:161".into(),
        auth_name: "fuzz".into(),
        labels: Arc::new(BTreeMap::from([("site".to_string(), "lab".to_string())])),
    };
    let mut limits = WalkLimits {
        max_repetitions: opts.max_repetitions.min(1000),
        max_varbinds: 60,
    };
    let Ok(inv) = block_on(poller::discover(
        &mut agent,
        &target,
        &mut limits,
        classifier(),
    )) else {
        return;
    };
    let values = block_on(poller::poll(&mut agent, &inv, &mut limits)).ok();
    let inventory = Inventory::new();
    inventory.upsert_target(Arc::new(target));
    inventory.update("fuzz-rtr-01", |d| {
        d.inventory = Some(Arc::new(inv));
        d.values = values.map(Arc::new);
        d.health.up = true;
        d.health.polls = 1;
    });
    let devices = inventory.snapshot();
    let mut out = metrics::render_devices(&devices, &Default::default());
    metrics::render_totals(&mut out, &devices);
    topology::metrics::render_neighbors(&mut out, &devices);
    check_exposition(&out);
    let views = graph::views(&devices);
    let topo = graph::build(&views, &TopologyConfig::default());
    let _ = topology::http::topology_json(&views, &topo);
    let _ = graph::neighbors_of(&views, 0);
}

/// Every sample line of the text format ends in a number after its labels.
fn check_exposition(out: &str) {
    for line in out.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(
            value.parse::<f64>().is_ok(),
            "exposition line without a value: {line:?}"
        );
    }
}

#[derive(Debug, Arbitrary)]
struct Row(Vec<FArc>, FValue);

fn column(rows: Vec<Row>) -> Column {
    rows.into_iter()
        .map(|Row(s, v)| (s.iter().take(40).map(FArc::get).collect(), v.into()))
        .collect()
}

#[derive(Debug, Arbitrary)]
struct Columns {
    system: Vec<FVarBind>,
    if_cols: Vec<Vec<Row>>,
    duplex: Vec<Row>,
    chassis: Vec<FVarBind>,
    lldp_cols: Vec<Vec<Row>>,
    cdp_cols: Vec<Vec<Row>>,
    stack: Vec<(u32, u32)>,
    attached: Vec<(u32, u32)>,
    raw: Vec<u8>,
    subtype: u8,
    caps: u32,
    health_cols: Vec<Vec<Row>>,
    path_cols: Vec<Vec<Row>>,
    index: Vec<FArc>,
}

pub fn run_columns(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(c) = Columns::arbitrary(&mut u) else {
        return;
    };
    let mut sys_bases = system::system_oids().to_vec();
    sys_bases.extend(system::marker_oids());
    sys_bases.extend(lldp::local_chassis_oids());
    let sys: Vec<_> = c
        .system
        .into_iter()
        .map(|v| v.resolve(&sys_bases))
        .collect();
    let _ = system::decode_system(&sys);
    let _ = system::check_types(&sys);
    // Marker answers as a poll sees them: a value, or None where the agent answered for
    // another OID (every third one here).
    let markers: Vec<Option<Value>> = sys
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (i % 3 != 2).then(|| v.clone()))
        .collect();
    let m = system::decode_markers(&markers);
    let later = system::decode_markers(&markers[markers.len() / 2..]);
    let _ = system::rediscovery_reason(&m, &later, sys.len() as f64 * 7.5);

    let if_cols: Vec<Column> = c.if_cols.into_iter().take(16).map(column).collect();
    let infos: Vec<InterfaceInfo> = if_mib::decode_interfaces(&if_cols, &column(c.duplex));
    let mut counters = [None; POLLED.len()];
    for (i, (oid, v)) in sys.iter().enumerate() {
        let slot = i % POLLED.len();
        let asked = infos
            .get(i % infos.len().max(1))
            .map(|f| POLLED[slot].oid(f.if_index))
            .unwrap_or_else(|| oid.clone());
        // The poller stores a value only when the answer's OID is the asked one.
        if_mib::store_value(&mut counters, slot, (*oid == asked).then_some(v));
        if_mib::store_value(&mut counters, slot, Some(v));
    }
    for i in &infos {
        let _ = i.speed_bps();
        let _ = display_bytes(&i.alias);
        let _ = neighbor::looks_like_lag(&display_bytes(&i.name));
    }

    let chassis_vbs: Vec<_> = c
        .chassis
        .into_iter()
        .map(|v| v.resolve(&lldp::local_chassis_oids()))
        .collect();
    let chassis = lldp::decode_local_chassis(&chassis_vbs);
    let lldp_cols: Vec<Column> = c.lldp_cols.into_iter().take(16).map(column).collect();
    let lldp_data = lldp::decode(chassis, &lldp_cols);
    let cdp_cols: Vec<Column> = c.cdp_cols.into_iter().take(8).map(column).collect();
    let cdp_rows = cdp::decode(&cdp_cols);
    for r in &cdp_rows {
        let _ = cdp::device_name(&r.device_id);
        let _ = cdp::caps_names(r.capabilities);
    }
    let lags = neighbor::lag_members(&c.stack, &c.attached, &infos);
    let hood = neighbor::build(&lldp_data, &cdp_rows, lags, &infos);
    for n in &hood.neighbors {
        let _ = n.port_text();
        let _ = n.display_name();
    }

    for id in [
        lldp::Id::chassis(c.subtype, &c.raw),
        lldp::Id::port(c.subtype, &c.raw),
    ] {
        let _ = id.key();
        let _ = id.to_string();
    }
    let _ = lldp::mac_from_bytes(&c.raw);
    let _ = lldp::network_address(&c.raw);
    let _ = lldp::printable(&c.raw);
    let _ = lldp::clean_text(&c.raw);
    let _ = lldp::caps_names(lldp::caps_bits(&c.raw));
    let _ = cdp::caps_names(c.caps);
    let _ = metrics::mac(&c.raw);

    // Device health: the discovery walk, the CPUs' names, the plan, and poll answers.
    let health_cols: Vec<Column> = c.health_cols.into_iter().take(24).map(column).collect();
    let mut tables = health::decode(&health_cols);
    let _ = health::physical_name_oids(&tables);
    health::apply_physical_names(&mut tables, &sys);
    let plan = health::HealthPlan::build(&tables);
    let values = health::decode_values(&markers, plan.series.len());
    for cpu in &plan.cpus {
        let _ = values
            .get(cpu.value)
            .copied()
            .flatten()
            .map(health::cpu_ratio);
    }
    for m in &plan.memory {
        let _ = health::memory_used_ratio(m, &values);
    }
    let _ = display_bytes(&c.raw);

    // ISP path: interface addresses, probes and peers, tied to the interfaces decoded above,
    // the plan, and poll answers through the summaries.
    let path_cols: Vec<Column> = c.path_cols.into_iter().take(12).map(column).collect();
    let tables = Arc::new(path::decode(&path_cols));
    let target = TargetMeta {
        name: Arc::from("fuzz"),
        address: "127.0.0.1:161".into(),
        auth_name: "v2".into(),
        labels: Arc::default(),
    };
    let mut inv = DeviceInventory::build(
        &target,
        system::SystemInfo::default(),
        infos,
        classifier(),
        0.0,
    );
    inv.tie_isp_path(&target, tables, classifier());
    let values = path::decode_values(&markers, inv.isp_path.series.len());
    for p in &inv.isp_path.probes {
        let _ = (
            path::probe_success(p, &values),
            path::probe_rtt_seconds(p, &values),
        );
    }
    for p in &inv.isp_path.peers {
        let _ = (
            path::peer_up(p, &values),
            path::peer_transitions(p, &values),
        );
    }
    let arcs: Vec<u32> = c.index.iter().take(40).map(FArc::get).collect();
    let _ = ipaddr::inet_index(&arcs);
    let _ = ipaddr::ipv4_index(&arcs);
    let _ = ipaddr::addr_from_octets(&c.raw);
    let _ = rttmon::octets_text(&c.raw);
}
