//! Gaps in the monitoring never end an outage: on wan_lab's pipeline (wardflux-lab's branches
//! reached only over their ISP uplinks, the real exporter, vmagent with the deploy's job names
//! through HTTP SD into VictoriaMetrics, real rulers on SQLite and PostgreSQL running the shipped
//! rules sped up, self-monitoring included, notifying a real Alertmanager), tbilisi loses Magti
//! and, while its `IspUplinkDownBackupWorking` row is open:
//! 1. vmagent is stopped until `WardfluxExporterNotScraped` fires, then started again;
//! 2. the exporter is stopped until `WardfluxExporterDown` fires, then started again;
//! 3. the router's community is made wrong (exporter reloaded) until both rulers see the router
//!    unreachable, then fixed (30-self.yml has no row for this: it is the device's SNMP).
//!
//! Throughout, each ruler keeps exactly one outage row, the same id, open; each self-monitoring
//! row resolves after its fault is repaired; Alertmanager's webhook receives no "resolved" for
//! the outage before the uplink is restored. Restored, the row resolves as `recovered` and
//! Alertmanager is told so. No timing is asserted: waits have generous limits only.
//!
//! Needs root and the Debian packages snmpd, snmp, lldpd, iproute2, victoria-metrics
//! (vmagent), postgresql (127.0.0.1:5432, trust auth), prometheus-alertmanager.

#[macro_use]
mod common;
mod wan_support;

use common::{free_port, Am};
use serde_json::{json, Value};
use wan_support::{
    brief, firing, of, statuses, wait_until, webhook, Options, Pipeline, STEP_LIMIT,
};

const OUTAGE: &str = "IspUplinkDownBackupWorking";

/// Panics unless `rows` hold exactly one outage row, open, one of `ids`.
fn outage_intact(rows: &[Value], ids: &[i64], during: &str) {
    let o = of(rows, OUTAGE);
    assert!(
        o.len() == 1 && firing(o[0]) && ids.contains(&o[0]["id"].as_i64().unwrap_or(-1)),
        "during {during}: the outage row is no longer one open row of {ids:?}:\n{}",
        brief(rows)
    );
}

