//! Table-driven tests of the reachability analysis: small networks written as text, the
//! expected state of every device written the same way.

use super::*;

/// Devices as `name[@site][:health][+isp][*]` (health `u`, `d` or `?`; `+` holds ISP uplinks,
/// `*` a configured root), links as `a-b`.
fn net(devices: &str, links: &str) -> Input {
    let devices = devices
        .split_whitespace()
        .map(|spec| {
            let root = spec.ends_with('*');
            let spec = spec.trim_end_matches('*');
            let isp = spec.ends_with('+');
            let spec = spec.trim_end_matches('+');
            let (spec, health) = match spec.split_once(':') {
                Some((s, "u")) => (s, Health::Up),
                Some((s, "d")) => (s, Health::Down),
                Some((s, "?")) => (s, Health::Unknown),
                Some((_, h)) => panic!("bad health {h}"),
                None => (spec, Health::Up),
            };
            let (name, site) = spec.split_once('@').unwrap_or((spec, ""));
            Device {
                name: name.into(),
                site: site.into(),
                health,
                isp_uplinks: u32::from(isp) * 2,
                root,
            }
        })
        .collect();
    let links = links
        .split_whitespace()
        .map(|l| {
            let (a, b) = l.split_once('-').expect("link a-b");
            Link {
                a: a.into(),
                b: b.into(),
            }
        })
        .collect();
    Input { devices, links }
}

/// Every device as `name=state` or `name=shadow(root,root)`, in input order.
fn states(input: &Input, a: &Analysis) -> String {
    input
        .devices
        .iter()
        .zip(&a.devices)
        .map(|(d, s)| {
            let roots: Vec<&str> = s
                .roots
                .iter()
                .map(|&r| input.devices[r].name.as_str())
                .collect();
            if roots.is_empty() {
                format!("{}={}", d.name, s.state.as_str())
            } else {
                format!("{}={}({})", d.name, s.state.as_str(), roots.join(","))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn device_states() {
    // (what, devices, links, expected states)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("all up", "R@a+ S@a", "R-S", "R=up S=up"),
        (
            "branch router down: the switch behind it is in its shadow",
            "R@a:d+ S@a:d",
            "R-S",
            "R=down S=shadow(R)",
        ),
        (
            "a chain behind the router: the root is the device nearest the poller",
            "R@a:d+ S@a:d AP@a:d",
            "R-S S-AP",
            "R=down S=shadow(R) AP=shadow(R)",
        ),
        (
            "switch down behind a live router: down in its own right, the AP behind it shadowed",
            "R@a+ S@a:d AP@a:d",
            "R-S S-AP",
            "R=up S=down AP=shadow(S)",
        ),
        (
            "dual-homed switch, one router down: the switch is down in its own right",
            "R1@a:d+ R2@a+ S@a:d",
            "R1-S R2-S",
            "R1=down R2=up S=down",
        ),
        (
            "dual-homed switch, both routers down: shadowed by both",
            "R1@a:d+ R2@b:d+ S@a:d",
            "R1-S R2-S",
            "R1=down R2=down S=shadow(R1,R2)",
        ),
        (
            "router's agent dead but it forwards: a switch answering behind it proves the path",
            "R@a:d+ S@a AP@a:d",
            "R-S S-AP",
            "R=down S=up AP=down",
        ),
        (
            "position unknown (no root reaches it): never shadowed",
            "R@a:d+ X:d Y:d",
            "X-Y",
            "R=down X=down Y=down",
        ),
        (
            "a device no link leads to is its own root",
            "R@a:d+ P:d",
            "",
            "R=down P=down",
        ),
        (
            "unknown health passes (when in doubt, down not shadowed)",
            "R@a+ S@a:? AP@a:d",
            "R-S S-AP",
            "R=up S=unknown AP=down",
        ),
        (
            "unknown device behind a down router names its root but is not a shadow",
            "R@a:d+ S@a:? AP@a:d",
            "R-S S-AP",
            "R=down S=unknown(R) AP=shadow(R)",
        ),
        (
            "a loop behind the router: still shadowed",
            "R@a:d+ S1@a:d S2@a:d",
            "R-S1 S1-S2 S2-R",
            "R=down S1=shadow(R) S2=shadow(R)",
        ),
        (
            "HQ reached directly, core switch down: branch devices behind it shadowed only if \
             their router is reached only through it (configured root)",
            "CORE:d* R@a:d+ S@a:d",
            "CORE-R R-S",
            "CORE=down R=shadow(CORE) S=shadow(CORE)",
        ),
        (
            "two sites, one cut off",
            "R1@a:d+ S1@a:d R2@b+ S2@b",
            "R1-S1 R2-S2",
            "R1=down S1=shadow(R1) R2=up S2=up",
        ),
        (
            "parallel links and duplicate link lines collapse",
            "R@a:d+ S@a:d",
            "R-S S-R R-S",
            "R=down S=shadow(R)",
        ),
        (
            "an up device in the shadow region breaks it: the far device is down itself",
            "R@a:d+ S1@a:d S2@a AP@a:d",
            "R-S1 S1-S2 S2-AP",
            "R=down S1=down S2=up AP=down",
        ),
    ];
    for (what, devices, links, want) in cases {
        let input = net(devices, links);
        let got = states(&input, &analyse(&input));
        assert_eq!(&got, want, "{what}");
    }
}

#[test]
fn sites_isolated_and_cut_off() {
    // (what, devices, links, expected "site:isolated:cut_off" list)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "one router down with its switch",
            "R1@tbilisi:d+ S1@tbilisi:d R2@batumi+ S2@batumi",
            "R1-S1 R2-S2",
            "batumi:no: tbilisi:yes:S1",
        ),
        (
            "a site with two routers is isolated only when both are down",
            "R1@a:d+ R2@a+ S@a",
            "R1-S R2-S",
            "a:no:",
        ),
        (
            "both routers of the site down",
            "R1@a:d+ R2@a:d+ S@a:d AP@a:d",
            "R1-S R2-S S-AP",
            "a:yes:AP,S",
        ),
        (
            "a router without a site label is a site of its own",
            "R:d+ S:d",
            "R-S",
            "R:yes:S",
        ),
        (
            "a router shadowed by a configured root: its site is not isolated in its own right",
            "CORE:d* R@a:d+ S@a:d",
            "CORE-R R-S",
            "a:no:",
        ),
    ];
    for (what, devices, links, want) in cases {
        let input = net(devices, links);
        let a = analyse(&input);
        let got: Vec<String> = a
            .sites
            .iter()
            .map(|s| {
                let cut: Vec<&str> = s
                    .cut_off
                    .iter()
                    .map(|&i| input.devices[i].name.as_str())
                    .collect();
                format!(
                    "{}:{}:{}",
                    s.name,
                    if s.isolated { "yes" } else { "no" },
                    cut.join(",")
                )
            })
            .collect();
        assert_eq!(got.join(" "), *want, "{what}");
    }
}

#[test]
fn contradictions_are_reported_and_never_hide_a_down_device() {
    // (what, devices, links, expected states, expected problem texts contain)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "link to an unknown device is ignored",
            "R@a:d+ S@a:d",
            "R-S S-GHOST",
            "R=down S=shadow(R)",
            "names unknown device GHOST",
        ),
        (
            "self loop ignored",
            "R@a:d+ S@a:d",
            "R-S S-S",
            "R=down S=shadow(R)",
            "from S to itself",
        ),
        (
            "duplicate device: the second is never shadowed",
            "R@a:d+ S@a:d S@a:d",
            "R-S",
            "R=down S=shadow(R) S=down",
            "listed twice",
        ),
        (
            "root that is a leaf",
            "LEAF:d* SW:d OTHER:d",
            "LEAF-SW SW-OTHER",
            "LEAF=down SW=shadow(LEAF) OTHER=shadow(LEAF)",
            "root LEAF is a leaf",
        ),
        (
            "unpositioned devices are reported",
            "R@a+ X:d Y:d",
            "X-Y",
            "R=up X=down Y=down",
            "not reached from any root",
        ),
    ];
    for (what, devices, links, want, problem) in cases {
        let input = net(devices, links);
        let a = analyse(&input);
        assert_eq!(&states(&input, &a), want, "{what}");
        let texts: Vec<String> = a.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            texts.iter().any(|t| t.contains(problem)),
            "{what}: problems {texts:?} lack {problem:?}"
        );
    }
}

