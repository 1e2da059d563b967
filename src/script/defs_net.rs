//! Bridges, link kinds beyond veth, link settings, forwarding, sysctls and /proc/net.
use rhai::Dynamic;

use super::args;
use super::native::{done, Call, Native, Opts, Out};
use crate::lab::LinkOptions;
use crate::lab::{validate_net, Ns};

pub const NET: &[Native] = &[
    Native {
        name: "bridge",
        forms: &[
            "bridge(name)",
            "bridge(name, #{mtu, stp, ageing_time, mcast_snooping})",
            "bridge(ns, name)",
            "bridge(ns, name, #{mtu, stp, ageing_time, mcast_snooping})",
        ],
        summary: "Create a bridge (down, like ip link add; bring it up with up()). stp: true turns on the spanning tree (off by default, so ports forward at once); ageing_time: seconds a learnt address is kept (default 300; 0 keeps none); mcast_snooping: true/false.",
        example: r#"bridge("sw", "br0", #{ageing_time: 30, mcast_snooping: false}); up("sw", "br0");"#,
        ip: "ip link add NAME type bridge [mtu N] [stp_state 1] [ageing_time CENTISECONDS] [mcast_snooping 0|1]",
        call: super::defs_link_edit::bridge,
    },
    Native {
        name: "master",
        forms: &[
            "master(link, bridge)",
            "master(link, bridge, #{hairpin, learning, flood, isolated, cost, priority})",
            "master(ns, link, bridge)",
            "master(ns, link, bridge, #{hairpin, learning, flood, isolated, cost, priority})",
        ],
        summary: "Make a link a port of a bridge (or bond, or vrf) in the same namespace. A bridge port's options: hairpin, learning, flood (unknown unicast), isolated (true/false), cost (1 to 65535), priority (0 to 63).",
        example: r#"master("sw", "p1", "br0", #{hairpin: true, cost: 10});"#,
        ip: "ip link set LINK master BRIDGE; ip link set LINK type bridge_slave hairpin on learning off flood off isolated on cost N priority N",
        call: super::defs_link_edit::master,
    },
    Native {
        name: "nomaster",
        forms: &["nomaster(link)", "nomaster(ns, link)"],
        summary: "Take a link out of its bridge (bond, vrf); nothing happens when it has none.",
        example: r#"nomaster("sw", "p1");"#,
        ip: "ip link set LINK nomaster",
        call: nomaster,
    },
    Native {
        name: "macvlan",
        forms: &[
            "macvlan(name, parent)",
            "macvlan(name, parent, #{mode, mtu})",
            "macvlan(ns, name, parent)",
            "macvlan(ns, name, parent, #{mode, mtu})",
        ],
        summary: "Create a macvlan on a parent link in the same namespace; mode is bridge (the default here; ip's is vepa), private, vepa or passthru.",
        example: r#"macvlan("h", "mv0", "eth0", #{mode: "bridge"});"#,
        ip: "ip link add NAME link PARENT type macvlan mode MODE",
        call: macvlan,
    },
    Native {
        name: "vxlan",
        forms: &[
            "vxlan(name, #{id, local, remote, dev, port, mtu, learning, proxy, ttl, tos, srcport, l2miss, l3miss, underlay, linger, up})",
            "vxlan(ns, name, #{id, local, remote, dev, port, mtu, learning, proxy, ttl, tos, srcport, l2miss, l3miss, underlay, linger, up})",
        ],
        summary: "Create a VXLAN link: id is the VNI (required), remote the far end or a multicast group, dev the underlay link; port defaults to 4789 (IANA), not the kernel's 8472. learning, proxy, l2miss, l3miss: true/false; ttl and tos: 0 to 255; srcport: [low, high], the UDP source ports used. underlay: the namespace (a name, a handle, root()) the link is made from, where its UDP socket, dev and local address live; the link itself is born in ns. A VNI already used on that port by another vxlan made from the same namespace is refused: pick another id. Such a link in a namespace the lab made is deleted before teardown removes the namespace, so that its VNI is free when nslab returns; linger: true leaves it to the kernel's cleanup of the namespace (faster; the VNI stays taken a moment longer), as links across machines do. up: born up (one request).",
        example: r#"vxlan("a", "vx0", #{id: 42, local: "192.168.0.1", remote: "192.168.0.2", dev: "eth0", learning: false, ttl: 16, srcport: [4000, 5000], underlay: root()});"#,
        ip: "ip [-n UNDERLAY] link add NAME [netns NS] type vxlan id ID local IP remote IP dev LINK dstport PORT [no]learning [no]proxy ttl N tos N srcport LO HI [no]l2miss [no]l3miss",
        call: super::defs_link_edit::vxlan,
    },
    Native {
        name: "dummy",
        forms: &["dummy(name)", "dummy(name, #{mtu})", "dummy(ns, name)", "dummy(ns, name, #{mtu})"],
        summary: "Create a dummy link; a kernel without dummy support gives an error saying so.",
        example: r#"dummy("r", "dummy0");"#,
        ip: "ip link add NAME type dummy",
        call: dummy,
    },
    Native {
        name: "vlan",
        forms: &[
            "vlan(name, parent, id)",
            "vlan(name, parent, id, #{mtu})",
            "vlan(ns, name, parent, id)",
            "vlan(ns, name, parent, id, #{mtu})",
        ],
        summary: "Create an 802.1Q VLAN link (id 1 to 4094) on a parent link; a kernel without 8021q gives an error saying so.",
        example: r#"vlan("h", "eth0.10", "eth0", 10);"#,
        ip: "ip link add link PARENT name NAME type vlan id ID",
        call: vlan,
    },
    Native {
        name: "vrf",
        forms: &["vrf(name, table)", "vrf(ns, name, table)"],
        summary: "Create a VRF bound to a routing table; a kernel without VRF support gives an error saying so.",
        example: r#"vrf("r", "blue", 10);"#,
        ip: "ip link add NAME type vrf table TABLE",
        call: vrf,
    },
    Native {
        name: "bond",
        forms: &["bond(name)", "bond(name, #{mode, mtu})", "bond(ns, name)", "bond(ns, name, #{mode, mtu})"],
        summary: "Create a bond (mode: balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb); add ports with master().",
        example: r#"bond("h", "bond0", #{mode: "active-backup"});"#,
        ip: "ip link add NAME type bond mode MODE",
        call: bond,
    },
    Native {
        name: "ifb",
        forms: &["ifb(name)", "ifb(name, #{mtu, up})", "ifb(ns, name)", "ifb(ns, name, #{mtu, up})"],
        summary: "Create an intermediate functional block, the link ingress traffic is redirected to so it can be shaped; down unless up: true.",
        example: r#"ifb("r", "ifb0", #{up: true});"#,
        ip: "ip link add NAME [mtu N] [up] type ifb",
        call: ifb,
    },
    Native {
        name: "wireguard",
        forms: &["wireguard(name)", "wireguard(name, #{mtu})", "wireguard(ns, name)", "wireguard(ns, name, #{mtu})"],
        summary: "Create a WireGuard link (keys and peers are set with the wg tool through exec).",
        example: r#"wireguard("h", "wg0");"#,
        ip: "ip link add NAME type wireguard",
        call: wireguard,
    },
    Native {
        name: "mtu",
        forms: &["mtu(link, n)", "mtu(ns, link, n)"],
        summary: "Set a link's MTU (68 to 65536; a link that takes less says which range it accepts).",
        example: r#"mtu("h1", "eth0", 1400);"#,
        ip: "ip link set LINK mtu N",
        call: mtu,
    },
    Native {
        name: "mac",
        forms: &["mac(link, address)", "mac(ns, link, address)"],
        summary: "Set a link's Ethernet address (unicast, six hex bytes with colons).",
        example: r#"mac("h1", "eth0", "02:00:00:00:00:01");"#,
        ip: "ip link set LINK address MAC",
        call: mac,
    },
    Native {
        name: "rename",
        forms: &["rename(link, new)", "rename(ns, link, new)"],
        summary: "Rename a link; the lab (and its teardown) follows it under the new name. Kernels before 6.x rename only links that are down.",
        example: r#"rename("h1", "veth-h1", "eth0");"#,
        ip: "ip link set LINK name NEW",
        call: rename,
    },
    Native {
        name: "forwarding",
        forms: &["forwarding(on)", "forwarding(ns, on)"],
        summary: "Turn routing between a namespace's links on or off, for IPv4 and IPv6 (net.ipv4.ip_forward and net.ipv6.conf.all.forwarding).",
        example: r#"forwarding("router", true);"#,
        ip: "ip netns exec NS sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
        call: forwarding,
    },
    Native {
        name: "sysctl",
        forms: &["sysctl(key) -> string", "sysctl(ns, key) -> string", "sysctl(key, value)", "sysctl(ns, key, value)"],
        summary: "Read (as text, like sysctl -n) or set a network sysctl of a namespace; only net.* keys, dotted or with slashes (\"net/ipv4/conf/eth0.5/forwarding\"). With two arguments, a first string starting with \"net.\" or \"net/\" is a key (set where nslab runs); anything else is a namespace (read there): pass a namespace named \"net.…\" as a handle. Outside the lab's own namespaces a value is shared with the other running labs (one asking for another value while a lab holds it is refused, naming that lab) and the value from before the first lab comes back after the last one, unless someone changed it since.",
        example: r#"sysctl("h1", "net.ipv6.conf.all.accept_dad", 0); print(sysctl("h1", "net.ipv4.ip_forward"));"#,
        ip: "ip netns exec NS sysctl [-w] KEY[=VALUE]",
        call: sysctl,
    },
    Native {
        name: "proc_net",
        forms: &["proc_net(file) -> string", "proc_net(ns, file) -> string"],
        summary: "The text of /proc/net/FILE as the namespace sees it (each namespace has its own: dev, snmp, route, arp, tcp, ...).",
        example: r#"print(proc_net("h1", "dev"));"#,
        ip: "ip netns exec NS cat /proc/net/FILE",
        call: proc_net,
    },
];

