//! The reference agent simagent is checked against: where the PyPI package snmpsim-data keeps
//! its recordings, and snmpsimd serving a directory of them (for the comparison test and the
//! benchmarks).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `data` directory of the PyPI package snmpsim-data, asked of python3.
pub fn data_dir() -> io::Result<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))",
        ])
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(
            "PyPI package snmpsim-data is not installed: pip install snmpsim-data",
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("data"))
}

/// A running snmpsimd, killed (and reaped) on drop.
pub struct Snmpsimd {
    /// Where it listens (UDP on 127.0.0.1).
    pub addr: SocketAddr,
    child: Child,
}

impl Drop for Snmpsimd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts snmpsimd on a free UDP port of 127.0.0.1 serving the `.snmprec` files in `data`
/// (community = file name), running as nobody, its index cache in `work/snmpsim-cache` and its
/// log in `work/snmpsimd.log`. It answers once it has indexed the files.
pub fn start(data: &Path, work: &Path) -> io::Result<Snmpsimd> {
    let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    let cache = work.join("snmpsim-cache");
    std::fs::create_dir_all(&cache)?;
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rwX")
        .arg(work)
        .status();
    let log = std::fs::File::create(work.join("snmpsimd.log"))?;
    let child = Command::new("snmpsimd")
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .args(["--process-user=nobody", "--process-group=nogroup"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    Ok(Snmpsimd {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        child,
    })
}
