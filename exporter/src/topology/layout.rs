//! Server-side graph layout with the layout-rs crate (layered, Sugiyama-style), rendered as
//! SVG for the `/topology` page. Roots sit on top; links point away from them.
//!
//! Each node is a `<g class="node" data-i="N">` and each link a `<g class="edge"
//! data-e="N">` (N = index in the topology JSON), so the page colours and clicks them.
//! Large graphs (and any graph layout-rs panics on) get a linear row-by-level layout instead.

use std::collections::VecDeque;
use std::fmt::Write as _;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::graph::Topology;

/// Breadth-first level of each node from the roots (other components from their first node).
fn levels(t: &Topology) -> Vec<usize> {
    let n = t.nodes.len();
    let mut adj = vec![Vec::new(); n];
    for e in &t.edges {
        if e.source != e.target && e.source < n && e.target < n {
            adj[e.source].push(e.target);
            adj[e.target].push(e.source);
        }
    }
    let mut level = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    // All roots start together on level 0; then each other component from its first node.
    for &r in &t.roots {
        if r < n && level[r] == usize::MAX {
            level[r] = 0;
            queue.push_back(r);
        }
    }
    for s in std::iter::once(usize::MAX).chain(0..n) {
        if s != usize::MAX {
            if level[s] != usize::MAX {
                continue;
            }
            level[s] = 0;
            queue.push_back(s);
        }
        while let Some(v) = queue.pop_front() {
            for &w in &adj[v] {
                if level[w] == usize::MAX {
                    level[w] = level[v] + 1;
                    queue.push_back(w);
                }
            }
        }
    }
    level
}

/// Up to this many nodes plus edges, layout-rs runs with its crossing reduction.
pub const OPTIMIZE_LIMIT: usize = 150;
/// Up to this many nodes plus edges, layout-rs lays the graph out at all. Its cost grows much
/// faster than linearly (seconds at a few hundred devices with many cross links, minutes with
/// crossing reduction), so larger graphs get the linear row layout of `grid`.
pub const LAYOUT_RS_LIMIT: usize = 400;

/// Lay the topology out and render it as SVG.
pub fn render_svg(t: &Topology) -> String {
    let size = t.nodes.len() + t.edges.len();
    if size > LAYOUT_RS_LIMIT {
        return grid(t);
    }
    render_svg_with(t, size <= OPTIMIZE_LIMIT)
}

/// Lay out with layout-rs, with or without its crossing reduction.
pub fn render_svg_with(t: &Topology, optimize: bool) -> String {
    if t.nodes.is_empty() {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>"
            .to_string();
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| layered(t, optimize))) {
        Ok(svg) => svg,
        Err(_) => grid(t),
    }
}

fn layered(t: &Topology, optimize: bool) -> String {
    let dir = Orientation::TopToBottom;
    let mut vg = VisualGraph::new(dir);
    let handles: Vec<_> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let shape = ShapeKind::new_box(&n.name);
            let look = StyleAttr::simple();
            let size = get_shape_size(dir, &shape, look.font_size, false);
            vg.add_node(Element::create_with_properties(
                shape,
                look,
                dir,
                size,
                format!("class=\"node\" data-i=\"{i}\""),
            ))
        })
        .collect();
    let level = levels(t);
    for (i, e) in t.edges.iter().enumerate() {
        if e.source == e.target || e.source >= handles.len() || e.target >= handles.len() {
            continue;
        }
        let (a, b) = if (level[e.source], e.source) <= (level[e.target], e.target) {
            (e.source, e.target)
        } else {
            (e.target, e.source)
        };
        let arrow = Arrow::with_properties(
            LineEndKind::None,
            LineEndKind::None,
            LineStyleKind::Normal,
            "",
            &StyleAttr::simple(),
            format!("class=\"edge\" data-e=\"{i}\""),
            &None,
            &None,
        );
        vg.add_edge(arrow, handles[a], handles[b]);
    }
    let mut svg = SVGWriter::new();
    vg.do_it(false, !optimize, false, &mut svg);
    svg.finalize()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The fast layout for large graphs (and the fallback should layout-rs panic): devices in
