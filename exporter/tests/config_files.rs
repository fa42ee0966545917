//! Configuration files: `check-config` on good and bad fixtures (errors name file:line and the
//! field), and `POST /-/reload` with a broken file keeps the running targets polling.
//!
//! Needs: Debian snmpsim, snmp, bzip2; PyPI snmpsim-data (for the reload test's agent).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{community_of, find_sample, Exporter, Snmpsim};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Run `check-config` on a fixture: (success, stdout + stderr).
fn check_config(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wardflux-exporter"))
        .arg("--config.file")
        .arg(fixture(name))
        .arg("check-config")
        .env_remove("WARDFLUX_TEST_COMMUNITY")
        .env_remove("WARDFLUX_TEST_INVENTORY_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run wardflux-exporter check-config");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const SECRETS: [(&str, &str); 3] = [
    ("WARDFLUX_TEST_COMMUNITY", "fixture-community"),
    ("WARDFLUX_TEST_V3_AUTH", "fixture-auth-pass"),
    ("WARDFLUX_TEST_V3_PRIV", "fixture-priv-pass"),
];

#[test]
fn check_config_accepts_the_good_fixture() {
    let (ok, out) = check_config("good.yml", &SECRETS);
    assert!(ok, "good.yml rejected: {out}");
    assert!(out.contains("2 targets"), "summary: {out}");
    for (_, secret) in SECRETS {
        assert!(
            !out.contains(secret),
            "check-config printed a secret: {out}"
        );
    }
}

#[test]
fn check_config_accepts_targets_sql_without_querying_or_showing_the_url() {
    let url = "postgres://inv:fixture-db-pass@127.0.0.1:1/inventory";
    let (ok, out) = check_config(
        "good-targets-sql.yml",
        &[
            ("WARDFLUX_TEST_COMMUNITY", "fixture-community"),
            ("WARDFLUX_TEST_INVENTORY_URL", url),
        ],
    );
    assert!(ok, "good-targets-sql.yml rejected: {out}");
    assert!(
        out.contains("1 targets") && out.contains("targets_sql"),
        "{out}"
    );
    assert!(
        !out.contains("fixture-db-pass") && !out.contains("fixture-community"),
        "{out}"
    );
    // Without the variable the error names the file, the line of url_env and the variable.
    let (ok, out) = check_config(
        "good-targets-sql.yml",
        &[("WARDFLUX_TEST_COMMUNITY", "fixture-community")],
    );
    assert!(!ok, "accepted without the url: {out}");
    assert!(
        out.contains("good-targets-sql.yml:8:") && out.contains("WARDFLUX_TEST_INVENTORY_URL"),
        "{out}"
    );
}

#[test]
fn check_config_names_a_missing_secret_variable() {
    let (ok, out) = check_config("good.yml", &SECRETS[1..]);
    assert!(!ok, "accepted without WARDFLUX_TEST_COMMUNITY: {out}");
    assert!(out.contains("good.yml:8:"), "file:line of the auth: {out}");
    assert!(out.contains("WARDFLUX_TEST_COMMUNITY"), "{out}");
}

/// Each bad fixture: the line of the mistake and words that must be in the message.
#[test]
fn check_config_rejects_bad_fixtures_with_file_line_and_field() {
    let cases: [(&str, usize, &[&str]); 5] = [
        ("bad-unknown-key.yml", 9, &["unknown field", "adress"]),
        ("bad-duration.yml", 3, &["discovery_interval", "1hour"]),
        ("bad-missing-auth.yml", 7, &["auth", "core_v3"]),
        ("bad-duplicate-target.yml", 8, &["duplicate", "CORE-SW-01"]),
        (
            "bad-targets-sql-auth.yml",
            6,
            &["targets_sql.v3_auth", "no auth named \"core_v3\""],
        ),
    ];
    for (file, line, words) in cases {
        let (ok, out) = check_config(file, &[]);
        assert!(!ok, "{file} accepted: {out}");
        let want = format!("{file}:{line}:");
        assert!(out.contains(&want), "{file}: message lacks {want}: {out}");
        for w in words {
            assert!(out.contains(w), "{file}: message lacks {w:?}: {out}");
        }
        assert!(!out.contains("panicked"), "{file}: {out}");
    }
}

#[test]
fn reload_with_a_broken_file_keeps_the_old_targets_polling() {
    let rec = "network/switch/cisco-c3750";
    let dev = community_of(rec);
    let sim = Snmpsim::start("reload", &[rec]);
    let good = |extra: &str| {
        format!(
            "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 2s\n\
             auths:\n  c: {{version: 2, community: {dev}}}\n\
             targets:\n  - {{name: {dev}, address: \"{}\", auth: c}}\n{extra}",
            sim.addr()
        )
    };
    let mut ex = Exporter::start(&good(""), &[]);
    ex.wait_devices_up(&[dev], Duration::from_secs(60));

    // A broken file (unknown key, and a target without its auth) is rejected with its line.
    std::fs::write(
        ex.config_path(),
        format!(
            "{}  - {{name: extra, address: 127.0.0.1, auth: nope}}\npoll_intervall: 5s\n",
            good("")
        ),
    )
    .expect("write broken config");
    let (status, body) = ex.post("/-/reload");
    assert_eq!(status, 400, "broken config accepted: {body}");
    assert!(
        body.contains("wardflux.yml:"),
        "error names the file: {body}"
    );
    let samples = ex.metrics();
    assert_eq!(
        find_sample(&samples, "wardflux_config_last_reload_successful", &[])
            .map(|s| s.value.as_str()),
        Some("0")
    );
    // The old target keeps being visited and stays up; the broken one never appears.
    ex.wait_next_full_poll(dev, Duration::from_secs(30));
    let d = ex.device(dev);
    assert_eq!(d["up"], true);
    let names: Vec<String> = ex
        .devices()
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, [dev]);

    // And a good file afterwards is taken: the reload path itself works.
    std::fs::write(
        ex.config_path(),
        good(&format!(
            "  - {{name: second, address: \"{}\", auth: c}}\n",
            sim.addr()
        )),
    )
    .expect("write good config");
    let (status, body) = ex.post("/-/reload");
    assert_eq!(status, 200, "good config rejected: {body}");
    ex.wait_devices_up(&[dev, "second"], Duration::from_secs(60));
}

