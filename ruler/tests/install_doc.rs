//! `docs/install.md` as a test, so the production guide cannot drift from the programs: every
//! fenced block marked ```` ```sh test ```` runs, in order, in one `bash -euo pipefail` in the
//! repository root, with the workspace's freshly built binaries (`BIN_DIR`), a scratch
//! directory as `$ROOT` (the guide writes only under it) and a private PostgreSQL server
//! (`PGHOST`, `PGPORT`, `PGUSER`). Afterwards the files it made are checked (modes of the
//! secrets), and the blocks that cannot run here (users, owners, systemd) are checked against
//! `deploy/systemd/` and the rules: the users the guide creates are the units' users, every
//! path a unit reads is one the guide makes, every alert name the Alertmanager configuration
//! routes or inhibits is a shipped rule's.
//!
//! Needs Debian packages: postgresql, openssl, apache2-utils (htpasswd),
//! prometheus-alertmanager (amtool), victoria-metrics (vmagent).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use wardflux_web::testkit::{require_tool, PrivatePg};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The blocks of `text` fenced with "```" + `info` exactly, in order.
fn blocks(text: &str, info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{info}") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```{info} block");
    out
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut t = std::time::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let m = if p.is_dir() {
            newest(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(t)
        };
        t = t.max(m);
    }
    t
}

/// The directory of the workspace's debug binaries: this test's `wardflux-ruler`, and the
/// `wardflux-exporter` the workspace build made beside it (`cargo nextest run --workspace`),
/// built here only when it is missing or older than its sources.
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_wardflux-ruler"))
        .parent()
        .expect("binary directory")
        .to_path_buf();
    let exporter = dir.join("wardflux-exporter");
    let built = std::fs::metadata(&exporter).and_then(|m| m.modified()).ok();
    let sources = newest(&repo().join("exporter/src")).max(newest(&repo().join("crates/web/src")));
    if built.is_none_or(|b| b < sources) {
        let out = Command::new(env!("CARGO"))
            .current_dir(repo())
            .args([
                "build",
                "--quiet",
                "-p",
                "wardflux-exporter",
                "--bin",
                "wardflux-exporter",
            ])
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `key=value` lines of a systemd unit (continuations joined).
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    let joined = unit.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim().to_string())
        .collect()
}

