//! Impact analysis: which devices lose every path to the roots when a device or one of its
//! interfaces fails. Breadth-first reachability from all roots, before and after removing the
//! failed element; works on any graph (cycles, parallel links), O(nodes + edges) per query.
//!
//! Links that are down now are not paths; devices are kept regardless of their SNMP status
//! (an unreachable agent may still forward traffic).

use std::collections::VecDeque;

use super::graph::{Edge, Status, Topology};

/// What fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Device(usize),
    /// A device's interface, by ifIndex and name (either may match an edge end).
    Interface {
        device: usize,
        if_index: Option<u32>,
        name: String,
    },
}

/// The answer to an impact query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    /// Edges that stop carrying traffic.
    pub cut_edges: Vec<usize>,
    /// Devices reachable from a root now and not after the failure (the failed device itself
    /// is not listed).
    pub lost: Vec<usize>,
    /// Devices that already have no path to any root.
    pub unreachable_before: Vec<usize>,
}

/// Adjacency lists: per node, (neighbour, edge index).
pub struct Adjacency(Vec<Vec<(usize, usize)>>);

impl Adjacency {
    pub fn new(t: &Topology) -> Adjacency {
        let mut adj = vec![Vec::new(); t.nodes.len()];
        for (i, e) in t.edges.iter().enumerate() {
            if e.source == e.target || e.status == Status::Down {
                continue;
            }
            adj[e.source].push((e.target, i));
            adj[e.target].push((e.source, i));
        }
        Adjacency(adj)
    }
}

/// Nodes reachable from `roots` without the removed node and edges.
pub fn reachable(
    adj: &Adjacency,
    roots: &[usize],
    removed_node: Option<usize>,
    removed_edge: &dyn Fn(usize) -> bool,
) -> Vec<bool> {
    let n = adj.0.len();
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    for &r in roots {
        if r < n && Some(r) != removed_node && !seen[r] {
            seen[r] = true;
            queue.push_back(r);
        }
    }
    while let Some(v) = queue.pop_front() {
        for &(w, e) in &adj.0[v] {
            if !seen[w] && Some(w) != removed_node && !removed_edge(e) {
                seen[w] = true;
                queue.push_back(w);
            }
        }
    }
    seen
}

fn end_matches(if_index: Option<u32>, iface: &str, want_if: Option<u32>, want: &str) -> bool {
    (want_if.is_some() && if_index == want_if)
        || (!want.is_empty() && iface.eq_ignore_ascii_case(want))
}

/// Whether failing `device`'s interface cuts edge `e`: its end on that device is the
/// interface, or the interface is the last LAG member of it.
fn cuts(e: &Edge, device: usize, if_index: Option<u32>, name: &str) -> bool {
    let sides = [(e.source == device, true), (e.target == device, false)];
    for (on_device, is_source) in sides {
        if !on_device {
            continue;
        }
        let (ei, en) = if is_source {
            (e.source_if, e.source_interface.as_str())
        } else {
            (e.target_if, e.target_interface.as_str())
        };
        if end_matches(ei, en, if_index, name) {
            return true;
        }
        if !e.members.is_empty() {
            let remaining = e.members.iter().filter(|m| {
                let (mi, mn) = if is_source {
                    (m.source_if, m.source_interface.as_str())
                } else {
                    (m.target_if, m.target_interface.as_str())
                };
                m.status != Status::Down && !end_matches(mi, mn, if_index, name)
            });
            if remaining.count() == 0 {
                return true;
            }
        }
    }
    false
}

