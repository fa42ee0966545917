//! Breaking the database under the real pipeline: a private PostgreSQL server (password
//! logins, as in production) holds both the exporter's inventory (`targets_sql`, read-only
//! role) and the ruler's alert history (its own role); wardflux-lab's switch answers SNMP;
//! the real exporter reads its one target from the inventory; vmagent scrapes the deploy's
//! three jobs (`wardflux-devices` through HTTP SD, `wardflux-exporter`, `wardflux-ruler`) into
//! VictoriaMetrics; the real ruler runs the shipped rules (30-self.yml included) sped up
//! `SPEEDUP` times (every `interval`, `for` and range window divided) and notifies a real
//! Alertmanager whose webhook the test records.
//!
//! 1. The server is stopped: `WardfluxTargetsSqlFailing` and `WardfluxRulerStoreFailing` reach
//!    Alertmanager while nothing can be written, and the exporter keeps polling the device it
//!    read before.
//! 2. The server is started again: the transitions queued meanwhile land in alert_history, each
//!    exactly once (one row per episode, nothing dropped or refused), both alerts resolve on
//!    evidence (`recovered`), and Alertmanager is told.
//! 3. The server answers but refuses: the inventory table is renamed away and the ruler's role
//!    loses INSERT and UPDATE on alert_history. Both alerts reach Alertmanager again, the
//!    exporter keeps polling and its log names the missing table, no transition is given up;
//!    table and grants restored, the queued rows land once and both alerts resolve.
//!
//! Neither the database passwords nor the community appear in any log, row or notification.
//! No timing is asserted: waits have generous limits only.
//!
//! Needs root and the Debian packages postgresql (initdb, pg_ctl), snmpd, snmp, iproute2,
//! victoria-metrics (vmagent), prometheus-alertmanager.

#[macro_use]
mod common;
mod wan_support;

use std::process::Command;
use std::time::Duration;

use common::{free_port, Am, Vm};
use serde_json::{json, Value};
use wan_support::{
    brief, exporter_binary, firing, get_json, of, spawn_cmd, statuses, vmagent_cmd, wait_until,
    webhook, write_rules, Proc, Ruler,
};
use wardflux_lab::{Description, Lab};
use wardflux_web::testkit::{assert_no_secrets, PrivatePg};

/// The shipped self-monitoring rules run this many times faster (5m -> 15s, 1m -> 5s).
const SPEEDUP: u64 = 20;
const LIMIT: Duration = Duration::from_secs(120);

const SUPER_PW: &str = "wfx-dbout-super-Pw71";
const RO_PW: &str = "wfx-dbout-inv-Pw38";
const RULER_PW: &str = "wfx-dbout-ruler-Pw52";
const COMMUNITY: &str = "wfx-dbout-comm-19";

const SQL_ALERT: &str = "WardfluxTargetsSqlFailing";
const STORE_ALERT: &str = "WardfluxRulerStoreFailing";
const DEVICE: &str = "CORE-SW-01";

fn lab_description() -> String {
    format!(
        "name: dbout\n\
         snmp:\n  inv_v2: {{version: 2c, community: {COMMUNITY}}}\n\
         defaults: {{snmp: inv_v2}}\n\
         sites:\n  hq:\n    nodes:\n      \
         {DEVICE}: {{kind: switch, management: true, role: core}}\n"
    )
}

/// Runs `sql` (several statements allowed) as the superuser on database `db`.
async fn exec(port: u16, db: &str, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let url = format!("postgres://postgres:{SUPER_PW}@127.0.0.1:{port}/{db}");
    let mut c = sqlx::PgConnection::connect(&url)
        .await
        .map_err(|e| format!("connecting to {db}: {e}"))?;
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    let _ = c.close().await;
    Ok(())
}

/// The value of the unlabelled sample `name` on a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics(addr: &str, path: &str) -> Result<String, String> {
    let url = format!("http://{addr}{path}");
    let r = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    r.text().await.map_err(|e| format!("GET {url}: {e}"))
}

/// The device's `last_success` (Unix seconds) at the exporter, once it is up.
async fn polled_at(exporter: &str) -> Result<f64, String> {
    let v = get_json(&format!("http://{exporter}/api/v1/devices")).await?;
    let d = v
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == DEVICE))
        .ok_or(format!("{DEVICE} not in /api/v1/devices: {v}"))?;
    if d["up"] != true {
        return Err(format!("{DEVICE} not up: {d}"));
    }
    d["last_success"]
        .as_f64()
        .ok_or(format!("{DEVICE} never polled: {d}"))
}

/// Waits until the device has been polled successfully after `after` (Unix seconds).
async fn wait_polled_after(exporter: &str, after: f64, what: &str) {
    wait_until(what, LIMIT, async || {
        let t = polled_at(exporter).await?;
        (t > after)
            .then_some(())
            .ok_or(format!("last success {t}, waiting for one after {after}"))
    })
    .await;
}

