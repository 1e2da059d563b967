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
