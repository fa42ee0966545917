//! The whole pipeline on a lab wired like the bank: wardflux-lab builds three branches whose
//! routers are reached from the host ONLY over their two ISP uplinks (different providers), a
//! switch behind each router (LLDP via lldpd) and a core switch at HQ; the real
//! `wardflux-exporter` polls them, vmagent scrapes it through its HTTP service discovery into
//! VictoriaMetrics, and two real `wardflux-ruler` processes evaluate the shipped rules
//! (`rules/alerts`, `rules/outages.yml`, intervals and `for` scaled down as the demo does) on
//! the same data, one on SQLite and one on its own PostgreSQL database.
//!
//! The story (cables cut for real at the provider's end):
//! 1. tbilisi loses Magti: one `IspUplinkDownBackupWorking` row;
//! 2. batumi loses both providers: one `SiteIsolated` row naming the site, both providers
//!    with their last known state and the switch cut off; the router's and switch's own
//!    rows (if any) point at it through `caused_by`; the tbilisi row stays open. The
//!    PostgreSQL ruler is restarted during the isolation: the same rows continue;
//! 3. everything restored: every row resolves on evidence (`recovered`), the site row saying
//!    the router did not restart;
//! 4. Magti fails at every branch that uses it: one `ProviderOutage` row, the per-site rows
//!    pointing at it; restored, everything resolves.
//!
//! Assertions read the rows through each ruler's `/api/v1/history` and from its store
//! directly, and the exporter's `/api/v1/devices` (router down, switch in its shadow).
//! No timing is asserted: waits have generous limits only so a broken pipeline fails
//! instead of hanging.
//!
//! The exporter binary is the one built next to this test's `wardflux-ruler` (same target
//! directory and profile; `cargo nextest run --workspace` builds it, as the exporter's own
//! integration tests need it).
//!
//! Needs root and the Debian packages snmpd, snmp, lldpd, iproute2, victoria-metrics
//! (vmagent), postgresql (127.0.0.1:5432, trust auth).

#[macro_use]
mod common;
mod wan_support;

