//! Secrets never leave the exporter: a real net-snmp `snmpd` with a v2c community and a v3
//! user, a web config with bcrypt hashes and an inline TLS key, and the real binary run at
//! every log level (and in JSON) through every endpoint, a wrong v3 password, wrong
//! basic-auth passwords, a refused write and a bad reload; `check-config` on good and bad
//! files. Everything printed or answered is scanned for every secret: none may appear.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::{free_tcp_port, free_udp_port, require_tool, snmp_get_v2c, Proc, TempDir};
use wardflux_web::testkit::{assert_no_secrets, bcrypt_hash, curl, wait_for, Curl, Pki};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-exporter");
const COMMUNITY: &str = "wfx-community-S3cret-71";
const V3_AUTH: &str = "wfx-v3auth-S3cret-72";
const V3_PRIV: &str = "wfx-v3priv-S3cret-73";
const V3_WRONG: &str = "wfx-v3wrong-S3cret-74";
const READER_PW: &str = "wfx-reader-S3cret-75";
const ADMIN_PW: &str = "wfx-admin-S3cret-76";
/// The inventory store's database password, in a URL whose server is not there (so the
/// store's connection errors, the likeliest place for a URL to leak, are logged too).
const STORE_PW: &str = "wfx-storepw-S3cret-77";

