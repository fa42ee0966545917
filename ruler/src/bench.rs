//! The benchmark: a synthetic fleet of interfaces with the exporter's metric names and
//! labels backfilled into VictoriaMetrics, then the rule groups evaluated at successive
//! aligned times while the ruler's wall and CPU time (and optionally the datasource's CPU
//! time) are measured and printed.

use crate::datasource::{Importer, Point};
use crate::engine::{align_up, Engine};
use crate::labels::Labels;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// Interfaces per synthetic device.
pub const PER_DEVICE: usize = 20;

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI this runs on.
    Some((utime + stime) / 100.0)
}

/// One synthetic interface.
#[derive(Debug, Clone)]
pub struct SynthInterface {
    pub labels: Labels,
    pub down: bool,
    pub in_mbps: f64,
    pub errors_per_s: f64,
}

/// A fleet of `interfaces` interfaces on devices of [`PER_DEVICE`]: two ISP uplinks and two
/// critical trunks per device, the rest access ports; a few faults so alerts fire.
pub fn fleet(interfaces: usize) -> Vec<SynthInterface> {
    let providers = [
        "magti",
        "silknet",
        "veon",
        "geocell",
        "caucasus_online",
        "globaltel",
    ];
    (0..interfaces)
        .map(|i| {
            let dev = i / PER_DEVICE;
            let idx = i % PER_DEVICE;
            let (kind, critical, isp) = match idx {
                0 | 1 => ("isp", "true", providers[(dev * 2 + idx) % providers.len()]),
                2 | 3 => ("trunk", "true", ""),
                _ => ("access", "false", ""),
            };
            let mut l = Labels::new();
            let mut set = |k: &str, v: String| {
                l.insert(k.to_string(), v);
            };
            set("device", format!("BR-RTR-{dev:04}"));
            set("ifIndex", (idx + 1).to_string());
            set("ifName", format!("Gi0/0/{idx}"));
            set("ifDescr", format!("GigabitEthernet0/0/{idx}"));
            set("ifAlias", format!("{kind} port {idx}"));
            set("interface_type", kind.to_string());
            if !isp.is_empty() {
                set("isp_provider", isp.to_string());
            }
            set("is_critical", critical.to_string());
            set("site", format!("site-{:03}", dev % 120));
            set("job", "wardflux-devices".to_string());
            set("instance", "127.0.0.1:9116".to_string());
            SynthInterface {
                labels: l,
                down: (dev % 50 == 1 && idx == 0) || (dev % 97 == 3 && idx < 2),
                in_mbps: if i % 101 == 7 {
                    900.0
                } else {
                    20.0 + (i % 37) as f64
                },
                errors_per_s: if i % 211 == 5 { 50.0 } else { 0.0 },
            }
        })
        .collect()
}

