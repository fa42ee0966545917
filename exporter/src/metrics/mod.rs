//! Renders the inventory as Prometheus text exposition (format 0.0.4), plus self-metrics.
//!
//! Invariant: rendering reads prepared data only (pre-rendered label blocks, numbers); it never
//! does SNMP and never holds the inventory lock while it writes.
//!
//! Why our own writer for interface families: the series names must be exactly snmp_exporter's
//! if_mib names (`ifHCInOctets`, not `ifHCInOctets_total`), which prometheus-client's
//! OpenMetrics encoder cannot produce for counters, and 500,000 series must render in well
//! under a second from pre-rendered label blocks. Process-level self-metrics live in a
//! prometheus-client registry (see `selfmetrics`), converted to the same text format.

pub mod envmon;
pub mod health;
pub mod isp_path;
pub mod selfmetrics;

use std::fmt::Write as _;

use crate::inventory::{escape_label, DeviceEntry};
use crate::mib::display_bytes;
use crate::mib::if_mib::{Duplex, POLLED};

/// Append one metric family: HELP and TYPE, then the samples `body` writes. A family with no
/// samples is left out entirely.
fn family(out: &mut String, name: &str, kind: &str, help: &str, body: impl FnOnce(&mut String)) {
    let mark = out.len();
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let header = out.len();
    body(out);
    if out.len() == header {
        out.truncate(mark);
    }
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    out.push_str(name);
    out.push('{');
    out.push_str(labels);
    out.push_str("} ");
    let _ = write!(out, "{value}");
    out.push('\n');
}

/// One sample whose labels are two prepared blocks (a device's and a row's), either may be
/// empty.
pub(crate) fn sample_in(
    out: &mut String,
    name: &str,
    device: &str,
    labels: &str,
    value: impl std::fmt::Display,
) {
    out.push_str(name);
    out.push('{');
    out.push_str(device);
    if !device.is_empty() && !labels.is_empty() {
        out.push(',');
    }
    out.push_str(labels);
    out.push_str("} ");
    let _ = write!(out, "{value}");
    out.push('\n');
}

/// Which of a device's series one `/probe` answer carries, so two scrape jobs with different
/// intervals never scrape the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Every series.
    All,
    /// Only ifOperStatus and ifAdminStatus of the status-polled (critical) interfaces.
    Status,
    /// Every series but those.
    Rest,
}

impl Part {
    /// `all`, `status` or `rest`.
    pub fn parse(s: &str) -> Option<Part> {
        match s {
            "all" => Some(Part::All),
            "status" => Some(Part::Status),
            "rest" => Some(Part::Rest),
            _ => None,
        }
    }

    fn keeps(self, e: &crate::inventory::IfEntry, slot: usize) -> bool {
        match self {
            Part::All => true,
            Part::Status => crate::status::is_status_series(e, slot),
            Part::Rest => !crate::status::is_status_series(e, slot),
        }
    }
}

/// Interface series (if_mib names) and interface info for these devices.
pub fn render_interfaces(out: &mut String, devices: &[DeviceEntry]) {
    render_interface_series(out, devices, Part::All);
    render_interface_gauges(out, devices);
}

/// The polled interface series of `part`.
pub fn render_interface_series(out: &mut String, devices: &[DeviceEntry], part: Part) {
    for (slot, col) in POLLED.iter().enumerate() {
        let kind = if col.counter { "counter" } else { "gauge" };
        family(out, col.metric, kind, col.help, |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for (e, c) in inv.interfaces.iter().zip(vals.counters.iter()) {
                    if let (Some(v), true) = (c[slot], part.keeps(e, slot)) {
                        sample(out, col.metric, &e.labels, v);
                    }
                }
            }
        });
    }
    // The wide counters (64-bit, or 32-bit extended) are counter-poll series: never `status`.
    if part != Part::Status {
        for (k, (name, help)) in crate::widen::WIDE.iter().enumerate() {
            family(out, name, "counter", help, |out| {
                for d in devices {
                    let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                        continue;
                    };
                    for (e, w) in inv.interfaces.iter().zip(vals.wide.iter()) {
                        if let Some(v) = w[k] {
                            sample(out, name, &e.labels, v);
                        }
                    }
                }
            });
        }
    }
}

