//! Neighbours, bridge forwarding entries and address flushing (`ip neigh`, `bridge fdb`,
//! `ip addr flush`).

use rhai::{Array, Dynamic, Map};

use super::native::{done, Call, Native};
use crate::lab::{FdbOptions, FdbView, NeighView};

pub const NEIGH: &[Native] = &[
    Native {
        name: "neigh",
        forms: &[
            "neigh(dev, ip, mac)",
            "neigh(dev, ip, mac, #{state})",
            "neigh(ns, dev, ip, mac)",
            "neigh(ns, dev, ip, mac, #{state})",
        ],
        summary: "Add a neighbour (ARP / NDP) entry: ip (IPv4 or IPv6) is at mac on dev. state: \"permanent\" (default), \
                  \"reachable\", \"stale\" or \"noarp\". An entry the kernel learned is replaced; one someone set is an error. \
                  Outside the lab's namespaces it is removed when the lab ends (if still as the lab left it).",
        example: r#"neigh("h1", "eth0", "10.0.0.2", "02:00:00:00:00:02");"#,
        ip: "ip neigh add IP lladdr MAC dev DEV nud STATE",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let ip = c.string("ip", "an IPv4 or IPv6 address")?;
            let mac = c.string("mac", "a MAC address like \"02:00:00:00:00:01\"")?;
            let state = c.opts()?.string("state")?;
            c.lab().neigh(&ns, &dev, &ip, &mac, state.as_deref())?;
            done()
        },
    },
    Native {
        name: "neigh_proxy",
        forms: &["neigh_proxy(dev, ip)", "neigh_proxy(ns, dev, ip)"],
        summary: "Add a proxy entry: dev answers ARP / neighbour solicitations for ip (the kernel does so with \
                  net.ipv4.conf.DEV.proxy_arp / net.ipv6.conf.DEV.proxy_ndp set).",
        example: r#"neigh_proxy("r", "eth0", "10.0.0.9");"#,
        ip: "ip neigh add proxy IP dev DEV",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let ip = c.string("ip", "an IPv4 or IPv6 address")?;
            c.lab().neigh_proxy(&ns, &dev, &ip)?;
            done()
        },
    },
    Native {
        name: "neigh_del",
        forms: &[
            "neigh_del(dev, ip)",
            "neigh_del(dev, ip, #{proxy})",
            "neigh_del(ns, dev, ip)",
            "neigh_del(ns, dev, ip, #{proxy})",
        ],
        summary: "Delete the neighbour entry for ip on dev (proxy: true, the proxy entry); an error naming the entries \
                  there when it has none.",
        example: r#"neigh_del("h1", "eth0", "10.0.0.2");"#,
        ip: "ip neigh del [proxy] IP dev DEV",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let ip = c.string("ip", "an IPv4 or IPv6 address")?;
            let proxy = c.opts()?.boolean("proxy")?.unwrap_or(false);
            c.lab().neigh_del(&ns, &dev, &ip, proxy)?;
            done()
        },
    },
    Native {
        name: "neighs",
        forms: &[
            "neighs() -> array",
            "neighs(#{dev, proxy}) -> array",
            "neighs(ns) -> array",
            "neighs(ns, #{dev, proxy}) -> array",
        ],
        summary: "The neighbour entries of a namespace, every state (permanent and noarp included), IPv4 and IPv6, as \
                  maps: dev, ip, mac, state, router, proxy. dev: only that link's; proxy: true lists the proxy entries \
                  instead (each with proxy: true, mac \"\" and state \"none\").",
        example: r#"for n in neighs("h1", #{dev: "eth0"}) { print(`${n.ip} ${n.mac} ${n.state}`); }"#,
        ip: "ip -j neigh show [proxy] [dev DEV] nud all",
        call: |c| {
            let ns = c.ns()?;
            let o = c.opts()?;
            let dev = o.text("dev", "a link name")?;
            let proxy = o.boolean("proxy")?.unwrap_or(false);
            let list = c.lab().neighs(&ns, dev.as_deref(), proxy)?;
            Ok(list.into_iter().map(neigh_map).collect::<Array>().into())
        },
    },
    Native {
        name: "neigh_flush",
        forms: &["neigh_flush(dev) -> int", "neigh_flush(ns, dev) -> int"],
        summary: "Remove what ip neigh flush removes from dev: every entry but the permanent and noarp ones (and not the \
                  proxy entries). Returns how many went.",
        example: r#"neigh_flush("h1", "eth0");"#,
        ip: "ip neigh flush dev DEV",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let n = c.lab().neigh_flush(&ns, &dev)?;
            Ok(Dynamic::from(n as i64))
        },
    },
    Native {
        name: "fdb",
        forms: &[
            "fdb(dev, mac)",
            "fdb(dev, mac, #{dst, vni, port, master, self, state})",
            "fdb(ns, dev, mac)",
            "fdb(ns, dev, mac, #{dst, vni, port, master, self, state})",
        ],
        summary: "Add a bridge forwarding entry for mac on dev: in the bridge's table when dev is a bridge port \
                  (master), in dev's own otherwise (self: a vxlan's remotes, a bridge's own); with only one of master \
                  and self given, the other is its opposite. dst, vni, port: a vxlan \
                  remote (for the all-zero MAC, each call adds one more remote to the flood list, like bridge fdb \
                  append). state: \"permanent\" (default), \"static\" or \"dynamic\".",
        example: r#"fdb("a", "vx0", "00:00:00:00:00:00", #{dst: "192.168.0.2"});"#,
        ip: "bridge fdb add|append MAC dev DEV [master] [self] [dst IP] [vni N] [port P] [permanent|static|dynamic]",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let mac = c.string("mac", "a MAC address like \"02:00:00:00:00:01\"")?;
            let o = fdb_options(c)?;
            c.lab().fdb(&ns, &dev, &mac, &o)?;
            done()
        },
    },
    Native {
        name: "fdb_del",
        forms: &[
            "fdb_del(dev, mac)",
            "fdb_del(dev, mac, #{dst, vni, master, self})",
            "fdb_del(ns, dev, mac)",
            "fdb_del(ns, dev, mac, #{dst, vni, master, self})",
        ],
        summary: "Delete a forwarding entry (master / self chosen as fdb() chooses them); with dst (and vni) only that \
                  vxlan remote. An error naming the entries there when it has none.",
        example: r#"fdb_del("a", "vx0", "00:00:00:00:00:00", #{dst: "192.168.0.2"});"#,
        ip: "bridge fdb del MAC dev DEV [master] [self] [dst IP] [vni N]",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.string("dev", "a link name")?;
            let mac = c.string("mac", "a MAC address like \"02:00:00:00:00:01\"")?;
            let o = fdb_options(c)?;
            c.lab().fdb_del(&ns, &dev, &mac, &o)?;
            done()
        },
    },
    Native {
        name: "fdbs",
        forms: &["fdbs() -> array", "fdbs(#{dev}) -> array", "fdbs(ns) -> array", "fdbs(ns, #{dev}) -> array"],
        summary: "The forwarding entries of a namespace (every link's, or dev's) as maps: dev, mac, dst (\"\" for none), \
                  vni and port (() unless they differ from the vxlan's own), state (\"permanent\", \"static\", \
                  \"dynamic\"), master and self (which table: true or false), bridge (the bridge of a master entry).",
        example: r#"for f in fdbs("a", #{dev: "vx0"}) { print(`${f.mac} ${f.dst}`); }"#,
        ip: "bridge -j fdb show [dev DEV]",
        call: |c| {
            let ns = c.ns()?;
            let dev = c.opts()?.text("dev", "a link name")?;
            let list = c.lab().fdbs(&ns, dev.as_deref())?;
            Ok(list.into_iter().map(fdb_map).collect::<Array>().into())
        },
    },
    Native {
        name: "addr_flush",
        forms: &["addr_flush(link) -> int", "addr_flush(ns, link) -> int"],
        summary: "Remove every address of a link, IPv4 and IPv6, link-local included (the kernel then also drops the \
                  link's IPv4 neighbour entries, permanent ones too). Returns how many went. On a link the lab did not \
                  create, outside its namespaces (or in a sub-test), the addresses are put back when the lab (the \
                  sub-test) ends.",
        example: r#"addr_flush("h1", "eth0");"#,
        ip: "ip addr flush dev LINK",
        call: |c| {
            let ns = c.ns()?;
            let link = c.string("link", "a link name")?;
            let n = c.lab().addr_flush(&ns, &link)?;
            Ok(Dynamic::from(n as i64))
        },
    },
];

