//! Renders ISP path health: the raw CISCO-RTTMON-MIB, BGP4-MIB and CISCO-BGP4-MIB rows under
//! the MIB objects' own names with their index labels (device labels first), and the summaries
//! with the uplink's interface label block: `wardflux_isp_probe_success`,
//! `wardflux_isp_probe_rtt_seconds`, `wardflux_bgp_peer_up`,
//! `wardflux_bgp_peer_established_transitions_total`.
//!
//! Invariant: reads prepared label blocks and numbers only, like the rest of `metrics`.

use super::{family, sample_in as sample};
use crate::inventory::DeviceEntry;
use crate::isp_path::plan::{
    families, peer_transitions, peer_up, probe_rtt_seconds, probe_success, STATIC_FAMILIES,
};

/// ISP path families of these devices; a family no device has is left out.
pub fn render(out: &mut String, devices: &[DeviceEntry]) {
    for (slot, (name, help)) in STATIC_FAMILIES.iter().enumerate() {
        family(out, name, "gauge", help, |out| {
            for d in devices {
                let Some(inv) = &d.inventory else { continue };
                for s in inv
                    .isp_path
                    .statics
                    .iter()
                    .filter(|s| s.family as usize == slot)
                {
                    sample(out, name, &d.device_labels, &s.labels, s.value);
                }
            }
        });
    }
    for (slot, f) in families().enumerate() {
        let kind = if f.counter { "counter" } else { "gauge" };
        family(out, f.metric, kind, f.help, |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for (s, v) in inv.isp_path.series.iter().zip(vals.isp_path.iter()) {
                    if let (true, Some(v)) = (s.family as usize == slot, v) {
                        sample(out, f.metric, &d.device_labels, &s.labels, v);
                    }
                }
            }
        });
    }
    type ProbeValue = fn(&crate::isp_path::plan::ProbeSeries, &[Option<i128>]) -> Option<f64>;
    let probes: [(&str, &str, ProbeValue); 2] = [
        (
            "wardflux_isp_probe_success",
            "1 when the latest run of the IP SLA probe succeeded (rttMonLatestRttOperSense ok), else 0; with the interface labels of the ISP uplink it measures (empty when it cannot be tied).",
            |p, v| probe_success(p, v).map(f64::from),
        ),
        (
            "wardflux_isp_probe_rtt_seconds",
            "Completion time of the IP SLA probe's latest run (rttMonLatestRttOperCompletionTime), only when that run succeeded; with the interface labels of the ISP uplink it measures.",
            probe_rtt_seconds,
        ),
    ];
    for (name, help, get) in probes {
        family(out, name, "gauge", help, |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for p in &inv.isp_path.probes {
                    if let Some(v) = get(p, &vals.isp_path) {
                        sample(out, name, "", &p.labels, v);
                    }
                }
            }
        });
    }
    family(
        out,
        "wardflux_bgp_peer_up",
        "gauge",
        "1 when the BGP session is established, else 0; admin-stopped peers have none. From cbgpPeer2State where the device has CISCO-BGP4-MIB, else bgpPeerState; with the interface labels of the ISP uplink whose subnet holds the peer (empty when none).",
        |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for p in &inv.isp_path.peers {
                    if let Some(v) = peer_up(p, &vals.isp_path) {
                        sample(out, "wardflux_bgp_peer_up", "", &p.labels, v);
                    }
                }
            }
        },
    );
    family(
        out,
        "wardflux_bgp_peer_established_transitions_total",
        "counter",
        "Times the BGP session reached established (cbgpPeer2FsmEstablishedTransitions, else bgpPeerFsmEstablishedTransitions); with the interface labels of the peer's ISP uplink.",
        |out| {
            for d in devices {
                let (Some(inv), Some(vals)) = (&d.inventory, &d.values) else {
                    continue;
                };
                for p in &inv.isp_path.peers {
                    if let Some(v) = peer_transitions(p, &vals.isp_path) {
                        sample(out, "wardflux_bgp_peer_established_transitions_total", "", &p.labels, v);
                    }
                }
            }
        },
    );
}
