//! `targets_sql` against the real PostgreSQL (127.0.0.1:5432, trust auth; a database of each
//! test's own) and real agents (snmpsim replaying a Cisco recording under communities only
//! these tests use): the exporter polls exactly the inventory's rows, follows inserts, deletes
//! and updates, skips bad rows naming them, keeps its last good targets while the database
//! cannot be read, and never shows a community or the database password. One test reads the
//! inventory from a private TLS-only PostgreSQL server (openssl-made certificate) with
//! `sslmode=verify-full`, a password or a client certificate, and names a wrong CA.
//!
//! Needs: Debian postgresql (server running), snmpsim, snmp, snmpd, iproute2, bzip2,
//! openssl; PyPI snmpsim-data; root (the SNMPv3 test runs net-snmp in a network namespace).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{find_sample, Exporter, Snmpsim, TempDir};
use wardflux_lab::{Description, Lab};

const REC: &str = "network/switch/cisco-c3750";
/// Communities the recording is served under; secrets every output is searched for.
const COMM_A: &str = "wf-sqlcomm-A1x";
const COMM_B: &str = "wf-sqlcomm-B2y";
const COMM_WRONG: &str = "wf-sqlcomm-W3z";
/// The database URL's password (trust auth ignores it); must never be shown either.
const DB_PASSWORD: &str = "Pg-Pass-9931q";

const LIMIT: Duration = Duration::from_secs(120);

