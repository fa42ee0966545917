//! The inventory store against real databases and real agents: the exporter polls snmpsim
//! recordings, our simagent (reboots that renumber ifIndex) and net-snmp in a namespace (a link
//! going down), and keeps `device_interfaces` in the shared PostgreSQL (a database of each
//! test's own), a private PostgreSQL server crashed mid-write, a private PostgreSQL that speaks
//! only TLS (verify-full, and a wrong CA), and SQLite. Interface edits go through the real HTTP
//! stack with basic auth and write users, into `interface_edits`/`interface_edit_audit` (an
//! edits file imported once, a stopped store refusing with a 503, restarts); the ruler's sqlx
//! migrations run on the same database; the operations queries run unchanged on both databases.
//!
//! Needs: Debian postgresql (server running, and initdb/pg_ctl for the private one), openssl,
//! snmpsim, snmpd, snmp, iproute2; PyPI snmpsim-data; root (the namespace test).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::netns::{if_index, mgmt_link, start_snmpd, veth, Netns};
use common::{find_sample, free_tcp_port, parse_exposition, wait_for, Proc, Snmpsim, TempDir};
use sqlx::Connection;
use wardflux_web::testkit::{bcrypt_hash, PrivatePg};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-exporter");
const REC: &str = "network/switch/cisco-c3750";
const COMM: &str = "wf-invstore-c1";
/// The URL's password (trust auth ignores it); never shown anywhere.
const DB_PASSWORD: &str = "Inv-Store-Pw-7734";
const LIMIT: Duration = Duration::from_secs(120);

/// The operations queries of the original plan, as the docs give them (docs/operations.md).
const Q_BY_TYPE: &str = "SELECT interface_type, COUNT(*) AS total, \
    COUNT(*) FILTER (WHERE is_critical = true) AS critical, \
    COUNT(*) FILTER (WHERE monitored = true) AS monitored \
    FROM device_interfaces WHERE enabled = true \
    GROUP BY interface_type ORDER BY total DESC";
const Q_ISP: &str = "SELECT d.name, d.ip, i.if_name, i.isp_provider, i.oper_status, i.is_critical \
    FROM device_interfaces i JOIN standalone_devices d ON d.id = i.device_id \
    WHERE i.interface_type = 'isp' AND i.enabled = true \
    ORDER BY d.name, i.isp_provider";
const Q_TOPOLOGY: &str =
    "SELECT device_name, if_name, connected_to_device, connected_to_interface \
    FROM device_interfaces WHERE connected_to_device IS NOT NULL AND enabled = true \
    ORDER BY device_name, if_name";

// ---------------------------------------------------------------- the exporter, with auth

struct Ex {
    proc: Proc,
    addr: String,
    log: PathBuf,
    auth: Option<(String, String)>,
}

/// Start the exporter on `dir/wardflux.yml` (a restart uses the same directory, so the edits
/// file and the audit trail carry over).
fn start(dir: &Path, env: &[(&str, &str)], extra: &[&str], auth: Option<(&str, &str)>) -> Ex {
    let port = free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.join(format!("exporter-{port}.log"));
    let mut cmd = Command::new(BIN);
    cmd.arg("--config.file")
        .arg(dir.join("wardflux.yml"))
        .arg("--web.listen-address")
        .arg(&addr)
        .arg("--log.level")
        .arg("debug")
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = Proc::spawn("wardflux-exporter", &mut cmd);
    let ex = Ex {
        addr,
        log,
        auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        proc: {
            wait_for("the exporter to listen", Duration::from_secs(30), || {
                proc.assert_running();
                std::net::TcpStream::connect(format!("127.0.0.1:{port}"))
                    .ok()
                    .map(|_| ())
            });
            proc
        },
    };
    ex
}

