//! The shipped self-monitoring rules against the real pipeline: the real exporter scraped by a
//! real vmagent (the `wardflux-devices` and `wardflux-exporter` jobs of
//! deploy/examples/vmagent-scrape.yml) into a real VictoriaMetrics. The rules' expressions,
//! read from `rules/alerts/*.yml` with their windows shortened to the test's 1 s scrapes, are
//! what the ruler evaluates: a device that does not answer SNMP is `DeviceSnmpUnreachable` and
//! not a failing scrape; stopping the exporter makes `WardfluxExporterDown` true and a restart
//! clears it; stopping vmagent makes `WardfluxExporterNotScraped` true and a new vmagent clears
//! it. The ruler's side (for, rows, messages, resolution) over the same series is
//! `ruler/tests/self_monitoring.rs`.
//!
//! Needs: Debian victoria-metrics (with vmagent).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{free_udp_port, wait_for, Exporter, VictoriaMetrics, Vmagent};

/// Alert name -> expression of every shipped alerting rule, with range windows of minutes
/// shortened to seconds (`[5m]` -> `[5s]`) for a pipeline scraping every second.
fn shipped_alerts() -> BTreeMap<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/alerts");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("rules/alerts") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("rule file");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("rule YAML");
        for g in doc["groups"].as_sequence().expect("groups") {
            for r in g["rules"].as_sequence().expect("rules") {
                if let (Some(name), Some(expr)) = (r["alert"].as_str(), r["expr"].as_str()) {
                    let short = minutes_to_seconds(expr);
                    out.insert(name.to_string(), short);
                }
            }
        }
    }
    out
}

/// `[15m]` -> `[15s]`: a tiny rewrite, not a PromQL parser; the shipped rules use plain
/// minute windows.
fn minutes_to_seconds(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let j = rest.find(']').expect("closing bracket");
        let window = &rest[..j];
        match window.strip_suffix('m') {
            Some(n) if n.chars().all(|c| c.is_ascii_digit()) => {
                out.push_str(n);
                out.push('s');
            }
            _ => out.push_str(window),
        }
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

/// The `device` (or `job`) labels of what `expr` returns now.
fn firing(vm: &VictoriaMetrics, expr: &str) -> Vec<String> {
    vm.query(expr)
        .iter()
        .map(|r| {
            r["metric"]["device"]
                .as_str()
                .or(r["metric"]["job"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn stopping_the_exporter_or_vmagent_trips_the_self_monitoring_rules_and_recovery_clears_them() {
    let rules = shipped_alerts();
    let expr = |name: &str| {
        rules
            .get(name)
            .unwrap_or_else(|| panic!("no shipped rule {name}"))
            .clone()
    };
    // A device nobody answers for: its SNMP is unreachable, its /probe scrape works.
    let silent = format!("127.0.0.1:{}", free_udp_port());
    let mut ex = Exporter::start(
        &format!(
            "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 300ms\nretries: 0\n\
             auths:\n  c: {{version: 2c, community: public}}\n\
             targets:\n  - {{name: SILENT-1, address: \"{silent}\", auth: c}}\n"
        ),
        &[],
    );
    let vm = VictoriaMetrics::start();
    let sd = format!("http://{}/api/v1/targets", ex.addr);
    let mut agent = Some(Vmagent::start_jobs(&sd, Some(&ex.addr), "1s", &vm));
    let limit = Duration::from_secs(90);

    wait_for(
        "DeviceSnmpUnreachable's condition for SILENT-1",
        limit,
        || {
            if let Some(a) = agent.as_mut() {
                a.assert_running();
            }
            (firing(&vm, "wardflux_device_up == 0") == ["SILENT-1"]).then_some(())
        },
    );
    assert_eq!(
        firing(&vm, &expr("WardfluxDeviceScrapeFailing")),
        Vec::<String>::new(),
        "a device whose SNMP is down is still scraped: not a failing scrape"
    );
    assert!(firing(&vm, &expr("WardfluxExporterDown")).is_empty());
    assert_eq!(
        firing(&vm, "up == 1").len(),
        2,
        "both jobs scraped: {:?}",
        vm.query("up")
    );

    // The exporter stops: vmagent's scrapes of it fail.
    ex.terminate(Duration::from_secs(10));
    wait_for("WardfluxExporterDown's condition", limit, || {
        (firing(&vm, &expr("WardfluxExporterDown")) == ["wardflux-exporter"]).then_some(())
    });
    assert!(
        firing(&vm, &expr("WardfluxDeviceScrapeFailing")).is_empty(),
        "with the exporter down its device scrapes are not reported one by one"
    );
    ex.restart();
    wait_for(
        "WardfluxExporterDown to clear after a restart",
        limit,
        || {
            firing(&vm, &expr("WardfluxExporterDown"))
                .is_empty()
                .then_some(())
        },
    );

    // vmagent stops: no `up` reaches VictoriaMetrics at all.
    drop(agent.take());
    wait_for("WardfluxExporterNotScraped's condition", limit, || {
        (firing(&vm, &expr("WardfluxExporterNotScraped")) == ["wardflux-exporter"]).then_some(())
    });
    let _agent = Vmagent::start_jobs(&sd, Some(&ex.addr), "1s", &vm);
    wait_for("WardfluxExporterNotScraped to clear", limit, || {
        firing(&vm, &expr("WardfluxExporterNotScraped"))
            .is_empty()
            .then_some(())
    });
}

#[test]
fn minute_windows_shrink_to_seconds() {
    assert_eq!(
        minutes_to_seconds("absent_over_time(up{a=\"[x]\"}[5m]) + rate(x[1h])"),
        "absent_over_time(up{a=\"[x]\"}[5s]) + rate(x[1h])"
    );
}
