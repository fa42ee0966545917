//! The `wardflux-ruler` binary as operators and CI run it: `check-rules` on good and bad
//! files, `migrate` on both stores, and a running ruler's HTTP API, reload (`POST /-/reload`
//! and SIGHUP, a bad file keeping the old rules) and secrecy of the store password.
//!
//! Needs Debian packages: victoria-metrics, postgresql (127.0.0.1:5432, trust auth),
//! prometheus (promtool).

mod common;

use common::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-ruler");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name)
}

/// `wardflux-ruler check-rules ARGS...`: its output and stdout as text.
fn check_rules(args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> (Output, String) {
    let out = Command::new(BIN)
        .arg("check-rules")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn default_rule_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/alerts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn check_rules_accepts_good_files_and_names_file_line_and_field_in_bad_ones() {
    let mut good = default_rule_files();
    good.push(fixture("good.yml"));
    let (out, stdout) = check_rules(&good);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("good.yml: ok, 1 groups, 2 rules"),
        "{stdout}"
    );

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/baselines.yml");
    let (out, stdout) = check_rules([
        format!("--baselines.file={}", shipped.display()).into(),
        fixture("good.yml"),
    ]);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "baselines.yml: ok, baselines for {is_critical=\"true\"}, 168 buckets in Asia/Tbilisi"
        ),
        "{stdout}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("baselines.yml");
    std::fs::write(
        &bad,
        "baselines:\n  selector: ''\n  timezone: Mars/Olympus\n",
    )
    .unwrap();
    let (out, stdout) = check_rules([
        format!("--baselines.file={}", bad.display()).into(),
        fixture("good.yml"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("baselines.yml:3: field \"timezone\""),
        "{stdout}"
    );

    let outages = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/outages.yml");
    let (out, stdout) = check_rules([
        format!("--outages.file={}", outages.display()).into(),
        fixture("good.yml"),
    ]);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "outages.yml: ok, outage group every 15s, for 30s, topology lookback 86400s, 0 root selectors"
        ),
        "{stdout}"
    );
    let bad = dir.path().join("outages.yml");
    std::fs::write(&bad, "outages:\n  provider_outage:\n    min_share: 2\n").unwrap();
    let (out, stdout) = check_rules([
        format!("--outages.file={}", bad.display()).into(),
        fixture("good.yml"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("outages.yml:3: field \"min_share\": 2 is not within (0, 1]"),
        "{stdout}"
    );

    let cases = [
        ("bad-expr.yml", "bad-expr.yml:4: group \"fixture-bad-expr\" rule \"Broken\" field \"expr\""),
        ("bad-field.yml", "bad-field.yml:6: invalid YAML: groups[0].rules[0]: unknown field `lables`"),
        ("bad-severity.yml", "bad-severity.yml:4: group \"fixture-bad-severity\" rule \"Urgent\" field \"labels.severity\""),
        ("bad-yaml.yml", "bad-yaml.yml:6: invalid YAML"),
        ("bad-template.yml", "bad-template.yml:4: group \"fixture-bad-template\" rule \"Template\" field \"annotations.summary\""),
    ];
    for (file, want) in cases {
        let (out, stdout) = check_rules([fixture(file)]);
        assert_eq!(out.status.code(), Some(1), "{file}: {stdout}");
        assert!(
            stdout.contains(want),
            "{file}: got {stdout:?}, want {want:?}"
        );
    }
}

#[test]
fn promtool_accepts_the_default_rules() {
    let promtool = require("promtool", "prometheus");
    let mut files = default_rule_files();
    files.push(fixture("good.yml"));
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn tables(url: &str) -> Vec<String> {
    use sqlx::Row;
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }
}

#[tokio::test]
async fn migrate_creates_alert_history_on_both_stores_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("h.db").display());
    let pg = PgDb::create().await;
    for url in [sqlite, pg.url()] {
        for _ in 0..2 {
            let out = Command::new(BIN)
                .arg("migrate")
                .env("WARDFLUX_STORE_URL", &url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let t = tables(&url).await;
        assert!(t.contains(&"alert_history".to_string()), "{url}: {t:?}");
    }
}

struct Ruler {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Ruler {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Ruler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect(url);
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn post_text(url: &str) -> (u16, String) {
    let r = reqwest::Client::new().post(url).send().await.expect(url);
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The ruler's /metrics text, which must contain each of `lines`.
async fn metrics_with(r: &Ruler, lines: &[&str]) -> String {
    let (_, metrics) = get_text(&r.url("/metrics")).await;
    for l in lines {
        assert!(metrics.contains(l), "{l} missing from /metrics:\n{metrics}");
    }
    metrics
}

async fn group_names(r: &Ruler) -> Vec<String> {
    let body = reqwest::get(r.url("/api/v1/rules"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn running_ruler_serves_its_api_reloads_safely_and_hides_the_store_password() {
    let vm = Vm::start().await;
    let pg = PgDb::create().await;
    let password = "s3cret-pw-123";
    let store_url = pg
        .url()
        .replacen("postgres@", &format!("postgres:{password}@"), 1);
    let rules = tempfile::tempdir().unwrap();
    for f in default_rule_files() {
        std::fs::copy(&f, rules.path().join(f.file_name().unwrap())).unwrap();
    }
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("ruler.log");
    let port = free_port();
    let child = Command::new(BIN)
        .arg(format!("--rules.file={}/*.yml", rules.path().display()))
        .arg(format!("--datasource.url={}", vm.url()))
        .arg(format!("--store.url={store_url}"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--baselines.file={}/../rules/baselines.yml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--log.level=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let r = Ruler { child, port, log };
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(resp) = reqwest::get(r.url("/-/ready")).await {
            if resp.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready,
        "ruler ready; log:\n{}",
        std::fs::read_to_string(&r.log).unwrap_or_default()
    );
    let mut seen = String::new();

    let (s, body) = get_text(&r.url("/-/healthy")).await;
    assert_eq!(s, 200);
    seen.push_str(&body);
    let groups = group_names(&r).await;
    for g in [
        "wardflux-interface-rates",
        "wardflux-interface-daily",
        "wardflux-interface-alerts",
        "wardflux-anomaly",
        "wardflux-ruler",
    ] {
        assert!(groups.contains(&g.to_string()), "{groups:?}");
    }
    let (s, body) = get_text(&r.url("/api/v1/alerts")).await;
    assert_eq!(s, 200);
    assert!(body.contains("\"status\":\"success\""));
    seen.push_str(&body);
    let (s, body) = get_text(&r.url("/api/v1/history?limit=10")).await;
    assert_eq!(s, 200, "{body}");
    seen.push_str(&body);

    // A bad file: reload refused, old rules keep running.
    std::fs::copy(fixture("bad-expr.yml"), rules.path().join("zz-bad.yml")).unwrap();
    let (s, body) = post_text(&r.url("/-/reload")).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("zz-bad.yml:4"), "{body}");
    assert_eq!(group_names(&r).await, groups);
    let metrics = metrics_with(
        &r,
        &[
            "wardflux_ruler_config_last_reload_successful 0",
            "wardflux_ruler_transition_queue_depth 0",
        ],
    )
    .await;
    seen.push_str(&metrics);

    // Fixed: reload takes the new group.
    std::fs::remove_file(rules.path().join("zz-bad.yml")).unwrap();
    std::fs::copy(fixture("good.yml"), rules.path().join("zz-good.yml")).unwrap();
    let (s, body) = post_text(&r.url("/-/reload")).await;
    assert_eq!(s, 200, "{body}");
    assert!(group_names(&r).await.contains(&"fixture-good".to_string()));

    // SIGHUP does the same.
    std::fs::remove_file(rules.path().join("zz-good.yml")).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &r.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut reloaded = false;
    for _ in 0..100 {
        if !group_names(&r).await.contains(&"fixture-good".to_string()) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "SIGHUP reloads the rules");
    let metrics = metrics_with(
        &r,
        &[
            "wardflux_ruler_config_last_reload_successful 1",
            "wardflux_ruler_config_reloads_total 3",
        ],
    )
    .await;
    seen.push_str(&metrics);
    let (_, body) = get_text(&r.url("/api/v1/rules")).await;
    seen.push_str(&body);

    // SIGTERM: a clean exit.
    let mut r = r;
    Command::new("kill")
        .args(["-TERM", &r.child.id().to_string()])
        .status()
        .unwrap();
    let status = r.child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    let logs = std::fs::read_to_string(&r.log).unwrap();
    assert!(logs.contains("store ready"), "{logs}");
    assert!(logs.contains("anomaly detection on"), "{logs}");
    assert!(logs.contains("baselines learned"), "{logs}");
    assert!(
        logs.contains("postgres:***@"),
        "the store is logged without its password: {logs}"
    );
    assert!(!logs.contains(password), "password in the log");
    assert!(!seen.contains(password), "password in an API response");
}

#[tokio::test]
async fn metricsql_only_expressions_are_checked_by_the_datasource() {
    let vm = Vm::start().await;
    let (without, _) = check_rules([fixture("metricsql.yml")]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "the PromQL parser alone rejects it"
    );
    let (with, stdout) = check_rules([
        format!("--datasource.url={}", vm.url()).into(),
        fixture("metricsql.yml"),
    ]);
    assert!(
        with.status.success(),
        "VictoriaMetrics accepts MetricsQL: {stdout}"
    );
    let (broken, stdout) = check_rules([
        format!("--datasource.url={}", vm.url()).into(),
        fixture("bad-expr.yml"),
    ]);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("bad-expr.yml:4:") && stdout.contains("(datasource: "),
        "{stdout}"
    );
}
