//! `wardflux_lldp_neighbor_info`: one info series per neighbour per interface, so Grafana and
//! the ruler can join interfaces to what is on the other end.
//!
//! Invariant: renders prepared inventory data only; identical label sets appear once.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::inventory::{escape_label, DeviceEntry};

pub const NEIGHBOR_INFO: &str = "wardflux_lldp_neighbor_info";

/// Append the neighbour info family (nothing when no device has neighbours).
pub fn render_neighbors(out: &mut String, devices: &[DeviceEntry]) {
    let mut body = String::new();
    let mut labels = String::new();
    let mut seen: HashSet<String> = HashSet::new();
    for d in devices {
        let Some(inv) = &d.inventory else { continue };
        for n in &inv.neighbors.neighbors {
            labels.clear();
            labels.push_str(&d.device_labels);
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
