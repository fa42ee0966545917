//! The shared listener against real clients (curl, openssl-made certificates, raw TCP): slow
//! and greedy clients are cut off while others are served, request time and size limits,
//! headers and auth answers, TLS version, suite and client-certificate settings, and a
//! renewed certificate picked up without a restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use wardflux_web::testkit::{self, bcrypt_hash, curl, slow_client, Pki, Slow};
use wardflux_web::{WebArgs, WebConfig};

fn router() -> Router {
    Router::new()
        .route("/metrics", get(|| async { "metric 1\n" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/pause",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "paused"
            }),
        )
        .route("/big", get(|| async { "x".repeat(32 << 20) }))
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { format!("{} bytes", body.len()) }),
        )
        .route("/-/reload", post(|| async { "reloaded\n" }))
        .route("/-/healthy", get(|| async { "OK\n" }))
}

/// A server on its own runtime thread; stops when dropped.
struct Server {
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(args: WebArgs, config: Option<(&str, &Path)>) -> Server {
        let web = match config {
            Some((src, path)) => {
                std::fs::write(path, src).unwrap();
                args.build(Some(WebConfig::load(path).unwrap())).unwrap()
            }
            None => args.build(None).unwrap(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                web.serve(l, router(), async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tmp(tag: &str) -> tempdir::Dir {
    tempdir::Dir::new(tag)
}

mod tempdir {
    /// A directory under the system temp dir, removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "wardflux-web-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn join(&self, f: &str) -> std::path::PathBuf {
            self.0.join(f)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_slow_header_client_is_cut_off_while_normal_requests_are_served() {
    let s = Server::start(
        WebArgs {
            read_header_timeout: Duration::from_secs(2),
            ..WebArgs::default()
        },
        None,
    );
    let addr = s.addr.clone();
    let slow = std::thread::spawn(move || slow_client(&addr, Duration::from_secs(1)));
    // While it trickles, others are answered.
    for _ in 0..5 {
        let c = curl(&[&s.url("/metrics")]);
        assert_eq!(c.status, 200, "{c:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    match slow.join().unwrap() {
        Slow::CutOff { bytes_sent } => {
            assert!(bytes_sent < 100, "cut off after {bytes_sent} bytes")
        }
        Slow::Answered(a) => panic!("a one-byte-per-second client was answered: {a}"),
    }
}

#[test]
fn idle_connections_at_the_cap_are_closed_and_then_others_get_in() {
    let s = Server::start(
        WebArgs {
            read_header_timeout: Duration::from_secs(1),
            max_connections: 3,
            ..WebArgs::default()
        },
        None,
    );
    // Fill every slot with connections that never send a byte.
    let mut idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    // A real client still gets its answer: the idle ones lose their slots.
    let c = curl(&[&s.url("/metrics")]);
    assert_eq!(c.status, 200, "{c:?}");
    for conn in &mut idle {
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 16];
        let n = conn.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "an idle connection was closed without an answer");
    }
}

/// One keep-alive GET on `conn`: the status line and body of the answer.
fn keep_alive_get(conn: &mut TcpStream, path: &str) -> (String, String) {
    write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if raw.len() >= end + 4 + len {
                let status = text.lines().next().unwrap().to_string();
                return (status, text[end + 4..end + 4 + len].to_string());
            }
        }
    }
}

#[test]
fn at_the_cap_a_new_client_takes_the_place_of_the_longest_idle_keep_alive_connection() {
    // A header timeout far longer than the test: only eviction can free a slot.
    let s = Server::start(
        WebArgs {
            read_header_timeout: Duration::from_secs(120),
            max_connections: 2,
            ..WebArgs::default()
        },
        None,
    );
    let mut older = TcpStream::connect(&s.addr).unwrap();
    assert_eq!(keep_alive_get(&mut older, "/metrics").1, "metric 1\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut newer = TcpStream::connect(&s.addr).unwrap();
    assert_eq!(keep_alive_get(&mut newer, "/metrics").1, "metric 1\n");
    // Both slots hold idle keep-alive connections; a third client is answered (curl gives
    // up after 30 s, the header timeout is 120 s).
    let c = curl(&[&s.url("/metrics")]);
    assert_eq!(c.status, 200, "{c:?}");
    // The one idle the longest was closed to make room; the other still works.
    older
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        older.read(&mut buf).unwrap_or(0),
        0,
        "the older idle connection stayed open"
    );
    let (status, body) = keep_alive_get(&mut newer, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "metric 1\n");
}

#[test]
fn a_connection_with_a_request_in_flight_is_not_evicted_at_the_cap() {
    let s = Server::start(
        WebArgs {
            read_header_timeout: Duration::from_secs(120),
            max_connections: 1,
            ..WebArgs::default()
        },
        None,
    );
    let addr = s.addr.clone();
    let busy = std::thread::spawn(move || {
        let mut c = TcpStream::connect(&addr).unwrap();
        keep_alive_get(&mut c, "/pause")
    });
    // Let the paused request be the one holding the slot, then knock.
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = curl(&[&s.url("/metrics")]);
    assert_eq!(c.status, 200, "{c:?}");
    // The busy connection got its whole answer before giving up its slot.
    let (status, body) = busy.join().unwrap();
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "paused");
}

#[test]
fn a_client_that_stops_reading_loses_its_connection() {
    let s = Server::start(
        WebArgs {
            max_connections: 1,
            request_timeout: Duration::from_secs(1),
            ..WebArgs::default()
        },
        None,
    );
    // Ask for 32 MiB and never read: the only slot is held until the write stalls out.
    let mut greedy = TcpStream::connect(&s.addr).unwrap();
    greedy
        .write_all(format!("GET /big HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
        .unwrap();
    let c = curl(&[&s.url("/metrics")]);
    assert_eq!(c.status, 200, "{c:?}");
    // The greedy connection was dropped before the whole answer went out.
    greedy
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match greedy.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < 32 << 20, "the whole answer arrived ({got} bytes)");
}

#[test]
fn slow_handlers_get_503_large_bodies_413_and_huge_heads_431() {
    let s = Server::start(
        WebArgs {
            request_timeout: Duration::from_millis(500),
            max_request_bytes: 1024,
            ..WebArgs::default()
        },
        None,
    );
    let c = curl(&[&s.url("/slow")]);
    assert_eq!(c.status, 503, "{c:?}");
    assert!(c.body.contains("request timed out"), "{}", c.body);
    let small = "a".repeat(1000);
    let big = "a".repeat(5000);
    let c = curl(&["--data-binary", &small, &s.url("/echo")]);
    assert_eq!((c.status, c.body.as_str()), (200, "1000 bytes"));
    let c = curl(&["--data-binary", &big, &s.url("/echo")]);
    assert_eq!(c.status, 413, "{c:?}");
    // Chunked: no Content-Length to refuse up front; the body is cut as it is read.
    let c = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &big,
        &s.url("/echo"),
    ]);
    assert_eq!(c.status, 413, "{c:?}");
    // A request head over 64 KiB.
    let huge = format!("X-Huge: {}", "h".repeat(70 * 1024));
    let c = curl(&["-H", &huge, &s.url("/metrics")]);
    assert_eq!(c.status, 431, "{c:?}");
}

#[test]
fn basic_auth_write_users_headers_and_excluded_paths() {
    let dir = tmp("auth");
    let src = format!(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n\
         basic_auth_users:\n  reader: {}\n  admin: {}\n  costly: {}\nauth_excluded_paths: [/-/healthy]\n",
        bcrypt_hash("reader-pw"),
        bcrypt_hash("admin-pw"),
        bcrypt::hash("costly-pw", 10).unwrap()
    );
    let s = Server::start(
        WebArgs {
            write_users: vec!["admin".into()],
            ..WebArgs::default()
        },
        Some((&src, &dir.join("web.yml"))),
    );
    let c = curl(&[&s.url("/metrics")]);
    assert_eq!(c.status, 401);
    assert_eq!(
        c.header("www-authenticate").as_deref(),
        Some("Basic realm=\"wardflux\"")
    );
    assert_eq!(c.header("x-frame-options").as_deref(), Some("deny"));
    let c = curl(&["-u", "reader:wrong", &s.url("/metrics")]);
    assert_eq!(c.status, 401);
    let c = curl(&["-u", "nobody:reader-pw", &s.url("/metrics")]);
    assert_eq!(c.status, 401);
    for _ in 0..3 {
        let c = curl(&["-u", "reader:reader-pw", &s.url("/metrics")]);
        assert_eq!((c.status, c.body.as_str()), (200, "metric 1\n"));
        assert_eq!(
            c.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let c = curl(&["-u", "reader:reader-pw", "-X", "POST", &s.url("/-/reload")]);
    assert_eq!(c.status, 403, "{c:?}");
    assert!(c.body.contains("write endpoints"), "{}", c.body);
    let c = curl(&["-u", "admin:admin-pw", "-X", "POST", &s.url("/-/reload")]);
    assert_eq!((c.status, c.body.as_str()), (200, "reloaded\n"));
    let c = curl(&[&s.url("/-/healthy")]);
    assert_eq!(c.status, 200, "excluded path");
    // What the cache saves: the first request of a cost-10 user pays for bcrypt, the next
    // ones compare an HMAC (figures printed, not asserted).
    let timed = || {
        let t = std::time::Instant::now();
        let c = curl(&["-u", "costly:costly-pw", &s.url("/metrics")]);
        assert_eq!(c.status, 200);
        t.elapsed().as_secs_f64() * 1000.0
    };
    let first = timed();
    let cached: Vec<f64> = (0..5).map(|_| timed()).collect();
    eprintln!(
        "basic auth, bcrypt cost 10: first request {first:.1} ms, cached {:.1} ms (median of 5, curl start-up included)",
        {
            let mut c = cached.clone();
            c.sort_by(f64::total_cmp);
            c[2]
        }
    );
    // Unknown paths are behind auth too.
    assert_eq!(curl(&[&s.url("/nope")]).status, 401);
    assert_eq!(
        curl(&["-u", "reader:reader-pw", &s.url("/nope")]).status,
        404
    );
}

fn tls_server(dir: &tempdir::Dir, pki: &Pki, extra: &str) -> Server {
    let src = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    Server::start(WebArgs::default(), Some((&src, &dir.join("web.yml"))))
}

#[test]
fn tls_versions_suites_and_client_certificates() {
    let dir = tmp("tls");
    let pki = Pki::create(&dir.0);
    let ca = pki.ca.display().to_string();

    let s = tls_server(&dir, &pki, "  min_version: TLS13\n");
    let url = format!(
        "https://localhost:{}/metrics",
        s.addr.rsplit(':').next().unwrap()
    );
    let resolve = format!("localhost:{}:127.0.0.1", s.addr.rsplit(':').next().unwrap());
    let c = curl(&["--cacert", &ca, "--resolve", &resolve, &url]);
    assert_eq!(c.status, 200, "{c:?}");
    let c = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--tls-max",
        "1.2",
        &url,
    ]);
    assert_eq!(
        c.status, 0,
        "TLS 1.2 refused by a TLS 1.3-only server: {c:?}"
    );
    let c = curl(&[&s.url("/metrics")]);
    assert_ne!(c.status, 200, "plain HTTP on a TLS port");
    drop(s);

    // TLS 1.2 with one suite: another suite is refused.
    let s = tls_server(
        &dir,
        &pki,
        "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n",
    );
    let port = s.addr.rsplit(':').next().unwrap().to_string();
    let url = format!("https://127.0.0.1:{port}/metrics");
    let ok = curl(&[
        "--cacert",
        &ca,
        "--ciphers",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        &url,
    ]);
    assert_eq!(ok.status, 200, "{ok:?}");
    let no = curl(&[
        "--cacert",
        &ca,
        "--ciphers",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        &url,
    ]);
    assert_eq!(no.status, 0, "{no:?}");
    drop(s);

    // Client certificates required: none, or one from another CA, cannot connect.
    let s = tls_server(
        &dir,
        &pki,
        &format!("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca}\n"),
    );
    let port = s.addr.rsplit(':').next().unwrap().to_string();
    let url = format!("https://127.0.0.1:{port}/metrics");
    let (cc, ck) = (
        pki.client_cert.display().to_string(),
        pki.client_key.display().to_string(),
    );
    let (rc, rk) = (
        pki.rogue_cert.display().to_string(),
        pki.rogue_key.display().to_string(),
    );
    assert_eq!(curl(&["--cacert", &ca, &url]).status, 0);
    assert_eq!(
        curl(&["--cacert", &ca, "--cert", &rc, "--key", &rk, &url]).status,
        0
    );
    let c = curl(&["--cacert", &ca, "--cert", &cc, "--key", &ck, &url]);
    assert_eq!(c.status, 200, "{c:?}");
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tmp("renew");
    let pki = Pki::create(&dir.0);
    let live = tmp("renew-live");
    std::fs::copy(&pki.server_cert, live.join("tls.crt")).unwrap();
    std::fs::copy(&pki.server_key, live.join("tls.key")).unwrap();
    let src = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        live.join("tls.crt").display(),
        live.join("tls.key").display()
    );
    let s = Server::start(WebArgs::default(), Some((&src, &live.join("web.yml"))));
    let url = format!(
        "https://127.0.0.1:{}/metrics",
        s.addr.rsplit(':').next().unwrap()
    );
    let old_ca = pki.ca.display().to_string();
    assert_eq!(curl(&["--cacert", &old_ca, &url]).status, 200);

