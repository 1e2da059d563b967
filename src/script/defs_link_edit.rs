//! Deleting and changing links, and the kind options of bridges, VXLAN links and bridge ports
//! (whose definitions are in `defs_net.rs`; their handlers are here).

use rhai::Dynamic;

use super::native::{done, Call, Fail, Native, Opts, Out};
use super::values::Netns;
use crate::lab::link_kinds::{BridgeOptions, VxlanOptions};
use crate::lab::link_set::{LinkChanges, PortSettings};
use crate::lab::validate_net;
use crate::lab::{LinkOptions, Ns};

pub const LINK_EDIT: &[Native] = &[
    Native {
        name: "link_del",
        forms: &["link_del(name)", "link_del(ns, name)"],
        summary: "Delete a link the lab created (a veth takes its peer); name may be an alternative name. The name is free \
                  again at once. A link the lab did not create is refused (it may be the host's).",
        example: r#"link_del("h1", "eth1");"#,
        ip: "ip link del dev NAME",
        call: |c| {
            let ns = c.ns()?;
            let name = c.string("name", "a link name")?;
            c.lab().link_del(&ns, &name)?;
            done()
        },
    },
    Native {
        name: "link_set",
        forms: &[
            "link_set(name, #{alias, altname, promisc, arp, txqueuelen, group, mtu, mac})",
            "link_set(ns, name, #{alias, altname, promisc, arp, txqueuelen, group, mtu, mac})",
        ],
        summary: "Change a link: alias (\"\" removes it, at most 255 bytes), altname (adds an alternative name, at most \
                  127 bytes; link() finds the link by it), promisc and arp (true/false), txqueuelen, group (a number), \
                  mtu, mac. On a link the lab did not create, the old values come back at teardown.",
        example: r#"link_set("h1", "eth0", #{alias: "uplink", altname: "wan0", txqueuelen: 500, promisc: true});"#,
        ip: "ip link set dev NAME alias A promisc on arp off txqueuelen N group G; ip link property add dev NAME altname ALT",
        call: link_set,
    },
];

fn link_set(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let o = c.opts()?;
    if o.map().is_empty() {
        return Err(c
            .error("link_set needs at least one setting: #{alias, altname, promisc, arp, txqueuelen, group, mtu, mac}")
            .into());
    }
    let changes = LinkChanges {
        alias: o.string("alias")?,
        altname: o.text("altname", "an alternative name")?,
        promisc: o.boolean("promisc")?,
        arp: o.boolean("arp")?,
        txqueuelen: o.integer("txqueuelen")?,
        group: o.integer("group")?,
        mtu: o.integer("mtu")?,
        mac: o.string("mac")?,
    };
    c.lab().link_set(&ns, &name, &changes)?;
    done()
}

/// The options every created link takes (`mtu`); `name` is the link's, for messages.
fn link_opts(c: &Call, o: &Opts, name: &str) -> Result<LinkOptions, Fail> {
    let mut opts = LinkOptions::default();
    if let Some(mtu) = o.integer("mtu")? {
        opts.mtu = Some(validate_net::link_mtu(mtu, c.ctx().fn_name(), name)?);
    }
    Ok(opts)
}

/// `bridge([ns,] name, #{mtu, stp, ageing_time, mcast_snooping})`.
pub(super) fn bridge(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let o = c.opts()?;
    let opts = link_opts(c, &o, &name)?;
    let b = BridgeOptions {
        stp: o.boolean("stp")?,
        ageing_time: o.number("ageing_time")?,
        mcast_snooping: o.boolean("mcast_snooping")?,
    };
    c.lab().bridge_with(&ns, &name, &opts, &b)?;
    done()
}

/// `master([ns,] link, bridge, #{hairpin, learning, flood, isolated, cost, priority})`.
pub(super) fn master(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let bridge = c.string("bridge", "the name of a bridge (or bond, or vrf)")?;
    let o = c.opts()?;
    let s = PortSettings {
        hairpin: o.boolean("hairpin")?,
        learning: o.boolean("learning")?,
        flood: o.boolean("flood")?,
        isolated: o.boolean("isolated")?,
        cost: o.integer("cost")?,
        priority: o.integer("priority")?,
    };
    c.lab().master_with(&ns, &link, &bridge, &s)?;
    done()
}

/// `vxlan([ns,] name, #{id, local, remote, dev, port, mtu, learning, proxy, ttl, tos, srcport,
/// l2miss, l3miss, underlay, linger, up})`.
pub(super) fn vxlan(c: &mut Call) -> Out {
    if !c.has_opts() {
        return Err(c.error("vxlan needs an options map with at least the VNI: #{id: 42, remote: \"10.0.0.2\"}").into());
    }
    let ns = c.ns()?;
    let name = c.string("name", "a link name")?;
    let o = c.opts()?;
    let id = o.integer("id")?.ok_or_else(|| c.error("vxlan needs the id option: the VNI, from 0 to 16777215"))?;
    let srcport = match o.get("srcport") {
        None => None,
        Some(v) => Some(port_range(c, v)?),
    };
    let v = VxlanOptions {
        id,
        local: o.string("local")?,
        remote: o.string("remote")?,
        dev: o.string("dev")?,
        port: o.integer("port")?,
        learning: o.boolean("learning")?,
        proxy: o.boolean("proxy")?,
        ttl: o.integer("ttl")?,
        tos: o.integer("tos")?,
        srcport,
        l2miss: o.boolean("l2miss")?,
        l3miss: o.boolean("l3miss")?,
        underlay: o.get("underlay").map(|u| underlay(c, u)).transpose()?,
        linger: o.boolean("linger")?.unwrap_or(false),
    };
    let opts = LinkOptions { up: o.boolean("up")?.unwrap_or(false), ..link_opts(c, &o, &name)? };
    c.lab().vxlan(&ns, &name, &v, &opts)?;
    done()
}

/// `underlay: NS`: a namespace name, a Netns handle, or `()` (nslab's own, as `root()`).
fn underlay(c: &Call, v: &Dynamic) -> Result<Ns, Fail> {
    if let Some(h) = v.read_lock::<Netns>() {
        return Ok(h.ns());
    }
    if v.is_string() {
        return Ok(Ns::Named(v.clone().into_string().expect("checked")));
    }
    if v.is_unit() {
        return Ok(Ns::Root);
    }
    Err(c
        .error(format!(
            "the underlay option of vxlan must be a namespace (a name, a Netns handle or root()), not {}",
            super::args::shown(v)
        ))
        .into())
}

/// `srcport: [lo, hi]`.
fn port_range(c: &Call, v: &Dynamic) -> Result<(i64, i64), Fail> {
    let wrong =
        || c.error(format!("the srcport option of vxlan must be [low, high], two port numbers, not {}", super::args::shown(v)));
    let a = v.clone().into_array().map_err(|_| wrong())?;
    match a.as_slice() {
        [lo, hi] => Ok((lo.as_int().map_err(|_| wrong())?, hi.as_int().map_err(|_| wrong())?)),
        _ => Err(wrong().into()),
    }
}