/// Discovered interface gauges and info (no SNMP between discoveries).
fn render_interface_gauges(out: &mut String, devices: &[DeviceEntry]) {
    type Get = fn(&crate::mib::if_mib::InterfaceInfo) -> Option<u64>;
    let gauges: [(&str, &str, Get); 5] = [
        ("ifHighSpeed", "An estimate of the interface's current bandwidth in units of 1,000,000 bits per second - 1.3.6.1.2.1.31.1.1.1.15", |i| i.high_speed),
        ("ifSpeed", "An estimate of the interface's current bandwidth in bits per second - 1.3.6.1.2.1.2.2.1.5", |i| Some(i.speed)),
        ("ifMtu", "The size of the largest packet which can be sent/received on the interface, in octets - 1.3.6.1.2.1.2.2.1.4", |i| i.mtu.and_then(|m| u64::try_from(m).ok())),
        ("ifType", "The type of interface (IANAifType) - 1.3.6.1.2.1.2.2.1.3", |i| Some(u64::from(i.if_type))),
        ("dot3StatsDuplexStatus", "The current mode of operation of the MAC entity (1 unknown, 2 halfDuplex, 3 fullDuplex) - 1.3.6.1.2.1.10.7.2.1.19", |i| i.duplex.map(|d| d as u64)),
    ];
    for (name, help, get) in gauges {
        family(out, name, "gauge", help, |out| {
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                for e in &inv.interfaces {
                    if let Some(v) = get(&e.info) {
                        sample(out, name, &e.labels, v);
                    }
                }
            }
        });
    }
    family(
        out,
        "wardflux_interface_info",
        "gauge",
        "Discovered interface with its classification, the width of its octet counters (counter_bits 32 or 64) and whether they can wrap more than once per poll interval at its speed (counter_wrap_risk); value is always 1.",
        |out| {
            let mut labels = String::new();
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                for e in &inv.interfaces {
                    labels.clear();
                    labels.push_str(&d.device_labels);
                    let _ = write!(labels, ",if_index=\"{}\",if_name=\"", e.info.if_index);
                    escape_label(&mut labels, &display_bytes(&e.info.name));
                    labels.push_str("\",if_descr=\"");
                    escape_label(&mut labels, &display_bytes(&e.info.descr));
                    labels.push_str("\",if_alias=\"");
                    escape_label(&mut labels, &display_bytes(&e.info.alias));
                    let _ = write!(
                        labels,
                        "\",if_type=\"{}\",interface_type=\"{}\",isp_provider=\"{}\",is_critical=\"{}\",monitored=\"{}\",confidence=\"{:.2}\",rule=\"",
                        e.info.if_type,
                        e.class.interface_type.as_str(),
                        e.class.isp_provider.as_deref().unwrap_or(""),
                        e.class.is_critical,
                        e.class.monitored,
                        e.class.confidence
                    );
                    escape_label(&mut labels, &e.class.rule);
                    labels.push_str("\",mac=\"");
                    labels.push_str(&mac(&e.info.phys_address));
                    labels.push('"');
                    let _ = write!(
                        labels,
                        ",counter_bits=\"{}\",counter_wrap_risk=\"{}\"",
                        e.info.counter_bits(),
                        crate::widen::wrap_risk(&e.info, inv.poll_interval)
                    );
                    if let Some(dx) = e.info.duplex {
                        labels.push_str(match dx {
                            Duplex::Full => ",duplex=\"full\"",
                            Duplex::Half => ",duplex=\"half\"",
                            Duplex::Unknown => ",duplex=\"unknown\"",
                        });
                    }
                    sample(out, "wardflux_interface_info", &labels, 1);
                }
            }
        },
    );
}

