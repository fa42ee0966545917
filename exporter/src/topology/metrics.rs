//! `wardflux_lldp_neighbor_info`: one info series per neighbour per interface, so Grafana and
//! the ruler can join interfaces to what is on the other end.
//!
//! Invariant: renders prepared inventory data only; identical label sets appear once.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::inventory::{escape_label, DeviceEntry};

pub const NEIGHBOR_INFO: &str = "wardflux_lldp_neighbor_info";

/// Labels this family sets itself; a target label of the same name is left out.
const OWN_LABELS: [&str; 5] = [
    "device",
    "if_name",
    "neighbor_device",
    "neighbor_port",
    "protocol",
];

/// Append the neighbour info family (nothing when no device has neighbours).
pub fn render_neighbors(out: &mut String, devices: &[DeviceEntry]) {
    let mut body = String::new();
    let mut labels = String::new();
    let mut seen: HashSet<String> = HashSet::new();
    for d in devices {
        let Some(inv) = &d.inventory else { continue };
        // `device` and the target's labels, less any that would collide with ours.
        let mut base = String::from("device=\"");
        escape_label(&mut base, &d.target.name);
        base.push('"');
        for (k, v) in d.target.labels.iter() {
            if !OWN_LABELS.contains(&k.as_str()) {
                let _ = write!(base, ",{k}=\"");
                escape_label(&mut base, v);
                base.push('"');
            }
        }
        for n in &inv.neighbors.neighbors {
            labels.clear();
            labels.push_str(&base);
            for (k, v) in [
                ("if_name", n.local_port.as_str()),
                ("neighbor_device", n.display_name().as_str()),
                ("neighbor_port", n.port_text().as_str()),
                ("protocol", n.protocol.as_str()),
            ] {
                let _ = write!(labels, ",{k}=\"");
                escape_label(&mut labels, v);
                labels.push('"');
            }
            if seen.insert(labels.clone()) {
                let _ = writeln!(body, "{NEIGHBOR_INFO}{{{labels}}} 1");
            }
        }
    }
    if body.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP {NEIGHBOR_INFO} A neighbour seen by LLDP or CDP on an interface; value is always 1."
    );
    let _ = writeln!(out, "# TYPE {NEIGHBOR_INFO} gauge");
    out.push_str(&body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use crate::classify::Classifier;
    use crate::inventory::{device_labels, DeviceInventory, Health, TargetMeta};
    use crate::mib::lldp::Id;
    use crate::mib::system::SystemInfo;
    use crate::topology::{Neighbor, Neighborhood, Protocol};

    fn entry(neighbors: Vec<Neighbor>) -> DeviceEntry {
        let target = Arc::new(TargetMeta {
            name: Arc::from("SW-1"),
            address: "127.0.0.1".into(),
            auth_name: "a".into(),
            labels: Arc::new(BTreeMap::from([
                ("protocol".to_string(), "x".to_string()),
                ("site".to_string(), "hq".to_string()),
            ])),
        });
        let mut inv = DeviceInventory::build(
            &target,
            SystemInfo::default(),
            vec![],
            &Classifier::embedded_default(),
            0.0,
        );
        inv.neighbors = Arc::new(Neighborhood {
            neighbors,
            ..Neighborhood::default()
        });
        DeviceEntry {
            device_labels: Arc::from(device_labels(&target)),
            target,
            inventory: Some(Arc::new(inv)),
            values: None,
            health: Health::default(),
        }
    }

    fn neighbor(name: &str, port: &str) -> Neighbor {
        Neighbor {
            protocol: Protocol::Cdp,
            local_if_index: Some(1),
            local_port: "Gi0/1".into(),
            chassis_id: None,
            port_id: Some(Id::Text(port.into())),
            port_subtype: 0,
            port_descr: port.into(),
            sys_name: name.into(),
            sys_descr: String::new(),
            capabilities: vec![],
            addresses: vec![],
        }
    }

    #[test]
    fn info_series_escape_values_and_appear_once_per_label_set() {
        let mut out = String::new();
        render_neighbors(
            &mut out,
            &[entry(vec![
                neighbor("AP \"7\"\\x", "Gi0/2"),
                neighbor("AP \"7\"\\x", "Gi0/2"),
                neighbor("AP-8", "Gi0/3"),
            ])],
        );
        assert_eq!(
            out,
            "# HELP wardflux_lldp_neighbor_info A neighbour seen by LLDP or CDP on an interface; value is always 1.\n\
             # TYPE wardflux_lldp_neighbor_info gauge\n\
             wardflux_lldp_neighbor_info{device=\"SW-1\",site=\"hq\",if_name=\"Gi0/1\",neighbor_device=\"AP \\\"7\\\"\\\\x\",neighbor_port=\"Gi0/2\",protocol=\"cdp\"} 1\n\
             wardflux_lldp_neighbor_info{device=\"SW-1\",site=\"hq\",if_name=\"Gi0/1\",neighbor_device=\"AP-8\",neighbor_port=\"Gi0/3\",protocol=\"cdp\"} 1\n"
        );
        let mut none = String::new();
        render_neighbors(&mut none, &[entry(vec![])]);
        assert!(none.is_empty());
    }
}