type Res<T> = Result<T, Box<rhai::EvalAltResult>>;

/// The options every created link takes (`mtu`); `name` is the link's, for messages.
fn link_opts(c: &Call, o: &Opts, name: &str) -> std::result::Result<LinkOptions, super::native::Fail> {
    let mut opts = LinkOptions::default();
    if let Some(mtu) = o.integer("mtu")? {
        opts.mtu = Some(validate_net::link_mtu(mtu, c.ctx().fn_name(), name)?);
    }
    Ok(opts)
}

/// The ns and name of a link being created, with its options map.
fn created<'a>(c: &Call<'a>) -> Res<(Ns, String, Opts<'a>)> {
    Ok((c.ns()?, c.string("name", "a link name")?, c.opts()?))
}

fn nomaster(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    c.lab().nomaster(&ns, &link)?;
    done()
}

fn macvlan(c: &mut Call) -> Out {
    let (ns, name, o) = created(c)?;
    let parent = c.string("parent", "the parent link's name")?;
    let mode = o.string("mode")?.unwrap_or_else(|| "bridge".into());
    let opts = link_opts(c, &o, &name)?;
    c.lab().macvlan(&ns, &name, &parent, &mode, &opts)?;
    done()
}

fn dummy(c: &mut Call) -> Out {
    let (ns, name, o) = created(c)?;
    let opts = link_opts(c, &o, &name)?;
    c.lab().dummy(&ns, &name, &opts)?;
    done()
}

