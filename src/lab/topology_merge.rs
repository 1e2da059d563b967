//! One topology for a lab across machines, from each machine's part (read there): every node
//! marked with its machine, the root namespace of a machine other than `local` named
//! `root@MACHINE` (each machine has one), and an edge `vxlan` for each link between machines.
//! Namespace names are unique across a lab's machines, so the names stay the nodes' keys.

use super::inventory::LOCAL;
use super::machines::{CrossLink, End as CrossEnd};
use super::topology::{Edge, End, Topology};

/// Merges `parts` (machine, its part; `local` first) and the links between machines.
pub fn merge(parts: Vec<(String, Topology)>, cross: &[CrossLink]) -> Topology {
    let lab = parts.first().map(|(_, t)| t.lab.clone()).unwrap_or_default();
    let mut out = Topology { lab, nodes: Vec::new(), edges: Vec::new() };
    for (machine, mut part) in parts {
        if machine != LOCAL {
            if let Some(root) = part.nodes.iter().find(|n| n.root).map(|n| n.name.clone()) {
                rename(&mut part, &root, &format!("root@{machine}"));
            }
        }
        for mut n in part.nodes {
            n.machine = Some(machine.clone());
            out.nodes.push(n);
        }
        out.edges.extend(part.edges);
    }
    for link in cross {
        if let (Some(from), Some(to)) = (end_of(&out, &link.a), end_of(&out, &link.b)) {
            let (from, to) = if from <= to { (from, to) } else { (to, from) };
            out.edges.push(Edge { kind: "vxlan".into(), from, to });
        }
    }
    out.edges.sort();
    out.edges.dedup();
    out
}