use serde_json::{json, Value};
use wan_support::{brief, device, firing, has_text, of, wait_until, Pipeline, STEP_LIMIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_wan_outages_through_the_whole_pipeline_on_sqlite_and_postgres() {
    let mut p = Pipeline::start().await;

    // 1. tbilisi loses Magti: its router still answers over Silknet.
    p.cut("BRANCH-RTR-01", "isp0");
    let step1 = p
        .wait_rows("tbilisi's Magti row", |rows| {
            let r = of(rows, "IspUplinkDownBackupWorking");
            (r.len() == 1 && r[0]["device"] == "BRANCH-RTR-01" && firing(r[0]))
                .then_some(())
                .ok_or("no open IspUplinkDownBackupWorking row of BRANCH-RTR-01".into())
        })
        .await;
    for (rows, r) in step1.iter().zip(&p.rulers) {
        assert_eq!(rows.len(), 1, "{}: one row:\n{}", r.name, brief(rows));
        assert_eq!(
            rows[0]["isp_provider"]
                .as_str()
                .map(str::to_lowercase)
                .as_deref(),
            Some("magti")
        );
        assert_eq!(rows[0]["severity"], "high");
    }

    // 2. batumi loses both providers: router and switch stop answering.
    p.cut("BRANCH-RTR-02", "isp0");
    p.cut("BRANCH-RTR-02", "isp1");
    p.wait_rows("batumi's SiteIsolated row", |rows| {
        let s = of(rows, "SiteIsolated");
        (s.len() == 1 && firing(s[0]))
            .then_some(())
            .ok_or("no open SiteIsolated row".into())
    })
    .await;
    // The exporter's own view: the router down, the switch in its shadow.
    wait_until("the exporter's view of batumi", STEP_LIMIT, async || {
        let devs = p.devices().await?;
        let rtr = device(&devs, "BRANCH-RTR-02");
        let sw = device(&devs, "BRANCH-SW-02");
        let ok = rtr["up"] == false
            && rtr["reachability"]["state"] == "down"
            && sw["up"] == false
            && sw["reachability"]["state"] == "shadow"
            && sw["reachability"]["roots"] == json!(["BRANCH-RTR-02"])
            && device(&devs, "BRANCH-SW-01")["reachability"]["state"] == "up";
        ok.then_some(()).ok_or(format!("{rtr}\n{sw}"))
    })
    .await;
    // A restart of the PostgreSQL ruler during the isolation: its open rows continue.
    let before: Vec<i64> = p.rulers[1]
        .rows()
        .await
        .unwrap()
        .iter()
        .filter(|r| firing(r))
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    p.rulers[1].restart().await;
    // Wait until the devices' own rows (DeviceSnmpUnreachable, 10 s here) have had their
    // time: each must point at the site's row.
    let step2 = p
        .wait_rows("batumi's devices' rows under the site row", |rows| {
            let site = of(rows, "SiteIsolated");
            let id = &site[0]["id"];
            let dev = of(rows, "DeviceSnmpUnreachable");
            let linked = dev.iter().filter(|d| d["caused_by"] == *id).count();
            (dev.len() == 2 && linked == 2).then_some(()).ok_or(format!(
                "{} device rows, {linked} linked to #{id}",
                dev.len()
            ))
        })
        .await;
    for (rows, r) in step2.iter().zip(&p.rulers) {
        let name = r.name;
        let all = brief(rows);
        let site = of(rows, "SiteIsolated");
        assert_eq!(site.len(), 1, "{name}: one site row:\n{all}");
        let s = site[0];
        assert_eq!(s["labels"]["site"], "batumi", "{name}");
        assert_eq!(s["severity"], "critical", "{name}");
        for needle in ["batumi", "BRANCH-RTR-02", "1 device cut off: BRANCH-SW-02"] {
            assert!(
                has_text(s, needle),
                "{name}: {needle:?} not in {}",
                s["message"]
            );
        }
        // Both providers with their last known state: cut at once, the router is gone before
        // a poll sees either link down, so "last seen up at"; a poll in between the two cuts
        // would have seen the first "down since".
        for provider in ["silknet", "veon"] {
            assert!(
                has_text(s, &format!("{provider} last seen up at "))
                    || has_text(s, &format!("{provider} down since ")),
                "{name}: {provider}'s last known state not in {}",
                s["message"]
            );
        }
        for d in of(rows, "DeviceSnmpUnreachable") {
            assert!(
                ["BRANCH-RTR-02", "BRANCH-SW-02"].contains(&d["device"].as_str().unwrap_or("")),
                "{name}: {all}"
            );
        }
        // No independent row for anything in batumi.
        for row in rows {
            let batumi = row["labels"]["site"] == "batumi"
                || row["device"].as_str().is_some_and(|d| d.ends_with("-02"));
            if batumi && row["alert_name"] != "SiteIsolated" {
                assert_eq!(row["caused_by"], s["id"], "{name}: independent row:\n{all}");
            }
        }
        // tbilisi's Magti row stays open: its router still answers, Magti still down.
        let magti = of(rows, "IspUplinkDownBackupWorking");
        assert_eq!(magti.len(), 1, "{name}:\n{all}");
        assert!(firing(magti[0]), "{name}: tbilisi's row resolved:\n{all}");
        assert_eq!(magti[0]["caused_by"], Value::Null, "{name}");
        assert!(of(rows, "IspTotalOutage").is_empty(), "{name}:\n{all}");
        assert!(of(rows, "ProviderOutage").is_empty(), "{name}:\n{all}");
        assert!(of(rows, "PollerNetworkLost").is_empty(), "{name}:\n{all}");
    }
    // The restarted ruler continued the rows open before its restart: none duplicated.
    for id in &before {
        let row = step2[1].iter().find(|r| r["id"] == *id).expect("row kept");
        assert!(
            firing(row),
            "postgres: #{id} closed by the restart:\n{}",
            brief(&step2[1])
        );
    }

    // 3. Everything restored: every row resolves on evidence.
    p.restore("BRANCH-RTR-01", "isp0");
    p.restore("BRANCH-RTR-02", "isp0");
    p.restore("BRANCH-RTR-02", "isp1");
    let step3 = p
        .wait_rows("every row resolved", |rows| {
            let open: Vec<_> = rows.iter().filter(|r| firing(r)).collect();
            open.is_empty()
                .then_some(())
                .ok_or(format!("{} open", open.len()))
        })
        .await;
    for (rows, r) in step3.iter().zip(&p.rulers) {
        let all = brief(rows);
        for row in rows {
            assert_eq!(row["resolution"], "recovered", "{}:\n{all}", r.name);
        }
        let s = of(rows, "SiteIsolated")[0];
        let note = s["resolution_note"].as_str().unwrap_or("");
        assert!(
            note.contains("router BRANCH-RTR-02 did not restart"),
            "{}: {note}",
            r.name
        );
        assert_eq!(of(rows, "SiteIsolated").len(), 1, "{}:\n{all}", r.name);
    }
    let done = step3[0].len();

    // 4. Magti fails at every branch using it (tbilisi, kutaisi); the routers stay reachable.
    let magti = p.lab.provider_uplinks("Magti", None);
    assert_eq!(magti.len(), 2, "{magti:?}");
    for (n, port) in &magti {
        p.cut(n, port);
    }
    let step4 = p
        .wait_rows(
            "the Magti provider row and the site rows under it",
            |rows| {
                let new = &rows[done..];
                let prov = of(new, "ProviderOutage");
                if prov.len() != 1 {
                    return Err("no ProviderOutage row".into());
                }
                let per_site = of(new, "IspUplinkDownBackupWorking");
                let linked = per_site
                    .iter()
                    .filter(|r| r["caused_by"] == prov[0]["id"])
                    .count();
                (linked == 2)
                    .then_some(())
                    .ok_or(format!("{linked} of 2 site rows linked"))
            },
        )
        .await;
    for (rows, r) in step4.iter().zip(&p.rulers) {
        let new = &rows[done..];
        let all = brief(new);
        let prov = of(new, "ProviderOutage")[0];
        assert_eq!(
            prov["isp_provider"]
                .as_str()
                .map(str::to_lowercase)
                .as_deref(),
            Some("magti"),
            "{}",
            r.name
        );
        for needle in ["kutaisi", "tbilisi"] {
            assert!(has_text(prov, needle), "{}: {}", r.name, prov["message"]);
        }
        let devs: Vec<&str> = of(new, "IspUplinkDownBackupWorking")
            .iter()
            .map(|x| x["device"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(devs.len(), 2, "{}:\n{all}", r.name);
        assert!(devs.contains(&"BRANCH-RTR-01") && devs.contains(&"BRANCH-RTR-03"));
        assert!(of(new, "SiteIsolated").is_empty(), "{}:\n{all}", r.name);
    }
    for (n, port) in &magti {
        p.restore(n, port);
    }
    // tbilisi's Magti went down and up twice within 15 minutes: `InterfaceFlapping` may
    // rightly fire (4 status changes) and stays until its 15-minute window passes.
    // Everything else resolves.
    let last = p
        .wait_rows("every row resolved after Magti is back", |rows| {
            let open: Vec<_> = rows
                .iter()
                .filter(|r| firing(r) && r["alert_name"] != "InterfaceFlapping")
                .collect();
            open.is_empty()
                .then_some(())
                .ok_or(format!("{} open", open.len()))
        })
        .await;

    // The store holds what the API showed.
    for (rows, r) in last.iter().zip(&p.rulers) {
        let api: Vec<_> = rows
            .iter()
            .map(|x| {
                (
                    x["id"].as_i64().unwrap(),
                    x["alert_name"].as_str().unwrap().to_string(),
                    x["resolution"].as_str().map(str::to_string),
                    x["caused_by"].as_i64(),
                )
            })
            .collect();
        assert_eq!(r.store_rows().await, api, "{}", r.name);
        let prov = &of(&rows[done..], "ProviderOutage")[0]["id"];
        for row in rows {
            if row["alert_name"] == "InterfaceFlapping" {
                assert_eq!(
                    row["device"],
                    "BRANCH-RTR-01",
                    "{}:\n{}",
                    r.name,
                    brief(rows)
                );
                // Under the provider's row when it fired during the outage (else its own).
                assert!(
                    row["caused_by"] == *prov || row["caused_by"].is_null(),
                    "{}:\n{}",
                    r.name,
                    brief(rows)
                );
                continue;
            }
            assert_eq!(
                row["resolution"],
                "recovered",
                "{}:\n{}",
                r.name,
                brief(rows)
            );
        }
    }
}
