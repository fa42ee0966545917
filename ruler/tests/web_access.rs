//! Access control of the real `wardflux-ruler` binary with curl: TLS, basic auth (401 on a
//! wrong password), `POST /-/reload` refused to a read-only user (403) and allowed to a write
//! user, and the start-up warning without a web config.

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
            .any(|l| l.contains("WARN") && l.contains("no --web.config.file")),
        "{out}"
    );
}
