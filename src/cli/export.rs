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
        for r in n.routes.iter().filter(|r| r.protocol != "kernel") {
            let family = if r.family == "inet6" { " -6" } else { "" };
            let mut s = format!("{}{family} route add {}", ip(n), r.dst);
            if let Some(via) = &r.via {
                s += &format!(" via {via}");
            }
            if let Some(dev) = &r.dev {
                s += &format!(" dev {}", q(dev));
            }
            if let Some(m) = r.metric {
                s += &format!(" metric {m}");
            }
            s += &format!(" proto {}", r.protocol_number);
            out.push(s);
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