/// rows by breadth-first level from the roots, each level ordered by the mean position of the
/// devices above it and wrapped at `PER_ROW`, links drawn straight. O(nodes + edges).
fn grid(t: &Topology) -> String {
    const PER_ROW: usize = 10;
    const W: f64 = 200.0;
    const H: f64 = 90.0;
    let level = levels(t);
    let n = t.nodes.len();
    let depth = level
        .iter()
        .copied()
        .filter(|&l| l != usize::MAX)
        .max()
        .unwrap_or(0);
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); depth + 1];
    for (i, &l) in level.iter().enumerate() {
        by_level[l.min(depth)].push(i);
    }
    let mut adj = vec![Vec::new(); n];
    for e in &t.edges {
        if e.source < n && e.target < n && e.source != e.target {
            adj[e.source].push(e.target);
            adj[e.target].push(e.source);
        }
    }
    let mut x = vec![0.0f64; n];
    let mut y = vec![0.0f64; n];
    let mut top = 40.0;
    for (l, nodes) in by_level.iter_mut().enumerate() {
        // Barycentre of already placed neighbours one level up.
        let key = |i: usize| {
            let up: Vec<f64> = adj[i]
                .iter()
                .filter(|&&j| l > 0 && level[j] == l - 1)
                .map(|&j| x[j])
                .collect();
            if up.is_empty() {
                f64::MAX
            } else {
                up.iter().sum::<f64>() / up.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = nodes.iter().map(|&i| (key(i), i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *nodes = keyed.into_iter().map(|(_, i)| i).collect();
        for (k, &i) in nodes.iter().enumerate() {
            x[i] = (k % PER_ROW) as f64 * W + W / 2.0;
            y[i] = top + (k / PER_ROW) as f64 * H;
        }
        top += nodes.len().div_ceil(PER_ROW).max(1) as f64 * H + H / 2.0;
    }
    let width = PER_ROW.min(by_level.iter().map(Vec::len).max().unwrap_or(1)) as f64 * W;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{top}\" \
         viewBox=\"0 0 {width} {top}\">"
    );
    for (i, e) in t.edges.iter().enumerate() {
        if e.source >= n || e.target >= n {
            continue;
        }
        let _ = write!(
            s,
            "<g class=\"edge\" data-e=\"{i}\"><path d=\"M {} {} L {} {}\" stroke=\"black\" \
             stroke-width=\"2\" fill=\"transparent\"/></g>",
            x[e.source], y[e.source], x[e.target], y[e.target]
        );
    }
    for (i, node) in t.nodes.iter().enumerate() {
        let _ = write!(
            s,
            "<g class=\"node\" data-i=\"{i}\"><rect x=\"{}\" y=\"{}\" width=\"180\" height=\"34\" \
             fill=\"white\" stroke=\"black\" stroke-width=\"2\"/></g><text x=\"{}\" y=\"{}\" \
             text-anchor=\"middle\" font-size=\"13\">{}</text>",
            x[i] - 90.0,
            y[i] - 17.0,
            x[i],
            y[i] + 4.0,
            xml_escape(&node.name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_is_on_the_top_level() {
        use crate::topology::graph::{Edge, LinkState, Node, Status};
        let node = |n: &str| Node {
            name: std::sync::Arc::from(n),
            status: Status::Up,
            root: false,
        };
        let edge = |a: usize, b: usize| Edge {
            source: a,
            target: b,
            source_if: None,
            source_interface: String::new(),
            target_if: None,
            target_interface: String::new(),
            interface_type: "unknown",
            status: Status::Up,
            protocol: "lldp",
            state: LinkState::Confirmed,
            members: vec![],
        };
        // r1 - core - r2, core - dist; lone node 4.
        let mut t = Topology::default();
        t.nodes = ["r1", "r2", "core", "dist", "lone"].map(node).to_vec();
        t.edges = vec![edge(0, 2), edge(2, 1), edge(2, 3)];
        t.roots = vec![0, 1];
        assert_eq!(levels(&t), vec![0, 0, 1, 2, 0]);
    }
    use crate::topology::config::TopologyConfig;
    use crate::topology::graph::{build, DeviceView, Status};
    use std::sync::Arc;

    #[test]
    fn every_node_and_edge_is_in_the_svg_with_its_index() {
        let devs: Vec<DeviceView> = ["A", "B<&>", "C"]
            .iter()
            .map(|n| DeviceView {
                name: Arc::from(*n),
                address: String::new(),
                labels: Arc::default(),
                status: Status::Up,
                sys_name: String::new(),
                ports: Vec::new(),
                hood: Arc::default(),
                discovered: true,
            })
            .collect();
        let cfg = TopologyConfig {
            roots: vec![],
            links: vec![
                crate::topology::config::ManualLink {
                    a: "A".into(),
                    a_interface: None,
                    b: "B<&>".into(),
                    b_interface: None,
                },
                crate::topology::config::ManualLink {
                    a: "C".into(),
                    a_interface: None,
                    b: "A".into(),
                    b_interface: None,
                },
            ],
        };
        let t = build(&devs, &cfg);
        for svg in [render_svg(&t), grid(&t)] {
            assert_eq!(svg.matches("class=\"node\"").count(), 3, "{svg}");
            assert_eq!(svg.matches("class=\"edge\"").count(), 2, "{svg}");
            assert!(svg.contains("B&lt;&amp;&gt;"), "{svg}");
        }
    }
}