/// snmpsim serving the recording under both communities; `key` is the test's own cache
/// directory (two tests never prepare the same files at once).
fn sim(key: &str) -> Snmpsim {
    Snmpsim::start_as(key, &[(REC, COMM_A), (REC, COMM_B)])
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn admin_url() -> String {
    std::env::var("WARDFLUX_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database of the test's own on the shared PostgreSQL, dropped on drop.
struct PgDb {
    name: String,
    rt: tokio::runtime::Runtime,
}

impl PgDb {
    /// A fresh name; the database itself is made by `create`.
    fn named() -> PgDb {
        PgDb {
            name: format!(
                "wardflux_sqlt_{}_{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        }
    }

    fn create() -> PgDb {
        let db = PgDb::named();
        db.create_database();
        db
    }

    fn admin(&self, sql: &str) {
        use sqlx::Connection;
        let admin = admin_url();
        self.rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                panic!("PostgreSQL not reachable at {admin} (Debian package postgresql, trust auth): {e}")
            });
            sqlx::raw_sql(sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    fn create_database(&self) {
        self.admin(&format!("CREATE DATABASE {}", self.name));
    }

    fn drop_database(&self) {
        self.admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }

    /// The URL the exporter uses, with a password that trust auth ignores.
    fn url(&self) -> String {
        let base = admin_url();
        let (scheme, rest) = base.split_once("://").unwrap();
        let host = rest.split_once('@').map(|(_, h)| h).unwrap_or(rest);
        let host = host.split_once('/').map(|(h, _)| h).unwrap_or(host);
        format!("{scheme}://postgres:{DB_PASSWORD}@{host}/{}", self.name)
    }

    fn exec(&self, sql: &str) {
        use sqlx::Connection;
        let url = self.url();
        self.rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name));
            sqlx::raw_sql(sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use sqlx::Connection;
        let admin = admin_url();
        let name = self.name.clone();
        self.rt.block_on(async {
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}

/// The bank's table, as far as these tests need it. `ip_type` is `text` or `inet`.
fn create_table(db: &PgDb, ip_type: &str) {
    db.exec(&format!(
        "CREATE TABLE standalone_devices (
           id serial PRIMARY KEY,
           name varchar(64),
           ip {ip_type},
           snmp_version varchar(8),
           snmp_community varchar(64),
           snmp_port integer,
           site text,
           region text,
           device_type text)"
    ));
}

fn insert(db: &PgDb, name: &str, ip: &str, version: &str, community: &str, port: u16) {
    db.exec(&format!(
        "INSERT INTO standalone_devices (name, ip, snmp_version, snmp_community, snmp_port, site)
         VALUES ('{name}', '{ip}', '{version}', '{community}', {port}, 'Isani')"
    ));
}

/// A config with one static device and `targets_sql` reading the table every second.
fn config(sim: &Snmpsim) -> String {
    format!(
        "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\n\
         auths:\n  static: {{version: 2, community: {COMM_A}}}\n\
         targets:\n  - {{name: STATIC-01, address: \"{}\", auth: static}}\n\
         targets_sql:\n  url_env: WARDFLUX_TEST_INVENTORY_URL\n  refresh_interval: 1s\n\
         \x20 query_timeout: 10s\n  timeout: 1s\n  retries: 0\n  labels: {{source: inventory}}\n\
         \x20 query: >-\n    SELECT name, ip, snmp_version, snmp_community, snmp_port,\n\
         \x20   site, region, device_type FROM standalone_devices ORDER BY id\n",
        sim.addr()
    )
}

fn start(sim: &Snmpsim, db: &PgDb) -> Exporter {
    Exporter::start(&config(sim), &[("WARDFLUX_TEST_INVENTORY_URL", &db.url())])
}

fn names(ex: &Exporter) -> Vec<String> {
    let mut n: Vec<String> = ex
        .devices()
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_string())
        .collect();
    n.sort();
    n
}

fn wait_names(ex: &Exporter, want: &[&str]) {
    common::wait_for(&format!("devices to be exactly {want:?}"), LIMIT, || {
        (names(ex) == want).then_some(())
    });
}

fn metric(ex: &Exporter, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    find_sample(&ex.metrics(), name, labels).map(|s| s.f64())
}

fn wait_metric(ex: &Exporter, name: &str, labels: &[(&str, &str)], want: f64) {
    common::wait_for(&format!("{name}{labels:?} = {want}"), LIMIT, || {
        (metric(ex, name, labels) == Some(want)).then_some(())
    });
}

/// The SD labels of one device from /api/v1/targets.
fn sd_labels(ex: &Exporter, device: &str) -> serde_json::Value {
    let groups: Vec<serde_json::Value> =
        serde_json::from_str(&ex.get("/api/v1/targets")).expect("targets json");
    groups
        .into_iter()
        .find(|g| g["labels"]["device"] == device)
        .map(|g| g["labels"].clone())
        .unwrap_or_else(|| panic!("{device} not in /api/v1/targets"))
}

/// No community and no database password in the log or in any answer.
fn assert_no_secrets(ex: &Exporter) {
    let outputs = [
        ("log", ex.log()),
        ("/api/v1/devices", ex.get("/api/v1/devices")),
        ("/api/v1/targets", ex.get("/api/v1/targets")),
        ("/metrics", ex.get("/metrics")),
    ];
    for (what, text) in &outputs {
        for secret in [COMM_A, COMM_B, COMM_WRONG, DB_PASSWORD] {
            assert!(!text.contains(secret), "{what} shows the secret {secret}");
        }
    }
}

fn last_discovery(ex: &Exporter, device: &str) -> f64 {
    ex.device(device)["last_discovery"]
        .as_f64()
        .unwrap_or_else(|| panic!("{device} has no last_discovery"))
}

/// The log line of a skipped row: its row number, column and reason.
fn assert_skip_logged(log: &str, row: usize, column: &str, reason: &str) {
    let hit = log.lines().any(|l| {
        l.contains("targets_sql: row skipped")
            && l.contains(&format!("row={row} "))
            && l.contains(&format!("column=\"{column}\""))
            && l.contains(&format!("reason=\"{reason}\""))
    });
    assert!(
        hit,
        "no log line for row {row} ({column}, {reason}):\n{log}"
    );
}

#[test]
fn the_exporter_polls_exactly_the_inventory_rows_and_follows_changes() {
    let sim = sim("targets-sql-changes");
    let db = PgDb::create();
    create_table(&db, "text");
    let port = sim.port;
    insert(&db, "BR-001", "127.0.0.1", "2c", COMM_A, port);
    insert(&db, "BR-002", "127.0.0.1", "v2c", COMM_B, port);
    db.exec(&format!(
        "UPDATE standalone_devices SET region = 'Tbilisi', device_type = 'switch' WHERE name = 'BR-001';
         INSERT INTO standalone_devices (name, ip, snmp_version, snmp_community, snmp_port)
         VALUES (NULL, '127.0.0.1', '2c', '{COMM_A}', {port}),
                ('BAD-IP', '10.0.0.300', '2c', '{COMM_A}', {port}),
                ('BAD-VER', '127.0.0.1', 'v4', '{COMM_A}', {port}),
                ('BR-001', '127.0.0.2', '2c', '{COMM_A}', {port}),
                ('STATIC-01', '127.0.0.3', '2c', '{COMM_A}', {port}),
                ('NO-COMM', '127.0.0.1', '2c', NULL, {port})"
    ));
    let mut ex = start(&sim, &db);
    ex.wait_devices_up(&["STATIC-01", "BR-001", "BR-002"], LIMIT);
    // Exactly the good rows and the static device: no bad row slipped in.
    assert_eq!(names(&ex), ["BR-001", "BR-002", "STATIC-01"]);

    let log = ex.log();
    assert_skip_logged(&log, 3, "name", "missing_name");
    assert_skip_logged(&log, 4, "ip", "bad_ip");
    assert!(log.contains("10.0.0.300"), "the bad ip is named:\n{log}");
    assert_skip_logged(&log, 5, "snmp_version", "bad_version");
    assert_skip_logged(&log, 6, "name", "duplicate_name");
    assert_skip_logged(&log, 7, "name", "name_clash");
    assert_skip_logged(&log, 8, "snmp_community", "no_credentials");
    for reason in [
        "missing_name",
        "bad_ip",
        "bad_version",
        "duplicate_name",
        "name_clash",
        "no_credentials",
    ] {
        assert_eq!(
            metric(
                &ex,
                "wardflux_targets_sql_skipped_rows",
                &[("reason", reason)]
            ),
            Some(1.0),
            "{reason}"
        );
    }
    assert_eq!(metric(&ex, "wardflux_targets_sql_up", &[]), Some(1.0));
    assert_eq!(metric(&ex, "wardflux_targets_sql_targets", &[]), Some(2.0));
    let labels = sd_labels(&ex, "BR-001");
    assert_eq!(labels["site"], "Isani");
    assert_eq!(labels["region"], "Tbilisi");
    assert_eq!(labels["device_type"], "switch");
    assert_eq!(labels["source"], "inventory");
    assert!(sd_labels(&ex, "BR-002").get("region").is_none());
    assert_eq!(ex.device("BR-001")["auth"], "targets_sql:v2c");

    let static_discovered = last_discovery(&ex, "STATIC-01");
    let br002_discovered = last_discovery(&ex, "BR-002");

    // A new row starts a device; a deleted one stops.
    insert(&db, "BR-003", "127.0.0.1", "2", COMM_B, port);
    ex.wait_devices_up(&["BR-003"], LIMIT);
    // The second BR-001 row (127.0.0.2) was skipped only as a duplicate of the first; once
    // the first is deleted it is the only BR-001 and takes its place.
    db.exec("DELETE FROM standalone_devices WHERE name = 'BR-001' AND ip = '127.0.0.1'");
    let moved = format!("127.0.0.2:{port}");
    common::wait_for("BR-001 to come from its second row", LIMIT, || {
        (ex.device("BR-001")["address"] == moved.as_str()).then_some(())
    });
    db.exec("DELETE FROM standalone_devices WHERE name = 'BR-001'");
    wait_names(&ex, &["BR-002", "BR-003", "STATIC-01"]);
    assert_eq!(
        metric(
            &ex,
            "wardflux_targets_sql_skipped_rows",
            &[("reason", "duplicate_name")]
        ),
        Some(0.0)
    );

    // A changed row restarts its device: a new label, then a community the agent refuses.
    db.exec("UPDATE standalone_devices SET site = 'Vake' WHERE name = 'BR-003'");
    common::wait_for("BR-003's new site label", LIMIT, || {
        (sd_labels(&ex, "BR-003")["site"] == "Vake").then_some(())
    });
    db.exec(&format!(
        "UPDATE standalone_devices SET snmp_community = '{COMM_WRONG}' WHERE name = 'BR-003'"
    ));
    common::wait_for("BR-003 to go down with a wrong community", LIMIT, || {
        let d = ex.device("BR-003");
        (d["up"] == false && d["last_error"].is_string()).then_some(())
    });

    // The devices no row touched were never restarted (a restart rediscovers at once).
    ex.wait_next_full_poll("STATIC-01", LIMIT);
    assert_eq!(last_discovery(&ex, "STATIC-01"), static_discovered);
    assert_eq!(last_discovery(&ex, "BR-002"), br002_discovered);
    assert_eq!(ex.device("BR-002")["up"], true);
    ex.assert_running();
    assert_no_secrets(&ex);
}

#[test]
fn an_unreadable_inventory_keeps_the_last_good_targets_and_recovers() {
    let sim = sim("targets-sql-failure");
    let db = PgDb::create();
    create_table(&db, "text");
    insert(&db, "BR-101", "127.0.0.1", "2c", COMM_A, sim.port);
    insert(&db, "BR-102", "127.0.0.1", "2c", COMM_B, sim.port);
    let mut ex = start(&sim, &db);
    ex.wait_devices_up(&["STATIC-01", "BR-101", "BR-102"], LIMIT);
    let failures = |ex: &Exporter| {
        metric(
            ex,
            "wardflux_targets_sql_refreshes_total",
            &[("result", "failure")],
        )
        .unwrap_or(0.0)
    };
    let episodes = |ex: &Exporter| {
        ex.log()
            .lines()
            .filter(|l| l.contains("targets_sql: cannot read the inventory"))
            .count()
    };

    // The table goes away: the query fails, the last good devices keep being polled.
    db.exec("ALTER TABLE standalone_devices RENAME TO standalone_devices_moved");
    wait_metric(&ex, "wardflux_targets_sql_up", &[], 0.0);
    let last_ok = metric(
        &ex,
        "wardflux_targets_sql_last_success_timestamp_seconds",
        &[],
    )
    .expect("last success timestamp");
    let before = failures(&ex);
    common::wait_for("three more failed refreshes", LIMIT, || {
        (failures(&ex) >= before + 3.0).then_some(())
    });
    ex.wait_next_full_poll("BR-101", LIMIT);
    assert_eq!(names(&ex), ["BR-101", "BR-102", "STATIC-01"]);
    assert_eq!(ex.device("BR-102")["up"], true);
    assert_eq!(
        metric(
            &ex,
            "wardflux_targets_sql_last_success_timestamp_seconds",
            &[]
        ),
        Some(last_ok)
    );
    assert_eq!(metric(&ex, "wardflux_targets_sql_targets", &[]), Some(2.0));
    // One log line for the whole episode, saying what is wrong.
    assert_eq!(episodes(&ex), 1, "{}", ex.log());
    assert!(
        ex.log().contains("standalone_devices\\\" does not exist")
            || ex.log().contains("standalone_devices\" does not exist"),
        "{}",
        ex.log()
    );

    // Back: the source is up again and follows the table.
    db.exec("ALTER TABLE standalone_devices_moved RENAME TO standalone_devices");
    wait_metric(&ex, "wardflux_targets_sql_up", &[], 1.0);
    assert!(ex
        .log()
        .contains("targets_sql: the inventory can be read again"));
    db.exec("DELETE FROM standalone_devices WHERE name = 'BR-102'");
    wait_names(&ex, &["BR-101", "STATIC-01"]);

    // The whole database goes: connection failures, a second episode, devices still polled.
    db.drop_database();
    wait_metric(&ex, "wardflux_targets_sql_up", &[], 0.0);
    let before = failures(&ex);
    common::wait_for("two more failed refreshes", LIMIT, || {
        (failures(&ex) >= before + 2.0).then_some(())
    });
    ex.wait_next_full_poll("BR-101", LIMIT);
    assert_eq!(names(&ex), ["BR-101", "STATIC-01"]);
    assert_eq!(ex.device("BR-101")["up"], true);
    assert_eq!(episodes(&ex), 2, "{}", ex.log());
    ex.assert_running();
    assert_no_secrets(&ex);
}

#[test]
fn startup_with_the_inventory_down_polls_the_static_targets_then_the_rows() {
    let sim = sim("targets-sql-startup");
    // The database does not exist yet when the exporter starts.
    let db = PgDb::named();
    let mut ex = start(&sim, &db);
    ex.wait_devices_up(&["STATIC-01"], LIMIT);
    wait_metric(&ex, "wardflux_targets_sql_up", &[], 0.0);
    assert_eq!(names(&ex), ["STATIC-01"]);

    // It appears, with `ip` as PostgreSQL's inet type and a v1 spelling of the version.
    db.create_database();
    create_table(&db, "inet");
    insert(&db, "BR-201", "127.0.0.1", "v2c", COMM_A, sim.port);
    insert(&db, "BR-202", "127.0.0.1", "SNMPv2c", COMM_B, sim.port);
    ex.wait_devices_up(&["STATIC-01", "BR-201", "BR-202"], LIMIT);
    assert_eq!(metric(&ex, "wardflux_targets_sql_up", &[]), Some(1.0));
    assert_eq!(
        ex.device("BR-201")["address"],
        format!("127.0.0.1:{}", sim.port)
    );
    ex.assert_running();
    assert_no_secrets(&ex);
}

#[test]
fn snmpv3_rows_use_a_named_auth_and_rows_without_community_the_default() {
    const V3_AUTH: &str = "wfx-sql-v3-auth-1";
    const V3_PRIV: &str = "wfx-sql-v3-priv-1";
    // One agent answering SNMPv3 authPriv and v1/v2c `public`, over a management link.
    let lab = Lab::build(
        &Description::parse(
            "sqlv3.yml",
            &format!(
                "name: sqlv3\n\
                 snmp:\n  v2: {{version: 2c, community: public}}\n\
                 \x20 v3: {{version: 3, username: wardflux, auth_password: {V3_AUTH}, priv_password: {V3_PRIV}}}\n\
                 sites:\n  hq:\n    nodes:\n      CORE: {{kind: switch, management: true, snmp: [v3, v2]}}\n"
            ),
        )
        .expect("lab description"),
    )
    .unwrap_or_else(|e| panic!("lab: {e}"));
    let mgmt = lab.address("CORE").unwrap();
    let db = PgDb::create();
    db.exec(&format!(
        "CREATE TABLE standalone_devices (name text, ip inet, snmp_version text,
                                          snmp_community text, snmp_auth text);
         INSERT INTO standalone_devices VALUES
           ('CORE-V3', '{mgmt}', 'v3', NULL, NULL),
           ('CORE-V3-NAMED', '{mgmt}', NULL, NULL, 'core_v3'),
           ('BR-DEFAULT', '{mgmt}', '2c', NULL, NULL),
           ('BR-V1', '{mgmt}', '1', 'public', NULL)"
    ));
    let config = "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 2s\nretries: 1\n\
         auths:\n\
         \x20 core_v3: {version: 3, username: wardflux, security_level: authPriv, auth_protocol: SHA,\n\
         \x20           auth_password_env: V3_AUTH, priv_protocol: AES, priv_password_env: V3_PRIV}\n\
         \x20 fallback: {version: 2, community: public}\n\
         targets_sql:\n  url_env: WARDFLUX_TEST_INVENTORY_URL\n  refresh_interval: 1s\n\
         \x20 v3_auth: core_v3\n  default_auth: fallback\n\
         \x20 query: SELECT name, ip, snmp_version, snmp_community, snmp_auth FROM standalone_devices\n";
    let mut ex = Exporter::start(
        config,
        &[
            ("WARDFLUX_TEST_INVENTORY_URL", &db.url()),
            ("V3_AUTH", V3_AUTH),
            ("V3_PRIV", V3_PRIV),
        ],
    );
    let all = ["BR-DEFAULT", "BR-V1", "CORE-V3", "CORE-V3-NAMED"];
    ex.wait_devices_up(&all, LIMIT);
    assert_eq!(names(&ex), all);
    for (device, auth) in [
        ("CORE-V3", "core_v3"),
        ("CORE-V3-NAMED", "core_v3"),
        ("BR-DEFAULT", "fallback"),
        ("BR-V1", "targets_sql:v1"),
    ] {
        let d = ex.device(device);
        assert_eq!(d["auth"], auth, "{device}");
        assert_eq!(d["address"], format!("{mgmt}:161"), "{device}");
    }
    for text in [ex.log(), ex.get("/api/v1/devices"), ex.get("/metrics")] {
        assert!(!text.contains(V3_AUTH) && !text.contains(V3_PRIV));
        assert!(!text.contains(DB_PASSWORD));
    }
    ex.assert_running();
}

/// Runs `sql` on the TLS-only private server through `url`.
fn exec_tls(url: &str, sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connecting over TLS: {e}"));
        sqlx::raw_sql(sql)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// A config reading the inventory from `WARDFLUX_TEST_INVENTORY_URL`, with one static device
/// that need not answer (only the device list matters here).
fn tls_config() -> String {
    format!(
        "poll_interval: 30s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 0\n\
         auths:\n  static: {{version: 2, community: {COMM_A}}}\n\
         targets:\n  - {{name: STATIC-01, address: \"127.0.0.1:{}\", auth: static}}\n\
         targets_sql:\n  url_env: WARDFLUX_TEST_INVENTORY_URL\n  refresh_interval: 1s\n\
         \x20 query_timeout: 10s\n  timeout: 1s\n  retries: 0\n\
         \x20 query: SELECT name, ip, snmp_version, snmp_community FROM standalone_devices\n",
        common::free_udp_port()
    )
}

#[test]
fn the_inventory_is_read_over_verified_tls_and_a_wrong_ca_is_named() {
    use wardflux_web::testkit::{Pki, PrivatePg, PG_TLS_PASSWORD};
    let dir = TempDir::new("targets-sql-tls");
    std::fs::create_dir_all(dir.join("pki")).unwrap();
    std::fs::create_dir_all(dir.join("pg")).unwrap();
    let pki = Pki::create(&dir.join("pki"));
    // Only TLS is accepted: scram with a password for postgres, a certificate for vmagent.
    let pg = PrivatePg::start_tls(&dir.join("pg"), &pki);
    let ca = pki.ca.display().to_string();
    let admin = format!(
        "postgres://postgres:{PG_TLS_PASSWORD}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
        pg.port
    );
    exec_tls(
        &admin,
        &format!(
            "CREATE TABLE standalone_devices (name text, ip text, snmp_version text, \
             snmp_community text); \
             INSERT INTO standalone_devices VALUES ('BR-TLS-1', '127.0.0.1', '2c', '{COMM_B}'); \
             CREATE ROLE vmagent LOGIN; GRANT SELECT ON standalone_devices TO vmagent;"
        ),
    );

    // A password over verify-full, then a client certificate (sslcert/sslkey) alone.
    let with_cert = format!(
        "postgres://vmagent@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
        pg.port,
        pki.client_cert.display(),
        pki.client_key.display()
    );
    for url in [&admin, &with_cert] {
        let mut ex = Exporter::start(&tls_config(), &[("WARDFLUX_TEST_INVENTORY_URL", url)]);
        wait_names(&ex, &["BR-TLS-1", "STATIC-01"]);
        wait_metric(&ex, "wardflux_targets_sql_up", &[], 1.0);
        ex.assert_running();
        let log = ex.log();
        assert!(!log.contains(PG_TLS_PASSWORD), "{log}");
    }

    // A server certificate from another CA: refused, named, and the static device stays.
    let rogue = format!(
        "postgres://postgres:{PG_TLS_PASSWORD}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        dir.join("pki").join("rogue-ca.crt").display()
    );
    let mut ex = Exporter::start(&tls_config(), &[("WARDFLUX_TEST_INVENTORY_URL", &rogue)]);
    common::wait_for("the TLS failure to be logged", LIMIT, || {
        ex.log().contains("UnknownIssuer").then_some(())
    });
    assert_eq!(metric(&ex, "wardflux_targets_sql_up", &[]), Some(0.0));
    assert_eq!(names(&ex), ["STATIC-01"]);
    let log = ex.log();
    assert!(
        log.contains("not signed by the CA in sslrootcert"),
        "the error should say what to fix: {log}"
    );
    for (what, text) in [
        ("log", log),
        ("/metrics", ex.get("/metrics")),
        ("/api/v1/devices", ex.get("/api/v1/devices")),
    ] {
        assert!(!text.contains(PG_TLS_PASSWORD), "{what} shows the password");
    }
    ex.assert_running();
}