fn ifb(c: &mut Call) -> Out {
    let (ns, name, o) = created(c)?;
    let opts = LinkOptions { up: o.boolean("up")?.unwrap_or(false), ..link_opts(c, &o, &name)? };
    c.lab().ifb(&ns, &name, &opts)?;
    done()
}

fn wireguard(c: &mut Call) -> Out {
    let (ns, name, o) = created(c)?;
    let opts = link_opts(c, &o, &name)?;
    c.lab().wireguard(&ns, &name, &opts)?;
    done()
}

fn bond(c: &mut Call) -> Out {
    let (ns, name, o) = created(c)?;
    let mode = o.string("mode")?;
    let opts = link_opts(c, &o, &name)?;
    c.lab().bond(&ns, &name, mode.as_deref(), &opts)?;
    done()
}

fn vlan(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let parent = c.string("parent", "the parent link's name")?;
    let id = c.integer("id", "the VLAN id argument")?;
    let opts = link_opts(c, &c.opts()?, &name)?;
    c.lab().vlan(&ns, &name, &parent, id, &opts)?;
    done()
}

fn vrf(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let table = c.integer("table", "the routing table argument")?;
    c.lab().vrf(&ns, &name, table)?;
    done()
}

fn mtu(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let n = c.integer("n", "the MTU argument")?;
    c.lab().mtu(&ns, &link, n)?;
    done()
}

