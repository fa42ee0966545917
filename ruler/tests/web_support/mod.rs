//! The real `wardflux-ruler` binary as a child process for the access and secrets tests: a
//! rules file with a one-second group, its own SQLite or the given store, stdout and stderr
//! captured to files, stopped with SIGTERM (or killed) at the end.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wardflux_web::testkit::{free_port, wait_for};

pub const BIN: &str = env!("CARGO_BIN_EXE_wardflux-ruler");

/// A rule group evaluated every second (so a datasource error shows at once).
pub const RULES: &str = "groups:\n  - name: web-test\n    interval: 1s\n    rules:\n      - alert: InterfaceDown\n        expr: ifOperStatus == 2\n        labels:\n          severity: high\n";

pub struct Ruler {
    pub child: Child,
    pub port: u16,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Ruler {
    /// Starts the ruler with `rules_dir/*.yml` and `extra` flags; `probe` (given the port)
    /// says when it serves.
    pub fn start(dir: &Path, tag: &str, extra: &[String], probe: impl Fn(u16) -> bool) -> Ruler {
        let port = free_port();
        let stdout = dir.join(format!("{tag}.out"));
        let stderr = dir.join(format!("{tag}.err"));
        let child = Command::new(BIN)
            .arg(format!("--rules.file={}/rules/*.yml", dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--baselines.file={}/no-baselines.yml",
                dir.display()
            ))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start wardflux-ruler");
        let mut r = Ruler {
            child,
            port,
            stdout,
            stderr,
        };
        wait_for("the ruler to serve", Duration::from_secs(60), || {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!("ruler exited with {status}: {}", r.output());
            }
            probe(port).then_some(())
        });
        r
    }

    pub fn output(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// SIGTERM and wait for the exit; the exit must be clean.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "ruler exit {status}: {}", self.output());
    }
}

impl Drop for Ruler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dir/rules/` with the one-second group.
pub fn write_rules(dir: &Path) {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/web-test.yml"), RULES).unwrap();
}
