//! Topology discovery against real device recordings replayed by snmpsim: CDP from a Cisco
//! 3750 (125 neighbours, up to 45 on one port), LLDP (and CDP) from a Nexus 5000 and LLDP from
//! a Juniper MX960 whose lldpRemLocalPortNum is a local port number mapped through
//! lldpLocPortTable.
//!
//! Expectations are read straight from the `.snmprec` files with a small parser of their own,
//! independent of the exporter's decoders.
//!
//! Needs: Debian snmpsim (snmpsimd), snmp, bzip2; PyPI snmpsim-data (the recordings).

mod topology_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use topology_support::*;

const RECORDINGS: [&str; 3] = [
    "network/switch/cisco-c3750",
    "network/switch/cisco-n5000-uk9",
    "network/router/juniper-mx960-12-3r6-6",
];

fn data_root() -> PathBuf {
    // `./wardflux test` exports where it found the recordings.
    if let Ok(d) = std::env::var("WARDFLUX_SNMPSIM_DATA") {
        return PathBuf::from(d);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, snmpsim_data; print(os.path.dirname(snmpsim_data.__file__))",
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "PyPI package snmpsim-data is missing: pip install snmpsim-data ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("data")
}

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

/// snmpsimd serving the recordings on 127.0.0.1:port, stopped on drop.
fn start_snmpsim(dir: &Path) -> (Proc, u16) {
    let bzcat = require_tool("bzcat");
    let snmpsimd = require_tool("snmpsimd");
    let root = data_root();
    // Stable paths so snmpsim's index cache survives between runs; readable by nobody.
    let data = PathBuf::from("/tmp/wardflux-topology-simdata");
    let cache = PathBuf::from("/tmp/wardflux-topology-simcache");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    run(Command::new("chmod").args(["777"]).arg(&cache));
    for r in RECORDINGS {
        let name = Path::new(r)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let target = data.join(format!("{name}.snmprec"));
        if target.exists() {
            continue;
        }
        let bz = root.join(format!("{r}.snmprec.bz2"));
        let plain = root.join(format!("{r}.snmprec"));
        let bytes = if bz.exists() {
            let out = Command::new(&bzcat).arg(&bz).output().expect("run bzcat");
            assert!(out.status.success(), "bzcat {}", bz.display());
            out.stdout
        } else {
            std::fs::read(&plain).unwrap_or_else(|e| panic!("{}: {e}", plain.display()))
        };
        std::fs::write(&target, bytes).unwrap();
    }
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let p = Proc::spawn(
        "snmpsimd",
        Command::new(snmpsimd)
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .args(["--process-user=nobody", "--process-group=nogroup"]),
        &dir.join("snmpsimd.log"),
    );
    for r in RECORDINGS {
        let community = Path::new(r)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        wait_for(Duration::from_secs(240), "snmpsimd to answer", || {
            Command::new("snmpget")
                .args(["-v2c", "-c", &community, "-t", "2", "-r", "0"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("1.3.6.1.2.1.1.5.0")
                .output()
                .ok()
                .filter(|o| o.status.success())
        });
    }
    (p, port)
}

fn recording(name: &str) -> BTreeMap<String, Vec<u8>> {
    let p = Path::new("/tmp/wardflux-topology-simdata").join(format!("{name}.snmprec"));
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
    let dir = scratch("topology-snmpsim");
    let (_sim, port) = start_snmpsim(&dir);
    let mut cfg = String::from(
        "poll_interval: 30s\ndiscovery_interval: 1h\ntimeout: 5s\nretries: 1\nauths:\n",
    );
    for r in RECORDINGS {
        let c = Path::new(r)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        cfg.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
    }
    cfg.push_str("targets:\n");
    for r in RECORDINGS {
        let c = Path::new(r)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        cfg.push_str(&format!(
            "  - {{name: {c}, address: \"127.0.0.1:{port}\", auth: {c}}}\n"
        ));
    }
    let cfg_path = dir.join("exporter.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let exp = Exporter::start(&cfg_path, &dir.join("exporter.log"));
    wait_for(
        Duration::from_secs(180),
        "discovery of all recordings",
        || {
            let d = exp.json("/api/v1/devices");
            d.as_array()?
                .iter()
                .all(|x| x["last_discovery"].is_number())
                .then_some(())
        },
    );

    // Cisco 3750: CDP only, every cdpCacheTable row on its port, several per port.
    let rec = recording("cisco-c3750");
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
        let rec = recording(dev);
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
