//! The whole data path with real peers: snmpsim -> exporter -> vmagent (HTTP service discovery
//! on /api/v1/targets, scraping /probe per device) -> VictoriaMetrics, and a query returns the
//! exporter's series with the exporter's values.
//!
//! Needs: Debian snmpsim, snmp, bzip2, victoria-metrics; PyPI snmpsim-data.

mod common;

use std::time::Duration;

use common::{community_of, find_sample, wait_for, Exporter, Snmpsim, VictoriaMetrics, Vmagent};

#[test]
fn vmagent_scrapes_the_exporter_into_victoriametrics_and_a_query_returns_the_series() {
    let rec = "network/switch/cisco-c3750";
    let dev = community_of(rec);
    let sim = Snmpsim::start("vmagent", &[rec]);
    let mut ex = Exporter::start(
        &format!(
            "poll_interval: 5s\ndiscovery_interval: 1h\ntimeout: 5s\n\
             auths:\n  c: {{version: 2, community: {dev}}}\n\
             targets:\n  - {{name: {dev}, address: \"{}\", auth: c, labels: {{site: hq}}}}\n",
            sim.addr()
        ),
        &[],
    );
    ex.wait_devices_up(&[dev], Duration::from_secs(60));

    // Service discovery points at /probe for the device, with its labels.
    let sd: serde_json::Value =
        serde_json::from_str(&ex.get("/api/v1/targets")).expect("targets json");
    assert_eq!(sd[0]["targets"][0], ex.addr.as_str());
    assert_eq!(sd[0]["labels"]["__metrics_path__"], "/probe");
    assert_eq!(sd[0]["labels"]["__param_target"], dev);

    let vm = VictoriaMetrics::start();
    let mut agent = Vmagent::start(&format!("http://{}/api/v1/targets", ex.addr), "2s", &vm);
    let samples = ex.metrics();
    let served: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "ifHCInOctets" && s.label("device") == dev)
        .collect();
    assert!(!served.is_empty(), "no ifHCInOctets for {dev} on /metrics");
    let query = format!("ifHCInOctets{{device=\"{dev}\"}}");
    let result = wait_for(
        "VictoriaMetrics to return every ifHCInOctets series",
        Duration::from_secs(90),
        || {
            agent.assert_running();
            let r = vm.query(&query);
            (r.len() == served.len()).then_some(r)
        },
    );
    // Same values as the exporter serves (the recording is static), same labels.
    for s in &served {
        let idx = s.label("ifIndex");
        let row = result
            .iter()
            .find(|r| r["metric"]["ifIndex"] == idx)
            .unwrap_or_else(|| panic!("ifIndex {idx} missing in VictoriaMetrics"));
        assert_eq!(
            row["value"][1],
            s.value.as_str(),
            "ifHCInOctets ifIndex {idx}"
        );
        assert_eq!(row["metric"]["site"], "hq");
        assert_eq!(row["metric"]["ifName"], s.label("ifName"));
        assert_eq!(row["metric"]["job"], "wardflux-devices");
        let exported: Vec<&String> = row["metric"]
            .as_object()
            .map(|m| m.keys().filter(|k| k.starts_with("exported_")).collect())
            .unwrap_or_default();
        assert!(exported.is_empty(), "clashing labels renamed: {exported:?}");
    }
    let up = wait_for(
        "wardflux_device_up in VictoriaMetrics",
        Duration::from_secs(30),
        || {
            vm.query(&format!("wardflux_device_up{{device=\"{dev}\"}}"))
                .into_iter()
                .next()
        },
    );
    assert_eq!(up["value"][1], "1");
    assert_eq!(
        find_sample(&samples, "wardflux_device_up", &[("device", dev)]).map(|s| s.value.as_str()),
        Some("1")
    );
}
