//! Access control of the real `wardflux-exporter` binary with real TLS clients (curl) and
//! certificates made by the openssl CLI: TLS, required client certificates, basic auth (401 on
//! a wrong password), write endpoints refused to a read-only user (403), the start-up warning
//! without a web config, a slowloris client cut off while scrapes go on, and check-config on
//! web configs; and vmagent scraping through all of it with the shipped scrape config.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_tcp_port, free_udp_port, require_tool, Proc, TempDir, VictoriaMetrics};
use wardflux_web::testkit::{bcrypt_hash, curl, slow_client, wait_for, Pki, Slow};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-exporter");

/// A config whose only device does not answer (nothing listens on its port).
fn write_config(dir: &TempDir) -> PathBuf {
    let p = dir.join("wardflux.yml");
    std::fs::write(
        &p,
        format!(
            "poll_interval: 60s\ndiscovery_interval: 1h\ntimeout: 300ms\nretries: 0\n\
             auths:\n  v2: {{version: 2, community: wfx-access-community}}\n\
             targets:\n  - {{name: QUIET-1, address: \"127.0.0.1:{}\", auth: v2}}\n",
            free_udp_port()
        ),
    )
    .unwrap();
    p
}

struct Running {
    proc: Proc,
    port: u16,
    log: PathBuf,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts the exporter with `extra` flags; `probe` (given the port) says when it serves.
fn start(dir: &TempDir, extra: &[String], probe: impl Fn(u16) -> bool) -> Running {
    let port = free_tcp_port();
    let log = dir.join(&format!("exporter-{port}.log"));
    let mut cmd = Command::new(BIN);
    cmd.arg(format!("--config.file={}", write_config(dir).display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = Proc::spawn("wardflux-exporter", &mut cmd);
    wait_for("the exporter to serve", Duration::from_secs(30), || {
        proc.assert_running();
        probe(port).then_some(())
    });
    Running { proc, port, log }
}

fn tls_web_config(dir: &Path, pki: &Pki) -> PathBuf {
    let p = dir.join("web.yml");
    std::fs::write(
        &p,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n\
             basic_auth_users:\n  reader: {}\n  admin: {}\n",
            pki.server_cert.display(),
            pki.server_key.display(),
            pki.ca.display(),
            bcrypt_hash("reader-pass-1"),
            bcrypt_hash("admin-pass-2"),
        ),
    )
    .unwrap();
    p
}

/// A client certificate of the test CA in X.509 v1 (no extensions): (cert, key) paths.
fn v1_client_cert(dir: &Path) -> (String, String) {
    let openssl = require_tool("openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "v1.key",
        "-out",
        "v1.csr",
        "-subj",
        "/CN=vmagent-v1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "v1.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "77",
        "-days",
        "2",
        "-out",
        "v1.crt",
    ]);
    let text = run(&["x509", "-in", "v1.crt", "-noout", "-text"]);
    assert!(
        text.contains("Version: 1 (0x0)"),
        "openssl made a v1 certificate: {text}"
    );
    (
        dir.join("v1.crt").display().to_string(),
        dir.join("v1.key").display().to_string(),
    )
}

#[test]
fn tls_client_certificates_basic_auth_and_write_users() {
    let dir = TempDir::new("web-access");
    let pki = Pki::create(dir.path());
    let web = tls_web_config(dir.path(), &pki);
    let ca = pki.ca.display().to_string();
    let cert = pki.client_cert.display().to_string();
    let key = pki.client_key.display().to_string();
    let mtls = |port: u16, user: &str, args: &[&str], path: &str| {
        let url = format!("https://127.0.0.1:{port}{path}");
        let mut a = vec!["--cacert", &ca, "--cert", &cert, "--key", &key, "-u", user];
        a.extend_from_slice(args);
        a.push(&url);
        curl(&a)
    };
    let ex = start(
        &dir,
        &[
            format!("--web.config.file={}", web.display()),
            "--web.write-users=admin".into(),
        ],
        |port| mtls(port, "reader:reader-pass-1", &[], "/-/healthy").status == 200,
    );
    let port = ex.port;
    let url = |path: &str| format!("https://127.0.0.1:{port}{path}");

    // The right certificate and password: served, with the configured header.
    let c = mtls(port, "reader:reader-pass-1", &[], "/metrics");
    assert_eq!(c.status, 200, "{c:?}");
    assert!(c.body.contains("wardflux_"), "{}", c.body);
    assert_eq!(
        c.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    // TLS 1.2 is offered too (min_version defaults to TLS12).
    let c = mtls(
        port,
        "reader:reader-pass-1",
        &["--tls-max", "1.2"],
        "/metrics",
    );
    assert_eq!(c.status, 200, "{c:?}");

    // No client certificate, or one from an unknown CA: no TLS session at all.
    let c = curl(&[
        "--cacert",
        &ca,
        "-u",
        "reader:reader-pass-1",
        &url("/metrics"),
    ]);
    assert_eq!(c.status, 0, "no client certificate: {c:?}");
    let c = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &pki.rogue_cert.display().to_string(),
        "--key",
        &pki.rogue_key.display().to_string(),
        "-u",
        "reader:reader-pass-1",
        &url("/metrics"),
    ]);
    assert_eq!(c.status, 0, "client certificate from another CA: {c:?}");
    // An X.509 v1 client certificate from the right CA (openssl x509 -req without -extfile):
    // refused, and the server's log says why, with the peer.
    let v1 = v1_client_cert(dir.path());
    let c = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &v1.0,
        "--key",
        &v1.1,
        "-u",
        "reader:reader-pass-1",
        &url("/metrics"),
    ]);
    assert_eq!(c.status, 0, "an X.509 v1 client certificate: {c:?}");
    let log = wait_for(
        "the handshake failures in the log",
        Duration::from_secs(10),
        || {
            let log = ex.log();
            (log.contains("UnsupportedCertVersion") && log.contains("UnknownIssuer")).then_some(log)
        },
    );
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {log}"))
            .to_string()
    };
    let v1_line = line("UnsupportedCertVersion");
    assert!(v1_line.contains(" level=warn "), "{v1_line}");
    assert!(
        v1_line.contains("msg=\"TLS handshake failed\""),
        "{v1_line}"
    );
    assert!(v1_line.contains(" peer=127.0.0.1:"), "{v1_line}");
    assert!(
        v1_line.contains("X.509 v1"),
        "the reason says what to do: {v1_line}"
    );
    let rogue_line = line("UnknownIssuer");
    assert!(
        rogue_line.contains("not signed by client_ca_file"),
        "{rogue_line}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let c = curl(&[&format!("http://127.0.0.1:{port}/metrics")]);
    assert_ne!(c.status, 200, "{c:?}");

    // Wrong password, unknown user, none: 401 with a challenge, on every endpoint.
    for (user, path) in [
        ("reader:wrong", "/metrics"),
        ("nobody:reader-pass-1", "/api/v1/devices"),
        ("reader:", "/probe?target=QUIET-1"),
    ] {
        let c = mtls(port, user, &[], path);
        assert_eq!(c.status, 401, "{user} {path}: {c:?}");
        assert!(
            c.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Basic")),
            "{c:?}"
        );
    }

    // A read-only user may read, not write.
    for path in ["/-/reload", "/api/v1/discover", "/api/v1/discover/QUIET-1"] {
        let c = mtls(port, "reader:reader-pass-1", &["-X", "POST"], path);
        assert_eq!(c.status, 403, "{path}: {c:?}");
        let c = mtls(port, "admin:admin-pass-2", &["-X", "POST"], path);
        assert_eq!(c.status, 200, "{path}: {c:?}");
    }
    let c = mtls(port, "admin:admin-pass-2", &[], "/api/v1/targets");
    assert_eq!(c.status, 200, "a write user reads too");

    let log = ex.log();
    assert!(log.contains("web access control on"), "{log}");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("write endpoint refused"), "{log}");
    assert!(!log.contains("no --web.config.file"), "{log}");
}