/// The samples of `ifaces` from `start` to `end` every `step`, as the exporter would have
/// produced them (interface gauges and counters, and `wardflux_device_up`).
pub fn samples(
    ifaces: &[SynthInterface],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> Vec<Point> {
    let step_s = step.as_secs_f64();
    let mut out = Vec::new();
    let mut devices = std::collections::BTreeSet::new();
    let mut t = start;
    let mut n = 0.0;
    while t <= end {
        for f in ifaces {
            let mut push = |name: &str, v: f64| {
                let mut l = f.labels.clone();
                l.insert("__name__".into(), name.into());
                out.push(Point {
                    labels: l,
                    value: v,
                    at: t,
                });
            };
            let elapsed = n * step_s;
            let pps = f.in_mbps * 1e6 / 8.0 / 800.0;
            push("ifOperStatus", if f.down { 2.0 } else { 1.0 });
            push("ifAdminStatus", 1.0);
            push("ifHighSpeed", 1000.0);
            push("ifHCInOctets", (f.in_mbps * 1e6 / 8.0 * elapsed).floor());
            push("ifHCOutOctets", (f.in_mbps * 0.4e6 / 8.0 * elapsed).floor());
            // The exporter's wide counters, which the recording rules read.
            push(
                "wardflux_if_in_octets_total",
                (f.in_mbps * 1e6 / 8.0 * elapsed).floor(),
            );
            push(
                "wardflux_if_out_octets_total",
                (f.in_mbps * 0.4e6 / 8.0 * elapsed).floor(),
            );
            push("wardflux_if_in_packets_total", (pps * elapsed).floor());
            push(
                "wardflux_if_out_packets_total",
                (pps * 0.4 * elapsed).floor(),
            );
            push("ifInErrors", (f.errors_per_s * elapsed).floor());
            push("ifOutErrors", 0.0);
            devices.insert(f.labels["device"].clone());
        }
        for d in &devices {
            let mut l = Labels::new();
            l.insert("__name__".into(), "wardflux_device_up".into());
            l.insert("device".into(), d.clone());
            l.insert("job".into(), "wardflux-devices".into());
            out.push(Point {
                labels: l,
                value: 1.0,
                at: t,
            });
        }
        t += chrono::Duration::from_std(step).unwrap_or_default();
        n += 1.0;
    }
    out
}

/// Backfills a fleet into the datasource, one device at a time to bound memory.
pub async fn backfill(
    importer: &dyn Importer,
    ifaces: &[SynthInterface],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> Result<usize, crate::datasource::DatasourceError> {
    let mut total = 0;
    for chunk in ifaces.chunks(PER_DEVICE) {
        let pts = samples(chunk, start, end, step);
        total += pts.len();
        importer.import_points(&pts).await?;
    }
    Ok(total)
}

/// Figures from one benchmark run.
#[derive(Debug, Clone)]
pub struct Report {
    pub rounds: usize,
    pub wall: Duration,
    pub cpu_seconds: f64,
    pub datasource_cpu_seconds: Option<f64>,
    pub firing: usize,
}

/// Evaluates every due group at `rounds` successive minutes ending at `end`.
pub async fn measure(
    engine: &Engine,
    end: DateTime<Utc>,
    rounds: usize,
    datasource_pid: Option<u32>,
) -> Report {
    let end = align_up(end, Duration::from_secs(60)) - chrono::Duration::minutes(1);
    let cpu0 = cpu_seconds(None).unwrap_or(0.0);
    let ds0 = datasource_pid.and_then(|p| cpu_seconds(Some(p)));
    let started = Instant::now();
    for r in 0..rounds {
        let t = end - chrono::Duration::minutes((rounds - 1 - r) as i64);
        engine.evaluate_due(t).await;
    }
    let wall = started.elapsed();
    let cpu = cpu_seconds(None).unwrap_or(0.0) - cpu0;
    let ds = match (ds0, datasource_pid.and_then(|p| cpu_seconds(Some(p)))) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let firing = engine
        .status()
        .await
        .iter()
        .flat_map(|g| g.rules.iter())
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.state == crate::alert::AlertState::Firing)
        .count();
    Report {
        rounds,
        wall,
        cpu_seconds: cpu,
        datasource_cpu_seconds: ds,
        firing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_has_the_exporter_labels_and_some_faults() {
        let f = fleet(100);
        assert_eq!(f.len(), 100);
        for k in [
            "device",
            "ifIndex",
            "ifName",
            "interface_type",
            "is_critical",
            "site",
        ] {
            assert!(f[0].labels.contains_key(k), "missing {k}");
        }
        assert_eq!(f[0].labels["interface_type"], "isp");
        assert!(f[0].labels.contains_key("isp_provider"));
        assert!(!f[5].labels.contains_key("isp_provider"));
        assert!(f.iter().any(|i| i.down));
    }

    #[test]
    fn cpu_seconds_reads_this_process() {
        assert!(cpu_seconds(None).is_some());
    }
}
