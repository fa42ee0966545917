//! Test helpers shared by both programs' access and secrets tests (feature `testkit`): a
//! throw-away PKI made with the `openssl` CLI, a `curl` runner, bcrypt hashes, a slow client,
//! the scan of collected output for secrets, and a private PostgreSQL server (plain, or
//! TLS-only with that PKI).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Full path of `tool`, or a panic naming the Debian package to install. Besides PATH and
/// the sbin directories, Debian's versioned PostgreSQL server directories
/// (`/usr/lib/postgresql/N/bin`, newest first) are searched: `initdb` and `pg_ctl` live only
/// there.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(PathBuf::from)
        .collect();
    let mut pg: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    pg.sort_by_key(|p| std::cmp::Reverse(pg_version(p)));
    dirs.extend(pg);
    for d in dirs {
        let p = d.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("required tool `{tool}` not found in PATH: install the Debian package {package} (./wardflux test installs every test dependency)");
}

/// The major version of `/usr/lib/postgresql/N/bin` (0 when the name is not a number).
fn pg_version(bin: &Path) -> u32 {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Polls `f` every 100 ms until it returns Some; panics after `limit` naming what was
/// awaited (the limit only stops a hung test).
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A bcrypt hash of `password` at the lowest cost (tests only; use 10 or more in production).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt hash")
}

/// A CA, a server certificate for `localhost`/127.0.0.1, a client certificate from the CA, and
/// a client certificate from a CA the server does not know.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(require_tool("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn issue(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=wardflux test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

impl Pki {
    /// Generates everything in `dir` with the `openssl` CLI.
    pub fn create(dir: &Path) -> Pki {
        make_ca(dir, "ca");
        make_ca(dir, "rogue-ca");
        issue(
            dir,
            "ca",
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        issue(
            dir,
            "ca",
            "client",
            "vmagent",
            "subjectAltName=DNS:vmagent\nextendedKeyUsage=clientAuth\n",
        );
        issue(
            dir,
            "rogue-ca",
            "rogue",
            "vmagent",
            "subjectAltName=DNS:vmagent\nextendedKeyUsage=clientAuth\n",
        );
        Pki {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            rogue_cert: dir.join("rogue.crt"),
            rogue_key: dir.join("rogue.key"),
        }
    }
}

/// What curl saw: the status (0 when no HTTP answer came), the answer's head and body, and
/// curl's own error text.
#[derive(Debug, Clone)]
pub struct Curl {
    pub status: u16,
    pub head: String,
    pub body: String,
    pub stderr: String,
    pub exit: i32,
}

impl Curl {
    /// The value of a response header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// Everything curl printed, for scanning.
    pub fn all_text(&self) -> String {
        format!("{}\n{}\n{}", self.head, self.body, self.stderr)
    }
}

/// Runs `curl -sS` with `args` (URL included) and a 30 s cap.
pub fn curl(args: &[&str]) -> Curl {
    let out = Command::new(require_tool("curl", "curl"))
        .args(["-sS", "--max-time", "30", "-i", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let (head, body) = rest
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or((rest.to_string(), String::new()));
    Curl {
        status: code.trim().parse().unwrap_or(0),
        head,
        body,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        exit: out.status.code().unwrap_or(-1),
    }
}

/// How a slow client's attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Slow {
    /// The server closed (or reset) the connection before the head was complete.
    CutOff { bytes_sent: usize },
    /// The whole head went out; the server answered with this text.
    Answered(String),
}

/// Sends a request head one byte per `every` (a slowloris client) until the server closes
/// the connection or the head is out.
pub fn slow_client(addr: &str, every: Duration) -> Slow {
    let head = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: slowloris-test\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64)
    );
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(10)))
        .expect("read timeout");
    for (i, b) in head.bytes().enumerate() {
        if s.write_all(&[b]).is_err() {
            return Slow::CutOff { bytes_sent: i };
        }
        // A closed connection shows as EOF (or a reset) on read.
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => return Slow::CutOff { bytes_sent: i + 1 },
            Ok(n) => return Slow::Answered(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Slow::CutOff { bytes_sent: i + 1 },
        }
        std::thread::sleep(every);
    }
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Slow::Answered(String::from_utf8_lossy(&out).into_owned())
}

/// Every (secret name, where) pair for which `text` of `where` contains the secret's value.
pub fn find_secrets(outputs: &[(String, String)], secrets: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, text) in outputs {
        for (name, value) in secrets {
            assert!(value.len() >= 6, "secret {name} too short to scan for");
            if text.contains(value) {
                found.push(format!("{name} in {place}"));
            }
        }
    }
    found
}

/// Panics naming every secret found in `outputs` (see [`find_secrets`]); prints what was scanned.
pub fn assert_no_secrets(outputs: &[(String, String)], secrets: &[(&str, &str)]) {
    let scanned: usize = outputs.iter().map(|(_, t)| t.len()).sum();
    let found = find_secrets(outputs, secrets);
    eprintln!(
        "secrets scan: {} secrets, {} outputs, {scanned} bytes, {} found",
        secrets.len(),
        outputs.len(),
        found.len()
    );
    assert!(found.is_empty(), "secrets leaked: {found:#?}");
}