    // A new CA issues the renewed pair.
    let next = tmp("renew-next");
    let pki2 = Pki::create(&next.0);
    let new_ca = pki2.ca.display().to_string();
    std::fs::copy(&pki2.server_key, live.join("tls.key.new")).unwrap();
    std::fs::copy(&pki2.server_cert, live.join("tls.crt.new")).unwrap();
    std::fs::rename(live.join("tls.key.new"), live.join("tls.key")).unwrap();
    std::fs::rename(live.join("tls.crt.new"), live.join("tls.crt")).unwrap();
    testkit::wait_for("the renewed certificate", Duration::from_secs(30), || {
        (curl(&["--cacert", &new_ca, &url]).status == 200).then_some(())
    });
    assert_eq!(curl(&["--cacert", &old_ca, &url]).status, 0);
}

#[test]
fn a_changed_web_config_is_followed_and_a_broken_one_ignored() {
    let dir = tmp("live");
    let path = dir.join("web.yml");
    let users = |pw: &str| {
        format!(
            "basic_auth_users:\n  reader: {}\n  admin: {}\n",
            bcrypt_hash(pw),
            bcrypt_hash("admin-pw")
        )
    };
    let s = Server::start(
        WebArgs {
            write_users: vec!["admin".into()],
            ..WebArgs::default()
        },
        Some((&users("first-pw"), &path)),
    );
    let url = s.url("/metrics");
    assert_eq!(curl(&["-u", "reader:first-pw", &url]).status, 200);
    // A new password: followed without a restart.
    std::fs::write(&path, users("second-pw")).unwrap();
    testkit::wait_for("the new password", Duration::from_secs(30), || {
        (curl(&["-u", "reader:second-pw", &url]).status == 200).then_some(())
    });
    assert_eq!(curl(&["-u", "reader:first-pw", &url]).status, 401);
    // A broken file, and one that drops a write user: both ignored.
    std::fs::write(&path, "basic_auth_users:\n  reader: not-a-hash\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  reader: {}\n", bcrypt_hash("third-pw")),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(curl(&["-u", "reader:second-pw", &url]).status, 200);
    assert_eq!(curl(&["-u", "reader:third-pw", &url]).status, 401);
}
