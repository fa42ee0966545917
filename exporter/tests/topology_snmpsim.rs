//! Topology discovery against real device recordings replayed by snmpsim: CDP from a Cisco
//! 3750 (125 neighbours, up to 45 on one port), LLDP (and CDP) from a Nexus 5000 and LLDP from
//! a Juniper MX960 whose lldpRemLocalPortNum is a local port number mapped through
//! lldpLocPortTable.
//!
//! Expectations are read straight from the `.snmprec` files with a small parser of their own,
//! independent of the exporter's decoders.
//!
//! Needs: Debian snmpsim (snmpsimd), snmp, bzip2, python3; PyPI snmpsim-data (the recordings).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{community_of, require_tool, snmp_get_v2c, wait_for, Exporter, Snmpsim};

const RECORDINGS: [&str; 3] = [
    "network/switch/cisco-c3750",
    "network/switch/cisco-n5000-uk9",
    "network/router/juniper-mx960-12-3r6-6",
];

/// A recording as OID -> raw value bytes (hex `4x` decoded, other types as written).
fn parse_snmprec(text: &str) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '|');
        let (Some(oid), Some(kind), Some(val)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let bytes = if kind.ends_with('x') {
            (0..val.len() / 2)
                .filter_map(|i| u8::from_str_radix(&val[2 * i..2 * i + 2], 16).ok())
                .collect()
        } else {
            val.as_bytes().to_vec()
        };
        m.insert(oid.to_string(), bytes);
    }
    m
}

/// Rows of a column: index suffix (dotted) -> value.
fn column<'a>(rec: &'a BTreeMap<String, Vec<u8>>, col: &str) -> Vec<(Vec<u32>, &'a [u8])> {
    let prefix = format!("{col}.");
    rec.range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| {
            let idx = k[prefix.len()..]
                .split('.')
                .filter_map(|p| p.parse().ok())
                .collect();
            (idx, v.as_slice())
        })
        .collect()
}

/// Text as the exporter shows it: UTF-8 kept, each invalid byte as `\xNN`, NULs dropped.
fn text(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.extend(chunk.valid().chars().filter(|c| *c != '\0'));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out.trim().to_string()
}

