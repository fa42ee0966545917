//! The simulated agent answers GET, GETNEXT and GETBULK exactly like snmpsim for a real
//! recording: net-snmp's own tools (snmpget, snmpgetnext, snmpbulkwalk) print the same.
//!
//! Needs Debian `snmp` (snmpget, snmpgetnext, snmpbulkwalk) and `snmpsim` (snmpsimd), and
//! PyPI `snmpsim-data` (the recordings). A missing tool fails the test with a clear message.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wardflux_simagent::{snmprec, snmpsim, Agent, Device, Limits};

const RECORDING: &str = "network/switch/cisco-c3750";
const COMMUNITY: &str = "cisco-c3750";

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: apt-get install snmp snmpsim (CI installs it first)"
    );
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

fn ask(tool: &str, addr: &str, extra: &[&str], oids: &[&str]) -> String {
    let mut args = vec!["-v2c", "-c", COMMUNITY, "-On", "-t", "5", "-r", "1"];
    args.extend_from_slice(extra);
    args.push(addr);
    args.extend_from_slice(oids);
    run(tool, &args)
}

/// snmpsimd serving `data`, once it answers.
fn start_snmpsim(data: &Path, work: &Path) -> (snmpsim::Snmpsimd, String) {
    let guard = snmpsim::start(data, work).expect("starting snmpsimd");
    let addr = guard.addr.to_string();
    let t = Instant::now();
    loop {
        let out = ask("snmpget", &addr, &[], &["1.3.6.1.2.1.1.5.0"]);
        if out.contains("STRING") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "snmpsimd did not answer within 180s: {out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    (guard, addr)
}

#[test]
fn simagent_answers_like_snmpsim_for_a_real_recording() {
    for tool in [
        "snmpget",
        "snmpgetnext",
        "snmpbulkwalk",
        "snmpsimd",
        "bzcat",
    ] {
        require(tool);
    }
    let work = std::env::temp_dir().join(format!("simagent-vs-snmpsim-{}", std::process::id()));
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let src = snmpsim::data_dir()
        .expect("finding snmpsim-data")
        .join(format!("{RECORDING}.snmprec.bz2"));
    let out = Command::new("bzcat").arg(&src).output().unwrap();
    assert!(out.status.success(), "bzcat {}", src.display());
    let rec = data.join(format!("{COMMUNITY}.snmprec"));
    std::fs::write(&rec, &out.stdout).unwrap();

    let loaded = snmprec::load(&rec).unwrap();
    let agent = Agent::new(
        vec![Device {
            name: COMMUNITY.into(),
            template: std::sync::Arc::new(loaded.template),
            seed: 1,
            hostile: None,
            rebooted_at_ms: None,
        }],
        Limits::default(),
    );
    let ours = wardflux_simagent::spawn(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        agent,
        Duration::ZERO,
    )
    .unwrap();
    let ours_addr = ours.addr.to_string();
    let (_sim, sim_addr) = start_snmpsim(&data, &work);

    // Walks: system group, ifTable, ifXTable (hex ifAlias values), CDP, and past the end.
    for (subtree, reps) in [
        ("1.3.6.1.2.1.1", "-Cr10"),
        ("1.3.6.1.2.1.2.2", "-Cr25"),
        ("1.3.6.1.2.1.31.1.1", "-Cr40"),
        ("1.3.6.1.4.1.9.9.23.1.2.1", "-Cr7"),
        ("1.3.6.1.6", "-Cr10"),
    ] {
        let a = ask("snmpbulkwalk", &ours_addr, &[reps], &[subtree]);
        let b = ask("snmpbulkwalk", &sim_addr, &[reps], &[subtree]);
        assert!(a.lines().count() > 0, "empty walk of {subtree}");
        assert_eq!(
            a, b,
            "snmpbulkwalk {reps} {subtree} differs (left simagent, right snmpsim)"
        );
    }
    let walked = ask(
        "snmpbulkwalk",
        &ours_addr,
        &["-Cr25"],
        &["1.3.6.1.2.1.31.1.1"],
    );
    assert_eq!(
        walked.lines().count(),
        288,
        "the c3750 recording holds 288 ifXTable values: {walked}"
    );

    // GET with present, missing-instance and missing-object OIDs; GETNEXT across tables.
    let get = [
        "1.3.6.1.2.1.1.3.0",
        "1.3.6.1.2.1.2.2.1.10.10101",
        "1.3.6.1.2.1.31.1.1.1.6.10101",
        "1.3.6.1.2.1.2.2.1.2.999999",
    ];
    assert_eq!(
        ask("snmpget", &ours_addr, &[], &get),
        ask("snmpget", &sim_addr, &[], &get),
        "snmpget differs"
    );
    let next = [
        "1.3.6.1.2.1.1.9",
        "1.3.6.1.2.1.2.2.1.22",
        "1.3.6.1.2.1.31.1.1.1.18.10101",
    ];
    assert_eq!(
        ask("snmpgetnext", &ours_addr, &[], &next),
        ask("snmpgetnext", &sim_addr, &[], &next),
        "snmpgetnext differs"
    );
    let stats = ours.stats.snapshot();
    assert!(
        stats.get_bulk > 0 && stats.get > 0 && stats.get_next > 0,
        "{stats}"
    );
    ours.stop();
    let _ = std::fs::remove_dir_all(&work);
}