/// Run an impact query on a topology.
pub fn impact(t: &Topology, adj: &Adjacency, failure: &Failure) -> Impact {
    let before = reachable(adj, &t.roots, None, &|_| false);
    let (removed_node, cut_edges): (Option<usize>, Vec<usize>) = match failure {
        Failure::Device(d) => (
            Some(*d),
            t.edges
                .iter()
                .enumerate()
                .filter(|(_, e)| e.source == *d || e.target == *d)
                .map(|(i, _)| i)
                .collect(),
        ),
        Failure::Interface {
            device,
            if_index,
            name,
        } => (
            None,
            t.edges
                .iter()
                .enumerate()
                .filter(|(_, e)| cuts(e, *device, *if_index, name))
                .map(|(i, _)| i)
                .collect(),
        ),
    };
    let mut removed = vec![false; t.edges.len()];
    for &e in &cut_edges {
        removed[e] = true;
    }
    let after = reachable(adj, &t.roots, removed_node, &|e| removed[e]);
    let lost = (0..t.nodes.len())
        .filter(|&i| before[i] && !after[i] && Some(i) != removed_node)
        .collect();
    let unreachable_before = (0..t.nodes.len()).filter(|&i| !before[i]).collect();
    Impact {
        cut_edges,
        lost,
        unreachable_before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::config::{RootSelector, TopologyConfig};
    use crate::topology::graph::build;
    use crate::topology::graph::tests::{dev, see};

    /// Build from (device, port) pairs cabled both ways: `links` are (a, a_if, b, b_if).
    fn topo(names: &[&str], links: &[(usize, u32, usize, u32)], root: &str) -> Topology {
        let mut d: Vec<_> = names.iter().map(|n| dev(n, 4)).collect();
        for &(a, ai, b, bi) in links {
            let (an, bn) = (names[a].to_string(), names[b].to_string());
            see(&mut d, a, ai, &bn, &format!("eth{}", bi - 1));
            see(&mut d, b, bi, &an, &format!("eth{}", ai - 1));
        }
        let cfg = TopologyConfig {
            roots: vec![RootSelector::Device(root.into())],
            links: vec![],
        };
        build(&d, &cfg)
    }

    fn lost(t: &Topology, f: Failure) -> Vec<String> {
        let r = impact(t, &Adjacency::new(t), &f);
        r.lost
            .iter()
            .map(|&i| t.nodes[i].name.to_string())
            .collect()
    }

    #[test]
    fn a_device_behind_two_uplinks_loses_nothing_when_one_fails() {
        // R - A, R - B, A - C, B - C, C - D  (a cycle R-A-C-B-R)
        let t = topo(
            &["R", "A", "B", "C", "D"],
            &[
                (0, 1, 1, 1),
                (0, 2, 2, 1),
                (1, 2, 3, 1),
                (2, 2, 3, 2),
                (3, 3, 4, 1),
            ],
            "R",
        );
        assert_eq!(t.edges.len(), 5);
        assert!(lost(&t, Failure::Device(1)).is_empty());
        assert_eq!(lost(&t, Failure::Device(3)), vec!["D"]);
        assert_eq!(lost(&t, Failure::Device(0)), vec!["A", "B", "C", "D"]);
        let iface = |d: usize, i: u32| Failure::Interface {
            device: d,
            if_index: Some(i),
            name: String::new(),
        };
        assert!(lost(&t, iface(3, 1)).is_empty());
        assert_eq!(lost(&t, iface(3, 3)), vec!["D"]);
        assert_eq!(lost(&t, iface(4, 1)), vec!["D"]);
    }

    #[test]
    fn links_already_down_are_not_paths() {
        let mut t = topo(
            &["R", "A", "B"],
            &[(0, 1, 1, 1), (0, 2, 2, 1), (1, 2, 2, 2)],
            "R",
        );
        let ab = t
            .edges
            .iter()
            .position(|e| e.source == 1 && e.target == 2)
            .unwrap();
        assert!(lost(&t, Failure::Device(1)).is_empty());
        t.edges[ab].status = Status::Down;
        let ra = t.edges.iter().position(|e| e.target == 1).unwrap();
        let r = impact(&t, &Adjacency::new(&t), &Failure::Device(2));
        assert!(r.lost.is_empty());
        t.edges[ra].status = Status::Down;
        let r = impact(&t, &Adjacency::new(&t), &Failure::Device(2));
        assert_eq!(r.unreachable_before, vec![1]);
    }

    #[test]
    fn a_lag_is_cut_only_when_its_last_member_fails() {
        use crate::topology::graph::{Edge, LinkState, Member};
        let mut t = topo(&["R", "A"], &[], "R");
        let m = |i: u32| Member {
            source_if: Some(i),
            source_interface: format!("eth{i}"),
            target_if: Some(i),
            target_interface: format!("eth{i}"),
            status: Status::Up,
        };
        t.edges.push(Edge {
            source: 0,
            target: 1,
            source_if: Some(9),
            source_interface: "Po1".into(),
            target_if: Some(9),
            target_interface: "Po1".into(),
            interface_type: "trunk",
            status: Status::Up,
            protocol: "lldp",
            state: LinkState::Confirmed,
            members: vec![m(1), m(2)],
        });
        let f = |i: u32| Failure::Interface {
            device: 1,
            if_index: Some(i),
            name: String::new(),
        };
        assert!(lost(&t, f(1)).is_empty());
        t.edges[0].members[1].status = Status::Down;
        assert_eq!(lost(&t, f(1)), vec!["A"]);
        assert_eq!(lost(&t, f(9)), vec!["A"]);
    }
}
