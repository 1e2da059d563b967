//! `nslab export --ip`: a topology as a bash script of `ip`, `tc` and `bridge` commands that
//! rebuilds it. The script is a list of sections run in an order that replays: namespaces, then
//! their sysctls (a `default` must be set before the links that take it exist), links, moves,
//! masters, addresses, up states, routes, qdiscs. A new kind of state is one more function in
//! `SECTIONS`, in its place in that order.

use crate::lab::topology::{End, Link, Node, Topology, WATCHED_SYSCTLS};

/// One section: its heading and what writes its commands.
type Section = (&'static str, fn(&Topology, &mut Vec<String>));

/// The sections, in the order they replay.
const SECTIONS: &[Section] = &[
    ("namespaces", namespaces),
    ("sysctls", sysctls),
    ("links", links),
    ("links whose parent is in another namespace, made there and moved", moves),
    ("bridge ports", masters),
    ("addresses", addresses),
    ("up", up),
    ("routes", routes),
    ("policy routing rules", rules),
    ("neighbours", neighbours),
    ("qdiscs", qdiscs),
];

/// The whole script.
pub fn script(t: &Topology) -> String {
    let mut out = vec![
        "#!/bin/bash".to_string(),
        format!("# Lab {} as exported by nslab export --ip: `bash` this file as root (or in", t.lab),
        "# `unshare --map-root-user --mount --net` with a tmpfs on /run) to rebuild it.".to_string(),
        "set -e".to_string(),
    ];
    for (heading, section) in SECTIONS {
        let mut lines = Vec::new();
        section(t, &mut lines);
        if !lines.is_empty() {
            out.push(String::new());
            out.push(format!("# {heading}"));
            out.extend(lines);
        }
    }
    out.push(String::new());
    out.join("\n")
}

fn q(s: &str) -> String {
    shlex::try_quote(s).map(|c| c.into_owned()).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "")))
}

/// `ip` acting in the node's namespace.
fn ip(n: &Node) -> String {
    if n.root {
        "ip".into()
    } else {
        format!("ip -n {}", q(&n.name))
    }
}

fn tc(n: &Node) -> String {
    if n.root {
        "tc".into()
    } else {
        format!("tc -n {}", q(&n.name))
    }
}

fn node<'a>(t: &'a Topology, name: &str) -> Option<&'a Node> {
    t.nodes.iter().find(|n| n.name == name)
}

fn namespaces(t: &Topology, out: &mut Vec<String>) {
    for n in t.nodes.iter().filter(|n| !n.root) {
        out.push(format!("ip netns add {}", q(&n.name)));
    }
}

fn sysctls(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        // In the order the topology watches them: forwarding first, since turning it on
        // changes others (accept_redirects, the IPv6 defaults) that a later line may set again.
        for key in WATCHED_SYSCTLS {
            let Some(value) = n.sysctls.get(*key) else { continue };
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            let value: String = value.split_whitespace().map(q).collect::<Vec<_>>().join(" ");
            let write = format!("echo {value} > {path}");
            if n.root {
                out.push(write);
            } else {
                out.push(format!("ip netns exec {} sh -c {}", q(&n.name), q(&write)));
            }
        }
    }
}

/// `mtu M address MAC`, as a link's creation takes them.
fn settings(l: &Link) -> String {
    let mut s = format!(" mtu {}", l.mtu);
    if !l.mac.is_empty() {
        s += &format!(" address {}", l.mac);
    }
    s
}

/// Where a veth pair is created from: the root end if there is one (`netns` cannot name the
/// root namespace), else the end that sorts first.
fn creates_pair(here: &End, n: &Node, peer: &End, t: &Topology) -> bool {
    let peer_root = node(t, &peer.node).is_some_and(|p| p.root);
    if n.root != peer_root {
        return n.root;
    }
    here <= peer
}

/// A link's creation, when this node creates it (veth pairs once; a dependent link after the
/// links it depends on: `second` is that pass).
fn create(t: &Topology, n: &Node, l: &Link, second: bool) -> Option<String> {
    let here = End { node: n.name.clone(), link: l.name.clone() };
    let dependent = matches!(l.kind.as_str(), "vxlan" | "macvlan" | "macvtap" | "vlan");
    if dependent != second || l.name == "lo" || l.kind.is_empty() {
        return None;
    }
    let head = format!("{} link add {}{}", ip(n), q(&l.name), settings(l));
    match l.kind.as_str() {
        "veth" => {
            let peer = l.peer.as_ref()?;
            if !creates_pair(&here, n, peer, t) {
                return None;
            }
            let pn = node(t, &peer.node)?;
            let pl = pn.links.iter().find(|x| x.name == peer.link)?;
            let netns = if pn.name == n.name { String::new() } else { format!(" netns {}", q(&pn.name)) };
            Some(format!("{head} type veth peer name {}{}{netns}", q(&pl.name), settings(pl)))
        }
        "vxlan" => {
            let v = l.vxlan.as_ref()?;
            let mut s = format!("{head} type vxlan id {}", v.id);
            if let Some(local) = &v.local {
                s += &format!(" local {local}");
            }
            if let Some(remote) = &v.remote {
                let multicast = remote.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_multicast());
                s += &format!(" {} {remote}", if multicast { "group" } else { "remote" });
            }
            if let Some(dev) = &v.dev {
                s += &format!(" dev {}", q(dev));
            }
            if let Some(port) = v.port {
                s += &format!(" dstport {port}");
            }
            Some(s)
        }
        "macvlan" | "macvtap" | "vlan" => {
            let parent = l.parent.as_ref()?;
            let pn = node(t, &parent.node)?;
            let mut s = format!("{} link add {}{} link {} type {}", ip(pn), q(&l.name), settings(l), q(&parent.link), l.kind);
            if let Some(mode) = &l.macvlan_mode {
                s += &format!(" mode {mode}");
            }
            if let Some(id) = l.vlan_id {
                s += &format!(" id {id}");
            }
            Some(s)
        }
        kind => Some(format!("{head} type {kind}")),
    }
}