fn if_names(rec: &BTreeMap<String, Vec<u8>>) -> BTreeMap<u32, String> {
    column(rec, "1.3.6.1.2.1.31.1.1.1.1")
        .into_iter()
        .filter_map(|(i, v)| Some((*i.first()?, text(v))))
        .collect()
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// snmpsimd serving the recordings on 127.0.0.1, each under its file name as community,
/// stopped on drop; returns once every recording answers. `key` names its data directory
/// (one per test: the tests run in parallel).
fn start_snmpsim(key: &str) -> Snmpsim {
    let sim = Snmpsim::start(key, &RECORDINGS);
    for r in RECORDINGS {
        wait_for("snmpsimd to answer", Duration::from_secs(240), || {
            snmp_get_v2c(&sim.addr(), community_of(r), "1.3.6.1.2.1.1.5.0").ok()
        });
    }
    sim
}

fn recording(sim: &Snmpsim, name: &str) -> BTreeMap<String, Vec<u8>> {
    let p = sim.data_dir.join(format!("{name}.snmprec"));
    parse_snmprec(&std::fs::read_to_string(p).expect("read recording"))
}

/// (protocol, local interface, neighbour name or chassis id) of every neighbour the API lists.
fn listed(exp: &Exporter, device: &str) -> Vec<(String, String, String, String)> {
    let v = exp.json(&format!("/api/v1/devices/{device}/neighbors"));
    let mut out: Vec<_> = v["neighbors"]
        .as_array()
        .expect("neighbors")
        .iter()
        .map(|n| {
            (
                n["protocol"].as_str().unwrap_or("").to_string(),
                n["local_interface"].as_str().unwrap_or("").to_string(),
                n["neighbor_name"].as_str().unwrap_or("").to_string(),
                n["chassis_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn recordings_yield_cdp_and_lldp_neighbours_on_the_right_ports() {
    require_tool("snmpget");
    let sim = start_snmpsim("topology-snmpsim");
    let addr = sim.addr();
    let mut cfg = String::from(
        "poll_interval: 30s\ndiscovery_interval: 1h\ntimeout: 5s\nretries: 1\nauths:\n",
    );
    for c in RECORDINGS.map(community_of) {
        cfg.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
    }
    cfg.push_str("targets:\n");
    for c in RECORDINGS.map(community_of) {
        cfg.push_str(&format!(
            "  - {{name: {c}, address: \"{addr}\", auth: {c}}}\n"
        ));
    }
    let exp = Exporter::start(&cfg, &[]);
    wait_for(
        "discovery of all recordings",
        Duration::from_secs(180),
        || {
            let d = exp.json("/api/v1/devices");
            d.as_array()?
                .iter()
                .all(|x| x["last_discovery"].is_number())
                .then_some(())
        },
    );

    // Cisco 3750: CDP only, every cdpCacheTable row on its port, several per port.
    let rec = recording(&sim, "cisco-c3750");
    let names = if_names(&rec);
    let mut want: Vec<(String, String, String, String)> =
        column(&rec, "1.3.6.1.4.1.9.9.23.1.2.1.1.6")
            .into_iter()
            .map(|(i, v)| {
                let dev = text(v);
                let dev = match dev.find('(') {
                    Some(p) if p > 0 && dev.ends_with(')') => dev[..p].to_string(),
                    _ => dev,
                };
                ("cdp".to_string(), names[&i[0]].clone(), dev, String::new())
            })
            .collect();
    want.sort();
    let got = listed(&exp, "cisco-c3750");
    assert_eq!(got.len(), 125);
    assert_eq!(got, want);
    let per_port: BTreeMap<&str, usize> = got.iter().fold(BTreeMap::new(), |mut m, n| {
        *m.entry(n.1.as_str()).or_default() += 1;
        m
    });
    assert!(per_port.values().any(|&c| c > 1), "{per_port:?}");

    // Nexus 5000 and MX960: every lldpRemTable row on the ifIndex its local port maps to
    // (lldpLocPortId: interface MAC written as text on NX-OS, the ifIndex as "local" text on
    // Junos), identified by chassis id; CDP only where LLDP says nothing.
    for dev in ["cisco-n5000-uk9", "juniper-mx960-12-3r6-6"] {
        let rec = recording(&sim, dev);
        let names = if_names(&rec);
        let sys: BTreeMap<Vec<u32>, String> = column(&rec, "1.0.8802.1.1.2.1.4.1.1.9")
            .into_iter()
            .map(|(i, v)| (i, text(v)))
            .collect();
        let mut lldp_ports = BTreeSet::new();
        let mut want: Vec<(String, String, String, String)> =
            column(&rec, "1.0.8802.1.1.2.1.4.1.1.5")
                .into_iter()
                .map(|(i, v)| {
                    let chassis = mac(v);
                    let name = sys
                        .get(&i)
                        .cloned()
                        .filter(|s| !s.is_empty())
                        .unwrap_or(chassis.clone());
                    // Both recordings number LLDP ports by ifIndex (read from lldpLocPortId).
                    lldp_ports.insert(i[1]);
                    ("lldp".to_string(), names[&i[1]].clone(), name, chassis)
                })
                .collect();
        for (i, v) in column(&rec, "1.3.6.1.4.1.9.9.23.1.2.1.1.6") {
            if !lldp_ports.contains(&i[0]) {
                let d = text(v);
                let d = d.split('(').next().unwrap_or("").to_string();
                want.push(("cdp".to_string(), names[&i[0]].clone(), d, String::new()));
            }
        }
        want.sort();
        want.dedup();
        let got = listed(&exp, dev);
        assert!(got.iter().any(|g| g.0 == "lldp"), "{dev}: {got:?}");
        assert_eq!(got, want, "{dev}");
    }

    // The device's own LLDP chassis id is known (MAC written as text on NX-OS).
    let n = exp.json("/api/v1/devices/cisco-n5000-uk9/neighbors");
    assert_eq!(n["chassis_id"], "8c:60:4f:19:16:7c");
    // None of these neighbours is monitored here: all are orphans, none is an edge.
    let t = exp.json("/api/v1/topology");
    assert_eq!(t["nodes"].as_array().unwrap().len(), 3);
    assert!(
        t["orphans"].as_array().unwrap().len() > 100,
        "{}",
        t["orphans"]
    );
}

/// Reachability over a CDP-only link: the 3750 (CDP, no LLDP) sits behind a root (the MX960,
/// by a manual link) and a device named after one of its CDP neighbours sits behind it. When
/// both stop answering (their agents ignore the community they are now asked with), the 3750
/// is down in its own right and the CDP neighbour in its shadow: its last known CDP
/// neighbours still count.
#[test]
fn a_cdp_only_switch_that_stops_answering_shadows_its_cdp_neighbour() {
    require_tool("snmpget");
    let sim = start_snmpsim("reach-cdp-snmpsim");
    let addr = sim.addr();
    let rec = recording(&sim, "cisco-c3750");
    // A CDP neighbour name of the 3750, as the exporter reads it (platform suffix dropped).
    let behind = column(&rec, "1.3.6.1.4.1.9.9.23.1.2.1.1.6")
        .into_iter()
        .map(|(_, v)| text(v).split('(').next().unwrap_or("").to_string())
        .find(|n| n.len() > 3 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .expect("a plain CDP neighbour name");
    let config = |dead: bool| {
        let mut cfg = String::from(
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 0\nauths:\n",
        );
        for c in RECORDINGS.map(community_of) {
            cfg.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
        }
        cfg.push_str("  gone: {version: 2, community: no-such-recording}\n");
        let (sw, far) = if dead {
            ("gone", "gone")
        } else {
            ("cisco-c3750", "cisco-n5000-uk9")
        };
        cfg.push_str(&format!(
            "targets:\n\
             \x20 - {{name: juniper-mx960-12-3r6-6, address: \"{addr}\", auth: juniper-mx960-12-3r6-6}}\n\
             \x20 - {{name: cisco-c3750, address: \"{addr}\", auth: {sw}}}\n\
             \x20 - {{name: \"{behind}\", address: \"{addr}\", auth: {far}}}\n\
             topology:\n  roots: [juniper-mx960-12-3r6-6]\n\
             \x20 links:\n    - {{a: juniper-mx960-12-3r6-6, b: cisco-c3750}}\n"
        ));
        cfg
    };
    let exp = Exporter::start(&config(false), &[]);
    let state = |name: &str| {
        let d = exp.device(name);
        (
            d["reachability"]["state"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            d["reachability"]["roots"].clone(),
        )
    };
    wait_for("every device up", Duration::from_secs(180), || {
        ["juniper-mx960-12-3r6-6", "cisco-c3750", behind.as_str()]
            .iter()
            .all(|n| state(n).0 == "up")
            .then_some(())
    });
    // The link to the CDP neighbour is known from the 3750's CDP cache alone.
    let t = exp.json("/api/v1/topology");
    let cdp_edge = t["edges"].as_array().unwrap().iter().any(|e| {
        e["protocol"] == "cdp"
            && e["state"] == "one_sided"
            && [e["source"].as_str(), e["target"].as_str()].contains(&Some(behind.as_str()))
    });
    assert!(cdp_edge, "{}", t["edges"]);

    std::fs::write(exp.config_path(), config(true)).unwrap();
    assert_eq!(exp.post("/-/reload").0, 200);
    wait_for(
        "the 3750 down and its CDP neighbour in its shadow",
        Duration::from_secs(60),
        || {
            (state("cisco-c3750") == ("down".to_string(), serde_json::json!([]))
                && state(&behind) == ("shadow".to_string(), serde_json::json!(["cisco-c3750"])))
                .then_some(())
        },
    );
    assert_eq!(state("juniper-mx960-12-3r6-6").0, "up");
    let m = exp.get("/metrics");
    assert!(
        m.contains(&format!(
            "wardflux_device_reachability{{device=\"{behind}\",state=\"shadow\",root=\"cisco-c3750\"}} 1"
        )),
        "{m}"
    );
}