#[test]
fn without_a_web_config_the_exporter_warns_and_serves_plain_http() {
    let dir = TempDir::new("web-none");
    let ex = start(&dir, &[], |port| {
        curl(&[&format!("http://127.0.0.1:{port}/-/healthy")]).status == 200
    });
    let log = ex.log();
    let line = log
        .lines()
        .find(|l| l.contains("no --web.config.file"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains(" level=warn "), "a logfmt warning: {line}");

    // TLS without any authentication is warned about too.
    let pki = Pki::create(dir.path());
    let web = dir.join("web-tls-only.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        ),
    )
    .unwrap();
    let ca = pki.ca.display().to_string();
    let ex = start(
        &dir,
        &[format!("--web.config.file={}", web.display())],
        |port| {
            curl(&[
                "--cacert",
                &ca,
                &format!("https://127.0.0.1:{port}/-/healthy"),
            ])
            .status
                == 200
        },
    );
    assert!(
        ex.log().contains("requires no authentication"),
        "{}",
        ex.log()
    );
}

#[test]
fn a_slowloris_client_is_cut_off_while_scrapes_are_served() {
    let dir = TempDir::new("web-slow");
    let mut ex = start(
        &dir,
        &[
            "--web.read-header-timeout=2s".into(),
            "--web.max-connections=16".into(),
        ],
        |port| curl(&[&format!("http://127.0.0.1:{port}/-/healthy")]).status == 200,
    );
    let addr = format!("127.0.0.1:{}", ex.port);
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let a = addr.clone();
            std::thread::spawn(move || slow_client(&a, Duration::from_secs(1)))
        })
        .collect();
    for _ in 0..8 {
        let c = curl(&[&format!("http://{addr}/metrics")]);
        assert_eq!(c.status, 200, "{c:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    for s in slow {
        match s.join().unwrap() {
            Slow::CutOff { bytes_sent } => assert!(bytes_sent < 100, "{bytes_sent}"),
            Slow::Answered(a) => panic!("a slowloris client was answered: {a}"),
        }
    }
    ex.proc.assert_running();
}