/// Runs a PostgreSQL binary as the `postgres` user when we are root (the server refuses root).
fn as_postgres(cmd: &Path, args: &[&str]) -> Command {
    let root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(cmd).args(args);
        c
    } else {
        let mut c = Command::new(cmd);
        c.args(args);
        c
    }
}

/// Hands `dir` to the `postgres` user (a no-op when we are not root).
fn give_to_postgres(dir: &Path) {
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status();
}

/// A private PostgreSQL server in a directory of the test's own (initdb + pg_ctl from the
/// Debian package `postgresql`), listening on 127.0.0.1 only, which a test may stop and start;
/// stopped on drop.
pub struct PrivatePg {
    pub port: u16,
    dir: PathBuf,
}

/// The superuser's password of a [`PrivatePg::start_tls`] server.
pub const PG_TLS_PASSWORD: &str = "wfx-pgtls-S3cret-91";

impl PrivatePg {
    /// A server with trust authentication, as a plain local test database.
    pub fn start_in(dir: &Path) -> PrivatePg {
        Self::start_with(dir, &[], |_| {})
    }

    /// A server on 127.0.0.1 where every TCP login needs its role's password (scram), as a
    /// production database does; the superuser `postgres` has `password`, and the local
    /// socket (the data directory's parent) stays trust for the server's own tools.
    pub fn start_password(dir: &Path, password: &str) -> PrivatePg {
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("write pwfile");
        let pwarg = format!("--pwfile={}", pwfile.display());
        Self::start_with(dir, &[&pwarg], |data| {
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .expect("open postgresql.conf");
            conf.write_all(b"\npassword_encryption = 'scram-sha-256'\n")
                .expect("write postgresql.conf");
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
            )
            .expect("write pg_hba.conf");
        })
    }

    /// A server that speaks only TLS on 127.0.0.1, with `pki.server_cert` (for `localhost` and
    /// 127.0.0.1): user `postgres` logs in with [`PG_TLS_PASSWORD`] (scram), user `vmagent`
    /// (the CN of `pki.client_cert`) with its client certificate alone; anything without TLS
    /// is rejected by `pg_hba.conf`.
    pub fn start_tls(dir: &Path, pki: &Pki) -> PrivatePg {
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{PG_TLS_PASSWORD}\n")).expect("write pwfile");
        let pwarg = format!("--pwfile={}", pwfile.display());
        Self::start_with(dir, &[&pwarg], |data| {
            for (from, to) in [
                (&pki.server_cert, "server.crt"),
                (&pki.server_key, "server.key"),
                (&pki.ca, "root.crt"),
            ] {
                std::fs::copy(from, data.join(to)).expect("copy TLS file");
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod server.key");
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .expect("open postgresql.conf");
            conf.write_all(
                b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                  ssl_ca_file = 'root.crt'\npassword_encryption = 'scram-sha-256'\n",
            )
            .expect("write postgresql.conf");
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\n\
                 hostssl all vmagent 127.0.0.1/32 cert\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 host all all 127.0.0.1/32 reject\n",
            )
            .expect("write pg_hba.conf");
        })
    }

    /// initdb with `initdb_args` added, `setup(data_dir)` (configuration files), then start.
    pub fn start_with(dir: &Path, initdb_args: &[&str], setup: impl FnOnce(&Path)) -> PrivatePg {
        let initdb = require_tool("initdb", "postgresql");
        give_to_postgres(dir);
        let data = dir.join("data");
        let mut args = vec![
            "-D",
            data.to_str().expect("UTF-8 path"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ];
        args.extend_from_slice(initdb_args);
        let out = as_postgres(&initdb, &args)
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        setup(&data);
        give_to_postgres(dir);
        let pg = PrivatePg {
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        pg.pg_ctl("start");
        pg
    }

    fn pg_ctl(&self, verb: &str) {
        self.pg_ctl_mode(verb, "fast");
    }

    /// `pg_ctl VERB`; a stop uses shutdown `mode` (`fast`, or `immediate` as a crash would).
    fn pg_ctl_mode(&self, verb: &str, mode: &str) {
        let pg_ctl = require_tool("pg_ctl", "postgresql");
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let mut args = vec![
            "-D",
            data.to_str().expect("UTF-8 path"),
            "-l",
            log.to_str().expect("UTF-8 path"),
            "-w",
        ];
        if verb != "stop" {
            args.extend(["-o", opts.as_str()]);
        } else {
            args.extend(["-m", mode]);
        }
        args.push(verb);
        let out = as_postgres(&pg_ctl, &args)
            .output()
            .expect("running pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {verb} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    /// Stops the server the way a crash would (`-m immediate`: no clean shutdown, recovery
    /// at the next start).
    pub fn crash(&self) {
        self.pg_ctl_mode("stop", "immediate");
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust servers).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's log (for failure messages and secret scans).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let pg_ctl = require_tool("pg_ctl", "postgresql");
        let data = self.dir.join("data");
        let _ = as_postgres(
            &pg_ctl,
            &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    }
}