#[test]
fn the_install_guide_runs_and_matches_the_units() {
    for (tool, pkg) in [
        ("openssl", "openssl"),
        ("htpasswd", "apache2-utils"),
        ("amtool", "prometheus-alertmanager"),
        ("vmagent", "victoria-metrics"),
        ("psql", "postgresql"),
    ] {
        require_tool(tool, pkg);
    }
    let guide = std::fs::read_to_string(repo().join("docs/install.md")).expect("docs/install.md");
    let runnable = blocks(&guide, "sh test");
    assert!(
        runnable.len() >= 8,
        "the guide's runnable blocks: {}",
        runnable.len()
    );
    let script = format!("set -euo pipefail\n{}", runnable.join("\n"));

    let root = tempfile::tempdir().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let pg = PrivatePg::start_in(pg_dir.path());
    let bins = bin_dir();
    let path = format!(
        "{}/usr/local/bin:{}",
        root.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo())
        .env("ROOT", root.path())
        .env("BIN_DIR", &bins)
        .env("PATH", path)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", "postgres")
        .env_remove("WARDFLUX_STORE_URL")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the guide failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        pg.log()
    );
    // What the checks print: the programs' versions, both configs ok, the empty history.
    assert!(stdout.contains("wardflux-exporter "), "{stdout}");
    assert!(stdout.contains("exporter.yml: ok: 2 targets"), "{stdout}");
    assert!(stdout.contains("web.yml: ok: TLS"), "{stdout}");
    assert!(stdout.contains("30-self.yml: ok"), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("0"),
        "Grafana's role reads alert_history"
    );

    let r = |p: &str| root.path().join(p.trim_start_matches('/'));
    for (file, want) in [
        ("/etc/wardflux", 0o750),
        ("/etc/wardflux/exporter.env", 0o600),
        ("/etc/wardflux/store-url", 0o600),
        ("/etc/wardflux/web.yml", 0o640),
        ("/etc/wardflux/exporter.yml", 0o640),
        ("/etc/wardflux/tls/server.key", 0o640),
        ("/etc/vmagent/wardflux-password", 0o600),
    ] {
        assert_eq!(mode(&r(file)), want, "{file}");
    }
    assert!(
        !stdout.contains(
            std::fs::read_to_string(r("/etc/wardflux/store-url"))
                .unwrap()
                .split(':')
                .nth(2)
                .unwrap()
                .split('@')
                .next()
                .unwrap()
        ),
        "the database password was printed"
    );

    // The blocks that do not run here, against the units.
    let shown = blocks(&guide, "sh").join("\n");
    for name in ["wardflux-exporter", "wardflux-ruler"] {
        let unit =
            std::fs::read_to_string(repo().join(format!("deploy/systemd/{name}.service"))).unwrap();
        assert!(
            !unit.contains("DynamicUser"),
            "{name}: a dynamic user cannot own its secret files"
        );
        assert_eq!(unit_values(&unit, "User"), [name], "{name}");
        assert_eq!(unit_values(&unit, "Group"), [name], "{name}");
        assert_eq!(
            unit_values(&unit, "SupplementaryGroups"),
            ["wardflux"],
            "{name}"
        );
        let useradd = shown
            .lines()
            .find(|l| l.starts_with("useradd") && l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("the guide creates no user {name}"));
        assert!(
            useradd.contains("--user-group") && useradd.contains("--groups wardflux"),
            "{useradd}"
        );
        // Every file under /etc the unit names is one the guide made.
        let exec = unit_values(&unit, "ExecStart").join(" ")
            + " "
            + &unit_values(&unit, "EnvironmentFile").join(" ")
            + " "
            + &unit_values(&unit, "LoadCredential").join(" ");
        for word in exec.split([' ', '=', ':']) {
            let word = word.trim_start_matches('-');
            if let Some(rel) = word.strip_prefix("/etc/") {
                let p = r(&format!("/etc/{rel}"));
                let exists = if rel.contains('*') {
                    glob::glob(p.to_str().unwrap()).unwrap().count() > 0
                } else {
                    p.exists()
                };
                assert!(exists, "{name} reads {word}, which the guide does not make");
            }
        }
    }
    assert!(shown.contains("groupadd --system wardflux"), "{shown}");

    // Alertmanager routes and inhibits only alerts the rules raise.
    let rules = wardflux_ruler::config::load(
        &[format!("{}/rules/alerts/*.yml", repo().display())],
        &Default::default(),
    )
    .unwrap();
    let mut names: BTreeSet<String> = rules
        .groups
        .iter()
        .flat_map(|g| {
            g.rules
                .iter()
                .filter(|r| r.is_alert())
                .map(|r| r.name.clone())
        })
        .collect();
    names.insert(wardflux_ruler::engine::UNREACHABLE_ALERT.to_string());
    let am = std::fs::read_to_string(r("/etc/prometheus/alertmanager.yml")).unwrap();
    let mut referenced = 0;
    for part in am.split("alertname").skip(1) {
        let Some(value) = part.strip_prefix("=~").or(part.strip_prefix('=')) else {
            continue; // group_by: [alertname, ...]
        };
        let value = value.trim_start_matches('"');
        let value = &value[..value.find('"').unwrap_or(value.len())];
        for alert in value.split('|') {
            referenced += 1;
            assert!(
                names.contains(alert),
                "alertmanager.yml names {alert:?}, no rule raises it"
            );
        }
    }
    assert!(referenced >= 8, "{referenced} alert names checked");
    for sev in wardflux_ruler::config::SEVERITIES {
        assert!(am.contains(sev), "alertmanager.yml routes severity {sev}");
    }
}

#[test]
fn blocks_are_found_by_their_info_string_only() {
    let text = "a\n```sh test\necho 1\n```\n```sh\necho 2\n```\n```sh test\necho 3\n```\n";
    assert_eq!(blocks(text, "sh test"), ["echo 1\n", "echo 3\n"]);
    assert_eq!(blocks(text, "sh"), ["echo 2\n"]);
}
