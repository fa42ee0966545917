//! Access control of the real `wardflux-ruler` binary with curl: TLS, basic auth (401 on a
//! wrong password), `POST /-/reload` refused to a read-only user (403) and allowed to a write
//! user, the start-up warning without a web config, and acknowledging an alert
//! (`POST /api/v1/alerts/{id}/ack`) as a write user on a real SQLite store.

mod web_support;

use wardflux_web::testkit::{bcrypt_hash, curl, Pki};
use web_support::{write_rules, Ruler};

#[test]
fn tls_basic_auth_and_write_users_guard_the_api() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let pki = Pki::create(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n\
             basic_auth_users:\n  grafana: {}\n  ops: {}\n",
            pki.server_cert.display(),
            pki.server_key.display(),
            bcrypt_hash("grafana-pass"),
            bcrypt_hash("ops-pass"),
        ),
    )
    .unwrap();
    let ca = pki.ca.display().to_string();
    let call = |port: u16, user: &str, method: &str, path: &str| {
        curl(&[
            "--cacert",
            &ca,
            "-u",
            user,
            "-X",
            method,
            &format!("https://127.0.0.1:{port}{path}"),
        ])
    };
    let mut r = Ruler::start(
        dir.path(),
        "access",
        &[
            format!("--store.url=sqlite://{}/h.db", dir.path().display()),
            "--datasource.url=http://127.0.0.1:9".into(),
            format!("--web.config.file={}", web.display()),
            "--web.write-users=ops".into(),
        ],
        |port| call(port, "grafana:grafana-pass", "GET", "/-/ready").status == 200,
    );
    let port = r.port;
    for path in [
        "/metrics",
        "/api/v1/alerts",
        "/api/v1/rules",
        "/api/v1/history",
    ] {
        let c = call(port, "grafana:grafana-pass", "GET", path);
        assert_eq!(c.status, 200, "{path}: {c:?}");
        let c = call(port, "grafana:wrong", "GET", path);
        assert_eq!(c.status, 401, "{path}: {c:?}");
        assert!(c.header("www-authenticate").is_some(), "{c:?}");
    }
    let c = curl(&[
        "--cacert",
        &ca,
        &format!("https://127.0.0.1:{port}/-/healthy"),
    ]);
    assert_eq!(c.status, 401, "no credentials: {c:?}");
    let c = call(port, "grafana:grafana-pass", "POST", "/-/reload");
    assert_eq!(c.status, 403, "{c:?}");
    let c = call(port, "ops:ops-pass", "POST", "/-/reload");
    assert_eq!((c.status, c.body.as_str()), (200, "OK\n"), "{c:?}");
    let c = curl(&[&format!("http://127.0.0.1:{port}/-/healthy")]);
    assert_ne!(c.status, 200, "plain HTTP on the TLS port: {c:?}");
    r.stop();
    let out = r.output();
    assert!(out.contains("web access control on"), "{out}");
    assert!(!out.contains("no --web.config.file"), "{out}");
}

#[test]
fn without_a_web_config_the_ruler_warns() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let mut r = Ruler::start(
        dir.path(),
        "open",
        &[
            format!("--store.url=sqlite://{}/h.db", dir.path().display()),
            "--datasource.url=http://127.0.0.1:9".into(),
        ],
        |port| curl(&[&format!("http://127.0.0.1:{port}/-/ready")]).status == 200,
    );
    r.stop();
    let out = r.output();
    assert!(
        out.lines()
            .any(|l| l.contains(" level=warn ") && l.contains("no --web.config.file")),
        "{out}"
    );
}