fn mac(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let mac = c.string("address", "a MAC address like \"02:00:00:00:00:01\"")?;
    c.lab().mac(&ns, &link, &mac)?;
    done()
}

fn rename(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let new = c.string("new", "the new link name")?;
    c.lab().rename(&ns, &link, &new)?;
    done()
}

fn forwarding(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let on = c.boolean("on")?;
    c.lab().forwarding(&ns, on)?;
    done()
}

/// A sysctl value as text: a string, an integer, or true/false (1/0).
fn sysctl_value(c: &Call, at: usize) -> Res<String> {
    let v = c.raw(at);
    if v.is_string() {
        return Ok(v.clone().into_string().expect("checked"));
    }
    if let Ok(i) = v.as_int() {
        return Ok(i.to_string());
    }
    if let Ok(b) = v.as_bool() {
        return Ok(if b { "1" } else { "0" }.into());
    }
    Err(c.error(format!(
        "the {} argument of sysctl must be a value (a string, an integer or true/false), not {}",
        args::ordinal(at),
        args::shown(v)
    )))
}

/// Whether a string is a sysctl key rather than a namespace, in `sysctl(a, b)`.
fn is_key(s: &str) -> bool {
    s.starts_with("net.") || s.starts_with("net/")
}

const SYSCTL_KEY: &str = "a sysctl key like \"net.ipv4.ip_forward\"";

/// `sysctl(key, value)` sets where nslab runs and `sysctl(ns, key)` reads in ns: the two forms
/// have the same length, so the first argument decides (a string starting with "net." or
/// "net/" is a key).
fn sysctl(c: &mut Call) -> Out {
    let key_at = |at: usize| args::string(c.ctx(), c.raw(at), at, SYSCTL_KEY);
    match c.len() {
        1 => Ok(c.lab().sysctl_get(&Ns::Root, &key_at(0)?)?.into()),
        2 => {
            let (a, b) = (c.raw(0).clone(), c.raw(1).clone());
            if let Some(first) = a.clone().into_string().ok().filter(|s| is_key(s)) {
                let value = sysctl_value(c, 1)?;
                c.lab().sysctl_set(&Ns::Root, &first, &value)?;
                return done();
            }
            if let Ok(first) = a.clone().into_string() {
                // sysctl("kernel.x", 1): the first argument is a key outside net.*, not a namespace.
                let key_ok = b.clone().into_string().ok().is_some_and(|k| validate_net::sysctl_key(&k).is_ok());
                if !key_ok && first.contains('.') {
                    validate_net::sysctl_key(&first)?;
                }
            }
            let ns = args::ns(c.ctx(), &a, 0)?;
            let key = key_at(1)?;
            Ok(Dynamic::from(c.lab().sysctl_get(&ns, &key)?))
        }
        _ => {
            let ns = args::ns(c.ctx(), c.raw(0), 0)?;
            let key = key_at(1)?;
            let value = sysctl_value(c, 2)?;
            c.lab().sysctl_set(&ns, &key, &value)?;
            done()
        }
    }
}

fn proc_net(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let file = c.string("file", "a file name in /proc/net, like \"dev\"")?;
    Ok(c.lab().proc_net(&ns, &file)?.into())
}
