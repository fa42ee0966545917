//! Topology against real agents: five devices built by wardflux-lab from the description
//! below, each in its own network namespace with net-snmp snmpd and lldpd (AgentX sub-agent,
//! own hostname, 1 s LLDP transmit interval), cabled with veth. The branch routers are reached
//! over their ISP uplinks (whose far ends run no LLDP), the switches over management links.
//!
//! ```text
//!   BRANCH-RTR-01 (isp1, isp2)      BRANCH-RTR-02 (isp1, isp2)
//!        br1-core                        br2-core
//!            \                              /
//!          core-br1                    core-br2
//!                  CORE-SW-01 (core-dist)
//!                       |
//!                   dist-core  DIST-SW-01  dist-acc
//!                                            |
//!                                 acc-dist ACCESS-SW-01
//! ```
//!
//! Needs root and the Debian packages snmpd, snmp, lldpd, iproute2, prometheus (promtool); the
//! page test also chromium and nodejs, and the npm package playwright-core installed by
//! `npm ci` in `exporter/tests/topology_page/` (`./wardflux test` does both). The page test
//! keeps its screenshot at `<target>/tmp/topology-page.png`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{require_tool, scratch, wait_for, Exporter};
use wardflux_lab::{Description, Lab};

/// The lab: devices with their roles, ISP uplinks with ifAlias texts, and the four cables.
const LAB: &str = "\
name: topo
snmp:
  lab: {version: 2c, community: public}
sites:
  hq:
    nodes:
      CORE-SW-01: {kind: switch, management: true, role: core}
      DIST-SW-01: {kind: switch, management: true, role: distribution}
      ACCESS-SW-01: {kind: switch, management: true, role: access}
  branches:
    nodes:
      BRANCH-RTR-01:
        kind: router
        role: isp_edge
        uplinks:
          - {port: br1-isp1, provider: Magti}
          - {port: br1-isp2, provider: Silknet}
      BRANCH-RTR-02:
        kind: router
        role: isp_edge
        uplinks:
          - {port: br2-isp1, provider: Magti}
          - {port: br2-isp2, provider: Silknet}
links:
  - endpoints: [BRANCH-RTR-01:br1-core, CORE-SW-01:core-br1]
  - endpoints: [BRANCH-RTR-02:br2-core, CORE-SW-01:core-br2]
  - endpoints: [CORE-SW-01:core-dist, DIST-SW-01:dist-core]
  - endpoints: [DIST-SW-01:dist-acc, ACCESS-SW-01:acc-dist]
";

/// Walk a column inside a namespace's agent with snmpbulkwalk (values only).
fn walk(addr: &str, oid: &str) -> String {
    let out = Command::new(require_tool("snmpbulkwalk"))
        .args([
            "-v2c", "-c", "public", "-On", "-Oqv", "-t", "1", "-r", "1", addr, oid,
        ])
        .output()
        .expect("run snmpbulkwalk");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Edges of a topology JSON as sorted "A:ifA <-> B:ifB state" strings (ends ordered by name).
fn edge_strings(topo: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = topo["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let a = format!(
                "{}:{}",
                e["source"].as_str().unwrap_or(""),
                e["source_interface"].as_str().unwrap_or("")
            );
            let b = format!(
                "{}:{}",
                e["target"].as_str().unwrap_or(""),
                e["target_interface"].as_str().unwrap_or("")
            );
            let (x, y) = if a <= b { (a, b) } else { (b, a) };
            format!("{x} <-> {y} {}", e["state"].as_str().unwrap_or(""))
        })
        .collect();
    v.sort();
    v
}

/// The cables: (device, interface) <-> (device, interface), as in [`LAB`].
const CABLES: [(&str, &str, &str, &str); 4] = [
    ("BRANCH-RTR-01", "br1-core", "CORE-SW-01", "core-br1"),
    ("BRANCH-RTR-02", "br2-core", "CORE-SW-01", "core-br2"),
    ("CORE-SW-01", "core-dist", "DIST-SW-01", "dist-core"),
    ("DIST-SW-01", "dist-acc", "ACCESS-SW-01", "acc-dist"),
];

