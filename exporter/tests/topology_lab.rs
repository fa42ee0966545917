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

mod topology_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use topology_support::*;

/// One lab device: namespace, hostname, cabled interfaces, labels.
struct Dev {
    name: &'static str,
    ns: String,
    ports: Vec<&'static str>,
    role: &'static str,
}

/// Namespaces and host links of the lab, removed on drop (after the processes stop).
struct Lab {
    procs: Vec<Proc>,
    namespaces: Vec<String>,
    host_links: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.procs.clear();
        for l in &self.host_links {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    run(Command::new("ip").args(["netns", "exec", ns]).args(args))
}

/// Walk a column inside a namespace's agent with snmpbulkwalk (values only).
fn walk(addr: &str, oid: &str) -> String {
    let out = Command::new("snmpbulkwalk")
        .args([
            "-v2c", "-c", "public", "-On", "-Oqv", "-t", "1", "-r", "1", addr, oid,
        ])
        .output()
        .expect("run snmpbulkwalk");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cables: (device, interface) <-> (device, interface).
const CABLES: [(&str, &str, &str, &str); 4] = [
    ("BRANCH-RTR-01", "br1-core", "CORE-SW-01", "core-br1"),
    ("BRANCH-RTR-02", "br2-core", "CORE-SW-01", "core-br2"),
    ("CORE-SW-01", "core-dist", "DIST-SW-01", "dist-core"),
    ("DIST-SW-01", "dist-acc", "ACCESS-SW-01", "acc-dist"),
];

/// A running lab with an exporter watching it.
struct Running {
    exp: Exporter,
    dir: std::path::PathBuf,
    devs: Vec<Dev>,
    /// Management address of each device, in `devs` order.
    addrs: Vec<String>,
    lab: Lab,
}

/// Build the lab (namespaces tagged `tag`, so two labs can run at once), wait for LLDP, start
/// the exporter and wait until it shows every cabled edge confirmed and every device up.
fn start_lab(tag: char) -> Running {
    for t in [
        "ip",
        "snmpd",
        "snmpbulkwalk",
        "snmpset",
        "lldpd",
        "promtool",
    ] {
        require_tool(t);
    }
    let dir = scratch(&format!("topology-lab-{tag}"));
    let id = format!("{}{tag}", std::process::id() % 10_000);
    let octet = 150 + (std::process::id() % 40) * 2 + u32::from(tag == 'p');
    let devs = [
        Dev {
            name: "CORE-SW-01",
            ns: format!("wft{id}core"),
            ports: vec!["core-br1", "core-br2", "core-dist"],
            role: "core",
        },
        Dev {
            name: "DIST-SW-01",
            ns: format!("wft{id}dist"),
            ports: vec!["dist-core", "dist-acc"],
            role: "distribution",
        },
        Dev {
            name: "ACCESS-SW-01",
            ns: format!("wft{id}acc"),
            ports: vec!["acc-dist"],
            role: "access",
        },
        Dev {
            name: "BRANCH-RTR-01",
            ns: format!("wft{id}br1"),
            ports: vec!["br1-core", "br1-isp1", "br1-isp2"],
            role: "isp_edge",
        },
        Dev {
            name: "BRANCH-RTR-02",
            ns: format!("wft{id}br2"),
            ports: vec!["br2-core", "br2-isp1", "br2-isp2"],
            role: "isp_edge",
        },
    ];
    let isp_ns = format!("wft{id}isp");
    let mut lab = Lab {
        procs: Vec::new(),
        namespaces: Vec::new(),
        host_links: Vec::new(),
    };
    for ns in devs.iter().map(|d| d.ns.as_str()).chain([isp_ns.as_str()]) {
        let _ = Command::new("ip").args(["netns", "del", ns]).output();
        ip(&["netns", "add", ns]);
        lab.namespaces.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }
    let ns_of = |name: &str| &devs.iter().find(|d| d.name == name).unwrap().ns;
    // The cables: (device, interface) <-> (device, interface).
    let cables = CABLES;
    for (a, ai, b, bi) in cables {
        ip(&[
            "link",
            "add",
            ai,
            "netns",
            ns_of(a),
            "type",
            "veth",
            "peer",
            "name",
            bi,
            "netns",
            ns_of(b),
        ]);
        ip(&["-n", ns_of(a), "link", "set", ai, "up"]);
        ip(&["-n", ns_of(b), "link", "set", bi, "up"]);
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
        let peer = format!("isp{k}");
        ip(&[
            "link",
            "add",
            port,
            "netns",
            ns_of(dev),
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &isp_ns,
        ]);
        ip(&["-n", ns_of(dev), "link", "set", port, "up"]);
        ip(&["-n", &isp_ns, "link", "set", &peer, "up"]);
    }
    // Management: a host veth per device with a link-local /30.
    let mut addrs = Vec::new();
    for (i, d) in devs.iter().enumerate() {
        let host = format!("wft{id}m{i}");
        let (h, a) = (4 * i + 1, 4 * i + 2);
        let _ = Command::new("ip").args(["link", "del", &host]).output();
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "mgmt0", "netns", &d.ns,
        ]);
        lab.host_links.push(host.clone());
        ip(&[
            "addr",
            "add",
            &format!("169.254.{octet}.{h}/30"),
            "dev",
            &host,
        ]);
        ip(&["link", "set", &host, "up"]);
        ip(&[
            "-n",
            &d.ns,
            "addr",
            "add",
            &format!("169.254.{octet}.{a}/30"),
            "dev",
            "mgmt0",
        ]);
        ip(&["-n", &d.ns, "link", "set", "mgmt0", "up"]);
        addrs.push(format!("169.254.{octet}.{a}"));
    }
    // snmpd after the links exist (it reads interfaces at start), then lldpd as sub-agent.
    for (i, d) in devs.iter().enumerate() {
        let conf = dir.join(format!("snmpd-{i}.conf"));
        let sock = dir.join(format!("agentx-{i}.sock"));
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:{}:161\nrocommunity public\nrwcommunity private\nmaster agentx\nagentXSocket {}\n",
                addrs[i],
                sock.display()
            ),
        )
        .unwrap();
        lab.procs.push(Proc::spawn(
            "snmpd",
            Command::new("ip")
                .args(["netns", "exec", &d.ns, "snmpd", "-f", "-Lo", "-C", "-c"])
                .arg(&conf)
                .arg("-p")
                .arg(dir.join(format!("snmpd-{i}.pid"))),
            &dir.join(format!("snmpd-{i}.log")),
        ));
        wait_for(Duration::from_secs(15), "snmpd agentx socket", || {
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
        lab.procs.push(Proc::spawn(
            "lldpd",
            Command::new("ip")
                .args(["netns", "exec", &d.ns, "lldpd", "-d", "-x", "-X"])
                .arg(&sock)
                .arg("-u")
                .arg(dir.join(format!("lldpd-{i}.sock")))
                .arg("-O")
                .arg(&lconf)
                .args(["-I", &d.ports.join(",")]),
            &dir.join(format!("lldpd-{i}.log")),
        ));
    }
    // ifAlias on the ISP links, as branch routers carry them.
    for (i, d) in devs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.role == "isp_edge")
    {
        for (p, alias) in d.ports[1..]
            .iter()
            .zip(["Magti_Internet", "Silknet_Internet"])
        {
            let line = in_ns(&d.ns, &["cat", &format!("/sys/class/net/{p}/ifindex")]);
            let idx = line.trim();
            wait_for(Duration::from_secs(10), "snmpset of ifAlias", || {
                Command::new("snmpset")
                    .args(["-v2c", "-c", "private", "-t", "1", &addrs[i]])
                    .arg(format!("1.3.6.1.2.1.31.1.1.1.18.{idx}"))
                    .args(["s", alias])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
            });
        }
    }
    // Every device's agent shows the neighbours' names in lldpRemSysName.
    for (i, d) in devs.iter().enumerate() {
        let want: BTreeSet<&str> = cables
            .iter()
            .filter_map(|&(a, _, b, _)| (a == d.name).then_some(b).or((b == d.name).then_some(a)))
            .collect();
        wait_for(
            Duration::from_secs(90),
            &format!("LLDP neighbours of {}", d.name),
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
    let cfg_path = dir.join("exporter.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let exp = Exporter::start(&cfg_path, &dir.join("exporter.log"));
    // Ready: every device up and at least as many links as cables (the tests check which).
    wait_for(
        Duration::from_secs(60),
        "every device up with its links",
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
        devs: devs.into_iter().collect(),
        addrs,
        lab,
    }
}

#[test]
fn lab_finds_cabled_edges_sees_a_cut_link_and_core_failure_impact() {
    let Running {
        exp,
        dir,
        devs,
        addrs,
        lab,
    } = start_lab('l');
    let ns_of = |name: &str| devs.iter().find(|d| d.name == name).unwrap().ns.clone();
    let cables = CABLES;

    // 1. Exactly the cabled edges, confirmed, with the right ports on both ends.
    let mut want: Vec<String> = cables
        .iter()
        .map(|&(a, ai, b, bi)| {
            let (x, y) = (format!("{a}:{ai}"), format!("{b}:{bi}"));
            let (x, y) = if x <= y { (x, y) } else { (y, x) };
            format!("{x} <-> {y} confirmed")
        })
        .collect();
    want.sort();
    let topo = wait_for(Duration::from_secs(60), "the four confirmed edges", || {
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
    let metrics = exp.get_ok("/metrics");
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
    in_ns(
        &ns_of("DIST-SW-01"),
        &["ip", "link", "set", "dist-acc", "down"],
    );
    let t = wait_for(Duration::from_secs(30), "the cut link to go down", || {
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
        Duration::from_secs(60),
        "LLDP to forget ACCESS-SW-01",
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
    exp.post_ok("/api/v1/discover");
    wait_for(Duration::from_secs(30), "rediscovery of both ends", || {
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
    drop(exp);
    drop(lab);
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
    let Running { exp, dir, lab, .. } = start_lab('p');
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
    drop(exp);
    drop(lab);
}