/// The links between machines that the parts' VXLAN devices make, for a lab whose coordinator
/// no longer remembers them (a kept lab): two devices on different machines with the same id
/// and port, each one's remote the other's local address.
pub fn links_between(parts: &[(String, Topology)]) -> Vec<CrossLink> {
    let mut ends = Vec::new();
    for (machine, t) in parts {
        for n in &t.nodes {
            for l in &n.links {
                if let Some(v) = &l.vxlan {
                    let ns = if n.root { "root".to_string() } else { n.name.clone() };
                    ends.push((CrossEnd { machine: machine.clone(), ns, link: l.name.clone() }, v, l.mtu));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, (a, va, mtu)) in ends.iter().enumerate() {
        for (b, vb, _) in ends.iter().skip(i + 1) {
            let facing = va.remote.is_some() && va.remote == vb.local && vb.remote.is_some() && vb.remote == va.local;
            if a.machine != b.machine && va.id == vb.id && va.port == vb.port && facing {
                out.push(CrossLink { a: a.clone(), b: b.clone(), vni: va.id, port: va.port.unwrap_or_default(), mtu: *mtu });
            }
        }
    }
    out
}

/// The end of a link between machines, as a node and link of the merged topology.
fn end_of(t: &Topology, e: &CrossEnd) -> Option<End> {
    let on_machine = |n: &&super::topology::Node| n.machine.as_deref() == Some(e.machine.as_str());
    let node = t
        .nodes
        .iter()
        .filter(on_machine)
        .find(|n| !n.root && n.name == e.ns)
        .or_else(|| (e.ns == "root").then(|| t.nodes.iter().filter(on_machine).find(|n| n.root)).flatten())?;
    Some(End { node: node.name.clone(), link: e.link.clone() })
}

/// Renames node `from` to `to` in a machine's part, where edges and links name it too.
fn rename(t: &mut Topology, from: &str, to: &str) {
    let fix = |e: &mut End| {
        if e.node == from {
            e.node = to.to_string();
        }
    };
    for n in &mut t.nodes {
        if n.name == from {
            n.name = to.to_string();
        }
        for l in &mut n.links {
            l.peer.iter_mut().chain(l.parent.iter_mut()).for_each(fix);
        }
    }
    for e in &mut t.edges {
        fix(&mut e.from);
        fix(&mut e.to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::topology::{Link, Node, Vxlan};

    fn vxlan(name: &str, id: u32, local: &str, remote: &str, addr: &str) -> Link {
        let mut l = Link::bare(name, "vxlan", &[addr]);
        l.vxlan = Some(Vxlan { id, local: Some(local.into()), remote: Some(remote.into()), dev: None, port: Some(42000) });
        l
    }

    fn cross_end(machine: &str, ns: &str, link: &str) -> CrossEnd {
        CrossEnd { machine: machine.into(), ns: ns.into(), link: link.into() }
    }

    /// local: a, with VXLAN x; m2: its own namespace and b (a veth between them, and VXLAN y
    /// facing x).
    fn parts() -> Vec<(String, Topology)> {
        let mut veth = Link::bare("v0", "veth", &[]);
        veth.peer = Some(End { node: "root".into(), link: "v1".into() });
        let mut back = Link::bare("v1", "veth", &[]);
        back.peer = Some(End { node: "b".into(), link: "v0".into() });
        let local = Topology {
            lab: "l".into(),
            nodes: vec![Node::bare("a", false, vec![vxlan("x", 7, "10.200.0.1", "10.200.0.2", "10.0.0.1/24")])],
            edges: vec![],
        };
        let m2 = Topology {
            lab: "l".into(),
            nodes: vec![
                Node::bare("root", true, vec![back]),
                Node::bare("b", false, vec![veth, vxlan("y", 7, "10.200.0.2", "10.200.0.1", "10.0.0.2/24")]),
            ],
            edges: vec![Edge {
                kind: "veth".into(),
                from: End { node: "b".into(), link: "v0".into() },
                to: End { node: "root".into(), link: "v1".into() },
            }],
        };
        vec![(LOCAL.into(), local), ("m2".into(), m2)]
    }

    #[test]
    fn parts_merge_with_their_machines_and_the_links_between_them() {
        let cross = [CrossLink { a: cross_end("m2", "b", "y"), b: cross_end(LOCAL, "a", "x"), vni: 7, port: 42000, mtu: 1450 }];
        let t = merge(parts(), &cross);
        assert_eq!(t.lab, "l");
        let names: Vec<(&str, Option<&str>)> = t.nodes.iter().map(|n| (n.name.as_str(), n.machine.as_deref())).collect();
        assert_eq!(names, [("a", Some("local")), ("root@m2", Some("m2")), ("b", Some("m2"))]);
        let b = t.node("b").unwrap();
        assert_eq!(b.links.iter().find(|l| l.name == "v0").unwrap().peer.as_ref().unwrap().node, "root@m2");
        let edges: Vec<(&str, &str, &str, &str, &str)> = t
            .edges
            .iter()
            .map(|e| (e.kind.as_str(), e.from.node.as_str(), e.from.link.as_str(), e.to.node.as_str(), e.to.link.as_str()))
            .collect();
        assert_eq!(edges, [("veth", "b", "v0", "root@m2", "v1"), ("vxlan", "a", "x", "b", "y")]);
    }

    #[test]
    fn a_link_to_a_machine_s_own_namespace_ends_at_its_root_and_unknown_ends_are_left_out() {
        let cross = [
            CrossLink { a: cross_end(LOCAL, "a", "x"), b: cross_end("m2", "root", "v1"), vni: 8, port: 42000, mtu: 1450 },
            CrossLink { a: cross_end(LOCAL, "gone", "x"), b: cross_end("m2", "b", "y"), vni: 9, port: 42000, mtu: 1450 },
        ];
        let t = merge(parts(), &cross);
        let vx: Vec<(&str, &str)> =
            t.edges.iter().filter(|e| e.kind == "vxlan").map(|e| (e.from.node.as_str(), e.to.node.as_str())).collect();
        assert_eq!(vx, [("a", "root@m2")]);
    }

    #[test]
    fn links_between_machines_are_found_from_their_vxlan_settings() {
        let mut p = parts();
        // Same id on one machine, or facing another address: not a link between these two.
        p[1].1.nodes[1].links.push(vxlan("z", 7, "10.200.0.2", "10.200.0.9", "10.0.0.3/24"));
        let found = links_between(&p);
        assert_eq!(
            found,
            [CrossLink { a: cross_end(LOCAL, "a", "x"), b: cross_end("m2", "b", "y"), vni: 7, port: 42000, mtu: 1500 }]
        );
    }
}