/// A running lab with an exporter watching it. Dropping it stops the exporter, then tears
/// the lab down (agents, namespaces, links, routes).
struct Running {
    exp: Exporter,
    dir: PathBuf,
    lab: Lab,
}

impl Running {
    /// A device's agent address.
    fn addr(&self, name: &str) -> String {
        self.lab.address(name).expect("lab device").to_string()
    }
}

/// Build the lab (wardflux-lab waits until lldpd knows every cabled neighbour), start the
/// exporter and wait until it shows every cabled edge and every device up.
fn start_lab(tag: char) -> Running {
    for t in ["snmpbulkwalk", "promtool"] {
        require_tool(t);
    }
    let dir = scratch(&format!("topology-lab-{tag}"));
    let text = LAB.replace("name: topo", &format!("name: topo{tag}"));
    let d = Description::parse("topology_lab.rs", &text).expect("lab description");
    let lab = Lab::build(&d).unwrap_or_else(|e| panic!("lab: {e}"));
    // ifAlias on the ISP links, as branch routers carry them (the lab sets <Provider>_Internet).
    let t = lab.targets();
    let mut cfg = String::from(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  lab: {version: 2, community: public}\ntargets:\n",
    );
    for target in &t.targets {
        cfg.push_str(&format!(
            "  - {{name: {}, address: \"{}\", auth: lab, labels: {{role: {}}}}}\n",
            target.name, target.address, target.labels["role"]
        ));
    }
    cfg.push_str("topology:\n  roots:\n    - {role: isp_edge}\n");
    std::fs::write(dir.join("exporter.yml"), &cfg).unwrap();
    let exp = Exporter::start(&cfg, &[]);
    // Ready: every device up and at least as many links as cables (the tests check which).
    wait_for(
        "every device up with its links",
        Duration::from_secs(60),
        || {
            let t = exp.json("/api/v1/topology");
            let all_up = t["nodes"]
                .as_array()
                .is_some_and(|n| n.len() == 5 && n.iter().all(|n| n["status"] == "up"));
            let links = t["edges"].as_array().map_or(0, |e| e.len());
            (all_up && links >= CABLES.len()).then_some(())
        },
    );
    Running { exp, dir, lab }
}

