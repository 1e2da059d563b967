//! A topology drawn as Graphviz DOT or Mermaid. Namespaces are boxes; a bridge is a node of its
//! own (joined to its namespace by a dashed line) and its ports' links end at it; veth pairs are
//! solid lines labelled with both ends' names and addresses, vxlan overlays dashed, macvlan and
//! vlan parents dotted. Link-local IPv6 addresses and kernel routes are left out: they say
//! nothing the picture does not. In a lab across machines, each machine is a box of its own
//! (a DOT cluster, a Mermaid subgraph) and its namespaces take its colour, from a fixed palette
//! in the machines' order (`local` first).

use std::collections::BTreeMap;

use crate::lab::topology::{End, Link, Node, Topology};

/// What to draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// List each namespace's routes (all but the kernel's own) in its box.
    pub routes: bool,
}

/// A vertex of the picture: a namespace or a bridge.
struct Vertex {
    id: String,
    lines: Vec<String>,
    bridge: bool,
    /// The machine it lives on (a position in `Picture::machines`).
    machine: Option<usize>,
}

/// A line of the picture.
struct Line {
    from: usize,
    to: usize,
    label: String,
    style: Style,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Solid,
    Overlay,
    Parent,
    Inside,
}

struct Picture {
    title: String,
    vertices: Vec<Vertex>,
    lines: Vec<Line>,
    /// The machines, in the order their namespaces come (`local` first); empty for a lab on
    /// one machine.
    machines: Vec<String>,
}

/// Colours of machines, in order: (the machine's box, its namespaces, their border).
const PALETTE: &[(&str, &str, &str)] = &[
    ("#eef4fb", "#c6dbef", "#4a7fb5"),
    ("#eef8ec", "#c7e9c0", "#4f9a4a"),
    ("#fdf1e6", "#fdd0a2", "#c77a2e"),
    ("#f3effa", "#dadaeb", "#7b6aa8"),
    ("#fdeef0", "#fcbba1", "#c0504d"),
    ("#ecf8f7", "#b8e3de", "#3b9088"),
];

/// The colours of the machine at position `i`.
fn colours(i: usize) -> (&'static str, &'static str, &'static str) {
    PALETTE[i % PALETTE.len()]
}

/// Addresses worth showing: not IPv6 link-local, not loopback.
fn shown_addresses(l: &Link) -> Vec<&str> {
    l.addresses
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("fe80:") && !a.starts_with("127.") && *a != "::1/128")
        .collect()
}

fn end_text(n: &Node, link: &str) -> String {
    match n.links.iter().find(|l| l.name == link) {
        Some(l) => std::iter::once(l.name.as_str()).chain(shown_addresses(l)).collect::<Vec<_>>().join(" "),
        None => link.to_string(),
    }
}

fn picture(t: &Topology, opts: Options) -> Picture {
    let mut vertices = Vec::new();
    let mut at: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut node_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut machines: Vec<String> = Vec::new();
    for n in &t.nodes {
        let machine = n.machine.as_ref().map(|m| match machines.iter().position(|k| k == m) {
            Some(i) => i,
            None => {
                machines.push(m.clone());
                machines.len() - 1
            }
        });
        let mut text = vec![if n.root { format!("{} (root namespace)", n.name) } else { n.name.clone() }];
        match (n.forwarding.ipv4, n.forwarding.ipv6) {
            (true, true) => text.push("forwarding".into()),
            (true, false) => text.push("forwarding (IPv4)".into()),
            (false, true) => text.push("forwarding (IPv6)".into()),
            _ => {}
        }
        // Links that no edge describes, with addresses worth saying: lo's extra ones, a dummy.
        let in_edge = |l: &Link| {
            t.edges
                .iter()
                .any(|e| (e.from.node == n.name && e.from.link == l.name) || (e.to.node == n.name && e.to.link == l.name))
        };
        for l in n.links.iter().filter(|l| l.kind != "bridge" && !in_edge(l)) {
            let addrs = shown_addresses(l);
            if !addrs.is_empty() {
                text.push(format!("{} {}", l.name, addrs.join(" ")));
            }
        }
        if opts.routes {
            for r in n.routes.iter().filter(|r| r.protocol != "kernel") {
                let mut s = format!("route {}", r.dst);
                if let Some(v) = &r.via {
                    s += &format!(" via {v}");
                }
                if let Some(d) = &r.dev {
                    s += &format!(" dev {d}");
                }
                text.push(s);
            }
        }
        let ns_vertex = vertices.len();
        node_at.insert(n.name.clone(), ns_vertex);
        vertices.push(Vertex { id: n.name.clone(), lines: text, bridge: false, machine });
        for l in n.links.iter().filter(|l| l.kind == "bridge") {
            let mut text = vec![format!("{} (bridge in {})", l.name, n.name)];
            text.extend(shown_addresses(l).into_iter().map(String::from));
            let v = vertices.len();
            vertices.push(Vertex { id: format!("{}/{}", n.name, l.name), lines: text, bridge: true, machine });
            at.insert((n.name.clone(), l.name.clone()), v);
            lines.push(Line { from: ns_vertex, to: v, label: String::new(), style: Style::Inside });
        }
    }
    // An end is drawn at its bridge when it is one or a port of one, else at its namespace.
    let vertex_of = |e: &End| -> usize {
        let n = t.node(&e.node);
        let l = n.and_then(|n| n.links.iter().find(|l| l.name == e.link));
        let bridge = match l {
            Some(l) if l.kind == "bridge" => Some(l.name.clone()),
            Some(l) => l.master.clone(),
            None => None,
        };
        bridge.and_then(|b| at.get(&(e.node.clone(), b)).copied()).unwrap_or(node_at[&e.node])
    };
    for e in &t.edges {
        let style = match e.kind.as_str() {
            "bridge" => continue,
            "veth" => Style::Solid,
            "vxlan" => Style::Overlay,
            _ => Style::Parent,
        };
        let (from, to) = (t.node(&e.from.node), t.node(&e.to.node));
        let (Some(from_node), Some(to_node)) = (from, to) else { continue };
        if style == Style::Parent && e.from.node == e.to.node {
            // A macvlan on a link of its own namespace: a line in the box, not a loop.
            let text = format!("{} ({} on {})", end_text(from_node, &e.from.link), e.kind, e.to.link);
            vertices[node_at[&e.from.node]].lines.push(text);
            continue;
        }
        let mut label = format!("{} — {}", end_text(from_node, &e.from.link), end_text(to_node, &e.to.link));
        if e.kind != "veth" {
            label = format!("{}: {label}", e.kind);
        }
        lines.push(Line { from: vertex_of(&e.from), to: vertex_of(&e.to), label, style });
    }
    Picture { title: t.lab.clone(), vertices, lines, machines }
}