fn fdb_options(c: &Call) -> Result<FdbOptions, Box<rhai::EvalAltResult>> {
    let o = c.opts()?;
    Ok(FdbOptions {
        dst: o.text("dst", "a remote address")?,
        vni: o.integer("vni")?,
        port: if o.has("port") { o.integer("port")? } else { None },
        master: o.boolean("master")?,
        own: o.boolean("self")?,
        state: if o.has("state") { o.string("state")? } else { None },
    })
}

fn neigh_map(n: NeighView) -> Dynamic {
    let mut m = Map::new();
    m.insert("dev".into(), n.dev.into());
    m.insert("ip".into(), n.ip.into());
    m.insert("mac".into(), n.mac.into());
    m.insert("state".into(), n.state.into());
    m.insert("router".into(), n.router.into());
    m.insert("proxy".into(), n.proxy.into());
    m.into()
}

fn fdb_map(f: FdbView) -> Dynamic {
    let opt = |v: Option<i64>| v.map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    let mut m = Map::new();
    m.insert("dev".into(), f.dev.into());
    m.insert("mac".into(), f.mac.into());
    m.insert("dst".into(), f.dst.into());
    m.insert("vni".into(), opt(f.vni.map(i64::from)));
    m.insert("port".into(), opt(f.port.map(i64::from)));
    m.insert("state".into(), f.state.into());
    m.insert("master".into(), f.master.into());
    m.insert("self".into(), f.own.into());
    m.insert("bridge".into(), f.bridge.into());
    m.into()
}