#[test]
fn lab_finds_cabled_edges_sees_a_cut_link_and_core_failure_impact() {
    let mut lab = start_lab('l');
    let (exp, dir) = (&lab.exp, lab.dir.clone());

    // 1. Exactly the cabled edges, confirmed, with the right ports on both ends.
    let mut want: Vec<String> = CABLES
        .iter()
        .map(|&(a, ai, b, bi)| {
            let (x, y) = (format!("{a}:{ai}"), format!("{b}:{bi}"));
            let (x, y) = if x <= y { (x, y) } else { (y, x) };
            format!("{x} <-> {y} confirmed")
        })
        .collect();
    want.sort();
    let topo = wait_for("the four confirmed edges", Duration::from_secs(60), || {
        let t = exp.json("/api/v1/topology");
        let all_up = t["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 5 && n.iter().all(|n| n["status"] == "up"));
        // A fresh veth can read oper-down in snmpd's first answers: wait until the
        // agents report every cabled port up.
        let edges_up = t["edges"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["status"] == "up"));
        (all_up && edges_up && edge_strings(&t) == want).then_some(t)
    });
    assert_eq!(edge_strings(&topo), want);
    for e in topo["edges"].as_array().unwrap() {
        assert_eq!(e["protocol"], "lldp", "{e}");
        assert_eq!(e["status"], "up", "{e}");
    }
    assert_eq!(topo["orphans"].as_array().unwrap().len(), 0, "{topo}");
    let roots: BTreeSet<&str> = topo["roots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(roots, BTreeSet::from(["BRANCH-RTR-01", "BRANCH-RTR-02"]));

    // The neighbours view of the core: three LLDP neighbours, each matched to its device.
    let n = exp.json("/api/v1/devices/CORE-SW-01/neighbors");
    let matched: BTreeSet<(String, String)> = n["neighbors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["local_interface"].as_str().unwrap_or("").to_string(),
                x["neighbor_device"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        BTreeSet::from([
            ("core-br1".to_string(), "BRANCH-RTR-01".to_string()),
            ("core-br2".to_string(), "BRANCH-RTR-02".to_string()),
            ("core-dist".to_string(), "DIST-SW-01".to_string()),
        ])
    );

    // 2. The core switch failing cuts off exactly the devices behind it.
    let imp = exp.json("/api/v1/topology/impact?device=CORE-SW-01");
    let lost: Vec<&str> = imp["lost"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(lost, vec!["ACCESS-SW-01", "DIST-SW-01"], "{imp}");
    assert_eq!(imp["cut_edges"].as_array().unwrap().len(), 3);
    let imp = exp.json("/api/v1/topology/impact?device=DIST-SW-01&interface=dist-acc");
    assert_eq!(imp["lost"], serde_json::json!(["ACCESS-SW-01"]), "{imp}");
    let imp = exp.json("/api/v1/topology/impact?device=BRANCH-RTR-01");
    assert_eq!(imp["lost"], serde_json::json!([]), "{imp}");

    // 3. Neighbours on /metrics as info series that promtool accepts without notes.
    let metrics = exp.get("/metrics");
    let ours: String = metrics
        .lines()
        .filter(|l| l.contains("wardflux_lldp_neighbor_info"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        ours.contains("wardflux_lldp_neighbor_info{device=\"CORE-SW-01\",role=\"core\",if_name=\"core-dist\",neighbor_device=\"DIST-SW-01\",neighbor_port=\"dist-core\",protocol=\"lldp\"} 1"),
        "{ours}"
    );
    assert_eq!(
        ours.lines().filter(|l| !l.starts_with('#')).count(),
        8,
        "{ours}"
    );
    promtool_clean(&ours, &dir.join("neighbors.prom"));

    // 4. Cutting a link makes its edge go down (both ends report ifOperStatus down).
    let dist = lab.addr("DIST-SW-01");
    lab.lab
        .cut("DIST-SW-01", "dist-acc")
        .expect("cut the cable");
    let exp = &lab.exp;
    let t = wait_for("the cut link to go down", Duration::from_secs(30), || {
        let t = exp.json("/api/v1/topology");
        let cut = t["edges"]
            .as_array()?
            .iter()
            .find(|e| e["source_interface"] == "dist-acc" || e["target_interface"] == "dist-acc")?;
        (cut["status"] == "down").then_some(t)
    });
    let statuses: Vec<(String, String)> = t["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{}-{}",
                    e["source"].as_str().unwrap(),
                    e["target"].as_str().unwrap()
                ),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|(_, s)| s == "down").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|(_, s)| s == "up").count(),
        3,
        "{statuses:?}"
    );
    // With that link down, the access switch already has no path.
    let imp = exp.json("/api/v1/topology/impact?device=CORE-SW-01");
    assert_eq!(imp["lost"], serde_json::json!(["DIST-SW-01"]), "{imp}");
    assert_eq!(
        imp["unreachable_before"],
        serde_json::json!(["ACCESS-SW-01"]),
        "{imp}"
    );

    // 5. Rediscovery after LLDP has aged the neighbour out keeps the cut link, still down.
    wait_for(
        "LLDP to forget ACCESS-SW-01",
        Duration::from_secs(60),
        || (!walk(&dist, "1.0.8802.1.1.2.1.4.1.1.9").contains("ACCESS-SW-01")).then_some(()),
    );
    let discovered_at = |name: &str| -> f64 {
        exp.json("/api/v1/devices")
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["last_discovery"].as_f64())
            .unwrap_or(0.0)
    };
    let before = (discovered_at("DIST-SW-01"), discovered_at("ACCESS-SW-01"));
    let (status, body) = exp.post("/api/v1/discover");
    assert_eq!(status, 200, "POST /api/v1/discover: {body}");
    wait_for("rediscovery of both ends", Duration::from_secs(30), || {
        (discovered_at("DIST-SW-01") > before.0 && discovered_at("ACCESS-SW-01") > before.1)
            .then_some(())
    });
    let t = exp.json("/api/v1/topology");
    let cut: Vec<&serde_json::Value> = t["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_interface"] == "dist-acc" || e["target_interface"] == "dist-acc")
        .collect();
    assert_eq!(cut.len(), 1, "{t}");
    assert_eq!(cut[0]["status"], "down", "{t}");
    assert_eq!(t["edges"].as_array().unwrap().len(), 4, "{t}");
}