impl Ex {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: &str,
        as_user: Option<(&str, &str)>,
    ) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let who = as_user.or(self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())));
        let auth = who
            .map(|(u, p)| {
                format!(
                    "Authorization: Basic {}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            })
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("http answer");
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, body.to_string())
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.call("GET", path, "", None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let (status, body) = self.call("GET", "/metrics", "", None);
        assert_eq!(status, 200, "{body}");
        find_sample(&parse_exposition(&body), name, &[]).map(|s| s.f64())
    }

    /// ifIndex -> ifName of a device's discovered interfaces.
    fn interfaces(&self, device: &str) -> Vec<(i64, String)> {
        let v = self.json(&format!("/api/v1/interfaces?device={device}"));
        v["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["if_index"].as_i64().unwrap(),
                    i["if_name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn wait_interfaces(&self, device: &str) -> Vec<(i64, String)> {
        wait_for(&format!("{device} discovered"), LIMIT, || {
            // Unknown (404) until targets_sql or the config brings the device.
            let (status, _) = self.call(
                "GET",
                &format!("/api/v1/interfaces?device={device}"),
                "",
                None,
            );
            if status == 404 {
                return None;
            }
            let l = self.interfaces(device);
            (!l.is_empty()).then_some(l)
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) {
        common::run(Command::new("kill").args(["-TERM", &self.proc.pid().to_string()]));
        wait_for("the exporter to exit", Duration::from_secs(30), || {
            self.proc_exited().then_some(())
        });
    }

    fn proc_exited(&mut self) -> bool {
        std::fs::metadata(format!("/proc/{}", self.proc.pid()))
            .map(|_| {
                std::fs::read_to_string(format!("/proc/{}/stat", self.proc.pid()))
                    .map(|s| s.contains(") Z "))
                    .unwrap_or(true)
            })
            .unwrap_or(true)
    }
}

// ---------------------------------------------------------------- databases

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A database of the test's own on the shared server, dropped on drop.
struct PgDb {
    name: String,
}

fn admin_url() -> String {
    std::env::var("WARDFLUX_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

impl PgDb {
    fn create() -> PgDb {
        let name = format!(
            "wardflux_invstore_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        admin(&format!("CREATE DATABASE {name}"));
        PgDb { name }
    }

    fn url(&self) -> String {
        let base = admin_url();
        let (scheme, rest) = base.split_once("://").unwrap();
        let host = rest.split_once('@').map(|(_, h)| h).unwrap_or(rest);
        let host = host.split_once('/').map(|(h, _)| h).unwrap_or(host);
        format!("{scheme}://postgres:{DB_PASSWORD}@{host}/{}", self.name)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn admin(sql: &str) {
    let url = admin_url();
    rt().block_on(async {
        let mut c = sqlx::PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} (Debian postgresql, trust): {e}"));
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    });
}

/// Run SQL on PostgreSQL or SQLite and return every row as strings (NULL as "NULL").
fn query(url: &str, sql: &str) -> Result<Vec<Vec<String>>, String> {
    use sqlx::{Column, Row, TypeInfo};
    fn cell<R: Row>(r: &R, i: usize) -> String
    where
        for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        usize: sqlx::ColumnIndex<R>,
    {
        if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
            return v.map_or("NULL".into(), |v| v.to_string());
        }
        if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
            return v.map_or("NULL".into(), |v| v.to_string());
        }
        if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
            return v.map_or("NULL".into(), |v| v.to_string());
        }
        if let Ok(v) = r.try_get::<Option<String>, _>(i) {
            return v.unwrap_or_else(|| "NULL".into());
        }
        let _ = r.columns()[i].type_info().name();
        "?".into()
    }
    rt().block_on(async {
        if url.starts_with("sqlite://") {
            let mut c = sqlx::SqliteConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(sql)
                .fetch_all(&mut c)
                .await
                .map_err(|e| e.to_string())?;
            Ok(rows
                .iter()
                .map(|r| (0..r.columns().len()).map(|i| cell(r, i)).collect())
                .collect())
        } else {
            let mut c = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(sql)
                .fetch_all(&mut c)
                .await
                .map_err(|e| e.to_string())?;
            Ok(rows
                .iter()
                .map(|r| (0..r.columns().len()).map(|i| cell(r, i)).collect())
                .collect())
        }
    })
}

fn exec(url: &str, sql: &str) {
    rt().block_on(async {
        if url.starts_with("sqlite://") {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    });
}

fn scalar(url: &str, sql: &str) -> String {
    query(url, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .first()
        .and_then(|r| r.first().cloned())
        .unwrap_or_default()
}

/// (if_index, if_name, enabled) of a device's rows, by ifIndex.
fn rows_of(url: &str, device: &str) -> Vec<(i64, String, bool)> {
    query(
        url,
        &format!(
            "SELECT if_index, if_name, enabled FROM device_interfaces \
             WHERE device_name = '{device}' ORDER BY if_index"
        ),
    )
    .unwrap_or_default()
    .into_iter()
    .map(|r| {
        (
            r[0].parse().unwrap(),
            r[1].clone(),
            r[2] == "true" || r[2] == "1",
        )
    })
    .collect()
}

fn wait_rows(url: &str, device: &str, want: &[(i64, String)]) {
    wait_for(
        &format!("{device}'s enabled rows to be {want:?}"),
        LIMIT,
        || {
            let enabled: Vec<(i64, String)> = rows_of(url, device)
                .into_iter()
                .filter(|r| r.2)
                .map(|r| (r.0, r.1))
                .collect();
            (enabled == want).then_some(())
        },
    );
}

/// The ruler's own migrations (sqlx's `_sqlx_migrations`), as `wardflux-ruler migrate` runs them.
fn ruler_migrate(url: &str) {
    rt().block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::migrate!("../migrations/postgres")
            .run(&mut c)
            .await
            .expect("the ruler's migrations run on a database the exporter migrated");
    });
}

// ---------------------------------------------------------------- tests

fn web_config(dir: &Path) -> PathBuf {
    let p = dir.join("web.yml");
    std::fs::write(
        &p,
        format!(
            "basic_auth_users:\n  reader: {}\n  noc-admin: {}\n",
            bcrypt_hash("reader-pass-1"),
            bcrypt_hash("admin-pass-2")
        ),
    )
    .unwrap();
    p
}

#[test]
fn postgres_rows_follow_discovery_api_edits_restarts_and_share_the_database_with_the_ruler() {
    let sim = Snmpsim::start_as("invstore-pg", &[(REC, COMM)]);
    let db = PgDb::create();
    let url = db.url();
    exec(
        &url,
        &format!(
            "CREATE TABLE standalone_devices (id serial PRIMARY KEY, name text, ip text,
               snmp_version text, snmp_community text, snmp_port integer);
             INSERT INTO standalone_devices (name, ip) VALUES ('OTHER-0', '10.0.0.1');
             INSERT INTO standalone_devices (name, ip, snmp_version, snmp_community, snmp_port)
             VALUES ('BR-001', '127.0.0.1', '2c', '{COMM}', {})",
            sim.port
        ),
    );
    let dir = TempDir::new("invstore-pg");
    let web = web_config(dir.path());
    std::fs::write(
        dir.join("wardflux.yml"),
        "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\n\
         targets_sql:\n  url_env: WF_INV_URL\n  refresh_interval: 1s\n\
         \x20 query: SELECT id, name, ip, snmp_version, snmp_community, snmp_port FROM standalone_devices WHERE snmp_port IS NOT NULL\n\
         inventory_store:\n  url_env: WF_INV_URL\n",
    )
    .unwrap();
    let env = [("WF_INV_URL", url.as_str())];
    let flags = [
        "--web.config.file",
        web.to_str().unwrap(),
        "--web.write-users",
        "noc-admin",
    ];
    let reader = Some(("reader", "reader-pass-1"));
    let ex = start(dir.path(), &env, &flags, reader);
    let ifs = ex.wait_interfaces("BR-001");
    wait_rows(&url, "BR-001", &ifs);
    let id = scalar(
        &url,
        "SELECT id FROM standalone_devices WHERE name = 'BR-001'",
    );
    assert_eq!(
        scalar(&url, "SELECT count(*) FROM device_interfaces WHERE device_id IS DISTINCT FROM (SELECT id FROM standalone_devices WHERE name = 'BR-001')"),
        "0",
        "every row carries the inventory's id {id}"
    );
    assert_eq!(
        scalar(&url, "SELECT count(*) FROM device_interfaces WHERE discovered_at IS NULL OR last_seen IS NULL OR oper_status = ''"),
        "0"
    );
    assert_eq!(ex.metric("wardflux_inventory_store_up"), Some(1.0));

    // The ruler's migrations on the same database, then the exporter's again (a restart).
    ruler_migrate(&url);
    assert_eq!(
        scalar(&url, "SELECT string_agg(version::text, ',' ORDER BY version) FROM wardflux_exporter_migrations"),
        "1,2"
    );
    assert!(
        scalar(&url, "SELECT count(*) FROM _sqlx_migrations")
            .parse::<i64>()
            .unwrap()
            >= 2,
        "the ruler's bookkeeping is its own"
    );

    // Edits: a read-only user is refused, bad bodies name the field, the write user's edit
    // shows on the next /metrics and in the row.
    let (ix, name) = ifs[0].clone();
    let path = format!("/api/v1/interfaces/BR-001/{ix}");
    let body = r#"{"interface_type": "isp", "isp_provider": "Magti", "is_critical": true}"#;
    let (s, b) = ex.call("PATCH", &path, body, None);
    assert_eq!(s, 403, "{b}");
    let admin = Some(("noc-admin", "admin-pass-2"));
    for (bad, field) in [
        (r#"{"interface_type": "ips"}"#, "interface_type"),
        (
            r#"{"interface_type": "isp", "isp_provider": "Vodafone"}"#,
            "isp_provider",
        ),
        (r#"{"is_critical": "yes"}"#, "is_critical"),
        (r#"{"speed": 10}"#, "speed"),
    ] {
        let (s, b) = ex.call("PATCH", &path, bad, admin);
        assert_eq!(s, 400, "{bad}: {b}");
        let err = serde_json::from_str::<serde_json::Value>(&b).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(err.contains(field), "{bad}: {err}");
    }
    let (s, b) = ex.call("PATCH", &path, body, admin);
    assert_eq!(s, 200, "{b}");
    let one: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(one["interface"]["interface_type"], "isp");
    assert_eq!(one["interface"]["sources"]["interface_type"], "api");
    assert_eq!(one["interface"]["sources"]["monitored"], "rule");
    assert_eq!(one["edit"]["edited_by"], "noc-admin");
    let (_, metrics) = ex.call("GET", "/metrics", "", None);
    let ifx = ix.to_string();
    let samples = parse_exposition(&metrics);
    let s = find_sample(
        &samples,
        "ifOperStatus",
        &[("device", "BR-001"), ("ifIndex", &ifx)],
    )
    .expect("the edited interface on /metrics");
    assert_eq!(s.label("interface_type"), "isp");
    assert_eq!(s.label("isp_provider"), "magti");
    wait_for("the edit in the row", LIMIT, || {
        (scalar(&url, &format!("SELECT interface_type || '/' || isp_provider FROM device_interfaces WHERE device_name = 'BR-001' AND if_index = {ix}")) == "isp/magti").then_some(())
    });
    // With a store the audit trail is its table (no audit file).
    let audit = query(
        &url,
        "SELECT edited_by, if_name, old_values->>'interface_type', edit_after->>'interface_type', \
         new_values->>'isp_provider' FROM interface_edit_audit ORDER BY id",
    )
    .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0][0], "noc-admin");
    assert_eq!(audit[0][1], name);
    assert_ne!(audit[0][2], "isp");
    assert_eq!(&audit[0][3..], &["isp".to_string(), "magti".to_string()]);
    assert!(!dir.join("wardflux.interface-edits.audit.jsonl").exists());

    // The operations queries, unchanged.
    let isp = query(&url, Q_ISP).unwrap();
    assert_eq!(isp.len(), 1, "{isp:?}");
    assert_eq!(isp[0][0], "BR-001");
    assert_eq!(isp[0][2], name);
    assert_eq!(isp[0][3], "magti");
    let by_type = query(&url, Q_BY_TYPE).unwrap();
    let isp_line = by_type.iter().find(|r| r[0] == "isp").expect("an isp line");
    assert_eq!(&isp_line[1..3], &["1".to_string(), "1".to_string()]);
    let total: i64 = by_type.iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
    assert_eq!(total, ifs.len() as i64);
    let topo = query(&url, Q_TOPOLOGY).unwrap();
    let neighbours = ex.json("/api/v1/devices/BR-001/neighbors");
    // One row per local port with a neighbour (the first neighbour of the port).
    let ports: std::collections::BTreeSet<i64> = neighbours["neighbors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["local_if_index"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    let ports = ports
        .iter()
        .filter(|p| ifs.iter().any(|(i, _)| i == *p))
        .count();
    assert_eq!(topo.len(), ports, "{topo:?} vs {neighbours}");

    // A restart: the edit is still in force, no row is added or replaced.
    let ids_before = query(
        &url,
        "SELECT id, discovered_at::text FROM device_interfaces ORDER BY id",
    )
    .unwrap();
    ex.stop();
    let ex = start(dir.path(), &env, &flags, reader);
    ex.wait_interfaces("BR-001");
    let one = ex.json(&path);
    assert_eq!(one["interface"]["interface_type"], "isp", "{one}");
    assert_eq!(one["interface"]["sources"]["isp_provider"], "api");
    wait_for("the restarted exporter to write", LIMIT, || {
        (ex.metric("wardflux_inventory_store_rows_written_total") >= Some(ifs.len() as f64))
            .then_some(())
    });
    let ids_after = query(
        &url,
        "SELECT id, discovered_at::text FROM device_interfaces ORDER BY id",
    )
    .unwrap();
    assert_eq!(ids_before, ids_after, "same rows, same discovery times");
    ruler_migrate(&url);

    // DELETE returns the port to the rules; the row follows.
    let (s, b) = ex.call("DELETE", &path, "", admin);
    assert_eq!(s, 200, "{b}");
    let one: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(one["interface"]["sources"]["interface_type"], "rule");
    assert!(one["edit"].is_null());
    let (s, _) = ex.call("DELETE", &path, "", admin);
    assert_eq!(s, 404, "nothing left to delete");
    wait_for("the row back on the rules", LIMIT, || {
        (scalar(&url, &format!("SELECT interface_type FROM device_interfaces WHERE device_name = 'BR-001' AND if_index = {ix}")) != "isp").then_some(())
    });

    // The device leaves the inventory table: its rows stay, disabled.
    exec(&url, "DELETE FROM standalone_devices WHERE name = 'BR-001'");
    wait_for("BR-001's rows disabled", LIMIT, || {
        rows_of(&url, "BR-001").iter().all(|r| !r.2).then_some(())
    });
    assert_eq!(rows_of(&url, "BR-001").len(), ifs.len());
    for text in [
        ex.log(),
        ex.call("GET", "/metrics", "", None).1,
        ex.call("GET", "/api/v1/devices", "", None).1,
    ] {
        assert!(
            !text.contains(DB_PASSWORD),
            "the store URL's password is shown"
        );
        assert!(!text.contains(COMM));
    }
}

#[test]
fn a_private_postgres_crashed_mid_write_and_an_exporter_restart_lose_and_duplicate_nothing() {
    use wardflux_simagent::{synth, Agent, Limits};
    let bind: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let agent = wardflux_simagent::spawn(
        bind,
        Agent::new(synth::devices(3, 4), Limits::default()),
        Duration::ZERO,
    )
    .expect("start simagent");
    let dir = TempDir::new("invstore-crash");
    std::fs::create_dir_all(dir.join("pg")).unwrap();
    let pg = PrivatePg::start_in(&dir.join("pg"));
    let url = pg.url();
    let target = |n: &str| format!("- {{name: {n}, address: \"{}\", auth: {n}}}\n", agent.addr);
    std::fs::write(
        dir.join("targets.yml"),
        target("dev0001") + &target("dev0002"),
    )
    .unwrap();
    std::fs::write(
        dir.join("wardflux.yml"),
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  dev0001: {version: 2, community: dev0001}\n  dev0002: {version: 2, community: dev0002}\n\
         \x20 dev0003: {version: 2, community: dev0003}\n\
         targets_files: [targets.yml]\n\
         inventory_store:\n  url_env: WF_INV_URL\n  retention: 1h\n",
    )
    .unwrap();
    let env = [("WF_INV_URL", url.as_str())];
    let ex = start(dir.path(), &env, &[], None);
    let names_of = |ex: &Ex, d: &str| ex.wait_interfaces(d);
    let d1 = names_of(&ex, "dev0001");
    assert_eq!(d1.len(), 4);
    wait_rows(&url, "dev0001", &d1);
    let d2 = names_of(&ex, "dev0002");
    wait_rows(&url, "dev0002", &d2);
    let dev2_rows = query(&url, "SELECT id, discovered_at::text FROM device_interfaces WHERE device_name = 'dev0002' ORDER BY id").unwrap();

    // A reboot renumbers dev0001: new rows, the old ones disabled (not deleted).
    agent.reboot("dev0001", 100);
    let renumbered = wait_for("dev0001 renumbered", LIMIT, || {
        let l = ex.interfaces("dev0001");
        l.iter().all(|(i, _)| *i > 100).then_some(l)
    });
    wait_rows(&url, "dev0001", &renumbered);
    assert_eq!(
        rows_of(&url, "dev0001").len(),
        8,
        "old ifIndexes kept, disabled"
    );

    // The database crashes; a new device arrives; polling goes on, rows wait.
    pg.crash();
    let mut t = target("dev0001") + &target("dev0002");
    t.push_str(&target("dev0003"));
    std::fs::write(dir.join("targets.yml"), t).unwrap();
    let (s, b) = ex.call("POST", "/-/reload", "", None);
    assert_eq!(s, 200, "{b}");
    let d3 = names_of(&ex, "dev0003");
    wait_for("dev0003's rows queued and the store down", LIMIT, || {
        (ex.metric("wardflux_inventory_store_queue_rows") >= Some(d3.len() as f64)
            && ex.metric("wardflux_inventory_store_up") == Some(0.0))
        .then_some(())
    });
    let polls = |ex: &Ex| {
        ex.json("/api/v1/devices")
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "dev0002")
            .and_then(|d| d["last_success"].as_f64())
            .unwrap_or(0.0)
    };
    let before = polls(&ex);
    wait_for("dev0002 polled while the store is down", LIMIT, || {
        (polls(&ex) > before).then_some(())
    });

    // The exporter restarts while the database is still down, then the database returns.
    ex.stop();
    let ex = start(dir.path(), &env, &[], None);
    ex.wait_interfaces("dev0003");
    pg.start_again();
    wait_rows(&url, "dev0003", &d3);
    wait_rows(&url, "dev0001", &renumbered);
    wait_rows(&url, "dev0002", &d2);
    wait_for("the queue drained", LIMIT, || {
        (ex.metric("wardflux_inventory_store_queue_rows") == Some(0.0)).then_some(())
    });
    assert_eq!(scalar(&url, "SELECT count(*) FROM device_interfaces"), "16");
    assert_eq!(
        query(&url, "SELECT id, discovered_at::text FROM device_interfaces WHERE device_name = 'dev0002' ORDER BY id").unwrap(),
        dev2_rows,
        "dev0002's rows were neither duplicated nor replaced"
    );
    assert!(
        ex.log().contains("inventory store: writing again")
            || ex.metric("wardflux_inventory_store_up") == Some(1.0)
    );
}

#[test]
fn sqlite_follows_a_link_going_down_runs_the_operations_queries_and_purges_after_retention() {
    let dir = TempDir::new("invstore-sqlite");
    let mut r1 = Netns::new("inv1");
    let r2 = Netns::new("inv2");
    veth(&r1, "a1", &r2, "b1");
    let m1 = mgmt_link(&r1);
    let agent = start_snmpd(&mut r1, m1, dir.path(), "");
    let a1 = i64::from(if_index(&r1, "a1"));
    let db = dir.join("inventory.db");
    let url = format!("sqlite://{}", db.display());
    let config = |targets: &str| {
        format!(
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
             auths:\n  lab: {{version: 2, community: public}}\n\
             {targets}\
             inventory_store:\n  url: {url}\n  retention: 3s\n"
        )
    };
    std::fs::write(
        dir.join("wardflux.yml"),
        config(&format!(
            "targets:\n  - {{name: BRANCH-RTR-01, address: \"{agent}\", auth: lab, labels: {{id: \"7\"}}}}\n"
        )),
    )
    .unwrap();
    let ex = start(dir.path(), &[], &[], None);
    let ifs = ex.wait_interfaces("BRANCH-RTR-01");
    wait_rows(&url, "BRANCH-RTR-01", &ifs);
    let status = |col: &str| {
        scalar(&url, &format!("SELECT {col} FROM device_interfaces WHERE device_name = 'BRANCH-RTR-01' AND if_index = {a1}"))
    };
    assert_eq!(status("oper_status"), "up");
    let changed_before = status("last_status_change");

    r1.ip(&["link", "set", "a1", "down"]);
    wait_for("a1's row to say down", LIMIT, || {
        (status("oper_status") == "down" && status("admin_status") == "down").then_some(())
    });
    assert!(
        status("last_status_change") > changed_before,
        "the change is dated"
    );

    // The operations queries on SQLite, with the bank's table beside ours.
    exec(
        &url,
        "CREATE TABLE standalone_devices (id INTEGER PRIMARY KEY, name TEXT, ip TEXT);
         INSERT INTO standalone_devices VALUES (7, 'BRANCH-RTR-01', '169.254.0.1');",
    );
    let admin_patch = ex.call(
        "PATCH",
        &format!("/api/v1/interfaces/BRANCH-RTR-01/{a1}"),
        r#"{"interface_type": "isp", "isp_provider": "silknet"}"#,
        None,
    );
    assert_eq!(admin_patch.0, 200, "{}", admin_patch.1);
    wait_for("the ISP query to find a1", LIMIT, || {
        let r = query(&url, Q_ISP).unwrap();
        (r.len() == 1 && r[0][0] == "BRANCH-RTR-01" && r[0][2] == "a1" && r[0][3] == "silknet")
            .then_some(())
    });
    let by_type = query(&url, Q_BY_TYPE).unwrap();
    let total: i64 = by_type.iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
    assert_eq!(total, ifs.len() as i64);
    query(&url, Q_TOPOLOGY).unwrap();

    // The device leaves the config: rows disabled, then deleted after the retention.
    std::fs::write(dir.join("wardflux.yml"), config("targets: []\n")).unwrap();
    let (s, b) = ex.call("POST", "/-/reload", "", None);
    assert_eq!(s, 200, "{b}");
    wait_for("the rows deleted after the retention", LIMIT, || {
        rows_of(&url, "BRANCH-RTR-01").is_empty().then_some(())
    });
    wait_for("the purge counted", LIMIT, || {
        (ex.metric("wardflux_inventory_store_purged_rows_total") >= Some(ifs.len() as f64))
            .then_some(())
    });
}

#[test]
fn a_rejected_config_at_start_up_exits_non_zero_saying_so() {
    let dir = TempDir::new("invstore-startup");
    std::fs::write(
        dir.join("wardflux.yml"),
        "inventory_store:\n  url: mysql://u:Secret-Pw-991@h/db\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config.file")
        .arg(dir.join("wardflux.yml"))
        .arg("--web.listen-address")
        .arg(format!("127.0.0.1:{}", free_tcp_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("configuration rejected at start-up"), "{err}");
    assert!(
        !err.contains("previous configuration keeps running"),
        "{err}"
    );
    assert!(err.contains("wardflux.yml:2: inventory_store.url"), "{err}");
    assert!(!err.contains("Secret-Pw-991"), "{err}");
}

// ---------------------------------------------------------------- API edits in the store

/// One interface as `GET /api/v1/interfaces/{device}/{ifIndex}` shows it.
fn port(ex: &Ex, device: &str, ix: i64) -> serde_json::Value {
    ex.json(&format!("/api/v1/interfaces/{device}/{ix}"))["interface"].clone()
}

fn truthy(v: &str) -> bool {
    v == "true" || v == "1"
}

/// API edits with an inventory store, through the real HTTP stack with basic auth and a write
/// user: an edits file of an exporter that had no store is imported once; edits and their
/// audit rows land in `interface_edits`/`interface_edit_audit` and the port's
/// `device_interfaces` row in the same transaction; with `outage` the store is stopped and a
/// PATCH is a 503 that changes nothing; across a restart the store's edits are the ones in
/// force, an edit an operator made in the table included.
fn edits_live_in_the_store(url: &str, outage: Option<&PrivatePg>, tag: &str) {
    use wardflux_simagent::{synth, Agent, Limits};
    let agent = wardflux_simagent::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Agent::new(synth::devices(1, 4), Limits::default()),
        Duration::ZERO,
    )
    .expect("start simagent");
    let dir = TempDir::new(tag);
    let web = web_config(dir.path());
    let base = format!(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  lab: {{version: 2, community: dev0001}}\n\
         targets:\n  - {{name: dev0001, address: \"{}\", auth: lab}}\n",
        agent.addr
    );
    let with_store = format!("{base}inventory_store:\n  url_env: WF_INV_URL\n");
    let env = [("WF_INV_URL", url)];
    let flags = [
        "--web.config.file",
        web.to_str().unwrap(),
        "--web.write-users",
        "noc-admin",
    ];
    let reader = Some(("reader", "reader-pass-1"));
    let admin = Some(("noc-admin", "admin-pass-2"));

    // Without a store: the edit goes to the edits file.
    std::fs::write(dir.join("wardflux.yml"), &base).unwrap();
    let ex = start(dir.path(), &env, &flags, reader);
    let ifs = ex.wait_interfaces("dev0001");
    let (a, a_name) = ifs[0].clone();
    let (b, b_name) = ifs[1].clone();
    let path_a = format!("/api/v1/interfaces/dev0001/{a}");
    let path_b = format!("/api/v1/interfaces/dev0001/{b}");
    let (s, body) = ex.call(
        "PATCH",
        &path_a,
        r#"{"interface_type": "isp", "isp_provider": "magti"}"#,
        admin,
    );
    assert_eq!(s, 200, "{body}");
    ex.stop();
    let file = dir.join("wardflux.interface-edits.json");
    assert!(file.exists());

    // With the store: the file's edit is imported once, and the file becomes its local copy.
    std::fs::write(dir.join("wardflux.yml"), &with_store).unwrap();
    let ex = start(dir.path(), &env, &flags, reader);
    ex.wait_interfaces("dev0001");
    wait_for("the edits file imported", LIMIT, || {
        (ex.log().contains("API edits imported from the edits file")
            && query(url, "SELECT count(*) FROM interface_edits").is_ok_and(|r| r[0][0] == "1"))
        .then_some(())
    });
    let imported = query(
        url,
        "SELECT if_name, interface_type, isp_provider, edited_by FROM interface_edits",
    )
    .unwrap();
    assert_eq!(
        imported,
        vec![vec![
            a_name.clone(),
            "isp".into(),
            "magti".into(),
            "noc-admin".into()
        ]]
    );
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(copy["kept_in"], "inventory_store", "{copy}");
    assert_eq!(port(&ex, "dev0001", a)["sources"]["interface_type"], "api");

    // A PATCH through the store: edit, audit row and the port's row in one transaction.
    wait_rows(url, "dev0001", &ifs);
    let before = port(&ex, "dev0001", b);
    let (s, body) = ex.call("PATCH", &path_b, r#"{"is_critical": true}"#, admin);
    assert_eq!(s, 200, "{body}");
    assert_eq!(port(&ex, "dev0001", b)["is_critical"], true);
    let row = scalar(
        url,
        &format!("SELECT is_critical FROM device_interfaces WHERE device_name = 'dev0001' AND if_index = {b}"),
    );
    assert!(
        truthy(&row),
        "the row is updated with the edit, not later: {row}"
    );
    let json = |col: &str, key: &str| {
        if url.starts_with("sqlite://") {
            format!("json_extract({col}, '$.{key}')")
        } else {
            format!("({col}->>'{key}')")
        }
    };
    let audit = query(
        url,
        &format!(
            "SELECT action, edited_by, if_name, if_index, {}, {}, {} FROM interface_edit_audit ORDER BY id",
            json("old_values", "is_critical"),
            json("new_values", "is_critical"),
            json("edit_after", "is_critical"),
        ),
    )
    .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0][0], "import");
    assert_eq!(audit[0][2], a_name);
    assert_eq!(
        &audit[1][..4],
        &["patch", "noc-admin", &b_name, &b.to_string()]
    );
    assert!(
        !truthy(&audit[1][4]) && truthy(&audit[1][5]) && truthy(&audit[1][6]),
        "{audit:?}"
    );
    assert_eq!(
        before["is_critical"], false,
        "the port was not critical before: {before}"
    );
    assert!(
        !dir.join("wardflux.interface-edits.audit.jsonl").exists() || {
            // The file-mode line of the first edit only.
            std::fs::read_to_string(dir.join("wardflux.interface-edits.audit.jsonl"))
                .unwrap()
                .lines()
                .count()
                == 1
        }
    );

    // The store stops: a PATCH and a DELETE are refused with a 503 naming it; nothing changes.
    if let Some(pg) = outage {
        pg.stop();
        let copy_before = std::fs::read_to_string(&file).unwrap();
        for (method, path, body) in [
            (
                "PATCH",
                &path_b,
                r#"{"monitored": false, "is_critical": false}"#,
            ),
            ("DELETE", &path_a, ""),
        ] {
            let (s, answer) = ex.call(method, path, body, admin);
            assert_eq!(s, 503, "{method} {path}: {answer}");
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .contains("inventory store unavailable"),
                "{answer}"
            );
        }
        let now_b = port(&ex, "dev0001", b);
        assert_eq!(now_b["is_critical"], true, "{now_b}");
        assert_eq!(now_b["monitored"], before["monitored"], "{now_b}");
        assert_eq!(port(&ex, "dev0001", a)["interface_type"], "isp");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), copy_before);
        let (_, metrics) = ex.call("GET", "/metrics", "", None);
        let samples = parse_exposition(&metrics);
        let s = find_sample(
            &samples,
            "ifOperStatus",
            &[("device", "dev0001"), ("ifIndex", &b.to_string())],
        )
        .expect("port b on /metrics");
        assert_eq!(s.label("is_critical"), "true");
        pg.start_again();
        // The pool reconnects: the same PATCH is taken once the server answers.
        wait_for("a PATCH taken after the store returns", LIMIT, || {
            let (s, answer) = ex.call("PATCH", &path_b, r#"{"monitored": false}"#, admin);
            assert!(s == 200 || s == 503, "{s}: {answer}");
            (s == 200).then_some(())
        });
        assert_eq!(port(&ex, "dev0001", b)["monitored"], false);
        assert_eq!(
            scalar(
                url,
                "SELECT count(*) FROM interface_edit_audit WHERE action = 'patch'"
            ),
            "2",
            "the refused edits left no audit row"
        );
    }

    // A restart: the store's edits are in force, one an operator made in the table included;
    // the file is not imported again.
    ex.stop();
    exec(
        url,
        &format!("UPDATE interface_edits SET is_critical = NULL, monitored = NULL, edited_by = 'dba' WHERE if_name = '{b_name}'"),
    );
    let ex = start(dir.path(), &env, &flags, reader);
    ex.wait_interfaces("dev0001");
    wait_for("the store's edits in force", LIMIT, || {
        let p = port(&ex, "dev0001", b);
        (p["sources"]["is_critical"] == "rule" && p["is_critical"] == false).then_some(())
    });
    assert_eq!(port(&ex, "dev0001", a)["sources"]["isp_provider"], "api");
    assert_eq!(
        scalar(
            url,
            "SELECT count(*) FROM interface_edit_audit WHERE action = 'import'"
        ),
        "1"
    );
    // DELETE through the store.
    let (s, body) = ex.call("DELETE", &path_a, "", admin);
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        scalar(
            url,
            &format!("SELECT count(*) FROM interface_edits WHERE if_name = '{a_name}'")
        ),
        "0"
    );
    assert_eq!(
        scalar(
            url,
            "SELECT action FROM interface_edit_audit ORDER BY id DESC LIMIT 1"
        ),
        "delete"
    );
    let log = ex.log();
    assert!(
        !log.contains(DB_PASSWORD),
        "the store URL's password is logged"
    );
    ex.stop();
}

#[test]
fn api_edits_live_in_a_private_postgres_survive_restarts_and_a_stopped_store_changes_nothing() {
    let dir = TempDir::new("invedit-pg");
    std::fs::create_dir_all(dir.join("pg")).unwrap();
    let pg = PrivatePg::start_in(&dir.join("pg"));
    // Trust authentication ignores the password; it is there to be looked for in the logs.
    let url = pg
        .url()
        .replace("postgres@", &format!("postgres:{DB_PASSWORD}@"));
    edits_live_in_the_store(&url, Some(&pg), "invedit-pg-run");
}

#[test]
fn api_edits_live_in_sqlite_with_their_audit_rows_and_survive_a_restart() {
    let dir = TempDir::new("invedit-sqlite");
    let url = format!("sqlite://{}", dir.join("inventory.db").display());
    edits_live_in_the_store(&url, None, "invedit-sqlite-run");
}

// ---------------------------------------------------------------- TLS

/// The inventory store over TLS to a private PostgreSQL that accepts only TLS (the shared
/// `wardflux_web::testkit` recipe the ruler's store test uses): with `sslmode=verify-full` and
/// `sslrootcert` the rows and an API edit arrive over an encrypted session; with another CA the
/// exporter says the server's certificate is not signed by the CA in sslrootcert, keeps polling
/// with the rows queued, and never prints the URL's password.
#[test]
fn the_store_over_verified_tls_takes_rows_and_a_wrong_ca_is_a_clear_error_without_the_password() {
    use wardflux_simagent::{synth, Agent, Limits};
    use wardflux_web::testkit::{Pki, PG_TLS_PASSWORD};
    let agent = wardflux_simagent::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Agent::new(synth::devices(1, 4), Limits::default()),
        Duration::ZERO,
    )
    .expect("start simagent");
    let dir = TempDir::new("invstore-tls");
    std::fs::create_dir_all(dir.join("pki")).unwrap();
    std::fs::create_dir_all(dir.join("pg")).unwrap();
    let pki = Pki::create(&dir.join("pki"));
    let pg = PrivatePg::start_tls(&dir.join("pg"), &pki);
    let url_with = |ca: &Path| {
        format!(
            "postgres://postgres:{PG_TLS_PASSWORD}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
            pg.port,
            ca.display()
        )
    };
    let good = url_with(&pki.ca);
    std::fs::write(
        dir.join("wardflux.yml"),
        format!(
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
             auths:\n  lab: {{version: 2, community: dev0001}}\n\
             targets:\n  - {{name: dev0001, address: \"{}\", auth: lab}}\n\
             inventory_store:\n  url_env: WF_INV_URL\n",
            agent.addr
        ),
    )
    .unwrap();

    let ex = start(dir.path(), &[("WF_INV_URL", good.as_str())], &[], None);
    let ifs = ex.wait_interfaces("dev0001");
    wait_rows(&good, "dev0001", &ifs);
    let (ix, _) = ifs[0];
    let (s, body) = ex.call(
        "PATCH",
        &format!("/api/v1/interfaces/dev0001/{ix}"),
        r#"{"is_critical": true}"#,
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        scalar(&good, "SELECT count(*) FROM interface_edit_audit"),
        "1"
    );
    // The exporter's own sessions are encrypted (pg_hba.conf takes nothing else, and it says so).
    let ssl = scalar(
        &good,
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.application_name = 'wardflux-exporter-inventory' AND s.ssl",
    );
    assert_ne!(ssl, "0", "no TLS session of the exporter");
    let mut texts = vec![ex.log(), ex.call("GET", "/metrics", "", None).1];
    ex.stop();

    // Another CA: refused, named, the rows wait, polling goes on.
    let rogue = url_with(&dir.join("pki").join("rogue-ca.crt"));
    let ex = start(dir.path(), &[("WF_INV_URL", rogue.as_str())], &[], None);
    ex.wait_interfaces("dev0001");
    wait_for("the wrong CA reported", LIMIT, || {
        let log = ex.log();
        (log.contains("inventory store: cannot write")
            && log.contains("not signed by the CA in sslrootcert")
            && ex.metric("wardflux_inventory_store_up") == Some(0.0))
        .then_some(())
    });
    let polled = |ex: &Ex| {
        ex.json("/api/v1/devices")
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "dev0001")
            .and_then(|d| d["last_success"].as_f64())
            .unwrap_or(0.0)
    };
    let before = polled(&ex);
    wait_for("dev0001 polled while the store refuses", LIMIT, || {
        (polled(&ex) > before).then_some(())
    });
    texts.push(ex.log());
    texts.push(ex.call("GET", "/metrics", "", None).1);
    texts.push(ex.call("GET", "/api/v1/devices", "", None).1);
    ex.stop();
    for t in &texts {
        assert!(
            !t.contains(PG_TLS_PASSWORD),
            "the store URL's password is shown:\n{t}"
        );
    }
}