/// Rows in the store before the ruler starts: id 1 firing (of the test rule, so the ruler
/// restores it as firing rather than resolving it as an orphan), id 2 resolved.
fn seed_rows(dir: &std::path::Path) -> String {
    let db = dir.join("h.db");
    let url = format!("sqlite://{}", db.display());
    let out = std::process::Command::new(web_support::BIN)
        .args(["migrate", &format!("--store.url={url}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sqlite = wardflux_web::testkit::require_tool("sqlite3", "sqlite3");
    let row = |name: &str, fp: &str, state: &str, resolved: &str| {
        format!(
            "INSERT INTO alert_history (alert_name, group_name, fingerprint, severity, device, \
             message, state, started_at, resolved_at, last_evaluated_at) VALUES ('{name}', 'web-test', \
             '{fp}', 'high', 'CORE-SW-01', 'm', '{state}', '2026-03-02T09:00:00+00:00', {resolved}, \
             '2026-03-02T09:05:00+00:00');"
        )
    };
    let sql = format!(
        "{}{}",
        row("InterfaceDown", "f1", "firing", "NULL"),
        row(
            "CriticalTrunkDown",
            "f2",
            "resolved",
            "'2026-03-02T09:04:00+00:00'"
        )
    );
    let out = std::process::Command::new(sqlite)
        .arg(&db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    url
}

#[test]
fn a_write_user_acknowledges_a_firing_alert_with_a_comment_and_bad_acks_get_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let url = seed_rows(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  grafana: {}\n  ops: {}\n",
            bcrypt_hash("grafana-pass"),
            bcrypt_hash("ops-pass"),
        ),
    )
    .unwrap();
    let call = |port: u16, user: &str, path: &str, body: Option<&str>| {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut args = vec![
            "-u",
            user,
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
        ];
        if let Some(b) = body {
            args.extend(["--data-raw", b]);
        }
        args.push(&url);
        curl(&args)
    };
    let mut r = Ruler::start(
        dir.path(),
        "ack",
        &[
            format!("--store.url={url}"),
            "--datasource.url=http://127.0.0.1:9".into(),
            format!("--web.config.file={}", web.display()),
            "--web.write-users=ops".into(),
        ],
        |port| {
            curl(&[
                "-u",
                "grafana:grafana-pass",
                &format!("http://127.0.0.1:{port}/-/ready"),
            ])
            .status
                == 200
        },
    );
    let port = r.port;

    let c = call(port, "grafana:grafana-pass", "/api/v1/alerts/1/ack", None);
    assert_eq!(c.status, 403, "a read-only user cannot acknowledge: {c:?}");
    let c = call(port, "nobody:x", "/api/v1/alerts/1/ack", None);
    assert_eq!(c.status, 401, "{c:?}");

    let c = call(
        port,
        "ops:ops-pass",
        "/api/v1/alerts/1/ack",
        Some(r#"{"comment": "Magti ticket 4411 opened"}"#),
    );
    assert_eq!(c.status, 200, "{c:?}");
    let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    let row = &v["data"]["row"];
    assert_eq!(row["id"], 1);
    assert_eq!(row["acknowledged_by"], "ops", "who is the basic-auth user");
    assert_eq!(row["acknowledged_comment"], "Magti ticket 4411 opened");
    assert!(
        row["acknowledged_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{row}"
    );
    assert_eq!(row["state"], "firing");

    for (path, body, status, want) in [
        (
            "/api/v1/alerts/1/ack",
            None,
            409,
            "alert 1 (InterfaceDown) was acknowledged by ops at ",
        ),
        (
            "/api/v1/alerts/2/ack",
            None,
            409,
            "alert 2 (CriticalTrunkDown) is resolved since 2026-03-02T09:04:00+00:00",
        ),
        (
            "/api/v1/alerts/999/ack",
            None,
            404,
            "alert 999: no alert-history row with this id",
        ),
        ("/api/v1/alerts/abc/ack", None, 400, "abc"),
        (
            "/api/v1/alerts/1/ack",
            Some("{\"note\": 1}"),
            400,
            "body: expected {\\\"comment\\\"",
        ),
        ("/api/v1/alerts/1/ack", Some("not json"), 400, "body:"),
    ] {
        let c = call(port, "ops:ops-pass", path, body);
        assert_eq!(c.status, status, "{path} {body:?}: {c:?}");
        assert!(c.body.contains(want), "{path} {body:?}: {}", c.body);
    }
    let long = format!("{{\"comment\": \"{}\"}}", "x".repeat(1001));
    let c = call(port, "ops:ops-pass", "/api/v1/alerts/1/ack", Some(&long));
    assert_eq!(c.status, 400, "{c:?}");
    assert!(
        c.body.contains("comment: longer than 1000 characters"),
        "{}",
        c.body
    );

    // The history shows who acknowledged and why.
    let c = curl(&[
        "-u",
        "grafana:grafana-pass",
        &format!("http://127.0.0.1:{port}/api/v1/history"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    let rows = v["data"]["rows"].as_array().unwrap();
    let one = rows.iter().find(|r| r["id"] == 1).unwrap();
    assert_eq!(one["acknowledged_by"], "ops");
    assert_eq!(one["acknowledged_comment"], "Magti ticket 4411 opened");
    let two = rows.iter().find(|r| r["id"] == 2).unwrap();
    assert!(two["acknowledged_by"].is_null(), "{two}");

    r.stop();
    let out = r.output();
    let audit = out
        .lines()
        .find(|l| l.contains("alert acknowledged"))
        .unwrap_or_else(|| panic!("no audit line: {out}"));
    for want in [
        "audit=ack",
        " id=1 ",
        "alert=InterfaceDown",
        "user=ops",
        "comment=\"Magti ticket 4411 opened\"",
    ] {
        assert!(audit.contains(want), "{want} in {audit}");
    }
}
