//! Links and addresses: veth pairs, moving links, addresses, up/down, and inspection.

use rhai::Array;

use super::native::{done, Call, Native, Out};
use super::values::{addr_map, link_map};
use crate::engine::netlink::LinkOptions;
use crate::lab::{validate_net, Ns};

pub const LINKS: &[Native] = &[
    Native {
        name: "veth",
        forms: &[
            "veth(name, peer)",
            "veth(name, peer, #{mtu, up, master, queues})",
            "veth(ns, name, peer)",
            "veth(ns, name, peer, #{mtu, up, master, queues})",
            "veth(ns, name, peer_ns, peer)",
            "veth(ns, name, peer_ns, peer, #{mtu, up, master, queues})",
        ],
        summary: "Create a veth pair; with two namespaces each end is born in its own (fastest). Options: mtu, up (both ends born up), master (a bridge the first end joins at birth), queues (transmit and receive queues per end, default 1).",
        example: r#"veth("veth0", "veth1"); veth("a", "eth0", "b", "eth0");"#,
        ip: "ip link add NAME type veth peer name PEER [netns NS]",
        call: veth,
    },
    Native {
        name: "move_to",
        forms: &["move_to(link, to_ns)", "move_to(from_ns, link, to_ns)"],
        summary: "Move a link into another namespace. A link the lab did not create is moved back, under its name, \
                  when the lab ends (before the lab's namespaces go).",
        example: r#"move_to("veth1", "netns1");"#,
        ip: "ip link set LINK netns NS",
        call: |c| {
            let from = if c.has("from_ns") { c.ns_of("from_ns")? } else { Ns::Root };
            let link = c.string("link", "a link name")?;
            let to = c.ns_of("to_ns")?;
            c.lab().move_to(&from, &link, &to)?;
            done()
        },
    },
    Native {
        name: "addr",
        forms: &["addr(link, cidr)", "addr(ns, link, cidr)"],
        summary: "Add an IPv4 or IPv6 address with its prefix length to a link.",
        example: r#"addr("netns1", "veth1", "10.1.1.1/24");"#,
        ip: "ip addr add CIDR dev LINK",
        call: |c| {
            let (ns, link, cidr) = addr_args(c)?;
            c.lab().addr(&ns, &link, &cidr)?;
            done()
        },
    },
    Native {
        name: "addr_del",
        forms: &["addr_del(link, cidr)", "addr_del(ns, link, cidr)"],
        summary: "Remove an address from a link.",
        example: r#"addr_del("netns1", "veth1", "10.1.1.1/24");"#,
        ip: "ip addr del CIDR dev LINK",
        call: |c| {
            let (ns, link, cidr) = addr_args(c)?;
            c.lab().addr_del(&ns, &link, &cidr)?;
            done()
        },
    },
    Native {
        name: "up",
        forms: &["up(link)", "up(ns, link)"],
        summary: "Bring a link up; returns once the kernel has put it (and its veth peer) in service, so the next packet is not dropped.",
        example: r#"up("netns1", "lo");"#,
        ip: "ip link set LINK up",
        call: |c| set_up(c, true),
    },
    Native {
        name: "down",
        forms: &["down(link)", "down(ns, link)"],
        summary: "Take a link down.",
        example: r#"down("netns1", "veth1");"#,
        ip: "ip link set LINK down",
        call: |c| set_up(c, false),
    },
    Native {
        name: "links",
        forms: &["links() -> array", "links(ns) -> array"],
        summary: "The links of a namespace as maps: name, index, kind, state, carrier, mtu, mac, peer, peer_netns, master, addresses.",
        example: r#"for l in links("netns1") { print(`${l.name} ${l.state}`); }"#,
        ip: "ip -j addr show",
        call: |c| {
            let ns = c.ns()?;
            let links = c.lab().links(&ns)?;
            Ok(links.into_iter().map(link_map).collect::<Array>().into())
        },
    },
    Native {
        name: "link",
        forms: &["link(name) -> map", "link(ns, name) -> map"],
        summary: "One link as a map (see links()); an error when it does not exist.",
        example: r#"assert(link("netns1", "lo").state == "up");"#,
        ip: "ip -j addr show dev LINK",
        call: |c| {
            let ns = c.ns()?;
            let name = c.string("name", "a link name")?;
            let link = c.lab().link(&ns, &name)?;
            Ok(link_map(link))
        },
    },
    Native {
        name: "addrs",
        forms: &["addrs() -> array", "addrs(ns) -> array"],
        summary: "The addresses of a namespace as maps: link, index, family, address, prefix, cidr, scope.",
        example: r#"print(addrs("netns1"));"#,
        ip: "ip -j addr show",
        call: |c| {
            let ns = c.ns()?;
            let addrs = c.lab().addrs(&ns)?;
            Ok(addrs.into_iter().map(addr_map).collect::<Array>().into())
        },
    },
];

fn addr_args(c: &Call) -> Result<(Ns, String, String), Box<rhai::EvalAltResult>> {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let cidr = c.string("cidr", "an address with prefix length, like \"10.1.1.1/24\"")?;
    Ok((ns, link, cidr))
}

/// `up`/`down`; an `up` the lab holds back (a bridge's, see `lab/holding.rs`) is noted.
fn set_up(c: &mut Call, up: bool) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let outcome = c.lab().set_up(&ns, &link, up)?;
    c.note(outcome);
    done()
}

fn veth(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let peer_ns = if c.has("peer_ns") { c.ns_of("peer_ns")? } else { ns.clone() };
    let peer = c.string("peer", "a link name")?;
    let o = c.opts()?;
    let mut opts = LinkOptions::default();
    if let Some(mtu) = o.integer("mtu")? {
        opts.mtu = Some(validate_net::link_mtu(mtu, "veth", &name)?);
    }
    if let Some(up) = o.boolean("up")? {
        opts.up = up;
    }
    if let Some(queues) = o.integer("queues")? {
        opts.queues = Some(validate_net::veth_queues(queues, &name)?);
    }
    if let Some(master) = o.text("master", "the master option (a bridge name)")? {
        opts.master = Some(c.lab().master_index(&ns, &master, &name)?);
    }
    let outcome = c.lab().veth(&ns, &name, &peer_ns, &peer, &opts)?;
    c.note(outcome);
    done()
}