/// The id of the first row of `alert` not in `before`, if it is open.
fn new_open(rows: &[Value], alert: &str, before: &[i64]) -> Result<i64, String> {
    of(rows, alert)
        .into_iter()
        .find(|r| !before.contains(&r["id"].as_i64().unwrap()) && firing(r))
        .map(|r| r["id"].as_i64().unwrap())
        .ok_or(format!("no new open {alert} row"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_gaps_exporter_restart_and_bad_community_never_end_an_outage() {
    let hook_port = free_port();
    let received = webhook(hook_port);
    let am = Am::start_with(
        free_port(),
        &format!(
            "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      \
             - url: http://127.0.0.1:{hook_port}/\n        send_resolved: true\n"
        ),
    )
    .await;
    let mut p = Pipeline::start_with(Options {
        deploy_jobs: true,
        notifier_url: Some(am.url()),
    })
    .await;

    // tbilisi loses Magti: its router still answers over Silknet.
    p.cut("BRANCH-RTR-01", "isp0");
    let rows = p
        .wait_rows("tbilisi's Magti row", |rows| {
            let r = of(rows, OUTAGE);
            (r.len() == 1 && r[0]["device"] == "BRANCH-RTR-01" && firing(r[0]))
                .then_some(())
                .ok_or(format!("no open {OUTAGE} row of BRANCH-RTR-01"))
        })
        .await;
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| of(r, OUTAGE)[0]["id"].as_i64().unwrap())
        .collect();
    wait_until(
        "Alertmanager to notify the outage",
        STEP_LIMIT,
        async || {
            let s = statuses(&received.lock().unwrap(), OUTAGE);
            s.contains(&"firing".to_string())
                .then_some(())
                .ok_or(format!("{s:?}"))
        },
    )
    .await;

    // 1. vmagent stopped until nothing has scraped the exporter for the (scaled) window.
    let before: Vec<i64> = rows
        .concat()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    p.stop_vmagent();
    let ids_ = ids.clone();
    let gap = p
        .wait_rows("WardfluxExporterNotScraped with vmagent stopped", |rows| {
            outage_intact(rows, &ids_, "the scrape gap");
            new_open(rows, "WardfluxExporterNotScraped", &before).map(|_| ())
        })
        .await;
    p.start_vmagent();
    let ids_ = ids.clone();
    p.wait_rows("WardfluxExporterNotScraped resolved", |rows| {
        outage_intact(rows, &ids_, "vmagent's restart");
        let open = of(rows, "WardfluxExporterNotScraped")
            .into_iter()
            .filter(|r| firing(r))
            .count();
        (open == 0).then_some(()).ok_or(format!("{open} open"))
    })
    .await;

    // 2. The exporter stopped until vmagent's scrapes of it fail long enough, then started.
    let before: Vec<i64> = gap
        .concat()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    p.stop_exporter();
    let ids_ = ids.clone();
    p.wait_rows("WardfluxExporterDown with the exporter stopped", |rows| {
        outage_intact(rows, &ids_, "the exporter's stop");
        new_open(rows, "WardfluxExporterDown", &before).map(|_| ())
    })
    .await;
    p.start_exporter();
    let ids_ = ids.clone();
    p.wait_rows("WardfluxExporterDown resolved", |rows| {
        outage_intact(rows, &ids_, "the exporter's restart");
        let open = of(rows, "WardfluxExporterDown")
            .into_iter()
            .filter(|r| firing(r))
            .count();
        (open == 0).then_some(()).ok_or(format!("{open} open"))
    })
    .await;

    // 3. The router's community made wrong: its SNMP fails, its series are not served.
    let good = p.exporter_config.clone();
    let mut bad = good.clone();
    let auth = bad["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "BRANCH-RTR-01")
        .unwrap()["auth"]
        .as_str()
        .unwrap()
        .to_string();
    let mut wrong = bad["auths"][&auth].clone();
    wrong["community"] = json!("not-the-community");
    bad["auths"]["wrong"] = wrong;
    for t in bad["targets"].as_array_mut().unwrap() {
        if t["name"] == "BRANCH-RTR-01" {
            t["auth"] = json!("wrong");
        }
    }
    p.reload_exporter(bad).await;
    for i in 0..p.rulers.len() {
        let ids_ = ids.clone();
        wait_until(
            "the ruler to see BRANCH-RTR-01 unreachable",
            STEP_LIMIT,
            async || {
                let rows = p.rulers[i].rows().await?;
                outage_intact(&rows, &ids_, "the wrong community");
                let r = p.rulers[i].reachability().await?;
                let state = r["devices"]
                    .as_array()
                    .and_then(|d| d.iter().find(|d| d["device"] == "BRANCH-RTR-01").cloned())
                    .map(|d| d["state"].clone());
                (state.is_some() && state != Some(json!("up")))
                    .then_some(())
                    .ok_or(format!("BRANCH-RTR-01: {state:?}"))
            },
        )
        .await;
    }
    p.reload_exporter(good).await;
    let ids_ = ids.clone();
    p.wait_rows("BRANCH-RTR-01 answering again", |rows| {
        outage_intact(rows, &ids_, "the community's repair");
        let open: Vec<_> = rows
            .iter()
            .filter(|r| firing(r) && r["device"] == "BRANCH-RTR-01" && r["alert_name"] != OUTAGE)
            .collect();
        open.is_empty()
            .then_some(())
            .ok_or(format!("{} other open rows of the router", open.len()))
    })
    .await;

    // Nothing told Alertmanager the outage was over.
    let sent = received.lock().unwrap().clone();
    assert!(
        !statuses(&sent, OUTAGE).contains(&"resolved".to_string()),
        "Alertmanager notified the outage resolved before its repair: {sent:#?}"
    );

    // Restored: the same row resolves on evidence, and Alertmanager is told.
    p.restore("BRANCH-RTR-01", "isp0");
    let end = p
        .wait_rows("the outage row resolved", |rows| {
            let o = of(rows, OUTAGE);
            (o.len() == 1 && !firing(o[0]))
                .then_some(())
                .ok_or(format!("{} rows, first open", o.len()))
        })
        .await;
    for ((rows, r), id) in end.iter().zip(&p.rulers).zip(&ids) {
        let all = brief(rows);
        let o = of(rows, OUTAGE);
        assert_eq!(o[0]["id"].as_i64(), Some(*id), "{}:\n{all}", r.name);
        assert_eq!(o[0]["resolution"], "recovered", "{}:\n{all}", r.name);
        for alert in ["WardfluxExporterNotScraped", "WardfluxExporterDown"] {
            let s = of(rows, alert);
            assert!(
                !s.is_empty() && s.iter().all(|x| !firing(x)),
                "{}: {alert} rows must exist, all resolved:\n{all}",
                r.name
            );
        }
    }
    wait_until(
        "Alertmanager to notify the repair",
        STEP_LIMIT,
        async || {
            let s = statuses(&received.lock().unwrap(), OUTAGE);
            s.contains(&"resolved".to_string())
                .then_some(())
                .ok_or(format!("{s:?}"))
        },
    )
    .await;
}