/// snmpd on 127.0.0.1:`port` with the community and the v3 user.
fn start_snmpd(dir: &Path, port: u16) -> Proc {
    let conf = dir.join("snmpd.conf");
    std::fs::create_dir_all(dir.join("snmpd-state")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n\
             createUser wfxuser SHA {V3_AUTH} AES {V3_PRIV}\nrouser wfxuser authPriv\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require_tool("snmpd"));
    cmd.args(["-f", "-C", "-c"])
        .arg(&conf)
        .arg("-Lf")
        .arg(dir.join("snmpd.log"))
        .arg("-p")
        .arg(dir.join("snmpd.pid"))
        .env("SNMP_PERSISTENT_DIR", dir.join("snmpd-state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut p = Proc::spawn("snmpd", &mut cmd);
    let addr = format!("127.0.0.1:{port}");
    wait_for("snmpd to answer", Duration::from_secs(30), || {
        p.assert_running();
        snmp_get_v2c(&addr, COMMUNITY, "1.3.6.1.2.1.1.3.0").ok()
    });
    p
}

fn config(agent: &str, priv_file: &Path, auth_protocol: &str) -> String {
    format!(
        "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 500ms\nretries: 0\n\
         auths:\n\
         \x20 v2: {{version: 2, community: {COMMUNITY}}}\n\
         \x20 v3: {{version: 3, username: wfxuser, security_level: authPriv, auth_protocol: {auth_protocol},\n\
         \x20       auth_password_env: WFX_V3_AUTH, priv_protocol: AES, priv_password_file: {}}}\n\
         \x20 v3wrong: {{version: 3, username: wfxuser, security_level: authPriv, auth_protocol: SHA,\n\
         \x20       auth_password: {V3_WRONG}, priv_protocol: AES, priv_password: {V3_PRIV}}}\n\
         targets:\n\
         \x20 - {{name: SNMP-V2, address: \"{agent}\", auth: v2, labels: {{site: lab}}}}\n\
         \x20 - {{name: SNMP-V3, address: \"{agent}\", auth: v3}}\n\
         \x20 - {{name: SNMP-V3-WRONG, address: \"{agent}\", auth: v3wrong}}\n\
         inventory_store:\n  url_env: WFX_STORE_URL\n",
        priv_file.display()
    )
}

/// The web config with the server key inline (a secret) and two bcrypt hashes.
fn web_config(pki: &Pki, key_pem: &str, reader_hash: &str, admin_hash: &str) -> String {
    let key: String = key_pem.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "tls_server_config:\n  cert_file: {}\n  key: |\n{key}\
         basic_auth_users:\n  reader: {reader_hash}\n  admin: {admin_hash}\n",
        pki.server_cert.display()
    )
}

/// The process is gone or a zombie (exited, not yet reaped).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

fn text_of(c: &Curl) -> String {
    c.all_text()
}

#[test]
fn no_secret_reaches_logs_answers_or_check_config() {
    let dir = TempDir::new("secrets");
    let agent_port = free_udp_port();
    let _snmpd = start_snmpd(dir.path(), agent_port);
    let agent = format!("127.0.0.1:{agent_port}");
    let pki = Pki::create(dir.path());
    let key_pem = std::fs::read_to_string(&pki.server_key).unwrap();
    let reader_hash = bcrypt_hash(READER_PW);
    let admin_hash = bcrypt_hash(ADMIN_PW);
    let priv_file = dir.join("v3-priv");
    std::fs::write(&priv_file, format!("{V3_PRIV}\n")).unwrap();
    let cfg = dir.join("wardflux.yml");
    let web = dir.join("web.yml");
    std::fs::write(&web, web_config(&pki, &key_pem, &reader_hash, &admin_hash)).unwrap();
    let good = config(&agent, &priv_file, "SHA");
    let bad = config(&agent, &priv_file, "SHA999");

    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let reader_header = b64(&format!("reader:{READER_PW}"));
    let admin_header = b64(&format!("admin:{ADMIN_PW}"));
    let store_url = format!(
        "postgres://wardflux:{STORE_PW}@127.0.0.1:{}/inventory",
        free_tcp_port()
    );
    let mut secrets: Vec<(&str, &str)> = vec![
        ("inventory store password", STORE_PW),
        ("inventory store url", &store_url),
        ("community", COMMUNITY),
        ("v3 auth password", V3_AUTH),
        ("v3 priv password", V3_PRIV),
        ("wrong v3 password", V3_WRONG),
        ("reader password", READER_PW),
        ("admin password", ADMIN_PW),
        ("reader bcrypt hash", &reader_hash),
        ("admin bcrypt hash", &admin_hash),
        ("reader Authorization header", &reader_header),
        ("admin Authorization header", &admin_header),
    ];
    let key_lines: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    assert!(!key_lines.is_empty());
    for l in &key_lines {
        secrets.push(("TLS key", l));
    }

    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut record = |place: String, text: String| outputs.push((place, text));

    // check-config: good files, a bad exporter config, a bad web config.
    let bad_web = dir.join("bad-web.yml");
    std::fs::write(
        &bad_web,
        format!("basic_auth_users:\n  reader: [{reader_hash}]\n  admin: {READER_PW}\n"),
    )
    .unwrap();
    for (tag, text, webfile, ok) in [
        ("good", &good, &web, true),
        ("bad config", &bad, &web, false),
        ("bad web config", &good, &bad_web, false),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(BIN)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.config.file={}", webfile.display()))
            .arg("check-config")
            .env("WFX_V3_AUTH", V3_AUTH)
            .env("WFX_STORE_URL", &store_url)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.success(), ok, "check-config {tag}: {all}");
        record(format!("check-config ({tag})"), all);
    }

    let ca = pki.ca.display().to_string();
    for (level, format) in [
        ("debug", "logfmt"),
        ("debug", "json"),
        ("info", "logfmt"),
        ("warn", "logfmt"),
        ("error", "logfmt"),
    ] {
        let run = format!("{level}/{format}");
        std::fs::write(&cfg, &good).unwrap();
        let port = free_tcp_port();
        let out_path = dir.join(&format!("exporter-{level}-{format}.out"));
        let err_path = dir.join(&format!("exporter-{level}-{format}.err"));
        let mut cmd = Command::new(BIN);
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.config.file={}", web.display()))
            .arg("--web.write-users=admin")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--log.level={level}"))
            .arg(format!("--log.format={format}"))
            .env("WFX_V3_AUTH", V3_AUTH)
            .env("WFX_STORE_URL", &store_url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        let mut proc = Proc::spawn("wardflux-exporter", &mut cmd);
        let as_user = |user: &str, pw: &str, args: &[&str], path: &str| {
            let url = format!("https://127.0.0.1:{port}{path}");
            let cred = format!("{user}:{pw}");
            let mut a = vec!["--cacert", &ca, "-u", &cred];
            a.extend_from_slice(args);
            a.push(&url);
            curl(&a)
        };
        let reader = |path: &str| as_user("reader", READER_PW, &[], path);
        let admin_post = |path: &str| as_user("admin", ADMIN_PW, &["-X", "POST"], path);
        wait_for("the exporter to serve", Duration::from_secs(30), || {
            proc.assert_running();
            (reader("/-/healthy").status == 200).then_some(())
        });
        // Both good devices polled, the wrong v3 password reported.
        wait_for(
            "devices polled and the wrong password reported",
            Duration::from_secs(60),
            || {
                let c = reader("/api/v1/devices");
                let devs: Vec<serde_json::Value> = serde_json::from_str(&c.body).ok()?;
                let dev = |n: &str| devs.iter().find(|d| d["name"] == n).cloned();
                let up = |n: &str| {
                    dev(n).is_some_and(|d| d["up"] == true && d["last_success"].is_number())
                };
                (up("SNMP-V2")
                    && up("SNMP-V3")
                    && dev("SNMP-V3-WRONG").is_some_and(|d| d["last_error"].is_string()))
                .then_some(())
            },
        );

        for path in [
            "/",
            "/metrics",
            "/metrics/self",
            "/probe?target=SNMP-V2",
            "/probe?target=SNMP-V3",
            "/probe?target=SNMP-V3-WRONG",
            "/probe?target=NOPE",
            "/probe",
            "/api/v1/targets",
            "/api/v1/devices",
            "/api/v1/interfaces",
            "/api/v1/interfaces?device=SNMP-V3",
            "/api/v1/interfaces?colour=red",
            "/api/v1/interfaces/summary",
            "/api/v1/topology",
            "/api/v1/topology/impact?device=SNMP-V2",
            "/api/v1/topology/layout.svg",
            "/api/v1/devices/SNMP-V2/neighbors",
            "/topology",
            "/topology/topology.js",
            "/-/healthy",
            "/-/ready",
            "/no-such-page",
        ] {
            let c = reader(path);
            assert!(c.status != 0 && c.status < 500, "{run} GET {path}: {c:?}");
            record(format!("{run} GET {path}"), text_of(&c));
        }
        let c = reader("/api/v1/devices");
        assert!(
            c.body.contains("SNMP-V3-WRONG") && c.body.contains("last_error"),
            "{}",
            c.body
        );
        for path in ["/api/v1/discover", "/api/v1/discover/SNMP-V3", "/-/reload"] {
            let c = admin_post(path);
            assert_eq!(c.status, 200, "{run} POST {path}: {c:?}");
            record(format!("{run} POST {path}"), text_of(&c));
            let c = as_user("reader", READER_PW, &["-X", "POST"], path);
            assert_eq!(c.status, 403, "{run} reader POST {path}: {c:?}");
            record(format!("{run} reader POST {path}"), text_of(&c));
        }
        // Interface edits: the write user's, a reader's (403), a bad body (400), one interface.
        // The inventory store is configured but nothing listens at its address, so the write
        // user's edit and delete are refused (503, naming the store as unavailable, never its
        // URL) and change nothing.
        let patch = |user: &str, pw: &str, body: &str| {
            as_user(
                user,
                pw,
                &[
                    "-X",
                    "PATCH",
                    "-H",
                    "Content-Type: application/json",
                    "--data",
                    body,
                ],
                "/api/v1/interfaces/SNMP-V2/1",
            )
        };
        for (user, pw, body, want) in [
            ("admin", ADMIN_PW, r#"{"is_critical": true}"#, 503),
            ("reader", READER_PW, r#"{"is_critical": true}"#, 403),
            ("admin", ADMIN_PW, r#"{"interface_type": "nope"}"#, 400),
        ] {
            let c = patch(user, pw, body);
            assert_eq!(c.status, want, "{run} {user} PATCH {body}: {c:?}");
            record(format!("{run} {user} PATCH {body}"), text_of(&c));
        }
        let c = reader("/api/v1/interfaces/SNMP-V2/1");
        assert_eq!(c.status, 200, "{run}: {c:?}");
        record(format!("{run} GET one interface"), text_of(&c));
        let c = as_user(
            "admin",
            ADMIN_PW,
            &["-X", "DELETE"],
            "/api/v1/interfaces/SNMP-V2/1",
        );
        assert_eq!(c.status, 503, "{run}: {c:?}");
        assert!(c.body.contains("inventory store unavailable"), "{}", c.body);
        record(format!("{run} DELETE one interface"), text_of(&c));
        for (user, pw) in [
            ("reader", ADMIN_PW),
            ("admin", READER_PW),
            (READER_PW, READER_PW),
        ] {
            let c = as_user(user, pw, &[], "/metrics");
            assert_eq!(c.status, 401, "{run}: {c:?}");
            record(format!("{run} wrong credentials"), text_of(&c));
        }
        // A bad reload: refused with a message, the old config keeps running.
        std::fs::write(&cfg, &bad).unwrap();
        let c = admin_post("/-/reload");
        assert_eq!(c.status, 400, "{run}: {c:?}");
        assert!(c.body.contains("SHA999"), "{}", c.body);
        record(format!("{run} bad reload"), text_of(&c));
        std::fs::write(&cfg, &good).unwrap();
        assert_eq!(admin_post("/-/reload").status, 200);

        if level != "error" {
            // The store's connection error (its URL's likeliest way out) is logged.
            wait_for(
                "the inventory store's error",
                Duration::from_secs(60),
                || {
                    std::fs::read_to_string(&err_path)
                        .ok()?
                        .contains("inventory store: cannot write")
                        .then_some(())
                },
            );
        }
        Command::new("kill")
            .args(["-TERM", &proc.pid().to_string()])
            .status()
            .unwrap();
        let pid = proc.pid();
        wait_for("the exporter to exit", Duration::from_secs(30), || {
            exited(pid).then_some(())
        });
        let stderr = std::fs::read_to_string(&err_path).unwrap();
        let stdout = std::fs::read_to_string(&out_path).unwrap();
        if level == "debug" {
            // The error paths ran and were logged.
            assert!(stderr.contains("SNMP-V3-WRONG"), "{stderr}");
            assert!(stderr.contains("authentication failed"), "{stderr}");
            assert!(stderr.contains("SHA999"), "{stderr}");
            assert!(stderr.contains("inventory store: cannot write"), "{stderr}");
        }
        record(format!("{run} stderr"), stderr);
        record(format!("{run} stdout"), stdout);
    }

    assert_no_secrets(&outputs, &secrets);
}