/// Whether the script can make the link: not a device of the machine's (a NIC moved into the
/// lab has no kind), which it can only name. Such links are left out of every section.
fn replayable(l: &Link) -> bool {
    l.name == "lo" || !l.kind.is_empty()
}

fn links(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in n.links.iter().filter(|l| !replayable(l)) {
            out.push(format!("# {} in {} is a device of the machine, not made by a lab: move it in by hand", l.name, n.name));
        }
    }
    for second in [false, true] {
        for n in &t.nodes {
            out.extend(n.links.iter().filter_map(|l| create(t, n, l, second)));
        }
    }
}

fn moves(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in &n.links {
            let Some(parent) = &l.parent else { continue };
            if parent.node == n.name {
                continue;
            }
            let Some(pn) = node(t, &parent.node) else { continue };
            if n.root {
                // `netns 1` would be PID 1's namespace, which the replay may not run in.
                out.push(format!("# move {} from {} to the namespace this script runs in by hand", l.name, pn.name));
            } else {
                out.push(format!("{} link set {} netns {}", ip(pn), q(&l.name), q(&n.name)));
            }
        }
    }
}

fn masters(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in n.links.iter().filter(|l| replayable(l)) {
            if let Some(m) = &l.master {
                out.push(format!("{} link set {} master {}", ip(n), q(&l.name), q(m)));
            }
        }
    }
}

/// Addresses the kernel adds by itself: loopback's, IPv6 link-local ones.
fn automatic(address: &str) -> bool {
    address.starts_with("fe80:") || address == "127.0.0.1/8" || address == "::1/128"
}

fn addresses(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in n.links.iter().filter(|l| replayable(l)) {
            for a in l.addresses.iter().filter(|a| !automatic(a)) {
                out.push(format!("{} addr add {a} dev {}", ip(n), q(&l.name)));
            }
        }
    }
}

fn up(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in n.links.iter().filter(|l| l.state == "up" && replayable(l)) {
            out.push(format!("{} link set {} up", ip(n), q(&l.name)));
        }
    }
}

fn routes(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for r in n.routes.iter().chain(&n.tables).filter(|r| r.protocol != "kernel") {
            let family = if r.family == "inet6" { " -6" } else { "" };
            let kind = if r.kind == "unicast" || r.kind.is_empty() { String::new() } else { format!("{} ", r.kind) };
            let mut s = format!("{}{family} route add {kind}{}", ip(n), r.dst);
            if let Some(via) = &r.via {
                s += &format!(" via {via}");
            }
            if let Some(dev) = &r.dev {
                s += &format!(" dev {}", q(dev));
            }
            if let Some(src) = &r.src {
                s += &format!(" src {src}");
            }
            if r.onlink {
                s += " onlink";
            }
            if let Some(m) = r.metric {
                s += &format!(" metric {m}");
            }
            if r.table != 254 {
                s += &format!(" table {}", r.table);
            }
            s += &format!(" proto {}", r.protocol_number);
            for h in &r.nexthops {
                s += " nexthop";
                if let Some(via) = &h.via {
                    s += &format!(" via {via}");
                }
                if let Some(dev) = &h.dev {
                    s += &format!(" dev {}", q(dev));
                }
                s += &format!(" weight {}", h.weight);
                if h.onlink {
                    s += " onlink";
                }
            }
            out.push(s);
        }
    }
}

fn rules(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for r in &n.rules {
            let family = if r.family == "inet6" { " -6" } else { "" };
            let mut s = format!("{}{family} rule add priority {}", ip(n), r.priority);
            if let Some(from) = &r.from {
                s += &format!(" from {from}");
            }
            if let Some(to) = &r.to {
                s += &format!(" to {to}");
            }
            if let Some(iif) = &r.iif {
                s += &format!(" iif {}", q(iif));
            }
            if let Some(oif) = &r.oif {
                s += &format!(" oif {}", q(oif));
            }
            if r.fwmark != 0 {
                s += &format!(" fwmark {:#x}", r.fwmark);
                if let Some(mask) = r.fwmask {
                    s += &format!("/{mask:#x}");
                }
            }
            match r.action.as_str() {
                "lookup" => s += &format!(" lookup {}", r.table),
                other => s += &format!(" {other}"),
            }
            if r.protocol != 0 {
                s += &format!(" protocol {}", r.protocol);
            }
            out.push(s);
        }
    }
}

