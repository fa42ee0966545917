//! The harness's correctness check in CI: `wardflux-bench compare --values-only` runs the
//! real wardflux-exporter and Debian's snmp_exporter against snmpsim replaying two real
//! recordings, and every counter and status value both expose must be equal. Fails on a
//! difference, never on timing.
//!
//! Needs: Debian snmpsim, snmp, bzip2, prometheus-snmp-exporter; PyPI snmpsim-data; the
//! wardflux-exporter binary of this build (`./wardflux test` and `cargo nextest run
//! --workspace` build it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian package of each tool the check starts.
const TOOLS: [(&str, &str); 4] = [
    ("snmpsimd", "Debian snmpsim"),
    ("snmpget", "Debian snmp"),
    ("bzcat", "Debian bzip2"),
    (
        "prometheus-snmp-exporter",
        "Debian prometheus-snmp-exporter",
    ),
];

fn require_tools() {
    let path = std::env::var("PATH").unwrap_or_default();
    for (tool, pkg) in TOOLS {
        let found = path
            .split(':')
            .chain(["/usr/sbin", "/usr/bin"])
            .any(|d| Path::new(d).join(tool).is_file());
        assert!(
            found,
            "required tool `{tool}` not found in PATH: install {pkg} (./wardflux test installs every test dependency)"
        );
    }
    let py = Command::new("python3")
        .args(["-c", "import snmpsim_data"])
        .status()
        .expect("run python3");
    assert!(
        py.success(),
        "PyPI package snmpsim-data is missing: python3 -m pip install snmpsim-data (./wardflux test does this)"
    );
}

/// The exporter binary built with this test (same target directory and profile).
fn exporter_binary() -> PathBuf {
    let bench = Path::new(env!("CARGO_BIN_EXE_wardflux-bench"));
    let exe = bench.with_file_name("wardflux-exporter");
    assert!(
        exe.is_file(),
        "{} not built: run `cargo build -p wardflux-exporter` first (./wardflux test builds the whole workspace)",
        exe.display()
    );
    exe
}

#[test]
fn exporter_values_equal_snmp_exporter_values_on_real_recordings() {
    require_tools();
    let exporter = exporter_binary();
    let work = std::env::temp_dir().join(format!("wardflux-bench-values-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out = Command::new(env!("CARGO_BIN_EXE_wardflux-bench"))
        .arg("compare")
        .arg("--exporter")
        .arg(&exporter)
        .args([
            "--recordings",
            "cisco-c3750,cisco-n5000-uk9",
            "--values-only",
        ])
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("run wardflux-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "wardflux-bench compare failed ({}):\n{stdout}\n{stderr}\n(logs in {})",
        out.status,
        work.display()
    );
    // "N values compared, 0 mismatches": the harness fails by itself on a mismatch; this also
    // makes sure a run that compared nothing cannot pass.
    let compared: usize = stdout
        .split(" values compared")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no value count in:\n{stdout}"));
    assert!(
        compared > 1000,
        "only {compared} values compared:\n{stdout}"
    );
    assert!(stdout.contains(" 0 mismatches"), "{stdout}");
    let _ = std::fs::remove_dir_all(&work);
}
