//! Secrets never leave the ruler: the real binary with a PostgreSQL store URL holding a
//! password (flag, env and file), a web config with bcrypt hashes, at every log level (and in
//! JSON), through every endpoint, with the datasource down, the store down, wrong passwords,
//! a refused write and a bad reload, plus `migrate` against a live and a dead store.
//! Everything printed or answered is scanned for every secret: none may appear.

mod common;
mod web_support;

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::PgDb;
use wardflux_web::testkit::{assert_no_secrets, bcrypt_hash, curl, free_port, wait_for};
use web_support::{write_rules, Ruler, BIN};

const PG_PASSWORD: &str = "wfx-pg-S3cret-81";
const READER_PW: &str = "wfx-grafana-S3cret-82";
const ADMIN_PW: &str = "wfx-ops-S3cret-83";

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_logs_answers_or_migrate_output() {
    let pg = PgDb::create().await;
    let store_url = pg
        .url()
        .replacen("postgres@", &format!("postgres:{PG_PASSWORD}@"), 1);
    assert!(store_url.contains(PG_PASSWORD), "{store_url}");
    let dead_store = format!(
        "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/x",
        free_port()
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    write_rules(&d);
    let reader_hash = bcrypt_hash(READER_PW);
    let admin_hash = bcrypt_hash(ADMIN_PW);
    let web = d.join("web.yml");
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  grafana: {reader_hash}\n  ops: {admin_hash}\n"),
    )
    .unwrap();
    let url_file = d.join("store-url");
    std::fs::write(&url_file, format!("{store_url}\n")).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let reader_header = b64(&format!("grafana:{READER_PW}"));
    let admin_header = b64(&format!("ops:{ADMIN_PW}"));
    let secrets: Vec<(&str, &str)> = vec![
        ("store password", PG_PASSWORD),
        ("reader password", READER_PW),
        ("admin password", ADMIN_PW),
        ("reader bcrypt hash", &reader_hash),
        ("admin bcrypt hash", &admin_hash),
        ("reader Authorization header", &reader_header),
        ("admin Authorization header", &admin_header),
    ];
    let mut outputs: Vec<(String, String)> = Vec::new();

    // migrate: a live store (password in the env) and a dead one (in a file).
    for (tag, ok, env, file) in [
        ("migrate live", true, Some(store_url.as_str()), None),
        ("migrate dead", false, None, Some(dead_store.as_str())),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.arg("migrate").arg("--log.level=debug");
        if let Some(u) = env {
            cmd.env("WARDFLUX_STORE_URL", u);
        }
        if let Some(u) = file {
            let f = d.join("dead-url");
            std::fs::write(&f, u).unwrap();
            cmd.arg(format!("--store.url-file={}", f.display()));
        }
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.success(), ok, "{tag}: {all}");
        outputs.push((tag.to_string(), all));
    }

    // The store down at start: the ruler retries and says so.
    {
        let mut cmd = Command::new(BIN);
        let err = d.join("dead-store.err");
        let mut child = cmd
            .arg(format!("--rules.file={}/rules/*.yml", d.display()))
            .arg(format!("--store.url={dead_store}"))
            .arg("--datasource.url=http://127.0.0.1:9")
            .arg(format!("--baselines.file={}/none.yml", d.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
            .arg("--log.level=debug")
            .stdout(std::fs::File::create(d.join("dead-store.out")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        wait_for(
            "the ruler to report the store down",
            Duration::from_secs(30),
            || {
                let t = std::fs::read_to_string(&err).unwrap_or_default();
                (t.matches("store not ready").count() >= 2).then_some(())
            },
        );
        let _ = child.kill();
        let _ = child.wait();
        outputs.push((
            "store down stderr".into(),
            std::fs::read_to_string(&err).unwrap(),
        ));
    }

    let dead_ds = format!("http://127.0.0.1:{}", free_port());
    for (level, format, how) in [
        ("debug", "logfmt", "flag"),
        ("debug", "json", "file"),
        ("info", "logfmt", "env"),
        ("warn", "logfmt", "flag"),
        ("error", "logfmt", "file"),
    ] {
        let run = format!("{level}/{format}");
        let mut extra = vec![
            format!("--datasource.url={dead_ds}"),
            format!("--web.config.file={}", web.display()),
            "--web.write-users=ops".into(),
            format!("--log.level={level}"),
            format!("--log.format={format}"),
        ];
        match how {
            "flag" => extra.push(format!("--store.url={store_url}")),
            "file" => extra.push(format!("--store.url-file={}", url_file.display())),
            _ => {}
        }
        if how == "env" {
            std::env::set_var("WARDFLUX_STORE_URL", &store_url);
        } else {
            std::env::remove_var("WARDFLUX_STORE_URL");
        }
        let tag = format!("ruler-{level}-{format}");
        let call = |port: u16, user: &str, pw: &str, method: &str, path: &str| {
            curl(&[
                "-u",
                &format!("{user}:{pw}"),
                "-X",
                method,
                &format!("http://127.0.0.1:{port}{path}"),
            ])
        };
        let mut r = tokio::task::block_in_place(|| {
            Ruler::start(&d, &tag, &extra, |port| {
                call(port, "grafana", READER_PW, "GET", "/-/ready").status == 200
            })
        });
        std::env::remove_var("WARDFLUX_STORE_URL");
        let port = r.port;
        // The datasource is down: the group's rule reports it.
        tokio::task::block_in_place(|| {
            wait_for(
                "the datasource error on /api/v1/rules",
                Duration::from_secs(30),
                || {
                    let c = call(port, "grafana", READER_PW, "GET", "/api/v1/rules");
                    c.body.contains("\"lastError\":\"").then_some(())
                },
            )
        });
        for path in [
            "/metrics",
            "/api/v1/alerts",
            "/api/v1/rules",
            "/api/v1/history",
            "/api/v1/history?limit=0",
            "/-/healthy",
            "/-/ready",
            "/no-such-page",
        ] {
            let c = call(port, "grafana", READER_PW, "GET", path);
            assert!(c.status != 0 && c.status < 500, "{run} GET {path}: {c:?}");
            outputs.push((format!("{run} GET {path}"), c.all_text()));
        }
        for (user, pw) in [
            ("grafana", ADMIN_PW),
            ("ops", READER_PW),
            (READER_PW, READER_PW),
        ] {
            let c = call(port, user, pw, "GET", "/metrics");
            assert_eq!(c.status, 401, "{run}: {c:?}");
            outputs.push((format!("{run} wrong credentials"), c.all_text()));
        }
        let c = call(port, "grafana", READER_PW, "POST", "/-/reload");
        assert_eq!(c.status, 403, "{run}: {c:?}");
        outputs.push((format!("{run} reader reload"), c.all_text()));
        let c = call(port, "ops", ADMIN_PW, "POST", "/-/reload");
        assert_eq!(c.status, 200, "{run}: {c:?}");
        outputs.push((format!("{run} reload"), c.all_text()));
        // A bad reload is refused and named; the good rules come back.
        std::fs::write(
            d.join("rules/zz-bad.yml"),
            "groups:\n  - name: bad\n    rules:\n      - alert: X\n        expr: rate(\n",
        )
        .unwrap();
        let c = call(port, "ops", ADMIN_PW, "POST", "/-/reload");
        assert_eq!(c.status, 400, "{run}: {c:?}");
        assert!(c.body.contains("zz-bad.yml"), "{}", c.body);
        outputs.push((format!("{run} bad reload"), c.all_text()));
        std::fs::remove_file(d.join("rules/zz-bad.yml")).unwrap();
        assert_eq!(call(port, "ops", ADMIN_PW, "POST", "/-/reload").status, 200);

        tokio::task::block_in_place(|| r.stop());
        let out = r.output();
        if level == "debug" {
            assert!(out.contains("store ready"), "{out}");
            assert!(out.contains("authentication failed"), "{out}");
            assert!(out.contains("reload failed"), "{out}");
        }
        outputs.push((format!("{run} output"), out));
    }

    assert_no_secrets(&outputs, &secrets);
}