/// The options of `addr` (see `lab::AddrOptions`): lifetimes are whole seconds or "forever".
pub(super) fn addr_options(c: &Call) -> Result<crate::lab::AddrOptions, Box<rhai::EvalAltResult>> {
    use crate::lab::validate_neigh::Lifetime;
    let o = c.opts()?;
    let lifetime = |key: &str| -> Result<Option<Lifetime>, Box<rhai::EvalAltResult>> {
        let Some(v) = o.get(key) else { return Ok(None) };
        let bad = || {
            c.error(format!(
                "the {key} option of {} must be a whole number of seconds or \"forever\", not {}",
                c.ctx().fn_name(),
                super::args::shown(v)
            ))
        };
        if let Ok(s) = v.clone().into_string() {
            return if s == "forever" { Ok(Some(Lifetime::Forever)) } else { Err(bad()) };
        }
        if let Ok(n) = v.as_int() {
            return Ok(Some(Lifetime::Seconds(n)));
        }
        match v.as_float() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(Lifetime::Seconds(f as i64))),
            _ => Err(bad()),
        }
    };
    let scope = match o.get("scope") {
        None => None,
        Some(v) if v.is_int() => Some(v.as_int().unwrap_or_default().to_string()),
        Some(_) => o.text("scope", "\"global\", \"link\", \"host\", \"site\" or a number")?,
    };
    Ok(crate::lab::AddrOptions {
        nodad: o.boolean("nodad")?.unwrap_or(false),
        valid_lft: lifetime("valid_lft")?,
        preferred_lft: lifetime("preferred_lft")?,
        broadcast: o.text("broadcast", "an IPv4 address or \"+\"")?,
        noprefixroute: o.boolean("noprefixroute")?.unwrap_or(false),
        peer: o.text("peer", "the peer's address")?,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::lab::AddrView;

    fn keys(d: Dynamic) -> BTreeSet<String> {
        d.cast::<Map>().keys().map(|k| k.to_string()).collect()
    }

    fn documented(name: &str) -> BTreeSet<String> {
        super::super::types::find(name).expect(name).fields.iter().map(|(n, ..)| n.to_string()).collect()
    }

    /// The maps' keys are the fields `nslab doc` lists for them.
    #[test]
    fn maps_have_the_documented_fields() {
        let n = NeighView {
            dev: "v0".into(),
            ip: "10.0.0.2".into(),
            mac: String::new(),
            state: "none".into(),
            router: false,
            proxy: true,
        };
        assert_eq!(keys(neigh_map(n)), documented("Neigh"));
        let f = FdbView {
            dev: "vx0".into(),
            mac: "00:00:00:00:00:00".into(),
            dst: "10.0.0.2".into(),
            vni: Some(7),
            port: None,
            state: "permanent".into(),
            master: false,
            own: true,
            bridge: String::new(),
        };
        assert_eq!(keys(fdb_map(f)), documented("Fdb"));
        let a = AddrView {
            link: "v0".into(),
            index: 2,
            family: "inet".into(),
            address: "10.0.0.1".into(),
            prefix: 24,
            cidr: "10.0.0.1/24".into(),
            scope: "global".into(),
            flags: vec!["permanent".into()],
            valid_lft: None,
            preferred_lft: Some(5),
            peer: String::new(),
            broadcast: String::new(),
        };
        let m = super::super::values::addr_map(a);
        assert_eq!(m.clone().cast::<Map>()["valid_lft"].clone().into_string().unwrap(), "forever");
        assert_eq!(m.clone().cast::<Map>()["preferred_lft"].as_int().unwrap(), 5);
        assert_eq!(keys(m), documented("Addr"));
    }
}