#[test]
fn every_down_device_is_down_or_shadowed_and_every_shadow_has_a_down_root() {
    // A ring of 12 devices with two roots and every third device down; and a random-ish
    // tree: the general invariants, whatever the shape.
    for seed in 0u64..50 {
        let mut devices = String::new();
        let mut links = String::new();
        let n = 5 + (seed % 20) as usize;
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for i in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let health = match (x >> 33) % 3 {
                0 => "d",
                1 => "u",
                _ => "?",
            };
            let isp = if i % 7 == 0 { "+" } else { "" };
            devices.push_str(&format!("D{i}@s{}:{health}{isp} ", i % 3));
            if i > 0 {
                let parent = (x >> 40) as usize % i;
                links.push_str(&format!("D{parent}-D{i} "));
            }
        }
        let input = net(&devices, &links);
        let a = analyse(&input);
        for (d, s) in input.devices.iter().zip(&a.devices) {
            match d.health {
                Health::Down => assert!(
                    matches!(s.state, State::Down | State::Shadow),
                    "seed {seed}: {} lost its down state",
                    d.name
                ),
                Health::Up => assert_eq!(s.state, State::Up, "seed {seed}: {}", d.name),
                Health::Unknown => assert_eq!(s.state, State::Unknown),
            }
            if s.state == State::Shadow {
                assert!(!s.roots.is_empty(), "seed {seed}: {} has no root", d.name);
                for &r in &s.roots {
                    assert_eq!(a.devices[r].state, State::Down, "seed {seed}");
                }
            }
        }
    }
}