fn dot_quote(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Graphviz DOT (`dot -Tsvg` draws it).
pub fn dot(t: &Topology, opts: Options) -> String {
    let p = picture(t, opts);
    let mut out = format!("graph {} {{\n", dot_quote(&p.title));
    out += "  graph [rankdir=LR, fontname=\"Helvetica\"];\n";
    out += "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
    out += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    let vertex = |v: &Vertex, indent: &str| {
        let label = v.lines.iter().map(|l| l.replace('\\', "\\\\").replace('"', "\\\"")).collect::<Vec<_>>().join("\\n");
        let shape = match (v.bridge, v.machine) {
            (true, _) => ", shape=ellipse, style=filled, fillcolor=\"#eeeeee\"".to_string(),
            (false, Some(m)) => {
                let (_, fill, border) = colours(m);
                format!(", style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{border}\"")
            }
            (false, None) => String::new(),
        };
        format!("{indent}{} [label=\"{label}\"{shape}];\n", dot_quote(&v.id))
    };
    for v in p.vertices.iter().filter(|v| v.machine.is_none()) {
        out += &vertex(v, "  ");
    }
    for (i, m) in p.machines.iter().enumerate() {
        let (back, _, border) = colours(i);
        out += &format!("  subgraph {} {{\n", dot_quote(&format!("cluster_{m}")));
        out += &format!(
            "    label={}; style=\"rounded,filled\"; fillcolor=\"{back}\"; color=\"{border}\"; fontname=\"Helvetica\";\n",
            dot_quote(m)
        );
        for v in p.vertices.iter().filter(|v| v.machine == Some(i)) {
            out += &vertex(v, "    ");
        }
        out += "  }\n";
    }
    for l in &p.lines {
        let style = match l.style {
            Style::Solid => "",
            Style::Overlay => ", style=dashed, color=\"#1f77b4\"",
            Style::Parent => ", style=dotted",
            Style::Inside => ", style=dashed, color=\"#999999\"",
        };
        out += &format!(
            "  {} -- {} [label={}{style}];\n",
            dot_quote(&p.vertices[l.from].id),
            dot_quote(&p.vertices[l.to].id),
            dot_quote(&l.label)
        );
    }
    out += "}\n";
    out
}

/// Mermaid text for the label of a node or line: quotes and markup characters as entities.
fn mermaid_text(s: &str) -> String {
    s.replace('&', "#amp;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

/// A Mermaid flowchart (GitHub renders it in Markdown).
pub fn mermaid(t: &Topology, opts: Options) -> String {
    let p = picture(t, opts);
    let mut out = String::from("flowchart LR\n");
    let vertex = |i: usize, v: &Vertex, indent: &str| {
        let label = v.lines.iter().map(|l| mermaid_text(l)).collect::<Vec<_>>().join("<br/>");
        if v.bridge {
            format!("{indent}n{i}((\"{label}\"))\n")
        } else {
            format!("{indent}n{i}[\"{label}\"]\n")
        }
    };
    for (i, v) in p.vertices.iter().enumerate().filter(|(_, v)| v.machine.is_none()) {
        out += &vertex(i, v, "  ");
    }
    for (m, name) in p.machines.iter().enumerate() {
        out += &format!("  subgraph machine{m}[\"{}\"]\n", mermaid_text(name));
        for (i, v) in p.vertices.iter().enumerate().filter(|(_, v)| v.machine == Some(m)) {
            out += &vertex(i, v, "    ");
        }
        out += "  end\n";
    }
    for l in &p.lines {
        let arrow = match l.style {
            Style::Solid => "---",
            Style::Overlay | Style::Inside => "-.-",
            Style::Parent => "-.-",
        };
        if l.label.is_empty() {
            out += &format!("  n{} {arrow} n{}\n", l.from, l.to);
        } else {
            out += &format!("  n{} {arrow}|\"{}\"| n{}\n", l.from, mermaid_text(&l.label), l.to);
        }
    }
    // Each machine's box and namespaces in its colours (bridges keep their own look).
    for m in 0..p.machines.len() {
        let (back, fill, border) = colours(m);
        out += &format!("  style machine{m} fill:{back},stroke:{border}\n");
        let members: Vec<String> = p
            .vertices
            .iter()
            .enumerate()
            .filter(|(_, v)| v.machine == Some(m) && !v.bridge)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        if !members.is_empty() {
            out += &format!("  classDef onmachine{m} fill:{fill},stroke:{border}\n");
            out += &format!("  class {} onmachine{m}\n", members.join(","));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::topology::{Edge, Link, Node};

    /// Two machines: a (with a bridge) on local, b on m2, a link between machines a/x — b/y.
    fn two_machines() -> Topology {
        let mut x = Link::bare("x", "vxlan", &["10.0.0.1/24"]);
        x.master = Some("br0".into());
        let mut a = Node::bare("a", false, vec![Link::bare("br0", "bridge", &[]), x]);
        a.machine = Some("local".into());
        let mut b = Node::bare("b", false, vec![Link::bare("y", "vxlan", &["10.0.0.2/24"])]);
        b.machine = Some("m2".into());
        let end = |node: &str, link: &str| End { node: node.into(), link: link.into() };
        Topology {
            lab: "two".into(),
            nodes: vec![a, b],
            edges: vec![
                Edge { kind: "bridge".into(), from: end("a", "x"), to: end("a", "br0") },
                Edge { kind: "vxlan".into(), from: end("a", "x"), to: end("b", "y") },
            ],
        }
    }

    #[test]
    fn dot_draws_each_machine_as_a_coloured_cluster() {
        let want = r##"graph "two" {
  graph [rankdir=LR, fontname="Helvetica"];
  node [shape=box, style=rounded, fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  subgraph "cluster_local" {
    label="local"; style="rounded,filled"; fillcolor="#eef4fb"; color="#4a7fb5"; fontname="Helvetica";
    "a" [label="a", style="rounded,filled", fillcolor="#c6dbef", color="#4a7fb5"];
    "a/br0" [label="br0 (bridge in a)", shape=ellipse, style=filled, fillcolor="#eeeeee"];
  }
  subgraph "cluster_m2" {
    label="m2"; style="rounded,filled"; fillcolor="#eef8ec"; color="#4f9a4a"; fontname="Helvetica";
    "b" [label="b", style="rounded,filled", fillcolor="#c7e9c0", color="#4f9a4a"];
  }
  "a" -- "a/br0" [label="", style=dashed, color="#999999"];
  "a/br0" -- "b" [label="vxlan: x 10.0.0.1/24 — y 10.0.0.2/24", style=dashed, color="#1f77b4"];
}
"##;
        assert_eq!(dot(&two_machines(), Options::default()), want);
    }

    #[test]
    fn mermaid_draws_each_machine_as_a_coloured_subgraph() {
        let want = r##"flowchart LR
  subgraph machine0["local"]
    n0["a"]
    n1(("br0 (bridge in a)"))
  end
  subgraph machine1["m2"]
    n2["b"]
  end
  n0 -.- n1
  n1 -.-|"vxlan: x 10.0.0.1/24 — y 10.0.0.2/24"| n2
  style machine0 fill:#eef4fb,stroke:#4a7fb5
  classDef onmachine0 fill:#c6dbef,stroke:#4a7fb5
  class n0 onmachine0
  style machine1 fill:#eef8ec,stroke:#4f9a4a
  classDef onmachine1 fill:#c7e9c0,stroke:#4f9a4a
  class n2 onmachine1
"##;
        assert_eq!(mermaid(&two_machines(), Options::default()), want);
    }

    #[test]
    fn one_machine_draws_no_cluster_and_colours_nothing() {
        let mut t = two_machines();
        for n in &mut t.nodes {
            n.machine = None;
        }
        let d = dot(&t, Options::default());
        assert!(!d.contains("subgraph") && !d.contains("#c6dbef"), "{d}");
        assert!(d.contains("  \"a\" [label=\"a\"];\n  \"a/br0\" [label=\"br0 (bridge in a)\", shape=ellipse"), "{d}");
        let m = mermaid(&t, Options::default());
        assert!(!m.contains("subgraph") && !m.contains("classDef") && !m.contains("style "), "{m}");
    }

    #[test]
    fn the_palette_goes_round_for_many_machines() {
        assert_eq!(colours(0), colours(PALETTE.len()));
        assert_ne!(colours(0), colours(1));
    }
}