/// `promtool check metrics` must pass with no notes at all.
fn promtool_clean(text: &str, file: &Path) {
    std::fs::write(file, text).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .expect("run promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}

#[test]
fn page_renders_the_graph_shows_interfaces_on_click_and_highlights_impact() {
    let node = require_tool("node");
    require_tool("chromium");
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topology_page");
    assert!(
        script_dir.join("node_modules/playwright-core").is_dir(),
        "npm package playwright-core is missing: run `npm ci` in {} (./wardflux test does)",
        script_dir.display()
    );
    let lab = start_lab('p');
    let Running { exp, dir, .. } = &lab;
    let topo = exp.json("/api/v1/topology");
    let impact = exp.json("/api/v1/topology/impact?device=CORE-SW-01");
    let core_ifs = exp.json("/api/v1/interfaces?device=CORE-SW-01");
    // The screenshot is kept as a test artifact under the target dir.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("topology-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(node)
        .current_dir(&script_dir)
        .arg("page_test.mjs")
        .arg(format!("http://{}", exp.addr))
        .arg(&shot)
        .arg("CORE-SW-01")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "page test failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("page-result.json"), stdout.as_bytes()).unwrap();
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).expect("page result JSON");
    let names = |v: &serde_json::Value, key: &str| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap_or("").to_string())
            .collect();
        n.sort();
        n
    };
    // Right number of nodes and edges, coloured by status.
    assert_eq!(r["nodes"], topo["nodes"].as_array().unwrap().len());
    assert_eq!(r["edges"], topo["edges"].as_array().unwrap().len());
    assert_eq!(r["nodes_up"], r["nodes"]);
    assert_eq!(r["edges_up"], r["edges"]);
    assert_eq!(
        serde_json::from_value::<Vec<String>>(r["node_names"].clone()).unwrap(),
        names(&topo["nodes"], "name")
    );
    // A click shows the device's interface table, neighbours, and traffic rates.
    assert_eq!(
        serde_json::from_value::<Vec<String>>(r["interface_rows"].clone()).unwrap(),
        names(&core_ifs["interfaces"], "if_name")
    );
    assert_eq!(
        r["interface_columns"],
        serde_json::json!(["Interface", "Type", "ISP", "Status", "Speed", "In", "Out"])
    );
    assert_eq!(r["neighbor_rows"], 3);
    assert_eq!(r["traffic_shown"], true);
    // The impact view highlights what the core's failure cuts off.
    assert_eq!(r["lost_highlighted"], impact["lost"]);
    assert_eq!(r["failed_highlighted"], serde_json::json!(["CORE-SW-01"]));
    assert_eq!(
        r["cut_edges"],
        impact["cut_edges"].as_array().unwrap().len()
    );
    // Self-contained: nothing but the exporter was asked for anything, and no script errors.
    assert_eq!(r["external_requests"], serde_json::json!([]));
    assert_eq!(r["page_errors"], serde_json::json!([]));
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));
}