fn neighbours(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for e in &n.neighbours {
            if e.proxy {
                out.push(format!("{} neigh add proxy {} dev {}", ip(n), e.ip, q(&e.link)));
            } else {
                let router = if e.router { " router" } else { "" };
                out.push(format!("{} neigh add {} lladdr {} dev {} nud permanent{router}", ip(n), e.ip, e.mac, q(&e.link)));
            }
        }
    }
}

fn qdiscs(t: &Topology, out: &mut Vec<String>) {
    for n in &t.nodes {
        for l in n.links.iter().filter(|l| replayable(l)) {
            let Some(qd) = &l.qdisc else { continue };
            let head = format!("{} qdisc replace dev {} root handle {} {}", tc(n), q(&l.name), qd.handle, qd.kind);
            match (qd.rate, qd.burst, qd.limit) {
                (Some(rate), Some(burst), Some(limit)) => {
                    out.push(format!("{head} rate {}bit burst {burst} limit {limit}", rate.saturating_mul(8)))
                }
                _ => out.push(format!("{head}  # its options are not read back: set them by hand")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::lab::topology::{Forwarding, Qdisc};

    fn link(name: &str, kind: &str) -> Link {
        Link::bare(name, kind, &[])
    }

    fn node(name: &str, root: bool, links: Vec<Link>) -> Node {
        let forwarding = Forwarding { ipv4: false, ipv6: false };
        Node {
            name: name.into(),
            root,
            machine: None,
            forwarding,
            links,
            routes: vec![],
            tables: vec![],
            sysctls: BTreeMap::new(),
            rules: vec![],
            neighbours: vec![],
        }
    }

    fn end(node: &str, link: &str) -> Option<End> {
        Some(End { node: node.into(), link: link.into() })
    }

    #[test]
    fn sections_replay_in_order_and_each_link_is_made_where_it_can_be() {
        let mut v0 = link("veth0", "veth");
        v0.peer = end("a", "veth1");
        let mut v1 = link("veth1", "veth");
        v1.peer = end("root", "veth0");
        let mut mv = link("mv0", "macvlan");
        mv.parent = end("a", "veth1");
        mv.macvlan_mode = Some("bridge".into());
        mv.addresses = vec!["10.0.0.9/24".into(), "fe80::1/64".into()];
        let mut nic = link("eth9", "");
        nic.addresses = vec!["192.0.2.1/24".into()];
        nic.qdisc = Some(Qdisc { kind: "tbf".into(), handle: "1:".into(), rate: Some(1000), burst: Some(10), limit: Some(10) });
        let mut lo = link("lo", "");
        lo.addresses = vec!["127.0.0.1/8".into()];
        v1.qdisc = Some(Qdisc { kind: "pfifo".into(), handle: "8001:".into(), rate: None, burst: None, limit: None });
        let t = Topology {
            lab: "t".into(),
            nodes: vec![node("root", true, vec![v0]), node("a", false, vec![lo, v1]), node("b", false, vec![nic, mv])],
            edges: vec![],
        };
        let text = script(&t);
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle:?} missing from\n{text}"));
        // The pair from its root end (netns cannot name the root namespace), once.
        at("ip link add veth0 mtu 1500 address 02:00:00:00:00:01 type veth peer name veth1 mtu 1500 address 02:00:00:00:00:01 netns a\n");
        assert!(!text.contains("ip -n a link add veth1"), "{text}");
        // The macvlan is made next to its parent, then moved.
        let made = at("ip -n a link add mv0 mtu 1500 address 02:00:00:00:00:01 link veth1 type macvlan mode bridge\n");
        let moved = at("ip -n a link set mv0 netns b\n");
        let addressed = at("ip -n b addr add 10.0.0.9/24 dev mv0\n");
        assert!(made < moved && moved < addressed, "{text}");
        // The kernel's own addresses are not added; a machine's device is only named.
        assert!(!text.contains("127.0.0.1") && !text.contains("fe80::1"), "{text}");
        at("# eth9 in b is a device of the machine");
        assert!(!text.contains("dev eth9"), "{text}");
        // A qdisc whose options are not read back says so.
        at("tc -n a qdisc replace dev veth1 root handle 8001: pfifo  # its options are not read back");
        let headings: Vec<usize> = SECTIONS.iter().filter_map(|(h, _)| text.find(&format!("# {h}\n"))).collect();
        assert!(headings.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(headings.len(), 6, "namespaces, links, moves, addresses, up, qdiscs:\n{text}");
    }
}
