//! Topology against real agents: five devices in network namespaces, each with its own
//! net-snmp snmpd and lldpd (AgentX sub-agent, own hostname, 1 s LLDP transmit interval),
//! cabled with veth; the ISP-facing links of both branch routers end in an unmonitored
//! namespace.
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

use common::{
    if_index, mgmt_link, require_tool, scratch, set_if_alias, start_snmpd, veth, wait_for,
    Exporter, Netns,
};

/// One lab device: namespace (with its snmpd and lldpd), hostname, cabled interfaces, labels.
struct Dev {
    name: &'static str,
    ns: Netns,
    ports: Vec<&'static str>,
    role: &'static str,
}

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

/// The cables: (device, interface) <-> (device, interface).
const CABLES: [(&str, &str, &str, &str); 4] = [
    ("BRANCH-RTR-01", "br1-core", "CORE-SW-01", "core-br1"),
    ("BRANCH-RTR-02", "br2-core", "CORE-SW-01", "core-br2"),
    ("CORE-SW-01", "core-dist", "DIST-SW-01", "dist-core"),
    ("DIST-SW-01", "dist-acc", "ACCESS-SW-01", "acc-dist"),
];

/// A running lab with an exporter watching it. Dropping it stops the exporter, then the
/// agents, then deletes the namespaces (with the host ends of the management links).
struct Running {
    exp: Exporter,
    dir: PathBuf,
    devs: Vec<Dev>,
    /// Management address of each device, in `devs` order.
    addrs: Vec<String>,
    /// The unmonitored namespace the ISP-facing links end in.
    _isp: Netns,
}

/// Build the lab (namespaces tagged `tag`), wait for LLDP, start the exporter and wait until
/// it shows every cabled edge confirmed and every device up.
fn start_lab(tag: char) -> Running {
    for t in [
        "ip",
        "snmpd",
        "snmpget",
        "snmpbulkwalk",
        "snmpset",
        "lldpd",
        "promtool",
    ] {
        require_tool(t);
    }
    let dir = scratch(&format!("topology-lab-{tag}"));
    let dev = |name, ns: &str, ports, role| Dev {
        name,
        ns: Netns::new(&format!("{tag}{ns}")),
        ports,
        role,
    };
    let mut devs = vec![
        dev(
            "CORE-SW-01",
            "core",
            vec!["core-br1", "core-br2", "core-dist"],
            "core",
        ),
        dev(
            "DIST-SW-01",
            "dist",
            vec!["dist-core", "dist-acc"],
            "distribution",
        ),
        dev("ACCESS-SW-01", "acc", vec!["acc-dist"], "access"),
        dev(
            "BRANCH-RTR-01",
            "br1",
            vec!["br1-core", "br1-isp1", "br1-isp2"],
            "isp_edge",
        ),
        dev(
            "BRANCH-RTR-02",
            "br2",
            vec!["br2-core", "br2-isp1", "br2-isp2"],
            "isp_edge",
        ),
    ];
    let isp = Netns::new(&format!("{tag}isp"));
    let ns_of = |name: &str| &devs.iter().find(|d| d.name == name).unwrap().ns;
    for (a, ai, b, bi) in CABLES {
        veth(ns_of(a), ai, ns_of(b), bi);
    }
    // ISP-facing links end in an unmonitored namespace without LLDP.
    for (k, (dev, port)) in [
        ("BRANCH-RTR-01", "br1-isp1"),
        ("BRANCH-RTR-01", "br1-isp2"),
        ("BRANCH-RTR-02", "br2-isp1"),
        ("BRANCH-RTR-02", "br2-isp2"),
    ]
    .into_iter()
    .enumerate()
    {
        veth(ns_of(dev), port, &isp, &format!("isp{k}"));
    }
    // snmpd after the links exist (it reads interfaces at start), then lldpd as sub-agent.
    let mut addrs = Vec::new();
    for (i, d) in devs.iter_mut().enumerate() {
        let mgmt = mgmt_link(&d.ns);
        let sock = dir.join(format!("agentx-{i}.sock"));
        let agent = start_snmpd(
            &mut d.ns,
            mgmt,
            &dir,
            &format!("master agentx\nagentXSocket {}", sock.display()),
        );
        wait_for("snmpd agentx socket", Duration::from_secs(15), || {
            sock.exists().then_some(())
        });
        let lconf = dir.join(format!("lldpd-{i}.conf"));
        std::fs::write(
            &lconf,
            format!(
                "configure system hostname {}\nconfigure lldp tx-interval 1\n",
                d.name
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("lldpd-{i}.log"))).expect("lldpd log");
        let mut lldpd = d.ns.cmd("lldpd");
        lldpd
            .args(["-d", "-x", "-X"])
            .arg(&sock)
            .arg("-u")
            .arg(dir.join(format!("lldpd-{i}.sock")))
            .arg("-O")
            .arg(&lconf)
            .args(["-I", &d.ports.join(",")])
            .stdout(log.try_clone().expect("dup lldpd log"))
            .stderr(log);
        d.ns.spawn("lldpd", lldpd);
        addrs.push(agent.trim_end_matches(":161").to_string());
    }
    // ifAlias on the ISP links, as branch routers carry them.
    for d in devs.iter().filter(|d| d.role == "isp_edge") {
        for (p, alias) in d.ports[1..]
            .iter()
            .zip(["Magti_Internet", "Silknet_Internet"])
        {
            set_if_alias(&d.ns, if_index(&d.ns, p), alias);
        }
    }
    // Every device's agent shows the neighbours' names in lldpRemSysName.
    for (i, d) in devs.iter().enumerate() {
        let want: BTreeSet<&str> = CABLES
            .iter()
            .filter_map(|&(a, _, b, _)| (a == d.name).then_some(b).or((b == d.name).then_some(a)))
            .collect();
        wait_for(
            &format!("LLDP neighbours of {}", d.name),
            Duration::from_secs(90),
            || {
                let names = walk(&addrs[i], "1.0.8802.1.1.2.1.4.1.1.9");
                want.iter().all(|w| names.contains(w)).then_some(())
            },
        );
    }

    let mut cfg = String::from(
        "poll_interval: 1s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 1\n\
         auths:\n  lab: {version: 2, community: public}\ntargets:\n",
    );
    for (i, d) in devs.iter().enumerate() {
        cfg.push_str(&format!(
            "  - {{name: {}, address: \"{}\", auth: lab, labels: {{role: {}}}}}\n",
            d.name, addrs[i], d.role
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
    Running {
        exp,
        dir,
        devs,
        addrs,
        _isp: isp,
    }
}

#[test]
fn lab_finds_cabled_edges_sees_a_cut_link_and_core_failure_impact() {
    let lab = start_lab('l');
    let Running {
        exp,
        dir,
        devs,
        addrs,
        ..
    } = &lab;
    let ns_of = |name: &str| &devs.iter().find(|d| d.name == name).unwrap().ns;

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
    ns_of("DIST-SW-01").ip(&["link", "set", "dist-acc", "down"]);
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
    let dist = devs.iter().position(|d| d.name == "DIST-SW-01").unwrap();
    wait_for(
        "LLDP to forget ACCESS-SW-01",
        Duration::from_secs(60),
        || (!walk(&addrs[dist], "1.0.8802.1.1.2.1.4.1.1.9").contains("ACCESS-SW-01")).then_some(()),
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