fn now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// Waits until the ruler's rows satisfy `f` (the store must answer: the history API reads it).
async fn wait_rows(
    ruler: &mut Ruler,
    what: &str,
    f: impl Fn(&[Value]) -> Result<(), String>,
) -> Vec<Value> {
    wait_until(what, LIMIT, async || {
        let rows = ruler.rows().await?;
        f(&rows).map_err(|e| format!("{e}\nrows:\n{}", brief(&rows)))?;
        Ok(rows)
    })
    .await
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().filter_map(|r| r["id"].as_i64()).collect()
}

/// The rows of `alert` not in `before`.
fn new_rows<'a>(rows: &'a [Value], alert: &str, before: &[i64]) -> Vec<&'a Value> {
    of(rows, alert)
        .into_iter()
        .filter(|r| !before.contains(&r["id"].as_i64().unwrap_or(-1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_and_a_refusing_database_alert_queue_and_lose_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("wardflux-db-outage-")
        .tempdir()
        .unwrap();

    // The database server: the inventory (read-only role) and the ruler's store (its role).
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir_all(&pg_dir).unwrap();
    let pg = PrivatePg::start_password(&pg_dir, SUPER_PW);
    let lab = Lab::build(&Description::parse("db_outage.rs", &lab_description()).unwrap())
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let target = lab.targets().targets.remove(0);
    let ip = target.address.split(':').next().unwrap().to_string();
    for sql in [
        format!("CREATE ROLE wardflux_ro LOGIN PASSWORD '{RO_PW}'"),
        format!("CREATE ROLE wardflux_ruler LOGIN PASSWORD '{RULER_PW}'"),
        "CREATE DATABASE wardflux OWNER wardflux_ruler".to_string(),
    ] {
        exec(pg.port, "postgres", &sql).await.unwrap();
    }
    exec(
        pg.port,
        "wardflux",
        &format!(
            "CREATE SCHEMA inventory;\n\
             CREATE TABLE inventory.standalone_devices (name text, ip text, snmp_version text, \
             snmp_community text, site text, role text);\n\
             INSERT INTO inventory.standalone_devices VALUES \
             ('{DEVICE}', '{ip}', '2c', '{COMMUNITY}', 'hq', 'core');\n\
             GRANT USAGE ON SCHEMA inventory TO wardflux_ro;\n\
             GRANT SELECT ON inventory.standalone_devices TO wardflux_ro;"
        ),
    )
    .await
    .unwrap();
    let inventory_url = format!(
        "postgres://wardflux_ro:{RO_PW}@127.0.0.1:{}/wardflux",
        pg.port
    );
    let store_url = format!(
        "postgres://wardflux_ruler:{RULER_PW}@127.0.0.1:{}/wardflux",
        pg.port
    );

    // The exporter: its only target comes from the inventory.
    let cfg = json!({
        "poll_interval": "2s",
        "timeout": "1s",
        "retries": 0,
        "targets_sql": {
            "url_env": "WARDFLUX_INVENTORY_URL",
            "refresh_interval": "2s",
            "query_timeout": "3s",
            "labels": {"source": "inventory"},
            "query": "SELECT name, ip, snmp_version, snmp_community, site, role \
                      FROM inventory.standalone_devices ORDER BY name",
        },
    });
    let cfg_path = dir.path().join("exporter.yml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let exporter_addr = format!("127.0.0.1:{}", free_port());
    let mut exporter = Proc::spawn(
        "wardflux-exporter",
        Command::new(exporter_binary())
            .arg("--config.file")
            .arg(&cfg_path)
            .args(["--web.listen-address", &exporter_addr])
            .env("WARDFLUX_INVENTORY_URL", &inventory_url),
        dir.path().join("exporter.log"),
    );
    wait_until(
        "the exporter to poll the inventory's device",
        LIMIT,
        async || {
            exporter.assert_running();
            polled_at(&exporter_addr).await
        },
    )
    .await;

    // Alertmanager recording every notification; VictoriaMetrics; the ruler; vmagent.
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
    let vm = Vm::start().await;
    write_rules(dir.path(), true, SPEEDUP);
    let mut ruler = Ruler::start(
        "postgres",
        store_url,
        None,
        dir.path(),
        &vm.url(),
        Some(&am.url()),
    )
    .await;
    let scrape = dir.path().join("scrape.yml");
    std::fs::write(
        &scrape,
        format!(
            "scrape_configs:\n\
             \x20 - job_name: wardflux-devices\n\
             \x20   scrape_interval: 2s\n\
             \x20   honor_labels: true\n\
             \x20   http_sd_configs:\n\
             \x20     - url: http://{exporter_addr}/api/v1/targets\n\
             \x20 - job_name: wardflux-exporter\n\
             \x20   scrape_interval: 2s\n\
             \x20   metrics_path: /metrics/self\n\
             \x20   static_configs:\n\
             \x20     - targets: [\"{exporter_addr}\"]\n\
             \x20 - job_name: wardflux-ruler\n\
             \x20   scrape_interval: 2s\n\
             \x20   static_configs:\n\
             \x20     - targets: [\"{}\"]\n",
            ruler.addr
        ),
    )
    .unwrap();
    let mut vmagent = spawn_cmd(
        "vmagent",
        &vmagent_cmd(&scrape, &vm.url(), dir.path()),
        dir.path(),
        0,
    );

    // Healthy: the device's series and the exporter's targets_sql_up reach VictoriaMetrics,
    // and the ruler writes (the Watchdog's row).
    wait_until(
        "the inventory and the device in VictoriaMetrics",
        LIMIT,
        async || {
            vmagent.assert_running();
            let up = vm
                .query(
                    "wardflux_targets_sql_up{job=\"wardflux-exporter\"} == 1",
                    chrono::Utc::now(),
                )
                .await
                .len();
            let dev = vm
                .query(
                    &format!("wardflux_device_up{{device=\"{DEVICE}\",source=\"inventory\"}} == 1"),
                    chrono::Utc::now(),
                )
                .await
                .len();
            let ruler_up = vm
                .query("up{job=\"wardflux-ruler\"} == 1", chrono::Utc::now())
                .await
                .len();
            (up == 1 && dev == 1 && ruler_up == 1)
                .then_some(())
                .ok_or(format!(
                    "sql_up {up}, device {dev}, ruler scraped {ruler_up}"
                ))
        },
    )
    .await;
    let healthy = wait_rows(&mut ruler, "the Watchdog's row", |rows| {
        (!of(rows, "Watchdog").is_empty())
            .then_some(())
            .ok_or("no Watchdog row".into())
    })
    .await;
    for alert in [SQL_ALERT, STORE_ALERT] {
        assert!(
            of(&healthy, alert).is_empty(),
            "{alert} before any fault:\n{}",
            brief(&healthy)
        );
    }
    let before = ids(&healthy);

    // 1. The server stops: both alerts reach Alertmanager, the device keeps being polled.
    eprintln!("stopping PostgreSQL");
    pg.stop();
    let stopped_at = now();
    wait_until(
        "Alertmanager to be told of both database alerts",
        LIMIT,
        async || {
            exporter.assert_running();
            ruler.proc.assert_running();
            let got = received.lock().unwrap().clone();
            let missing: Vec<&str> = [SQL_ALERT, STORE_ALERT]
                .into_iter()
                .filter(|a| !statuses(&got, a).contains(&"firing".to_string()))
                .collect();
            missing
                .is_empty()
                .then_some(())
                .ok_or(format!("not yet notified: {missing:?}"))
        },
    )
    .await;
    wait_polled_after(
        &exporter_addr,
        stopped_at + 2.0,
        "the exporter to keep polling the inventory's device with the database down",
    )
    .await;
    let page = metrics(&ruler.addr, "/metrics").await.unwrap();
    let depth = sample(&page, "wardflux_ruler_transition_queue_depth").unwrap_or(-1.0);
    assert!(
        depth > 0.0,
        "the ruler's queue holds nothing with the store down (depth {depth})"
    );
    let page = metrics(&exporter_addr, "/metrics/self").await.unwrap();
    assert_eq!(
        sample(&page, "wardflux_targets_sql_up"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "wardflux_targets_sql_targets"),
        Some(1.0),
        "{page}"
    );
    // The logs say which server is away and what that means, without its password.
    let server = format!("wardflux_ro@127.0.0.1:{}/wardflux", pg.port);
    let log = std::fs::read_to_string(dir.path().join("exporter.log")).unwrap();
    assert!(
        log.contains("cannot read the inventory; keeping the last good targets")
            && log.contains(&server),
        "the exporter's log does not name the inventory server {server}:\n{}",
        exporter.tail()
    );
    assert!(
        std::fs::read_to_string(dir.path().join("ruler-postgres-0.log"))
            .unwrap()
            .contains("lost the connection to the store"),
        "the ruler's log does not say the store is away:\n{}",
        ruler.proc.tail()
    );

    // 2. The server is back: the queue lands, once; both alerts resolve on evidence.
    eprintln!("starting PostgreSQL again");
    pg.start_again();
    let end = wait_rows(
        &mut ruler,
        "both database alerts written once and resolved",
        |rows| {
            for alert in [SQL_ALERT, STORE_ALERT] {
                let r = new_rows(rows, alert, &before);
                if r.len() != 1 || firing(r[0]) {
                    return Err(format!("{alert}: {} rows, want one resolved", r.len()));
                }
            }
            Ok(())
        },
    )
    .await;
    for alert in [SQL_ALERT, STORE_ALERT] {
        let r = new_rows(&end, alert, &before);
        assert_eq!(r[0]["resolution"], "recovered", "{alert}:\n{}", brief(&end));
    }
    let page = metrics(&ruler.addr, "/metrics").await.unwrap();
    for lost in [
        "wardflux_ruler_transitions_dropped_total",
        "wardflux_ruler_transitions_rejected_total",
    ] {
        assert_eq!(sample(&page, lost), Some(0.0), "{lost}:\n{page}");
    }
    wait_until(
        "Alertmanager to be told both database alerts resolved",
        LIMIT,
        async || {
            let got = received.lock().unwrap().clone();
            let missing: Vec<&str> = [SQL_ALERT, STORE_ALERT]
                .into_iter()
                .filter(|a| !statuses(&got, a).contains(&"resolved".to_string()))
                .collect();
            missing
                .is_empty()
                .then_some(())
                .ok_or(format!("not yet resolved: {missing:?}"))
        },
    )
    .await;

    // 3. The server answers but refuses: the inventory table is gone, and the ruler's role may
    //    no longer write alert_history (a DBA's mistake). Nothing is dropped: the refused
    //    writes wait in the queue like those of a stopped server.
    let before = ids(&end);
    let notified = |alert: &str| statuses(&received.lock().unwrap(), alert).len();
    let (sql_notes, store_notes) = (notified(SQL_ALERT), notified(STORE_ALERT));
    exec(
        pg.port,
        "wardflux",
        "ALTER TABLE inventory.standalone_devices RENAME TO standalone_devices_moved;\n\
         REVOKE INSERT, UPDATE ON alert_history FROM wardflux_ruler;",
    )
    .await
    .unwrap();
    let broken_at = now();
    wait_until(
        "Alertmanager to be told of both database alerts again",
        LIMIT,
        async || {
            exporter.assert_running();
            ruler.proc.assert_running();
            let (a, b) = (notified(SQL_ALERT), notified(STORE_ALERT));
            (a > sql_notes && b > store_notes)
                .then_some(())
                .ok_or(format!("notifications: {SQL_ALERT} {a}, {STORE_ALERT} {b}"))
        },
    )
    .await;
    wait_polled_after(
        &exporter_addr,
        broken_at + 2.0,
        "the exporter to keep polling with the inventory table gone",
    )
    .await;
    let log = std::fs::read_to_string(dir.path().join("exporter.log")).unwrap();
    assert!(
        log.contains("standalone_devices") && log.contains("does not exist"),
        "the exporter's log does not name the missing table:\n{}",
        exporter.tail()
    );
    let page = metrics(&ruler.addr, "/metrics").await.unwrap();
    for lost in [
        "wardflux_ruler_transitions_dropped_total",
        "wardflux_ruler_transitions_rejected_total",
    ] {
        assert_eq!(
            sample(&page, lost),
            Some(0.0),
            "a refused write was given up ({lost}):\n{}",
            ruler.proc.tail()
        );
    }
    exec(
        pg.port,
        "wardflux",
        "ALTER TABLE inventory.standalone_devices_moved RENAME TO standalone_devices;\n\
         GRANT INSERT, UPDATE ON alert_history TO wardflux_ruler;",
    )
    .await
    .unwrap();
    let last = wait_rows(
        &mut ruler,
        "both database alerts written again once and resolved",
        |rows| {
            for alert in [SQL_ALERT, STORE_ALERT] {
                let r = new_rows(rows, alert, &before);
                if r.len() != 1 || firing(r[0]) {
                    return Err(format!("{alert}: {} new rows, want one resolved", r.len()));
                }
            }
            Ok(())
        },
    )
    .await;
    let page = metrics(&ruler.addr, "/metrics").await.unwrap();
    for lost in [
        "wardflux_ruler_transitions_dropped_total",
        "wardflux_ruler_transitions_rejected_total",
    ] {
        assert_eq!(sample(&page, lost), Some(0.0), "{lost}:\n{page}");
    }
    eprintln!("rows:\n{}", brief(&last));

    // What the NOC reads never carries a password or the community.
    vmagent.stop();
    exporter.stop();
    ruler.proc.stop();
    let mut outputs = vec![
        (
            "alert rows".to_string(),
            serde_json::to_string(&last).unwrap(),
        ),
        (
            "Alertmanager notifications".to_string(),
            serde_json::to_string(&*received.lock().unwrap()).unwrap(),
        ),
    ];
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "log") {
            outputs.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap_or_default(),
            ));
        }
    }
    assert_no_secrets(
        &outputs,
        &[
            ("the superuser's password", SUPER_PW),
            ("the inventory role's password", RO_PW),
            ("the ruler role's password", RULER_PW),
            ("the community", COMMUNITY),
        ],
    );
}