#[test]
fn check_config_validates_the_web_config_and_bad_flags_stop_start_up() {
    let dir = TempDir::new("web-check");
    let cfg = write_config(&dir);
    let pki = Pki::create(dir.path());
    let web = tls_web_config(dir.path(), &pki);
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok: TLS 1.2-1.3, client certificates required, basic auth for 2 users"),
        "{stdout}"
    );

    // The documented form (docs/operations.md): the web config alone, no --config.file, in
    // a directory without wardflux.yml.
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg(format!("--web.config.file={}", web.display()))
        .arg("check-config")
        .output()
        .unwrap();
    let alone = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{alone}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alone.contains("ok: TLS 1.2-1.3"), "{alone}");
    assert!(
        !alone.contains("targets"),
        "no exporter config checked: {alone}"
    );

    let bad = dir.join("bad-web.yml");
    std::fs::write(
        &bad,
        "basic_auth_users:\n  reader: $2y$10$notahash\ntls_server_config:\n  cert_file: x\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.config.file={}", bad.display()))
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("{}:", bad.display())) && stderr.contains("key_file: missing"),
        "{stderr}"
    );

    // A write user that is not configured stops start-up with the flag's name.
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("--web.write-users=ghost")
        .arg(format!(
            "--web.listen-address=127.0.0.1:{}",
            free_tcp_port()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--web.write-users: \"ghost\" is not in basic_auth_users"),
        "{stderr}"
    );
}

#[test]
fn vmagent_scrapes_through_tls_client_certificates_and_basic_auth() {
    let dir = TempDir::new("web-vmagent");
    let pki = Pki::create(dir.path());
    let web = tls_web_config(dir.path(), &pki);
    let ca = pki.ca.display().to_string();
    let cert = pki.client_cert.display().to_string();
    let key = pki.client_key.display().to_string();
    let ex = start(
        &dir,
        &[
            format!("--web.config.file={}", web.display()),
            "--web.write-users=admin".into(),
        ],
        |port| {
            curl(&[
                "--cacert",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                "-u",
                "reader:reader-pass-1",
                &format!("https://127.0.0.1:{port}/-/healthy"),
            ])
            .status
                == 200
        },
    );
    // The shipped example, pointed at this exporter and these files; vmagent logs in as the
    // read-only user.
    let password = dir.join("vmagent-password");
    std::fs::write(&password, "reader-pass-1").unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/vmagent-scrape.yml"),
    )
    .unwrap()
    .replace("scrape_interval: 60s", "scrape_interval: 2s")
    .replace("scrape_timeout: 30s", "scrape_timeout: 2s")
    .replace("/etc/vmagent/tls/wardflux-ca.crt", &ca)
    .replace("/etc/vmagent/tls/vmagent.crt", &cert)
    .replace("/etc/vmagent/tls/vmagent.key", &key)
    .replace(
        "/etc/vmagent/wardflux-password",
        &password.display().to_string(),
    )
    .replace("username: vmagent", "username: reader")
    .replace("exporter.example:9117", &format!("127.0.0.1:{}", ex.port))
    .replace(
        "ruler.example:9095",
        &format!("127.0.0.1:{}", free_tcp_port()),
    );
    let scrape = dir.join("scrape.yml");
    std::fs::write(&scrape, example).unwrap();
    let vm = VictoriaMetrics::start();
    let mut vmagent = Proc::spawn(
        "vmagent",
        Command::new(require_tool("vmagent"))
            .arg(format!("-promscrape.config={}", scrape.display()))
            .arg("-promscrape.httpSDCheckInterval=1s")
            .arg(format!("-remoteWrite.url=http://{}/api/v1/write", vm.addr))
            .arg(format!(
                "-remoteWrite.tmpDataPath={}",
                dir.join("buffer").display()
            ))
            .arg("-remoteWrite.flushInterval=1s")
            .arg(format!("-httpListenAddr=127.0.0.1:{}", free_tcp_port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("vmagent.log")).unwrap()),
    );
    wait_for(
        "vmagent to scrape the exporter's jobs over TLS with basic auth",
        Duration::from_secs(90),
        || {
            vmagent.assert_running();
            let up = vm.query("up == 1");
            let jobs: Vec<&str> = up
                .iter()
                .filter_map(|r| r["metric"]["job"].as_str())
                .collect();
            (jobs.contains(&"wardflux-devices")
                && jobs.contains(&"wardflux-status")
                && jobs.contains(&"wardflux-exporter"))
            .then_some(())
        },
    );
    assert!(
        !vm.query("wardflux_device_up{device=\"QUIET-1\"}")
            .is_empty(),
        "the self-metrics job's series arrived"
    );
    assert!(
        !ex.log().contains("authentication failed"),
        "vmagent's credentials were accepted: {}",
        ex.log()
    );
}
