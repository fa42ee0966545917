//! Credentials for the datasource, against real components: VictoriaMetrics with
//! `-httpAuth.username/-httpAuth.password` (basic auth, as behind a proxy) and vmauth with a
//! `bearer_token` user in front of a plain VictoriaMetrics. The real `wardflux-ruler` queries
//! through both with the credentials in the URL or in the `--datasource.*` flags; wrong ones
//! are "refused our credentials" (unreachable: alerts freeze), and the URL it shows keeps the
//! host and port and hides the user info.
//!
//! Debian package: victoria-metrics (victoria-metrics, vmauth).

mod common;
mod web_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{at, require, Vm};
use wardflux_ruler::datasource::{Importer, Point, Querier, VmClient};
use wardflux_ruler::endpoint::HttpAuth;
use wardflux_web::testkit::{curl, free_port, wait_for};
use wardflux_web::Secret;
use web_support::{write_rules, Ruler};

const VM_USER: &str = "vmreader";
const VM_PASSWORD: &str = "wfx-vmauth-S3cret-86";
const TOKEN: &str = "wfx-bearer-T0ken-87";

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// VictoriaMetrics that wants basic auth on every request.
fn vm_with_basic_auth(dir: &std::path::Path) -> (Proc, String) {
    let port = free_port();
    let child = Command::new(require("victoria-metrics", "victoria-metrics"))
        .arg(format!("-storageDataPath={}", dir.display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-httpAuth.username={VM_USER}"))
        .arg(format!("-httpAuth.password={VM_PASSWORD}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.latencyOffset=0")
        .arg("-loggerLevel=ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting victoria-metrics");
    let url = format!("http://127.0.0.1:{port}");
    wait_for(
        "victoria-metrics with basic auth",
        Duration::from_secs(30),
        || (curl(&[&format!("{url}/health")]).status != 0).then_some(()),
    );
    (Proc(child), url)
}

/// vmauth sending requests with the bearer token to `backend`.
fn vmauth_with_token(dir: &std::path::Path, backend: &str) -> (Proc, String) {
    let cfg = dir.join("vmauth.yml");
    std::fs::write(
        &cfg,
        format!("users:\n  - bearer_token: \"{TOKEN}\"\n    url_prefix: \"{backend}\"\n"),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(require("vmauth", "victoria-metrics"))
        .arg(format!("-auth.config={}", cfg.display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-loggerLevel=ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting vmauth");
    let url = format!("http://127.0.0.1:{port}");
    wait_for("vmauth", Duration::from_secs(30), || {
        (curl(&[&format!("{url}/api/v1/query?query=1")]).status != 0).then_some(())
    });
    (Proc(child), url)
}

fn point(v: f64) -> Point {
    Point {
        labels: [("__name__", "wfx_auth_probe"), ("device", "R1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value: v,
        at: at(0),
    }
}

async fn probe(c: &VmClient) -> Result<f64, String> {
    let flush = c.force_flush().await;
    flush.map_err(|e| e.to_string())?;
    let s = c
        .query("wfx_auth_probe", at(1), Duration::from_secs(60))
        .await
        .map_err(|e| e.to_string())?;
    s.first().map(|s| s.value).ok_or_else(|| "no sample".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_and_bearer_tokens_reach_the_datasource_and_wrong_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("vm")).unwrap();
    let (_vm, vm_url) = vm_with_basic_auth(&dir.path().join("vm"));
    let t = Duration::from_secs(10);
    let basic = || HttpAuth::Basic {
        username: VM_USER.into(),
        password: Secret::new(VM_PASSWORD),
    };
    // Flags and URL user info are the same credentials; imports carry them too.
    let by_flags = VmClient::with_auth(&vm_url, basic(), t).unwrap();
    by_flags
        .import_points(&[point(42.0)])
        .await
        .expect("import with basic auth");
    let with_userinfo = vm_url.replacen("http://", &format!("http://{VM_USER}:{VM_PASSWORD}@"), 1);
    let by_url = VmClient::new(&with_userinfo, t).unwrap();
    assert_eq!(by_url.name(), vm_url.replacen("http://", "http://***@", 1));
    wait_for_value(&by_flags, 42.0).await;
    assert_eq!(probe(&by_url).await, Ok(42.0));

    // Wrong and missing credentials: unreachable, saying why, without the password.
    let wrong = VmClient::with_auth(
        &vm_url,
        HttpAuth::Basic {
            username: VM_USER.into(),
            password: Secret::new("not-the-password"),
        },
        t,
    )
    .unwrap();
    for c in [&wrong, &VmClient::new(&vm_url, t).unwrap()] {
        let e = c
            .query("wfx_auth_probe", at(1), Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(e.is_unreachable(), "{e}");
        assert!(e.to_string().contains("refused our credentials"), "{e}");
    }

    // Bearer token through vmauth to a plain VictoriaMetrics.
    let plain = Vm::start().await;
    plain.import(&[point(7.0)]).await;
    let (_auth, auth_url) = vmauth_with_token(dir.path(), &plain.url());
    let bearer = VmClient::with_auth(&auth_url, HttpAuth::Bearer(Secret::new(TOKEN)), t).unwrap();
    let got = bearer
        .query("wfx_auth_probe", at(1), Duration::from_secs(60))
        .await
        .expect("query through vmauth with the token");
    assert_eq!(got.first().map(|s| s.value), Some(7.0));

    // The real binary: the password from a file, the token from a file; its rule evaluates
    // (lastError stays empty) and its log shows the datasource without credentials.
    let rd = tempfile::tempdir().unwrap();
    write_rules(rd.path());
    std::fs::write(rd.path().join("pw"), format!("{VM_PASSWORD}\n")).unwrap();
    std::fs::write(rd.path().join("token"), TOKEN).unwrap();
    for (tag, flags) in [
        (
            "basic",
            vec![
                format!("--datasource.url={vm_url}"),
                format!("--datasource.basic-auth.username={VM_USER}"),
                format!(
                    "--datasource.basic-auth.password-file={}",
                    rd.path().join("pw").display()
                ),
            ],
        ),
        (
            "vmalert-spelling",
            vec![
                format!("--datasource.url={vm_url}"),
                format!("--datasource.basicAuth.username={VM_USER}"),
                format!(
                    "--datasource.basicAuth.passwordFile={}",
                    rd.path().join("pw").display()
                ),
            ],
        ),
        (
            "userinfo",
            vec![format!("--datasource.url={with_userinfo}")],
        ),
        (
            "bearer",
            vec![
                format!("--datasource.url={auth_url}"),
                format!(
                    "--datasource.bearer-token-file={}",
                    rd.path().join("token").display()
                ),
            ],
        ),
    ] {
        let mut flags = flags;
        flags.push(format!(
            "--store.url=sqlite://{}/{tag}.db",
            rd.path().display()
        ));
        let r = tokio::task::block_in_place(|| {
            Ruler::start(rd.path(), tag, &flags, |port| {
                curl(&[&format!("http://127.0.0.1:{port}/-/ready")]).status == 200
            })
        });
        let port = r.port;
        tokio::task::block_in_place(|| {
            wait_for(
                &format!("{tag}: a clean evaluation"),
                Duration::from_secs(30),
                || {
                    let c = curl(&[&format!("http://127.0.0.1:{port}/api/v1/rules")]);
                    c.body.contains("\"health\":\"ok\"").then_some(())
                },
            )
        });
        let out = r.output();
        assert!(out.contains("querying the datasource"), "{tag}: {out}");
        assert!(
            !out.contains(VM_PASSWORD) && !out.contains(TOKEN),
            "{tag}: {out}"
        );
    }
}

/// Waits until the imported sample is searchable (VictoriaMetrics indexes asynchronously).
async fn wait_for_value(c: &VmClient, want: f64) {
    for _ in 0..200 {
        if probe(c).await == Ok(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the imported sample never became searchable: {:?}",
        probe(c).await
    );
}
