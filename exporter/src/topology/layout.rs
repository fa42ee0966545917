//! Server-side graph layout with the layout-rs crate (layered, Sugiyama-style), rendered as
//! SVG for the `/topology` page. Roots sit on top; links point away from them.
//!
//! Each node is a `<g class="node" data-i="N">` and each link a `<g class="edge"
//! data-e="N">` (N = index in the topology JSON), so the page colours and clicks them.
//! Should the layout library panic on some graph, a plain grid layout is drawn instead.

use std::collections::VecDeque;
use std::fmt::Write as _;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::geometry::Point;
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
    let starts: Vec<usize> = t.roots.iter().copied().chain(0..n).collect();
    for s in starts {
        if s >= n || level[s] != usize::MAX {
            continue;
        }
        level[s] = 0;
        queue.push_back(s);
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

/// Lay the topology out and render it as SVG.
pub fn render_svg(t: &Topology) -> String {
    if t.nodes.is_empty() {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>"
            .to_string();
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| layered(t))) {
        Ok(svg) => svg,
        Err(_) => grid(t),
    }
}

fn layered(t: &Topology) -> String {
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
    vg.do_it(false, false, false, &mut svg);
    svg.finalize()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain fallback: nodes on a grid, straight links.
fn grid(t: &Topology) -> String {
    let cols = (t.nodes.len() as f64).sqrt().ceil().max(1.0) as usize;
    let pos = |i: usize| {
        Point::new(
            (i % cols) as f64 * 200.0 + 100.0,
            (i / cols) as f64 * 120.0 + 60.0,
        )
    };
    let rows = t.nodes.len().div_ceil(cols);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">",
        cols * 200,
        rows * 120
    );
    for (i, e) in t.edges.iter().enumerate() {
        let (a, b) = (pos(e.source), pos(e.target));
        let _ = write!(
            s,
            "<g class=\"edge\" data-e=\"{i}\"><path d=\"M {} {} L {} {}\" stroke=\"black\" stroke-width=\"2\" fill=\"transparent\"/></g>",
            a.x, a.y, b.x, b.y
        );
    }
    for (i, n) in t.nodes.iter().enumerate() {
        let p = pos(i);
        let _ = write!(
            s,
            "<g class=\"node\" data-i=\"{i}\"><rect x=\"{}\" y=\"{}\" width=\"180\" height=\"40\" fill=\"white\" stroke=\"black\" stroke-width=\"2\"/></g><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            p.x - 90.0,
            p.y - 20.0,
            p.x,
            p.y + 5.0,
            xml_escape(&n.name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
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
