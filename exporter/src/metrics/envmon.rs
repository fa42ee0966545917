//! Renders the device environment: each polled value and each static column (types, scales,
//! precisions, thresholds) under its MIB object's own name with the MIB's index labels (as
//! snmp_exporter names what it walks), and the scaled summaries `wardflux_device_sensor_value`,
//! `wardflux_device_temperature_celsius`, `wardflux_device_temperature_threshold_celsius`,
//! `wardflux_device_component_ok`, `wardflux_interface_optical_{rx,tx}_dbm`.
//!
//! Invariant: reads prepared label blocks and numbers only, like the rest of `metrics`.

use std::fmt::Write as _;

use super::{family, sample_in as sample};
use crate::inventory::{DeviceEntry, DeviceInventory, IfEntry, PollValues};
use crate::mib::envmon::{
    component_ok, optical_dbm, scaled, Direction, Optical, ScaledSensor, POLLED, STATICS,
};

/// Each device with a discovery and a poll.
fn polled(
    devices: &[DeviceEntry],
) -> impl Iterator<Item = (&DeviceEntry, &DeviceInventory, &PollValues)> {
    devices.iter().filter_map(|d| {
        let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
            return None;
        };
        Some((d, inv.as_ref(), vals.as_ref()))
    })
}

fn sensor_value(s: &ScaledSensor, vals: &PollValues) -> Option<f64> {
    vals.env
        .get(s.value)
        .copied()
        .flatten()
        .map(|raw| scaled(raw, s.scaling))
}

/// The interface at `if_index` (interfaces are in ifIndex order from the walk; any order works).
fn interface(inv: &DeviceInventory, if_index: u32) -> Option<&IfEntry> {
    let ifs = &inv.interfaces;
    match ifs.binary_search_by_key(&if_index, |e| e.info.if_index) {
        Ok(i) => Some(&ifs[i]),
        Err(_) => ifs.iter().find(|e| e.info.if_index == if_index),
    }
}

/// Environment families of these devices; a family no device has is left out.
pub fn render_envmon(out: &mut String, devices: &[DeviceEntry]) {
    for (slot, p) in POLLED.iter().enumerate() {
        family(out, p.metric, "gauge", p.help, |out| {
            for (d, inv, vals) in polled(devices) {
                for (s, v) in inv.env.series.iter().zip(vals.env.iter()) {
                    if let (true, Some(v)) = (usize::from(s.polled) == slot, v) {
                        sample(out, p.metric, &d.device_labels, &s.labels, v);
                    }
                }
            }
        });
    }
    for (which, (name, help)) in STATICS.iter().enumerate() {
        family(out, name, "gauge", help, |out| {
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                for s in inv
                    .env
                    .statics
                    .iter()
                    .filter(|s| usize::from(s.which) == which)
                {
                    sample(out, name, &d.device_labels, &s.labels, s.value);
                }
            }
        });
    }
    let name = "wardflux_device_sensor_value";
    family(
        out,
        name,
        "gauge",
        "Entity sensor value scaled by its row's own scale and precision (raw x 10^scale / 10^precision), in the base unit of sensor_type; absent for rows whose scale or precision is outside the MIB's range.",
        |out| {
            for (d, inv, vals) in polled(devices) {
                for s in &inv.env.sensors {
                    if let Some(v) = sensor_value(s, vals) {
                        out.push_str(name);
                        out.push('{');
                        out.push_str(&d.device_labels);
                        out.push(',');
                        out.push_str(&s.labels);
                        let _ = writeln!(out, ",sensor_type=\"{}\"}} {v}", s.sensor_type);
                    }
                }
            }
        },
    );
    let name = "wardflux_device_temperature_celsius";
    family(
        out,
        name,
        "gauge",
        "Temperature in degrees Celsius: CISCO-ENVMON-MIB ciscoEnvMonTemperatureStatusValue and entity sensors of type celsius (scaled).",
        |out| {
            for (d, inv, vals) in polled(devices) {
                for t in &inv.env.temps {
                    if let Some(v) = t.value.and_then(|i| vals.env.get(i).copied().flatten()) {
                        sample(out, name, &d.device_labels, &t.labels, v);
                    }
                }
                for s in inv.env.sensors.iter().filter(|s| s.is_celsius) {
                    if let Some(v) = sensor_value(s, vals) {
                        sample(out, name, &d.device_labels, &s.labels, v);
                    }
                }
            }
        },
    );
    let name = "wardflux_device_temperature_threshold_celsius";
    family(
        out,
        name,
        "gauge",
        "The device's own high temperature threshold in degrees Celsius: ciscoEnvMonTemperatureThreshold, or for an entity sensor the lowest greaterThan/greaterOrEqual threshold of severity major or critical (scaled).",
        |out| {
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                for t in &inv.env.temps {
                    if let Some(v) = t.threshold {
                        sample(out, name, &d.device_labels, &t.labels, v);
                    }
                }
                for s in inv.env.sensors.iter().filter(|s| s.is_celsius) {
                    if let Some(v) = s.threshold {
                        sample(out, name, &d.device_labels, &s.labels, v);
                    }
                }
            }
        },
    );
    let name = "wardflux_device_component_ok";
    family(
        out,
        name,
        "gauge",
        "1 when a fan or power supply (CISCO-ENVMON-MIB) is normal, 0 when warning, critical, shutdown or notFunctioning; no series when notPresent.",
        |out| {
            for (d, inv, vals) in polled(devices) {
                for c in &inv.env.components {
                    if let Some(ok) = vals.env.get(c.state).copied().flatten().and_then(component_ok) {
                        sample(out, name, &d.device_labels, &c.labels, ok);
                    }
                }
            }
        },
    );
    for (dir, name, help) in [
        (Direction::Rx, "wardflux_interface_optical_rx_dbm", "Optical receive level in dBm of the interface's transceiver (entity sensor of type dBm, or watts named as a receive power), tied to the interface through ENTITY-MIB containment and alias mapping."),
        (Direction::Tx, "wardflux_interface_optical_tx_dbm", "Optical transmit level in dBm of the interface's transceiver (entity sensor of type dBm, or watts named as a transmit power), tied to the interface through ENTITY-MIB containment and alias mapping."),
    ] {
        family(out, name, "gauge", help, |out| {
            for (_, inv, vals) in polled(devices) {
                for s in &inv.env.sensors {
                    let (Some(kind), Some(i)) = (s.optical, s.if_index) else {
                        continue;
                    };
                    let (Optical::Dbm(d) | Optical::Watts(d)) = kind;
                    if d != dir {
                        continue;
                    }
                    let (Some(iface), Some(v)) = (
                        interface(inv, i),
                        sensor_value(s, vals).and_then(|v| optical_dbm(kind, v)),
                    ) else {
                        continue;
                    };
                    // The interface's block (device labels included) plus sensor_index, sensor.
                    let sensor = s.labels.split_once(",sensor_index=").map(|(_, r)| r).unwrap_or("");
                    out.push_str(name);
                    out.push('{');
                    out.push_str(&iface.labels);
                    let _ = writeln!(out, ",sensor_index={sensor}}} {v}");
                }
            }
        });
    }
}