/// `aa:bb:cc:dd:ee:ff` for a 6-byte address, hex bytes joined by `:` otherwise.
pub fn mac(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Per-device health series.
pub fn render_device_health(out: &mut String, devices: &[DeviceEntry]) {
    type Get = fn(&DeviceEntry) -> Option<f64>;
    let fams: [(&str, &str, &str, Get); 17] = [
        (
            "wardflux_device_link_flaps_dropped_total",
            "counter",
            "Changes of a critical interface's ifOperStatus that a poll read and the confirming reading status_confirm_delay later did not see again (flaps shorter than that): never served.",
            |d| Some(d.health.link_flaps_dropped as f64),
        ),
        (
            "wardflux_device_if_wraps_total",
            "counter",
            "32-bit interface counter wraps the exporter counted (and extended across) rather than taking them for resets.",
            |d| Some(d.health.counter_wraps as f64),
        ),
        (
            "wardflux_device_if_ambiguous_readings_total",
            "counter",
            "32-bit interface counter readings after a gap in which the interface's speed let the counter pass its previous value: the traffic counted is a lower bound.",
            |d| Some(d.health.counter_ambiguous as f64),
        ),
        (
            "wardflux_device_up",
            "gauge",
            "1 when the last visit of the device (discovery or poll) succeeded, else 0.",
            |d| Some(if d.health.up { 1.0 } else { 0.0 }),
        ),
        (
            "wardflux_device_poll_duration_seconds",
            "gauge",
            "Duration of the last visit of the device, discovery included when it ran.",
            |d| (d.health.polls > 0).then_some(d.health.last_poll_seconds),
        ),
        (
            "wardflux_device_discovery_duration_seconds",
            "gauge",
            "Duration of the last interface discovery of the device.",
            |d| (d.health.discoveries > 0).then_some(d.health.last_discovery_seconds),
        ),
        (
            "wardflux_device_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful visit of the device.",
            |d| (d.health.last_success_at > 0.0).then_some(d.health.last_success_at),
        ),
        (
            "wardflux_device_last_discovery_timestamp_seconds",
            "gauge",
            "Unix time of the last successful interface discovery of the device.",
            |d| d.inventory.as_ref().map(|i| i.discovered_at),
        ),
        (
            "wardflux_device_snmp_requests_total",
            "counter",
            "SNMP request packets sent to the device, retries included.",
            |d| Some(d.health.requests as f64),
        ),
        (
            "wardflux_device_snmp_retries_total",
            "counter",
            "SNMP requests sent again after a timeout or a stale answer.",
            |d| Some(d.health.retries as f64),
        ),
        (
            "wardflux_device_snmp_timeouts_total",
            "counter",
            "SNMP requests that got no answer in time.",
            |d| Some(d.health.timeouts as f64),
        ),
        (
            "wardflux_device_snmp_varbinds_total",
            "counter",
            "Varbinds received from the device.",
            |d| Some(d.health.varbinds as f64),
        ),
        (
            "wardflux_device_polls_total",
            "counter",
            "Visits (polls, with discovery when due) of the device.",
            |d| Some(d.health.polls as f64),
        ),
        (
            "wardflux_device_poll_failures_total",
            "counter",
            "Visits of the device that failed.",
            |d| Some(d.health.poll_failures as f64),
        ),
        (
            "wardflux_device_polls_missed_total",
            "counter",
            "Poll intervals skipped entirely because the previous visit ran late.",
            |d| Some(d.health.polls_missed as f64),
        ),
        (
            "wardflux_device_interfaces",
            "gauge",
            "Interfaces discovered on the device.",
            |d| d.inventory.as_ref().map(|i| i.interfaces.len() as f64),
        ),
        (
            "wardflux_device_uptime_seconds",
            "gauge",
            "sysUpTime of the device at the last poll.",
            |d| {
                d.values
                    .as_ref()
                    .and_then(|v| v.markers.sys_uptime)
                    .map(|t| f64::from(t) / 100.0)
            },
        ),
    ];
    for (name, kind, help, get) in fams {
        family(out, name, kind, help, |out| {
            for d in devices {
                if let Some(v) = get(d) {
                    sample(out, name, &d.device_labels, v);
                }
            }
        });
    }
    family(
        out,
        "wardflux_device_snmp_type_mismatches_total",
        "counter",
        "Interface values answered with a type no number could be read from (a string, an address, a negative INTEGER), by polled column; such values are not served.",
        |out| {
            let mut labels = String::new();
            for d in devices {
                for (slot, n) in d.health.type_mismatches.iter().enumerate() {
                    if *n == 0 {
                        continue;
                    }
                    labels.clear();
                    labels.push_str(&d.device_labels);
                    let _ = write!(labels, ",column=\"{}\"", POLLED[slot].metric);
                    sample(out, "wardflux_device_snmp_type_mismatches_total", &labels, n);
                }
            }
        },
    );
    family(
        out,
        "wardflux_device_info",
        "gauge",
        "What the device says about itself (system group); value is always 1.",
        |out| {
            let mut labels = String::new();
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                labels.clear();
                labels.push_str(&d.device_labels);
                labels.push_str(",address=\"");
                escape_label(&mut labels, &d.target.address);
                labels.push_str("\",sys_name=\"");
                escape_label(&mut labels, &display_bytes(&inv.system.sys_name));
                labels.push_str("\",sys_object_id=\"");
                escape_label(&mut labels, &inv.system.sys_object_id);
                labels.push_str("\",sys_descr=\"");
                let descr = display_bytes(&inv.system.sys_descr);
                let first_line = descr.lines().next().unwrap_or("");
                escape_label(&mut labels, first_line);
                labels.push('"');
                sample(out, "wardflux_device_info", &labels, 1);
            }
        },
    );
}