/// `--log.format=json` (given after the subcommand-less flags, as systemd units do) gives one
/// JSON object per line, `logfmt` gives `ts=... level=...` lines; no colour codes in a file.
#[test]
fn log_format_is_json_or_logfmt_and_never_coloured_in_a_file() {
    let cfg = format!(
        "poll_interval: 5s\nauths:\n  c: {{version: v2c, community: public}}\n\
         targets:\n  - {{name: NOBODY-1, address: \"127.0.0.1:{}\", auth: c}}\n",
        common::free_udp_port()
    );
    let env = [];
    for format in ["json", "logfmt"] {
        let ex = Exporter::start_with_args(&cfg, &env, &["--log.format", format]);
        let log = common::wait_for("a log line", Duration::from_secs(20), || {
            let log = ex.log();
            log.contains("listening").then_some(log)
        });
        assert!(!log.contains('\x1b'), "{format}: colour in a file: {log:?}");
        let line = log.lines().find(|l| l.contains("listening")).unwrap();
        if format == "json" {
            for l in log.lines() {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            }
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["message"], "listening");
            assert_eq!(v["address"], ex.addr.as_str());
        } else {
            for l in log.lines() {
                assert!(
                    l.starts_with("ts=") && l.contains(" level="),
                    "not logfmt: {l}"
                );
            }
            assert!(
                line.contains(&format!(
                    "level=info target=wardflux_exporter msg=listening address={}",
                    ex.addr
                )),
                "{line}"
            );
        }
    }
}