/// Fleet totals.
pub fn render_totals(out: &mut String, devices: &[DeviceEntry]) {
    let up = devices.iter().filter(|d| d.health.up).count();
    let (mut ifs, mut monitored) = (0usize, 0usize);
    for d in devices {
        if let Some(inv) = &d.inventory {
            ifs += inv.interfaces.len();
            monitored += inv.interfaces.iter().filter(|e| e.class.monitored).count();
        }
    }
    family(
        out,
        "wardflux_devices",
        "gauge",
        "Configured devices, by whether their last visit succeeded.",
        |out| {
            sample(out, "wardflux_devices", "state=\"up\"", up);
            sample(
                out,
                "wardflux_devices",
                "state=\"down\"",
                devices.len() - up,
            );
        },
    );
    family(
        out,
        "wardflux_interfaces",
        "gauge",
        "Discovered interfaces, by whether their counters are polled.",
        |out| {
            sample(out, "wardflux_interfaces", "monitored=\"true\"", monitored);
            sample(
                out,
                "wardflux_interfaces",
                "monitored=\"false\"",
                ifs - monitored,
            );
        },
    );
}

/// Everything for these devices: interface series, their health and their reachability
/// (from the last analysis, `reach`).
pub fn render_devices(devices: &[DeviceEntry], reach: &crate::topology::reach::Reach) -> String {
    render_devices_part(devices, reach, Part::All)
}

/// The `part` of these devices' series (`/probe?part=`).
pub fn render_devices_part(
    devices: &[DeviceEntry],
    reach: &crate::topology::reach::Reach,
    part: Part,
) -> String {
    let per_device: usize = devices
        .iter()
        .map(|d| {
            d.inventory
                .as_ref()
                .map(|i| i.interfaces.len())
                .unwrap_or(0)
        })
        .sum();
    let mut out = String::with_capacity(4096 + per_device * 20 * 220);
    render_interface_series(&mut out, devices, part);
    if part != Part::Status {
        render_interface_gauges(&mut out, devices);
        render_device_health(&mut out, devices);
        health::render_health(&mut out, devices);
        envmon::render_envmon(&mut out, devices);
        isp_path::render(&mut out, devices);
        crate::topology::metrics::render_neighbors(&mut out, devices); // topology
        crate::topology::reach::render(&mut out, devices, reach);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::inventory::{DeviceInventory, Health, PollValues, TargetMeta};
    use crate::mib::if_mib::InterfaceInfo;
    use crate::mib::system::{ChangeMarkers, SystemInfo};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn entry() -> DeviceEntry {
        let target = TargetMeta {
            name: Arc::from("Isani-1111"),
            address: "127.0.0.1:161".into(),
            auth_name: "v2".into(),
            labels: Arc::new(BTreeMap::from([(
                "site".to_string(),
                "tbilisi".to_string(),
            )])),
        };
        let info = InterfaceInfo {
            if_index: 2,
            descr: b"GigabitEthernet0/1".to_vec(),
            name: b"Gi0/1".to_vec(),
            alias: b"Say \"hi\"\\ \xE1\x83\n".to_vec(),
            if_type: 6,
            mtu: Some(1500),
            speed: 1_000_000_000,
            high_speed: Some(1000),
            admin_status: 1,
            oper_status: 1,
            has_hc: true,
            ..InterfaceInfo::default()
        };
        let inv = DeviceInventory::build(
            &target,
            SystemInfo::default(),
            vec![info],
            &Classifier::embedded_default(),
            1.0,
        );
        let mut c = [None; POLLED.len()];
        c[0] = Some(2);
        c[2] = Some(18_446_744_073_709_551_615);
        let labels = crate::inventory::device_labels(&target);
        DeviceEntry {
            target: Arc::new(target),
            inventory: Some(Arc::new(inv)),
            values: Some(Arc::new(PollValues {
                counters: vec![c],
                markers: ChangeMarkers::default(),
                health: Vec::new(),
                at: 2.0,
                ..PollValues::default()
            })),
            health: Health {
                up: true,
                polls: 3,
                ..Health::default()
            },
            device_labels: Arc::from(labels),
        }
    }

    #[test]
    fn counter_width_wide_counters_and_type_mismatches_are_rendered() {
        let mut d = entry();
        let mut vals = (**d.values.as_ref().unwrap()).clone();
        vals.wide = vec![[Some(1 << 33), Some(5), None, None]];
        d.values = Some(Arc::new(vals));
        d.health.type_mismatches[14] = 3;
        let mut out = String::new();
        render_interfaces(&mut out, std::slice::from_ref(&d));
        render_device_health(&mut out, std::slice::from_ref(&d));
        assert!(out.contains("# TYPE wardflux_if_in_octets_total counter\n"));
        assert!(
            out.contains(",is_critical=\"false\"} 8589934592\n"),
            "{out}"
        );
        assert!(
            !out.contains("wardflux_if_in_packets_total"),
            "no packets, no family"
        );
        assert!(out.contains(",counter_bits=\"64\",counter_wrap_risk=\"false\""));
        assert!(out.contains(
            "wardflux_device_snmp_type_mismatches_total{device=\"Isani-1111\",site=\"tbilisi\",column=\"ifInOctets\"} 3\n"
        ));
    }

    #[test]
    fn interface_series_use_if_mib_names_escaped_labels_and_exact_values() {
        let mut out = String::new();
        render_interfaces(&mut out, &[entry()]);
        let labels = r#"device="Isani-1111",site="tbilisi",ifIndex="2",ifName="Gi0/1",ifDescr="GigabitEthernet0/1",ifAlias="Say \"hi\"\\\\ \\xE1\\x83\n",interface_type="unknown",isp_provider="",is_critical="false""#;
        assert!(
            out.contains(&format!(
                "# TYPE ifOperStatus gauge\nifOperStatus{{{labels}}} 2\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "# TYPE ifHCInOctets counter\nifHCInOctets{{{labels}}} 18446744073709551615\n"
            )),
            "{out}"
        );
        assert!(out.contains(&format!("ifHighSpeed{{{labels}}} 1000\n")));
        // Families without samples are left out; no _total names for if_mib counters.
        assert!(!out.contains("ifHCOutOctets"));
        assert!(!out.contains("_total"));
        assert!(out.contains("wardflux_interface_info{device=\"Isani-1111\",site=\"tbilisi\",if_index=\"2\",if_name=\"Gi0/1\""));
    }

    #[test]
    fn device_health_series_carry_device_labels() {
        let mut out = String::new();
        render_device_health(&mut out, &[entry()]);
        assert!(
            out.contains("wardflux_device_up{device=\"Isani-1111\",site=\"tbilisi\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("# TYPE wardflux_device_polls_total counter\nwardflux_device_polls_total{device=\"Isani-1111\",site=\"tbilisi\"} 3\n"));
        assert!(
            !out.contains("wardflux_device_discovery_duration_seconds{"),
            "no discovery yet"
        );
    }
}
